//! libvirt domains: libvirt owns each VM's agent socket, so requests go through its agent API
//! (`virDomainQemuAgentCommand`), one JSON message in, one out. [`DomainLink`] makes that
//! look like a stream to the generated client. Built with the `libvirt` feature only.

use crate::transport::Link;
use crate::Failure;

#[cfg(not(feature = "libvirt"))]
pub fn open(_uri: Option<&str>, name: &str) -> Result<Box<dyn Link>, Failure> {
    Err(not_built(name))
}

#[cfg(not(feature = "libvirt"))]
pub fn running_domains(_uri: Option<&str>) -> Result<Vec<String>, Failure> {
    Err(not_built("--all"))
}

#[cfg(not(feature = "libvirt"))]
fn not_built(what: &str) -> Failure {
    Failure::new(format!(
        "{what}: this qga was built without libvirt support (cargo feature `libvirt`)"
    ))
}

#[cfg(feature = "libvirt")]
pub use with_libvirt::{open, running_domains};

#[cfg(feature = "libvirt")]
mod with_libvirt {
    use super::*;
    use serde_json::{json, Value};
    use std::io::{self, Read, Write};
    use std::time::Duration;
    use virt::connect::Connect;
    use virt::domain::Domain;

    /// libvirt's timeout values: block without limit.
    const BLOCK: i32 = -1;

    fn connect(uri: Option<&str>) -> Result<Connect, Failure> {
        // libvirt prints every error by default; ours are reported once, in one line.
        virt::error::clear_error_callback();
        Connect::open(uri).map_err(|e| {
            Failure::new(format!(
                "{}: cannot connect to libvirt: {}",
                uri.unwrap_or("default URI"),
                e.message()
            ))
        })
    }

    pub fn open(uri: Option<&str>, name: &str) -> Result<Box<dyn Link>, Failure> {
        let conn = connect(uri)?;
        let domain = Domain::lookup_by_name(&conn, name)
            .map_err(|e| Failure::new(format!("{name}: no such domain ({})", e.message())))?;
        if !domain.is_active().unwrap_or(false) {
            return Err(Failure::new(format!("{name}: the domain is not running")));
        }
        Ok(Box::new(DomainLink {
            domain,
            _conn: conn,
            name: name.to_owned(),
            timeout: Duration::from_secs(10),
            pending: Vec::new(),
            replies: Vec::new(),
            read_pos: 0,
        }))
    }

    /// Names of the running domains, sorted.
    pub fn running_domains(uri: Option<&str>) -> Result<Vec<String>, Failure> {
        let conn = connect(uri)?;
        let domains = conn
            .list_all_domains(virt::sys::VIR_CONNECT_LIST_DOMAINS_ACTIVE)
            .map_err(|e| Failure::new(format!("cannot list domains: {}", e.message())))?;
        let mut names: Vec<String> = domains.iter().filter_map(|d| d.get_name().ok()).collect();
        names.sort();
        Ok(names)
    }

    /// Requests written are collected up to their newline, sent through libvirt, and the
    /// replies are read back as if they had come over the agent's socket.
    struct DomainLink {
        domain: Domain,
        _conn: Connect,
        name: String,
        timeout: Duration,
        pending: Vec<u8>,
        replies: Vec<u8>,
        read_pos: usize,
    }

    impl DomainLink {
        fn send(&mut self, line: &[u8]) -> io::Result<()> {
            // The handshake's 0xFF flush is for a raw channel; libvirt syncs by itself.
            let (delimited, text) = match line.split_first() {
                Some((0xFF, rest)) => (true, rest),
                _ => (false, line),
            };
            let text = std::str::from_utf8(text)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "request not UTF-8"))?;
            let mut request: Value = serde_json::from_str(text)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let mut name = request["execute"].as_str().unwrap_or("").to_owned();
            // libvirt reads the agent's replies as UTF-8 lines: the 0xFF that answers
            // guest-sync-delimited would break its channel. guest-sync checks the same path;
            // the sentinel is added back below for the client.
            if name == "guest-sync-delimited" {
                name = "guest-sync".to_owned();
                request["execute"] = Value::from(name.as_str());
            }
            let text = &request.to_string();
            let id = request.get("id").cloned();
            let replies = qga_types::command_info(&name).is_none_or(|c| c.success_response);
            let timeout = if replies {
                i32::try_from(self.timeout.as_secs().max(1)).unwrap_or(BLOCK)
            } else {
                // Commands that answer only on failure: a second for such an answer; silence
                // is success. (libvirt's no-wait value 0 can drop the request unsent.)
                1
            };
            let reply = match self.domain.qemu_agent_command(text, timeout, 0) {
                Ok(reply) => reply,
                Err(_) if !replies => return Ok(()),
                Err(e) => {
                    let message = e.message().to_owned();
                    if message.contains("not responding") || message.contains("timed out") {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, message));
                    }
                    // An error reply, as the agent would send it, with libvirt's message.
                    let mut error = json!({"error": {"class": "GenericError", "desc": format!("{}: {message}", self.name)}});
                    if let Some(id) = id {
                        error["id"] = id;
                    }
                    error.to_string()
                }
            };
            if delimited {
                self.replies.push(0xFF);
            }
            self.replies.extend_from_slice(reply.as_bytes());
            self.replies.push(b'\n');
            Ok(())
        }
    }

    impl Link for DomainLink {
        fn arm(&mut self, limit: Duration) {
            self.timeout = limit;
        }
    }

    impl Write for DomainLink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.pending.extend_from_slice(buf);
            while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                self.send(&line[..line.len() - 1])?;
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Read for DomainLink {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let left = &self.replies[self.read_pos..];
            if left.is_empty() {
                // Nothing was asked that has an answer: what a silent agent looks like.
                return Err(io::ErrorKind::TimedOut.into());
            }
            let n = left.len().min(buf.len());
            buf[..n].copy_from_slice(&left[..n]);
            self.read_pos += n;
            if self.read_pos == self.replies.len() {
                self.replies.clear();
                self.read_pos = 0;
            }
            Ok(n)
        }
    }
}
