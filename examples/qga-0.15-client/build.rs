//! Generates a guest-agent client from QEMU 0.15's schema (`schema/qga-0.15`, the oldest
//! dialect, read in legacy mode) into `OUT_DIR`; `src/lib.rs` includes it.

use qapi_codegen::Builder;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"));
    let schema = manifest.join("../../schema/qga-0.15/qapi-schema-guest.json");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("run by cargo")).join("qga.rs");
    if let Err(e) = Builder::new()
        .schema(&schema)
        .legacy(true)
        .generate_to(&out)
    {
        eprintln!(
            "error: generating the client from {}: {e}",
            schema.display()
        );
        std::process::exit(1);
    }
    println!("cargo:rerun-if-changed=build.rs");
}
