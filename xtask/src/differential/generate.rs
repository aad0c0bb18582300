//! Schemas made up from scratch: a few definitions that refer to and clash with each other,
//! often valid, with optional docs, conditions, features and pragmas.

use super::mutate::{FEATURE_VALUES, IF_VALUES};
use super::Rng;

/// Type names of generated schemas: few, so that definitions refer to and clash with each other.
const GEN_TYPES: &[&str] = &["Foo", "Bar", "Baz", "Enum", "Alt", "Union", "Sub"];
const GEN_MEMBERS: &[&str] = &[
    "a", "b", "c", "type", "kind", "one", "two", "on", "off", "data",
];
/// Member names on the edges of the naming rules (used now and then).
const GEN_EDGE_MEMBERS: &[&str] = &[
    "a-b",
    "a_b",
    "x-c",
    "__org.qemu_x-d",
    "has-a",
    "u",
    "max",
    "If",
    "q_e",
    "1",
    "base",
];
const GEN_BUILTINS: &[&str] = &[
    "int", "str", "bool", "number", "any", "null", "size", "int8", "uint64", "QType",
];
const GEN_EVENTS: &[&str] = &["FOO", "BAR", "EV_ONE", "Ev"];
const GEN_COMMANDS: &[&str] = &["foo", "bar", "do-it", "x-cmd", "Cmd", "cmd_two"];
/// Conditions and features that are valid (the edge cases are in `IF_VALUES` etc.).
const GEN_IFS: &[&str] = &[
    "'CONFIG_A'",
    "'CONFIG_B'",
    "{ 'not': 'CONFIG_A' }",
    "{ 'all': [ 'CONFIG_A', 'CONFIG_B' ] }",
    "{ 'any': [ 'CONFIG_A', { 'not': 'CONFIG_B' } ] }",
];
const GEN_FEATURES: &[&str] = &[
    "[ 'feat' ]",
    "[ 'deprecated' ]",
    "[ 'unstable', 'feat' ]",
    "[ { 'name': 'feat', 'if': 'CONFIG_A' } ]",
];

/// Mostly a common name, now and then an edge one.
fn gen_name(rng: &mut Rng, common: &[&'static str], edge: &[&'static str]) -> &'static str {
    let names = if rng.below(12) == 0 { edge } else { common };
    names[rng.below(names.len())]
}

fn gen_member(rng: &mut Rng) -> &'static str {
    gen_name(rng, GEN_MEMBERS, GEN_EDGE_MEMBERS)
}

/// A random schema of 1 to 6 definitions, often valid, with optional docs and pragmas.
pub(super) fn generate(rng: &mut Rng) -> Vec<u8> {
    // Plan the definitions first, so that references mostly hit defined types.
    let mut plan: Vec<(&str, &str)> = Vec::new();
    for _ in 0..1 + rng.below(7) {
        let (meta, name) = match rng.below(6) {
            0 => ("enum", *rng.pick(&["Enum", "Kind", "Color"])),
            1 => ("struct", *rng.pick(&["Foo", "Bar", "Sub"])),
            2 => ("union", *rng.pick(&["Union", "Obj"])),
            3 => ("alternate", *rng.pick(&["Alt", "Either"])),
            4 => ("command", gen_name(rng, &GEN_COMMANDS[..4], GEN_COMMANDS)),
            _ => ("event", gen_name(rng, &GEN_EVENTS[..3], GEN_EVENTS)),
        };
        if plan.iter().all(|&(_, n)| n != name) || rng.below(10) == 0 {
            plan.push((meta, name));
        }
    }
    // Unions need an enum for their tag, usually.
    if plan.iter().any(|&(m, _)| m == "union") && rng.below(8) != 0 {
        plan.insert(0, ("enum", "Tag"));
    }
    let named = |want: &[&str]| -> Vec<&str> {
        plan.iter()
            .filter(|(m, _)| want.contains(m))
            .map(|&(_, n)| n)
            .collect()
    };
    let types = named(&["enum", "struct", "union", "alternate"]);
    let structs = named(&["struct"]);
    let enums = named(&["enum"]);
    // Enum members are fixed up front: unions need them for their branches.
    let enum_members: Vec<Vec<&str>> = enums
        .iter()
        .map(|_| {
            let mut ms: Vec<&str> = Vec::new();
            for _ in 0..rng.below(5) {
                let m = gen_member(rng);
                if !ms.contains(&m) || rng.below(10) == 0 {
                    ms.push(m);
                }
            }
            ms
        })
        .collect();

    let mut out = String::new();
    let mut all_docs = rng.below(4) == 0;
    if rng.below(5) == 0 {
        let pragma = gen_pragma(rng);
        all_docs |= pragma.contains("'doc-required': true");
        out.push_str(&pragma);
    }
    for &(meta, name) in &plan {
        let mut members: Vec<String> = Vec::new();
        let mut body = format!("{{ '{meta}': '{name}'");
        match meta {
            "enum" => {
                let k = enums.iter().position(|&e| e == name).unwrap_or(0);
                let data: Vec<String> = enum_members
                    .get(k)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|m| {
                        members.push(m.to_string());
                        match rng.below(4) {
                            0 => format!("{{ 'name': '{m}'{} }}", gen_extras(rng, "member")),
                            _ => format!("'{m}'"),
                        }
                    })
                    .collect();
                body.push_str(&format!(", 'data': [ {} ]", data.join(", ")));
                if rng.below(6) == 0 {
                    body.push_str(", 'prefix': 'PRE'");
                }
            }
            "struct" => {
                if rng.below(3) == 0 {
                    let base = match structs.get(rng.below(structs.len() + 1)) {
                        Some(s) => format!("'{s}'"),
                        None => gen_type_ref(rng, &types, true),
                    };
                    body.push_str(&format!(", 'base': {base}"));
                }
                let data = gen_members(rng, &types, &mut members);
                body.push_str(&format!(", 'data': {data}"));
            }
            "union" => {
                let k = rng.below(enums.len() + 1);
                let (tag_type, tags) = match enums.get(k) {
                    Some(e) => (*e, enum_members[k].as_slice()),
                    None => ("Enum", &["a", "b"][..]),
                };
                let tag = gen_name(rng, &["type", "kind"], &["a", "*type"]);
                members.push(tag.trim_start_matches('*').to_string());
                let base = match rng.below(4) {
                    0 => format!("'{}'", structs.first().unwrap_or(&"Foo")),
                    _ => format!("{{ '{tag}': '{tag_type}' }}"),
                };
                body.push_str(&format!(", 'base': {base}"));
                let disc = gen_name(rng, &[tag.trim_start_matches('*')], &["type", "b"]);
                body.push_str(&format!(", 'discriminator': '{disc}'"));
                let mut branches = Vec::new();
                for &b in tags {
                    if rng.below(4) == 0 {
                        continue;
                    }
                    let t = match structs.get(rng.below(structs.len() + 1)) {
                        Some(s) => s,
                        None => types.get(rng.below(types.len() + 1)).unwrap_or(&"int"),
                    };
                    branches.push(match rng.below(4) {
                        0 => format!("'{b}': {{ 'type': '{t}'{} }}", gen_extras(rng, "member")),
                        _ => format!("'{b}': '{t}'"),
                    });
                }
                body.push_str(&format!(", 'data': {{ {} }}", branches.join(", ")));
            }
            "alternate" => {
                let mut branches = Vec::new();
                for _ in 0..1 + rng.below(3) {
                    let b = gen_member(rng);
                    if members.iter().any(|m| m == b) {
                        continue;
                    }
                    members.push(b.to_string());
                    let t = if rng.below(2) == 0 {
                        format!("'{}'", rng.pick(&["int", "str", "bool", "null", "number"]))
                    } else {
                        gen_type_ref(rng, &types, false)
                    };
                    branches.push(format!("'{b}': {t}"));
                }
                body.push_str(&format!(", 'data': {{ {} }}", branches.join(", ")));
            }
            _ => {
                let boxed = match rng.below(4) {
                    0 => false,
                    1 => {
                        let t = types.get(rng.below(types.len() + 1)).unwrap_or(&"Foo");
                        body.push_str(&format!(", 'data': '{t}'"));
                        rng.below(2) == 0
                    }
                    _ => {
                        let data = gen_members(rng, &types, &mut members);
                        body.push_str(&format!(", 'data': {data}"));
                        false
                    }
                };
                if meta == "command" && rng.below(2) == 0 {
                    let t = match structs.get(rng.below(structs.len() + 1)) {
                        Some(s) if rng.below(2) == 0 => format!("'{s}'"),
                        _ => gen_type_ref(rng, &types, false),
                    };
                    body.push_str(&format!(", 'returns': {t}"));
                }
                // Flags with the only value they accept, now and then the other one.
                let flags: &[(&str, bool)] = if meta == "command" {
                    &[
                        ("gen", false),
                        ("success-response", false),
                        ("allow-oob", true),
                        ("allow-preconfig", true),
                        ("coroutine", true),
                    ]
                } else {
                    &[]
                };
                if boxed {
                    body.push_str(", 'boxed': true");
                }
                for &(flag, value) in flags {
                    if rng.below(flags.len() * 2) == 0 {
                        let value = value != (rng.below(10) == 0);
                        body.push_str(&format!(", '{flag}': {value}"));
                    }
                }
            }
        }
        let extras = gen_extras(rng, meta);
        body.push_str(&extras);
        body.push_str(" }\n");
        if all_docs || rng.below(2) == 0 {
            out.push_str(&gen_doc(rng, meta, name, &members, &extras));
        }
        out.push_str(&body);
    }
    if rng.below(6) == 0 {
        out.push_str("##\n# = Section\n##\n");
    }
    out.into_bytes()
}

fn gen_pragma(rng: &mut Rng) -> String {
    let mut items = Vec::new();
    if rng.below(2) == 0 {
        items.push(format!("'doc-required': {}", rng.below(2) == 0));
    }
    for key in [
        "command-name-exceptions",
        "command-returns-exceptions",
        "documentation-exceptions",
        "member-name-exceptions",
    ] {
        if rng.below(3) == 0 {
            let names = [*rng.pick(GEN_TYPES), *rng.pick(GEN_COMMANDS)];
            items.push(format!("'{key}': [ '{}', '{}' ]", names[0], names[1]));
        }
    }
    format!("{{ 'pragma': {{ {} }} }}\n", items.join(", "))
}

/// `, 'if': ...` and/or `, 'features': [...]`, or nothing.
fn gen_extras(rng: &mut Rng, meta: &str) -> String {
    let mut out = String::new();
    if rng.below(4) == 0 {
        let values = if rng.below(16) == 0 {
            IF_VALUES
        } else {
            GEN_IFS
        };
        out.push_str(&format!(", 'if': {}", rng.pick(values)));
    }
    if rng.below(4) == 0 {
        let values = if rng.below(16) == 0 {
            FEATURE_VALUES
        } else {
            GEN_FEATURES
        };
        let mut features = rng.pick(values).to_string();
        // 'deprecated' is for commands, events and members, not types.
        if ["enum", "struct", "union", "alternate"].contains(&meta) && rng.below(8) != 0 {
            features = features.replace("'deprecated'", "'feat2'");
        }
        out.push_str(&format!(", 'features': {features}"));
    }
    out
}

/// A type reference: a built-in or planned type, an array, an inline object, rarely unknown.
fn gen_type_ref(rng: &mut Rng, types: &[&str], inline: bool) -> String {
    let named = match types.get(rng.below(types.len() * 2 + 1)) {
        Some(t) if rng.below(12) != 0 => *t,
        Some(_) => "Nope",
        None => *rng.pick(GEN_BUILTINS),
    };
    match rng.below(if inline { 4 } else { 3 }) {
        0 => format!("[ '{named}' ]"),
        3 => format!("{{ 'm': '{named}' }}"),
        _ => format!("'{named}'"),
    }
}

fn gen_members(rng: &mut Rng, types: &[&str], names: &mut Vec<String>) -> String {
    let mut data = Vec::new();
    for _ in 0..rng.below(4) {
        let m = gen_member(rng);
        if names.iter().any(|n| n == m) && rng.below(10) != 0 {
            continue;
        }
        names.push(m.to_string());
        let opt = if rng.below(3) == 0 { "*" } else { "" };
        let inline = rng.below(10) == 0;
        let ty = gen_type_ref(rng, types, inline);
        data.push(match rng.below(4) {
            0 => format!(
                "'{opt}{m}': {{ 'type': {ty}{} }}",
                gen_extras(rng, "member")
            ),
            _ => format!("'{opt}{m}': {ty}"),
        });
    }
    format!("{{ {} }}", data.join(", "))
}

/// A doc comment for `name`, describing some of `members` (and sometimes other names).
fn gen_doc(rng: &mut Rng, meta: &str, name: &str, members: &[String], extras: &str) -> String {
    let mut out = format!("##\n# @{name}:\n");
    if rng.below(2) == 0 {
        out.push_str("#\n# Intro text.\n");
    }
    let mut documented = std::collections::HashSet::new();
    for m in members {
        if documented.insert(m) && rng.below(8) != 0 {
            out.push_str(&format!("#\n# @{m}: text\n"));
            if rng.below(4) == 0 {
                out.push_str("#     more text\n");
            }
        }
    }
    if rng.below(6) == 0 {
        out.push_str(&format!("# @{}: extra\n", gen_member(rng)));
    }
    // The features the definition has, now and then one more or one less.
    let mut features: Vec<&str> = ["feat", "feat2", "deprecated", "unstable"]
        .into_iter()
        .filter(|f| extras.contains(&format!("'{f}'")) != (rng.below(10) == 0))
        .collect();
    if rng.below(10) == 0 {
        features.clear();
    }
    if !features.is_empty() {
        out.push_str("#\n# Features:\n#\n");
        for f in features {
            out.push_str(&format!("# @{f}: text\n"));
        }
    }
    // Sections in the usual order, each at most once (an odd one now and then).
    let is_command = meta == "command";
    for (section, usual) in [
        ("Returns: a value", is_command),
        ("Errors: if bad", is_command),
        ("Plain text.", true),
        ("Since: 1.0", true),
        ("TODO: x", false),
    ] {
        if rng.below(if usual { 3 } else { 100 }) == 0 {
            out.push_str(&format!("#\n# {section}\n"));
        }
    }
    out.push_str("##\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_schemas_are_deterministic() {
        let one: Vec<Vec<u8>> = (0..20).map(|i| generate(&mut Rng::new(3, i))).collect();
        let two: Vec<Vec<u8>> = (0..20).map(|i| generate(&mut Rng::new(3, i))).collect();
        assert_eq!(one, two);
        assert!(one
            .iter()
            .all(|s| s.starts_with(b"{") || s.starts_with(b"#")));
    }
}
