//! Decoding JSON values into generated types with the rules and messages of QEMU's QObject
//! input visitor.
//!
//! Members are visited in schema order and the first failure wins; after all members, the first
//! leftover key (in the order QEMU's visitor finds it) is reported as unexpected. Messages name
//! values by full path (`vcpus[0].online`) where QEMU does and by bare name where QEMU does
//! (range and enum errors, alternates; `null` for array elements).
//!
//! A [`Decoder`] reads a request (a server: strict, QEMU's messages about parameters) or a
//! reply (a client). A reply decoder is lenient by default, since the peer may be newer: it
//! ignores unknown members and keeps unknown enum values in the enum's `Unrecognized` variant.
//! A required member the peer does not send (an older peer, from before the member was added)
//! takes its type's zero value ([`Decode::absent`]): `false`, `0`, `""`, `[]`, `null`, an
//! enum's `Unrecognized("")`, an object of zero values.
//! A strict reply decoder ([`Decoder::strict_reply`]) fails instead, naming the type, the member
//! and the value; its messages speak of the reply, not of parameters.

use super::error::QapiError;
use super::qdict::{qdict_order, StrSet};
use serde_json::{Map, Value};
use std::fmt;

/// A decoding failure, carrying QEMU's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    message: String,
}

impl DecodeError {
    pub fn new(message: impl Into<String>) -> DecodeError {
        DecodeError {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

impl From<DecodeError> for QapiError {
    fn from(e: DecodeError) -> QapiError {
        QapiError::generic(e.message)
    }
}

/// What decoding returns.
pub type DecodeResult<T> = Result<T, DecodeError>;

/// A type that decodes from a JSON value.
pub trait Decode: Sized {
    fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError>;

    /// What a lenient reply decoder gives a required member that an older peer does not send;
    /// `None` when the type has no zero value, and the member's absence stays an error.
    fn absent() -> Option<Self> {
        None
    }
}

/// A generated enum: its name in the schema and each value's name on the wire, so a value can
/// be looked up in a schema without writing either as a string
/// ([`Capabilities::has_value`](crate::Capabilities::has_value)).
pub trait Enumeration {
    /// The enum's name in the schema (`RunState`).
    const SCHEMA_NAME: &'static str;

    /// This value's name on the wire (`inmigrate`).
    fn wire_name(&self) -> &str;
}

/// An object type, whose members can be read from an object shared with other types (a union's
/// base and branch members live in one JSON object).
pub trait DecodeMembers: Sized {
    fn decode_members(members: &mut Members<'_, '_>) -> Result<Self, DecodeError>;
}

/// Decodes `value` strictly, as a server checks requests.
pub fn from_value<T: Decode>(value: &Value) -> Result<T, DecodeError> {
    T::decode(value, &mut Decoder::strict())
}

/// Decodes `value` as a reply, leniently: unknown members are ignored, unknown enum values kept.
pub fn from_value_lenient<T: Decode>(value: &Value) -> Result<T, DecodeError> {
    T::decode(value, &mut Decoder::lenient())
}

/// Decodes an object type from an object's members (`None` stands for `{}`), strictly.
pub fn from_members<T: DecodeMembers>(map: Option<&Map<String, Value>>) -> Result<T, DecodeError> {
    let empty = Map::new();
    Decoder::strict().members(map.unwrap_or(&empty), T::decode_members)
}

/// Decodes an object type with QEMU's rules; generated `Decode` impls of object types call this.
pub fn decode_object<T: DecodeMembers>(
    value: &Value,
    decoder: &mut Decoder,
) -> Result<T, DecodeError> {
    let map = decoder.object(value)?;
    let mut members = Members {
        map,
        decoder,
        visited: Vec::new(),
        type_name: short_type_name::<T>(),
    };
    let value = T::decode_members(&mut members)?;
    members.finish()?;
    Ok(value)
}

/// `Foo` for `my_crate::generated::Foo`.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// Implements serde's `Deserialize` through [`Decode`] (strict): generated types use this, so
/// `serde_json::from_str::<T>(..)` works and reports QEMU's messages.
pub fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Decode,
{
    let value = <Value as serde::Deserialize>::deserialize(deserializer)?;
    from_value(&value).map_err(serde::de::Error::custom)
}

#[derive(Debug, Clone, Copy)]
enum Segment {
    Key(&'static str),
    Index(usize),
}

/// Decoding state: what is decoded (request or reply), strictness, and the path to the value
/// being decoded.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    lenient: bool,
    reply: bool,
    path: Vec<Segment>,
}

impl Decoder {
    /// For requests, as a server checks them: QEMU's rules and messages.
    pub fn strict() -> Decoder {
        Decoder::default()
    }

    /// For replies and events of a possibly newer peer (a client's default).
    pub fn lenient() -> Decoder {
        Decoder {
            lenient: true,
            reply: true,
            path: Vec::new(),
        }
    }

    /// For replies and events that must match the schema exactly.
    pub fn strict_reply() -> Decoder {
        Decoder {
            lenient: false,
            reply: true,
            path: Vec::new(),
        }
    }

    /// Whether this decodes a reply (or event) rather than a request.
    pub fn is_reply(&self) -> bool {
        self.reply
    }

    pub fn is_lenient(&self) -> bool {
        self.lenient
    }

    /// The full name of the current value as QEMU prints it (`a.b[2].c`).
    pub fn full_name(&self) -> String {
        let mut name = String::new();
        for segment in &self.path {
            match segment {
                Segment::Key(key) => {
                    if !name.is_empty() {
                        name.push('.');
                    }
                    name.push_str(key);
                }
                Segment::Index(i) => {
                    name.push('[');
                    name.push_str(&i.to_string());
                    name.push(']');
                }
            }
        }
        if name.is_empty() {
            name.push_str("<anonymous>");
        }
        name
    }

    /// The bare name of the current value: its member name, or `null` for array elements and
    /// the top level (QEMU's wording).
    pub fn bare_name(&self) -> &'static str {
        match self.path.last() {
            Some(Segment::Key(key)) => key,
            _ => "null",
        }
    }

    /// What a reply error is about: `Reply member 'a.b'`, or `Reply` at the top level.
    fn reply_subject(&self) -> String {
        if self.path.is_empty() {
            "Reply".to_owned()
        } else {
            format!("Reply member '{}'", self.full_name())
        }
    }

    /// `Invalid parameter type for '<full name>', expected: <expected>`.
    pub fn invalid_type(&self, expected: &str) -> DecodeError {
        if self.reply {
            return DecodeError::new(format!(
                "{} has an invalid type, expected: {expected}",
                self.reply_subject()
            ));
        }
        DecodeError::new(format!(
            "Invalid parameter type for '{}', expected: {expected}",
            self.full_name()
        ))
    }

    /// `Parameter '<bare name>' expects <what>` (QEMU's range errors).
    pub fn out_of_range(&self, what: &str) -> DecodeError {
        if self.reply {
            return DecodeError::new(format!("{} expects {what}", self.reply_subject()));
        }
        DecodeError::new(format!("Parameter '{}' expects {what}", self.bare_name()))
    }

    /// An alternate got a JSON type none of its branches takes.
    pub fn alternate_mismatch(&self, alternate: &str) -> DecodeError {
        if self.reply {
            return self.invalid_type(alternate);
        }
        DecodeError::new(format!(
            "Invalid parameter type for '{}', expected: {alternate}",
            self.bare_name()
        ))
    }

    /// Decodes `value` as member `name` of the current object.
    pub fn member<T: Decode>(
        &mut self,
        name: &'static str,
        value: &Value,
    ) -> Result<T, DecodeError> {
        self.path.push(Segment::Key(name));
        let result = T::decode(value, self);
        self.path.pop();
        result
    }

    /// Decodes `value` as element `index` of the current array.
    pub fn element<T: Decode>(&mut self, index: usize, value: &Value) -> Result<T, DecodeError> {
        self.path.push(Segment::Index(index));
        let result = T::decode(value, self);
        self.path.pop();
        result
    }

    /// The value as an object, or QEMU's type error.
    pub fn object<'v>(&self, value: &'v Value) -> Result<&'v Map<String, Value>, DecodeError> {
        value.as_object().ok_or_else(|| self.invalid_type("object"))
    }

    /// Runs `visit` over the members of `map`, then checks for unexpected members.
    pub fn members<'v, T>(
        &mut self,
        map: &'v Map<String, Value>,
        visit: impl FnOnce(&mut Members<'v, '_>) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        let mut members = Members {
            map,
            decoder: self,
            visited: Vec::new(),
            type_name: "",
        };
        let value = visit(&mut members)?;
        members.finish()?;
        Ok(value)
    }

    /// The value as a string for an enum, or QEMU's type error.
    pub fn enum_str<'v>(&self, value: &'v Value) -> Result<&'v str, DecodeError> {
        value.as_str().ok_or_else(|| self.invalid_type("string"))
    }

    /// A union tag value whose branch is compiled out of this build.
    pub fn branch_unavailable(&self, tag: &'static str, value: &str) -> DecodeError {
        if self.reply {
            self.path_with(tag, |d| {
                DecodeError::new(format!(
                    "{} has value '{value}', whose branch this build leaves out",
                    d.reply_subject()
                ))
            })
        } else {
            DecodeError::new(format!("Parameter '{tag}' does not accept value '{value}'"))
        }
    }

    /// A string that is not a value of the enum `enum_name`: kept when lenient, else an error
    /// (QEMU's for a request; naming the member, the enum and the value for a reply).
    pub fn unknown_enum_value(&self, enum_name: &str, text: &str) -> Result<String, DecodeError> {
        if self.lenient {
            Ok(text.to_owned())
        } else if self.reply {
            Err(DecodeError::new(format!(
                "{} has value '{text}', which enum {enum_name} does not know (strict decoding)",
                self.reply_subject()
            )))
        } else {
            Err(DecodeError::new(format!(
                "Parameter '{}' does not accept value '{text}'",
                self.bare_name()
            )))
        }
    }

    /// `f` with member `name` pushed on the path (for messages about it).
    fn path_with<T>(&self, name: &'static str, f: impl FnOnce(&Decoder) -> T) -> T {
        let mut inner = self.clone();
        inner.path.push(Segment::Key(name));
        f(&inner)
    }
}

/// ` in type T` for a known type name.
fn of_type(type_name: &str) -> String {
    if type_name.is_empty() {
        String::new()
    } else {
        format!(" in type {type_name}")
    }
}

/// The members of one JSON object being decoded, shared by a type and its branches.
pub struct Members<'v, 'd> {
    map: &'v Map<String, Value>,
    decoder: &'d mut Decoder,
    /// Members found, in visit order (QEMU removes them from its set in this order).
    visited: Vec<&'static str>,
    /// The Rust type being decoded, for reply errors (empty when unknown).
    type_name: &'static str,
}

impl Members<'_, '_> {
    /// A required member: QEMU's "is missing" error when absent (its zero value in a lenient
    /// reply, where the peer may predate it).
    pub fn required<T: Decode>(&mut self, name: &'static str) -> Result<T, DecodeError> {
        match self.map.get(name) {
            Some(value) => {
                self.visited.push(name);
                self.decoder.member(name, value)
            }
            None => {
                if let Some(zero) = self.decoder.lenient.then(T::absent).flatten() {
                    return Ok(zero);
                }
                self.decoder.path.push(Segment::Key(name));
                let error = if self.decoder.reply {
                    DecodeError::new(format!(
                        "{} is missing{}",
                        self.decoder.reply_subject(),
                        of_type(self.type_name)
                    ))
                } else {
                    let full = self.decoder.full_name();
                    DecodeError::new(format!("Parameter '{full}' is missing"))
                };
                self.decoder.path.pop();
                Err(error)
            }
        }
    }

    /// An optional member: `None` when absent (a JSON `null` is a value, not absence).
    pub fn optional<T: Decode>(&mut self, name: &'static str) -> Result<Option<T>, DecodeError> {
        match self.map.get(name) {
            Some(value) => {
                self.visited.push(name);
                self.decoder.member(name, value).map(Some)
            }
            None => Ok(None),
        }
    }

    /// The decoder, for its strictness and error helpers.
    pub fn decoder(&mut self) -> &mut Decoder {
        self.decoder
    }

    fn finish(self) -> Result<(), DecodeError> {
        if self.decoder.lenient || self.visited.len() == self.map.len() {
            return Ok(());
        }
        // Replay QEMU: every key goes into a GLib hash set in QDict order, visited members are
        // removed in visit order, and the first key left is the one reported.
        let keys: Vec<&str> = self.map.keys().map(String::as_str).collect();
        let mut set = StrSet::new();
        for i in qdict_order(keys.iter().copied()) {
            set.insert(keys[i]);
        }
        for name in &self.visited {
            set.remove(name);
        }
        let first = set.iter().next();
        match first {
            Some(key) => {
                let mut full = self.decoder.full_name();
                if self.decoder.path.is_empty() {
                    full.clear();
                } else {
                    full.push('.');
                }
                full.push_str(key);
                if self.decoder.reply {
                    return Err(DecodeError::new(format!(
                        "Reply member '{full}' is unknown{} (strict decoding)",
                        of_type(self.type_name)
                    )));
                }
                Err(DecodeError::new(format!(
                    "Parameter '{full}' is unexpected"
                )))
            }
            None => Ok(()),
        }
    }
}

/// The schema type `null`: only JSON `null`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Null;

impl serde::Serialize for Null {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl Decode for Null {
    fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError> {
        if value.is_null() {
            Ok(Null)
        } else {
            Err(decoder.invalid_type("null"))
        }
    }

    fn absent() -> Option<Self> {
        Some(Null)
    }
}

/// The empty object, what commands without `returns` return.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Empty;

impl serde::Serialize for Empty {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde::ser::SerializeMap::end(serializer.serialize_map(Some(0))?)
    }
}

impl DecodeMembers for Empty {
    fn decode_members(_members: &mut Members<'_, '_>) -> Result<Self, DecodeError> {
        Ok(Empty)
    }
}

impl Decode for Empty {
    fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError> {
        decode_object(value, decoder)
    }

    fn absent() -> Option<Self> {
        Some(Empty)
    }
}

impl Decode for String {
    fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError> {
        match value.as_str() {
            Some(s) => Ok(s.to_owned()),
            None => Err(decoder.invalid_type("string")),
        }
    }

    fn absent() -> Option<Self> {
        Some(String::new())
    }
}

impl Decode for bool {
    fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError> {
        value
            .as_bool()
            .ok_or_else(|| decoder.invalid_type("boolean"))
    }

    fn absent() -> Option<Self> {
        Some(false)
    }
}

impl Decode for f64 {
    /// `number` takes integers too.
    fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError> {
        value.as_f64().ok_or_else(|| decoder.invalid_type("number"))
    }

    fn absent() -> Option<Self> {
        Some(0.0)
    }
}

impl Decode for i64 {
    fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError> {
        value
            .as_i64()
            .ok_or_else(|| decoder.invalid_type("integer"))
    }

    fn absent() -> Option<Self> {
        Some(0)
    }
}

impl Decode for u64 {
    /// Negative integers are accepted and wrap, as in QEMU.
    fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError> {
        if let Some(v) = value.as_u64() {
            return Ok(v);
        }
        if let Some(v) = value.as_i64() {
            return Ok(v as u64);
        }
        Err(DecodeError::new(format!(
            "Parameter '{}' expects uint64",
            decoder.full_name()
        )))
    }

    fn absent() -> Option<Self> {
        Some(0)
    }
}

macro_rules! decode_sized_int {
    ($($ty:ty => $wide:ty, $c_name:literal;)*) => {$(
        impl Decode for $ty {
            fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError> {
                let wide = <$wide>::decode(value, decoder)?;
                <$ty>::try_from(wide).map_err(|_| decoder.out_of_range($c_name))
            }

            fn absent() -> Option<Self> {
                Some(0)
            }
        }
    )*};
}

decode_sized_int! {
    i8 => i64, "int8_t";
    i16 => i64, "int16_t";
    i32 => i64, "int32_t";
    u8 => u64, "uint8_t";
    u16 => u64, "uint16_t";
    u32 => u64, "uint32_t";
}

impl Decode for Value {
    fn decode(value: &Value, _decoder: &mut Decoder) -> Result<Self, DecodeError> {
        Ok(value.clone())
    }

    fn absent() -> Option<Self> {
        Some(Value::Null)
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError> {
        let items = value
            .as_array()
            .ok_or_else(|| decoder.invalid_type("array"))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| decoder.element(i, item))
            .collect()
    }

    fn absent() -> Option<Self> {
        Some(Vec::new())
    }
}

impl<T: Decode> Decode for Box<T> {
    fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError> {
        T::decode(value, decoder).map(Box::new)
    }

    fn absent() -> Option<Self> {
        T::absent().map(Box::new)
    }
}
