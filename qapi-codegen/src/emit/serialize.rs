//! `Serialize` bodies of object types: one `serialize_entry` per member, in schema order or in
//! QEMU's QDict order, with unions expanded per branch (nested unions included) so every
//! branch gets the order QEMU would produce for exactly its members.

use super::types::union_branches;
use super::Body;
use crate::context::{is_deprecated, AnyKind, Ctx, Field};
use crate::names::{self, Namespace};
use crate::Error;
use crate::MemberOrder;
use proc_macro2::TokenStream;
use qapi_parser::Entity;
use quote::{format_ident, quote};

/// One member write: its key (for ordering), the statement, and whether the member is
/// deprecated.
#[derive(Clone)]
pub struct Entry {
    pub key: String,
    pub stmt: TokenStream,
    pub deprecated: bool,
}

/// The write of a field reached through `access` (`self`, or a branch binding).
pub fn field_entry(
    ctx: &Ctx<'_>,
    f: &Field<'_>,
    access: &TokenStream,
    what: &str,
) -> Result<Entry, Error> {
    let cfg = ctx.cfg.attr(f.cond.as_deref(), what)?;
    let key = f.member.name.as_str();
    let qemu = ctx.opts.member_order == MemberOrder::Qemu;
    let any = if qemu { f.any } else { AnyKind::No };
    let field = &f.ident;
    let place = quote!(#access.#field);
    let write = match (f.member.optional, any) {
        (true, AnyKind::No) => {
            quote!(qapi_runtime::ser::optional(map, #key, #place.as_ref())?)
        }
        (true, AnyKind::Value) => quote! {
            qapi_runtime::ser::optional(map, #key, #place.as_ref().map(qapi_runtime::qdict::Ordered))?
        },
        (true, AnyKind::List) => quote! {
            qapi_runtime::ser::optional(map, #key, #place.as_deref().map(qapi_runtime::qdict::OrderedList))?
        },
        (false, AnyKind::No) => quote!(map.serialize_entry(#key, &#place)?),
        (false, AnyKind::Value) => {
            quote!(map.serialize_entry(#key, &qapi_runtime::qdict::Ordered(&#place))?)
        }
        (false, AnyKind::List) => {
            quote!(map.serialize_entry(#key, &qapi_runtime::qdict::OrderedList(&#place))?)
        }
    };
    Ok(Entry {
        key: key.to_owned(),
        stmt: quote!(#cfg #write;),
        deprecated: is_deprecated(&f.member.features),
    })
}

/// The statements of `entries` (given in visit order) in emission order.
pub fn entries_in_order(ctx: &Ctx<'_>, entries: Vec<Entry>) -> Body {
    let deprecated = entries.iter().any(|e| e.deprecated);
    let stmts = if ctx.opts.member_order == MemberOrder::Schema {
        entries.into_iter().map(|e| e.stmt).collect()
    } else {
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        let order = ctx.emission_order(&keys);
        let mut slots: Vec<Option<TokenStream>> =
            entries.into_iter().map(|e| Some(e.stmt)).collect();
        order.into_iter().filter_map(|i| slots[i].take()).collect()
    };
    Body { stmts, deprecated }
}

/// Writes the members of object type `ty` reached through `access` after `prefix` (the
/// members of enclosing unions, in visit order).
pub fn union_body(
    ctx: &Ctx<'_>,
    ty: &str,
    access: &TokenStream,
    prefix: Vec<Entry>,
    depth: usize,
    what: &str,
) -> Result<Body, Error> {
    members_body(ctx, ty, access, false, prefix, depth, what)
}

/// `boxed`: `access` is a `&Box<T>`.
fn members_body(
    ctx: &Ctx<'_>,
    ty: &str,
    access: &TokenStream,
    boxed: bool,
    prefix: Vec<Entry>,
    depth: usize,
    what: &str,
) -> Result<Body, Error> {
    let schema = ctx.schema;
    let Some(Entity::Object(o)) = schema.get(ty) else {
        return Err(Error::Inconsistent(format!("'{ty}' is not an object type")));
    };
    let Some(variants) = &o.variants else {
        let mut entries = prefix;
        for f in ctx.fields(&o.common.name, None)? {
            entries.push(field_entry(ctx, &f, access, what)?);
        }
        return Ok(entries_in_order(ctx, entries));
    };
    let tag = variants.tag.as_str();
    let fields = ctx.fields(&o.common.name, Some(tag))?;
    let members = schema.all_members(&o.common.name);
    // Base entries (the tag's value given as an expression), in visit order.
    let base = |tag_value: TokenStream| -> Result<Vec<Entry>, Error> {
        let mut out = prefix.clone();
        for m in &members {
            if m.name == tag {
                out.push(Entry {
                    key: tag.to_owned(),
                    stmt: quote!(map.serialize_entry(#tag, #tag_value)?;),
                    deprecated: false,
                });
            } else if let Some(f) = fields.iter().find(|f| std::ptr::eq(f.member, *m)) {
                out.push(field_entry(ctx, f, access, what)?);
            }
        }
        Ok(out)
    };
    let mut ns = Namespace::new();
    let (branches, _, unknown) = union_branches(ctx, o, what, &mut ns)?;
    let (path, target) = if ctx.union_is_enum(o) {
        let target = if boxed {
            quote!(&**#access)
        } else {
            access.clone()
        };
        (ctx.type_ident(&o.common.name)?, target)
    } else {
        let tag_field = names::ident(&names::field_name(tag));
        (
            ctx.branch_ident(&o.common.name)?,
            quote!(&#access.#tag_field),
        )
    };
    let binding = format_ident!("branch{}", depth);
    let mut arms = TokenStream::new();
    let mut deprecated = false;
    for b in &branches {
        let (variant, cfg, value) = (&b.variant, &b.cfg, b.value);
        let entries = base(quote!(#value))?;
        let Some(bty) = &b.ty else {
            let body = entries_in_order(ctx, entries);
            deprecated |= body.deprecated;
            let stmts = body.stmts;
            arms.extend(quote!(#cfg #path::#variant => { #stmts }));
            continue;
        };
        let body = members_body(
            ctx,
            bty,
            &quote!(#binding),
            b.boxed,
            entries,
            depth + 1,
            what,
        )?;
        deprecated |= body.deprecated;
        let (pat, allow) = match binding_use(ctx, bty)? {
            Use::Never => (quote!(_), TokenStream::new()),
            Use::Maybe => (quote!(#binding), quote!(#[allow(unused_variables)])),
            Use::Always => (quote!(#binding), TokenStream::new()),
        };
        let stmts = body.stmts;
        arms.extend(quote!(#cfg #allow #path::#variant(#pat) => { #stmts }));
    }
    let body = entries_in_order(ctx, base(quote!(value))?);
    deprecated |= body.deprecated;
    let stmts = body.stmts;
    Ok(Body {
        stmts: quote! {
            match #target {
                #arms
                #path::#unknown(value) => { #stmts }
            }
        },
        deprecated,
    })
}

/// Whether the serialisation of a branch of type `ty` reads the branch's value.
enum Use {
    Never,
    /// Only where some member's condition holds.
    Maybe,
    Always,
}

fn binding_use(ctx: &Ctx<'_>, ty: &str) -> Result<Use, Error> {
    let Some(Entity::Object(o)) = ctx.schema.get(ty) else {
        return Ok(Use::Always);
    };
    if o.variants.is_some() {
        return Ok(Use::Always);
    }
    let fields = ctx.fields(&o.common.name, None)?;
    Ok(if fields.is_empty() {
        Use::Never
    } else if fields.iter().all(|f| f.cond.is_some()) {
        Use::Maybe
    } else {
        Use::Always
    })
}
