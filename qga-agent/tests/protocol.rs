//! Wire protocol of the real `qga-agent` binary over a unix socket: framing, resync, errors,
//! argument checking, reconnects, sync ids, delimited replies, success-response-false.

mod common;

use std::time::Duration;

use common::{error_of, Agent};
use serde_json::{json, Value};

#[test]
fn values_split_over_writes_and_merged_in_one() {
    let agent = Agent::start(&[]);
    let mut c = agent.connect();
    // One request split into pieces with pauses, so they arrive in separate reads.
    for piece in [
        &b"{\"exec"[..],
        b"ute\": \"guest-sy",
        b"nc\", \"argu",
        b"ments\": {\"id\": 7",
        b"}}",
    ] {
        c.send(piece);
        std::thread::sleep(Duration::from_millis(30));
    }
    assert_eq!(c.lines(1), [b"{\"return\": 7}".to_vec()]);
    // Three requests in one write, without separators, then one with a newline.
    c.send(b"{\"execute\":\"guest-ping\",\"id\":1}{\"execute\":\"guest-ping\",\"id\":2}{\"execute\":\"guest-sync\",\"arguments\":{\"id\":3}}\n");
    assert_eq!(
        c.lines(3),
        [
            b"{\"return\": {}, \"id\": 1}".to_vec(),
            b"{\"return\": {}, \"id\": 2}".to_vec(),
            b"{\"return\": 3}".to_vec(),
        ]
    );
    // Byte by byte.
    for b in b"{\"execute\":\"guest-ping\",\"id\":\"slow\"}" {
        c.send(&[*b]);
    }
    assert_eq!(c.reply(), json!({"return": {}, "id": "slow"}));
}

#[test]
fn xff_resets_the_parser_and_each_one_is_reported() {
    let agent = Agent::start(&[]);
    let mut c = agent.connect();
    // A half-sent request is abandoned by 0xFF; the delimited sync that follows is answered
    // with 0xFF in front of its reply.
    c.send(b"{\"execute\": \"guest-ping\", \"arguments\":");
    c.send(b"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":42}}");
    let lines = c.lines(2);
    assert_eq!(
        lines[0],
        br#"{"error": {"class": "GenericError", "desc": "JSON parse error, stray '\uFFFD'"}}"#
            .to_vec()
    );
    assert_eq!(lines[1], b"\xff{\"return\": 42}".to_vec());
    // The delimiter is one-shot.
    c.send(b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1}}");
    assert_eq!(c.lines(1), [b"{\"return\": 1}".to_vec()]);
    // Two 0xFF bytes, two errors.
    c.send(b"\xff\xff\n{\"execute\":\"guest-ping\"}");
    let lines = c.lines(3);
    assert_eq!(lines[0], lines[1]);
    assert_eq!(lines[2], b"{\"return\": {}}".to_vec());
}

#[test]
fn malformed_json_then_a_good_request() {
    let agent = Agent::start(&[]);
    let mut c = agent.connect();
    c.send(b"{\"execute\": @\"guest-ping\"}\n{\"execute\":\"guest-ping\",\"id\":\"ok\"}");
    let replies: Vec<Value> = (0..3).map(|_| c.reply()).collect();
    assert_eq!(error_of(&replies[0]).1, "JSON parse error, stray '@'");
    // Recovery resumes at the closing brace, which alone is not a value.
    assert_eq!(error_of(&replies[1]).1, "JSON parse error, expecting value");
    assert_eq!(replies[2], json!({"return": {}, "id": "ok"}));
    for (input, desc) in [
        ("[1 2]", "JSON parse error, expected separator in list"),
        ("{\"a\":1,\"a\":2}", "JSON parse error, duplicate key"),
        ("{\"a\" 1}", "JSON parse error, missing : in object pair"),
        ("nul ", "JSON parse error, invalid keyword 'nul'"),
        (
            "\"\\q\"",
            "JSON parse error, invalid escape sequence in string",
        ),
        ("[1]", "QMP input must be a JSON object"),
        ("{\"id\": 5}", "QMP input lacks member 'execute'"),
        (
            "{\"execute\": 5}",
            "QMP input member 'execute' must be a string",
        ),
        (
            "{\"execute\": \"guest-ping\", \"arguments\": 1}",
            "QMP input member 'arguments' must be an object",
        ),
        (
            "{\"exec-oob\": \"guest-ping\"}",
            "QMP input member 'exec-oob' is unexpected",
        ),
    ] {
        let reply = c.call(input);
        assert_eq!(
            error_of(&reply),
            ("GenericError".to_owned(), desc.to_owned()),
            "for {input}"
        );
    }
    assert_eq!(
        c.call("{\"execute\":\"guest-ping\"}"),
        json!({"return": {}})
    );
}

#[test]
fn nesting_limit_reports_and_recovers() {
    let agent = Agent::start(&[]);
    let mut c = agent.connect();
    let deep = [b"[".repeat(1025), b"]".repeat(1025)].concat();
    c.send(&deep);
    let first = c.reply();
    assert_eq!(error_of(&first).1, "JSON nesting depth limit exceeded");
    let rest = c.lines(1025);
    assert!(rest.iter().all(|l| l.ends_with(b"expecting value\"}}")));
    assert_eq!(
        c.call("{\"execute\":\"guest-ping\"}"),
        json!({"return": {}})
    );
}

#[test]
fn unknown_and_disabled_commands() {
    let agent = Agent::start(&["-b", "guest-get-time"]);
    let mut c = agent.connect();
    let reply = c.call("{\"execute\":\"guest-nope\",\"id\":[1]}");
    assert_eq!(reply["id"], json!([1]));
    assert_eq!(
        error_of(&reply),
        (
            "CommandNotFound".to_owned(),
            "The command guest-nope has not been found".to_owned()
        )
    );
    // guest-get-devices is Windows-only: not part of a Linux build.
    let reply = c.call("{\"execute\":\"guest-get-devices\"}");
    assert_eq!(error_of(&reply).0, "CommandNotFound");
    let reply = c.call("{\"execute\":\"guest-get-time\"}");
    assert_eq!(
        error_of(&reply),
        (
            "CommandNotFound".to_owned(),
            "Command guest-get-time has been disabled: the command is not allowed".to_owned()
        )
    );
    let info = c.call("{\"execute\":\"guest-info\"}");
    let commands = info["return"]["supported_commands"]
        .as_array()
        .expect("command list");
    let entry = |name: &str| commands.iter().find(|c| c["name"] == name).cloned();
    assert_eq!(
        entry("guest-get-time").expect("listed")["enabled"],
        json!(false)
    );
    assert_eq!(entry("guest-ping").expect("listed")["enabled"], json!(true));
    assert_eq!(
        entry("guest-shutdown").expect("listed")["success-response"],
        json!(false)
    );
    assert!(entry("guest-get-devices").is_none());
    assert_eq!(commands.len(), 43);
    assert_eq!(commands[0]["name"], "guest-network-get-route");
    assert_eq!(commands[42]["name"], "guest-sync-delimited");
}

#[test]
fn argument_checking() {
    let agent = Agent::start(&[]);
    let mut c = agent.connect();
    for (request, desc) in [
        (
            r#"{"execute":"guest-sync","arguments":{"id":"x"}}"#,
            "Invalid parameter type for 'id', expected: integer",
        ),
        (
            r#"{"execute":"guest-sync","arguments":{"id":1.5}}"#,
            "Invalid parameter type for 'id', expected: integer",
        ),
        (
            r#"{"execute":"guest-sync","arguments":{}}"#,
            "Parameter 'id' is missing",
        ),
        (r#"{"execute":"guest-sync"}"#, "Parameter 'id' is missing"),
        (
            r#"{"execute":"guest-sync","arguments":{"id":1,"extra":2}}"#,
            "Parameter 'extra' is unexpected",
        ),
        (
            r#"{"execute":"guest-ping","arguments":{"x":1}}"#,
            "Parameter 'x' is unexpected",
        ),
        (
            r#"{"execute":"guest-file-read","arguments":{"handle":true}}"#,
            "Invalid parameter type for 'handle', expected: integer",
        ),
        (
            r#"{"execute":"guest-file-open","arguments":{"path":5}}"#,
            "Invalid parameter type for 'path', expected: string",
        ),
        (
            r#"{"execute":"guest-file-seek","arguments":{"handle":1,"offset":0,"whence":[]}}"#,
            "Invalid parameter type for 'whence', expected: GuestFileWhence",
        ),
        (
            r#"{"execute":"guest-shutdown","arguments":{"mode":"x"}}"#,
            "mode is invalid (valid values are: halt|powerdown|reboot",
        ),
        (
            r#"{"execute":"guest-file-read","arguments":{"handle":5}}"#,
            "handle '5' has not been found",
        ),
    ] {
        let reply = c.call(request);
        assert_eq!(
            error_of(&reply),
            ("GenericError".to_owned(), desc.to_owned()),
            "for {request}"
        );
    }
}

#[test]
fn sync_ids_cover_the_whole_int64_range() {
    let agent = Agent::start(&[]);
    let mut c = agent.connect();
    // libvirt sends millisecond timestamps; clients also use random 64-bit values.
    for id in [0i64, 1_700_000_000_123, i64::MAX, i64::MIN, -1] {
        let reply = c.call(&format!(
            "{{\"execute\":\"guest-sync\",\"arguments\":{{\"id\":{id}}}}}"
        ));
        assert_eq!(reply, json!({"return": id}));
        let mut request = vec![0xFF];
        request.extend(
            format!("{{\"execute\":\"guest-sync-delimited\",\"arguments\":{{\"id\":{id}}}}}")
                .bytes(),
        );
        c.send(&request);
        let lines = c.lines(2);
        let mut expected = vec![0xFF];
        expected.extend(format!("{{\"return\": {id}}}").bytes());
        assert_eq!(lines[1], expected);
    }
    // Beyond int64 is not an int for QAPI.
    let reply = c.call(r#"{"execute":"guest-sync","arguments":{"id":9223372036854775808}}"#);
    assert_eq!(
        error_of(&reply).1,
        "Invalid parameter type for 'id', expected: integer"
    );
    // Any JSON value is a valid id and is echoed as sent.
    let reply = c.call(r#"{"execute":"guest-ping","id":{"b":[1,"x",null],"a":true}}"#);
    assert_eq!(reply["id"], json!({"b": [1, "x", null], "a": true}));
}

#[test]
fn client_disconnecting_mid_request_does_not_disturb_the_next() {
    let agent = Agent::start(&[]);
    {
        let mut c = agent.connect();
        c.send(b"{\"execute\": \"guest-ping\"}");
        assert_eq!(c.reply(), json!({"return": {}}));
        // Leave in the middle of a request.
        c.send(b"{\"execute\": \"guest-sync\", \"argum");
    }
    // The parser state survives the reconnect (as in qemu-ga): the new client flushes it
    // with 0xFF, as the protocol tells clients to, and is then served normally.
    let mut c = agent.connect();
    c.send(b"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":9}}");
    let lines = c.lines(2);
    assert!(lines[0].starts_with(b"{\"error\""));
    assert_eq!(lines[1], b"\xff{\"return\": 9}".to_vec());
    assert_eq!(
        c.call("{\"execute\":\"guest-ping\",\"id\":2}"),
        json!({"return": {}, "id": 2})
    );
}

#[test]
fn client_vanishing_during_a_large_reply_is_not_fatal() {
    let agent = Agent::start(&[]);
    let file = agent.dir.path().join("big");
    std::fs::write(&file, vec![b'x'; 8 << 20]).expect("write test file");
    {
        let mut c = agent.connect();
        let reply = c.call(&format!(
            "{{\"execute\":\"guest-file-open\",\"arguments\":{{\"path\":\"{}\"}}}}",
            file.display()
        ));
        let handle = reply["return"].as_i64().expect("handle");
        // Ask for 8 MiB and leave without reading the reply.
        c.send(format!("{{\"execute\":\"guest-file-read\",\"arguments\":{{\"handle\":{handle},\"count\":8388608}}}}").as_bytes());
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut c = agent.connect();
    c.send(b"\xff\n");
    c.lines(1);
    assert_eq!(
        c.call("{\"execute\":\"guest-ping\"}"),
        json!({"return": {}})
    );
}

#[test]
fn success_response_false_sends_nothing_on_success() {
    // guest-suspend-ram with a harmless stand-in for systemctl found first in PATH: it says
    // the sleep target is supported (exit 3 to `status`) and succeeds at `suspend`.
    let bin = tempfile::tempdir().expect("temporary directory");
    let log = bin.path().join("calls");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {}\nif [ \"$1\" = status ]; then exit 3; fi\nexit 0\n",
        log.display()
    );
    let systemctl = bin.path().join("systemctl");
    std::fs::write(&systemctl, script).expect("write stand-in");
    std::fs::set_permissions(
        &systemctl,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("make it executable");
    let path = format!("{}:/usr/bin:/bin:/usr/sbin:/sbin", bin.path().display());
    let agent = Agent::start_with(&common::agent_binary(), &[], &[("PATH", &path)]);
    let mut c = agent.connect();
    c.send(b"{\"execute\":\"guest-suspend-ram\",\"id\":1}");
    c.expect_silence(Duration::from_millis(500));
    assert_eq!(
        std::fs::read_to_string(&log).expect("stand-in was called"),
        "status systemd-suspend\nsuspend\n"
    );
    // The next request is answered normally; arguments errors are still reported.
    assert_eq!(
        c.call("{\"execute\":\"guest-ping\",\"id\":2}"),
        json!({"return": {}, "id": 2})
    );
    let reply = c.call("{\"execute\":\"guest-suspend-ram\",\"arguments\":{\"x\":1},\"id\":3}");
    assert_eq!(reply["id"], json!(3));
    assert_eq!(error_of(&reply).1, "Parameter 'x' is unexpected");
}

#[test]
fn file_round_trip_and_handle_numbering() {
    let agent = Agent::start(&[]);
    let mut c = agent.connect();
    let path = agent.dir.path().join("f.txt");
    let open = |c: &mut common::Client, mode: &str| {
        let reply = c.call(&format!(
            "{{\"execute\":\"guest-file-open\",\"arguments\":{{\"path\":\"{}\",\"mode\":\"{mode}\"}}}}",
            path.display()
        ));
        reply["return"]
            .as_i64()
            .unwrap_or_else(|| panic!("open failed: {reply}"))
    };
    let h = open(&mut c, "w+");
    assert_eq!(h, 1000);
    let reply = c.call(&format!(r#"{{"execute":"guest-file-write","arguments":{{"handle":{h},"buf-b64":"aGVsbG8gd29ybGQ="}}}}"#));
    assert_eq!(reply, json!({"return": {"count": 11, "eof": false}}));
    let reply = c.call(&format!(
        r#"{{"execute":"guest-file-seek","arguments":{{"handle":{h},"offset":6,"whence":"set"}}}}"#
    ));
    assert_eq!(reply, json!({"return": {"position": 6, "eof": false}}));
    c.send(format!(r#"{{"execute":"guest-file-read","arguments":{{"handle":{h}}}}}"#).as_bytes());
    assert_eq!(
        c.lines(1),
        [br#"{"return": {"count": 5, "buf-b64": "d29ybGQ=", "eof": true}}"#.to_vec()]
    );
    let reply = c.call(&format!(
        r#"{{"execute":"guest-file-read","arguments":{{"handle":{h},"count":50331649}}}}"#
    ));
    assert_eq!(
        error_of(&reply).1,
        "value '50331649' is invalid for argument count"
    );
    assert_eq!(
        c.call(&format!(
            r#"{{"execute":"guest-file-close","arguments":{{"handle":{h}}}}}"#
        )),
        json!({"return": {}})
    );
    assert_eq!(open(&mut c, "r"), 1001);
    let state = std::fs::read_to_string(agent.state_dir().join("qga.state")).expect("state file");
    assert_eq!(state, "[global]\nfd_counter=1002\n");
}
