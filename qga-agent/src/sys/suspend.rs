//! guest-suspend-disk / -ram / -hybrid: systemd, then pm-utils, then `/sys/power/state`.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nix::errno::Errno;

use super::error::{errno_of, io_strerror};
use super::SysError;

/// The sleep state requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuspendMode {
    /// Hibernate (suspend to disk).
    Disk,
    /// Suspend to RAM.
    Ram,
    /// Both (no sysfs fallback).
    Hybrid,
}

impl SuspendMode {
    fn systemd_unit(self) -> &'static str {
        match self {
            SuspendMode::Disk => "systemd-hibernate",
            SuspendMode::Ram => "systemd-suspend",
            SuspendMode::Hybrid => "systemd-hybrid-sleep",
        }
    }

    fn systemctl_verb(self) -> &'static str {
        match self {
            SuspendMode::Disk => "hibernate",
            SuspendMode::Ram => "suspend",
            SuspendMode::Hybrid => "hybrid-sleep",
        }
    }

    fn pm_is_supported_flag(self) -> &'static str {
        match self {
            SuspendMode::Disk => "--hibernate",
            SuspendMode::Ram => "--suspend",
            SuspendMode::Hybrid => "--suspend-hybrid",
        }
    }

    fn pm_program(self) -> &'static str {
        match self {
            SuspendMode::Disk => "pm-hibernate",
            SuspendMode::Ram => "pm-suspend",
            SuspendMode::Hybrid => "pm-suspend-hybrid",
        }
    }

    fn sysfs_word(self) -> Option<&'static str> {
        match self {
            SuspendMode::Disk => Some("disk"),
            SuspendMode::Ram => Some("mem"),
            SuspendMode::Hybrid => None,
        }
    }
}

/// Where the suspend helpers are looked for and the sysfs file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspender {
    /// `PATH` for finding `systemctl`, `pm-is-supported`, `pm-*` (`None`: the agent's own).
    pub search_path: Option<OsString>,
    /// Normally `/sys/power/state`.
    pub power_state: PathBuf,
}

impl Default for Suspender {
    fn default() -> Self {
        Suspender {
            search_path: None,
            power_state: PathBuf::from("/sys/power/state"),
        }
    }
}

/// `guest-suspend-*` with the default helpers.
pub fn suspend(mode: SuspendMode) -> Result<(), SysError> {
    Suspender::default().suspend(mode)
}

impl Suspender {
    /// Tries, in order: systemd (`systemctl status <unit>` exiting 1..=3 means supported, then
    /// `systemctl <verb>`), pm-utils (`pm-is-supported <flag>` exiting 0, then `pm-<verb>`),
    /// and writing `disk`/`mem` to `/sys/power/state` if listed there. Helpers run with
    /// output discarded. Success means the guest was asked to suspend (no reply is sent).
    /// Errors: `the requested suspend mode is not supported by the guest` when no method
    /// supports it; otherwise the last method's failure, e.g. `the helper program
    /// 'pm-suspend' returned an unexpected exit status code (1)`.
    pub fn suspend(&self, mode: SuspendMode) -> Result<(), SysError> {
        let mut supported = false;
        let mut last_error = None;

        if let Ok(Some(1..=3)) = self.run(&["systemctl", "status", mode.systemd_unit()]) {
            supported = true;
            let verb = mode.systemctl_verb();
            match self.run(&["systemctl", verb]) {
                Ok(Some(0)) => return Ok(()),
                Ok(None) => {
                    last_error = Some(SysError::new(format!(
                        "the helper program 'systemctl {verb}' was not found"
                    )))
                }
                Ok(Some(code)) => {
                    last_error = Some(SysError::new(format!(
                        "the helper program 'systemctl {verb}' returned an unexpected exit \
                         status code ({code})"
                    )))
                }
                Err(err) => last_error = Some(err),
            }
        }

        if let Ok(Some(0)) = self.run(&["pm-is-supported", mode.pm_is_supported_flag()]) {
            supported = true;
            let program = mode.pm_program();
            match self.run(&[program]) {
                Ok(Some(0)) => return Ok(()),
                Ok(None) => {
                    last_error = Some(SysError::new(format!(
                        "the helper program '{program}' was not found"
                    )))
                }
                Ok(Some(code)) => {
                    last_error = Some(SysError::new(format!(
                        "the helper program '{program}' returned an unexpected exit status \
                         code ({code})"
                    )))
                }
                Err(err) => last_error = Some(err),
            }
        }

        if let Some(word) = mode.sysfs_word() {
            if self.sysfs_supports(word) {
                supported = true;
                last_error = self.sysfs_suspend(word).err();
                if last_error.is_none() {
                    return Ok(());
                }
            }
        }

        match (supported, last_error) {
            (true, Some(err)) => Err(err),
            _ => Err(SysError::new(
                "the requested suspend mode is not supported by the guest",
            )),
        }
    }

    /// Runs a helper with stdio on `/dev/null` and returns its exit code (`Some(0)` also for
    /// a child killed by a signal, as qemu-ga's `WEXITSTATUS` reads it); `None` when the
    /// program does not exist.
    fn run(&self, argv: &[&str]) -> Result<Option<i32>, SysError> {
        let mut command = Command::new(argv[0]);
        command
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(path) = &self.search_path {
            command.env("PATH", path);
        }
        match command.status() {
            Ok(status) => Ok(Some(status.code().unwrap_or(0))),
            Err(err) if errno_of(&err) == Errno::ENOENT => Ok(None),
            Err(err) => Err(SysError::new(format!(
                "failed to create child process, error 'Failed to execute child process \
                 \u{201c}{}\u{201d} ({})'",
                argv[0],
                io_strerror(&err)
            ))),
        }
    }

    fn sysfs_supports(&self, word: &str) -> bool {
        std::fs::read(&self.power_state).is_ok_and(|content| {
            String::from_utf8_lossy(&content[..content.len().min(31)]).contains(word)
        })
    }

    fn sysfs_suspend(&self, word: &str) -> Result<(), SysError> {
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.power_state)
            .and_then(|mut file| file.write_all(word.as_bytes()))
            .map_err(|err| {
                SysError::new(format!(
                    "suspend: cannot write to '{}': {}",
                    self.power_state.display(),
                    io_strerror(&err)
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A PATH directory with scripted helpers that log their arguments.
    struct Helpers {
        dir: tempfile::TempDir,
    }

    impl Helpers {
        fn new() -> Helpers {
            Helpers {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn script(&self, name: &str, body: &str) {
            let path = self.dir.path().join(name);
            let log = self.dir.path().join("log");
            std::fs::write(
                &path,
                format!(
                    "#!/bin/sh\necho \"{name} $*\" >> {}\n{body}\n",
                    log.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }

        fn state(&self, content: &str) -> PathBuf {
            let path = self.dir.path().join("state");
            std::fs::write(&path, content).unwrap();
            path
        }

        fn suspender(&self) -> Suspender {
            Suspender {
                search_path: Some(self.dir.path().as_os_str().to_owned()),
                power_state: self.dir.path().join("state"),
            }
        }

        fn log(&self) -> String {
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        }
    }

    #[test]
    fn systemd_is_used_when_it_supports_the_mode() {
        let h = Helpers::new();
        h.script("systemctl", "[ \"$1\" = status ] && exit 3; exit 0");
        h.suspender().suspend(SuspendMode::Ram).unwrap();
        assert_eq!(
            h.log(),
            "systemctl status systemd-suspend\nsystemctl suspend\n"
        );
    }

    #[test]
    fn falls_back_to_pm_utils_then_sysfs() {
        let h = Helpers::new();
        h.script("systemctl", "exit 4");
        h.script("pm-is-supported", "exit 0");
        h.script("pm-hibernate", "exit 0");
        h.suspender().suspend(SuspendMode::Disk).unwrap();
        assert_eq!(
            h.log(),
            "systemctl status systemd-hibernate\npm-is-supported --hibernate\npm-hibernate \n"
        );

        let h = Helpers::new();
        h.script("pm-is-supported", "exit 1");
        let state = h.state("freeze mem disk\n");
        h.suspender().suspend(SuspendMode::Ram).unwrap();
        assert_eq!(std::fs::read_to_string(&state).unwrap(), "mem");
    }

    #[test]
    fn failures_of_a_supported_method_are_reported() {
        let h = Helpers::new();
        h.script("systemctl", "[ \"$1\" = status ] && exit 1; exit 5");
        assert_eq!(
            h.suspender()
                .suspend(SuspendMode::Hybrid)
                .unwrap_err()
                .to_string(),
            "the helper program 'systemctl hybrid-sleep' returned an unexpected exit status \
             code (5)"
        );
        h.script("pm-is-supported", "exit 0");
        h.script("pm-suspend-hybrid", "exit 2");
        assert_eq!(
            h.suspender()
                .suspend(SuspendMode::Hybrid)
                .unwrap_err()
                .to_string(),
            "the helper program 'pm-suspend-hybrid' returned an unexpected exit status code (2)"
        );
        let h = Helpers::new();
        h.script("pm-is-supported", "exit 0");
        assert_eq!(
            h.suspender()
                .suspend(SuspendMode::Ram)
                .unwrap_err()
                .to_string(),
            "the helper program 'pm-suspend' was not found"
        );
    }

    #[test]
    fn unsupported_modes() {
        let h = Helpers::new();
        let unsupported = "the requested suspend mode is not supported by the guest";
        assert_eq!(
            h.suspender()
                .suspend(SuspendMode::Disk)
                .unwrap_err()
                .to_string(),
            unsupported
        );
        h.state("freeze mem\n");
        assert_eq!(
            h.suspender()
                .suspend(SuspendMode::Disk)
                .unwrap_err()
                .to_string(),
            unsupported
        );
        // No sysfs word for hybrid.
        h.state("freeze mem disk\n");
        assert_eq!(
            h.suspender()
                .suspend(SuspendMode::Hybrid)
                .unwrap_err()
                .to_string(),
            unsupported
        );
    }
}
