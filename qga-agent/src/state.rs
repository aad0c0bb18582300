//! The state directory: `qga.state` (the persistent file-handle counter, a key file) and
//! `qga.state.isfrozen` (present while filesystems are frozen, so a restarted agent knows).

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::keyfile::KeyFile;
use crate::sys::error::io_strerror;

/// The first file handle ever handed out.
pub const FIRST_HANDLE: i64 = 1000;

/// Paths of the state files inside the state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatePaths {
    pub state: PathBuf,
    pub frozen: PathBuf,
}

impl StatePaths {
    pub fn new(state_dir: &str) -> StatePaths {
        let state = Path::new(state_dir).join("qga.state");
        let mut frozen = state.clone().into_os_string();
        frozen.push(".isfrozen");
        StatePaths {
            state,
            frozen: PathBuf::from(frozen),
        }
    }

    /// The temporary the state file is written to before it is renamed over it.
    pub fn temporary(&self) -> PathBuf {
        temporary_of(&self.state)
    }

    /// Whether a previous run left filesystems frozen.
    pub fn is_marked_frozen(&self) -> bool {
        self.frozen.exists()
    }

    /// Records the frozen state on disk (an empty file, mode 0600; never through a symlink).
    pub fn mark_frozen(&self) -> io::Result<()> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.frozen)
            .map(drop)
    }

    /// Removes the frozen mark.
    pub fn clear_frozen(&self) -> io::Result<()> {
        match fs::remove_file(&self.frozen) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// The persistent counter behind file handles (never reused, even across restarts).
#[derive(Debug)]
pub struct PersistentState {
    path: PathBuf,
    fd_counter: i64,
}

impl PersistentState {
    /// Loads `path`, or creates it with the defaults when missing (unless `frozen`: then
    /// nothing may be written). Errors are the critical messages qemu-ga logs.
    pub fn load(path: &Path, frozen: bool) -> Result<PersistentState, Vec<String>> {
        let mut state = PersistentState {
            path: path.to_owned(),
            fd_counter: FIRST_HANDLE,
        };
        if !frozen {
            // A temporary left by a crash; unlinking never follows a planted symlink.
            let _ = fs::remove_file(temporary_of(path));
        }
        let text = match read_regular(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !frozen {
                    if let Err(e) = state.save() {
                        return Err(vec![
                            format!(
                                "failed to write persistent state to {}: {}",
                                path.display(),
                                io_strerror(&e)
                            ),
                            format!("unable to create state file at path {}", path.display()),
                        ]);
                    }
                }
                return Ok(state);
            }
            Err(e) => {
                let reason = match e.kind() {
                    io::ErrorKind::InvalidInput => e.to_string(),
                    _ => io_strerror(&e),
                };
                return Err(vec![format!(
                    "unable to access state file at path {}: {reason}",
                    path.display(),
                )]);
            }
        };
        let file = KeyFile::parse(&text).map_err(|message| {
            vec![format!(
                "error loading persistent state from path: {}, {message}",
                path.display()
            )]
        })?;
        // A counter that is not a non-negative integer restarts at the default (qemu-ga would
        // use 0 for text and hand out no handle at all for negative values).
        if let Ok(Some(counter)) = file.get_i64("global", "fd_counter") {
            if counter >= 0 {
                state.fd_counter = counter;
            }
        }
        Ok(state)
    }

    /// Takes the next handle and commits the counter to disk before it is handed out.
    pub fn next_handle(&mut self) -> io::Result<i64> {
        let handle = self.fd_counter;
        self.fd_counter = handle
            .checked_add(1)
            .ok_or_else(|| io::Error::other("file handle counter exhausted"))?;
        self.save()?;
        Ok(handle)
    }

    /// Writes the file atomically: a temporary file, synced, renamed over the old one. The
    /// temporary is created exclusively and never through a symlink (one planted there is
    /// unlinked first), so nothing outside the state directory gets written.
    fn save(&self) -> io::Result<()> {
        let tmp = temporary_of(&self.path);
        let create = || {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&tmp)
        };
        let mut file = match create() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                fs::remove_file(&tmp)?;
                create()?
            }
            other => other?,
        };
        let result = (|| {
            file.write_all(format!("[global]\nfd_counter={}\n", self.fd_counter).as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

/// `<state>.tmp`.
fn temporary_of(state: &Path) -> PathBuf {
    let mut tmp = state.as_os_str().to_owned();
    tmp.push(".tmp");
    PathBuf::from(tmp)
}

/// Reads a state file, refusing anything but a regular file (a FIFO would block forever,
/// a device could be anything): `InvalidInput` with `not a regular file (a <kind>)`.
fn read_regular(path: &Path) -> io::Result<String> {
    let not_regular = |kind: fs::FileType| {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else {
            "unknown type"
        };
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({what})"),
        )
    };
    let kind = fs::metadata(path)?.file_type();
    if !kind.is_file() {
        return Err(not_regular(kind));
    }
    // Non-blocking, in case it was swapped for a FIFO since; checked again on the open file.
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(not_regular(kind));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_starts_at_1000_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::new(dir.path().to_str().unwrap());
        let mut state = PersistentState::load(&paths.state, false).unwrap();
        assert_eq!(
            fs::read_to_string(&paths.state).unwrap(),
            "[global]\nfd_counter=1000\n"
        );
        assert_eq!(state.next_handle().unwrap(), 1000);
        assert_eq!(state.next_handle().unwrap(), 1001);
        let mut again = PersistentState::load(&paths.state, false).unwrap();
        assert_eq!(again.next_handle().unwrap(), 1002);
    }

    #[test]
    fn frozen_start_writes_nothing_and_bad_files_fail() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::new(dir.path().to_str().unwrap());
        PersistentState::load(&paths.state, true).unwrap();
        assert!(!paths.state.exists());
        fs::write(&paths.state, "garbage").unwrap();
        let err = PersistentState::load(&paths.state, false).unwrap_err();
        assert!(
            err[0].starts_with("error loading persistent state from path: "),
            "{err:?}"
        );
        fs::write(&paths.state, "[global]\nfd_counter=-5\n").unwrap();
        let mut state = PersistentState::load(&paths.state, false).unwrap();
        assert_eq!(state.next_handle().unwrap(), 1000);
    }

    #[test]
    fn missing_directory_is_an_error() {
        let paths = StatePaths::new("/nonexistent-qga-dir");
        let err = PersistentState::load(&paths.state, false).unwrap_err();
        assert_eq!(
            err[1],
            "unable to create state file at path /nonexistent-qga-dir/qga.state"
        );
    }

    #[test]
    fn a_planted_symlink_at_the_temporary_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::new(dir.path().to_str().unwrap());
        let mut state = PersistentState::load(&paths.state, false).unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, paths.temporary()).unwrap();
        assert_eq!(state.next_handle().unwrap(), 1000);
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(
            fs::read_to_string(&paths.state).unwrap(),
            "[global]\nfd_counter=1001\n"
        );
        assert!(fs::symlink_metadata(paths.temporary()).is_err());
    }

    #[test]
    fn a_stale_temporary_is_removed_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::new(dir.path().to_str().unwrap());
        fs::write(&paths.state, "[global]\nfd_counter=5\n").unwrap();
        fs::write(paths.temporary(), "[global]\nfd_counter=7\n").unwrap();
        let mut state = PersistentState::load(&paths.state, false).unwrap();
        assert!(fs::symlink_metadata(paths.temporary()).is_err());
        assert_eq!(state.next_handle().unwrap(), 5);
        // A frozen start writes nothing, so it leaves the temporary alone.
        fs::write(paths.temporary(), "").unwrap();
        PersistentState::load(&paths.state, true).unwrap();
        assert!(paths.temporary().exists());
    }

    #[test]
    fn a_state_path_that_is_not_a_regular_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::new(dir.path().to_str().unwrap());
        nix::unistd::mkfifo(
            &paths.state,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        // Before the fix, reading the FIFO blocked forever: give it a bounded time.
        let (tx, rx) = std::sync::mpsc::channel();
        let path = paths.state.clone();
        std::thread::spawn(move || {
            let _ = tx.send(PersistentState::load(&path, false).map(drop));
        });
        let result = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("loading a FIFO state path must not hang");
        assert_eq!(
            result.unwrap_err(),
            [format!(
                "unable to access state file at path {}: not a regular file (a FIFO)",
                paths.state.display()
            )]
        );
        fs::remove_file(&paths.state).unwrap();
        fs::create_dir(&paths.state).unwrap();
        let err = PersistentState::load(&paths.state, false).unwrap_err();
        assert!(
            err[0].ends_with(": not a regular file (a directory)"),
            "{err:?}"
        );
    }

    #[test]
    fn frozen_mark() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::new(dir.path().to_str().unwrap());
        assert!(!paths.is_marked_frozen());
        paths.mark_frozen().unwrap();
        assert!(paths.is_marked_frozen());
        paths.clear_frozen().unwrap();
        paths.clear_frozen().unwrap();
        assert!(!paths.is_marked_frozen());
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, &paths.frozen).unwrap();
        assert!(paths.mark_frozen().is_err());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    }
}
