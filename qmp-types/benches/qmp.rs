//! QMP round trips against a real QEMU (`-machine none`): our async client, our sync client
//! and QEMU's Python library `qemu.qmp`, lock-step and with 64 calls in flight, in one run;
//! then the decode time of `query-qmp-schema`'s reply.
//!
//! QEMU runs one QMP command at a time, so with many in flight the server sets the pace, not
//! the client. Two more figures make that visible: the ceiling (pre-encoded requests piped by
//! a client that only counts reply lines), and each client's own CPU time per call.
//!
//! `cargo bench -p qmp-types --features tokio --bench qmp`. The Python side runs in a venv
//! under `target/qmp-bench-venv`, into which this bench installs `qemu.qmp` with pip (from the
//! package index pip is configured with) the first time; without python3 or pip it is skipped
//! with a notice.

use qapi_runtime::aio::AsyncConnection;
use qapi_runtime::Decoder;
use qmp_types::{AsyncClient, Client, CommandReturn};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LOCKSTEP: usize = 2_000;
const IN_FLIGHT: usize = 64;
const CONCURRENT_TOTAL: usize = 20_000;

/// A fresh QEMU for each client, so none inherits another's state.
fn qemu(tag: &str) -> testenv::Qemu {
    testenv::Qemu::start(&format!("qmp-bench-{tag}"), &["qmp"], &[]).expect("QEMU is installed")
}

fn rate(calls: usize, elapsed: Duration) -> f64 {
    calls as f64 / elapsed.as_secs_f64()
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name in parentheses; utime and stime are the 14th and 15th.
    let after = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // The kernel's USER_HZ is 100 on every Linux ABI this runs on.
    Duration::from_millis(ticks * 10)
}

/// Async rates (lock-step, in flight) and the CPU time per call while in flight.
fn async_rates() -> (f64, f64, Duration) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let qemu = qemu("async");
    runtime.block_on(async {
        let (connection, _) = AsyncConnection::connect_qmp_unix(&qemu.socket("qmp"))
            .await
            .expect("handshake");
        let client = AsyncClient::new(connection);
        let started = Instant::now();
        for _ in 0..LOCKSTEP {
            client.query_name().await.expect("query-name");
        }
        let lockstep = rate(LOCKSTEP, started.elapsed());
        let started = Instant::now();
        let cpu_started = cpu_time();
        let mut workers = Vec::new();
        for _ in 0..IN_FLIGHT {
            let client = client.clone();
            workers.push(tokio::spawn(async move {
                for _ in 0..CONCURRENT_TOTAL / IN_FLIGHT {
                    client.query_name().await.expect("query-name");
                }
            }));
        }
        for worker in workers {
            worker.await.expect("worker");
        }
        let calls = CONCURRENT_TOTAL / IN_FLIGHT * IN_FLIGHT;
        let concurrent = rate(calls, started.elapsed());
        (
            lockstep,
            concurrent,
            (cpu_time() - cpu_started) / calls as u32,
        )
    })
}

/// QEMU's own ceiling: `IN_FLIGHT` pre-encoded requests kept in flight by a client that
/// parses nothing and only counts reply lines.
fn ceiling_rate() -> f64 {
    use std::io::{BufRead, BufReader, Write};
    let qemu = qemu("ceiling");
    let stream = std::os::unix::net::UnixStream::connect(qemu.socket("qmp")).expect("connect");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("greeting");
    writer
        .write_all(b"{\"execute\":\"qmp_capabilities\"}\n")
        .expect("send");
    line.clear();
    reader.read_line(&mut line).expect("capabilities reply");
    let (done, window) = std::sync::mpsc::sync_channel::<()>(IN_FLIGHT);
    let started = Instant::now();
    let sender = std::thread::spawn(move || {
        for i in 0..CONCURRENT_TOTAL {
            if i >= IN_FLIGHT {
                window.recv().expect("reader alive");
            }
            writer
                .write_all(b"{\"execute\":\"query-name\"}\n")
                .expect("send");
        }
    });
    for _ in 0..CONCURRENT_TOTAL {
        line.clear();
        reader.read_line(&mut line).expect("reply");
        // The sender may have finished and dropped its end of the window.
        let _ = done.send(());
    }
    let elapsed = started.elapsed();
    sender.join().expect("sender");
    rate(CONCURRENT_TOTAL, elapsed)
}

fn sync_rate() -> f64 {
    let qemu = qemu("sync");
    let stream = std::os::unix::net::UnixStream::connect(qemu.socket("qmp")).expect("connect");
    let mut client = Client::new(stream);
    client.connection().qmp_handshake().expect("handshake");
    let started = Instant::now();
    for _ in 0..LOCKSTEP {
        client.query_name().expect("query-name");
    }
    rate(LOCKSTEP, started.elapsed())
}

const PYTHON: &str = r#"
import asyncio, sys, time
from qemu.qmp import QMPClient

async def main(path, lockstep, in_flight, total):
    qmp = QMPClient('bench')
    await qmp.connect(path)
    start = time.perf_counter()
    for _ in range(lockstep):
        await qmp.execute('query-name')
    lock_rate = lockstep / (time.perf_counter() - start)
    async def worker(n):
        for _ in range(n):
            await qmp.execute('query-name')
    per = total // in_flight
    start = time.perf_counter()
    cpu = time.process_time()
    await asyncio.gather(*(worker(per) for _ in range(in_flight)))
    conc_rate = per * in_flight / (time.perf_counter() - start)
    cpu_per_call = (time.process_time() - cpu) / (per * in_flight)
    await qmp.disconnect()
    print(lock_rate, conc_rate, cpu_per_call)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
"#;

/// The venv's python with `qemu.qmp`, installing it the first time.
fn python_with_qemu_qmp() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = root.join("target/qmp-bench-venv");
    let python = venv.join("bin/python3");
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", "import qemu.qmp"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready(&python) {
        return Some(python);
    }
    eprintln!(
        "installing Python's qemu.qmp with pip into {} (once)",
        venv.display()
    );
    let created = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    let installed = created
        && Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "qemu.qmp"])
            .status()
            .is_ok_and(|s| s.success());
    if installed && ready(&python) {
        Some(python)
    } else {
        eprintln!(
            "skipping qemu.qmp: could not set up the venv (python3 -m venv, pip install qemu.qmp)"
        );
        None
    }
}

/// Python's rates (lock-step, in flight) and its CPU time per call while in flight.
fn python_rates() -> Option<(f64, f64, Duration)> {
    let python = python_with_qemu_qmp()?;
    let qemu = qemu("python");
    let output = Command::new(python)
        .arg("-c")
        .arg(PYTHON)
        .arg(qemu.socket("qmp"))
        .args([LOCKSTEP, IN_FLIGHT, CONCURRENT_TOTAL].map(|n| n.to_string()))
        .output()
        .expect("running python");
    let text = String::from_utf8_lossy(&output.stdout);
    let rates: Vec<f64> = text
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    match rates.as_slice() {
        [lockstep, concurrent, cpu] if output.status.success() => {
            Some((*lockstep, *concurrent, Duration::from_secs_f64(*cpu)))
        }
        _ => {
            eprintln!(
                "qemu.qmp run failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            None
        }
    }
}

/// Decode time of `query-qmp-schema`'s reply (lenient, as a client decodes, and strict).
fn schema_decode() {
    let qemu = qemu("schema");
    let stream = std::os::unix::net::UnixStream::connect(qemu.socket("qmp")).expect("connect");
    let mut client = Client::new(stream);
    client.connection().qmp_handshake().expect("handshake");
    let value: Value = client
        .connection()
        .execute_value::<Value>("query-qmp-schema", None)
        .expect("query-qmp-schema");
    let text = serde_json::to_string(&value).expect("encoding");
    const ROUNDS: u32 = 50;
    for (label, lenient) in [("lenient", true), ("strict", false)] {
        let started = Instant::now();
        for _ in 0..ROUNDS {
            let mut decoder = if lenient {
                Decoder::lenient()
            } else {
                Decoder::strict_reply()
            };
            let decoded =
                CommandReturn::decode("query-qmp-schema", &value, &mut decoder).expect("decodes");
            std::hint::black_box(decoded);
        }
        let per = started.elapsed() / ROUNDS;
        println!(
            "query-qmp-schema reply ({} KB): decode from a JSON value, {label}: {:.2} ms",
            text.len() / 1024,
            per.as_secs_f64() * 1e3
        );
    }
    let started = Instant::now();
    for _ in 0..ROUNDS {
        let parsed: Value = serde_json::from_str(&text).expect("parses");
        std::hint::black_box(parsed);
    }
    println!(
        "query-qmp-schema reply: JSON text to a value (serde_json): {:.2} ms",
        (started.elapsed() / ROUNDS).as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo test --benches` runs benches with `--bench` absent: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if testenv::external("qemu-system-x86_64").is_none() {
        return;
    }
    let (async_lockstep, async_concurrent, async_cpu) = async_rates();
    let sync_lockstep = sync_rate();
    let ceiling = ceiling_rate();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!("QMP round trips (query-name) against qemu-system-x86_64 -M none, calls/s:");
    println!("  QEMU's ceiling (raw pipe, {IN_FLIGHT} in flight): {ceiling:.0}");
    println!(
        "  async (qmp-types AsyncClient): lock-step {async_lockstep:.0}, {IN_FLIGHT} in flight {async_concurrent:.0} ({:.0}% of the ceiling, {:.1} us CPU per call)",
        100.0 * async_concurrent / ceiling,
        micros(async_cpu)
    );
    println!("  sync  (qmp-types Client):      lock-step {sync_lockstep:.0}");
    if let Some((py_lockstep, py_concurrent, py_cpu)) = python_rates() {
        println!(
            "  Python qemu.qmp:               lock-step {py_lockstep:.0}, {IN_FLIGHT} in flight {py_concurrent:.0} ({:.0}% of the ceiling, {:.1} us CPU per call)",
            100.0 * py_concurrent / ceiling,
            micros(py_cpu)
        );
        println!(
            "  async / qemu.qmp: lock-step {:.1}x, {IN_FLIGHT} in flight {:.1}x (target >= 5x), CPU per call {:.1}x less",
            async_lockstep / py_lockstep,
            async_concurrent / py_concurrent,
            micros(py_cpu) / micros(async_cpu)
        );
    }
    schema_decode();
}
