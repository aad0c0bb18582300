//! Introspection: the value QEMU's `query-qmp-schema` returns for a schema, built from the
//! model by the rules of QEMU's introspection generator.
//!
//! - Only what commands and events reach is listed: first the commands and events (module by
//!   module, in QEMU's module order), then every type they use, in order of first use, each
//!   type's own uses queued behind it.
//! - Type names other than built-ins and arrays are masked as numbers in order of first use,
//!   unless unmasked (QEMU's `--unmask-non-abi-names`). Integer types of every width are `int`;
//!   an array is `[ELEMENT]`.
//! - QEMU decides masking and reachability once, with every condition in; conditions only drop
//!   entries afterwards. So a type used only by a command compiled out is still listed, and the
//!   numbers do not depend on the conditions.
//! - Objects are written with keys in QEMU's QDict order (sorted keys inserted into a QDict).

use qapi_parser::{BuiltinKind, Entity, Feature, IfCond, Schema};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Which `if` conditions hold in the build the introspection describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conditions {
    /// Every condition holds (a build with everything compiled in).
    All,
    /// Exactly the named conditions hold; every other one is false.
    Only(BTreeSet<String>),
}

impl Conditions {
    /// The conditions named in a list file: one name a line; blank lines and text from `#`
    /// on are ignored.
    pub fn from_list(text: &str) -> Conditions {
        let names = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or("").trim())
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
        Conditions::Only(names)
    }

    /// Whether `cond` holds (`None`, no condition, always does).
    pub fn holds(&self, cond: Option<&IfCond>) -> bool {
        match cond {
            None => true,
            Some(c) => self.eval(c),
        }
    }

    fn eval(&self, cond: &IfCond) -> bool {
        match cond {
            IfCond::Name(name) => match self {
                Conditions::All => true,
                Conditions::Only(set) => set.contains(name),
            },
            IfCond::All(items) => items.iter().all(|c| self.eval(c)),
            IfCond::Any(items) => items.iter().any(|c| self.eval(c)),
            IfCond::Not(inner) => !self.eval(inner),
        }
    }
}

/// The introspection of `schema` (a JSON array of `SchemaInfo` objects) for a build where
/// `conditions` hold; `unmask` keeps type names instead of numbering them.
pub fn introspect(schema: &Schema, conditions: &Conditions, unmask: bool) -> Value {
    let mut gen = Gen {
        schema,
        conditions,
        unmask,
        masked: HashMap::new(),
        used: Vec::new(),
        seen: HashSet::new(),
        out: Vec::new(),
    };
    let modules: HashMap<&str, usize> = schema
        .modules()
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let mut roots: Vec<(usize, &Entity)> = schema
        .entities()
        .iter()
        .filter(|e| matches!(e, Entity::Command(_) | Entity::Event(_)))
        .map(|e| (modules.get(&*e.common().module).copied().unwrap_or(0), e))
        .collect();
    // QEMU visits module by module, each in definition order (the sort is stable).
    roots.sort_by_key(|(m, _)| *m);
    for (_, entity) in roots {
        gen.root(entity);
    }
    let mut next = 0;
    while next < gen.used.len() {
        let used = gen.used[next].clone();
        gen.used_type(&used);
        next += 1;
    }
    Value::Array(gen.out)
}

/// A type in the work queue: a named type (built-in included) or the array of an element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Used {
    Named(String),
    Array(String),
}

struct Gen<'s, 'c> {
    schema: &'s Schema,
    conditions: &'c Conditions,
    unmask: bool,
    /// Masked number of each type name, in order of first use.
    masked: HashMap<String, usize>,
    /// Types used so far, in order of first use (the work queue).
    used: Vec<Used>,
    seen: HashSet<Used>,
    out: Vec<Value>,
}

impl Gen<'_, '_> {
    fn name(&mut self, name: &str) -> String {
        if self.unmask {
            return name.to_owned();
        }
        let next = self.masked.len();
        self.masked
            .entry(name.to_owned())
            .or_insert(next)
            .to_string()
    }

    /// Queues `ty` (integers as `int`) and returns how the output refers to it.
    fn use_type(&mut self, ty: &str) -> String {
        let used = match self.schema.get(ty) {
            Some(Entity::Builtin(b)) if is_int(b.kind) => Used::Named("int".to_owned()),
            Some(Entity::Array(a)) => {
                let element = if self.is_int_type(&a.element) {
                    "int"
                } else {
                    a.element.as_str()
                };
                Used::Array(element.to_owned())
            }
            _ => Used::Named(ty.to_owned()),
        };
        if self.seen.insert(used.clone()) {
            self.used.push(used.clone());
        }
        match used {
            Used::Array(element) => format!("[{}]", self.use_type(&element)),
            Used::Named(name) => match self.schema.get(&name) {
                Some(Entity::Builtin(_)) => name,
                _ => self.name(&name),
            },
        }
    }

    fn is_int_type(&self, ty: &str) -> bool {
        matches!(self.schema.get(ty), Some(Entity::Builtin(b)) if is_int(b.kind))
    }

    /// A command or event.
    fn root(&mut self, entity: &Entity) {
        let mut obj = Vec::new();
        let meta = match entity {
            Entity::Command(c) => {
                let arg = self.use_type(c.arg_type.as_deref().unwrap_or("q_empty"));
                let ret = self.use_type(c.ret_type.as_deref().unwrap_or("q_empty"));
                obj.push(("arg-type", Value::String(arg)));
                obj.push(("ret-type", Value::String(ret)));
                if c.allow_oob {
                    obj.push(("allow-oob", Value::Bool(true)));
                }
                "command"
            }
            Entity::Event(e) => {
                let arg = self.use_type(e.arg_type.as_deref().unwrap_or("q_empty"));
                obj.push(("arg-type", Value::String(arg)));
                "event"
            }
            _ => return,
        };
        let common = entity.common();
        self.tree(
            common.name.clone(),
            meta,
            obj,
            common.ifcond.as_ref(),
            &common.features,
        );
    }

    /// Appends the entry of a used type.
    fn used_type(&mut self, used: &Used) {
        let schema = self.schema;
        let name = match used {
            Used::Array(element) => {
                let element_ref = self.use_type(element);
                let ifcond = schema.get(element).and_then(|e| e.common().ifcond.as_ref());
                let obj = vec![("element-type", Value::String(element_ref.clone()))];
                self.tree(format!("[{element_ref}]"), "array", obj, ifcond, &[]);
                return;
            }
            Used::Named(name) => name,
        };
        let Some(entity) = schema.get(name) else {
            return;
        };
        let common = entity.common();
        let ifcond = common.ifcond.as_ref();
        match entity {
            Entity::Builtin(b) => {
                let obj = vec![("json-type", Value::String(json_type(b.kind).to_owned()))];
                self.tree(name.clone(), "builtin", obj, None, &[]);
            }
            Entity::Enum(e) => {
                let members = e
                    .values
                    .iter()
                    .filter(|v| self.conditions.holds(v.ifcond.as_ref()))
                    .map(|v| {
                        let mut m = vec![("name", Value::String(v.name.clone()))];
                        if !v.features.is_empty() {
                            m.push(("features", self.features(&v.features)));
                        }
                        object(m)
                    })
                    .collect();
                let values = e
                    .values
                    .iter()
                    .filter(|v| self.conditions.holds(v.ifcond.as_ref()))
                    .map(|v| Value::String(v.name.clone()))
                    .collect();
                let obj = vec![
                    ("members", Value::Array(members)),
                    ("values", Value::Array(values)),
                ];
                let name = self.name(name);
                self.tree(name, "enum", obj, ifcond, &common.features);
            }
            Entity::Object(o) => {
                let mut members = Vec::new();
                for m in schema.all_members(name) {
                    let mut obj = vec![
                        ("name", Value::String(m.name.clone())),
                        ("type", Value::String(self.use_type(&m.ty))),
                    ];
                    if m.optional {
                        obj.push(("default", Value::Null));
                    }
                    if !m.features.is_empty() {
                        obj.push(("features", self.features(&m.features)));
                    }
                    if self.conditions.holds(m.ifcond.as_ref()) {
                        members.push(object(obj));
                    }
                }
                let mut obj = vec![("members", Value::Array(members))];
                if let Some(variants) = &o.variants {
                    let mut cases = Vec::new();
                    for v in &variants.variants {
                        let ty = self.use_type(&v.ty);
                        if self.conditions.holds(v.ifcond.as_ref()) {
                            cases.push(object(vec![
                                ("case", Value::String(v.name.clone())),
                                ("type", Value::String(ty)),
                            ]));
                        }
                    }
                    obj.push(("tag", Value::String(variants.tag.clone())));
                    obj.push(("variants", Value::Array(cases)));
                }
                let name = self.name(name);
                self.tree(name, "object", obj, ifcond, &common.features);
            }
            Entity::Alternate(a) => {
                let mut members = Vec::new();
                for v in &a.variants {
                    let ty = self.use_type(&v.ty);
                    if self.conditions.holds(v.ifcond.as_ref()) {
                        members.push(object(vec![("type", Value::String(ty))]));
                    }
                }
                let obj = vec![("members", Value::Array(members))];
                let name = self.name(name);
                self.tree(name, "alternate", obj, ifcond, &common.features);
            }
            // Arrays are queued as `Used::Array`; commands and events are not types.
            Entity::Array(_) | Entity::Command(_) | Entity::Event(_) | Entity::Include(_) => {}
        }
    }

    /// Appends a `SchemaInfo` unless its condition is false.
    fn tree(
        &mut self,
        name: String,
        meta: &str,
        mut obj: Vec<(&str, Value)>,
        ifcond: Option<&IfCond>,
        features: &[Feature],
    ) {
        obj.push(("name", Value::String(name)));
        obj.push(("meta-type", Value::String(meta.to_owned())));
        if !features.is_empty() {
            obj.push(("features", self.features(features)));
        }
        if self.conditions.holds(ifcond) {
            self.out.push(object(obj));
        }
    }

    fn features(&self, features: &[Feature]) -> Value {
        features
            .iter()
            .filter(|f| self.conditions.holds(f.ifcond.as_ref()))
            .map(|f| Value::String(f.name.clone()))
            .collect()
    }
}

/// A JSON object as QEMU outputs it: its keys inserted in sorted order into a QDict, then
/// listed in QDict iteration order.
fn object(mut entries: Vec<(&str, Value)>) -> Value {
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let order = qapi_runtime::qdict::qdict_order(entries.iter().map(|(k, _)| *k));
    let mut slots: Vec<Option<(&str, Value)>> = entries.into_iter().map(Some).collect();
    let mut map = Map::new();
    for i in order {
        if let Some((key, value)) = slots[i].take() {
            map.insert(key.to_owned(), value);
        }
    }
    Value::Object(map)
}

fn is_int(kind: BuiltinKind) -> bool {
    json_type(kind) == "int"
}

/// The JSON type name QEMU gives a built-in.
fn json_type(kind: BuiltinKind) -> &'static str {
    match kind {
        BuiltinKind::Str => "string",
        BuiltinKind::Number => "number",
        BuiltinKind::Bool => "boolean",
        BuiltinKind::Null => "null",
        BuiltinKind::Any => "value",
        BuiltinKind::Int
        | BuiltinKind::Int8
        | BuiltinKind::Int16
        | BuiltinKind::Int32
        | BuiltinKind::Int64
        | BuiltinKind::Uint8
        | BuiltinKind::Uint16
        | BuiltinKind::Uint32
        | BuiltinKind::Uint64
        | BuiltinKind::Size => "int",
    }
}

/// Every condition name the schema's `if`s use (of definitions, members, branches, enum values
/// and features), sorted.
pub fn condition_names(schema: &Schema) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |cond: Option<&IfCond>| {
        if let Some(c) = cond {
            names_in(c, &mut out);
        }
    };
    for entity in schema.entities() {
        let common = entity.common();
        add(common.ifcond.as_ref());
        common.features.iter().for_each(|f| add(f.ifcond.as_ref()));
        match entity {
            Entity::Enum(e) => {
                for v in &e.values {
                    add(v.ifcond.as_ref());
                    v.features.iter().for_each(|f| add(f.ifcond.as_ref()));
                }
            }
            Entity::Object(o) => {
                for m in &o.members {
                    add(m.ifcond.as_ref());
                    m.features.iter().for_each(|f| add(f.ifcond.as_ref()));
                }
                let variants = o.variants.iter().flat_map(|v| &v.variants);
                variants.for_each(|v| add(v.ifcond.as_ref()));
            }
            Entity::Alternate(a) => a.variants.iter().for_each(|v| add(v.ifcond.as_ref())),
            _ => {}
        }
    }
    out
}

fn names_in(cond: &IfCond, out: &mut BTreeSet<String>) {
    match cond {
        IfCond::Name(n) => {
            out.insert(n.clone());
        }
        IfCond::All(items) | IfCond::Any(items) => items.iter().for_each(|c| names_in(c, out)),
        IfCond::Not(inner) => names_in(inner, out),
    }
}
