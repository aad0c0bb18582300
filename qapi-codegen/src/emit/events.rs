//! Events: the data structs come from the types emitter; here the enum of all events and its
//! `EventSet` impl (the QMP envelope lives in the runtime).

use super::allow_deprecated;
use super::commands::ItemNames;
use super::types::definition_docs;
use crate::context::{describe, is_deprecated, Ctx};
use crate::names::{self, Namespace};
use crate::Error;
use proc_macro2::TokenStream;
use qapi_parser::Entity;
use quote::{format_ident, quote};

pub fn emit(ctx: &Ctx<'_>, items: &ItemNames) -> Result<TokenStream, Error> {
    let option = &ctx.std.option;
    let string = &ctx.std.string;
    let result = &ctx.std.result;
    let event_ident = &items.event_ident;
    let mut ns = Namespace::new();
    let mut variants = TokenStream::new();
    let mut decode_arms = TokenStream::new();
    let mut name_arms = TokenStream::new();
    let mut has_data_arms = TokenStream::new();
    let mut ser_arms = TokenStream::new();
    let mut deprecated = false;
    for entity in ctx.schema.entities() {
        let Entity::Event(event) = entity else {
            continue;
        };
        let what = describe(entity);
        let variant_name = names::type_name(&event.common.name);
        ns.claim(&variant_name, &what)?;
        let variant = names::ident(&variant_name);
        let cfg = ctx.entity_cfg(entity)?;
        let docs = definition_docs(ctx, entity, &[]);
        let deprecated_attr = ctx.deprecated_attr(&event.common.features, &what)?;
        deprecated |= is_deprecated(&event.common.features);
        let wire = event.common.name.as_str();
        match &event.arg_type {
            Some(ty) => {
                let ty = ctx.rust_type(ty)?;
                variants.extend(quote!(#docs #deprecated_attr #cfg #variant(#ty),));
                decode_arms.extend(quote! {
                    #cfg #wire => Self::#variant(qapi_runtime::event::data(decoder, data)?),
                });
                name_arms.extend(quote!(#cfg Self::#variant(_) => #wire,));
                has_data_arms.extend(quote!(#cfg Self::#variant(_) => true,));
                ser_arms.extend(quote! {
                    #cfg Self::#variant(data) => ::serde::Serialize::serialize(data, serializer),
                });
            }
            None => {
                variants.extend(quote!(#docs #deprecated_attr #cfg #variant,));
                decode_arms.extend(quote! {
                    #cfg #wire => {
                        qapi_runtime::event::no_data(decoder, data)?;
                        Self::#variant
                    }
                });
                name_arms.extend(quote!(#cfg Self::#variant => #wire,));
                has_data_arms.extend(quote!(#cfg Self::#variant => false,));
                ser_arms.extend(quote! {
                    #cfg Self::#variant => qapi_runtime::ser::empty(serializer),
                });
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
                #decode_arms
                other => {
                    let (name, data) = qapi_runtime::event::unknown(decoder, other, data)?;
                    Self::#unknown { name, data }
                }
            })
        }
    };
    let allow = allow_deprecated(deprecated);
    Ok(quote! {
        /// Every event of the schema. Events arrive as [`qapi_runtime::EventMessage`]s, which add
        /// the timestamp.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum #event_ident {
            #variants
            /// An event this version of the schema does not know (lenient decoding only).
            #unknown {
                name: #string,
                data: #option<::serde_json::Value>,
            },
        }

        #allow
        impl qapi_runtime::EventSet for #event_ident {
            fn decode_event(
                name: &str,
                data: #option<&::serde_json::Value>,
                decoder: &mut qapi_runtime::Decoder,
            ) -> #result<Self, qapi_runtime::DecodeError> {
                #decode_body
            }

            fn name(&self) -> &str {
                match self {
                    #name_arms
                    Self::#unknown { name, .. } => name,
                }
            }

            fn has_data(&self) -> bool {
                match self {
                    #has_data_arms
                    Self::#unknown { data, .. } => data.is_some(),
                }
            }

            fn serialize_data<S: ::serde::Serializer>(&self, serializer: S) -> #result<S::Ok, S::Error> {
                match self {
                    #ser_arms
                    Self::#unknown { data, .. } => ::serde::Serialize::serialize(data, serializer),
                }
            }
        }
    })
}
