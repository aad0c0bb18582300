//! guest-exec / guest-exec-status: programs started for the client, watched in the
//! background until their status is reported.
//!
//! [`ExecTable::exec`] starts the child and returns at once; one watcher thread for all
//! children (module `watcher`) drains captured streams (so a child never blocks on a full pipe),
//! feeds input, and reaps each child as it exits, keeping its status for
//! [`ExecTable::status`]. Captured output and pending input together are bounded
//! ([`DEFAULT_MEMORY_LIMIT`]). The agent must never reap with `waitpid(-1)` or ignore
//! `SIGCHLD`, or these statuses are lost.

mod watcher;

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nix::errno::Errno;
use nix::unistd::{access, AccessFlags};

use self::watcher::{Feeder, Record, Stream, Watcher};
use super::error::errno_of;
use super::{base64, strerror, SysError};

/// Most output kept per stream (16 MiB); the rest is read and dropped.
pub const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// Default bound on the memory held for all children's captured output and pending input.
pub const DEFAULT_MEMORY_LIMIT: usize = 256 * 1024 * 1024;

/// Room a new capturing exec needs under the bound (besides its input): one pipe read.
const MIN_ROOM: usize = 64 * 1024;

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
    /// Present (and `true`) only when the stream went over [`MAX_OUTPUT`] (or the memory
    /// bound cut it short).
    pub out_truncated: Option<bool>,
    pub err_truncated: Option<bool>,
}

/// The children started by `guest-exec` until their final status was reported.
#[derive(Debug)]
pub struct ExecTable {
    limit: usize,
    /// Created with the first exec.
    watcher: Option<Watcher>,
}

impl Default for ExecTable {
    fn default() -> Self {
        ExecTable::new()
    }
}

impl ExecTable {
    /// An empty table with the [`DEFAULT_MEMORY_LIMIT`].
    pub fn new() -> Self {
        ExecTable::with_memory_limit(DEFAULT_MEMORY_LIMIT)
    }

    /// An empty table holding at most `limit` bytes of captured output and pending input
    /// (0: no bound). The watcher thread starts with the first exec.
    pub fn with_memory_limit(limit: usize) -> Self {
        ExecTable {
            limit,
            watcher: None,
        }
    }

    /// The running watcher, set up now if needed; failing (no descriptor or task left) is
    /// this exec's error, and the next exec tries again.
    fn watcher(&mut self) -> Result<&mut Watcher, SysError> {
        let failed = |e: std::io::Error| {
            SysError::new(format!(
                "cannot start watching child processes: {}",
                super::error::io_strerror(&e)
            ))
        };
        let watcher = match &mut self.watcher {
            Some(watcher) => watcher,
            empty => empty.insert(Watcher::new(self.limit).map_err(failed)?),
        };
        watcher.ensure_running().map_err(failed)?;
        Ok(watcher)
    }

    /// `guest-exec`: starts `path` with `args`; returns its pid.
    ///
    /// `env` (`NAME=value` entries; entries without `=` are skipped) replaces the whole
    /// environment. `path` without `/` is searched in the `PATH` of `env`, else the agent's
    /// `PATH`, else `/bin:/usr/bin:.`; a file that is not a valid executable is run by
    /// `/bin/sh`, as GLib does. `input_data` (base64) is fed to stdin, which is `/dev/null`
    /// otherwise; streams not captured go to `/dev/null`. Errors: `Base64 data contains invalid
    /// characters`, `Failed to execute child process “<path>” (<strerror>)`, `Failed to fork
    /// (<strerror>)` (no task left), and the memory bound's error.
    pub fn exec(
        &mut self,
        path: &str,
        args: &[String],
        env: Option<&[String]>,
        input_data: Option<&str>,
        capture: CaptureMode,
    ) -> Result<i64, SysError> {
        let input = input_data.map(base64::decode).transpose()?;
        let watcher = self.watcher()?;
        let needs_memory = capture != CaptureMode::None || input.is_some();
        let input_size = input.as_ref().map_or(0, Vec::capacity);
        {
            let state = watcher.shared.lock();
            let wanted = state.held + input_size + MIN_ROOM;
            if needs_memory && state.limit != 0 && wanted > state.limit {
                return Err(SysError::new(format!(
                    "Exec memory limit reached: captured output and input of earlier commands \
                     hold {} of {} bytes (exec-memory-limit); collect finished commands with \
                     guest-exec-status",
                    state.held, state.limit
                )));
            }
        }
        let spawn_error = |errno: Errno| {
            SysError::new(match errno {
                // GLib's text when fork() itself fails (no task left).
                Errno::EAGAIN => format!("Failed to fork ({})", strerror(errno)),
                _ => format!(
                    "Failed to execute child process \u{201c}{path}\u{201d} ({})",
                    strerror(errno)
                ),
            })
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
        let pid = i64::from(child.id());
        let pidfd = watcher::pidfd_open(pid);
        let stream = |pipe: Option<OwnedFd>| {
            pipe.map(|pipe| {
                let _ = watcher::set_nonblocking(&pipe);
                Stream {
                    pipe: Some(pipe),
                    ..Stream::default()
                }
            })
        };
        let (out, err) = (stream(out_pipe), stream(err_pipe));
        // Empty input: stdin is closed at once, so the child sees end of file.
        let input = match (child.stdin.take(), input) {
            (Some(stdin), Some(data)) if !data.is_empty() => {
                let pipe = OwnedFd::from(stdin);
                let _ = watcher::set_nonblocking(&pipe);
                Some(Feeder {
                    pipe,
                    data,
                    written: 0,
                })
            }
            _ => None,
        };
        // The Child is only a pid here: dropping it neither waits nor kills.
        drop(child);
        {
            let mut state = watcher.shared.lock();
            state.held += input.as_ref().map_or(0, |i| i.data.capacity());
            let serial = state.next_serial;
            state.next_serial += 1;
            state.records.insert(
                serial,
                Record {
                    pid,
                    pidfd,
                    status: None,
                    out,
                    err,
                    input,
                },
            );
        }
        watcher.shared.wake();
        Ok(pid)
    }

    /// `guest-exec-status`: `exited` is true once the child was reaped and its captured
    /// streams reached end of file; the full status is then returned once and the record
    /// dropped, so a later query fails with `PID <pid> does not exist` (also for unknown pids).
    pub fn status(&mut self, pid: i64) -> Result<ExecStatus, SysError> {
        let missing = || SysError::new(format!("PID {pid} does not exist"));
        let watcher = self.watcher.as_mut().ok_or_else(missing)?;
        let mut state = watcher.shared.lock();
        let (&serial, record) = state
            .records
            .iter()
            .find(|(_, r)| r.pid == pid)
            .ok_or_else(missing)?;
        if !record.finished() {
            return Ok(ExecStatus::default());
        }
        let Some(mut record) = state.records.remove(&serial) else {
            return Err(missing());
        };
        let (exitcode, signal) = record.status.unwrap_or_default();
        let mut result = ExecStatus {
            exited: true,
            exitcode,
            signal,
            ..ExecStatus::default()
        };
        let mut freed = 0;
        if let Some(out) = record.out.take() {
            freed += out.data.capacity();
            if !out.data.is_empty() {
                result.out_truncated = out.truncated.then_some(true);
                result.out_data = Some(out.data);
            }
        }
        if let Some(err) = record.err.take() {
            freed += err.data.capacity();
            if !err.data.is_empty() {
                result.err_truncated = err.truncated.then_some(true);
                result.err_data = Some(err.data);
            }
        }
        state.held = state.held.saturating_sub(freed);
        if let Some(input) = record.input.take() {
            // Only the watcher closes descriptors it may be polling.
            state.orphans.push(input);
        }
        Ok(result)
    }

    /// Number of children whose status was not reported yet.
    pub fn len(&self) -> usize {
        self.watcher
            .as_ref()
            .map_or(0, |w| w.shared.lock().records.len())
    }

    /// Whether no child is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes currently held for captured output and pending input.
    pub fn memory_held(&self) -> usize {
        self.watcher.as_ref().map_or(0, |w| w.shared.lock().held)
    }
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
    fn large_input_and_output_at_once() {
        // Input fed while output is drained, by one thread, without deadlock.
        let mut table = ExecTable::new();
        let data = vec![b'q'; 3 << 20];
        let input = qapi_runtime_base64(&data);
        let pid = table
            .exec("cat", &[], None, Some(&input), CaptureMode::Merged)
            .unwrap();
        let status = wait(&mut table, pid);
        assert_eq!(status.out_data.map(|d| d.len()), Some(data.len()));
        assert_eq!(table.memory_held(), 0);
        // A child that never reads its input: feeding ends when it exits.
        let pid = table
            .exec("true", &[], None, Some(&input), CaptureMode::None)
            .unwrap();
        assert_eq!(wait(&mut table, pid).exitcode, Some(0));
        let deadline = Instant::now() + Duration::from_secs(10);
        while table.memory_held() != 0 {
            assert!(Instant::now() < deadline, "input still held");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn memory_bound_refuses_new_captures_and_truncates() {
        let mut table = ExecTable::with_memory_limit(256 * 1024);
        let input = qapi_runtime_base64(&[b'x'; 300 * 1024]);
        let refused = table
            .exec("cat", &[], None, Some(&input), CaptureMode::None)
            .unwrap_err()
            .to_string();
        assert!(
            refused.starts_with("Exec memory limit reached: "),
            "{refused}"
        );
        let pid = table
            .exec(
                "head",
                &args(&["-c", "1000000", "/dev/zero"]),
                None,
                None,
                CaptureMode::Stdout,
            )
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while table.memory_held() < 256 * 1024 {
            assert!(Instant::now() < deadline, "output not held");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            table
                .exec("echo", &[], None, None, CaptureMode::Stderr)
                .unwrap_err()
                .to_string(),
            "Exec memory limit reached: captured output and input of earlier commands hold \
             262144 of 262144 bytes (exec-memory-limit); collect finished commands with \
             guest-exec-status"
        );
        // Capturing nothing needs no memory.
        let quiet = table
            .exec("true", &[], None, None, CaptureMode::None)
            .unwrap();
        assert_eq!(wait(&mut table, quiet).exitcode, Some(0));
        let status = wait(&mut table, pid);
        assert_eq!(status.out_data.map(|d| d.len()), Some(256 * 1024));
        assert_eq!(status.out_truncated, Some(true));
        assert_eq!(table.memory_held(), 0);
        // No bound at all with 0.
        let mut table = ExecTable::with_memory_limit(0);
        let pid = table
            .exec("cat", &[], None, Some(&input), CaptureMode::Stdout)
            .unwrap();
        assert_eq!(
            wait(&mut table, pid).out_data.map(|d| d.len()),
            Some(300 * 1024)
        );
    }

    fn qapi_runtime_base64(data: &[u8]) -> String {
        qga_types::qapi_runtime::base64::encode(data)
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
