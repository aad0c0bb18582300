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
        let same = current
            .lines()
            .zip(output.code.lines())
            .take_while(|(a, b)| a == b)
            .count();
        panic!(
            "{} is stale (it differs from line {}): run `cargo xtask codegen` and commit the result",
            path.display(),
            same + 1
        );
    }
}
