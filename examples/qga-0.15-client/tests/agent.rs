//! The client generated from QEMU 0.15's guest-agent schema against our agent (built from
//! the 10.0 schema), over a unix socket: every command 0.15 knows exists, takes 0.15's
//! arguments, and its reply decodes into 0.15's types.

use qapi_runtime::ClientError;
use qga_0_15_client::*;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Builds our agent in this workspace's target directory and returns its path.
fn agent_binary() -> PathBuf {
    // The test runs from `<target>/<profile>/deps/`; the agent lands in `<target>/<profile>`.
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable in <target>/<profile>/deps");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "-p", "qga-agent", "--bin", "qga-agent"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building qga-agent failed");
    profile_dir.join("qga-agent")
}

/// Our agent on a unix socket in a temporary directory; killed on drop.
struct Agent {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn start(block: &str) -> Agent {
        let dir = tempfile::tempdir().expect("temporary directory");
        let state = dir.path().join("state");
        std::fs::create_dir(&state).expect("state directory");
        let socket = dir.path().join("agent.sock");
        let child = Command::new(agent_binary())
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(&state)
            .args(["-b", block])
            .env("QGA_CONF", dir.path().join("no-such.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("agent starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "agent never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        Agent {
            child,
            socket,
            _dir: dir,
        }
    }

    /// A 0.15 client, lenient as an old client talking to a newer agent must be (10.0 adds
    /// members, such as `supported_commands` of `guest-info`).
    fn client(&self) -> Client<UnixStream> {
        let stream = UnixStream::connect(&self.socket).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut client = Client::new(stream);
        client.connection().set_lenient(true);
        client
            .connection()
            .guest_agent_handshake()
            .expect("handshake");
        client
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The error class and description of a failed command.
fn command_error<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (String, String) {
    match result {
        Err(ClientError::Command(e)) => (e.class.to_string(), e.desc),
        other => panic!("expected an error reply, got {other:?}"),
    }
}

#[test]
fn every_0_15_command_against_our_agent() {
    // Shutting the test machine down or freezing its filesystems is not an option: the agent
    // blocks those two, and the test checks that the refusal decodes.
    let agent = Agent::start("guest-shutdown,guest-fsfreeze-freeze");
    let mut c = agent.client();
    let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), 13, "{names:?}");

    assert_eq!(
        c.guest_sync(&GuestSyncArgs { id: 1_234_567_890 })
            .expect("guest-sync"),
        1_234_567_890
    );
    c.guest_ping().expect("guest-ping");
    let info = c.guest_info().expect("guest-info");
    assert!(
        info.version.starts_with("10.0"),
        "agent version {}",
        info.version
    );

    // Files: a real round trip through a temporary file.
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("data.txt");
    let handle = c
        .guest_file_open(&GuestFileOpenArgs {
            path: path.display().to_string(),
            mode: Some("w+".into()),
        })
        .expect("guest-file-open");
    assert!(handle > 0, "handle {handle}");
    let written = c
        .guest_file_write(&GuestFileWriteArgs {
            handle,
            buf_b64: "aGVsbG8sIHdvcmxkCg==".into(),
            count: None,
        })
        .expect("guest-file-write");
    assert_eq!((written.count, written.eof), (13, false));
    c.guest_file_flush(&GuestFileFlushArgs { handle })
        .expect("guest-file-flush");
    let seek = c
        .guest_file_seek(&GuestFileSeekArgs {
            handle,
            offset: 7,
            whence: 0,
        })
        .expect("guest-file-seek");
    assert_eq!((seek.position, seek.eof), (7, false));
    let read = c
        .guest_file_read(&GuestFileReadArgs {
            handle,
            count: Some(100),
        })
        .expect("guest-file-read");
    assert_eq!(
        (read.count, read.buf_b64.as_str(), read.eof),
        (6, "d29ybGQK", true)
    );
    c.guest_file_close(&GuestFileCloseArgs { handle })
        .expect("guest-file-close");
    assert_eq!(
        std::fs::read_to_string(&path).expect("file written"),
        "hello, world\n"
    );
    let (class, _) = command_error(c.guest_file_close(&GuestFileCloseArgs { handle }));
    assert_eq!(class, "GenericError", "a closed handle is refused");

    // Freezing: status and thaw run for real (nothing is frozen); freeze is blocked.
    assert_eq!(
        c.guest_fsfreeze_status().expect("guest-fsfreeze-status"),
        GuestFsfreezeStatus::Thawed
    );
    assert_eq!(c.guest_fsfreeze_thaw().expect("guest-fsfreeze-thaw"), 0);
    let (class, desc) = command_error(c.guest_fsfreeze_freeze());
    assert_eq!(class, "CommandNotFound");
    assert!(
        desc.contains("guest-fsfreeze-freeze has been disabled"),
        "{desc}"
    );
    let (class, desc) = command_error(c.guest_shutdown(&GuestShutdownArgs {
        mode: Some("powerdown".into()),
    }));
    assert_eq!(class, "CommandNotFound");
    assert!(desc.contains("guest-shutdown has been disabled"), "{desc}");

    // The agent still answers on the same connection.
    c.guest_ping().expect("guest-ping after the refusals");
}

#[test]
fn our_agent_lists_every_0_15_command() {
    let agent = Agent::start("guest-shutdown");
    let mut c = agent.client();
    let reply = c
        .connection()
        .execute_value("guest-info", None::<&serde_json::Value>)
        .expect("guest-info");
    let listed: Vec<&str> = reply["supported_commands"]
        .as_array()
        .expect("supported_commands")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for command in COMMANDS {
        assert!(listed.contains(&command.name), "{} missing", command.name);
    }
}
