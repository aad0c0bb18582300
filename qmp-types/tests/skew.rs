//! The 10.0.2 bindings against two real QEMUs: Debian bookworm's 7.2 (`cargo xtask old-qemu`)
//! and the installed 10.0.2. Every argument-less query decodes leniently, and strictly fails
//! only where the skew report predicts it; the skew report lists exactly the commands 7.2 lacks (by
//! 7.2's own `query-commands`); capability queries answer known differences right on both;
//! against 10.0.2 only conditional parts of the schema remain.
//!
//! Skipped with a notice when a QEMU is missing, unless `QAPI_REQUIRE_EXTERNAL=1`.

#[path = "../examples/skew/queries.rs"]
mod queries;

use qapi_runtime::aio::AsyncConnection;
use qapi_runtime::skew::{ItemKind, Side};
use qapi_runtime::{Capabilities, Greeting, Skew, Unsupported};
use qmp_types::{
    AsyncClient, Client, DumpGuestMemoryArgs, DumpGuestMemoryFormat, QCryptoCipherAlgo,
};
use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A connected sync client, the greeting's major version and the live capabilities.
fn connect(qemu: &testenv::Qemu) -> (Client<UnixStream>, i64, Capabilities) {
    connect_to(qemu, "qmp")
}

/// [`connect`] on QMP socket `socket`.
fn connect_to(qemu: &testenv::Qemu, socket: &str) -> (Client<UnixStream>, i64, Capabilities) {
    let stream = UnixStream::connect(qemu.socket(socket)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut client = Client::new(stream);
    let greeting = client.connection().qmp_handshake().expect("handshake");
    let greeting = Greeting::from_message(&greeting).expect("greeting");
    let version = qmp_types::greeting_version(&greeting).expect("typed version");
    let caps = client.connection().capabilities().expect("capabilities");
    (client, version.qemu.major, caps)
}

/// QEMU 7.2; `test` names its socket directory (tests run in parallel).
fn old(test: &str) -> Option<testenv::Qemu> {
    testenv::Qemu::start_old(&format!("skew-7.2-{test}"), &["qmp"])
}

/// The installed QEMU 10.0.2, with a second QMP socket `b` (one client per monitor).
fn new(test: &str) -> Option<testenv::Qemu> {
    testenv::Qemu::start(&format!("skew-10-{test}"), &["qmp", "b"], &[])
}

#[test]
fn queries_on_7_2_decode_leniently_and_fail_strictly_only_where_the_skew_report_says() {
    let Some(qemu) = old("t1") else { return };
    let (mut client, major, live) = connect(&qemu);
    assert_eq!(major, 7);
    let bindings = qmp_types::schema_info();
    let skew = Skew::compare(&bindings, live.schema());
    let queries = queries::argumentless_queries(&bindings);
    let outcome = queries::run(&mut client, &live, &queries, false).expect("running the queries");
    assert!(outcome.passed.len() >= 40, "{outcome:?}");
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    assert!(
        outcome.skipped.iter().any(|q| q == "query-audiodevs"),
        "{outcome:?}"
    );
    let outcome = queries::run(&mut client, &live, &queries, true).expect("running the queries");
    // Strictly, a failure is a reply member the 10.0.2 bindings require and 7.2 does not send
    // (leniently its zero value); the skew report must list it among what 7.2 lacks, under
    // that query's return type.
    assert!(!outcome.failed.is_empty(), "{outcome:?}");
    for failure in &outcome.failed {
        let (query, error) = failure.split_once(": ").expect("query: error");
        let member = error
            .strip_prefix("Reply member '")
            .and_then(|rest| rest.split('\'').next())
            .and_then(|path| path.rsplit('.').next())
            .unwrap_or_else(|| panic!("not a missing member: {failure}"));
        // A missing member is one 7.2 lacks; an unknown member or value one it has extra.
        let side = if error.contains("is missing") {
            Side::Lacks
        } else {
            Side::Extra
        };
        assert!(
            skew.side(side)
                .any(|i| i.path.starts_with(&format!("{query}/ret-type/"))
                    && (i.kind == ItemKind::Member && i.path.ends_with(&format!("/{member}"))
                        || i.kind != ItemKind::Member)),
            "the skew report does not predict {failure}"
        );
    }
    eprintln!(
        "QEMU 7.2, strict: {} passed, {} failed (each predicted by the skew report): {:?}",
        outcome.passed.len(),
        outcome.failed.len(),
        outcome.failed
    );
}

#[test]
fn the_skew_report_lists_the_commands_7_2_lacks() {
    let Some(qemu) = old("t2") else { return };
    let (mut client, _, live) = connect(&qemu);
    // 7.2's own command list, from query-commands rather than the schema the report reads.
    let listed: BTreeSet<String> = client
        .query_commands()
        .expect("query-commands")
        .into_iter()
        .map(|c| c.name)
        .collect();
    let bindings = qmp_types::schema_info();
    let known: BTreeSet<String> = bindings.commands().map(|c| c.name.clone()).collect();
    let skew = Skew::compare(&bindings, live.schema());
    let commands = |side| -> BTreeSet<String> {
        skew.side(side)
            .filter(|i| i.kind == ItemKind::Command)
            .map(|i| i.path.clone())
            .collect()
    };
    let lacks = commands(Side::Lacks);
    assert_eq!(lacks, &known - &listed);
    assert_eq!(commands(Side::Extra), &listed - &known);
    assert!(lacks.contains("query-audiodevs") && lacks.contains("blockdev-set-active"));
    // Commands get their `since` from the schema docs.
    let mut skew = skew;
    let table = since_table();
    skew.fill_since(|path| table.since(path));
    let since = |path: &str| skew.items.iter().find(|i| i.path == path)?.since.clone();
    assert_eq!(since("query-audiodevs").as_deref(), Some("8.0"));
    assert_eq!(
        since("drive-backup/arg-type/discard-source").as_deref(),
        Some("9.1")
    );
    assert_eq!(
        since("dump-guest-memory/arg-type/format/^kdump-raw-zlib").as_deref(),
        Some("8.2")
    );
}

#[path = "../examples/skew/since.rs"]
mod since;

fn since_table() -> since::SinceTable {
    since::SinceTable::load().expect("schema/qmp parses")
}

/// Known differences between 7.2 and 10.0.2: (path, on 7.2, on 10.0.2).
const KNOWN: &[(&str, bool, bool)] = &[
    // Commands added after 7.2 (8.0, 10.0), and one dropped after it.
    ("query-audiodevs", false, true),
    ("blockdev-set-active", false, true),
    ("x-query-profile", true, false),
    // A member added in 9.1, one in 10.0 (through query-block's array).
    ("drive-backup/arg-type/discard-source", false, true),
    ("query-block/ret-type/inserted/active", false, true),
    ("query-block/ret-type/*/inserted/active", false, true),
    // Enum values added in 8.0 and 8.2; one both have.
    (
        "query-block/ret-type/inserted/image/format-specific/type/^file",
        false,
        true,
    ),
    (
        "dump-guest-memory/arg-type/format/^kdump-raw-zlib",
        false,
        true,
    ),
    ("blockdev-add/arg-type/+file/aio/^io_uring", true, true),
    // A feature added in 9.1, and an event added after 7.2.
    ("query-migrationthreads/$deprecated", false, true),
    ("NETDEV_VHOST_USER_CONNECTED", false, true),
    ("query-cpus-fast/ret-type/+s390x", true, true),
];

fn check_known(caps: &Capabilities, on_new: bool) {
    for (path, old, new) in KNOWN {
        let expected = if on_new { *new } else { *old };
        assert_eq!(caps.query(path), Ok(expected), "{path}");
    }
    assert_eq!(caps.has_event("NETDEV_VHOST_USER_CONNECTED"), on_new);
    assert_eq!(caps.has_command("query-audiodevs"), on_new);
    // Typed enum values, found through the bindings' schema: one added in 8.2, one in 9.0,
    // and two both have.
    assert_eq!(
        qmp_types::has_value(caps, &DumpGuestMemoryFormat::KdumpRawZlib),
        on_new
    );
    assert_eq!(qmp_types::has_value(caps, &QCryptoCipherAlgo::Sm4), on_new);
    assert!(qmp_types::has_value(
        caps,
        &DumpGuestMemoryFormat::KdumpZlib
    ));
    assert!(qmp_types::has_value(caps, &QCryptoCipherAlgo::Aes128));
    // Typed: the request a generated client call would send, checked without strings.
    let audiodevs = qmp_types::request(|c| c.query_audiodevs());
    let dump = |format| {
        qmp_types::request(|c| {
            c.dump_guest_memory(&DumpGuestMemoryArgs {
                paging: false,
                protocol: "file:/dev/null".into(),
                detach: None,
                begin: None,
                length: None,
                format: Some(format),
            })
        })
    };
    assert_eq!(
        caps.supports(&dump(DumpGuestMemoryFormat::KdumpZlib)),
        Ok(())
    );
    if on_new {
        assert_eq!(caps.supports(&audiodevs), Ok(()));
        assert_eq!(
            caps.supports(&dump(DumpGuestMemoryFormat::KdumpRawZlib)),
            Ok(())
        );
    } else {
        assert_eq!(
            caps.supports(&audiodevs),
            Err(Unsupported::Missing("query-audiodevs".into()))
        );
        assert_eq!(
            caps.supports(&dump(DumpGuestMemoryFormat::KdumpRawZlib)),
            Err(Unsupported::Missing(
                "dump-guest-memory/arg-type/format/^kdump-raw-zlib".into()
            ))
        );
    }
}

#[test]
fn capability_queries_answer_known_differences_on_7_2() {
    let Some(qemu) = old("t3") else { return };
    let (_, _, caps) = connect(&qemu);
    check_known(&caps, false);
}

#[tokio::test]
async fn capability_queries_answer_known_differences_on_10_0_2_with_both_clients() {
    let Some(qemu) = new("t4") else { return };
    let (connection, greeting) = AsyncConnection::connect_qmp_unix(qemu.socket("qmp"))
        .await
        .expect("QMP handshake");
    assert_eq!(
        qmp_types::greeting_version(&greeting).map(|v| v.qemu.major),
        Ok(10)
    );
    let client = AsyncClient::new(connection);
    let caps = client
        .connection()
        .capabilities()
        .await
        .expect("capabilities");
    check_known(&caps, true);
    let (_, _, sync_caps) = tokio::task::spawn_blocking(move || {
        let connected = connect_to(&qemu, "b");
        drop(qemu);
        connected
    })
    .await
    .expect("sync client");
    assert_eq!(
        sync_caps.schema().entities(),
        caps.schema().entities(),
        "both clients read the same schema"
    );
}

#[test]
fn against_10_0_2_only_conditional_parts_remain() {
    let Some(qemu) = new("t5") else { return };
    let (mut client, major, live) = connect(&qemu);
    assert_eq!(major, 10);
    let bindings = qmp_types::schema_info();
    let skew = Skew::compare(&bindings, live.schema());
    // The bindings have every condition on: the live build can only lack things.
    assert_eq!(skew.side(Side::Extra).count(), 0, "{skew}");
    assert_eq!(skew.side(Side::Differs).count(), 0, "{skew}");
    let lacks: Vec<&str> = skew.side(Side::Lacks).map(|i| i.path.as_str()).collect();
    assert!(lacks.len() < 150, "{skew}");
    // Other targets' commands, and host features Debian's build lacks (io_uring, blkio).
    for conditional in [
        "query-gic-capabilities",
        "dump-skeys",
        "blockdev-add/arg-type/+io_uring",
    ] {
        assert!(lacks.contains(&conditional), "{conditional}: {skew}");
    }
    // Strict, too: 10.0.2 sends exactly what the bindings know.
    let queries = queries::argumentless_queries(&bindings);
    for strict in [false, true] {
        let outcome =
            queries::run(&mut client, &live, &queries, strict).expect("running the queries");
        assert!(outcome.failed.is_empty(), "strict {strict}: {outcome:?}");
        assert!(outcome.passed.len() >= 50, "{outcome:?}");
    }
}

#[test]
fn since_comes_from_the_schema_docs() {
    let table = since_table();
    for (path, since) in [
        ("query-audiodevs", Some("8.0")),
        ("NETDEV_VHOST_USER_CONNECTED", Some("10.0")),
        // `(since X)` broken over two lines, and followed by more text.
        ("query-block-jobs/ret-type/*/+amend", Some("5.1")),
        (
            "nbd-server-start/arg-type/handshake-max-seconds",
            Some("10.0"),
        ),
        // `Since X` without parentheses, through an array and a union's base.
        (
            "query-block/ret-type/*/inserted/image/format-specific/type/^file",
            Some("8.0"),
        ),
        ("blockdev-add/arg-type/+file/aio/^io_uring", Some("5.0")),
        // Documented without a release.
        ("block-latency-histogram-set/arg-type/boundaries-zap", None),
        ("no-such-command", None),
    ] {
        assert_eq!(table.since(path).as_deref(), since, "{path}");
    }
}
