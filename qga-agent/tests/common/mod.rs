//! Helpers for the integration tests: run a real agent binary on a unix socket in a temporary
//! directory and talk to it with raw bytes.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod hostile;

/// Our agent binary.
pub fn agent_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_qga-agent"))
}

/// A running agent (ours or qemu-ga) listening on a unix socket; killed on drop.
pub struct Agent {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl Agent {
    /// Starts `binary -m unix-listen -p <dir>/agent.sock -t <dir>/state <extra>`.
    pub fn start_with(binary: &Path, extra: &[&str], env: &[(&str, &str)]) -> Agent {
        let dir = tempfile::tempdir().expect("temporary directory");
        let state = dir.path().join("state");
        std::fs::create_dir(&state).expect("state directory");
        Self::start_in(binary, dir, extra, env)
    }

    /// Starts an agent in an existing directory (with its `state` subdirectory).
    pub fn start_in(
        binary: &Path,
        dir: tempfile::TempDir,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Agent {
        let socket = dir.path().join("agent.sock");
        let state = dir.path().join("state");
        let mut command = Command::new(binary);
        command
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(&state)
            .args(extra)
            .env("QGA_CONF", dir.path().join("no-such.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("agent starts");
        let agent = Agent { child, dir, socket };
        agent.wait_for_socket();
        agent
    }

    pub fn start(extra: &[&str]) -> Agent {
        Self::start_with(&agent_binary(), extra, &[])
    }

    fn wait_for_socket(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if UnixStream::connect(&self.socket).is_ok() {
                // That probe connection is accepted and closed again by the agent.
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("agent did not start listening on {}", self.socket.display());
    }

    pub fn connect(&self) -> Client {
        let stream = UnixStream::connect(&self.socket).expect("connect to agent");
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        wait_timeout(&mut self.child, Duration::from_secs(10)).expect("agent exits after SIGTERM")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to `limit` for `child` to exit.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A raw-bytes client connection.
pub struct Client {
    pub stream: UnixStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to agent");
    }

    /// Reads until `n` newline-terminated replies arrived (or 10 s passed) and returns them
    /// as raw lines without the newline.
    pub fn lines(&mut self, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut lines = Vec::new();
        loop {
            while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                lines.push(line[..line.len() - 1].to_vec());
                if lines.len() == n {
                    return lines;
                }
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {n} replies, got {lines:?}"
            );
            self.fill();
        }
    }

    /// Reads one reply and parses it (a leading 0xFF is kept out and reported).
    pub fn reply(&mut self) -> Value {
        let line = self.lines(1).remove(0);
        let text = line.strip_prefix(&[0xFF]).unwrap_or(&line);
        serde_json::from_slice(text).unwrap_or_else(|e| panic!("bad reply {line:?}: {e}"))
    }

    /// Sends a request and reads its reply.
    pub fn call(&mut self, request: &str) -> Value {
        self.send(request.as_bytes());
        self.reply()
    }

    /// Asserts nothing arrives within `wait`.
    pub fn expect_silence(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            self.fill();
        }
        assert!(
            self.buf.is_empty(),
            "unexpected data: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk) {
            Ok(0) => panic!("agent closed the connection"),
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("read from agent: {e}"),
        }
    }
}

/// `{"error": {"class": class, "desc": desc}}` of a reply, or a panic.
pub fn error_of(reply: &Value) -> (String, String) {
    let error = &reply["error"];
    match (error["class"].as_str(), error["desc"].as_str()) {
        (Some(class), Some(desc)) => (class.to_owned(), desc.to_owned()),
        _ => panic!("not an error reply: {reply}"),
    }
}
