//! Events: the data structs come from the types emitter; here the enum of all events and its
//! `EventSet` impl (the QMP envelope lives in the runtime).

use super::commands::ItemNames;
use super::types::definition_docs;
use crate::ast;
use crate::context::{describe, is_deprecated, Ctx};
use crate::names::{self, Namespace};
use crate::Error;
use qapi_parser::Entity;
use quote::{format_ident, quote};
use syn::{parse_quote, Item, Stmt};

pub fn emit(ctx: &Ctx<'_>, items: &ItemNames) -> Result<Vec<Item>, Error> {
    let std_option = &ctx.std.option;
    let std_string = &ctx.std.string;
    let std_result = &ctx.std.result;
    let event_ident = &items.event_ident;
    let mut ns = Namespace::new();
    let mut variants = Vec::new();
    let mut decode_arms = Vec::new();
    let mut name_arms = Vec::new();
    let mut has_data_arms = Vec::new();
    let mut ser_arms = Vec::new();
    let self_path = ast::path("Self");
    let (data, decoder, serializer) = (
        ast::ident("data"),
        ast::ident("decoder"),
        ast::ident("serializer"),
    );
    for entity in &ctx.schema.entities {
        let Entity::Event(event) = entity else {
            continue;
        };
        let what = describe(entity);
        let variant_name = names::type_name(&event.common.name);
        ns.claim(&variant_name, &what)?;
        let variant = ast::path_join(&self_path, &names::ident(&variant_name));
        let cfg = ctx.entity_cfg(entity)?;
        let mut attrs = definition_docs(ctx, entity, &[]);
        attrs.extend(ctx.deprecated_attr(&event.common.features, &what)?);
        attrs.extend_from_slice(&cfg);
        let wire = event.common.name.as_str();
        let ident = names::ident(&variant_name);
        match &event.arg_type {
            Some(ty) => {
                let ty = ctx.rust_type(ty)?;
                variants.push(ast::variant(attrs, ident, ast::fields_tuple(ty)));
                let decoded = ast::try_(ast::call_path(
                    "qapi_runtime::event::data",
                    vec![ast::var(&decoder), ast::var(&data)],
                ));
                decode_arms.push(ast::arm(
                    cfg.clone(),
                    ast::pat_str(wire),
                    ast::call(ast::expr_path(variant.clone()), vec![decoded]),
                ));
                let any = ast::pat_tuple_struct(variant.clone(), vec![ast::pat_wild()]);
                name_arms.push(ast::arm(cfg.clone(), any.clone(), ast::lit_str(wire)));
                has_data_arms.push(ast::arm(cfg.clone(), any, ast::lit_bool(true)));
                ser_arms.push(ast::arm(
                    cfg,
                    ast::pat_tuple_struct(variant, vec![ast::pat_ident(data.clone())]),
                    ast::call_path(
                        "::serde::Serialize::serialize",
                        vec![ast::var(&data), ast::var(&serializer)],
                    ),
                ));
            }
            None => {
                variants.push(ast::variant(attrs, ident, syn::Fields::Unit));
                let check = ast::try_(ast::call_path(
                    "qapi_runtime::event::no_data",
                    vec![ast::var(&decoder), ast::var(&data)],
                ));
                decode_arms.push(ast::arm(
                    cfg.clone(),
                    ast::pat_str(wire),
                    ast::block_expr(vec![
                        ast::stmt(check),
                        ast::tail(ast::expr_path(variant.clone())),
                    ]),
                ));
                let pat = ast::pat_path(variant);
                name_arms.push(ast::arm(cfg.clone(), pat.clone(), ast::lit_str(wire)));
                has_data_arms.push(ast::arm(cfg.clone(), pat.clone(), ast::lit_bool(false)));
                ser_arms.push(ast::arm(
                    cfg,
                    pat,
                    ast::call_path("qapi_runtime::ser::empty", vec![ast::var(&serializer)]),
                ));
            }
        }
    }
    let unknown = format_ident!(
        "{}",
        ns.claim_derived("Unrecognized", "the catch-all variant")
    );
    let decode_body: Vec<Stmt> = if decode_arms.is_empty() {
        parse_quote! {
            let (name, data) = qapi_runtime::event::unknown(decoder, name, data)?;
            Ok(Self::#unknown { name, data })
        }
    } else {
        decode_arms.push(parse_quote! {
            other => {
                let (name, data) = qapi_runtime::event::unknown(decoder, other, data)?;
                Self::#unknown { name, data }
            }
        });
        vec![ast::tail(ast::call(
            ast::var_named("Ok"),
            vec![ast::match_(ast::var_named("name"), decode_arms)],
        ))]
    };
    let unknown_path = ast::path_join(&self_path, &unknown);
    name_arms.push(ast::arm(
        Vec::new(),
        ast::pat_struct_rest(unknown_path.clone(), &["name"]),
        ast::var_named("name"),
    ));
    has_data_arms.push(ast::arm(
        Vec::new(),
        ast::pat_struct_rest(unknown_path.clone(), &["data"]),
        ast::method(ast::var(&data), "is_some", Vec::new()),
    ));
    ser_arms.push(ast::arm(
        Vec::new(),
        ast::pat_struct_rest(unknown_path, &["data"]),
        ast::call_path(
            "::serde::Serialize::serialize",
            vec![ast::var(&data), ast::var(&serializer)],
        ),
    ));
    variants.push(parse_quote! {
        /// An event this version of the schema does not know (lenient decoding only).
        #unknown {
            name: #std_string,
            data: #std_option<::serde_json::Value>,
        }
    });
    let mut event_enum: syn::ItemEnum = parse_quote! {
        /// Every event of the schema. Events arrive as [`qapi_runtime::EventMessage`]s, which add
        /// the timestamp.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum #event_ident {}
    };
    event_enum.variants = variants.into_iter().collect();
    let mut event_set: syn::ItemImpl = parse_quote! {
        impl qapi_runtime::EventSet for #event_ident {
            fn decode_event(
                name: &str,
                data: #std_option<&::serde_json::Value>,
                decoder: &mut qapi_runtime::Decoder,
            ) -> #std_result<Self, qapi_runtime::DecodeError> {}

            fn name(&self) -> &str {}

            fn has_data(&self) -> bool {}

            fn serialize_data<S: ::serde::Serializer>(&self, serializer: S) -> #std_result<S::Ok, S::Error> {}
        }
    };
    let bodies = [
        decode_body,
        vec![ast::tail(ast::match_(ast::var_named("self"), name_arms))],
        vec![ast::tail(ast::match_(
            ast::var_named("self"),
            has_data_arms,
        ))],
        vec![ast::tail(ast::match_(ast::var_named("self"), ser_arms))],
    ];
    for (item, body) in event_set.items.iter_mut().zip(bodies) {
        if let syn::ImplItem::Fn(f) = item {
            f.block.stmts = body;
        }
    }
    let deprecated = ctx.schema.entities.iter().any(|e| match e {
        Entity::Event(event) => is_deprecated(&event.common.features),
        _ => false,
    });
    if deprecated {
        event_set
            .attrs
            .push(ast::attr_list("allow", quote!(deprecated)));
    }
    Ok(vec![Item::Enum(event_enum), Item::Impl(event_set)])
}
