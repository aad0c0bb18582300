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
    let json = introspect(schema, &Conditions::Only(on), false).to_string();
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
        "/// The schema's introspection: the JSON text (compact, type names masked) that QEMU's\n\
         /// `query-qmp-schema` returns for a build of this schema with {reflects}.\n\
         pub const SCHEMA_INFO: &str = r{hashes}\"{json}\"{hashes};\n"
    )
}
