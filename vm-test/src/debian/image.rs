//! The Debian guest's disk: a minimal bookworm root filesystem made by mmdebstrap (cached as
//! a tar under `target/vm/debian/`, keyed by everything that goes into it), into which each
//! run installs the .deb under test with the guest's own dpkg, then `mkfs.ext4 -d` makes the
//! disk image. The cached tar never contains our package, so it stays valid across builds.

use crate::host;
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Packages beyond minbase: systemd as init, udev to see the port, a kernel and its
/// initramfs, an NSS source other than files (extrausers) for the user lookup checks, and
/// dbus, which systemd recommends and every installed Debian has: `shutdown +0` schedules
/// the power-off through logind over D-Bus.
const INCLUDE: &str = "systemd-sysv,udev,linux-image-amd64,kmod,libnss-extrausers,dbus";

/// The account the checks log in as and change (a plain /etc/passwd user).
pub const USER: &str = "alice";
/// An account only the extrausers NSS source knows (not in /etc/passwd).
pub const NSS_USER: &str = "nssuser";
pub const NSS_UID: u32 = 5001;
/// Where the guest keeps a copy of the package under test.
pub const GUEST_DEB: &str = "/var/cache/vm-test/qga-agent.deb";
/// Where the host's `qga` goes in the guest, for `qga --vsock` over the guest's vsock loopback.
pub const GUEST_QGA: &str = "/usr/local/bin/qga";
/// What the test hook in fsfreeze-hook.d appends its argument to.
pub const HOOK_LOG: &str = "/run/vm-test-hook.log";

/// Runs on the host after the packages are installed, with the root directory as `$1`.
const CUSTOMIZE: &str = r#"set -e
R="$1"
echo qga-debian > "$R/etc/hostname"
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' > "$R/etc/fstab"
chroot "$R" useradd --create-home --shell /bin/bash --uid 1000 alice
# An account that exists only through libnss-extrausers.
mkdir -p "$R/var/lib/extrausers" "$R/home/nssuser"
echo 'nssuser:x:5001:5001:NSS only:/home/nssuser:/bin/sh' > "$R/var/lib/extrausers/passwd"
echo 'nssuser:x:5001:' > "$R/var/lib/extrausers/group"
chown 5001:5001 "$R/home/nssuser"
sed -i -e 's/^passwd:.*/passwd:         files extrausers/' \
       -e 's/^group:.*/group:          files extrausers/' "$R/etc/nsswitch.conf"
# A real login at boot (agetty + login write utmp) with no step from the host.
mkdir -p "$R/etc/systemd/system/serial-getty@ttyS0.service.d"
printf '[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin alice --noclear %%I 115200 vt220\n' \
    > "$R/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf"
# A script for the packaged fsfreeze hook to run.
mkdir -p "$R/etc/qemu/fsfreeze-hook.d"
printf '#!/bin/sh\necho "$1" >> /run/vm-test-hook.log\n' > "$R/etc/qemu/fsfreeze-hook.d/50-vm-test"
chmod 755 "$R/etc/qemu/fsfreeze-hook.d/50-vm-test"
# Nothing to wait for on a guest without network.
rm -f "$R/etc/systemd/system/multi-user.target.wants/apt-daily"*.timer
rm -rf "$R/var/cache/apt/archives/"*.deb "$R/var/lib/apt/lists/"*_Packages
"#;

/// Bumped when the way the image is made changes in a way the key does not see.
const RECIPE_VERSION: u32 = 1;

/// The apt sources the image is built from: the machine's own (never a host name here).
fn sources() -> Result<PathBuf> {
    for path in [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list",
    ] {
        let path = PathBuf::from(path);
        if path.is_file() && fs::metadata(&path)?.len() > 0 {
            return Ok(path);
        }
    }
    bail!("no apt sources on this machine (/etc/apt/sources.list.d/debian.sources)")
}

/// FNV-1a: a key that stays the same across Rust versions (unlike DefaultHasher).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3)
    })
}

/// Installs mmdebstrap with apt when it is missing (as root).
fn ensure_mmdebstrap() -> Result<PathBuf> {
    if let Some(path) = host::which("mmdebstrap") {
        return Ok(path);
    }
    if !host::is_root() {
        bail!("mmdebstrap is not installed and this is not root (run as root)");
    }
    eprintln!("vm-test [debian]: installing mmdebstrap");
    let install = || {
        host::run(
            Command::new("apt-get")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .args(["-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q"])
                .args(["--no-install-recommends", "mmdebstrap"]),
        )
    };
    if install().is_err() {
        host::run(Command::new("apt-get").args(["update", "-q"]))?;
        install()?;
    }
    host::which("mmdebstrap").context("mmdebstrap installed but not found")
}

/// The cached root filesystem tar, built when missing (about 3 minutes).
pub fn base_tar(cache: &Path) -> Result<PathBuf> {
    let sources = sources()?;
    let mut key_input = format!("{RECIPE_VERSION}\nbookworm\nminbase\n{INCLUDE}\n{CUSTOMIZE}\n");
    key_input.push_str(&fs::read_to_string(&sources)?);
    let key = format!("{:016x}", fnv1a(key_input.as_bytes()));
    let tar = cache.join(format!("rootfs-{key}.tar"));
    if tar.is_file() {
        return Ok(tar);
    }
    fs::create_dir_all(cache)?;
    // Older images (other keys) are of no further use.
    for entry in fs::read_dir(cache)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("rootfs-") {
            let _ = fs::remove_file(entry.path());
        }
    }
    let mmdebstrap = ensure_mmdebstrap()?;
    let start = Instant::now();
    eprintln!(
        "vm-test [debian]: building the bookworm image with mmdebstrap from {} (once per machine, about 3 min)",
        sources.display()
    );
    let partial = cache.join(format!("rootfs-{key}.tar.partial"));
    host::run(
        Command::new(mmdebstrap)
            .args(["--quiet", "--variant=minbase", "--format=tar"])
            .arg(format!("--include={INCLUDE}"))
            .arg(format!("--customize-hook={CUSTOMIZE}"))
            .arg("bookworm")
            .arg(&partial)
            .arg(&sources),
    )?;
    fs::rename(&partial, &tar)?;
    eprintln!(
        "vm-test [debian]: image {} ({} MB) in {:.0} s",
        tar.display(),
        fs::metadata(&tar)?.len() >> 20,
        start.elapsed().as_secs_f64()
    );
    Ok(tar)
}

/// What one boot needs: the disk image and the guest's own kernel and initramfs.
#[derive(Debug)]
pub struct BootFiles {
    pub disk: PathBuf,
    pub vmlinuz: PathBuf,
    pub initrd: PathBuf,
}

/// Unpacks the cached tar into `work/root`, installs `deb` there with the guest's dpkg
/// (chroot), copies the kernel and initramfs out and makes `work/disk.img` (3 GB, sparse).
/// `qga`: the host command line, copied in as [`GUEST_QGA`] (host and guest are bookworm, so
/// its glibc matches).
pub fn prepare(tar: &Path, deb: &Path, qga: &Path, work: &Path) -> Result<BootFiles> {
    let root = work.join("root");
    if root.exists() {
        fs::remove_dir_all(&root)?;
    }
    fs::create_dir_all(&root)?;
    host::run(
        Command::new("tar")
            .args(["--numeric-owner", "-xpf"])
            .arg(tar)
            .arg("-C")
            .arg(&root),
    )?;
    let staged = root.join("tmp/qga-agent.deb");
    fs::copy(deb, &staged)?;
    let installed = host::output(Command::new("chroot").arg(&root).args([
        "dpkg",
        "--install",
        "/tmp/qga-agent.deb",
    ]))?;
    eprintln!(
        "vm-test [debian]: dpkg --install {}: {}",
        deb.display(),
        installed.lines().last().unwrap_or_default()
    );
    // Kept in the guest for the purge/reinstall/upgrade check.
    let kept = root.join(GUEST_DEB.trim_start_matches('/'));
    fs::create_dir_all(kept.parent().context("GUEST_DEB has a directory")?)?;
    fs::rename(&staged, &kept)?;
    fs::copy(qga, root.join(GUEST_QGA.trim_start_matches('/')))?;

    let boot = root.join("boot");
    let find = |prefix: &str| -> Result<PathBuf> {
        let mut found: Vec<PathBuf> = fs::read_dir(&boot)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .collect();
        found.sort();
        found
            .pop()
            .with_context(|| format!("no {prefix}* in the image's /boot"))
    };
    let vmlinuz = work.join("vmlinuz");
    let initrd = work.join("initrd.img");
    fs::copy(find("vmlinuz-")?, &vmlinuz)?;
    fs::copy(find("initrd.img-")?, &initrd)?;

    let disk = work.join("disk.img");
    let mkfs = host::which("mkfs.ext4").context("mkfs.ext4 not found (install e2fsprogs)")?;
    host::run(
        Command::new(mkfs)
            .args(["-F", "-q", "-L", "debian", "-d"])
            .arg(&root)
            .arg(&disk)
            .arg("3G"),
    )?;
    fs::remove_dir_all(&root)?;
    Ok(BootFiles {
        disk,
        vmlinuz,
        initrd,
    })
}
