//! Speed and memory of qga-agent against QEMU's qemu-ga, side by side in one run:
//!
//! - lock-step `guest-ping` round trips with agent and client pinned to CPU 0 (`taskset`);
//! - pipelined `guest-ping` round trips, 64 in flight;
//! - `guest-file-read` of a 256 MiB file with counts of 4 KiB, 1 MiB and 48 MiB;
//! - peak memory (VmHWM) of each agent after the reads.
//!
//! Run with `cargo bench -p qga-agent --bench agent`. qemu-ga is looked up as for the
//! differential test (`QGA_REFERENCE` or `qemu-ga` in PATH or /usr/sbin); without it only our
//! figures are printed. A trivial server that answers every ping with a fixed reply (this
//! binary, re-run with `QGA_BENCH_FLOOR_SERVER`) shows the machine's floor for pings.
//! `QGA_BENCH_SECONDS` sets the time spent per figure and server (default 2).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PING: &[u8] = b"{\"execute\":\"guest-ping\"}";
const FILE_SIZE: usize = 256 << 20;
const READ_COUNTS: [(usize, &str); 3] =
    [(4 << 10, "4 KiB"), (1 << 20, "1 MiB"), (48 << 20, "48 MiB")];

fn main() {
    if let Ok(socket) = std::env::var("QGA_BENCH_FLOOR_SERVER") {
        return floor_server(Path::new(&socket));
    }
    let seconds: f64 = std::env::var("QGA_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    // Each figure is the best of several short rounds, the agents taking turns, so that load
    // from other processes on the machine hits both alike and is filtered out.
    let round = Duration::from_secs_f64(seconds / ROUNDS as f64);
    let work = tempfile::tempdir().expect("temporary directory");
    let data = work.path().join("data.bin");
    write_test_file(&data);

    let mut subjects = vec![Subject::Floor];
    match reference_agent() {
        Some(reference) => subjects.push(Subject::Agent(reference)),
        None => println!("notice: qemu-ga not found; showing qga-agent figures only"),
    }
    subjects.push(Subject::Agent(PathBuf::from(env!(
        "CARGO_BIN_EXE_qga-agent"
    ))));
    let mut figures: Vec<Figures> = subjects.iter().map(|_| Figures::default()).collect();

    // Pinned: every server under taskset -c 0, and this process too while measuring.
    let servers: Vec<Running> = subjects
        .iter()
        .map(|s| s.start(work.path(), true))
        .collect();
    pin_self(Some("0"));
    best_of(
        &servers,
        &mut figures,
        |f| &mut f.lockstep,
        |s| lockstep(s, round),
    );
    pin_self(None);
    drop(servers);

    let servers: Vec<Running> = subjects
        .iter()
        .map(|s| s.start(work.path(), false))
        .collect();
    best_of(
        &servers,
        &mut figures,
        |f| &mut f.lockstep_unpinned,
        |s| lockstep(s, round),
    );
    best_of(
        &servers,
        &mut figures,
        |f| &mut f.pipelined,
        |s| pipelined(s, round),
    );
    let agents = &servers[1..];
    for (i, (count, _)) in READ_COUNTS.iter().enumerate() {
        best_of(
            agents,
            &mut figures[1..],
            |f| &mut f.read[i],
            |s| file_read(s, &data, *count, round),
        );
    }
    for (server, figures) in servers.iter().zip(&mut figures).skip(1) {
        figures.peak_mb = server.peak_mb();
    }

    let floor = &figures[0];
    let (theirs, ours) = match figures.len() {
        3 => (Some(&figures[1]), &figures[2]),
        _ => (None, &figures[1]),
    };
    println!(
        "{:<36} {:>12} {:>12} {:>8} {:>12}",
        "benchmark", "qemu-ga", "qga-agent", "ratio", "floor"
    );
    let rows: [Row; 7] = [
        ("lock-step pings/s, pinned to CPU 0", |f| f.lockstep, true),
        ("pipelined pings/s, 64 in flight", |f| f.pipelined, true),
        ("guest-file-read 4 KiB, MB/s", |f| f.read[0], true),
        ("guest-file-read 1 MiB, MB/s", |f| f.read[1], true),
        ("guest-file-read 48 MiB, MB/s", |f| f.read[2], true),
        ("lock-step pings/s, unpinned", |f| f.lockstep_unpinned, true),
        ("peak memory (VmHWM), MB", |f| f.peak_mb, false),
    ];
    for (name, get, higher_is_better) in rows {
        let floor = match get(floor) {
            0.0 => "-".to_owned(),
            v => format!("{v:.0}"),
        };
        let ours = get(ours);
        match theirs.map(get) {
            Some(theirs) => {
                let ratio = if higher_is_better {
                    ours / theirs
                } else {
                    theirs / ours
                };
                println!("{name:<36} {theirs:>12.1} {ours:>12.1} {ratio:>7.2}x {floor:>12}");
            }
            None => println!("{name:<36} {:>12} {ours:>12.1} {:>8} {floor:>12}", "-", "-"),
        }
    }
    println!("ratio: how many times better qga-agent is (for memory: qemu-ga's peak / ours)");
    println!("floor: a trivial server that answers every request with a fixed reply");
}

/// A result row: title, the figure, and whether higher is better.
type Row = (&'static str, fn(&Figures) -> f64, bool);

/// Rounds per figure.
const ROUNDS: u32 = 3;

/// Measures every server `ROUNDS` times in turn and keeps each one's best figure.
fn best_of(
    servers: &[Running],
    figures: &mut [Figures],
    field: impl Fn(&mut Figures) -> &mut f64,
    mut measure: impl FnMut(&Running) -> f64,
) {
    for _ in 0..ROUNDS {
        for (server, figures) in servers.iter().zip(figures.iter_mut()) {
            let value = measure(server);
            let best = field(figures);
            *best = best.max(value);
        }
    }
}

/// What is measured: the trivial floor server, or an agent binary.
enum Subject {
    Floor,
    Agent(PathBuf),
}

impl Subject {
    fn start(&self, work: &Path, pin: bool) -> Running {
        match self {
            Subject::Floor => {
                let exe = std::env::current_exe().expect("own path");
                Running::start(&exe, work, pin, false)
            }
            Subject::Agent(binary) => Running::start(binary, work, pin, true),
        }
    }
}

/// The trivial server that gives the machine's floor: one fixed reply per `}` read.
fn floor_server(socket: &Path) {
    let listener = std::os::unix::net::UnixListener::bind(socket).expect("bind floor socket");
    let reply = b"{\"return\": {}}\n";
    let mut input = vec![0u8; 1 << 16];
    let mut output = Vec::new();
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        while let Ok(n) = stream.read(&mut input) {
            if n == 0 {
                break;
            }
            output.clear();
            for _ in input[..n].iter().filter(|&&b| b == b'}') {
                output.extend_from_slice(reply);
            }
            if stream.write_all(&output).is_err() {
                break;
            }
        }
    }
}

#[derive(Debug, Default)]
struct Figures {
    lockstep: f64,
    lockstep_unpinned: f64,
    pipelined: f64,
    read: [f64; 3],
    peak_mb: f64,
}

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

/// A 256 MiB file with varied content (base64 of it is not a repeated pattern).
fn write_test_file(path: &Path) {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    let mut file = std::fs::File::create(path).expect("create test file");
    for _ in 0..FILE_SIZE / block.len() {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        file.write_all(&block).expect("write test file");
    }
    file.sync_all().expect("sync test file");
}

/// One agent process under test, killed on drop.
struct Running {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
    /// False for the floor server, which speaks no protocol.
    is_agent: bool,
}

impl Running {
    /// Starts `binary` on a socket in a new directory under `work`: as an agent
    /// (`-m unix-listen`) or, with `is_agent` false, as the floor server.
    fn start(binary: &Path, work: &Path, pin: bool, is_agent: bool) -> Running {
        let dir = tempfile::tempdir_in(work).expect("agent directory");
        let socket = dir.path().join("agent.sock");
        let mut command = if pin {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(binary);
            c
        } else {
            Command::new(binary)
        };
        if is_agent {
            command
                .args(["-m", "unix-listen", "-p"])
                .arg(&socket)
                .arg("-t")
                .arg(dir.path());
        } else {
            command.env("QGA_BENCH_FLOOR_SERVER", &socket);
        }
        command
            .env("QGA_CONF", "/nonexistent")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().expect("start agent");
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not start",
                binary.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Running {
            child,
            socket,
            _dir: dir,
            is_agent,
        }
    }

    fn connect(&self) -> Conn {
        let mut conn = Conn {
            stream: UnixStream::connect(&self.socket).expect("connect"),
            buf: Vec::with_capacity(1 << 20),
            start: 0,
            scanned: 0,
            chunk: vec![0u8; 1 << 18],
        };
        if !self.is_agent {
            return conn;
        }
        // Flush any state left by the start-up probe; skip the error that 0xFF produces.
        conn.stream
            .write_all(b"\xff\n{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1}}")
            .expect("sync");
        while conn.line() != b"{\"return\": 1}" {}
        conn
    }

    fn peak_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client connection with a line reader that reuses its buffer.
struct Conn {
    stream: UnixStream,
    buf: Vec<u8>,
    /// Start of the unread data in `buf`.
    start: usize,
    /// How far `buf` has been searched for a newline.
    scanned: usize,
    chunk: Vec<u8>,
}

impl Conn {
    /// The next reply line (without the newline), borrowed from the buffer.
    fn line(&mut self) -> &[u8] {
        loop {
            let from = self.scanned.max(self.start);
            if let Some(pos) = self.buf[from..].iter().position(|&b| b == b'\n') {
                let begin = self.start;
                let end = from + pos;
                self.start = end + 1;
                self.scanned = self.start;
                return &self.buf[begin..end];
            }
            self.scanned = self.buf.len();
            if self.start == self.buf.len() {
                self.buf.clear();
                self.start = 0;
                self.scanned = 0;
            }
            let n = self.stream.read(&mut self.chunk).expect("read reply");
            assert!(n > 0, "agent closed the connection");
            self.buf.extend_from_slice(&self.chunk[..n]);
        }
    }

    /// Counts complete lines in what arrives next (at least one), without keeping them.
    fn count_lines(&mut self) -> usize {
        let mut chunk = [0u8; 1 << 16];
        let n = self.stream.read(&mut chunk).expect("read replies");
        assert!(n > 0, "agent closed the connection");
        chunk[..n].iter().filter(|&&b| b == b'\n').count()
    }
}

/// Runs `f` repeatedly for `phase`, returning operations per second (`f` returns its count).
fn rate(phase: Duration, mut f: impl FnMut() -> usize) -> f64 {
    // Warm up.
    let warm = Instant::now();
    while warm.elapsed() < phase / 10 {
        f();
    }
    let start = Instant::now();
    let mut done = 0;
    while start.elapsed() < phase {
        done += f();
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn lockstep(agent: &Running, phase: Duration) -> f64 {
    let mut conn = agent.connect();
    rate(phase, || {
        for _ in 0..100 {
            conn.stream.write_all(PING).expect("send");
            let line = conn.line();
            debug_assert_eq!(line, b"{\"return\": {}}");
        }
        100
    })
}

fn pipelined(agent: &Running, phase: Duration) -> f64 {
    const DEPTH: usize = 64;
    let mut conn = agent.connect();
    let batch = PING.repeat(DEPTH);
    conn.stream.write_all(&batch).expect("send");
    let mut in_flight = DEPTH;
    let result = rate(phase, || {
        let done = conn.count_lines();
        in_flight -= done;
        let refill = DEPTH - in_flight;
        conn.stream
            .write_all(&batch[..refill * PING.len()])
            .expect("send");
        in_flight += refill;
        done
    });
    // Drain what is still in flight.
    while in_flight > 0 {
        in_flight -= conn.count_lines().min(in_flight);
    }
    result
}

/// Reads the file with `count`-byte requests for `phase` (at least one request, starting over
/// at the end of the file); MB/s of file data delivered, checking each reply's byte count.
fn file_read(agent: &Running, data: &Path, count: usize, phase: Duration) -> f64 {
    let mut conn = agent.connect();
    let open = format!(
        "{{\"execute\":\"guest-file-open\",\"arguments\":{{\"path\":\"{}\"}}}}",
        data.display()
    );
    let start = Instant::now();
    let mut bytes = 0usize;
    while bytes == 0 || start.elapsed() < phase {
        conn.stream.write_all(open.as_bytes()).expect("send");
        let line = conn.line().to_vec();
        let handle: i64 = std::str::from_utf8(&line)
            .ok()
            .and_then(|l| l.strip_prefix("{\"return\": "))
            .and_then(|l| l.strip_suffix('}'))
            .and_then(|h| h.parse().ok())
            .unwrap_or_else(|| panic!("open failed: {}", String::from_utf8_lossy(&line)));
        let read = format!("{{\"execute\":\"guest-file-read\",\"arguments\":{{\"handle\":{handle},\"count\":{count}}}}}");
        loop {
            conn.stream.write_all(read.as_bytes()).expect("send");
            let (n, eof) = read_reply(conn.line());
            bytes += n;
            if eof || n == 0 || start.elapsed() >= phase {
                break;
            }
        }
        let close =
            format!("{{\"execute\":\"guest-file-close\",\"arguments\":{{\"handle\":{handle}}}}}");
        conn.stream.write_all(close.as_bytes()).expect("send");
        conn.line();
    }
    bytes as f64 / start.elapsed().as_secs_f64() / 1e6
}

/// `count` and `eof` of a guest-file-read reply, checking the base64 length agrees.
fn read_reply(line: &[u8]) -> (usize, bool) {
    let text = |needle: &[u8]| line.windows(needle.len()).position(|w| w == needle);
    let count_at = text(b"\"count\": ").unwrap_or_else(|| {
        panic!(
            "bad reply {:?}",
            String::from_utf8_lossy(&line[..line.len().min(200)])
        )
    });
    let digits: Vec<u8> = line[count_at + 9..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    let count: usize = std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let b64_at = text(b"\"buf-b64\": \"").map_or(0, |i| i + 12);
    let b64_len = line[b64_at..].iter().position(|&b| b == b'"').unwrap_or(0);
    assert_eq!(
        b64_len,
        count.div_ceil(3) * 4,
        "base64 length matches count"
    );
    let eof = line.ends_with(b"\"eof\": true}}");
    (count, eof)
}

/// Pins this process (all threads) to the given CPU list, or back to every CPU.
fn pin_self(cpus: Option<&str>) {
    let all = format!(
        "0-{}",
        std::thread::available_parallelism().map_or(1, |n| n.get()) - 1
    );
    let list = cpus.map_or(all, str::to_owned);
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", &list, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .expect("run taskset");
    assert!(status.success(), "taskset failed");
}
