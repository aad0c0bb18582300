//! QEMU's introspection (`query-qmp-schema`) as a typed model: one [`SchemaEntity`] per
//! `SchemaInfo` object, looked up by name.
//!
//! Names of types other than built-ins and arrays are masked as numbers by QEMU, so a document
//! is entered from its commands and events; [`super::capabilities`] and [`super::skew`] walk it.

use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

/// A `query-qmp-schema` value that did not have the documented shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError(pub String);

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed query-qmp-schema value: {}", self.0)
    }
}

impl std::error::Error for SchemaError {}

/// A member of an object type (`SchemaInfoObjectMember`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMember {
    pub name: String,
    /// The member's type name.
    pub ty: String,
    /// Optional members carry a `default` key (always `null` today).
    pub optional: bool,
    pub features: Vec<String>,
}

/// One branch of a union (`SchemaInfoObjectVariant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVariant {
    /// The discriminator's value selecting the branch.
    pub case: String,
    /// The branch's type (an object type; QEMU's empty object for member-less branches).
    pub ty: String,
}

/// An enum value (`SchemaInfoEnumMember`; QEMU before 6.2 only lists `values`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumMember {
    pub name: String,
    pub features: Vec<String>,
}

/// What an entity is, by its `meta-type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaType {
    /// `str`, `int`, `number`, `bool`, `null`, `any`, with their JSON type.
    Builtin {
        json_type: String,
    },
    Enum {
        members: Vec<EnumMember>,
    },
    Array {
        element_type: String,
    },
    /// A struct or union: common members, then the branches selected by member `tag`.
    Object {
        members: Vec<ObjectMember>,
        tag: Option<String>,
        variants: Vec<ObjectVariant>,
    },
    /// An alternate: the type names of its branches.
    Alternate {
        members: Vec<String>,
    },
    Command {
        arg_type: String,
        ret_type: String,
        allow_oob: bool,
    },
    Event {
        arg_type: String,
    },
}

impl MetaType {
    /// The wire name of the meta-type (`object`, `enum`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            MetaType::Builtin { .. } => "builtin",
            MetaType::Enum { .. } => "enum",
            MetaType::Array { .. } => "array",
            MetaType::Object { .. } => "object",
            MetaType::Alternate { .. } => "alternate",
            MetaType::Command { .. } => "command",
            MetaType::Event { .. } => "event",
        }
    }
}

/// One `SchemaInfo` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaEntity {
    pub name: String,
    pub features: Vec<String>,
    pub meta: MetaType,
}

/// A whole `query-qmp-schema` reply, in QEMU's order, with a name index.
#[derive(Debug, Clone, Default)]
pub struct SchemaInfo {
    entities: Vec<SchemaEntity>,
    index: HashMap<String, usize>,
}

impl SchemaInfo {
    /// Reads the text of a `query-qmp-schema` return value (a JSON array).
    pub fn from_json(text: &str) -> Result<SchemaInfo, SchemaError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| SchemaError(format!("not JSON: {e}")))?;
        SchemaInfo::from_value(&value)
    }

    /// Reads a `query-qmp-schema` return value.
    pub fn from_value(value: &Value) -> Result<SchemaInfo, SchemaError> {
        let list = value
            .as_array()
            .ok_or_else(|| SchemaError("expected an array of SchemaInfo objects".into()))?;
        let mut info = SchemaInfo::default();
        for (i, item) in list.iter().enumerate() {
            let entity = entity(item).map_err(|e| SchemaError(format!("entry {i}: {}", e.0)))?;
            info.index.insert(entity.name.clone(), info.entities.len());
            info.entities.push(entity);
        }
        Ok(info)
    }

    /// Every entity, in the reply's order.
    pub fn entities(&self) -> &[SchemaEntity] {
        &self.entities
    }

    /// The entity called `name` (a command, an event or a possibly masked type name).
    pub fn get(&self, name: &str) -> Option<&SchemaEntity> {
        self.index.get(name).map(|&i| &self.entities[i])
    }

    /// The commands, in the reply's order.
    pub fn commands(&self) -> impl Iterator<Item = &SchemaEntity> {
        self.entities
            .iter()
            .filter(|e| matches!(e.meta, MetaType::Command { .. }))
    }

    /// The events, in the reply's order.
    pub fn events(&self) -> impl Iterator<Item = &SchemaEntity> {
        self.entities
            .iter()
            .filter(|e| matches!(e.meta, MetaType::Event { .. }))
    }

    /// The command called `name`, if this schema has it.
    pub fn command(&self, name: &str) -> Option<&SchemaEntity> {
        self.get(name)
            .filter(|e| matches!(e.meta, MetaType::Command { .. }))
    }

    /// The event called `name`, if this schema has it.
    pub fn event(&self, name: &str) -> Option<&SchemaEntity> {
        self.get(name)
            .filter(|e| matches!(e.meta, MetaType::Event { .. }))
    }

    /// Paths (in the grammar of [`Capabilities::query`](crate::Capabilities::query)) from
    /// commands and events to the type called `type_name`: a shortest one for each command or
    /// event that reaches it, in schema order. Meant for a schema whose type names are not
    /// masked, such as a generated crate's own.
    pub fn paths_to(&self, type_name: &str) -> Vec<String> {
        let mut paths = Vec::new();
        for top in &self.entities {
            let roots = match &top.meta {
                MetaType::Command {
                    arg_type, ret_type, ..
                } => vec![("arg-type", arg_type), ("ret-type", ret_type)],
                MetaType::Event { arg_type } => vec![("arg-type", arg_type)],
                _ => continue,
            };
            // Breadth first, so the path found is a shortest one.
            let mut queue: VecDeque<(&str, String)> = roots
                .into_iter()
                .map(|(step, ty)| (ty.as_str(), format!("{}/{step}", top.name)))
                .collect();
            let mut seen = HashSet::new();
            while let Some((ty, path)) = queue.pop_front() {
                if ty == type_name {
                    paths.push(path);
                    break;
                }
                if !seen.insert(ty) {
                    continue;
                }
                match self.get(ty).map(|e| &e.meta) {
                    // Arrays and alternates are entered implicitly by the next step.
                    Some(MetaType::Array { element_type }) => queue.push_back((element_type, path)),
                    Some(MetaType::Alternate { members }) => {
                        queue.extend(members.iter().map(|m| (m.as_str(), path.clone())))
                    }
                    Some(MetaType::Object {
                        members, variants, ..
                    }) => {
                        for m in members {
                            queue.push_back((&m.ty, format!("{path}/{}", m.name)));
                        }
                        for v in variants {
                            queue.push_back((&v.ty, format!("{path}/+{}", v.case)));
                        }
                    }
                    _ => {}
                }
            }
        }
        paths
    }
}

fn entity(item: &Value) -> Result<SchemaEntity, SchemaError> {
    let name = string(item, "name")?;
    let meta_type = string(item, "meta-type")?;
    let meta = match meta_type.as_str() {
        "builtin" => MetaType::Builtin {
            json_type: string(item, "json-type")?,
        },
        "enum" => MetaType::Enum {
            members: enum_members(item)?,
        },
        "array" => MetaType::Array {
            element_type: string(item, "element-type")?,
        },
        "object" => MetaType::Object {
            members: list(item, "members")?
                .iter()
                .map(|m| {
                    Ok(ObjectMember {
                        name: string(m, "name")?,
                        ty: string(m, "type")?,
                        optional: m.get("default").is_some(),
                        features: features(m)?,
                    })
                })
                .collect::<Result<_, SchemaError>>()?,
            tag: item.get("tag").map(|_| string(item, "tag")).transpose()?,
            variants: match item.get("variants") {
                None => Vec::new(),
                Some(_) => list(item, "variants")?
                    .iter()
                    .map(|v| {
                        Ok(ObjectVariant {
                            case: string(v, "case")?,
                            ty: string(v, "type")?,
                        })
                    })
                    .collect::<Result<_, SchemaError>>()?,
            },
        },
        "alternate" => MetaType::Alternate {
            members: list(item, "members")?
                .iter()
                .map(|m| string(m, "type"))
                .collect::<Result<_, _>>()?,
        },
        "command" => MetaType::Command {
            arg_type: string(item, "arg-type")?,
            ret_type: string(item, "ret-type")?,
            allow_oob: item.get("allow-oob").and_then(Value::as_bool) == Some(true),
        },
        "event" => MetaType::Event {
            arg_type: string(item, "arg-type")?,
        },
        other => return Err(SchemaError(format!("{name}: unknown meta-type '{other}'"))),
    };
    Ok(SchemaEntity {
        features: features(item).map_err(|e| SchemaError(format!("{name}: {}", e.0)))?,
        name,
        meta,
    })
}

/// Enum values from `members` (QEMU 6.2 on) or else `values`.
fn enum_members(item: &Value) -> Result<Vec<EnumMember>, SchemaError> {
    if item.get("members").is_some() {
        return list(item, "members")?
            .iter()
            .map(|m| {
                Ok(EnumMember {
                    name: string(m, "name")?,
                    features: features(m)?,
                })
            })
            .collect();
    }
    list(item, "values")?
        .iter()
        .map(|v| {
            v.as_str()
                .map(|name| EnumMember {
                    name: name.to_owned(),
                    features: Vec::new(),
                })
                .ok_or_else(|| SchemaError(format!("enum value {v} is not a string")))
        })
        .collect()
}

fn features(item: &Value) -> Result<Vec<String>, SchemaError> {
    match item.get("features") {
        None => Ok(Vec::new()),
        Some(_) => list(item, "features")?
            .iter()
            .map(|f| {
                f.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| SchemaError(format!("feature {f} is not a string")))
            })
            .collect(),
    }
}

fn string(item: &Value, key: &str) -> Result<String, SchemaError> {
    item.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| SchemaError(format!("'{key}' missing or not a string in {item}")))
}

fn list<'v>(item: &'v Value, key: &str) -> Result<&'v Vec<Value>, SchemaError> {
    item.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| SchemaError(format!("'{key}' missing or not an array in {item}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_meta_type_and_old_enums() {
        let info = SchemaInfo::from_json(
            r#"[{"name":"c","meta-type":"command","arg-type":"0","ret-type":"[1]","allow-oob":true},
                {"name":"E","meta-type":"event","arg-type":"0","features":["unstable"]},
                {"name":"0","meta-type":"object","members":[{"name":"a","type":"str","default":null}],
                 "tag":"a","variants":[{"case":"x","type":"0"}]},
                {"name":"[1]","meta-type":"array","element-type":"1"},
                {"name":"1","meta-type":"enum","values":["p","q"]},
                {"name":"2","meta-type":"alternate","members":[{"type":"str"},{"type":"0"}]},
                {"name":"str","meta-type":"builtin","json-type":"string"}]"#,
        )
        .expect("valid");
        assert_eq!(info.commands().count(), 1);
        assert_eq!(
            info.event("E").map(|e| e.features.clone()),
            Some(vec!["unstable".into()])
        );
        let Some(MetaType::Enum { members }) = info.get("1").map(|e| &e.meta) else {
            panic!("enum expected");
        };
        assert_eq!(members[1].name, "q");
        let Some(MetaType::Object {
            members,
            tag,
            variants,
        }) = info.get("0").map(|e| &e.meta)
        else {
            panic!("object expected");
        };
        assert!(members[0].optional);
        assert_eq!(tag.as_deref(), Some("a"));
        assert_eq!(variants[0].case, "x");
    }

    #[test]
    fn bad_input_says_where() {
        let err = SchemaInfo::from_json(r#"[{"name":"x","meta-type":"thing"}]"#)
            .expect_err("unknown meta-type");
        assert!(
            err.to_string()
                .contains("entry 0: x: unknown meta-type 'thing'"),
            "{err}"
        );
        assert!(SchemaInfo::from_json("{}").is_err());
        let err = SchemaInfo::from_json(r#"[{"name":"c","meta-type":"command","arg-type":"0"}]"#)
            .expect_err("ret-type missing");
        assert!(err.to_string().contains("'ret-type'"), "{err}");
    }
}
