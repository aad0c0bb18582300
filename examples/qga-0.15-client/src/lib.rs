//! A guest-agent client generated at build time from QEMU 0.15's schema
//! (`schema/qga-0.15/qapi-schema-guest.json`, read in legacy mode). `tests/agent.rs` runs
//! every command 0.15 knows against our agent, which implements the 10.0 protocol: an old
//! client must still be understood, and understand the replies.

/// The generated bindings (types, `Client`, and the server side).
pub mod qga {
    include!(concat!(env!("OUT_DIR"), "/qga.rs"));
}

pub use qga::*;
