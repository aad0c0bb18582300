//! Legacy mode, the oldest dialects (QEMU 0.15-2.4): each construct with a small schema, its
//! modern spelling in the model, and strict mode still refusing it.

mod common;

use common::{dump_user, err, legacy_err, legacy_ok};
use qapi_parser::{Entity, Implicit};

#[test]
fn commas_may_be_left_out_or_trail() {
    // QEMU 0.15-1.5's tokenizer skipped a comma where one was missing or one too many.
    let src = "{ 'command': 'guest-sync'\n  'data': { 'id': 'int' 'x': ['str',] 'y': 'str', },\n  'returns': 'int' }";
    let s = legacy_ok(src);
    match s.get("guest-sync") {
        Some(Entity::Command(c)) => assert_eq!(c.ret_type.as_deref(), Some("int")),
        other => panic!("{other:?}"),
    }
    assert!(
        err(src).ends_with("t.json:2:3: expected ',' or '}'"),
        "{}",
        err(src)
    );
    // Anything else is still a syntax error.
    assert!(legacy_err("{ 'a': 'b' : 'c' }")
        .to_string()
        .ends_with("expected ',' or '}'"));
    assert!(legacy_err("{ 'a' 'b' }")
        .to_string()
        .ends_with("expected ':'"));
}

#[test]
fn anonymous_nested_structs_become_implicit_types() {
    // QEMU 0.15-2.4: `{ 'qemu': { 'major': 'int' } }` is a member of an unnamed struct type.
    let src = "{ 'type': 'VersionInfo', 'data': { 'qemu': { 'major': 'int', '*deep': { 'x': 'str' } }, 'package': 'str' } }\n\
               { 'command': 'c', 'data': { 'opt': { 'a': 'bool' } } }";
    let s = legacy_ok(src);
    let d = dump_user(&s);
    assert!(
        d.contains("object q_obj_VersionInfo-qemu.deep-nested\n    member x: str optional=False\n"),
        "{d}"
    );
    assert!(
        d.contains("object q_obj_VersionInfo-qemu-nested\n    member major: int optional=False\n    member deep: q_obj_VersionInfo-qemu.deep-nested optional=True\n"),
        "{d}"
    );
    assert!(
        d.contains("object VersionInfo\n    member qemu: q_obj_VersionInfo-qemu-nested optional=False\n    member package: str optional=False\n"),
        "{d}"
    );
    assert!(
        d.contains("object q_obj_c-arg\n    member opt: q_obj_c-opt-nested optional=False\n"),
        "{d}"
    );
    let made = |name: &str| s.get(name).and_then(Entity::implicit).cloned();
    assert_eq!(
        made("q_obj_VersionInfo-qemu.deep-nested"),
        Some(Implicit::Nested {
            of: "VersionInfo".into(),
            member: "qemu.deep".into()
        })
    );
    assert_eq!(
        made("q_obj_c-opt-nested"),
        Some(Implicit::Nested {
            of: "c".into(),
            member: "opt".into()
        })
    );
    // The long form is still the long form; an empty object is neither.
    let s = legacy_ok("{ 'struct': 'S', 'data': { 'a': { 'type': 'int', 'if': 'X' } } }");
    assert!(dump_user(&s).contains("member a: int optional=False\n        if X\n"));
    assert!(legacy_err("{ 'struct': 'S', 'data': { 'a': {} } }")
        .to_string()
        .ends_with("'data' member 'a' misses key 'type'"));
    assert!(err(src).ends_with("expression must have exactly one key 'enum', 'struct', 'union', 'alternate', 'command', 'event'"));
    assert!(
        err("{ 'struct': 'Foo', 'data': { 'q': { 'major': 'int' } } }")
            .ends_with("'data' member 'q' misses key 'type'")
    );
}

#[test]
fn names_of_qemu_2_4_shape() {
    // QEMU 2.4 allowed `[A-Za-z_][A-Za-z0-9_.-]*` (enum values may start with a digit);
    // earlier releases checked no names.
    let src = "{ 'enum': 'BlkdebugEvent', 'data': ['l1_grow.alloc_table', '2x', '_priv'] }\n\
               { 'struct': 'S', 'data': { '_hidden': 'int', 'a.b': 'BlkdebugEvent' } }";
    let s = legacy_ok(src);
    match s.get("BlkdebugEvent") {
        Some(Entity::Enum(e)) => {
            let values: Vec<&str> = e.values.iter().map(|v| v.name.as_str()).collect();
            assert_eq!(values, ["l1_grow.alloc_table", "2x", "_priv"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(err(src).ends_with("'data' member 'l1_grow.alloc_table' has an invalid name"));
    // Still no spaces, no other punctuation, no empty names.
    for bad in ["'a b'", "'a/b'", "''", "'-a'"] {
        let e = legacy_err(&format!("{{ 'enum': 'E', 'data': [{bad}] }}")).to_string();
        assert!(e.ends_with("has an invalid name"), "{bad}: {e}");
    }
}

#[test]
fn string_discriminators_read_as_the_branch_enum() {
    // QEMU 1.7: a flat union's discriminator could be a `str` member of its base; its value
    // was one of the branch names (the implicit enum `<Union>Kind`).
    let src = "{ 'type': 'Common', 'data': { 'id': 'str' } }\n\
               { 'type': 'OptsBase', 'base': 'Common', 'data': { 'driver': 'str', '*ro': 'bool' } }\n\
               { 'type': 'File', 'data': { 'filename': 'str' } }\n\
               { 'union': 'Opts', 'base': 'OptsBase', 'discriminator': 'driver',\n  'data': { 'file': 'File', 'raw': 'File' } }";
    let s = legacy_ok(src);
    let d = dump_user(&s);
    assert!(
        d.contains("enum OptsKind\n    member file\n    member raw\nobject q_obj_Opts-base\n    member id: str optional=False\n    member driver: OptsKind optional=False\n    member ro: bool optional=True\nobject Opts\n    base q_obj_Opts-base\n    tag driver\n    case file: File\n    case raw: File\n"),
        "{d}"
    );
    let made = |name: &str| s.get(name).and_then(Entity::implicit).cloned();
    assert_eq!(
        made("OptsKind"),
        Some(Implicit::UnionKind { of: "Opts".into() })
    );
    assert_eq!(
        made("q_obj_Opts-base"),
        Some(Implicit::UnionBase { of: "Opts".into() })
    );
    // The named base is unchanged for its other users.
    assert_eq!(
        s.all_members("OptsBase")
            .iter()
            .map(|m| (m.name.as_str(), m.ty.as_str()))
            .collect::<Vec<_>>(),
        [("id", "str"), ("driver", "str"), ("ro", "bool")]
    );
    let strict = src.replace("'type'", "'struct'");
    assert!(err(&strict)
        .ends_with("discriminator member 'driver' of base type 'OptsBase' must be of enum type"));
    // A branch that is not a struct is still refused; so is a clash with a defined enum.
    assert!(
        legacy_err(&format!("{src}\n{{ 'enum': 'OptsKind', 'data': [] }}"))
            .to_string()
            .contains("'OptsKind' is already defined")
    );
}

#[test]
fn quote_and_slash_escapes() {
    // QEMU 1.0-4.x read `\'`, `\"` and `\/` as the character; `\n` changed meaning between
    // eras and stays an error.
    let src = "{ 'enum': 'E', 'data': [ 'a' ], 'prefix': 'x\\'y\\\"z\\/w' }";
    match legacy_ok(src).get("E") {
        Some(Entity::Enum(e)) => assert_eq!(e.prefix.as_deref(), Some("x'y\"z/w")),
        other => panic!("{other:?}"),
    }
    assert!(err(src).ends_with("unknown escape \\'"), "{}", err(src));
    assert!(legacy_err("{ 'enum': 'E', 'data': [ 'a\\nb' ] }")
        .to_string()
        .ends_with("unknown escape \\n"));
}
