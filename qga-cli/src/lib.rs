//! qga: a host-side command line for QEMU guest agents, on the generated client of
//! `qga-types`. `main` parses the command line, reads what must come from the local terminal
//! (passwords, standard input) once, then runs the subcommand on one agent or on each of a
//! fleet (see [`fleet`]).

pub mod assets;
pub mod call;
pub mod cli;
mod exec;
mod files;
pub mod fleet;
mod freeze;
mod input;
mod libvirt;
pub mod output;
mod query;
pub mod transport;

use clap::Parser;
use cli::{Cli, Cmd, Global};
use output::Report;
use std::io::Write;
use std::time::Duration;
use transport::{Agent, Target};

/// A failure: one line for the user and the exit status.
#[derive(Debug, Clone)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl Failure {
    pub fn new(message: String) -> Failure {
        Failure { message, code: 1 }
    }

    /// Bad use of the command line (exit status 2, as clap's).
    pub fn usage(message: String) -> Failure {
        Failure { message, code: 2 }
    }
}

/// What must be read locally before talking to any agent.
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    pub stdin: Option<Vec<u8>>,
    pub password: Option<Vec<u8>>,
    pub keys: Vec<String>,
    pub call_args: Option<serde_json::Map<String, serde_json::Value>>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the command line; returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("qga: {}", one_line(&failure.message));
            failure.code
        }
    }
}

/// Agents' messages can span lines (a tool's stderr); the user gets one.
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

fn run(cli: Cli) -> Result<i32, Failure> {
    if let Cmd::GenerateAssets { dir } = &cli.command {
        assets::generate(dir).map_err(|e| Failure::new(format!("{}: {e}", dir.display())))?;
        return Ok(0);
    }
    let global = &cli.global;
    let timeout = match global.timeout {
        None => DEFAULT_TIMEOUT,
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Duration::from_secs_f64(s),
        Some(s) => {
            return Err(Failure::usage(format!(
                "--timeout wants positive seconds, not {s}"
            )))
        }
    };
    if let Cmd::Freeze(args) = &cli.command {
        freeze::check(args, global)?;
    }
    let targets = targets(global)?;
    let inputs = input::gather(&cli.command)?;
    if targets.len() == 1 && !global.all {
        single(&targets[0], &cli.command, global, timeout, &inputs)
    } else {
        fleet::run(&targets, &cli.command, global, timeout, &inputs)
    }
}

/// The agents named on the command line.
fn targets(global: &Global) -> Result<Vec<Target>, Failure> {
    let mut targets: Vec<Target> = global.sockets.iter().cloned().map(Target::Socket).collect();
    if let Some(vsock) = &global.vsock {
        targets.push(transport::parse_vsock(vsock)?);
    }
    let mut domains = global.domains.clone();
    if global.all {
        for name in libvirt::running_domains(global.uri.as_deref())? {
            if !domains.contains(&name) {
                domains.push(name);
            }
        }
    } else if global.uri.is_some() && domains.is_empty() {
        return Err(Failure::usage("-c URI needs -d DOMAIN or --all".into()));
    }
    targets.extend(domains.into_iter().map(|name| Target::Domain {
        uri: global.uri.clone(),
        name,
    }));
    if targets.is_empty() && !global.all {
        return Err(Failure::usage(
            "where is the agent? give -s PATH, --vsock CID:PORT or -c URI -d DOMAIN".into(),
        ));
    }
    Ok(targets)
}

/// One agent: output goes straight to the terminal.
fn single(
    target: &Target,
    command: &Cmd,
    global: &Global,
    timeout: Duration,
    inputs: &Inputs,
) -> Result<i32, Failure> {
    let mut agent = Agent::connect(target, timeout)?;
    let report = if let Cmd::Cat { remote } = command {
        let stdout = std::io::stdout();
        files::cat(&mut agent, remote, &mut stdout.lock())?
    } else {
        execute(&mut agent, command, global, inputs)?
    };
    print_report(&report, global.json)?;
    Ok(report.exit)
}

fn print_report(report: &Report, json: bool) -> Result<(), Failure> {
    let failed = |e: std::io::Error| Failure::new(format!("standard output: {e}"));
    let mut stdout = std::io::stdout().lock();
    if json {
        if !report.json.is_null() || report.raw.is_none() {
            writeln!(stdout, "{}", report.json).map_err(failed)?;
        }
    } else if let Some((out, err)) = &report.raw {
        stdout.write_all(out).map_err(failed)?;
        stdout.flush().map_err(failed)?;
        let _ = std::io::stderr().write_all(err);
    } else if !report.text.is_empty() {
        writeln!(stdout, "{}", report.text).map_err(failed)?;
    }
    Ok(())
}

/// Runs a subcommand on a connected agent (output collected in the report).
pub fn execute(
    agent: &mut Agent,
    command: &Cmd,
    global: &Global,
    inputs: &Inputs,
) -> Result<Report, Failure> {
    match command {
        Cmd::Ping => query::ping(agent),
        Cmd::Info => query::info(agent),
        Cmd::Os => query::os(agent),
        Cmd::Time { action } => query::time(agent, action),
        Cmd::Hostname => query::hostname(agent),
        Cmd::Timezone => query::timezone(agent),
        Cmd::Users => query::users(agent),
        Cmd::Load => query::load(agent),
        Cmd::Interfaces => query::interfaces(agent),
        Cmd::Routes => query::routes(agent),
        Cmd::Fsinfo => query::fsinfo(agent),
        Cmd::Disks => query::disks(agent),
        Cmd::Vcpus { action } => query::vcpus(agent, action),
        Cmd::MemoryBlocks => query::memory_blocks(agent),
        Cmd::Stats => query::stats(agent),
        Cmd::Exec(args) => exec::exec(agent, &args.command, &args.env, inputs.stdin.as_deref()),
        Cmd::Cat { remote } => {
            let mut out = Vec::new();
            files::cat(agent, remote, &mut out)?;
            let text = String::from_utf8_lossy(&out).into_owned();
            Ok(Report {
                json: serde_json::json!({ "data": text }),
                text,
                ..Report::default()
            })
        }
        Cmd::Get { remote, local } => files::get(agent, remote, local, global.json),
        Cmd::Put { local, remote } => files::put(agent, local, remote, global.json),
        Cmd::Freeze(args) => freeze::freeze(agent, args),
        Cmd::Thaw => query::thaw(agent),
        Cmd::FsfreezeStatus => query::fsfreeze_status(agent),
        Cmd::Fstrim { minimum } => query::fstrim(agent, *minimum),
        Cmd::Shutdown { reboot, halt } => query::shutdown(agent, *reboot, *halt),
        Cmd::Suspend { mode } => query::suspend(agent, *mode),
        Cmd::SshKeys { action } => query::ssh_keys(agent, action, inputs.keys.clone()),
        Cmd::Password { user, crypted } => {
            let password = inputs.password.as_deref().unwrap_or_default();
            query::password(agent, user, password, *crypted)
        }
        Cmd::Call { command, .. } => call::call(agent, command, inputs.call_args.as_ref()),
        Cmd::GenerateAssets { .. } => Err(Failure::usage("generate-assets runs alone".into())),
    }
}

/// Whether a subcommand may run on several agents at once.
pub fn fleet_safe(command: &Cmd) -> Result<(), Failure> {
    match command {
        Cmd::Get { .. } | Cmd::Put { .. } => Err(Failure::usage(
            "get and put work on one agent at a time".into(),
        )),
        Cmd::Freeze(args) if !args.command.is_empty() || args.hold.is_some() => {
            Err(Failure::usage(
                "freeze with a hold time or a command works on one agent at a time".into(),
            ))
        }
        _ => Ok(()),
    }
}
