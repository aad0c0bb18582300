//! qga-agent: a Linux guest agent compatible with QEMU's qemu-ga.
//!
//! `main.rs` only calls [`run::main`]; the server loop, the JSON reader and the command glue
//! are in this library so the tests can reach them.
//!
//! - Layout: [`json`] (qemu-ga's streaming reader), [`channel`] (one file per transport),
//!   [`server`] (the loop), [`agent`] + [`commands`] (the generated `Commands` trait glued to
//!   the Linux system layer [`sys`]), [`config`]/[`keyfile`] (command line and config file),
//!   [`state`], [`policy`], [`signal`], [`log`], [`daemon`], [`reply`].
//! - Tests: `cargo test -p qga-agent` (the integration tests run the real binary over unix
//!   sockets and ptys; `tests/differential.rs` compares with qemu-ga when it is installed).
//! - Speed: `cargo bench -p qga-agent --bench agent` (side by side with qemu-ga).
//! - Behaviour that deliberately differs from qemu-ga: `COMPATIBILITY.md` at the repo root.

pub mod log;

pub mod agent;
pub mod channel;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod fuzzing;
pub mod json;
pub mod keyfile;
pub mod policy;
pub mod reply;
pub mod run;
pub mod server;
pub mod signal;
pub mod state;
pub mod sys;
