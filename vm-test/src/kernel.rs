//! The guest kernel: a Debian 6.1 `linux-image` package unpacked (not installed) into a cache,
//! plus an uncompressed `vmlinux` taken out of its bzImage for QEMU's faster PVH boot.

use super::elf::Elf;
use super::host;
use anyhow::{bail, Context, Result};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// An unpacked kernel package.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// `uname -r` of this kernel, e.g. `6.1.0-56-amd64`.
    pub release: String,
    /// The Debian package version, e.g. `6.1.192-2` (it appears in `uname -v`).
    pub package_version: String,
    /// Where the package was unpacked (`boot/`, `lib/modules/` below it).
    pub root: PathBuf,
    /// The compressed bzImage.
    pub vmlinuz: PathBuf,
    /// The uncompressed ELF kernel with a PVH entry note, when it could be extracted.
    pub vmlinux: Option<PathBuf>,
}

impl Kernel {
    /// The image to hand to `qemu -kernel`: vmlinux (PVH, faster) when available.
    pub fn boot_image(&self) -> &Path {
        self.vmlinux.as_deref().unwrap_or(&self.vmlinuz)
    }

    /// `lib/modules/<release>` inside the unpacked package.
    pub fn modules_dir(&self) -> PathBuf {
        self.root.join("lib/modules").join(&self.release)
    }
}

/// The newest Debian 6.1 kernel package apt knows: (package name, version).
pub fn resolve_package() -> Result<(String, String)> {
    let show = host::output(Command::new("apt-cache").args(["show", "linux-image-amd64"]))
        .context("cannot ask apt for the kernel package (run `apt-get update`, or `cargo xtask setup` as root)")?;
    let mut best: Option<(u32, String, String)> = None;
    for line in show.lines() {
        let Some(depends) = line.strip_prefix("Depends:") else {
            continue;
        };
        for dep in depends.split(',') {
            let mut words = dep.split_whitespace();
            let Some(name) = words.next() else { continue };
            // Names look like linux-image-6.1.0-56-amd64; the 56 orders them.
            let Some(abi) = name
                .strip_prefix("linux-image-6.1.0-")
                .and_then(|rest| rest.strip_suffix("-amd64"))
                .and_then(|abi| abi.parse::<u32>().ok())
            else {
                continue;
            };
            let version = words
                .collect::<String>()
                .trim_start_matches("(=")
                .trim_end_matches(')')
                .to_string();
            if best.as_ref().is_none_or(|(b, _, _)| abi > *b) {
                best = Some((abi, name.to_string(), version));
            }
        }
    }
    match best {
        Some((_, name, version)) if !version.is_empty() => Ok((name, version)),
        _ => bail!(
            "apt knows no linux-image-6.1.0-*-amd64 package (is Debian bookworm in apt's sources?)"
        ),
    }
}

/// Makes sure the current 6.1 kernel is unpacked under `cache`, and returns it.
pub fn ensure(cache: &Path) -> Result<Kernel> {
    let (package, version) = match resolve_package() {
        Ok(found) => found,
        Err(err) => match newest_cached(cache) {
            Some(found) => {
                eprintln!("vm: {err:#}; using the cached {}", found.0);
                found
            }
            None => return Err(err),
        },
    };
    let release = package.trim_start_matches("linux-image-").to_string();
    let dir = cache.join(format!("{package}_{version}"));
    let root = dir.join("root");
    if !dir.join(UNPACKED).exists() {
        // Unpack beside the cache entry and rename, so a concurrent run never sees half of it.
        let tmp = cache.join(format!(".unpack-{}", std::process::id()));
        unpack(&package, &version, &tmp)?;
        if dir.exists() && !dir.join(UNPACKED).exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        if fs::rename(&tmp, &dir).is_err() && !dir.join(UNPACKED).exists() {
            bail!("cannot move the unpacked kernel to {}", dir.display());
        }
        let _ = fs::remove_dir_all(&tmp);
    }
    let vmlinuz = root.join("boot").join(format!("vmlinuz-{release}"));
    if !vmlinuz.is_file() {
        bail!("{} has no {}", package, vmlinuz.display());
    }
    let vmlinux = ensure_vmlinux(&vmlinuz, &dir.join("vmlinux"));
    Ok(Kernel {
        release,
        package_version: version,
        root,
        vmlinuz,
        vmlinux,
    })
}

/// The newest kernel already unpacked in `cache`, for when apt cannot be asked.
fn newest_cached(cache: &Path) -> Option<(String, String)> {
    let mut found: Vec<(String, String)> = fs::read_dir(cache)
        .ok()?
        .flatten()
        .filter(|e| e.path().join(UNPACKED).exists())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let (package, version) = name.split_once('_')?;
            Some((package.to_string(), version.to_string()))
        })
        .collect();
    found.sort_by_key(|(package, _)| {
        package
            .trim_start_matches("linux-image-6.1.0-")
            .trim_end_matches("-amd64")
            .parse::<u32>()
            .unwrap_or(0)
    });
    found.pop()
}

/// Marks a completely unpacked cache entry.
const UNPACKED: &str = "unpacked.ok";

/// `apt-get download` + `dpkg -x` into `dir/root`; the package is never installed.
fn unpack(package: &str, version: &str, dir: &Path) -> Result<()> {
    eprintln!("vm: fetching {package} {version} (unpacked, not installed)");
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    host::unpack_debs(&[format!("{package}={version}")], &dir.join("root"))?;
    fs::write(dir.join(UNPACKED), "")?;
    Ok(())
}

/// Returns the path of a verified vmlinux next to `vmlinuz`, extracting it once.
/// On failure the reason is remembered in `<vmlinux>.unusable` and vmlinuz is used.
fn ensure_vmlinux(vmlinuz: &Path, vmlinux: &Path) -> Option<PathBuf> {
    let unusable = vmlinux.with_extension("unusable");
    if vmlinux.is_file() {
        return Some(vmlinux.to_path_buf());
    }
    if unusable.exists() {
        return None;
    }
    match extract_vmlinux(vmlinuz, vmlinux) {
        Ok(()) => Some(vmlinux.to_path_buf()),
        Err(err) => {
            eprintln!("vm: booting the compressed kernel, no usable vmlinux: {err:#}");
            let _ = fs::write(&unusable, format!("{err:#}\n"));
            None
        }
    }
}

/// XEN_ELFNOTE_PHYS32_ENTRY: the 32-bit entry point QEMU's PVH loader jumps to.
const PVH_ENTRY_NOTE: u32 = 18;

fn extract_vmlinux(vmlinuz: &Path, vmlinux: &Path) -> Result<()> {
    let image = fs::read(vmlinuz).with_context(|| format!("cannot read {}", vmlinuz.display()))?;
    let payload = bzimage_payload(&image)?;
    let (tool, args): (&str, &[&str]) = match payload {
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => ("xz", &["-dc", "--single-stream"]),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => ("zstd", &["-dcq"]),
        [0x1f, 0x8b, ..] => ("gzip", &["-dc"]),
        [0x02, 0x21, 0x4c, 0x18, ..] => ("lz4", &["-dc"]),
        _ => bail!("unknown compression of the kernel payload"),
    };
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {tool} to unpack the kernel"))?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    let input = payload.to_vec();
    // Feed the payload from a thread so a full stdout pipe cannot deadlock us.
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output()?;
    let fed = feeder
        .join()
        .map_err(|_| anyhow::anyhow!("feeding {tool} panicked"))?;
    // zstd/xz stop reading at the end of the stream; a broken pipe after that is fine.
    if let Err(err) = fed {
        if err.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(err).context("feeding the kernel payload");
        }
    }
    if !out.status.success() && out.stdout.is_empty() {
        bail!(
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let elf = Elf::parse(&out.stdout).context("decompressed kernel")?;
    elf.check_segments()
        .context("decompressed kernel is incomplete")?;
    let has_pvh = elf
        .notes()?
        .iter()
        .any(|n| n.name == b"Xen" && n.kind == PVH_ENTRY_NOTE && n.desc.len() >= 4);
    if !has_pvh {
        bail!("the decompressed kernel has no PVH entry note");
    }
    let tmp = vmlinux.with_extension(format!("tmp-{}", std::process::id()));
    fs::write(&tmp, &out.stdout)?;
    fs::rename(&tmp, vmlinux)?;
    Ok(())
}

/// The compressed kernel inside a bzImage, located through its boot-protocol header.
fn bzimage_payload(image: &[u8]) -> Result<&[u8]> {
    let u16_at = |at: usize| {
        image
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        image
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    if image.get(0x202..0x206) != Some(b"HdrS") {
        bail!("not a bzImage (no HdrS header)");
    }
    if u16_at(0x206).unwrap_or(0) < 0x208 {
        bail!("boot protocol too old to locate the payload");
    }
    let setup_sectors = match image[0x1f1] {
        0 => 4,
        n => usize::from(n),
    };
    let (Some(offset), Some(length)) = (u32_at(0x248), u32_at(0x24c)) else {
        bail!("truncated bzImage header");
    };
    let start = (setup_sectors + 1) * 512 + offset;
    image
        .get(start..start + length)
        .context("bzImage payload lies outside the file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bzimage_payload_follows_header() {
        let mut image = vec![0u8; 4096];
        image[0x1f1] = 2;
        image[0x202..0x206].copy_from_slice(b"HdrS");
        image[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        image[0x248..0x24c].copy_from_slice(&100u32.to_le_bytes());
        image[0x24c..0x250].copy_from_slice(&6u32.to_le_bytes());
        image[3 * 512 + 100..3 * 512 + 106].copy_from_slice(b"\xfd7zXZ\0");
        assert_eq!(bzimage_payload(&image).unwrap(), b"\xfd7zXZ\0");
        image[0x202] = b'X';
        assert!(bzimage_payload(&image).is_err());
    }
}
