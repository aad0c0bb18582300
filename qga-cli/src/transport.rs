//! Reaching an agent: unix sockets, vsock and (with the `libvirt` feature) libvirt domains,
//! each as a byte stream for the generated client, with one deadline per request.

use crate::Failure;
use qapi_runtime::ClientError;
use qga_types::Client;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A stream to an agent whose reads and writes give up at a deadline set by [`Link::arm`].
pub trait Link: Read + Write + Send {
    /// Allows `limit` from now for what follows (one request and its reply).
    fn arm(&mut self, limit: Duration);
}

/// Where one agent is.
#[derive(Debug, Clone)]
pub enum Target {
    Socket(PathBuf),
    Vsock { cid: u32, port: u32 },
    Domain { uri: Option<String>, name: String },
}

impl Target {
    /// The name shown in messages and in fleet rows.
    pub fn label(&self) -> String {
        match self {
            Target::Socket(path) => path.display().to_string(),
            Target::Vsock { cid, port } => format!("vsock:{cid}:{port}"),
            Target::Domain { name, .. } => name.clone(),
        }
    }
}

/// Parses `CID:PORT`.
pub fn parse_vsock(text: &str) -> Result<Target, Failure> {
    let bad = || {
        Failure::usage(format!(
            "--vsock wants CID:PORT (two numbers), not {text:?}"
        ))
    };
    let (cid, port) = text.split_once(':').ok_or_else(bad)?;
    Ok(Target::Vsock {
        cid: cid.parse().map_err(|_| bad())?,
        port: port.parse().map_err(|_| bad())?,
    })
}

/// A connected agent: the typed client and the time each request may take.
pub struct Agent {
    client: Client<Box<dyn Link>>,
    pub timeout: Duration,
    pub label: String,
}

impl Agent {
    /// Connects and runs the sync handshake, all within `timeout`.
    pub fn connect(target: &Target, timeout: Duration) -> Result<Agent, Failure> {
        let started = Instant::now();
        let label = target.label();
        let link: Box<dyn Link> = match target {
            Target::Socket(path) => Box::new(SocketLink::new(connect_unix(path)?)),
            Target::Vsock { cid, port } => Box::new(SocketLink::new(connect_vsock(*cid, *port)?)),
            Target::Domain { uri, name } => crate::libvirt::open(uri.as_deref(), name)?,
        };
        let mut client = Client::new(link);
        // Tolerate agents newer than our schema (extra members, new enum values).
        client.connection().set_lenient(true);
        let left = timeout.saturating_sub(started.elapsed());
        client.connection().get_mut().arm(left);
        match client.connection().guest_agent_handshake() {
            Ok(()) => {}
            Err(ClientError::Timeout) => {
                return Err(Failure::new(format!(
                    "{label}: the guest agent did not answer within {} (is it running in the guest?)",
                    secs(timeout)
                )))
            }
            Err(ClientError::Closed) => {
                return Err(Failure::new(format!(
                    "{label}: the connection was closed during the handshake (is another client using the agent?)"
                )))
            }
            Err(e) => return Err(Failure::new(format!("{label}: handshake failed: {e}"))),
        }
        Ok(Agent {
            client,
            timeout,
            label,
        })
    }

    /// The client, with the deadline set for one request.
    pub fn c(&mut self) -> &mut Client<Box<dyn Link>> {
        let timeout = self.timeout;
        self.client.connection().get_mut().arm(timeout);
        &mut self.client
    }

    /// The client with a deadline other than the default.
    pub fn c_for(&mut self, limit: Duration) -> &mut Client<Box<dyn Link>> {
        self.client.connection().get_mut().arm(limit);
        &mut self.client
    }

    /// Turns a client error on command `what` into a one-line failure.
    pub fn fail(&self, what: &str, error: ClientError) -> Failure {
        match error {
            ClientError::Command(e) => Failure::new(format!("{what}: {}", e.desc)),
            ClientError::Timeout => Failure::new(format!(
                "{what}: no reply from the guest agent within {}",
                secs(self.timeout)
            )),
            ClientError::Closed => {
                Failure::new(format!("{what}: the guest agent closed the connection"))
            }
            other => Failure::new(format!("{what}: {other}")),
        }
    }
}

/// `2 s`, `0.5 s`.
pub fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

fn connect_unix(path: &Path) -> Result<UnixStream, Failure> {
    UnixStream::connect(path).map_err(|e| {
        let shown = path.display();
        match e.kind() {
            io::ErrorKind::NotFound => Failure::new(format!(
                "{shown}: no such socket (is the VM running, is the path right?)"
            )),
            io::ErrorKind::ConnectionRefused => Failure::new(format!(
                "{shown}: nobody is listening on this socket (the VM or agent behind it is gone)"
            )),
            _ => Failure::new(format!("{shown}: cannot connect: {e}")),
        }
    })
}

fn connect_vsock(cid: u32, port: u32) -> Result<UnixStream, Failure> {
    use nix::errno::Errno;
    use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, VsockAddr};
    let label = format!("vsock:{cid}:{port}");
    let fd = socket(
        AddressFamily::Vsock,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| {
        Failure::new(format!(
            "{label}: vsock is not available on this host: {}",
            e.desc()
        ))
    })?;
    use std::os::fd::AsRawFd;
    connect(fd.as_raw_fd(), &VsockAddr::new(cid, port)).map_err(|e| match e {
        Errno::ECONNREFUSED | Errno::ECONNRESET => Failure::new(format!(
            "{label}: nobody is listening on this port (is the agent running in the guest?)"
        )),
        Errno::ENODEV | Errno::EHOSTUNREACH | Errno::ENETUNREACH | Errno::EADDRNOTAVAIL => {
            Failure::new(format!("{label}: no such vsock peer ({})", e.desc()))
        }
        Errno::ETIMEDOUT => Failure::new(format!("{label}: connecting timed out")),
        other => Failure::new(format!("{label}: cannot connect: {}", other.desc())),
    })?;
    // A connected stream socket of any family reads, writes and takes SO_RCVTIMEO/SO_SNDTIMEO
    // like a unix one; UnixStream gives us those calls.
    Ok(UnixStream::from(fd))
}

/// A socket with a deadline.
struct SocketLink {
    stream: UnixStream,
    deadline: Instant,
}

impl SocketLink {
    fn new(stream: UnixStream) -> SocketLink {
        SocketLink {
            stream,
            deadline: Instant::now(),
        }
    }

    /// Time left, or a timeout error when there is none.
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::ErrorKind::TimedOut.into())
        } else {
            Ok(left)
        }
    }
}

impl Link for SocketLink {
    fn arm(&mut self, limit: Duration) {
        self.deadline = Instant::now() + limit;
    }
}

impl Read for SocketLink {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

impl Write for SocketLink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.stream.set_write_timeout(Some(left))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
