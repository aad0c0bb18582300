//! Schema construction (QEMU's `QAPISchema._def_*`): entities in creation order, with the
//! predefined types and the implicit ones (`q_obj_*` argument and base types, `*List`
//! arrays) inserted where QEMU inserts them; duplicate definitions are caught here.

use std::collections::HashMap;
use std::sync::Arc;

use crate::diag::Diag;
use crate::error::Error;
use crate::expr::{BranchDef, Data, Def, DefKind, Item, MemberDef, NestedDef, TypeRef, UnionBase};
use crate::model::*;
use crate::source::{py_dirname, py_relpath, FileId, Loc};

/// The built entities plus what the checker needs besides the model.
pub(crate) struct Built {
    pub entities: Vec<Entity>,
    /// QEMU's source info of each entity (`None` for predefined ones).
    pub locs: Vec<Option<Loc>>,
    pub index: HashMap<String, EntityId>,
    pub modules: Vec<String>,
    /// Module name of every file.
    pub file_modules: Vec<Arc<str>>,
    /// Where the 65th distinct feature name was first used, if there is one.
    pub feature_overflow: Option<Loc>,
}

struct Builder<'d, 'a> {
    diag: &'d Diag<'a>,
    out: Built,
    features_seen: HashMap<String, ()>,
    builtin_module: Arc<str>,
}

/// Maximum number of distinct feature names, special ones included.
const MAX_FEATURES: usize = 64;

pub(crate) fn build(items: Vec<Item>, diag: &Diag<'_>) -> Result<Built, Error> {
    let root = diag
        .files
        .first()
        .map(|f| f.name.clone())
        .unwrap_or_default();
    let schema_dir = py_dirname(&root).to_string();
    let file_modules = diag
        .files
        .iter()
        .map(|f| Arc::from(py_relpath(&diag.cwd, &f.name, &schema_dir)))
        .collect::<Vec<_>>();
    let mut b = Builder {
        diag,
        out: Built {
            entities: Vec::with_capacity(items.len() * 2 + 40),
            locs: Vec::with_capacity(items.len() * 2 + 40),
            index: HashMap::with_capacity(items.len() * 2 + 40),
            modules: vec!["./builtin".to_string()],
            file_modules,
            feature_overflow: None,
        },
        features_seen: HashMap::new(),
        builtin_module: Arc::from("./builtin"),
    };
    if let Some(m) = b.out.file_modules.first() {
        b.out.modules.push(m.to_string());
    }
    b.predefined()?;
    // Include directives mostly name files as they were loaded: their modules are known.
    let loaded: HashMap<&str, usize> = diag
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.as_str(), i))
        .collect();
    for item in items {
        match item {
            Item::Include {
                target,
                loc,
                start,
                end,
            } => {
                let module = match loaded.get(target.as_str()) {
                    Some(&i) => b.out.file_modules[i].to_string(),
                    None => py_relpath(&diag.cwd, &target, &schema_dir),
                };
                if !b.out.modules.contains(&module) {
                    b.out.modules.push(module.clone());
                }
                let common = b.common(String::new(), Some((loc, start, end)), None, Vec::new());
                b.push(
                    Entity::Include(Include {
                        common,
                        target: module,
                    }),
                    Some(loc),
                );
            }
            Item::Def(def) => b.definition(def)?,
        }
    }
    Ok(b.out)
}

impl Builder<'_, '_> {
    fn info(&self, loc: Loc, start: u32, end: u32) -> SourceInfo {
        let file = self.diag.file(loc.file);
        SourceInfo {
            file: file.path.clone(),
            line: loc.line,
            col: file.column_at(loc.line, start),
            span: start as usize..end as usize,
        }
    }

    fn module_of(&self, file: FileId) -> Arc<str> {
        self.out.file_modules[file as usize].clone()
    }

    fn common(
        &self,
        name: String,
        at: Option<(Loc, u32, u32)>,
        ifcond: Option<IfCond>,
        features: Vec<Feature>,
    ) -> Common {
        Common {
            name,
            module: match at {
                Some((loc, _, _)) => self.module_of(loc.file),
                None => self.builtin_module.clone(),
            },
            info: at.map(|(loc, s, e)| self.info(loc, s, e)),
            ifcond,
            features,
            doc: None,
            implicit: None,
        }
    }

    fn push(&mut self, entity: Entity, loc: Option<Loc>) -> EntityId {
        self.out.entities.push(entity);
        self.out.locs.push(loc);
        EntityId(self.out.entities.len() - 1)
    }

    /// QEMU's `_def_definition`: registers a named entity, refusing duplicates.
    fn define(&mut self, entity: Entity, loc: Option<Loc>) -> Result<(), Error> {
        let name = entity.name().to_string();
        let i = self.push(entity, loc);
        if let Some(&other) = self.out.index.get(&name) {
            let here = loc.ok_or_else(|| {
                Error::bare(
                    crate::ErrorKind::Semantic,
                    format!("predefined '{name}' defined twice"),
                )
            })?;
            let msg = match self.out.locs[other] {
                Some(prev) => format!(
                    "'{name}' is already defined\n{}: previous definition",
                    self.diag.render_loc(prev)
                ),
                None => format!("{} is already defined", describe(&self.out.entities[other])),
            };
            return Err(self.diag.error(here, msg));
        }
        self.out.index.insert(name, i);
        Ok(())
    }

    fn predefined(&mut self) -> Result<(), Error> {
        for kind in BuiltinKind::ALL {
            let common = self.common(kind.name().to_string(), None, None, Vec::new());
            self.define(Entity::Builtin(BuiltinType { common, kind }), None)?;
            self.array_type(kind.name(), None)?;
        }
        let mut common = self.common("q_empty".into(), None, None, Vec::new());
        common.implicit = Some(Implicit::Empty);
        self.define(
            Entity::Object(ObjectType {
                common,
                base: None,
                members: Vec::new(),
                variants: None,
            }),
            None,
        )?;
        let values = [
            "none", "qnull", "qnum", "qstring", "qdict", "qlist", "qbool",
        ]
        .iter()
        .map(|v| EnumValue {
            name: v.to_string(),
            ifcond: None,
            features: Vec::new(),
        })
        .collect();
        let common = self.common("QType".into(), None, None, Vec::new());
        self.define(
            Entity::Enum(EnumType {
                common,
                values,
                prefix: None,
            }),
            None,
        )?;
        for special in ["deprecated", "unstable"] {
            self.features_seen.insert(special.to_string(), ());
        }
        Ok(())
    }

    /// Records feature names for the schema-wide limit (QEMU's `_make_features`).
    fn note_features(&mut self, features: &[Feature], loc: Loc) {
        for f in features {
            if self.features_seen.contains_key(&f.name) {
                continue;
            }
            self.features_seen.insert(f.name.clone(), ());
            if self.features_seen.len() == MAX_FEATURES + 1 && self.out.feature_overflow.is_none() {
                self.out.feature_overflow = Some(loc);
            }
        }
    }

    /// QEMU's `_make_array_type`: the array of `element`, created on first use.
    fn array_type(&mut self, element: &str, at: Option<(Loc, u32, u32)>) -> Result<String, Error> {
        let name = format!("{element}List");
        let exists = self
            .out
            .index
            .get(&name)
            .is_some_and(|&i| self.out.entities[i].is_type());
        if !exists {
            // The module is the element's, settled once the element is resolved.
            let mut common = self.common(name.clone(), at, None, Vec::new());
            common.implicit = Some(Implicit::Array);
            self.define(
                Entity::Array(ArrayType {
                    common,
                    element: element.to_string(),
                }),
                at.map(|(l, _, _)| l),
            )?;
        }
        Ok(name)
    }

    fn type_name(&mut self, ty: TypeRef, at: (Loc, u32, u32)) -> Result<String, Error> {
        match ty {
            TypeRef::Name(n) => Ok(n),
            TypeRef::Array(e) => self.array_type(&e, Some(at)),
            TypeRef::Nested(nested) => {
                let NestedDef {
                    of,
                    member,
                    members,
                } = *nested;
                let members = self.members(members, at)?;
                let name = format!("q_obj_{of}-{member}-nested");
                let made_by = Implicit::Nested { of, member };
                let made = self.implicit_object(name.clone(), made_by, at, None, members)?;
                Ok(made.unwrap_or(name))
            }
        }
    }

    fn members(&mut self, defs: Vec<MemberDef>, at: (Loc, u32, u32)) -> Result<Vec<Member>, Error> {
        let mut out = Vec::with_capacity(defs.len());
        for m in defs {
            let mut name = m.key;
            let optional = name.starts_with('*');
            if optional {
                name.remove(0);
            }
            let ty = self.type_name(m.ty, at)?;
            self.note_features(&m.features, at.0);
            out.push(Member {
                name,
                ty,
                optional,
                ifcond: m.ifcond,
                features: m.features,
            });
        }
        Ok(out)
    }

    fn variants(
        &mut self,
        defs: Vec<BranchDef>,
        at: (Loc, u32, u32),
    ) -> Result<Vec<Variant>, Error> {
        let mut out = Vec::with_capacity(defs.len());
        for b in defs {
            let ty = self.type_name(b.ty, at)?;
            out.push(Variant {
                name: b.name,
                ty,
                ifcond: b.ifcond,
            });
        }
        Ok(out)
    }

    /// QEMU's `_make_implicit_object_type`: `q_obj_<name>-<role>` (`name` as the caller
    /// made it), or `None` when empty.
    fn implicit_object(
        &mut self,
        name: String,
        made_by: Implicit,
        at: (Loc, u32, u32),
        ifcond: Option<IfCond>,
        members: Vec<Member>,
    ) -> Result<Option<String>, Error> {
        if members.is_empty() {
            return Ok(None);
        }
        if !self.out.index.contains_key(&name) {
            let mut common = self.common(name.clone(), Some(at), ifcond, Vec::new());
            common.implicit = Some(made_by);
            self.define(
                Entity::Object(ObjectType {
                    common,
                    base: None,
                    members,
                    variants: None,
                }),
                Some(at.0),
            )?;
        }
        Ok(Some(name))
    }

    fn definition(&mut self, def: Def) -> Result<(), Error> {
        let at = (def.loc, def.start, def.end);
        let loc = def.loc;
        self.note_features(&def.features, loc);
        let mut common = self.common(def.name, Some(at), def.ifcond.clone(), def.features);
        common.doc = def.doc;
        let entity = match def.kind {
            DefKind::Enum { values, prefix } => {
                let values = values
                    .into_iter()
                    .map(|v| {
                        self.note_features(&v.features, loc);
                        EnumValue {
                            name: v.name,
                            ifcond: v.ifcond,
                            features: v.features,
                        }
                    })
                    .collect();
                Entity::Enum(EnumType {
                    common,
                    values,
                    prefix,
                })
            }
            DefKind::Struct { base, members } => {
                let members = self.members(members, at)?;
                Entity::Object(ObjectType {
                    common,
                    base,
                    members,
                    variants: None,
                })
            }
            DefKind::Union {
                base,
                tag,
                branches,
            } => {
                let (base, variants) = match base {
                    UnionBase::Named(b) => (Some(b), self.variants(branches, at)?),
                    UnionBase::Inline(members) => {
                        let members = self.members(members, at)?;
                        let name = format!("q_obj_{}-base", common.name);
                        let made_by = Implicit::UnionBase {
                            of: common.name.clone(),
                        };
                        let ifcond = def.ifcond.clone();
                        let base = self.implicit_object(name, made_by, at, ifcond, members)?;
                        (base, self.variants(branches, at)?)
                    }
                    UnionBase::Simple => {
                        self.simple_union(&common.name, at, &def.ifcond, branches)?
                    }
                };
                Entity::Object(ObjectType {
                    common,
                    base,
                    members: Vec::new(),
                    variants: Some(Variants { tag, variants }),
                })
            }
            DefKind::Alternate { branches } => Entity::Alternate(AlternateType {
                common,
                variants: self.variants(branches, at)?,
            }),
            DefKind::Command {
                data,
                returns,
                gen,
                success_response,
                boxed,
                allow_oob,
                allow_preconfig,
                coroutine,
            } => {
                let arg_type = self.arguments(&common.name, at, &def.ifcond, data)?;
                let ret_type = match returns {
                    Some(r) => Some(self.type_name(r, at)?),
                    None => None,
                };
                Entity::Command(Command {
                    common,
                    arg_type,
                    ret_type,
                    gen,
                    success_response,
                    boxed,
                    allow_oob,
                    allow_preconfig,
                    coroutine,
                })
            }
            DefKind::Event { data, boxed } => {
                let arg_type = self.arguments(&common.name, at, &def.ifcond, data)?;
                Entity::Event(Event {
                    common,
                    arg_type,
                    boxed,
                })
            }
        };
        self.define(entity, Some(loc))
    }

    fn arguments(
        &mut self,
        name: &str,
        at: (Loc, u32, u32),
        ifcond: &Option<IfCond>,
        data: Option<Data>,
    ) -> Result<Option<String>, Error> {
        match data {
            None => Ok(None),
            Some(Data::Named(n)) => Ok(Some(n)),
            Some(Data::Inline(members)) => {
                let members = self.members(members, at)?;
                let made_by = Implicit::Arguments { of: name.into() };
                let name = format!("q_obj_{name}-arg");
                self.implicit_object(name, made_by, at, ifcond.clone(), members)
            }
        }
    }

    /// Legacy simple union, desugared as QEMU before 7.0 did: each branch type wrapped in
    /// `q_obj_<T>-wrapper { data: T }`, an implicit enum `<Union>Kind` of the branch names,
    /// and an implicit base `{ type: <Union>Kind }` as discriminator.
    fn simple_union(
        &mut self,
        name: &str,
        at: (Loc, u32, u32),
        ifcond: &Option<IfCond>,
        branches: Vec<BranchDef>,
    ) -> Result<(Option<String>, Vec<Variant>), Error> {
        let mut variants = Vec::with_capacity(branches.len());
        let mut values = Vec::with_capacity(branches.len());
        for b in branches {
            let ty = self.type_name(b.ty, at)?;
            let member = Member {
                name: "data".into(),
                ty: ty.clone(),
                optional: false,
                ifcond: None,
                features: Vec::new(),
            };
            let made_by = Implicit::Wrapper {
                wrapped: ty.clone(),
            };
            let wrapper = self
                .implicit_object(
                    format!("q_obj_{ty}-wrapper"),
                    made_by,
                    at,
                    None,
                    vec![member],
                )?
                .unwrap_or_default();
            values.push(EnumValue {
                name: b.name.clone(),
                ifcond: b.ifcond.clone(),
                features: Vec::new(),
            });
            variants.push(Variant {
                name: b.name,
                ty: wrapper,
                ifcond: b.ifcond,
            });
        }
        let kind = format!("{name}Kind");
        let mut common = self.common(kind.clone(), Some(at), ifcond.clone(), Vec::new());
        common.implicit = Some(Implicit::UnionKind { of: name.into() });
        self.define(
            Entity::Enum(EnumType {
                common,
                values,
                prefix: None,
            }),
            Some(at.0),
        )?;
        let tag = Member {
            name: "type".into(),
            ty: kind,
            optional: false,
            ifcond: None,
            features: Vec::new(),
        };
        let made_by = Implicit::UnionBase { of: name.into() };
        let base_name = format!("q_obj_{name}-base");
        let base = self.implicit_object(base_name, made_by, at, ifcond.clone(), vec![tag])?;
        Ok((base, variants))
    }
}

/// QEMU's `describe()` of an entity, as used in messages.
pub(crate) fn describe(e: &Entity) -> String {
    let name = e.name();
    match e {
        Entity::Builtin(_) => format!("built-in type '{name}'"),
        Entity::Enum(_) => format!("enum type '{name}'"),
        Entity::Object(o) if o.variants.is_some() => format!("union type '{name}'"),
        Entity::Object(_) => format!("struct type '{name}'"),
        Entity::Alternate(_) => format!("alternate type '{name}'"),
        Entity::Array(a) => format!("array type ['{}']", a.element),
        Entity::Command(_) => format!("command '{name}'"),
        Entity::Event(_) => format!("event '{name}'"),
        Entity::Include(_) => "include".to_string(),
    }
}
