//! What a running QEMU supports, from its `query-qmp-schema` ([`Capabilities`]): commands,
//! events, libvirt-style path queries, and whether a typed request would be understood.
//!
//! # Path grammar
//!
//! The grammar of libvirt's `virQEMUQAPISchemaPathGet` (`src/qemu/qemu_qapi.c`), plus `*`
//! alone for an array's element:
//!
//! ```text
//! path  := entry ( "/" step )*
//! entry := the name of a command or an event
//! step  := "arg-type" | "ret-type"   the command's (event's) argument or return type
//!        | NAME                       a member of an object type
//!        | "*" NAME                   a member that is optional
//!        | "*"                        the element type of an array
//!        | "+" CASE                   the branch of a union for discriminator value CASE
//!        | "^" VALUE                  (last step) the enum has the value VALUE
//!        | "!" TYPE                   (last step) the type is the built-in TYPE, by name
//!                                     (`int`) or JSON type (`string`)
//!        | "$" FEATURE                (last step) the entity reached (or the member just
//!                                     selected) has the feature FEATURE
//! ```
//!
//! As in libvirt, arrays are entered implicitly by any step other than `*`, and a step into
//! an alternate succeeds when it succeeds on any of the alternate's branches. For example
//! `blockdev-add/arg-type/+file/aio/^io_uring` asks whether `blockdev-add`'s `file` branch
//! has a member `aio` whose enum has the value `io_uring`. A path is `false` when anything
//! on the way does not exist; it is an error ([`PathError`]) only when it is malformed.

use super::decode::Enumeration;
use super::introspect::{MetaType, ObjectMember, SchemaError, SchemaInfo};
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;
use std::io::{self, Read, Write};

/// A path that does not follow the grammar (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    pub path: String,
    pub reason: &'static str,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad schema path '{}': {}", self.path, self.reason)
    }
}

impl std::error::Error for PathError {}

/// Why a request would not be understood by this QEMU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    /// What this QEMU lacks, as a path of the grammar (for which [`Capabilities::query`]
    /// says `false`): a command, a member, a branch or an enum value.
    Missing(String),
    /// The request could not be examined (it did not serialize, or nothing was recorded).
    Invalid(String),
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::Missing(path) => write!(f, "this QEMU lacks {path}"),
            Unsupported::Invalid(why) => write!(f, "cannot examine the request: {why}"),
        }
    }
}

impl std::error::Error for Unsupported {}

/// One step of a parsed path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step<'p> {
    Member(&'p str),
    Optional(&'p str),
    Element,
    Branch(&'p str),
    Value(&'p str),
    Builtin(&'p str),
    Feature(&'p str),
}

fn parse(path: &str) -> Result<(&str, Vec<Step<'_>>), PathError> {
    let error = |reason| PathError {
        path: path.to_owned(),
        reason,
    };
    let mut parts = path.split('/');
    let entry = parts.next().unwrap_or_default();
    if entry.is_empty() {
        return Err(error("it names no command or event"));
    }
    let mut steps = Vec::new();
    for part in parts {
        let (modifier, name) = match part.chars().next() {
            Some(c @ ('*' | '+' | '^' | '!' | '$')) => (Some(c), &part[1..]),
            Some(_) => (None, part),
            None => return Err(error("it has an empty step")),
        };
        if name.is_empty() && modifier != Some('*') {
            return Err(error("a modifier lacks its name"));
        }
        if matches!(
            steps.last(),
            Some(Step::Value(_) | Step::Builtin(_) | Step::Feature(_))
        ) {
            return Err(error("'^', '!' and '$' steps must come last"));
        }
        steps.push(match modifier {
            None => Step::Member(name),
            Some('*') if name.is_empty() => Step::Element,
            Some('*') => Step::Optional(name),
            Some('+') => Step::Branch(name),
            Some('^') => Step::Value(name),
            Some('!') => Step::Builtin(name),
            _ => Step::Feature(name),
        });
    }
    Ok((entry, steps))
}

/// A running QEMU's schema, asked questions.
#[derive(Debug, Clone)]
pub struct Capabilities {
    schema: SchemaInfo,
}

impl From<SchemaInfo> for Capabilities {
    fn from(schema: SchemaInfo) -> Self {
        Capabilities { schema }
    }
}

impl Capabilities {
    /// From a `query-qmp-schema` return value.
    pub fn from_value(value: &Value) -> Result<Capabilities, SchemaError> {
        SchemaInfo::from_value(value).map(Capabilities::from)
    }

    /// The schema the answers come from.
    pub fn schema(&self) -> &SchemaInfo {
        &self.schema
    }

    pub fn has_command(&self, name: &str) -> bool {
        self.schema.command(name).is_some()
    }

    pub fn has_event(&self, name: &str) -> bool {
        self.schema.event(name).is_some()
    }

    /// Answers a path query (grammar in the module docs).
    pub fn query(&self, path: &str) -> Result<bool, PathError> {
        let (entry, steps) = parse(path)?;
        let top = self.schema.command(entry).or(self.schema.event(entry));
        Ok(top.is_some() && self.walk(entry, &steps, None))
    }

    fn walk(&self, name: &str, steps: &[Step<'_>], member: Option<&ObjectMember>) -> bool {
        let Some(entity) = self.schema.get(name) else {
            return false;
        };
        let Some((step, rest)) = steps.split_first() else {
            return true;
        };
        if let Step::Feature(feature) = step {
            let has = |list: &[String]| list.iter().any(|f| f == feature);
            return has(&entity.features) || member.is_some_and(|m| has(&m.features));
        }
        match (&entity.meta, step) {
            (MetaType::Command { arg_type, .. }, Step::Member("arg-type"))
            | (MetaType::Event { arg_type }, Step::Member("arg-type")) => {
                self.walk(arg_type, rest, None)
            }
            (MetaType::Command { ret_type, .. }, Step::Member("ret-type")) => {
                self.walk(ret_type, rest, None)
            }
            (MetaType::Array { element_type }, Step::Element) => {
                self.walk(element_type, rest, None)
            }
            // Arrays are entered implicitly, alternates through any branch (libvirt).
            (MetaType::Array { element_type }, _) => self.walk(element_type, steps, None),
            (MetaType::Alternate { members }, _) => {
                members.iter().any(|ty| self.walk(ty, steps, None))
            }
            (MetaType::Object { members, .. }, Step::Member(name) | Step::Optional(name)) => {
                let optional_only = matches!(step, Step::Optional(_));
                members
                    .iter()
                    .find(|m| m.name == *name && (m.optional || !optional_only))
                    .is_some_and(|m| self.walk(&m.ty, rest, Some(m)))
            }
            (MetaType::Object { variants, .. }, Step::Branch(case)) => variants
                .iter()
                .find(|v| v.case == *case)
                .is_some_and(|v| self.walk(&v.ty, rest, None)),
            (MetaType::Enum { members }, Step::Value(value)) => {
                members.iter().any(|m| m.name == *value)
            }
            (MetaType::Builtin { json_type }, Step::Builtin(ty)) => {
                entity.name == *ty || json_type == ty
            }
            _ => false,
        }
    }

    /// Whether this QEMU knows the enum value `value`, with no name written as a string: some
    /// command or event of this QEMU reaches the enum along a path that `bindings` (the schema
    /// the enum was generated from, type names unmasked) has, and the value is there.
    pub fn has_value<E: Enumeration>(&self, bindings: &SchemaInfo, value: &E) -> bool {
        bindings.paths_to(E::SCHEMA_NAME).iter().any(|path| {
            self.query(&format!("{path}/^{}", value.wire_name()))
                .unwrap_or(false)
        })
    }

    /// Whether this QEMU understands `arguments` for `command`: the command exists, and every
    /// member the serialized value sets and every enum value it uses exists in the command's
    /// argument type, branches included. The error names the first thing missing as a path.
    pub fn accepts<A: Serialize + ?Sized>(
        &self,
        command: &str,
        arguments: &A,
    ) -> Result<(), Unsupported> {
        let value = serde_json::to_value(arguments)
            .map_err(|e| Unsupported::Invalid(format!("the arguments do not serialize: {e}")))?;
        self.accepts_value(command, &value)
    }

    /// [`Capabilities::accepts`] for arguments already in JSON form (`null`: no arguments).
    pub fn accepts_value(&self, command: &str, arguments: &Value) -> Result<(), Unsupported> {
        let Some(MetaType::Command { arg_type, .. }) =
            self.schema.command(command).map(|c| &c.meta)
        else {
            return Err(Unsupported::Missing(command.to_owned()));
        };
        if arguments.is_null() {
            return Ok(());
        }
        self.check(arg_type, arguments, &format!("{command}/arg-type"))
            .map_err(Unsupported::Missing)
    }

    /// Whether this QEMU understands the request a typed client call recorded (see
    /// [`Recorder`]): no command name or member needs to be written as a string.
    pub fn supports(&self, recorded: &Recorder) -> Result<(), Unsupported> {
        let (command, arguments) = recorded.request()?;
        self.accepts_value(&command, &arguments)
    }

    /// Checks `value` against type `ty`; the error is the path of the first thing missing.
    fn check(&self, ty: &str, value: &Value, path: &str) -> Result<(), String> {
        let Some(entity) = self.schema.get(ty) else {
            return Err(path.to_owned());
        };
        match (&entity.meta, value) {
            (MetaType::Enum { members }, Value::String(s)) => {
                if members.iter().any(|m| m.name == *s) {
                    Ok(())
                } else {
                    Err(format!("{path}/^{s}"))
                }
            }
            (MetaType::Array { element_type }, Value::Array(items)) => items
                .iter()
                .try_for_each(|item| self.check(element_type, item, &format!("{path}/*"))),
            (MetaType::Alternate { members }, _) => {
                let mut first = None;
                for ty in members {
                    match self.check(ty, value, path) {
                        Ok(()) if self.json_kind_fits(ty, value) => return Ok(()),
                        Ok(()) => {}
                        Err(missing) => {
                            if self.json_kind_fits(ty, value) {
                                first.get_or_insert(missing);
                            }
                        }
                    }
                }
                Err(first.unwrap_or_else(|| path.to_owned()))
            }
            (
                MetaType::Object {
                    members,
                    tag,
                    variants,
                },
                Value::Object(object),
            ) => {
                let mut rest = Map::new();
                for (key, item) in object {
                    match members.iter().find(|m| m.name == *key) {
                        Some(m) => self.check(&m.ty, item, &format!("{path}/{key}"))?,
                        None => {
                            rest.insert(key.clone(), item.clone());
                        }
                    }
                }
                let Some(key) = rest.keys().next() else {
                    return Ok(());
                };
                let case = tag
                    .as_ref()
                    .and_then(|t| object.get(t))
                    .and_then(Value::as_str);
                match case.and_then(|c| variants.iter().find(|v| v.case == c)) {
                    Some(v) => {
                        self.check(&v.ty, &Value::Object(rest), &format!("{path}/+{}", v.case))
                    }
                    None => Err(format!("{path}/{key}")),
                }
            }
            // Built-ins, and values of the wrong JSON type, are QEMU's to judge.
            _ => Ok(()),
        }
    }

    /// Whether an alternate's branch `ty` is the one QEMU would pick for `value`.
    fn json_kind_fits(&self, ty: &str, value: &Value) -> bool {
        match self.schema.get(ty).map(|e| &e.meta) {
            Some(MetaType::Builtin { json_type }) => matches!(
                (json_type.as_str(), value),
                ("string", Value::String(_))
                    | ("int" | "number", Value::Number(_))
                    | ("boolean", Value::Bool(_))
                    | ("null", Value::Null)
                    | ("value", _)
            ),
            Some(MetaType::Enum { .. }) => value.is_string(),
            Some(MetaType::Object { .. }) => value.is_object(),
            Some(MetaType::Array { .. }) => value.is_array(),
            _ => false,
        }
    }
}

/// A stream that records what a client writes and reads as closed, so a typed client call
/// (`Client::new(Recorder::default())`) yields the request it would send without sending it.
#[derive(Debug, Default, Clone)]
pub struct Recorder {
    written: Vec<u8>,
}

impl Recorder {
    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.written
    }

    /// The first request written: its command name and arguments (`null` when absent).
    pub fn request(&self) -> Result<(String, Value), Unsupported> {
        let line = self
            .written
            .split(|&b| b == b'\n')
            .find(|l| !l.is_empty())
            .ok_or_else(|| Unsupported::Invalid("no request was written".into()))?;
        let request: Value = serde_json::from_slice(line)
            .map_err(|e| Unsupported::Invalid(format!("the request is not JSON: {e}")))?;
        let command = request
            .get("execute")
            .and_then(Value::as_str)
            .ok_or_else(|| Unsupported::Invalid(format!("no command in {request}")))?;
        let arguments = request.get("arguments").cloned().unwrap_or(Value::Null);
        Ok((command.to_owned(), arguments))
    }
}

impl Read for Recorder {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caps() -> Capabilities {
        Capabilities::from_value(&json!([
            {"name": "blockdev-add", "meta-type": "command", "arg-type": "0", "ret-type": "1",
             "features": ["x"]},
            {"name": "query-things", "meta-type": "command", "arg-type": "1", "ret-type": "[2]"},
            {"name": "BOOM", "meta-type": "event", "arg-type": "1"},
            {"name": "0", "meta-type": "object", "tag": "driver",
             "members": [{"name": "driver", "type": "3"},
                         {"name": "node-name", "type": "str", "default": null,
                          "features": ["unstable"]}],
             "variants": [{"case": "file", "type": "4"}, {"case": "null-co", "type": "1"}]},
            {"name": "1", "meta-type": "object", "members": []},
            {"name": "[2]", "meta-type": "array", "element-type": "2"},
            {"name": "2", "meta-type": "object", "members": [{"name": "size", "type": "int"},
                                                             {"name": "alt", "type": "5"}]},
            {"name": "3", "meta-type": "enum", "members": [{"name": "file"}, {"name": "null-co"}]},
            {"name": "4", "meta-type": "object",
             "members": [{"name": "filename", "type": "str"},
                         {"name": "aio", "type": "6", "default": null}]},
            {"name": "5", "meta-type": "alternate", "members": [{"type": "str"}, {"type": "2"}]},
            {"name": "6", "meta-type": "enum", "values": ["threads", "native", "io_uring"]},
            {"name": "str", "meta-type": "builtin", "json-type": "string"},
            {"name": "int", "meta-type": "builtin", "json-type": "int"}
        ]))
        .expect("valid schema")
    }

    #[test]
    fn answers_path_queries() {
        let caps = caps();
        let yes = [
            "blockdev-add",
            "blockdev-add/arg-type/+file/aio/^io_uring",
            "blockdev-add/arg-type/+file/*aio",
            "blockdev-add/arg-type/driver/^null-co",
            "blockdev-add/arg-type/node-name/$unstable",
            "blockdev-add/$x",
            "blockdev-add/arg-type/node-name/!str",
            "blockdev-add/arg-type/node-name/!string",
            "query-things/ret-type/size",
            "query-things/ret-type/*/size/!int",
            "query-things/ret-type/alt/size",
            "BOOM/arg-type",
        ];
        for path in yes {
            assert_eq!(caps.query(path), Ok(true), "{path}");
        }
        let no = [
            "blockdev-del",
            "blockdev-add/arg-type/+file/aio/^posix",
            "blockdev-add/arg-type/+nvme",
            "blockdev-add/arg-type/+file/*filename",
            "blockdev-add/arg-type/filename",
            "blockdev-add/ret-type/filename",
            "blockdev-add/$y",
            "blockdev-add/arg-type/node-name/!int",
            "BOOM/ret-type",
            "query-things/ret-type/*/*",
            "0",
        ];
        for path in no {
            assert_eq!(caps.query(path), Ok(false), "{path}");
        }
        assert!(caps.has_command("query-things") && !caps.has_command("BOOM"));
        assert!(caps.has_event("BOOM") && !caps.has_event("query-things"));
    }

    #[test]
    fn malformed_paths_are_errors() {
        let caps = caps();
        for path in ["", "/arg-type", "a//b", "a/+", "a/^x/y", "a/$f/^v"] {
            assert!(caps.query(path).is_err(), "{path}");
        }
    }

    #[test]
    fn accepts_names_what_is_missing() {
        let caps = caps();
        let ok = json!({"driver": "file", "filename": "/x", "aio": "native", "node-name": "n"});
        assert_eq!(caps.accepts("blockdev-add", &ok), Ok(()));
        let missing = |v: Value| match caps.accepts("blockdev-add", &v) {
            Err(Unsupported::Missing(path)) => path,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            missing(json!({"driver": "file", "filename": "/x", "aio": "posix"})),
            "blockdev-add/arg-type/+file/aio/^posix"
        );
        assert_eq!(
            missing(json!({"driver": "null-co", "filename": "/x"})),
            "blockdev-add/arg-type/+null-co/filename"
        );
        assert_eq!(
            missing(json!({"driver": "nvme"})),
            "blockdev-add/arg-type/driver/^nvme"
        );
        assert_eq!(
            caps.accepts("blockdev-del", &json!({})),
            Err(Unsupported::Missing("blockdev-del".into()))
        );
    }

    #[test]
    fn recorder_captures_the_request() {
        let mut recorder = Recorder::default();
        recorder
            .write_all(
                b"{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"nvme\"},\"id\":1}\n",
            )
            .expect("in memory");
        assert_eq!(
            caps().supports(&recorder),
            Err(Unsupported::Missing(
                "blockdev-add/arg-type/driver/^nvme".into()
            ))
        );
        assert!(matches!(
            caps().supports(&Recorder::default()),
            Err(Unsupported::Invalid(_))
        ));
    }
}
