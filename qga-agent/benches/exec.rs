//! guest-exec's cost in tasks and memory, qga-agent beside QEMU's qemu-ga:
//!
//! - tasks: the agent's threads with 1,000 captured `sleep 4` children running at once;
//! - memory: peak resident memory (VmHWM) after 40 concurrent captured execs that each write
//!   20 MB, with their statuses (and output) collected.
//!
//! Run with `cargo bench -p qga-agent --bench exec`. qemu-ga is `$QGA_REFERENCE` or found on
//! the path; without it only our figures are printed.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::hostile::peak_kib;
use common::{Agent, Client};
use serde_json::{json, Value};

const SLEEPERS: usize = 1000;
const WRITERS: usize = 40;

fn main() {
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_qga-agent"));
    let reference = match std::env::var_os("QGA_REFERENCE") {
        Some(path) => Some(PathBuf::from(path)),
        None => testenv::external("qemu-ga"),
    };
    let mut agents = vec![("qga-agent", ours)];
    agents.extend(reference.map(|r| ("qemu-ga", r)));
    println!("agent      tasks before  with {SLEEPERS} captured children  peak KiB, {WRITERS} x 20 MB captured (execs refused)");
    for (name, binary) in agents {
        let (before, during) = tasks(&binary);
        let (peak, refused) = memory(&binary);
        println!("{name:<10} {before:>12}  {during:>30}  {peak:>14} ({refused})");
    }
}

fn exec(client: &mut Client, arguments: Value) -> Value {
    client.call(&json!({"execute": "guest-exec", "arguments": arguments}).to_string())
}

/// The agent's threads before and while `SLEEPERS` captured children run.
fn tasks(binary: &Path) -> (usize, usize) {
    let agent = Agent::start_with(binary, &[], &[]);
    let mut client = agent.connect();
    let count = || {
        std::fs::read_dir(format!("/proc/{}/task", agent.child.id()))
            .map(|dir| dir.count())
            .unwrap_or(0)
    };
    let before = count();
    for _ in 0..SLEEPERS {
        let reply = exec(
            &mut client,
            json!({"path": "sleep", "arg": ["4"], "capture-output": true}),
        );
        assert!(reply["return"]["pid"].is_i64(), "{reply}");
    }
    let during = count();
    std::thread::sleep(Duration::from_secs(5));
    (before, during)
}

/// Peak memory with `WRITERS` children writing 20 MB each, and how many execs were refused.
fn memory(binary: &Path) -> (u64, usize) {
    let agent = Agent::start_with(binary, &[], &[]);
    let mut client = agent.connect();
    let mut pids = Vec::new();
    let mut refused = 0;
    for _ in 0..WRITERS {
        let reply = exec(
            &mut client,
            json!({"path": "head", "arg": ["-c", "20000000", "/dev/zero"], "capture-output": true}),
        );
        match reply["return"]["pid"].as_i64() {
            Some(pid) => pids.push(pid),
            None => refused += 1,
        }
    }
    for pid in pids {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let request = json!({"execute": "guest-exec-status", "arguments": {"pid": pid}});
            let reply = client.call(&request.to_string());
            if reply["return"]["exited"] == true {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    (peak_kib(agent.child.id()), refused)
}
