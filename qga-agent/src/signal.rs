//! SIGTERM/SIGINT handling without a self-pipe: the handler only sets a flag, and is installed
//! without `SA_RESTART` so a blocking read, accept or write returns `EINTR` and the loop looks
//! at the flag. A signal landing between the loop's check and its next blocking call would be
//! missed until input arrives, so the handler also arms a one-second `SIGALRM` that keeps
//! interrupting blocking calls until the loop has seen the request.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::alarm;

static QUIT: AtomicBool = AtomicBool::new(false);
/// The signal that requested the stop (for `-v`'s log line).
static QUIT_SIGNAL: AtomicI32 = AtomicI32::new(0);
/// Set while filesystems are frozen: stop requests are ignored then, as by qemu-ga (exiting
/// could hang on a frozen filesystem, and nobody would be left to thaw it).
static IGNORE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_quit(signum: libc::c_int) {
    if !IGNORE.load(Ordering::SeqCst) {
        QUIT_SIGNAL.store(signum, Ordering::SeqCst);
        QUIT.store(true, Ordering::SeqCst);
        alarm::set(1);
    }
}

extern "C" fn on_alarm(_: libc::c_int) {
    if QUIT.load(Ordering::SeqCst) {
        alarm::set(1);
    }
}

/// Installs the handlers: SIGTERM/SIGINT request a stop, SIGALRM interrupts, SIGPIPE is
/// ignored (a vanished client makes writes fail with EPIPE instead of killing the agent).
pub fn install() -> nix::Result<()> {
    let quit = SigAction::new(
        SigHandler::Handler(on_quit),
        SaFlags::empty(),
        SigSet::empty(),
    );
    let wake = SigAction::new(
        SigHandler::Handler(on_alarm),
        SaFlags::empty(),
        SigSet::empty(),
    );
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: the handlers only touch an atomic and call alarm(2), both async-signal-safe.
    unsafe {
        signal::sigaction(Signal::SIGTERM, &quit)?;
        signal::sigaction(Signal::SIGINT, &quit)?;
        signal::sigaction(Signal::SIGALRM, &wake)?;
        signal::sigaction(Signal::SIGPIPE, &ignore)?;
    }
    Ok(())
}

/// Whether a stop was requested (and is not being ignored).
pub fn quit_requested() -> bool {
    QUIT.load(Ordering::SeqCst)
}

/// The number of the signal that requested the stop (0 if none did).
pub fn quit_signal() -> i32 {
    QUIT_SIGNAL.load(Ordering::SeqCst)
}

/// Ignores stop requests from now on (`true`, entering the frozen state) or honours them.
pub fn set_ignored(ignored: bool) {
    IGNORE.store(ignored, Ordering::SeqCst);
}
