//! Helper programs (shutdown, hwclock, the fsfreeze hook, chpasswd) run the way qemu-ga runs
//! them: own session, stdin `/dev/null` or a pipe, stdout and stderr into one pipe, all output
//! read, then waited for.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};

use nix::fcntl::OFlag;
use nix::unistd;

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
                    Err(err) => return (Ok(0), Some(Ok(Err(err)))),
                }
            }
            _ => None,
        };
        let read = File::from(out_read).read_to_end(&mut output);
        let fed = feeder.map(|feeder| feeder.join());
        (read, fed)
    });
    let status = child
        .wait()
        .map_err(|err| SysError::with_io("failed to wait for child process", &err))?;
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
    fn program_is_searched_in_path() {
        let finished = run(&["echo", "hi", "there"], None, "test").unwrap();
        assert_eq!(finished.output, b"hi there\n");
    }
}
