//! cat, get and put: guest files moved in chunks through guest-file-open/read/write, with a
//! progress bar on a terminal, a size check at the end and the rate in the summary.

use crate::output::{bytes, Report};
use crate::transport::Agent;
use crate::Failure;
use indicatif::{ProgressBar, ProgressStyle};
use qga_types::*;
use serde_json::json;
use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::Instant;

/// Bytes per guest-file-read/write: large enough that the per-request cost vanishes, small
/// enough for any agent (qemu-ga caps reads at 48 MB).
pub const CHUNK: usize = 4 << 20;

/// Per read of files without a size (/proc, pipes): the kernel refuses huge reads of some.
const SMALL_CHUNK: usize = 64 << 10;

/// An open guest file, closed again on every path out.
struct Remote<'a> {
    agent: &'a mut Agent,
    handle: i64,
    path: String,
}

impl<'a> Remote<'a> {
    fn open(agent: &'a mut Agent, path: &str, mode: &str) -> Result<Remote<'a>, Failure> {
        let args = GuestFileOpenArgs {
            path: path.to_owned(),
            mode: Some(mode.to_owned()),
        };
        let handle = match agent.c().guest_file_open(&args) {
            Ok(handle) => handle,
            Err(e) => return Err(agent.fail("guest-file-open", e)),
        };
        Ok(Remote {
            agent,
            handle,
            path: path.to_owned(),
        })
    }

    /// Position after seeking `offset` from `whence`.
    fn seek(&mut self, offset: i64, whence: QgaSeek) -> Result<i64, Failure> {
        let args = GuestFileSeekArgs {
            handle: self.handle,
            offset,
            whence: GuestFileWhence::Name(whence),
        };
        match self.agent.c().guest_file_seek(&args) {
            Ok(s) => Ok(s.position),
            Err(e) => Err(self.agent.fail("guest-file-seek", e)),
        }
    }

    /// Sends a guest-file-read without waiting; [`Self::take_read`] gets the reply.
    fn send_read(&mut self, count: usize) -> Result<(), Failure> {
        let args = GuestFileReadArgs {
            handle: self.handle,
            count: Some(count as i64),
        };
        self.agent
            .c()
            .connection()
            .send_only("guest-file-read", Some(&args))
            .map_err(|e| self.agent.fail("guest-file-read", e))
    }

    /// The next reply, which is the oldest guest-file-read's (the agent answers in order).
    fn take_read(&mut self) -> Result<GuestFileRead, Failure> {
        self.take("guest-file-read")
    }

    /// The next reply, decoded as the return value of `command`.
    fn take<T: qapi_runtime::Decode>(&mut self, command: &str) -> Result<T, Failure> {
        let message = self
            .agent
            .c()
            .connection()
            .read_message()
            .map_err(|e| self.agent.fail(command, e))?;
        if let Some(value) = message.get("return") {
            return qapi_runtime::client::decode_return(value, true)
                .map_err(|e| Failure::new(format!("{command}: cannot decode the reply: {e}")));
        }
        match message.pointer("/error/desc").and_then(|d| d.as_str()) {
            Some(desc) => Err(Failure::new(format!("{command}: {desc}"))),
            None => Err(Failure::new(format!(
                "{command}: unexpected message {message}"
            ))),
        }
    }

    /// Sends a guest-file-write without waiting; [`Self::take`] gets the reply.
    fn send_write(&mut self, data: &[u8]) -> Result<(), Failure> {
        let args = GuestFileWriteArgs {
            handle: self.handle,
            buf_b64: qapi_runtime::base64::encode(data),
            count: None,
        };
        self.agent
            .c()
            .connection()
            .send_only("guest-file-write", Some(&args))
            .map_err(|e| self.agent.fail("guest-file-write", e))
    }

    fn flush(&mut self) -> Result<(), Failure> {
        let args = GuestFileFlushArgs {
            handle: self.handle,
        };
        self.agent
            .c()
            .guest_file_flush(&args)
            .map_err(|e| self.agent.fail("guest-file-flush", e))
    }
}

impl Drop for Remote<'_> {
    fn drop(&mut self) {
        let args = GuestFileCloseArgs {
            handle: self.handle,
        };
        // Best effort: on the error path the first error is the one worth reporting.
        let _ = self.agent.c().guest_file_close(&args);
    }
}

/// A progress bar on a terminal (stderr), nothing otherwise.
fn progress(total: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{bytes:>10}/{total_bytes} {wide_bar} {binary_bytes_per_sec} {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

fn summary(verb: &str, from: &str, to: &str, n: u64, started: Instant) -> Report {
    let seconds = started.elapsed().as_secs_f64();
    let rate = n as f64 / seconds.max(1e-9) / 1e6;
    Report::new(
        json!({ "bytes": n, "seconds": seconds, "mb-per-s": rate }),
        format!(
            "{verb} {from} -> {to}: {} in {seconds:.2} s ({rate:.1} MB/s)",
            bytes(n)
        ),
    )
}

/// Reads a guest file to `out`; returns the number of bytes, checked against the size the
/// file had when opened.
fn fetch(agent: &mut Agent, path: &str, out: &mut dyn Write, bar: bool) -> Result<u64, Failure> {
    let mut remote = Remote::open(agent, path, "r")?;
    // Regular files have a size to check against; pipes and /proc files do not (seek fails
    // or says 0), and are simply read to the end.
    let size = match remote.seek(0, QgaSeek::End) {
        Ok(size) if size > 0 => {
            remote.seek(0, QgaSeek::Set)?;
            Some(size as u64)
        }
        _ => {
            let _ = remote.seek(0, QgaSeek::Set);
            None
        }
    };
    let progress = progress(size.unwrap_or(0), !bar);
    let count = if size.is_some() { CHUNK } else { SMALL_CHUNK };
    // Two reads in flight: the agent reads and encodes the next chunk while this side
    // decodes and writes the current one. Replies come back in order.
    remote.send_read(count)?;
    let mut done = 0u64;
    loop {
        remote.send_read(count)?;
        let chunk = remote.take_read()?;
        out.write_all(&chunk.buf_b64)
            .map_err(|e| Failure::new(format!("writing {path}'s data: {e}")))?;
        done += chunk.buf_b64.len() as u64;
        progress.set_position(done);
        if chunk.eof || chunk.buf_b64.is_empty() {
            // The read sent ahead finds the end too.
            remote.take_read()?;
            break;
        }
    }
    progress.finish_and_clear();
    if let Some(size) = size {
        // Sysfs files claim a page (4096) whatever they hold: a size that has not moved
        // means it never described the contents; one that moved means the file changed.
        if done != size && remote.seek(0, QgaSeek::End)? as u64 != size {
            return Err(Failure::new(format!(
                "{path}: read {done} bytes but the file had {size} (did it change meanwhile?)"
            )));
        }
    }
    Ok(done)
}

pub fn cat(agent: &mut Agent, path: &str, out: &mut dyn Write) -> Result<Report, Failure> {
    fetch(agent, path, out, false)?;
    out.flush()
        .map_err(|e| Failure::new(format!("standard output: {e}")))?;
    Ok(Report::default())
}

pub fn get(agent: &mut Agent, remote: &str, local: &Path, json: bool) -> Result<Report, Failure> {
    let started = Instant::now();
    let file = File::create(local)
        .map_err(|e| Failure::new(format!("{}: cannot create: {e}", local.display())))?;
    let mut out = std::io::BufWriter::with_capacity(CHUNK, file);
    let result = fetch(agent, remote, &mut out, !json).and_then(|n| {
        out.flush()
            .map_err(|e| Failure::new(format!("{}: {e}", local.display())))?;
        Ok(n)
    });
    match result {
        Ok(n) => Ok(summary(
            "get",
            remote,
            &local.display().to_string(),
            n,
            started,
        )),
        Err(e) => {
            // A partial copy would look like a good one (but /dev/null stays).
            if std::fs::symlink_metadata(local).is_ok_and(|m| m.is_file()) {
                let _ = std::fs::remove_file(local);
            }
            Err(e)
        }
    }
}

pub fn put(agent: &mut Agent, local: &Path, remote: &str, json: bool) -> Result<Report, Failure> {
    let started = Instant::now();
    let shown = local.display().to_string();
    let mut file =
        File::open(local).map_err(|e| Failure::new(format!("{shown}: cannot open: {e}")))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut dest = Remote::open(agent, remote, "w")?;
    let progress = progress(size, json);
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    // Two writes in flight, as get does with reads: the next chunk is read and encoded here
    // while the agent decodes and writes the previous one.
    let mut in_flight = std::collections::VecDeque::new();
    loop {
        let n =
            read_full(&mut file, &mut buf).map_err(|e| Failure::new(format!("{shown}: {e}")))?;
        if n > 0 {
            dest.send_write(&buf[..n])?;
            in_flight.push_back(n);
        }
        if in_flight.len() == 2 || (n == 0 && !in_flight.is_empty()) {
            let sent = in_flight.pop_front().unwrap_or(0);
            let written: GuestFileWrite = dest.take("guest-file-write")?;
            if written.count != sent as i64 {
                return Err(Failure::new(format!(
                    "{remote}: the guest wrote {} of {sent} bytes (disk full?)",
                    written.count
                )));
            }
            done += sent as u64;
            progress.set_position(done);
        }
        if n == 0 && in_flight.is_empty() {
            break;
        }
    }
    dest.flush()?;
    let end = dest.seek(0, QgaSeek::End)?;
    progress.finish_and_clear();
    if end != done as i64 {
        return Err(Failure::new(format!(
            "{}: the guest file has {end} bytes, {done} were sent",
            dest.path
        )));
    }
    drop(dest);
    Ok(summary("put", &shown, remote, done, started))
}

/// Fills `buf` as far as the file allows (short reads only at the end).
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
