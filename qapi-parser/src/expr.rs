//! Expression checks (QEMU's `expr.py`): per top-level definition, in source order, the shape
//! and name rules, producing typed, desugared definitions for the schema builder.

use std::fmt;

use crate::diag::Diag;
use crate::doc::DocBlock;
use crate::error::Error;
use crate::model::{Feature, IfCond, Pragmas};
use crate::names::{self, NameError};
use crate::parser::Expr;
use crate::source::Loc;
use crate::value::{same_str, Dict, Value};

/// The six kinds of definitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Meta {
    Enum,
    Struct,
    Union,
    Alternate,
    Command,
    Event,
}

impl Meta {
    pub const ALL: [Meta; 6] = [
        Meta::Enum,
        Meta::Struct,
        Meta::Union,
        Meta::Alternate,
        Meta::Command,
        Meta::Event,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Meta::Enum => "enum",
            Meta::Struct => "struct",
            Meta::Union => "union",
            Meta::Alternate => "alternate",
            Meta::Command => "command",
            Meta::Event => "event",
        }
    }
}

/// A type reference: a name, or `['T']` for an array of `T`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TypeRef {
    Name(String),
    Array(String),
    /// Legacy (QEMU 0.15-2.4): an anonymous struct written as a member's type.
    Nested(Box<NestedDef>),
}

/// Legacy: the members of an anonymous struct, which becomes the implicit object type
/// `q_obj_<of>-<member>-nested`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NestedDef {
    /// The definition whose inline members hold it.
    pub of: String,
    /// The member's name; a dotted path when nested in another anonymous struct.
    pub member: String,
    pub members: Vec<MemberDef>,
}

/// A member of a struct, argument list or inline base (key still carries its `*`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MemberDef {
    pub key: String,
    pub ty: TypeRef,
    pub ifcond: Option<IfCond>,
    pub features: Vec<Feature>,
}

/// A union or alternate branch.
#[derive(Clone, Debug)]
pub(crate) struct BranchDef {
    pub name: String,
    pub ty: TypeRef,
    pub ifcond: Option<IfCond>,
}

#[derive(Clone, Debug)]
pub(crate) struct EnumValueDef {
    pub name: String,
    pub ifcond: Option<IfCond>,
    pub features: Vec<Feature>,
}

/// A union's base.
#[derive(Clone, Debug)]
pub(crate) enum UnionBase {
    Named(String),
    Inline(Vec<MemberDef>),
    /// Legacy simple union (QEMU before 7.0): implicit `<Union>Kind` enum tag `type`, and
    /// each branch wrapped in an implicit struct with member `data`.
    Simple,
}

/// Command or event arguments.
#[derive(Clone, Debug)]
pub(crate) enum Data {
    Named(String),
    Inline(Vec<MemberDef>),
}

#[derive(Clone, Debug)]
pub(crate) enum DefKind {
    Enum {
        values: Vec<EnumValueDef>,
        prefix: Option<String>,
    },
    Struct {
        base: Option<String>,
        members: Vec<MemberDef>,
    },
    Union {
        base: UnionBase,
        tag: String,
        branches: Vec<BranchDef>,
    },
    Alternate {
        branches: Vec<BranchDef>,
    },
    Command {
        data: Option<Data>,
        returns: Option<TypeRef>,
        gen: bool,
        success_response: bool,
        boxed: bool,
        allow_oob: bool,
        allow_preconfig: bool,
        coroutine: bool,
    },
    Event {
        data: Option<Data>,
        boxed: bool,
    },
}

/// A checked definition.
#[derive(Clone, Debug)]
pub(crate) struct Def {
    pub name: String,
    pub loc: Loc,
    pub start: u32,
    pub end: u32,
    pub doc: Option<usize>,
    pub ifcond: Option<IfCond>,
    pub features: Vec<Feature>,
    pub kind: DefKind,
}

/// What the builder gets, in source order.
pub(crate) enum Item {
    Include {
        target: String,
        loc: Loc,
        start: u32,
        end: u32,
    },
    Def(Def),
}

const FLAG_KEYS: [&str; 6] = [
    "gen",
    "success-response",
    "boxed",
    "allow-oob",
    "allow-preconfig",
    "coroutine",
];

/// Runs QEMU's `check_exprs` over all expressions.
pub(crate) fn check_exprs<'a>(
    exprs: Vec<Expr<'a>>,
    docs: &mut [DocBlock],
    pragmas: &Pragmas,
    diag: &mut Diag<'a>,
    legacy: bool,
) -> Result<Vec<Item>, Error> {
    let mut items = Vec::with_capacity(exprs.len());
    for expr in exprs {
        if let Some(target) = expr.include {
            items.push(Item::Include {
                target,
                loc: expr.loc,
                start: expr.start,
                end: expr.end,
            });
            continue;
        }
        let def = check_expr(expr, docs, pragmas, diag, legacy)?;
        items.push(Item::Def(def));
    }
    Ok(items)
}

fn check_expr<'a>(
    expr: Expr<'a>,
    docs: &mut [DocBlock],
    pragmas: &Pragmas,
    diag: &mut Diag<'a>,
    legacy: bool,
) -> Result<Def, Error> {
    let loc = expr.loc;
    let mut dict = expr.value;
    if legacy {
        legacy_rewrite(&mut dict);
    }
    let mut metas = Meta::ALL.into_iter().filter(|m| dict.contains(m.as_str()));
    let (Some(meta), None) = (metas.next(), metas.next()) else {
        return Err(diag.error(
            loc,
            "expression must have exactly one key 'enum', 'struct', 'union', 'alternate', \
             'command', 'event'"
                .into(),
        ));
    };
    let Some(Value::Str(name)) = dict.get(meta.as_str()) else {
        return Err(diag.error(loc, format!("'{}' requires a string name", meta.as_str())));
    };
    diag.set_defn(loc, meta.as_str(), name.clone());
    let name = name.to_string();
    let cx = Checker {
        diag,
        loc,
        pragmas,
        legacy,
        defn: &name,
    };
    cx.defn_name(&name, meta)?;

    if let Some(d) = expr.doc {
        let doc = &mut docs[d];
        if doc.inferred || (legacy && doc.symbol.as_deref() != Some(name.as_str())) {
            doc.symbol = Some(name.clone());
        }
        if doc.symbol.as_deref() != Some(name.as_str()) {
            let sym = doc.symbol.clone().unwrap_or_default();
            return Err(cx.err(format!("documentation comment is for '{sym}'")));
        }
        cx.doc_sections(doc, meta, &dict)?;
    } else if pragmas.doc_required {
        return Err(cx.err("documentation comment required".into()));
    }

    let kind = match meta {
        Meta::Enum => {
            cx.keys(
                &dict,
                &"enum",
                &["enum", "data"],
                &["if", "features", "prefix"],
            )?;
            cx.enum_def(&dict, &name)?
        }
        Meta::Union => cx.union_def(&dict, &name)?,
        Meta::Alternate => {
            cx.keys(
                &dict,
                &"alternate",
                &["alternate", "data"],
                &["if", "features"],
            )?;
            DefKind::Alternate {
                branches: cx.alternate_branches(dict.get("data"))?,
            }
        }
        Meta::Struct => {
            cx.keys(
                &dict,
                &"struct",
                &["struct", "data"],
                &["base", "if", "features"],
            )?;
            let permissive = cx.permissive(&name);
            let members = cx.implicit_members(dict.get("data"), "'data'", permissive)?;
            let base = match dict.get("base") {
                None => None,
                // QEMU tests type names for truth: an empty one means none.
                Some(Value::Str(b)) if b.is_empty() => None,
                Some(Value::Str(b)) => Some(b.to_string()),
                Some(_) => return Err(cx.err("'base' should be a type name".into())),
            };
            DefKind::Struct {
                base,
                members: members.unwrap_or_default(),
            }
        }
        Meta::Command => {
            cx.keys(
                &dict,
                &"command",
                &["command"],
                &[
                    "data",
                    "returns",
                    "boxed",
                    "if",
                    "features",
                    "gen",
                    "success-response",
                    "allow-oob",
                    "allow-preconfig",
                    "coroutine",
                ],
            )?;
            let data = cx.arguments(&dict)?;
            let returns = cx.type_name_or_array(dict.get("returns"), Src("'returns'", None))?;
            // QEMU tests the return type name for truth: an empty one means none.
            let returns = returns.filter(|r| !matches!(r, TypeRef::Name(n) if n.is_empty()));
            DefKind::Command {
                data,
                returns,
                gen: !is_false(&dict, "gen"),
                success_response: !is_false(&dict, "success-response"),
                boxed: is_true(&dict, "boxed"),
                allow_oob: is_true(&dict, "allow-oob"),
                allow_preconfig: is_true(&dict, "allow-preconfig"),
                coroutine: is_true(&dict, "coroutine"),
            }
        }
        Meta::Event => {
            cx.keys(
                &dict,
                &"event",
                &["event"],
                &["data", "boxed", "if", "features"],
            )?;
            let data = cx.arguments(&dict)?;
            DefKind::Event {
                data,
                boxed: is_true(&dict, "boxed"),
            }
        }
    };
    let ifcond = cx.ifcond(&dict, Src(meta.as_str(), None))?;
    let features = cx.features(dict.get("features"))?;
    cx.flags(&dict)?;
    Ok(Def {
        name,
        loc,
        start: expr.start,
        end: expr.end,
        doc: expr.doc,
        ifcond,
        features,
        kind,
    })
}

fn is_true(dict: &Dict<'_>, key: &str) -> bool {
    matches!(dict.get(key), Some(Value::Bool(true)))
}

fn is_false(dict: &Dict<'_>, key: &str) -> bool {
    matches!(dict.get(key), Some(Value::Bool(false)))
}

/// Legacy spellings rewritten before any check: `'type'` for `'struct'`, and `'yes'`/`'no'`
/// flag values.
fn legacy_rewrite(dict: &mut Dict<'_>) {
    if !Meta::ALL.iter().any(|m| dict.contains(m.as_str())) && dict.contains("type") {
        dict.rename("type", "struct");
    }
    for (key, value) in &mut dict.entries {
        if FLAG_KEYS.contains(&key.as_ref()) {
            match value.as_str() {
                Some("no") => *value = Value::Bool(false),
                Some("yes") => *value = Value::Bool(true),
                _ => {}
            }
        }
    }
}

/// Legacy (QEMU 1.x-2.4) spellings of the `any` type.
fn legacy_type_name(name: &str) -> &str {
    match name {
        "visitor" | "dict" | "**" => "any",
        other => other,
    }
}

/// What a message is about, such as `struct` or `'data' member 'x'`; formatted only when an
/// error is reported.
#[derive(Clone, Copy)]
struct Src<'s>(&'s str, Option<&'s str>);

impl fmt::Display for Src<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(name) => write!(f, "{} '{name}'", self.0),
            None => f.write_str(self.0),
        }
    }
}

/// `'if' condition of <source>`.
struct IfOf<'s>(Src<'s>);

impl fmt::Display for IfOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'if' condition of {}", self.0)
    }
}

/// The checks of one definition, with its location and the pragmas at hand.
struct Checker<'d, 'a> {
    diag: &'d Diag<'a>,
    loc: Loc,
    pragmas: &'d Pragmas,
    legacy: bool,
    /// The definition's name.
    defn: &'d str,
}

impl Checker<'_, '_> {
    fn err(&self, msg: String) -> Error {
        self.diag.error(self.loc, msg)
    }

    fn permissive(&self, owner: &str) -> bool {
        self.legacy
            || self
                .pragmas
                .member_name_exceptions
                .iter()
                .any(|n| n == owner)
    }

    fn name_error(&self, e: NameError, source: Src<'_>, case_msg: &str) -> Error {
        match e {
            NameError::Invalid => self.err(format!("{source} has an invalid name")),
            NameError::Case => self.err(format!("name of {source} {case_msg}")),
        }
    }

    fn lower(
        &self,
        name: &str,
        source: Src<'_>,
        upper: bool,
        underscore: bool,
    ) -> Result<(), Error> {
        // Legacy members, values, branches and definitions: QEMU 2.4's shape will do.
        if self.legacy && upper && underscore && crate::legacy::old_name(name) {
            return Ok(());
        }
        names::check_lower(name, upper, underscore)
            .map_err(|e| self.name_error(e, source, "must not use uppercase or '_'"))
    }

    /// QEMU's `check_defn_name_str`.
    fn defn_name(&self, name: &str, meta: Meta) -> Result<(), Error> {
        let source = Src(meta.as_str(), None);
        if self.legacy {
            // QEMU before 6.0 checked only the shape of definition names, not their case.
            self.lower(name, source, true, true)?;
            if !matches!(meta, Meta::Event | Meta::Command) && name.ends_with("List") {
                return Err(self.err(format!("{source} name should not end in 'List'")));
            }
            return Ok(());
        }
        match meta {
            Meta::Event => names::check_upper(name)
                .map_err(|e| self.name_error(e, source, "must not use lowercase or '-'")),
            Meta::Command => {
                let underscore = self.legacy
                    || self
                        .pragmas
                        .command_name_exceptions
                        .iter()
                        .any(|n| n == name);
                self.lower(name, source, false, underscore)
            }
            _ => {
                names::check_camel(name)
                    .map_err(|e| self.name_error(e, source, "must use CamelCase"))?;
                if name.ends_with("List") {
                    return Err(self.err(format!("{source} name should not end in 'List'")));
                }
                Ok(())
            }
        }
    }

    /// Doc checks made here: `Returns:`/`Errors:` placement.
    fn doc_sections(&self, doc: &mut DocBlock, meta: Meta, dict: &Dict<'_>) -> Result<(), Error> {
        let command = meta == Meta::Command;
        let bad_returns = doc
            .returns()
            .filter(|_| !command || !dict.contains("returns"))
            .map(|s| s.loc);
        let bad_errors = doc.errors().filter(|_| !command).map(|s| s.loc);
        if self.legacy {
            // Old docs put these anywhere: keep the text as a plain paragraph.
            if bad_returns.is_some() {
                doc.demote(true);
            }
            if bad_errors.is_some() {
                doc.demote(false);
            }
            return Ok(());
        }
        if let Some(loc) = bad_returns {
            let msg = if command {
                "'Returns' section, but command doesn't return anything"
            } else {
                "'Returns' section is only valid for commands"
            };
            return Err(self.diag.error(loc, msg.into()));
        }
        if let Some(loc) = bad_errors {
            return Err(self
                .diag
                .error(loc, "'Errors' section is only valid for commands".into()));
        }
        Ok(())
    }

    /// QEMU's `check_keys`: missing keys first, then unknown keys.
    fn keys(
        &self,
        dict: &Dict<'_>,
        source: &dyn fmt::Display,
        required: &[&str],
        optional: &[&str],
    ) -> Result<(), Error> {
        let quote = |mut v: Vec<&str>| {
            v.sort_unstable();
            v.iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|k| !dict.contains(k))
            .collect();
        if !missing.is_empty() {
            let s = if missing.len() > 1 { "s" } else { "" };
            return Err(self.err(format!("{source} misses key{s} {}", quote(missing))));
        }
        let unknown: Vec<&str> = dict
            .keys()
            .filter(|k| !required.iter().chain(optional).any(|r| same_str(r, k)))
            .collect();
        if !unknown.is_empty() {
            let s = if unknown.len() > 1 { "s" } else { "" };
            let allowed: Vec<&str> = required.iter().chain(optional).copied().collect();
            return Err(self.err(format!(
                "{source} has unknown key{s} {}\nValid keys are {}.",
                quote(unknown),
                quote(allowed)
            )));
        }
        Ok(())
    }

    /// QEMU's `check_if` on the `if` key of `dict`.
    fn ifcond(&self, dict: &Dict<'_>, source: Src<'_>) -> Result<Option<IfCond>, Error> {
        match dict.get("if") {
            None => Ok(None),
            Some(v) => self.cond(v, source).map(Some),
        }
    }

    /// QEMU's `_check_if`: validates depth-first, left to right (QEMU's error order), with
    /// an explicit stack since conditions may nest deeply; then builds the condition.
    fn cond(&self, root: &Value<'_>, source: Src<'_>) -> Result<IfCond, Error> {
        let mut todo = vec![root];
        while let Some(v) = todo.pop() {
            match v {
                Value::Str(s) => {
                    let valid = is_cond_identifier(s)
                        || (self.legacy && crate::legacy::c_condition(s).is_some());
                    if !valid {
                        return Err(self.err(format!(
                            "'if' condition '{s}' of {source} is not a valid identifier"
                        )));
                    }
                }
                // QEMU 3.0-6.0: a list of conditions that must all hold.
                Value::List(items) if self.legacy && !items.is_empty() => {
                    todo.extend(items.iter().rev());
                }
                Value::Dict(d) => {
                    self.keys(d, &IfOf(source), &[], &["all", "any", "not"])?;
                    if d.len() != 1 {
                        return Err(
                            self.err(format!("'if' condition of {source} has conflicting keys"))
                        );
                    }
                    let (op, operand) = &d.entries[0];
                    if op == "not" {
                        todo.push(operand);
                        continue;
                    }
                    let Value::List(items) = operand else {
                        return Err(
                            self.err(format!("'{op}' condition of {source} must be an array"))
                        );
                    };
                    if items.is_empty() {
                        return Err(self.err(format!("'if' condition [] of {source} is useless")));
                    }
                    todo.extend(items.iter().rev());
                }
                _ => {
                    return Err(self.err(format!(
                        "'if' condition of {source} must be a string or an object"
                    )))
                }
            }
        }
        Ok(build_cond(root))
    }

    /// QEMU's `check_features`.
    fn features(&self, value: Option<&Value<'_>>) -> Result<Vec<Feature>, Error> {
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let Value::List(items) = value else {
            return Err(self.err("'features' must be an array".into()));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let source = "'features' member";
            let (name, ifcond) = match item {
                Value::Dict(d) => {
                    self.keys(d, &source, &["name"], &["if"])?;
                    let Some(Value::Str(name)) = d.get("name") else {
                        return Err(self.err(format!("{source} requires a string name")));
                    };
                    let source = Src(source, Some(name));
                    self.lower(name, source, false, false)?;
                    (name.to_string(), self.ifcond(d, source)?)
                }
                Value::Str(name) => {
                    self.lower(name, Src(source, Some(name)), false, false)?;
                    (name.to_string(), None)
                }
                _ => return Err(self.err(format!("{source} requires a string name"))),
            };
            out.push(Feature { name, ifcond });
        }
        Ok(out)
    }

    /// QEMU's `check_flags`.
    fn flags(&self, dict: &Dict<'_>) -> Result<(), Error> {
        for key in ["gen", "success-response"] {
            if dict.get(key).is_some_and(|v| *v != Value::Bool(false)) {
                return Err(self.err(format!("flag '{key}' may only use false value")));
            }
        }
        for key in ["boxed", "allow-oob", "allow-preconfig", "coroutine"] {
            if dict.get(key).is_some_and(|v| *v != Value::Bool(true)) {
                return Err(self.err(format!("flag '{key}' may only use true value")));
            }
        }
        if dict.contains("allow-oob") && dict.contains("coroutine") {
            return Err(self.err("flags 'allow-oob' and 'coroutine' are incompatible".into()));
        }
        Ok(())
    }

    fn type_ref(&self, name: &str) -> String {
        if self.legacy {
            legacy_type_name(name).to_string()
        } else {
            name.to_string()
        }
    }

    /// QEMU's `check_type_name_or_array`; `None` when the value is absent.
    fn type_name_or_array(
        &self,
        value: Option<&Value<'_>>,
        source: Src<'_>,
    ) -> Result<Option<TypeRef>, Error> {
        match value {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(TypeRef::Name(self.type_ref(s)))),
            Some(Value::List(items)) => match &items[..] {
                [Value::Str(s)] => Ok(Some(TypeRef::Array(self.type_ref(s)))),
                _ => Err(self.err(format!(
                    "{source}: array type must contain single type name"
                ))),
            },
            Some(_) => Err(self.err(format!("{source} should be a type name or array"))),
        }
    }

    /// A member or branch value, long form or short form: its dict view (`None` for the
    /// short form) and its `type` value.
    fn long_form<'v, 'a>(
        &self,
        value: &'v Value<'a>,
        source: Src<'_>,
        optional: &[&str],
    ) -> Result<(Option<&'v Dict<'a>>, &'v Value<'a>), Error> {
        match value {
            Value::Dict(d) => {
                self.keys(d, &source, &["type"], optional)?;
                match d.get("type") {
                    Some(ty) => Ok((Some(d), ty)),
                    None => Err(self.err(format!("{source} misses key 'type'"))),
                }
            }
            other => Ok((None, other)),
        }
    }

    /// QEMU's `check_type_implicit`: an inline members object (`None` when absent).
    fn implicit_members(
        &self,
        value: Option<&Value<'_>>,
        source: &'static str,
        permissive: bool,
    ) -> Result<Option<Vec<MemberDef>>, Error> {
        self.members_at(value, source, permissive, "")
    }

    /// [`Self::implicit_members`] of the definition, or (legacy) of the anonymous struct at
    /// the member path `path`.
    fn members_at(
        &self,
        value: Option<&Value<'_>>,
        source: &'static str,
        permissive: bool,
        path: &str,
    ) -> Result<Option<Vec<MemberDef>>, Error> {
        let Some(value) = value else {
            return Ok(None);
        };
        let Value::Dict(dict) = value else {
            return Err(self.err(format!("{source} should be an object or type name")));
        };
        let mut members = Vec::with_capacity(dict.len());
        for (key, arg) in &dict.entries {
            let key_source = Src(
                if source == "'base'" {
                    "'base' member"
                } else {
                    "'data' member"
                },
                Some(key),
            );
            let name = key.strip_prefix('*').unwrap_or(key);
            self.lower(name, key_source, permissive, permissive)?;
            // Reserved after mangling: `u`, and anything starting `has_`.
            let b = name.as_bytes();
            if name == "u" || (b.len() > 3 && &b[..3] == b"has" && !b[3].is_ascii_alphanumeric()) {
                return Err(self.err(format!("{key_source} uses reserved name")));
            }
            if let Some(nested) = self.legacy_nested(arg, name, source, path)? {
                members.push(MemberDef {
                    key: key.to_string(),
                    ty: nested,
                    ifcond: None,
                    features: Vec::new(),
                });
                continue;
            }
            let (long, ty) = self.long_form(arg, key_source, &["if", "features"])?;
            let (ifcond, features) = match long {
                Some(d) => (
                    self.ifcond(d, key_source)?,
                    self.features(d.get("features"))?,
                ),
                None => (None, Vec::new()),
            };
            let Some(ty) = self.type_name_or_array(Some(ty), key_source)? else {
                return Err(self.err(format!("{key_source} should be a type name or array")));
            };
            members.push(MemberDef {
                key: key.to_string(),
                ty,
                ifcond,
                features,
            });
        }
        Ok(Some(members))
    }

    /// Legacy (QEMU 0.15-2.4): a member whose value is an object that is not the long form
    /// (it has no `type` key, and keys other than `if` and `features`) is an anonymous
    /// struct of those members.
    fn legacy_nested(
        &self,
        value: &Value<'_>,
        member: &str,
        source: &'static str,
        path: &str,
    ) -> Result<Option<TypeRef>, Error> {
        let Value::Dict(d) = value else {
            return Ok(None);
        };
        let long_form = d.contains("type") || d.keys().all(|k| k == "if" || k == "features");
        if !self.legacy || long_form {
            return Ok(None);
        }
        let path = if path.is_empty() {
            member.to_string()
        } else {
            format!("{path}.{member}")
        };
        let members = self
            .members_at(Some(value), source, true, &path)?
            .unwrap_or_default();
        Ok(Some(TypeRef::Nested(Box::new(NestedDef {
            of: self.defn.to_string(),
            member: path,
            members,
        }))))
    }

    /// QEMU's `check_enum`.
    fn enum_def(&self, dict: &Dict<'_>, name: &str) -> Result<DefKind, Error> {
        let Some(Value::List(items)) = dict.get("data") else {
            return Err(self.err("'data' must be an array".into()));
        };
        let prefix = match dict.get("prefix") {
            None => None,
            Some(Value::Str(p)) => Some(p.to_string()),
            Some(_) => return Err(self.err("'prefix' must be a string".into())),
        };
        let permissive = self.permissive(name);
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            let source = "'data' member";
            let (value_name, long) = match item {
                Value::Dict(d) => {
                    self.keys(d, &source, &["name"], &["if", "features"])?;
                    match d.get("name") {
                        Some(Value::Str(n)) => (n.as_ref(), Some(d)),
                        _ => return Err(self.err(format!("{source} requires a string name"))),
                    }
                }
                Value::Str(n) => (n.as_ref(), None),
                _ => return Err(self.err(format!("{source} requires a string name"))),
            };
            let source = Src(source, Some(value_name));
            // Enum values may start with a digit: check them as if a letter came first.
            let checked;
            let checked_name = if value_name.starts_with(|c: char| c.is_ascii_digit()) {
                checked = format!("d{value_name}");
                checked.as_str()
            } else {
                value_name
            };
            self.lower(checked_name, source, permissive, permissive)?;
            let (ifcond, features) = match long {
                Some(d) => (self.ifcond(d, source)?, self.features(d.get("features"))?),
                None => (None, Vec::new()),
            };
            values.push(EnumValueDef {
                name: value_name.to_string(),
                ifcond,
                features,
            });
        }
        Ok(DefKind::Enum { values, prefix })
    }

    /// QEMU's `check_union` (plus legacy simple and anonymous unions).
    fn union_def(&self, dict: &Dict<'_>, name: &str) -> Result<DefKind, Error> {
        if self.legacy && !dict.contains("base") && !dict.contains("discriminator") {
            self.keys(dict, &"union", &["union", "data"], &["if", "features"])?;
            let branches = self.union_branches(dict.get("data"), true)?;
            return Ok(DefKind::Union {
                base: UnionBase::Simple,
                tag: "type".into(),
                branches,
            });
        }
        if self.legacy && matches!(dict.get("discriminator"), Some(Value::Dict(_))) {
            // QEMU 1.7-2.x "anonymous union": an alternate.
            self.keys(
                dict,
                &"union",
                &["union", "data", "discriminator"],
                &["if", "features"],
            )?;
            return Ok(DefKind::Alternate {
                branches: self.alternate_branches(dict.get("data"))?,
            });
        }
        self.keys(
            dict,
            &"union",
            &["union", "base", "discriminator", "data"],
            &["if", "features"],
        )?;
        let base = match dict.get("base") {
            // An empty base name means no base, like an empty inline base.
            Some(Value::Str(b)) if b.is_empty() => UnionBase::Inline(Vec::new()),
            Some(Value::Str(b)) => UnionBase::Named(b.to_string()),
            other => UnionBase::Inline(
                self.implicit_members(other, "'base'", self.permissive(name))?
                    .unwrap_or_default(),
            ),
        };
        let Some(Value::Str(tag)) = dict.get("discriminator") else {
            return Err(self.err("'discriminator' requires a string name".into()));
        };
        let branches = self.union_branches(dict.get("data"), false)?;
        Ok(DefKind::Union {
            base,
            tag: tag.to_string(),
            branches,
        })
    }

    fn union_branches(
        &self,
        data: Option<&Value<'_>>,
        simple: bool,
    ) -> Result<Vec<BranchDef>, Error> {
        let Some(Value::Dict(members)) = data else {
            return Err(self.err("'data' must be an object".into()));
        };
        let mut branches = Vec::with_capacity(members.len());
        for (key, value) in &members.entries {
            let source = Src("'data' member", Some(key));
            if simple {
                self.lower(key, source, true, true)?;
            }
            let (long, ty) = self.long_form(value, source, &["if"])?;
            let ifcond = match long {
                Some(d) => self.ifcond(d, source)?,
                None => None,
            };
            let ty = match ty {
                Value::Str(s) => TypeRef::Name(self.type_ref(s)),
                other if simple => match self.type_name_or_array(Some(other), source)? {
                    Some(t) => t,
                    None => return Err(self.err(format!("{source} should be a type name"))),
                },
                _ => return Err(self.err(format!("{source} should be a type name"))),
            };
            branches.push(BranchDef {
                name: key.to_string(),
                ty,
                ifcond,
            });
        }
        Ok(branches)
    }

    /// QEMU's `check_alternate` on the `data` value.
    fn alternate_branches(&self, data: Option<&Value<'_>>) -> Result<Vec<BranchDef>, Error> {
        let data = data.filter(|v| v.truthy());
        let Some(data) = data else {
            return Err(self.err("'data' must not be empty".into()));
        };
        let Value::Dict(members) = data else {
            return Err(self.err("'data' must be an object".into()));
        };
        let mut branches = Vec::with_capacity(members.len());
        for (key, value) in &members.entries {
            let source = Src("'data' member", Some(key));
            self.lower(key, source, self.legacy, self.legacy)?;
            let (long, ty) = self.long_form(value, source, &["if"])?;
            let ifcond = match long {
                Some(d) => self.ifcond(d, source)?,
                None => None,
            };
            let Some(ty) = self.type_name_or_array(Some(ty), source)? else {
                return Err(self.err(format!("{source} should be a type name or array")));
            };
            branches.push(BranchDef {
                name: key.to_string(),
                ty,
                ifcond,
            });
        }
        Ok(branches)
    }

    /// The `data` of a command or event (QEMU's `check_command`/`check_event` part).
    fn arguments(&self, dict: &Dict<'_>) -> Result<Option<Data>, Error> {
        let args = dict.get("data");
        let boxed = dict.get("boxed").is_some_and(|v| v.truthy());
        if boxed {
            let Some(args) = args else {
                return Err(self.err("'boxed': true requires 'data'".into()));
            };
            return match args {
                // QEMU tests the argument type name for truth: an empty one means none.
                Value::Str(s) if s.is_empty() => Ok(None),
                Value::Str(s) => Ok(Some(Data::Named(self.type_ref(s)))),
                _ => Err(self.err("'data' should be a type name".into())),
            };
        }
        match args {
            None => Ok(None),
            Some(Value::Str(s)) if s.is_empty() => Ok(None),
            Some(Value::Str(s)) => Ok(Some(Data::Named(self.type_ref(s)))),
            Some(other) => {
                let members = self
                    .implicit_members(Some(other), "'data'", self.legacy)?
                    .unwrap_or_default();
                Ok(Some(Data::Inline(members)))
            }
        }
    }
}

/// The condition a validated `if` value stands for.
fn build_cond(v: &Value<'_>) -> IfCond {
    match v {
        Value::Str(s) if is_cond_identifier(s) => IfCond::Name(s.to_string()),
        Value::Str(s) => {
            crate::legacy::c_condition(s).unwrap_or_else(|| IfCond::Name(s.to_string()))
        }
        Value::List(items) => IfCond::All(items.iter().map(build_cond).collect()),
        Value::Dict(d) => match d.entries.first() {
            Some((op, operand)) if op == "not" => IfCond::Not(Box::new(build_cond(operand))),
            Some((op, Value::List(items))) => {
                let items = items.iter().map(build_cond).collect();
                if op == "all" {
                    IfCond::All(items)
                } else {
                    IfCond::Any(items)
                }
            }
            _ => IfCond::All(Vec::new()),
        },
        Value::Bool(_) => IfCond::All(Vec::new()),
    }
}

/// `[A-Z][A-Z0-9_]*`, QEMU's rule for condition names.
pub(crate) fn is_cond_identifier(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_uppercase())
        && b.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}
