//! The end-to-end checks. Each drives one agent feature through the host socket and compares
//! the result with what the VM was set up with ([`guest`]), so any agent that claims to be a
//! drop-in for qemu-ga 10.0.2 must pass the same list. Add a check by writing a
//! [`CheckFn`] and listing it in [`CHECKS`].

use super::kernel::Kernel;
use super::machine::Vm;
use super::qga::{QgaConnection, Reply};
use super::{base64, guest};
use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What a check can reach: the agent, the VM it runs in, and the guest's kernel.
pub struct Ctx<'a> {
    pub agent: &'a mut QgaConnection,
    pub vm: &'a mut Vm,
    pub kernel: &'a Kernel,
}

/// A check: drives the agent and fails with a message saying what differed.
pub type CheckFn = fn(&mut Ctx) -> Result<()>;

/// All checks as (name, function), in the order they run. `guest-shutdown` ends the VM, so
/// it comes last.
pub const CHECKS: &[(&str, CheckFn)] = &[
    ("guest-sync", sync),
    ("guest-ping", ping),
    ("guest-info", info),
    ("unknown command", unknown_command),
    ("guest-get-host-name", host_name),
    ("guest-get-osinfo", osinfo),
    ("guest-get-time", get_time),
    ("guest-get-timezone", timezone),
    ("guest-get-load", load),
    ("guest-file-* read", file_read),
    ("guest-file-* write/seek/flush", file_write),
    ("guest-exec", exec),
    ("guest-set-time", set_time),
    ("guest-network-get-interfaces", network),
    ("guest-network-get-route", routes),
    ("guest-get-users", users),
    ("guest-get-vcpus", vcpus),
    ("guest-get-cpustats", cpustats),
    ("guest-get-memory-block*", memory_blocks),
    ("guest-get-disks", disks),
    ("guest-get-diskstats", diskstats),
    ("guest-ssh-*-authorized-keys", ssh_keys),
    ("guest-set-user-password", user_password),
    ("guest-get-fsinfo", fsinfo),
    ("guest-fstrim", fstrim),
    ("guest-fsfreeze-*", fsfreeze),
    ("guest-shutdown", shutdown),
];

/// The outcome of one check.
pub struct Outcome {
    pub name: &'static str,
    pub result: Result<()>,
    pub took: Duration,
}

/// Runs every check (a failure does not stop the rest) and prints one line per check.
pub fn run_all(ctx: &mut Ctx) -> Vec<Outcome> {
    CHECKS
        .iter()
        .map(|&(name, check)| {
            let start = Instant::now();
            let result = check(ctx);
            let took = start.elapsed();
            match &result {
                Ok(()) => eprintln!("  ok    {name} ({} ms)", took.as_millis()),
                Err(err) => eprintln!("  FAIL  {name}: {err:#}"),
            }
            Outcome { name, result, took }
        })
        .collect()
}

fn sync(ctx: &mut Ctx) -> Result<()> {
    let id = 1_234_567_890_123_i64;
    let got = ctx.agent.call("guest-sync", Some(json!({"id": id})))?;
    ensure!(got == json!(id), "guest-sync echoed {got}, sent {id}");
    Ok(())
}

fn ping(ctx: &mut Ctx) -> Result<()> {
    let got = ctx.agent.call("guest-ping", None)?;
    ensure!(got == json!({}), "guest-ping returned {got}");
    Ok(())
}

fn info(ctx: &mut Ctx) -> Result<()> {
    let got = ctx.agent.call("guest-info", None)?;
    ensure!(got["version"] == "10.0.2", "version is {}", got["version"]);
    let commands = got["supported_commands"]
        .as_array()
        .context("no supported_commands")?;
    let find = |name: &str| commands.iter().find(|c| c["name"] == name);
    let ping = find("guest-ping").context("guest-ping not listed")?;
    ensure!(
        ping["enabled"] == true && ping["success-response"] == true,
        "guest-ping entry {ping}"
    );
    let shutdown = find("guest-shutdown").context("guest-shutdown not listed")?;
    ensure!(
        shutdown["success-response"] == false,
        "guest-shutdown entry {shutdown}"
    );
    Ok(())
}

fn unknown_command(ctx: &mut Ctx) -> Result<()> {
    match ctx.agent.execute("guest-no-such-command", None)? {
        Reply::Error { class, desc } => {
            ensure!(class == "CommandNotFound", "error class {class}");
            ensure!(
                desc == "The command guest-no-such-command has not been found",
                "error text {desc:?}"
            );
            Ok(())
        }
        Reply::Return(value) => bail!("an unknown command returned {value}"),
    }
}

fn host_name(ctx: &mut Ctx) -> Result<()> {
    let got = ctx.agent.call("guest-get-host-name", None)?;
    ensure!(got == json!({"host-name": guest::HOSTNAME}), "got {got}");
    Ok(())
}

fn osinfo(ctx: &mut Ctx) -> Result<()> {
    let got = ctx.agent.call("guest-get-osinfo", None)?;
    for (member, expected) in guest::OS_INFO {
        ensure!(
            got[member] == *expected,
            "{member} is {}, expected {expected:?}",
            got[member]
        );
    }
    ensure!(
        got["kernel-release"] == ctx.kernel.release.as_str(),
        "kernel-release {}",
        got["kernel-release"]
    );
    let version = got["kernel-version"].as_str().unwrap_or_default();
    ensure!(
        version.contains(&ctx.kernel.package_version),
        "kernel-version {version:?} does not name package version {}",
        ctx.kernel.package_version
    );
    ensure!(got["machine"] == "x86_64", "machine {}", got["machine"]);
    Ok(())
}

fn host_now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Asserts the guest clock reads `expected_ns` give or take `slack`.
fn expect_guest_time(agent: &mut QgaConnection, expected_ns: i64, slack: Duration) -> Result<()> {
    let got = agent.call("guest-get-time", None)?;
    let got = got
        .as_i64()
        .with_context(|| format!("guest-get-time returned {got}"))?;
    let off = (got - expected_ns).abs();
    ensure!(
        off <= slack.as_nanos() as i64,
        "guest time {got} is {:.1} s away from the expected {expected_ns}",
        off as f64 / 1e9
    );
    Ok(())
}

fn get_time(ctx: &mut Ctx) -> Result<()> {
    // The guest clock starts from the RTC, which QEMU sets from the host clock.
    expect_guest_time(ctx.agent, host_now_ns(), Duration::from_secs(30))
}

fn set_time(ctx: &mut Ctx) -> Result<()> {
    let hour = 3600 * 1_000_000_000_i64;
    let slack = Duration::from_secs(15);
    // With a time: the system clock is set, then `hwclock -w` copies it to the RTC.
    let ahead = host_now_ns() + hour;
    ensure_empty(
        ctx.agent
            .call("guest-set-time", Some(json!({"time": ahead})))?,
    )?;
    expect_guest_time(ctx.agent, host_now_ns() + hour, slack)?;
    // Put only the system clock back (busybox date), leaving the RTC an hour ahead...
    let now_s = host_now_ns() / 1_000_000_000;
    let (code, _) = exec_wait(ctx.agent, "/bin/date", &["-u", "-s", &format!("@{now_s}")])?;
    ensure!(code == 0, "date -s exited with {code}");
    expect_guest_time(ctx.agent, host_now_ns(), slack)?;
    // ...so that without a time (`hwclock -s`) the clock jumps to the RTC's hour-ahead time.
    ensure_empty(ctx.agent.call("guest-set-time", None)?)?;
    expect_guest_time(ctx.agent, host_now_ns() + hour, slack)?;
    // Restore both clocks.
    ensure_empty(
        ctx.agent
            .call("guest-set-time", Some(json!({"time": host_now_ns()})))?,
    )?;
    expect_guest_time(ctx.agent, host_now_ns(), slack)?;
    // 2100-01-01 is past the accepted 1970..2069 range.
    let year_2100 = 4_102_444_800 * 1_000_000_000_i64;
    match ctx
        .agent
        .execute("guest-set-time", Some(json!({"time": year_2100})))?
    {
        Reply::Error { desc, .. } => ensure!(desc.starts_with("Invalid time"), "error {desc:?}"),
        Reply::Return(v) => bail!("setting the time to 2100 returned {v}"),
    }
    expect_guest_time(ctx.agent, host_now_ns(), slack)?;
    Ok(())
}

fn ensure_empty(value: Value) -> Result<()> {
    ensure!(value == json!({}), "expected {{}}, got {value}");
    Ok(())
}

fn timezone(ctx: &mut Ctx) -> Result<()> {
    // No /etc/localtime and no TZ in the guest: UTC.
    let got = ctx.agent.call("guest-get-timezone", None)?;
    ensure!(got == json!({"zone": "UTC", "offset": 0}), "got {got}");
    Ok(())
}

fn load(ctx: &mut Ctx) -> Result<()> {
    let parse = |text: &[u8]| -> Result<Vec<f64>> {
        String::from_utf8_lossy(text)
            .split_whitespace()
            .take(3)
            .map(|w| {
                w.parse::<f64>()
                    .with_context(|| format!("bad /proc/loadavg field {w:?}"))
            })
            .collect()
    };
    let before = parse(&read_file(ctx.agent, "/proc/loadavg")?)?;
    let got = ctx.agent.call("guest-get-load", None)?;
    let after = parse(&read_file(ctx.agent, "/proc/loadavg")?)?;
    for (i, key) in ["load1m", "load5m", "load15m"].iter().enumerate() {
        let value = got[key]
            .as_f64()
            .with_context(|| format!("{key} missing in {got}"))?;
        let near = |x: f64| (value - x).abs() < 0.01;
        ensure!(
            near(before[i]) || near(after[i]),
            "{key} {value} but /proc/loadavg said {} / {}",
            before[i],
            after[i]
        );
    }
    Ok(())
}

/// Opens `path` read-only, reads it to the end in small pieces, closes it.
fn read_file(agent: &mut QgaConnection, path: &str) -> Result<Vec<u8>> {
    let handle = agent.call("guest-file-open", Some(json!({"path": path})))?;
    ensure!(handle.is_i64(), "guest-file-open returned {handle}");
    let mut data = Vec::new();
    loop {
        let chunk = agent.call(
            "guest-file-read",
            Some(json!({"handle": handle, "count": 7})),
        )?;
        let bytes = base64::decode(chunk["buf-b64"].as_str().context("no buf-b64")?)?;
        ensure!(
            chunk["count"] == bytes.len(),
            "count {} for {} bytes",
            chunk["count"],
            bytes.len()
        );
        data.extend(bytes);
        if chunk["eof"] == true {
            break;
        }
        ensure!(data.len() < 1 << 20, "{path} never reached eof");
    }
    ensure_empty(agent.call("guest-file-close", Some(json!({"handle": handle})))?)?;
    Ok(data)
}

fn file_read(ctx: &mut Ctx) -> Result<()> {
    for (path, expected) in guest::DATA_FILES {
        let path = format!("{}/{path}", guest::DATA_MOUNT);
        let got = read_file(ctx.agent, &path)?;
        ensure!(got == *expected, "{path} read as {got:?}");
    }
    let hostname = read_file(ctx.agent, "/etc/hostname")?;
    ensure!(
        hostname == format!("{}\n", guest::HOSTNAME).as_bytes(),
        "/etc/hostname read as {hostname:?}"
    );
    match ctx
        .agent
        .execute("guest-file-open", Some(json!({"path": "/mnt/data/absent"})))?
    {
        Reply::Error { class, .. } => ensure!(class == "GenericError", "class {class}"),
        Reply::Return(v) => bail!("opening a missing file returned {v}"),
    }
    Ok(())
}

fn file_write(ctx: &mut Ctx) -> Result<()> {
    let path = format!("{}/written-by-host.txt", guest::DATA_MOUNT);
    let agent = &mut *ctx.agent;
    let handle = agent.call("guest-file-open", Some(json!({"path": path, "mode": "w+"})))?;
    let text = b"first line\nsecond line\n";
    let wrote = agent.call(
        "guest-file-write",
        Some(json!({"handle": handle, "buf-b64": base64::encode(text)})),
    )?;
    ensure!(wrote["count"] == text.len(), "write returned {wrote}");
    let seek = agent.call(
        "guest-file-seek",
        Some(json!({"handle": handle, "offset": 11, "whence": "set"})),
    )?;
    ensure!(seek["position"] == 11, "seek returned {seek}");
    let read = agent.call(
        "guest-file-read",
        Some(json!({"handle": handle, "count": 100})),
    )?;
    let rest = base64::decode(read["buf-b64"].as_str().context("no buf-b64")?)?;
    ensure!(
        rest == b"second line\n" && read["eof"] == true,
        "read after seek returned {read}"
    );
    let end = agent.call(
        "guest-file-seek",
        Some(json!({"handle": handle, "offset": -5, "whence": "end"})),
    )?;
    ensure!(
        end["position"] == text.len() - 5,
        "seek from end returned {end}"
    );
    ensure_empty(agent.call("guest-file-flush", Some(json!({"handle": handle})))?)?;
    ensure_empty(agent.call("guest-file-close", Some(json!({"handle": handle})))?)?;
    let back = read_file(agent, &path)?;
    ensure!(back == text, "re-read as {back:?}");
    match agent.execute("guest-file-read", Some(json!({"handle": handle})))? {
        Reply::Error { .. } => Ok(()),
        Reply::Return(v) => bail!("reading a closed handle returned {v}"),
    }
}

/// Runs a program through guest-exec and waits for it: (exit code, stdout).
fn exec_wait(agent: &mut QgaConnection, path: &str, args: &[&str]) -> Result<(i64, Vec<u8>)> {
    let started = agent.call(
        "guest-exec",
        Some(json!({"path": path, "arg": args, "capture-output": true})),
    )?;
    let pid = started["pid"]
        .as_i64()
        .with_context(|| format!("guest-exec returned {started}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = agent.call("guest-exec-status", Some(json!({"pid": pid})))?;
        if status["exited"] == true {
            let code = status["exitcode"]
                .as_i64()
                .with_context(|| format!("status {status}"))?;
            let out = match status["out-data"].as_str() {
                Some(text) => base64::decode(text)?,
                None => Vec::new(),
            };
            return Ok((code, out));
        }
        ensure!(Instant::now() < deadline, "{path} still running: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn exec(ctx: &mut Ctx) -> Result<()> {
    let (code, out) = exec_wait(ctx.agent, "/bin/echo", &["hello", "from the guest"])?;
    ensure!(
        code == 0 && out == b"hello from the guest\n",
        "echo gave {code}, {out:?}"
    );
    let (code, out) = exec_wait(
        ctx.agent,
        "/bin/cat",
        &[&format!("{}/hello.txt", guest::DATA_MOUNT)],
    )?;
    ensure!(
        code == 0 && out == guest::DATA_FILES[0].1,
        "cat gave {code}, {out:?}"
    );
    let (code, _) = exec_wait(ctx.agent, "/bin/sh", &["-c", "exit 3"])?;
    ensure!(code == 3, "sh -c 'exit 3' gave {code}");
    Ok(())
}

fn network(ctx: &mut Ctx) -> Result<()> {
    let got = ctx.agent.call("guest-network-get-interfaces", None)?;
    let list = got
        .as_array()
        .with_context(|| format!("not a list: {got}"))?;
    let lo = list
        .iter()
        .find(|i| i["name"] == "lo")
        .context("no lo interface")?;
    let addresses = lo["ip-addresses"]
        .as_array()
        .context("lo has no addresses")?;
    let want = json!({"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8});
    ensure!(addresses.contains(&want), "lo addresses {addresses:?}");
    ensure!(
        lo["hardware-address"] == "00:00:00:00:00:00",
        "lo hardware address {}",
        lo["hardware-address"]
    );
    Ok(())
}

fn routes(ctx: &mut Ctx) -> Result<()> {
    // Only lo is up: no IPv4 routes, and the IPv6 host route for ::1 through lo.
    let got = ctx.agent.call("guest-network-get-route", None)?;
    let list = got
        .as_array()
        .with_context(|| format!("not a list: {got}"))?;
    ensure!(
        list.iter().all(|r| r["version"] == 6),
        "unexpected IPv4 routes in {got}"
    );
    let local = list
        .iter()
        .find(|r| r["destination"] == "::1")
        .with_context(|| format!("no route to ::1 in {got}"))?;
    ensure!(
        local["iface"] == "lo" && local["desprefixlen"] == "128",
        "route {local}"
    );
    Ok(())
}

fn users(ctx: &mut Ctx) -> Result<()> {
    // Nobody logs in: the guest has no utmp records.
    let got = ctx.agent.call("guest-get-users", None)?;
    ensure!(got == json!([]), "got {got}");
    Ok(())
}

fn vcpus(ctx: &mut Ctx) -> Result<()> {
    // One vCPU (-smp 1); cpu0 has no `online` file, so it cannot be offlined.
    let got = ctx.agent.call("guest-get-vcpus", None)?;
    let want = json!([{"logical-id": 0, "online": true, "can-offline": false}]);
    ensure!(got == want, "got {got}");
    Ok(())
}

fn cpustats(ctx: &mut Ctx) -> Result<()> {
    let got = ctx.agent.call("guest-get-cpustats", None)?;
    let list = got
        .as_array()
        .with_context(|| format!("not a list: {got}"))?;
    ensure!(list.len() == 1, "expected one CPU, got {got}");
    let cpu = &list[0];
    ensure!(cpu["type"] == "linux" && cpu["cpu"] == 0, "entry {cpu}");
    let busy = cpu["user"].as_u64().unwrap_or(0) + cpu["system"].as_u64().unwrap_or(0);
    ensure!(busy > 0, "no user or system time in {cpu}");
    Ok(())
}

fn memory_blocks(ctx: &mut Ctx) -> Result<()> {
    let sysfs = read_file(ctx.agent, "/sys/devices/system/memory/block_size_bytes")?;
    let text = String::from_utf8_lossy(&sysfs);
    let size =
        u64::from_str_radix(text.trim(), 16).with_context(|| format!("block size {text:?}"))?;
    let info = ctx.agent.call("guest-get-memory-block-info", None)?;
    ensure!(
        info == json!({"size": size}),
        "got {info}, sysfs says {size}"
    );
    // All of the guest's RAM lies below the PCI hole: blocks 0..n are present and online.
    let count = (u64::from(ctx.vm.memory_mib()) << 20) / size;
    let blocks = ctx.agent.call("guest-get-memory-blocks", None)?;
    let list = blocks
        .as_array()
        .with_context(|| format!("not a list: {blocks}"))?;
    let mut indexes: Vec<u64> = list
        .iter()
        .filter_map(|b| b["phys-index"].as_u64())
        .collect();
    indexes.sort_unstable();
    ensure!(indexes == (0..count).collect::<Vec<_>>(), "blocks {blocks}");
    ensure!(
        list.iter().all(|b| b["online"] == true),
        "offline blocks in {blocks}"
    );
    Ok(())
}

fn disks(ctx: &mut Ctx) -> Result<()> {
    let got = ctx.agent.call("guest-get-disks", None)?;
    let list = got
        .as_array()
        .with_context(|| format!("not a list: {got}"))?;
    let disk = list
        .iter()
        .find(|d| d["name"] == guest::DATA_DEVICE)
        .with_context(|| format!("no {} in {got}", guest::DATA_DEVICE))?;
    ensure!(disk["partition"] == false, "entry {disk}");
    ensure!(
        disk["address"]["bus-type"] == "virtio",
        "address {}",
        disk["address"]
    );
    Ok(())
}

fn diskstats(ctx: &mut Ctx) -> Result<()> {
    let dev = read_file(
        ctx.agent,
        &format!("/sys/block/{}/dev", guest::DATA_DEVICE_NAME),
    )?;
    let dev = String::from_utf8_lossy(&dev);
    let (major, minor) = dev.trim().split_once(':').context("bad sysfs dev")?;
    let (major, minor): (u64, u64) = (major.parse()?, minor.parse()?);
    let got = ctx.agent.call("guest-get-diskstats", None)?;
    let list = got
        .as_array()
        .with_context(|| format!("not a list: {got}"))?;
    let entry = list
        .iter()
        .find(|d| d["name"] == guest::DATA_DEVICE_NAME)
        .with_context(|| format!("no {} in {got}", guest::DATA_DEVICE_NAME))?;
    ensure!(
        entry["major"] == major && entry["minor"] == minor,
        "entry {entry}, sysfs {dev}"
    );
    ensure!(
        entry["stats"]["read-ios"].as_u64().unwrap_or(0) > 0,
        "no reads counted: {entry}"
    );
    Ok(())
}

fn ssh_keys(ctx: &mut Ctx) -> Result<()> {
    let agent = &mut *ctx.agent;
    let (one, two, three) = (
        "ssh-ed25519 AAAAone one@host",
        "ssh-rsa AAAAtwo two@host",
        "ssh-ed25519 AAAAthree",
    );
    let file = "/root/.ssh/authorized_keys";
    ensure_empty(agent.call(
        "guest-ssh-add-authorized-keys",
        Some(json!({"username": "root", "keys": [one, two]})),
    )?)?;
    // Adding a key that is already there changes nothing.
    ensure_empty(agent.call(
        "guest-ssh-add-authorized-keys",
        Some(json!({"username": "root", "keys": [one]})),
    )?)?;
    let content = read_file(agent, file)?;
    ensure!(
        content == format!("{one}\n{two}").as_bytes(),
        "{file} holds {:?}",
        String::from_utf8_lossy(&content)
    );
    let got = agent.call(
        "guest-ssh-get-authorized-keys",
        Some(json!({"username": "root"})),
    )?;
    ensure!(got == json!({"keys": [two, one]}), "get returned {got}");
    ensure_empty(agent.call(
        "guest-ssh-remove-authorized-keys",
        Some(json!({"username": "root", "keys": [one]})),
    )?)?;
    let got = agent.call(
        "guest-ssh-get-authorized-keys",
        Some(json!({"username": "root"})),
    )?;
    ensure!(got == json!({"keys": [two]}), "after remove: {got}");
    let args = json!({"username": "root", "keys": [three], "reset": true});
    ensure_empty(agent.call("guest-ssh-add-authorized-keys", Some(args))?)?;
    let got = agent.call(
        "guest-ssh-get-authorized-keys",
        Some(json!({"username": "root"})),
    )?;
    ensure!(got == json!({"keys": [three]}), "after reset: {got}");
    match agent.execute(
        "guest-ssh-get-authorized-keys",
        Some(json!({"username": "nosuchuser"})),
    )? {
        Reply::Error { desc, .. } => ensure!(desc.contains("nosuchuser"), "error {desc:?}"),
        Reply::Return(v) => bail!("an unknown user returned {v}"),
    }
    Ok(())
}

/// root's password hash in the guest's /etc/shadow.
fn root_hash(agent: &mut QgaConnection) -> Result<String> {
    let shadow = String::from_utf8(read_file(agent, "/etc/shadow")?)?;
    let line = shadow
        .lines()
        .find(|l| l.starts_with("root:"))
        .context("no root in /etc/shadow")?;
    Ok(line.split(':').nth(1).unwrap_or_default().to_string())
}

fn user_password(ctx: &mut Ctx) -> Result<()> {
    let agent = &mut *ctx.agent;
    // A ready-made hash is stored as it is (`chpasswd -e`).
    let hash = "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.";
    let args =
        json!({"username": "root", "password": base64::encode(hash.as_bytes()), "crypted": true});
    ensure_empty(agent.call("guest-set-user-password", Some(args))?)?;
    let stored = root_hash(agent)?;
    ensure!(stored == hash, "stored hash {stored:?}");
    // A plain password is hashed in the guest: hashing it again with the stored salt must agree.
    let args =
        json!({"username": "root", "password": base64::encode(b"s3cret pass"), "crypted": false});
    ensure_empty(agent.call("guest-set-user-password", Some(args))?)?;
    let stored = root_hash(agent)?;
    let salt = stored
        .split('$')
        .nth(2)
        .with_context(|| format!("stored hash {stored:?}"))?;
    let (code, out) = exec_wait(
        agent,
        "/usr/bin/mkpasswd",
        &["-m", "sha512", "s3cret pass", salt],
    )?;
    ensure!(
        code == 0 && String::from_utf8_lossy(&out).trim() == stored,
        "rehash gave {code} {out:?}"
    );
    let args = json!({"username": "root", "password": base64::encode(b"a\nb"), "crypted": false});
    match agent.execute("guest-set-user-password", Some(args))? {
        Reply::Error { desc, .. } => {
            ensure!(desc.contains("forbidden characters"), "error {desc:?}")
        }
        Reply::Return(v) => bail!("a password with a newline returned {v}"),
    }
    Ok(())
}

fn fstrim(ctx: &mut Ctx) -> Result<()> {
    // virtio-blk passes discards to the raw image: the data disk trims.
    let got = ctx.agent.call("guest-fstrim", None)?;
    let paths = got["paths"]
        .as_array()
        .with_context(|| format!("no paths in {got}"))?;
    ensure!(paths.len() == 1, "expected only the data disk: {got}");
    let entry = &paths[0];
    ensure!(
        entry["path"] == guest::DATA_MOUNT && entry["minimum"] == 0,
        "entry {entry}"
    );
    ensure!(
        entry.get("error").is_none() && entry["trimmed"].is_u64(),
        "entry {entry}"
    );
    Ok(())
}

fn fsinfo(ctx: &mut Ctx) -> Result<()> {
    let got = ctx.agent.call("guest-get-fsinfo", None)?;
    let list = got
        .as_array()
        .with_context(|| format!("not a list: {got}"))?;
    ensure!(list.len() == 1, "expected only the data disk, got {got}");
    let fs = &list[0];
    ensure!(
        fs["mountpoint"] == guest::DATA_MOUNT,
        "mountpoint {}",
        fs["mountpoint"]
    );
    ensure!(fs["name"] == guest::DATA_DEVICE_NAME, "name {}", fs["name"]);
    ensure!(fs["type"] == "ext4", "type {}", fs["type"]);
    let total = fs["total-bytes"].as_u64().context("no total-bytes")?;
    let used = fs["used-bytes"].as_u64().context("no used-bytes")?;
    let size = guest::DATA_DISK_MIB << 20;
    ensure!(total > size / 2 && total <= size, "total-bytes {total}");
    ensure!(used > 0 && used < total, "used-bytes {used} of {total}");
    let disk = &fs["disk"][0];
    ensure!(disk["bus-type"] == "virtio", "disk {}", fs["disk"]);
    ensure!(
        disk["pci-controller"]["domain"] == 0,
        "pci-controller {}",
        disk["pci-controller"]
    );
    Ok(())
}

fn fsfreeze(ctx: &mut Ctx) -> Result<()> {
    let agent = &mut *ctx.agent;
    ensure!(
        agent.call("guest-fsfreeze-status", None)? == "thawed",
        "not thawed at start"
    );
    // Only the ext4 data disk is a block-device mount (the root is the initramfs).
    let frozen = agent.call("guest-fsfreeze-freeze", None)?;
    ensure!(frozen == 1, "froze {frozen} filesystems, expected 1");
    let status = agent.call("guest-fsfreeze-status", None)?;
    ensure!(status == "frozen", "status {status} after freeze");
    // While frozen, commands that are not freeze-safe are refused.
    match agent.execute("guest-file-open", Some(json!({"path": "/etc/hostname"})))? {
        Reply::Error { class, .. } => ensure!(class == "CommandNotFound", "class {class}"),
        Reply::Return(v) => bail!("guest-file-open while frozen returned {v}"),
    }
    let thawed = agent.call("guest-fsfreeze-thaw", None)?;
    ensure!(thawed == 1, "thawed {thawed} filesystems, expected 1");
    let status = agent.call("guest-fsfreeze-status", None)?;
    ensure!(status == "thawed", "status {status} after thaw");
    let frozen = agent.call(
        "guest-fsfreeze-freeze-list",
        Some(json!({"mountpoints": [guest::DATA_MOUNT]})),
    )?;
    ensure!(frozen == 1, "freeze-list froze {frozen}");
    let thawed = agent.call("guest-fsfreeze-thaw", None)?;
    ensure!(thawed == 1, "thaw after freeze-list thawed {thawed}");
    Ok(())
}

fn shutdown(ctx: &mut Ctx) -> Result<()> {
    ctx.agent.send("guest-shutdown", None)?;
    // Success has no reply; an error reply would say why it failed.
    if let Some(reply) = ctx
        .agent
        .try_read_reply(Duration::from_secs(2))
        .unwrap_or(None)
    {
        bail!("guest-shutdown replied {reply:?}");
    }
    let status = ctx.vm.wait_for_exit(Duration::from_secs(60))?;
    ensure!(status.success(), "QEMU exited with {status}");
    let console = ctx.vm.console();
    ensure!(
        console.contains("init: poweroff requested"),
        "the guest did not power off through /init"
    );
    Ok(())
}
