//! What the generator refuses, with messages that name the culprits, and how derived names
//! give way to schema names.

use qapi_codegen::{generate, Builder, Error, Options, UnmappedCfg};
use qapi_parser::parse_str;

fn gen(schema: &str, options: &Options) -> Result<String, String> {
    let schema = parse_str("test.json", schema, &qapi_parser::Options::default())
        .map_err(|e| e.to_string())?;
    generate(&schema, options)
        .map(|o| o.code)
        .map_err(|e| e.to_string())
}

#[test]
fn an_unmapped_condition_is_named() {
    let schema = "{ 'struct': 'Foo', 'data': { 'a': 'int' }, 'if': 'CONFIG_FOO' }";
    let err = gen(schema, &Options::default()).unwrap_err();
    assert!(
        err.contains("condition 'CONFIG_FOO' (of struct 'Foo') has no cfg mapping"),
        "{err}"
    );
    let mut options = Options::default();
    options.cfg.insert("CONFIG_FOO".into(), "unix".into());
    let code = gen(schema, &options).unwrap();
    assert!(
        code.contains("#[cfg(unix)]\n#[derive(Debug, Clone, PartialEq)]\npub struct Foo"),
        "{code}"
    );
    options.cfg.clear();
    options.unmapped_cfg = UnmappedCfg::Feature;
    assert!(gen(schema, &options)
        .unwrap()
        .contains(r#"#[cfg(feature = "config_foo")]"#));
}

#[test]
fn members_that_clash_in_rust_are_reported_with_both_names() {
    let schema = "{ 'pragma': { 'member-name-exceptions': [ 'Foo' ] } }
                  { 'struct': 'Foo', 'data': { 'fooBar': 'int', 'foo-bar': 'int' } }";
    let err = gen(schema, &Options::default()).unwrap_err();
    assert!(err.contains("member 'foo-bar' of 'Foo' and member 'fooBar' of 'Foo' both map to the Rust name 'foo_bar'"), "{err}");
}

#[test]
fn members_told_apart_only_by_case_get_numbered_fields() {
    // QEMU 1.0-2.5's CpuInfo had both `PC` (x86) and `pc` (SPARC).
    let schema = "{ 'pragma': { 'member-name-exceptions': [ 'CpuInfo' ] } }
                  { 'struct': 'CpuInfo', 'data': { '*PC': 'int', '*pc': 'int' } }";
    let code = gen(schema, &Options::default()).unwrap();
    assert!(code.contains("    pub pc: Option<i64>,\n"), "{code}");
    assert!(code.contains("    pub pc_2: Option<i64>,\n"), "{code}");
    assert!(code.contains(r#"pc: members.optional("PC")?"#), "{code}");
    assert!(code.contains(r#"pc_2: members.optional("pc")?"#), "{code}");
}

#[test]
fn types_that_clash_in_rust_are_reported_with_both_names() {
    let schema = "{ 'struct': 'GuestPCIAddress', 'data': { 'a': 'int' } }
                  { 'struct': 'GuestPciAddress', 'data': { 'a': 'int' } }";
    let err = gen(schema, &Options::default()).unwrap_err();
    assert!(err.contains("struct 'GuestPciAddress' and struct 'GuestPCIAddress' both map to the Rust name 'GuestPciAddress'"), "{err}");
}

#[test]
fn derived_names_give_way_to_schema_names() {
    let schema = "{ 'struct': 'PingArgs', 'data': { 'a': 'int' } }
                  { 'command': 'ping', 'data': { 'b': 'int' } }
                  { 'struct': 'Event', 'data': { 'c': 'int' } }";
    let code = gen(schema, &Options::default()).unwrap();
    assert!(code.contains("pub struct PingArgs {\n    pub a: i64,"));
    assert!(code.contains("pub struct PingArgs2 {\n    pub b: i64,"));
    assert!(code.contains("fn ping(&mut self, arguments: PingArgs2)"));
    assert!(
        code.contains("pub enum Event2 {"),
        "the event enum gives way to struct Event"
    );
}

#[test]
fn errors_are_typed() {
    let schema = parse_str(
        "test.json",
        "{ 'struct': 'Foo', 'data': { 'a': 'int' }, 'if': 'X' }",
        &qapi_parser::Options::default(),
    )
    .unwrap();
    match generate(&schema, &Options::default()) {
        Err(Error::UnmappedCondition { condition, used_by }) => {
            assert_eq!(
                (condition.as_str(), used_by.as_str()),
                ("X", "struct 'Foo'")
            )
        }
        other => panic!("{other:?}"),
    }
    let mut options = Options::default();
    options.cfg.insert("X".into(), "not a predicate".into());
    assert!(matches!(
        generate(&schema, &options),
        Err(Error::BadPredicate { condition, .. }) if condition == "X"
    ));
    assert!(matches!(Builder::new().generate(), Err(Error::NoSchema)));
}

#[test]
fn a_schema_error_keeps_the_front_end_error_and_its_report() {
    let dir = std::env::temp_dir().join(format!("qapi-codegen-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    std::fs::write(&path, "{ 'struct': 'Foo', 'data': { 'a': 'Nope' } }\n").unwrap();
    let result = Builder::new()
        .schema(&path)
        .emit_rerun_if_changed(false)
        .generate();
    std::fs::remove_dir_all(&dir).unwrap();
    let Err(Error::Schema(e)) = result else {
        panic!("{result:?}");
    };
    assert_eq!(e.line(), Some(1));
    assert!(e.message().contains("uses unknown type 'Nope'"), "{e}");
    // The report shows the source line, as rustc does.
    assert!(
        e.report().contains("'data': { 'a': 'Nope' }"),
        "{}",
        e.report()
    );
}

#[test]
fn a_bad_type_override_is_reported() {
    let schema = "{ 'struct': 'Foo', 'data': { 'a': 'str' } }";
    let mut options = Options::default();
    options
        .type_overrides
        .insert("Foo.b".into(), "Vec<u8>".into());
    let err = gen(schema, &options).unwrap_err();
    assert!(err.contains("'Foo' has no member 'b'"), "{err}");
    options.type_overrides.clear();
    options
        .type_overrides
        .insert("Foo.a".into(), "qapi_runtime::Base64Bytes".into());
    assert!(gen(schema, &options)
        .unwrap()
        .contains("pub a: qapi_runtime::Base64Bytes,"));
}

#[test]
fn legacy_simple_unions_get_wrapper_structs() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/legacy/simple-union.json"
    );
    let schema = qapi_parser::load(path, &qapi_parser::Options { legacy: true }).unwrap();
    let code = generate(&schema, &Options::default()).unwrap().code;
    // One wrapper per wrapped type, shared by both unions, with the single member `data`.
    assert_eq!(
        code.matches("pub struct InetWrapper {").count(),
        1,
        "{code}"
    );
    assert!(code.contains("pub struct IntListWrapper {"), "{code}");
    assert!(code.contains("Inet(InetWrapper)"), "{code}");
    assert!(code.contains("pub data: Inet,"), "{code}");
    // The old example section is fenced, not read as Markdown.
    assert!(
        code.contains("/// ```text\n/// 1. An inet address"),
        "{code}"
    );
}
