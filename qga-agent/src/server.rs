//! The main loop: one blocking read, every complete value handled in order, all replies of that
//! read sent in one write. A lock-step client costs one read and one write per request; a
//! pipelining client gets its replies batched. Timed work (the freeze timeout) is done between
//! reads: while it is pending, the loop waits for input with `poll(2)` until it is due. A write
//! to a host that does not read waits only until then too: the rest of the replies is kept
//! (up to [`MAX_PENDING`] bytes) and sent after the timed work, before anything more is read.

use std::io::{self, Write};
use std::time::Instant;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use serde_json::Value;

use crate::channel::{self, Channel};
use crate::json::{ParseError, Streamer};
use crate::signal;

/// Bytes read from the channel at a time.
const READ_SIZE: usize = 64 * 1024;
/// Replies are sent once this much has accumulated (and at the end of every read).
const FLUSH_AT: usize = 256 * 1024;
/// Most reply bytes kept for a host that stopped reading while timed work was due: one
/// full-size guest-file-read reply (48 MiB as 64 MiB of base64) and then some. Past it the
/// client is hung up on.
pub const MAX_PENDING: usize = 80 << 20;

/// What handles the values read from the channel.
pub trait Handler {
    /// Handles one value (or the error that took its place), writing any reply to `out`.
    fn handle(&mut self, input: Result<Value, ParseError>, out: &mut Output<'_>);

    /// Does timed work that is due; returns when it is next due (`None`: nothing pending).
    /// Called before every wait for input, whether or not a client is connected.
    fn tick(&mut self) -> Option<Instant> {
        None
    }
}

/// Why [`serve`] returned.
#[derive(Debug)]
pub enum Stop {
    /// SIGTERM or SIGINT.
    Quit,
    /// Reading the channel failed.
    ChannelFailed(io::Error),
}

/// Serves `channel` until a stop is requested or the channel fails. `streamer` carries the
/// JSON reader's state, which outlives clients (and channel re-opens).
pub fn serve(
    channel: &mut dyn Channel,
    streamer: &mut Streamer,
    handler: &mut impl Handler,
) -> Stop {
    let mut input = vec![0u8; READ_SIZE];
    let mut pending = Vec::new();
    loop {
        if signal::quit_requested() {
            return Stop::Quit;
        }
        let due = handler.tick();
        if !pending.is_empty() {
            // Replies the host has not taken yet: send them (doing timed work as it comes due)
            // before reading more, so a host that does not read is not read from either.
            match channel::write_until(&mut *channel, &pending, due, &signal::quit_requested) {
                Ok(n) => drop(pending.drain(..n)),
                Err(e) => {
                    crate::qdebug!("error sending data: {e}");
                    pending.clear();
                }
            }
            continue;
        }
        if let Some(due) = due {
            match wait_readable(&*channel, due) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Stop::ChannelFailed(e),
            }
        }
        let n = match channel.read(&mut input) {
            Ok(0) => continue,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Stop::ChannelFailed(e),
        };
        crate::qdebug!(
            "read data, count: {n}, data: {}",
            String::from_utf8_lossy(&input[..n])
        );
        let mut out = Output {
            channel: &mut *channel,
            buf: &mut pending,
            failed: false,
            written: 0,
            due,
        };
        streamer.feed(&input[..n], &mut |value| handler.handle(value, &mut out));
        if let Err(e) = out.flush() {
            crate::qdebug!("error sending data: {e}");
        }
        if pending.is_empty() && pending.capacity() > 4 * FLUSH_AT {
            pending = Vec::new();
        }
    }
}

/// Waits until the channel has something for a read (data, a connection, a hang-up) or `due`
/// has come: `Ok(false)` then. A channel without a descriptor to wait on is always ready.
fn wait_readable(channel: &dyn Channel, due: Instant) -> io::Result<bool> {
    let Some(fd) = channel.wait_fd() else {
        return Ok(true);
    };
    let left = due.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Ok(false);
    }
    // Rounded up to whole milliseconds so the wait never ends just before `due`.
    let millis = i32::try_from(left.as_millis() + 1).unwrap_or(i32::MAX);
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    let ready = poll(
        &mut fds,
        PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX),
    )?;
    Ok(ready > 0)
}

/// Buffers replies and sends them to the channel in large writes. Once a write fails (the
/// client left), the rest of this read's replies are dropped.
pub struct Output<'a> {
    channel: &'a mut dyn Channel,
    buf: &'a mut Vec<u8>,
    failed: bool,
    /// Bytes handed to this output so far (for `-v`'s reply sizes).
    written: usize,
    /// When timed work is due: a write still waiting then leaves the rest in `buf`.
    due: Option<Instant>,
}

impl std::fmt::Debug for Output<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("pending", &self.buf.len())
            .field("failed", &self.failed)
            .finish()
    }
}

impl Output<'_> {
    /// Bytes written to this output so far, sent or still buffered.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Sends `data` until timed work is due; returns how much went out.
    fn send_until_due(&mut self, data: &[u8]) -> io::Result<usize> {
        let result =
            channel::write_until(&mut *self.channel, data, self.due, &signal::quit_requested);
        if result.is_err() {
            self.failed = true;
            self.buf.clear();
        }
        result
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut buf = std::mem::take(self.buf);
        let sent = self.send_until_due(&buf);
        if let Ok(n) = sent {
            buf.drain(..n);
            *self.buf = buf;
        }
        sent.map(drop)
    }

    /// Keeps `data` for later; a host that leaves more than [`MAX_PENDING`] unread is hung up on.
    fn keep(&mut self, data: &[u8]) -> io::Result<()> {
        if self.buf.len() + data.len() > MAX_PENDING {
            crate::qlog!(
                Warning,
                "the host left more than {MAX_PENDING} bytes of replies unread: disconnecting"
            );
            self.channel.hang_up();
            self.failed = true;
            self.buf.clear();
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }
}

impl Write for Output<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        self.written += data.len();
        let mut rest = data;
        if self.buf.len() + data.len() > FLUSH_AT {
            self.send()?;
            if self.buf.is_empty() && data.len() >= FLUSH_AT / 2 {
                // Large pieces (base64 of a big file read) go out without a copy.
                let sent = self.send_until_due(data)?;
                rest = &data[sent..];
            }
        }
        self.keep(rest)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A channel fed from a script of reads; records writes.
    struct Script {
        reads: VecDeque<Vec<u8>>,
        writes: Vec<Vec<u8>>,
    }

    impl Channel for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.reads.pop_front() {
                Some(data) => {
                    buf[..data.len()].copy_from_slice(&data);
                    Ok(data.len())
                }
                None => Err(io::ErrorKind::UnexpectedEof.into()),
            }
        }

        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.writes.push(data.to_vec());
            Ok(data.len())
        }
    }

    /// Replies with the value (or error) on a line.
    struct Echo;

    impl Handler for Echo {
        fn handle(&mut self, input: Result<Value, ParseError>, out: &mut Output<'_>) {
            let line = match input {
                Ok(v) => v.to_string(),
                Err(e) => e.0,
            };
            let _ = writeln!(out, "{line}");
        }
    }

    #[test]
    fn one_write_per_read() {
        let mut channel = Script {
            reads: VecDeque::from([b"{}[1][2".to_vec(), b"]{\"a\":".to_vec(), b"1}".to_vec()]),
            writes: Vec::new(),
        };
        let stop = serve(&mut channel, &mut Streamer::default(), &mut Echo);
        assert!(matches!(stop, Stop::ChannelFailed(_)));
        assert_eq!(
            channel.writes,
            [
                b"{}\n[1]\n".to_vec(),
                b"[2]\n".to_vec(),
                b"{\"a\":1}\n".to_vec()
            ]
        );
    }

    /// A peer that never reads: every write would block; records a hang-up.
    struct Stuck {
        fd: std::os::unix::net::UnixStream,
        hung_up: bool,
    }

    impl Channel for Stuck {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::ErrorKind::UnexpectedEof.into())
        }

        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::WouldBlock.into())
        }

        fn wait_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
            use std::os::fd::AsFd;
            Some(self.fd.as_fd())
        }

        fn hang_up(&mut self) {
            self.hung_up = true;
        }
    }

    #[test]
    fn replies_past_the_due_time_are_kept_up_to_the_cap() {
        let (fd, _peer) = std::os::unix::net::UnixStream::pair().expect("socket pair");
        let mut channel = Stuck { fd, hung_up: false };
        let mut pending = Vec::new();
        let mut out = Output {
            channel: &mut channel,
            buf: &mut pending,
            failed: false,
            written: 0,
            due: Some(Instant::now()),
        };
        let piece = vec![b'x'; FLUSH_AT];
        // Kept without waiting: timed work is due.
        for _ in 0..MAX_PENDING / FLUSH_AT {
            out.write_all(&piece).expect("kept");
        }
        assert_eq!(out.buf.len(), MAX_PENDING);
        assert!(out.write_all(b"y").is_err(), "past the cap");
        assert!(out.buf.is_empty() && out.failed);
        assert!(channel.hung_up);
    }
}
