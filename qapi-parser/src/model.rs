//! The checked schema model: what the code generator, the dump tool and users read.
//!
//! A [`Schema`] holds every entity QEMU's generator would create, in its creation order:
//! built-in types, `q_empty`, `QType`, then the definitions in source order with implicit
//! types (`q_obj_*-arg`, `q_obj_*-base`, `*List` arrays) inserted where QEMU inserts them;
//! each implicit entity says what made it ([`Common::implicit`], an [`Implicit`]), so readers
//! need not decode its name. Types refer to each other by name; [`Schema::get`] resolves a name.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Where something was defined: the file as QEMU names it in messages, and a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The file path as built while parsing: the root path as given, include paths joined
    /// onto the including file's directory (not normalised). Shared by all infos of a file.
    pub file: Arc<Path>,
    /// 1-based line of the definition's opening `{` (or of the doc block's first line).
    pub line: u32,
    /// 1-based column of that position.
    pub col: u32,
    /// Byte range in the file's text.
    pub span: std::ops::Range<usize>,
}

/// An `if` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfCond {
    /// A configuration symbol such as `CONFIG_LINUX`.
    Name(String),
    /// `{ 'all': [...] }`: every operand holds (never empty).
    All(Vec<IfCond>),
    /// `{ 'any': [...] }`: at least one operand holds (never empty).
    Any(Vec<IfCond>),
    /// `{ 'not': ... }`.
    Not(Box<IfCond>),
}

/// A feature of a definition, member or enum value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    pub name: String,
    pub ifcond: Option<IfCond>,
}

impl Feature {
    /// `deprecated` and `unstable` have a meaning of their own; others are free-form.
    pub fn is_special(&self) -> bool {
        matches!(self.name.as_str(), "deprecated" | "unstable")
    }
}

/// What every entity has.
#[derive(Debug, Clone, PartialEq)]
pub struct Common {
    pub name: String,
    /// Module name as QEMU prints it: `./builtin`, the root file's name, or an included file's
    /// path relative to the root file's directory (normalised). Shared by its entities.
    pub module: Arc<str>,
    /// `None` for built-ins and predefined entities.
    pub info: Option<SourceInfo>,
    pub ifcond: Option<IfCond>,
    pub features: Vec<Feature>,
    /// Index into [`Schema::docs`] of the definition's doc block, if it has one.
    pub doc: Option<usize>,
    /// What made the entity, when the schema does not define it by name.
    pub implicit: Option<Implicit>,
}

/// What made an implicit entity (one QEMU's generator creates, not the schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Implicit {
    /// `q_empty`: the type of the union branches a schema leaves out.
    Empty,
    /// `q_obj_<name>-arg`: the inline arguments (`data`) of command or event `name`.
    Arguments { of: String },
    /// `q_obj_<name>-base`: the inline base of union `name`.
    UnionBase { of: String },
    /// `q_obj_<T>-wrapper` (legacy simple unions): `{ data: T }` around a branch type.
    Wrapper { wrapped: String },
    /// `<Union>Kind` (legacy simple unions): the enum of a union's branch names.
    UnionKind { of: String },
    /// `q_obj_<of>-<member>-nested` (legacy, QEMU 0.15-2.4): an anonymous struct written in
    /// place of the type of member `member` of definition `of` (a dotted path of member names
    /// when one anonymous struct holds another).
    Nested { of: String, member: String },
    /// `<T>List`: the array of a type, made where it is first used.
    Array,
}

/// The built-in scalar types and their JSON representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinKind {
    Str,
    Number,
    Int,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Size,
    Bool,
    Null,
    Any,
}

impl BuiltinKind {
    /// Every built-in, in QEMU's definition order.
    pub const ALL: [BuiltinKind; 15] = [
        BuiltinKind::Str,
        BuiltinKind::Number,
        BuiltinKind::Int,
        BuiltinKind::Int8,
        BuiltinKind::Int16,
        BuiltinKind::Int32,
        BuiltinKind::Int64,
        BuiltinKind::Uint8,
        BuiltinKind::Uint16,
        BuiltinKind::Uint32,
        BuiltinKind::Uint64,
        BuiltinKind::Size,
        BuiltinKind::Bool,
        BuiltinKind::Any,
        BuiltinKind::Null,
    ];

    /// The schema name (`str`, `int8`, ...).
    pub fn name(self) -> &'static str {
        match self {
            BuiltinKind::Str => "str",
            BuiltinKind::Number => "number",
            BuiltinKind::Int => "int",
            BuiltinKind::Int8 => "int8",
            BuiltinKind::Int16 => "int16",
            BuiltinKind::Int32 => "int32",
            BuiltinKind::Int64 => "int64",
            BuiltinKind::Uint8 => "uint8",
            BuiltinKind::Uint16 => "uint16",
            BuiltinKind::Uint32 => "uint32",
            BuiltinKind::Uint64 => "uint64",
            BuiltinKind::Size => "size",
            BuiltinKind::Bool => "bool",
            BuiltinKind::Null => "null",
            BuiltinKind::Any => "any",
        }
    }

    /// Looks a built-in up by its schema name.
    pub fn from_name(name: &str) -> Option<BuiltinKind> {
        BuiltinKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A built-in scalar type (`str`, `int`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltinType {
    pub common: Common,
    pub kind: BuiltinKind,
}

/// An enum value.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumValue {
    pub name: String,
    pub ifcond: Option<IfCond>,
    pub features: Vec<Feature>,
}

/// `{ 'enum': ... }`, and the predefined `QType`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumType {
    pub common: Common,
    pub values: Vec<EnumValue>,
    /// The `prefix` key (only affects C names in QEMU).
    pub prefix: Option<String>,
}

/// A member of an object type (struct member, argument, base member).
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Wire name, without the `*` of optional members.
    pub name: String,
    /// Name of the member's type (a built-in, a named type or an array type such as `intList`).
    pub ty: String,
    pub optional: bool,
    pub ifcond: Option<IfCond>,
    pub features: Vec<Feature>,
}

/// One branch of a union or alternate.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The discriminator value (union) or branch name (alternate).
    pub name: String,
    /// Name of the branch type (`q_empty` for union branches the schema leaves out).
    pub ty: String,
    pub ifcond: Option<IfCond>,
}

/// The branches of a flat union.
#[derive(Debug, Clone, PartialEq)]
pub struct Variants {
    /// Name of the discriminator member (a member of the base).
    pub tag: String,
    /// Explicit branches in source order, then implicit `q_empty` ones in enum order.
    pub variants: Vec<Variant>,
}

/// A struct, a union, or an implicit object type (`q_empty`, `q_obj_*`).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectType {
    pub common: Common,
    /// Name of the base type, if any (for unions with an inline base: `q_obj_<U>-base`).
    pub base: Option<String>,
    /// Members defined here, not those of the base (unions have none).
    pub members: Vec<Member>,
    /// `Some` for unions.
    pub variants: Option<Variants>,
}

impl ObjectType {
    /// Whether the generator made the type (`q_empty`, an argument, base or wrapper type).
    pub fn is_implicit(&self) -> bool {
        self.common.implicit.is_some()
    }
}

/// `{ 'alternate': ... }`: a value whose JSON type selects the branch.
#[derive(Debug, Clone, PartialEq)]
pub struct AlternateType {
    pub common: Common,
    /// Branches in source order; the implicit tag member is `type` of enum `QType`.
    pub variants: Vec<Variant>,
}

/// An array type `<element>List`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayType {
    pub common: Common,
    pub element: String,
}

/// `{ 'command': ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub common: Common,
    /// Argument type: `q_obj_<cmd>-arg` for inline arguments, a named type, or `None`.
    pub arg_type: Option<String>,
    /// Return type (`None`: the command returns `{}`).
    pub ret_type: Option<String>,
    pub gen: bool,
    pub success_response: bool,
    pub boxed: bool,
    pub allow_oob: bool,
    pub allow_preconfig: bool,
    pub coroutine: bool,
}

/// `{ 'event': ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub common: Common,
    pub arg_type: Option<String>,
    pub boxed: bool,
}

/// An `include` directive, kept where it appeared.
#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    /// `common.name` is empty; `common.module` is the including module.
    pub common: Common,
    /// Module name of the included file.
    pub target: String,
}

/// Every kind of entity of a schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Entity {
    Builtin(BuiltinType),
    Enum(EnumType),
    Object(ObjectType),
    Alternate(AlternateType),
    Array(ArrayType),
    Command(Command),
    Event(Event),
    Include(Include),
}

impl Entity {
    /// What all entities share.
    pub fn common(&self) -> &Common {
        match self {
            Entity::Builtin(e) => &e.common,
            Entity::Enum(e) => &e.common,
            Entity::Object(e) => &e.common,
            Entity::Alternate(e) => &e.common,
            Entity::Array(e) => &e.common,
            Entity::Command(e) => &e.common,
            Entity::Event(e) => &e.common,
            Entity::Include(e) => &e.common,
        }
    }

    pub fn name(&self) -> &str {
        &self.common().name
    }

    /// What made the entity, if the schema does not define it by name.
    pub fn implicit(&self) -> Option<&Implicit> {
        self.common().implicit.as_ref()
    }

    /// True for types (everything but commands, events and includes).
    pub fn is_type(&self) -> bool {
        !matches!(
            self,
            Entity::Command(_) | Entity::Event(_) | Entity::Include(_)
        )
    }
}

/// Kinds of doc sections after the body and the member/feature descriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    Plain,
    Returns,
    Errors,
    Since,
    Todo,
}

/// A tagged or plain section of a doc block.
#[derive(Debug, Clone, PartialEq)]
pub struct DocSection {
    pub kind: SectionKind,
    pub text: String,
    pub info: SourceInfo,
}

/// The description of one member or feature.
#[derive(Debug, Clone, PartialEq)]
pub struct DocDescription {
    pub name: String,
    /// Empty for undocumented members of a `documentation-exceptions` definition.
    pub text: String,
    pub info: SourceInfo,
}

/// A `##` doc block.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub info: SourceInfo,
    /// `Some(name)` for a definition doc (`# @name:`), `None` for free-form docs.
    pub symbol: Option<String>,
    pub body: String,
    /// Member/argument/value/branch descriptions, in QEMU's dump order.
    pub args: Vec<DocDescription>,
    pub features: Vec<DocDescription>,
    /// Sections after the body, in source order.
    pub sections: Vec<DocSection>,
}

/// The pragmas in effect (the last value of each key wins).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pragmas {
    pub doc_required: bool,
    pub command_name_exceptions: Vec<String>,
    pub command_returns_exceptions: Vec<String>,
    pub documentation_exceptions: Vec<String>,
    pub member_name_exceptions: Vec<String>,
}

/// An entity's position in creation order: how the loader, the checker and the name index
/// refer to entities (indexing any per-entity `Vec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct EntityId(pub(crate) usize);

impl<T> std::ops::Index<EntityId> for Vec<T> {
    type Output = T;

    fn index(&self, id: EntityId) -> &T {
        &self[id.0]
    }
}

impl<T> std::ops::IndexMut<EntityId> for Vec<T> {
    fn index_mut(&mut self, id: EntityId) -> &mut T {
        &mut self[id.0]
    }
}

/// A checked schema. Its parts are read through accessors, so the name index always matches
/// the entities.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    modules: Vec<String>,
    entities: Vec<Entity>,
    docs: Vec<Doc>,
    pragmas: Pragmas,
    /// Entity index by name (includes are not indexed).
    index: HashMap<String, EntityId>,
}

impl Schema {
    /// Made by the loader only, from checked parts whose index matches `entities`.
    pub(crate) fn new(
        modules: Vec<String>,
        entities: Vec<Entity>,
        docs: Vec<Doc>,
        pragmas: Pragmas,
        index: HashMap<String, EntityId>,
    ) -> Schema {
        Schema {
            modules,
            entities,
            docs,
            pragmas,
            index,
        }
    }

    /// Module names in QEMU's order: `./builtin`, the root, then includes in first-use order.
    pub fn modules(&self) -> &[String] {
        &self.modules
    }

    /// Every entity in creation order (see the module docs).
    pub fn entities(&self) -> &[Entity] {
        &self.entities
    }

    /// Every doc block in source order (included files' blocks where the include was).
    pub fn docs(&self) -> &[Doc] {
        &self.docs
    }

    /// The pragmas in effect.
    pub fn pragmas(&self) -> &Pragmas {
        &self.pragmas
    }

    /// Looks an entity up by name.
    pub fn get(&self, name: &str) -> Option<&Entity> {
        self.index.get(name).map(|&id| &self.entities[id])
    }

    /// The doc block of an entity, if it has one.
    pub fn doc_of(&self, entity: &Entity) -> Option<&Doc> {
        entity.common().doc.map(|i| &self.docs[i])
    }

    /// All commands in source order.
    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.entities.iter().filter_map(|e| match e {
            Entity::Command(c) => Some(c),
            _ => None,
        })
    }

    /// All events in source order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.entities.iter().filter_map(|e| match e {
            Entity::Event(e) => Some(e),
            _ => None,
        })
    }

    /// Every member of an object type: the base chain's members first, then its own.
    /// Returns an empty list for names that are not object types.
    pub fn all_members(&self, object: &str) -> Vec<&Member> {
        let mut chain = Vec::new();
        let mut next = Some(object);
        while let Some(name) = next {
            match self.get(name) {
                Some(Entity::Object(o))
                    if !chain.iter().any(|c: &&ObjectType| c.common.name == name) =>
                {
                    chain.push(o);
                    next = o.base.as_deref();
                }
                _ => break,
            }
        }
        chain.iter().rev().flat_map(|o| o.members.iter()).collect()
    }
}
