//! The heaviest hostile input of the fault-injection run: an array of 3 million tokens, past
//! the 2-million token limit. It must be answered with one error on the same connection
//! (qemu-ga answers each of the leftover million tokens, so the next request waits behind
//! ~80 MB of errors), and the agent's peak memory must stay far below qemu-ga's.

mod common;

use common::{error_of, Agent};
use serde_json::json;

/// Peak resident memory of a process, in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn three_million_tokens_get_one_error_on_the_same_connection() {
    let agent = Agent::start(&[]);
    let mut c = agent.connect();
    let mut input = b"[".to_vec();
    input.extend(b"1,".repeat(1_500_000));
    input.extend(b"1]");
    // Sent from a thread: the agent reads while we would otherwise block in the write.
    let mut writer = c.stream.try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        use std::io::Write;
        writer.write_all(&input).expect("send");
        writer
            .write_all(br#"{"execute":"guest-ping","id":"after"}"#)
            .expect("send");
    });
    let first = c.reply();
    assert_eq!(
        error_of(&first).1,
        "JSON token count limit exceeded",
        "{first}"
    );
    assert_eq!(c.reply(), json!({"return": {}, "id": "after"}));
    sender.join().expect("sender");
    let peak = peak_kib(agent.child.id());
    // Two million tokens of 24 bytes: 48 MiB; qemu-ga 10.0.2 peaks at about 210 MB here.
    assert!(peak < 100 * 1024, "peak resident memory {peak} KiB");
}
