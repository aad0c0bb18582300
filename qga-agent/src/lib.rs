//! qga-agent: a Linux guest agent compatible with QEMU's qemu-ga.
//!
//! `main.rs` only calls [`run::main`]; the server loop, the JSON reader and the command glue
//! are in this library so the tests can reach them.

pub mod log;

pub mod agent;
pub mod channel;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod json;
pub mod keyfile;
pub mod policy;
pub mod reply;
pub mod run;
pub mod server;
pub mod signal;
pub mod state;
pub mod sys;
