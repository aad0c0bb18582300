//! The VM's second disk: a small ext4 image populated with known files (no mount needed).

use super::{guest, host};
use anyhow::{Context, Result};
use std::fs;
use std::path::Path;
use std::process::Command;

/// Writes a fresh ext4 image at `image`, holding [`guest::DATA_FILES`].
pub fn build(image: &Path) -> Result<()> {
    let mkfs = host::which("mkfs.ext4")
        .context("mkfs.ext4 not found (install e2fsprogs, or run `cargo xtask setup` as root)")?;
    let content = image.with_extension("content");
    if content.exists() {
        fs::remove_dir_all(&content)?;
    }
    for (path, data) in guest::DATA_FILES {
        let file = content.join(path);
        if let Some(parent) = file.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&file, data).with_context(|| format!("cannot write {}", file.display()))?;
    }
    let _ = fs::remove_file(image);
    fs::File::create(image)
        .and_then(|f| f.set_len(guest::DATA_DISK_MIB << 20))
        .with_context(|| format!("cannot create {}", image.display()))?;
    host::run(
        Command::new(mkfs)
            .args(["-F", "-q", "-L", "qgadata", "-d"])
            .arg(&content)
            .arg(image),
    )?;
    fs::remove_dir_all(&content)?;
    Ok(())
}
