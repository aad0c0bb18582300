//! The introspection of `schema/qmp` (QEMU 10.0.2's schema) for the conditions of Debian's
//! build (`schema/qmp/debian-x86_64.cfg`) equals what that qemu-system-x86_64 10.0.2 returns
//! for `query-qmp-schema`: the same JSON value, entries, members and keys in the same order.
//!
//! Skipped with a notice when QEMU is missing, unless `QAPI_REQUIRE_EXTERNAL=1`.

use qapi_codegen::{introspect, load_schema, Conditions};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Sends one command and returns its `return` value (events in between are skipped).
fn execute(stream: &mut BufReader<UnixStream>, command: &str) -> Value {
    let request = json!({ "execute": command }).to_string();
    stream
        .get_mut()
        .write_all(format!("{request}\n").as_bytes())
        .expect("sending to QEMU");
    loop {
        let mut line = String::new();
        let n = stream.read_line(&mut line).expect("reading from QEMU");
        assert!(n > 0, "QEMU closed the connection");
        let reply: Value = serde_json::from_str(&line).expect("QEMU sends JSON");
        if reply.get("event").is_some() {
            continue;
        }
        return match reply.get("return") {
            Some(value) => value.clone(),
            None => panic!("{command} failed: {line}"),
        };
    }
}

/// QEMU's live `query-qmp-schema`, or `None` when QEMU is not installed.
fn live_schema() -> Option<Value> {
    let qemu = testenv::Qemu::start("introspect", &["qmp"], &[])?;
    let stream = UnixStream::connect(qemu.socket("qmp")).expect("connecting to QMP");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("setting a timeout");
    let mut stream = BufReader::new(stream);
    let mut greeting = String::new();
    stream.read_line(&mut greeting).expect("QMP greeting");
    let greeting: Value = serde_json::from_str(&greeting).expect("greeting is JSON");
    assert_eq!(
        greeting["QMP"]["version"]["qemu"],
        json!({ "major": 10, "minor": 0, "micro": 2 }),
        "this test describes QEMU 10.0.2"
    );
    execute(&mut stream, "qmp_capabilities");
    Some(execute(&mut stream, "query-qmp-schema"))
}

/// Where two entry lists first differ, with both entries and their neighbourhood's names.
fn first_difference(ours: &[Value], qemu: &[Value]) -> Option<String> {
    let names = |list: &[Value], at: usize| -> String {
        let from = at.saturating_sub(2);
        let names: Vec<String> = list[from..list.len().min(at + 3)]
            .iter()
            .map(|e| e["name"].to_string())
            .collect();
        names.join(" ")
    };
    for i in 0..ours.len().max(qemu.len()) {
        let (a, b) = (ours.get(i), qemu.get(i));
        let same = match (a, b) {
            // Keys in the same order too, so compare the texts (`Value`'s `==` ignores it).
            (Some(a), Some(b)) => serde_json::to_string(a).ok() == serde_json::to_string(b).ok(),
            _ => false,
        };
        if !same {
            let show = |v: Option<&Value>| v.map_or("(none)".to_owned(), |v| format!("{v:#}"));
            return Some(format!(
                "entries differ first at {i} (of {} generated, {} from QEMU)\n\
                 generated around it: {}\nQEMU around it: {}\n\
                 generated entry: {}\nQEMU entry: {}",
                ours.len(),
                qemu.len(),
                names(ours, i.min(ours.len().saturating_sub(1))),
                names(qemu, i.min(qemu.len().saturating_sub(1))),
                show(a),
                show(b)
            ));
        }
    }
    None
}

#[test]
fn matches_debian_qemu() {
    let Some(live) = live_schema() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let schema = load_schema(&root.join("schema/qmp/qapi-schema.json"), false).unwrap();
    let cfg = root.join("schema/qmp/debian-x86_64.cfg");
    let text = std::fs::read_to_string(&cfg).expect("reading debian-x86_64.cfg");
    let ours = introspect(&schema, &Conditions::from_list(&text), false);
    let (Value::Array(ours), Value::Array(qemu)) = (&ours, &live) else {
        panic!("query-qmp-schema did not return an array: {live:.200}");
    };
    if let Some(diff) = first_difference(ours, qemu) {
        panic!("{diff}");
    }
    assert_eq!(ours.len(), 1172, "Debian's build has 1172 entries");
    // Same value and same text (key order included).
    assert_eq!(Value::Array(ours.clone()), live);
    assert_eq!(Value::Array(ours.clone()).to_string(), live.to_string());
}
