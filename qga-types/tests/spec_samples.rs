//! The example exchanges of the guest-agent protocol (QEMU 10.0.2's wire format): requests
//! decode into the generated argument types, replies decode into the return types and encode
//! back to the same bytes.

use qapi_runtime::decode::{from_members, from_value};
use qapi_runtime::writer::to_string;
use qapi_runtime::{Decode, DecodeMembers, Reply};
use qga_types::*;
use serde_json::Value;

fn reply_round_trip<T: Decode + serde::Serialize>(line: &str) -> T {
    let reply: Value = serde_json::from_str(line).unwrap();
    let value: T = from_value(&reply["return"]).unwrap_or_else(|e| panic!("{line}: {e}"));
    let again = to_string(&Reply::ok(reply.get("id").cloned(), &value)).unwrap();
    assert_eq!(again, line);
    value
}

fn args<T: DecodeMembers>(request: &str) -> T {
    let request: Value = serde_json::from_str(request).unwrap();
    from_members(request["arguments"].as_object()).unwrap_or_else(|e| panic!("{request}: {e}"))
}

#[test]
fn replies_round_trip() {
    assert_eq!(reply_round_trip::<i64>(r#"{"return": 1234567}"#), 1234567);
    reply_round_trip::<qapi_runtime::Empty>(r#"{"return": {}, "id": "p1"}"#);
    let read: GuestFileRead =
        reply_round_trip(r#"{"return": {"count": 6, "buf-b64": "Z3Vlc3QK", "eof": true}}"#);
    assert_eq!(read.buf_b64.0, b"guest\n");
    let exec: GuestExec = reply_round_trip(r#"{"return": {"pid": 4711}}"#);
    assert_eq!(exec.pid, 4711);
    let status: GuestExecStatus =
        reply_round_trip(r#"{"return": {"exitcode": 0, "out-data": "aGkK", "exited": true}}"#);
    assert_eq!(
        (status.exitcode, status.exited, status.signal),
        (Some(0), true, None)
    );
    let ifs: Vec<GuestNetworkInterface> = reply_round_trip(
        r#"{"return": [{"name": "lo", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8}, {"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128}], "statistics": {"tx-packets": 10, "tx-errs": 0, "rx-bytes": 800, "rx-dropped": 0, "rx-packets": 10, "rx-errs": 0, "tx-bytes": 800, "tx-dropped": 0}, "hardware-address": "00:00:00:00:00:00"}]}"#,
    );
    let addresses = ifs[0].ip_addresses.as_ref().unwrap();
    assert_eq!(addresses[1].ip_address_type, GuestIpAddressType::Ipv6);
    assert_eq!(ifs[0].statistics.as_ref().unwrap().rx_bytes, 800);
    assert_eq!(
        reply_round_trip::<GuestFsfreezeStatus>(r#"{"return": "thawed"}"#),
        GuestFsfreezeStatus::Thawed
    );
}

#[test]
fn requests_decode_into_argument_types() {
    let a: GuestExecArgs = args(
        r#"{"execute": "guest-exec", "arguments": {"path": "/bin/echo", "arg": ["hi"], "capture-output": true}}"#,
    );
    assert_eq!(a.arg.as_deref(), Some(&["hi".to_owned()][..]));
    assert_eq!(a.capture_output, Some(GuestExecCaptureOutput::Flag(true)));
    let a: GuestExecArgs = args(
        r#"{"execute": "guest-exec", "arguments": {"path": "x", "capture-output": "merged"}}"#,
    );
    assert_eq!(
        a.capture_output,
        Some(GuestExecCaptureOutput::Mode(
            GuestExecCaptureOutputMode::Merged
        ))
    );
    let a: GuestFileSeekArgs = args(
        r#"{"execute": "guest-file-seek", "arguments": {"handle": 1000, "offset": 0, "whence": "end"}}"#,
    );
    assert_eq!(a.whence, GuestFileWhence::Name(QgaSeek::End));
    let a: GuestFileSeekArgs = args(
        r#"{"execute": "guest-file-seek", "arguments": {"handle": 1000, "offset": 0, "whence": 1}}"#,
    );
    assert_eq!(a.whence, GuestFileWhence::Value(1));
    let a: GuestShutdownArgs =
        args(r#"{"execute": "guest-shutdown", "arguments": {"mode": "reboot"}}"#);
    assert_eq!(a.mode.as_deref(), Some("reboot"));
}

#[test]
fn a_large_read_streams_as_base64() {
    // 3 MiB of bytes: the reply is written without building the base64 text first.
    let data: Vec<u8> = (0..3 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
    let reply = Reply::ok(
        None,
        CommandReturn::GuestFileRead(GuestFileRead {
            count: data.len() as i64,
            buf_b64: qapi_runtime::Base64Bytes(data.clone()),
            eof: false,
        }),
    );
    let mut out = Vec::new();
    reply.write_line(&mut out).unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    assert!(text.starts_with(r#"{"return": {"count": 3145728, "buf-b64": ""#));
    assert!(text.ends_with("\"eof\": false}}\n"));
    let parsed: Value = serde_json::from_str(text).unwrap();
    let back: GuestFileRead = from_value(&parsed["return"]).unwrap();
    assert_eq!(back.buf_b64.0, data);
}
