//! systemd socket activation: `LISTEN_PID`/`LISTEN_FDS` hand over one listening socket (fd 3),
//! whose address family decides between unix-listen and vsock-listen.

use std::os::fd::{FromRawFd, OwnedFd};

use nix::sys::socket::{self, AddressFamily, SockaddrLike, SockaddrStorage};

/// The first descriptor systemd passes.
const FIRST_FD: i32 = 3;

/// A socket handed over by systemd.
#[derive(Debug)]
pub struct Activation {
    pub fd: OwnedFd,
    /// `unix-listen` or `vsock-listen`.
    pub method: &'static str,
}

/// Looks for an activated socket. `Ok(None)` when not socket-activated; errors are qemu-ga's
/// messages (more than one socket, or an unsupported address family).
pub fn activated_socket(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
) -> Result<Option<Activation>, String> {
    let our_pid = std::process::id().to_string();
    if listen_pid != Some(our_pid.as_str()) {
        return Ok(None);
    }
    let count: u32 = match listen_fds.and_then(|n| n.parse().ok()) {
        Some(count) if count > 0 => count,
        _ => return Ok(None),
    };
    if count > 1 {
        return Err("qemu-ga only supports listening on one socket".to_owned());
    }
    let family = socket::getsockname::<SockaddrStorage>(FIRST_FD)
        .ok()
        .and_then(|addr| addr.family());
    let method = match family {
        Some(AddressFamily::Unix) => "unix-listen",
        Some(AddressFamily::Vsock) => "vsock-listen",
        _ => return Err("unsupported listen fd type".to_owned()),
    };
    // SAFETY: systemd passed fd 3 to this process (LISTEN_PID matched) and nothing else in
    // the agent has taken ownership of it.
    let fd = unsafe { OwnedFd::from_raw_fd(FIRST_FD) };
    Ok(Some(Activation { fd, method }))
}
