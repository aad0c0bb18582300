//! `cargo xtask ci [--quick]`: the one command that says whether the project works.
//!
//! `--quick` is the tier a contributor runs before every commit: no root, no downloads, no
//! apt; tests that need an external program (QEMU, qemu-ga, python3) or root skip.

use anyhow::{bail, Context, Result};
use std::process::Command;

pub use testenv::workspace_root;

/// Runs `cargo ARGS` in the workspace root and fails if it fails.
pub fn cargo(args: &[&str]) -> Result<()> {
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(cargo_program())
        .args(args)
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// The cargo that runs xtask (`$CARGO`), else the one on the path.
pub fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

pub fn run(quick: bool) -> Result<()> {
    if quick {
        // Tests that need an external program skip instead of failing.
        std::env::remove_var(testenv::REQUIRE_EXTERNAL);
    } else {
        // Installs QEMU, the reference agent and tools when missing (fast when present).
        crate::setup::run()?;
        // Tests that drive qemu-ga or QEMU fail (instead of skipping) when the program is missing.
        std::env::set_var(testenv::REQUIRE_EXTERNAL, "1");
    }
    cargo(&["fmt", "--all", "--", "--check"])?;
    // The checked-in qga-types must match what the generator produces now.
    crate::codegen::run(true)?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "--workspace"])?;
    if quick {
        eprintln!("ci --quick: all checks passed (`cargo xtask ci` runs the rest as root)");
        return Ok(());
    }
    // Debian bookworm's QEMU 7.2 (downloaded once into target/old-qemu) for the skew tests.
    crate::oldqemu::ensure()?;
    // The async QMP client (feature `tokio`) against a real QEMU (10.0.2 and 7.2): clippy,
    // then its tests.
    cargo(&[
        "clippy",
        "-p",
        "qmp-types",
        "--features",
        "tokio",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "-p", "qmp-types", "--features", "tokio"])?;
    // Real freezes of ext4 loop mounts (root, losetup, mkfs.ext4), skipped by `test --workspace`.
    std::env::set_var("QGA_PRIVILEGED_TESTS", "1");
    cargo(&[
        "test",
        "-p",
        "qga-agent",
        "--lib",
        "--test",
        "freeze_timeout",
    ])?;
    std::env::remove_var("QGA_PRIVILEGED_TESTS");
    // QEMU 10.0.2's scripts and front-end test cases (downloaded once into target/qemu-src).
    crate::reference::ensure()?;
    // QEMU's QAPI front-end regression cases against qapi-dump.
    crate::conformance::run(None)?;
    // Standalone crates generated for qga-1.5, qga, QMP 10.0, QEMU's test schema and the
    // positive front-end cases build and pass clippy -D warnings.
    crate::gen::ci_check(None)?;
    // qapi-dump against QEMU 10.0.2's own front end on mutated schemas (a short, fixed run;
    // `cargo xtask differential --count N --seed S` goes further).
    crate::differential::run(&crate::differential::Args {
        count: 3000,
        seed: 1,
        ..Default::default()
    })?;
    // Legacy mode on QEMU 5.2's and 7.2's schemas and test cases; their crates build.
    crate::legacy::run(true)?;
    // End-to-end in a real VM: the same checks against qga-agent (dev build, already built
    // by `cargo test`) and against QEMU's reference qemu-ga.
    crate::vm_test(&["--all".to_string()])?;
    // qga with its libvirt transport: clippy, then -c/-d/--all against two domains of a
    // libvirtd the test starts itself, with both agents.
    cargo(&[
        "clippy",
        "-p",
        "qga-cli",
        "--features",
        "libvirt",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    crate::vm_test(&["--libvirt".to_string(), "--all".to_string()])?;
    // What a release ships: the static binary, the .deb (lintian) and the .rpm, checked.
    crate::dist::run(true)?;
    // The .deb installed with dpkg in a real Debian bookworm guest with systemd and udev.
    crate::vm_test(&["--suite".to_string(), "debian".to_string()])?;
    eprintln!("ci: all checks passed");
    Ok(())
}
