//! Running in the background: the locked pid file and the classic double-step daemonization
//! (fork, parent exits, `setsid`, `umask 077`, `chdir /`, stdio to /dev/null).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use nix::fcntl::{fcntl, FcntlArg};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{self, ForkResult};

use crate::sys::error::io_strerror;

/// A pid file we wrote and hold locked; removed by [`PidFile::remove`].
#[derive(Debug)]
pub struct PidFile {
    path: String,
    /// Kept open: closing it would release the lock.
    _file: File,
}

impl PidFile {
    /// Creates `path`, takes an exclusive lock on it (failing if another agent holds it) and
    /// writes our pid.
    pub fn create(path: &str) -> Result<PidFile, String> {
        loop {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(|e| format!("Failed to open {path}: {}", io_strerror(&e)))?;
            let opened = file
                .metadata()
                .map_err(|e| format!("Cannot stat file: {}", io_strerror(&e)))?;
            // An open-file-description lock: it conflicts with the POSIX record lock qemu-ga
            // takes, and with a second open of the file in this process.
            let lock = libc::flock {
                l_type: libc::F_WRLCK as libc::c_short,
                l_whence: libc::SEEK_SET as libc::c_short,
                l_start: 0,
                l_len: 0,
                l_pid: 0,
            };
            fcntl(&file, FcntlArg::F_OFD_SETLK(&lock)).map_err(|errno| {
                format!("Cannot lock pid file: {}", crate::sys::strerror(errno))
            })?;
            let mut file = file;
            // Someone may have replaced the file between our open and lock: start over then.
            match std::fs::metadata(path) {
                Ok(now) if now.ino() == opened.ino() && now.dev() == opened.dev() => {}
                _ => continue,
            }
            file.set_len(0)
                .and_then(|()| file.write_all(format!("{}\n", std::process::id()).as_bytes()))
                .map_err(|_| {
                    let _ = std::fs::remove_file(path);
                    "Failed to write pid file".to_owned()
                })?;
            return Ok(PidFile {
                path: path.to_owned(),
                _file: file,
            });
        }
    }

    /// Deletes the pid file (on a clean exit).
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Forks into the background: the parent exits 0, the child continues detached with stdio on
/// /dev/null. Must be called while the process has a single thread.
pub fn daemonize() -> Result<(), String> {
    // SAFETY: the agent is single-threaded (no thread is ever spawned before this point), so
    // the child may run arbitrary code after fork.
    match unsafe { unistd::fork() } {
        Ok(ForkResult::Parent { .. }) => std::process::exit(0),
        Ok(ForkResult::Child) => {}
        Err(errno) => return Err(format!("failed to fork: {}", crate::sys::strerror(errno))),
    }
    umask(Mode::from_bits_truncate(0o077));
    let _ = unistd::setsid();
    let _ = unistd::chdir("/");
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        let _ = unistd::dup2_stdin(null.as_fd());
        let _ = unistd::dup2_stdout(null.as_fd());
        let _ = unistd::dup2_stderr(null.as_fd());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_is_locked_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qga.pid");
        let path = path.to_str().unwrap();
        let pid = PidFile::create(path).unwrap();
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            format!("{}\n", std::process::id())
        );
        // The lock belongs to the open file description, so a second open conflicts.
        let err = PidFile::create(path).unwrap_err();
        assert_eq!(
            err,
            "Cannot lock pid file: Resource temporarily unavailable"
        );
        pid.remove();
        assert!(!std::path::Path::new(path).exists());
    }
}
