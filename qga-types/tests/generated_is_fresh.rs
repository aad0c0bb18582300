//! `src/generated.rs` is what the generator makes today: regenerated in memory with the same
//! configuration as `cargo xtask codegen` (both include `codegen.rs`) and compared.

use std::path::Path;

include!("../codegen.rs");

#[test]
fn generated_code_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("qga-types lies in the workspace");
    let output = match qga_types_builder(root).generate() {
        Ok(output) => output,
        Err(e) => panic!("generating qga-types failed: {e}"),
    };
    let path = root.join(GENERATED);
    let current = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    if current != output.code {
        let line = current
            .lines()
            .zip(output.code.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| current.lines().count().min(output.code.lines().count()), |i| i)
            + 1;
        panic!(
            "{} is stale (first difference at line {line}): run `cargo xtask codegen` and commit the result",
            path.display()
        );
    }
}
