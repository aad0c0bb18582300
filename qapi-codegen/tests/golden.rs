//! Golden tests: small schemas covering every construct, whose generated Rust is checked in
//! next to them (`tests/golden/*.rs`), so a reviewer sees the output for each construct.
//!
//! A difference fails the test. To accept new output, run
//! `UPDATE_EXPECT=1 cargo test -p qapi-codegen --test golden` and review the diff.

use qapi_codegen::{generate, load_schema, MemberOrder, Options};
use std::path::Path;

/// (schema, expected output, member order)
const CASES: &[(&str, &str, MemberOrder)] = &[
    ("types.json", "types.rs", MemberOrder::Schema),
    ("types.json", "types_qemu_order.rs", MemberOrder::Qemu),
    ("commands.json", "commands.rs", MemberOrder::Schema),
    ("conditions.json", "conditions.rs", MemberOrder::Schema),
];

pub fn options(order: MemberOrder) -> Options {
    let mut options = Options {
        member_order: order,
        generated_by: "qapi-codegen's golden tests".to_owned(),
        ..Options::default()
    };
    options
        .cfg
        .insert("CONFIG_LINUX".into(), r#"target_os = "linux""#.into());
    options.cfg.insert("CONFIG_WIN32".into(), "windows".into());
    options
}

#[test]
fn generated_code_matches_the_checked_in_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut stale = Vec::new();
    for (schema, expected, order) in CASES {
        let loaded =
            load_schema(&dir.join(schema), false).unwrap_or_else(|e| panic!("{schema}: {e}"));
        let code = generate(&loaded, &options(*order))
            .unwrap_or_else(|e| panic!("{schema}: {e}"))
            .code;
        let path = dir.join(expected);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != code {
            if update {
                std::fs::write(&path, &code).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                eprintln!("updated {}", path.display());
            } else {
                stale.push(expected.to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated code differs from {stale:?}; if the change is intended, run \
         `UPDATE_EXPECT=1 cargo test -p qapi-codegen --test golden` and review the diff"
    );
}
