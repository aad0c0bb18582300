//! guest-get-memory-blocks / guest-set-memory-blocks / guest-get-memory-block-info: memory
//! hotplug blocks under `/sys/devices/system/memory`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use qga_types::{
    GuestMemoryBlock, GuestMemoryBlockInfo, GuestMemoryBlockResponse, GuestMemoryBlockResponseType,
};

use super::error::errno_of;
use super::SysError;

/// The sysfs directory of memory blocks.
pub const MEMORY_DIR: &str = "/sys/devices/system/memory";

/// `guest-get-memory-blocks` on [`MEMORY_DIR`].
pub fn get_memory_blocks() -> Result<Vec<GuestMemoryBlock>, SysError> {
    get_memory_blocks_in(Path::new(MEMORY_DIR))
}

/// `guest-get-memory-blocks`: the `memoryN` directories of `dir` in directory order.
///
/// No such directory: `[]`. A directory without blocks: `guest reported zero memory blocks!`.
/// `online` = `state` starts with `online`; `can_offline` = `removable` is not `0`; a block
/// without `state` is online and not offlinable, one without `removable` not offlinable.
pub fn get_memory_blocks_in(dir: &Path) -> Result<Vec<GuestMemoryBlock>, SysError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if errno_of(&err) == Errno::ENOENT => return Ok(Vec::new()),
        Err(err) => {
            // The missing space is qemu-ga's text.
            return Err(SysError::with_errno(
                format!("Can't open directory\"{}/\"", dir.display()),
                errno_of(&err),
            ));
        }
    };
    let mut blocks = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(index) = name.to_str().and_then(|n| n.strip_prefix("memory")) else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let phys_index = leading_number(index);
        let block_dir = block_path(dir, phys_index);
        if let Err(err) = std::fs::read_dir(&block_dir) {
            return Err(SysError::with_errno(
                format!("open(\"{block_dir}\")"),
                errno_of(&err),
            ));
        }
        let block_dir = PathBuf::from(block_dir);
        let block = match read_sysfs(&block_dir, "state", 10) {
            Err((Some(Errno::ENOENT), _)) => GuestMemoryBlock {
                phys_index,
                online: true,
                can_offline: Some(false),
            },
            Err((_, err)) => return Err(err),
            Ok(state) => {
                let can_offline = match read_sysfs(&block_dir, "removable", 1) {
                    Ok(removable) => removable[0] != b'0',
                    Err((Some(Errno::ENOENT), _)) => false,
                    Err((_, err)) => return Err(err),
                };
                GuestMemoryBlock {
                    phys_index,
                    online: state.starts_with(b"online"),
                    can_offline: Some(can_offline),
                }
            }
        };
        blocks.push(block);
    }
    if blocks.is_empty() {
        return Err(SysError::new("guest reported zero memory blocks!"));
    }
    Ok(blocks)
}

/// `guest-set-memory-blocks` on [`MEMORY_DIR`].
pub fn set_memory_blocks(blocks: &[GuestMemoryBlock]) -> Vec<GuestMemoryBlockResponse> {
    set_memory_blocks_in(Path::new(MEMORY_DIR), blocks)
}

/// `guest-set-memory-blocks`: one response per requested block, in order. `online`/`offline`
/// is written to `state` only when it differs; `can_offline` of the request is ignored.
pub fn set_memory_blocks_in(
    dir: &Path,
    blocks: &[GuestMemoryBlock],
) -> Vec<GuestMemoryBlockResponse> {
    blocks
        .iter()
        .map(|block| {
            let (response, errno) = set_block(dir, block);
            GuestMemoryBlockResponse {
                phys_index: block.phys_index,
                response,
                error_code: errno.map(|e| i64::from(e as i32)),
            }
        })
        .collect()
}

fn set_block(
    dir: &Path,
    block: &GuestMemoryBlock,
) -> (GuestMemoryBlockResponseType, Option<Errno>) {
    use GuestMemoryBlockResponseType::*;
    if let Err(err) = std::fs::read_dir(dir) {
        let errno = errno_of(&err);
        let response = if errno == Errno::ENOENT {
            OperationNotSupported
        } else {
            OperationFailed
        };
        return (response, Some(errno));
    }
    let block_dir = PathBuf::from(block_path(dir, block.phys_index));
    if let Err(err) = std::fs::read_dir(&block_dir) {
        let errno = errno_of(&err);
        let response = if errno == Errno::ENOENT {
            NotFound
        } else {
            OperationFailed
        };
        return (response, Some(errno));
    }
    let state = match read_sysfs(&block_dir, "state", 10) {
        Ok(state) => state,
        Err((Some(Errno::ENOENT), _)) if block.online => return (Success, None),
        Err((Some(Errno::ENOENT), _)) => return (OperationNotSupported, Some(Errno::ENOENT)),
        Err((errno, _)) => return (OperationFailed, errno),
    };
    if block.online != state.starts_with(b"online") {
        let new: &[u8] = if block.online { b"online" } else { b"offline" };
        let written = OpenOptions::new()
            .write(true)
            .open(block_dir.join("state"))
            .and_then(|file| file.write_at(new, 0));
        if let Err(err) = written {
            return (OperationFailed, Some(errno_of(&err)));
        }
    }
    (Success, None)
}

/// `guest-get-memory-block-info` on [`MEMORY_DIR`].
pub fn get_memory_block_info() -> Result<GuestMemoryBlockInfo, SysError> {
    get_memory_block_info_in(Path::new(MEMORY_DIR))
}

/// `guest-get-memory-block-info`: `block_size_bytes` parsed as hexadecimal.
pub fn get_memory_block_info_in(dir: &Path) -> Result<GuestMemoryBlockInfo, SysError> {
    if let Err(err) = std::fs::read_dir(dir) {
        return Err(SysError::with_errno(
            format!("open(\"{}/\")", dir.display()),
            errno_of(&err),
        ));
    }
    let text = read_sysfs(dir, "block_size_bytes", 20).map_err(|(_, err)| err)?;
    let text = String::from_utf8_lossy(&text);
    let digits: String = text
        .trim_start()
        .trim_start_matches("0x")
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    Ok(GuestMemoryBlockInfo {
        size: u64::from_str_radix(&digits, 16).unwrap_or(0),
    })
}

/// `<dir>/memoryN/` as qemu-ga spells it in messages.
fn block_path(dir: &Path, index: u64) -> String {
    format!("{}/memory{index}/", dir.display())
}

/// `strtoul(s, NULL, 10)`: the leading decimal digits, 0 if none.
fn leading_number(s: &str) -> u64 {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().unwrap_or(0)
}

/// Reads up to `size` bytes of `dir/name` (qemu-ga's `ga_read_sysfs_file`); errors carry
/// the errno (if any) and qemu-ga's text.
fn read_sysfs(dir: &Path, name: &str, size: usize) -> Result<Vec<u8>, (Option<Errno>, SysError)> {
    let file = File::open(dir.join(name)).map_err(|err| {
        let errno = errno_of(&err);
        (
            Some(errno),
            SysError::with_errno(format!("open sysfs file \"{name}\""), errno),
        )
    })?;
    let mut buf = vec![0u8; size];
    match file.read_at(&mut buf, 0) {
        Ok(0) => Err((
            None,
            SysError::new(format!("pread sysfs file \"{name}\": unexpected EOF")),
        )),
        Ok(n) => {
            buf.truncate(n);
            Ok(buf)
        }
        Err(err) => {
            let errno = errno_of(&err);
            Err((
                Some(errno),
                SysError::with_errno(format!("pread sysfs file \"{name}\""), errno),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_memory(blocks: &[(&str, Option<&str>, Option<&str>)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (name, state, removable) in blocks {
            let dir = root.path().join(name);
            std::fs::create_dir(&dir).unwrap();
            if let Some(state) = state {
                std::fs::write(dir.join("state"), state).unwrap();
            }
            if let Some(removable) = removable {
                std::fs::write(dir.join("removable"), removable).unwrap();
            }
        }
        std::fs::write(root.path().join("block_size_bytes"), "8000000\n").unwrap();
        std::fs::write(root.path().join("memory_notdir"), "").unwrap();
        root
    }

    #[test]
    fn get_lists_blocks() {
        let root = fake_memory(&[
            ("memory0", Some("online\n"), Some("0\n")),
            ("memory1", Some("offline\n"), Some("1\n")),
            ("memory32", Some("online\n"), None),
            ("memory33", None, Some("1\n")),
        ]);
        let mut blocks = get_memory_blocks_in(root.path()).unwrap();
        blocks.sort_by_key(|b| b.phys_index);
        let block = |i, online, can| GuestMemoryBlock {
            phys_index: i,
            online,
            can_offline: Some(can),
        };
        assert_eq!(
            blocks,
            [
                block(0, true, false),
                block(1, false, true),
                block(32, true, false),
                block(33, true, false)
            ]
        );
    }

    #[test]
    fn get_edge_cases() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(get_memory_blocks_in(&root.path().join("none")).unwrap(), []);
        assert_eq!(
            get_memory_blocks_in(root.path()).unwrap_err().to_string(),
            "guest reported zero memory blocks!"
        );
        let root = fake_memory(&[("memory0", Some(""), None)]);
        assert_eq!(
            get_memory_blocks_in(root.path()).unwrap_err().to_string(),
            "pread sysfs file \"state\": unexpected EOF"
        );
    }

    #[test]
    fn set_reports_per_block() {
        use GuestMemoryBlockResponseType::*;
        let root = fake_memory(&[
            ("memory0", Some("online\n"), Some("1")),
            ("memory1", Some("online\n"), Some("1")),
            ("memory2", None, None),
        ]);
        let block = |i, online| GuestMemoryBlock {
            phys_index: i,
            online,
            can_offline: None,
        };
        let responses = set_memory_blocks_in(
            root.path(),
            &[
                block(0, true),
                block(1, false),
                block(2, false),
                block(2, true),
                block(7, true),
            ],
        );
        let view: Vec<_> = responses
            .iter()
            .map(|r| (r.phys_index, r.response.clone(), r.error_code))
            .collect();
        assert_eq!(
            view,
            [
                (0, Success, None),
                (1, Success, None),
                (2, OperationNotSupported, Some(2)),
                (2, Success, None),
                (7, NotFound, Some(2)),
            ]
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("memory1/state")).unwrap(),
            "offline"
        );
        let none = set_memory_blocks_in(&root.path().join("none"), &[block(0, true)]);
        assert_eq!(none[0].response, OperationNotSupported);
    }

    #[test]
    fn block_info() {
        let root = fake_memory(&[]);
        assert_eq!(
            get_memory_block_info_in(root.path()).unwrap().size,
            0x800_0000
        );
        let missing = root.path().join("none");
        assert_eq!(
            get_memory_block_info_in(&missing).unwrap_err().to_string(),
            format!(
                "open(\"{}/\"): No such file or directory",
                missing.display()
            )
        );
        std::fs::remove_file(root.path().join("block_size_bytes")).unwrap();
        assert_eq!(
            get_memory_block_info_in(root.path())
                .unwrap_err()
                .to_string(),
            "open sysfs file \"block_size_bytes\": No such file or directory"
        );
    }

    #[test]
    fn real_sysfs() {
        if Path::new(MEMORY_DIR).exists() {
            let blocks = get_memory_blocks().unwrap();
            assert!(blocks.iter().any(|b| b.online));
            assert!(get_memory_block_info().unwrap().size > 0);
        }
    }
}
