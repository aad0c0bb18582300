//! Small helpers that generated `Serialize` impls call.

use serde::ser::{Serialize, SerializeMap, Serializer};

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
pub fn empty<S: Serializer>(serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_map(Some(0))?.end()
}

/// An object type, whose members can be written into a map shared with other types (a
/// union's base and branch members form one JSON object).
pub trait SerializeMembers {
    fn serialize_members<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error>;
}

/// Writes an object type as a JSON object; generated `Serialize` impls call this.
pub fn serialize_object<T, S>(value: &T, serializer: S) -> Result<S::Ok, S::Error>
where
    T: SerializeMembers + ?Sized,
    S: Serializer,
{
    let mut map = serializer.serialize_map(None)?;
    value.serialize_members(&mut map)?;
    map.end()
}
