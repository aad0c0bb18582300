//! unix-listen: a listening `AF_UNIX` stream socket (an old socket file is replaced).

use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};

use crate::sys::strerror;

/// Creates the listening socket at `path` (backlog 1: one client at a time).
pub fn listen(path: &str) -> Result<OwnedFd, String> {
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|errno| format!("Failed to create Unix socket: {}", strerror(errno)))?;
    let addr = UnixAddr::new(path)
        .map_err(|errno| format!("Failed to bind socket to {path}: {}", strerror(errno)))?;
    match nix::unistd::unlink(path) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(errno) => {
            return Err(format!(
                "Failed to unlink socket {path}: {}",
                strerror(errno)
            ))
        }
    }
    socket::bind(fd.as_raw_fd(), &addr)
        .map_err(|errno| format!("Failed to bind socket to {path}: {}", strerror(errno)))?;
    socket::listen(&fd, Backlog::new(1).unwrap_or(Backlog::MAXCONN))
        .map_err(|errno| format!("Failed to listen on socket: {}", strerror(errno)))?;
    Ok(fd)
}
