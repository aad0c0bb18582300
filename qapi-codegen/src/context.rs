//! What emission needs to know about the schema, computed once: Rust names of types, which
//! references must be boxed, member lists with their Rust fields, and doc lookups.

use crate::avail::Availability;
use crate::cfg::{both, CfgMap};
use crate::names::{self, Namespace};
use crate::recursion::Cycles;
use crate::{Error, MemberOrder, Options};
use proc_macro2::{Ident, TokenStream};
use qapi_parser::{
    BuiltinKind, Doc, Entity, EnumType, Feature, IfCond, Implicit, Member, ObjectType, Schema,
};
use quote::{format_ident, quote};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use syn::{parse_quote, Expr, Path, Type};

/// The JSON type a value of a schema type has (alternates branch on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonClass {
    Null,
    String,
    Number,
    Bool,
    Array,
    Object,
}

/// A member of an object type as a Rust field. Its type and doc are made on demand
/// ([`Ctx::field_type`], [`Field::doc_lines`]): serialisation needs neither.
pub struct Field<'s> {
    pub member: &'s Member,
    /// The object type declaring the member (the type itself or a base).
    declared_in: &'s str,
    /// The type the field belongs to (it decides boxing).
    owner: &'s str,
    pub ident: Ident,
    /// `any` members (and lists of them) are written in QDict order when QEMU order is on.
    pub any: AnyKind,
    /// The doc block describing the member, if any.
    doc: Option<&'s Doc>,
    /// The member's own condition and its type's (see [`Availability::part`]).
    pub cond: Option<Cow<'s, IfCond>>,
}

impl Field<'_> {
    /// The member's doc, with notes for its special features.
    pub fn doc_lines(&self) -> Vec<String> {
        let notes = feature_notes(&self.member.features);
        crate::docs::member(self.doc, &self.member.name, &notes)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnyKind {
    No,
    Value,
    List,
}

/// Paths of the std types the output names: the prelude names, unless a generated type
/// takes the name (QMP has a struct `String`).
pub struct StdPaths {
    pub option: Path,
    pub vec: Path,
    pub string: Path,
    pub boxed: Path,
    pub result: Path,
}

impl StdPaths {
    /// `String` as a type.
    pub fn string_type(&self) -> Type {
        let string = &self.string;
        parse_quote!(#string)
    }

    /// `Option<inner>`.
    pub fn option_of(&self, inner: Type) -> Type {
        let option = &self.option;
        parse_quote!(#option<#inner>)
    }

    /// `Box<inner>`.
    pub fn box_of(&self, inner: Type) -> Type {
        let boxed = &self.boxed;
        parse_quote!(#boxed<#inner>)
    }
}

/// What emission needs to know about the schema.
pub struct Ctx<'s> {
    pub schema: &'s Schema,
    pub opts: &'s Options,
    pub cfg: CfgMap,
    /// Effective conditions of the definitions.
    pub avail: Availability<'s>,
    /// Rust names of the generated types, by schema name.
    type_names: HashMap<&'s str, Ident>,
    /// Rust names of the branch enums of struct-shaped unions.
    branch_names: HashMap<&'s str, Ident>,
    /// Number of each object and alternate type in `cycles`.
    node: HashMap<&'s str, usize>,
    /// The cycles of types holding each other without indirection (they need a box).
    cycles: Cycles,
    /// Types referenced by members, branches, returns (decides whether `QType` is generated).
    pub referenced: HashSet<&'s str>,
    /// The module namespace, shared with the emitters for their own items.
    pub items: Namespace,
    overrides: HashMap<(&'s str, &'s str), Type>,
    pub std: StdPaths,
}

impl<'s> Ctx<'s> {
    pub fn new(schema: &'s Schema, opts: &'s Options, cfg: CfgMap) -> Result<Self, Error> {
        let mut ctx = Ctx {
            schema,
            opts,
            cfg,
            avail: Availability::new(schema),
            type_names: HashMap::new(),
            branch_names: HashMap::new(),
            node: HashMap::new(),
            cycles: Cycles::new(&[]),
            referenced: HashSet::new(),
            items: Namespace::new(),
            overrides: HashMap::new(),
            std: StdPaths {
                option: parse_quote!(Option),
                vec: parse_quote!(Vec),
                string: parse_quote!(String),
                boxed: parse_quote!(Box),
                result: parse_quote!(Result),
            },
        };
        ctx.collect_references();
        ctx.name_types()?;
        ctx.choose_std_paths();
        ctx.find_cycles();
        ctx.parse_overrides()?;
        Ok(ctx)
    }

    fn collect_references(&mut self) {
        let schema = self.schema;
        let mut refs: Vec<&'s str> = Vec::new();
        for e in schema.entities() {
            match e {
                Entity::Object(o) => {
                    refs.extend(o.members.iter().map(|m| m.ty.as_str()));
                    if let Some(v) = &o.variants {
                        refs.extend(v.variants.iter().map(|v| v.ty.as_str()));
                    }
                }
                Entity::Alternate(a) => refs.extend(a.variants.iter().map(|v| v.ty.as_str())),
                Entity::Command(c) => refs.extend(c.ret_type.as_deref()),
                _ => {}
            }
        }
        for r in refs {
            let r = match schema.get(r) {
                Some(Entity::Array(a)) => a.element.as_str(),
                _ => r,
            };
            self.referenced.insert(r);
        }
    }

    /// The definition whose doc describes an implicit argument or base type's members.
    pub fn owner_of(&self, implicit: &str) -> Option<&'s str> {
        match self.schema.get(implicit)?.implicit()? {
            Implicit::Arguments { of } | Implicit::UnionBase { of } => Some(of),
            _ => None,
        }
    }

    /// Whether `ty` is `q_empty`, the type of the union branches a schema leaves out.
    pub fn is_empty_object(&self, ty: &str) -> bool {
        self.schema
            .get(ty)
            .is_some_and(|e| e.implicit() == Some(&Implicit::Empty))
    }

    /// Whether a schema type becomes a generated Rust type: a union's base and `q_empty` do
    /// not (their members are inlined or there are none).
    pub fn is_generated(&self, e: &Entity) -> bool {
        match e {
            Entity::Enum(en) => en.common.name != "QType" || self.referenced.contains("QType"),
            Entity::Object(o) => matches!(
                o.common.implicit,
                None | Some(
                    Implicit::Arguments { .. } | Implicit::Wrapper { .. } | Implicit::Nested { .. }
                )
            ),
            Entity::Alternate(_) => true,
            _ => false,
        }
    }

    /// The Rust name the generator makes for an implicit type it generates, and what the
    /// name is for (for clash messages).
    fn derived_name(&self, e: &Entity) -> Option<(String, String)> {
        match e.implicit()? {
            Implicit::Wrapper { wrapped } => Some((
                format!("{}Wrapper", names::type_name(wrapped)),
                format!("the simple-union wrapper of '{wrapped}'"),
            )),
            Implicit::Nested { of, member } => {
                let path: String = member.split('.').map(names::type_name).collect();
                Some((
                    format!("{}{path}", names::type_name(of)),
                    format!("the anonymous struct of member '{member}' of '{of}'"),
                ))
            }
            Implicit::Arguments { of } => {
                let suffix = match self.schema.get(of) {
                    Some(Entity::Event(_)) => "Event",
                    _ => "Args",
                };
                Some((
                    format!("{}{suffix}", names::type_name(of)),
                    format!("the arguments of '{of}'"),
                ))
            }
            _ => None,
        }
    }

    fn name_types(&mut self) -> Result<(), Error> {
        let schema = self.schema;
        // Schema names first: they win over names the generator derives.
        let generated: Vec<&'s Entity> = schema
            .entities()
            .iter()
            .filter(|e| self.is_generated(e))
            .collect();
        let derived: Vec<_> = generated
            .iter()
            .filter_map(|e| Some((e.name(), self.derived_name(e)?)))
            .collect();
        for e in generated {
            if self.derived_name(e).is_some() {
                continue;
            }
            let rust = names::type_name(e.name());
            self.items.claim(&rust, &describe(e))?;
            self.type_names.insert(e.name(), names::ident(&rust));
        }
        for (name, (preferred, what)) in derived {
            let rust = self.items.claim_derived(&preferred, &what);
            self.type_names.insert(name, names::ident(&rust));
        }
        for e in schema.entities() {
            if let Entity::Object(o) = e {
                if o.variants.is_some() && !self.union_is_enum(o) {
                    let name = format!("{}Branch", names::type_name(e.name()));
                    let name = self
                        .items
                        .claim_derived(&name, &format!("the branches of '{}'", e.name()));
                    self.branch_names
                        .insert(e.name(), format_ident!("{}", name));
                }
            }
        }
        Ok(())
    }

    fn choose_std_paths(&mut self) {
        let choose = |short: Path, full: Path| {
            let taken = short
                .get_ident()
                .is_some_and(|i| self.items.is_taken(&i.to_string()));
            if taken {
                full
            } else {
                short
            }
        };
        let std = StdPaths {
            option: choose(parse_quote!(Option), parse_quote!(::std::option::Option)),
            vec: choose(parse_quote!(Vec), parse_quote!(::std::vec::Vec)),
            string: choose(parse_quote!(String), parse_quote!(::std::string::String)),
            boxed: choose(parse_quote!(Box), parse_quote!(::std::boxed::Box)),
            result: choose(parse_quote!(Result), parse_quote!(::std::result::Result)),
        };
        self.std = std;
    }

    fn parse_overrides(&mut self) -> Result<(), Error> {
        for (key, path) in &self.opts.type_overrides {
            let refuse = |problem: String| Error::TypeOverride {
                key: key.clone(),
                problem,
            };
            let (ty, member) = key
                .split_once('.')
                .ok_or_else(|| refuse("not of the form 'Type.member'".to_owned()))?;
            let (ty, member) = match self.schema.get(ty) {
                Some(Entity::Object(o)) => match o.members.iter().find(|m| m.name == member) {
                    Some(m) => (o.common.name.as_str(), m.name.as_str()),
                    None => return Err(refuse(format!("'{ty}' has no member '{member}'"))),
                },
                _ => return Err(refuse(format!("no struct '{ty}' in the schema"))),
            };
            let path: syn::Type = syn::parse_str(path)
                .map_err(|e| refuse(format!("'{path}' is not a Rust type ({e})")))?;
            self.overrides.insert((ty, member), path);
        }
        Ok(())
    }

    /// The graph of object and alternate types, an edge from each to the types it holds
    /// (members, base members, branches), and its cycles.
    fn find_cycles(&mut self) {
        let schema = self.schema;
        let nodes: Vec<&'s Entity> = schema
            .entities()
            .iter()
            .filter(|e| matches!(e, Entity::Object(_) | Entity::Alternate(_)))
            .collect();
        self.node = nodes
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name(), i))
            .collect();
        let edges: Vec<Vec<usize>> = nodes
            .iter()
            .map(|e| {
                let mut held: Vec<&'s str> = Vec::new();
                match e {
                    Entity::Object(o) => {
                        let members = schema.all_members(&o.common.name);
                        held.extend(members.iter().map(|m| m.ty.as_str()));
                        if let Some(v) = &o.variants {
                            held.extend(v.variants.iter().map(|v| v.ty.as_str()));
                        }
                    }
                    Entity::Alternate(a) => held.extend(a.variants.iter().map(|v| v.ty.as_str())),
                    _ => {}
                }
                held.iter()
                    .filter_map(|t| self.node.get(t).copied())
                    .collect()
            })
            .collect();
        self.cycles = Cycles::new(&edges);
    }

    /// Whether `owner` holding a `target` directly must box it (they are on one cycle).
    pub fn needs_box(&self, owner: &str, target: &str) -> bool {
        match (self.node.get(owner), self.node.get(target)) {
            (Some(&a), Some(&b)) => self.cycles.same_cycle(a, b),
            _ => false,
        }
    }

    /// The Rust name of a generated type.
    pub fn type_ident(&self, schema_name: &str) -> Result<&Ident, Error> {
        self.type_names
            .get(schema_name)
            .ok_or_else(|| Error::Inconsistent(format!("type '{schema_name}' has no Rust type")))
    }

    /// The Rust type of a schema type reference.
    pub fn rust_type(&self, ty: &str) -> Result<Type, Error> {
        if let Some(kind) = BuiltinKind::from_name(ty) {
            if kind == BuiltinKind::Str {
                return Ok(self.std.string_type());
            }
            return Ok(builtin_type(kind));
        }
        match self.schema.get(ty) {
            Some(Entity::Array(a)) => {
                let element = self.rust_type(&a.element)?;
                let vec = &self.std.vec;
                Ok(parse_quote!(#vec<#element>))
            }
            Some(_) if self.is_empty_object(ty) => Ok(parse_quote!(qapi_runtime::Empty)),
            Some(_) => {
                let ident = self.type_ident(ty)?;
                Ok(parse_quote!(#ident))
            }
            None => Err(Error::Inconsistent(format!("unknown type '{ty}'"))),
        }
    }

    /// The Rust type of a reference from `owner`, boxed when on a cycle.
    pub fn held_type(&self, owner: &str, ty: &str) -> Result<Type, Error> {
        let inner = self.rust_type(ty)?;
        Ok(if self.needs_box(owner, ty) {
            self.std.box_of(inner)
        } else {
            inner
        })
    }

    pub fn json_class(&self, ty: &str) -> Option<JsonClass> {
        if let Some(kind) = BuiltinKind::from_name(ty) {
            return match kind {
                BuiltinKind::Str => Some(JsonClass::String),
                BuiltinKind::Bool => Some(JsonClass::Bool),
                BuiltinKind::Null => Some(JsonClass::Null),
                BuiltinKind::Any => None,
                _ => Some(JsonClass::Number),
            };
        }
        match self.schema.get(ty)? {
            Entity::Enum(_) => Some(JsonClass::String),
            Entity::Array(_) => Some(JsonClass::Array),
            Entity::Object(_) => Some(JsonClass::Object),
            _ => None,
        }
    }

    /// The doc block describing the members of an object type.
    pub fn doc_for_type(&self, name: &str) -> Option<&'s Doc> {
        let owner = self.owner_of(name).unwrap_or(name);
        self.schema.get(owner).and_then(|e| self.schema.doc_of(e))
    }

    /// The object types from the root of `name`'s base chain down to `name`.
    pub fn base_chain(&self, name: &'s str) -> Vec<&'s ObjectType> {
        let mut chain = Vec::new();
        let mut next = Some(name);
        while let Some(n) = next {
            match self.schema.get(n) {
                Some(Entity::Object(o))
                    if !chain.iter().any(|c: &&ObjectType| c.common.name == n) =>
                {
                    chain.push(o);
                    next = o.base.as_deref();
                }
                _ => break,
            }
        }
        chain.reverse();
        chain
    }

    /// The fields of an object type: base members first, in schema (visit) order. `skip`
    /// leaves out a member (a union's tag).
    pub fn fields(&self, name: &'s str, skip: Option<&str>) -> Result<Vec<Field<'s>>, Error> {
        // Field name -> (member, declaring type), for clash messages (described only then).
        let mut taken: HashMap<String, (&'s str, &'s str)> = HashMap::new();
        let mut out = Vec::new();
        for object in self.base_chain(name) {
            let doc = self.doc_for_type(&object.common.name);
            for member in &object.members {
                let mut field = names::field_name(&member.name);
                let describe = |(m, o): (&str, &str)| format!("member '{m}' of '{o}'");
                let this = (member.name.as_str(), object.common.name.as_str());
                if let Some(previous) = taken.get(&field) {
                    if !previous.0.eq_ignore_ascii_case(&member.name) {
                        return Err(names::clash(&describe(this), &describe(*previous), &field));
                    }
                    // Names only case tells apart (QEMU 1.x `PC` and `pc`): number the later.
                    let stem = field.clone();
                    let mut n = 2;
                    while taken.contains_key(&field) {
                        field = format!("{stem}_{n}");
                        n += 1;
                    }
                }
                let ident = names::ident(&field);
                taken.insert(field, this);
                if Some(member.name.as_str()) == skip {
                    continue;
                }
                let any = match member.ty.as_str() {
                    "any" => AnyKind::Value,
                    "anyList" => AnyKind::List,
                    _ => AnyKind::No,
                };
                out.push(Field {
                    member,
                    declared_in: &object.common.name,
                    owner: name,
                    ident,
                    any,
                    doc,
                    cond: self.avail.part(member.ifcond.as_ref(), &member.ty, name),
                });
            }
        }
        Ok(out)
    }

    /// The Rust type of a field, `Option<..>` included for optional members.
    pub fn field_type(&self, f: &Field<'_>) -> Result<Type, Error> {
        let base = match self.overrides.get(&(f.declared_in, f.member.name.as_str())) {
            Some(path) => path.clone(),
            None => self.held_type(f.owner, &f.member.ty)?,
        };
        Ok(if f.member.optional {
            self.std.option_of(base)
        } else {
            base
        })
    }

    /// Positions of `keys` (in visit order) in the configured emission order.
    pub fn emission_order(&self, keys: &[&str]) -> Vec<usize> {
        match self.opts.member_order {
            MemberOrder::Schema => (0..keys.len()).collect(),
            MemberOrder::Qemu => qapi_runtime::qdict::qdict_order(keys.iter().copied()),
        }
    }

    /// `#[deprecated]` (possibly conditional) when `features` say so.
    pub fn deprecated_attr(&self, features: &[Feature], what: &str) -> Result<TokenStream, Error> {
        let mut out = TokenStream::new();
        for f in features.iter().filter(|f| f.name == "deprecated") {
            match &f.ifcond {
                None => out.extend(quote!(#[deprecated])),
                Some(c) => {
                    let p = self.cfg.predicate(c, what)?;
                    out.extend(quote!(#[cfg_attr(#p, deprecated)]));
                }
            }
        }
        Ok(out)
    }

    /// `cfg!(..)` truth of a feature being present (for the command table).
    pub fn has_feature(&self, features: &[Feature], name: &str, what: &str) -> Result<Expr, Error> {
        let mut any: Option<Expr> = None;
        for f in features.iter().filter(|f| f.name == name) {
            let e = self.cfg.expr(f.ifcond.as_ref(), what)?;
            any = Some(match any {
                None => e,
                Some(left) => parse_quote!(#left || #e),
            });
        }
        Ok(any.unwrap_or_else(|| parse_quote!(false)))
    }

    /// The enum type of a union's tag member.
    pub fn tag_enum(&self, union: &'s ObjectType) -> Result<(&'s Member, &'s EnumType), Error> {
        let variants = union.variants.as_ref().ok_or_else(|| {
            Error::Inconsistent(format!("'{}' is not a union", union.common.name))
        })?;
        let tag = self
            .schema
            .all_members(&union.common.name)
            .into_iter()
            .find(|m| m.name == variants.tag)
            .ok_or_else(|| {
                Error::Inconsistent(format!(
                    "union '{}' has no tag member '{}'",
                    union.common.name, variants.tag
                ))
            })?;
        match self.schema.get(&tag.ty) {
            Some(Entity::Enum(e)) => Ok((tag, e)),
            _ => Err(Error::Inconsistent(format!(
                "the tag of union '{}' is not an enum",
                union.common.name
            ))),
        }
    }

    /// A union is emitted as a plain enum when its base holds nothing but the tag.
    pub fn union_is_enum(&self, union: &ObjectType) -> bool {
        union
            .base
            .as_deref()
            .is_some_and(|b| self.schema.all_members(b).len() == 1)
    }

    /// The Rust name of a union's branch enum (struct-shaped unions only).
    pub fn branch_ident(&self, union: &str) -> Result<&Ident, Error> {
        self.branch_names
            .get(union)
            .ok_or_else(|| Error::Inconsistent(format!("union '{union}' has no branch enum")))
    }

    /// Claims a module-level name the generator needs (`Commands`, `Event`, ...).
    pub fn item_name(&mut self, preferred: &str, what: &str) -> Ident {
        let name = self.items.claim_derived(preferred, what);
        format_ident!("{}", name)
    }

    /// Condition of a union branch: the branch's own, its tag value's and its type's
    /// (beyond the union's).
    pub fn variant_cond(
        &self,
        union: &str,
        branch: Option<&IfCond>,
        value: Option<&IfCond>,
        ty: &str,
    ) -> Option<IfCond> {
        let own = both(branch, value);
        self.avail
            .part(own.as_ref(), ty, union)
            .map(Cow::into_owned)
    }

    /// The `#[cfg]` of a definition, by its effective condition.
    pub fn entity_cfg(&self, e: &Entity) -> Result<TokenStream, Error> {
        self.cfg.attr(self.avail.of(e.name()), &describe(e))
    }
}

/// Describes an entity for messages.
pub fn describe(e: &Entity) -> String {
    let kind = match e {
        Entity::Builtin(_) => "built-in type",
        Entity::Enum(_) => "enum",
        Entity::Object(o) if o.variants.is_some() => "union",
        Entity::Object(_) => "struct",
        Entity::Alternate(_) => "alternate",
        Entity::Array(_) => "array",
        Entity::Command(_) => "command",
        Entity::Event(_) => "event",
        Entity::Include(_) => "include",
    };
    format!("{kind} '{}'", e.name())
}

fn builtin_type(kind: BuiltinKind) -> Type {
    match kind {
        BuiltinKind::Str => parse_quote!(::std::string::String),
        BuiltinKind::Number => parse_quote!(f64),
        BuiltinKind::Int | BuiltinKind::Int64 => parse_quote!(i64),
        BuiltinKind::Int8 => parse_quote!(i8),
        BuiltinKind::Int16 => parse_quote!(i16),
        BuiltinKind::Int32 => parse_quote!(i32),
        BuiltinKind::Uint8 => parse_quote!(u8),
        BuiltinKind::Uint16 => parse_quote!(u16),
        BuiltinKind::Uint32 => parse_quote!(u32),
        BuiltinKind::Uint64 | BuiltinKind::Size => parse_quote!(u64),
        BuiltinKind::Bool => parse_quote!(bool),
        BuiltinKind::Null => parse_quote!(qapi_runtime::Null),
        BuiltinKind::Any => parse_quote!(qapi_runtime::serde_json::Value),
    }
}

/// Whether features make a definition or member deprecated (perhaps only under a condition).
pub fn is_deprecated(features: &[Feature]) -> bool {
    features.iter().any(|f| f.name == "deprecated")
}

/// Doc notes for special features (`deprecated` is also an attribute).
pub fn feature_notes(features: &[Feature]) -> Vec<String> {
    let mut notes = Vec::new();
    for f in features {
        match f.name.as_str() {
            "deprecated" => notes.push("**Deprecated.**".to_owned()),
            "unstable" => {
                notes.push("**Unstable**: may change or disappear without notice.".to_owned())
            }
            _ => {}
        }
    }
    let others: Vec<String> = features
        .iter()
        .filter(|f| !f.is_special())
        .map(|f| format!("`{}`", f.name))
        .collect();
    if !others.is_empty() {
        notes.push(format!("Features: {}.", others.join(", ")));
    }
    notes
}
