//! Small helpers that generated `Serialize` impls call.

use serde::ser::{Serialize, SerializeMap};

/// Writes `key: value` when the optional member is present.
pub fn optional<M, T>(map: &mut M, key: &'static str, value: Option<T>) -> Result<(), M::Error>
where
    M: SerializeMap,
    T: Serialize,
{
    match value {
        Some(value) => map.serialize_entry(key, &value),
        None => Ok(()),
    }
}

/// The empty object `{}`: the return value of commands without `returns`.
pub fn empty<S: serde::Serializer>(serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_map(Some(0))?.end()
}
