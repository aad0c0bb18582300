//! Values of schema expressions (strings, booleans, lists, ordered dicts), built from the
//! pest parse with QEMU's duplicate-key check.

use std::borrow::Cow;
use std::collections::HashSet;

use pest::iterators::Pair;

use crate::syntax::{self, Rule, SyntaxError};

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

/// Builds the value of a `dict`, `list`, `string` or `boolean` pair of a file whose text is
/// `len` bytes long. The error is the first error point or duplicate key in document order,
/// which is the order QEMU meets them in.
pub(crate) fn from_pair<'a>(pair: Pair<'a, Rule>, len: usize) -> Result<Value<'a>, SyntaxError> {
    match pair.as_rule() {
        Rule::string => Ok(Value::Str(unquote(pair.as_str()))),
        Rule::legacy_string => Ok(Value::Str(unquote_legacy(pair.as_str()))),
        Rule::boolean => Ok(Value::Bool(pair.as_str() == "true")),
        Rule::list | Rule::legacy_list => {
            let inner = pair.into_inner();
            let mut items = Vec::with_capacity(inner.len());
            for item in inner {
                items.push(from_pair(item, len)?);
            }
            Ok(Value::List(items))
        }
        Rule::dict | Rule::legacy_dict => {
            // Keys and values in turn; an error point in place of either ends the object.
            let mut parts = pair.into_inner();
            let mut dict = Dict {
                entries: Vec::with_capacity(parts.len() / 2),
            };
            // Big objects get a hash set for the duplicate check.
            let mut seen: Option<HashSet<Cow<'a, str>>> = None;
            while let Some(key) = parts.next() {
                if !matches!(key.as_rule(), Rule::string | Rule::legacy_string) {
                    return Err(syntax::error_point(&key, len));
                }
                let Some(value) = parts.next() else {
                    break;
                };
                if value.as_rule() == Rule::want_colon {
                    return Err(syntax::error_point(&value, len));
                }
                // QEMU reads the token after the colon, then checks the key.
                if let Some(e) = syntax::lexical_error(&value) {
                    return Err(e);
                }
                let key = match key.as_rule() {
                    Rule::legacy_string => unquote_legacy(key.as_str()),
                    _ => unquote(key.as_str()),
                };
                let duplicate = match &mut seen {
                    Some(set) => !set.insert(key.clone()),
                    None => {
                        let duplicate = dict.contains(&key);
                        if dict.len() >= 16 {
                            let mut set: HashSet<Cow<'a, str>> =
                                dict.entries.iter().map(|(k, _)| k.clone()).collect();
                            set.insert(key.clone());
                            seen = Some(set);
                        }
                        duplicate
                    }
                };
                if duplicate {
                    let (start, end) = syntax::token_span(&value, len);
                    return Err(SyntaxError {
                        start,
                        end,
                        message: format!("duplicate key '{key}'"),
                    });
                }
                let value = from_pair(value, len)?;
                dict.entries.push((key, value));
            }
            Ok(Value::Dict(dict))
        }
        _ => Err(syntax::error_point(&pair, len)),
    }
}

/// The text of a string token: without its quotes, `\\` read as one backslash.
fn unquote(token: &str) -> Cow<'_, str> {
    let raw = token.get(1..token.len().saturating_sub(1)).unwrap_or("");
    if raw.contains('\\') {
        Cow::Owned(raw.replace("\\\\", "\\"))
    } else {
        Cow::Borrowed(raw)
    }
}

/// The text of a legacy string token: each backslash escape read as the character escaped.
fn unquote_legacy(token: &str) -> Cow<'_, str> {
    let raw = token.get(1..token.len().saturating_sub(1)).unwrap_or("");
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}
