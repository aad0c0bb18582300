//! The server side (a trait with one method per command, the return enum, the command table
//! and the dispatcher) and the client side (a typed client with one method per command).

use super::types::definition_docs;
use crate::ast;
use crate::context::{describe, is_deprecated, Ctx};
use crate::names::{self, Namespace};
use crate::Error;
use proc_macro2::Ident;
use qapi_parser::{Command, Entity};
use quote::{format_ident, quote};
use syn::{parse_quote, Attribute, Expr, Item, Stmt, Type};

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
    cfg: Vec<Attribute>,
    docs: Vec<Attribute>,
    deprecated: Vec<Attribute>,
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

fn commands<'s>(ctx: &Ctx<'s>) -> Result<Vec<Cmd<'s>>, Error> {
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
            cfg: ctx.entity_cfg(entity)?,
            docs: definition_docs(ctx, entity, &[]),
            deprecated: ctx.deprecated_attr(&command.common.features, &what)?,
        });
    }
    Ok(out)
}

/// Everything for commands: the trait, the return enum, the table and dispatch, the client.
/// Each part is handed to `print` as soon as it is built, so the syntax trees of the parts
/// (large for big schemas) are not all alive at once.
pub fn emit(
    ctx: &Ctx<'_>,
    items: &ItemNames,
    print: &mut dyn FnMut(Vec<Item>),
) -> Result<(), Error> {
    let mut cmds = commands(ctx)?;
    print(vec![commands_trait(ctx, items, &cmds)]);
    print(return_items(ctx, items, &cmds));
    print(dispatch_items(ctx, items, &cmds)?);
    print(client_items(ctx, items, &mut cmds));
    Ok(())
}

/// `fn method(&mut self)`, parsed once per part.
fn receiver_sig() -> syn::Signature {
    parse_quote!(fn method(&mut self))
}

/// `receiver` (`fn method(&mut self)`) with the given name, argument and return type.
fn method_sig(
    receiver: &syn::Signature,
    method: &Ident,
    argument: Option<Type>,
    returns: Type,
) -> syn::Signature {
    let mut sig = receiver.clone();
    sig.ident = method.clone();
    if let Some(ty) = argument {
        sig.inputs.push(ast::fn_arg("arguments", ty));
    }
    sig.output = ast::returns(returns);
    sig
}

/// The trait with one method per command.
fn commands_trait(ctx: &Ctx<'_>, items: &ItemNames, cmds: &[Cmd<'_>]) -> Item {
    let std_string = &ctx.std.string;
    let std_result = &ctx.std.result;
    let (trait_ident, dispatch_ident) = (&items.trait_ident, &items.dispatch_ident);
    let qapi_error: Type = parse_quote!(qapi_runtime::QapiError);
    let raw_map: Type = parse_quote!(::serde_json::Map<#std_string, ::serde_json::Value>);
    let receiver = receiver_sig();
    let mut methods = Vec::with_capacity(cmds.len() + 1);
    for c in cmds {
        let argument = if !c.command.gen {
            Some(raw_map.clone())
        } else {
            c.args.clone()
        };
        let ret_ty = c.ret.clone().unwrap_or_else(ast::unit_type);
        let sig = method_sig(
            &receiver,
            &c.method,
            argument,
            ctx.std.result_of(ret_ty, qapi_error.clone()),
        );
        let mut attrs = c.docs.clone();
        if !c.command.gen {
            attrs.extend(note(
                &c.docs,
                " The arguments are passed as given (`gen: false`): this command checks them itself.",
            ));
        }
        attrs.extend_from_slice(&c.deprecated);
        attrs.extend_from_slice(&c.cfg);
        methods.push(syn::TraitItem::Fn(syn::TraitItemFn {
            attrs,
            sig,
            default: None,
            semi_token: Some(Default::default()),
        }));
    }
    let dispatch_doc = format!(
        " [`{dispatch_ident}`] decodes a request, consults [`check_enabled`](Self::check_enabled), calls the method and builds the reply."
    );
    let mut commands_trait: syn::ItemTrait = parse_quote! {
        /// The commands of the schema, one method per command; implement it to serve them.
        ///
        #[doc = #dispatch_doc]
        pub trait #trait_ident {
            /// Decides whether a command may run; called after lookup and before its arguments
            /// are decoded. An `Err` is answered with `CommandNotFound` and
            /// `Command <name> has been disabled: <reason>`.
            fn check_enabled(&self, command: &'static qapi_runtime::CommandInfo) -> #std_result<(), qapi_runtime::Disabled> {
                let _ = command;
                Ok(())
            }
        }
    };
    methods.append(&mut commands_trait.items);
    commands_trait.items = methods;
    Item::Trait(commands_trait)
}

/// The return enum with its `Serialize` impl and its decoder.
fn return_items(ctx: &Ctx<'_>, items: &ItemNames, cmds: &[Cmd<'_>]) -> Vec<Item> {
    let std_option = &ctx.std.option;
    let std_result = &ctx.std.result;
    let return_ident = &items.return_ident;
    let decode_empty: Stmt = parse_quote! {
        <qapi_runtime::Empty as qapi_runtime::Decode>::decode(value, decoder)?;
    };
    let self_path = ast::path("Self");
    let (value, serializer) = (ast::ident("value"), ast::ident("serializer"));
    let mut ret_variants = Vec::with_capacity(cmds.len());
    let mut ret_ser = Vec::with_capacity(cmds.len());
    let mut ret_decode = Vec::with_capacity(cmds.len() + 1);
    // When every variant may be compiled out, the enum may be empty: `match *self` (with
    // `ref` bindings) is then still exhaustive, and the decoder may use nothing.
    let all_conditional = cmds
        .iter()
        .filter(|c| c.command.success_response)
        .all(|c| !c.cfg.is_empty());
    let bind = |v: &Ident| {
        if all_conditional {
            ast::pat_ref_ident(v.clone())
        } else {
            ast::pat_ident(v.clone())
        }
    };
    for c in cmds.iter().filter(|c| c.command.success_response) {
        let (variant, cfg) = (&c.variant, &c.cfg);
        let name = c.command.common.name.as_str();
        let self_variant = ast::path_join(&self_path, variant);
        let mut attrs = vec![ast::doc_attr(&format!(" What `{name}` returns."))];
        attrs.extend_from_slice(cfg);
        match &c.ret {
            Some(ty) => {
                ret_variants.push(ast::variant(
                    attrs,
                    variant.clone(),
                    ast::fields_tuple(ty.clone()),
                ));
                let written = match c.command.ret_type.as_deref() {
                    Some("any") if ctx.opts.member_order == crate::MemberOrder::Qemu => {
                        ast::reference(ast::call_path(
                            "qapi_runtime::qdict::Ordered",
                            vec![ast::var(&value)],
                        ))
                    }
                    _ => ast::var(&value),
                };
                ret_ser.push(ast::arm(
                    cfg.clone(),
                    ast::pat_tuple_struct(self_variant.clone(), vec![bind(&value)]),
                    ast::call_path(
                        "::serde::Serialize::serialize",
                        vec![written, ast::var(&serializer)],
                    ),
                ));
                let decoded = ast::try_(ast::call_path(
                    "qapi_runtime::Decode::decode",
                    vec![ast::var(&value), ast::var_named("decoder")],
                ));
                ret_decode.push(ast::arm(
                    cfg.clone(),
                    ast::pat_str(name),
                    ast::call(ast::expr_path(self_variant), vec![decoded]),
                ));
            }
            None => {
                ret_variants.push(ast::variant(attrs, variant.clone(), syn::Fields::Unit));
                ret_ser.push(ast::arm(
                    cfg.clone(),
                    ast::pat_path(self_variant.clone()),
                    ast::call_path("qapi_runtime::ser::empty", vec![ast::var(&serializer)]),
                ));
                ret_decode.push(ast::arm(
                    cfg.clone(),
                    ast::pat_str(name),
                    ast::block_expr(vec![
                        decode_empty.clone(),
                        ast::tail(ast::expr_path(self_variant)),
                    ]),
                ));
            }
        }
    }
    let ret_decode_body: Vec<Stmt> = if ret_decode.is_empty() {
        parse_quote! {
            let _ = (name, value, decoder);
            Ok(None)
        }
    } else {
        ret_decode.push(parse_quote!(_ => return Ok(None),));
        let matched = ast::match_(ast::var_named("name"), ret_decode);
        let some = ast::call(ast::var_named("Some"), vec![matched]);
        vec![ast::tail(ast::call(ast::var_named("Ok"), vec![some]))]
    };
    let maybe_empty = all_conditional && !ret_ser.is_empty();
    let (ret_match, serializer): (Expr, Ident) = if ret_ser.is_empty() {
        (parse_quote!(match *self {}), ast::ident("_serializer"))
    } else if all_conditional {
        let this = ast::deref(ast::var_named("self"));
        (ast::match_(this, ret_ser), serializer)
    } else {
        (ast::match_(ast::var_named("self"), ret_ser), serializer)
    };
    let mut return_enum: syn::ItemEnum = parse_quote! {
        /// The typed return value of a command that succeeded; serialise it (inside a
        /// [`qapi_runtime::Reply`]) straight to the output.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum #return_ident {}
    };
    return_enum.variants = ret_variants.into_iter().collect();
    let mut return_serialize: syn::ItemImpl = parse_quote! {
        impl ::serde::Serialize for #return_ident {
            fn serialize<S: ::serde::Serializer>(&self, #serializer: S) -> #std_result<S::Ok, S::Error> {}
        }
    };
    if let Some(serialize) = ast::first_fn(&mut return_serialize) {
        serialize.block.stmts = vec![ast::tail(ret_match)];
        if maybe_empty {
            serialize
                .attrs
                .push(ast::attr_list("allow", quote!(unused_variables)));
        }
    }
    let mut return_decode: syn::ItemImpl = parse_quote! {
        impl #return_ident {
            /// Decodes what command `name` returned (`None`: not a command of this build, or
            /// one without success response).
            pub fn decode(
                name: &str,
                value: &::serde_json::Value,
                decoder: &mut qapi_runtime::Decoder,
            ) -> #std_result<#std_option<Self>, qapi_runtime::DecodeError> {}
        }
    };
    if let Some(decode) = ast::first_fn(&mut return_decode) {
        decode.block.stmts = ret_decode_body;
        if maybe_empty {
            let allow = quote!(unreachable_code, unused_variables);
            decode.attrs.push(ast::attr_list("allow", allow));
        }
    }
    vec![
        Item::Enum(return_enum),
        Item::Impl(return_serialize),
        Item::Impl(return_decode),
    ]
}

/// The command table, its lookup, `dispatch` and `call`.
fn dispatch_items(ctx: &Ctx<'_>, items: &ItemNames, cmds: &[Cmd<'_>]) -> Result<Vec<Item>, Error> {
    let std_option = &ctx.std.option;
    let std_string = &ctx.std.string;
    let std_result = &ctx.std.result;
    let ItemNames {
        trait_ident,
        return_ident,
        table_ident,
        count_ident,
        lookup_ident,
        dispatch_ident,
        call_ident,
        ..
    } = items;
    let no_args: Stmt = parse_quote!(qapi_runtime::request::no_args(arguments)?;);
    let return_path = ast::path_ident(return_ident.clone());
    let (value, arguments) = (ast::ident("value"), ast::ident("arguments"));
    let mut arms = Vec::with_capacity(cmds.len() + 1);
    let mut table = Vec::with_capacity(cmds.len());
    for c in cmds {
        let (method, variant, cfg) = (&c.method, &c.variant, &c.cfg);
        let name = c.command.common.name.as_str();
        let what = describe(c.entity);
        // Dispatch arm.
        let returned = ast::expr_path(ast::path_join(&return_path, variant));
        let wrap = match (c.command.success_response, c.ret.is_some()) {
            (false, _) => ast::closure(ast::pat_wild(), ast::var_named("None")),
            (true, true) => ast::closure(
                ast::pat_ident(value.clone()),
                ast::call(
                    ast::var_named("Some"),
                    vec![ast::call(returned, vec![ast::var(&value)])],
                ),
            ),
            (true, false) => ast::closure(
                ast::pat_unit(),
                ast::call(ast::var_named("Some"), vec![returned]),
            ),
        };
        let handler = ast::var_named("handler");
        arms.push(match (&c.args, c.command.gen) {
            (None, true) => {
                let called = ast::method_ident(handler, method, Vec::new());
                ast::arm(
                    cfg.clone(),
                    ast::pat_str(name),
                    ast::block_expr(vec![
                        no_args.clone(),
                        ast::tail(ast::method(called, "map", vec![wrap])),
                    ]),
                )
            }
            _ => {
                let arg = if !c.command.gen {
                    ast::call_path(
                        "qapi_runtime::request::raw_args",
                        vec![ast::var(&arguments)],
                    )
                } else {
                    ast::try_(ast::call_path(
                        "qapi_runtime::request::decode_args",
                        vec![ast::var(&arguments)],
                    ))
                };
                let called = ast::method_ident(handler, method, vec![arg]);
                ast::arm(
                    cfg.clone(),
                    ast::pat_str(name),
                    ast::method(called, "map", vec![wrap]),
                )
            }
        });
        // Table entry.
        let cmd = c.command;
        let cond = ctx.avail.of(&cmd.common.name);
        let mut info = ast::call_path("qapi_runtime::CommandInfo::new", vec![ast::lit_str(name)]);
        for (flag, method) in [
            (!cmd.success_response, "without_success_response"),
            (cmd.allow_oob, "with_allow_oob"),
            (cmd.allow_preconfig, "with_allow_preconfig"),
            (cmd.coroutine, "with_coroutine"),
        ] {
            if flag {
                info = ast::method(info, method, Vec::new());
            }
        }
        for (feature, method) in [
            ("deprecated", "with_deprecated"),
            ("unstable", "with_unstable"),
        ] {
            if cmd.common.features.iter().any(|f| f.name == feature) {
                let present = ctx.has_feature(&cmd.common.features, feature, &what)?;
                info = ast::method(info, method, vec![present]);
            }
        }
        table.push((ctx.cfg.expr(cond, &what)?, cond.is_some(), info));
    }
    let call_body: Vec<Stmt> = if cmds.is_empty() {
        parse_quote! {
            let _ = arguments;
            Err(qapi_runtime::QapiError::command_not_found(name))
        }
    } else {
        arms.push(parse_quote!(_ => Err(qapi_runtime::QapiError::command_not_found(name)),));
        vec![ast::tail(ast::match_(ast::var_named("name"), arms))]
    };
    let mut call: syn::ItemFn = parse_quote! {
        /// Runs command `name` with `arguments` (`None` = `{}`): lookup, policy, argument
        /// decoding, call. `Ok(None)`: success of a command without success response.
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
        }
    };
    call.block.stmts.extend(call_body);
    if !cmds.is_empty() && cmds.iter().all(|c| !c.cfg.is_empty()) {
        // Every arm may be compiled out.
        call.attrs
            .push(ast::attr_list("allow", quote!(unused_variables)));
    }
    if cmds
        .iter()
        .any(|c| is_deprecated(&c.command.common.features))
    {
        // The deprecated trait methods are called here.
        call.attrs.push(ast::attr_list("allow", quote!(deprecated)));
    }
    let mut out = command_table(table, table_ident, count_ident);
    out.extend([
        parse_quote! {
            /// The table entry of a command of this build, by wire name.
            pub fn #lookup_ident(name: &str) -> #std_option<&'static qapi_runtime::CommandInfo> {
                #table_ident.iter().find(|info| info.name == name)
            }
        },
        parse_quote! {
            /// Handles one request (`execute`, `arguments`, `id`) as QEMU does and returns the
            /// reply, or `None` when a command without success response succeeded.
            pub fn #dispatch_ident<C: #trait_ident + ?Sized>(handler: &mut C, request: &::serde_json::Value) -> #std_option<qapi_runtime::Reply<#return_ident>> {
                match qapi_runtime::Request::parse(request) {
                    Ok(request) => request.reply(#call_ident(handler, request.execute, request.arguments)),
                    Err(rejected) => Some(rejected.into_reply()),
                }
            }
        },
        Item::Fn(call),
    ]);
    Ok(out)
}

/// The typed client (the last part: it takes the commands' docs).
fn client_items(ctx: &Ctx<'_>, items: &ItemNames, cmds: &mut [Cmd<'_>]) -> Vec<Item> {
    let (client_ident, event_ident) = (&items.client_ident, &items.event_ident);
    let client_error: Type = parse_quote!(qapi_runtime::ClientError);
    let no_client_args: Expr = parse_quote!(None::<&qapi_runtime::Empty>);
    let empty_type: Type = parse_quote!(qapi_runtime::Empty);
    let arguments = ast::ident("arguments");
    let receiver = receiver_sig();
    let mut client_methods = Vec::with_capacity(cmds.len());
    for c in cmds {
        let name = c.command.common.name.as_str();
        let ret_ty = c.ret.clone().unwrap_or_else(ast::unit_type);
        let sig = method_sig(
            &receiver,
            &c.method,
            c.args.clone().map(ast::ty_ref),
            ctx.std.result_of(ret_ty, client_error.clone()),
        );
        let cargs = match &c.args {
            Some(_) => ast::call(ast::var_named("Some"), vec![ast::var(&arguments)]),
            None => no_client_args.clone(),
        };
        let connection = ast::field(ast::var_named("self"), &ast::ident("connection"));
        let request = vec![ast::lit_str(name), cargs];
        let body = if !c.command.success_response {
            ast::method(connection, "send_only", request)
        } else if c.ret.is_some() {
            ast::method(connection, "execute", request)
        } else {
            let executed = ast::method_turbofish(
                connection,
                ast::ident("execute"),
                vec![ast::infer_type(), empty_type.clone()],
                request,
            );
            ast::method(
                executed,
                "map",
                vec![ast::closure(ast::pat_wild(), ast::unit_expr())],
            )
        };
        let mut attrs = std::mem::take(&mut c.docs);
        if !c.command.success_response {
            let no_reply = note(
                &attrs,
                " The server replies only on failure: this returns once the request is sent.",
            );
            attrs.extend(no_reply);
        }
        attrs.extend_from_slice(&c.deprecated);
        attrs.extend_from_slice(&c.cfg);
        client_methods.push(syn::ImplItem::Fn(ast::impl_fn(
            attrs,
            ast::public(),
            sig,
            vec![ast::tail(body)],
        )));
    }
    let mut client_impl: syn::ItemImpl = parse_quote! {
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
        }
    };
    client_impl.items.extend(client_methods);
    vec![
        parse_quote! {
            /// A typed client: one method per command over any byte stream. Do the handshake
            /// first ([`qapi_runtime::Connection::guest_agent_handshake`] or
            /// [`qapi_runtime::Connection::qmp_handshake`], through [`Self::connection`]).
            pub struct #client_ident<S> {
                connection: qapi_runtime::Connection<S, #event_ident>,
            }
        },
        Item::Impl(client_impl),
    ]
}

/// `COMMANDS`: a plain array when no command is conditional, else an array built in a
/// const block so that conditional entries exist only when their `cfg!` holds.
/// `table`: per command, its `cfg!` condition, whether it has one, and its entry.
fn command_table(
    table: Vec<(Expr, bool, Expr)>,
    table_ident: &Ident,
    count_ident: &Ident,
) -> Vec<Item> {
    let mut table_static: syn::ItemStatic = parse_quote! {
        /// Every command of this build, in schema order (for allow/block lists and `guest-info`).
        pub static #table_ident: &[qapi_runtime::CommandInfo] = &[];
    };
    if table.iter().all(|(_, conditional, _)| !conditional) {
        let infos = table.into_iter().map(|(_, _, info)| info).collect();
        *table_static.expr = ast::reference(ast::array(infos));
        return vec![Item::Static(table_static)];
    }
    let mut count: Option<Expr> = None;
    let mut fills = Vec::with_capacity(table.len() * 2);
    let increment: Stmt = parse_quote!(i += 1;);
    for (cond, conditional, info) in table {
        let one = if conditional {
            ast::paren(ast::cast(cond.clone(), parse_quote!(usize)))
        } else {
            ast::lit_int(1)
        };
        count = Some(match count {
            None => one,
            Some(left) => ast::binary(left, syn::BinOp::Add(Default::default()), one),
        });
        let fill = [
            ast::stmt(ast::assign(
                ast::index(ast::var_named("table"), ast::var_named("i")),
                info,
            )),
            increment.clone(),
        ];
        if conditional {
            fills.push(ast::tail(ast::if_(cond, fill.into())));
        } else {
            fills.extend(fill);
        }
    }
    let count = count.unwrap_or_else(|| ast::lit_int(0));
    let array_ident = format_ident!("{}_ARRAY", table_ident);
    let mut array: syn::ItemConst = parse_quote! {
        const #array_ident: [qapi_runtime::CommandInfo; #count_ident] = {
            let mut table = [qapi_runtime::CommandInfo::new(""); #count_ident];
            let mut i = 0;
            assert!(i == #count_ident);
            table
        };
    };
    if let Expr::Block(block) = &mut *array.expr {
        let stmts = &mut block.block.stmts;
        let tail = stmts.split_off(2);
        stmts.extend(fills);
        stmts.extend(tail);
    }
    *table_static.expr = ast::reference(ast::expr_path(ast::path_ident(array_ident)));
    let mut count_const: syn::ItemConst = parse_quote! {
        /// How many commands this build has.
        pub const #count_ident: usize = 0;
    };
    *count_const.expr = count;
    vec![
        Item::Const(count_const),
        Item::Const(array),
        Item::Static(table_static),
    ]
}

/// A paragraph appended to existing docs (separated by a blank doc line when there are any).
fn note(docs: &[Attribute], text: &str) -> Vec<Attribute> {
    if docs.is_empty() {
        vec![ast::doc_attr(text)]
    } else {
        vec![ast::doc_attr(""), ast::doc_attr(text)]
    }
}
