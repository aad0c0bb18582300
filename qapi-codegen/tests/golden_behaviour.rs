//! The golden outputs compiled into this test and exercised: every construct decodes with
//! QEMU's rules, encodes back to the same JSON, and the dispatcher and client behave.

#![allow(deprecated)]

#[allow(dead_code)]
mod types {
    include!("golden/types.rs");
}

#[allow(dead_code)]
mod types_qemu {
    include!("golden/types_qemu_order.rs");
}

#[allow(dead_code)]
mod commands {
    include!("golden/commands.rs");
}

use qapi_runtime::decode::{from_value, from_value_lenient};
use qapi_runtime::writer::to_string;
use qapi_runtime::{Decode, Disabled, QapiError, Reply};
use serde_json::{json, Value};

/// Decodes `text` strictly and writes it back: must give `text` again.
fn round_trip<T: Decode + serde::Serialize>(text: &str) -> T {
    let value: Value = serde_json::from_str(text).unwrap();
    let decoded: T = from_value(&value).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(to_string(&decoded).unwrap(), text);
    decoded
}

fn decode_error<T: Decode + std::fmt::Debug>(value: Value) -> String {
    from_value::<T>(&value).unwrap_err().to_string()
}

const SCALARS: &str = r#"{"s": "x\u00E9", "n": 0.14999999999999999, "i": -1, "i8": -128, "i16": 32767, "i32": -2147483648, "i64": 9223372036854775807, "u8": 255, "u16": 65535, "u32": 4294967295, "u64": 18446744073709551615, "sz": 0, "b": true, "z": null, "a": {"k": [1, "two", null]}, "list": [1, 2, 3], "opt-null": null, "type": "t"}"#;

#[test]
fn builtins_round_trip_with_exact_ranges() {
    let s: types::Scalars = round_trip(SCALARS);
    assert_eq!(s.u64, u64::MAX);
    assert_eq!(s.opt_null, Some(qapi_runtime::Null));
    assert_eq!(s.opt_str, None);
    assert_eq!(s.r#type, "t");
    let mut v: Value = serde_json::from_str(SCALARS).unwrap();
    v["i8"] = json!(128);
    assert_eq!(
        decode_error::<types::Scalars>(v.clone()),
        "Parameter 'i8' expects int8_t"
    );
    v["i8"] = json!(1);
    v["u32"] = json!(-1);
    assert_eq!(
        decode_error::<types::Scalars>(v.clone()),
        "Parameter 'u32' expects uint32_t"
    );
    v["u32"] = json!(1);
    v["sz"] = json!(-1);
    assert_eq!(from_value::<types::Scalars>(&v).unwrap().sz, u64::MAX);
    v["n"] = json!(3);
    assert_eq!(from_value::<types::Scalars>(&v).unwrap().n, 3.0);
    v["z"] = json!(0);
    assert_eq!(
        decode_error::<types::Scalars>(v.clone()),
        "Invalid parameter type for 'z', expected: null"
    );
    v["z"] = Value::Null;
    v.as_object_mut().unwrap().remove("opt-null");
    assert_eq!(from_value::<types::Scalars>(&v).unwrap().opt_null, None);
    v.as_object_mut().unwrap().remove("list");
    assert_eq!(
        decode_error::<types::Scalars>(v),
        "Parameter 'list' is missing"
    );
}

#[test]
fn qemu_order_writes_qdict_order() {
    let s: types_qemu::Scalars =
        from_value(&serde_json::from_str::<Value>(SCALARS).unwrap()).unwrap();
    let out: Value = serde_json::from_str(&to_string(&s).unwrap()).unwrap();
    let keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let input: Value = serde_json::from_str(SCALARS).unwrap();
    let visit: Vec<&str> = input
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let want: Vec<&str> = qapi_runtime::qdict::qdict_order(visit.iter().copied())
        .into_iter()
        .map(|i| visit[i])
        .collect();
    assert_eq!(keys, want);
    assert_ne!(
        keys, visit,
        "the QDict order of these keys differs from schema order"
    );
}

#[test]
fn enums_keep_wire_names_and_unknown_values_only_when_lenient() {
    assert_eq!(round_trip::<types::Level>(r#""1k""#), types::Level::V1k);
    assert_eq!(types::Level::Old.as_str(), "old");
    assert_eq!(types::Level::from_wire("low"), Some(types::Level::Low));
    assert_eq!(
        decode_error::<types::Level>(json!("new")),
        "Parameter 'null' does not accept value 'new'"
    );
    assert_eq!(
        decode_error::<types::Level>(json!(1)),
        "Invalid parameter type for '<anonymous>', expected: string"
    );
    let kept: types::Level = from_value_lenient(&json!("new")).unwrap();
    assert_eq!(kept, types::Level::Unrecognized("new".into()));
    assert_eq!(to_string(&kept).unwrap(), r#""new""#);
    #[cfg(target_os = "linux")]
    assert_eq!(round_trip::<types::Level>(r#""high""#), types::Level::High);
}

#[test]
fn structs_flatten_their_base_and_box_recursion() {
    let d: types::Derived = round_trip(r#"{"kind": "low", "name": "n", "extra": 1, "gone": true}"#);
    assert_eq!(
        (d.kind, d.extra, d.gone),
        (types::Level::Low, 1, Some(true))
    );
    let n: types::Node =
        round_trip(r#"{"value": 1, "next": {"value": 2, "children": [{"value": 3}]}}"#);
    assert_eq!(
        n.next.as_ref().unwrap().children.as_ref().unwrap()[0].value,
        3
    );
    assert_eq!(
        decode_error::<types::Node>(
            json!({"value": 1, "next": {"value": 2, "children": [{"value": "x"}]}})
        ),
        "Invalid parameter type for 'next.children[0].value', expected: integer"
    );
    assert_eq!(
        decode_error::<types::Node>(json!({"value": 1, "next": {"value": 2, "oops": 1}})),
        "Parameter 'next.oops' is unexpected"
    );
    let l: types::Legacy = round_trip(r#"{"a-b": 1, "c_d": 2}"#);
    assert_eq!((l.a_b, l.c_d), (1, 2));
}

#[test]
fn unions_select_branches_by_tag() {
    let u: types::OnlyTag = round_trip(r#"{"kind": "low", "depth": 7}"#);
    assert_eq!(u, types::OnlyTag::Low(types::LowBranch { depth: 7 }));
    assert_eq!(
        round_trip::<types::OnlyTag>(r#"{"kind": "old"}"#),
        types::OnlyTag::Old
    );
    assert_eq!(
        decode_error::<types::OnlyTag>(json!({"kind": "low"})),
        "Parameter 'depth' is missing"
    );
    assert_eq!(
        decode_error::<types::OnlyTag>(json!({"kind": "old", "depth": 1})),
        "Parameter 'depth' is unexpected"
    );
    assert_eq!(
        decode_error::<types::OnlyTag>(json!({"depth": 1})),
        "Parameter 'kind' is missing"
    );
    let lenient: types::OnlyTag = from_value_lenient(&json!({"kind": "newer", "x": 1})).unwrap();
    assert_eq!(lenient, types::OnlyTag::Unrecognized("newer".into()));
    let w: types::WithBase =
        round_trip(r#"{"kind": "old", "name": "n", "inner": {"kind": "low", "depth": 1}}"#);
    assert!(
        matches!(w.kind, types::WithBaseBranch::Old(ref h) if h.inner == types::OnlyTag::Low(types::LowBranch { depth: 1 }))
    );
    assert_eq!(w.name.as_deref(), Some("n"));
}

#[test]
fn alternates_branch_on_json_type() {
    assert_eq!(round_trip::<types::Choice>("5"), types::Choice::Number(5));
    assert_eq!(
        round_trip::<types::Choice>(r#""red""#),
        types::Choice::Color(types::Color::Red)
    );
    assert_eq!(
        round_trip::<types::Choice>("null"),
        types::Choice::Nothing(qapi_runtime::Null)
    );
    assert_eq!(
        round_trip::<types::Choice>("[true, false]"),
        types::Choice::Flags(vec![true, false])
    );
    assert!(matches!(
        round_trip::<types::Choice>(r#"{"value": 1}"#),
        types::Choice::Node(_)
    ));
    assert_eq!(
        decode_error::<types::Choice>(json!(true)),
        "Invalid parameter type for 'null', expected: Choice"
    );
    assert_eq!(
        decode_error::<types::Choice>(json!(1.5)),
        "Invalid parameter type for '<anonymous>', expected: integer"
    );
    assert_eq!(
        decode_error::<types::Choice>(json!("blue")),
        "Parameter 'null' does not accept value 'blue'"
    );
}

#[test]
fn serde_deserialize_goes_through_decode() {
    let n: types::Node = serde_json::from_str(r#"{"value": 4}"#).unwrap();
    assert_eq!(n.value, 4);
    let e = serde_json::from_str::<types::Node>(r#"{"value": 4, "x": 1}"#).unwrap_err();
    assert_eq!(e.to_string(), "Parameter 'x' is unexpected");
}

/// A server implementing the golden commands, recording calls.
#[derive(Default)]
struct Server {
    blocked: Vec<&'static str>,
    calls: Vec<String>,
    fail_shutdown: bool,
}

impl commands::Commands for Server {
    fn echo(&mut self, arguments: commands::EchoArgs) -> Result<i64, QapiError> {
        self.calls.push("echo".into());
        Ok(arguments.id)
    }
    fn ping(&mut self) -> Result<(), QapiError> {
        self.calls.push("ping".into());
        Ok(())
    }
    fn get_info(&mut self) -> Result<commands::Info, QapiError> {
        Ok(commands::Info {
            version: "1.0".into(),
            names: commands::COMMANDS
                .iter()
                .map(|c| c.name.to_owned())
                .collect(),
        })
    }
    fn list_info(&mut self) -> Result<Vec<commands::Info>, QapiError> {
        Ok(vec![])
    }
    fn set_info(&mut self, arguments: commands::Info) -> Result<(), QapiError> {
        self.calls.push(format!("set-info {}", arguments.version));
        Ok(())
    }
    fn shutdown(&mut self, arguments: commands::ShutdownArgs) -> Result<(), QapiError> {
        self.calls.push(format!("shutdown {:?}", arguments.mode));
        if self.fail_shutdown {
            return Err(QapiError::generic("mode is invalid"));
        }
        Ok(())
    }
    #[cfg(windows)]
    fn windows_only(&mut self) -> Result<(), QapiError> {
        Ok(())
    }
    fn old_command(&mut self) -> Result<(), QapiError> {
        Ok(())
    }
    fn raw(&mut self, arguments: serde_json::Map<String, Value>) -> Result<(), QapiError> {
        self.calls.push(format!("raw {}", Value::Object(arguments)));
        Ok(())
    }
    fn check_enabled(&self, command: &'static qapi_runtime::CommandInfo) -> Result<(), Disabled> {
        if self.blocked.contains(&command.name) {
            return Err(Disabled::NOT_ALLOWED);
        }
        Ok(())
    }
}

fn reply_text(server: &mut Server, request: &str) -> Option<String> {
    let request: Value = serde_json::from_str(request).unwrap();
    commands::dispatch(server, &request)
        .map(|r: Reply<commands::CommandReturn>| to_string(&r).unwrap())
}

#[test]
fn dispatcher_replies_as_qemu_does() {
    let mut s = Server {
        blocked: vec!["ping"],
        ..Server::default()
    };
    let cases = [
        (
            r#"{"execute": "echo", "arguments": {"id": 5}, "id": "a"}"#,
            r#"{"return": 5, "id": "a"}"#,
        ),
        (
            r#"{"execute": "get-info"}"#,
            r#"{"return": {"version": "1.0", "names": ["echo", "ping", "get-info", "list-info", "set-info", "shutdown", "old-command", "raw"]}}"#,
        ),
        (
            r#"{"execute": "set-info", "arguments": {"version": "2", "names": []}}"#,
            r#"{"return": {}}"#,
        ),
        (
            r#"{"execute": "list-info", "id": 1}"#,
            r#"{"return": [], "id": 1}"#,
        ),
        (
            r#"{"execute": "echo", "arguments": {"id": "x"}}"#,
            r#"{"error": {"class": "GenericError", "desc": "Invalid parameter type for 'id', expected: integer"}}"#,
        ),
        (
            r#"{"execute": "echo", "arguments": {}}"#,
            r#"{"error": {"class": "GenericError", "desc": "Parameter 'id' is missing"}}"#,
        ),
        (
            r#"{"execute": "echo", "arguments": {"id": 1, "x": 2}}"#,
            r#"{"error": {"class": "GenericError", "desc": "Parameter 'x' is unexpected"}}"#,
        ),
        (
            r#"{"execute": "list-info", "arguments": {"x": 2}}"#,
            r#"{"error": {"class": "GenericError", "desc": "Parameter 'x' is unexpected"}}"#,
        ),
        (
            r#"{"execute": "nope", "id": 3}"#,
            r#"{"id": 3, "error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}}"#,
        ),
        (
            r#"{"execute": "ping", "arguments": {"x": 1}}"#,
            r#"{"error": {"class": "CommandNotFound", "desc": "Command ping has been disabled: the command is not allowed"}}"#,
        ),
        (
            r#"{"execute": "raw", "arguments": {"driver": "d", "extra": 1}}"#,
            r#"{"return": {}}"#,
        ),
        (
            r#"[]"#,
            r#"{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}"#,
        ),
        (
            r#"{"exec-oob": "ping"}"#,
            r#"{"error": {"class": "GenericError", "desc": "QMP input member 'exec-oob' is unexpected"}}"#,
        ),
    ];
    for (request, want) in cases {
        assert_eq!(
            reply_text(&mut s, request).as_deref(),
            Some(want),
            "{request}"
        );
    }
    #[cfg(not(windows))]
    assert_eq!(
        reply_text(&mut s, r#"{"execute": "windows-only"}"#).as_deref(),
        Some(
            r#"{"error": {"class": "CommandNotFound", "desc": "The command windows-only has not been found"}}"#
        )
    );
    // No reply when a command without success response succeeds; an error reply when it fails.
    assert_eq!(
        reply_text(
            &mut s,
            r#"{"execute": "shutdown", "arguments": {"mode": "halt"}}"#
        ),
        None
    );
    s.fail_shutdown = true;
    assert_eq!(
        reply_text(&mut s, r#"{"execute": "shutdown", "id": 9}"#).as_deref(),
        Some(r#"{"id": 9, "error": {"class": "GenericError", "desc": "mode is invalid"}}"#)
    );
    assert_eq!(
        s.calls,
        [
            "echo",
            "set-info 2",
            r#"raw {"driver":"d","extra":1}"#,
            r#"shutdown Some("halt")"#,
            "shutdown None"
        ]
    );
}

#[test]
fn command_table_lists_flags() {
    let shutdown = commands::command_info("shutdown").unwrap();
    assert!(!shutdown.success_response);
    let old = commands::command_info("old-command").unwrap();
    assert!(old.deprecated && old.unstable && old.success_response);
    #[cfg(not(windows))]
    assert!(commands::command_info("windows-only").is_none());
    // The commands of this build, in schema order.
    let names: Vec<&str> = commands::COMMANDS.iter().map(|c| c.name).collect();
    let mut expected = vec![
        "echo",
        "ping",
        "get-info",
        "list-info",
        "set-info",
        "shutdown",
    ];
    if cfg!(windows) {
        expected.push("windows-only");
    }
    expected.extend(["old-command", "raw"]);
    assert_eq!(names, expected);
}

#[test]
fn events_round_trip_in_their_envelope() {
    use qapi_runtime::EventMessage;
    let text = r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STARTED", "data": {"reason": "r"}}"#;
    let v: Value = serde_json::from_str(text).unwrap();
    let m: EventMessage<commands::Event> = from_value(&v).unwrap();
    assert_eq!(
        m.event,
        commands::Event::Started(commands::StartedEvent { reason: "r".into() })
    );
    let out: Value = serde_json::from_str(&to_string(&m).unwrap()).unwrap();
    assert_eq!(out, v);
    let stopped: EventMessage<commands::Event> =
        from_value(&json!({"event": "STOPPED", "timestamp": {"seconds": 0, "microseconds": 0}}))
            .unwrap();
    assert_eq!(stopped.event, commands::Event::Stopped);
    let unknown =
        json!({"event": "NEW", "data": {"a": 1}, "timestamp": {"seconds": 0, "microseconds": 0}});
    assert_eq!(
        from_value::<EventMessage<commands::Event>>(&unknown)
            .unwrap_err()
            .to_string(),
        "Unknown event 'NEW'"
    );
    let kept: EventMessage<commands::Event> = from_value_lenient(&unknown).unwrap();
    assert!(matches!(kept.event, commands::Event::Unrecognized { ref name, .. } if name == "NEW"));
}

/// A server sends a typed event in one call, stamped with the current time.
#[test]
fn servers_emit_stamped_events() {
    use qapi_runtime::EventMessage;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut out = Vec::new();
    let event = commands::Event::Started(commands::StartedEvent { reason: "r".into() });
    qapi_runtime::event::emit(&mut out, event.clone()).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.ends_with("}\n") && text.matches('\n').count() == 1,
        "{text}"
    );
    let m: EventMessage<commands::Event> =
        from_value(&serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(m.event, event);
    assert!(m.timestamp.seconds >= before && m.timestamp.seconds < before + 60);
    assert!((0..1_000_000).contains(&m.timestamp.microseconds));
}

#[test]
fn client_talks_to_the_dispatcher_over_a_socket() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    let (client_end, server_end) = UnixStream::pair().unwrap();
    let server = std::thread::spawn(move || {
        let mut s = Server::default();
        let mut reader = BufReader::new(server_end.try_clone().unwrap());
        let mut out = server_end;
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 {
            let request: Value = serde_json::from_str(&line).unwrap();
            if let Some(reply) = commands::dispatch(&mut s, &request) {
                reply.write_line(&mut out).unwrap();
                out.flush().unwrap();
            }
            line.clear();
        }
        s.calls
    });
    let mut client = commands::Client::new(client_end);
    assert_eq!(client.echo(&commands::EchoArgs { id: -7 }).unwrap(), -7);
    client.ping().unwrap();
    let info = client.get_info().unwrap();
    assert_eq!(info.version, "1.0");
    client
        .shutdown(&commands::ShutdownArgs { mode: None })
        .unwrap();
    client
        .set_info(&commands::Info {
            version: "3".into(),
            names: vec![],
        })
        .unwrap();
    match client.connection().execute_value::<Value>("nope", None) {
        Err(qapi_runtime::ClientError::Command(e)) => {
            assert_eq!(e.desc, "The command nope has not been found")
        }
        other => panic!("{other:?}"),
    }
    drop(client);
    assert_eq!(
        server.join().unwrap(),
        ["echo", "ping", "shutdown None", "set-info 3"]
    );
}

/// A reply from a newer server: the client's default decoding keeps unknown enum values and
/// skips unknown members; strict decoding names the type, the member and the value, and
/// speaks of the reply (a request keeps QEMU's parameter wording, checked above).
#[test]
fn replies_tolerate_newer_servers_unless_strict() {
    use qapi_runtime::client::decode_return;
    let newer = json!({"kind": "newer-level", "name": "n", "extra": 1, "added-later": true});
    let d: types::Derived = decode_return(&newer, true).unwrap();
    assert_eq!(d.kind, types::Level::Unrecognized("newer-level".into()));
    assert_eq!((d.name.as_deref(), d.extra), (Some("n"), 1));
    let strict = decode_return::<types::Derived>(&newer, false)
        .unwrap_err()
        .to_string();
    assert_eq!(
        strict,
        "Reply member 'kind' has value 'newer-level', which enum Level does not know (strict decoding)"
    );
    let extra = json!({"value": 1, "next": {"value": 2, "added-later": 1}});
    let n: types::Node = decode_return(&extra, true).unwrap();
    assert_eq!(n.next.map(|n| n.value), Some(2));
    assert_eq!(
        decode_return::<types::Node>(&extra, false)
            .unwrap_err()
            .to_string(),
        "Reply member 'next.added-later' is unknown in type Node (strict decoding)"
    );
    assert_eq!(
        decode_return::<types::Node>(&json!({"value": "x"}), true)
            .unwrap_err()
            .to_string(),
        "Reply member 'value' has an invalid type, expected: integer"
    );
    // A required member an older peer does not send: its zero value when lenient, an error
    // when strict.
    let older: types::Node = decode_return(&json!({}), true).unwrap();
    assert_eq!((older.value, older.next.is_none()), (0, true));
    assert_eq!(
        decode_return::<types::Node>(&json!({}), false)
            .unwrap_err()
            .to_string(),
        "Reply member 'value' is missing in type Node"
    );
    let older: types::Derived = decode_return(&json!({"extra": 1}), true).unwrap();
    assert_eq!(older.kind, types::Level::Unrecognized(String::new()));
}
