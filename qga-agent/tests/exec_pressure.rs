//! guest-exec under pressure: a pids cgroup smaller than the number of execs, many captured
//! children at once (tasks must not grow with them), children reaped as they exit, and the
//! bound on captured memory.
//!
//! The pids-limit test needs root and a pids cgroup controller (v1 at /sys/fs/cgroup/pids, or
//! v2 at /sys/fs/cgroup or /sys/fs/cgroup/unified); without them it skips with a notice unless
//! `QAPI_REQUIRE_EXTERNAL=1`.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{error_of, Agent, Client};
use serde_json::Value;

fn exec(client: &mut Client, path: &str, args: &[&str], capture: bool) -> Value {
    let request = serde_json::json!({
        "execute": "guest-exec",
        "arguments": {"path": path, "arg": args, "capture-output": capture},
    });
    client.call(&request.to_string())
}

fn pid_of(reply: &Value) -> i64 {
    reply["return"]["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("not a pid: {reply}"))
}

/// Polls guest-exec-status until the child is reported as exited.
fn wait_status(client: &mut Client, pid: i64, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let reply = client.call(&format!(
            r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#
        ));
        if reply["return"]["exited"] == Value::Bool(true) {
            return reply["return"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "child {pid} did not finish: {reply}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Threads of a process.
fn task_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// Children of `parent` that are zombies.
fn zombies_of(parent: u32) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            // `pid (comm) state ppid ...`: comm may hold anything, so split after the last ')'.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
            fields.first() == Some(&"Z") && fields.get(1) == Some(&parent.to_string().as_str())
        })
        .count()
}

fn assert_alive(agent: &mut Agent) {
    if let Ok(Some(status)) = agent.child.try_wait() {
        let mut stderr = String::new();
        if let Some(mut pipe) = agent.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        panic!("the agent exited ({status}): {stderr}");
    }
}

/// A pids cgroup limited to `max` tasks, removed on drop (after its tasks are gone).
struct PidsCgroup {
    dir: PathBuf,
}

impl PidsCgroup {
    fn create(max: u32) -> Option<PidsCgroup> {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("qga-agent-test-{}-{n}", std::process::id());
        // cgroup v1's pids hierarchy, else v2 (pure or hybrid) with the pids controller.
        let v1 = Path::new("/sys/fs/cgroup/pids");
        let v2 = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .into_iter()
            .map(Path::new)
            .find(|root| {
                std::fs::read_to_string(root.join("cgroup.controllers"))
                    .is_ok_and(|c| c.split_whitespace().any(|c| c == "pids"))
            });
        let dir = if v1.join("cgroup.procs").exists() {
            v1.join(&name)
        } else if let Some(root) = v2 {
            // Controllers must be enabled for the children of the root.
            std::fs::write(root.join("cgroup.subtree_control"), "+pids").ok()?;
            root.join(&name)
        } else {
            return None;
        };
        std::fs::create_dir(&dir).ok()?;
        let group = PidsCgroup { dir };
        std::fs::write(group.dir.join("pids.max"), max.to_string()).ok()?;
        Some(group)
    }

    fn add(&self, pid: u32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string())
            .expect("move the agent into the pids cgroup");
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        // Children a failed test left behind would keep the group busy.
        let procs = std::fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|p| p.parse::<i32>().ok()) {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::remove_dir(&self.dir).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn survives_a_pids_limit_smaller_than_the_execs() {
    let Some(cgroup) = PidsCgroup::create(50) else {
        testenv::skip_or_fail(
            "a writable pids cgroup (root, cgroup v1 /sys/fs/cgroup/pids or v2 with pids)",
        );
        return;
    };
    let mut agent = Agent::start(&[]);
    cgroup.add(agent.child.id());
    let mut client = agent.connect();
    let mut started = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..60 {
        let reply = exec(&mut client, "sleep", &["2"], true);
        match reply["return"]["pid"].as_i64() {
            Some(pid) => started.push(pid),
            None => refused.push(error_of(&reply).1),
        }
        assert_alive(&mut agent);
    }
    assert!(!refused.is_empty(), "50 tasks cannot hold 60 children");
    for desc in &refused {
        assert_eq!(desc, "Failed to fork (Resource temporarily unavailable)");
    }
    assert!(started.len() >= 40, "only {} started", started.len());
    assert_eq!(
        client.call(r#"{"execute":"guest-ping"}"#)["return"],
        serde_json::json!({})
    );
    for pid in started {
        let status = wait_status(&mut client, pid, Duration::from_secs(20));
        assert_eq!(status["exitcode"], 0, "{status}");
    }
    // Tasks are free again: execs work.
    let pid = pid_of(&exec(&mut client, "echo", &["again"], true));
    let status = wait_status(&mut client, pid, Duration::from_secs(10));
    assert_eq!(status["out-data"], "YWdhaW4K");
    assert_alive(&mut agent);
    assert!(agent.terminate().success());
}

#[test]
fn tasks_do_not_grow_with_captured_execs() {
    let mut agent = Agent::start(&[]);
    let mut client = agent.connect();
    let pid = agent.child.id();
    let before = task_count(pid);
    let mut children = Vec::new();
    for _ in 0..100 {
        children.push(pid_of(&exec(&mut client, "sleep", &["3"], true)));
    }
    let during = task_count(pid);
    assert!(
        during <= before.max(2),
        "the agent has {during} tasks with 100 captured children (before: {before})"
    );
    for child in children {
        wait_status(&mut client, child, Duration::from_secs(30));
    }
    assert_alive(&mut agent);
}

#[test]
fn children_are_reaped_as_they_exit() {
    let agent = Agent::start(&[]);
    let mut client = agent.connect();
    let mut children = Vec::new();
    for i in 0..20 {
        children.push(pid_of(&exec(&mut client, "true", &[], i % 2 == 0)));
    }
    // No request after the execs: the agent must reap on its own.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut zombies = zombies_of(agent.child.id());
    while zombies > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        zombies = zombies_of(agent.child.id());
    }
    assert_eq!(zombies, 0, "finished children left as zombies");
    // Their statuses were kept.
    for child in children {
        let status = wait_status(&mut client, child, Duration::from_secs(1));
        assert_eq!(status, serde_json::json!({"exitcode": 0, "exited": true}));
    }
}

#[test]
fn captured_memory_is_bounded() {
    let mut agent = Agent::start(&["--exec-memory-limit=1M"]);
    let mut client = agent.connect();
    let big = pid_of(&exec(
        &mut client,
        "head",
        &["-c", "3000000", "/dev/zero"],
        true,
    ));
    // Until statuses are collected, the output held fills the bound.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut small = Vec::new();
    let refused = loop {
        let reply = exec(&mut client, "echo", &["x"], true);
        if reply.get("error").is_some() {
            break error_of(&reply).1;
        }
        small.push(pid_of(&reply));
        assert!(Instant::now() < deadline, "the bound never applied");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        refused.starts_with("Exec memory limit reached: captured output and input of earlier"),
        "{refused}"
    );
    // Execs that capture nothing need no memory.
    let plain = pid_of(&exec(&mut client, "true", &[], false));
    wait_status(&mut client, plain, Duration::from_secs(10));
    let status = wait_status(&mut client, big, Duration::from_secs(10));
    let data = status["out-data"].as_str().expect("out-data");
    let kept = data.len() / 4 * 3 - data.bytes().rev().take_while(|&b| b == b'=').count();
    assert!(
        (900 << 10..=1 << 20).contains(&kept),
        "{kept} bytes kept of 1 MiB"
    );
    assert_eq!(status["out-truncated"], true);
    for pid in small {
        assert_eq!(
            wait_status(&mut client, pid, Duration::from_secs(10))["exitcode"],
            0
        );
    }
    // Collected: the memory is free again.
    let pid = pid_of(&exec(&mut client, "echo", &["x"], true));
    assert_eq!(
        wait_status(&mut client, pid, Duration::from_secs(10))["out-data"],
        "eAo="
    );
    assert_alive(&mut agent);
}

#[test]
fn a_daemonized_agent_watches_its_children() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().expect("temporary directory");
    let socket = dir.path().join("a.sock");
    let pid_file = dir.path().join("qga.pid");
    let out = std::process::Command::new(common::agent_binary())
        .args(["-d", "-m", "unix-listen", "-p"])
        .arg(&socket)
        .arg("-t")
        .arg(dir.path())
        .arg("-f")
        .arg(&pid_file)
        .env("QGA_CONF", "/nonexistent")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run agent");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let pid = loop {
        let text = std::fs::read_to_string(&pid_file).unwrap_or_default();
        if let Some(pid) = text.strip_suffix('\n').and_then(|p| p.parse::<i32>().ok()) {
            break nix::unistd::Pid::from_raw(pid);
        }
        assert!(Instant::now() < deadline, "no pid file");
        std::thread::sleep(Duration::from_millis(20));
    };
    struct Kill(nix::unistd::Pid);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGKILL);
        }
    }
    let _kill = Kill(pid);
    let stream = std::os::unix::net::UnixStream::connect(&socket).expect("daemon listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut reader = BufReader::new(&stream);
    let mut call = |request: String| {
        (&stream).write_all(request.as_bytes()).expect("send");
        let mut line = String::new();
        reader.read_line(&mut line).expect("reply");
        serde_json::from_str::<Value>(&line).expect("JSON reply")
    };
    let request = r#"{"execute":"guest-exec","arguments":{"path":"echo","arg":["hi"],"capture-output":true}}"#;
    let child = pid_of(&call(request.to_owned()));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = call(format!(
            r#"{{"execute":"guest-exec-status","arguments":{{"pid":{child}}}}}"#
        ));
        if status["return"]["exited"] == true {
            assert_eq!(status["return"]["out-data"], "aGkK");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the child is never reported: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn helper_input_survives_a_full_pids_cgroup() {
    let Some(cgroup) = PidsCgroup::create(12) else {
        testenv::skip_or_fail(
            "a writable pids cgroup (root, cgroup v1 /sys/fs/cgroup/pids or v2 with pids)",
        );
        return;
    };
    let mut agent = Agent::start(&[]);
    cgroup.add(agent.child.id());
    let mut client = agent.connect();
    let mut sleepers = Vec::new();
    loop {
        let reply = exec(&mut client, "sleep", &["30"], false);
        match reply["return"]["pid"].as_i64() {
            Some(pid) => sleepers.push(pid),
            None => break,
        }
        assert!(sleepers.len() < 12, "the limit never applied");
    }
    let kill = |pid: i64| {
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    };
    // One task free: enough for chpasswd, none left for a thread to feed its input.
    kill(sleepers.remove(0));
    let current = || std::fs::read_to_string(cgroup.dir.join("pids.current")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(10);
    while current().trim() != "11" {
        assert!(Instant::now() < deadline, "task not freed: {}", current());
        std::thread::sleep(Duration::from_millis(20));
    }
    let reply = client.call(
        r#"{"execute":"guest-set-user-password","arguments":{"username":"qga-no-such-user","password":"aGk=","crypted":false}}"#,
    );
    assert_eq!(
        error_of(&reply).1,
        "set user password: cannot write to stdin pipe: Resource temporarily unavailable"
    );
    for pid in sleepers {
        kill(pid);
    }
    assert_alive(&mut agent);
    assert_eq!(
        client.call(r#"{"execute":"guest-ping"}"#)["return"],
        serde_json::json!({})
    );
}
