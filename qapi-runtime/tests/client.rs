//! The client connection against a scripted peer on a socket pair: framing, stale replies,
//! events, and the guest-agent handshake's sentinel handling.

use qapi_runtime::client::ClientError;
use qapi_runtime::{Connection, DecodeError, Decoder, EventSet};
use serde::Serializer;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::thread;

/// Events of a tiny schema: `PING` (no data).
#[derive(Debug, PartialEq)]
enum Ev {
    Ping,
    Unrecognized(String),
}

impl EventSet for Ev {
    fn decode_event(
        name: &str,
        data: Option<&Value>,
        d: &mut Decoder,
    ) -> Result<Self, DecodeError> {
        match name {
            "PING" => qapi_runtime::event::no_data(d, data).map(|()| Ev::Ping),
            other => qapi_runtime::event::unknown(d, other, data).map(|(n, _)| Ev::Unrecognized(n)),
        }
    }
    fn name(&self) -> &str {
        match self {
            Ev::Ping => "PING",
            Ev::Unrecognized(n) => n,
        }
    }
    fn has_data(&self) -> bool {
        false
    }
    fn serialize_data<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        qapi_runtime::ser::empty(s)
    }
}

#[test]
fn guest_agent_handshake_skips_noise_until_its_sentinel() {
    let (client, mut peer) = UnixStream::pair().unwrap();
    let agent = thread::spawn(move || {
        let mut first = [0u8; 1];
        peer.read_exact(&mut first).unwrap();
        assert_eq!(first[0], 0xFF);
        let mut reader = BufReader::new(peer.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let request: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(request["execute"], "guest-sync-delimited");
        let id = request["arguments"]["id"].as_i64().unwrap();
        // The parse error the 0xFF causes, a stale delimited reply, a split real one.
        peer.write_all(b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}\n").unwrap();
        peer.write_all(b"\xff{\"return\": 1}\n").unwrap();
        let reply = format!("\u{ff}{{\"return\": {id}}}\n");
        let bytes: Vec<u8> = reply.chars().map(|c| c as u32 as u8).collect();
        peer.write_all(&bytes[..5]).unwrap();
        peer.flush().unwrap();
        thread::sleep(std::time::Duration::from_millis(20));
        peer.write_all(&bytes[5..]).unwrap();
        // Then a command with an event and a stale reply before its answer.
        line.clear();
        reader.read_line(&mut line).unwrap();
        let request: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(request["execute"], "guest-sync");
        let id = &request["id"];
        peer.write_all(
            b"{\"event\": \"PING\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}",
        )
        .unwrap();
        peer.write_all(b"{\"return\": 0, \"id\": 999}{\"return\": 77, \"id\": ")
            .unwrap();
        peer.write_all(format!("{id}}}\n").as_bytes()).unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        let request: Value = serde_json::from_str(&line).unwrap();
        let id = &request["id"];
        peer.write_all(format!("{{\"id\": {id}, \"error\": {{\"class\": \"CommandNotFound\", \"desc\": \"The command x has not been found\"}}}}\n").as_bytes()).unwrap();
    });
    let mut conn: Connection<UnixStream, Ev> = Connection::new(client);
    conn.guest_agent_handshake().unwrap();
    let v: i64 = conn
        .execute("guest-sync", Some(&serde_json::json!({"id": 77})))
        .unwrap();
    assert_eq!(v, 77);
    let events = conn.take_events();
    assert_eq!(events.len(), 1);
    let event = events.into_iter().next().unwrap().unwrap();
    assert_eq!(event.event, Ev::Ping);
    assert_eq!(event.timestamp.microseconds, 2);
    match conn.execute::<Value, Value>("x", None) {
        Err(ClientError::Command(e)) => {
            assert_eq!(e.class, qapi_runtime::ErrorClass::CommandNotFound);
            assert_eq!(e.desc, "The command x has not been found");
        }
        other => panic!("expected a command error, got {other:?}"),
    }
    agent.join().unwrap();
    assert!(matches!(conn.read_message(), Err(ClientError::Closed)));
}
