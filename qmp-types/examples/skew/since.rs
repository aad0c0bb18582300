//! When the bindings' schema says a skew item appeared: read from the doc comments of
//! `schema/qmp` (the schema the bindings were generated from) with qapi-parser. Commands and
//! events: their `Since:` section; members, branches and enum values: the `(since X)` or
//! `Since X` their description carries (QEMU's conventions), and nothing when it has none.

use qapi_parser::{Doc, Entity, Implicit, Schema, SectionKind};
use std::path::PathBuf;

pub struct SinceTable {
    schema: Schema,
}

impl SinceTable {
    /// Reads `schema/qmp/qapi-schema.json` of this repository.
    pub fn load() -> Result<SinceTable, String> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/qmp/qapi-schema.json");
        qapi_parser::load(&path, &qapi_parser::Options::default())
            .map(|schema| SinceTable { schema })
            .map_err(|e| format!("{}: {}", path.display(), e.report()))
    }

    /// The `since` of the item at `path` (the capabilities grammar, as skew reports use it).
    pub fn since(&self, path: &str) -> Option<String> {
        let mut steps = path.split('/');
        let top = self.schema.get(steps.next()?)?;
        let mut since = self.schema.doc_of(top).and_then(section_since);
        let mut current: Option<String> = None;
        for step in steps {
            since = None;
            let ty = current.take();
            match (step, ty) {
                ("arg-type", _) => {
                    current = match top {
                        Entity::Command(c) => c.arg_type.clone(),
                        Entity::Event(e) => e.arg_type.clone(),
                        _ => None,
                    };
                }
                ("ret-type", _) => {
                    current = match top {
                        Entity::Command(c) => c.ret_type.clone(),
                        _ => None,
                    };
                }
                ("*", Some(ty)) => match self.schema.get(&ty) {
                    Some(Entity::Array(a)) => current = Some(a.element.clone()),
                    _ => return None,
                },
                (step, Some(ty)) if step.starts_with('^') => {
                    since = self
                        .doc_of_type(&ty)
                        .and_then(|d| description_since(d, &step[1..]));
                }
                (step, Some(ty)) if step.starts_with('+') => {
                    let case = &step[1..];
                    let Some(Entity::Object(union)) = self.schema.get(&ty) else {
                        return None;
                    };
                    let variants = union.variants.as_ref()?;
                    let branch = variants.variants.iter().find(|v| v.name == case)?;
                    // The branch's `(since X)` is usually on the discriminator enum's value.
                    let tag_enum = self
                        .schema
                        .all_members(&ty)
                        .into_iter()
                        .find(|m| m.name == variants.tag)
                        .map(|m| m.ty.clone());
                    since = self
                        .doc_of_type(&ty)
                        .and_then(|d| description_since(d, case))
                        .or_else(|| {
                            tag_enum
                                .and_then(|e| self.doc_of_type(&e))
                                .and_then(|d| description_since(d, case))
                        });
                    current = Some(branch.ty.clone());
                }
                (name, Some(ty)) => {
                    let (definer, member) = self.member(&ty, name)?;
                    since = self
                        .doc_of_type(&definer)
                        .and_then(|d| description_since(d, name));
                    current = Some(member);
                }
                _ => return None,
            }
        }
        since
    }

    /// The object type of `ty`'s base chain that defines member `name`, and the member's type.
    fn member(&self, ty: &str, name: &str) -> Option<(String, String)> {
        let mut next = Some(ty.to_owned());
        for _ in 0..64 {
            let Some(Entity::Object(o)) = self.schema.get(next.as_deref()?) else {
                return None;
            };
            if let Some(m) = o.members.iter().find(|m| m.name == name) {
                return Some((o.common.name.clone(), m.ty.clone()));
            }
            next = o.base.clone();
        }
        None
    }

    /// The doc block describing type `name`'s members: its own, or for an implicit argument or
    /// base type, that of the command, event or union that made it.
    fn doc_of_type(&self, name: &str) -> Option<&Doc> {
        let entity = self.schema.get(name)?;
        let owner = match entity.implicit() {
            Some(Implicit::Arguments { of } | Implicit::UnionBase { of }) => self.schema.get(of)?,
            _ => entity,
        };
        self.schema.doc_of(owner)
    }
}

/// A doc block's `Since:` section, e.g. `7.1`.
fn section_since(doc: &Doc) -> Option<String> {
    doc.sections
        .iter()
        .find(|s| s.kind == SectionKind::Since)
        .map(|s| s.text.trim().to_owned())
}

/// The release in the description of `name` in `doc`: QEMU writes `(since X)` or `Since X`.
fn description_since(doc: &Doc, name: &str) -> Option<String> {
    let text = doc
        .args
        .iter()
        .find(|a| a.name == name)?
        .text
        .to_lowercase();
    text.match_indices("since").find_map(|(at, word)| {
        let rest =
            text[at + word.len()..].trim_start_matches(|c: char| c == ':' || c.is_whitespace());
        let version: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let version = version.trim_end_matches('.');
        version
            .starts_with(|c: char| c.is_ascii_digit())
            .then(|| version.to_owned())
    })
}
