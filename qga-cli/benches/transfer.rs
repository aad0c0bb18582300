//! `qga get` and `qga put` of a 256 MiB file over a unix socket against our agent, beside:
//! - the agent's own rate for 1 MiB `guest-file-read`s (raw requests, replies only counted:
//!   what any client can reach at best; the target is qga get at 80% of it),
//! - a plain Python loop of `guest-file-read` at 1 MiB counts (json + base64 modules),
//! - QEMU's `qemu-ga-client cat` (1 KiB reads; from `cargo xtask qemu-scripts`), on a
//!   smaller file since 1 KiB requests would take many minutes for 256 MiB.
//!
//! Run: `cargo bench -p qga-cli --bench transfer`. MB/s are 10^6 bytes per second.
//! `QGA_BENCH_BASELINE=/path/to/an/older/qga` times that binary's `get` in the same run.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{qga, random_bytes, Agent};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const SIZE: usize = 256 << 20;
/// qemu-ga-client cat reads 1 KiB per request.
const SMALL: usize = 2 << 20;

fn main() {
    // `cargo bench` passes --bench; nothing to filter here.
    // In memory where possible: the host disk writes ~136 MB/s here, slower than the protocol.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("temp dir");
    let data = random_bytes(SIZE, 0x2545_f491_4f6c_dd1d);
    let source = dir.path().join("source.bin");
    std::fs::write(&source, &data).expect("write source");
    let agent = Agent::ours(&[]);
    let mut lines = Vec::new();

    let floor = agent_floor(&agent.socket, &source);
    lines.push(("agent alone, guest-file-read 1 MiB (raw)", floor));

    let remote = dir.path().join("remote.bin");
    let back = dir.path().join("back.bin");
    // One `qga put|get FROM TO` over the agent's socket, timed.
    let transfer = |op: &str, from: &str, to: &str| {
        timed(SIZE, || {
            let args = ["-s", s(&agent.socket), "--timeout", "120", op, from, to];
            qga(&args, None).ok();
        })
    };
    let put = transfer("put", s(&source), s(&remote));
    lines.push(("qga put", put));
    assert!(
        std::fs::read(&remote).expect("remote") == data,
        "put changed the data"
    );
    let get = transfer("get", s(&remote), s(&back));
    lines.push(("qga get", get));
    assert!(
        std::fs::read(&back).expect("copy") == data,
        "get changed the data"
    );
    let cpu_before = children_cpu();
    let null = transfer("get", s(&remote), "/dev/null");
    lines.push(("qga get to /dev/null", null));
    // What decides the rate when the agent and qga share a busy CPU.
    let get_cpu = children_cpu() - cpu_before;
    if let Some(baseline) = std::env::var_os("QGA_BENCH_BASELINE") {
        let cpu_before = children_cpu();
        let rate = timed(SIZE, || {
            let status = Command::new(&baseline)
                .args(["-s", s(&agent.socket), "get", s(&remote), "/dev/null"])
                .stdout(std::process::Stdio::null())
                .status()
                .expect("baseline qga runs");
            assert!(status.success(), "the baseline qga failed");
        });
        lines.push(("baseline qga get to /dev/null", rate));
        println!(
            "baseline qga get: {:.2} s of CPU",
            children_cpu() - cpu_before
        );
    }

    match which("python3") {
        Some(python) => {
            let rate = timed(SIZE, || python_loop(&python, &agent.socket, &source));
            lines.push(("python loop, guest-file-read 1 MiB", rate));
        }
        None => eprintln!("skipping the Python loop: python3 is not installed"),
    }

    let client = testenv::qemu_source().join("python");
    if client.join("qemu/utils/qemu_ga_client.py").is_file() {
        let small = dir.path().join("small.bin");
        std::fs::write(&small, &data[..SMALL]).expect("write small");
        let rate = timed(SMALL, || qemu_ga_client_cat(&client, &agent.socket, &small));
        lines.push(("qemu-ga-client cat (1 KiB reads, 2 MiB file)", rate));
    } else {
        eprintln!("skipping qemu-ga-client: QEMU's Python source is not fetched (run `cargo xtask qemu-scripts`)");
    }

    println!("\n256 MiB over a unix socket, our agent (release build):");
    for (what, rate) in &lines {
        println!("  {what:<48} {rate:>8.1} MB/s");
    }
    println!(
        "  qga get / agent alone: {:.0}% (to /dev/null: {:.0}%)",
        get / floor * 100.0,
        null / floor * 100.0
    );
    println!("  qga get to /dev/null used {get_cpu:.2} s of CPU (user + system)");
}

/// User + system seconds of the children waited for so far (/proc/self/stat fields 16, 17).
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let field = |n: usize| -> f64 {
        rest.split_whitespace()
            .nth(n - 3)
            .and_then(|v| v.parse().ok())
            .expect("numeric /proc/self/stat field")
    };
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    (field(16) + field(17)) / ticks
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

/// MB/s for `bytes` moved by `f`.
fn timed(bytes: usize, f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    bytes as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn which(program: &str) -> Option<PathBuf> {
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&dirs)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Raw 1 MiB guest-file-reads of the whole file; replies are split at newlines and their
/// `count` added up, nothing decoded.
fn agent_floor(socket: &Path, file: &Path) -> f64 {
    let stream = UnixStream::connect(socket).expect("connect");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::with_capacity(4 << 20, stream);
    let mut line = Vec::new();
    let mut call = |request: String, line: &mut Vec<u8>| {
        writer.write_all(request.as_bytes()).expect("send");
        line.clear();
        reader.read_until(b'\n', line).expect("reply");
    };
    let open = format!(
        r#"{{"execute":"guest-file-open","arguments":{{"path":"{}"}}}}"#,
        file.display()
    );
    call(open, &mut line);
    let handle: i64 = String::from_utf8_lossy(&line)
        .trim()
        .strip_prefix(r#"{"return": "#)
        .and_then(|l| l.strip_suffix('}'))
        .and_then(|h| h.parse().ok())
        .expect("guest-file-open handle");
    let start = Instant::now();
    let mut total = 0usize;
    loop {
        let read = format!(
            r#"{{"execute":"guest-file-read","arguments":{{"handle":{handle},"count":1048576}}}}"#
        );
        call(read, &mut line);
        let text = String::from_utf8_lossy(&line);
        let count: usize = text
            .split(r#""count": "#)
            .nth(1)
            .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .expect("count in reply");
        total += count;
        if count == 0 || text.contains(r#""eof": true"#) {
            break;
        }
    }
    assert_eq!(total, SIZE);
    total as f64 / start.elapsed().as_secs_f64() / 1e6
}

/// What a Python script would do: json + base64 modules, 1 MiB reads, data kept.
const PYTHON_LOOP: &str = r#"
import base64, json, socket, sys
sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
f = sock.makefile("rwb", buffering=1 << 22)
def call(cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args}).encode() + b"\n")
    f.flush()
    line = f.readline()
    while line[:1] == b"\xff":
        line = line[1:]
    return json.loads(line)["return"]
assert call("guest-sync-delimited", id=4242) == 4242
h = call("guest-file-open", path=sys.argv[2])
out = bytearray()
while True:
    r = call("guest-file-read", handle=h, count=1 << 20)
    out += base64.b64decode(r["buf-b64"])
    if r["eof"] or r["count"] == 0:
        break
call("guest-file-close", handle=h)
assert len(out) == int(sys.argv[3]), len(out)
"#;

fn python_loop(python: &Path, socket: &Path, file: &Path) {
    let status = Command::new(python)
        .args(["-c", PYTHON_LOOP, s(socket), s(file), &SIZE.to_string()])
        .status()
        .expect("python runs");
    assert!(status.success(), "the Python loop failed");
}

fn qemu_ga_client_cat(python_dir: &Path, socket: &Path, file: &Path) {
    let out = Command::new("python3")
        .args([
            "-m",
            "qemu.utils.qemu_ga_client",
            "--address",
            s(socket),
            "cat",
            s(file),
        ])
        .env("PYTHONPATH", python_dir)
        .output()
        .expect("qemu-ga-client runs");
    // It prints Python's repr of the bytes: b'...' with escapes, longer than the data.
    assert!(
        out.status.success() && out.stdout.len() > SMALL,
        "qemu-ga-client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
