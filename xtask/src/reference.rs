//! `cargo xtask qemu-scripts`: fetches QEMU 10.0.2's own QAPI generator (its Python
//! `scripts/`) so the benchmarks can time it side by side with ours.
//!
//! The source tarball comes from Debian's archive (the package qemu-system-x86 10.0.2 is built
//! from) and is unpacked, only `scripts/qapi`, `scripts/qapi-gen.py` and the test harness
//! `tests/qapi-schema/test-qapi.py`, under `target/qemu-src/`. The parser and codegen benches
//! look there (or in `$QEMU_SCRIPTS`).

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;
use testenv as host;

const VERSION: &str = "10.0.2";
const TARBALL_URL: &str =
    "http://deb.debian.org/debian/pool/main/q/qemu/qemu_10.0.2+ds.orig.tar.xz";

/// Where QEMU source tarballs are unpacked.
fn sources_root() -> PathBuf {
    crate::ci::workspace_root().join("target/qemu-src")
}

/// Where QEMU sources with the top directory `top` are unpacked: `target/qemu-src/<top>`.
pub fn source_dir(top: &str) -> PathBuf {
    sources_root().join(top)
}

/// `target/qemu-src/qemu-10.0.2/scripts`, where the benches look by default.
pub fn scripts_dir() -> PathBuf {
    source_dir(&format!("qemu-{VERSION}")).join("scripts")
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
    if !scripts.join("qapi-gen.py").is_file() || !test_harness().is_file() {
        fetch(
            TARBALL_URL,
            &format!("qemu-{VERSION}"),
            &[
                "scripts/qapi",
                "scripts/qapi-gen.py",
                "tests/qapi-schema/test-qapi.py",
            ],
        )?;
    }
    println!("{}", scripts.display());
    Ok(())
}

/// Downloads a QEMU source tarball and unpacks `paths` of its top directory `top` into
/// `target/qemu-src/<top>`; only those paths are kept (a tarball is 20-40 MB).
pub fn fetch(url: &str, top: &str, paths: &[&str]) -> Result<PathBuf> {
    let Some(python) = host::which("python3") else {
        bail!("downloading QEMU's sources needs python3, which is not installed");
    };
    let src = sources_root();
    std::fs::create_dir_all(&src).with_context(|| format!("creating {}", src.display()))?;
    let tarball = src.join(format!("{top}.tar.xz"));
    eprintln!("qemu-src: downloading {url}");
    // python3 is there anyway (QEMU's generator needs it); curl may not be.
    let partial = src.join(format!("{top}.tar.xz.part"));
    host::run(
        Command::new(&python)
            .args([
                "-c",
                "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])",
                url,
            ])
            .arg(&partial),
    )?;
    std::fs::rename(&partial, &tarball)?;
    let mut tar = Command::new("tar");
    tar.arg("-xJf").arg(&tarball).arg("-C").arg(&src);
    for path in paths {
        tar.arg(format!("{top}/{path}"));
    }
    host::run(&mut tar)?;
    std::fs::remove_file(&tarball)?;
    Ok(source_dir(top))
}
