//! `cargo xtask old-qemu`: Debian bookworm's own QEMU 7.2 (`qemu-system-x86_64`) unpacked
//! under `target/old-qemu`, beside the installed 10.0.2, for the version-skew tests.
//!
//! The 7.2 packages cannot be installed next to bookworm-backports' 10.0.2, so they are only
//! downloaded (`apt-get download`, the bookworm suite's version from `apt-cache madison`) and
//! unpacked (`dpkg -x`); the binary runs with `-L` pointing at the unpacked firmware. Cached:
//! a second run does nothing.

use anyhow::{bail, Context, Result};
use std::process::Command;
use testenv as host;

/// The packages that make up a runnable `qemu-system-x86_64`.
const PACKAGES: [&str; 3] = ["qemu-system-x86", "qemu-system-common", "qemu-system-data"];

pub fn run() -> Result<()> {
    ensure()
}

/// Fetches and unpacks QEMU 7.2 unless `target/old-qemu` already has it.
pub fn ensure() -> Result<()> {
    let root = host::old_qemu_root();
    let stamp = root.join("packages.txt");
    if stamp.is_file() && host::old_qemu().is_some_and(|(binary, _)| binary.is_file()) {
        eprintln!("old-qemu: QEMU 7.2 already in {}", root.display());
        return Ok(());
    }
    let mut wanted = Vec::new();
    for package in PACKAGES {
        wanted.push(format!("{package}={}", bookworm_version(package)?));
    }
    eprintln!(
        "old-qemu: downloading {} from Debian bookworm (apt-get download)",
        wanted.join(" ")
    );
    if root.exists() {
        std::fs::remove_dir_all(&root).with_context(|| format!("removing {}", root.display()))?;
    }
    host::unpack_debs(&wanted, &root)?;
    let Some((binary, firmware)) = host::old_qemu() else {
        bail!(
            "no qemu-system-x86_64 in {} after unpacking",
            root.display()
        );
    };
    let version = host::output(
        Command::new(&binary)
            .arg("-L")
            .arg(&firmware)
            .arg("--version"),
    )?;
    let first = version.lines().next().unwrap_or_default();
    if !first.contains("version 7.2") {
        bail!("{} is not QEMU 7.2: {first}", binary.display());
    }
    std::fs::write(&stamp, wanted.join("\n") + "\n")
        .with_context(|| format!("writing {}", stamp.display()))?;
    eprintln!("old-qemu: {first} in {}", binary.display());
    Ok(())
}

/// The version of `package` in the plain `bookworm` suite (not backports or security).
fn bookworm_version(package: &str) -> Result<String> {
    let madison = host::output(Command::new("apt-cache").args(["madison", package]))?;
    version_in(&madison).with_context(|| {
        format!("apt-cache madison {package} lists no bookworm/main version (is apt updated?)")
    })
}

/// The version on the `bookworm/main` line of `apt-cache madison` output.
fn version_in(madison: &str) -> Option<String> {
    madison.lines().find_map(|line| {
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        match fields.as_slice() {
            [_, version, source] if source.split_whitespace().nth(1) == Some("bookworm/main") => {
                Some((*version).to_owned())
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::version_in;

    #[test]
    fn picks_the_bookworm_suite() {
        let madison = "qemu-system-x86 | 1:10.0.2+ds-2+deb13u1~bpo12+1 | http://m.example/debian bookworm-backports/main amd64 Packages\n\
                       qemu-system-x86 | 1:7.2+dfsg-7+deb12u18+b3 | http://m.example/debian bookworm/main amd64 Packages\n\
                       qemu-system-x86 | 1:7.2+dfsg-7+deb12u15 | http://m.example/debian-security bookworm-security/main amd64 Packages\n";
        assert_eq!(
            version_in(madison).as_deref(),
            Some("1:7.2+dfsg-7+deb12u18+b3")
        );
        assert_eq!(
            version_in("x | 1 | http://m.example/debian bullseye/main amd64"),
            None
        );
    }
}
