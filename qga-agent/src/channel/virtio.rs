//! virtio-serial: a character device whose reads return end-of-file while nothing is
//! connected on the host side; qemu-ga then waits 100 ms and tries again (the device reports
//! "hang-up" continuously, so waiting for readiness would spin).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use nix::fcntl::{self, OFlag};
use nix::sys::stat::Mode;

use super::{read_fd, write_fd_nonblocking, Channel};
use crate::sys::strerror;

/// How long to wait before reading again while the host side is away.
const HOST_AWAY_WAIT: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub struct VirtioSerial {
    fd: OwnedFd,
}

impl VirtioSerial {
    /// Opens the port. Blocking mode: a read waits for data instead of polling; a write waits
    /// in poll(2) while the host is not draining the port (qemu-ga retries in a busy loop).
    pub fn open(path: &str) -> Result<VirtioSerial, String> {
        let flags = OFlag::O_RDWR | OFlag::O_CLOEXEC;
        match fcntl::open(path, flags, Mode::empty()) {
            Ok(fd) => Ok(VirtioSerial { fd }),
            Err(errno) => Err(format!(
                "error opening channel '{path}': {}",
                strerror(errno)
            )),
        }
    }
}

impl Channel for VirtioSerial {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = read_fd(self.fd.as_fd(), buf)?;
        if n == 0 {
            // The host side is not connected.
            std::thread::sleep(HOST_AWAY_WAIT);
        }
        Ok(n)
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        write_fd_nonblocking(self.fd.as_fd(), data)
    }

    fn wait_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        Some(self.fd.as_fd())
    }
}
