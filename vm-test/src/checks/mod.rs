//! The end-to-end checks. Each drives agent features from the host through the generated
//! typed client (`qga_types::Client`) and compares the typed results, member by member, with
//! what the VM was set up with ([`guest`](super::guest)) or what the guest reports through
//! another path. Every agent that claims to be a drop-in for qemu-ga 10.0.2 must pass the
//! same list; where qga-agent deliberately differs (COMPATIBILITY.md), a check expects each
//! agent's documented behaviour ([`Flavor`]).
//!
//! Add a check by writing a [`CheckFn`] and listing it in a suite ([`super::suite`]).

pub mod autothaw;
pub mod cli;
pub mod files;
pub mod hook;
pub mod power;
pub mod session;
pub mod storage;
pub mod system;

use super::kernel::Kernel;
use super::machine::Vm;
use anyhow::{bail, ensure, Context, Result};
use qga_types::qapi_runtime::{base64, ClientError, ErrorClass, QapiError};
use qga_types::{
    Client, GuestExecArgs, GuestExecCaptureOutput, GuestExecStatus, GuestExecStatusArgs,
    GuestFileCloseArgs, GuestFileOpenArgs, GuestFileReadArgs, GuestFileWriteArgs,
};
use std::fmt::Debug;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// Which behaviour to expect where the agents legitimately differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// This workspace's qga-agent (and `--agent PATH`): qemu-ga with the fixes of
    /// COMPATIBILITY.md.
    Ours,
    /// QEMU's qemu-ga 10.0.2.
    Reference,
}

/// What a check can reach: the agent, the VM it runs in, and the guest's kernel.
pub struct Ctx<'a> {
    pub client: Client<UnixStream>,
    pub vm: &'a mut Vm,
    pub kernel: &'a Kernel,
    pub flavor: Flavor,
}

impl Ctx<'_> {
    /// Hangs up the host end of the agent's port (QEMU sees the socket close).
    pub fn hang_up(&mut self) {
        let _ = self.client.connection().get_ref().shutdown(Shutdown::Both);
    }

    /// Hangs up, connects again and repeats the handshake.
    pub fn reconnect(&mut self) -> Result<()> {
        self.hang_up();
        self.client = self.vm.wait_for_agent(Duration::from_secs(20))?;
        Ok(())
    }
}

/// A check: drives the agent and fails with a message saying what differed.
pub type CheckFn = fn(&mut Ctx) -> Result<()>;

/// The outcome of one check.
pub struct Outcome {
    pub name: &'static str,
    pub result: Result<()>,
    pub took: Duration,
}

/// Runs the checks in order and prints one line per check. A failure does not stop the
/// rest, unless the agent no longer answers a fresh handshake: then the remaining checks are
/// reported as not run rather than each waiting for its timeout.
pub fn run_all(ctx: &mut Ctx, checks: &[(&'static str, CheckFn)]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut dead = None;
    for &(name, check) in checks {
        if let Some(reason) = &dead {
            eprintln!("  SKIP  {name}");
            outcomes.push(Outcome {
                name,
                result: Err(anyhow::anyhow!("not run: {reason}")),
                took: Duration::ZERO,
            });
            continue;
        }
        let start = Instant::now();
        let result = check(ctx);
        let took = start.elapsed();
        match &result {
            Ok(()) => eprintln!("  ok    {name} ({} ms)", took.as_millis()),
            Err(err) => {
                eprintln!("  FAIL  {name}: {err:#}");
                // Start the next check in sync; give up if the agent is gone.
                if let Err(err) = ctx.reconnect() {
                    eprintln!("        the agent does not answer any more: {err:#}");
                    dead = Some(format!("the agent stopped answering after {name}"));
                }
            }
        }
        outcomes.push(Outcome { name, result, took });
    }
    outcomes
}

/// The error reply of a call that must fail.
pub fn command_error<T: Debug>(what: &str, result: Result<T, ClientError>) -> Result<QapiError> {
    match result {
        Err(ClientError::Command(error)) => Ok(error),
        Err(other) => Err(other).with_context(|| format!("{what}: no error reply")),
        Ok(value) => bail!("{what} succeeded ({value:?}) but must fail"),
    }
}

/// A call that must fail with exactly this class and text.
pub fn expect_error<T: Debug>(
    what: &str,
    result: Result<T, ClientError>,
    class: ErrorClass,
    desc: &str,
) -> Result<()> {
    let error = command_error(what, result)?;
    ensure!(
        error.class == class && error.desc == desc,
        "{what}: got {}: {:?}, expected {class}: {desc:?}",
        error.class,
        error.desc
    );
    Ok(())
}

/// `guest-file-open` (read-only), reads in `chunk`-byte pieces to the end, closes.
pub fn read_file_in(client: &mut Client<UnixStream>, path: &str, chunk: i64) -> Result<Vec<u8>> {
    let handle = client
        .guest_file_open(&GuestFileOpenArgs {
            path: path.into(),
            mode: None,
        })
        .with_context(|| format!("opening {path}"))?;
    let mut data = Vec::new();
    loop {
        let piece = client.guest_file_read(&GuestFileReadArgs {
            handle,
            count: Some(chunk),
        })?;
        ensure!(
            piece.count == piece.buf_b64.len() as i64 && piece.count <= chunk,
            "{path}: read of {chunk} says count {} for {} bytes",
            piece.count,
            piece.buf_b64.len()
        );
        data.extend_from_slice(&piece.buf_b64);
        if piece.eof {
            break;
        }
        ensure!(piece.count > 0, "{path}: an empty read without end of file");
        ensure!(data.len() < 64 << 20, "{path} never reached end of file");
    }
    client.guest_file_close(&GuestFileCloseArgs { handle })?;
    Ok(data)
}

/// A whole guest file, through the agent.
pub fn read_file(client: &mut Client<UnixStream>, path: &str) -> Result<Vec<u8>> {
    read_file_in(client, path, 64 << 10)
}

/// A whole guest file as text.
pub fn read_text(client: &mut Client<UnixStream>, path: &str) -> Result<String> {
    String::from_utf8(read_file(client, path)?).with_context(|| format!("{path} is not UTF-8"))
}

/// Creates or truncates a guest file and writes `data` to it.
pub fn write_file(client: &mut Client<UnixStream>, path: &str, data: &[u8]) -> Result<()> {
    let handle = client
        .guest_file_open(&GuestFileOpenArgs {
            path: path.into(),
            mode: Some("w".into()),
        })
        .with_context(|| format!("creating {path}"))?;
    let wrote = client.guest_file_write(&GuestFileWriteArgs {
        handle,
        buf_b64: base64::encode(data),
        count: None,
    })?;
    ensure!(
        wrote.count == data.len() as i64,
        "{path}: wrote {} of {} bytes",
        wrote.count,
        data.len()
    );
    client.guest_file_close(&GuestFileCloseArgs { handle })?;
    Ok(())
}

/// Starts a program with guest-exec and polls guest-exec-status until it has exited.
pub fn exec_wait(client: &mut Client<UnixStream>, args: &GuestExecArgs) -> Result<GuestExecStatus> {
    let pid = client.guest_exec(args)?.pid;
    ensure!(pid > 0, "guest-exec returned pid {pid}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut pause = Duration::from_millis(5);
    loop {
        let status = client.guest_exec_status(&GuestExecStatusArgs { pid })?;
        if status.exited {
            return Ok(status);
        }
        ensure!(
            status.exitcode.is_none() && status.signal.is_none() && status.out_data.is_none(),
            "a running process has results: {status:?}"
        );
        ensure!(
            Instant::now() < deadline,
            "{} still running: {status:?}",
            args.path
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// What a finished shell command printed.
#[derive(Debug)]
pub struct ShellResult {
    pub exitcode: Option<i64>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `/bin/sh -c script` in the guest with separate output capture.
pub fn shell(client: &mut Client<UnixStream>, script: &str) -> Result<ShellResult> {
    let status = exec_wait(
        client,
        &GuestExecArgs {
            path: "/bin/sh".into(),
            arg: Some(vec!["-c".into(), script.into()]),
            env: None,
            input_data: None,
            capture_output: Some(GuestExecCaptureOutput::Flag(true)),
        },
    )?;
    Ok(ShellResult {
        exitcode: status.exitcode,
        stdout: decode_text(status.out_data.as_deref())?,
        stderr: decode_text(status.err_data.as_deref())?,
    })
}

/// Starts `/bin/sh -c script` in the guest without waiting for it or capturing its output.
pub fn shell_detached(client: &mut Client<UnixStream>, script: String) -> Result<()> {
    client.guest_exec(&GuestExecArgs {
        path: "/bin/sh".into(),
        arg: Some(vec!["-c".into(), script]),
        env: None,
        input_data: None,
        capture_output: None,
    })?;
    Ok(())
}

/// Runs a shell command that must succeed silently on stderr; returns its stdout.
pub fn shell_ok(client: &mut Client<UnixStream>, script: &str) -> Result<String> {
    let result = shell(client, script)?;
    ensure!(
        result.exitcode == Some(0) && result.stderr.is_empty(),
        "`{script}` failed: {result:?}"
    );
    Ok(result.stdout)
}

/// Decodes an optional base64 member into text ("" when absent).
pub fn decode_text(data: Option<&str>) -> Result<String> {
    let bytes = match data {
        Some(text) => base64::decode_strict(text).context("bad base64 from the agent")?,
        None => Vec::new(),
    };
    String::from_utf8(bytes).context("output is not UTF-8")
}

/// The host clock in nanoseconds since the epoch.
pub fn host_now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Waits until the guest console shows `needle` (it is written asynchronously).
pub fn wait_for_console(vm: &Vm, needle: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !vm.console().contains(needle) {
        ensure!(
            Instant::now() < deadline,
            "the console never showed {needle:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
