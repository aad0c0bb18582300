//! `cargo xtask qemu-scripts`: fetches QEMU 10.0.2's own QAPI generator (its Python
//! `scripts/`) so the benchmarks can time it side by side with ours.
//!
//! The source tarball comes from Debian's archive (the package qemu-system-x86 10.0.2 is built
//! from) and is unpacked, only `scripts/qapi`, `scripts/qapi-gen.py` and the test harness
//! `tests/qapi-schema/test-qapi.py`, under `target/qemu-src/`. The parser and codegen benches
//! look there (or in `$QEMU_SCRIPTS`).

use crate::vm::host;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

const VERSION: &str = "10.0.2";
const TARBALL_URL: &str =
    "http://deb.debian.org/debian/pool/main/q/qemu/qemu_10.0.2+ds.orig.tar.xz";

/// `target/qemu-src/qemu-10.0.2/scripts`, where the benches look by default.
pub fn scripts_dir() -> PathBuf {
    crate::ci::workspace_root()
        .join("target/qemu-src")
        .join(format!("qemu-{VERSION}"))
        .join("scripts")
}

/// QEMU's front-end test harness (`test-qapi.py`), next to `scripts/`.
pub fn test_harness() -> PathBuf {
    scripts_dir().with_file_name("tests/qapi-schema/test-qapi.py")
}

pub fn run(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("qemu-scripts takes no arguments (got {arg:?})");
    }
    let scripts = scripts_dir();
    let harness = test_harness();
    if !scripts.join("qapi-gen.py").is_file() || !harness.is_file() {
        let Some(python) = host::which("python3") else {
            bail!("QEMU's generator needs python3, which is not installed");
        };
        let src = crate::ci::workspace_root().join("target/qemu-src");
        std::fs::create_dir_all(&src).with_context(|| format!("creating {}", src.display()))?;
        let tarball = src.join("qemu.orig.tar.xz");
        if !tarball.is_file() {
            eprintln!("qemu-scripts: downloading {TARBALL_URL}");
            // python3 is there anyway (the generator needs it); curl may not be.
            let partial = src.join("qemu.orig.tar.xz.part");
            host::run(Command::new(&python).args([
                "-c",
                "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])",
                TARBALL_URL,
            ]).arg(&partial))?;
            std::fs::rename(&partial, &tarball)?;
        }
        let top = format!("qemu-{VERSION}");
        host::run(
            Command::new("tar")
                .arg("-xJf")
                .arg(&tarball)
                .arg("-C")
                .arg(&src)
                .arg(format!("{top}/scripts/qapi"))
                .arg(format!("{top}/scripts/qapi-gen.py"))
                .arg(format!("{top}/tests/qapi-schema/test-qapi.py")),
        )?;
        // Only the two paths are kept; the tarball itself is 39 MB.
        std::fs::remove_file(&tarball)?;
    }
    println!("{}", scripts.display());
    Ok(())
}
