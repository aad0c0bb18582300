//! Against QEMU's own qemu-ga 10.0.2, started here on a Unix socket:
//! - replies of commands that are safe to run on this machine decode (strictly) into the
//!   generated types and encode back to exactly the bytes qemu-ga sent (QEMU member order,
//!   `%.17g` doubles, `\uXXXX` escapes);
//! - requests with bad shapes or arguments get byte-identical error replies from the
//!   generated dispatcher;
//! - the generated client does the guest-agent handshake and runs typed commands.

mod common;

use common::{external, Raw, ReferenceAgent, Unreachable};
use qapi_runtime::decode::from_value;
use qapi_runtime::writer::to_string;
use qapi_runtime::{QapiError, Reply};
use qga_types::*;
use serde_json::Value;

/// Decodes a reply's `return` as the command's return type and encodes the reply again.
fn reencode(command: &str, reply: &Value) -> String {
    if let Some(error) = reply.get("error") {
        let class = error["class"].as_str().unwrap_or_default();
        let desc = error["desc"].as_str().unwrap_or_default();
        let e = QapiError::new(qapi_runtime::ErrorClass::from_wire(class), desc);
        return to_string(&Reply::<()>::error(reply.get("id").cloned(), e)).unwrap();
    }
    let ret = &reply["return"];
    macro_rules! typed {
        ($($name:literal => $t:ty,)*) => {
            match command {
                $($name => {
                    let value: $t = from_value(ret).unwrap_or_else(|e| panic!("{command}: {e}: {ret}"));
                    to_string(&Reply::ok(reply.get("id").cloned(), value)).unwrap()
                })*
                other => panic!("no return type listed for {other}"),
            }
        };
    }
    typed! {
        "guest-sync" => i64,
        "guest-sync-delimited" => i64,
        "guest-ping" => qapi_runtime::Empty,
        "guest-get-time" => i64,
        "guest-info" => GuestAgentInfo,
        "guest-file-open" => i64,
        "guest-file-read" => GuestFileRead,
        "guest-file-write" => GuestFileWrite,
        "guest-file-seek" => GuestFileSeek,
        "guest-file-flush" => qapi_runtime::Empty,
        "guest-file-close" => qapi_runtime::Empty,
        "guest-fsfreeze-status" => GuestFsfreezeStatus,
        "guest-network-get-interfaces" => Vec<GuestNetworkInterface>,
        "guest-get-vcpus" => Vec<GuestLogicalProcessor>,
        "guest-get-disks" => Vec<GuestDiskInfo>,
        "guest-get-fsinfo" => Vec<GuestFilesystemInfo>,
        "guest-get-memory-blocks" => Vec<GuestMemoryBlock>,
        "guest-get-memory-block-info" => GuestMemoryBlockInfo,
        "guest-exec" => GuestExec,
        "guest-exec-status" => GuestExecStatus,
        "guest-get-host-name" => GuestHostName,
        "guest-get-users" => Vec<GuestUser>,
        "guest-get-timezone" => GuestTimezone,
        "guest-get-osinfo" => GuestOsInfo,
        "guest-ssh-get-authorized-keys" => GuestAuthorizedKeys,
        "guest-get-diskstats" => Vec<GuestDiskStatsInfo>,
        "guest-get-cpustats" => Vec<GuestCpuStats>,
        "guest-get-load" => GuestLoadAverage,
        "guest-network-get-route" => Vec<GuestNetworkRoute>,
    }
}

/// Runs `request` on qemu-ga and checks the round trip; returns the parsed reply.
fn check(raw: &mut Raw, request: &str) -> Value {
    let line = raw.call(request);
    let text = String::from_utf8(line).unwrap_or_else(|_| panic!("{request}: reply is not ASCII"));
    let reply: Value = serde_json::from_str(&text).unwrap();
    let req: Value = serde_json::from_str(request).unwrap();
    let command = req["execute"].as_str().unwrap();
    assert_eq!(reencode(command, &reply), text, "{request}");
    reply
}

#[test]
fn real_replies_decode_and_reencode_byte_for_byte() {
    let Some(program) = external("qemu-ga") else {
        return;
    };
    let agent = ReferenceAgent::start(&program);
    let mut raw = Raw::new(agent.connect());
    let file = agent.dir.0.join("data.bin");
    let content: Vec<u8> = (0..=255u8).chain(*b"tail\n").collect();
    std::fs::write(&file, &content).unwrap();

    for command in [
        "guest-ping",
        "guest-get-time",
        "guest-info",
        "guest-fsfreeze-status",
        "guest-network-get-interfaces",
        "guest-get-vcpus",
        "guest-get-disks",
        "guest-get-fsinfo",
        "guest-get-memory-blocks",
        "guest-get-memory-block-info",
        "guest-get-host-name",
        "guest-get-users",
        "guest-get-timezone",
        "guest-get-osinfo",
        "guest-get-diskstats",
        "guest-get-cpustats",
        "guest-get-load",
        "guest-network-get-route",
    ] {
        check(&mut raw, &format!(r#"{{"execute": "{command}"}}"#));
    }
    check(
        &mut raw,
        r#"{"execute": "guest-sync", "arguments": {"id": 8675309}, "id": {"b": 1, "a": [2]}}"#,
    );
    check(
        &mut raw,
        r#"{"execute": "guest-sync-delimited", "arguments": {"id": -5}}"#,
    );
    check(
        &mut raw,
        r#"{"execute": "guest-ssh-get-authorized-keys", "arguments": {"username": "root"}}"#,
    );

    // Files: open, read (bytes survive base64 both ways), seek, write, close.
    let path = serde_json::to_string(file.to_str().unwrap()).unwrap();
    let open = check(
        &mut raw,
        &format!(
            r#"{{"execute": "guest-file-open", "arguments": {{"path": {path}, "mode": "r+"}}}}"#
        ),
    );
    let handle = open["return"].as_i64().unwrap();
    let read = check(
        &mut raw,
        &format!(
            r#"{{"execute": "guest-file-read", "arguments": {{"handle": {handle}, "count": 1000}}}}"#
        ),
    );
    let decoded: GuestFileRead = from_value(&read["return"]).unwrap();
    assert_eq!(decoded.buf_b64.0, content);
    assert!(decoded.eof);
    check(
        &mut raw,
        &format!(
            r#"{{"execute": "guest-file-seek", "arguments": {{"handle": {handle}, "offset": 0, "whence": "set"}}}}"#
        ),
    );
    check(
        &mut raw,
        &format!(
            r#"{{"execute": "guest-file-write", "arguments": {{"handle": {handle}, "buf-b64": "aGk="}}}}"#
        ),
    );
    check(
        &mut raw,
        &format!(
            r#"{{"execute": "guest-file-seek", "arguments": {{"handle": {handle}, "offset": -2, "whence": 2}}}}"#
        ),
    );
    let empty = check(
        &mut raw,
        &format!(
            r#"{{"execute": "guest-file-read", "arguments": {{"handle": {handle}, "count": 0}}}}"#
        ),
    );
    assert_eq!(empty["return"]["buf-b64"], "");
    check(
        &mut raw,
        &format!(r#"{{"execute": "guest-file-flush", "arguments": {{"handle": {handle}}}}}"#),
    );
    check(
        &mut raw,
        &format!(r#"{{"execute": "guest-file-close", "arguments": {{"handle": {handle}}}}}"#),
    );

    // A child process: guest-exec, then guest-exec-status until it has exited.
    let exec = check(
        &mut raw,
        r#"{"execute": "guest-exec", "arguments": {"path": "/bin/sh", "arg": ["-c", "printf 'h\u00e9\\n'; echo err >&2; exit 3"], "capture-output": true}}"#,
    );
    let pid = exec["return"]["pid"].as_i64().unwrap();
    let status = loop {
        let status = check(
            &mut raw,
            &format!(r#"{{"execute": "guest-exec-status", "arguments": {{"pid": {pid}}}}}"#),
        );
        if status["return"]["exited"] == true {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let status: GuestExecStatus = from_value(&status["return"]).unwrap();
    assert_eq!(status.exitcode, Some(3));
    assert_eq!(
        qapi_runtime::base64::decode_strict(status.out_data.as_deref().unwrap()).unwrap(),
        "hé\n".as_bytes()
    );
    // The record is gone after it was reported: an error reply, also re-encoded exactly.
    check(
        &mut raw,
        &format!(r#"{{"execute": "guest-exec-status", "arguments": {{"pid": {pid}}}}}"#),
    );
}

/// Requests that fail before any command runs: QEMU's reply and ours must be identical.
const BAD_REQUESTS: &[&str] = &[
    r#"[1, 2]"#,
    r#""just a string""#,
    r#"{"arguments": {}}"#,
    r#"{"execute": 5, "id": 1}"#,
    r#"{"execute": "guest-ping", "arguments": []}"#,
    r#"{"execute": "guest-ping", "arguments": {}, "exec-oob": "x"}"#,
    r#"{"id": 1, "foo": 2, "bar": 3, "execute": 5}"#,
    r#"{"execute": "guest-foo", "id": "x"}"#,
    r#"{"execute": "guest-get-devices"}"#,
    r#"{"execute": "guest-ping", "arguments": {"a": 1, "b": 2, "c": 3}}"#,
    r#"{"execute": "guest-ping", "arguments": {"a1": 1, "a2": 2, "a3": 3, "a4": 4, "a5": 5, "a6": 6, "a7": 7, "a8": 8, "a9": 9, "a10": 10}}"#,
    r#"{"execute": "guest-sync", "arguments": {"id": 1, "zz": 2, "yy": 3}}"#,
    r#"{"execute": "guest-sync", "arguments": {"id": "x", "zz": 2}}"#,
    r#"{"execute": "guest-sync", "arguments": {"id": 1.5}}"#,
    r#"{"execute": "guest-sync", "arguments": {"id": 18446744073709551615}}"#,
    r#"{"execute": "guest-sync", "arguments": {}, "id": [1, {"b": 2, "a": 1}]}"#,
    r#"{"execute": "guest-set-vcpus", "arguments": {"vcpus": [{"logical-id": 0, "online": 3}]}}"#,
    r#"{"execute": "guest-set-vcpus", "arguments": {"vcpus": [{"logical-id": 0}]}}"#,
    r#"{"execute": "guest-set-vcpus", "arguments": {"vcpus": [{"logical-id": 0, "online": true, "x": 1}]}}"#,
    r#"{"execute": "guest-set-vcpus", "arguments": {"vcpus": [{"logical-id": 0, "online": true}, 5]}}"#,
    r#"{"execute": "guest-set-vcpus", "arguments": {"vcpus": {}}}"#,
    r#"{"execute": "guest-file-seek", "arguments": {"handle": 1, "offset": 0, "whence": true}}"#,
    r#"{"execute": "guest-file-seek", "arguments": {"handle": 1, "offset": 0, "whence": 1.5}}"#,
    r#"{"execute": "guest-file-seek", "arguments": {"handle": 1, "offset": 0, "whence": "foo"}}"#,
    r#"{"execute": "guest-file-seek", "arguments": {"offset": 0, "whence": "set"}}"#,
    r#"{"execute": "guest-set-memory-blocks", "arguments": {"mem-blks": [{"phys-index": "a", "online": true}]}}"#,
    r#"{"execute": "guest-set-memory-blocks", "arguments": {"mem-blks": [{"phys-index": 1.5, "online": true}]}}"#,
    r#"{"execute": "guest-exec", "arguments": {"path": "/bin/true", "capture-output": 5}}"#,
    r#"{"execute": "guest-exec", "arguments": {"path": "/bin/true", "capture-output": "most"}}"#,
    r#"{"execute": "guest-exec", "arguments": {"path": "/bin/true", "arg": ["a", 1]}}"#,
    r#"{"execute": "guest-exec", "arguments": {"path": "/bin/true", "env": "x"}}"#,
    r#"{"execute": "guest-file-read", "arguments": {"handle": "1"}}"#,
    r#"{"execute": "guest-file-read", "arguments": {"handle": 1, "count": null}}"#,
    r#"{"execute": "guest-fstrim", "arguments": {"minimum": -1.0}}"#,
    r#"{"execute": "guest-set-user-password", "arguments": {"username": "u", "password": "p"}}"#,
    r#"{"execute": "guest-ssh-add-authorized-keys", "arguments": {"username": "u", "keys": "k"}}"#,
    r#"{"execute": "guest-shutdown", "arguments": {"mode": 1}}"#,
    r#"{"execute": "guest-set-time", "arguments": {"time": "now"}}"#,
    r#"{"execute": "guest-network-get-interfaces", "arguments": {"x": null}}"#,
];

#[test]
fn dispatcher_error_replies_match_qemu_ga_byte_for_byte() {
    let Some(program) = external("qemu-ga") else {
        return;
    };
    let agent = ReferenceAgent::start(&program);
    let mut raw = Raw::new(agent.connect());
    for request in BAD_REQUESTS {
        let theirs = String::from_utf8(raw.call(request)).unwrap();
        let value: Value = serde_json::from_str(request).unwrap();
        let ours = dispatch(&mut Unreachable, &value).expect("an error reply");
        assert!(ours.outcome.is_err(), "{request}: the stub was reached");
        assert_eq!(to_string(&ours).unwrap(), theirs, "{request}");
    }
}

#[test]
fn generated_client_handshakes_and_runs_typed_commands() {
    let Some(program) = external("qemu-ga") else {
        return;
    };
    let agent = ReferenceAgent::start(&program);
    // Leave junk in qemu-ga's parser first: the handshake's 0xFF flushes it.
    {
        use std::io::Write;
        let mut stream = agent.connect();
        stream.write_all(b"{\"execute\": \"guest-").unwrap();
    }
    let mut client = Client::new(agent.connect());
    client.connection().guest_agent_handshake().unwrap();
    assert_eq!(client.guest_sync(&GuestSyncArgs { id: 42 }).unwrap(), 42);
    client.guest_ping().unwrap();
    let info = client.guest_info().unwrap();
    assert_eq!(info.version, "10.0.2");
    let names: Vec<&str> = info
        .supported_commands
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert!(names.contains(&"guest-exec"));
    // Every command qemu-ga offers on Linux is in the generated table, and vice versa.
    let mut ours: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    let mut theirs = names.clone();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs);
    for c in &info.supported_commands {
        assert_eq!(
            command_info(&c.name).map(|i| i.success_response),
            Some(c.success_response),
            "{}",
            c.name
        );
    }
    assert_eq!(
        client.guest_fsfreeze_status().unwrap(),
        GuestFsfreezeStatus::Thawed
    );
    match client.guest_file_close(&GuestFileCloseArgs { handle: 123456 }) {
        Err(qapi_runtime::ClientError::Command(e)) => {
            assert_eq!(e.desc, "handle '123456' has not been found")
        }
        other => panic!("{other:?}"),
    }
    let load = client.guest_get_load().unwrap();
    assert!(load.load1m >= 0.0);
}
