//! `Serialize` bodies of object types: one `serialize_entry` per member, in schema order or in
//! QEMU's QDict order, with unions expanded per branch (nested unions included) so every
//! branch gets the order QEMU would produce for exactly its members.

use super::types::union_branches;
use super::Body;
use crate::ast;
use crate::context::{is_deprecated, AnyKind, Ctx, Field};
use crate::names::{self, Namespace};
use crate::Error;
use crate::MemberOrder;
use qapi_parser::Entity;
use quote::{format_ident, quote};
use syn::{Expr, Stmt};

/// One member write: its key (for ordering), the statement, and whether the member is
/// deprecated.
#[derive(Clone)]
pub struct Entry {
    pub key: String,
    pub stmt: Stmt,
    pub deprecated: bool,
}

/// `map.serialize_entry(key, value)?`.
fn serialize_entry(key: &str, value: Expr) -> Expr {
    ast::try_(ast::method(
        ast::var_named("map"),
        "serialize_entry",
        vec![ast::lit_str(key), value],
    ))
}

/// The write of a field reached through `access` (`self`, or a branch binding).
pub fn field_entry(
    ctx: &Ctx<'_>,
    f: &Field<'_>,
    access: &Expr,
    what: &str,
) -> Result<Entry, Error> {
    let cfg = ctx.cfg.attr(f.cond.as_deref(), what)?;
    let key = f.member.name.as_str();
    let qemu = ctx.opts.member_order == MemberOrder::Qemu;
    let any = if qemu { f.any } else { AnyKind::No };
    let place = ast::field(access.clone(), &f.ident);
    let write = if f.member.optional {
        let value = match any {
            AnyKind::No => ast::method(place, "as_ref", Vec::new()),
            AnyKind::Value => ast::method(
                ast::method(place, "as_ref", Vec::new()),
                "map",
                vec![ast::expr_path(ast::path("qapi_runtime::qdict::Ordered"))],
            ),
            AnyKind::List => ast::method(
                ast::method(place, "as_deref", Vec::new()),
                "map",
                vec![ast::expr_path(ast::path(
                    "qapi_runtime::qdict::OrderedList",
                ))],
            ),
        };
        ast::try_(ast::call_path(
            "qapi_runtime::ser::optional",
            vec![ast::var_named("map"), ast::lit_str(key), value],
        ))
    } else {
        let value = match any {
            AnyKind::No => ast::reference(place),
            AnyKind::Value => ast::reference(ast::call_path(
                "qapi_runtime::qdict::Ordered",
                vec![ast::reference(place)],
            )),
            AnyKind::List => ast::reference(ast::call_path(
                "qapi_runtime::qdict::OrderedList",
                vec![ast::reference(place)],
            )),
        };
        serialize_entry(key, value)
    };
    Ok(Entry {
        key: key.to_owned(),
        stmt: ast::stmt_with(cfg, write),
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
        let mut slots: Vec<Option<Stmt>> = entries.into_iter().map(|e| Some(e.stmt)).collect();
        order.into_iter().filter_map(|i| slots[i].take()).collect()
    };
    Body { stmts, deprecated }
}

/// Writes the members of object type `ty` reached through `access` after `prefix` (the
/// members of enclosing unions, in visit order).
pub fn union_body(
    ctx: &Ctx<'_>,
    ty: &str,
    access: &Expr,
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
    access: &Expr,
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
    let base = |tag_value: Expr| -> Result<Vec<Entry>, Error> {
        let mut out = prefix.clone();
        for m in &members {
            if m.name == tag {
                out.push(Entry {
                    key: tag.to_owned(),
                    stmt: ast::stmt(serialize_entry(tag, tag_value.clone())),
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
    let enum_form = ctx.union_is_enum(o);
    let (path, target) = if enum_form {
        let ident = ctx.type_ident(&o.common.name)?;
        let target = if boxed {
            ast::reference(ast::deref(ast::deref(access.clone())))
        } else {
            access.clone()
        };
        (ast::path_ident(ident.clone()), target)
    } else {
        let ident = ctx.branch_ident(&o.common.name)?;
        let tag_field = names::ident(&names::field_name(tag));
        (
            ast::path_ident(ident.clone()),
            ast::reference(ast::field(access.clone(), &tag_field)),
        )
    };
    let binding = format_ident!("branch{}", depth);
    let mut arms = Vec::with_capacity(branches.len() + 1);
    let mut deprecated = false;
    for b in &branches {
        let variant = ast::path_join(&path, &b.variant);
        let entries = base(ast::lit_str(b.value))?;
        arms.push(match &b.ty {
            None => {
                let body = entries_in_order(ctx, entries);
                deprecated |= body.deprecated;
                ast::arm(
                    b.cfg.clone(),
                    ast::pat_path(variant),
                    ast::block_expr(body.stmts),
                )
            }
            Some(bty) => {
                let body = members_body(
                    ctx,
                    bty,
                    &ast::var(&binding),
                    b.boxed,
                    entries,
                    depth + 1,
                    what,
                )?;
                deprecated |= body.deprecated;
                let (pat, attrs) = match binding_use(ctx, bty)? {
                    Use::Never => (ast::pat_wild(), b.cfg.clone()),
                    Use::Maybe => {
                        let mut attrs = b.cfg.clone();
                        attrs.push(ast::attr_list("allow", quote!(unused_variables)));
                        (ast::pat_ident(binding.clone()), attrs)
                    }
                    Use::Always => (ast::pat_ident(binding.clone()), b.cfg.clone()),
                };
                ast::arm(
                    attrs,
                    ast::pat_tuple_struct(variant, vec![pat]),
                    ast::block_expr(body.stmts),
                )
            }
        });
    }
    let value = ast::ident("value");
    let body = entries_in_order(ctx, base(ast::var(&value))?);
    deprecated |= body.deprecated;
    arms.push(ast::arm(
        Vec::new(),
        ast::pat_tuple_struct(ast::path_join(&path, &unknown), vec![ast::pat_ident(value)]),
        ast::block_expr(body.stmts),
    ));
    Ok(Body {
        stmts: vec![ast::tail(ast::match_(target, arms))],
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
