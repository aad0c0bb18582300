//! guest-fsfreeze-freeze / -freeze-list / -thaw: the freeze mechanics and the hook.
//!
//! The agent core owns the frozen flag (the `isfrozen` file, the command filter, logging);
//! it hands that in as a [`FreezeState`] and [`FsFreeze`] runs qemu-ga's sequence around it.

use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;

use super::fsioctl::{FsIoctl, Kernel};
use super::mount::{Mount, MountTables};
use super::{process, SysError};

/// The agent's frozen state, as the freeze sequence needs to switch it.
pub trait FreezeState {
    /// Enter the frozen state: create the `isfrozen` file, allow only the freeze-safe
    /// commands, stop logging. Called after the mount list was built, before any FIFREEZE.
    fn set_frozen(&mut self);
    /// Leave the frozen state (no-op when not frozen): delete the `isfrozen` file, re-apply
    /// the normal command filter, resume logging and open deferred log/pid files.
    fn unset_frozen(&mut self);
}

/// Argument passed to the fsfreeze hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookArg {
    Freeze,
    Thaw,
}

impl HookArg {
    /// `freeze` or `thaw`.
    pub fn as_str(self) -> &'static str {
        match self {
            HookArg::Freeze => "freeze",
            HookArg::Thaw => "thaw",
        }
    }
}

/// Runs the fsfreeze hook as `<hook> freeze|thaw` (see [`process::run_command_bounded`]),
/// killing its process group after `timeout`; errors read `child process has failed to
/// execute fsfreeze hook: ...`.
pub fn run_hook(hook: &Path, arg: HookArg, timeout: Option<Duration>) -> Result<(), SysError> {
    process::run_command_bounded(
        &[hook.as_os_str(), arg.as_str().as_ref()],
        "execute fsfreeze hook",
        timeout,
    )
}

/// Freezes `mounts` in reverse order (qemu-ga's `do_freeze_list`), optionally only those whose
/// mount point is string-equal to an entry of `only`. Returns how many were frozen;
/// `EOPNOTSUPP` and `EBUSY` (already frozen through another mount) are skipped uncounted.
/// Errors stop the walk: `failed to open <dir>: <strerror>`, `failed to freeze <dir>:
/// <strerror>`; what was frozen until then stays frozen (the caller thaws everything).
pub fn freeze_mounts(
    mounts: &[Mount],
    only: Option<&[String]>,
    ioctl: &impl FsIoctl,
) -> Result<i64, SysError> {
    let mut frozen = 0;
    for mount in mounts.iter().rev() {
        if let Some(only) = only {
            let dir = mount.dir.as_os_str().as_bytes();
            if !only.iter().any(|wanted| wanted.as_bytes() == dir) {
                continue;
            }
        }
        let dir = open_dir(&mount.dir).map_err(|errno| {
            SysError::with_errno(format!("failed to open {}", mount.dir.display()), errno)
        })?;
        match ioctl.freeze(&dir) {
            Ok(()) => frozen += 1,
            Err(Errno::EOPNOTSUPP | Errno::EBUSY) => {}
            Err(errno) => {
                return Err(SysError::with_errno(
                    format!("failed to freeze {}", mount.dir.display()),
                    errno,
                ))
            }
        }
    }
    Ok(frozen)
}

/// Thaws `mounts` in order (qemu-ga's `do_thaw`): FITHAW is repeated until it fails, because
/// each FIFREEZE needs its own FITHAW. Returns how many mounts thawed on the first call;
/// mount points that cannot be opened are skipped.
pub fn thaw_mounts(mounts: &[Mount], ioctl: &impl FsIoctl) -> i64 {
    let mut thawed = 0;
    for mount in mounts {
        let Ok(dir) = open_dir(&mount.dir) else {
            continue;
        };
        if ioctl.thaw(&dir).is_ok() {
            thawed += 1;
            while ioctl.thaw(&dir).is_ok() {}
        }
    }
    thawed
}

fn open_dir(path: &Path) -> Result<File, Errno> {
    // std opens with O_CLOEXEC; O_RDONLY is what FIFREEZE/FITRIM need.
    File::open(path).map_err(|err| super::error::errno_of(&err))
}

/// qemu-ga's freeze/thaw sequences over the mount tables, the hook and the ioctls.
#[derive(Debug, Clone, Default)]
pub struct FsFreeze<I = Kernel> {
    /// The fsfreeze hook (`-F`), if configured.
    pub hook: Option<PathBuf>,
    /// How long the hook may run (`None`: no bound).
    pub hook_timeout: Option<Duration>,
    /// Where mounts are listed from.
    pub tables: MountTables,
    /// The ioctls to issue.
    pub ioctl: I,
}

impl<I: FsIoctl> FsFreeze<I> {
    /// `guest-fsfreeze-freeze` (`mountpoints: None`) and `guest-fsfreeze-freeze-list`.
    ///
    /// Hook `freeze` (failure: error, nothing frozen) → mount list (failure: error) →
    /// `set_frozen` → [`freeze_mounts`]. On error everything is thawed as by [`Self::thaw`]
    /// (hook included, its errors ignored) and the freeze error returned; if nothing was
    /// frozen the state is left again without running the thaw hook and 0 is returned.
    pub fn freeze(
        &self,
        mountpoints: Option<&[String]>,
        state: &mut dyn FreezeState,
    ) -> Result<i64, SysError> {
        if let Some(hook) = &self.hook {
            run_hook(hook, HookArg::Freeze, self.hook_timeout)?;
        }
        let mounts = self.tables.list()?;
        state.set_frozen();
        match freeze_mounts(&mounts, mountpoints, &self.ioctl) {
            Ok(0) => {
                state.unset_frozen();
                Ok(0)
            }
            Ok(frozen) => Ok(frozen),
            Err(err) => {
                let _ = self.thaw(state);
                Err(err)
            }
        }
    }

    /// `guest-fsfreeze-thaw` (also used on agent exit while frozen).
    ///
    /// Mount list (failure: error, state stays frozen) → [`thaw_mounts`] → `unset_frozen` →
    /// hook `thaw` (failure: error although the filesystems are thawed). Allowed when not
    /// frozen: it still thaws every mount and runs the hook.
    pub fn thaw(&self, state: &mut dyn FreezeState) -> Result<i64, SysError> {
        let mounts = self.tables.list()?;
        let thawed = thaw_mounts(&mounts, &self.ioctl);
        state.unset_frozen();
        if let Some(hook) = &self.hook {
            run_hook(hook, HookArg::Thaw, self.hook_timeout)?;
        }
        Ok(thawed)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// Records the ioctls issued, per mount point, and answers them from a script: each
    /// directory has a freeze depth (FITHAW succeeds while it is positive) and optional errors.
    #[derive(Default)]
    pub(crate) struct FakeIoctl {
        pub calls: RefCell<Vec<(String, &'static str)>>,
        pub depth: RefCell<HashMap<String, u32>>,
        pub freeze_error: HashMap<String, Errno>,
        pub trim_result: HashMap<String, Result<(u64, u64), Errno>>,
    }

    impl FakeIoctl {
        fn dir_of(dir: &File) -> String {
            let link = format!("/proc/self/fd/{}", dir.as_raw_fd());
            std::fs::read_link(link)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        }

        fn record(&self, dir: &File, op: &'static str) -> String {
            let dir = Self::dir_of(dir);
            self.calls.borrow_mut().push((dir.clone(), op));
            dir
        }
    }

    impl FsIoctl for FakeIoctl {
        fn freeze(&self, dir: &File) -> Result<(), Errno> {
            let dir = self.record(dir, "freeze");
            if let Some(errno) = self.freeze_error.get(&dir) {
                return Err(*errno);
            }
            *self.depth.borrow_mut().entry(dir).or_default() += 1;
            Ok(())
        }

        fn thaw(&self, dir: &File) -> Result<(), Errno> {
            let dir = self.record(dir, "thaw");
            match self.depth.borrow_mut().get_mut(&dir) {
                Some(depth) if *depth > 0 => {
                    *depth -= 1;
                    Ok(())
                }
                _ => Err(Errno::EINVAL),
            }
        }

        fn trim(&self, dir: &File, minlen: u64) -> Result<(u64, u64), Errno> {
            let dir = self.record(dir, "trim");
            self.trim_result
                .get(&dir)
                .copied()
                .unwrap_or(Ok((4096, minlen)))
        }
    }

    #[derive(Default)]
    struct FakeState {
        events: Vec<&'static str>,
    }

    impl FreezeState for FakeState {
        fn set_frozen(&mut self) {
            self.events.push("set_frozen");
        }
        fn unset_frozen(&mut self) {
            self.events.push("unset_frozen");
        }
    }

    /// A temp dir with mount-point directories `a`, `b`, `c` and a mountinfo listing them.
    pub(crate) struct Tree {
        pub dir: tempfile::TempDir,
        pub tables: MountTables,
    }

    impl Tree {
        pub(crate) fn new(names: &[&str]) -> Tree {
            let dir = tempfile::tempdir().unwrap();
            let mut mountinfo = String::new();
            for (i, name) in names.iter().enumerate() {
                let path = dir.path().join(name);
                std::fs::create_dir_all(&path).unwrap();
                mountinfo.push_str(&format!(
                    "{} 1 8:{i} / {} rw - ext4 /dev/sd{i} rw\n",
                    20 + i,
                    path.display()
                ));
            }
            let tables = MountTables {
                mountinfo: dir.path().join("mountinfo"),
                mounts: dir.path().join("mounts"),
            };
            std::fs::write(&tables.mountinfo, mountinfo).unwrap();
            Tree { dir, tables }
        }

        pub(crate) fn path(&self, name: &str) -> String {
            self.dir.path().join(name).to_str().unwrap().to_owned()
        }

        fn hook(&self, script: &str) -> PathBuf {
            let hook = self.dir.path().join("hook");
            std::fs::write(&hook, format!("#!/bin/sh\n{script}\n")).unwrap();
            std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
            hook
        }

        fn freezer(&self, ioctl: FakeIoctl, hook: Option<PathBuf>) -> FsFreeze<FakeIoctl> {
            FsFreeze {
                hook,
                hook_timeout: None,
                tables: self.tables.clone(),
                ioctl,
            }
        }
    }

    fn ops(ioctl: &FakeIoctl, tree: &Tree) -> Vec<(String, &'static str)> {
        let root = tree.dir.path().to_str().unwrap().to_owned() + "/";
        ioctl
            .calls
            .borrow()
            .iter()
            .map(|(dir, op)| (dir.trim_start_matches(&root).to_owned(), *op))
            .collect()
    }

    fn pairs(list: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        list.iter().map(|(d, o)| ((*d).to_owned(), *o)).collect()
    }

    #[test]
    fn freeze_walks_mounts_in_reverse_and_thaw_in_order() {
        let tree = Tree::new(&["a", "b", "c"]);
        let fs = tree.freezer(FakeIoctl::default(), None);
        let mut state = FakeState::default();
        assert_eq!(fs.freeze(None, &mut state).unwrap(), 3);
        assert_eq!(state.events, ["set_frozen"]);
        assert_eq!(fs.thaw(&mut state).unwrap(), 3);
        assert_eq!(state.events, ["set_frozen", "unset_frozen"]);
        assert_eq!(
            ops(&fs.ioctl, &tree),
            pairs(&[
                ("c", "freeze"),
                ("b", "freeze"),
                ("a", "freeze"),
                ("a", "thaw"),
                ("a", "thaw"),
                ("b", "thaw"),
                ("b", "thaw"),
                ("c", "thaw"),
                ("c", "thaw"),
            ])
        );
    }

    #[test]
    fn freeze_list_filters_by_exact_mount_point() {
        let tree = Tree::new(&["a", "b", "c"]);
        let fs = tree.freezer(FakeIoctl::default(), None);
        let mut state = FakeState::default();
        let only = [
            tree.path("c"),
            tree.path("a"),
            "/not/mounted".to_owned(),
            tree.path("b/"),
        ];
        assert_eq!(fs.freeze(Some(&only), &mut state).unwrap(), 2);
        assert_eq!(
            ops(&fs.ioctl, &tree),
            pairs(&[("c", "freeze"), ("a", "freeze")])
        );
        // Nothing matches: 0, and the frozen state is left again without the thaw hook.
        let mut state = FakeState::default();
        assert_eq!(fs.freeze(Some(&[]), &mut state).unwrap(), 0);
        assert_eq!(state.events, ["set_frozen", "unset_frozen"]);
    }

    #[test]
    fn unsupported_and_busy_filesystems_are_not_counted() {
        let tree = Tree::new(&["a", "b", "c"]);
        let mut ioctl = FakeIoctl::default();
        ioctl.freeze_error.insert(tree.path("a"), Errno::EOPNOTSUPP);
        ioctl.freeze_error.insert(tree.path("b"), Errno::EBUSY);
        let fs = tree.freezer(ioctl, None);
        let mut state = FakeState::default();
        assert_eq!(fs.freeze(None, &mut state).unwrap(), 1);
        assert_eq!(state.events, ["set_frozen"]);
        // A thaw counts only mounts whose first FITHAW succeeded.
        assert_eq!(fs.thaw(&mut state).unwrap(), 1);
    }

    #[test]
    fn a_freeze_error_thaws_everything_and_runs_the_thaw_hook() {
        let tree = Tree::new(&["a", "b", "c"]);
        let log = tree.dir.path().join("hook.log");
        let hook = tree.hook(&format!("echo \"$1\" >> {}", log.display()));
        let mut ioctl = FakeIoctl::default();
        ioctl.freeze_error.insert(tree.path("b"), Errno::EIO);
        let fs = tree.freezer(ioctl, Some(hook));
        let mut state = FakeState::default();
        let err = fs.freeze(None, &mut state).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("failed to freeze {}: Input/output error", tree.path("b"))
        );
        assert_eq!(state.events, ["set_frozen", "unset_frozen"]);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "freeze\nthaw\n");
        assert_eq!(
            ops(&fs.ioctl, &tree),
            pairs(&[
                ("c", "freeze"),
                ("b", "freeze"),
                ("a", "thaw"),
                ("b", "thaw"),
                ("c", "thaw"),
                ("c", "thaw"),
            ])
        );
    }

    #[test]
    fn an_unopenable_mount_point_is_an_error_for_freeze_and_skipped_by_thaw() {
        let tree = Tree::new(&["a", "b"]);
        std::fs::remove_dir(tree.path("b")).unwrap();
        let fs = tree.freezer(FakeIoctl::default(), None);
        let mut state = FakeState::default();
        assert_eq!(
            fs.freeze(None, &mut state).unwrap_err().to_string(),
            format!(
                "failed to open {}: No such file or directory",
                tree.path("b")
            )
        );
        assert_eq!(state.events, ["set_frozen", "unset_frozen"]);
        assert_eq!(ops(&fs.ioctl, &tree), pairs(&[("a", "thaw")]));
    }

    #[test]
    fn a_failing_freeze_hook_freezes_nothing() {
        let tree = Tree::new(&["a"]);
        let hook = tree.hook("echo not now; exit 1");
        let fs = tree.freezer(FakeIoctl::default(), Some(hook));
        let mut state = FakeState::default();
        assert_eq!(
            fs.freeze(None, &mut state).unwrap_err().to_string(),
            "child process has failed to execute fsfreeze hook: not now\n"
        );
        assert!(state.events.is_empty());
        assert!(fs.ioctl.calls.borrow().is_empty());
    }

    #[test]
    fn a_failing_thaw_hook_is_reported_after_thawing() {
        let tree = Tree::new(&["a"]);
        let hook = tree.hook("[ \"$1\" = thaw ] && exit 7; exit 0");
        let fs = tree.freezer(FakeIoctl::default(), Some(hook));
        let mut state = FakeState::default();
        assert_eq!(fs.freeze(None, &mut state).unwrap(), 1);
        assert_eq!(
            fs.thaw(&mut state).unwrap_err().to_string(),
            "child process has failed to execute fsfreeze hook: exit status 7"
        );
        assert_eq!(state.events, ["set_frozen", "unset_frozen"]);
        assert_eq!(fs.ioctl.depth.borrow()[&tree.path("a")], 0);
    }

    #[test]
    fn a_hanging_freeze_hook_is_killed_and_freezes_nothing() {
        let tree = Tree::new(&["a"]);
        let hook = tree.hook("[ \"$1\" = freeze ] && sleep 600; exit 0");
        let mut fs = tree.freezer(FakeIoctl::default(), Some(hook));
        fs.hook_timeout = Some(Duration::from_secs(1));
        let mut state = FakeState::default();
        let started = std::time::Instant::now();
        assert_eq!(
            fs.freeze(None, &mut state).unwrap_err().to_string(),
            "child process has failed to execute fsfreeze hook: timed out after 1 s, its \
             process group was killed"
        );
        assert!(started.elapsed() < Duration::from_secs(30));
        assert!(state.events.is_empty());
        assert!(fs.ioctl.calls.borrow().is_empty());
    }

    #[test]
    fn a_hanging_thaw_hook_is_reported_after_thawing() {
        let tree = Tree::new(&["a"]);
        let hook = tree.hook("[ \"$1\" = thaw ] && sleep 600; exit 0");
        let mut fs = tree.freezer(FakeIoctl::default(), Some(hook));
        fs.hook_timeout = Some(Duration::from_secs(1));
        let mut state = FakeState::default();
        assert_eq!(fs.freeze(None, &mut state).unwrap(), 1);
        assert!(fs
            .thaw(&mut state)
            .unwrap_err()
            .to_string()
            .ends_with("timed out after 1 s, its process group was killed"));
        assert_eq!(state.events, ["set_frozen", "unset_frozen"]);
        assert_eq!(fs.ioctl.depth.borrow()[&tree.path("a")], 0);
    }

    #[test]
    fn a_missing_mount_table_fails_before_freezing_or_thawing() {
        let tree = Tree::new(&["a"]);
        let mut fs = tree.freezer(FakeIoctl::default(), None);
        fs.tables.mountinfo = tree.dir.path().join("none");
        fs.tables.mounts = tree.dir.path().join("none2");
        let mut state = FakeState::default();
        assert!(fs.freeze(None, &mut state).is_err());
        assert!(fs.thaw(&mut state).is_err());
        assert!(state.events.is_empty(), "thaw failure keeps the state");
    }

    #[test]
    fn hook_gets_its_argument() {
        let tree = Tree::new(&[]);
        let hook = tree.hook("echo \"args: $*\"; exit 1");
        assert_eq!(
            run_hook(&hook, HookArg::Thaw, None)
                .unwrap_err()
                .to_string(),
            "child process has failed to execute fsfreeze hook: args: thaw\n"
        );
        assert_eq!(HookArg::Freeze.as_str(), "freeze");
    }

    /// Freezes, trims and thaws a real ext4 filesystem on a loop device, and nothing else.
    /// Needs root, `mkfs.ext4`, `losetup` and `mount`; runs only with
    /// `QGA_PRIVILEGED_TESTS=1` (the VM test job).
    #[test]
    fn privileged_real_freeze_thaw_and_trim_on_a_loop_mount() {
        use super::super::fsioctl::Kernel;
        use std::process::Command;
        if std::env::var_os("QGA_PRIVILEGED_TESTS").is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("fs.img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        File::create(&image).unwrap().set_len(32 << 20).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        let image_s = image.to_str().unwrap();
        let mnt_s = mnt.to_str().unwrap();
        run(&["mkfs.ext4", "-q", image_s]);
        let loopdev = run(&["losetup", "--find", "--show", image_s])
            .trim()
            .to_owned();
        run(&["mount", &loopdev, mnt_s]);
        let mount = MountTables::default()
            .list()
            .unwrap()
            .into_iter()
            .find(|m| m.dir == mnt)
            .expect("the loop mount is listed");
        let only = std::slice::from_ref(&mount);

        let result = std::panic::catch_unwind(|| {
            assert_eq!(freeze_mounts(only, None, &Kernel).unwrap(), 1);
            // Frozen: a second FIFREEZE is EBUSY, skipped and not counted.
            assert_eq!(freeze_mounts(only, None, &Kernel).unwrap(), 0);
            assert_eq!(thaw_mounts(only, &Kernel), 1);
            assert_eq!(thaw_mounts(only, &Kernel), 0, "already thawed");
            std::fs::write(mnt.join("after-thaw"), b"ok").unwrap();
            let trim = super::super::fstrim::trim_mounts(only, Some(4096), &Kernel);
            assert_eq!(trim[0].error, None, "{trim:?}");
            assert!(trim[0].trimmed.is_some_and(|t| t > 0));
        });
        // Whatever happened, never leave the filesystem frozen or mounted.
        let _ = thaw_mounts(only, &Kernel);
        run(&["umount", mnt_s]);
        run(&["losetup", "-d", &loopdev]);
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }
}
