//! The main loop: one blocking read, every complete value handled in order, all replies of that
//! read sent in one write. A lock-step client costs one read and one write per request; a
//! pipelining client gets its replies batched. Timed work (the freeze timeout) is done between
//! reads: while it is pending, the loop waits for input with `poll(2)` until it is due.

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
        if let Some(due) = handler.tick() {
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
        };
        streamer.feed(&input[..n], &mut |value| handler.handle(value, &mut out));
        if let Err(e) = out.flush() {
            crate::qdebug!("error sending data: {e}");
        }
        if pending.capacity() > 4 * FLUSH_AT {
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

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = channel::write_all_with(&mut *self.channel, self.buf, &signal::quit_requested);
        self.buf.clear();
        if result.is_err() {
            self.failed = true;
        }
        result
    }
}

impl Write for Output<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        self.written += data.len();
        if self.buf.len() + data.len() > FLUSH_AT {
            self.send()?;
            if data.len() >= FLUSH_AT / 2 {
                // Large pieces (base64 of a big file read) go out without a copy.
                let give_up = &signal::quit_requested;
                if let Err(e) = channel::write_all_with(&mut *self.channel, data, give_up) {
                    self.failed = true;
                    return Err(e);
                }
                return Ok(data.len());
            }
        }
        self.buf.extend_from_slice(data);
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
}
