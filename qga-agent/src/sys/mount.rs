//! The list of mounted filesystems that freeze, thaw, fstrim and fsinfo walk (qemu-ga's
//! `build_fs_mount_list`): `/proc/self/mountinfo`, falling back to `/proc/self/mounts`.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{self, SFlag};

use super::SysError;

/// One mounted filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Mount point (unescaped; may hold any bytes).
    pub dir: PathBuf,
    /// Filesystem type, e.g. `ext4`.
    pub fs_type: String,
    /// Mount source (unescaped), e.g. `/dev/vda1`.
    pub source: PathBuf,
    pub dev_major: u32,
    pub dev_minor: u32,
}

impl Mount {
    /// The mount point as protocol text (invalid UTF-8 replaced by U+FFFD, as on qemu-ga's wire).
    pub fn dir_text(&self) -> String {
        self.dir.to_string_lossy().into_owned()
    }
}

/// Where the mount tables are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountTables {
    /// Primary source, normally `/proc/self/mountinfo`.
    pub mountinfo: PathBuf,
    /// Fallback when `mountinfo` cannot be read, normally `/proc/self/mounts`.
    pub mounts: PathBuf,
}

impl Default for MountTables {
    fn default() -> Self {
        MountTables {
            mountinfo: PathBuf::from("/proc/self/mountinfo"),
            mounts: PathBuf::from("/proc/self/mounts"),
        }
    }
}

impl MountTables {
    /// The mount list, in table order, one entry per device (the first mount of a device wins).
    ///
    /// From mountinfo: entries with device major 0 are skipped unless they are `btrfs` with a
    /// block-device source (whose numbers are used then). From the fallback table: sources not
    /// starting with `/`, `smbfs`/`cifs`, and sources that are directories (bind mounts) are
    /// skipped. Error only if neither table can be read:
    /// `failed to open mtab file: '<mounts path>'`.
    pub fn list(&self) -> Result<Vec<Mount>, SysError> {
        if let Ok(text) = std::fs::read(&self.mountinfo) {
            return Ok(parse_mountinfo(&text));
        }
        match std::fs::read(&self.mounts) {
            Ok(text) => Ok(parse_mounts(&text)),
            Err(_) => Err(SysError::new(format!(
                "failed to open mtab file: '{}'",
                self.mounts.display()
            ))),
        }
    }
}

/// Parses `/proc/self/mountinfo` content (see [`MountTables::list`]).
pub fn parse_mountinfo(text: &[u8]) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let fields: Vec<&[u8]> = line
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|f| !f.is_empty())
            .collect();
        if fields.len() < 5 {
            continue;
        }
        let Some((mut major, mut minor)) = parse_dev(fields[2]) else {
            continue;
        };
        // Optional fields follow the mount options until a lone "-".
        let Some(dash) = fields[5..].iter().position(|f| *f == b"-") else {
            continue;
        };
        let (Some(fs_type), Some(source)) = (fields.get(5 + dash + 1), fields.get(5 + dash + 2))
        else {
            continue;
        };
        let fs_type = String::from_utf8_lossy(&unescape(fs_type)).into_owned();
        let source = bytes_path(unescape(source));
        if major == 0 {
            // btrfs reports an anonymous device; use its block device instead.
            if fs_type != "btrfs" {
                continue;
            }
            match block_device(&source) {
                Device::Block(ma, mi) => (major, minor) = (ma, mi),
                _ => continue,
            }
        }
        push_unique(
            &mut mounts,
            Mount {
                dir: bytes_path(unescape(fields[4])),
                fs_type,
                source,
                dev_major: major,
                dev_minor: minor,
            },
        );
    }
    mounts
}

/// Parses `/proc/self/mounts` (fstab format) content (see [`MountTables::list`]).
pub fn parse_mounts(text: &[u8]) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let fields: Vec<&[u8]> = line
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|f| !f.is_empty())
            .collect();
        if fields.len() < 3 || fields[0].starts_with(b"#") {
            continue;
        }
        let source = unescape(fields[0]);
        let fs_type = String::from_utf8_lossy(&unescape(fields[2])).into_owned();
        if !source.starts_with(b"/") || fs_type == "smbfs" || fs_type == "cifs" {
            continue;
        }
        let source = bytes_path(source);
        let (major, minor) = match block_device(&source) {
            Device::Directory => continue,
            Device::Block(major, minor) => (major, minor),
            Device::Other => (0, 0),
        };
        push_unique(
            &mut mounts,
            Mount {
                dir: bytes_path(unescape(fields[1])),
                fs_type,
                source,
                dev_major: major,
                dev_minor: minor,
            },
        );
    }
    mounts
}

/// Undoes the kernel's escaping of mount table fields: `\\` and `\ooo` (octal, first digit
/// 0-3) become the byte; any other backslash stays.
pub fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b == b'\\' {
            if field.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if let [d1 @ b'0'..=b'3', d2 @ b'0'..=b'7', d3 @ b'0'..=b'7', ..] = field[i + 1..] {
                out.push((d1 - b'0') * 64 + (d2 - b'0') * 8 + (d3 - b'0'));
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

fn parse_dev(field: &[u8]) -> Option<(u32, u32)> {
    let text = std::str::from_utf8(field).ok()?;
    let (major, minor) = text.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn bytes_path(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(OsString::from_vec(bytes))
}

fn push_unique(mounts: &mut Vec<Mount>, mount: Mount) {
    let duplicate = mounts
        .iter()
        .any(|m| m.dev_major == mount.dev_major && m.dev_minor == mount.dev_minor);
    if !duplicate {
        mounts.push(mount);
    }
}

enum Device {
    Block(u32, u32),
    Directory,
    Other,
}

fn block_device(path: &Path) -> Device {
    match stat::stat(path.as_os_str().as_bytes()) {
        Ok(st) => {
            let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
            if kind == SFlag::S_IFDIR {
                Device::Directory
            } else if kind == SFlag::S_IFBLK {
                Device::Block(
                    stat::major(st.st_rdev) as u32,
                    stat::minor(st.st_rdev) as u32,
                )
            } else {
                Device::Other
            }
        }
        Err(_) => Device::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_handles_octal_and_backslash() {
        assert_eq!(unescape(b"/mnt/with\\040space"), b"/mnt/with space");
        assert_eq!(unescape(b"a\\134b"), b"a\\b");
        assert_eq!(unescape(b"a\\\\b"), b"a\\b");
        assert_eq!(unescape(b"tab\\011nl\\012"), b"tab\tnl\n");
        assert_eq!(unescape(b"\\377"), [0xff]);
        // Not an escape: kept as is.
        assert_eq!(unescape(b"\\400\\08\\x\\"), b"\\400\\08\\x\\");
    }

    const MOUNTINFO: &str = "\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
23 22 0:21 / /proc rw,nosuid - proc proc rw
24 22 254:2 / /mnt/data\\040disk rw shared:5 master:2 - xfs /dev/vdb rw,attr2
25 22 254:1 /srv /bind rw - ext4 /dev/vda1 rw
26 22 0:45 / /btrfs rw - btrfs /nonexistent/dev rw
27 22 8:1 / /short rw - ext4
garbage
28 22 8:2 / /nodash rw ext4 /dev/sda2 rw
29 22 8:3 / /last rw - vfat /dev/sda3 rw";

    #[test]
    fn mountinfo_entries_are_filtered_and_deduplicated() {
        let mounts = parse_mountinfo(MOUNTINFO.as_bytes());
        let dirs: Vec<_> = mounts.iter().map(|m| m.dir_text()).collect();
        assert_eq!(dirs, ["/", "/mnt/data disk", "/last"]);
        assert_eq!(
            mounts[1],
            Mount {
                dir: PathBuf::from("/mnt/data disk"),
                fs_type: "xfs".into(),
                source: PathBuf::from("/dev/vdb"),
                dev_major: 254,
                dev_minor: 2,
            }
        );
    }

    #[test]
    fn btrfs_uses_the_block_device_of_its_source() {
        // Any block device will do; the test needs one to stat.
        let Some(dev) = std::fs::read_dir("/dev")
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| matches!(block_device(p), Device::Block(..)))
        else {
            return;
        };
        let Device::Block(major, minor) = block_device(&dev) else {
            unreachable!("checked above")
        };
        let text = format!(
            "30 1 0:50 / /vol rw - btrfs {} rw\n31 1 0:51 / /vol2 rw - tmpfs {} rw\n",
            dev.display(),
            dev.display()
        );
        let mounts = parse_mountinfo(text.as_bytes());
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].dir, Path::new("/vol"));
        assert_eq!((mounts[0].dev_major, mounts[0].dev_minor), (major, minor));
    }

    #[test]
    fn mounts_fallback_rules() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "proc /proc proc rw 0 0\n\
             //server/share /smb cifs rw 0 0\n\
             /srv/x /smb2 smbfs rw 0 0\n\
             {} /bound none rw,bind 0 0\n\
             /dev/not\\040there /spaced ext4 rw 0 0\n\
             /dev/also-missing /dup ext4 rw 0 0\n",
            dir.path().display()
        );
        let mounts = parse_mounts(text.as_bytes());
        let dirs: Vec<_> = mounts.iter().map(|m| m.dir_text()).collect();
        // Sources that are not block devices get 0:0; the second such entry is a duplicate.
        assert_eq!(dirs, ["/spaced"]);
        assert_eq!(mounts[0].source, Path::new("/dev/not there"));
        assert_eq!((mounts[0].dev_major, mounts[0].dev_minor), (0, 0));
    }

    #[test]
    fn tables_fall_back_and_report_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let mounts = dir.path().join("mounts");
        std::fs::write(&mounts, "/dev/vda1 / ext4 rw 0 0\n").unwrap();
        let tables = MountTables {
            mountinfo: dir.path().join("missing"),
            mounts: mounts.clone(),
        };
        assert_eq!(tables.list().unwrap()[0].dir, Path::new("/"));
        let missing = dir.path().join("missing2");
        let tables = MountTables {
            mountinfo: dir.path().join("missing"),
            mounts: missing.clone(),
        };
        assert_eq!(
            tables.list().unwrap_err().to_string(),
            format!("failed to open mtab file: '{}'", missing.display())
        );
    }

    #[test]
    fn the_real_mount_table_parses() {
        let mounts = MountTables::default().list().unwrap();
        let lines = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .count();
        assert!(mounts.len() <= lines);
        assert!(mounts
            .iter()
            .all(|m| m.dev_major != 0 || m.fs_type == "btrfs"));
    }
}
