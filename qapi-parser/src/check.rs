//! Schema checks (QEMU's `QAPISchema.check`): per entity in creation order, type resolution,
//! bases, member clashes, union and alternate rules, command and event rules, then the
//! connection of doc comments; afterwards the stale-doc check and the feature limit.

use std::collections::{HashMap, HashSet};

use crate::build::{describe, Built};
use crate::diag::Diag;
use crate::doc::DocBlock;
use crate::error::Error;
use crate::model::*;
use crate::source::Loc;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Unchecked,
    InProgress,
    Complete,
}

/// A member of an object type: owning entity and index in its `members`.
#[derive(Clone, Copy)]
struct MemberRef {
    owner: EntityId,
    index: usize,
}

/// Something a clash check or a message names, by position in the entities.
#[derive(Clone, Copy)]
enum Subject {
    Member(MemberRef),
    /// Value `index` of enum `owner`.
    Value {
        owner: EntityId,
        index: usize,
    },
    /// Branch `index` of union or alternate `owner`, defined in entity `defined_in`.
    Branch {
        owner: EntityId,
        index: usize,
        defined_in: EntityId,
    },
    /// Feature `index` of entity `owner`, or of its member `member`.
    Feature {
        owner: EntityId,
        member: Option<usize>,
        index: usize,
    },
}

/// Names seen so far in a clash check. Small sets compare mangled names in place; big ones
/// get a hash index. Branches are checked against what their union has seen, each on its
/// own: the set is cut back to its length before a branch, so index entries may point past
/// the end or at a later item, and a found item counts only if its name matches.
#[derive(Default)]
struct Seen {
    items: Vec<Subject>,
    index: Option<HashMap<String, usize>>,
}

/// Whether two names have the same C name (QEMU's `c_name`; since no valid name starts
/// with `q_`, comparing unprotected names is equivalent).
fn same_c_name(a: &str, b: &str) -> bool {
    let map = |c: u8| if c.is_ascii_alphanumeric() { c } else { b'_' };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| map(x) == map(y))
}

pub(crate) struct Checker<'c, 'a> {
    b: &'c mut Built,
    docs: &'c mut [DocBlock],
    diag: &'c Diag<'a>,
    pragmas: &'c Pragmas,
    legacy: bool,
    state: Vec<State>,
    /// All members (base chain first) of each checked object type: a range of
    /// `member_list`.
    all_members: Vec<std::ops::Range<usize>>,
    member_list: Vec<MemberRef>,
}

/// Runs every schema check; on success the entities are final.
pub(crate) fn check(
    b: &mut Built,
    docs: &mut [DocBlock],
    diag: &Diag<'_>,
    pragmas: &Pragmas,
    legacy: bool,
) -> Result<(), Error> {
    let n = b.entities.len();
    let mut c = Checker {
        b,
        docs,
        diag,
        pragmas,
        legacy,
        state: vec![State::Unchecked; n],
        all_members: vec![0..0; n],
        member_list: Vec::new(),
    };
    for i in (0..n).map(EntityId) {
        c.check_entity(i)?;
        c.connect_doc(i)?;
    }
    c.set_array_modules();
    c.check_docs()?;
    if let Some(loc) = c.b.feature_overflow {
        return Err(c
            .diag
            .error(loc, "Maximum of 64 schema features is permitted".into()));
    }
    Ok(())
}

impl Checker<'_, '_> {
    fn loc(&self, i: EntityId) -> Loc {
        // Only predefined entities lack a location, and they never fail a check.
        self.b.locs[i].unwrap_or(Loc { file: 0, line: 0 })
    }

    fn err(&self, i: EntityId, msg: String) -> Error {
        self.diag.error(self.loc(i), msg)
    }

    fn name(&self, i: EntityId) -> &str {
        self.b.entities[i].name()
    }

    /// QEMU's `lookup_type`: the entity, if it is a type.
    fn lookup_type(&self, name: &str) -> Option<EntityId> {
        self.b
            .index
            .get(name)
            .copied()
            .filter(|&i| self.b.entities[i].is_type())
    }

    fn object(&self, i: EntityId) -> Option<&ObjectType> {
        match &self.b.entities[i] {
            Entity::Object(o) => Some(o),
            _ => None,
        }
    }

    fn is_union(&self, i: EntityId) -> bool {
        self.object(i).is_some_and(|o| o.variants.is_some())
    }

    fn subject_name(&self, s: Subject) -> &str {
        let e = &self.b.entities;
        match s {
            Subject::Member(m) => match &e[m.owner] {
                Entity::Object(o) => &o.members[m.index].name,
                _ => "",
            },
            Subject::Value { owner, index } => match &e[owner] {
                Entity::Enum(en) => &en.values[index].name,
                _ => "",
            },
            Subject::Branch { owner, index, .. } => match &e[owner] {
                Entity::Object(ObjectType {
                    variants: Some(v), ..
                }) => &v.variants[index].name,
                Entity::Alternate(a) => &a.variants[index].name,
                _ => "",
            },
            Subject::Feature {
                owner,
                member: None,
                index,
            } => &e[owner].common().features[index].name,
            Subject::Feature {
                owner,
                member: Some(m),
                index,
            } => match &e[owner] {
                Entity::Object(o) => &o.members[m].features[index].name,
                _ => "",
            },
        }
    }

    /// QEMU's `QAPISchemaMember.describe(info)`.
    fn describe_subject(&self, s: Subject, at: Loc) -> String {
        let (role, owner) = match s {
            Subject::Member(m) => ("member", Some(m.owner)),
            Subject::Value { owner, .. } => ("value", Some(owner)),
            Subject::Branch { defined_in, .. } => ("branch", Some(defined_in)),
            Subject::Feature {
                owner,
                member: None,
                ..
            } => ("feature", Some(owner)),
            Subject::Feature {
                member: Some(_), ..
            } => ("feature", None),
        };
        let mut defined_in = match (owner, s) {
            (Some(owner), _) => self.name(owner),
            // QEMU names the member here, not the type declaring it.
            (
                None,
                Subject::Feature {
                    owner,
                    member: Some(m),
                    ..
                },
            ) => match &self.b.entities[owner] {
                Entity::Object(o) => o.members[m].name.as_str(),
                _ => "",
            },
            (None, _) => "",
        };
        let name = self.subject_name(s);
        let mut role = role.to_string();
        let mut meta = "type";
        // A member of an implicit type is described by what made the type.
        match owner.and_then(|o| self.b.entities[o].implicit()) {
            Some(Implicit::Arguments { of }) => {
                role = "parameter".into();
                meta = "command";
                defined_in = of;
            }
            Some(Implicit::UnionBase { of }) => {
                role = format!("base {role}");
                defined_in = of;
            }
            Some(Implicit::Wrapper { wrapped }) => {
                role = "branch".into();
                defined_in = wrapped;
            }
            _ => {}
        }
        if Some(defined_in) != self.diag.defn_name(at) {
            format!("{role} '{name}' of {meta} '{defined_in}'")
        } else {
            format!("{role} '{name}'")
        }
    }

    fn find_seen(&self, seen: &Seen, name: &str) -> Option<Subject> {
        match &seen.index {
            Some(index) => index
                .get(&crate::names::c_name_raw(name))
                .and_then(|&i| seen.items.get(i).copied())
                .filter(|&s| same_c_name(self.subject_name(s), name)),
            None => seen
                .items
                .iter()
                .copied()
                .find(|&s| same_c_name(self.subject_name(s), name)),
        }
    }

    /// QEMU's `check_clash`: adds `s` to `seen`, failing if its C name is taken.
    fn clash(&self, s: Subject, at: Loc, seen: &mut Seen) -> Result<(), Error> {
        let name = self.subject_name(s);
        if let Some(prev) = self.find_seen(seen, name) {
            return Err(self.diag.error(
                at,
                format!(
                    "{} collides with {}",
                    self.describe_subject(s, at),
                    self.describe_subject(prev, at)
                ),
            ));
        }
        seen.items.push(s);
        let i = seen.items.len() - 1;
        match &mut seen.index {
            Some(index) => {
                index.insert(crate::names::c_name_raw(name), i);
            }
            None if seen.items.len() > 24 => {
                let index = seen
                    .items
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| (crate::names::c_name_raw(self.subject_name(s)), i))
                    .collect();
                seen.index = Some(index);
            }
            None => {}
        }
        Ok(())
    }

    /// Features of entity `owner` (or of its member `member`) must not clash.
    fn features_clash(&self, owner: EntityId, member: Option<usize>, at: Loc) -> Result<(), Error> {
        let count = match member {
            None => self.b.entities[owner].common().features.len(),
            Some(m) => match &self.b.entities[owner] {
                Entity::Object(o) => o.members[m].features.len(),
                _ => 0,
            },
        };
        let mut seen = Seen::default();
        for index in 0..count {
            self.clash(
                Subject::Feature {
                    owner,
                    member,
                    index,
                },
                at,
                &mut seen,
            )?;
        }
        Ok(())
    }

    /// What every definition checks first: feature clashes, and for types no special
    /// features.
    fn definition_common(&self, i: EntityId) -> Result<(), Error> {
        let e = &self.b.entities[i];
        let c = e.common();
        self.features_clash(i, None, self.loc(i))?;
        if matches!(
            e,
            Entity::Enum(_) | Entity::Object(_) | Entity::Alternate(_) | Entity::Array(_)
        ) {
            if let Some(f) = c.features.iter().find(|f| f.is_special()) {
                return Err(self.err(
                    i,
                    format!("feature '{}' is not supported for types", f.name),
                ));
            }
        }
        Ok(())
    }

    fn check_entity(&mut self, i: EntityId) -> Result<(), Error> {
        match &self.b.entities[i] {
            Entity::Builtin(_) | Entity::Include(_) => Ok(()),
            Entity::Enum(e) => {
                self.definition_common(i)?;
                let mut seen = Seen::default();
                for index in 0..e.values.len() {
                    self.clash(Subject::Value { owner: i, index }, self.loc(i), &mut seen)?;
                }
                Ok(())
            }
            Entity::Array(a) => {
                let Some(element) = self.lookup_type(&a.element) else {
                    let meta = self.diag.defn_meta(self.loc(i)).unwrap_or("None");
                    return Err(self.err(i, format!("{meta} uses unknown type '{}'", a.element)));
                };
                if let Entity::Array(inner) = &self.b.entities[element] {
                    // QEMU cannot represent arrays of arrays (it asserts).
                    return Err(self.err(
                        i,
                        format!("array of {} is not supported", describe_array(inner)),
                    ));
                }
                Ok(())
            }
            Entity::Object(_) => self.check_object(i),
            Entity::Alternate(_) => self.check_alternate(i),
            Entity::Command(_) | Entity::Event(_) => self.check_routine(i),
        }
    }

    /// QEMU's `QAPISchemaObjectType.check`.
    fn check_object(&mut self, i: EntityId) -> Result<(), Error> {
        match self.state[i] {
            State::Complete => return Ok(()),
            State::InProgress => {
                return Err(self.err(i, format!("object {} contains itself", self.name(i))))
            }
            State::Unchecked => {}
        }
        self.state[i] = State::InProgress;
        self.definition_common(i)?;
        let at = self.loc(i);
        let o = self
            .object(i)
            .ok_or_else(|| self.err(i, "internal: not an object".into()))?;
        let nmembers = o.members.len();
        let base = match o.base.as_deref() {
            None => None,
            Some(name) => match self.lookup_type(name) {
                Some(b) => Some(b),
                None => return Err(self.err(i, format!("'base' uses unknown type '{name}'"))),
            },
        };
        let mut seen = Seen::default();
        if let Some(b) = base {
            if self.object(b).is_none() || self.is_union(b) {
                return Err(self.err(
                    i,
                    format!(
                        "'base' requires a struct type, {} isn't",
                        describe(&self.b.entities[b])
                    ),
                ));
            }
            self.check_object(b)?;
            seen.items.reserve(self.all_members[b].len() + nmembers);
            self.object_clash(b, at, &mut seen)?;
        } else {
            seen.items.reserve(nmembers);
        }
        for k in 0..nmembers {
            let subject = Subject::Member(MemberRef { owner: i, index: k });
            let ty = match self.object(i) {
                Some(o) => o.members[k].ty.as_str(),
                None => "",
            };
            if self.lookup_type(ty).is_none() {
                return Err(self.diag.error(
                    at,
                    format!(
                        "{} uses unknown type '{ty}'",
                        self.describe_subject(subject, at)
                    ),
                ));
            }
            self.features_clash(i, Some(k), at)?;
            self.clash(subject, at, &mut seen)?;
        }
        let first = self.member_list.len();
        self.member_list
            .extend(seen.items.iter().filter_map(|s| match s {
                Subject::Member(m) => Some(*m),
                _ => None,
            }));
        self.all_members[i] = first..self.member_list.len();
        if self.is_union(i) {
            self.check_branches(i, &seen)?;
            let branches = self.branches(i).unwrap_or_default();
            let len = seen.items.len();
            for branch in branches {
                if let Some(t) = self.lookup_type(&branch.ty) {
                    self.object_clash(t, at, &mut seen)?;
                    seen.items.truncate(len);
                }
            }
        }
        self.state[i] = State::Complete;
        Ok(())
    }

    /// QEMU's `QAPISchemaObjectType.check_clash`: all members of `t`, then each branch.
    fn object_clash(&self, t: EntityId, at: Loc, seen: &mut Seen) -> Result<(), Error> {
        for &m in &self.member_list[self.all_members[t].clone()] {
            self.clash(Subject::Member(m), at, seen)?;
        }
        if let Some(v) = self.object(t).and_then(|o| o.variants.as_ref()) {
            let len = seen.items.len();
            for variant in &v.variants {
                if let Some(vt) = self.lookup_type(&variant.ty) {
                    self.object_clash(vt, at, seen)?;
                    seen.items.truncate(len);
                }
            }
        }
        Ok(())
    }

    /// QEMU's `QAPISchemaBranches.check`.
    fn check_branches(&mut self, i: EntityId, seen: &Seen) -> Result<(), Error> {
        let at = self.loc(i);
        let tag = match self.object(i).and_then(|o| o.variants.as_ref()) {
            Some(v) => v.tag.clone(),
            None => return Ok(()),
        };
        let mref = match self.find_seen(seen, &tag) {
            Some(Subject::Member(m)) if self.subject_name(Subject::Member(m)) == tag => m,
            _ => {
                return Err(self.err(
                    i,
                    format!("discriminator '{tag}' is not a member of 'base'"),
                ))
            }
        };
        let tag_owner = self.name(mref.owner);
        let base_desc = if self.b.entities[mref.owner].implicit().is_some() {
            "'base'".to_string()
        } else {
            format!("base type '{tag_owner}'")
        };
        let (tag_ty, optional, conditional) = match &self.b.entities[mref.owner] {
            Entity::Object(o) => {
                let m = &o.members[mref.index];
                (m.ty.clone(), m.optional, m.ifcond.is_some())
            }
            _ => return Err(self.err(i, "internal: discriminator owner".into())),
        };
        let enum_index = self
            .lookup_type(&tag_ty)
            .filter(|&t| matches!(self.b.entities[t], Entity::Enum(_)));
        let Some(enum_index) = enum_index else {
            return Err(self.err(
                i,
                format!("discriminator member '{tag}' of {base_desc} must be of enum type"),
            ));
        };
        if optional {
            return Err(self.err(
                i,
                format!("discriminator member '{tag}' of {base_desc} must not be optional"),
            ));
        }
        if conditional {
            return Err(self.err(
                i,
                format!("discriminator member '{tag}' of {base_desc} must not be conditional"),
            ));
        }
        // Enum values without a branch get an empty one (borrowed, not copied: unions and
        // their enums can be big).
        let implicit: Vec<Variant> = match (&self.b.entities[enum_index], self.branches(i)) {
            (Entity::Enum(e), Some(branches)) => {
                let cases: HashSet<&str> = branches.iter().map(|b| b.name.as_str()).collect();
                e.values
                    .iter()
                    .filter(|value| !cases.contains(value.name.as_str()))
                    .map(|value| Variant {
                        name: value.name.clone(),
                        ty: "q_empty".into(),
                        ifcond: value.ifcond.clone(),
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let explicit_count = {
            let Some(Entity::Object(o)) = self.b.entities.get_mut(i.0) else {
                return Ok(());
            };
            let Some(v) = o.variants.as_mut() else {
                return Ok(());
            };
            let explicit_count = v.variants.len();
            v.variants.extend(implicit);
            explicit_count
        };
        let is_value: Vec<bool> = match (&self.b.entities[enum_index], self.branches(i)) {
            (Entity::Enum(e), Some(branches)) => {
                let values: HashSet<&str> = e.values.iter().map(|v| v.name.as_str()).collect();
                branches
                    .iter()
                    .map(|b| values.contains(b.name.as_str()))
                    .collect()
            }
            _ => Vec::new(),
        };
        if is_value.is_empty() {
            return Err(self.err(i, "union has no branches".into()));
        }
        for (k, &is_value) in is_value.iter().enumerate() {
            let d = Subject::Branch {
                owner: i,
                index: k,
                defined_in: if k < explicit_count { i } else { mref.owner },
            };
            let branch = self.branches(i).and_then(|b| b.get(k));
            let ty = branch.map_or("", |b| b.ty.as_str());
            let Some(t) = self.lookup_type(ty) else {
                return Err(self.diag.error(
                    at,
                    format!("{} uses unknown type '{ty}'", self.describe_subject(d, at)),
                ));
            };
            if !is_value {
                return Err(self.err(
                    i,
                    format!(
                        "branch '{}' is not a value of {}",
                        branch.map_or("", |b| b.name.as_str()),
                        describe(&self.b.entities[enum_index])
                    ),
                ));
            }
            if self.object(t).is_none() {
                return Err(self.err(
                    i,
                    format!(
                        "{} cannot use {}",
                        self.describe_subject(d, at),
                        describe(&self.b.entities[t])
                    ),
                ));
            }
            self.check_object(t)?;
        }
        Ok(())
    }

    /// The branches of union `i`.
    fn branches(&self, i: EntityId) -> Option<&[Variant]> {
        self.object(i)
            .and_then(|o| o.variants.as_ref())
            .map(|v| v.variants.as_slice())
    }

    /// QEMU's `QAPISchemaAlternateType.check`.
    fn check_alternate(&mut self, i: EntityId) -> Result<(), Error> {
        self.definition_common(i)?;
        let at = self.loc(i);
        let variants = match &self.b.entities[i] {
            Entity::Alternate(a) => a.variants.clone(),
            _ => return Ok(()),
        };
        let branch = |index| Subject::Branch {
            owner: i,
            index,
            defined_in: i,
        };
        let describe_branch = |this: &Self, index| this.describe_subject(branch(index), at);
        let mut types = Vec::with_capacity(variants.len());
        for (k, v) in variants.iter().enumerate() {
            match self.lookup_type(&v.ty) {
                Some(t) => types.push(t),
                None => {
                    return Err(self.diag.error(
                        at,
                        format!("{} uses unknown type '{}'", describe_branch(self, k), v.ty),
                    ))
                }
            }
        }
        let mut seen = Seen::default();
        let mut types_seen: Vec<(&'static str, String)> = Vec::new();
        for (k, (v, &t)) in variants.iter().zip(&types).enumerate() {
            self.clash(branch(k), at, &mut seen)?;
            let Some(qtype) = self.alternate_qtype(t) else {
                return Err(self.diag.error(
                    at,
                    format!(
                        "{} cannot use {}",
                        describe_branch(self, k),
                        describe(&self.b.entities[t])
                    ),
                ));
            };
            let mut conflicting = vec![qtype];
            if qtype == "QTYPE_QSTRING" {
                if let Entity::Enum(e) = &self.b.entities[t] {
                    for m in &e.values {
                        if m.name == "on" || m.name == "off" {
                            conflicting.push("QTYPE_QBOOL");
                        }
                        if m.name.starts_with(['-', '+', '.'])
                            || m.name.starts_with(|c: char| c.is_ascii_digit())
                        {
                            conflicting.push("QTYPE_QNUM");
                        }
                    }
                } else {
                    conflicting.push("QTYPE_QNUM");
                    conflicting.push("QTYPE_QBOOL");
                }
            }
            let mut done: Vec<&str> = Vec::new();
            for qt in conflicting {
                if done.contains(&qt) {
                    continue;
                }
                done.push(qt);
                if let Some((_, other)) = types_seen.iter().find(|(q, _)| *q == qt) {
                    return Err(self.diag.error(
                        at,
                        format!(
                            "{} can't be distinguished from '{other}'",
                            describe_branch(self, k)
                        ),
                    ));
                }
                types_seen.push((qt, v.name.clone()));
            }
        }
        Ok(())
    }

    /// The JSON type class of an alternate branch type (QEMU's `alternate_qtype`).
    fn alternate_qtype(&self, t: EntityId) -> Option<&'static str> {
        Some(match &self.b.entities[t] {
            Entity::Builtin(b) => match b.kind {
                BuiltinKind::Str => "QTYPE_QSTRING",
                BuiltinKind::Bool => "QTYPE_QBOOL",
                BuiltinKind::Null => "QTYPE_QNULL",
                BuiltinKind::Any => return None,
                _ => "QTYPE_QNUM",
            },
            Entity::Enum(_) => "QTYPE_QSTRING",
            Entity::Array(_) => "QTYPE_QLIST",
            Entity::Object(_) => "QTYPE_QDICT",
            _ => return None,
        })
    }

    /// QEMU's `QAPISchemaCommand.check` and `QAPISchemaEvent.check`.
    fn check_routine(&mut self, i: EntityId) -> Result<(), Error> {
        self.definition_common(i)?;
        let (what, boxed) = match &self.b.entities[i] {
            Entity::Command(c) => ("command", c.boxed),
            Entity::Event(e) => ("event", e.boxed),
            _ => return Ok(()),
        };
        if let Some(arg) = self.routine_types(i).0 {
            let Some(t) = self.lookup_type(arg) else {
                return Err(self.err(i, format!("{what}'s 'data' uses unknown type '{arg}'")));
            };
            if self.object(t).is_none() {
                let desc = describe(&self.b.entities[t]);
                return Err(self.err(i, format!("{what}'s 'data' cannot take {desc}")));
            }
            if self.is_union(t) && !boxed {
                let desc = describe(&self.b.entities[t]);
                return Err(self.err(
                    i,
                    format!("{what}'s 'data' can take {desc} only with 'boxed': true"),
                ));
            }
            self.check_object(t)?;
            let conditional = self.member_list[self.all_members[t].clone()].iter().any(|m| {
                matches!(&self.b.entities[m.owner], Entity::Object(o) if o.members[m.index].ifcond.is_some())
            });
            // QEMU before 9.1 allowed conditional arguments without 'boxed'.
            if conditional && !boxed && !self.legacy {
                return Err(self.err(
                    i,
                    format!("conditional {what} arguments require 'boxed': true"),
                ));
            }
        }
        if let Some(ret) = self.routine_types(i).1 {
            let Some(t) = self.lookup_type(ret) else {
                return Err(self.err(i, format!("command's 'returns' uses unknown type '{ret}'")));
            };
            let excepted = self.legacy
                || self
                    .pragmas
                    .command_returns_exceptions
                    .iter()
                    .any(|n| n == self.name(i));
            if !excepted {
                let mut typ = Some(t);
                if let Entity::Array(a) = &self.b.entities[t] {
                    typ = self.lookup_type(&a.element);
                }
                if typ.and_then(|t| self.object(t)).is_none() {
                    return Err(self.err(
                        i,
                        format!(
                            "command's 'returns' cannot take {}",
                            describe(&self.b.entities[t])
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The argument and return types of command or event `i`.
    fn routine_types(&self, i: EntityId) -> (Option<&str>, Option<&str>) {
        match &self.b.entities[i] {
            Entity::Command(c) => (c.arg_type.as_deref(), c.ret_type.as_deref()),
            Entity::Event(e) => (e.arg_type.as_deref(), None),
            _ => (None, None),
        }
    }

    /// Matches the entity's members and features to its doc block (QEMU's `connect_doc`).
    fn connect_doc(&mut self, i: EntityId) -> Result<(), Error> {
        let Some(d) = self.b.entities[i].common().doc else {
            return Ok(());
        };
        let at = self.loc(i);
        let entities = &self.b.entities;
        let index = &self.b.index;
        // The implicit object type `name`, whose members the owner documents.
        let implicit = |name: Option<&str>| {
            name.and_then(|n| index.get(n))
                .and_then(|&t| match &entities[t] {
                    Entity::Object(o) if o.is_implicit() => Some(o),
                    _ => None,
                })
        };
        // (is a feature, role, name), in QEMU's connection order.
        let mut wanted: Vec<(bool, &'static str, &str)> = Vec::new();
        let e = &entities[i];
        for f in &e.common().features {
            wanted.push((true, "feature", &f.name));
        }
        fn object_members<'e>(o: &'e ObjectType, wanted: &mut Vec<(bool, &'static str, &'e str)>) {
            for m in &o.members {
                wanted.push((false, "member", &m.name));
                for f in &m.features {
                    wanted.push((true, "feature", &f.name));
                }
            }
        }
        match e {
            Entity::Enum(en) => {
                for v in &en.values {
                    wanted.push((false, "value", &v.name));
                    for f in &v.features {
                        wanted.push((true, "feature", &f.name));
                    }
                }
            }
            Entity::Object(o) => {
                if let Some(b) = implicit(o.base.as_deref()) {
                    object_members(b, &mut wanted);
                }
                object_members(o, &mut wanted);
            }
            Entity::Alternate(a) => {
                for v in &a.variants {
                    wanted.push((false, "branch", &v.name));
                }
            }
            Entity::Command(Command { arg_type, .. }) | Entity::Event(Event { arg_type, .. }) => {
                if let Some(o) = implicit(arg_type.as_deref()) {
                    object_members(o, &mut wanted);
                }
            }
            _ => {}
        }
        let doc = &mut self.docs[d];
        let excepted = self.legacy
            || doc
                .symbol
                .as_ref()
                .is_some_and(|s| self.pragmas.documentation_exceptions.contains(s));
        for (feature, role, name) in wanted {
            match doc.find(feature, name) {
                Some(s) => doc.sections[s].connected = true,
                None if feature => {
                    if !self.legacy {
                        return Err(self
                            .diag
                            .error(at, format!("feature '{name}' lacks documentation")));
                    }
                }
                None => {
                    if !excepted {
                        return Err(self
                            .diag
                            .error(at, format!("{role} '{name}' lacks documentation")));
                    }
                    doc.add_stub(name);
                }
            }
        }
        Ok(())
    }

    /// Arrays live in their element type's module.
    fn set_array_modules(&mut self) {
        for i in 0..self.b.entities.len() {
            let module = match &self.b.entities[i] {
                Entity::Array(a) => self
                    .lookup_type(&a.element)
                    .map(|t| self.b.entities[t].common().module.clone()),
                _ => continue,
            };
            if let (Some(module), Entity::Array(a)) = (module, &mut self.b.entities[i]) {
                a.common.module = module;
            }
        }
    }

    /// Every description must belong to something (QEMU's `QAPIDoc.check`).
    fn check_docs(&mut self) -> Result<(), Error> {
        for doc in self.docs.iter_mut() {
            for (features, what) in [(false, "member"), (true, "feature")] {
                let list = if features { &doc.features } else { &doc.args };
                let bogus: Vec<usize> = list
                    .iter()
                    .copied()
                    .filter(|&s| !doc.sections[s].connected && !doc.sections[s].dropped)
                    .collect();
                if bogus.is_empty() {
                    continue;
                }
                if self.legacy {
                    legacy_stale(doc, features, &bogus);
                    continue;
                }
                let names: Vec<&str> = bogus
                    .iter()
                    .map(|&s| doc.sections[s].name.as_str())
                    .collect();
                let many = names.len() > 1;
                return Err(self.diag.error(
                    doc.sections[bogus[0]].loc,
                    format!(
                        "documented {what}{} '{}' {} not exist",
                        if many { "s" } else { "" },
                        names.join("', '"),
                        if many { "do" } else { "does" }
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn describe_array(a: &ArrayType) -> String {
    format!("array type ['{}']", a.element)
}

/// Legacy: stale descriptions are dropped, except that a single stale member description
/// next to a single undocumented member whose name contains it or is contained in it is
/// taken to describe that member (a renamed member, like `@filepath` for `path`).
fn legacy_stale(doc: &mut DocBlock, features: bool, bogus: &[usize]) {
    let stubs: Vec<usize> = doc
        .args
        .iter()
        .copied()
        .filter(|&s| doc.sections[s].stub && !doc.sections[s].dropped)
        .collect();
    let related = |a: &str, b: &str| a.contains(b) || b.contains(a);
    if !features
        && bogus.len() == 1
        && stubs.len() == 1
        && related(&doc.sections[bogus[0]].name, &doc.sections[stubs[0]].name)
    {
        let (stale, stub) = (bogus[0], stubs[0]);
        doc.sections[stale].name = doc.sections[stub].name.clone();
        doc.sections[stale].connected = true;
        doc.sections[stub].dropped = true;
        doc.args.retain(|&s| s != stub);
        return;
    }
    for &s in bogus {
        doc.sections[s].dropped = true;
    }
    let sections = &doc.sections;
    let list = if features {
        &mut doc.features
    } else {
        &mut doc.args
    };
    list.retain(|&s| !sections[s].dropped);
}
