//! What is read locally, once, before any agent is contacted: the password (terminal prompt
//! without echo, or a line of standard input), exec's standard input, SSH keys, and the
//! checked arguments of `call`.

use crate::cli::{Cmd, SshAction};
use crate::{Failure, Inputs};
use std::io::{BufRead, IsTerminal, Read, Write};

pub fn gather(command: &Cmd) -> Result<Inputs, Failure> {
    let mut inputs = Inputs::default();
    match command {
        Cmd::Exec(args) if args.stdin => {
            let mut data = Vec::new();
            std::io::stdin()
                .read_to_end(&mut data)
                .map_err(|e| Failure::new(format!("standard input: {e}")))?;
            inputs.stdin = Some(data);
        }
        Cmd::Password { user, .. } => inputs.password = Some(password(user)?),
        Cmd::SshKeys {
            action: SshAction::Add { keys, .. } | SshAction::Remove { keys, .. },
        } => {
            inputs.keys = if keys.is_empty() {
                stdin_lines()?
            } else {
                keys.clone()
            };
            if inputs.keys.is_empty() {
                return Err(Failure::usage(
                    "no keys given (as arguments or one per line on standard input)".into(),
                ));
            }
        }
        Cmd::Call { command, arguments } => {
            inputs.call_args = crate::call::check(command, arguments.as_deref())?;
        }
        _ => {}
    }
    Ok(inputs)
}

fn stdin_lines() -> Result<Vec<String>, Failure> {
    let mut keys = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| Failure::new(format!("standard input: {e}")))?;
        let line = line.trim();
        if !line.is_empty() && !line.starts_with('#') {
            keys.push(line.to_owned());
        }
    }
    Ok(keys)
}

/// The password: typed at a prompt (no echo) on a terminal, else the first line of stdin.
fn password(user: &str) -> Result<Vec<u8>, Failure> {
    let stdin = std::io::stdin();
    let line = if stdin.is_terminal() {
        eprint!("Password for {user} in the guest: ");
        let _ = std::io::stderr().flush();
        let line = without_echo(|| read_line(&stdin));
        eprintln!();
        line?
    } else {
        read_line(&stdin)?
    };
    if line.is_empty() {
        return Err(Failure::usage("empty password".into()));
    }
    Ok(line.into_bytes())
}

fn read_line(stdin: &std::io::Stdin) -> Result<String, Failure> {
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::new(format!("reading the password: {e}")))?;
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    Ok(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned())
}

/// Runs `f` with the terminal's echo off, restoring it afterwards.
fn without_echo<T>(f: impl FnOnce() -> T) -> T {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    let Ok(saved) = tcgetattr(&stdin) else {
        return f();
    };
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &quiet);
    let result = f();
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    result
}
