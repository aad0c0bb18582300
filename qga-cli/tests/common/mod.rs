//! Shared by the qga tests: real agents (ours, built from this workspace, and QEMU's
//! qemu-ga) on unix sockets in temporary directories, and running the `qga` binary.

#![allow(dead_code)] // each test file uses a different subset

use serde_json::Value;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `qga` binary under test.
pub fn qga_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_qga"))
}

/// Our agent, built once per test run in the profile of the tests (a binary of another
/// package has no CARGO_BIN_EXE_ variable).
pub fn our_agent_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            // target/<profile>/deps/<test> -> target/<profile>
            let exe = std::env::current_exe().expect("test executable path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile> directory")
                .to_path_buf();
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut build = Command::new(cargo);
            build.args(["build", "-p", "qga-agent", "--bin", "qga-agent"]);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let status = build.status().expect("cargo runs");
            assert!(status.success(), "building qga-agent failed");
            let binary = profile_dir.join("qga-agent");
            assert!(
                binary.is_file(),
                "{} missing after the build",
                binary.display()
            );
            binary
        })
        .clone()
}

/// qemu-ga 10.0.x, or `None` with a notice (a failure under QAPI_REQUIRE_EXTERNAL=1).
pub fn qemu_ga() -> Option<PathBuf> {
    let found = external("qemu-ga")?;
    let version = Command::new(&found)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if version.contains(" 10.0.") {
        return Some(found);
    }
    let why = format!(
        "qemu-ga is not 10.0.x ({}); run `cargo xtask setup`",
        version.trim()
    );
    if std::env::var_os("QAPI_REQUIRE_EXTERNAL").is_some() {
        panic!("{why}");
    }
    eprintln!("skipping: {why}");
    None
}

/// Finds an external program; `None` (with a notice) when missing, unless
/// `QAPI_REQUIRE_EXTERNAL` is set, which makes it a failure.
pub fn external(program: &str) -> Option<PathBuf> {
    testenv::external(program)
}

/// A running agent on a unix socket; killed on drop.
pub struct Agent {
    pub name: &'static str,
    child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl Agent {
    /// Starts `binary -m unix-listen -p <dir>/agent.sock -t <dir>/state <extra>`.
    pub fn start(name: &'static str, binary: &Path, extra: &[&str]) -> Agent {
        let dir = tempfile::tempdir().expect("temporary directory");
        let socket = dir.path().join("agent.sock");
        let state = dir.path().join("state");
        std::fs::create_dir(&state).expect("state directory");
        let child = Command::new(binary)
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(&state)
            .args(extra)
            // Our agent reads this instead of /etc/qemu/qemu-ga.conf.
            .env("QGA_CONF", dir.path().join("no-such.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("agent starts");
        let agent = Agent {
            name,
            child,
            dir,
            socket,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        // Wait for the socket file only: a probe connection would take the agent's one
        // client slot until the agent notices it closed.
        while !agent.socket.exists() {
            assert!(
                Instant::now() < deadline,
                "{name} did not create its socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // bind() and listen() are two calls: give the second one time.
        std::thread::sleep(Duration::from_millis(50));
        agent
    }

    pub fn ours(extra: &[&str]) -> Agent {
        Agent::start("qga-agent", &our_agent_binary(), extra)
    }

    pub fn qemu(extra: &[&str]) -> Option<Agent> {
        Some(Agent::start("qemu-ga", &qemu_ga()?, extra))
    }

    /// Runs `qga -s <socket> <args>`.
    pub fn qga(&self, args: &[&str]) -> Run {
        let mut all = vec!["-s", self.socket.to_str().expect("UTF-8 temp path")];
        all.extend_from_slice(args);
        qga(&all, None)
    }

    /// Runs `qga -s <socket> <args>` with `input` on standard input.
    pub fn qga_input(&self, args: &[&str], input: &[u8]) -> Run {
        let mut all = vec!["-s", self.socket.to_str().expect("UTF-8 temp path")];
        all.extend_from_slice(args);
        qga(&all, Some(input))
    }

    /// Runs `qga -s <socket> --json <args>`, expects success, and parses the output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = self.qga(&all);
        run.ok();
        serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| {
            panic!("{}: qga {args:?} printed no JSON ({e}): {run:?}", self.name)
        })
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The outcome of one `qga` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "qga failed: {self:?}");
        &self.stdout
    }

    /// Asserts a failure told in exactly one line (`qga: ...`, no panic) and returns it.
    pub fn one_line_error(&self) -> &str {
        assert_ne!(self.code, 0, "qga should have failed: {self:?}");
        let line = self.stderr.trim_end();
        assert!(
            !line.contains('\n') && line.starts_with("qga: "),
            "want one `qga: ...` line on stderr: {self:?}"
        );
        assert!(!line.contains("panicked"), "{self:?}");
        line
    }
}

/// Runs qga with arguments and optional standard input (none: /dev/null).
pub fn qga(args: &[&str], input: Option<&[u8]>) -> Run {
    use std::io::Write;
    let mut child = Command::new(qga_binary())
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qga starts");
    if let Some(input) = input {
        let mut stdin = child.stdin.take().expect("stdin pipe");
        stdin.write_all(input).expect("write stdin");
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("qga runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        raw_stdout: stdout,
    }
}

/// Whether something is listening on a unix socket path.
pub fn listening(path: &Path) -> bool {
    UnixStream::connect(path).is_ok()
}

/// `n` bytes of pseudo-random data (xorshift; no two 4 KiB blocks alike).
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(n);
    out
}
