//! Drives a real QEMU (qemu-system-x86_64 10.0, no guest) through the generated QMP client:
//! handshake; every `query-*` command that needs no arguments decodes strictly into the
//! generated types (and encodes back to the same JSON); a command with arguments; an event.
//!
//! Skipped with a notice when QEMU is missing, unless `QAPI_REQUIRE_EXTERNAL` is set (as
//! `cargo xtask ci` does), which makes that a failure.

use qapi_runtime::{ClientError, Decoder};
use qmp_client::qmp;
use serde_json::Value;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// QEMU with one QMP socket, and a connection to it.
fn start() -> Option<(testenv::Qemu, UnixStream)> {
    let qemu = testenv::Qemu::start("qmp-client-test", &["qmp"], &[])?;
    let stream = UnixStream::connect(qemu.socket("qmp")).expect("connecting to QEMU's QMP socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("setting a read timeout");
    Some((qemu, stream))
}

#[test]
fn generated_client_against_qemu() {
    let Some((_qemu, stream)) = start() else {
        return;
    };
    let mut client = qmp::Client::new(stream);
    let greeting = client.connection().qmp_handshake().unwrap();
    assert_eq!(greeting["QMP"]["version"]["qemu"]["major"], 10);

    // Typed: the command list, as QEMU reports it.
    let commands = client.query_commands().unwrap();
    assert!(commands.len() > 100, "{} commands", commands.len());

    // Every query-* command that takes no arguments decodes strictly into generated types.
    let mut decoded = Vec::new();
    let mut failed = Vec::new();
    for command in &commands {
        let name = command.name.as_str();
        if !name.starts_with("query-") {
            continue;
        }
        assert!(
            qmp::command_info(name).is_some(),
            "QEMU offers {name}, the schema does not"
        );
        match client.connection().execute_value::<Value>(name, None) {
            Ok(value) => {
                let typed = qmp::CommandReturn::decode(name, &value, &mut Decoder::strict())
                    .unwrap_or_else(|e| panic!("{name}: {e}\n{value}"))
                    .unwrap_or_else(|| panic!("{name}: no return type"));
                let again: Value = serde_json::to_value(&typed).unwrap();
                assert_eq!(again, value, "{name} does not round-trip");
                decoded.push(name.to_owned());
            }
            // Needs arguments (e.g. query-cpu-model-expansion): not in scope here.
            Err(ClientError::Command(e)) if e.desc.contains("is missing") => {}
            // A well-formed error reply (no such device on a machine without devices...).
            Err(ClientError::Command(e)) => failed.push(format!("{name}: {}", e.desc)),
            Err(e) => panic!("{name}: {e}"),
        }
    }
    eprintln!(
        "decoded {} query commands; {} answered with an error: {failed:?}",
        decoded.len(),
        failed.len()
    );
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

    // Typed commands: one with arguments, one with an optional typed result.
    let version = client.query_version().unwrap();
    assert_eq!(version.qemu.major, 10);
    let props = client
        .qom_list(&qmp::QomListArgs {
            path: "/machine".into(),
        })
        .unwrap();
    assert!(props.iter().any(|p| p.name == "type"), "{props:?}");
    let status = client.query_status().unwrap();
    assert_eq!(status.status, qmp::RunState::Prelaunch);

    // An event: `cont` makes QEMU emit RESUME.
    client.cont().unwrap();
    let event = client.connection().next_event().unwrap();
    assert_eq!(event.event, qmp::Event::Resume);
    assert!(event.timestamp.seconds > 0);
    assert_eq!(
        client.query_status().unwrap().status,
        qmp::RunState::Running
    );
}
