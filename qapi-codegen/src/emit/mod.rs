//! Emission: schema entities to Rust items, built as syn syntax trees, in schema order.
//!
//! The output is cut into units (one per generated type, then events, then commands) that are
//! emitted and printed independently, so several threads can share the work.

mod commands;
mod events;
mod serialize;
mod types;

pub use commands::ItemNames;

use crate::ast;
use crate::context::Ctx;
use crate::Error;
use qapi_parser::Entity;
use quote::quote;
use syn::{parse_quote, Attribute, Item, Signature};

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

/// Emits one unit and appends it, printed, to `out`.
pub fn unit(
    ctx: &Ctx<'_>,
    names: &ItemNames,
    shared: &Shared,
    unit: &Unit<'_>,
    out: &mut String,
) -> Result<(), Error> {
    let schema = ctx.schema;
    let items = match unit {
        Unit::Type(entity) => match entity {
            Entity::Enum(e) => types::enum_type(ctx, shared, e, entity)?,
            Entity::Object(o) if o.variants.is_some() => types::union_type(ctx, shared, o, entity)?,
            Entity::Object(o) => {
                let owner = ctx.owner_of(&o.common.name).and_then(|n| schema.get(n));
                types::struct_type(ctx, shared, o, entity, owner)?
            }
            Entity::Alternate(a) => types::alternate_type(ctx, shared, a, entity)?,
            _ => Vec::new(),
        },
        Unit::Events => events::emit(ctx, names)?,
        Unit::Commands => {
            return commands::emit(ctx, names, &mut |items| print(items, out));
        }
    };
    print(items, out);
    Ok(())
}

/// Appends `items`, printed, to `out` (printing items one batch at a time gives the same text
/// as printing them together).
fn print(items: Vec<Item>, out: &mut String) {
    let file = syn::File {
        shebang: None,
        attrs: Vec::new(),
        items,
    };
    out.push_str(&prettyplease::unparse(&file));
}

/// The statements of a function body, and whether they use a deprecated item (a member or
/// an enum value): only then does the impl get `#[allow(deprecated)]`.
pub struct Body {
    pub stmts: Vec<syn::Stmt>,
    pub deprecated: bool,
}

/// The fixed signatures and attributes every type repeats, parsed once per generation and
/// cloned where used.
pub struct Shared {
    decode_members: Signature,
    serialize_members: Signature,
    /// `serialize_members` for types that write nothing (`_map`).
    serialize_no_members: Signature,
    as_str: Signature,
    from_wire: Signature,
    decode: Signature,
    serialize: Signature,
    pub allow_deprecated: Attribute,
    allow_large_variant: Attribute,
    derive_object: Attribute,
    derive_object_default: Attribute,
    derive_enum: Attribute,
}

impl Shared {
    pub fn new(ctx: &Ctx<'_>) -> Shared {
        let option = &ctx.std.option;
        let result = &ctx.std.result;
        Shared {
            decode_members: parse_quote! {
                fn decode_members(members: &mut qapi_runtime::Members<'_, '_>) -> qapi_runtime::DecodeResult<Self>
            },
            serialize_members: parse_quote! {
                fn serialize_members<M: ::serde::ser::SerializeMap>(&self, map: &mut M) -> #result<(), M::Error>
            },
            serialize_no_members: parse_quote! {
                fn serialize_members<M: ::serde::ser::SerializeMap>(&self, _map: &mut M) -> #result<(), M::Error>
            },
            as_str: parse_quote!(fn as_str(&self) -> &str),
            from_wire: parse_quote!(fn from_wire(value: &str) -> #option<Self>),
            decode: parse_quote! {
                fn decode(value: &::serde_json::Value, decoder: &mut qapi_runtime::Decoder) -> qapi_runtime::DecodeResult<Self>
            },
            serialize: parse_quote! {
                fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> #result<S::Ok, S::Error>
            },
            allow_deprecated: ast::attr_list("allow", quote!(deprecated)),
            allow_large_variant: ast::attr_list("allow", quote!(clippy::large_enum_variant)),
            derive_object: ast::attr_list("derive", quote!(Debug, Clone, PartialEq)),
            derive_object_default: ast::attr_list(
                "derive",
                quote!(Debug, Clone, PartialEq, Default),
            ),
            derive_enum: ast::attr_list(
                "derive",
                quote!(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord),
            ),
        }
    }
}
