//! `Serialize` bodies of object types: one `serialize_entry` per member, in schema order or in
//! QEMU's QDict order, with unions expanded per branch (nested unions included) so every
//! branch gets the order QEMU would produce for exactly its members.

use super::types::union_branches;
use crate::context::{AnyKind, Ctx, Field};
use crate::names::{self, Namespace};
use crate::MemberOrder;
use proc_macro2::TokenStream;
use qapi_parser::Entity;
use quote::{format_ident, quote};

/// One member write: its key (for ordering) and the statement.
#[derive(Clone)]
pub struct Entry {
    pub key: String,
    pub stmt: TokenStream,
}

/// The write of a field reached through `access` (`self`, or a branch binding).
pub fn field_entry(
    ctx: &Ctx<'_>,
    f: &Field<'_>,
    access: &TokenStream,
    what: &str,
) -> Result<Entry, String> {
    let cfg = ctx.cfg.attr(f.cond.as_ref(), what)?;
    let (ident, key) = (&f.ident, f.member.name.as_str());
    let qemu = ctx.opts.member_order == MemberOrder::Qemu;
    let any = if qemu { f.any } else { AnyKind::No };
    let stmt = if f.member.optional {
        let value = match any {
            AnyKind::No => quote!(#access.#ident.as_ref()),
            AnyKind::Value => quote!(#access.#ident.as_ref().map(qapi_runtime::qdict::Ordered)),
            AnyKind::List => {
                quote!(#access.#ident.as_deref().map(qapi_runtime::qdict::OrderedList))
            }
        };
        quote!(#cfg qapi_runtime::ser::optional(map, #key, #value)?;)
    } else {
        let value = match any {
            AnyKind::No => quote!(&#access.#ident),
            AnyKind::Value => quote!(&qapi_runtime::qdict::Ordered(&#access.#ident)),
            AnyKind::List => quote!(&qapi_runtime::qdict::OrderedList(&#access.#ident)),
        };
        quote!(#cfg map.serialize_entry(#key, #value)?;)
    };
    Ok(Entry {
        key: key.to_owned(),
        stmt,
    })
}

/// The statements of `entries` (given in visit order) in emission order.
pub fn entries_in_order(ctx: &Ctx<'_>, entries: Vec<Entry>) -> TokenStream {
    let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    let order = ctx.emission_order(&keys);
    let mut out = TokenStream::new();
    for i in order {
        out.extend(entries[i].stmt.clone());
    }
    out
}

/// Writes the members of object type `ty` reached through `access` after `prefix` (the
/// members of enclosing unions, in visit order). `boxed`: `access` is a `&Box<T>`.
pub fn union_body(
    ctx: &Ctx<'_>,
    ty: &str,
    access: &TokenStream,
    prefix: Vec<Entry>,
    depth: usize,
    what: &str,
) -> Result<TokenStream, String> {
    members_body(ctx, ty, access, false, prefix, depth, what)
}

fn members_body(
    ctx: &Ctx<'_>,
    ty: &str,
    access: &TokenStream,
    boxed: bool,
    prefix: Vec<Entry>,
    depth: usize,
    what: &str,
) -> Result<TokenStream, String> {
    let schema = ctx.schema;
    let Some(Entity::Object(o)) = schema.get(ty) else {
        return Err(format!("'{ty}' is not an object type"));
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
    let base = |tag_value: TokenStream| -> Result<Vec<Entry>, String> {
        let mut out = prefix.clone();
        for m in &members {
            if m.name == tag {
                out.push(Entry {
                    key: tag.to_owned(),
                    stmt: quote!(map.serialize_entry(#tag, #tag_value)?;),
                });
            } else if let Some(f) = fields.iter().find(|f| std::ptr::eq(f.member, *m)) {
                out.push(field_entry(ctx, f, access, what)?);
            }
        }
        Ok(out)
    };
    let mut ns = Namespace::new();
    let (branches, _, unknown) = union_branches(ctx, o, what, &mut ns)?;
    let enum_form = ctx.union_is_enum(o);
    let (path, target) = if enum_form {
        let ident = ctx.type_ident(&o.common.name)?;
        let target = if boxed {
            quote!(&**#access)
        } else {
            quote!(#access)
        };
        (quote!(#ident), target)
    } else {
        let ident = ctx.branch_ident(&o.common.name)?;
        let tag_field = names::ident(&names::field_name(tag));
        (quote!(#ident), quote!(&#access.#tag_field))
    };
    let binding = format_ident!("branch{}", depth);
    let mut arms = Vec::new();
    for b in &branches {
        let (variant, cfg) = (&b.variant, &b.cfg);
        let value = &b.value;
        let entries = base(quote!(#value))?;
        arms.push(match &b.ty {
            None => {
                let body = entries_in_order(ctx, entries);
                quote!(#cfg #path::#variant => { #body })
            }
            Some(bty) => {
                let body = members_body(
                    ctx,
                    bty,
                    &quote!(#binding),
                    b.boxed,
                    entries,
                    depth + 1,
                    what,
                )?;
                quote!(#cfg #path::#variant(#binding) => { #body })
            }
        });
    }
    let body = entries_in_order(ctx, base(quote!(value))?);
    arms.push(quote!(#path::#unknown(value) => { #body }));
    Ok(quote! {
        match #target {
            #(#arms)*
        }
    })
}
