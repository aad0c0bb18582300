//! Every naming rule: schema names to Rust identifiers, and clash detection.
//!
//! Types and variants become UpperCamelCase, members and methods snake_case (both via heck).
//! Rust keywords become raw identifiers (`r#type`), except `self`, `super`, `crate` and `Self`,
//! which cannot be raw and get a trailing `_`. Names that would start with a digit get a
//! prefix (`_` for snake case, `V` for camel case).

use crate::Error;
use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};
use std::collections::HashMap;

/// Keywords of every edition (strict and reserved).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// A schema type name as a Rust type name: `GuestPCIAddress` -> `GuestPciAddress`.
pub fn type_name(schema_name: &str) -> String {
    camel(schema_name)
}

/// An enum value, union branch or alternate branch as a variant name: `ip-v4` -> `IpV4`.
pub fn variant_name(value: &str) -> String {
    camel(value)
}

/// A member name as a field name: `buf-b64` -> `buf_b64`, `type` -> `r#type` (see [`ident`]).
pub fn field_name(member: &str) -> String {
    snake(member)
}

/// A command name as a method name: `guest-file-open` -> `guest_file_open`.
pub fn method_name(command: &str) -> String {
    snake(command)
}

fn camel(name: &str) -> String {
    let out = plain_camel(name).unwrap_or_else(|| name.to_upper_camel_case());
    match out.chars().next() {
        None => "V".to_owned(),
        Some(c) if c.is_ascii_digit() => format!("V{out}"),
        Some(_) => out,
    }
}

fn snake(name: &str) -> String {
    let out = plain_snake(name).unwrap_or_else(|| name.to_snake_case());
    match out.chars().next() {
        None => "_".to_owned(),
        Some(c) if c.is_ascii_digit() => format!("_{out}"),
        Some(_) => out,
    }
}

/// heck's upper camel case for the common easy names (ASCII, every capital after a small
/// letter or at a word's start), without its general machinery: the words between
/// separators, each with its first letter made capital. `None`: ask heck.
fn plain_camel(name: &str) -> Option<String> {
    if !name.is_ascii() {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    for word in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        // Whether the last letter seen in the word was small.
        let mut after_small = None;
        for (i, c) in word.bytes().enumerate() {
            if c.is_ascii_uppercase() {
                if i > 0 && after_small != Some(true) {
                    return None;
                }
                after_small = Some(false);
            } else if c.is_ascii_lowercase() {
                after_small = Some(true);
            }
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
    }
    Some(out)
}

/// heck's snake case for names without capitals (ASCII): the words between separators,
/// joined by `_`. `None`: ask heck.
fn plain_snake(name: &str) -> Option<String> {
    if !name.is_ascii() || name.bytes().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    for word in name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(word);
    }
    Some(out)
}

/// An identifier for a name produced above: keywords become raw (`r#type`) or get a `_`.
pub fn ident(name: &str) -> Ident {
    if NOT_RAW.contains(&name) {
        Ident::new(&format!("{name}_"), Span::call_site())
    } else if KEYWORDS.contains(&name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// The error for two definitions whose Rust names clash.
pub fn clash(owner: &str, previous: &str, name: &str) -> Error {
    Error::NameClash {
        first: owner.to_owned(),
        second: previous.to_owned(),
        rust: name.to_owned(),
    }
}

/// Names taken in one namespace (the module's items, a struct's fields, an enum's variants, a
/// trait's methods), with what took them, so a clash can name both parties.
#[derive(Debug, Default)]
pub struct Namespace {
    taken: HashMap<String, String>,
}

impl Namespace {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes `name` for `owner` (a description such as `struct 'GuestFoo'`), or reports who
    /// already has it.
    pub fn claim(&mut self, name: &str, owner: &str) -> Result<(), Error> {
        match self.taken.get(name) {
            Some(previous) => Err(clash(owner, previous, name)),
            None => {
                self.taken.insert(name.to_owned(), owner.to_owned());
                Ok(())
            }
        }
    }

    pub fn is_taken(&self, name: &str) -> bool {
        self.taken.contains_key(name)
    }

    /// Takes `name`, or the first free `name2`, `name3`, ... for names the generator invents
    /// (argument structs, event structs, branch enums), which give way to schema names.
    pub fn claim_derived(&mut self, name: &str, owner: &str) -> String {
        let mut candidate = name.to_owned();
        let mut n = 2;
        while self.taken.contains_key(&candidate) {
            candidate = format!("{name}{n}");
            n += 1;
        }
        self.taken.insert(candidate.clone(), owner.to_owned());
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_upper_camel() {
        assert_eq!(type_name("GuestFileRead"), "GuestFileRead");
        assert_eq!(type_name("GuestPCIAddress"), "GuestPciAddress");
        assert_eq!(type_name("QType"), "QType");
        assert_eq!(type_name("__org.qemu_x-Enum"), "OrgQemuXEnum");
    }

    #[test]
    fn variants_are_upper_camel_and_never_start_with_a_digit() {
        assert_eq!(variant_name("thawed"), "Thawed");
        assert_eq!(variant_name("ip-address-type"), "IpAddressType");
        assert_eq!(variant_name("1k"), "V1k");
        assert_eq!(variant_name("value_a"), "ValueA");
    }

    #[test]
    fn fields_and_methods_are_snake() {
        assert_eq!(field_name("buf-b64"), "buf_b64");
        assert_eq!(field_name("supported_commands"), "supported_commands");
        assert_eq!(field_name("logical-id"), "logical_id");
        assert_eq!(method_name("guest-sync-delimited"), "guest_sync_delimited");
        assert_eq!(method_name("x-query-virtio"), "x_query_virtio");
        assert_eq!(method_name("__org.qemu_x-command"), "org_qemu_x_command");
    }

    #[test]
    fn plain_paths_agree_with_heck() {
        // Every name of up to five characters over letters of both cases, a digit and the
        // separators, plus real shapes.
        let alphabet = ['a', 'B', 'c', 'D', '1', '-', '_', '.'];
        let mut names = vec![
            String::new(),
            "GuestPCIAddress".to_owned(),
            "QType".to_owned(),
            "x-query-virtio".to_owned(),
            "__org.qemu_x-Enum".to_owned(),
            "X86CPURegister32".to_owned(),
            "blockdev-add".to_owned(),
            "BlockdevOptionsNVMe".to_owned(),
            "ip-v4".to_owned(),
            "A1B".to_owned(),
            "a1B".to_owned(),
            "Ab1C2d".to_owned(),
            "élan-vital".to_owned(),
        ];
        let mut frontier = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for prefix in &frontier {
                for c in alphabet {
                    next.push(format!("{prefix}{c}"));
                }
            }
            names.extend(next.iter().cloned());
            frontier = next;
        }
        assert_eq!(plain_camel("ip-v4").as_deref(), Some("IpV4"));
        assert_eq!(
            plain_camel("BlockdevOptions").as_deref(),
            Some("BlockdevOptions")
        );
        assert_eq!(
            plain_snake("guest-file-open").as_deref(),
            Some("guest_file_open")
        );
        for name in &names {
            if let Some(fast) = plain_camel(name) {
                assert_eq!(fast, name.to_upper_camel_case(), "camel case of {name:?}");
            }
            if let Some(fast) = plain_snake(name) {
                assert_eq!(fast, name.to_snake_case(), "snake case of {name:?}");
            }
        }
    }

    #[test]
    fn keywords_are_escaped() {
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident("match").to_string(), "r#match");
        assert_eq!(ident("async").to_string(), "r#async");
        assert_eq!(ident("self").to_string(), "self_");
        assert_eq!(ident("super").to_string(), "super_");
        assert_eq!(ident("crate").to_string(), "crate_");
        assert_eq!(ident("Self").to_string(), "Self_");
        assert_eq!(ident("union").to_string(), "union");
        assert_eq!(ident("count").to_string(), "count");
    }

    #[test]
    fn clashes_name_both_parties() {
        let mut ns = Namespace::new();
        ns.claim(&field_name("a-b"), "member 'a-b'").unwrap();
        let err = ns.claim(&field_name("a_b"), "member 'a_b'").unwrap_err();
        assert_eq!(
            err.to_string(),
            "code generation failed: member 'a_b' and member 'a-b' both map to the Rust name 'a_b'"
        );
    }

    #[test]
    fn derived_names_give_way() {
        let mut ns = Namespace::new();
        ns.claim("GuestSyncArgs", "struct 'GuestSyncArgs'").unwrap();
        assert_eq!(
            ns.claim_derived("GuestSyncArgs", "arguments of 'guest-sync'"),
            "GuestSyncArgs2"
        );
        assert_eq!(ns.claim_derived("GuestSyncArgs", "x"), "GuestSyncArgs3");
    }
}
