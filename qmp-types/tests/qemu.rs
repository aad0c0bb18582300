//! qmp-types against a real qemu-system-x86_64 (10.0.2, `-machine none`, no guest), with the
//! async client and the sync one: every argument-less query decodes; 100 calls in flight from
//! several tasks each get their own reply; STOP/RESUME reach two subscribers while other
//! calls run; a timeout while QEMU stops reading (SIGSTOP) leaves the connection usable; QEMU
//! quitting ends every stream and fails later calls.
//!
//! Skipped with a notice when QEMU is missing, unless `QAPI_REQUIRE_EXTERNAL=1`.

use qapi_runtime::aio::AsyncConnection;
use qapi_runtime::{ClientError, Decoder};
use qmp_types::{AsyncClient, Client, CommandReturn, Event, RunState};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// QEMU with two QMP sockets, `a` and `b` (one client each).
struct Qemu(testenv::Qemu);

impl Qemu {
    fn start(test: &str) -> Option<Qemu> {
        let extra = ["-name", "qmp-types-test"];
        testenv::Qemu::start(&format!("qmp-types-{test}"), &["a", "b"], &extra).map(Qemu)
    }

    fn socket(&self, name: &str) -> PathBuf {
        self.0.socket(name)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.0.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill {signal} failed");
    }
}

async fn connect(path: &Path) -> AsyncClient {
    let (connection, greeting) = AsyncConnection::connect_qmp_unix(path)
        .await
        .expect("QMP handshake");
    assert_eq!(greeting.version["qemu"]["major"], 10, "{greeting:?}");
    assert!(greeting.capabilities.iter().any(|c| c == "oob"));
    AsyncClient::new(connection)
}

/// Decodes a raw reply of `name` strictly into the generated types and checks it encodes back.
fn check_decodes(name: &str, value: &Value) {
    let typed = CommandReturn::decode(name, value, &mut Decoder::strict_reply())
        .unwrap_or_else(|e| panic!("{name}: {e}\n{value}"))
        .unwrap_or_else(|| panic!("{name}: no return type"));
    let again = serde_json::to_value(&typed).expect("encoding");
    assert_eq!(&again, value, "{name} does not round-trip");
}

/// The outcome of running every argument-less query: names decoded, error replies.
fn summarize(decoded: &[String], failed: &[String]) {
    assert!(decoded.len() >= 40, "only {decoded:?}");
    for must in [
        "query-version",
        "query-status",
        "query-machines",
        "query-cpus-fast",
        "query-qmp-schema",
    ] {
        assert!(decoded.iter().any(|d| d == must), "{must} was not decoded");
    }
    eprintln!(
        "decoded {} queries; {} answered with an error: {failed:?}",
        decoded.len(),
        failed.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_decodes_async_and_sync() {
    let Some(qemu) = Qemu::start("queries") else {
        return;
    };
    let client = connect(&qemu.socket("a")).await;
    let commands = client.query_commands().await.expect("query-commands");
    let queries: Vec<String> = commands
        .iter()
        .map(|c| c.name.clone())
        .filter(|n| n.starts_with("query-"))
        .collect();
    assert!(queries.len() > 40, "{queries:?}");

    let (mut decoded, mut failed) = (Vec::new(), Vec::new());
    for name in &queries {
        assert!(
            qmp_types::command_info(name).is_some(),
            "{name} not in the schema"
        );
        match client
            .connection()
            .execute_value::<Value>(name, None, Some(Duration::from_secs(60)))
            .await
        {
            Ok(value) => {
                check_decodes(name, &value);
                decoded.push(name.clone());
            }
            Err(ClientError::Command(e)) if e.desc.contains("is missing") => {}
            Err(ClientError::Command(e)) => failed.push(format!("{name}: {}", e.desc)),
            Err(e) => panic!("{name}: {e}"),
        }
    }
    summarize(&decoded, &failed);

    // The same through the sync client, on QEMU's second monitor.
    let socket = qemu.socket("b");
    let sync = tokio::task::spawn_blocking(move || {
        let stream = std::os::unix::net::UnixStream::connect(socket).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut client = Client::new(stream);
        client.connection().qmp_handshake().expect("handshake");
        let (mut decoded, mut failed) = (Vec::new(), Vec::new());
        for name in &queries {
            match client.connection().execute_value::<Value>(name, None) {
                Ok(value) => {
                    check_decodes(name, &value);
                    decoded.push(name.clone());
                }
                Err(ClientError::Command(e)) if e.desc.contains("is missing") => {}
                Err(ClientError::Command(e)) => failed.push(format!("{name}: {}", e.desc)),
                Err(e) => panic!("{name}: {e}"),
            }
        }
        assert_eq!(client.query_version().expect("version").qemu.major, 10);
        (decoded, failed)
    });
    let (sync_decoded, sync_failed) = sync.await.expect("sync client thread");
    summarize(&sync_decoded, &sync_failed);
    assert_eq!(
        sync_decoded, decoded,
        "both clients decode the same queries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_calls_in_flight_get_their_own_replies() {
    let Some(qemu) = Qemu::start("inflight") else {
        return;
    };
    let client = connect(&qemu.socket("a")).await;
    let mut tasks = Vec::new();
    for task in 0..5 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut calls = Vec::new();
            for i in 0..20 {
                let client = client.clone();
                // Four kinds of reply, each checked: a reply given to the wrong call would not
                // decode or would not match.
                calls.push(async move {
                    match (task * 20 + i) % 4 {
                        0 => assert_eq!(client.query_version().await?.qemu.major, 10),
                        1 => assert_eq!(client.query_status().await?.status, RunState::Prelaunch),
                        2 => assert_eq!(
                            client.query_name().await?.name.as_deref(),
                            Some("qmp-types-test")
                        ),
                        _ => assert!(!client.query_kvm().await?.enabled),
                    }
                    Ok::<(), ClientError>(())
                });
            }
            let mut handles = Vec::new();
            for call in calls {
                handles.push(tokio::spawn(call));
            }
            let mut done = 0;
            for handle in handles {
                handle.await.expect("call task")?;
                done += 1;
            }
            Ok::<usize, ClientError>(done)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("task").expect("call");
    }
    assert_eq!(total, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_cont_reach_two_subscribers_while_calls_run() {
    let Some(qemu) = Qemu::start("events") else {
        return;
    };
    let client = connect(&qemu.socket("a")).await;
    let mut first = client.connection().events();
    let mut second = client.connection().events();
    let busy = {
        let client = client.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                client.query_status().await.expect("query-status");
            }
        })
    };
    // In prelaunch, `stop` changes nothing: start running first.
    client.cont().await.expect("cont");
    client.stop().await.expect("stop");
    client.cont().await.expect("cont");
    busy.await.expect("busy task");
    for events in [&mut first, &mut second] {
        let mut got = Vec::new();
        while got.len() < 3 {
            let event = tokio::time::timeout(Duration::from_secs(30), events.next())
                .await
                .expect("an event in time")
                .expect("the stream is open");
            assert!(event.timestamp.seconds > 0);
            got.push(event.event);
        }
        assert_eq!(got, [Event::Resume, Event::Stop, Event::Resume]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_while_qemu_stops_reading_leaves_the_connection_usable() {
    let Some(qemu) = Qemu::start("timeout") else {
        return;
    };
    let client = connect(&qemu.socket("a")).await;
    assert_eq!(
        client.query_name().await.expect("name").name.as_deref(),
        Some("qmp-types-test")
    );
    qemu.signal("-STOP");
    let started = Instant::now();
    let late = client
        .with_timeout(Duration::from_millis(300))
        .query_version()
        .await;
    assert!(matches!(late, Err(ClientError::Timeout)), "{late:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // A call dropped before its reply (cancellation) must not break the connection either.
    let dropped = tokio::time::timeout(Duration::from_millis(100), client.query_status()).await;
    assert!(dropped.is_err());
    qemu.signal("-CONT");
    // The late replies to the abandoned calls are dropped; this call gets its own.
    let status = client
        .with_timeout(Duration::from_secs(30))
        .query_status()
        .await
        .expect("query-status after the timeout");
    assert_eq!(status.status, RunState::Prelaunch);
    assert_eq!(
        client.query_version().await.expect("version").qemu.major,
        10
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qemu_quitting_ends_every_stream_and_later_calls() {
    let Some(qemu) = Qemu::start("quit") else {
        return;
    };
    let client = connect(&qemu.socket("a")).await;
    let mut streams = [client.connection().events(), client.connection().events()];
    client.quit().await.expect("quit");
    for events in &mut streams {
        let mut names = Vec::new();
        loop {
            let next = tokio::time::timeout(Duration::from_secs(30), events.next())
                .await
                .expect("the stream ends in time");
            match next {
                Some(event) => names.push(event.event),
                None => break,
            }
        }
        assert!(
            names.iter().any(|e| matches!(e, Event::Shutdown(_))),
            "{names:?}"
        );
    }
    let after = client.query_status().await;
    assert!(
        matches!(after, Err(ClientError::Closed)),
        "a call after the end: {after:?}"
    );
    // A subscriber arriving after the end gets an ended stream at once.
    assert!(client.connection().events().next().await.is_none());
}
