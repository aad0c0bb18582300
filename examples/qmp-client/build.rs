//! Generates QMP bindings for QEMU 10.0's schema into `OUT_DIR`, as a user of qapi-codegen
//! would (compare prost-build). `src/lib.rs` includes the result.

use qapi_codegen::{Builder, UnmappedCfg};
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"));
    let schema = manifest.join("../../schema/qmp/qapi-schema.json");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("run by cargo")).join("qmp.rs");
    let result = Builder::new()
        .schema(&schema)
        // A client should understand any build of QEMU: compile every conditional part in.
        .unmapped_cfg(UnmappedCfg::Enabled)
        .generate_to(&out);
    if let Err(e) = result {
        // A build script reports errors by failing; the message names the schema problem.
        eprintln!(
            "error: generating QMP bindings from {}: {e}",
            schema.display()
        );
        std::process::exit(1);
    }
    println!("cargo:rerun-if-changed=build.rs");
}
