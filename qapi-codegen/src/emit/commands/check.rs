//! `check_arguments`: a command's arguments decoded as the dispatcher decodes them, with no
//! handler behind, so a client can refuse a bad request before sending it.

use super::{Cmd, ItemNames};
use crate::context::{is_deprecated, Ctx};
use proc_macro2::TokenStream;
use quote::quote;

/// The function, one arm per command of the build.
pub(super) fn check_items(ctx: &Ctx<'_>, items: &ItemNames, cmds: &[Cmd<'_>]) -> TokenStream {
    let (option, string, result) = (&ctx.std.option, &ctx.std.string, &ctx.std.result);
    let (check_ident, call_ident) = (&items.check_ident, &items.call_ident);
    let mut arms = TokenStream::new();
    for c in cmds {
        let (name, cfg) = (c.command.common.name.as_str(), &c.cfg);
        arms.extend(match (&c.args, c.command.gen) {
            (None, true) => quote!(#cfg #name => qapi_runtime::request::no_args(arguments),),
            // Hand-written marshalling takes its arguments as given.
            (_, false) => quote!(#cfg #name => Ok(()),),
            (Some(ty), true) => quote! {
                #cfg #name => qapi_runtime::request::decode_args::<#ty>(arguments).map(|_| ()),
            },
        });
    }
    // As in the dispatcher: argument types of deprecated commands may be deprecated too.
    let allow = super::allow_deprecated(
        cmds.iter()
            .any(|c| is_deprecated(&c.command.common.features)),
    );
    let doc = format!(
        " Checks `arguments` of command `name` (`None` = `{{}}`) as [`{call_ident}`] decodes them,"
    );
    let not_found = quote! {
        let _ = arguments;
        Err(qapi_runtime::QapiError::command_not_found(name))
    };
    let body = if cmds.is_empty() {
        not_found
    } else {
        quote!(match name { #arms _ => { #not_found } })
    };
    quote! {
        #[doc = #doc]
        /// running nothing: the error names the member and the type it expects, or says that
        /// the command does not exist.
        #allow
        pub fn #check_ident(
            name: &str,
            arguments: #option<&qapi_runtime::serde_json::Map<#string, qapi_runtime::serde_json::Value>>,
        ) -> #result<(), qapi_runtime::QapiError> {
            #body
        }
    }
}
