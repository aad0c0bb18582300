//! The agent's log: lines `<unix-seconds>.<micro>: <level>: <message>` to a file or standard
//! error, filtered by level (errors and critical only unless verbose), per-command accounting
//! to syslog, and everything switched off while filesystems are frozen.
//!
//! Logging is rare (start-up, failures, accounting of state-changing commands), so one global
//! logger behind a mutex is enough; nothing on a request's fast path logs unless `-v` is given.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::syslog::{Facility, Priority, Severity};

/// Log levels with GLib's names, as qemu-ga prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Critical,
    Warning,
    Message,
    Info,
    Debug,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Critical => "critical",
            Level::Warning => "warning",
            Level::Message => "message",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

#[derive(Debug)]
struct Logger {
    /// `None`: standard error.
    file: Option<File>,
    verbose: bool,
    /// False while frozen: nothing may touch the disk.
    enabled: bool,
}

static LOGGER: Mutex<Logger> = Mutex::new(Logger {
    file: None,
    verbose: false,
    enabled: true,
});

/// Fast check for `-v`, so callers can skip formatting debug messages.
static VERBOSE: AtomicBool = AtomicBool::new(false);

fn logger() -> std::sync::MutexGuard<'static, Logger> {
    LOGGER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Logs everything (`-v`) or only errors and critical messages.
pub fn set_verbose(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
    logger().verbose = verbose;
}

/// Whether debug messages are logged.
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Opens `path` in append mode as the log (instead of standard error).
pub fn open_file(path: &str) -> io::Result<()> {
    let file = OpenOptions::new().append(true).create(true).open(path)?;
    logger().file = Some(file);
    Ok(())
}

/// Switches all logging off (while frozen) or back on.
pub fn set_enabled(enabled: bool) {
    logger().enabled = enabled;
}

/// Writes one log line if `level` passes the filter.
pub fn log(level: Level, message: &str) {
    let mut logger = logger();
    if !logger.enabled || (level > Level::Critical && !logger.verbose) {
        return;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let line = format!(
        "{}.{:06}: {}: {}\n",
        now.as_secs(),
        now.subsec_micros(),
        level.as_str(),
        message
    );
    // A log that cannot be written has nowhere to report that; carry on.
    let _ = match &mut logger.file {
        Some(file) => file.write_all(line.as_bytes()),
        None => io::stderr().write_all(line.as_bytes()),
    };
}

/// Sends a per-command accounting line (`<level>: <message>`, as qemu-ga) to syslog.
pub fn syslog(message: &str) {
    if !logger().enabled {
        return;
    }
    let priority = Priority::new(Severity::LOG_INFO, Facility::LOG_USER);
    // Without openlog, glibc tags lines with the program name, as qemu-ga's are.
    let _ = nix::syslog::syslog(priority, &format!("info: {message}"));
}

/// Logs a formatted message at a level: `qlog!(Critical, "x {}", y)`.
#[macro_export]
macro_rules! qlog {
    ($level:ident, $($arg:tt)*) => {
        $crate::log::log($crate::log::Level::$level, &format!($($arg)*))
    };
}

/// Logs a debug message, formatting it only when `-v` is on.
#[macro_export]
macro_rules! qdebug {
    ($($arg:tt)*) => {
        if $crate::log::verbose() {
            $crate::log::log($crate::log::Level::Debug, &format!($($arg)*))
        }
    };
}
