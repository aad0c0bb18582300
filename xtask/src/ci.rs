//! `cargo xtask ci`: the one command that says whether the project works.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Runs `cargo ARGS` in the workspace root and fails if it fails.
pub fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

pub fn run(_args: &[String]) -> Result<()> {
    // Installs QEMU, the reference agent and the guest kernel when missing (fast when present).
    crate::setup::run(&[])?;
    // Tests that drive qemu-ga or QEMU fail (instead of skipping) when the program is missing.
    std::env::set_var("QAPI_REQUIRE_EXTERNAL", "1");
    cargo(&["fmt", "--all", "--", "--check"])?;
    // The checked-in qga-types must match what the generator produces now.
    crate::codegen::run(&["--check".to_string()])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "--workspace"])?;
    // QEMU's QAPI front-end regression cases against qapi-dump.
    crate::conformance::run(&[])?;
    // Standalone crates generated for qga-1.5, qga, QMP 10.0, QEMU's test schema and the
    // positive front-end cases build and pass clippy -D warnings.
    crate::gen::ci_check()?;
    // qapi-dump against QEMU 10.0.2's own front end on mutated schemas (a short, fixed run;
    // `cargo xtask differential --count N --seed S` goes further).
    crate::reference::run(&[])?;
    crate::differential::run(&["--count", "3000", "--seed", "1"].map(String::from))?;
    // Legacy mode on QEMU 5.2's and 7.2's schemas and test cases; their crates build.
    crate::legacy::run(&["--build".to_string()])?;
    // End-to-end in a real VM: the same checks against qga-agent (dev build, already built
    // by `cargo test`) and against QEMU's reference qemu-ga.
    crate::vm_test(&["--all".to_string()])?;
    eprintln!("ci: all checks passed");
    Ok(())
}
