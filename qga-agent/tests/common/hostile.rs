//! The 23 hostile inputs of the fault-injection run, for `tests/hostile_input.rs` (our agent)
//! and `benches/hostile.rs` (ours beside qemu-ga). Each input is sent on a fresh agent, then
//! the client's resynchronisation (0xFF, a newline) and a `guest-ping` with an id, all on the
//! same connection; the input is survived when that ping is answered there.
//!
//! QEMU's JSON reader limits (qobject/json-streamer.c, mirrored in `src/json/mod.rs`): 64 MiB
//! of tokens per message and per token, 2Mi tokens, nesting 1024.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Agent;

/// The id of the ping that follows every input.
pub const AFTER: &str = "after-hostile-input";

/// What the first reply to an input must be.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// An error whose `desc` contains this text.
    Error(&'static str),
    /// A `return` (the input was a valid request).
    Return,
}

/// One hostile input.
pub struct Case {
    pub name: &'static str,
    pub input: Vec<u8>,
    pub expect: Expect,
}

fn case(name: &'static str, input: Vec<u8>, expect: Expect) -> Case {
    Case {
        name,
        input,
        expect,
    }
}

/// `{"execute":"guest-ping","id":<id>}` with `id` as raw bytes.
fn ping_with_id(id: &[u8]) -> Vec<u8> {
    [br#"{"execute":"guest-ping","id":"#.as_slice(), id, b"}"].concat()
}

/// `{"execute":<name>,"arguments":<arguments>}` with `arguments` as raw bytes.
fn command(name: &str, arguments: &[u8]) -> Vec<u8> {
    [
        format!(r#"{{"execute":"{name}","arguments":"#).as_bytes(),
        arguments,
        b"}",
    ]
    .concat()
}

/// A JSON string of `len` bytes of `b`, quotes included.
fn string_of(b: u8, len: usize) -> Vec<u8> {
    let mut s = Vec::with_capacity(len + 2);
    s.push(b'"');
    s.resize(len + 1, b);
    s.push(b'"');
    s
}

/// A JSON object of `n` distinct members `"k0":0, ...`.
fn members(n: usize) -> Vec<u8> {
    let mut s = b"{".to_vec();
    for i in 0..n {
        if i > 0 {
            s.push(b',');
        }
        s.extend(format!("\"k{i}\":0").bytes());
    }
    s.push(b'}');
    s
}

/// The 23 inputs.
pub fn cases() -> Vec<Case> {
    use Expect::{Error, Return};
    let mut tokens_3m = b"[".to_vec();
    tokens_3m.extend(b"1,".repeat(1_500_000));
    tokens_3m.extend(b"1]");
    let mib_string = string_of(b's', 1 << 20);
    let mut token_bytes = b"[".to_vec();
    for i in 0..70 {
        if i > 0 {
            token_bytes.push(b',');
        }
        token_bytes.extend(&mib_string);
    }
    token_bytes.push(b']');
    let mut huge_argv =
        br#"{"execute":"guest-exec","arguments":{"path":"/bin/true","arg":["#.to_vec();
    for i in 0..100_000 {
        if i > 0 {
            huge_argv.push(b',');
        }
        huge_argv.extend(&string_of(b'a', 100));
    }
    huge_argv.extend(b"]}}");
    let mut wrong_types = br#"{"execute":"guest-file-write","arguments":{"handle":"#.to_vec();
    wrong_types.extend(b"[".repeat(1000));
    wrong_types.extend(br#"{"x":"y"}"#);
    wrong_types.extend(b"]".repeat(1000));
    wrong_types.extend(br#","buf-b64":{"a":[1,{"b":[true,null]}]}}}"#);
    let mut control = br#"{"execute":"guest-ping","id":""#.to_vec();
    control.extend(1u8..0x20);
    control.extend(b"\"}");
    vec![
        case(
            "100k '[' (unclosed)",
            b"[".repeat(100_000),
            Error("JSON nesting depth limit exceeded"),
        ),
        case(
            "100k '{\"a\":' (unclosed)",
            b"{\"a\":".repeat(100_000),
            Error("JSON nesting depth limit exceeded"),
        ),
        case(
            "48 MiB string argument",
            command(
                "guest-ping",
                &[b"{\"x\":", &string_of(b'x', 48 << 20)[..], b"}"].concat(),
            ),
            Error("Parameter 'x' is unexpected"),
        ),
        case(
            "80 MiB string (token size)",
            ping_with_id(&string_of(b'x', 80 << 20)),
            Error("JSON token size limit exceeded"),
        ),
        case(
            "16 MiB key",
            [b"{".as_slice(), &string_of(b'k', 16 << 20), b":1}"].concat(),
            Error("QMP input member 'kkkk"),
        ),
        case(
            "id: 1M-digit integer",
            ping_with_id(&b"9".repeat(1 << 20)),
            Return,
        ),
        case(
            "id: 1e999, huge exponents",
            ping_with_id(b"[1e999,-1e999,1e-999,1E+99999999999999999999]"),
            Return,
        ),
        case(
            "invalid UTF-8 in strings",
            ping_with_id(b"\"\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\x28\""),
            Error("invalid UTF-8 sequence in string"),
        ),
        case(
            "overlong UTF-8 encodings",
            ping_with_id(b"\"\xc0\xaf\xe0\x80\xaf\xf0\x80\x80\xaf\xc1\xbf\""),
            Error("invalid UTF-8 sequence in string"),
        ),
        case(
            "lone surrogates \\ud800",
            ping_with_id(br#"["\ud800","\udc00\ud800x","\udbff"]"#),
            Error("\\ud800 is not a valid Unicode character"),
        ),
        case(
            "NUL bytes",
            b"{\"execute\":\"guest-p\x00ing\"}\x00{\"execute\":\"guest-ping\\u0000\"}".to_vec(),
            Error("JSON parse error"),
        ),
        case(
            "control characters",
            control,
            Error("JSON parse error, stray"),
        ),
        case(
            "0xFF bytes mid-message",
            b"{\"execute\":\xff\"guest-ping\"\xff,\"id\"\xff:1}".to_vec(),
            Error("JSON parse error, stray"),
        ),
        case(
            "unterminated string, newline",
            b"{\"execute\":\"guest-ping\",\"id\":\"abc\n".to_vec(),
            Error("JSON parse error, stray"),
        ),
        case(
            "3M tokens (token count)",
            tokens_3m,
            Error("JSON token count limit exceeded"),
        ),
        case(
            "70 MiB of tokens (size)",
            token_bytes,
            Error("JSON token size limit exceeded"),
        ),
        case(
            "100k pings, no newline",
            br#"{"execute":"guest-ping"}"#.repeat(100_000),
            Return,
        ),
        case(
            "200k members",
            command("guest-ping", &members(200_000)),
            Error("is unexpected"),
        ),
        case(
            "100k duplicate keys",
            [
                br#"{"execute":"guest-ping""#.as_slice(),
                &br#","a":1"#.repeat(100_000),
                b"}",
            ]
            .concat(),
            Error("duplicate key"),
        ),
        case(
            "id: object of 200k members",
            ping_with_id(&members(200_000)),
            Return,
        ),
        case(
            "wrong types, nested 1000 deep",
            wrong_types,
            Error("Invalid parameter type"),
        ),
        case(
            "guest-file-read count 2^63",
            command(
                "guest-file-read",
                br#"{"handle":1,"count":9223372036854775808}"#,
            ),
            Error("Invalid parameter type for 'count', expected: integer"),
        ),
        case(
            "guest-exec with 10 MB argv",
            huge_argv,
            Error("Argument list too long"),
        ),
    ]
}

/// What happened to one input.
#[derive(Debug)]
pub struct Outcome {
    /// The ping after the input was answered on the same connection.
    pub answered: bool,
    /// The first reply (the one to the input), as text, cut to 200 bytes.
    pub first: String,
    /// Whether the first reply is what [`Case::expect`] says.
    pub expected: bool,
    /// Replies before the ping's, and how many of them were not valid JSON.
    pub replies: usize,
    pub invalid: usize,
    /// The agent process was still running at the end.
    pub alive: bool,
    /// Peak resident memory of the agent (VmHWM), in KiB.
    pub peak_kib: u64,
    pub seconds: f64,
}

/// Peak resident memory of a process, in KiB (0 when it is gone).
pub fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `case` against a fresh `binary` (ours or qemu-ga), waiting up to `limit` for the ping.
pub fn run(binary: &Path, case: &Case, limit: Duration) -> Outcome {
    let mut agent = Agent::start_with(binary, &[], &[]);
    let stream = UnixStream::connect(&agent.socket).expect("connect to agent");
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let started = Instant::now();
    // Sent from a thread: the agent answers while we would otherwise block in the write.
    let mut writer = stream.try_clone().expect("clone");
    let mut input = case.input.clone();
    input.extend(b"\xff\n");
    input.extend(format!(r#"{{"execute":"guest-ping","id":"{AFTER}"}}"#).bytes());
    let sender = std::thread::spawn(move || {
        // An agent that dies or hangs up ends the write; that shows in the outcome.
        let _ = writer.write_all(&input);
    });
    let mut outcome = Outcome {
        answered: false,
        first: String::new(),
        expected: false,
        replies: 0,
        invalid: 0,
        alive: false,
        peak_kib: 0,
        seconds: 0.0,
    };
    let mut reader = stream;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    let deadline = started + limit;
    'read: while Instant::now() < deadline {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => break,
        }
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
            let line = &buf[start..start + pos];
            start += pos + 1;
            let line = line.strip_prefix(&[0xFF]).unwrap_or(line);
            let reply: Option<Value> = serde_json::from_slice(line).ok();
            if reply.as_ref().is_some_and(|r| r["id"] == AFTER) {
                outcome.answered = reply.is_some_and(|r| r["return"] == serde_json::json!({}));
                break 'read;
            }
            if outcome.replies == 0 {
                outcome.first = String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
                outcome.expected = match (case.expect, &reply) {
                    (Expect::Return, Some(r)) => r.get("return").is_some(),
                    (Expect::Error(text), Some(r)) => r["error"]["desc"]
                        .as_str()
                        .is_some_and(|desc| desc.contains(text)),
                    (_, None) => false,
                };
            }
            outcome.replies += 1;
            if reply.is_none() {
                outcome.invalid += 1;
            }
        }
        buf.drain(..start);
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome.peak_kib = peak_kib(agent.child.id());
    outcome.alive = matches!(agent.child.try_wait(), Ok(None));
    // Ends a write still blocked on an agent that stopped reading.
    let _ = agent.child.kill();
    let _ = agent.child.wait();
    drop(reader);
    let _ = sender.join();
    outcome
}
