//! guest-fstrim: FITRIM on every mounted filesystem.

use std::fs::File;

use nix::errno::Errno;
use qga_types::GuestFilesystemTrimResult;

use super::error::{errno_of, strerror};
use super::fsioctl::{FsIoctl, Kernel};
use super::mount::{Mount, MountTables};
use super::SysError;

/// `guest-fstrim`: trims every mount of the real mount tables.
pub fn fstrim(minimum: Option<i64>) -> Result<Vec<GuestFilesystemTrimResult>, SysError> {
    let mounts = MountTables::default().list()?;
    Ok(trim_mounts(&mounts, minimum, &Kernel))
}

/// Trims each mount with `minlen = minimum` (default 0; negative values wrap like qemu-ga's
/// C cast) and returns the results in **reverse** mount order, as qemu-ga does. Per-path
/// errors: `failed to open: <strerror>`, `trim not supported` (ENOTTY/EOPNOTSUPP),
/// `failed to trim: <strerror>`.
pub fn trim_mounts(
    mounts: &[Mount],
    minimum: Option<i64>,
    ioctl: &impl FsIoctl,
) -> Vec<GuestFilesystemTrimResult> {
    let minlen = minimum.unwrap_or(0) as u64;
    let mut results: Vec<GuestFilesystemTrimResult> = mounts
        .iter()
        .map(|mount| {
            let mut result = GuestFilesystemTrimResult {
                path: mount.dir_text(),
                trimmed: None,
                minimum: None,
                error: None,
            };
            match File::open(&mount.dir) {
                Err(err) => {
                    result.error = Some(format!("failed to open: {}", strerror(errno_of(&err))));
                }
                Ok(dir) => match ioctl.trim(&dir, minlen) {
                    Ok((trimmed, minlen)) => {
                        result.trimmed = Some(trimmed as i64);
                        result.minimum = Some(minlen as i64);
                    }
                    Err(Errno::ENOTTY | Errno::EOPNOTSUPP) => {
                        result.error = Some("trim not supported".to_owned());
                    }
                    Err(errno) => {
                        result.error = Some(format!("failed to trim: {}", strerror(errno)));
                    }
                },
            }
            result
        })
        .collect();
    results.reverse();
    results
}

#[cfg(test)]
mod tests {
    use super::super::freeze::tests::{FakeIoctl, Tree};
    use super::*;

    #[test]
    fn results_are_reversed_with_per_path_errors() {
        let tree = Tree::new(&["a", "b", "c", "d", "e"]);
        std::fs::remove_dir(tree.path("e")).unwrap();
        let mut ioctl = FakeIoctl::default();
        ioctl
            .trim_result
            .insert(tree.path("a"), Ok((1 << 20, 4096)));
        ioctl.trim_result.insert(tree.path("b"), Err(Errno::ENOTTY));
        ioctl
            .trim_result
            .insert(tree.path("c"), Err(Errno::EOPNOTSUPP));
        ioctl.trim_result.insert(tree.path("d"), Err(Errno::EIO));
        let mounts = tree.tables.list().unwrap();
        let results = trim_mounts(&mounts, Some(512), &ioctl);
        let view: Vec<_> = results
            .iter()
            .map(|r| (r.path.clone(), r.trimmed, r.minimum, r.error.clone()))
            .collect();
        assert_eq!(
            view,
            [
                (
                    tree.path("e"),
                    None,
                    None,
                    Some("failed to open: No such file or directory".to_owned())
                ),
                (
                    tree.path("d"),
                    None,
                    None,
                    Some("failed to trim: Input/output error".to_owned())
                ),
                (
                    tree.path("c"),
                    None,
                    None,
                    Some("trim not supported".to_owned())
                ),
                (
                    tree.path("b"),
                    None,
                    None,
                    Some("trim not supported".to_owned())
                ),
                (tree.path("a"), Some(1 << 20), Some(4096), None),
            ]
        );
    }

    #[test]
    fn minimum_defaults_to_zero_and_negative_wraps() {
        let tree = Tree::new(&["a"]);
        let mounts = tree.tables.list().unwrap();
        let ioctl = FakeIoctl::default();
        assert_eq!(trim_mounts(&mounts, None, &ioctl)[0].minimum, Some(0));
        assert_eq!(trim_mounts(&mounts, Some(-1), &ioctl)[0].minimum, Some(-1));
    }

    #[test]
    fn procfs_is_reported_as_not_supported_by_the_real_ioctl() {
        let mount = Mount {
            dir: "/proc".into(),
            fs_type: "proc".into(),
            source: "proc".into(),
            dev_major: 0,
            dev_minor: 0,
        };
        let result = &trim_mounts(&[mount], None, &Kernel)[0];
        assert_eq!(result.path, "/proc");
        assert!(result.trimmed.is_none());
        assert!(matches!(
            result.error.as_deref(),
            Some("trim not supported" | "failed to trim: Operation not permitted")
        ));
    }
}
