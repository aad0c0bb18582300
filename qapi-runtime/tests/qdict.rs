//! QDict and GHashTable orders against what QEMU 10.0.2 does (orders from the protocol spec,
//! "first unexpected member" answers captured from a real qemu-ga).

use qapi_runtime::qdict::{qdict_order, StrSet};

fn ordered<'a>(keys: &[&'a str]) -> Vec<&'a str> {
    qdict_order(keys.iter().copied())
        .into_iter()
        .map(|i| keys[i])
        .collect()
}

#[test]
fn qdict_orders_match_qemu_output() {
    assert_eq!(ordered(&["return", "id"]), ["return", "id"]);
    assert_eq!(ordered(&["error", "id"]), ["id", "error"]);
    assert_eq!(ordered(&["class", "desc"]), ["class", "desc"]);
    assert_eq!(
        ordered(&["count", "buf-b64", "eof"]),
        ["count", "buf-b64", "eof"]
    );
    assert_eq!(ordered(&["position", "eof"]), ["eof", "position"]);
    assert_eq!(
        ordered(&["load1m", "load5m", "load15m"]),
        ["load15m", "load5m", "load1m"]
    );
    assert_eq!(
        ordered(&["logical-id", "online", "can-offline"]),
        ["online", "can-offline", "logical-id"]
    );
}

/// Builds the visitor's set from a request's keys, removes the visited ones, returns the first
/// key left.
fn first_unexpected<'a>(keys: &[&'a str], visited: &[&str]) -> Option<&'a str> {
    let mut set = StrSet::new();
    for i in qdict_order(keys.iter().copied()) {
        set.insert(keys[i]);
    }
    for v in visited {
        assert!(set.remove(v));
    }
    let first = set.iter().next();
    first
}

#[test]
fn first_unexpected_member_matches_qemu_ga() {
    assert_eq!(first_unexpected(&["a", "b", "c"], &[]), Some("b"));
    assert_eq!(first_unexpected(&["c", "b", "a"], &[]), Some("b"));
    let many = ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10"];
    assert_eq!(first_unexpected(&many, &[]), Some("a4"));
    assert_eq!(first_unexpected(&["id", "zz", "yy"], &["id"]), Some("yy"));
    assert_eq!(first_unexpected(&["id"], &["id"]), None);
}
