//! Project automation, run as `cargo xtask <task>` (see the cargo-xtask convention).
//!
//! Tasks:
//! - `ci`: everything CI checks; the one test command of the README.
//! - `codegen [--check]`: regenerates `qga-types` from the qga schema (or checks it is fresh).
//! - `gen SCHEMA OUT_DIR [--legacy]`: writes a standalone Rust crate for any schema.
//! - `gen-check`: generates the standalone crates CI checks and builds them (clippy too).
//! - `conformance [DIR]`: QEMU's QAPI front-end test cases against `qapi-dump`.
//! - `differential [--count N] [--seed S] [--keep DIR]`: `qapi-dump` against QEMU's Python
//!   front end on mutated schemas (needs `qemu-scripts`).
//! - `demo`: starts the guest agent on a unix socket and runs a typed client session.
//! - `legacy-check [--build]`: legacy mode against QEMU 5.2's and 7.2's schemas and test cases.
//! - `qemu-scripts`: fetches QEMU's own Python QAPI generator for side-by-side benchmarks.
//! - `setup`: installs what the VM tests need (run as root; idempotent).
//! - `vm-test`: end-to-end tests of the guest agent in a real VM (see `vm/mod.rs`).

mod ci;
mod codegen;
mod conformance;
mod differential;
mod gen;
mod legacy;
mod reference;
mod setup;

use anyhow::{bail, Result};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Print the error chain plainly: a backtrace of xtask itself helps nobody.
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        bail!("usage: cargo xtask <ci> [ARGS...]");
    };
    match task.as_str() {
        "ci" => ci::run(rest),
        "codegen" => codegen::run(rest),
        "gen" => gen::run(rest),
        "gen-check" => gen::ci_check(),
        "conformance" => conformance::run(rest),
        "demo" => demo(rest),
        "differential" => differential::run(rest),
        "legacy-check" => legacy::run(rest),
        "qemu-scripts" => reference::run(rest),
        "setup" => setup::run(rest),
        "vm-test" => vm_test(rest),
        other => bail!("unknown task '{other}'"),
    }
}

/// `cargo xtask demo`: builds the agent and runs its typed-client demo (`qga-agent/examples/demo.rs`).
fn demo(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("demo takes no arguments (got {arg:?})");
    }
    ci::cargo(&["build", "--quiet", "-p", "qga-agent"])?;
    ci::cargo(&["run", "--quiet", "-p", "qga-agent", "--example", "demo"])
}

/// `cargo xtask vm-test ARGS`: the VM tests live in their own crate (`vm-test`), because they
/// use the generated `qga-types` and xtask must build even when that code is stale.
pub fn vm_test(args: &[String]) -> Result<()> {
    let mut cargo_args = vec!["run", "--quiet", "-p", "vm-test", "--"];
    cargo_args.extend(args.iter().map(String::as_str));
    ci::cargo(&cargo_args)
}
