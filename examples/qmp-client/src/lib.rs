//! Example of qapi-codegen used from a build script: QMP bindings for QEMU 10.0, generated
//! into `OUT_DIR` at build time and included here. `tests/qemu.rs` drives a real QEMU with
//! them.
//!
//! Every `if` condition of the schema is compiled in ([`qapi_codegen::UnmappedCfg::Enabled`]
//! in `build.rs`), so the client understands whatever a QEMU build sends.

/// The generated bindings (types, `Event`, `Client`, and the server side).
pub mod qmp {
    include!(concat!(env!("OUT_DIR"), "/qmp.rs"));
}

pub use qmp::*;
