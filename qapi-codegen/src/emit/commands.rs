//! The server side (a trait with one method per command, the return enum, the command table
//! and the dispatcher) and the client side (a typed client with one method per command).

use super::allow_deprecated;
use super::types::definition_docs;
use crate::context::{describe, is_deprecated, Ctx};
use crate::names::{self, Namespace};
use crate::Error;
use proc_macro2::{Ident, TokenStream};
use qapi_parser::{Command, Entity};
use quote::quote;
use syn::Type;

mod check;

/// What emission needs per command.
struct Cmd<'s> {
    command: &'s Command,
    entity: &'s Entity,
    method: Ident,
    /// Variant of the return enum (commands that reply on success).
    variant: Ident,
    /// The argument type, if any.
    args: Option<Type>,
    ret: Option<Type>,
    cfg: TokenStream,
    deprecated: TokenStream,
}

/// Module-level names of generated items (claimed once, so the emitters agree).
pub struct ItemNames {
    pub trait_ident: Ident,
    pub return_ident: Ident,
    pub table_ident: Ident,
    pub lookup_ident: Ident,
    pub dispatch_ident: Ident,
    pub call_ident: Ident,
    pub check_ident: Ident,
    pub client_ident: Ident,
    pub event_ident: Ident,
    /// The async client's name, when [`crate::Options::async_client`] asks for one.
    pub async_client_ident: Option<Ident>,
}

impl ItemNames {
    pub fn claim(ctx: &mut Ctx<'_>) -> ItemNames {
        let trait_name = ctx.opts.trait_name.clone();
        ItemNames {
            trait_ident: ctx.item_name(&trait_name, "the commands trait"),
            return_ident: ctx.item_name("CommandReturn", "the return enum"),
            table_ident: ctx.item_name("COMMANDS", "the command table"),
            lookup_ident: ctx.item_name("command_info", "the command lookup"),
            dispatch_ident: ctx.item_name("dispatch", "the dispatcher"),
            call_ident: ctx.item_name("call", "the command caller"),
            check_ident: ctx.item_name("check_arguments", "the argument checker"),
            client_ident: ctx.item_name("Client", "the client"),
            event_ident: ctx.item_name("Event", "the event enum"),
            async_client_ident: ctx
                .opts
                .async_client
                .then(|| ctx.item_name("AsyncClient", "the async client")),
        }
    }
}

/// Names the dispatcher's trait reserves besides the command methods.
const HOOK: &str = "check_enabled";
/// Names the client reserves besides the command methods.
const CLIENT_METHODS: &[&str] = &["new", "connection", "into_connection", "with_timeout"];

fn commands<'s>(ctx: &Ctx<'s>) -> Result<Vec<Cmd<'s>>, Error> {
    let mut methods = Namespace::new();
    methods.claim(HOOK, "the dispatcher's policy hook")?;
    for m in CLIENT_METHODS {
        methods.claim(m, "a method of the client")?;
    }
    let mut variants = Namespace::new();
    let mut out = Vec::new();
    for command in ctx.schema.commands() {
        let Some(entity) = ctx.schema.get(&command.common.name) else {
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
            cfg: ctx.entity_cfg(entity)?,
            deprecated: ctx.deprecated_attr(&command.common.features, &what)?,
        });
    }
    Ok(out)
}

/// Everything for commands: the trait, the return enum, the table and dispatch, the client.
pub fn emit(ctx: &Ctx<'_>, items: &ItemNames) -> Result<TokenStream, Error> {
    let cmds = commands(ctx)?;
    let mut out = commands_trait(ctx, items, &cmds);
    out.extend(return_items(ctx, items, &cmds));
    out.extend(dispatch_items(ctx, items, &cmds)?);
    out.extend(check::check_items(ctx, items, &cmds));
    out.extend(client_items(ctx, items, &cmds));
    out.extend(async_client_items(ctx, items, &cmds));
    Ok(out)
}

/// The trait with one method per command.
fn commands_trait(ctx: &Ctx<'_>, items: &ItemNames, cmds: &[Cmd<'_>]) -> TokenStream {
    let (string, result) = (&ctx.std.string, &ctx.std.result);
    let (trait_ident, dispatch_ident) = (&items.trait_ident, &items.dispatch_ident);
    let methods = cmds.iter().map(|c| {
        let (method, cfg, deprecated) = (&c.method, &c.cfg, &c.deprecated);
        let mut docs = definition_docs(ctx, c.entity, &[]);
        let argument = if !c.command.gen {
            docs.extend(note(
                &docs,
                " The arguments are passed as given (`gen: false`): this command checks them itself.",
            ));
            Some(quote!(arguments: qapi_runtime::serde_json::Map<#string, qapi_runtime::serde_json::Value>))
        } else {
            c.args.as_ref().map(|ty| quote!(arguments: #ty))
        };
        let ret = returned(c);
        quote! {
            #docs #deprecated #cfg
            fn #method(&mut self, #argument) -> #result<#ret, qapi_runtime::QapiError>;
        }
    });
    let dispatch_doc = format!(
        " [`{dispatch_ident}`] decodes a request, consults [`check_enabled`](Self::check_enabled), calls the method and builds the reply."
    );
    quote! {
        /// The commands of the schema, one method per command; implement it to serve them.
        ///
        #[doc = #dispatch_doc]
        pub trait #trait_ident {
            #(#methods)*

            /// Decides whether a command may run; called after lookup and before its arguments
            /// are decoded. An `Err` is answered with `CommandNotFound` and
            /// `Command <name> has been disabled: <reason>`.
            fn check_enabled(&self, command: &'static qapi_runtime::CommandInfo) -> #result<(), qapi_runtime::Disabled> {
                let _ = command;
                Ok(())
            }
        }
    }
}

/// What a command returns on success (`()` for nothing).
fn returned(c: &Cmd<'_>) -> TokenStream {
    match &c.ret {
        Some(ty) => quote!(#ty),
        None => quote!(()),
    }
}

/// The return enum with its `Serialize` impl and its decoder.
fn return_items(ctx: &Ctx<'_>, items: &ItemNames, cmds: &[Cmd<'_>]) -> TokenStream {
    let (option, result) = (&ctx.std.option, &ctx.std.result);
    let return_ident = &items.return_ident;
    let replying: Vec<&Cmd<'_>> = cmds.iter().filter(|c| c.command.success_response).collect();
    // When every variant may be compiled out, the enum may be empty: `match *self` (with
    // `ref` bindings) is then still exhaustive, and the decoder may use nothing.
    let all_conditional = replying.iter().all(|c| !c.cfg.is_empty());
    let bind = if all_conditional {
        quote!(ref value)
    } else {
        quote!(value)
    };
    let mut variants = TokenStream::new();
    let mut ser_arms = TokenStream::new();
    let mut decode_arms = TokenStream::new();
    for c in &replying {
        let (variant, cfg) = (&c.variant, &c.cfg);
        let name = c.command.common.name.as_str();
        let doc = format!(" What `{name}` returns.");
        match &c.ret {
            Some(ty) => {
                variants.extend(quote!(#[doc = #doc] #cfg #variant(#ty),));
                let written = match c.command.ret_type.as_deref() {
                    Some("any") if ctx.opts.member_order == crate::MemberOrder::Qemu => {
                        quote!(&qapi_runtime::qdict::Ordered(value))
                    }
                    _ => quote!(value),
                };
                ser_arms.extend(quote! {
                    #cfg Self::#variant(#bind) => qapi_runtime::serde::Serialize::serialize(#written, serializer),
                });
                decode_arms.extend(quote! {
                    #cfg #name => Self::#variant(qapi_runtime::Decode::decode(value, decoder)?),
                });
            }
            None => {
                variants.extend(quote!(#[doc = #doc] #cfg #variant,));
                ser_arms.extend(quote! {
                    #cfg Self::#variant => qapi_runtime::ser::empty(serializer),
                });
                decode_arms.extend(quote! {
                    #cfg #name => {
                        <qapi_runtime::Empty as qapi_runtime::Decode>::decode(value, decoder)?;
                        Self::#variant
                    }
                });
            }
        }
    }
    let (serialize_body, serializer) = if replying.is_empty() {
        (quote!(match *self {}), quote!(_serializer))
    } else if all_conditional {
        (quote!(match *self { #ser_arms }), quote!(serializer))
    } else {
        (quote!(match self { #ser_arms }), quote!(serializer))
    };
    let decode_body = if replying.is_empty() {
        quote! {
            let _ = (name, value, decoder);
            Ok(None)
        }
    } else {
        quote! {
            Ok(Some(match name {
                #decode_arms
                _ => return Ok(None),
            }))
        }
    };
    let maybe_empty = all_conditional && !replying.is_empty();
    let allow_serialize = maybe_empty.then(|| quote!(#[allow(unused_variables)]));
    let allow_decode = maybe_empty.then(|| quote!(#[allow(unreachable_code, unused_variables)]));
    quote! {
        /// The typed return value of a command that succeeded; serialise it (inside a
        /// [`qapi_runtime::Reply`]) straight to the output.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum #return_ident {
            #variants
        }

        impl qapi_runtime::serde::Serialize for #return_ident {
            #allow_serialize
            fn serialize<S: qapi_runtime::serde::Serializer>(&self, #serializer: S) -> #result<S::Ok, S::Error> {
                #serialize_body
            }
        }

        impl #return_ident {
            /// Decodes what command `name` returned (`None`: not a command of this build, or
            /// one without success response).
            #allow_decode
            pub fn decode(
                name: &str,
                value: &qapi_runtime::serde_json::Value,
                decoder: &mut qapi_runtime::Decoder,
            ) -> #result<#option<Self>, qapi_runtime::DecodeError> {
                #decode_body
            }
        }
    }
}

/// The command table, its lookup, `dispatch` and `call`.
fn dispatch_items(
    ctx: &Ctx<'_>,
    items: &ItemNames,
    cmds: &[Cmd<'_>],
) -> Result<TokenStream, Error> {
    let (option, string, result) = (&ctx.std.option, &ctx.std.string, &ctx.std.result);
    let ItemNames {
        trait_ident,
        return_ident,
        table_ident,
        lookup_ident,
        dispatch_ident,
        call_ident,
        ..
    } = items;
    let mut arms = TokenStream::new();
    let mut table = TokenStream::new();
    for c in cmds {
        let (method, variant, cfg) = (&c.method, &c.variant, &c.cfg);
        let cmd = c.command;
        let name = cmd.common.name.as_str();
        let wrap = match (cmd.success_response, c.ret.is_some()) {
            (false, _) => quote!(|_| None),
            (true, true) => quote!(|value| Some(#return_ident::#variant(value))),
            (true, false) => quote!(|()| Some(#return_ident::#variant)),
        };
        arms.extend(match (&c.args, cmd.gen) {
            (None, true) => quote! {
                #cfg #name => {
                    qapi_runtime::request::no_args(arguments)?;
                    handler.#method().map(#wrap)
                }
            },
            (_, false) => quote! {
                #cfg #name => handler.#method(qapi_runtime::request::raw_args(arguments)).map(#wrap),
            },
            (Some(_), true) => quote! {
                #cfg #name => handler.#method(qapi_runtime::request::decode_args(arguments)?).map(#wrap),
            },
        });
        let what = describe(c.entity);
        let feature = |name: &str| -> Result<TokenStream, Error> {
            let present = ctx.has_feature(&cmd.common.features, name, &what)?;
            Ok(quote!(#present))
        };
        let (deprecated, unstable) = (feature("deprecated")?, feature("unstable")?);
        let (success_response, allow_oob, allow_preconfig, coroutine) = (
            cmd.success_response,
            cmd.allow_oob,
            cmd.allow_preconfig,
            cmd.coroutine,
        );
        table.extend(quote! {
            #cfg
            qapi_runtime::CommandInfo {
                name: #name,
                success_response: #success_response,
                allow_oob: #allow_oob,
                allow_preconfig: #allow_preconfig,
                coroutine: #coroutine,
                deprecated: #deprecated,
                unstable: #unstable,
            },
        });
    }
    let call_body = if cmds.is_empty() {
        quote! {
            let _ = arguments;
            Err(qapi_runtime::QapiError::command_not_found(name))
        }
    } else {
        quote! {
            match name {
                #arms
                _ => Err(qapi_runtime::QapiError::command_not_found(name)),
            }
        }
    };
    // Every arm may be compiled out.
    let allow_unused = (!cmds.is_empty() && cmds.iter().all(|c| !c.cfg.is_empty()))
        .then(|| quote!(#[allow(unused_variables)]));
    // The deprecated trait methods are called here.
    let allow = allow_deprecated(
        cmds.iter()
            .any(|c| is_deprecated(&c.command.common.features)),
    );
    Ok(quote! {
        /// Every command of this build, in schema order (for allow/block lists and `guest-info`).
        pub static #table_ident: &[qapi_runtime::CommandInfo] = &[#table];

        /// The table entry of a command of this build, by wire name.
        pub fn #lookup_ident(name: &str) -> #option<&'static qapi_runtime::CommandInfo> {
            #table_ident.iter().find(|info| info.name == name)
        }

        /// Handles one request (`execute`, `arguments`, `id`) as QEMU does and returns the
        /// reply, or `None` when a command without success response succeeded.
        pub fn #dispatch_ident<C: #trait_ident + ?Sized>(handler: &mut C, request: &qapi_runtime::serde_json::Value) -> #option<qapi_runtime::Reply<#return_ident>> {
            match qapi_runtime::Request::parse(request) {
                Ok(request) => request.reply(#call_ident(handler, request.execute, request.arguments)),
                Err(rejected) => Some(rejected.into_reply()),
            }
        }

        /// Runs command `name` with `arguments` (`None` = `{}`): lookup, policy, argument
        /// decoding, call. `Ok(None)`: success of a command without success response.
        #allow_unused
        #allow
        pub fn #call_ident<C: #trait_ident + ?Sized>(
            handler: &mut C,
            name: &str,
            arguments: #option<&qapi_runtime::serde_json::Map<#string, qapi_runtime::serde_json::Value>>,
        ) -> #result<#option<#return_ident>, qapi_runtime::QapiError> {
            let Some(info) = #lookup_ident(name) else {
                return Err(qapi_runtime::QapiError::command_not_found(name));
            };
            if let Err(disabled) = handler.check_enabled(info) {
                return Err(qapi_runtime::QapiError::command_disabled(name, &disabled.reason));
            }
            #call_body
        }
    })
}

/// What the sync and the async client's methods for one command share.
struct ClientMethod {
    /// A pointer to the trait method's docs (which have the schema's), and a note for a
    /// command without success response.
    docs: TokenStream,
    ret: TokenStream,
    parameter: Option<TokenStream>,
    arguments: TokenStream,
}

/// The shared parts of a client method; `done` says when a command without success response
/// returns ("sent", "queued").
fn client_method(c: &Cmd<'_>, trait_ident: &syn::Ident, done: &str) -> ClientMethod {
    let name = c.command.common.name.as_str();
    let method = &c.method;
    let see = format!(" Runs `{name}`; see [`{trait_ident}::{method}`].");
    let mut docs = quote!(#[doc = #see]);
    if !c.command.success_response {
        let no_reply = format!(
            " The server replies only on failure: this returns once the request is {done}."
        );
        docs.extend(note(&docs, &no_reply));
    }
    let (parameter, arguments) = match &c.args {
        Some(ty) => (Some(quote!(arguments: &#ty)), quote!(Some(arguments))),
        None => (None, quote!(None::<&qapi_runtime::Empty>)),
    };
    ClientMethod {
        docs,
        ret: returned(c),
        parameter,
        arguments,
    }
}

/// The typed client; each method's doc points to the trait method's, which has the schema's.
fn client_items(ctx: &Ctx<'_>, items: &ItemNames, cmds: &[Cmd<'_>]) -> TokenStream {
    let result = &ctx.std.result;
    let (client_ident, event_ident, trait_ident) =
        (&items.client_ident, &items.event_ident, &items.trait_ident);
    let methods = cmds.iter().map(|c| {
        let (method, cfg, deprecated) = (&c.method, &c.cfg, &c.deprecated);
        let name = c.command.common.name.as_str();
        let ClientMethod {
            docs,
            ret,
            parameter,
            arguments,
        } = client_method(c, trait_ident, "sent");
        let body = if !c.command.success_response {
            quote!(self.connection.send_only(#name, #arguments))
        } else if c.ret.is_some() {
            quote!(self.connection.execute(#name, #arguments))
        } else {
            quote!(self.connection.execute::<_, qapi_runtime::Empty>(#name, #arguments).map(|_| ()))
        };
        quote! {
            #docs #deprecated #cfg
            pub fn #method(&mut self, #parameter) -> #result<#ret, qapi_runtime::ClientError> {
                #body
            }
        }
    });
    quote! {
        /// A typed client: one method per command over any byte stream. Do the handshake
        /// first ([`qapi_runtime::Connection::guest_agent_handshake`] or
        /// [`qapi_runtime::Connection::qmp_handshake`], through [`Self::connection`]).
        pub struct #client_ident<S> {
            connection: qapi_runtime::Connection<S, #event_ident>,
        }

        impl<S: ::std::io::Read + ::std::io::Write> #client_ident<S> {
            /// A client tolerating newer servers (unknown members ignored, unknown enum values
            /// and events kept); [`qapi_runtime::Connection::set_strict`] makes them errors.
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

            #(#methods)*
        }
    }
}

/// The async client (behind the crate's `tokio` feature): one `async` method per command over
/// a shared [`qapi_runtime::aio::AsyncConnection`].
fn async_client_items(ctx: &Ctx<'_>, items: &ItemNames, cmds: &[Cmd<'_>]) -> TokenStream {
    let Some(client_ident) = &items.async_client_ident else {
        return TokenStream::new();
    };
    let (result, option) = (&ctx.std.result, &ctx.std.option);
    let (event_ident, trait_ident) = (&items.event_ident, &items.trait_ident);
    let methods = cmds.iter().map(|c| {
        let (method, cfg, deprecated) = (&c.method, &c.cfg, &c.deprecated);
        let name = c.command.common.name.as_str();
        let ClientMethod {
            docs,
            ret,
            parameter,
            arguments,
        } = client_method(c, trait_ident, "queued");
        let body = if !c.command.success_response {
            quote!(self.connection.send_only(#name, #arguments).await)
        } else if c.ret.is_some() {
            quote!(self.connection.execute_timeout(#name, #arguments, self.timeout).await)
        } else {
            quote! {
                self.connection
                    .execute_timeout::<_, qapi_runtime::Empty>(#name, #arguments, self.timeout)
                    .await
                    .map(|_| ())
            }
        };
        quote! {
            #docs #deprecated #cfg
            pub async fn #method(&self, #parameter) -> #result<#ret, qapi_runtime::ClientError> {
                #body
            }
        }
    });
    quote! {
        /// A typed async client: one `async` method per command. Clones share the connection,
        /// so calls from many tasks are in flight at once; a dropped call leaves the connection
        /// usable. Events: [`Self::connection`]`.events()`.
        #[cfg(feature = "tokio")]
        #[derive(Debug, Clone)]
        pub struct #client_ident {
            connection: qapi_runtime::aio::AsyncConnection<#event_ident>,
            timeout: #option<::std::time::Duration>,
        }

        #[cfg(feature = "tokio")]
        impl #client_ident {
            /// A client over a connection that has done its handshake (e.g.
            /// [`qapi_runtime::aio::AsyncConnection::connect_qmp_unix`]).
            pub fn new(connection: qapi_runtime::aio::AsyncConnection<#event_ident>) -> Self {
                Self { connection, timeout: None }
            }

            /// A handle whose calls fail with [`qapi_runtime::ClientError::Timeout`] after
            /// `timeout` (a late reply is dropped; the connection stays usable).
            pub fn with_timeout(&self, timeout: ::std::time::Duration) -> Self {
                Self { connection: self.connection.clone(), timeout: Some(timeout) }
            }

            /// The connection: events, raw commands, strictness.
            pub fn connection(&self) -> &qapi_runtime::aio::AsyncConnection<#event_ident> {
                &self.connection
            }

            pub fn into_connection(self) -> qapi_runtime::aio::AsyncConnection<#event_ident> {
                self.connection
            }

            #(#methods)*
        }
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
