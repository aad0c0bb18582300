//! The error type of the system layer and glibc-exact `strerror` texts.

use std::fmt;
use std::io;

use nix::errno::Errno;

/// A failed system operation. `Display` (and [`SysError::desc`]) is the exact `desc` text
/// qemu-ga puts in its `GenericError` response for the same failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysError {
    desc: String,
}

impl SysError {
    /// An error with the given description.
    pub fn new(desc: impl Into<String>) -> Self {
        SysError { desc: desc.into() }
    }

    /// `"<context>: <strerror(errno)>"`, the shape of QEMU's `error_setg_errno`.
    pub fn with_errno(context: impl fmt::Display, errno: Errno) -> Self {
        SysError::new(format!("{context}: {}", strerror(errno)))
    }

    /// `"<context>: <strerror>"` for an I/O error (its OS error number when it has one).
    pub fn with_io(context: impl fmt::Display, err: &io::Error) -> Self {
        SysError::new(format!("{context}: {}", io_strerror(err)))
    }

    /// The description text.
    pub fn desc(&self) -> &str {
        &self.desc
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.desc)
    }
}

impl std::error::Error for SysError {}

/// glibc's `strerror` text for `errno` (e.g. `No such file or directory`), without the
/// ` (os error N)` suffix Rust's `io::Error` adds.
pub fn strerror(errno: Errno) -> String {
    io_strerror(&io::Error::from_raw_os_error(errno as i32))
}

/// The `strerror` text of an I/O error; errors without an OS error number keep their own text.
pub fn io_strerror(err: &io::Error) -> String {
    let text = err.to_string();
    match err.raw_os_error() {
        Some(code) => {
            let suffix = format!(" (os error {code})");
            match text.strip_suffix(&suffix) {
                Some(stripped) => stripped.to_owned(),
                None => text,
            }
        }
        None => text,
    }
}

/// The errno carried by an I/O error (`EIO` when it has none, which only happens for errors
/// Rust synthesises itself, e.g. a path containing a NUL byte).
pub fn errno_of(err: &io::Error) -> Errno {
    err.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_matches_glibc_texts() {
        assert_eq!(strerror(Errno::ENOENT), "No such file or directory");
        assert_eq!(strerror(Errno::EAGAIN), "Resource temporarily unavailable");
        assert_eq!(strerror(Errno::EBADF), "Bad file descriptor");
        assert_eq!(strerror(Errno::ESPIPE), "Illegal seek");
        assert_eq!(strerror(Errno::EOPNOTSUPP), "Operation not supported");
    }

    #[test]
    fn with_errno_joins_context_and_text() {
        let err = SysError::with_errno("failed to read file", Errno::EISDIR);
        assert_eq!(err.to_string(), "failed to read file: Is a directory");
        assert_eq!(err.desc(), "failed to read file: Is a directory");
    }

    #[test]
    fn io_errors_without_errno_keep_their_text() {
        let err = io::Error::other("custom");
        assert_eq!(io_strerror(&err), "custom");
        assert_eq!(errno_of(&err), Errno::EIO);
    }
}
