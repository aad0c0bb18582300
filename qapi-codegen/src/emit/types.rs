//! Enums, structs, unions and alternates, with their `Decode`, `Serialize` and `Deserialize`
//! impls (thin calls into `qapi_runtime`).

use super::serialize::{entries_in_order, field_entry, Entry};
use crate::context::{describe, feature_notes, Ctx, Field, JsonClass};
use crate::docs;
use crate::names::{self, Namespace};
use proc_macro2::{Ident, TokenStream};
use qapi_parser::{AlternateType, Entity, EnumType, ObjectType};
use quote::{format_ident, quote};

/// Doc attributes of a definition.
pub fn definition_docs(ctx: &Ctx<'_>, e: &Entity, extra: &[String]) -> TokenStream {
    let mut notes = feature_notes(&e.common().features);
    notes.extend(extra.iter().cloned());
    let lines = match ctx.schema.doc_of(e) {
        Some(doc) => docs::definition(doc, &notes),
        None => notes,
    };
    docs::attrs(&lines)
}

pub fn enum_type(ctx: &Ctx<'_>, e: &EnumType, entity: &Entity) -> Result<TokenStream, String> {
    let std_option = &ctx.std.option;
    let std_string = &ctx.std.string;
    let ident = ctx.type_ident(&e.common.name)?.clone();
    let what = describe(entity);
    let cfg = ctx.cfg.attr(e.common.ifcond.as_ref(), &what)?;
    let doc = definition_docs(ctx, entity, &[]);
    let schema_doc = ctx.schema.doc_of(entity);
    let mut ns = Namespace::new();
    let mut variants = Vec::new();
    let mut as_str_arms = Vec::new();
    let mut decode_arms = Vec::new();
    for value in &e.values {
        let name = names::variant_name(&value.name);
        ns.claim(&name, &format!("value '{}' of {what}", value.name))?;
        let v = names::ident(&name);
        let vcfg = ctx.cfg.attr(
            value.ifcond.as_ref(),
            &format!("value '{}' of {what}", value.name),
        )?;
        let vdoc = docs::attrs(&docs::member(
            schema_doc,
            &value.name,
            &feature_notes(&value.features),
        ));
        let deprecated = ctx.deprecated_attr(&value.features, &what)?;
        let wire = &value.name;
        variants.push(quote!(#vdoc #deprecated #vcfg #v,));
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
    Ok(quote! {
        #doc
        #cfg
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum #ident {
            #(#variants)*
            /// A value this version of the schema does not know; only lenient decoding produces it.
            #unknown(#std_string),
        }

        #cfg
        #[allow(deprecated)]
        impl #ident {
            /// The wire name of the value.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#as_str_arms)*
                    Self::#unknown(value) => value,
                }
            }

            /// The value called `value` on the wire, if this version of the schema knows it.
            pub fn from_wire(value: &str) -> #std_option<Self> {
                #from_wire
            }
        }

        #cfg
        qapi_runtime::enumeration!(#ident, #unknown);
    })
}

fn field_decls(
    ctx: &Ctx<'_>,
    fields: &[Field<'_>],
    what: &str,
) -> Result<Vec<TokenStream>, String> {
    fields
        .iter()
        .map(|f| {
            let doc = docs::attrs(&f.doc);
            let cfg = ctx.cfg.attr(f.cond.as_ref(), what)?;
            let deprecated = ctx.deprecated_attr(&f.member.features, what)?;
            let (ident, ty) = (&f.ident, &f.ty);
            Ok(quote!(#doc #deprecated #cfg pub #ident: #ty,))
        })
        .collect()
}

/// `field: members.required("wire")?,` for a struct literal.
fn field_inits(
    ctx: &Ctx<'_>,
    fields: &[Field<'_>],
    what: &str,
) -> Result<Vec<TokenStream>, String> {
    fields
        .iter()
        .map(|f| {
            let cfg = ctx.cfg.attr(f.cond.as_ref(), what)?;
            let ident = &f.ident;
            let wire = &f.member.name;
            let call = if f.member.optional {
                quote!(optional)
            } else {
                quote!(required)
            };
            Ok(quote!(#cfg #ident: members.#call(#wire)?,))
        })
        .collect()
}

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
    decode: TokenStream,
    serialize: TokenStream,
    maybe_unused: bool,
) -> TokenStream {
    let std_result = &ctx.std.result;
    let map = if serialize.is_empty() {
        quote!(_map)
    } else {
        quote!(map)
    };
    let allow = if maybe_unused && !serialize.is_empty() {
        quote!(#[allow(unused_variables)])
    } else {
        TokenStream::new()
    };
    quote! {
        #cfg
        #[allow(deprecated)]
        impl qapi_runtime::DecodeMembers for #ident {
            fn decode_members(members: &mut qapi_runtime::Members<'_, '_>) -> qapi_runtime::DecodeResult<Self> {
                #decode
            }
        }

        #cfg
        #[allow(deprecated)]
        impl qapi_runtime::SerializeMembers for #ident {
            #allow
            fn serialize_members<M: ::serde::ser::SerializeMap>(&self, #map: &mut M) -> #std_result<(), M::Error> {
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
) -> Result<TokenStream, String> {
    let name = o.common.name.as_str();
    let ident = ctx.type_ident(name)?.clone();
    let what = describe(entity);
    let cfg = ctx.cfg.attr(o.common.ifcond.as_ref(), &what)?;
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
    let derive = derives(&fields);
    let entries: Vec<Entry> = fields
        .iter()
        .map(|f| field_entry(ctx, f, &quote!(self), &what))
        .collect::<Result<_, _>>()?;
    let serialize = entries_in_order(ctx, entries);
    let (decode, members) = if fields.is_empty() {
        (quote! { let _ = members; Ok(Self {}) }, quote!({}))
    } else {
        (quote!(Ok(Self { #(#inits)* })), quote!({ #(#decls)* }))
    };
    let maybe_unused = fields.iter().all(|f| f.cond.is_some());
    let mut out = quote! {
        #doc
        #cfg
        #derive
        pub struct #ident #members
    };
    out.extend(object_impls(
        ctx,
        &ident,
        &cfg,
        decode,
        serialize,
        maybe_unused,
    ));
    Ok(out)
}

/// One branch of a union as emitted.
pub(crate) struct Branch {
    pub variant: Ident,
    /// Wire value of the tag.
    pub value: String,
    /// Schema name of the branch type; `None` for empty branches.
    pub ty: Option<String>,
    pub boxed: bool,
    pub cfg: TokenStream,
    pub doc: TokenStream,
    /// The branch's condition is not just its tag value's: decoding needs a fallback arm.
    pub extra_cond: bool,
}

pub(crate) fn union_branches(
    ctx: &Ctx<'_>,
    o: &ObjectType,
    what: &str,
    ns: &mut Namespace,
) -> Result<(Vec<Branch>, Ident, Ident), String> {
    let (_, tag_enum) = ctx.tag_enum(o)?;
    let tag_ident = ctx.type_ident(&tag_enum.common.name)?.clone();
    let doc = ctx
        .schema
        .get(&o.common.name)
        .and_then(|e| ctx.schema.doc_of(e));
    let variants = o.variants.as_ref().ok_or("not a union")?;
    let mut branches = Vec::new();
    for value in &tag_enum.values {
        let Some(v) = variants.variants.iter().find(|v| v.name == value.name) else {
            continue;
        };
        let variant = names::variant_name(&v.name);
        ns.claim(&variant, &format!("branch '{}' of {what}", v.name))?;
        let cond = ctx.variant_cond(v.ifcond.as_ref(), value.ifcond.as_ref());
        let cfg = ctx.cfg.attr(cond.as_ref(), what)?;
        let empty = v.ty == "q_empty";
        branches.push(Branch {
            variant: names::ident(&variant),
            value: v.name.clone(),
            ty: (!empty).then(|| v.ty.clone()),
            boxed: !empty && ctx.needs_box(&o.common.name, &v.ty),
            cfg,
            doc: {
                let mut lines = docs::member(doc, &v.name, &[]);
                if lines.is_empty() {
                    lines.push(format!(
                        "The branch for `{}` = `\"{}\"`.",
                        variants.tag, v.name
                    ));
                }
                docs::attrs(&lines)
            },
            extra_cond: v.ifcond.is_some() && v.ifcond != value.ifcond,
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
) -> Result<Vec<TokenStream>, String> {
    let std_string = &ctx.std.string;
    let std_box = &ctx.std.boxed;
    let mut out = Vec::new();
    for b in branches {
        let (variant, cfg, doc) = (&b.variant, &b.cfg, &b.doc);
        out.push(match &b.ty {
            None => quote!(#doc #cfg #variant,),
            Some(ty) => {
                let mut t = ctx.rust_type(ty)?;
                if b.boxed {
                    t = quote!(#std_box<#t>);
                }
                quote!(#doc #cfg #variant(#t),)
            }
        });
    }
    out.push(quote! {
        /// A tag value this version of the schema does not know (lenient decoding only); holds the value.
        #unknown(#std_string),
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
    enum_path: &TokenStream,
    unknown: &Ident,
) -> TokenStream {
    let (tag_ident, tag_unknown, tag_var, tag_wire) = (tag.ident, tag.unknown, tag.var, tag.wire);
    let std_box = &ctx.std.boxed;
    let mut arms = Vec::new();
    for b in branches {
        let (variant, cfg) = (&b.variant, &b.cfg);
        arms.push(match (&b.ty, b.boxed) {
            (None, _) => quote!(#cfg #tag_ident::#variant => #enum_path::#variant,),
            (Some(_), false) => quote!(#cfg #tag_ident::#variant => #enum_path::#variant(qapi_runtime::DecodeMembers::decode_members(members)?),),
            (Some(_), true) => quote!(#cfg #tag_ident::#variant => #enum_path::#variant(#std_box::new(qapi_runtime::DecodeMembers::decode_members(members)?)),),
        });
    }
    let fallback = if branches.iter().any(|b| b.extra_cond) {
        quote! {
            #[allow(unreachable_patterns)]
            other => return Err(members.decoder().branch_unavailable(#tag_wire, other.as_str())),
        }
    } else {
        TokenStream::new()
    };
    quote! {
        match #tag_var {
            #(#arms)*
            #tag_ident::#tag_unknown(value) => #enum_path::#unknown(value),
            #fallback
        }
    }
}

pub fn union_type(ctx: &Ctx<'_>, o: &ObjectType, entity: &Entity) -> Result<TokenStream, String> {
    let ident = ctx.type_ident(&o.common.name)?.clone();
    let what = describe(entity);
    let cfg = ctx.cfg.attr(o.common.ifcond.as_ref(), &what)?;
    let doc = definition_docs(ctx, entity, &[]);
    let (tag_member, tag_enum) = ctx.tag_enum(o)?;
    let tag_unknown = catch_all_of(tag_enum);
    let tag_wire = tag_member.name.as_str();
    let mut out = TokenStream::new();
    let ser =
        super::serialize::union_body(ctx, &o.common.name, &quote!(self), Vec::new(), 1, &what)?;
    if ctx.union_is_enum(o) {
        let mut ns = Namespace::new();
        let (branches, tag_ident, unknown) = union_branches(ctx, o, &what, &mut ns)?;
        let decls = branch_decls(ctx, &branches, &unknown)?;
        let tag_var = format_ident!("tag");
        let tag = Tag {
            ident: &tag_ident,
            unknown: &tag_unknown,
            var: &tag_var,
            wire: tag_wire,
        };
        let decode = branch_decode(ctx, &branches, &tag, &quote!(Self), &unknown);
        out.extend(quote! {
            #doc
            #cfg
            #[derive(Debug, Clone, PartialEq)]
            #[allow(clippy::large_enum_variant)]
            pub enum #ident {
                #(#decls)*
            }

        });
        out.extend(object_impls(
            ctx,
            &ident,
            &cfg,
            quote! {
                let tag: #tag_ident = members.required(#tag_wire)?;
                Ok(#decode)
            },
            ser,
            false,
        ));
    } else {
        let branch_ident = ctx.branch_ident(&o.common.name)?.clone();
        let mut ns = Namespace::new();
        let (branches, tag_ident, unknown) = union_branches(ctx, o, &what, &mut ns)?;
        let decls = branch_decls(ctx, &branches, &unknown)?;
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
        field_decl.push(quote!(#tag_doc pub #tag_field: #branch_ident,));
        // Base members in visit order, the tag among them, then the branch.
        let mut lets = Vec::new();
        let mut inits = Vec::new();
        let tag_var = format_ident!("v_{}", names::field_name(tag_wire));
        for m in ctx.schema.all_members(name) {
            if m.name == tag_wire {
                lets.push(quote!(let #tag_var: #tag_ident = members.required(#tag_wire)?;));
                continue;
            }
            let Some(f) = fields.iter().find(|f| std::ptr::eq(f.member, m)) else {
                continue;
            };
            let fcfg = ctx.cfg.attr(f.cond.as_ref(), &what)?;
            let call = if m.optional {
                quote!(optional)
            } else {
                quote!(required)
            };
            let wire = &m.name;
            let var = format_ident!("v_{}", names::field_name(&m.name));
            let fid = &f.ident;
            lets.push(quote!(#fcfg let #var = members.#call(#wire)?;));
            inits.push(quote!(#fcfg #fid: #var,));
        }
        let tag = Tag {
            ident: &tag_ident,
            unknown: &tag_unknown,
            var: &tag_var,
            wire: tag_wire,
        };
        let decode = branch_decode(ctx, &branches, &tag, &quote!(#branch_ident), &unknown);
        let branch_doc =
            format!(" The branches of [`{ident}`], selected by its `{tag_wire}` member.");
        out.extend(quote! {
            #doc
            #cfg
            #[derive(Debug, Clone, PartialEq)]
            pub struct #ident {
                #(#field_decl)*
            }

            #[doc = #branch_doc]
            #cfg
            #[derive(Debug, Clone, PartialEq)]
            #[allow(clippy::large_enum_variant)]
            pub enum #branch_ident {
                #(#decls)*
            }

        });
        out.extend(object_impls(
            ctx,
            &ident,
            &cfg,
            quote! {
                #(#lets)*
                let branch = #decode;
                Ok(Self { #(#inits)* #tag_field: branch })
            },
            ser,
            false,
        ));
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
    a: &AlternateType,
    entity: &Entity,
) -> Result<TokenStream, String> {
    let std_result = &ctx.std.result;
    let ident = ctx.type_ident(&a.common.name)?.clone();
    let what = describe(entity);
    let cfg = ctx.cfg.attr(a.common.ifcond.as_ref(), &what)?;
    let doc = definition_docs(ctx, entity, &[]);
    let schema_doc = ctx.schema.doc_of(entity);
    let wire_name = &a.common.name;
    let mut ns = Namespace::new();
    let mut decls = Vec::new();
    let mut decode_arms = Vec::new();
    let mut ser_arms = Vec::new();
    for v in &a.variants {
        let name = names::variant_name(&v.name);
        ns.claim(&name, &format!("branch '{}' of {what}", v.name))?;
        let variant = names::ident(&name);
        let vcfg = ctx.cfg.attr(v.ifcond.as_ref(), &what)?;
        let ty = ctx.held_type(&a.common.name, &v.ty)?;
        let vdoc = docs::attrs(&docs::member(schema_doc, &v.name, &[]));
        decls.push(quote!(#vdoc #vcfg #variant(#ty),));
        let pattern = match ctx.json_class(&v.ty) {
            Some(JsonClass::Null) => quote!(::serde_json::Value::Null),
            Some(JsonClass::String) => quote!(::serde_json::Value::String(_)),
            Some(JsonClass::Number) => quote!(::serde_json::Value::Number(_)),
            Some(JsonClass::Bool) => quote!(::serde_json::Value::Bool(_)),
            Some(JsonClass::Array) => quote!(::serde_json::Value::Array(_)),
            Some(JsonClass::Object) => quote!(::serde_json::Value::Object(_)),
            None => return Err(format!("branch '{}' of {what} has no JSON type", v.name)),
        };
        decode_arms.push(quote!(#vcfg #pattern => Self::#variant(qapi_runtime::Decode::decode(value, decoder)?),));
        ser_arms.push(quote!(#vcfg Self::#variant(value) => ::serde::Serialize::serialize(value, serializer),));
    }
    Ok(quote! {
        #doc
        #cfg
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum #ident {
            #(#decls)*
        }

        #cfg
        impl qapi_runtime::Decode for #ident {
            fn decode(value: &::serde_json::Value, decoder: &mut qapi_runtime::Decoder) -> qapi_runtime::DecodeResult<Self> {
                Ok(match value {
                    #(#decode_arms)*
                    _ => return Err(decoder.alternate_mismatch(#wire_name)),
                })
            }
        }

        #cfg
        impl ::serde::Serialize for #ident {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> #std_result<S::Ok, S::Error> {
                match self {
                    #(#ser_arms)*
                }
            }
        }

        #cfg
        qapi_runtime::deserialize!(#ident);
    })
}
