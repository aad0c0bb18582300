//! Version skew between two `query-qmp-schema` documents, typically the one the bindings were
//! generated from and a running QEMU's: per command and event, what the live QEMU lacks and
//! what it has that the bindings do not know.
//!
//! Type names are masked numbers that differ between builds, so the comparison walks both
//! documents side by side from each command and event (arguments, return type, members,
//! branches, enum values, array elements). Items are named by paths of the
//! [`super::capabilities`] grammar, e.g. `blockdev-add/arg-type/+file/aio/^io_uring`.

use super::introspect::{MetaType, SchemaInfo};
use std::collections::HashSet;
use std::fmt;

/// What kind of thing differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Command,
    Event,
    Member,
    EnumValue,
    Branch,
    /// The same place holds a different kind of type (e.g. an enum became a string).
    Type,
}

impl ItemKind {
    fn label(self) -> &'static str {
        match self {
            ItemKind::Command => "command",
            ItemKind::Event => "event",
            ItemKind::Member => "member",
            ItemKind::EnumValue => "value",
            ItemKind::Branch => "branch",
            ItemKind::Type => "type",
        }
    }
}

/// Which side has the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The bindings know it; the live QEMU lacks it.
    Lacks,
    /// The live QEMU has it; the bindings do not know it.
    Extra,
    /// Both have the place, with a different kind of type ([`ItemKind::Type`]).
    Differs,
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkewItem {
    pub side: Side,
    pub kind: ItemKind,
    /// Where, in the [`super::capabilities`] path grammar.
    pub path: String,
    /// The release that added it, when the schema's docs say (see [`Skew::fill_since`]).
    pub since: Option<String>,
    /// For [`Side::Differs`]: the meta-types of the bindings and of the live QEMU.
    pub detail: Option<String>,
}

/// Every difference, commands first (in the bindings' order, then the live QEMU's extra
/// ones), then events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skew {
    pub items: Vec<SkewItem>,
}

impl Skew {
    /// Compares the bindings' schema with a live one.
    pub fn compare(bindings: &SchemaInfo, live: &SchemaInfo) -> Skew {
        let mut walker = Walker {
            bindings,
            live,
            items: Vec::new(),
            seen: HashSet::new(),
        };
        for (kind, is_kind) in [
            (ItemKind::Command, is_command as fn(&MetaType) -> bool),
            (ItemKind::Event, is_event),
        ] {
            for b in bindings.entities().iter().filter(|e| is_kind(&e.meta)) {
                match live.get(&b.name).filter(|l| is_kind(&l.meta)) {
                    None => walker.push(Side::Lacks, kind, b.name.clone()),
                    Some(l) => {
                        walker.seen.clear();
                        walker.pair(&b.name, &l.name, &b.name);
                    }
                }
            }
            for l in live.entities().iter().filter(|e| is_kind(&e.meta)) {
                if bindings.get(&l.name).filter(|b| is_kind(&b.meta)).is_none() {
                    walker.push(Side::Extra, kind, l.name.clone());
                }
            }
        }
        Skew {
            items: walker.items,
        }
    }

    /// The items on one side.
    pub fn side(&self, side: Side) -> impl Iterator<Item = &SkewItem> {
        self.items.iter().filter(move |i| i.side == side)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sets each item's `since` from `lookup(path)` (e.g. read from the bindings' schema docs;
    /// only items the bindings know can have one).
    pub fn fill_since(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        for item in &mut self.items {
            if item.side != Side::Extra {
                item.since = lookup(&item.path);
            }
        }
    }
}

impl fmt::Display for Skew {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (side, title) in [
            (Side::Lacks, "The live QEMU lacks (the bindings know):"),
            (Side::Extra, "The live QEMU has (the bindings do not know):"),
            (Side::Differs, "Different types:"),
        ] {
            let items: Vec<&SkewItem> = self.side(side).collect();
            if items.is_empty() {
                continue;
            }
            writeln!(f, "{title} {}", items.len())?;
            for item in items {
                write!(f, "  {:<7} {}", item.kind.label(), item.path)?;
                if let Some(detail) = &item.detail {
                    write!(f, " ({detail})")?;
                }
                if let Some(since) = &item.since {
                    write!(f, " (since {since})")?;
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

fn is_command(meta: &MetaType) -> bool {
    matches!(meta, MetaType::Command { .. })
}

fn is_event(meta: &MetaType) -> bool {
    matches!(meta, MetaType::Event { .. })
}

struct Walker<'s> {
    bindings: &'s SchemaInfo,
    live: &'s SchemaInfo,
    items: Vec<SkewItem>,
    /// Type pairs already compared under the current command or event (types recurse).
    seen: HashSet<(String, String)>,
}

impl Walker<'_> {
    fn push(&mut self, side: Side, kind: ItemKind, path: String) {
        self.items.push(SkewItem {
            side,
            kind,
            path,
            since: None,
            detail: None,
        });
    }

    /// Compares the bindings' entity `b` with the live entity `l` at `path`.
    fn pair(&mut self, b: &str, l: &str, path: &str) {
        if !self.seen.insert((b.to_owned(), l.to_owned())) {
            return;
        }
        let (Some(be), Some(le)) = (self.bindings.get(b), self.live.get(l)) else {
            return;
        };
        match (&be.meta, &le.meta) {
            (
                MetaType::Command {
                    arg_type: ba,
                    ret_type: br,
                    ..
                },
                MetaType::Command {
                    arg_type: la,
                    ret_type: lr,
                    ..
                },
            ) => {
                self.pair(ba, la, &format!("{path}/arg-type"));
                self.pair(br, lr, &format!("{path}/ret-type"));
            }
            (MetaType::Event { arg_type: ba }, MetaType::Event { arg_type: la }) => {
                self.pair(ba, la, &format!("{path}/arg-type"));
            }
            (
                MetaType::Object {
                    members: bm,
                    variants: bv,
                    ..
                },
                MetaType::Object {
                    members: lm,
                    variants: lv,
                    ..
                },
            ) => {
                for m in bm {
                    match lm.iter().find(|x| x.name == m.name) {
                        Some(x) => self.pair(&m.ty, &x.ty, &format!("{path}/{}", m.name)),
                        None => {
                            self.push(Side::Lacks, ItemKind::Member, format!("{path}/{}", m.name))
                        }
                    }
                }
                for x in lm.iter().filter(|x| !bm.iter().any(|m| m.name == x.name)) {
                    self.push(Side::Extra, ItemKind::Member, format!("{path}/{}", x.name));
                }
                for v in bv {
                    match lv.iter().find(|x| x.case == v.case) {
                        Some(x) => self.pair(&v.ty, &x.ty, &format!("{path}/+{}", v.case)),
                        None => {
                            self.push(Side::Lacks, ItemKind::Branch, format!("{path}/+{}", v.case))
                        }
                    }
                }
                for x in lv.iter().filter(|x| !bv.iter().any(|v| v.case == x.case)) {
                    self.push(Side::Extra, ItemKind::Branch, format!("{path}/+{}", x.case));
                }
            }
            (MetaType::Enum { members: bm }, MetaType::Enum { members: lm }) => {
                for m in bm.iter().filter(|m| !lm.iter().any(|x| x.name == m.name)) {
                    self.push(
                        Side::Lacks,
                        ItemKind::EnumValue,
                        format!("{path}/^{}", m.name),
                    );
                }
                for x in lm.iter().filter(|x| !bm.iter().any(|m| m.name == x.name)) {
                    self.push(
                        Side::Extra,
                        ItemKind::EnumValue,
                        format!("{path}/^{}", x.name),
                    );
                }
            }
            (MetaType::Array { element_type: be }, MetaType::Array { element_type: le }) => {
                self.pair(be, le, &format!("{path}/*"));
            }
            (MetaType::Alternate { members: bm }, MetaType::Alternate { members: lm }) => {
                // Branches pair up by built-in name or else meta-type (an alternate has at
                // most one branch of each JSON type).
                let key = |schema: &SchemaInfo, ty: &str| match schema.get(ty) {
                    Some(e) if matches!(e.meta, MetaType::Builtin { .. }) => e.name.clone(),
                    Some(e) => e.meta.name().to_owned(),
                    None => String::new(),
                };
                for b in bm {
                    let wanted = key(self.bindings, b);
                    if let Some(l) = lm.iter().find(|l| key(self.live, l) == wanted) {
                        self.pair(b, l, path);
                    }
                }
            }
            (MetaType::Builtin { .. }, MetaType::Builtin { .. }) if be.name == le.name => {}
            (bm, lm) => {
                let detail = format!(
                    "{} in the bindings, {} live",
                    describe(&be.name, bm),
                    describe(&le.name, lm)
                );
                self.items.push(SkewItem {
                    side: Side::Differs,
                    kind: ItemKind::Type,
                    path: path.to_owned(),
                    since: None,
                    detail: Some(detail),
                });
            }
        }
    }
}

fn describe(name: &str, meta: &MetaType) -> String {
    match meta {
        MetaType::Builtin { .. } => name.to_owned(),
        other => other.name().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_both_sides_by_path() {
        let bindings = SchemaInfo::from_value(&json!([
            {"name": "new-cmd", "meta-type": "command", "arg-type": "0", "ret-type": "0"},
            {"name": "cmd", "meta-type": "command", "arg-type": "1", "ret-type": "[2]"},
            {"name": "EV", "meta-type": "event", "arg-type": "0"},
            {"name": "0", "meta-type": "object", "members": []},
            {"name": "1", "meta-type": "object", "tag": "t",
             "members": [{"name": "t", "type": "2"}, {"name": "added", "type": "int"}],
             "variants": [{"case": "a", "type": "0"}, {"case": "b", "type": "0"}]},
            {"name": "[2]", "meta-type": "array", "element-type": "2"},
            {"name": "2", "meta-type": "enum", "members": [{"name": "a"}, {"name": "b"}]},
            {"name": "int", "meta-type": "builtin", "json-type": "int"}
        ]))
        .expect("valid");
        let live = SchemaInfo::from_value(&json!([
            {"name": "cmd", "meta-type": "command", "arg-type": "5", "ret-type": "[6]"},
            {"name": "old-cmd", "meta-type": "command", "arg-type": "0", "ret-type": "0"},
            {"name": "0", "meta-type": "object", "members": []},
            {"name": "5", "meta-type": "object", "tag": "t",
             "members": [{"name": "t", "type": "6"}, {"name": "gone", "type": "str"}],
             "variants": [{"case": "a", "type": "0"}]},
            {"name": "[6]", "meta-type": "array", "element-type": "6"},
            {"name": "6", "meta-type": "enum", "values": ["a", "c"]},
            {"name": "str", "meta-type": "builtin", "json-type": "string"}
        ]))
        .expect("valid");
        let mut skew = Skew::compare(&bindings, &live);
        skew.fill_since(|path| (path == "new-cmd").then(|| "9.0".to_owned()));
        let listed: Vec<(Side, ItemKind, &str)> = skew
            .items
            .iter()
            .map(|i| (i.side, i.kind, i.path.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                (Side::Lacks, ItemKind::Command, "new-cmd"),
                (Side::Lacks, ItemKind::EnumValue, "cmd/arg-type/t/^b"),
                (Side::Extra, ItemKind::EnumValue, "cmd/arg-type/t/^c"),
                (Side::Lacks, ItemKind::Member, "cmd/arg-type/added"),
                (Side::Extra, ItemKind::Member, "cmd/arg-type/gone"),
                (Side::Lacks, ItemKind::Branch, "cmd/arg-type/+b"),
                (Side::Extra, ItemKind::Command, "old-cmd"),
                (Side::Lacks, ItemKind::Event, "EV"),
            ]
        );
        assert_eq!(skew.items[0].since.as_deref(), Some("9.0"));
        assert!(
            skew.to_string().contains("  command new-cmd (since 9.0)\n"),
            "{skew}"
        );
    }
}
