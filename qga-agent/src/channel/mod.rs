//! Transports: virtio-serial, isa-serial, unix-listen, vsock-listen and systemd socket
//! activation, behind one small blocking interface.

mod activation;
mod listener;
mod serial;
mod unix;
mod virtio;
mod vsock;

use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

pub use activation::{activated_socket, Activation};
pub use listener::Listener;

/// How long a write waits before trying again on a channel that reports hang-up.
const HUNG_UP_WAIT: Duration = Duration::from_millis(100);

/// A byte channel to the host.
pub trait Channel {
    /// Blocks until bytes arrive and returns how many were read. `Ok(0)` means nothing was
    /// read this time (a client left, the host side is not connected): call again.
    /// `Err(Interrupted)` lets the caller look at signal flags.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes some of `data` to the current peer without waiting: `Err(WouldBlock)` when it
    /// has no room, so the caller can wait with a timeout ([`write_until`]).
    fn write(&mut self, data: &[u8]) -> io::Result<usize>;

    /// Ends the current peer's connection, where the transport has one (a client that does not
    /// read its replies); the default keeps the channel.
    fn hang_up(&mut self) {}

    /// The descriptor the next [`Channel::read`] waits on, so the loop can wait for it with a
    /// timeout when timed work is due (`None`: reads are not waited for).
    fn wait_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

/// Writes `data` as far as the peer takes it before `until` (`None`: all of it), waiting for
/// room with poll(2); returns how many bytes went out. A signal ends the wait only when
/// `give_up` says so (`Err(Interrupted)` then).
pub fn write_until(
    channel: &mut dyn Channel,
    data: &[u8],
    until: Option<Instant>,
    give_up: &dyn Fn() -> bool,
) -> io::Result<usize> {
    let mut sent = 0;
    while sent < data.len() {
        let waited = match channel.write(&data[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                sent += n;
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(&*channel, until),
            Err(e) => Err(e),
        };
        match waited {
            Ok(true) => {}
            Ok(false) => return Ok(sent),
            Err(e) if e.kind() == io::ErrorKind::Interrupted && !give_up() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// Waits until the channel has room for a write (`Ok(true)`) or `until` has come.
fn wait_writable(channel: &dyn Channel, until: Option<Instant>) -> io::Result<bool> {
    let Some(fd) = channel.wait_fd() else {
        return Ok(true);
    };
    let timeout = match until {
        None => PollTimeout::NONE,
        Some(until) => {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            // Rounded up so the wait never ends just before `until`.
            let millis = i32::try_from(left.as_millis() + 1).unwrap_or(i32::MAX);
            PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
        }
    };
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    if poll(&mut fds, timeout)? == 0 {
        return Ok(false);
    }
    let events = fds[0].revents().unwrap_or(PollFlags::empty());
    if events.contains(PollFlags::POLLHUP) && !events.contains(PollFlags::POLLOUT) {
        // A virtio-serial port whose host side is away reports hang-up, not room, until it is
        // back (a hung-up socket fails the write instead): try again later rather than spin.
        let left = until.map_or(HUNG_UP_WAIT, |u| {
            u.saturating_duration_since(Instant::now())
        });
        std::thread::sleep(left.min(HUNG_UP_WAIT));
    }
    Ok(true)
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

/// Writes to a blocking descriptor without waiting (O_NONBLOCK for this one write), mapping
/// errno to `io::Error`.
fn write_fd_nonblocking(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    let result = nix::unistd::write(fd, data);
    fcntl(fd, FcntlArg::F_SETFL(flags))?;
    result.map_err(io::Error::from)
}
