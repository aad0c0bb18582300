//! Introspection of a small schema (`tests/fixtures/introspect/`) against expectations written
//! by hand from the rules of QEMU's introspection generator: masking in order of first use,
//! integers as `int`, arrays as `[T]`, only what commands and events reach, module order,
//! conditions dropping entries, members, branches, enum values and features (but never
//! changing the numbering). Also: QEMU's key order, unmasking, and the Builder's constant.

use qapi_codegen::{condition_names, introspect, load_schema, Builder, Conditions, UnmappedCfg};
use qapi_parser::Schema;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/introspect")
        .join(name)
}

fn schema() -> Schema {
    load_schema(&fixture("schema.json"), false).expect("fixture schema loads")
}

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name)).expect("expectation file");
    serde_json::from_str(&text).expect("expectation is JSON")
}

/// Equal as JSON values (key order aside, which `keys_in_qemu_order` checks), entry by entry
/// so a failure names the first differing one.
fn assert_same(actual: &Value, expected: &Value) {
    let (Value::Array(a), Value::Array(e)) = (actual, expected) else {
        panic!("not arrays: {actual}");
    };
    for (i, (x, y)) in a.iter().zip(e).enumerate() {
        assert_eq!(x, y, "entry {i} differs");
    }
    assert_eq!(a.len(), e.len(), "entry counts differ:\n{actual:#}");
}

fn only(names: &[&str]) -> Conditions {
    Conditions::Only(names.iter().map(|n| n.to_string()).collect())
}

#[test]
fn every_condition_on() {
    let value = introspect(&schema(), &Conditions::All, false);
    assert_same(&value, &expected("expected-all.json"));
    // Naming every condition is the same as all of them.
    let names: Vec<String> = condition_names(&schema()).into_iter().collect();
    assert_eq!(
        names,
        [
            "HAVE_EXTRA",
            "HAVE_FANCY",
            "HAVE_GREEN",
            "HAVE_P",
            "HAVE_SECRET"
        ]
    );
    let listed = Conditions::Only(names.into_iter().collect());
    assert_eq!(introspect(&schema(), &listed, false), value);
}

#[test]
fn every_condition_off() {
    let value = introspect(&schema(), &only(&[]), false);
    assert_same(&value, &expected("expected-none.json"));
}

#[test]
fn conditions_are_evaluated_one_by_one() {
    let value = introspect(&schema(), &only(&["HAVE_GREEN"]), false);
    let entries = value.as_array().unwrap();
    let color = entries.iter().find(|e| e["name"] == "7").unwrap();
    assert_eq!(color["values"], serde_json::json!(["red", "green", "blue"]));
    // `not HAVE_SECRET`: ALARM is there, reveal is not.
    let names: Vec<&str> = entries
        .iter()
        .take(4)
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["draw", "ping", "TICK", "ALARM"]);
}

/// Key order of each kind of object as QEMU 10.0.2 writes it (observed in its
/// `query-qmp-schema`): sorted keys put into a QDict, read back in bucket order.
#[test]
fn keys_in_qemu_order() {
    let value = introspect(&schema(), &Conditions::All, false);
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let e = value.as_array().unwrap();
    let cases: [(&Value, &[&str]); 10] = [
        (
            &e[0],
            &[
                "name",
                "ret-type",
                "allow-oob",
                "meta-type",
                "arg-type",
                "features",
            ],
        ),
        (&e[1], &["name", "ret-type", "meta-type", "arg-type"]),
        (&e[2], &["name", "meta-type", "arg-type"]),
        (&e[4]["members"][1], &["name", "default", "type"]),
        (&e[5]["members"][5], &["name", "type", "features"]),
        (&e[7], &["name", "element-type", "meta-type"]),
        (&e[9], &["name", "tag", "variants", "members", "meta-type"]),
        (&e[9]["variants"][0], &["case", "type"]),
        (&e[13], &["name", "json-type", "meta-type"]),
        (&e[14], &["name", "members", "meta-type", "values"]),
    ];
    for (v, want) in cases {
        assert_eq!(keys(v), want, "{v}");
    }
}

#[test]
fn unmasked_names() {
    let value = introspect(&schema(), &Conditions::All, true);
    assert_eq!(value[0]["arg-type"], "q_obj_draw-arg");
    assert_eq!(value[0]["ret-type"], "Point");
    assert_eq!(value[3]["ret-type"], "[Secret]");
    assert_eq!(value[6]["name"], "q_empty");
    assert_eq!(value[7]["name"], "[Secret]");
    assert_eq!(value[9]["name"], "Shape");
    assert_eq!(value[9]["members"][0]["type"], "Color");
    // Only the names change.
    let masked = introspect(&schema(), &Conditions::All, false);
    assert_eq!(masked.as_array().unwrap().len(), 21);
    assert_eq!(value.as_array().unwrap().len(), 21);
    assert_eq!(value[13], masked[13]);
}

#[test]
fn condition_list_files() {
    let listed = Conditions::from_list("# header\nHAVE_P  # why\n\n  HAVE_GREEN\n");
    let want: BTreeSet<String> = ["HAVE_GREEN", "HAVE_P"].map(String::from).into();
    assert_eq!(listed, Conditions::Only(want));
}

/// The generated constant: off by default; on, the compact text of the introspection with
/// every condition on except those that can never hold.
#[test]
fn builder_constant() {
    let base = Builder::new()
        .schema(fixture("schema.json"))
        .unmapped_cfg(UnmappedCfg::Enabled)
        .emit_rerun_if_changed(false);
    let plain = base.clone().generate().unwrap().code;
    assert!(!plain.contains("SCHEMA_INFO"));

    let code = base.clone().introspection(true).generate().unwrap().code;
    let file = syn::parse_file(&code).expect("output parses");
    let text = constant(&file);
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value, introspect(&schema(), &Conditions::All, false));
    assert_eq!(text, value.to_string(), "compact, in QEMU's key order");
    assert!(code.contains("with every `if` condition on."), "{code}");

    let code = base
        .unmapped_cfg(UnmappedCfg::Disabled)
        .cfg("HAVE_GREEN", "all()")
        .cfg("HAVE_P", "any()")
        .cfg("HAVE_SECRET", "unix")
        .introspection(true)
        .generate()
        .unwrap()
        .code;
    let text = constant(&syn::parse_file(&code).unwrap());
    let value: Value = serde_json::from_str(&text).unwrap();
    let want = only(&["HAVE_GREEN", "HAVE_SECRET"]);
    assert_eq!(value, introspect(&schema(), &want, false));
    assert!(
        code.contains("on except HAVE_EXTRA, HAVE_FANCY, HAVE_P."),
        "{code}"
    );
}

/// The text of `pub const SCHEMA_INFO: &str`.
fn constant(file: &syn::File) -> String {
    for item in &file.items {
        if let syn::Item::Const(c) = item {
            if c.ident == "SCHEMA_INFO" {
                if let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) = &*c.expr
                {
                    return s.value();
                }
            }
        }
    }
    panic!("no SCHEMA_INFO string constant");
}
