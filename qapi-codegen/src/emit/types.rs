//! Enums, structs, unions and alternates, with their `Decode`, `Serialize` and `Deserialize`
//! impls (thin calls into `qapi_runtime`).

use super::serialize::{entries_in_order, field_entry, Entry};
use super::{allow_deprecated, Body};
use crate::context::{describe, feature_notes, is_deprecated, Ctx, Field, JsonClass};
use crate::docs;
use crate::names::{self, Namespace};
use crate::Error;
use proc_macro2::Ident;
use proc_macro2::TokenStream;
use qapi_parser::{AlternateType, Doc, Entity, EnumType, IfCond, ObjectType};
use quote::{format_ident, quote};
use syn::{parse_quote, Path};

/// Doc attributes of a definition.
pub fn definition_docs(ctx: &Ctx<'_>, e: &Entity, extra: &[String]) -> TokenStream {
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

pub fn enum_type(ctx: &Ctx<'_>, e: &EnumType, entity: &Entity) -> Result<TokenStream, Error> {
    let ident = ctx.type_ident(&e.common.name)?;
    let schema_name = e.common.name.as_str();
    let what = describe(entity);
    let cfg = ctx.entity_cfg(entity)?;
    let schema_doc = ctx.schema.doc_of(entity);
    let string = &ctx.std.string;
    let option = &ctx.std.option;
    let mut ns = Namespace::new();
    let mut variants = Vec::with_capacity(e.values.len());
    let mut as_str_arms = Vec::with_capacity(e.values.len());
    let mut decode_arms = Vec::with_capacity(e.values.len());
    for value in &e.values {
        let name = names::variant_name(&value.name);
        let what_value = format!("value '{}' of {what}", value.name);
        ns.claim(&name, &what_value)?;
        let v = names::ident(&name);
        let vcfg = ctx.cfg.attr(value.ifcond.as_ref(), &what_value)?;
        let docs = docs::attrs(&docs::member(
            schema_doc,
            &value.name,
            &feature_notes(&value.features),
        ));
        let deprecated = ctx.deprecated_attr(&value.features, &what)?;
        let wire = &value.name;
        variants.push(quote!(#docs #deprecated #vcfg #v,));
        as_str_arms.push(quote!(#vcfg Self::#v => #wire,));
        decode_arms.push(quote!(#vcfg #wire => Self::#v,));
    }
    let unknown = format_ident!(
        "{}",
        ns.claim_derived("Unrecognized", "the catch-all variant")
    );
    let from_wire = if decode_arms.is_empty() {
        quote! {
            let _ = value;
            None
        }
    } else {
        quote! {
            Some(match value {
                #(#decode_arms)*
                _ => return None,
            })
        }
    };
    let docs = definition_docs(ctx, entity, &[]);
    let allow = allow_deprecated(e.values.iter().any(|v| is_deprecated(&v.features)));
    Ok(quote! {
        #docs
        #cfg
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum #ident {
            #(#variants)*
            /// A value this version of the schema does not know; only lenient decoding produces it.
            #unknown(#string),
        }

        #cfg
        #allow
        impl #ident {
            /// The wire name of the value.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#as_str_arms)*
                    Self::#unknown(value) => value,
                }
            }

            /// The value called `value` on the wire, if this version of the schema knows it.
            pub fn from_wire(value: &str) -> #option<Self> {
                #from_wire
            }
        }

        #cfg
        qapi_runtime::enumeration!(#ident, #unknown, #schema_name);
    })
}

/// The declarations of `fields` (`pub name: Type,`).
fn field_decls(ctx: &Ctx<'_>, fields: &[Field<'_>], what: &str) -> Result<TokenStream, Error> {
    let mut out = TokenStream::new();
    for f in fields {
        let docs = docs::attrs(&f.doc_lines());
        let deprecated = ctx.deprecated_attr(&f.member.features, what)?;
        let cfg = ctx.cfg.attr(f.cond.as_deref(), what)?;
        let (ident, ty) = (&f.ident, ctx.field_type(f)?);
        out.extend(quote!(#docs #deprecated #cfg pub #ident: #ty,));
    }
    Ok(out)
}

/// `members.required("wire")?` (or `optional`).
fn member_read(wire: &str, optional: bool) -> TokenStream {
    if optional {
        quote!(members.optional(#wire)?)
    } else {
        quote!(members.required(#wire)?)
    }
}

/// `field: members.required("wire")?,` for a struct literal.
fn field_inits(ctx: &Ctx<'_>, fields: &[Field<'_>], what: &str) -> Result<TokenStream, Error> {
    let mut out = TokenStream::new();
    for f in fields {
        let cfg = ctx.cfg.attr(f.cond.as_deref(), what)?;
        let (ident, read) = (&f.ident, member_read(&f.member.name, f.member.optional));
        out.extend(quote!(#cfg #ident: #read,));
    }
    Ok(out)
}

/// The derives of a struct (`Default` when every member is optional).
fn derives(fields: &[Field<'_>]) -> TokenStream {
    if fields.iter().all(|f| f.member.optional) {
        quote!(#[derive(Debug, Clone, PartialEq, Default)])
    } else {
        quote!(#[derive(Debug, Clone, PartialEq)])
    }
}

/// `impl DecodeMembers`, `impl SerializeMembers` and the `object!` impls of an object type.
/// `maybe_unused`: every member write may be compiled out.
fn object_impls(
    ctx: &Ctx<'_>,
    ident: &Ident,
    cfg: &TokenStream,
    decode: Body,
    serialize: Body,
    maybe_unused: bool,
) -> TokenStream {
    let result = &ctx.std.result;
    let allow_unused = quote!(#[allow(unused_variables)]);
    let writes = !serialize.stmts.is_empty();
    let decode_allow = if maybe_unused && writes {
        allow_unused.clone()
    } else {
        TokenStream::new()
    };
    let (serialize_allow, map) = match (writes, maybe_unused) {
        (false, _) => (TokenStream::new(), format_ident!("_map")),
        (true, true) => (allow_unused, format_ident!("map")),
        (true, false) => (TokenStream::new(), format_ident!("map")),
    };
    let (decode_deprecated, decode) = (allow_deprecated(decode.deprecated), decode.stmts);
    let (serialize_deprecated, serialize) =
        (allow_deprecated(serialize.deprecated), serialize.stmts);
    quote! {
        #cfg
        #decode_deprecated
        impl qapi_runtime::DecodeMembers for #ident {
            #decode_allow
            fn decode_members(members: &mut qapi_runtime::Members<'_, '_>) -> qapi_runtime::DecodeResult<Self> {
                #decode
            }
        }

        #cfg
        #serialize_deprecated
        impl qapi_runtime::SerializeMembers for #ident {
            #serialize_allow
            fn serialize_members<M: qapi_runtime::serde::ser::SerializeMap>(&self, #map: &mut M) -> #result<(), M::Error> {
                #serialize
                Ok(())
            }
        }

        #cfg
        qapi_runtime::object!(#ident);
    }
}

/// A struct, or the implicit argument struct of a command or event.
pub fn struct_type(
    ctx: &Ctx<'_>,
    o: &ObjectType,
    entity: &Entity,
    owner: Option<&Entity>,
) -> Result<TokenStream, Error> {
    let name = o.common.name.as_str();
    let ident = ctx.type_ident(name)?;
    let what = describe(entity);
    let cfg = ctx.entity_cfg(entity)?;
    let docs = match owner {
        Some(Entity::Event(ev)) => docs::attrs(&[format!("Data of event `{}`.", ev.common.name)]),
        Some(owner) => docs::attrs(&[format!("Arguments of command `{}`.", owner.name())]),
        None => definition_docs(ctx, entity, &[]),
    };
    let schema = ctx.schema;
    let name: &str = schema.get(name).map(Entity::name).unwrap_or(name);
    let fields = ctx.fields(name, None)?;
    let decls = field_decls(ctx, &fields, &what)?;
    let inits = field_inits(ctx, &fields, &what)?;
    let derive = derives(&fields);
    let access = quote!(self);
    let entries: Vec<Entry> = fields
        .iter()
        .map(|f| field_entry(ctx, f, &access, &what))
        .collect::<Result<_, _>>()?;
    let serialize = entries_in_order(ctx, entries);
    let unused = fields.is_empty().then(|| quote!(let _ = members;));
    let decode = Body {
        stmts: quote! {
            #unused
            Ok(Self { #inits })
        },
        deprecated: fields.iter().any(|f| is_deprecated(&f.member.features)),
    };
    let maybe_unused = fields.iter().all(|f| f.cond.is_some());
    let impls = object_impls(ctx, ident, &cfg, decode, serialize, maybe_unused);
    Ok(quote! {
        #docs
        #cfg
        #derive
        pub struct #ident {
            #decls
        }

        #impls
    })
}

/// One branch of a union as emitted.
pub(crate) struct Branch<'s> {
    pub variant: Ident,
    /// Wire value of the tag.
    pub value: &'s str,
    /// Schema name of the branch type; `None` for empty branches.
    pub ty: Option<String>,
    pub boxed: bool,
    pub cfg: TokenStream,
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

/// The variants of a union's (branch) enum.
fn branch_decls(ctx: &Ctx<'_>, branches: &[Branch], unknown: &Ident) -> Result<TokenStream, Error> {
    let mut out = TokenStream::new();
    for b in branches {
        let (docs, cfg, variant) = (docs::attrs(&b.doc_lines()), &b.cfg, &b.variant);
        let fields = match &b.ty {
            None => TokenStream::new(),
            Some(ty) if b.boxed => {
                let held = ctx.std.box_of(ctx.rust_type(ty)?);
                quote!((#held))
            }
            Some(ty) => {
                let held = ctx.rust_type(ty)?;
                quote!((#held))
            }
        };
        out.extend(quote!(#docs #cfg #variant #fields,));
    }
    let string = &ctx.std.string;
    out.extend(quote! {
        /// A tag value this version of the schema does not know (lenient decoding only); holds the value.
        #unknown(#string),
    });
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
) -> TokenStream {
    let (tag_ident, tag_unknown, tag_var, wire) = (tag.ident, tag.unknown, tag.var, tag.wire);
    let boxed = &ctx.std.boxed;
    let arms = branches.iter().map(|b| {
        let (cfg, variant) = (&b.cfg, &b.variant);
        let decoded = quote!(qapi_runtime::DecodeMembers::decode_members(members)?);
        let body = match (&b.ty, b.boxed) {
            (None, _) => quote!(#enum_path::#variant),
            (Some(_), false) => quote!(#enum_path::#variant(#decoded)),
            (Some(_), true) => quote!(#enum_path::#variant(#boxed::new(#decoded))),
        };
        quote!(#cfg #tag_ident::#variant => #body,)
    });
    let fallback = branches.iter().any(|b| b.extra_cond).then(|| {
        quote! {
            #[allow(unreachable_patterns)]
            other => return Err(members.decoder().branch_unavailable(#wire, other.as_str())),
        }
    });
    quote! {
        match #tag_var {
            #(#arms)*
            #tag_ident::#tag_unknown(value) => #enum_path::#unknown(value),
            #fallback
        }
    }
}

pub fn union_type(ctx: &Ctx<'_>, o: &ObjectType, entity: &Entity) -> Result<TokenStream, Error> {
    let ident = ctx.type_ident(&o.common.name)?;
    let what = describe(entity);
    let cfg = ctx.entity_cfg(entity)?;
    let docs = definition_docs(ctx, entity, &[]);
    let (tag_member, tag_enum) = ctx.tag_enum(o)?;
    let tag_unknown = catch_all_of(tag_enum);
    let tag_wire = tag_member.name.as_str();
    let ser =
        super::serialize::union_body(ctx, &o.common.name, &quote!(self), Vec::new(), 1, &what)?;
    let mut ns = Namespace::new();
    let (branches, tag_ident, unknown) = union_branches(ctx, o, &what, &mut ns)?;
    let decls = branch_decls(ctx, &branches, &unknown)?;
    if ctx.union_is_enum(o) {
        let tag_var = format_ident!("tag");
        let tag = Tag {
            ident: &tag_ident,
            unknown: &tag_unknown,
            var: &tag_var,
            wire: tag_wire,
        };
        let decode = branch_decode(ctx, &branches, &tag, &parse_quote!(Self), &unknown);
        let read = member_read(tag_wire, false);
        let decode = Body {
            stmts: quote! {
                let #tag_var: #tag_ident = #read;
                Ok(#decode)
            },
            deprecated: branches.iter().any(|b| b.deprecated),
        };
        let impls = object_impls(ctx, ident, &cfg, decode, ser, false);
        return Ok(quote! {
            #docs
            #cfg
            #[derive(Debug, Clone, PartialEq)]
            #[allow(clippy::large_enum_variant)]
            pub enum #ident {
                #decls
            }

            #impls
        });
    }
    let branch_ident = ctx.branch_ident(&o.common.name)?;
    let schema = ctx.schema;
    let name: &str = schema
        .get(&o.common.name)
        .map(Entity::name)
        .unwrap_or_default();
    let fields = ctx.fields(name, Some(tag_wire))?;
    let tag_field = names::ident(&names::field_name(tag_wire));
    let field_decl = field_decls(ctx, &fields, &what)?;
    let tag_owner = ctx
        .base_chain(name)
        .into_iter()
        .find(|o| o.members.iter().any(|m| m.name == tag_wire))
        .map_or(name, |o| o.common.name.as_str());
    let tag_doc = docs::attrs(&docs::member(ctx.doc_for_type(tag_owner), tag_wire, &[]));
    // Base members in visit order, the tag among them, then the branch.
    let mut lets = TokenStream::new();
    let mut inits = TokenStream::new();
    let tag_var = format_ident!("v_{}", names::field_name(tag_wire));
    for m in ctx.schema.all_members(name) {
        if m.name == tag_wire {
            let read = member_read(tag_wire, false);
            lets.extend(quote!(let #tag_var: #tag_ident = #read;));
            continue;
        }
        let Some(f) = fields.iter().find(|f| std::ptr::eq(f.member, m)) else {
            continue;
        };
        let fcfg = ctx.cfg.attr(f.cond.as_deref(), &what)?;
        let var = format_ident!("v_{}", f.ident.to_string().trim_start_matches("r#"));
        let (field, read) = (&f.ident, member_read(&m.name, m.optional));
        inits.extend(quote!(#fcfg #field: #var,));
        lets.extend(quote!(#fcfg let #var = #read;));
    }
    let tag = Tag {
        ident: &tag_ident,
        unknown: &tag_unknown,
        var: &tag_var,
        wire: tag_wire,
    };
    let decode = branch_decode(ctx, &branches, &tag, &parse_quote!(#branch_ident), &unknown);
    let branch_doc = format!(" The branches of [`{ident}`], selected by its `{tag_wire}` member.");
    let decode = Body {
        stmts: quote! {
            #lets
            let branch = #decode;
            Ok(Self { #inits #tag_field: branch })
        },
        deprecated: branches.iter().any(|b| b.deprecated)
            || fields.iter().any(|f| is_deprecated(&f.member.features)),
    };
    let impls = object_impls(ctx, ident, &cfg, decode, ser, false);
    Ok(quote! {
        #docs
        #cfg
        #[derive(Debug, Clone, PartialEq)]
        pub struct #ident {
            #field_decl
            #tag_doc
            pub #tag_field: #branch_ident,
        }

        #[doc = #branch_doc]
        #cfg
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum #branch_ident {
            #decls
        }

        #impls
    })
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
    a: &AlternateType,
    entity: &Entity,
) -> Result<TokenStream, Error> {
    let ident = ctx.type_ident(&a.common.name)?;
    let what = describe(entity);
    let cfg = ctx.entity_cfg(entity)?;
    let schema_doc = ctx.schema.doc_of(entity);
    let wire_name = &a.common.name;
    let result = &ctx.std.result;
    let mut ns = Namespace::new();
    let mut decls = Vec::with_capacity(a.variants.len());
    let mut decode_arms = Vec::with_capacity(a.variants.len());
    let mut ser_arms = Vec::with_capacity(a.variants.len());
    for v in &a.variants {
        let name = names::variant_name(&v.name);
        ns.claim(&name, &format!("branch '{}' of {what}", v.name))?;
        let variant = names::ident(&name);
        let vcond = ctx.avail.part(v.ifcond.as_ref(), &v.ty, wire_name);
        let vcfg = ctx.cfg.attr(vcond.as_deref(), &what)?;
        let ty = ctx.held_type(&a.common.name, &v.ty)?;
        let docs = docs::attrs(&docs::member(schema_doc, &v.name, &[]));
        decls.push(quote!(#docs #vcfg #variant(#ty),));
        let pattern = match ctx.json_class(&v.ty) {
            Some(JsonClass::Null) => quote!(qapi_runtime::serde_json::Value::Null),
            Some(JsonClass::String) => quote!(qapi_runtime::serde_json::Value::String(_)),
            Some(JsonClass::Number) => quote!(qapi_runtime::serde_json::Value::Number(_)),
            Some(JsonClass::Bool) => quote!(qapi_runtime::serde_json::Value::Bool(_)),
            Some(JsonClass::Array) => quote!(qapi_runtime::serde_json::Value::Array(_)),
            Some(JsonClass::Object) => quote!(qapi_runtime::serde_json::Value::Object(_)),
            None => {
                return Err(Error::AmbiguousBranch {
                    branch: v.name.clone(),
                    of: what.to_owned(),
                })
            }
        };
        decode_arms.push(quote! {
            #vcfg #pattern => Self::#variant(qapi_runtime::Decode::decode(value, decoder)?),
        });
        ser_arms.push(quote! {
            #vcfg Self::#variant(value) => qapi_runtime::serde::Serialize::serialize(value, serializer),
        });
    }
    let docs = definition_docs(ctx, entity, &[]);
    Ok(quote! {
        #docs
        #cfg
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum #ident {
            #(#decls)*
        }

        #cfg
        impl qapi_runtime::Decode for #ident {
            fn decode(value: &qapi_runtime::serde_json::Value, decoder: &mut qapi_runtime::Decoder) -> qapi_runtime::DecodeResult<Self> {
                Ok(match value {
                    #(#decode_arms)*
                    _ => return Err(decoder.alternate_mismatch(#wire_name)),
                })
            }
        }

        #cfg
        impl qapi_runtime::serde::Serialize for #ident {
            fn serialize<S: qapi_runtime::serde::Serializer>(&self, serializer: S) -> #result<S::Ok, S::Error> {
                match self {
                    #(#ser_arms)*
                }
            }
        }

        #cfg
        qapi_runtime::deserialize!(#ident);
    })
}
