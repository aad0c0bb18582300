//! Start-up and the life of the agent process, in qemu-ga's order: configuration, socket
//! activation, state directory (frozen?), log, persistent state, signals, channel, daemon, then
//! the main loop (re-opening the channel with `--retry-path`), and cleanup.

use std::ffi::OsString;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::agent::{Agent, AgentOptions};
use crate::channel::{self, Activation, Channel};
use crate::config::{self, Config, Outcome};
use crate::daemon::{self, PidFile};
use crate::json::Streamer;
use crate::policy::Policy;
use crate::server::{self, Stop};
use crate::state::StatePaths;
use crate::{log, qdebug, qlog, signal};

/// How long to wait between attempts to re-open a failed channel.
const RETRY_WAIT: Duration = Duration::from_secs(5);

/// Runs the agent with the process arguments; returns the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let argv0 = args
        .first()
        .cloned()
        .unwrap_or_else(|| "qga-agent".to_owned());
    let names: Vec<&str> = qga_types::COMMANDS.iter().map(|c| c.name).collect();
    let qga_conf = std::env::var("QGA_CONF").ok();
    let read = |path: &str| std::fs::read_to_string(path);
    let rest = args.get(1..).unwrap_or_default();
    let mut config = match config::parse(&argv0, rest, qga_conf.as_deref(), &names, &read) {
        Outcome::Run(config) => config,
        Outcome::Exit {
            stdout,
            stderr,
            code,
        } => {
            let _ = std::io::stdout().write_all(stdout.as_bytes());
            let _ = std::io::stderr().write_all(stderr.as_bytes());
            return code;
        }
    };
    let activation = match channel::activated_socket(
        std::env::var("LISTEN_PID").ok().as_deref(),
        std::env::var("LISTEN_FDS").ok().as_deref(),
    ) {
        Ok(activation) => activation,
        Err(message) => {
            qlog!(Critical, "{message}");
            return 1;
        }
    };
    if let Some(activation) = &activation {
        config.method = activation.method.to_owned();
    }
    let listens = matches!(config.method.as_str(), "unix-listen" | "vsock-listen");
    if listens && config.path.is_none() && activation.is_none() {
        qlog!(Critical, "must specify a path for this channel");
        return 1;
    }
    if config.dump_conf {
        print!("{}", config.dump());
        return 0;
    }
    match start(config, activation) {
        Ok(()) => 0,
        Err(messages) => {
            for message in messages {
                qlog!(Critical, "{message}");
            }
            1
        }
    }
}

/// Everything after the configuration is known. Errors are critical messages to log.
fn start(config: Config, activation: Option<Activation>) -> Result<(), Vec<String>> {
    log::set_verbose(config.verbose);
    let paths = StatePaths::new(&config.state_dir);
    // A previous run left filesystems frozen: write nothing until they are thawed.
    let frozen = paths.is_marked_frozen();
    if frozen {
        // Straight to standard error: the log file may live on a frozen filesystem.
        eprintln!(
            "warning: a previous instance exited with filesystems frozen ({} exists): logging \
             and the pid file are deferred and only freeze-safe commands are enabled until \
             guest-fsfreeze-thaw",
            paths.frozen.display()
        );
        log::set_enabled(false);
    } else if let Some(path) = &config.log_file {
        if let Err(e) = log::open_file(path) {
            return Err(vec![format!(
                "unable to open specified log file: {}",
                crate::sys::error::io_strerror(&e)
            )]);
        }
    }
    qdebug!(
        "Guest agent version {} (qga-agent {}) started",
        config::QGA_VERSION,
        env!("CARGO_PKG_VERSION")
    );
    let options = AgentOptions {
        policy: Policy::new(config.allow_rpcs.clone(), config.block_rpcs.clone()),
        state_dir: config.state_dir.clone(),
        fsfreeze_hook: config.fsfreeze_hook.clone(),
        deferred_log_file: if frozen {
            config.log_file.clone()
        } else {
            None
        },
        deferred_pid_file: (frozen && config.daemonize).then(|| config.pid_file.clone()),
        exec_memory_limit: config.exec_memory_limit,
    };
    let mut agent = Agent::new(options, frozen).map_err(|mut messages| {
        messages.push("failed to load persistent state".to_owned());
        messages.push("error initializing guest agent".to_owned());
        messages
    })?;
    signal::install().map_err(|e| vec![format!("failed to install signal handlers: {e}")])?;
    let activated = activation.is_some();
    let mut channel =
        channel::open(&config.method, config.path.as_deref(), activation).map_err(|message| {
            vec![
                message,
                "failed to create guest agent channel".to_owned(),
                "failed to initialize guest agent channel".to_owned(),
                "error initializing guest agent".to_owned(),
            ]
        })?;
    if config.daemonize {
        daemon::daemonize().map_err(|e| vec![e])?;
        if !frozen {
            let pid_file = PidFile::create(&config.pid_file)
                .map_err(|e| vec![format!("failed to create pidfile: {e}")])?;
            agent.set_pid_file(pid_file);
        }
    }
    let mut streamer = Streamer::default();
    loop {
        match server::serve(channel.as_mut(), &mut streamer, &mut agent) {
            Stop::Quit => {
                qdebug!("received signal, quitting");
                break;
            }
            Stop::ChannelFailed(e) => {
                qlog!(Warning, "error reading channel: {e}");
                if !config.retry_path || activated {
                    break;
                }
                qlog!(Critical, "agent stopped unexpectedly, restarting...");
                drop(channel);
                match reopen(&config) {
                    Some(reopened) => channel = reopened,
                    None => break,
                }
            }
        }
    }
    agent.shutdown();
    Ok(())
}

/// Tries to open the channel again every few seconds until it works or a stop is requested.
fn reopen(config: &Config) -> Option<Box<dyn Channel>> {
    loop {
        qlog!(Critical, "waiting for channel path...");
        let until = Instant::now() + RETRY_WAIT;
        while Instant::now() < until {
            if signal::quit_requested() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        match channel::open(&config.method, config.path.as_deref(), None) {
            Ok(channel) => return Some(channel),
            Err(message) => qlog!(Critical, "{message}"),
        }
    }
}
