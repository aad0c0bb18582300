//! The host's QMP session with the test VM's QEMU, for what only the hypervisor can do:
//! waking a suspended guest and hot-plugging memory. Runs on the generated client runtime
//! (`qapi_runtime::Connection`); the workspace has no typed QMP crate, so commands are sent
//! by name with JSON arguments.

use anyhow::{bail, Context, Result};
use qga_types::qapi_runtime::Connection;
use serde_json::Value;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// A QMP connection. Events are not used; lenient decoding keeps QEMU's (unknown to the
/// guest-agent schema) as `Unrecognized` and they are dropped.
pub struct Qmp {
    connection: Connection<UnixStream, qga_types::Event>,
}

impl Qmp {
    /// Connects (QEMU creates the socket at start-up) and negotiates capabilities.
    pub fn connect(socket: &Path) -> Result<Qmp> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match UnixStream::connect(socket) {
                Ok(stream) => break stream,
                Err(err) if Instant::now() >= deadline => {
                    return Err(err)
                        .with_context(|| format!("cannot connect to {}", socket.display()))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut connection = Connection::new(stream);
        connection.set_lenient(true);
        connection.qmp_handshake().context("QMP handshake")?;
        Ok(Qmp { connection })
    }

    /// Runs `command` and returns its `return` value.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value> {
        let reply = self
            .connection
            .execute_value(command, arguments.as_ref())
            .with_context(|| format!("QMP {command}"));
        self.connection.take_events();
        reply
    }

    /// The VM's run state (`running`, `suspended`, ...).
    pub fn status(&mut self) -> Result<String> {
        let status = self.execute("query-status", None)?;
        status["status"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("query-status returned {status}"))
    }

    /// Polls the run state until it is `want`.
    pub fn wait_for_status(&mut self, want: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.status()?;
            if status == want {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("the VM is {status:?}, not {want:?}, after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
