//! The filesystem ioctls behind fsfreeze and fstrim: FIFREEZE, FITHAW, FITRIM.

use std::fs::File;
use std::os::fd::AsRawFd;

use nix::errno::Errno;

/// `struct fstrim_range` of `<linux/fs.h>`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FstrimRange {
    pub start: u64,
    pub len: u64,
    pub minlen: u64,
}

nix::ioctl_readwrite!(fifreeze, b'X', 119, libc::c_int);
nix::ioctl_readwrite!(fithaw, b'X', 120, libc::c_int);
nix::ioctl_readwrite!(fitrim, b'X', 121, FstrimRange);

/// The ioctls the freeze and trim commands issue on an open mount-point directory.
///
/// [`Kernel`] issues them for real; tests substitute a recorder because freezing a real
/// filesystem of the test host would stop the host.
pub trait FsIoctl {
    /// FIFREEZE.
    fn freeze(&self, dir: &File) -> Result<(), Errno>;
    /// FITHAW.
    fn thaw(&self, dir: &File) -> Result<(), Errno>;
    /// FITRIM over the whole filesystem with `minlen`; returns (bytes trimmed, effective minlen).
    fn trim(&self, dir: &File, minlen: u64) -> Result<(u64, u64), Errno>;
}

/// The real ioctls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kernel;

impl FsIoctl for Kernel {
    fn freeze(&self, dir: &File) -> Result<(), Errno> {
        let mut unused: libc::c_int = 0;
        // SAFETY: `dir` is an open descriptor for the duration of the call and FIFREEZE reads
        // nothing from the (valid) argument pointer.
        unsafe { fifreeze(dir.as_raw_fd(), &mut unused) }.map(drop)
    }

    fn thaw(&self, dir: &File) -> Result<(), Errno> {
        let mut unused: libc::c_int = 0;
        // SAFETY: as for FIFREEZE.
        unsafe { fithaw(dir.as_raw_fd(), &mut unused) }.map(drop)
    }

    fn trim(&self, dir: &File, minlen: u64) -> Result<(u64, u64), Errno> {
        let mut range = FstrimRange {
            start: 0,
            len: u64::MAX,
            minlen,
        };
        // SAFETY: `dir` is open and `range` is a valid, writable `struct fstrim_range` the
        // kernel reads and updates in place.
        unsafe { fitrim(dir.as_raw_fd(), &mut range) }?;
        Ok((range.len, range.minlen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_codes_match_linux() {
        // _IOWR('X', 119, int), _IOWR('X', 120, int), _IOWR('X', 121, struct fstrim_range)
        assert_eq!(nix::request_code_readwrite!(b'X', 119, 4), 0xC004_5877);
        assert_eq!(nix::request_code_readwrite!(b'X', 120, 4), 0xC004_5878);
        assert_eq!(
            nix::request_code_readwrite!(b'X', 121, std::mem::size_of::<FstrimRange>()),
            0xC018_5879
        );
    }

    #[test]
    fn real_ioctls_on_procfs_are_refused_harmlessly() {
        // procfs implements none of these: FIFREEZE/FITRIM fail (EOPNOTSUPP/ENOTTY, or EPERM
        // without CAP_SYS_ADMIN) and FITHAW reports a filesystem that is not frozen.
        let proc = File::open("/proc").unwrap();
        let freeze = Kernel.freeze(&proc).unwrap_err();
        assert!(
            matches!(freeze, Errno::EOPNOTSUPP | Errno::EPERM),
            "{freeze}"
        );
        let thaw = Kernel.thaw(&proc).unwrap_err();
        assert!(
            matches!(thaw, Errno::EINVAL | Errno::EOPNOTSUPP | Errno::EPERM),
            "{thaw}"
        );
        let trim = Kernel.trim(&proc, 0).unwrap_err();
        assert!(
            matches!(trim, Errno::ENOTTY | Errno::EOPNOTSUPP | Errno::EPERM),
            "{trim}"
        );
    }
}
