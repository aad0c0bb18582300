//! The test environment shared by xtask, the VM tests, integration tests and benches: running
//! host programs with errors that say what was run and what it printed, and finding the
//! external programs (QEMU, qemu-ga, python3) that some tests compare against.
//!
//! One rule for a missing external program: a test skips with a notice naming it, unless
//! `QAPI_REQUIRE_EXTERNAL=1` is set (as `cargo xtask ci` does), which makes it a failure.

mod qemu;
pub use qemu::Qemu;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `cmd`, fails unless it exits 0, and returns its stdout as text.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = raw_output(cmd)?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{}` printed non-UTF-8", describe(cmd)))
}

/// Runs `cmd` for its effect; its output is shown only if it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let out = raw_output(cmd)?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}):\n{}{}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn raw_output(cmd: &mut Command) -> Result<Output> {
    cmd.output()
        .with_context(|| format!("cannot run `{}`", describe(cmd)))
}

/// Downloads the Debian packages `specs` (`name=version`) with `apt-get download` and unpacks
/// each into `root` with `dpkg -x`: nothing is installed. The `.deb` files are removed after.
pub fn unpack_debs(specs: &[String], root: &Path) -> Result<()> {
    let download = root.with_extension("download");
    if download.exists() {
        std::fs::remove_dir_all(&download)
            .with_context(|| format!("cannot clear {}", download.display()))?;
    }
    std::fs::create_dir_all(&download)
        .with_context(|| format!("cannot create {}", download.display()))?;
    run(Command::new("apt-get")
        .current_dir(&download)
        .args(["-q", "-o", "APT::Sandbox::User=root", "download"])
        .args(specs))?;
    let debs = std::fs::read_dir(&download)
        .with_context(|| format!("cannot read {}", download.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"));
    for deb in debs {
        run(Command::new("dpkg").arg("-x").arg(&deb).arg(root))?;
    }
    std::fs::remove_dir_all(&download)
        .with_context(|| format!("cannot remove {}", download.display()))
}

/// The command line as a person would type it, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// Finds `name` in `$PATH` (and the sbin directories a non-root `$PATH` may lack).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Whether this process runs as root (read from /proc, which needs no extra crate).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// The workspace root (testenv sits one level below it).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the workspace root) or `target/`.
/// Everything the project downloads or builds outside cargo goes below it.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// Where `cargo xtask qemu-scripts` unpacks QEMU 10.0.2's source (its QAPI scripts, the
/// front-end test harness and test cases).
pub fn qemu_source() -> PathBuf {
    target_dir().join("qemu-src/qemu-10.0.2")
}

/// QEMU 10.0.2's `scripts/` (`$QEMU_SCRIPTS`, else the fetched source's), for benches that
/// time QEMU's Python front end beside ours; `None` after [`skip_or_fail`] when not fetched.
pub fn qemu_scripts() -> Option<PathBuf> {
    let dir = std::env::var_os("QEMU_SCRIPTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| qemu_source().join("scripts"));
    if dir.join("qapi/schema.py").is_file() {
        Some(dir)
    } else {
        skip_or_fail(&format!(
            "QEMU's QAPI scripts are not in {} (run `cargo xtask qemu-scripts`)",
            dir.display()
        ));
        None
    }
}

/// Where `cargo xtask old-qemu` unpacks Debian bookworm's QEMU 7.2.
pub fn old_qemu_root() -> PathBuf {
    target_dir().join("old-qemu/7.2")
}

/// QEMU 7.2's `qemu-system-x86_64` and its firmware directory (for `-L`), if
/// `cargo xtask old-qemu` has unpacked them.
pub fn old_qemu() -> Option<(PathBuf, PathBuf)> {
    let root = old_qemu_root();
    let binary = root.join("usr/bin/qemu-system-x86_64");
    is_executable(&binary).then(|| (binary, root.join("usr/share/qemu")))
}

/// The variable that turns a missing external program from a skip into a failure.
pub const REQUIRE_EXTERNAL: &str = "QAPI_REQUIRE_EXTERNAL";

/// Whether `QAPI_REQUIRE_EXTERNAL=1` is set: missing external programs are failures.
pub fn external_required() -> bool {
    std::env::var(REQUIRE_EXTERNAL).is_ok_and(|v| v == "1")
}

/// Finds an external program a test needs. When it is missing: `None` with a notice on
/// stderr, or a panic naming it when [`external_required`].
pub fn external(program: &str) -> Option<PathBuf> {
    let found = which(program);
    if found.is_none() {
        skip_or_fail(&format!(
            "{program} is not installed (run `cargo xtask setup` as root)"
        ));
    }
    found
}

/// Reports that something a test needs is missing: a notice when tests may skip, a panic when
/// [`external_required`].
pub fn skip_or_fail(what: &str) {
    if external_required() {
        panic!("{what}; it is required because {REQUIRE_EXTERNAL}=1");
    }
    eprintln!("skipping: {what} (set {REQUIRE_EXTERNAL}=1 to make this a failure)");
}
