//! Events: the QMP envelope (`event`, `data`, `timestamp`) around a generated event type.

use super::decode::{decode_object, Decode, DecodeError, DecodeMembers, Decoder, Empty, Members};
use super::qdict::qdict_order;
use super::writer;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// The set of events of a schema (implemented by the generated `Event` enum).
pub trait EventSet: Sized {
    /// Decodes the event called `name` from its `data` member (absent: `None`).
    fn decode_event(
        name: &str,
        data: Option<&Value>,
        decoder: &mut Decoder,
    ) -> Result<Self, DecodeError>;
    /// The wire name, e.g. `SHUTDOWN`.
    fn name(&self) -> &str;
    /// Whether the envelope has a `data` member.
    fn has_data(&self) -> bool;
    /// Serialises the `data` member (only called when [`EventSet::has_data`]).
    fn serialize_data<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
}

/// When an event happened (host time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Timestamp {
    pub seconds: i64,
    pub microseconds: i64,
}

impl DecodeMembers for Timestamp {
    fn decode_members(members: &mut Members<'_, '_>) -> Result<Self, DecodeError> {
        Ok(Timestamp {
            seconds: members.required("seconds")?,
            microseconds: members.required("microseconds")?,
        })
    }
}

impl Decode for Timestamp {
    fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError> {
        decode_object(value, decoder)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        for i in qdict_order(["seconds", "microseconds"]) {
            if i == 0 {
                map.serialize_entry("seconds", &self.seconds)?;
            } else {
                map.serialize_entry("microseconds", &self.microseconds)?;
            }
        }
        map.end()
    }
}

/// An event as sent on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMessage<E> {
    pub event: E,
    pub timestamp: Timestamp,
}

impl Timestamp {
    /// The current host time (the clock QEMU stamps events with).
    pub fn now() -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp {
            seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            microseconds: i64::from(since.subsec_micros()),
        }
    }
}

impl<E: EventSet> EventMessage<E> {
    /// `event`, stamped with the current time.
    pub fn now(event: E) -> Self {
        EventMessage {
            event,
            timestamp: Timestamp::now(),
        }
    }

    /// Writes the message as one line in QEMU's format.
    pub fn write_line<W: std::io::Write>(&self, mut out: W) -> Result<(), writer::Error> {
        writer::to_writer(&mut out, self)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

/// The event emitter of a server: writes `event`, stamped with the current time, as one line
/// in QEMU's format (`{"event": .., "data": .., "timestamp": ..}`).
pub fn emit<E: EventSet, W: std::io::Write>(out: W, event: E) -> Result<(), writer::Error> {
    EventMessage::now(event).write_line(out)
}

impl<E: EventSet> DecodeMembers for EventMessage<E> {
    fn decode_members(members: &mut Members<'_, '_>) -> Result<Self, DecodeError> {
        let name: String = members.required("event")?;
        let data: Option<Value> = members.optional("data")?;
        let timestamp = members.required("timestamp")?;
        let decoder = members.decoder();
        let event = E::decode_event(&name, data.as_ref(), decoder)?;
        Ok(EventMessage { event, timestamp })
    }
}

impl<E: EventSet> Decode for EventMessage<E> {
    fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError> {
        decode_object(value, decoder)
    }
}

struct Data<'a, E>(&'a E);

impl<E: EventSet> Serialize for Data<'_, E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_data(serializer)
    }
}

impl<E: EventSet> Serialize for EventMessage<E> {
    /// QEMU inserts `event`, `timestamp`, then `data`; the output follows QDict order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let has_data = self.event.has_data();
        let mut map = serializer.serialize_map(Some(2 + usize::from(has_data)))?;
        let keys: &[&str] = if has_data {
            &["event", "timestamp", "data"]
        } else {
            &["event", "timestamp"]
        };
        for i in qdict_order(keys.iter().copied()) {
            match i {
                0 => map.serialize_entry("event", self.event.name())?,
                1 => map.serialize_entry("timestamp", &self.timestamp)?,
                _ => map.serialize_entry("data", &Data(&self.event))?,
            }
        }
        map.end()
    }
}

/// The data of an event that has an argument type (absent `data` reads as `{}`).
pub fn data<T: Decode>(decoder: &mut Decoder, data: Option<&Value>) -> Result<T, DecodeError> {
    let empty = Value::Object(Default::default());
    decoder.member("data", data.unwrap_or(&empty))
}

/// Checks that an event without arguments has no data beyond `{}`.
pub fn no_data(decoder: &mut Decoder, data: Option<&Value>) -> Result<(), DecodeError> {
    match data {
        Some(value) => decoder.member::<Empty>("data", value).map(|_| ()),
        None => Ok(()),
    }
}

/// An event this schema does not define: kept (name and raw data) when lenient.
pub fn unknown(
    decoder: &mut Decoder,
    name: &str,
    data: Option<&Value>,
) -> Result<(String, Option<Value>), DecodeError> {
    if decoder.is_lenient() {
        Ok((name.to_owned(), data.cloned()))
    } else {
        Err(DecodeError::new(format!("Unknown event '{name}'")))
    }
}
