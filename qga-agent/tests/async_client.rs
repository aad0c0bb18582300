//! The generated async client (qga-types, feature `tokio`) against this agent and against
//! QEMU's qemu-ga 10.0.2: the guest-agent handshake skips a stale reply, and every read-only
//! command runs concurrently from clones of one handle; both agents must succeed and fail on
//! the same commands.
//!
//! qemu-ga is skipped with a notice when missing, unless `QAPI_REQUIRE_EXTERNAL=1`.

use qga_types::qapi_runtime::aio::AsyncConnection;
use qga_types::qapi_runtime::ClientError;
use qga_types::AsyncClient;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An agent listening on a unix socket; killed on drop.
struct Agent {
    child: Child,
    socket: PathBuf,
    dir: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(program: &Path, tag: &str) -> Agent {
    let dir = std::env::temp_dir().join(format!("qga-async-{tag}-{}", std::process::id()));
    let state = dir.join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    let socket = dir.join("ga.sock");
    let child = Command::new(program)
        .args(["-m", "unix-listen", "-p"])
        .arg(&socket)
        .arg("-t")
        .arg(&state)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let started = Instant::now();
    while !socket.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{} did not create its socket",
            program.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Agent { child, socket, dir }
}

/// Connects with a stale reply waiting (a `guest-ping` sent and never read), then handshakes.
async fn connect(agent: &Agent) -> AsyncClient {
    let mut stream = std::os::unix::net::UnixStream::connect(&agent.socket).expect("connect");
    stream
        .write_all(b"{\"execute\": \"guest-ping\"}\n")
        .expect("stale request");
    stream.set_nonblocking(true).expect("nonblocking");
    let stream = tokio::net::UnixStream::from_std(stream).expect("tokio stream");
    let connection = AsyncConnection::guest_agent(stream)
        .await
        .expect("guest-agent handshake");
    AsyncClient::new(connection)
}

/// Every read-only command, run at once; each outcome as `ok` or the error class.
async fn read_only_outcomes(client: &AsyncClient) -> Vec<(&'static str, String)> {
    fn outcome<T>(result: Result<T, ClientError>) -> String {
        match result {
            Ok(_) => "ok".to_owned(),
            Err(ClientError::Command(e)) => format!("error {}", e.class),
            Err(e) => panic!("not a command outcome: {e}"),
        }
    }
    let c = client.with_timeout(Duration::from_secs(60));
    let (ping, info, time, host, zone, os, users, vcpus, load) = tokio::join!(
        c.guest_ping(),
        c.guest_info(),
        c.guest_get_time(),
        c.guest_get_host_name(),
        c.guest_get_timezone(),
        c.guest_get_osinfo(),
        c.guest_get_users(),
        c.guest_get_vcpus(),
        c.guest_get_load(),
    );
    let (ifaces, routes, fsinfo, disks, diskstats, cpustats, blocks, block_info, freeze) = tokio::join!(
        c.guest_network_get_interfaces(),
        c.guest_network_get_route(),
        c.guest_get_fsinfo(),
        c.guest_get_disks(),
        c.guest_get_diskstats(),
        c.guest_get_cpustats(),
        c.guest_get_memory_blocks(),
        c.guest_get_memory_block_info(),
        c.guest_fsfreeze_status(),
    );
    let info = info.expect("guest-info");
    assert!(info.supported_commands.len() > 30, "{info:?}");
    assert!(time.as_ref().is_ok_and(|t| *t > 0), "{time:?}");
    vec![
        ("guest-ping", outcome(ping)),
        ("guest-get-time", outcome(time)),
        ("guest-get-host-name", outcome(host)),
        ("guest-get-timezone", outcome(zone)),
        ("guest-get-osinfo", outcome(os)),
        ("guest-get-users", outcome(users)),
        ("guest-get-vcpus", outcome(vcpus)),
        ("guest-get-load", outcome(load)),
        ("guest-network-get-interfaces", outcome(ifaces)),
        ("guest-network-get-route", outcome(routes)),
        ("guest-get-fsinfo", outcome(fsinfo)),
        ("guest-get-disks", outcome(disks)),
        ("guest-get-diskstats", outcome(diskstats)),
        ("guest-get-cpustats", outcome(cpustats)),
        ("guest-get-memory-blocks", outcome(blocks)),
        ("guest-get-memory-block-info", outcome(block_info)),
        ("guest-fsfreeze-status", outcome(freeze)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_client_against_this_agent_and_qemu_ga() {
    let ours = start(Path::new(env!("CARGO_BIN_EXE_qga-agent")), "ours");
    let client = connect(&ours).await;
    let our_outcomes = read_only_outcomes(&client).await;
    assert!(our_outcomes.iter().any(|(_, o)| o == "ok"));
    // Clones share the connection: many calls in flight at once, each with its own reply.
    let mut calls = Vec::new();
    for _ in 0..50 {
        let client = client.clone();
        calls.push(tokio::spawn(async move { client.guest_get_time().await }));
    }
    for call in calls {
        assert!(call.await.expect("task").expect("guest-get-time") > 0);
    }
    let Some(program) = testenv::external("qemu-ga") else {
        return;
    };
    let reference = start(&program, "reference");
    let client = connect(&reference).await;
    let reference_outcomes = read_only_outcomes(&client).await;
    assert_eq!(our_outcomes, reference_outcomes);
}
