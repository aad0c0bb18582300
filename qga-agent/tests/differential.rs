//! Differential test against QEMU's own qemu-ga: the same byte streams go to both agents and
//! the replies must match — byte for byte where the content is deterministic (framing, errors,
//! syncs, file handles), in shape (same keys in the same order, same JSON types, same error
//! class and text) where it reflects the live system (time, load, interfaces, ...).
//!
//! Skipped with a notice when qemu-ga is not installed, unless `QAPI_REQUIRE_EXTERNAL=1`
//! (set by `cargo xtask ci`), which turns a missing qemu-ga into a failure.

mod common;

use std::path::PathBuf;

use common::{agent_binary, Agent, Client};
use serde_json::Value;

/// How two replies must agree.
#[derive(Clone, Copy, Debug)]
enum Compare {
    /// The same bytes.
    Exact,
    /// The same keys (in order), JSON types and error class/text.
    Shape,
    /// A documented deviation (COMPATIBILITY.md): our reply lines must be these.
    Ours(&'static [&'static str]),
}

use Compare::{Exact, Ours, Shape};

/// Read-only requests and malformed input; nothing here changes the machine.
const CASES: &[(&str, Compare)] = &[
    // Framing.
    (
        r#"{"execute":"guest-ping"}{"execute":"guest-ping","id":1}"#,
        Exact,
    ),
    (
        "{\"execute\":\"guest-sync\",\n \"arguments\":{\"id\":1}}\n",
        Exact,
    ),
    (r#"{'execute':'guest-ping','id':'it\'s "q"'}"#, Exact),
    (
        "\u{ff}{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":42}}",
        Exact,
    ),
    // Lexical and syntax errors, recovery.
    ("}", Exact),
    ("]", Exact),
    ("[1 2]", Exact),
    (r#"{"a":}"#, Exact),
    (r#"{"a" 1}"#, Exact),
    ("{1:2}", Exact),
    (r#"{"a":1 "b":2}"#, Exact),
    (r#"{"a":1,"a":2}"#, Exact),
    (r#"{"a":1]"#, Exact),
    ("[[1]}", Exact),
    (r#"{"a":[}]"#, Exact),
    ("-x ", Exact),
    ("01 ", Exact),
    ("abc ", Exact),
    ("TRUE ", Exact),
    ("@{\"execute\":\"guest-ping\"}", Exact),
    ("\"\u{1}\"", Exact),
    (r#""a\q""#, Exact),
    (r#""\u12""#, Exact),
    (r#""\uD800\u0041""#, Exact),
    (r#""\uFFFF""#, Exact),
    (r#""\uDBFF\uDFFF""#, Exact),
    ("1.e5 ", Exact),
    ("1e+ ", Exact),
    ("- ", Exact),
    ("-0 ", Exact),
    ("-01 ", Exact),
    ("1E5 ", Exact),
    ("nul ", Exact),
    (r#""\u0000""#, Exact),
    ("\u{0}", Exact),
    ("[[[[[[[[[[]]]]]]]]]]", Exact),
    // Envelope checks.
    ("[1,2]", Exact),
    ("42 ", Exact),
    (r#""abc""#, Exact),
    (r#"{"execute":1,"foo":2}"#, Exact),
    (r#"{"foo":2,"execute":1}"#, Exact),
    (r#"{"id":1,"execute":"guest-ping","arguments":[]}"#, Exact),
    (r#"{"arguments":{}}"#, Exact),
    (r#"{"exec-oob":"guest-ping"}"#, Exact),
    (r#"{"execute":"guest-ping","control":1}"#, Exact),
    (r#"{"execute":"guest-nope","id":"x"}"#, Exact),
    (r#"{"execute":"guest-get-devices"}"#, Exact),
    (r#"{"execute":"guest-ping\u0000"}"#, Exact),
    // Keys with U+0000 are hashed as QEMU stores them (modified UTF-8, `C0 80`).
    (r#"{"a": 1, "argumen\u0000ts": {}}"#, Exact),
    (
        r#"{"execute":"guest-ping","a": 1, "argumen\u0000ts": {}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-ping","arguments":{"a":1,"b\u0000":2,"\u0000":3}}"#,
        Exact,
    ),
    // Ids of every type are echoed as sent.
    (r#"{"execute":"guest-ping","id":[1,{"a":null}]}"#, Exact),
    (
        r#"{"execute":"guest-ping","id":{"z":1,"a":2,"execute":3,"return":4}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-ping","id":{"a":1,"argumen\u0000ts":2,"b":3,"x\u0000":4,"\u0000":5}}"#,
        Exact,
    ),
    (
        "{\"execute\":\"guest-ping\",\"id\":\"\\u0000\u{e9}\\ud83d\\ude00\u{7f}\"}",
        Exact,
    ),
    (r#"{"execute":"guest-ping","id":"a/b\/c\b\f\n\r\t"}"#, Exact),
    (r#"{"execute":"guest-ping","id":-0.0}"#, Exact),
    (r#"{"execute":"guest-ping","id":0.1}"#, Exact),
    (r#"{"execute":"guest-ping","id":1e300}"#, Exact),
    (
        r#"{"execute":"guest-ping","id":123456789012345678901234567890}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-ping","id":18446744073709551615}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-ping","id":1e999}"#,
        Ours(&[r#"{"return": {}, "id": 1.7976931348623157e+308}"#]),
    ),
    // Sync ids.
    (
        r#"{"execute":"guest-sync","arguments":{"id":-9223372036854775808}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-sync","arguments":{"id":9223372036854775807}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-sync","arguments":{"id":9223372036854775808}}"#,
        Exact,
    ),
    (r#"{"execute":"guest-sync","arguments":{"id":1.5}}"#, Exact),
    (r#"{"execute":"guest-sync","arguments":{"id":"x"}}"#, Exact),
    (r#"{"execute":"guest-sync","arguments":{}}"#, Exact),
    (
        r#"{"execute":"guest-sync","arguments":{"id":1,"y":2}}"#,
        Exact,
    ),
    // Argument decoding.
    (r#"{"execute":"guest-ping","arguments":{"x":1}}"#, Exact),
    (
        r#"{"execute":"guest-file-open","arguments":{"path":"/nonexistent/x"}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-file-open","arguments":{"path":"/etc/hostname","mode":"q"}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-file-read","arguments":{"handle":99999}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-file-read","arguments":{"handle":"x"}}"#,
        Exact,
    ),
    (r#"{"execute":"guest-file-read","arguments":{}}"#, Exact),
    (
        r#"{"execute":"guest-file-seek","arguments":{"handle":1,"offset":0,"whence":"bogus"}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-file-seek","arguments":{"handle":1,"offset":0,"whence":[]}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-file-write","arguments":{"handle":1,"buf-b64":"!!"}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-set-time","arguments":{"time":"x"}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-shutdown","arguments":{"mode":"x"}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-shutdown","arguments":{"mode":1}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-exec","arguments":{"path":"/bin/true","capture-output":"bogus"}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-exec","arguments":{"path":"/bin/true","capture-output":5}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":"a","online":true}]}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"no-such-user-qga"}}"#,
        Exact,
    ),
    (
        r#"{"execute":"guest-exec-status","arguments":{"pid":1}}"#,
        Ours(&[r#"{"error": {"class": "GenericError", "desc": "PID 1 does not exist"}}"#]),
    ),
    // Live data: compared in shape.
    (r#"{"execute":"guest-info"}"#, Exact),
    (r#"{"execute":"guest-get-time"}"#, Shape),
    (r#"{"execute":"guest-get-host-name"}"#, Exact),
    (r#"{"execute":"guest-get-timezone"}"#, Exact),
    (r#"{"execute":"guest-get-osinfo"}"#, Exact),
    (r#"{"execute":"guest-get-load"}"#, Shape),
    (r#"{"execute":"guest-fsfreeze-status"}"#, Exact),
    (r#"{"execute":"guest-get-users"}"#, Shape),
    (r#"{"execute":"guest-get-vcpus"}"#, Shape),
    (r#"{"execute":"guest-network-get-interfaces"}"#, Shape),
    (r#"{"execute":"guest-network-get-route"}"#, Shape),
    (r#"{"execute":"guest-get-cpustats"}"#, Shape),
    (r#"{"execute":"guest-get-diskstats"}"#, Shape),
    (r#"{"execute":"guest-get-memory-block-info"}"#, Shape),
    (r#"{"execute":"guest-get-memory-blocks"}"#, Shape),
    (r#"{"execute":"guest-get-fsinfo"}"#, Shape),
    (r#"{"execute":"guest-get-disks"}"#, Shape),
];

/// Where qemu-ga is, if installed.
fn reference_agent() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("QGA_REFERENCE") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into(), "/sbin".into()])
        .map(|dir| dir.join("qemu-ga"))
        .find(|p| p.is_file())
}

/// Sends `input`, then a sentinel (0xFF, newline, a sync), and returns the reply lines before
/// the sentinel's. The 0xFF flushes any partial input so every case starts clean.
fn exchange(client: &mut Client, input: &[u8], sentinel: i64) -> Vec<Vec<u8>> {
    client.send(input);
    let mut tail = vec![0xFF, b'\n'];
    tail.extend(
        format!("{{\"execute\":\"guest-sync\",\"arguments\":{{\"id\":{sentinel}}}}}").bytes(),
    );
    client.send(&tail);
    let done = format!("{{\"return\": {sentinel}}}").into_bytes();
    let mut lines = Vec::new();
    loop {
        let line = client.lines(1).remove(0);
        if line == done {
            return lines;
        }
        lines.push(line);
    }
}

/// The shape of a value: key order and JSON types, not the contents.
fn shape(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) if n.is_i64() || n.is_u64() => "int".into(),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Array(items) => {
            let mut shapes: Vec<String> = items.iter().map(shape).collect();
            shapes.sort();
            shapes.dedup();
            format!("[{}]", shapes.join("|"))
        }
        Value::Object(map) => {
            // Error replies must agree in text, not just in type.
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("class" | "desc", Value::String(s)) => format!("{k}={s}"),
                    _ => format!("{k}:{}", shape(v)),
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
    }
}

fn parse_line(line: &[u8]) -> Value {
    let text = line.strip_prefix(&[0xFF]).unwrap_or(line);
    // qemu-ga can write numbers JSON cannot hold; those cases are exact-compared anyway.
    serde_json::from_slice(text).unwrap_or(Value::Null)
}

#[test]
fn same_replies_as_qemu_ga() {
    let Some(reference) = reference_agent() else {
        let required = std::env::var("QAPI_REQUIRE_EXTERNAL").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "qemu-ga is not installed and QAPI_REQUIRE_EXTERNAL=1"
        );
        eprintln!("notice: qemu-ga not installed; differential test skipped");
        return;
    };
    let theirs = Agent::start_with(&reference, &[], &[]);
    let ours = Agent::start_with(&agent_binary(), &[], &[]);
    let mut a = theirs.connect();
    let mut b = ours.connect();
    // A fresh connection may follow the start-up probe's partial state: flush once.
    exchange(&mut a, b"", 1);
    exchange(&mut b, b"", 1);

    let mut failures = Vec::new();
    for (i, (input, compare)) in CASES.iter().enumerate() {
        // Cases are written as text; U+00FF stands for the byte 0xFF.
        let bytes: Vec<u8> = input
            .chars()
            .flat_map(|c| match c {
                '\u{ff}' => vec![0xFF],
                c => c.to_string().into_bytes(),
            })
            .collect();
        let sentinel = 1000 + i as i64;
        let want = exchange(&mut a, &bytes, sentinel);
        let got = exchange(&mut b, &bytes, sentinel);
        let ok = match compare {
            Exact => want == got,
            Shape => {
                want.len() == got.len()
                    && want
                        .iter()
                        .zip(&got)
                        .all(|(w, g)| shape(&parse_line(w)) == shape(&parse_line(g)))
            }
            Ours(lines) => {
                // The reference answers in the same number of lines; ours are as documented.
                let lines: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
                want.len() == got.len() && got.starts_with(&lines)
            }
        };
        if !ok {
            failures.push(format!(
                "{input:?} ({compare:?})\n  qemu-ga: {:?}\n  ours:    {:?}",
                want.iter()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .collect::<Vec<_>>(),
                got.iter()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .collect::<Vec<_>>(),
            ));
        }
    }
    failures.extend(mutated_inputs(&mut a, &mut b));
    failures.extend(file_session(&mut a, &mut b));
    failures.extend(exec_session(&mut a, &mut b));
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Valid requests with random bytes inserted, deleted or spliced in: both agents must answer
/// every one byte for byte alike (lexer, recovery, parser and dispatch corner cases).
fn mutated_inputs(a: &mut Client, b: &mut Client) -> Vec<String> {
    const SEEDS: &[&[u8]] = &[
        br#"{"execute":"guest-sync","arguments":{"id":123}}"#,
        b"{'execute':'guest-ping','id':[1,2.5e3,\"x\\u00e9\"]}",
        br#"{"execute":"guest-file-read","arguments":{"handle":1000,"count":-5}}"#,
        br#"[{"a":{"b":[true,false,null]}}]"#,
        b"\"\\ud83d\\ude00\xc3\xa9\"",
        br#"{"execute":"guest-info","id":"\n\t\"x"}"#,
        b"-12.5e-3 ",
        br#"{"execute":"guest-exec-status","arguments":{"pid":"1"}}"#,
    ];
    const BYTES: &[u8] = b"{}[]:,\"'\\ \n\t0123456789-+.eEabcdefnulltrux\xff\xfe\x00\x01\x80\xc0\xc3\xa9\xed\xef\xbf\xf4";
    // Commands that would change the machine must not appear by accident.
    const FORBIDDEN: &[&[u8]] = &[
        b"shutdown",
        b"suspend",
        b"set-",
        b"freeze",
        b"fstrim",
        b"open",
        b"write",
        b"ssh",
        b"exec\"",
    ];
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let mut failures = Vec::new();
    let mut compared = 0;
    for i in 0..400 {
        let mut input = SEEDS[next(SEEDS.len())].to_vec();
        for _ in 0..1 + next(4) {
            let at = next(input.len() + 1);
            match next(3) {
                0 => input.insert(at, BYTES[next(BYTES.len())]),
                1 if input.len() > 1 => {
                    input.remove(at.min(input.len() - 1));
                }
                _ => {
                    let seed = SEEDS[next(SEEDS.len())];
                    let piece = &seed[..next(11).min(seed.len())];
                    input.splice(at..at, piece.iter().copied());
                }
            }
        }
        if FORBIDDEN
            .iter()
            .any(|f| input.windows(f.len()).any(|w| w == *f))
        {
            continue;
        }
        let want = exchange(a, &input, 3000 + i);
        let got = exchange(b, &input, 3000 + i);
        compared += 1;
        if want != got {
            failures.push(format!(
                "mutated input {:?}\n  qemu-ga: {want:?}\n  ours:    {got:?}",
                String::from_utf8_lossy(&input)
            ));
        }
    }
    assert!(compared > 300, "only {compared} mutated inputs compared");
    failures
}

/// The same file session on both agents (fresh state: handles start at 1000 on both).
fn file_session(a: &mut Client, b: &mut Client) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("data");
    std::fs::write(&path, b"hello, differential world\n").expect("write file");
    let p = path.display();
    let steps = [
        format!(r#"{{"execute":"guest-file-open","arguments":{{"path":"{p}"}}}}"#),
        r#"{"execute":"guest-file-read","arguments":{"handle":1000,"count":5}}"#.to_owned(),
        r#"{"execute":"guest-file-seek","arguments":{"handle":1000,"offset":-3,"whence":"end"}}"#
            .to_owned(),
        r#"{"execute":"guest-file-seek","arguments":{"handle":1000,"offset":0,"whence":7}}"#
            .to_owned(),
        r#"{"execute":"guest-file-read","arguments":{"handle":1000}}"#.to_owned(),
        r#"{"execute":"guest-file-read","arguments":{"handle":1000}}"#.to_owned(),
        r#"{"execute":"guest-file-read","arguments":{"handle":1000,"count":-1}}"#.to_owned(),
        r#"{"execute":"guest-file-write","arguments":{"handle":1000,"buf-b64":"aGk="}}"#.to_owned(),
        r#"{"execute":"guest-file-flush","arguments":{"handle":1000}}"#.to_owned(),
        r#"{"execute":"guest-file-close","arguments":{"handle":1000}}"#.to_owned(),
        r#"{"execute":"guest-file-close","arguments":{"handle":1000}}"#.to_owned(),
        format!(r#"{{"execute":"guest-file-open","arguments":{{"path":"{p}","mode":"r+"}}}}"#),
    ];
    let mut failures = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let want = exchange(a, step.as_bytes(), 5000 + i as i64);
        let got = exchange(b, step.as_bytes(), 5000 + i as i64);
        if want != got {
            failures.push(format!(
                "file session {step}\n  qemu-ga: {want:?}\n  ours:    {got:?}"
            ));
        }
    }
    failures
}

/// guest-exec then guest-exec-status until exited, on both agents.
fn exec_session(a: &mut Client, b: &mut Client) -> Vec<String> {
    let run = |c: &mut Client, base: i64| -> Vec<Value> {
        let exec = r#"{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","echo out; echo err >&2; exit 3"],"capture-output":true}}"#;
        let reply = parse_line(&exchange(c, exec.as_bytes(), base)[0]);
        let pid = reply["return"]["pid"].as_i64().unwrap_or(0);
        let status = format!(r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#);
        for i in 0..200 {
            let reply = parse_line(&exchange(c, status.as_bytes(), base + 1 + i)[0]);
            if reply["return"]["exited"] == Value::Bool(true) {
                return vec![reply];
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        vec![]
    };
    let want = run(a, 6000);
    let got = run(b, 7000);
    if want == got && !want.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "exec session\n  qemu-ga: {want:?}\n  ours:    {got:?}"
        )]
    }
}
