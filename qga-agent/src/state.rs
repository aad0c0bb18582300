//! The state directory: `qga.state` (the persistent file-handle counter, a key file) and
//! `qga.state.isfrozen` (present while filesystems are frozen, so a restarted agent knows).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
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

    /// Whether a previous run left filesystems frozen.
    pub fn is_marked_frozen(&self) -> bool {
        self.frozen.exists()
    }

    /// Records the frozen state on disk (an empty file, mode 0600).
    pub fn mark_frozen(&self) -> io::Result<()> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
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
        let text = match fs::read_to_string(path) {
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
                return Err(vec![format!(
                    "unable to access state file at path {}: {}",
                    path.display(),
                    io_strerror(&e)
                )])
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

    /// Writes the file atomically: a temporary file, synced, renamed over the old one.
    fn save(&self) -> io::Result<()> {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let result = (|| {
            let mut file = File::create(&tmp)?;
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
    fn frozen_mark() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::new(dir.path().to_str().unwrap());
        assert!(!paths.is_marked_frozen());
        paths.mark_frozen().unwrap();
        assert!(paths.is_marked_frozen());
        paths.clear_frozen().unwrap();
        paths.clear_frozen().unwrap();
        assert!(!paths.is_marked_frozen());
    }
}
