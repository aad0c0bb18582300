//! Requests as a server receives them: shape checks with QEMU's messages, the command table
//! entry type, and argument decoding for generated dispatchers.

use super::decode::{from_members, DecodeMembers};
use super::error::QapiError;
use super::qdict::qdict_order;
use super::reply::Reply;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// What a generated command table says about a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandInfo {
    /// Wire name, e.g. `guest-sync`.
    pub name: &'static str,
    /// False for commands that send no reply on success (e.g. `guest-shutdown`).
    pub success_response: bool,
    pub allow_oob: bool,
    pub allow_preconfig: bool,
    pub coroutine: bool,
    /// The command has the `deprecated` feature.
    pub deprecated: bool,
    /// The command has the `unstable` feature.
    pub unstable: bool,
}

impl CommandInfo {
    /// A command with the default flags (success response, nothing else).
    pub const fn new(name: &'static str) -> CommandInfo {
        CommandInfo {
            name,
            success_response: true,
            allow_oob: false,
            allow_preconfig: false,
            coroutine: false,
            deprecated: false,
            unstable: false,
        }
    }

    /// `success-response: false`.
    pub const fn without_success_response(mut self) -> CommandInfo {
        self.success_response = false;
        self
    }

    pub const fn with_allow_oob(mut self) -> CommandInfo {
        self.allow_oob = true;
        self
    }

    pub const fn with_allow_preconfig(mut self) -> CommandInfo {
        self.allow_preconfig = true;
        self
    }

    pub const fn with_coroutine(mut self) -> CommandInfo {
        self.coroutine = true;
        self
    }

    /// Has the `deprecated` feature (when `present`; features can be conditional).
    pub const fn with_deprecated(mut self, present: bool) -> CommandInfo {
        self.deprecated = present;
        self
    }

    /// Has the `unstable` feature (when `present`).
    pub const fn with_unstable(mut self, present: bool) -> CommandInfo {
        self.unstable = present;
        self
    }
}

/// Why a command is disabled; the reply says `Command <name> has been disabled: <reason>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disabled {
    pub reason: Cow<'static, str>,
}

impl Disabled {
    /// The guest agent's reason for commands excluded by its allow/block lists or by a freeze.
    pub const NOT_ALLOWED: Disabled = Disabled {
        reason: Cow::Borrowed("the command is not allowed"),
    };
}

/// A request that passed the shape checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request<'a> {
    /// The command name.
    pub execute: &'a str,
    /// The arguments; `None` when absent (same as `{}`).
    pub arguments: Option<&'a Map<String, Value>>,
    /// The `id`, echoed in the reply.
    pub id: Option<&'a Value>,
}

/// A request that failed the shape checks, and the `id` to echo (if it was an object).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected<'a> {
    pub id: Option<&'a Value>,
    pub error: QapiError,
}

impl Rejected<'_> {
    pub fn into_reply<T>(self) -> Reply<T> {
        Reply::error(self.id.cloned(), self.error)
    }
}

impl<'a> Request<'a> {
    /// Checks a request as the guest agent does (out-of-band execution disabled): keys are
    /// examined in QDict order and the first bad one is reported.
    pub fn parse(value: &'a Value) -> Result<Request<'a>, Rejected<'a>> {
        let Some(dict) = value.as_object() else {
            return Err(Rejected {
                id: None,
                error: QapiError::generic("QMP input must be a JSON object"),
            });
        };
        let id = dict.get("id");
        let reject = |desc: String| Rejected {
            id,
            error: QapiError::generic(desc),
        };
        let entries: Vec<(&String, &Value)> = dict.iter().collect();
        let mut execute = None;
        let mut arguments = None;
        for i in qdict_order(entries.iter().map(|(k, _)| k.as_str())) {
            let (key, value) = entries[i];
            match key.as_str() {
                "execute" => match value.as_str() {
                    Some(name) => execute = Some(name),
                    None => {
                        return Err(reject(
                            "QMP input member 'execute' must be a string".to_owned(),
                        ))
                    }
                },
                "arguments" => match value.as_object() {
                    Some(args) => arguments = Some(args),
                    None => {
                        return Err(reject(
                            "QMP input member 'arguments' must be an object".to_owned(),
                        ))
                    }
                },
                "id" => {}
                other => return Err(reject(format!("QMP input member '{other}' is unexpected"))),
            }
        }
        match execute {
            Some(execute) => Ok(Request {
                execute,
                arguments,
                id,
            }),
            None => Err(reject("QMP input lacks member 'execute'".to_owned())),
        }
    }

    /// The reply for an outcome: `None` when a command without success response succeeded.
    pub fn reply<T>(&self, outcome: Result<Option<T>, QapiError>) -> Option<Reply<T>> {
        let id = self.id.cloned();
        match outcome {
            Ok(Some(value)) => Some(Reply::ok(id, value)),
            Ok(None) => None,
            Err(error) => Some(Reply::error(id, error)),
        }
    }
}

/// Decodes a command's arguments (`None` = `{}`) with QEMU's messages.
pub fn decode_args<T: DecodeMembers>(args: Option<&Map<String, Value>>) -> Result<T, QapiError> {
    from_members(args).map_err(QapiError::from)
}

/// Checks that an argument-less command got no arguments (`Parameter 'x' is unexpected`).
pub fn no_args(args: Option<&Map<String, Value>>) -> Result<(), QapiError> {
    from_members::<super::decode::Empty>(args)
        .map(|_| ())
        .map_err(QapiError::from)
}

/// The arguments of a command whose marshalling is hand-written (`gen: false`), as given.
pub fn raw_args(args: Option<&Map<String, Value>>) -> Map<String, Value> {
    args.cloned().unwrap_or_default()
}
