//! The agent's state and the core protocol behaviour around the generated dispatcher: which
//! commands are enabled, the frozen state, the 0xFF reply delimiter, and reply writing.

use std::io::Write;

use qga_types::qapi_runtime::{self, CommandInfo, Disabled, QapiError, Reply};
use qga_types::{CommandReturn, COMMANDS};
use serde_json::Value;

use crate::daemon::PidFile;
use crate::json::ParseError;
use crate::policy::Policy;
use crate::server::{Handler, Output};
use crate::state::{PersistentState, StatePaths};
use crate::sys::exec::ExecTable;
use crate::sys::file::FileTable;
use crate::sys::freeze::{FreezeState, FsFreeze};
use crate::{log, qlog, signal};

/// Commands of the schema this agent does not implement: reported with `enabled: false` and
/// answered with the disabled error, as qemu-ga does for commands its build leaves out.
pub const UNSUPPORTED: &[&str] = &[];

/// What the agent needs to know from the configuration.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    pub policy: Policy,
    pub state_dir: String,
    pub fsfreeze_hook: Option<String>,
    /// Log file to open when a frozen start ends (it was not opened then).
    pub deferred_log_file: Option<String>,
    /// Pid file to write when a frozen start ends (daemonized only).
    pub deferred_pid_file: Option<String>,
    /// Bound on guest-exec's captured output and input (0: none).
    pub exec_memory_limit: usize,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            policy: Policy::default(),
            state_dir: String::new(),
            fsfreeze_hook: None,
            deferred_log_file: None,
            deferred_pid_file: None,
            exec_memory_limit: crate::sys::exec::DEFAULT_MEMORY_LIMIT,
        }
    }
}

/// Everything the frozen state touches; split from [`Agent`] so the freeze sequence can
/// switch it while the agent's other parts are borrowed.
#[derive(Debug)]
pub struct Core {
    pub(crate) policy: Policy,
    pub(crate) frozen: bool,
    pub(crate) paths: StatePaths,
    deferred_log_file: Option<String>,
    deferred_pid_file: Option<String>,
    /// The pid file we hold (daemonized only).
    pub(crate) pid_file: Option<PidFile>,
}

impl Core {
    /// Whether `info` may run now.
    pub(crate) fn enabled(&self, info: &CommandInfo) -> bool {
        !UNSUPPORTED.contains(&info.name) && self.policy.allows(info.name, self.frozen)
    }
}

impl FreezeState for Core {
    fn set_frozen(&mut self) {
        if self.frozen {
            return;
        }
        log::set_enabled(false);
        signal::set_ignored(true);
        self.frozen = true;
        // Logging is already off: there is nowhere safe to report a failure here.
        let _ = self.paths.mark_frozen();
    }

    fn unset_frozen(&mut self) {
        if !self.frozen {
            return;
        }
        if let Some(path) = self.deferred_log_file.take() {
            if let Err(e) = log::open_file(&path) {
                qlog!(Warning, "unable to open specified log file: {e}");
            }
        }
        log::set_enabled(true);
        if let Some(path) = self.deferred_pid_file.take() {
            match PidFile::create(&path) {
                Ok(pid) => self.pid_file = Some(pid),
                Err(e) => qlog!(Warning, "failed to create pidfile: {e}"),
            }
        }
        if let Err(e) = self.paths.clear_frozen() {
            qlog!(
                Warning,
                "unable to delete {}, fsfreeze may not function properly: {e}",
                self.paths.frozen.display()
            );
        }
        self.frozen = false;
        signal::set_ignored(false);
    }
}

/// The guest agent: command implementations live in [`crate::commands`].
#[derive(Debug)]
pub struct Agent {
    pub(crate) core: Core,
    pub(crate) state: PersistentState,
    pub(crate) files: FileTable,
    pub(crate) exec: ExecTable,
    pub(crate) fsfreeze: FsFreeze,
    /// Set by guest-sync-delimited: the next reply starts with 0xFF.
    pub(crate) delimit: bool,
}

impl Agent {
    /// Sets up the agent; `frozen` means a previous run left filesystems frozen. Errors are
    /// the critical messages to log before exiting.
    pub fn new(options: AgentOptions, frozen: bool) -> Result<Agent, Vec<String>> {
        let paths = StatePaths::new(&options.state_dir);
        let state = PersistentState::load(&paths.state, frozen)?;
        signal::set_ignored(frozen);
        Ok(Agent {
            core: Core {
                policy: options.policy,
                frozen,
                paths,
                deferred_log_file: options.deferred_log_file,
                deferred_pid_file: options.deferred_pid_file,
                pid_file: None,
            },
            state,
            files: FileTable::new(),
            exec: ExecTable::with_memory_limit(options.exec_memory_limit),
            fsfreeze: FsFreeze {
                hook: options.fsfreeze_hook.map(Into::into),
                ..FsFreeze::default()
            },
            delimit: false,
        })
    }

    /// Whether filesystems are frozen.
    pub fn is_frozen(&self) -> bool {
        self.core.frozen
    }

    /// Keeps the pid file we wrote (removed by [`Agent::shutdown`]).
    pub fn set_pid_file(&mut self, pid_file: PidFile) {
        self.core.pid_file = Some(pid_file);
    }

    /// Cleans up before exit: thaws filesystems left frozen, removes the pid file.
    pub fn shutdown(&mut self) {
        if self.core.frozen {
            if let Err(e) = self.fsfreeze.thaw(&mut self.core) {
                qlog!(Critical, "failed to thaw filesystems on exit: {e}");
            }
        }
        if let Some(pid_file) = self.core.pid_file.take() {
            pid_file.remove();
        }
    }

    /// The `guest-info` command list: every command, newest registration first.
    pub(crate) fn command_list(&self) -> Vec<qga_types::GuestAgentCommandInfo> {
        COMMANDS
            .iter()
            .rev()
            .map(|info| qga_types::GuestAgentCommandInfo {
                name: info.name.to_owned(),
                enabled: self.core.enabled(info),
                success_response: info.success_response,
            })
            .collect()
    }

    /// Policy hook of the generated dispatcher.
    pub(crate) fn check(&self, info: &CommandInfo) -> Result<(), Disabled> {
        if self.core.enabled(info) {
            Ok(())
        } else {
            Err(Disabled::NOT_ALLOWED)
        }
    }
}

impl Handler for Agent {
    fn handle(&mut self, input: Result<Value, ParseError>, out: &mut Output<'_>) {
        let reply = match input {
            Ok(request) => match qga_types::dispatch(self, &request) {
                Some(reply) => reply,
                None => return,
            },
            Err(ParseError(desc)) => Reply::<CommandReturn>::error(None, QapiError::generic(desc)),
        };
        let delimited = std::mem::take(&mut self.delimit);
        let written = (|| -> Result<(), qapi_runtime::writer::Error> {
            if delimited {
                out.write_all(&[0xFF])?;
            }
            crate::reply::write_reply(&mut *out, &reply)
        })();
        if let Err(e) = written {
            qlog!(Warning, "error sending response: {e}");
        }
    }
}
