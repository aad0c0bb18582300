//! The whole request path on arbitrary bytes, for the fuzz target (`qga-agent/fuzz`) and the
//! deterministic replay test (`tests/fuzz_replay.rs`): reads of any size through the lexer,
//! streamer and parser, the envelope checks, argument decoding and dispatch, replies
//! written as on the wire. Only commands that leave the machine alone are enabled (the rest
//! are answered as disabled); file commands work in a scratch directory.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::agent::{Agent, AgentOptions};
use crate::channel::Channel;
use crate::json::{ParseError, Streamer};
use crate::policy::Policy;
use crate::server::{self, Handler, Output};

/// Commands that run for real: they read the system, or touch only the scratch directory.
pub const ENABLED: &[&str] = &[
    "guest-sync",
    "guest-sync-delimited",
    "guest-ping",
    "guest-info",
    "guest-get-time",
    "guest-get-timezone",
    "guest-get-host-name",
    "guest-get-osinfo",
    "guest-get-load",
    "guest-get-users",
    "guest-get-vcpus",
    "guest-fsfreeze-status",
    "guest-exec-status",
    "guest-file-open",
    "guest-file-close",
    "guest-file-read",
    "guest-file-write",
    "guest-file-seek",
    "guest-file-flush",
];

/// Most bytes one `guest-file-read` may ask for here (a sparse scratch file could otherwise
/// make one input cost 64 MiB of reply).
const MAX_READ: u64 = 1 << 20;

/// A channel that hands out `input` in pieces of `chunk` bytes and keeps what is written.
struct Script<'a> {
    input: &'a [u8],
    chunk: usize,
    written: Vec<u8>,
}

impl Channel for Script<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let n = self.chunk.min(buf.len()).min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(data);
        Ok(data.len())
    }
}

/// The agent with every file path of a request moved into the scratch directory.
struct Confined<'a> {
    agent: &'a mut Agent,
    files: &'a Path,
}

impl Confined<'_> {
    /// `arguments.path` (a string) becomes one of four scratch files, chosen by its text.
    fn confine(&self, mut request: Value) -> Value {
        let Some(args) = request.get_mut("arguments").and_then(Value::as_object_mut) else {
            return request;
        };
        if let Some(Value::String(path)) = args.get_mut("path") {
            let pick = path.bytes().fold(0u8, |a, b| a.wrapping_add(b)) % 4;
            *path = self.files.join(format!("f{pick}")).display().to_string();
        }
        if let Some(count) = args.get_mut("count") {
            if count.as_u64().is_some_and(|c| c > MAX_READ) {
                *count = Value::from(MAX_READ);
            }
        }
        request
    }
}

impl Handler for Confined<'_> {
    fn handle(&mut self, input: Result<Value, ParseError>, out: &mut Output<'_>) {
        let input = input.map(|request| self.confine(request));
        self.agent.handle(input, out);
    }
}

/// A scratch directory for [`run`]: the agent's state directory and the files it may touch.
#[derive(Debug)]
pub struct Scratch {
    state: PathBuf,
    files: PathBuf,
}

impl Scratch {
    /// Uses (and creates) `state` and `files` under `dir`.
    pub fn new(dir: &Path) -> io::Result<Scratch> {
        let scratch = Scratch {
            state: dir.join("state"),
            files: dir.join("files"),
        };
        std::fs::create_dir_all(&scratch.state)?;
        std::fs::create_dir_all(&scratch.files)?;
        Ok(scratch)
    }

    /// Empties the files directory, so each input starts alike.
    fn reset(&self) -> io::Result<()> {
        for entry in std::fs::read_dir(&self.files)? {
            std::fs::remove_file(entry?.path())?;
        }
        Ok(())
    }
}

/// Feeds `data` through a fresh agent (its first byte picks the read size, the rest is the
/// stream) and checks every reply: one JSON object per line, optionally after the 0xFF
/// delimiter, with exactly one of `return` and `error`. Returns how many replies came, or
/// what was wrong; a panic anywhere is the fuzzer's finding.
pub fn run(data: &[u8], scratch: &Scratch) -> Result<usize, String> {
    scratch
        .reset()
        .map_err(|e| format!("cannot reset the scratch directory: {e}"))?;
    let (chunk, input) = match data.split_first() {
        Some((&0, rest)) => (usize::MAX, rest),
        Some((&first, rest)) => (usize::from(first % 32) + 1, rest),
        None => (1, data),
    };
    let options = AgentOptions {
        policy: Policy::new(
            ENABLED.iter().map(|s| (*s).to_owned()).collect(),
            Vec::new(),
        ),
        state_dir: scratch.state.display().to_string(),
        ..AgentOptions::default()
    };
    let mut agent = Agent::new(options, false).map_err(|e| e.join("; "))?;
    let mut channel = Script {
        input,
        chunk,
        written: Vec::new(),
    };
    let mut confined = Confined {
        agent: &mut agent,
        files: &scratch.files,
    };
    server::serve(&mut channel, &mut Streamer::default(), &mut confined);
    check_replies(&channel.written)
}

/// The check of [`run`] on the bytes an agent wrote.
pub fn check_replies(written: &[u8]) -> Result<usize, String> {
    if !(written.is_empty() || written.ends_with(b"\n")) {
        return Err("the output does not end with a newline".to_owned());
    }
    let mut count = 0;
    for line in written.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        let text = line.strip_prefix(&[0xFF]).unwrap_or(line);
        let reply: Value = serde_json::from_slice(text).map_err(|e| {
            format!(
                "reply is not JSON ({e}): {}",
                String::from_utf8_lossy(&text[..text.len().min(300)])
            )
        })?;
        let Some(object) = reply.as_object() else {
            return Err(format!("reply is not an object: {reply}"));
        };
        let ok = object.contains_key("return") != object.contains_key("error")
            && object
                .keys()
                .all(|k| matches!(k.as_str(), "return" | "error" | "id"));
        if !ok {
            return Err(format!("reply has the wrong members: {reply}"));
        }
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_get_replies_and_files_stay_in_the_scratch_directory() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = Scratch::new(dir.path()).unwrap();
        let input = concat!(
            "\x05",
            r#"{"execute":"guest-sync-delimited","arguments":{"id":7}}"#,
            r#"{"execute":"guest-file-open","arguments":{"path":"/etc/passwd","mode":"a"}}"#,
            r#"{"execute":"guest-exec","arguments":{"path":"/bin/true"}}"#,
            "[1, }"
        );
        assert_eq!(run(input.as_bytes(), &scratch), Ok(4));
        // The open really happened, in the scratch directory.
        let files: Vec<_> = std::fs::read_dir(&scratch.files).unwrap().collect();
        assert_eq!(files.len(), 1);
        assert!(check_replies(b"{\"return\": {}}\n\xff{\"error\": {}, \"id\": 1}\n").is_ok());
        assert!(check_replies(b"{\"return\": inf}\n").is_err());
        assert!(check_replies(b"{\"return\": 1, \"error\": {}}\n").is_err());
        assert!(check_replies(b"{\"return\": 1}").is_err());
    }
}
