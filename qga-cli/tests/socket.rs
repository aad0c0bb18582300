//! Every subcommand that is safe on the host, against real agents on unix sockets: ours and
//! QEMU's qemu-ga 10.0.2. Outputs are parsed (mostly `--json`) and checked against what the
//! host itself says; exit statuses are checked. The subcommands that change the machine
//! (shutdown, suspend, vcpus on/off, freeze, time set, password, fstrim) run in the VM suite.

mod common;

use common::*;
use serde_json::Value;

/// The whole safe set against one agent.
fn every_safe_subcommand(agent: &Agent) {
    let name = agent.name;

    // ping, human and JSON; global options after the subcommand work too.
    assert!(agent.qga(&["ping"]).ok().contains("answers"), "{name}");
    let socket = agent.socket.to_str().expect("UTF-8");
    let after = qga(&["ping", "--json", "-s", socket, "--timeout", "5"], None);
    assert_eq!(after.ok().trim(), "{}", "{name}");

    // info: the version and the command table with enabled flags.
    let info = agent.json(&["info"]);
    assert_eq!(info["version"], "10.0.2", "{name}");
    let commands = info["supported_commands"].as_array().expect("command list");
    let ping = commands
        .iter()
        .find(|c| c["name"] == "guest-ping")
        .expect("guest-ping listed");
    assert_eq!(ping["enabled"], true);
    let text = agent.qga(&["info"]).ok().to_owned();
    assert!(text.starts_with("version 10.0.2 ("), "{name}: {text}");
    assert!(
        text.contains("guest-file-read") && text.contains("ENABLED"),
        "{text}"
    );

    // os: the host's kernel, since the "guest" is this machine.
    let os = agent.json(&["os"]);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    assert_eq!(os["kernel-release"], release.trim(), "{name}");
    assert!(agent.qga(&["os"]).ok().contains(release.trim()));

    // time: the guest clock is the host clock here.
    let time = agent.json(&["time"]);
    let (guest, host) = (time["time"].as_i64(), time["host-time"].as_i64());
    let skew = guest.zip(host).map(|(g, h)| (g - h).abs()).expect("times");
    assert!(skew < 5_000_000_000, "{name}: skew {skew} ns");
    assert!(agent.qga(&["time"]).ok().contains(" UTC (guest - host: "));

    // hostname.
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(agent.json(&["hostname"])["host-name"], host_name.trim());
    assert_eq!(agent.qga(&["hostname"]).ok().trim(), host_name.trim());

    // timezone: an offset in seconds, shown as UTC+hh:mm.
    let tz = agent.json(&["timezone"]);
    assert!(tz["offset"].is_i64(), "{name}: {tz}");
    assert!(agent.qga(&["timezone"]).ok().contains("(UTC"));

    // users: a list (often empty in a container); the table has its header.
    assert!(agent.json(&["users"]).is_array());
    assert!(agent.qga(&["users"]).ok().contains("USER"));

    // load: three non-negative numbers.
    let load = agent.json(&["load"]);
    for key in ["load1m", "load5m", "load15m"] {
        assert!(
            load[key].as_f64().is_some_and(|v| v >= 0.0),
            "{name}: {load}"
        );
    }
    assert_eq!(agent.qga(&["load"]).ok().split_whitespace().count(), 3);

    // interfaces: the loopback with 127.0.0.1.
    let ifaces = agent.json(&["interfaces"]);
    let lo = ifaces
        .as_array()
        .and_then(|l| l.iter().find(|i| i["name"] == "lo"))
        .unwrap_or_else(|| panic!("{name}: no lo in {ifaces}"));
    assert!(lo["ip-addresses"].to_string().contains("127.0.0.1"));
    let table = agent.qga(&["interfaces"]).ok().to_owned();
    assert!(table.contains("127.0.0.1/8"), "{table}");

    // routes: every route names its interface; the table lists the same count.
    let routes = agent.json(&["routes"]);
    let routes = routes.as_array().expect("route list");
    assert!(routes.iter().all(|r| r["iface"].is_string()));
    let lines = agent.qga(&["routes"]).ok().lines().count();
    assert_eq!(
        lines,
        routes.len() + 1,
        "{name}: header + one line per route"
    );

    // fsinfo: the root filesystem is there, with its type.
    let fss = agent.json(&["fsinfo"]);
    let root = fss
        .as_array()
        .and_then(|l| l.iter().find(|f| f["mountpoint"] == "/"))
        .unwrap_or_else(|| panic!("{name}: no / in {fss}"));
    assert!(root["type"].is_string());
    assert!(agent.qga(&["fsinfo"]).ok().contains("MOUNTPOINT"));

    // disks: a list of named devices.
    let disks = agent.json(&["disks"]);
    assert!(disks
        .as_array()
        .expect("disk list")
        .iter()
        .all(|d| d["name"].is_string()));
    agent.qga(&["disks"]).ok();

    // vcpus: as many as the host has present, the summary line agrees.
    let cpus = agent.json(&["vcpus"]);
    let cpus = cpus.as_array().expect("cpu list");
    let online = cpus.iter().filter(|c| c["online"] == true).count();
    assert!(online >= 1, "{name}");
    let text = agent.qga(&["vcpus"]).ok().to_owned();
    assert!(
        text.starts_with(&format!("{online} of {} online", cpus.len())),
        "{text}"
    );

    // memory-blocks: a block size and the blocks.
    let blocks = agent.json(&["memory-blocks"]);
    assert!(
        blocks["block-size"].as_u64().is_some_and(|s| s > 0),
        "{blocks}"
    );
    assert!(blocks["blocks"].as_array().is_some_and(|b| !b.is_empty()));
    assert!(agent
        .qga(&["memory-blocks"])
        .ok()
        .contains(" blocks online, "));

    // stats: one row per CPU of /proc/stat, disks with major:minor.
    let stats = agent.json(&["stats"]);
    let cpu_lines = std::fs::read_to_string("/proc/stat")
        .expect("/proc/stat")
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(
        stats["cpu"].as_array().map(Vec::len),
        Some(cpu_lines),
        "{name}"
    );
    assert!(stats["disk"].is_array());
    assert!(agent.qga(&["stats"]).ok().contains("IOWAIT"));

    // fsfreeze-status: nothing is frozen on the host.
    assert_eq!(agent.json(&["fsfreeze-status"]), "thawed");
    assert_eq!(agent.qga(&["fsfreeze-status"]).ok().trim(), "thawed");

    // exec: output and exit status passed through, signals as 128+n, env and stdin.
    let run = agent.qga(&[
        "exec",
        "--",
        "/bin/sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(run.code, 3, "{name}: {run:?}");
    assert_eq!(run.stdout, "out\n");
    assert_eq!(run.stderr, "err\n");
    let killed = agent.qga(&["exec", "--", "/bin/sh", "-c", "kill -9 $$"]);
    assert_eq!(killed.code, 128 + 9, "{name}: {killed:?}");
    let piped = agent.qga_input(
        &[
            "exec",
            "--stdin",
            "-e",
            "GREETING=hello",
            "--",
            "/bin/sh",
            "-c",
            "cat; echo $GREETING",
        ],
        b"from stdin\n",
    );
    assert_eq!(piped.ok(), "from stdin\nhello\n", "{name}");
    let json = agent.json(&["exec", "--", "/bin/echo", "x"]);
    assert_eq!(json["exitcode"], 0);
    assert_eq!(json["out-data"], "eAo=");
    assert!(json["pid"].is_i64());

    // cat: the bytes of a file, unchanged.
    let cat = agent.qga(&["cat", "/proc/sys/kernel/hostname"]);
    assert_eq!(cat.ok(), host_name, "{name}");
    // A sysfs file, whose size (4096) is not its length.
    let online = "/sys/devices/system/cpu/online";
    let cat = agent.qga(&["cat", online]);
    let want = std::fs::read_to_string(online).expect("sysfs cpu/online");
    assert_eq!(cat.ok(), want, "{name}");

    // call: a raw command with checked arguments.
    let time = agent.qga(&["--json", "call", "guest-get-time"]);
    assert!(time.ok().trim().parse::<i64>().is_ok(), "{time:?}");
    let host = agent.json(&["call", "guest-get-host-name", "{}"]);
    assert_eq!(host["host-name"], host_name.trim());
}

#[test]
fn our_agent_every_safe_subcommand() {
    every_safe_subcommand(&Agent::ours(&[]));
}

#[test]
fn qemu_ga_every_safe_subcommand() {
    if let Some(agent) = Agent::qemu(&[]) {
        every_safe_subcommand(&agent);
    }
}

/// put then get of 64 MiB of random bytes gives them back unchanged; the JSON summary counts
/// them and the remote file has them.
fn put_get_round_trip(agent: &Agent) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = random_bytes(64 << 20, 0x9e37_79b9_7f4a_7c15);
    let local = dir.path().join("data.bin");
    let remote = dir.path().join("remote.bin");
    let back = dir.path().join("back.bin");
    std::fs::write(&local, &data).expect("write");
    let (local_s, remote_s, back_s) = (
        local.to_str().expect("UTF-8"),
        remote.to_str().expect("UTF-8"),
        back.to_str().expect("UTF-8"),
    );
    let put = agent.json(&["--timeout", "60", "put", local_s, remote_s]);
    assert_eq!(put["bytes"], 64 << 20, "{}", agent.name);
    assert!(put["mb-per-s"].as_f64().is_some_and(|r| r > 0.0));
    assert!(
        std::fs::read(&remote).expect("remote file") == data,
        "{}: put",
        agent.name
    );
    let get = agent.qga(&["--timeout", "60", "get", remote_s, back_s]);
    let summary = get.ok();
    assert!(
        summary.starts_with(&format!("get {remote_s} -> {back_s}: 64.0 MiB in "))
            && summary.contains(" MB/s)"),
        "{summary}"
    );
    assert!(
        std::fs::read(&back).expect("copy") == data,
        "{}: get",
        agent.name
    );
}

#[test]
fn our_agent_put_get_64_mib() {
    put_get_round_trip(&Agent::ours(&[]));
}

#[test]
fn qemu_ga_put_get_64_mib() {
    if let Some(agent) = Agent::qemu(&[]) {
        put_get_round_trip(&agent);
    }
}

/// Bad use: one `qga: ...` line and a non-zero status, for each way things go wrong.
fn bad_use(agent: &Agent, blocked: &Agent) {
    let name = agent.name;
    let dir = tempfile::tempdir().expect("temp dir");

    // No such socket.
    let missing = dir.path().join("missing.sock");
    let run = qga(&["-s", missing.to_str().expect("UTF-8"), "ping"], None);
    assert!(run.one_line_error().contains("no such socket"), "{run:?}");

    // A socket file nobody listens on (its listener is gone).
    let dead = dir.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).expect("bind"));
    assert!(!listening(&dead));
    let run = qga(&["-s", dead.to_str().expect("UTF-8"), "ping"], None);
    assert!(
        run.one_line_error().contains("nobody is listening"),
        "{run:?}"
    );

    // A socket that accepts but never answers (a VM whose guest runs no agent): the whole
    // handshake is bounded by --timeout.
    let mute = dir.path().join("mute.sock");
    let listener = std::os::unix::net::UnixListener::bind(&mute).expect("bind");
    let started = std::time::Instant::now();
    let run = qga(
        &[
            "-s",
            mute.to_str().expect("UTF-8"),
            "--timeout",
            "1",
            "ping",
        ],
        None,
    );
    let took = started.elapsed();
    assert!(
        run.one_line_error().contains("did not answer within 1 s"),
        "{run:?}"
    );
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    drop(listener);

    // A command the agent has disabled.
    let run = blocked.qga(&["exec", "--", "/bin/true"]);
    let line = run.one_line_error();
    assert!(
        line.contains("guest-exec") && line.contains("disabled"),
        "{name}: {line}"
    );
    let run = blocked.qga(&["hostname"]);
    run.ok();

    // A remote file that is not there, for cat and get (which leaves no local file).
    let run = agent.qga(&["cat", "/nonexistent/qga-test"]);
    assert!(
        run.one_line_error().contains("No such file"),
        "{name}: {run:?}"
    );
    let local = dir.path().join("never");
    let run = agent.qga(&[
        "get",
        "/nonexistent/qga-test",
        local.to_str().expect("UTF-8"),
    ]);
    run.one_line_error();
    assert!(!local.exists());

    // A timeout: a program that outlives --timeout.
    let run = agent.qga(&["--timeout", "1", "exec", "--", "/bin/sleep", "5"]);
    assert!(
        run.one_line_error().contains("still running"),
        "{name}: {run:?}"
    );

    // Arguments the schema rejects are caught before sending (exit 2), naming the member.
    let run = agent.qga(&["call", "guest-file-read", r#"{"handle": "one"}"#]);
    let line = run.one_line_error();
    assert_eq!(run.code, 2);
    assert!(
        line.contains("'handle'") && line.contains("integer"),
        "{line}"
    );
    let run = agent.qga(&["call", "guest-exec", "{}"]);
    assert!(run.one_line_error().contains("'path'"), "{run:?}");
    let run = agent.qga(&["call", "guest-no-such-command"]);
    assert!(run.one_line_error().contains("not been found"), "{run:?}");

    // A password for a user that does not exist: read from stdin, refused by the guest.
    let run = agent.qga_input(&["password", "qga-no-such-user"], b"secret\n");
    run.one_line_error();

    // freeze's hold time is --hold; --timeout alone (once the hold time) is refused before
    // anything is frozen, and so is a hold that is not positive.
    for args in [
        &["--timeout", "2", "freeze"][..],
        &["freeze", "--timeout", "2"],
        &["freeze", "--hold", "0"],
    ] {
        let run = agent.qga(args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.one_line_error().contains("--hold"), "{args:?}: {run:?}");
    }
    assert_eq!(agent.json(&["fsfreeze-status"]), "thawed");

    // No target at all.
    let run = qga(&["ping"], None);
    assert_eq!(run.code, 2);
    assert!(run.one_line_error().contains("-s PATH"), "{run:?}");
}

#[test]
fn our_agent_bad_use() {
    bad_use(&Agent::ours(&[]), &Agent::ours(&["-b", "guest-exec"]));
}

#[test]
fn qemu_ga_bad_use() {
    if let (Some(agent), Some(blocked)) = (Agent::qemu(&[]), Agent::qemu(&["-b", "guest-exec"])) {
        bad_use(&agent, &blocked);
    }
}

/// Several targets: one row (or JSON line) each, the exit status says whether all succeeded.
#[test]
fn several_sockets_one_row_each() {
    let first = Agent::ours(&[]);
    let second = match Agent::qemu(&[]) {
        Some(agent) => agent,
        None => Agent::ours(&[]),
    };
    let (a, b) = (
        first.socket.to_str().expect("UTF-8"),
        second.socket.to_str().expect("UTF-8"),
    );
    let run = qga(&["-s", a, "-s", b, "--json", "hostname"], None);
    let lines: Vec<Value> = run
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["target"], a);
    assert_eq!(lines[1]["target"], b);
    assert!(lines.iter().all(|l| l["return"]["host-name"].is_string()));

    let gone = first.dir.path().join("gone.sock");
    let gone = gone.to_str().expect("UTF-8");
    let run = qga(&["-s", a, "-s", gone, "ping"], None);
    assert_eq!(run.code, 1, "{run:?}");
    let rows: Vec<&str> = run.stdout.lines().filter(|l| l.contains(".sock")).collect();
    assert_eq!(rows.len(), 2, "{run:?}");
    assert!(rows[0].contains(" ok "), "{run:?}");
    assert!(
        rows[1].contains("error") && rows[1].contains("no such socket"),
        "{run:?}"
    );

    let run = qga(&["-s", a, "-s", b, "get", "/etc/hostname", "/tmp/x"], None);
    assert!(
        run.one_line_error().contains("one agent at a time"),
        "{run:?}"
    );
}

/// ssh-keys list/add/remove on root, restoring root's authorized_keys afterwards. Serial:
/// both agents touch the same file.
#[test]
fn ssh_keys_add_list_remove() {
    let Some(home) = std::env::var_os("HOME").filter(|_| nix_is_root()) else {
        eprintln!("skipping: ssh-keys needs root (it edits root's authorized_keys)");
        return;
    };
    let file = std::path::Path::new(&home).join(".ssh/authorized_keys");
    let saved = std::fs::read(&file).ok();
    let key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIQGAoKuTestKeyOfQgaCliNotUsableAnywhere0 qga-cli-test";
    let mut agents = vec![Agent::ours(&[])];
    agents.extend(Agent::qemu(&[]));
    for agent in &agents {
        let added = agent.qga(&["ssh-keys", "add", "root", key]);
        assert!(
            added.ok().contains("1 keys added"),
            "{}: {added:?}",
            agent.name
        );
        let listed = agent.json(&["ssh-keys", "list", "root"]);
        assert!(
            listed["keys"].to_string().contains("qga-cli-test"),
            "{listed}"
        );
        assert!(agent.qga(&["ssh-keys", "list", "root"]).ok().contains(key));
        let removed = agent.qga_input(
            &["ssh-keys", "remove", "root"],
            format!("{key}\n").as_bytes(),
        );
        removed.ok();
        let listed = agent.json(&["ssh-keys", "list", "root"]);
        assert!(
            !listed["keys"].to_string().contains("qga-cli-test"),
            "{listed}"
        );
    }
    match saved {
        Some(content) => std::fs::write(&file, content).expect("restore authorized_keys"),
        None => {
            let _ = std::fs::remove_file(&file);
        }
    }
}

fn nix_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Completions and the man page come out of the hidden generate-assets subcommand.
#[test]
fn completions_and_man_page() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = qga(
        &["generate-assets", dir.path().to_str().expect("UTF-8")],
        None,
    );
    run.ok();
    for (file, needle) in [
        ("qga.bash", "fsfreeze-status"),
        ("_qga", "memory-blocks"),
        ("qga.fish", "ssh-keys"),
        ("qga.1", ".TH qga 1"),
    ] {
        let text = std::fs::read_to_string(dir.path().join(file)).expect(file);
        assert!(text.contains(needle), "{file} lacks {needle}");
    }
}
