//! Parsed JSON-ish values of a schema expression (strings, booleans, lists, ordered dicts).

use std::borrow::Cow;

/// A value as the parser produced it. Strings borrow the file text unless they contained an
/// escape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    List(Vec<Value<'a>>),
    Dict(Dict<'a>),
}

/// An object: keys in source order (order is meaningful everywhere in QAPI).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Dict<'a> {
    pub entries: Vec<(Cow<'a, str>, Value<'a>)>,
}

/// String equality that settles most mismatches before comparing whole strings (keys are
/// compared often, and mostly against other keys).
pub(crate) fn same_str(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

impl<'a> Dict<'a> {
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.entries
            .iter()
            .find(|(k, _)| same_str(k, key))
            .map(|(_, v)| v)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| same_str(k, key))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_ref())
    }

    /// Renames a key in place (keeps its position).
    pub fn rename(&mut self, from: &str, to: &'a str) {
        for (k, _) in &mut self.entries {
            if same_str(k, from) {
                *k = Cow::Borrowed(to);
            }
        }
    }
}

impl<'a> Value<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Python truthiness: `False`, `''`, `[]` and `{}` are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Bool(b) => *b,
            Value::List(l) => !l.is_empty(),
            Value::Dict(d) => !d.is_empty(),
        }
    }
}
