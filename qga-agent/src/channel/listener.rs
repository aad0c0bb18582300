//! The listening transports (unix, vsock, socket activation): one client at a time; when it
//! leaves, the next connection is accepted. The JSON reader's state is the caller's and
//! survives a change of client.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::sys::socket::{self, SockFlag};

use super::{read_fd, Channel};

#[derive(Debug)]
pub struct Listener {
    listener: OwnedFd,
    client: Option<OwnedFd>,
}

impl Listener {
    pub fn new(listener: OwnedFd) -> Listener {
        Listener {
            listener,
            client: None,
        }
    }

    /// Waits for the next client.
    fn accept(&mut self) -> io::Result<()> {
        let fd = socket::accept4(self.listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC)?;
        // SAFETY: accept4 returned a new descriptor that nothing else owns.
        self.client = Some(unsafe { OwnedFd::from_raw_fd(fd) });
        crate::qdebug!("new client connected");
        Ok(())
    }

    fn drop_client(&mut self) {
        if self.client.take().is_some() {
            crate::qdebug!("received EOF");
        }
    }
}

impl Channel for Listener {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let client = match &self.client {
            Some(client) => client,
            None => {
                match self.accept() {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
                    Err(e)
                        if matches!(
                            e.raw_os_error(),
                            Some(libc::EBADF | libc::EINVAL | libc::ENOTSOCK)
                        ) =>
                    {
                        return Err(e)
                    }
                    Err(e) => {
                        // A connection that failed while being accepted, or a passing shortage
                        // of descriptors: keep listening.
                        crate::qlog!(Warning, "error accepting a connection: {e}");
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    Ok(()) => {}
                }
                return Ok(0);
            }
        };
        match read_fd(client.as_fd(), buf) {
            Ok(0) => {
                self.drop_client();
                Ok(0)
            }
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(_) => {
                // A reset connection ends this client, not the agent.
                self.drop_client();
                Ok(0)
            }
        }
    }

    fn wait_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        Some(self.client.as_ref().unwrap_or(&self.listener).as_fd())
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let Some(client) = &self.client else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let flags = socket::MsgFlags::MSG_DONTWAIT | socket::MsgFlags::MSG_NOSIGNAL;
        match socket::send(client.as_raw_fd(), data, flags).map_err(io::Error::from) {
            Err(e)
                if !matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) =>
            {
                // The client is gone; whatever else was meant for it is dropped.
                self.drop_client();
                Err(e)
            }
            result => result,
        }
    }

    fn hang_up(&mut self) {
        self.client = None;
    }
}
