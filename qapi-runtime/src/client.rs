//! A synchronous client connection over any byte stream (`Read + Write`): request/reply
//! matching by `id`, queued events, and the guest-agent and QMP handshakes.
//!
//! Generated `Client` types wrap a [`Connection`] with one typed method per command. Timeouts
//! are the stream's (e.g. `UnixStream::set_read_timeout`); a timed-out read surfaces as
//! [`ClientError::Timeout`].

use super::capabilities::Capabilities;
use super::decode::{Decode, DecodeError, Decoder, Empty};
use super::error::{ErrorClass, QapiError};
use super::event::{EventMessage, EventSet};
use super::writer;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};

/// What can go wrong on a client connection.
#[derive(Debug)]
pub enum ClientError {
    Io(io::Error),
    /// A read timed out (the stream's timeout).
    Timeout,
    /// The peer closed the connection.
    Closed,
    /// The peer sent something that is not a well-formed message.
    Protocol(String),
    /// A message did not decode into the expected type.
    Decode {
        what: String,
        error: DecodeError,
    },
    /// The command failed: the error reply's class and description.
    Command(QapiError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "i/o error: {e}"),
            ClientError::Timeout => f.write_str("timed out waiting for the peer"),
            ClientError::Closed => f.write_str("connection closed by the peer"),
            ClientError::Protocol(m) => write!(f, "protocol error: {m}"),
            ClientError::Decode { what, error } => write!(f, "cannot decode {what}: {error}"),
            ClientError::Command(e) => write!(f, "{}: {}", e.class, e.desc),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Io(e) => Some(e),
            ClientError::Decode { error, .. } => Some(error),
            ClientError::Command(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout,
            _ => ClientError::Io(e),
        }
    }
}

impl From<writer::Error> for ClientError {
    fn from(e: writer::Error) -> Self {
        match e {
            writer::Error::Io(e) => ClientError::from(e),
            writer::Error::Message(m) => ClientError::Protocol(m),
        }
    }
}

/// Where the splitter is inside the message being received.
#[derive(Debug, Default, Clone, Copy)]
struct Scan {
    /// Bytes of the pending message already examined.
    pos: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

/// The guest agent's sentinel byte.
pub(crate) const SENTINEL: u8 = 0xFF;

/// How many times the guest-agent handshake is retried after a timeout.
const HANDSHAKE_ATTEMPTS: usize = 3;

/// A request envelope, written in the order QEMU documents (`execute`, `arguments`, `id`).
pub(crate) struct RequestOut<'a, A: ?Sized> {
    pub(crate) execute: &'a str,
    pub(crate) arguments: Option<&'a A>,
    pub(crate) id: Option<u64>,
}

impl<A: Serialize + ?Sized> Serialize for RequestOut<'_, A> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("execute", self.execute)?;
        if let Some(args) = self.arguments {
            map.serialize_entry("arguments", args)?;
        }
        if let Some(id) = self.id {
            map.serialize_entry("id", &id)?;
        }
        map.end()
    }
}

/// The QMP greeting: the server's version (raw; [`Greeting::version`] decodes it into the
/// schema's `VersionInfo`) and the capabilities it offers.
#[derive(Debug, Clone, PartialEq)]
pub struct Greeting {
    pub version: Value,
    pub capabilities: Vec<String>,
}

impl Greeting {
    /// Reads the greeting message `{"QMP": {"version": .., "capabilities": [..]}}`.
    pub fn from_message(message: &Value) -> Result<Greeting, ClientError> {
        let qmp = message
            .get("QMP")
            .ok_or_else(|| ClientError::Protocol(format!("not a QMP greeting: {message}")))?;
        Ok(Greeting {
            version: qmp.get("version").cloned().unwrap_or(Value::Null),
            capabilities: qmp
                .get("capabilities")
                .and_then(Value::as_array)
                .map(|c| {
                    c.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// The version decoded (leniently) as `V`, e.g. qmp-types' `VersionInfo`.
    pub fn version<V: Decode>(&self) -> Result<V, DecodeError> {
        V::decode(&self.version, &mut Decoder::lenient())
    }
}

/// A client connection; `E` is the schema's event type.
pub struct Connection<S, E> {
    stream: S,
    buf: Vec<u8>,
    start: usize,
    scan: Scan,
    lenient: bool,
    next_id: u64,
    events: VecDeque<Result<EventMessage<E>, ClientError>>,
}

impl<S: Read + Write, E: EventSet> Connection<S, E> {
    /// A lenient connection, ready for a newer server: unknown members of replies and events
    /// are ignored, unknown enum values and events kept in their `Unrecognized` variants
    /// ([`Connection::set_strict`] makes them errors).
    pub fn new(stream: S) -> Self {
        Connection {
            stream,
            buf: Vec::new(),
            start: 0,
            scan: Scan::default(),
            lenient: true,
            next_id: 1,
            events: VecDeque::new(),
        }
    }

    /// Tolerates newer servers (the default): unknown members are ignored, unknown enum
    /// values and events are kept in their `Unrecognized` variants.
    pub fn set_lenient(&mut self, lenient: bool) {
        self.lenient = lenient;
    }

    /// Replies and events must match the schema exactly; an error names the type, the member
    /// and the value.
    pub fn set_strict(&mut self, strict: bool) {
        self.lenient = !strict;
    }

    pub fn is_lenient(&self) -> bool {
        self.lenient
    }

    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    pub fn into_inner(self) -> S {
        self.stream
    }

    fn decoder(&self) -> Decoder {
        if self.lenient {
            Decoder::lenient()
        } else {
            Decoder::strict_reply()
        }
    }

    /// The guest-agent handshake: flush the agent's parser with 0xFF, send
    /// `guest-sync-delimited` with a random id, drop everything up to the 0xFF sentinel
    /// (including the parse error the flush causes and stale replies), and wait for the reply
    /// carrying the id. Repeated after a timeout.
    pub fn guest_agent_handshake(&mut self) -> Result<(), ClientError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_guest_agent_handshake() {
                Err(ClientError::Timeout) if attempt < HANDSHAKE_ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    fn try_guest_agent_handshake(&mut self) -> Result<(), ClientError> {
        let id = random_id();
        let args = serde_json::json!({ "id": id });
        let mut out = vec![SENTINEL];
        writer::to_writer(
            &mut out,
            &RequestOut {
                execute: "guest-sync-delimited",
                arguments: Some(&args),
                id: None,
            },
        )?;
        out.push(b'\n');
        self.stream.write_all(&out)?;
        self.stream.flush()?;
        loop {
            self.discard_until_sentinel()?;
            let reply = self.read_message()?;
            if reply.get("return").and_then(Value::as_i64) == Some(id) {
                return Ok(());
            }
        }
    }

    /// The QMP handshake: reads the greeting, then negotiates no capabilities
    /// (`qmp_capabilities`). Returns the greeting.
    pub fn qmp_handshake(&mut self) -> Result<Value, ClientError> {
        let greeting = loop {
            let message = self.read_message()?;
            if message.get("QMP").is_some() {
                break message;
            }
            if message.get("event").is_none() {
                return Err(ClientError::Protocol(format!(
                    "expected the QMP greeting, got {message}"
                )));
            }
        };
        self.execute::<Empty, Empty>("qmp_capabilities", None)?;
        Ok(greeting)
    }

    /// What this QEMU supports: its `query-qmp-schema`, ready for questions.
    pub fn capabilities(&mut self) -> Result<Capabilities, ClientError> {
        let schema = self.execute_value("query-qmp-schema", None::<&Empty>)?;
        Capabilities::from_value(&schema).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Runs a command and decodes its return value as `R`.
    pub fn execute<A, R>(&mut self, command: &str, arguments: Option<&A>) -> Result<R, ClientError>
    where
        A: Serialize + ?Sized,
        R: Decode,
    {
        let reply = self.execute_value(command, arguments)?;
        let mut decoder = self.decoder();
        R::decode(&reply, &mut decoder).map_err(|error| ClientError::Decode {
            what: format!("the return value of {command}"),
            error,
        })
    }

    /// Runs a command and returns its raw return value.
    pub fn execute_value<A>(
        &mut self,
        command: &str,
        arguments: Option<&A>,
    ) -> Result<Value, ClientError>
    where
        A: Serialize + ?Sized,
    {
        let id = self.send(command, arguments)?;
        self.wait_reply(id)
    }

    /// Sends a command that replies only on failure (`success-response: false`) and returns
    /// without waiting; an error reply, if any, is skipped by later calls as stale.
    pub fn send_only<A>(&mut self, command: &str, arguments: Option<&A>) -> Result<(), ClientError>
    where
        A: Serialize + ?Sized,
    {
        self.send(command, arguments).map(|_| ())
    }

    fn send<A: Serialize + ?Sized>(
        &mut self,
        command: &str,
        arguments: Option<&A>,
    ) -> Result<u64, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut out = writer::to_vec(&RequestOut {
            execute: command,
            arguments,
            id: Some(id),
        })?;
        out.push(b'\n');
        self.stream.write_all(&out)?;
        self.stream.flush()?;
        Ok(id)
    }

    fn wait_reply(&mut self, id: u64) -> Result<Value, ClientError> {
        loop {
            let mut message = self.read_message()?;
            if message.get("event").is_some() {
                let event = self.decode_event(&message);
                self.events.push_back(event);
                continue;
            }
            // Replies carry our id; a reply without one (a parse error, an old agent) is ours
            // too, any other id is a stale reply to an abandoned request.
            match message.get("id") {
                Some(got) if got.as_u64() != Some(id) => continue,
                _ => {}
            }
            if let Some(value) = message.get_mut("return") {
                return Ok(value.take());
            }
            if let Some(error) = message.get("error") {
                return Err(ClientError::Command(error_of(error)));
            }
            return Err(ClientError::Protocol(format!(
                "unexpected message {message}"
            )));
        }
    }

    fn decode_event(&self, message: &Value) -> Result<EventMessage<E>, ClientError> {
        let mut decoder = self.decoder();
        EventMessage::<E>::decode(message, &mut decoder).map_err(|error| ClientError::Decode {
            what: "an event".to_owned(),
            error,
        })
    }

    /// The next event: a queued one, or the next to arrive (other messages are skipped).
    pub fn next_event(&mut self) -> Result<EventMessage<E>, ClientError> {
        if let Some(event) = self.events.pop_front() {
            return event;
        }
        loop {
            let message = self.read_message()?;
            if message.get("event").is_some() {
                return self.decode_event(&message);
            }
        }
    }

    /// Events received while waiting for replies, oldest first.
    pub fn take_events(&mut self) -> Vec<Result<EventMessage<E>, ClientError>> {
        self.events.drain(..).collect()
    }

    /// Reads the next complete JSON message (stray sentinel bytes between messages are
    /// skipped).
    pub fn read_message(&mut self) -> Result<Value, ClientError> {
        loop {
            if let Some(len) = self.split()? {
                let bytes = &self.buf[self.start..self.start + len];
                let parsed = serde_json::from_slice(bytes);
                self.start += len;
                self.scan = Scan::default();
                return parsed.map_err(|e| ClientError::Protocol(format!("malformed JSON: {e}")));
            }
            self.fill()?;
        }
    }

    /// Finds the end of the message starting at `start`, if it has fully arrived.
    fn split(&mut self) -> Result<Option<usize>, ClientError> {
        while self.scan.pos == 0 && self.start < self.buf.len() {
            match self.buf[self.start] {
                b' ' | b'\t' | b'\r' | b'\n' | SENTINEL => self.start += 1,
                b'{' | b'[' => break,
                other => {
                    return Err(ClientError::Protocol(format!(
                        "unexpected byte 0x{other:02x} between messages"
                    )))
                }
            }
        }
        let pending = &self.buf[self.start..];
        let scan = &mut self.scan;
        while scan.pos < pending.len() {
            if scan.in_string && !scan.escaped {
                // Inside a string only '"' and '\\' matter: skip the rest (base64 data) fast.
                scan.pos += string_run(&pending[scan.pos..]);
                if scan.pos == pending.len() {
                    break;
                }
            }
            let byte = pending[scan.pos];
            scan.pos += 1;
            if scan.in_string {
                if scan.escaped {
                    scan.escaped = false;
                } else if byte == b'\\' {
                    scan.escaped = true;
                } else if byte == b'"' {
                    scan.in_string = false;
                }
                continue;
            }
            match byte {
                b'"' => scan.in_string = true,
                b'{' | b'[' => scan.depth += 1,
                b'}' | b']' => {
                    scan.depth = scan.depth.saturating_sub(1);
                    if scan.depth == 0 {
                        return Ok(Some(scan.pos));
                    }
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// Drops input up to and including the next sentinel byte.
    fn discard_until_sentinel(&mut self) -> Result<(), ClientError> {
        loop {
            if let Some(i) = self.buf[self.start..].iter().position(|&b| b == SENTINEL) {
                self.start += i + 1;
                self.scan = Scan::default();
                return Ok(());
            }
            self.start = self.buf.len();
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<(), ClientError> {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start >= 1 << 16 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + (1 << 16), 0);
        let read = loop {
            match self.stream.read(&mut self.buf[len..]) {
                Ok(n) => break Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                self.buf.truncate(len);
                return Err(e.into());
            }
        };
        self.buf.truncate(len + n);
        if n == 0 {
            return Err(ClientError::Closed);
        }
        Ok(())
    }
}

/// How many bytes at the start of `bytes` are neither '"' nor '\\' (eight at a time).
fn string_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[i..i + 8]);
        let word = u64::from_le_bytes(word);
        // Non-zero where a byte equals '"' or '\\'; the lowest such byte is exact.
        let hits = zero_byte(word ^ (ONES * u64::from(b'"')))
            | zero_byte(word ^ (ONES * u64::from(b'\\')));
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\\' {
        i += 1;
    }
    i
}

/// Reads an error reply's body; missing parts become empty rather than failing.
pub(crate) fn error_of(error: &Value) -> QapiError {
    let class = error.get("class").and_then(Value::as_str).unwrap_or("");
    let desc = error.get("desc").and_then(Value::as_str).unwrap_or("");
    QapiError::new(ErrorClass::from_wire(class), desc)
}

/// An id for `guest-sync-delimited` that a stale reply is unlikely to carry.
pub(crate) fn random_id() -> i64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.write_u32(std::process::id());
    // Positive and below 2^53, so every JSON implementation reads it back exactly.
    (hasher.finish() & ((1 << 53) - 1)) as i64
}

/// Leniency aside, decoding a reply the way [`Connection::execute`] does; exposed for tests
/// and for callers holding a raw reply.
pub fn decode_return<R: Decode>(value: &Value, lenient: bool) -> Result<R, DecodeError> {
    let mut decoder = if lenient {
        Decoder::lenient()
    } else {
        Decoder::strict_reply()
    };
    R::decode(value, &mut decoder)
}

#[cfg(test)]
mod string_run_tests {
    use super::string_run;

    /// The fast scan agrees with a byte-by-byte one at every length and position.
    #[test]
    fn finds_the_first_quote_or_backslash() {
        for len in 0..40 {
            for at in 0..=len {
                for special in [b'"', b'\\'] {
                    let mut bytes: Vec<u8> = (0..len).map(|i| b'A' + (i % 26) as u8).collect();
                    // Bytes next to the special ones that a sloppy bit trick could confuse.
                    bytes
                        .iter_mut()
                        .step_by(3)
                        .for_each(|b| *b = 0x21 + (*b & 1));
                    if at < len {
                        bytes[at] = special;
                    }
                    let expected = bytes
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\')
                        .unwrap_or(len);
                    assert_eq!(string_run(&bytes), expected, "{bytes:?}");
                }
            }
        }
    }
}

#[cfg(test)]
mod greeting_tests {
    use super::{ClientError, Greeting};
    use serde_json::json;

    #[test]
    fn reads_the_greeting_and_decodes_its_version() {
        let message = json!({"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10},
                                                 "package": ""}, "capabilities": ["oob"]}});
        let greeting = Greeting::from_message(&message).expect("a greeting");
        assert_eq!(greeting.capabilities, ["oob"]);
        let version: serde_json::Value = greeting.version().expect("decodes");
        assert_eq!(version["qemu"]["major"], 10);
        assert!(
            greeting.version::<String>().is_err(),
            "an object is not a string"
        );
        assert!(matches!(
            Greeting::from_message(&json!({"return": {}})),
            Err(ClientError::Protocol(_))
        ));
    }
}
