//! Events: the data structs come from the types emitter; here the enum of all events and its
//! `EventSet` impl (the QMP envelope lives in the runtime).

use super::commands::ItemNames;
use super::types::definition_docs;
use crate::context::{describe, Ctx};
use crate::names::{self, Namespace};
use proc_macro2::TokenStream;
use qapi_parser::Entity;
use quote::{format_ident, quote};

pub fn emit(ctx: &Ctx<'_>, items: &ItemNames) -> Result<TokenStream, String> {
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
    for entity in &ctx.schema.entities {
        let Entity::Event(event) = entity else {
            continue;
        };
        let what = describe(entity);
        let variant_name = names::type_name(&event.common.name);
        ns.claim(&variant_name, &what)?;
        let variant = names::ident(&variant_name);
        let cfg = ctx.cfg.attr(event.common.ifcond.as_ref(), &what)?;
        let docs = definition_docs(ctx, entity, &[]);
        let deprecated = ctx.deprecated_attr(&event.common.features, &what)?;
        let wire = event.common.name.as_str();
        match &event.arg_type {
            Some(ty) => {
                let ty = ctx.rust_type(ty)?;
                variants.push(quote!(#docs #deprecated #cfg #variant(#ty),));
                decode_arms.push(quote!(#cfg #wire => Self::#variant(qapi_runtime::event::data(decoder, data)?),));
                name_arms.push(quote!(#cfg Self::#variant(_) => #wire,));
                has_data_arms.push(quote!(#cfg Self::#variant(_) => true,));
                ser_arms.push(quote!(#cfg Self::#variant(data) => ::serde::Serialize::serialize(data, serializer),));
            }
            None => {
                variants.push(quote!(#docs #deprecated #cfg #variant,));
                decode_arms.push(quote!(#cfg #wire => {
                    qapi_runtime::event::no_data(decoder, data)?;
                    Self::#variant
                }));
                name_arms.push(quote!(#cfg Self::#variant => #wire,));
                has_data_arms.push(quote!(#cfg Self::#variant => false,));
                ser_arms.push(quote!(#cfg Self::#variant => qapi_runtime::ser::empty(serializer),));
            }
        }
    }
    let unknown = format_ident!(
        "{}",
        ns.claim_derived("Unrecognized", "the catch-all variant")
    );
    let decode_body = if decode_arms.is_empty() {
        quote! {
            let (name, data) = qapi_runtime::event::unknown(decoder, name, data)?;
            Ok(Self::#unknown { name, data })
        }
    } else {
        quote! {
            Ok(match name {
                #(#decode_arms)*
                other => {
                    let (name, data) = qapi_runtime::event::unknown(decoder, other, data)?;
                    Self::#unknown { name, data }
                }
            })
        }
    };
    Ok(quote! {
        /// Every event of the schema. Events arrive as [`qapi_runtime::EventMessage`]s, which add
        /// the timestamp.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum #event_ident {
            #(#variants)*
            /// An event this version of the schema does not know (lenient decoding only).
            #unknown {
                name: #std_string,
                data: #std_option<::serde_json::Value>,
            },
        }

        #[allow(deprecated)]
        impl qapi_runtime::EventSet for #event_ident {
            fn decode_event(
                name: &str,
                data: #std_option<&::serde_json::Value>,
                decoder: &mut qapi_runtime::Decoder,
            ) -> #std_result<Self, qapi_runtime::DecodeError> {
                #decode_body
            }

            fn name(&self) -> &str {
                match self {
                    #(#name_arms)*
                    Self::#unknown { name, .. } => name,
                }
            }

            fn has_data(&self) -> bool {
                match self {
                    #(#has_data_arms)*
                    Self::#unknown { data, .. } => data.is_some(),
                }
            }

            fn serialize_data<S: ::serde::Serializer>(&self, serializer: S) -> #std_result<S::Ok, S::Error> {
                match self {
                    #(#ser_arms)*
                    Self::#unknown { data, .. } => ::serde::Serialize::serialize(data, serializer),
                }
            }
        }
    })
}
