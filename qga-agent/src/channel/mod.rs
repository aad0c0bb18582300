//! Transports: virtio-serial, isa-serial, unix-listen, vsock-listen and systemd socket
//! activation, behind one small blocking interface.

mod activation;
mod listener;
mod serial;
mod unix;
mod virtio;
mod vsock;

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

pub use activation::{activated_socket, Activation};
pub use listener::Listener;

/// A byte channel to the host.
pub trait Channel {
    /// Blocks until bytes arrive and returns how many were read. `Ok(0)` means nothing was
    /// read this time (a client left, the host side is not connected): call again.
    /// `Err(Interrupted)` lets the caller look at signal flags.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes some of `data` to the current peer, as write(2) does. `Err(Interrupted)`
    /// means a signal arrived first; [`write_all_with`] decides whether to go on.
    fn write(&mut self, data: &[u8]) -> io::Result<usize>;

    /// The descriptor the next [`Channel::read`] waits on, so the loop can wait for it with a
    /// timeout when timed work is due (`None`: reads are not waited for).
    fn wait_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

/// Writes `data` completely, retrying after signals unless `give_up` says to stop.
pub fn write_all_with(
    channel: &mut dyn Channel,
    mut data: &[u8],
    give_up: &dyn Fn() -> bool,
) -> io::Result<()> {
    while !data.is_empty() {
        match channel.write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted && !give_up() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Opens the channel for `method` at `path`, or adopts a socket-activated listener. Errors
/// are the critical messages qemu-ga logs for the failure.
pub fn open(
    method: &str,
    path: Option<&str>,
    activated: Option<Activation>,
) -> Result<Box<dyn Channel>, String> {
    if let Some(activation) = activated {
        return Ok(Box::new(Listener::new(activation.fd)));
    }
    let path = path.unwrap_or_default();
    match method {
        "virtio-serial" => Ok(Box::new(virtio::VirtioSerial::open(path)?)),
        "isa-serial" => Ok(Box::new(serial::IsaSerial::open(path)?)),
        "unix-listen" => Ok(Box::new(Listener::new(unix::listen(path)?))),
        "vsock-listen" => Ok(Box::new(Listener::new(vsock::listen(path)?))),
        other => Err(format!("unsupported channel method/type: {other}")),
    }
}

/// Reads from a blocking descriptor, mapping errno to `io::Error`.
fn read_fd(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    nix::unistd::read(fd, buf).map_err(io::Error::from)
}

/// Writes to a blocking descriptor, mapping errno to `io::Error`.
fn write_fd(fd: impl AsFd, data: &[u8]) -> io::Result<usize> {
    nix::unistd::write(fd, data).map_err(io::Error::from)
}
