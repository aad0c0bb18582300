//! QAPI errors as they travel on the wire: an error class and a human-readable description.

use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt;

/// The `class` of an error reply.
///
/// QEMU only ever sends the five named classes; [`ErrorClass::Other`] keeps whatever else a
/// newer peer might send, so that a client never fails to read an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Every error that has no class of its own.
    GenericError,
    /// Unknown or disabled command.
    CommandNotFound,
    DeviceNotActive,
    DeviceNotFound,
    KVMMissingCap,
    /// A class this crate does not know.
    Other(String),
}

impl ErrorClass {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorClass::GenericError => "GenericError",
            ErrorClass::CommandNotFound => "CommandNotFound",
            ErrorClass::DeviceNotActive => "DeviceNotActive",
            ErrorClass::DeviceNotFound => "DeviceNotFound",
            ErrorClass::KVMMissingCap => "KVMMissingCap",
            ErrorClass::Other(name) => name,
        }
    }

    /// Reads a wire name.
    pub fn from_wire(name: &str) -> ErrorClass {
        match name {
            "GenericError" => ErrorClass::GenericError,
            "CommandNotFound" => ErrorClass::CommandNotFound,
            "DeviceNotActive" => ErrorClass::DeviceNotActive,
            "DeviceNotFound" => ErrorClass::DeviceNotFound,
            "KVMMissingCap" => ErrorClass::KVMMissingCap,
            other => ErrorClass::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as a command returns it and as an error reply carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QapiError {
    pub class: ErrorClass,
    pub desc: String,
}

impl QapiError {
    pub fn new(class: ErrorClass, desc: impl Into<String>) -> QapiError {
        QapiError {
            class,
            desc: desc.into(),
        }
    }

    /// A `GenericError`, the class of nearly every error.
    pub fn generic(desc: impl Into<String>) -> QapiError {
        QapiError::new(ErrorClass::GenericError, desc)
    }

    /// QEMU's reply to an unknown command.
    pub fn command_not_found(name: &str) -> QapiError {
        QapiError::new(
            ErrorClass::CommandNotFound,
            format!("The command {name} has not been found"),
        )
    }

    /// QEMU's reply to a command that exists but is disabled.
    pub fn command_disabled(name: &str, reason: &str) -> QapiError {
        QapiError::new(
            ErrorClass::CommandNotFound,
            format!("Command {name} has been disabled: {reason}"),
        )
    }
}

impl fmt::Display for QapiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.desc)
    }
}

impl std::error::Error for QapiError {}

/// The body of an error reply: `{"class": ..., "desc": ...}` (also QEMU's key order).
impl Serialize for QapiError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("class", self.class.as_str())?;
        map.serialize_entry("desc", &self.desc)?;
        map.end()
    }
}
