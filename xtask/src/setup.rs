//! `cargo xtask setup`: installs what the VM tests need on a Debian bookworm machine (run as
//! root; idempotent and quiet; a second run only checks) and caches the guest kernel.
//!
//! Installs: qemu-system-x86 10.0.x from bookworm-backports, QEMU's reference qemu-ga, and
//! busybox-static, e2fsprogs, xz-utils, zstd and python3 (QEMU's own QAPI front end runs on
//! it); fetches a Debian 6.1 kernel package into `target/vm/kernel/` (unpacked, not
//! installed) and extracts its vmlinux.

use anyhow::{bail, Result};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;
use testenv as host;

/// A program the tests need, and the Debian package that provides it.
struct Need {
    package: &'static str,
    from_backports: bool,
    present: fn() -> bool,
}

const NEEDS: &[Need] = &[
    Need {
        package: "qemu-system-x86",
        from_backports: true,
        present: qemu_is_10_0,
    },
    Need {
        package: "busybox-static",
        from_backports: false,
        present: busybox_is_static,
    },
    Need {
        package: "e2fsprogs",
        from_backports: false,
        present: || host::which("mkfs.ext4").is_some(),
    },
    Need {
        package: "xz-utils",
        from_backports: false,
        present: || host::which("xz").is_some(),
    },
    Need {
        package: "python3",
        from_backports: false,
        present: || host::which("python3").is_some(),
    },
    Need {
        package: "zstd",
        from_backports: false,
        present: || host::which("zstd").is_some(),
    },
];

/// `qemu-system-x86_64 --version` says 10.0.x.
fn qemu_is_10_0() -> bool {
    version_line("qemu-system-x86_64").is_some_and(|v| v.starts_with("QEMU emulator version 10.0."))
}

/// `qemu-ga --version` says 10.0.x.
fn reference_agent_is_10_0() -> bool {
    version_line("qemu-ga").is_some_and(|v| v.contains(" 10.0."))
}

fn version_line(program: &str) -> Option<String> {
    let out = Command::new(host::which(program)?)
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().next().map(str::to_owned)
}

/// /bin/busybox exists and needs no shared libraries.
fn busybox_is_static() -> bool {
    Command::new("ldd")
        .arg("/bin/busybox")
        .output()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout) + String::from_utf8_lossy(&o.stderr);
            text.contains("not a dynamic executable") || text.contains("statically linked")
        })
        .unwrap_or(false)
        && std::path::Path::new("/bin/busybox").is_file()
}

/// `../shared/tools/<name>` next to the repository.
fn shared_tool(name: &str) -> Result<PathBuf> {
    let root = crate::ci::workspace_root();
    let tool = root
        .parent()
        .unwrap_or(&root)
        .join("shared/tools")
        .join(name);
    if !tool.is_file() {
        bail!(
            "{} not found (the shared/ directory must sit beside the repository)",
            tool.display()
        );
    }
    Ok(tool)
}

fn apt_install(packages: &[&str], from_backports: bool) -> Result<()> {
    let attempt = || {
        let mut apt = Command::new("apt-get");
        apt.env("DEBIAN_FRONTEND", "noninteractive").args([
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
        ]);
        if from_backports {
            apt.args(["-t", "bookworm-backports"]);
        }
        host::run(apt.args(packages))
    };
    if attempt().is_err() {
        // A fresh machine may have stale package lists.
        host::run(Command::new("apt-get").args(["update", "-q"]))?;
        attempt()?;
    }
    Ok(())
}

pub fn run(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("setup takes no arguments (got {arg:?})");
    }
    let start = Instant::now();
    let missing: Vec<&Need> = NEEDS.iter().filter(|need| !(need.present)()).collect();
    let reference_missing = !reference_agent_is_10_0();
    if !missing.is_empty() || reference_missing {
        let mut names: Vec<&str> = missing.iter().map(|n| n.package).collect();
        if reference_missing {
            names.push("qemu-guest-agent");
        }
        if !host::is_root() {
            bail!(
                "missing: {}; run `cargo xtask setup` as root, or install them \
                 (qemu-system-x86 and qemu-guest-agent 10.0.x from bookworm-backports)",
                names.join(", ")
            );
        }
        eprintln!("setup: installing {}", names.join(", "));
        let backports: Vec<&str> = missing
            .iter()
            .filter(|n| n.from_backports)
            .map(|n| n.package)
            .collect();
        let plain: Vec<&str> = missing
            .iter()
            .filter(|n| !n.from_backports)
            .map(|n| n.package)
            .collect();
        if !plain.is_empty() {
            apt_install(&plain, false)?;
        }
        if !backports.is_empty() {
            host::run(&mut Command::new(shared_tool("enable-backports.sh")?))?;
            apt_install(&backports, true)?;
        }
        if reference_missing {
            host::run(&mut Command::new(shared_tool(
                "install-reference-agent.sh",
            )?))?;
        }
        if let Some(still) = NEEDS.iter().find(|need| !(need.present)()) {
            bail!("{} was installed but its check still fails", still.package);
        }
    }
    if !qemu_is_10_0() {
        bail!(
            "qemu-system-x86_64 is {:?}, the tests need 10.0.x",
            version_line("qemu-system-x86_64").unwrap_or_default()
        );
    }
    eprintln!(
        "setup: ready in {} ms (QEMU 10.0, qemu-ga 10.0; the VM tests fetch their kernel)",
        start.elapsed().as_millis()
    );
    Ok(())
}
