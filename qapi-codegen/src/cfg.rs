//! `if` conditions as `#[cfg(..)]` predicates, through a mapping the user gives.

use crate::Error;
use proc_macro2::TokenStream;
use qapi_parser::IfCond;
use quote::quote;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use syn::{parse_quote, Expr};

/// What to do with a condition the mapping does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnmappedCfg {
    /// Fail, naming the condition (the default: every condition is a decision).
    #[default]
    Error,
    /// Map `NAME` to `feature = "name"` (lower case); the features used are reported so a
    /// generated `Cargo.toml` can declare them.
    Feature,
    /// Treat every unmapped condition as true: everything is compiled in (a client that
    /// must understand any build of the server).
    Enabled,
    /// Treat every unmapped condition as false.
    Disabled,
}

/// Translates conditions; remembers the cargo features it invented.
pub struct CfgMap {
    predicates: BTreeMap<String, TokenStream>,
    /// The operands of the predicates that are `any(..)` lists, spliced into an enclosing `any`.
    any_operands: BTreeMap<String, TokenStream>,
    unmapped: UnmappedCfg,
    features: RefCell<BTreeSet<String>>,
}

impl CfgMap {
    /// `mapping` holds predicate texts such as `target_os = "linux"`, `unix`, `all()`.
    pub fn new(mapping: &BTreeMap<String, String>, unmapped: UnmappedCfg) -> Result<Self, Error> {
        let mut predicates = BTreeMap::new();
        let mut any_operands = BTreeMap::new();
        for (name, text) in mapping {
            let meta: syn::Meta = syn::parse_str(text).map_err(|e| Error::BadPredicate {
                condition: name.clone(),
                predicate: text.clone(),
                reason: e.to_string(),
            })?;
            if let syn::Meta::List(list) = &meta {
                if list.path.is_ident("any") {
                    any_operands.insert(name.clone(), list.tokens.clone());
                }
            }
            predicates.insert(name.clone(), quote!(#meta));
        }
        Ok(CfgMap {
            predicates,
            any_operands,
            unmapped,
            features: RefCell::new(BTreeSet::new()),
        })
    }

    /// The predicate for a condition; `what` names the definition for the error message.
    pub fn predicate(&self, cond: &IfCond, what: &str) -> Result<TokenStream, Error> {
        Ok(match cond {
            IfCond::Name(name) => match self.predicates.get(name) {
                Some(p) => p.clone(),
                None => match self.unmapped {
                    UnmappedCfg::Error => {
                        return Err(Error::UnmappedCondition {
                            condition: name.clone(),
                            used_by: what.to_owned(),
                        })
                    }
                    UnmappedCfg::Feature => {
                        let feature = name.to_ascii_lowercase();
                        self.features.borrow_mut().insert(feature.clone());
                        quote!(feature = #feature)
                    }
                    UnmappedCfg::Enabled => quote!(all()),
                    UnmappedCfg::Disabled => quote!(any()),
                },
            },
            IfCond::All(items) => {
                // Distinct conditions may map to one predicate: keep it once.
                let mut items = self.list(items, what)?;
                let mut seen = Vec::with_capacity(items.len());
                items.retain(|p| {
                    let text = p.to_string();
                    let new = !seen.contains(&text);
                    seen.push(text);
                    new
                });
                match items.as_slice() {
                    [one] => one.clone(),
                    _ => quote!(all(#(#items),*)),
                }
            }
            IfCond::Any(items) => {
                let mut operands = Vec::with_capacity(items.len());
                self.any_operands(items, what, &mut operands)?;
                quote!(any(#(#operands),*))
            }
            IfCond::Not(inner) => {
                let inner = self.predicate(inner, what)?;
                quote!(not(#inner))
            }
        })
    }

    /// The operands of `any(items)`, with nested `any`s (in the schema or in a mapping)
    /// flattened: `any(a, any(b, c))` is `any(a, b, c)`.
    fn any_operands(
        &self,
        items: &[IfCond],
        what: &str,
        out: &mut Vec<TokenStream>,
    ) -> Result<(), Error> {
        for item in items {
            match item {
                IfCond::Any(inner) => self.any_operands(inner, what, out)?,
                IfCond::Name(name) if self.any_operands.contains_key(name) => {
                    out.extend(self.any_operands.get(name).cloned());
                }
                _ => out.push(self.predicate(item, what)?),
            }
        }
        Ok(())
    }

    fn list(&self, items: &[IfCond], what: &str) -> Result<Vec<TokenStream>, Error> {
        items.iter().map(|c| self.predicate(c, what)).collect()
    }

    /// `#[cfg(..)]` for an optional condition (nothing when unconditional).
    pub fn attr(&self, cond: Option<&IfCond>, what: &str) -> Result<TokenStream, Error> {
        match cond {
            None => Ok(TokenStream::new()),
            Some(c) => {
                let p = self.predicate(c, what)?;
                Ok(quote!(#[cfg(#p)]))
            }
        }
    }

    /// `cfg!(..)` as a boolean expression (true when unconditional).
    pub fn expr(&self, cond: Option<&IfCond>, what: &str) -> Result<Expr, Error> {
        match cond {
            None => Ok(parse_quote!(true)),
            Some(c) => {
                let p = self.predicate(c, what)?;
                Ok(parse_quote!(cfg!(#p)))
            }
        }
    }

    /// The cargo features invented for unmapped conditions so far.
    pub fn features(&self) -> Vec<String> {
        self.features.borrow().iter().cloned().collect()
    }
}

/// Both conditions must hold (for a member of a conditional type and the like).
pub fn both(a: Option<&IfCond>, b: Option<&IfCond>) -> Option<IfCond> {
    match (a, b) {
        (None, None) => None,
        (Some(x), None) | (None, Some(x)) => Some(x.clone()),
        (Some(x), Some(y)) if x == y => Some(x.clone()),
        (Some(x), Some(y)) => Some(IfCond::All(vec![x.clone(), y.clone()])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> IfCond {
        IfCond::Name(n.to_owned())
    }

    #[test]
    fn maps_and_combines() {
        let mut m = BTreeMap::new();
        m.insert(
            "CONFIG_LINUX".to_owned(),
            "target_os = \"linux\"".to_owned(),
        );
        m.insert("CONFIG_WIN32".to_owned(), "windows".to_owned());
        let map = CfgMap::new(&m, UnmappedCfg::Error).unwrap();
        let cond = IfCond::Any(vec![
            name("CONFIG_LINUX"),
            IfCond::Not(Box::new(name("CONFIG_WIN32"))),
        ]);
        let p = map.predicate(&cond, "command 'x'").unwrap();
        assert_eq!(p.to_string(), "any (target_os = \"linux\" , not (windows))");
    }

    #[test]
    fn conjuncts_mapped_alike_are_kept_once() {
        let mut m = BTreeMap::new();
        m.insert("A".to_owned(), "unix".to_owned());
        m.insert("B".to_owned(), "unix".to_owned());
        m.insert("C".to_owned(), "windows".to_owned());
        let map = CfgMap::new(&m, UnmappedCfg::Error).unwrap();
        let p = map
            .predicate(&IfCond::All(vec![name("A"), name("B")]), "x")
            .unwrap();
        assert_eq!(p.to_string(), "unix");
        let p = map
            .predicate(&IfCond::All(vec![name("A"), name("C"), name("B")]), "x")
            .unwrap();
        assert_eq!(p.to_string(), "all (unix , windows)");
    }

    #[test]
    fn unmapped_is_an_error_naming_it() {
        let map = CfgMap::new(&BTreeMap::new(), UnmappedCfg::Error).unwrap();
        let err = map
            .predicate(&name("CONFIG_FOO"), "struct 'Foo'")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("condition 'CONFIG_FOO' (of struct 'Foo') has no cfg mapping"),
            "{err}"
        );
    }

    #[test]
    fn nested_any_is_flattened() {
        let mut m = BTreeMap::new();
        m.insert("WIN".to_owned(), "windows".to_owned());
        m.insert(
            "BSD".to_owned(),
            r#"any(target_os = "freebsd", unix)"#.to_owned(),
        );
        let map = CfgMap::new(&m, UnmappedCfg::Error).unwrap();
        let p = map
            .predicate(&IfCond::Any(vec![name("WIN"), name("BSD")]), "x")
            .unwrap();
        let expected = quote!(any(windows, target_os = "freebsd", unix));
        assert_eq!(p.to_string(), expected.to_string());
    }

    #[test]
    fn unmapped_can_become_features() {
        let map = CfgMap::new(&BTreeMap::new(), UnmappedCfg::Feature).unwrap();
        let p = map.predicate(&name("CONFIG_FOO"), "x").unwrap();
        assert_eq!(p.to_string(), "feature = \"config_foo\"");
        assert_eq!(map.features(), ["config_foo"]);
    }

    #[test]
    fn bad_mapping_is_reported() {
        let mut m = BTreeMap::new();
        m.insert("X".to_owned(), "not a (predicate".to_owned());
        let err = CfgMap::new(&m, UnmappedCfg::Error)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("'X'"), "{err}");
    }
}
