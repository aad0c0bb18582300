//! Real schemas: QEMU 10.0.2's guest-agent schema must dump exactly as QEMU's own harness
//! did, the whole QMP schema must check, and the 1.5-era seed must fail strictly but load
//! in legacy mode.

mod common;

use std::process::Command;

use common::{legacy, repo, strict};
use qapi_parser::{load, Entity, SectionKind};

#[test]
fn qga_dump_matches_qemu() {
    let want = std::fs::read_to_string(repo("qapi-parser/tests/fixtures/qga-10.0.dump"))
        .expect("reference dump");
    let schema = load(repo("schema/qga/qapi-schema.json"), &strict()).expect("valid");
    assert!(
        qapi_parser::dump(&schema) == want,
        "dump differs from QEMU's"
    );
}

#[test]
fn qapi_dump_binary_matches_qemu_from_the_schemas_dir() {
    let output = Command::new(env!("CARGO_BIN_EXE_qapi-dump"))
        .arg("qga/qapi-schema.json")
        .current_dir(repo("schema"))
        .output()
        .expect("run qapi-dump");
    assert!(output.status.success());
    assert!(output.stderr.is_empty());
    let want =
        std::fs::read(repo("qapi-parser/tests/fixtures/qga-10.0.dump")).expect("reference dump");
    assert!(
        output.stdout == want,
        "qapi-dump output differs from QEMU's"
    );
}

#[test]
fn qapi_dump_reports_errors_on_stderr() {
    let output = Command::new(env!("CARGO_BIN_EXE_qapi-dump"))
        .arg("qga-1.5/qapi-schema.json")
        .current_dir(repo("schema"))
        .output()
        .expect("run qapi-dump");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "qga-1.5/qapi-schema.json:39:1: '@id:' not allowed in free-form documentation\n"
    );
}

#[test]
fn qmp_schema_checks() {
    let s = load(repo("schema/qmp/qapi-schema.json"), &strict()).expect("valid");
    assert_eq!(s.entities().len(), 1406);
    assert_eq!(s.modules().len(), 44);
    assert_eq!(
        s.modules()[..3],
        ["./builtin", "qapi-schema.json", "pragma.json"]
    );
    assert_eq!(s.commands().count(), 240);
    assert_eq!(s.events().count(), 56);
    // Modules of nested includes come right after their includer's.
    let block = s.modules().iter().position(|m| m == "block.json");
    let core = s.modules().iter().position(|m| m == "block-core.json");
    assert_eq!(core, block.map(|b| b + 1));
    match s.get("blockdev-add") {
        Some(Entity::Command(c)) => {
            assert!(c.boxed);
            assert_eq!(c.arg_type.as_deref(), Some("BlockdevOptions"));
        }
        other => panic!("{other:?}"),
    }
    match s.get("BlockdevOptions") {
        Some(Entity::Object(o)) => {
            let v = o.variants.as_ref().expect("a union");
            assert_eq!(v.tag, "driver");
            assert!(o.base.as_deref().is_some_and(|b| b.starts_with("q_obj_")));
        }
        other => panic!("{other:?}"),
    }
    // Every entity is findable by name, and arrays live in their element's module.
    for e in s.entities() {
        if let Entity::Array(a) = e {
            let elem = s.get(&a.element).expect("element exists");
            assert_eq!(a.common.module, elem.common().module, "{}", a.common.name);
        }
        if !matches!(e, Entity::Include(_)) {
            assert!(std::ptr::eq(s.get(e.name()).expect("indexed"), e));
        }
    }
}

#[test]
fn seed_loads_in_legacy_mode() {
    let s = load(repo("schema/qga-1.5/qapi-schema.json"), &legacy()).expect("valid");
    assert_eq!(s.commands().count(), 23);
    let structs = s
        .entities()
        .iter()
        .filter(|e| matches!(e, Entity::Object(o) if o.common.info.is_some() && !o.is_implicit()))
        .count();
    assert_eq!(structs, 8);
    // The doc written for "GuestFsFreezeStatus" belongs to the enum.
    let e = s.get("GuestFsfreezeStatus").expect("enum");
    let doc = s.doc_of(e).expect("documented");
    assert_eq!(doc.symbol.as_deref(), Some("GuestFsfreezeStatus"));
    let values: Vec<&str> = doc.args.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(values, ["thawed", "frozen"]);
    // The block without symbol line documents guest-sync-delimited.
    let doc = s
        .doc_of(s.get("guest-sync-delimited").expect("cmd"))
        .expect("documented");
    assert_eq!(doc.args[0].name, "id");
    assert!(doc.sections.iter().any(|s| s.kind == SectionKind::Returns));
    // `@filepath` describes the renamed `path` argument.
    let doc = s
        .doc_of(s.get("guest-file-open").expect("cmd"))
        .expect("documented");
    let args: Vec<&str> = doc.args.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(args, ["path", "mode"]);
    assert!(!doc.args[1].text.contains("#optional"));
    // `supported_commands` is accepted, 'success-response': 'no' is false.
    match s.get("GuestAgentInfo") {
        Some(Entity::Object(o)) => assert_eq!(o.members[1].name, "supported_commands"),
        other => panic!("{other:?}"),
    }
    match s.get("guest-shutdown") {
        Some(Entity::Command(c)) => assert!(!c.success_response),
        other => panic!("{other:?}"),
    }
    // Void commands keep their old `Returns:` text as a plain paragraph.
    let doc = s
        .doc_of(s.get("guest-set-time").expect("cmd"))
        .expect("documented");
    assert!(doc.sections.iter().all(|s| s.kind != SectionKind::Returns));
    assert!(doc
        .sections
        .iter()
        .any(|s| s.text == "Returns: Nothing on success."));
}

#[test]
fn modern_schemas_mean_the_same_in_legacy_mode() {
    let strict_dump =
        qapi_parser::dump(&load(repo("schema/qga/qapi-schema.json"), &strict()).expect("valid"));
    let legacy_dump =
        qapi_parser::dump(&load(repo("schema/qga/qapi-schema.json"), &legacy()).expect("valid"));
    assert!(strict_dump == legacy_dump);
    let qmp = load(repo("schema/qmp/qapi-schema.json"), &legacy()).expect("valid");
    assert_eq!(qmp.entities().len(), 1406);
}
