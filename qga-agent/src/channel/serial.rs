//! isa-serial: a tty put into raw mode with qemu-ga's exact termios settings.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::{self, FcntlArg, OFlag};
use nix::sys::stat::Mode;
use nix::sys::termios::{self, FlushArg, InputFlags, OutputFlags, SetArg, SpecialCharacterIndices};

use super::{read_fd, write_fd_nonblocking, Channel};
use crate::sys::strerror;

#[derive(Debug)]
pub struct IsaSerial {
    fd: OwnedFd,
}

impl IsaSerial {
    pub fn open(path: &str) -> Result<IsaSerial, String> {
        // Non-blocking open so a port without carrier does not hang here.
        let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let fd = fcntl::open(path, flags, Mode::empty())
            .map_err(|errno| format!("error opening channel '{path}': {}", strerror(errno)))?;
        // Settings errors are ignored, as by qemu-ga (the path may not even be a tty).
        if let Ok(mut tio) = termios::tcgetattr(&fd) {
            tio.input_flags.remove(
                InputFlags::IGNBRK
                    | InputFlags::BRKINT
                    | InputFlags::IGNPAR
                    | InputFlags::PARMRK
                    | InputFlags::INPCK
                    | InputFlags::ISTRIP
                    | InputFlags::INLCR
                    | InputFlags::IGNCR
                    | InputFlags::ICRNL
                    | InputFlags::IXON
                    | InputFlags::IXOFF
                    | InputFlags::IXANY
                    | InputFlags::IMAXBEL,
            );
            tio.output_flags = OutputFlags::empty();
            tio.local_flags = termios::LocalFlags::empty();
            // B38400 is OR-ed into the control flags (not set with cfsetspeed), like qemu-ga.
            tio.control_flags |= termios::ControlFlags::from_bits_retain(libc::B38400);
            tio.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
            tio.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
            let _ = termios::tcflush(&fd, FlushArg::TCIFLUSH);
            let _ = termios::tcsetattr(&fd, SetArg::TCSANOW, &tio);
        }
        // Blocking from here on: a read waits for a byte (VMIN = 1) instead of polling.
        let _ = fcntl::fcntl(&fd, FcntlArg::F_SETFL(OFlag::empty()));
        Ok(IsaSerial { fd })
    }
}

impl Channel for IsaSerial {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match read_fd(self.fd.as_fd(), buf)? {
            // End of file on a serial line is a hang-up: the channel has failed (qemu-ga
            // would close it and idle forever).
            0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "serial line hung up",
            )),
            n => Ok(n),
        }
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        write_fd_nonblocking(self.fd.as_fd(), data)
    }

    fn wait_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        Some(self.fd.as_fd())
    }
}
