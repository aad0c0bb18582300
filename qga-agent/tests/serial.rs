//! The character-device transports over a pseudo-terminal: isa-serial (the agent puts the
//! line in raw mode itself) and virtio-serial (a plain device; the test makes the pty raw),
//! including what happens when the host side hangs up.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{agent_binary, wait_timeout};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::pty::openpty;
use nix::sys::termios::{self, SetArg};

/// openpty's descriptors are inheritable: the tests of this file run one at a time so that no
/// other test's agent inherits (and keeps open) a pty side.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Starts the agent on the slave side of a new pty; returns it and the master side.
fn start(method: &str, make_raw: bool) -> (Child, File, tempfile::TempDir) {
    let pty = openpty(None, None).expect("openpty");
    for fd in [&pty.master, &pty.slave] {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("close-on-exec");
    }
    if make_raw {
        let mut tio = termios::tcgetattr(&pty.slave).expect("tcgetattr");
        termios::cfmakeraw(&mut tio);
        termios::tcsetattr(&pty.slave, SetArg::TCSANOW, &tio).expect("tcsetattr");
    }
    let slave_path = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&pty.slave)
    ))
    .expect("pty slave path");
    let dir = tempfile::tempdir().expect("temporary directory");
    let child = Command::new(agent_binary())
        .args(["-m", method, "-p"])
        .arg(&slave_path)
        .arg("-t")
        .arg(dir.path())
        .env("QGA_CONF", "/nonexistent")
        .stdin(Stdio::null())
        .spawn()
        .expect("start agent");
    // Keep the slave open until the agent has it, so the line is never hung up meanwhile.
    std::thread::sleep(Duration::from_millis(300));
    drop::<OwnedFd>(pty.slave);
    (child, File::from(pty.master), dir)
}

/// Reads from the master until `want` newline-terminated lines arrived.
fn read_lines(master: &mut File, want: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    while text.iter().filter(|&&b| b == b'\n').count() < want {
        assert!(
            Instant::now() < deadline,
            "timed out; got {:?}",
            String::from_utf8_lossy(&text)
        );
        let n = master.read(&mut buf).expect("read from pty");
        text.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&text).into_owned()
}

#[test]
fn isa_serial_serves_and_exits_on_hang_up() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (mut child, mut master, _dir) = start("isa-serial", false);
    // Raw mode: CR and LF pass unchanged, nothing is echoed back.
    master
        .write_all(b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":12}}\r\n{\"execute\":\"guest-ping\"}")
        .expect("write");
    assert_eq!(
        read_lines(&mut master, 2),
        "{\"return\": 12}\n{\"return\": {}}\n"
    );
    // The host side goes away: a channel failure, so without --retry-path the agent exits.
    drop(master);
    let status = wait_timeout(&mut child, Duration::from_secs(10)).expect("agent exits on hang-up");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn virtio_serial_serves_requests() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (mut child, mut master, _dir) = start("virtio-serial", true);
    master
        .write_all(b"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":5}}")
        .expect("write");
    let text = read_lines(&mut master, 2);
    assert!(text.ends_with("\u{fffd}{\"return\": 5}\n"), "{text:?}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn retry_path_keeps_trying_after_a_hang_up() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let pty = openpty(None, None).expect("openpty");
    for fd in [&pty.master, &pty.slave] {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("close-on-exec");
    }
    let slave_path = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&pty.slave)
    ))
    .expect("pty slave path");
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("agent.log");
    let mut child = Command::new(agent_binary())
        .args(["-r", "-m", "isa-serial", "-p"])
        .arg(&slave_path)
        .arg("-t")
        .arg(dir.path())
        .arg("-l")
        .arg(&log)
        .env("QGA_CONF", "/nonexistent")
        .stdin(Stdio::null())
        .spawn()
        .expect("start agent");
    std::thread::sleep(Duration::from_millis(300));
    drop::<OwnedFd>(pty.slave);
    let mut master = File::from(pty.master);
    master
        .write_all(b"{\"execute\":\"guest-ping\"}")
        .expect("write");
    assert_eq!(read_lines(&mut master, 1), "{\"return\": {}}\n");
    drop(master);
    // The agent stays up, waiting to re-open the port.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut text = String::new();
    while !text.contains("waiting for channel path...") {
        assert!(Instant::now() < deadline, "log: {text}");
        std::thread::sleep(Duration::from_millis(50));
        text = std::fs::read_to_string(&log).unwrap_or_default();
    }
    assert!(
        text.contains("critical: agent stopped unexpectedly, restarting..."),
        "{text}"
    );
    assert!(child.try_wait().expect("status").is_none(), "still running");
    // A stop request ends the wait at once.
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal");
    let status = wait_timeout(&mut child, Duration::from_secs(2)).expect("exits on SIGTERM");
    assert_eq!(status.code(), Some(0));
}
