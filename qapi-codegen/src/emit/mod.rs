//! Emission: schema entities to Rust items, as token streams (quote), in schema order.
//!
//! The output is cut into units (one per generated type, then events, then commands) that are
//! emitted, parsed and printed independently, so several threads can share the work.

mod commands;
mod events;
mod serialize;
mod types;

pub use commands::ItemNames;

use crate::context::Ctx;
use proc_macro2::TokenStream;
use qapi_parser::Entity;

/// What one unit of output is.
pub enum Unit<'s> {
    Type(&'s Entity),
    Events,
    Commands,
}

/// The units of a schema, in output order.
pub fn units<'s>(ctx: &Ctx<'s>) -> Vec<Unit<'s>> {
    let schema = ctx.schema;
    let mut out: Vec<Unit<'s>> = schema
        .entities
        .iter()
        .filter(|e| ctx.is_generated(e))
        .map(Unit::Type)
        .collect();
    out.push(Unit::Events);
    out.push(Unit::Commands);
    out
}

/// The items of one unit.
pub fn unit(ctx: &Ctx<'_>, names: &ItemNames, unit: &Unit<'_>) -> Result<TokenStream, String> {
    let schema = ctx.schema;
    match unit {
        Unit::Type(entity) => match entity {
            Entity::Enum(e) => types::enum_type(ctx, e, entity),
            Entity::Object(o) if o.variants.is_some() => types::union_type(ctx, o, entity),
            Entity::Object(o) => {
                let owner = ctx.owner_of(&o.common.name).and_then(|n| schema.get(n));
                types::struct_type(ctx, o, entity, owner)
            }
            Entity::Alternate(a) => types::alternate_type(ctx, a, entity),
            _ => Ok(TokenStream::new()),
        },
        Unit::Events => events::emit(ctx, names),
        Unit::Commands => commands::emit(ctx, names),
    }
}
