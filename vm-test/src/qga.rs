//! A raw byte-level connection to the agent, for the one thing the typed client cannot
//! express: checking the exact bytes on the wire (sentinels, member order, several requests
//! in one write). Everything else goes through `qga_types::Client`.

use anyhow::{bail, ensure, Context, Result};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct RawConnection {
    stream: UnixStream,
    /// Bytes received but not yet consumed.
    pending: Vec<u8>,
}

impl RawConnection {
    pub fn connect(path: &Path) -> Result<Self> {
        let stream = UnixStream::connect(path)
            .with_context(|| format!("cannot connect to {}", path.display()))?;
        Ok(RawConnection {
            stream,
            pending: Vec::new(),
        })
    }

    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .context("cannot write to the agent socket")
    }

    /// Resynchronises: 0xFF and `guest-sync-delimited`; everything up to the sentinel
    /// before the reply carrying our id is discarded, and so is that reply.
    pub fn sync(&mut self, timeout: Duration) -> Result<()> {
        let id = 0x5eed_0000_i64 + i64::from(std::process::id() & 0xffff);
        let reply = format!("{{\"return\": {id}}}\n").into_bytes();
        let mut request = vec![0xff];
        request.extend(
            format!("{{\"execute\":\"guest-sync-delimited\",\"arguments\":{{\"id\":{id}}}}}")
                .into_bytes(),
        );
        self.send(&request)?;
        let deadline = Instant::now() + timeout;
        loop {
            match self.pending.iter().position(|&b| b == 0xff) {
                Some(at) => {
                    self.pending.drain(..=at);
                    while self.pending.len() < reply.len() && !self.pending.contains(&0xff) {
                        self.fill(deadline)?;
                    }
                    if self.pending.starts_with(&reply) {
                        self.pending.drain(..reply.len());
                        return Ok(());
                    }
                }
                None => {
                    self.pending.clear();
                    self.fill(deadline)?;
                }
            }
        }
    }

    /// Reads exactly as many bytes as `expected` has and fails unless they are equal.
    pub fn expect(&mut self, expected: &[u8], timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while self.pending.len() < expected.len() {
            if let Err(err) = self.fill(deadline) {
                bail!(
                    "{err:#}; received only {:?}, expected {:?}",
                    String::from_utf8_lossy(&self.pending),
                    String::from_utf8_lossy(expected)
                );
            }
        }
        let got: Vec<u8> = self.pending.drain(..expected.len()).collect();
        ensure!(
            got == expected,
            "received {:?}, expected {:?}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
        Ok(())
    }

    fn fill(&mut self, deadline: Instant) -> Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("timed out waiting for the agent");
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
                bail!("timed out waiting for the agent")
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => Ok(()),
            Err(err) => Err(err).context("reading from the agent"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (RawConnection, UnixStream) {
        let (client, agent) = UnixStream::pair().unwrap();
        let conn = RawConnection {
            stream: client,
            pending: Vec::new(),
        };
        (conn, agent)
    }

    #[test]
    fn sync_skips_noise_and_stale_replies_then_expect_compares_bytes() {
        let (mut conn, mut agent) = pair();
        let fake_agent = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let n = agent.read(&mut buf).unwrap();
            assert_eq!(buf[0], 0xff);
            let request: serde_json::Value = serde_json::from_slice(&buf[1..n]).unwrap();
            let id = request["arguments"]["id"].as_i64().unwrap();
            let mut out = b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}}\n".to_vec();
            out.extend(b"\xff{\"return\": 1}\n\xff");
            out.extend(format!("{{\"return\": {id}}}\n").into_bytes());
            out.extend(b"{\"return\": {}}\n");
            agent.write_all(&out).unwrap();
            agent
        });
        conn.sync(Duration::from_secs(5)).unwrap();
        let _agent = fake_agent.join().unwrap();
        conn.expect(b"{\"return\": {}}\n", Duration::from_secs(5))
            .unwrap();
    }

    #[test]
    fn expect_reports_what_differed_and_timeouts() {
        let (mut conn, mut agent) = pair();
        agent.write_all(b"{\"return\": 1}\n").unwrap();
        let err = conn
            .expect(b"{\"return\": 2}\n", Duration::from_secs(5))
            .unwrap_err();
        assert!(err.to_string().contains("received"), "{err}");
        let err = conn.expect(b"more", Duration::from_millis(50)).unwrap_err();
        assert!(err.to_string().contains("timed out"), "{err}");
    }
}
