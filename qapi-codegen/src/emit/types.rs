//! Enums, structs, unions and alternates, with their `Decode`, `Serialize` and `Deserialize`
//! impls (thin calls into `qapi_runtime`).

use super::serialize::{entries_in_order, field_entry, Entry};
use super::{Body, Shared};
use crate::ast;
use crate::context::{describe, feature_notes, is_deprecated, Ctx, Field, JsonClass};
use crate::docs;
use crate::names::{self, Namespace};
use crate::Error;
use proc_macro2::Ident;
use qapi_parser::{AlternateType, Doc, Entity, EnumType, IfCond, ObjectType};
use quote::{format_ident, quote};
use syn::{Attribute, Expr, Item, Path};

/// Doc attributes of a definition.
pub fn definition_docs(ctx: &Ctx<'_>, e: &Entity, extra: &[String]) -> Vec<Attribute> {
    let mut notes = feature_notes(&e.common().features);
    notes.extend(extra.iter().cloned());
    if ctx.avail.is_inherited(e.name()) {
        // Only worth saying when the cfg differs from the one the definition's own `if` gives.
        let what = describe(e);
        let text =
            |c: Option<&IfCond>| c.map(|c| ctx.cfg.predicate(c, &what).map(|p| p.to_string()).ok());
        if text(e.common().ifcond.as_ref()) != text(ctx.avail.of(e.name())) {
            notes.push("Its condition includes those of the types it uses.".to_owned());
        }
    }
    let lines = match ctx.schema.doc_of(e) {
        Some(doc) => docs::definition(doc, &notes),
        None => notes,
    };
    docs::attrs(&lines)
}

/// `a` followed by `b` (attribute lists are short; this keeps call sites flat).
fn concat(mut a: Vec<Attribute>, b: &[Attribute]) -> Vec<Attribute> {
    a.extend_from_slice(b);
    a
}

/// `Self::name`.
fn self_path(name: &Ident) -> Path {
    ast::path_join(&ast::path("Self"), name)
}

pub fn enum_type(
    ctx: &Ctx<'_>,
    shared: &Shared,
    e: &EnumType,
    entity: &Entity,
) -> Result<Vec<Item>, Error> {
    let ident = ctx.type_ident(&e.common.name)?.clone();
    let what = describe(entity);
    let cfg = ctx.entity_cfg(entity)?;
    let schema_doc = ctx.schema.doc_of(entity);
    let mut ns = Namespace::new();
    let mut variants = Vec::with_capacity(e.values.len() + 1);
    let mut as_str_arms = Vec::with_capacity(e.values.len() + 1);
    let mut decode_arms = Vec::with_capacity(e.values.len() + 1);
    for value in &e.values {
        let name = names::variant_name(&value.name);
        ns.claim(&name, &format!("value '{}' of {what}", value.name))?;
        let v = names::ident(&name);
        let vcfg = ctx.cfg.attr(
            value.ifcond.as_ref(),
            &format!("value '{}' of {what}", value.name),
        )?;
        let mut attrs = docs::attrs(&docs::member(
            schema_doc,
            &value.name,
            &feature_notes(&value.features),
        ));
        attrs.extend(ctx.deprecated_attr(&value.features, &what)?);
        attrs.extend_from_slice(&vcfg);
        let wire = &value.name;
        as_str_arms.push(ast::arm(
            vcfg.clone(),
            ast::pat_path(self_path(&v)),
            ast::lit_str(wire),
        ));
        decode_arms.push(ast::arm(
            vcfg,
            ast::pat_str(wire),
            ast::expr_path(self_path(&v)),
        ));
        variants.push(ast::variant(attrs, v, syn::Fields::Unit));
    }
    let unknown = format_ident!(
        "{}",
        ns.claim_derived("Unrecognized", "the catch-all variant")
    );
    variants.push(ast::variant(
        vec![ast::doc_attr(
            " A value this version of the schema does not know; only lenient decoding produces it.",
        )],
        unknown.clone(),
        ast::fields_tuple(ctx.std.string_type()),
    ));
    let value = ast::ident("value");
    as_str_arms.push(ast::arm(
        Vec::new(),
        ast::pat_tuple_struct(self_path(&unknown), vec![ast::pat_ident(value.clone())]),
        ast::var(&value),
    ));
    let from_wire = if decode_arms.is_empty() {
        vec![
            ast::let_(Vec::new(), ast::pat_wild(), ast::var(&value)),
            ast::tail(ast::var_named("None")),
        ]
    } else {
        decode_arms.push(ast::arm(
            Vec::new(),
            ast::pat_wild(),
            ast::return_(ast::var_named("None")),
        ));
        vec![ast::tail(ast::call(
            ast::var_named("Some"),
            vec![ast::match_(ast::var(&value), decode_arms)],
        ))]
    };
    let mut enum_attrs = definition_docs(ctx, entity, &[]);
    enum_attrs.extend_from_slice(&cfg);
    enum_attrs.push(shared.derive_enum.clone());
    let methods = vec![
        ast::impl_fn(
            vec![ast::doc_attr(" The wire name of the value.")],
            ast::public(),
            shared.as_str.clone(),
            vec![ast::tail(ast::match_(ast::var_named("self"), as_str_arms))],
        ),
        ast::impl_fn(
            vec![ast::doc_attr(
                " The value called `value` on the wire, if this version of the schema knows it.",
            )],
            ast::public(),
            shared.from_wire.clone(),
            from_wire,
        ),
    ];
    let mut impl_attrs = cfg.clone();
    if e.values.iter().any(|v| is_deprecated(&v.features)) {
        impl_attrs.push(shared.allow_deprecated.clone());
    }
    let tokens = quote!(#ident, #unknown);
    Ok(vec![
        ast::enum_item(enum_attrs, ident.clone(), variants),
        ast::impl_item(impl_attrs, None, &ident, methods),
        ast::macro_item(cfg, "qapi_runtime::enumeration", tokens),
    ])
}

fn field_decls(ctx: &Ctx<'_>, fields: &[Field<'_>], what: &str) -> Result<Vec<syn::Field>, Error> {
    fields
        .iter()
        .map(|f| {
            let mut attrs = docs::attrs(&f.doc_lines());
            attrs.extend(ctx.deprecated_attr(&f.member.features, what)?);
            attrs.extend(ctx.cfg.attr(f.cond.as_deref(), what)?);
            Ok(ast::pub_field(attrs, f.ident.clone(), ctx.field_type(f)?))
        })
        .collect()
}

/// `members.required("wire")?` (or `optional`).
fn member_read(wire: &str, optional: bool) -> Expr {
    let call = if optional { "optional" } else { "required" };
    ast::try_(ast::method(
        ast::var_named("members"),
        call,
        vec![ast::lit_str(wire)],
    ))
}

/// `field: members.required("wire")?,` for a struct literal.
fn field_inits(
    ctx: &Ctx<'_>,
    fields: &[Field<'_>],
    what: &str,
) -> Result<Vec<syn::FieldValue>, Error> {
    fields
        .iter()
        .map(|f| {
            let cfg = ctx.cfg.attr(f.cond.as_deref(), what)?;
            let read = member_read(&f.member.name, f.member.optional);
            Ok(ast::field_value(cfg, &f.ident, read))
        })
        .collect()
}

fn derives(shared: &Shared, fields: &[Field<'_>]) -> Attribute {
    if fields.iter().all(|f| f.member.optional) {
        shared.derive_object_default.clone()
    } else {
        shared.derive_object.clone()
    }
}

/// `impl DecodeMembers`, `impl SerializeMembers` and the `object!` impls of an object type.
/// `maybe_unused`: every member write may be compiled out.
fn object_impls(
    shared: &Shared,
    ident: &Ident,
    cfg: Vec<Attribute>,
    decode: Body,
    serialize: Body,
    maybe_unused: bool,
) -> [Item; 3] {
    let impl_attrs = |deprecated: bool| {
        let mut attrs = cfg.clone();
        if deprecated {
            attrs.push(shared.allow_deprecated.clone());
        }
        attrs
    };
    let (decode_attrs, serialize_attrs) = (
        impl_attrs(decode.deprecated),
        impl_attrs(serialize.deprecated),
    );
    let mut serialize = serialize.stmts;
    let unused = || vec![ast::attr_list("allow", quote!(unused_variables))];
    let decode_fn_attrs = if maybe_unused && !serialize.is_empty() {
        unused()
    } else {
        Vec::new()
    };
    let (sig, fn_attrs) = if serialize.is_empty() {
        (shared.serialize_no_members.clone(), Vec::new())
    } else if maybe_unused {
        (shared.serialize_members.clone(), unused())
    } else {
        (shared.serialize_members.clone(), Vec::new())
    };
    serialize.push(ast::tail(ast::call(
        ast::var_named("Ok"),
        vec![ast::unit_expr()],
    )));
    [
        ast::impl_item(
            decode_attrs,
            Some(ast::path("qapi_runtime::DecodeMembers")),
            ident,
            vec![ast::impl_fn(
                decode_fn_attrs,
                syn::Visibility::Inherited,
                shared.decode_members.clone(),
                decode.stmts,
            )],
        ),
        ast::impl_item(
            serialize_attrs,
            Some(ast::path("qapi_runtime::SerializeMembers")),
            ident,
            vec![ast::impl_fn(
                fn_attrs,
                syn::Visibility::Inherited,
                sig,
                serialize,
            )],
        ),
        ast::macro_item(cfg, "qapi_runtime::object", quote!(#ident)),
    ]
}

/// A struct, or the implicit argument struct of a command or event.
pub fn struct_type(
    ctx: &Ctx<'_>,
    shared: &Shared,
    o: &ObjectType,
    entity: &Entity,
    owner: Option<&Entity>,
) -> Result<Vec<Item>, Error> {
    let name = o.common.name.as_str();
    let ident = ctx.type_ident(name)?.clone();
    let what = describe(entity);
    let cfg = ctx.entity_cfg(entity)?;
    let doc = match owner {
        Some(Entity::Event(ev)) => docs::attrs(&[format!("Data of event `{}`.", ev.common.name)]),
        Some(owner) => docs::attrs(&[format!("Arguments of command `{}`.", owner.name())]),
        None => definition_docs(ctx, entity, &[]),
    };
    let schema = ctx.schema;
    let name: &str = schema.get(name).map(Entity::name).unwrap_or(name);
    let fields = ctx.fields(name, None)?;
    let decls = field_decls(ctx, &fields, &what)?;
    let inits = field_inits(ctx, &fields, &what)?;
    let derive = derives(shared, &fields);
    let access = ast::var_named("self");
    let entries: Vec<Entry> = fields
        .iter()
        .map(|f| field_entry(ctx, f, &access, &what))
        .collect::<Result<_, _>>()?;
    let serialize = entries_in_order(ctx, entries);
    let self_lit = ast::struct_expr(ast::path("Self"), inits);
    let ok_self = ast::tail(ast::call(ast::var_named("Ok"), vec![self_lit]));
    let decode = Body {
        stmts: if fields.is_empty() {
            vec![
                ast::let_(Vec::new(), ast::pat_wild(), ast::var_named("members")),
                ok_self,
            ]
        } else {
            vec![ok_self]
        },
        deprecated: fields.iter().any(|f| is_deprecated(&f.member.features)),
    };
    let maybe_unused = fields.iter().all(|f| f.cond.is_some());
    let mut attrs = doc;
    attrs.extend_from_slice(&cfg);
    attrs.push(derive);
    let mut out = Vec::with_capacity(4);
    out.push(ast::struct_item(attrs, ident.clone(), decls));
    out.extend(object_impls(
        shared,
        &ident,
        cfg,
        decode,
        serialize,
        maybe_unused,
    ));
    Ok(out)
}

/// One branch of a union as emitted.
pub(crate) struct Branch<'s> {
    pub variant: Ident,
    /// Wire value of the tag.
    pub value: &'s str,
    /// Schema name of the branch type; `None` for empty branches.
    pub ty: Option<String>,
    pub boxed: bool,
    pub cfg: Vec<Attribute>,
    /// The tag value is deprecated.
    pub deprecated: bool,
    /// The union's doc block and tag name, for the branch's doc.
    doc: Option<&'s Doc>,
    tag: &'s str,
    /// The branch's condition is not just its tag value's: decoding needs a fallback arm.
    pub extra_cond: bool,
}

impl Branch<'_> {
    /// The branch's doc (only the enum declaring the branches prints it).
    fn doc_lines(&self) -> Vec<String> {
        let mut lines = docs::member(self.doc, self.value, &[]);
        if lines.is_empty() {
            lines.push(format!(
                "The branch for `{}` = `\"{}\"`.",
                self.tag, self.value
            ));
        }
        lines
    }
}

pub(crate) fn union_branches<'s>(
    ctx: &Ctx<'s>,
    o: &'s ObjectType,
    what: &str,
    ns: &mut Namespace,
) -> Result<(Vec<Branch<'s>>, Ident, Ident), Error> {
    let (_, tag_enum) = ctx.tag_enum(o)?;
    let tag_ident = ctx.type_ident(&tag_enum.common.name)?.clone();
    let doc = ctx
        .schema
        .get(&o.common.name)
        .and_then(|e| ctx.schema.doc_of(e));
    let variants = o
        .variants
        .as_ref()
        .ok_or_else(|| Error::Inconsistent(format!("'{}' is not a union", o.common.name)))?;
    let mut branches = Vec::new();
    for value in &tag_enum.values {
        let Some(v) = variants.variants.iter().find(|v| v.name == value.name) else {
            continue;
        };
        let variant = names::variant_name(&v.name);
        ns.claim(&variant, &format!("branch '{}' of {what}", v.name))?;
        let cond = ctx.variant_cond(
            &o.common.name,
            v.ifcond.as_ref(),
            value.ifcond.as_ref(),
            &v.ty,
        );
        let cfg = ctx.cfg.attr(cond.as_ref(), what)?;
        let empty = ctx.is_empty_object(&v.ty);
        branches.push(Branch {
            variant: names::ident(&variant),
            value: &v.name,
            ty: (!empty).then(|| v.ty.clone()),
            boxed: !empty && ctx.needs_box(&o.common.name, &v.ty),
            cfg,
            deprecated: is_deprecated(&value.features),
            doc,
            tag: &variants.tag,
            extra_cond: cond != value.ifcond,
        });
    }
    let unknown = format_ident!(
        "{}",
        ns.claim_derived("Unrecognized", "the catch-all variant")
    );
    Ok((branches, tag_ident, unknown))
}

/// Variant declarations of a union's (branch) enum.
fn branch_decls(
    ctx: &Ctx<'_>,
    branches: &[Branch],
    unknown: &Ident,
) -> Result<Vec<syn::Variant>, Error> {
    let mut out = Vec::with_capacity(branches.len() + 1);
    for b in branches {
        let attrs = concat(docs::attrs(&b.doc_lines()), &b.cfg);
        let fields = match &b.ty {
            None => syn::Fields::Unit,
            Some(ty) => {
                let mut t = ctx.rust_type(ty)?;
                if b.boxed {
                    t = ctx.std.box_of(t);
                }
                ast::fields_tuple(t)
            }
        };
        out.push(ast::variant(attrs, b.variant.clone(), fields));
    }
    out.push(ast::variant(
        vec![ast::doc_attr(
            " A tag value this version of the schema does not know (lenient decoding only); holds the value.",
        )],
        unknown.clone(),
        ast::fields_tuple(ctx.std.string_type()),
    ));
    Ok(out)
}

/// A union's tag as its decoder sees it.
struct Tag<'a> {
    /// The tag's enum type and its catch-all variant.
    ident: &'a Ident,
    unknown: &'a Ident,
    /// The local holding the decoded tag, and the tag's wire name.
    var: &'a Ident,
    wire: &'a str,
}

/// `match tag { Tag::X => Enum::X(decode branch), ... }`; `enum_path`/`unknown`: the enum
/// being built and its catch-all variant.
fn branch_decode(
    ctx: &Ctx<'_>,
    branches: &[Branch],
    tag: &Tag<'_>,
    enum_path: &Path,
    unknown: &Ident,
) -> Expr {
    let tag_path = ast::path_ident(tag.ident.clone());
    let mut arms = Vec::with_capacity(branches.len() + 2);
    for b in branches {
        let pat = ast::pat_path(ast::path_join(&tag_path, &b.variant));
        let variant = ast::expr_path(ast::path_join(enum_path, &b.variant));
        let body = match &b.ty {
            None => variant,
            Some(_) => {
                let mut decoded = ast::try_(ast::call_path(
                    "qapi_runtime::DecodeMembers::decode_members",
                    vec![ast::var_named("members")],
                ));
                if b.boxed {
                    let new = ast::path_join(&ctx.std.boxed, &ast::ident("new"));
                    decoded = ast::call(ast::expr_path(new), vec![decoded]);
                }
                ast::call(variant, vec![decoded])
            }
        };
        arms.push(ast::arm(b.cfg.clone(), pat, body));
    }
    let value = ast::ident("value");
    arms.push(ast::arm(
        Vec::new(),
        ast::pat_tuple_struct(
            ast::path_join(&tag_path, tag.unknown),
            vec![ast::pat_ident(value.clone())],
        ),
        ast::call(
            ast::expr_path(ast::path_join(enum_path, unknown)),
            vec![ast::var(&value)],
        ),
    ));
    if branches.iter().any(|b| b.extra_cond) {
        let other = ast::ident("other");
        let unavailable = ast::method(
            ast::method(ast::var_named("members"), "decoder", Vec::new()),
            "branch_unavailable",
            vec![
                ast::lit_str(tag.wire),
                ast::method(ast::var(&other), "as_str", Vec::new()),
            ],
        );
        arms.push(ast::arm(
            vec![ast::attr_list("allow", quote!(unreachable_patterns))],
            ast::pat_ident(other),
            ast::return_(ast::call(ast::var_named("Err"), vec![unavailable])),
        ));
    }
    ast::match_(ast::var(tag.var), arms)
}

pub fn union_type(
    ctx: &Ctx<'_>,
    shared: &Shared,
    o: &ObjectType,
    entity: &Entity,
) -> Result<Vec<Item>, Error> {
    let ident = ctx.type_ident(&o.common.name)?.clone();
    let what = describe(entity);
    let cfg = ctx.entity_cfg(entity)?;
    let doc = definition_docs(ctx, entity, &[]);
    let (tag_member, tag_enum) = ctx.tag_enum(o)?;
    let tag_unknown = catch_all_of(tag_enum);
    let tag_wire = tag_member.name.as_str();
    let mut out = Vec::with_capacity(5);
    let ser = super::serialize::union_body(
        ctx,
        &o.common.name,
        &ast::var_named("self"),
        Vec::new(),
        1,
        &what,
    )?;
    let mut ns = Namespace::new();
    let (branches, tag_ident, unknown) = union_branches(ctx, o, &what, &mut ns)?;
    let decls = branch_decls(ctx, &branches, &unknown)?;
    if ctx.union_is_enum(o) {
        let tag_var = ast::ident("tag");
        let tag = Tag {
            ident: &tag_ident,
            unknown: &tag_unknown,
            var: &tag_var,
            wire: tag_wire,
        };
        let decode = branch_decode(ctx, &branches, &tag, &ast::path("Self"), &unknown);
        let mut attrs = doc;
        attrs.extend_from_slice(&cfg);
        attrs.push(shared.derive_object.clone());
        attrs.push(shared.allow_large_variant.clone());
        out.push(ast::enum_item(attrs, ident.clone(), decls));
        let tag_type = ast::ty(ast::path_ident(tag_ident.clone()));
        let decode = Body {
            stmts: vec![
                ast::let_(
                    Vec::new(),
                    ast::pat_typed(ast::pat_ident(tag_var.clone()), tag_type),
                    member_read(tag_wire, false),
                ),
                ast::tail(ast::call(ast::var_named("Ok"), vec![decode])),
            ],
            deprecated: branches.iter().any(|b| b.deprecated),
        };
        out.extend(object_impls(shared, &ident, cfg, decode, ser, false));
    } else {
        let branch_ident = ctx.branch_ident(&o.common.name)?.clone();
        let schema = ctx.schema;
        let name: &str = schema
            .get(&o.common.name)
            .map(Entity::name)
            .unwrap_or_default();
        let fields = ctx.fields(name, Some(tag_wire))?;
        let tag_field = names::ident(&names::field_name(tag_wire));
        let mut field_decl = field_decls(ctx, &fields, &what)?;
        let tag_owner = ctx
            .base_chain(name)
            .into_iter()
            .find(|o| o.members.iter().any(|m| m.name == tag_wire))
            .map_or(name, |o| o.common.name.as_str());
        let tag_doc = docs::attrs(&docs::member(ctx.doc_for_type(tag_owner), tag_wire, &[]));
        field_decl.push(ast::pub_field(
            tag_doc,
            tag_field.clone(),
            ast::ty(ast::path_ident(branch_ident.clone())),
        ));
        // Base members in visit order, the tag among them, then the branch.
        let mut lets = Vec::new();
        let mut inits = Vec::new();
        let tag_var = format_ident!("v_{}", names::field_name(tag_wire));
        for m in ctx.schema.all_members(name) {
            if m.name == tag_wire {
                let tag_type = ast::ty(ast::path_ident(tag_ident.clone()));
                lets.push(ast::let_(
                    Vec::new(),
                    ast::pat_typed(ast::pat_ident(tag_var.clone()), tag_type),
                    member_read(tag_wire, false),
                ));
                continue;
            }
            let Some(f) = fields.iter().find(|f| std::ptr::eq(f.member, m)) else {
                continue;
            };
            let fcfg = ctx.cfg.attr(f.cond.as_deref(), &what)?;
            let var = format_ident!("v_{}", names::field_name(&m.name));
            inits.push(ast::field_value(fcfg.clone(), &f.ident, ast::var(&var)));
            lets.push(ast::let_(
                fcfg,
                ast::pat_ident(var),
                member_read(&m.name, m.optional),
            ));
        }
        let tag = Tag {
            ident: &tag_ident,
            unknown: &tag_unknown,
            var: &tag_var,
            wire: tag_wire,
        };
        let branch_path = ast::path_ident(branch_ident.clone());
        let decode = branch_decode(ctx, &branches, &tag, &branch_path, &unknown);
        let branch_doc =
            format!(" The branches of [`{ident}`], selected by its `{tag_wire}` member.");
        let mut attrs = doc;
        attrs.extend_from_slice(&cfg);
        attrs.push(shared.derive_object.clone());
        out.push(ast::struct_item(attrs, ident.clone(), field_decl));
        let mut attrs = vec![ast::doc_attr(&branch_doc)];
        attrs.extend_from_slice(&cfg);
        attrs.push(shared.derive_object.clone());
        attrs.push(shared.allow_large_variant.clone());
        out.push(ast::enum_item(attrs, branch_ident, decls));
        let branch = ast::ident("branch");
        inits.push(ast::field_value(Vec::new(), &tag_field, ast::var(&branch)));
        lets.push(ast::let_(Vec::new(), ast::pat_ident(branch), decode));
        lets.push(ast::tail(ast::call(
            ast::var_named("Ok"),
            vec![ast::struct_expr(ast::path("Self"), inits)],
        )));
        let decode = Body {
            stmts: lets,
            deprecated: branches.iter().any(|b| b.deprecated)
                || fields.iter().any(|f| is_deprecated(&f.member.features)),
        };
        out.extend(object_impls(shared, &ident, cfg, decode, ser, false));
    }
    Ok(out)
}

/// The catch-all variant of an enum (normally `Unrecognized`).
pub fn catch_all_of(e: &EnumType) -> Ident {
    let mut ns = Namespace::new();
    for v in &e.values {
        // Clashes between values were reported when the enum itself was emitted.
        let _ = ns.claim(&names::variant_name(&v.name), "value");
    }
    format_ident!(
        "{}",
        ns.claim_derived("Unrecognized", "the catch-all variant")
    )
}

pub fn alternate_type(
    ctx: &Ctx<'_>,
    shared: &Shared,
    a: &AlternateType,
    entity: &Entity,
) -> Result<Vec<Item>, Error> {
    let ident = ctx.type_ident(&a.common.name)?.clone();
    let what = describe(entity);
    let cfg = ctx.entity_cfg(entity)?;
    let schema_doc = ctx.schema.doc_of(entity);
    let wire_name = &a.common.name;
    let mut ns = Namespace::new();
    let mut decls = Vec::with_capacity(a.variants.len());
    let mut decode_arms = Vec::with_capacity(a.variants.len() + 1);
    let mut ser_arms = Vec::with_capacity(a.variants.len());
    let value = ast::ident("value");
    for v in &a.variants {
        let name = names::variant_name(&v.name);
        ns.claim(&name, &format!("branch '{}' of {what}", v.name))?;
        let variant = names::ident(&name);
        let vcond = ctx.avail.part(v.ifcond.as_ref(), &v.ty, wire_name);
        let vcfg = ctx.cfg.attr(vcond.as_deref(), &what)?;
        let ty = ctx.held_type(&a.common.name, &v.ty)?;
        let attrs = concat(docs::attrs(&docs::member(schema_doc, &v.name, &[])), &vcfg);
        decls.push(ast::variant(attrs, variant.clone(), ast::fields_tuple(ty)));
        let class = match ctx.json_class(&v.ty) {
            Some(JsonClass::Null) => "Null",
            Some(JsonClass::String) => "String",
            Some(JsonClass::Number) => "Number",
            Some(JsonClass::Bool) => "Bool",
            Some(JsonClass::Array) => "Array",
            Some(JsonClass::Object) => "Object",
            None => {
                return Err(Error::AmbiguousBranch {
                    branch: v.name.clone(),
                    of: what.to_owned(),
                })
            }
        };
        let class_path = ast::path_join(&ast::path("::serde_json::Value"), &ast::ident(class));
        let pattern = if class == "Null" {
            ast::pat_path(class_path)
        } else {
            ast::pat_tuple_struct(class_path, vec![ast::pat_wild()])
        };
        let decoded = ast::try_(ast::call_path(
            "qapi_runtime::Decode::decode",
            vec![ast::var(&value), ast::var_named("decoder")],
        ));
        decode_arms.push(ast::arm(
            vcfg.clone(),
            pattern,
            ast::call(ast::expr_path(self_path(&variant)), vec![decoded]),
        ));
        ser_arms.push(ast::arm(
            vcfg,
            ast::pat_tuple_struct(self_path(&variant), vec![ast::pat_ident(value.clone())]),
            ast::call_path(
                "::serde::Serialize::serialize",
                vec![ast::var(&value), ast::var_named("serializer")],
            ),
        ));
    }
    let mismatch = ast::method(
        ast::var_named("decoder"),
        "alternate_mismatch",
        vec![ast::lit_str(wire_name)],
    );
    decode_arms.push(ast::arm(
        Vec::new(),
        ast::pat_wild(),
        ast::return_(ast::call(ast::var_named("Err"), vec![mismatch])),
    ));
    let mut attrs = definition_docs(ctx, entity, &[]);
    attrs.extend_from_slice(&cfg);
    attrs.push(shared.derive_object.clone());
    attrs.push(shared.allow_large_variant.clone());
    let decode = ast::call(
        ast::var_named("Ok"),
        vec![ast::match_(ast::var(&value), decode_arms)],
    );
    Ok(vec![
        ast::enum_item(attrs, ident.clone(), decls),
        ast::impl_item(
            cfg.clone(),
            Some(ast::path("qapi_runtime::Decode")),
            &ident,
            vec![ast::impl_fn(
                Vec::new(),
                syn::Visibility::Inherited,
                shared.decode.clone(),
                vec![ast::tail(decode)],
            )],
        ),
        ast::impl_item(
            cfg.clone(),
            Some(ast::path("::serde::Serialize")),
            &ident,
            vec![ast::impl_fn(
                Vec::new(),
                syn::Visibility::Inherited,
                shared.serialize.clone(),
                vec![ast::tail(ast::match_(ast::var_named("self"), ser_arms))],
            )],
        ),
        ast::macro_item(cfg, "qapi_runtime::deserialize", quote!(#ident)),
    ])
}
