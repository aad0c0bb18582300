//! freeze: freeze the guest's filesystems; when a hold time (--hold) or a local command is
//! given, thaw again when the command ends, the time runs out or Ctrl-C is pressed.

use crate::cli::{FreezeArgs, Global};
use crate::output::Report;
use crate::transport::{secs, Agent};
use crate::Failure;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use qga_types::GuestFsfreezeFreezeListArgs;
use serde_json::json;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Ctrl-C, SIGTERM and SIGHUP set a flag instead of killing us, so the guest gets thawed.
fn catch_signals() -> Result<(), Failure> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
        unsafe { sigaction(signal, &action) }
            .map_err(|e| Failure::new(format!("cannot catch {signal}: {e}")))?;
    }
    Ok(())
}

/// How long a local command may keep the filesystems frozen without --hold.
const DEFAULT_HOLD: Duration = Duration::from_secs(10);

/// Refuses a bad --hold, and --timeout where --hold was surely meant (before --hold existed,
/// `freeze --timeout S` held for S; silently freezing for good instead would be dangerous).
pub fn check(args: &FreezeArgs, global: &Global) -> Result<(), Failure> {
    if let Some(s) = args.hold {
        if !(s.is_finite() && s > 0.0 && s < 1e9) {
            return Err(Failure::usage(format!(
                "--hold wants positive seconds, not {s}"
            )));
        }
    }
    if global.timeout.is_some() && args.hold.is_none() && args.command.is_empty() {
        return Err(Failure::usage(
            "freeze: the hold time is --hold SECS (--timeout only bounds each request); \
             leave both out to freeze until `qga thaw`"
                .into(),
        ));
    }
    Ok(())
}

/// Freezes; with --hold or a command, holds and thaws again (`None` hold: freeze and return).
pub fn freeze(agent: &mut Agent, args: &FreezeArgs) -> Result<Report, Failure> {
    let hold = args
        .hold
        .map(Duration::from_secs_f64)
        .or_else(|| (!args.command.is_empty()).then_some(DEFAULT_HOLD));
    if hold.is_some() {
        catch_signals()?;
    }
    let frozen = if args.mountpoints.is_empty() {
        agent.c().guest_fsfreeze_freeze()
    } else {
        let list = GuestFsfreezeFreezeListArgs {
            mountpoints: Some(args.mountpoints.clone()),
        };
        agent.c().guest_fsfreeze_freeze_list(&list)
    };
    let frozen = frozen.map_err(|e| agent.fail("guest-fsfreeze-freeze", e))?;
    let Some(hold) = hold else {
        return Ok(Report::new(
            json!({ "frozen": frozen }),
            format!("{frozen} filesystems frozen; `qga thaw` thaws them"),
        ));
    };
    let deadline = Instant::now() + hold;
    let (why, exit) = if args.command.is_empty() {
        eprintln!(
            "qga: {frozen} filesystems frozen; thawing after {} or on Ctrl-C",
            secs(hold)
        );
        wait_until(deadline, || false);
        if INTERRUPTED.load(Ordering::SeqCst) {
            ("interrupted", 130)
        } else {
            ("time is up", 0)
        }
    } else {
        run_while_frozen(&args.command, deadline)?
    };
    let thawed = agent
        .c()
        .guest_fsfreeze_thaw()
        .map_err(|e| agent.fail("guest-fsfreeze-thaw (the guest may still be frozen!)", e))?;
    let mut report = Report::new(
        json!({ "frozen": frozen, "thawed": thawed, "reason": why }),
        format!("{frozen} filesystems frozen, {thawed} thawed ({why})"),
    );
    report.exit = exit;
    Ok(report)
}

/// Runs the local command; returns why the hold ended and the exit status to pass on.
fn run_while_frozen(command: &[String], deadline: Instant) -> Result<(&'static str, i32), Failure> {
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .spawn()
        .map_err(|e| Failure::new(format!("{}: cannot run: {e}", command[0])))?;
    let mut status = None;
    wait_until(deadline, || match child.try_wait() {
        Ok(Some(s)) => {
            status = Some(s);
            true
        }
        Ok(None) => false,
        Err(_) => true,
    });
    Ok(match status {
        Some(s) => ("the command ended", s.code().unwrap_or(1)),
        None if INTERRUPTED.load(Ordering::SeqCst) => ("interrupted", 130),
        None => {
            eprintln!(
                "qga: {} is still running after the hold time; thawing anyway",
                command[0]
            );
            ("time is up", 124)
        }
    })
}

/// Sleeps in short steps until the deadline, a signal, or `done()`.
fn wait_until(deadline: Instant, mut done: impl FnMut() -> bool) {
    while Instant::now() < deadline && !INTERRUPTED.load(Ordering::SeqCst) && !done() {
        std::thread::sleep(Duration::from_millis(20));
    }
}
