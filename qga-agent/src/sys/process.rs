//! Helper programs (shutdown, hwclock, the fsfreeze hook, chpasswd) run the way qemu-ga runs
//! them: own session, stdin `/dev/null` or a pipe, stdout and stderr into one pipe, all output
//! read, then waited for.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::{self, Pid};

use super::error::io_strerror;
use super::SysError;

/// How a helper program ended: its wait status and everything it wrote to stdout/stderr.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub output: Vec<u8>,
}

/// Runs `argv[0]` (looked up in `PATH` like `execvp`) with arguments `argv[1..]`.
///
/// The child calls `setsid()`; its stdin is `/dev/null`, or a pipe fed with `input` and then
/// closed; stdout and stderr share one pipe that is read to the end before the child is
/// waited for. A program that cannot be executed looks like qemu-ga's forked child that failed
/// `execvp`: output `failed to exec '<argv0>': <strerror>\n` and exit status 1.
///
/// Failing to write `input` is `<action>: cannot write to stdin pipe: <strerror>`, except
/// `EPIPE` (the child closed its stdin or already exited), which is left to the exit status.
pub fn run<S: AsRef<OsStr>>(
    argv: &[S],
    input: Option<&[u8]>,
    action: &str,
) -> Result<Finished, SysError> {
    run_bounded(argv, input, action, None)
}

/// [`run`], but a helper still writing or running after `timeout` has its process group
/// (its session, see `setsid`) killed: `child process has failed to <action>: timed out
/// after <n> s, its process group was killed`.
pub fn run_bounded<S: AsRef<OsStr>>(
    argv: &[S],
    input: Option<&[u8]>,
    action: &str,
    timeout: Option<Duration>,
) -> Result<Finished, SysError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let Some((program, args)) = argv.split_first() else {
        return Err(SysError::new("cannot run an empty command"));
    };
    let (out_read, out_write) =
        unistd::pipe2(OFlag::O_CLOEXEC).map_err(|_| SysError::new("cannot create pipe FDs"))?;
    let err_write = out_write
        .try_clone()
        .map_err(|_| SysError::new("cannot create pipe FDs"))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::from(out_write))
        .stderr(Stdio::from(err_write));
    // SAFETY: the closure runs in the forked child before exec and only calls setsid(2),
    // which is async-signal-safe; its failure (already a session leader) is harmless.
    unsafe {
        command.pre_exec(|| {
            let _ = unistd::setsid();
            Ok(())
        });
    }
    let spawned = command.spawn();
    // The command holds our copies of the pipe's write end: close them so reads see EOF.
    drop(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            let program = program.as_ref().to_string_lossy();
            let output = format!("failed to exec '{program}': {}\n", io_strerror(&err));
            return Ok(Finished {
                status: ExitStatus::from_raw(1 << 8),
                output: output.into_bytes(),
            });
        }
    };
    let stdin = child.stdin.take();
    let mut output = Vec::new();
    let read = std::thread::scope(|scope| {
        // Feed stdin from a second thread so a child that writes before reading cannot
        // deadlock against us.
        let feeder = match (stdin, input) {
            (Some(mut pipe), Some(data)) => {
                let feed = move || pipe.write_all(data);
                // No task left for a thread (pids limit) is an error to report, not a panic;
                // stdin is closed with the unused closure, so the child does not wait for it.
                match std::thread::Builder::new().spawn_scoped(scope, feed) {
                    Ok(feeder) => Some(feeder),
                    Err(err) => return (Ok(true), Some(Ok(Err(err)))),
                }
            }
            _ => None,
        };
        let read = read_output(out_read, &mut output, deadline);
        if let Ok(false) = read {
            kill_group(child.id());
        }
        let fed = feeder.map(|feeder| feeder.join());
        (read, fed)
    });
    let status = child
        .wait()
        .map_err(|err| SysError::with_io("failed to wait for child process", &err))?;
    if let (Ok(false), _) = read {
        let seconds = timeout.map_or(0, |t| t.as_secs());
        return Err(SysError::new(format!(
            "child process has failed to {action}: timed out after {seconds} s, its process \
             group was killed"
        )));
    }
    match read {
        (Err(err), _) => Err(SysError::with_io(
            "failed to read output of child process",
            &err,
        )),
        // A child that exits without reading all its input is judged by its exit status.
        (Ok(_), Some(Ok(Err(err)))) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(
            SysError::with_io(format!("{action}: cannot write to stdin pipe"), &err),
        ),
        _ => Ok(Finished { status, output }),
    }
}

/// Reads the helper's output to its end; `Ok(false)` when `deadline` came first.
fn read_output(
    pipe: OwnedFd,
    output: &mut Vec<u8>,
    deadline: Option<Instant>,
) -> std::io::Result<bool> {
    let Some(deadline) = deadline else {
        return File::from(pipe).read_to_end(output).map(|_| true);
    };
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        // Whole milliseconds, rounded up so the poll never returns just before the deadline.
        let millis = i32::try_from(left.as_millis() + 1).unwrap_or(i32::MAX);
        let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
        match poll(
            &mut fds,
            PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(errno) => return Err(errno.into()),
        }
        match unistd::read(pipe.as_fd(), &mut chunk) {
            Ok(0) => return Ok(true),
            Ok(n) => output.extend_from_slice(&chunk[..n]),
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(errno) => return Err(errno.into()),
        }
    }
}

/// Kills the process group a helper leads (it called `setsid`, so its pid names the group).
fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // The group may already be gone; nothing else to do then.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Runs a helper and turns anything but exit status 0 into qemu-ga's error texts:
/// `child process has failed to <action>: <output>` (or `: exit status <n>` without output),
/// `child process has terminated abnormally[: <output>]` when it did not exit normally.
pub fn run_command<S: AsRef<OsStr>>(
    argv: &[S],
    input: Option<&[u8]>,
    action: &str,
) -> Result<(), SysError> {
    let finished = run(argv, input, action)?;
    check(&finished, action)
}

/// [`run_command`] with [`run_bounded`]'s timeout.
pub fn run_command_bounded<S: AsRef<OsStr>>(
    argv: &[S],
    action: &str,
    timeout: Option<Duration>,
) -> Result<(), SysError> {
    let finished = run_bounded(argv, None, action, timeout)?;
    check(&finished, action)
}

/// The error (if any) qemu-ga reports for a finished helper; see [`run_command`].
pub fn check(finished: &Finished, action: &str) -> Result<(), SysError> {
    let output = (!finished.output.is_empty()).then(|| String::from_utf8_lossy(&finished.output));
    match (finished.status.code(), output) {
        (Some(0), _) => Ok(()),
        (Some(_), Some(output)) => Err(SysError::new(format!(
            "child process has failed to {action}: {output}"
        ))),
        (Some(code), None) => Err(SysError::new(format!(
            "child process has failed to {action}: exit status {code}"
        ))),
        (None, Some(output)) => Err(SysError::new(format!(
            "child process has terminated abnormally: {output}"
        ))),
        (None, None) => Err(SysError::new("child process has terminated abnormally")),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn success_and_combined_output() {
        let finished = run(&sh("echo out; echo err >&2"), None, "test").unwrap();
        assert!(finished.status.success());
        assert_eq!(finished.output, b"out\nerr\n");
        run_command(&sh("exit 0"), None, "do it").unwrap();
    }

    #[test]
    fn failure_texts() {
        assert_eq!(
            run_command(&sh("echo out; echo err >&2; exit 1"), None, "do it")
                .unwrap_err()
                .to_string(),
            "child process has failed to do it: out\nerr\n"
        );
        assert_eq!(
            run_command(&sh("exit 3"), None, "shutdown")
                .unwrap_err()
                .to_string(),
            "child process has failed to shutdown: exit status 3"
        );
        assert_eq!(
            run_command(&sh("echo dying; kill -9 $$"), None, "x")
                .unwrap_err()
                .to_string(),
            "child process has terminated abnormally: dying\n"
        );
        assert_eq!(
            run_command(&sh("kill -9 $$"), None, "x")
                .unwrap_err()
                .to_string(),
            "child process has terminated abnormally"
        );
        assert_eq!(
            run_command(&sh("printf 'x\\377y'; exit 2"), None, "x")
                .unwrap_err()
                .to_string(),
            "child process has failed to x: x\u{FFFD}y"
        );
    }

    #[test]
    fn exec_failures_look_like_a_failed_child() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let missing = missing.to_str().unwrap();
        assert_eq!(
            run_command(&[missing, "freeze"], None, "execute fsfreeze hook")
                .unwrap_err()
                .to_string(),
            format!(
                "child process has failed to execute fsfreeze hook: \
                 failed to exec '{missing}': No such file or directory\n"
            )
        );
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let plain = plain.to_str().unwrap();
        let finished = run(&[plain], None, "test").unwrap();
        assert_eq!(finished.status.code(), Some(1));
        assert_eq!(
            String::from_utf8(finished.output).unwrap(),
            format!("failed to exec '{plain}': Permission denied\n")
        );
        assert!(run::<&str>(&[], None, "test").is_err());
    }

    #[test]
    fn child_has_own_session_and_null_stdin() {
        let finished = run(
            &sh("read x; echo \"read=$x\"; cut -d' ' -f6 /proc/$$/stat; echo $$"),
            None,
            "test",
        )
        .unwrap();
        let text = String::from_utf8(finished.output).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(lines[0], "read=");
        assert_eq!(lines[1], lines[2], "session id equals the child's pid");
    }

    #[test]
    fn input_is_fed_on_stdin() {
        let finished = run(&sh("cat; echo done"), Some(b"user:pass\n"), "test").unwrap();
        assert_eq!(finished.output, b"user:pass\ndone\n");
        // Large input and output at once must not deadlock.
        let big = vec![b'a'; 1 << 20];
        let finished = run(&sh("cat"), Some(&big), "test").unwrap();
        assert_eq!(finished.output.len(), big.len());
    }

    #[test]
    fn a_helper_past_its_timeout_is_killed_with_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        // The helper and a grandchild sleep; both hold the output pipe open.
        let script = format!(
            "sleep 60 & echo $! > {0}; echo $$ >> {0}; sleep 60",
            pids.display()
        );
        let started = Instant::now();
        let err = run_command_bounded(
            &sh(&script),
            "execute fsfreeze hook",
            Some(Duration::from_secs(1)),
        )
        .unwrap_err();
        let took = started.elapsed();
        assert_eq!(
            err.to_string(),
            "child process has failed to execute fsfreeze hook: timed out after 1 s, its process \
             group was killed"
        );
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(10),
            "{took:?}"
        );
        for pid in std::fs::read_to_string(&pids).unwrap().split_whitespace() {
            let pid: i32 = pid.parse().unwrap();
            // Killed (the grandchild is reaped by init or is a zombie of nobody we know).
            let gone = (0..100).any(|_| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
                let dead = stat.map_or(true, |s| s.contains(") Z "));
                if !dead {
                    std::thread::sleep(Duration::from_millis(20));
                }
                dead
            });
            assert!(gone, "process {pid} of the hook's group survived");
        }
        // Within its time, a helper runs as before.
        run_command_bounded(&sh("sleep 0.1; exit 0"), "x", Some(Duration::from_secs(5))).unwrap();
    }

    #[test]
    fn program_is_searched_in_path() {
        let finished = run(&["echo", "hi", "there"], None, "test").unwrap();
        assert_eq!(finished.output, b"hi there\n");
    }
}
