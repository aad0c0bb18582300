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

/// One test at a time: every thaw (also an automatic one) thaws every mount of the machine,
/// which would end the privileged test's real freeze early.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
    let _serial = serial();
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
    let _serial = serial();
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
fn the_timeout_fires_while_the_host_leaves_replies_unread() {
    let _serial = serial();
    let (agent, hook_log, _) = frozen_agent(&["--freeze-timeout=2"], "");
    let mut c = agent.connect();
    // A thousand guest-info replies (a few KB each) are far more than the socket holds: the
    // agent's write would wait for a host that never reads them.
    let count = 1000;
    c.send(r#"{"execute":"guest-info","id":"n"}"#.repeat(count).as_bytes());
    assert!(
        eventually(Duration::from_secs(10), || read(&hook_log) == "thaw\n"),
        "the thaw hook ran while the replies were unread: {:?}",
        read(&hook_log)
    );
    // Nothing was lost: every reply arrives whole and in order once the host reads.
    for line in c.lines(count) {
        let reply: serde_json::Value = serde_json::from_slice(&line).expect("a JSON reply");
        assert_eq!(reply["id"], "n", "{reply}");
        assert!(reply["return"]["version"].is_string(), "{reply}");
    }
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
        json!({"return": "thawed"})
    );
}

#[test]
fn a_hanging_thaw_hook_is_killed_and_reported() {
    let _serial = serial();
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

/// A real freeze of an ext4 loop mount: the host freezes it and hangs up, a write blocks,
/// and completes by itself once the agent thaws after the timeout. Needs root, `mkfs.ext4`,
/// `losetup` and `mount`; runs only with `QGA_PRIVILEGED_TESTS=1`.
#[test]
fn privileged_a_write_on_a_frozen_loop_mount_completes_after_the_timeout() {
    let _serial = serial();
    with_loop_mount(|mnt| {
        let agent = Agent::start(&["--freeze-timeout=3"]);
        let mut c = agent.connect();
        freeze(&mut c, mnt);
        drop(c);
        assert_write_completes_after_the_timeout(mnt);
        let mut c = agent.connect();
        assert_eq!(
            c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
            json!({"return": "thawed"})
        );
    });
}

/// As above, but the host stays connected and leaves a pile of replies unread, so the
/// agent's write to it cannot complete: the timer must fire all the same.
#[test]
fn privileged_a_host_that_stops_reading_does_not_keep_the_loop_mount_frozen() {
    let _serial = serial();
    with_loop_mount(|mnt| {
        let agent = Agent::start(&["--freeze-timeout=3"]);
        let mut c = agent.connect();
        freeze(&mut c, mnt);
        let count = 1000;
        c.send(r#"{"execute":"guest-info"}"#.repeat(count).as_bytes());
        assert_write_completes_after_the_timeout(mnt);
        assert_eq!(c.lines(count).len(), count);
        assert_eq!(
            c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
            json!({"return": "thawed"})
        );
    });
}

fn freeze(c: &mut common::Client, mnt: &Path) {
    let request = json!({"execute": "guest-fsfreeze-freeze-list",
                         "arguments": {"mountpoints": [mnt]}});
    assert_eq!(c.call(&request.to_string()), json!({"return": 1}));
}

/// A write on the frozen `mnt` blocks, then completes once the agent's timeout (3 s) thaws it.
fn assert_write_completes_after_the_timeout(mnt: &Path) {
    let file = mnt.join("written");
    let started = Instant::now();
    let (sent, finished) = std::sync::mpsc::channel();
    // Not joined: if the agent never thaws, the cleanup of `with_loop_mount` unblocks it.
    std::thread::spawn(move || {
        let _ = sent.send(std::fs::write(&file, b"after the thaw").map(|()| Instant::now()));
    });
    let done = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("the write completes within 30 s")
        .expect("write");
    let took = done - started;
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(20),
        "the write completed after {took:?}"
    );
}

/// Runs `test` on a fresh ext4 loop mount (skipped without `QGA_PRIVILEGED_TESTS=1`), and
/// never leaves it frozen or mounted.
fn with_loop_mount(test: impl FnOnce(&Path) + std::panic::UnwindSafe) {
    use std::process::Command;
    if std::env::var_os("QGA_PRIVILEGED_TESTS").is_none() {
        eprintln!("skipped: set QGA_PRIVILEGED_TESTS=1 (root, mkfs.ext4, losetup, mount)");
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let image = dir.path().join("fs.img");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mount point");
    std::fs::File::create(&image)
        .and_then(|f| f.set_len(32 << 20))
        .expect("image");
    let run = |args: &[&str]| {
        let out = Command::new(args[0])
            .args(&args[1..])
            .output()
            .expect("run");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let (image_s, mnt_s) = (image.to_str().expect("path"), mnt.to_str().expect("path"));
    run(&["mkfs.ext4", "-q", image_s]);
    let loopdev = run(&["losetup", "--find", "--show", image_s]);
    run(&["mount", &loopdev, mnt_s]);
    let result = std::panic::catch_unwind(|| test(&mnt));
    let _ = Command::new("fsfreeze").args(["-u", mnt_s]).output();
    // A write left blocked by a failed test may still hold the filesystem for a moment.
    for _ in 0..50 {
        let unmounted = Command::new("umount").arg(mnt_s).status();
        if unmounted.is_ok_and(|s| s.success()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    run(&["losetup", "-d", &loopdev]);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
