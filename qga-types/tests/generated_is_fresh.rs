//! `src/generated.rs` is what the generator makes today: regenerated in memory with the same
//! configuration as `cargo xtask codegen` (both include `codegen.rs`) and compared.

use std::path::Path;

include!("../codegen.rs");

#[test]
fn generated_code_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("qga-types lies in the workspace");
    let output = qga_types_builder(root)
        .generate()
        .unwrap_or_else(|e| panic!("generating qga-types failed: {e}"));
    if let Err(stale) = output.check_fresh(&root.join(GENERATED)) {
        panic!("{stale}: run `cargo xtask codegen` and commit the result");
    }
}
