//! The freeze timeout and the fsfreeze hook timeout of the real binary. The agent starts in
//! the frozen state a previous run left (the `isfrozen` mark), so no filesystem has to be
//! frozen: what is tested is that the timer fires with or without a client, runs the thaw
//! hook, logs why and ends the frozen state; and that a hanging hook is killed.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{agent_binary, error_of, Agent};
use serde_json::json;

/// A frozen start in a fresh directory, with a hook recording its arguments in `hook.log`
/// (and running `hook_extra` after that) and the log in `agent.log`.
fn frozen_agent(extra: &[&str], hook_extra: &str) -> (Agent, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("state dir");
    std::fs::write(state.join("qga.state.isfrozen"), "").expect("frozen mark");
    let hook_log = dir.path().join("hook.log");
    let hook = dir.path().join("hook");
    let script = format!(
        "#!/bin/sh\necho \"$1\" >> {}\n{hook_extra}\n",
        hook_log.display()
    );
    std::fs::write(&hook, script).expect("hook");
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let log = dir.path().join("agent.log");
    let mut args = vec![
        format!("-l{}", log.display()),
        format!("-F{}", hook.display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let agent = Agent::start_in(&agent_binary(), dir, &args, &[]);
    (agent, hook_log, log)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits up to `limit` for `cond`.
fn eventually(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

#[test]
fn frozen_filesystems_are_thawed_after_the_timeout_with_no_client_connected() {
    let (agent, hook_log, log) = frozen_agent(&["--freeze-timeout=2"], "");
    // The strict default, side by side: no timeout, stays frozen.
    let (strict, strict_hook_log, _) = frozen_agent(&[], "");
    let started = Instant::now();
    let mut c = agent.connect();
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
        json!({"return": "frozen"})
    );
    // The host goes away: the agent sits in accept() and must still thaw by itself.
    drop(c);
    assert!(
        eventually(Duration::from_secs(10), || read(&hook_log) == "thaw\n"),
        "the thaw hook ran: {:?}",
        read(&hook_log)
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "not before the timeout"
    );
    assert!(!agent.state_dir().join("qga.state.isfrozen").exists());
    assert!(
        eventually(Duration::from_secs(5), || read(&log)
            .contains("filesystems stayed frozen for 2 s (freeze-timeout)")),
        "the reason is logged: {:?}",
        read(&log)
    );
    let mut c = agent.connect();
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
        json!({"return": "thawed"})
    );
    // Every command is back.
    assert!(c.call(r#"{"execute":"guest-get-time"}"#)["return"].is_i64());

    let mut s = strict.connect();
    assert_eq!(
        s.call(r#"{"execute":"guest-fsfreeze-status"}"#),
        json!({"return": "frozen"})
    );
    assert_eq!(read(&strict_hook_log), "");
}

#[test]
fn the_timeout_fires_while_an_idle_client_stays_connected_and_pings() {
    let (agent, hook_log, _) = frozen_agent(&["--freeze-timeout=2"], "");
    let mut c = agent.connect();
    let started = Instant::now();
    // A client that keeps talking does not keep the filesystems frozen past the timeout.
    while started.elapsed() < Duration::from_millis(2500) {
        assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), json!({"return": {}}));
        std::thread::sleep(Duration::from_millis(200));
    }
    // A silent connected client: the agent waits in read() and must still fire.
    assert!(
        eventually(Duration::from_secs(10), || read(&hook_log) == "thaw\n"),
        "the thaw hook ran: {:?}",
        read(&hook_log)
    );
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
        json!({"return": "thawed"})
    );
}

#[test]
fn a_hanging_thaw_hook_is_killed_and_reported() {
    let (agent, hook_log, _) = frozen_agent(&["--freeze-hook-timeout=1"], "sleep 600");
    let mut c = agent.connect();
    let started = Instant::now();
    let reply = c.call(r#"{"execute":"guest-fsfreeze-thaw"}"#);
    assert!(started.elapsed() < Duration::from_secs(8), "bounded");
    assert_eq!(
        error_of(&reply),
        (
            "GenericError".to_owned(),
            "child process has failed to execute fsfreeze hook: timed out after 1 s, its \
             process group was killed"
                .to_owned()
        )
    );
    assert_eq!(read(&hook_log), "thaw\n");
    // The filesystems were thawed before the hook ran; the agent goes on.
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
        json!({"return": "thawed"})
    );
}
