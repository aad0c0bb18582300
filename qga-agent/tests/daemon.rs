//! Daemon behaviour of the real `qga-agent` binary: command line, configuration file, exit on
//! SIGTERM, pid file and daemonizing, persistent state, the frozen state across restarts,
//! allow lists and systemd socket activation.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{agent_binary, error_of, wait_timeout, Agent};
use serde_json::json;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(agent_binary());
    command
        .args(args)
        .env("QGA_CONF", "/nonexistent/qemu-ga.conf");
    for (k, v) in env {
        command.env(k, v);
    }
    command.stdin(Stdio::null()).output().expect("run agent")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_help_and_command_list() {
    let out = run(&["-V"], &[]);
    assert!(out.status.success());
    let version = text(&out.stdout);
    let mut lines = version.lines();
    assert_eq!(lines.next(), Some("QEMU Guest Agent 10.0.2"));
    assert_eq!(
        lines.next(),
        Some(concat!(
            "qga-agent ",
            env!("CARGO_PKG_VERSION"),
            ": a Rust drop-in for qemu-ga"
        ))
    );

    let out = run(&["--help"], &[]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("--retry-path"));

    let out = run(&["--block-rpcs=help"], &[]);
    assert!(out.status.success());
    let names: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(names.len(), 43);
    assert_eq!(names[0], "guest-sync-delimited");
    assert_eq!(names[42], "guest-network-get-route");
}

#[test]
fn bad_command_lines_fail() {
    let out = run(&["--bogus"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unrecognized option '--bogus'"));
    assert!(text(&out.stdout).starts_with("Unknown option, try '"));

    let out = run(&["-m", "unix-listen"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).ends_with(": critical: must specify a path for this channel\n"));

    let dir = tempfile::tempdir().expect("temporary directory");
    let state = dir.path().to_str().expect("utf-8 path");
    let out = run(&["-m", "vsock-listen", "-p", "abc", "-t", state], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("critical: error parsing address 'abc'"));

    let out = run(
        &[
            "-m",
            "unix-listen",
            "-p",
            "/x.sock",
            "-t",
            "/nonexistent-dir",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr)
        .contains("unable to create state file at path /nonexistent-dir/qga.state"));

    let out = run(&["-c", "/nonexistent/file.conf", "-D"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(
        "error loading configuration from path: /nonexistent/file.conf, No such file or directory"
    ));
}

#[test]
fn config_file_and_dump() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let conf = dir.path().join("qga.conf");
    std::fs::write(
        &conf,
        "# test\n[general]\ndaemon=1\nmethod=unix-listen\npath=/tmp/x.sock\nverbose=true\n\
         block-rpcs=guest-ping,guest-info\nallow-rpcs=guest-sync\n",
    )
    .expect("write config");
    let conf = conf.to_str().expect("utf-8 path");
    // QGA_CONF names the default file; command line options win and lists accumulate.
    let out = run(
        &["-D", "-b", "guest-get-time", "-m", "vsock-listen", "-F"],
        &[("QGA_CONF", conf)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "[general]\ndaemon=true\nmethod=vsock-listen\npath=/tmp/x.sock\npidfile=/var/run/qemu-ga.pid\n\
         fsfreeze-hook=/etc/qemu/fsfreeze-hook\nstatedir=/var/run\nverbose=true\nretry-path=false\n\
         block-rpcs=guest-info,guest-ping,guest-get-time\nallow-rpcs=guest-sync\n"
    );
    std::fs::write(dir.path().join("bad.conf"), "[general]\ndaemon=yes\n").expect("write config");
    let bad = dir.path().join("bad.conf");
    let out = run(&["-c", bad.to_str().expect("utf-8"), "-D"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("which has a value that cannot be interpreted"));
}

#[test]
fn sigterm_stops_cleanly_and_state_persists() {
    let mut agent = Agent::start(&[]);
    let file = agent.dir.path().join("f");
    std::fs::write(&file, "x").expect("write file");
    let open = format!(
        r#"{{"execute":"guest-file-open","arguments":{{"path":"{}"}}}}"#,
        file.display()
    );
    let mut c = agent.connect();
    assert_eq!(c.call(&open), json!({"return": 1000}));
    assert_eq!(c.call(&open), json!({"return": 1001}));
    // SIGTERM while a client is connected and the agent is blocked reading.
    let status = agent.terminate();
    assert_eq!(status.code(), Some(0));

    let dir = std::mem::replace(
        &mut agent.dir,
        tempfile::tempdir().expect("temporary directory"),
    );
    let agent = Agent::start_in(&agent_binary(), dir, &[], &[]);
    let mut c = agent.connect();
    assert_eq!(
        c.call(&open),
        json!({"return": 1002}),
        "handles are never reused"
    );
}

#[test]
fn sigterm_reaches_the_main_loop_while_commands_run_in_the_background() {
    let mut agent = Agent::start(&[]);
    let mut c = agent.connect();
    // Capturing output starts helper threads inside the agent; signals must still stop it.
    for _ in 0..3 {
        let reply = c.call(
            r#"{"execute":"guest-exec","arguments":{"path":"/bin/sleep","arg":["30"],"capture-output":true,"input-data":"eA=="}}"#,
        );
        assert!(reply["return"]["pid"].is_i64(), "{reply}");
    }
    let pid = nix::unistd::Pid::from_raw(agent.child.id() as i32);
    let start = std::time::Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal");
    let status = wait_timeout(&mut agent.child, Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(0));
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn daemonize_writes_and_removes_the_pid_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let socket = dir.path().join("a.sock");
    let pid_file = dir.path().join("qga.pid");
    let log = dir.path().join("qga.log");
    let out = Command::new(agent_binary())
        .args(["-d", "-v", "-m", "unix-listen"])
        .arg("-p")
        .arg(&socket)
        .arg("-t")
        .arg(dir.path())
        .arg("-f")
        .arg(&pid_file)
        .arg("-l")
        .arg(&log)
        .env("QGA_CONF", "/nonexistent")
        .stdin(Stdio::null())
        .output()
        .expect("run agent");
    assert!(
        out.status.success(),
        "parent exits 0: {}",
        text(&out.stderr)
    );
    let mut pid_text = String::new();
    for _ in 0..200 {
        pid_text = std::fs::read_to_string(&pid_file).unwrap_or_default();
        if pid_text.ends_with('\n') {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid: i32 = pid_text.trim().parse().expect("pid file holds a pid");
    let _cleanup = KillOnDrop(pid);
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).expect("daemon listens");
    use std::io::{BufRead, Write};
    stream
        .write_all(br#"{"execute":"guest-ping"}"#)
        .expect("send");
    let mut line = String::new();
    std::io::BufReader::new(&stream)
        .read_line(&mut line)
        .expect("reply");
    assert_eq!(line, "{\"return\": {}}\n");
    let pid = nix::unistd::Pid::from_raw(pid);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal daemon");
    for _ in 0..200 {
        if !pid_file.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pid_file.exists(), "pid file removed on exit");
    let log = std::fs::read_to_string(&log).expect("log file");
    let first = log.lines().next().expect("a log line");
    // `<seconds>.<micro>: debug: ...`
    let (stamp, rest) = first.split_once(": ").expect("timestamp");
    assert!(
        stamp.len() > 8 && stamp.as_bytes()[stamp.len() - 7] == b'.',
        "{first}"
    );
    assert!(
        rest.starts_with("debug: Guest agent version 10.0.2"),
        "{first}"
    );
}

#[test]
fn allow_list_limits_commands() {
    let agent = Agent::start(&["-a", "guest-ping,guest-info"]);
    let mut c = agent.connect();
    assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), json!({"return": {}}));
    let reply = c.call(r#"{"execute":"guest-sync","arguments":{"id":1}}"#);
    assert_eq!(
        error_of(&reply).1,
        "Command guest-sync has been disabled: the command is not allowed"
    );
    let info = c.call(r#"{"execute":"guest-info"}"#);
    let enabled: Vec<&str> = info["return"]["supported_commands"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|c| c["enabled"] == json!(true))
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(enabled, ["guest-info", "guest-ping"]);
}

#[test]
fn frozen_state_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("state dir");
    std::fs::write(state.join("qga.state.isfrozen"), "").expect("frozen mark");
    let log = dir.path().join("agent.log");
    let log_arg = format!("-l{}", log.display());
    let mut agent = Agent::start_in(
        &agent_binary(),
        dir,
        &["-v", &log_arg, "-b", "guest-ping"],
        &[],
    );
    let mut c = agent.connect();
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
        json!({"return": "frozen"})
    );
    // Only the freeze-safe commands run; that overrides the block list too.
    assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), json!({"return": {}}));
    let reply = c.call(r#"{"execute":"guest-get-time"}"#);
    assert_eq!(
        error_of(&reply),
        (
            "CommandNotFound".to_owned(),
            "Command guest-get-time has been disabled: the command is not allowed".to_owned()
        )
    );
    let info = c.call(r#"{"execute":"guest-info"}"#);
    let mut enabled: Vec<&str> = info["return"]["supported_commands"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|c| c["enabled"] == json!(true))
        .filter_map(|c| c["name"].as_str())
        .collect();
    enabled.sort_unstable();
    assert_eq!(
        enabled,
        [
            "guest-fsfreeze-status",
            "guest-fsfreeze-thaw",
            "guest-info",
            "guest-ping",
            "guest-sync",
            "guest-sync-delimited"
        ]
    );
    // Nothing is written while frozen: no state file, no log file, and SIGTERM is ignored.
    assert!(!agent.state_dir().join("qga.state").exists());
    assert!(!log.exists());
    let pid = nix::unistd::Pid::from_raw(agent.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal");
    assert!(
        wait_timeout(&mut agent.child, Duration::from_millis(1500)).is_none(),
        "still running"
    );
    assert_eq!(
        c.call(r#"{"execute":"guest-ping","id":1}"#),
        json!({"return": {}, "id": 1})
    );

    // Thawing (nothing is actually frozen on this machine) ends the frozen state.
    let reply = c.call(r#"{"execute":"guest-fsfreeze-thaw"}"#);
    assert!(reply["return"].is_i64(), "{reply}");
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
        json!({"return": "thawed"})
    );
    assert!(!agent.state_dir().join("qga.state.isfrozen").exists());
    assert!(
        log.exists(),
        "the deferred log file is opened after the thaw"
    );
    let reply = c.call(r#"{"execute":"guest-ping"}"#);
    assert_eq!(
        error_of(&reply).0,
        "CommandNotFound",
        "the block list applies again"
    );
    assert!(c.call(r#"{"execute":"guest-get-time"}"#)["return"].is_i64());
    assert_eq!(agent.terminate().code(), Some(0));
}

#[test]
fn systemd_socket_activation() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let socket = dir.path().join("activated.sock");
    let listener = UnixListener::bind(&socket).expect("bind");
    let fd = listener.as_raw_fd();
    let mut command = Command::new("/bin/sh");
    command
        .args(["-c", "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\""])
        .arg(agent_binary())
        .arg("-t")
        .arg(dir.path())
        .env("QGA_CONF", "/nonexistent")
        .stdin(Stdio::null());
    // SAFETY: dup2 and fcntl are async-signal-safe; they put the listening socket at fd 3
    // (without close-on-exec) in the child, where systemd would put it.
    unsafe {
        command.pre_exec(move || {
            let done = if fd == 3 {
                // dup2 onto itself would keep close-on-exec set.
                nix::libc::fcntl(3, nix::libc::F_SETFD, 0)
            } else {
                nix::libc::dup2(fd, 3)
            };
            if done < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("start agent");
    // The agent never created a socket of its own: it serves the one it was given.
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
    use std::io::{BufRead, Write};
    stream
        .write_all(br#"{"execute":"guest-sync","arguments":{"id":77}}"#)
        .expect("send");
    let mut line = String::new();
    std::io::BufReader::new(&stream)
        .read_line(&mut line)
        .expect("reply");
    assert_eq!(line, "{\"return\": 77}\n");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal");
    let status = wait_timeout(&mut child, Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(0));
}

/// Kills a daemonized agent if the test fails before it stopped it.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0);
        if nix::sys::signal::kill(pid, None).is_ok() {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

#[test]
fn vsock_listen_binds_any_cid() {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    if socket(
        AddressFamily::Vsock,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .is_err()
    {
        eprintln!("notice: no AF_VSOCK on this machine; vsock-listen test skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    // Any CID, a port unlikely to be taken.
    let port = 20000 + std::process::id() % 20000;
    let address = format!("4294967295:{port}");
    let mut child = Command::new(agent_binary())
        .args(["-m", "vsock-listen", "-p", &address, "-t"])
        .arg(dir.path())
        .env("QGA_CONF", "/nonexistent")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start agent");
    std::thread::sleep(Duration::from_millis(300));
    // A bind or listen failure would have ended the agent with status 1 by now.
    assert!(child.try_wait().expect("status").is_none(), "agent listens");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal");
    let status = wait_timeout(&mut child, Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn verbose_logs_what_qemu_ga_logs() {
    use std::io::Read;
    let mut agent = Agent::start(&["-v"]);
    let mut c = agent.connect();
    assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), json!({"return": {}}));
    drop(c);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(agent.terminate().code(), Some(0));
    let mut log = String::new();
    let stderr = agent.child.stderr.as_mut().expect("stderr is piped");
    stderr.read_to_string(&mut log).expect("read the log");
    // qemu-ga 10.0.2 -v logs these, in this order, for one ping (checked by running it).
    let expected = [
        "debug: Guest agent version 10.0.2 (qga-agent ",
        "debug: read data, count: 24, data: {\"execute\":\"guest-ping\"}",
        "debug: process_event: called",
        "debug: processing command",
        "debug: sending data, count: 15",
        "debug: received EOF",
        "debug: received signal num 15, quitting",
    ];
    let mut rest = log.as_str();
    for line in expected {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} missing (in order) from the log:\n{log}"));
        rest = &rest[at + line.len()..];
    }
}
