//! The server side (a trait with one method per command, the return enum, the command table
//! and the dispatcher) and the client side (a typed client with one method per command).

use super::types::definition_docs;
use crate::context::{describe, Ctx};
use crate::names::{self, Namespace};
use proc_macro2::{Ident, TokenStream};
use qapi_parser::{Command, Entity};
use quote::{format_ident, quote};

/// What emission needs per command.
struct Cmd<'s> {
    command: &'s Command,
    entity: &'s Entity,
    method: Ident,
    /// Variant of the return enum (commands that reply on success).
    variant: Ident,
    /// The argument type, if any.
    args: Option<TokenStream>,
    ret: Option<TokenStream>,
    cfg: TokenStream,
    docs: TokenStream,
    deprecated: TokenStream,
}

/// Module-level names of generated items (claimed once, so the emitters agree).
pub struct ItemNames {
    pub trait_ident: Ident,
    pub return_ident: Ident,
    pub table_ident: Ident,
    pub count_ident: Ident,
    pub lookup_ident: Ident,
    pub dispatch_ident: Ident,
    pub call_ident: Ident,
    pub client_ident: Ident,
    pub event_ident: Ident,
}

impl ItemNames {
    pub fn claim(ctx: &mut Ctx<'_>) -> ItemNames {
        let trait_name = ctx.opts.trait_name.clone();
        ItemNames {
            trait_ident: ctx.item_name(&trait_name, "the commands trait"),
            return_ident: ctx.item_name("CommandReturn", "the return enum"),
            table_ident: ctx.item_name("COMMANDS", "the command table"),
            count_ident: ctx.item_name("COMMAND_COUNT", "the command count"),
            lookup_ident: ctx.item_name("command_info", "the command lookup"),
            dispatch_ident: ctx.item_name("dispatch", "the dispatcher"),
            call_ident: ctx.item_name("call", "the command caller"),
            client_ident: ctx.item_name("Client", "the client"),
            event_ident: ctx.item_name("Event", "the event enum"),
        }
    }
}

/// Names the dispatcher's trait reserves besides the command methods.
const HOOK: &str = "check_enabled";
/// Names the client reserves besides the command methods.
const CLIENT_METHODS: &[&str] = &["new", "connection", "into_connection"];

fn commands<'s>(ctx: &Ctx<'s>) -> Result<Vec<Cmd<'s>>, String> {
    let mut methods = Namespace::new();
    methods.claim(HOOK, "the dispatcher's policy hook")?;
    for m in CLIENT_METHODS {
        methods.claim(m, "a method of the client")?;
    }
    let mut variants = Namespace::new();
    let mut out = Vec::new();
    for entity in &ctx.schema.entities {
        let Entity::Command(command) = entity else {
            continue;
        };
        let what = describe(entity);
        let method = names::method_name(&command.common.name);
        methods.claim(&method, &what)?;
        let variant = names::type_name(&command.common.name);
        variants.claim(&variant, &what)?;
        let args = match &command.arg_type {
            Some(ty) => Some(ctx.rust_type(ty)?),
            None => None,
        };
        let ret = match &command.ret_type {
            Some(ty) => Some(ctx.rust_type(ty)?),
            None => None,
        };
        out.push(Cmd {
            command,
            entity,
            method: names::ident(&method),
            variant: names::ident(&variant),
            args,
            ret,
            cfg: ctx.cfg.attr(command.common.ifcond.as_ref(), &what)?,
            docs: definition_docs(ctx, entity, &[]),
            deprecated: ctx.deprecated_attr(&command.common.features, &what)?,
        });
    }
    Ok(out)
}

/// Everything for commands: the trait, the return enum, the table, dispatch, the client.
pub fn emit(ctx: &Ctx<'_>, items: &ItemNames) -> Result<TokenStream, String> {
    let std_option = &ctx.std.option;
    let std_string = &ctx.std.string;
    let std_result = &ctx.std.result;
    let cmds = commands(ctx)?;
    let ItemNames {
        trait_ident,
        return_ident,
        table_ident,
        count_ident,
        lookup_ident,
        dispatch_ident,
        call_ident,
        client_ident,
        event_ident,
    } = items;

    let mut methods = Vec::new();
    let mut ret_variants = Vec::new();
    let mut ret_ser = Vec::new();
    let mut ret_decode = Vec::new();
    let mut arms = Vec::new();
    let mut client_methods = Vec::new();
    let mut table = Vec::new();
    for c in &cmds {
        let (method, variant, cfg, docs, deprecated) =
            (&c.method, &c.variant, &c.cfg, &c.docs, &c.deprecated);
        let name = c.command.common.name.as_str();
        let what = describe(c.entity);
        let ret_ty = c.ret.clone().unwrap_or_else(|| quote!(()));
        // Trait method.
        let param = if !c.command.gen {
            quote!(, arguments: ::serde_json::Map<#std_string, ::serde_json::Value>)
        } else {
            match &c.args {
                Some(ty) => quote!(, arguments: #ty),
                None => TokenStream::new(),
            }
        };
        let gen_note = if c.command.gen {
            TokenStream::new()
        } else {
            note(docs, " The arguments are passed as given (`gen: false`): this command checks them itself.")
        };
        methods.push(quote! {
            #docs
            #gen_note
            #deprecated
            #cfg
            fn #method(&mut self #param) -> #std_result<#ret_ty, qapi_runtime::QapiError>;
        });
        // Return enum.
        if c.command.success_response {
            let doc = format!(" What `{name}` returns.");
            match &c.ret {
                Some(ty) => {
                    ret_variants.push(quote!(#[doc = #doc] #cfg #variant(#ty),));
                    let ser = match c.command.ret_type.as_deref() {
                        Some("any") if ctx.opts.member_order == crate::MemberOrder::Qemu => {
                            quote!(::serde::Serialize::serialize(
                                &qapi_runtime::qdict::Ordered(value),
                                serializer
                            ))
                        }
                        _ => quote!(::serde::Serialize::serialize(value, serializer)),
                    };
                    ret_ser.push(quote!(#cfg Self::#variant(value) => #ser,));
                    ret_decode.push(quote!(#cfg #name => Self::#variant(qapi_runtime::Decode::decode(value, decoder)?),));
                }
                None => {
                    ret_variants.push(quote!(#[doc = #doc] #cfg #variant,));
                    ret_ser
                        .push(quote!(#cfg Self::#variant => qapi_runtime::ser::empty(serializer),));
                    ret_decode.push(quote!(#cfg #name => {
                        <qapi_runtime::Empty as qapi_runtime::Decode>::decode(value, decoder)?;
                        Self::#variant
                    }));
                }
            }
        }
        // Dispatch arm.
        let arg_expr = if !c.command.gen {
            quote!(qapi_runtime::request::raw_args(arguments))
        } else {
            quote!(qapi_runtime::request::decode_args(arguments)?)
        };
        let wrap = match (c.command.success_response, c.ret.is_some()) {
            (false, _) => quote!(.map(|_| None)),
            (true, true) => quote!(.map(|value| Some(#return_ident::#variant(value)))),
            (true, false) => quote!(.map(|()| Some(#return_ident::#variant))),
        };
        arms.push(match (&c.args, c.command.gen) {
            (None, true) => quote! {
                #cfg #name => {
                    qapi_runtime::request::no_args(arguments)?;
                    handler.#method() #wrap
                }
            },
            _ => quote!(#cfg #name => handler.#method(#arg_expr) #wrap,),
        });
        // Client method.
        let cparam = match &c.args {
            Some(ty) => quote!(, arguments: &#ty),
            None => TokenStream::new(),
        };
        let cargs = match &c.args {
            Some(_) => quote!(Some(arguments)),
            None => quote!(None::<&qapi_runtime::Empty>),
        };
        let body = if !c.command.success_response {
            quote!(self.connection.send_only(#name, #cargs))
        } else if c.ret.is_some() {
            quote!(self.connection.execute(#name, #cargs))
        } else {
            quote!(self.connection.execute::<_, qapi_runtime::Empty>(#name, #cargs).map(|_| ()))
        };
        let no_reply_note = if c.command.success_response {
            TokenStream::new()
        } else {
            note(
                docs,
                " The server replies only on failure: this returns once the request is sent.",
            )
        };
        client_methods.push(quote! {
            #docs
            #no_reply_note
            #deprecated
            #cfg
            pub fn #method(&mut self #cparam) -> #std_result<#ret_ty, qapi_runtime::ClientError> {
                #body
            }
        });
        // Table entry.
        let cmd = c.command;
        let (sr, oob, pre, co) = (
            cmd.success_response,
            cmd.allow_oob,
            cmd.allow_preconfig,
            cmd.coroutine,
        );
        let mut info = quote!(qapi_runtime::CommandInfo::new(#name));
        if !sr {
            info.extend(quote!(.without_success_response()));
        }
        if oob {
            info.extend(quote!(.with_allow_oob()));
        }
        if pre {
            info.extend(quote!(.with_allow_preconfig()));
        }
        if co {
            info.extend(quote!(.with_coroutine()));
        }
        for (feature, method) in [
            ("deprecated", quote!(with_deprecated)),
            ("unstable", quote!(with_unstable)),
        ] {
            if cmd.common.features.iter().any(|f| f.name == feature) {
                let present = ctx.has_feature(&cmd.common.features, feature, &what)?;
                info.extend(quote!(.#method(#present)));
            }
        }
        table.push((
            ctx.cfg.expr(cmd.common.ifcond.as_ref(), &what)?,
            cmd.common.ifcond.is_some(),
            info,
        ));
    }

    let table_items = command_table(&table, table_ident, count_ident);
    let ret_decode_body = if ret_decode.is_empty() {
        quote! {
            let _ = (name, value, decoder);
            Ok(None)
        }
    } else {
        quote! {
            Ok(Some(match name {
                #(#ret_decode)*
                _ => return Ok(None),
            }))
        }
    };
    let (ret_match, serializer) = if ret_ser.is_empty() {
        (quote!(match *self {}), quote!(_serializer))
    } else {
        (quote!(match self { #(#ret_ser)* }), quote!(serializer))
    };
    let call_body = if cmds.is_empty() {
        quote! {
            let _ = arguments;
            Err(qapi_runtime::QapiError::command_not_found(name))
        }
    } else {
        quote! {
            match name {
                #(#arms)*
                _ => Err(qapi_runtime::QapiError::command_not_found(name)),
            }
        }
    };
    let dispatch_doc = format!(
        " [`{dispatch_ident}`] decodes a request, consults [`check_enabled`](Self::check_enabled), calls the method and builds the reply."
    );
    Ok(quote! {
        /// The commands of the schema, one method per command; implement it to serve them.
        ///
        #[doc = #dispatch_doc]
        pub trait #trait_ident {
            #(#methods)*

            /// Decides whether a command may run; called after lookup and before its arguments
            /// are decoded. An `Err` is answered with `CommandNotFound` and
            /// `Command <name> has been disabled: <reason>`.
            fn check_enabled(&self, command: &'static qapi_runtime::CommandInfo) -> #std_result<(), qapi_runtime::Disabled> {
                let _ = command;
                Ok(())
            }
        }

        /// The typed return value of a command that succeeded; serialise it (inside a
        /// [`qapi_runtime::Reply`]) straight to the output.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum #return_ident {
            #(#ret_variants)*
        }

        impl ::serde::Serialize for #return_ident {
            fn serialize<S: ::serde::Serializer>(&self, #serializer: S) -> #std_result<S::Ok, S::Error> {
                #ret_match
            }
        }

        impl #return_ident {
            /// Decodes what command `name` returned (`None`: not a command of this build, or
            /// one without success response).
            pub fn decode(
                name: &str,
                value: &::serde_json::Value,
                decoder: &mut qapi_runtime::Decoder,
            ) -> #std_result<#std_option<Self>, qapi_runtime::DecodeError> {
                #ret_decode_body
            }
        }

        #table_items

        /// The table entry of a command of this build, by wire name.
        pub fn #lookup_ident(name: &str) -> #std_option<&'static qapi_runtime::CommandInfo> {
            #table_ident.iter().find(|info| info.name == name)
        }

        /// Handles one request (`execute`, `arguments`, `id`) as QEMU does and returns the
        /// reply, or `None` when a command without success response succeeded.
        pub fn #dispatch_ident<C: #trait_ident + ?Sized>(handler: &mut C, request: &::serde_json::Value) -> #std_option<qapi_runtime::Reply<#return_ident>> {
            match qapi_runtime::Request::parse(request) {
                Ok(request) => request.reply(#call_ident(handler, request.execute, request.arguments)),
                Err(rejected) => Some(rejected.into_reply()),
            }
        }

        /// Runs command `name` with `arguments` (`None` = `{}`): lookup, policy, argument
        /// decoding, call. `Ok(None)`: success of a command without success response.
        #[allow(deprecated)]
        pub fn #call_ident<C: #trait_ident + ?Sized>(
            handler: &mut C,
            name: &str,
            arguments: #std_option<&::serde_json::Map<#std_string, ::serde_json::Value>>,
        ) -> #std_result<#std_option<#return_ident>, qapi_runtime::QapiError> {
            let Some(info) = #lookup_ident(name) else {
                return Err(qapi_runtime::QapiError::command_not_found(name));
            };
            if let Err(disabled) = handler.check_enabled(info) {
                return Err(qapi_runtime::QapiError::command_disabled(name, &disabled.reason));
            }
            #call_body
        }

        /// A typed client: one method per command over any byte stream. Do the handshake
        /// first ([`qapi_runtime::Connection::guest_agent_handshake`] or
        /// [`qapi_runtime::Connection::qmp_handshake`], through [`Self::connection`]).
        pub struct #client_ident<S> {
            connection: qapi_runtime::Connection<S, #event_ident>,
        }

        impl<S: ::std::io::Read + ::std::io::Write> #client_ident<S> {
            /// A strict client (replies must match the schema); see
            /// [`qapi_runtime::Connection::set_lenient`] to tolerate newer servers.
            pub fn new(stream: S) -> Self {
                Self { connection: qapi_runtime::Connection::new(stream) }
            }

            /// The connection: handshakes, events, raw commands, leniency.
            pub fn connection(&mut self) -> &mut qapi_runtime::Connection<S, #event_ident> {
                &mut self.connection
            }

            pub fn into_connection(self) -> qapi_runtime::Connection<S, #event_ident> {
                self.connection
            }

            #(#client_methods)*
        }
    })
}

/// `COMMANDS`: a plain array when no command is conditional, else an array built in a
/// const block so that conditional entries exist only when their `cfg!` holds.
fn command_table(
    table: &[(TokenStream, bool, TokenStream)],
    table_ident: &Ident,
    count_ident: &Ident,
) -> TokenStream {
    let doc = quote! {
        /// Every command of this build, in schema order (for allow/block lists and `guest-info`).
    };
    if table.iter().all(|(_, conditional, _)| !conditional) {
        let infos = table.iter().map(|(_, _, info)| info);
        return quote! {
            #doc
            pub static #table_ident: &[qapi_runtime::CommandInfo] = &[#(#infos),*];
        };
    }
    let counts = table.iter().map(|(cond, conditional, _)| {
        if *conditional {
            quote!((#cond as usize))
        } else {
            quote!(1)
        }
    });
    let fills = table.iter().map(|(cond, conditional, info)| {
        if *conditional {
            quote!(if #cond { table[i] = #info; i += 1; })
        } else {
            quote!(table[i] = #info; i += 1;)
        }
    });
    let array_ident = format_ident!("{}_ARRAY", table_ident);
    quote! {
        /// How many commands this build has.
        pub const #count_ident: usize = #(#counts)+*;

        const #array_ident: [qapi_runtime::CommandInfo; #count_ident] = {
            let mut table = [qapi_runtime::CommandInfo::new(""); #count_ident];
            let mut i = 0;
            #(#fills)*
            assert!(i == #count_ident);
            table
        };

        #doc
        pub static #table_ident: &[qapi_runtime::CommandInfo] = &#array_ident;
    }
}

/// A paragraph appended to existing docs (separated by a blank doc line when there are any).
fn note(docs: &TokenStream, text: &str) -> TokenStream {
    if docs.is_empty() {
        quote!(#[doc = #text])
    } else {
        quote!(#[doc = ""] #[doc = #text])
    }
}
