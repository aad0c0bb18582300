//! guest-exec / guest-exec-status: programs started for the client, watched in the
//! background until their status is reported.
//!
//! Designed for a single-threaded agent loop: [`ExecTable::exec`] returns at once; each
//! captured stream is drained by its own thread (so a child never blocks on a full pipe),
//! input is fed by another, and the child is reaped by `waitpid(pid)` when its status is
//! asked for (or by [`ExecTable::reap`]). The agent must never reap with `waitpid(-1)` or
//! ignore `SIGCHLD`, or these statuses are lost.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;

use nix::errno::Errno;
use nix::unistd::{access, AccessFlags};

use super::error::errno_of;
use super::{base64, strerror, SysError};

/// Most output kept per stream (16 MiB); the rest is read and dropped.
pub const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// QAPI `GuestExecCaptureOutputMode` (`true`/`false` map to `Separated`/`None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CaptureMode {
    /// Discard stdout and stderr (the default).
    #[default]
    None,
    /// Capture stdout, discard stderr.
    Stdout,
    /// Capture stderr, discard stdout.
    Stderr,
    /// Capture both, separately.
    Separated,
    /// Capture both into `out_data`.
    Merged,
}

impl CaptureMode {
    /// The boolean form of `capture-output`.
    pub fn from_flag(flag: bool) -> CaptureMode {
        if flag {
            CaptureMode::Separated
        } else {
            CaptureMode::None
        }
    }
}

/// QAPI `GuestExecStatus`. Output bytes are raw; the protocol layer base64-encodes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecStatus {
    pub exited: bool,
    pub exitcode: Option<i64>,
    pub signal: Option<i64>,
    /// Captured stdout (or both streams when merged), present only if non-empty.
    pub out_data: Option<Vec<u8>>,
    pub err_data: Option<Vec<u8>>,
    /// Present (and `true`) only when the stream went over [`MAX_OUTPUT`].
    pub out_truncated: Option<bool>,
    pub err_truncated: Option<bool>,
}

/// What a stream's reader thread hands back at end of file.
#[derive(Debug, Default)]
struct Captured {
    data: Vec<u8>,
    truncated: bool,
}

#[derive(Debug)]
struct Running {
    child: Child,
    out: Option<JoinHandle<Captured>>,
    err: Option<JoinHandle<Captured>>,
    /// Collected results of finished readers.
    out_done: Option<Captured>,
    err_done: Option<Captured>,
}

/// The children started by `guest-exec`, by pid, until their final status was reported.
#[derive(Debug, Default)]
pub struct ExecTable {
    children: HashMap<i64, Running>,
}

impl ExecTable {
    /// An empty table.
    pub fn new() -> Self {
        ExecTable::default()
    }

    /// `guest-exec`: starts `path` with `args`; returns its pid.
    ///
    /// `env` (`NAME=value` entries; entries without `=` are skipped) replaces the whole
    /// environment. `path` without `/` is searched in the `PATH` of `env`, else the agent's
    /// `PATH`, else `/bin:/usr/bin:.`; a file that is not a valid executable is run by
    /// `/bin/sh`, as GLib does. `input_data` (base64) is fed to stdin, which is `/dev/null`
    /// otherwise; streams not captured go to `/dev/null`. Errors: `Base64 data contains invalid
    /// characters`, `Failed to execute child process “<path>” (<strerror>)`.
    pub fn exec(
        &mut self,
        path: &str,
        args: &[String],
        env: Option<&[String]>,
        input_data: Option<&str>,
        capture: CaptureMode,
    ) -> Result<i64, SysError> {
        let input = input_data.map(base64::decode).transpose()?;
        let spawn_error = |errno: Errno| {
            SysError::new(format!(
                "Failed to execute child process \u{201c}{path}\u{201d} ({})",
                strerror(errno)
            ))
        };
        let program = resolve_program(path, env).map_err(spawn_error)?;

        let mut spawned = spawn(&program, path, args, env, input.is_some(), capture);
        if matches!(&spawned, Err(err) if errno_of(err) == Errno::ENOEXEC) {
            // Not an executable format: run it as a shell script, like GLib.
            let mut sh_args = vec![program.clone().into_os_string()];
            sh_args.extend(args.iter().map(OsString::from));
            spawned = spawn_with_args(
                Path::new("/bin/sh"),
                "/bin/sh".as_ref(),
                &sh_args,
                env,
                input.is_some(),
                capture,
            );
        }
        let (mut child, out_pipe, err_pipe) = spawned.map_err(|err| spawn_error(errno_of(&err)))?;

        if let (Some(mut stdin), Some(data)) = (child.stdin.take(), input) {
            // Errors (the child closed stdin or exited) just end the feeding.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&data);
            });
        }
        let pid = i64::from(child.id());
        self.children.insert(
            pid,
            Running {
                child,
                out: out_pipe.map(drain),
                err: err_pipe.map(drain),
                out_done: None,
                err_done: None,
            },
        );
        Ok(pid)
    }

    /// `guest-exec-status`: `exited` is true once the child was reaped and its captured
    /// streams reached end of file; the full status is then returned once and the record
    /// dropped, so a later query fails with `PID <pid> does not exist` (also for unknown pids).
    pub fn status(&mut self, pid: i64) -> Result<ExecStatus, SysError> {
        let running = self
            .children
            .get_mut(&pid)
            .ok_or_else(|| SysError::new(format!("PID {pid} does not exist")))?;
        let status = running.child.try_wait().ok().flatten();
        collect(&mut running.out, &mut running.out_done);
        collect(&mut running.err, &mut running.err_done);
        let (Some(status), true, true) = (status, running.out.is_none(), running.err.is_none())
        else {
            return Ok(ExecStatus::default());
        };
        let mut result = exit_status(status);
        if let Some(out) = running.out_done.take().filter(|c| !c.data.is_empty()) {
            result.out_truncated = out.truncated.then_some(true);
            result.out_data = Some(out.data);
        }
        if let Some(err) = running.err_done.take().filter(|c| !c.data.is_empty()) {
            result.err_truncated = err.truncated.then_some(true);
            result.err_data = Some(err.data);
        }
        self.children.remove(&pid);
        Ok(result)
    }

    /// Reaps children that exited (without reporting them), so none stays a zombie while
    /// the client has not asked. Optional; cheap to call from the agent loop.
    pub fn reap(&mut self) {
        for running in self.children.values_mut() {
            let _ = running.child.try_wait();
        }
    }

    /// Number of children whose status was not reported yet.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether no child is pending.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }
}

fn exit_status(status: ExitStatus) -> ExecStatus {
    ExecStatus {
        exited: true,
        exitcode: status.code().map(i64::from),
        signal: status.signal().map(i64::from),
        ..ExecStatus::default()
    }
}

/// Moves a finished reader's result into `done`.
fn collect(reader: &mut Option<JoinHandle<Captured>>, done: &mut Option<Captured>) {
    if reader.as_ref().is_some_and(JoinHandle::is_finished) {
        if let Some(handle) = reader.take() {
            *done = Some(handle.join().unwrap_or_default());
        }
    }
}

/// Reads a pipe to its end in a thread, keeping the first [`MAX_OUTPUT`] bytes.
fn drain(pipe: OwnedFd) -> JoinHandle<Captured> {
    std::thread::spawn(move || {
        let mut file = File::from(pipe);
        let mut captured = Captured::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = MAX_OUTPUT - captured.data.len();
                    if n > room {
                        captured.truncated = true;
                    }
                    captured.data.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        captured
    })
}

type Spawned = (Child, Option<OwnedFd>, Option<OwnedFd>);

fn spawn(
    program: &Path,
    path: &str,
    args: &[String],
    env: Option<&[String]>,
    has_input: bool,
    capture: CaptureMode,
) -> std::io::Result<Spawned> {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    spawn_with_args(program, path.as_ref(), &args, env, has_input, capture)
}

fn spawn_with_args(
    program: &Path,
    arg0: &std::ffi::OsStr,
    args: &[OsString],
    env: Option<&[String]>,
    has_input: bool,
    capture: CaptureMode,
) -> std::io::Result<Spawned> {
    let mut command = Command::new(program);
    command.arg0(arg0).args(args);
    if let Some(env) = env {
        command.env_clear();
        for entry in env {
            if let Some((name, value)) = entry.split_once('=') {
                command.env(name, value);
            }
        }
    }
    command.stdin(if has_input {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let (mut out_read, mut err_read) = (None, None);
    match capture {
        CaptureMode::None => {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        CaptureMode::Stdout => {
            let (r, w) = pipe()?;
            out_read = Some(r);
            command.stdout(Stdio::from(w)).stderr(Stdio::null());
        }
        CaptureMode::Stderr => {
            let (r, w) = pipe()?;
            err_read = Some(r);
            command.stdout(Stdio::null()).stderr(Stdio::from(w));
        }
        CaptureMode::Separated => {
            let (r, w) = pipe()?;
            let (r2, w2) = pipe()?;
            out_read = Some(r);
            err_read = Some(r2);
            command.stdout(Stdio::from(w)).stderr(Stdio::from(w2));
        }
        CaptureMode::Merged => {
            let (r, w) = pipe()?;
            out_read = Some(r);
            let w2 = w.try_clone()?;
            command.stdout(Stdio::from(w)).stderr(Stdio::from(w2));
        }
    }
    let child = command.spawn()?;
    // `command` (and with it our copies of the pipes' write ends) is dropped here.
    Ok((child, out_read, err_read))
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)
}

/// The file to execute for `path`: itself if it contains `/`, else the first executable
/// `<dir>/<path>` along the search path (see [`ExecTable::exec`]). `EACCES` if only
/// non-executable candidates exist, `ENOENT` if none.
pub fn resolve_program(path: &str, env: Option<&[String]>) -> Result<PathBuf, Errno> {
    if path.contains('/') {
        return Ok(PathBuf::from(path));
    }
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let from_env = env.and_then(|env| {
        env.iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH=").map(OsString::from))
    });
    let search = from_env
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_else(|| OsString::from("/bin:/usr/bin:."));
    let mut denied = false;
    for dir in search.into_vec().split(|&b| b == b':') {
        let dir = if dir.is_empty() {
            PathBuf::from(".")
        } else {
            PathBuf::from(OsString::from_vec(dir.to_vec()))
        };
        let candidate = dir.join(path);
        match std::fs::metadata(&candidate) {
            Ok(meta) if meta.is_file() && access(&candidate, AccessFlags::X_OK).is_ok() => {
                return Ok(candidate);
            }
            Ok(_) => denied = true,
            Err(_) => {}
        }
    }
    Err(if denied { Errno::EACCES } else { Errno::ENOENT })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};

    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    /// Polls the status until the child is reported as exited.
    fn wait(table: &mut ExecTable, pid: i64) -> ExecStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = table.status(pid).unwrap();
            if status.exited {
                return status;
            }
            assert_eq!(
                status,
                ExecStatus::default(),
                "only `exited: false` while running"
            );
            assert!(Instant::now() < deadline, "child {pid} did not finish");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn sh(table: &mut ExecTable, script: &str, capture: CaptureMode) -> i64 {
        table
            .exec("sh", &args(&["-c", script]), None, None, capture)
            .unwrap()
    }

    #[test]
    fn separated_capture_and_exit_code() {
        let mut table = ExecTable::new();
        let pid = sh(
            &mut table,
            "echo out; echo err >&2; exit 3",
            CaptureMode::Separated,
        );
        let status = wait(&mut table, pid);
        assert_eq!(
            status,
            ExecStatus {
                exited: true,
                exitcode: Some(3),
                out_data: Some(b"out\n".to_vec()),
                err_data: Some(b"err\n".to_vec()),
                ..ExecStatus::default()
            }
        );
        // Reported once, then gone.
        assert_eq!(
            table.status(pid).unwrap_err().to_string(),
            format!("PID {pid} does not exist")
        );
        assert!(table.is_empty());
    }

    #[test]
    fn capture_modes() {
        let mut table = ExecTable::new();
        let script = "echo out; echo err >&2";
        let pid = sh(&mut table, script, CaptureMode::Stdout);
        let status = wait(&mut table, pid);
        assert_eq!(
            (status.out_data, status.err_data),
            (Some(b"out\n".to_vec()), None)
        );
        let pid = sh(&mut table, script, CaptureMode::Stderr);
        let status = wait(&mut table, pid);
        assert_eq!(
            (status.out_data, status.err_data),
            (None, Some(b"err\n".to_vec()))
        );
        let pid = sh(&mut table, script, CaptureMode::Merged);
        let status = wait(&mut table, pid);
        assert_eq!(
            (status.out_data, status.err_data),
            (Some(b"out\nerr\n".to_vec()), None)
        );
        let pid = sh(&mut table, script, CaptureMode::None);
        let status = wait(&mut table, pid);
        assert_eq!(
            (status.out_data, status.err_data, status.exitcode),
            (None, None, Some(0))
        );
        assert_eq!(CaptureMode::from_flag(true), CaptureMode::Separated);
        assert_eq!(CaptureMode::from_flag(false), CaptureMode::None);
    }

    #[test]
    fn signal_is_reported() {
        let mut table = ExecTable::new();
        let pid = sh(&mut table, "echo bye; kill -9 $$", CaptureMode::Merged);
        let status = wait(&mut table, pid);
        assert_eq!(status.signal, Some(9));
        assert_eq!(status.exitcode, None);
        assert_eq!(status.out_data, Some(b"bye\n".to_vec()));
    }

    #[test]
    fn running_children_report_not_exited() {
        let mut table = ExecTable::new();
        let pid = table
            .exec("sleep", &args(&["0.3"]), None, None, CaptureMode::None)
            .unwrap();
        assert_eq!(table.status(pid).unwrap(), ExecStatus::default());
        table.reap();
        assert_eq!(wait(&mut table, pid).exitcode, Some(0));
    }

    #[test]
    fn input_is_fed_to_stdin() {
        let mut table = ExecTable::new();
        let pid = table
            .exec("cat", &[], None, Some("aGVsbG8="), CaptureMode::Separated)
            .unwrap();
        let status = wait(&mut table, pid);
        assert_eq!(status.out_data, Some(b"hello".to_vec()));
        assert_eq!(status.exitcode, Some(0));
        // Without input, stdin is /dev/null.
        let pid = table
            .exec("cat", &[], None, None, CaptureMode::Separated)
            .unwrap();
        assert_eq!(wait(&mut table, pid).out_data, None);
        assert_eq!(
            table
                .exec("cat", &[], None, Some("a!"), CaptureMode::None)
                .unwrap_err()
                .to_string(),
            "Base64 data contains invalid characters"
        );
    }

    #[test]
    fn environment_replaces_and_directs_the_search() {
        let mut table = ExecTable::new();
        let env = args(&["PATH=/usr/bin:/bin", "FOO=1=2", "MALFORMED"]);
        let pid = table
            .exec("env", &[], Some(&env), None, CaptureMode::Separated)
            .unwrap();
        let status = wait(&mut table, pid);
        let out = String::from_utf8(status.out_data.unwrap()).unwrap();
        let mut lines: Vec<&str> = out.lines().collect();
        lines.sort_unstable();
        assert_eq!(lines, ["FOO=1=2", "PATH=/usr/bin:/bin"]);
        // An empty environment still finds programs through the agent's PATH.
        let pid = table
            .exec("env", &[], Some(&[]), None, CaptureMode::Separated)
            .unwrap();
        assert_eq!(wait(&mut table, pid).out_data, None);
    }

    #[test]
    fn spawn_errors_use_glib_texts() {
        let dir = tempfile::tempdir().unwrap();
        let mut table = ExecTable::new();
        let err = |table: &mut ExecTable, path: &str| {
            table
                .exec(path, &[], None, None, CaptureMode::None)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&mut table, "no-such-program-qga"),
            "Failed to execute child process \u{201c}no-such-program-qga\u{201d} \
             (No such file or directory)"
        );
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let plain = plain.to_str().unwrap();
        assert_eq!(
            err(&mut table, plain),
            format!("Failed to execute child process \u{201c}{plain}\u{201d} (Permission denied)")
        );
        let dir_path = dir.path().to_str().unwrap();
        assert_eq!(
            err(&mut table, dir_path),
            format!(
                "Failed to execute child process \u{201c}{dir_path}\u{201d} (Permission denied)"
            )
        );
        assert!(table.is_empty());
    }

    #[test]
    fn scripts_without_interpreter_line_run_under_sh() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        std::fs::write(&script, "echo from-script \"$1\"\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut table = ExecTable::new();
        let pid = table
            .exec(
                script.to_str().unwrap(),
                &args(&["arg"]),
                None,
                None,
                CaptureMode::Separated,
            )
            .unwrap();
        assert_eq!(
            wait(&mut table, pid).out_data,
            Some(b"from-script arg\n".to_vec())
        );
    }

    #[test]
    fn output_beyond_the_limit_is_dropped_and_flagged() {
        let mut table = ExecTable::new();
        let pid = table
            .exec(
                "head",
                &args(&["-c", "17000000", "/dev/zero"]),
                None,
                None,
                CaptureMode::Separated,
            )
            .unwrap();
        let status = wait(&mut table, pid);
        assert_eq!(status.out_data.map(|d| d.len()), Some(MAX_OUTPUT));
        assert_eq!(status.out_truncated, Some(true));
        assert_eq!(status.err_truncated, None);
        assert_eq!(status.exitcode, Some(0));
    }

    #[test]
    fn program_resolution() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.path().join("data");
        std::fs::write(&plain, "").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let env = vec![format!("PATH=/nonexistent:{}", dir.path().display())];
        assert_eq!(resolve_program("tool", Some(&env)).unwrap(), exe);
        assert_eq!(resolve_program("data", Some(&env)), Err(Errno::EACCES));
        assert_eq!(resolve_program("nothing", Some(&env)), Err(Errno::ENOENT));
        assert_eq!(resolve_program("", None), Err(Errno::ENOENT));
        assert_eq!(
            resolve_program("./rel/x", Some(&env)).unwrap(),
            Path::new("./rel/x")
        );
    }
}
