//! Emission: schema entities to Rust items, written as `quote!` templates that look like the
//! code they produce, in schema order.
//!
//! The output is cut into units (one per generated type, then events, then commands); each is
//! quoted, parsed and printed on its own, so only one unit's syntax tree is alive at a time.

mod commands;
mod events;
mod introspect;
mod serialize;
mod types;

pub use commands::ItemNames;
pub use introspect::introspection;

use crate::context::Ctx;
use crate::Error;
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
    let mut out: Vec<Unit<'s>> = ctx
        .schema
        .entities()
        .iter()
        .filter(|e| ctx.is_generated(e))
        .map(Unit::Type)
        .collect();
    out.push(Unit::Events);
    out.push(Unit::Commands);
    out
}

/// Emits one unit and appends it, printed, to `out`.
pub fn unit(
    ctx: &Ctx<'_>,
    names: &ItemNames,
    unit: &Unit<'_>,
    out: &mut String,
) -> Result<(), Error> {
    let schema = ctx.schema;
    let tokens = match unit {
        Unit::Type(entity) => match entity {
            Entity::Enum(e) => types::enum_type(ctx, e, entity)?,
            Entity::Object(o) if o.variants.is_some() => types::union_type(ctx, o, entity)?,
            Entity::Object(o) => {
                let owner = ctx.owner_of(&o.common.name).and_then(|n| schema.get(n));
                types::struct_type(ctx, o, entity, owner)?
            }
            Entity::Alternate(a) => types::alternate_type(ctx, a, entity)?,
            _ => TokenStream::new(),
        },
        Unit::Events => events::emit(ctx, names)?,
        Unit::Commands => commands::emit(ctx, names)?,
    };
    print(tokens, out)
}

/// Appends the items `tokens`, printed, to `out` (printing items one unit at a time gives the
/// same text as printing them together).
fn print(tokens: TokenStream, out: &mut String) -> Result<(), Error> {
    let file: syn::File = syn::parse2(tokens)
        .map_err(|e| Error::Inconsistent(format!("generated code does not parse: {e}")))?;
    out.push_str(&prettyplease::unparse(&file));
    Ok(())
}

/// The statements of a function body, and whether they use a deprecated item (a member or
/// an enum value): only then does the impl get `#[allow(deprecated)]`.
pub struct Body {
    pub stmts: TokenStream,
    pub deprecated: bool,
}

/// `#[allow(deprecated)]` when `deprecated`, else nothing.
pub fn allow_deprecated(deprecated: bool) -> TokenStream {
    if deprecated {
        quote::quote!(#[allow(deprecated)])
    } else {
        TokenStream::new()
    }
}
