//! Running every argument-less query of a live QEMU through the typed client: a query passes
//! when its reply decodes in the default, lenient mode.

use qapi_runtime::introspect::{MetaType, SchemaInfo};
use qapi_runtime::{Capabilities, ClientError, Decoder};
use qmp_types::{Client, CommandReturn};
use serde_json::Value;
use std::io::{Read, Write};

/// The queries (`query-*`, `x-query-*`) of `bindings` that take no argument or only optional
/// ones, in schema order.
pub fn argumentless_queries(bindings: &SchemaInfo) -> Vec<String> {
    bindings
        .commands()
        .filter(|c| c.name.starts_with("query-") || c.name.starts_with("x-query-"))
        .filter(|c| {
            let MetaType::Command { arg_type, .. } = &c.meta else {
                return false;
            };
            matches!(
                bindings.get(arg_type).map(|t| &t.meta),
                Some(MetaType::Object { members, variants, .. })
                    if variants.is_empty() && members.iter().all(|m| m.optional)
            )
        })
        .map(|c| c.name.clone())
        .collect()
}

/// What running the queries gave.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Decoded leniently.
    pub passed: Vec<String>,
    /// Replied, but the reply did not decode: the query and the error.
    pub failed: Vec<String>,
    /// Answered with an error reply (e.g. a feature this machine lacks): not counted.
    pub errors: Vec<String>,
    /// Not run: the live QEMU lacks them.
    pub skipped: Vec<String>,
}

/// Runs each query of `queries` that `live` has through `client`, decoding the replies
/// leniently (the default) or strictly.
pub fn run<S: Read + Write>(
    client: &mut Client<S>,
    live: &Capabilities,
    queries: &[String],
    strict: bool,
) -> Result<Outcome, ClientError> {
    let mut outcome = Outcome::default();
    for name in queries {
        if !live.has_command(name) {
            outcome.skipped.push(name.clone());
            continue;
        }
        match client.connection().execute_value::<Value>(name, None) {
            Ok(value) => match CommandReturn::decode(name, &value, &mut decoder(strict)) {
                Ok(Some(_)) => outcome.passed.push(name.clone()),
                Ok(None) => outcome
                    .failed
                    .push(format!("{name}: no return type in the bindings")),
                Err(e) => outcome.failed.push(format!("{name}: {e}")),
            },
            Err(ClientError::Command(e)) => outcome.errors.push(format!("{name}: {}", e.desc)),
            Err(e) => return Err(e),
        }
    }
    Ok(outcome)
}

fn decoder(strict: bool) -> Decoder {
    if strict {
        Decoder::strict_reply()
    } else {
        Decoder::lenient()
    }
}
