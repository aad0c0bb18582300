//! Replies to requests, serialised with QEMU's envelope and key order.

use super::error::QapiError;
use super::qdict::Ordered;
use super::writer;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use std::io::Write;

/// One reply: `{"return": ..., "id": ...}` or `{"id": ..., "error": {...}}` (QEMU's key
/// orders). `T` is the typed return value; it is serialised straight to the output.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<T> {
    /// The request's `id`, echoed verbatim.
    pub id: Option<Value>,
    pub outcome: Result<T, QapiError>,
}

impl<T> Reply<T> {
    pub fn ok(id: Option<Value>, value: T) -> Self {
        Reply {
            id,
            outcome: Ok(value),
        }
    }

    pub fn error(id: Option<Value>, error: QapiError) -> Self {
        Reply {
            id,
            outcome: Err(error),
        }
    }
}

impl<T: Serialize> Reply<T> {
    /// Writes the reply in QEMU's format followed by the `\n` that ends every reply.
    pub fn write_line<W: Write>(&self, mut out: W) -> Result<(), writer::Error> {
        writer::to_writer(&mut out, self)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

impl<T: Serialize> Serialize for Reply<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = 1 + usize::from(self.id.is_some());
        let mut map = serializer.serialize_map(Some(len))?;
        match &self.outcome {
            Ok(value) => {
                map.serialize_entry("return", value)?;
                if let Some(id) = &self.id {
                    map.serialize_entry("id", &Ordered(id))?;
                }
            }
            Err(error) => {
                if let Some(id) = &self.id {
                    map.serialize_entry("id", &Ordered(id))?;
                }
                map.serialize_entry("error", error)?;
            }
        }
        map.end()
    }
}
