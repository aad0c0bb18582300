//! A minimal raw-JSON guest-agent client for the host side of the VM tests: handshake with
//! `guest-sync-delimited`, then one request, one reply line. (To be replaced by the typed
//! client generated in `qga-types` once it exists.)

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A reply of the agent: `{"return": ...}` or `{"error": {"class", "desc"}}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Return(Value),
    Error { class: String, desc: String },
}

/// A connection to a guest agent over a byte stream (here: QEMU's chardev socket).
pub struct QgaConnection {
    stream: UnixStream,
    /// Bytes received but not yet consumed.
    pending: Vec<u8>,
    /// How long a command may take before the call fails.
    pub timeout: Duration,
}

impl QgaConnection {
    pub fn connect(path: &Path) -> Result<Self> {
        let stream = UnixStream::connect(path)
            .with_context(|| format!("cannot connect to {}", path.display()))?;
        Ok(QgaConnection {
            stream,
            pending: Vec::new(),
            timeout: Duration::from_secs(30),
        })
    }

    /// Resynchronises: 0xFF resets the agent's parser, `guest-sync-delimited` answers with a
    /// 0xFF-prefixed reply; everything before the reply carrying our id is discarded.
    pub fn sync(&mut self, timeout: Duration) -> Result<()> {
        let id = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64 & 0xffff_ffff_ffff)
            .unwrap_or(4242);
        let request = json!({"execute": "guest-sync-delimited", "arguments": {"id": id}});
        let mut bytes = vec![0xff];
        bytes.extend(request.to_string().into_bytes());
        self.stream.write_all(&bytes)?;
        let deadline = Instant::now() + timeout;
        loop {
            // Skip to the sentinel; only what follows it can be our reply.
            loop {
                if let Some(at) = self.pending.iter().position(|&b| b == 0xff) {
                    self.pending.drain(..=at);
                    break;
                }
                self.pending.clear();
                self.fill(deadline)?;
            }
            let line = self.read_line(deadline)?;
            if let Ok(value) = serde_json::from_slice::<Value>(&line) {
                if value.get("return") == Some(&json!(id)) {
                    return Ok(());
                }
            }
        }
    }

    /// Sends a command and returns the agent's reply.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Reply> {
        self.send(command, arguments)?;
        let deadline = Instant::now() + self.timeout;
        let line = self.read_line(deadline)?;
        let value: Value = serde_json::from_slice(&line).with_context(|| {
            format!(
                "{command}: reply is not JSON: {}",
                String::from_utf8_lossy(&line)
            )
        })?;
        parse_reply(&value).with_context(|| format!("{command}: unexpected reply {value}"))
    }

    /// Like [`execute`](Self::execute) but an error reply is an `Err`.
    pub fn call(&mut self, command: &str, arguments: Option<Value>) -> Result<Value> {
        match self.execute(command, arguments)? {
            Reply::Return(value) => Ok(value),
            Reply::Error { class, desc } => bail!("{command} failed: {class}: {desc}"),
        }
    }

    /// Sends a command that has no reply on success (`guest-shutdown`, `guest-suspend-*`).
    pub fn send(&mut self, command: &str, arguments: Option<Value>) -> Result<()> {
        let mut request = json!({"execute": command});
        if let Some(arguments) = arguments {
            request["arguments"] = arguments;
        }
        self.stream
            .write_all(request.to_string().as_bytes())
            .with_context(|| format!("{command}: cannot send"))
    }

    /// Waits up to `timeout` for a line; `Ok(None)` if none came (a command without reply).
    pub fn try_read_reply(&mut self, timeout: Duration) -> Result<Option<Reply>> {
        match self.read_line(Instant::now() + timeout) {
            Ok(line) => {
                let value: Value = serde_json::from_slice(&line)?;
                Ok(Some(parse_reply(&value)?))
            }
            Err(err) if err.downcast_ref::<TimedOut>().is_some() => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn read_line(&mut self, deadline: Instant) -> Result<Vec<u8>> {
        loop {
            if let Some(at) = self.pending.iter().position(|&b| b == b'\n') {
                let line = self.pending.drain(..=at).collect::<Vec<_>>();
                return Ok(line[..line.len() - 1].to_vec());
            }
            self.fill(deadline)?;
        }
    }

    fn fill(&mut self, deadline: Instant) -> Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => bail!("the agent's socket was closed"),
            Ok(n) => {
                self.pending.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(TimedOut.into())
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => Ok(()),
            Err(err) => Err(err).context("reading from the agent"),
        }
    }
}

/// No reply arrived in time.
#[derive(Debug)]
pub struct TimedOut;

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("timed out waiting for the agent")
    }
}

impl std::error::Error for TimedOut {}

fn parse_reply(value: &Value) -> Result<Reply> {
    if let Some(ret) = value.get("return") {
        return Ok(Reply::Return(ret.clone()));
    }
    let error = value.get("error").context("neither return nor error")?;
    let text = |key: &str| {
        error
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(Reply::Error {
        class: text("class"),
        desc: text("desc"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_skips_noise_before_the_sentinel_and_stale_ids() {
        let (client, mut agent) = UnixStream::pair().unwrap();
        let mut conn = QgaConnection {
            stream: client,
            pending: Vec::new(),
            timeout: Duration::from_secs(5),
        };
        let fake_agent = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let n = agent.read(&mut buf).unwrap();
            assert_eq!(buf[0], 0xff);
            let request: Value = serde_json::from_slice(&buf[1..n]).unwrap();
            let id = request["arguments"]["id"].clone();
            let mut out = b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}}\n".to_vec();
            out.extend(b"\xff{\"return\": 1}\n\xff");
            out.extend(json!({"return": id}).to_string().into_bytes());
            out.extend(b"\n{\"return\": {}}\n");
            agent.write_all(&out).unwrap();
            let n = agent.read(&mut buf).unwrap();
            serde_json::from_slice::<Value>(&buf[..n]).unwrap()
        });
        conn.sync(Duration::from_secs(5)).unwrap();
        // The reply queued after the sync reply belongs to the next command.
        assert_eq!(
            conn.execute("guest-ping", None).unwrap(),
            Reply::Return(json!({}))
        );
        assert_eq!(fake_agent.join().unwrap(), json!({"execute": "guest-ping"}));
    }

    #[test]
    fn error_replies_keep_class_and_desc() {
        let reply = parse_reply(&json!({"error": {"class": "CommandNotFound", "desc": "d"}}));
        assert_eq!(
            reply.unwrap(),
            Reply::Error {
                class: "CommandNotFound".into(),
                desc: "d".into()
            }
        );
        assert!(parse_reply(&json!({"x": 1})).is_err());
    }
}
