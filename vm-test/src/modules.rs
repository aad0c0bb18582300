//! Kernel modules for the initramfs: a module and everything it depends on, in load order.
//!
//! A package that is unpacked rather than installed has no `modules.dep` (depmod writes it at
//! install time), so dependencies are read from each module's own `.modinfo` section.

use super::elf::Elf;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A module ready to be put into the initramfs, uncompressed.
pub struct Module {
    /// Path relative to `lib/modules/<release>/`, always ending in `.ko`.
    pub relative_path: PathBuf,
    pub data: Vec<u8>,
}

/// Normalised module name of a file such as `crc32c-intel.ko.xz` (`crc32c_intel`).
fn module_name(file_name: &str) -> Option<String> {
    let stem = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .find_map(|suffix| file_name.strip_suffix(suffix))?;
    Some(stem.replace('-', "_"))
}

/// Index of every module file below `modules_dir`, by module name.
fn index(modules_dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![modules_dir.join("kernel")];
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else if let Some(name) = entry.file_name().to_str().and_then(module_name) {
                found.insert(name, path);
            }
        }
    }
    Ok(found)
}

/// The module's bytes, decompressed on the host (busybox insmod takes only plain `.ko`).
fn read_module(path: &Path) -> Result<Vec<u8>> {
    let file_name = path.to_string_lossy();
    let tool = if file_name.ends_with(".xz") {
        "xz"
    } else if file_name.ends_with(".zst") {
        "zstd"
    } else if file_name.ends_with(".gz") {
        "gzip"
    } else {
        return std::fs::read(path).with_context(|| format!("cannot read {}", path.display()));
    };
    let out = Command::new(tool)
        .arg("-dc")
        .arg(path)
        .output()
        .with_context(|| format!("cannot run {tool}"))?;
    if !out.status.success() {
        bail!("{tool} -dc {} failed", path.display());
    }
    Ok(out.stdout)
}

/// The `depends=` list of a module's `.modinfo` section.
fn depends(data: &[u8]) -> Result<Vec<String>> {
    let modinfo = Elf::parse(data)?.section(".modinfo")?.unwrap_or_default();
    let mut names = Vec::new();
    for list in modinfo
        .split(|&b| b == 0)
        .filter_map(|f| f.strip_prefix(b"depends="))
    {
        let list = String::from_utf8_lossy(list);
        names.extend(
            list.split(',')
                .filter(|n| !n.is_empty())
                .map(|n| n.replace('-', "_")),
        );
    }
    Ok(names)
}

/// `wanted` and their dependencies, each after everything it depends on.
/// Names the kernel has built in are skipped (they need no loading).
pub fn resolve(modules_dir: &Path, wanted: &[&str]) -> Result<Vec<Module>> {
    let files = index(modules_dir)?;
    let builtin = std::fs::read_to_string(modules_dir.join("modules.builtin")).unwrap_or_default();
    let builtin: BTreeSet<String> = builtin
        .lines()
        .filter_map(|line| line.rsplit('/').next().and_then(module_name))
        .collect();
    let mut ordered = Vec::new();
    let mut visiting = BTreeSet::new();
    let mut done = BTreeSet::new();
    for name in wanted {
        visit(
            &name.replace('-', "_"),
            &files,
            &builtin,
            &mut visiting,
            &mut done,
            &mut ordered,
        )
        .with_context(|| format!("resolving module {name}"))?;
    }
    Ok(ordered)
}

fn visit(
    name: &str,
    files: &BTreeMap<String, PathBuf>,
    builtin: &BTreeSet<String>,
    visiting: &mut BTreeSet<String>,
    done: &mut BTreeSet<String>,
    ordered: &mut Vec<Module>,
) -> Result<()> {
    if done.contains(name) || builtin.contains(name) {
        return Ok(());
    }
    if !visiting.insert(name.to_string()) {
        bail!("module dependency cycle through {name}");
    }
    let path = files
        .get(name)
        .with_context(|| format!("no module file for {name}"))?;
    let data = read_module(path)?;
    for dep in depends(&data).with_context(|| format!("reading {}", path.display()))? {
        visit(&dep, files, builtin, visiting, done, ordered)?;
    }
    let relative = path
        .strip_prefix(files_root(path)?)
        .unwrap_or(path)
        .with_file_name(format!("{}.ko", path_stem(path)));
    ordered.push(Module {
        relative_path: relative,
        data,
    });
    visiting.remove(name);
    done.insert(name.to_string());
    Ok(())
}

/// `lib/modules/<release>/` of a module path (the parent of its `kernel/` component).
fn files_root(path: &Path) -> Result<&Path> {
    path.ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "kernel"))
        .and_then(Path::parent)
        .context("module outside a kernel/ directory")
}

/// The file name without `.ko[.xz|.zst|.gz]`.
fn path_stem(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let cut = name.find(".ko").unwrap_or(name.len());
    name[..cut].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_are_normalised() {
        assert_eq!(
            module_name("crc32c-intel.ko").as_deref(),
            Some("crc32c_intel")
        );
        assert_eq!(module_name("ext4.ko.zst").as_deref(), Some("ext4"));
        assert_eq!(module_name("modules.dep"), None);
    }

    #[test]
    fn path_stem_drops_compression() {
        assert_eq!(path_stem(Path::new("/x/kernel/fs/ext4/ext4.ko.xz")), "ext4");
    }
}
