//! `cargo xtask qemu-scripts`: fetches QEMU 10.0.2's own QAPI front end and generator (its
//! Python `scripts/`) and its front-end test suite (`tests/qapi-schema`: the harness and the
//! cases `conformance`, `gen-check` and `differential` run).
//!
//! The source tarball comes from Debian's archive, on the machine's own mirror (the package
//! qemu-system-x86 10.0.2 is built from), and only those paths are unpacked, under
//! `target/qemu-src/` (`$CARGO_TARGET_DIR/qemu-src/` when set). The parser and codegen benches
//! look there (or in `$QEMU_SCRIPTS`).

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;
use testenv as host;

/// QEMU 10.0.2's source tarball in Debian's pool.
const TARBALL: &str = "pool/main/q/qemu/qemu_10.0.2+ds.orig.tar.xz";

/// The parts of QEMU 10.0.2's source the project uses.
const PATHS: &[&str] = &[
    "scripts/qapi",
    "scripts/qapi-gen.py",
    "tests/qapi-schema",
    // qemu-ga-client and the QMP package it runs on, for qga-cli's bench.
    "python/qemu/utils",
    "python/qemu/qmp",
];

/// Where QEMU sources with the top directory `top` are unpacked: `target/qemu-src/<top>`.
pub fn source_dir(top: &str) -> PathBuf {
    host::target_dir().join("qemu-src").join(top)
}

/// QEMU 10.0.2's `scripts/`, where the benches look by default.
pub fn scripts_dir() -> PathBuf {
    host::qemu_source().join("scripts")
}

/// QEMU 10.0.2's front-end test cases (`tests/qapi-schema`).
pub fn test_cases() -> PathBuf {
    host::qemu_source().join("tests/qapi-schema")
}

/// QEMU's front-end test harness (`test-qapi.py`), among the cases.
pub fn test_harness() -> PathBuf {
    test_cases().join("test-qapi.py")
}

/// QEMU 10.0.2's source directory, fetched first when it is missing.
pub fn ensure() -> Result<PathBuf> {
    let dir = host::qemu_source();
    let complete = scripts_dir().join("qapi-gen.py").is_file()
        && test_harness().is_file()
        && test_cases().join("qapi-schema-test.json").is_file()
        && dir.join("python/qemu/utils/qemu_ga_client.py").is_file();
    if !complete {
        eprintln!(
            "qemu-src: QEMU 10.0.2's QAPI scripts and test cases are not in {}; fetching them",
            dir.display()
        );
        fetch(TARBALL, "qemu-10.0.2", PATHS)?;
    }
    Ok(dir)
}

pub fn run() -> Result<()> {
    ensure()?;
    println!("{}", scripts_dir().display());
    Ok(())
}

/// Downloads a QEMU source tarball (`pool_path` in Debian's archive) and unpacks `paths` of
/// its top directory `top` into `target/qemu-src/<top>`; only those paths are kept (a tarball
/// is 20-40 MB).
pub fn fetch(pool_path: &str, top: &str, paths: &[&str]) -> Result<PathBuf> {
    if host::which("xz").is_none() {
        bail!("unpacking QEMU's source needs xz, which is not installed (package xz-utils)");
    }
    let src = host::target_dir().join("qemu-src");
    std::fs::create_dir_all(&src).with_context(|| format!("creating {}", src.display()))?;
    let tarball = src.join(format!("{top}.tar.xz"));
    crate::apt::download(pool_path, &tarball)?;
    let mut tar = Command::new("tar");
    tar.arg("-xJf").arg(&tarball).arg("-C").arg(&src);
    for path in paths {
        tar.arg(format!("{top}/{path}"));
    }
    host::run(&mut tar)?;
    std::fs::remove_file(&tarball)?;
    Ok(source_dir(top))
}
