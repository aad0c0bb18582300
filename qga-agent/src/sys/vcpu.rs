//! guest-get-vcpus / guest-set-vcpus: logical CPUs under `/sys/devices/system/cpu`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use qga_types::GuestLogicalProcessor;

use super::error::errno_of;
use super::SysError;

/// The sysfs directory of logical CPUs.
pub const CPU_DIR: &str = "/sys/devices/system/cpu";

/// `guest-get-vcpus` on [`CPU_DIR`].
pub fn get_vcpus() -> Result<Vec<GuestLogicalProcessor>, SysError> {
    get_vcpus_in(Path::new(CPU_DIR))
}

/// `guest-get-vcpus`: the `cpuN` entries of `cpu_dir` in directory order. `online` is the
/// first byte of `cpuN/online` not being `0`; a CPU without that file is online and cannot
/// be offlined.
pub fn get_vcpus_in(cpu_dir: &Path) -> Result<Vec<GuestLogicalProcessor>, SysError> {
    let entries = std::fs::read_dir(cpu_dir).map_err(|err| {
        SysError::with_errno(
            format!("failed to list entries: {}", cpu_dir.display()),
            errno_of(&err),
        )
    })?;
    let mut vcpus = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(cpu_id) else {
            continue;
        };
        let dir = cpu_path(cpu_dir, id);
        let online = match open_online(&dir, false)? {
            None => GuestLogicalProcessor {
                logical_id: id,
                online: true,
                can_offline: Some(false),
            },
            Some(file) => GuestLogicalProcessor {
                logical_id: id,
                online: read_status(&file, &dir)? != b'0',
                can_offline: Some(true),
            },
        };
        vcpus.push(online);
    }
    Ok(vcpus)
}

/// `guest-set-vcpus` on [`CPU_DIR`].
pub fn set_vcpus(vcpus: &[GuestLogicalProcessor]) -> Result<i64, SysError> {
    set_vcpus_in(Path::new(CPU_DIR), vcpus)
}

/// `guest-set-vcpus`: brings each CPU to the requested state in order (writing `0`/`1` to
/// `cpuN/online` only when it differs) and returns how many were processed before the first
/// failure. That failure is reported only if it hit the first element:
/// `logical processor #N can't be offlined`, `open("<dir>/cpuN/"): <strerror>`, ...
/// `can_offline` of the request is ignored.
pub fn set_vcpus_in(cpu_dir: &Path, vcpus: &[GuestLogicalProcessor]) -> Result<i64, SysError> {
    let mut processed = 0;
    for vcpu in vcpus {
        if let Err(err) = set_vcpu(cpu_dir, vcpu) {
            if processed == 0 {
                return Err(err);
            }
            break;
        }
        processed += 1;
    }
    Ok(processed)
}

fn set_vcpu(cpu_dir: &Path, vcpu: &GuestLogicalProcessor) -> Result<(), SysError> {
    let dir = cpu_path(cpu_dir, vcpu.logical_id);
    let Some(file) = open_online(&dir, true)? else {
        if vcpu.online {
            // Not offlinable, but already online: nothing to do.
            return Ok(());
        }
        return Err(SysError::new(format!(
            "logical processor #{} can't be offlined",
            vcpu.logical_id
        )));
    };
    let status = read_status(&file, &dir)?;
    if vcpu.online != (status != b'0') {
        let new = if vcpu.online { b"1" } else { b"0" };
        file.write_at(new, 0).map_err(|err| {
            SysError::with_errno(format!("pwrite(\"{dir}/online\")"), errno_of(&err))
        })?;
    }
    Ok(())
}

/// `cpu<N>` with an optional trailing suffix, as qemu-ga's `sscanf("cpu%ld")` accepts.
fn cpu_id(name: &str) -> Option<i64> {
    let rest = name.strip_prefix("cpu")?;
    let digits = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(rest.len(), |(i, _)| i);
    rest[..digits].parse().ok()
}

/// The CPU's directory as qemu-ga spells it in messages: `<cpu_dir>/cpuN/`.
fn cpu_path(cpu_dir: &Path, id: i64) -> String {
    format!("{}/cpu{id}/", cpu_dir.display())
}

/// Opens `<dir>/online`; `None` if it does not exist. Errors name the path like qemu-ga.
fn open_online(dir: &str, write: bool) -> Result<Option<File>, SysError> {
    let dir_path = PathBuf::from(dir);
    if let Err(err) = std::fs::read_dir(&dir_path) {
        return Err(SysError::with_errno(
            format!("open(\"{dir}\")"),
            errno_of(&err),
        ));
    }
    match OpenOptions::new()
        .read(true)
        .write(write)
        .open(dir_path.join("online"))
    {
        Ok(file) => Ok(Some(file)),
        Err(err) if errno_of(&err) == Errno::ENOENT => Ok(None),
        Err(err) => Err(SysError::with_errno(
            format!("open(\"{dir}/online\")"),
            errno_of(&err),
        )),
    }
}

fn read_status(file: &File, dir: &str) -> Result<u8, SysError> {
    let mut status = [0u8; 1];
    match file.read_at(&mut status, 0) {
        Ok(0) => Err(SysError::new(format!(
            "pread(\"{dir}/online\"): unexpected EOF"
        ))),
        Ok(_) => Ok(status[0]),
        Err(err) => Err(SysError::with_errno(
            format!("pread(\"{dir}/online\")"),
            errno_of(&err),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_cpus(layout: &[(&str, Option<&str>)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (name, online) in layout {
            let dir = root.path().join(name);
            std::fs::create_dir(&dir).unwrap();
            if let Some(online) = online {
                std::fs::write(dir.join("online"), online).unwrap();
            }
        }
        std::fs::write(root.path().join("possible"), "0-3\n").unwrap();
        root
    }

    fn sorted(mut v: Vec<GuestLogicalProcessor>) -> Vec<GuestLogicalProcessor> {
        v.sort_by_key(|c| c.logical_id);
        v
    }

    #[test]
    fn cpu_names() {
        assert_eq!(cpu_id("cpu0"), Some(0));
        assert_eq!(cpu_id("cpu17"), Some(17));
        assert_eq!(cpu_id("cpu3x"), Some(3));
        assert_eq!(cpu_id("cpufreq"), None);
        assert_eq!(cpu_id("cpuidle"), None);
        assert_eq!(cpu_id("cpu"), None);
        assert_eq!(cpu_id("possible"), None);
    }

    #[test]
    fn get_reads_online_state() {
        let root = fake_cpus(&[
            ("cpu0", None),
            ("cpu1", Some("1\n")),
            ("cpu2", Some("0\n")),
            ("cpufreq", None),
        ]);
        let vcpus = sorted(get_vcpus_in(root.path()).unwrap());
        let expect = |id, online, can| GuestLogicalProcessor {
            logical_id: id,
            online,
            can_offline: Some(can),
        };
        assert_eq!(
            vcpus,
            [
                expect(0, true, false),
                expect(1, true, true),
                expect(2, false, true)
            ]
        );
    }

    #[test]
    fn get_errors() {
        let root = fake_cpus(&[("cpu0", Some(""))]);
        assert_eq!(
            get_vcpus_in(root.path()).unwrap_err().to_string(),
            format!(
                "pread(\"{}/cpu0//online\"): unexpected EOF",
                root.path().display()
            )
        );
        let missing = root.path().join("none");
        assert_eq!(
            get_vcpus_in(&missing).unwrap_err().to_string(),
            format!(
                "failed to list entries: {}: No such file or directory",
                missing.display()
            )
        );
    }

    #[test]
    fn set_writes_only_changes_and_counts() {
        let root = fake_cpus(&[("cpu0", None), ("cpu1", Some("1")), ("cpu2", Some("1"))]);
        let cpu = |id, online| GuestLogicalProcessor {
            logical_id: id,
            online,
            can_offline: None,
        };
        let done = set_vcpus_in(root.path(), &[cpu(0, true), cpu(1, true), cpu(2, false)]);
        assert_eq!(done.unwrap(), 3);
        let state = |n: &str| std::fs::read_to_string(root.path().join(n).join("online")).unwrap();
        assert_eq!(state("cpu1"), "1");
        assert_eq!(state("cpu2"), "0");
        // Failure after the first element: the count so far, no error.
        assert_eq!(
            set_vcpus_in(root.path(), &[cpu(2, true), cpu(0, false), cpu(1, false)]).unwrap(),
            1
        );
        assert_eq!(state("cpu2"), "1");
        assert_eq!(state("cpu1"), "1", "processing stops at the failure");
        // Failure on the first element: the error.
        assert_eq!(
            set_vcpus_in(root.path(), &[cpu(0, false)])
                .unwrap_err()
                .to_string(),
            "logical processor #0 can't be offlined"
        );
        assert_eq!(
            set_vcpus_in(root.path(), &[cpu(9, true)])
                .unwrap_err()
                .to_string(),
            format!(
                "open(\"{}/cpu9/\"): No such file or directory",
                root.path().display()
            )
        );
        assert_eq!(set_vcpus_in(root.path(), &[]).unwrap(), 0);
    }

    #[test]
    fn real_sysfs_lists_cpus() {
        if Path::new(CPU_DIR).exists() {
            let vcpus = get_vcpus().unwrap();
            assert!(!vcpus.is_empty());
            assert!(vcpus.iter().all(|c| c.can_offline.is_some()));
            assert!(vcpus.iter().any(|c| c.online));
        }
    }
}
