//! Emission: schema entities to Rust items, as token streams (quote), in schema order.

mod commands;
mod events;
mod serialize;
mod types;

use crate::context::Ctx;
use proc_macro2::TokenStream;
use qapi_parser::Entity;

/// All generated items of a schema.
pub fn items(ctx: &mut Ctx<'_>) -> Result<TokenStream, String> {
    let names = commands::ItemNames::claim(ctx);
    let schema = ctx.schema;
    let mut out = TokenStream::new();
    for entity in &schema.entities {
        if !ctx.is_generated(entity) {
            continue;
        }
        let tokens = match entity {
            Entity::Enum(e) => types::enum_type(ctx, e, entity)?,
            Entity::Object(o) if o.variants.is_some() => types::union_type(ctx, o, entity)?,
            Entity::Object(o) => {
                let owner = ctx.owner_of(&o.common.name).and_then(|n| schema.get(n));
                types::struct_type(ctx, o, entity, owner)?
            }
            Entity::Alternate(a) => types::alternate_type(ctx, a, entity)?,
            _ => continue,
        };
        out.extend(tokens);
    }
    out.extend(events::emit(ctx, &names)?);
    out.extend(commands::emit(ctx, &names)?);
    Ok(out)
}
