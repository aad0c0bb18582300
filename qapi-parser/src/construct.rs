//! Building a [`Schema`] from parts, for tools and tests that make schemas without parsing.

use crate::model::{Doc, Entity, Pragmas, Schema};

impl Schema {
    /// A schema holding `entities` (in creation order) and `docs`; the name index is built
    /// here. The caller vouches that the parts are consistent (names resolve, docs indices
    /// are in range), as a checked schema would be.
    pub fn from_parts(
        modules: Vec<String>,
        entities: Vec<Entity>,
        docs: Vec<Doc>,
        pragmas: Pragmas,
    ) -> Schema {
        let index = entities
            .iter()
            .enumerate()
            .filter(|(_, e)| !matches!(e, Entity::Include(_)))
            .map(|(i, e)| (e.name().to_owned(), i))
            .collect();
        Schema {
            modules,
            entities,
            docs,
            pragmas,
            index,
        }
    }
}
