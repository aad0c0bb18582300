//! `SCHEMA_INFO`: the schema's introspection as a JSON text constant.

use crate::introspect::{condition_names, introspect, Conditions};
use crate::{Options, UnmappedCfg};
use qapi_parser::Schema;

/// The constant's item, with a doc comment naming the conditions it reflects.
pub fn introspection(schema: &Schema, options: &Options) -> String {
    // Fixed at generation time: a condition is off only when it can never be true.
    let off: Vec<String> = condition_names(schema)
        .into_iter()
        .filter(|name| match options.cfg.get(name) {
            Some(predicate) => predicate.replace(' ', "") == "any()",
            None => options.unmapped_cfg == UnmappedCfg::Disabled,
        })
        .collect();
    let on = condition_names(schema)
        .into_iter()
        .filter(|name| !off.contains(name))
        .collect();
    let unmask = options.unmask_introspection;
    let json = introspect(schema, &Conditions::Only(on), unmask).to_string();
    let names = if unmask {
        "type names unmasked, as QEMU's `--unmask-non-abi-names` leaves them"
    } else {
        "type names masked"
    };
    let reflects = if off.is_empty() {
        "every `if` condition on".to_owned()
    } else {
        format!("every `if` condition on except {}", off.join(", "))
    };
    let mut hashes = String::from("#");
    while json.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!(
        "/// The schema's introspection: the JSON text (compact, {names}) that QEMU's\n\
         /// `query-qmp-schema` returns for a build of this schema with {reflects}.\n\
         pub const SCHEMA_INFO: &str = r{hashes}\"{json}\"{hashes};\n"
    )
}
