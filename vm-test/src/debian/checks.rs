//! The checks of the Debian suite: what a real distribution answers better than the busybox
//! image (systemd, udev, chpasswd, logins, os-release, NSS, the packaged hook).

use super::image::{GUEST_DEB, GUEST_QGA, HOOK_LOG, NSS_UID, NSS_USER, USER};
use crate::checks::{exec_wait, expect_error, read_text, shell, shell_detached, shell_ok};
use crate::machine::Vm;
use anyhow::{bail, ensure, Context, Result};
use qga_types::qapi_runtime::{base64, ErrorClass};
use qga_types::{
    Client, GuestExecArgs, GuestFsfreezeStatus, GuestSetUserPasswordArgs, GuestShutdownArgs,
    GuestSshAddAuthorizedKeysArgs, GuestSshGetAuthorizedKeysArgs, GuestSshRemoveAuthorizedKeysArgs,
};
use std::collections::BTreeMap;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// What the Debian checks reach.
pub struct DebCtx<'a> {
    pub client: Client<UnixStream>,
    pub vm: &'a mut Vm,
}

pub type DebCheck = fn(&mut DebCtx) -> Result<()>;

/// The checks, in order; the last one powers the guest off.
pub const CHECKS: &[(&str, DebCheck)] = &[
    ("started by systemd from the udev rule", started_by_udev),
    ("guest-get-osinfo (os-release)", osinfo),
    ("guest-get-users after a login", users),
    ("guest-set-user-password (chpasswd, /etc/shadow)", password),
    ("guest-ssh-* for a real user", ssh_keys),
    ("guest-ssh-* for an NSS-only user", ssh_keys_nss),
    ("guest-fsfreeze-* with the packaged hook", fsfreeze_hook),
    ("qga --vsock over the guest's vsock loopback", qga_vsock),
    ("restart by systemd after kill -9", restart_after_kill),
    ("dpkg purge, install, upgrade", purge_install_upgrade),
    ("guest-shutdown powers off", shutdown),
];

/// The vsock port of the second agent [`qga_vsock`] starts.
const VSOCK_PORT: u32 = 4242;

/// `qga --vsock 1:PORT` (ping, info, nobody listening) run in the guest against a second
/// qga-agent listening on vsock: the host's vsock has no loopback, Debian's kernel has
/// `vsock_loopback` (CID 1 is the local machine).
fn qga_vsock(ctx: &mut DebCtx) -> Result<()> {
    let client = &mut ctx.client;
    shell_ok(client, "modprobe vsock_loopback")?;
    // Output to files, so guest-exec's capture does not wait for the agent to end; no
    // config file (the packaged one names the virtio-serial port).
    shell_ok(
        client,
        &format!(
            "mkdir -p /run/qga-vsock
             QGA_CONF=/nonexistent setsid /usr/sbin/qga-agent -m vsock-listen \
             -p 1:{VSOCK_PORT} -t /run/qga-vsock -l /run/qga-vsock/log </dev/null >/dev/null 2>&1 &
             echo $! > /run/qga-vsock/pid"
        ),
    )?;
    let result = (|| -> Result<()> {
        let target = format!("1:{VSOCK_PORT}");
        // Until it listens (a few seconds under TCG at most).
        let ping = shell(
            client,
            &format!(
                "for i in $(seq 100); do {GUEST_QGA} --vsock {target} --timeout 5 ping && exit 0; \
                 sleep 0.1; done; exit 1"
            ),
        )?;
        ensure!(
            ping.exitcode == Some(0),
            "qga --vsock {target} ping: {ping:?}"
        );
        let info = shell_ok(client, &format!("{GUEST_QGA} --vsock {target} --json info"))?;
        let info: serde_json::Value = serde_json::from_str(info.trim())
            .with_context(|| format!("qga --json info printed {info:?}"))?;
        let commands = info["supported_commands"].as_array().context("commands")?;
        ensure!(
            info["version"].as_str().is_some_and(|v| !v.is_empty())
                && commands.iter().any(|c| c["name"] == "guest-ping"),
            "info: {info}"
        );
        // A port nobody listens on: one line, non-zero exit.
        let none = shell(
            client,
            &format!("{GUEST_QGA} --vsock 1:{} ping", VSOCK_PORT + 1),
        )?;
        let stderr = &none.stderr;
        ensure!(
            none.exitcode == Some(1)
                && stderr.trim_end().lines().count() == 1
                && stderr.contains("nobody is listening"),
            "qga --vsock to a closed port: {none:?}"
        );
        Ok(())
    })();
    shell_ok(client, "kill $(cat /run/qga-vsock/pid)")?;
    result
}

/// `systemctl show` properties of the agent's unit.
fn unit_properties(client: &mut Client<UnixStream>) -> Result<BTreeMap<String, String>> {
    let out = shell_ok(
        client,
        "systemctl show -p ActiveState,UnitFileState,WantedBy,MainPID,NRestarts,ExecMainStatus qga-agent.service",
    )?;
    Ok(out
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

fn property<'a>(props: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str> {
    props
        .get(name)
        .map(String::as_str)
        .with_context(|| format!("systemctl show lacks {name}: {props:?}"))
}

/// The unit is active, static (nothing enabled it), wanted by the port's device unit (the
/// udev rule's SYSTEMD_WANTS), and runs the packaged binary; the package replaced nothing.
fn started_by_udev(ctx: &mut DebCtx) -> Result<()> {
    let props = unit_properties(&mut ctx.client)?;
    ensure!(property(&props, "ActiveState")? == "active", "{props:?}");
    ensure!(property(&props, "UnitFileState")? == "static", "{props:?}");
    // The port's device unit wants the agent (WantedBy names it by its sysfs path), because
    // our udev rule gave the port SYSTEMD_WANTS.
    ensure!(
        property(&props, "WantedBy")?.contains("x2dports-vport"),
        "the unit is not wanted by a virtio port device: {props:?}"
    );
    let udev = shell_ok(
        &mut ctx.client,
        "udevadm info --query=property /dev/virtio-ports/org.qemu.guest_agent.0",
    )?;
    ensure!(
        udev.lines().any(|l| l == "SYSTEMD_WANTS=qga-agent.service"),
        "udev did not apply 60-qga-agent.rules to the port: {udev:?}"
    );
    let pid = property(&props, "MainPID")?;
    let exe = shell_ok(&mut ctx.client, &format!("readlink /proc/{pid}/exe"))?;
    ensure!(exe.trim() == "/usr/sbin/qga-agent", "MainPID runs {exe:?}");
    let status = shell_ok(
        &mut ctx.client,
        "dpkg-query -W -f '${Status} ${Version}' qga-agent; echo; \
         dpkg-query -W -f '${Status}' qemu-guest-agent 2>&1 || true",
    )?;
    let mut lines = status.lines();
    ensure!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("install ok installed")),
        "dpkg says {status:?}"
    );
    ensure!(
        !lines.any(|l| l.contains("install ok installed")),
        "qemu-guest-agent is installed too: {status:?}"
    );
    let version = shell_ok(&mut ctx.client, "/usr/sbin/qga-agent -V")?;
    ensure!(
        version.starts_with("QEMU Guest Agent 10.0.2\nqga-agent "),
        "-V printed {version:?}"
    );
    let file = shell(&mut ctx.client, "ldd /usr/sbin/qga-agent")?;
    ensure!(
        !file.stdout.contains("libc.so"),
        "the packaged binary is dynamically linked: {file:?}"
    );
    ensure!(
        ctx.client.guest_info()?.version == "10.0.2",
        "guest-info version"
    );
    Ok(())
}

/// `KEY=value` pairs of an os-release file (quotes removed).
fn os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect()
}

fn osinfo(ctx: &mut DebCtx) -> Result<()> {
    let release = os_release(&read_text(&mut ctx.client, "/etc/os-release")?);
    ensure!(
        release.get("ID").map(String::as_str) == Some("debian"),
        "{release:?}"
    );
    let info = ctx.client.guest_get_osinfo()?;
    let want = |key: &str| release.get(key).cloned();
    ensure!(info.id == want("ID"), "id {:?}", info.id);
    ensure!(info.name == want("NAME"), "name {:?}", info.name);
    ensure!(
        info.pretty_name == want("PRETTY_NAME"),
        "pretty-name {:?}",
        info.pretty_name
    );
    ensure!(
        info.version == want("VERSION"),
        "version {:?}",
        info.version
    );
    ensure!(
        info.version_id.as_deref() == Some("12"),
        "version-id {:?}",
        info.version_id
    );
    let uname = shell_ok(&mut ctx.client, "uname -r; uname -v; uname -m")?;
    let uname: Vec<&str> = uname.lines().collect();
    ensure!(
        info.kernel_release.as_deref() == uname.first().copied(),
        "kernel-release {:?} vs uname {uname:?}",
        info.kernel_release
    );
    ensure!(
        info.kernel_version.as_deref() == uname.get(1).copied(),
        "kernel-version {:?} vs uname {uname:?}",
        info.kernel_version
    );
    ensure!(
        info.machine.as_deref() == Some("x86_64"),
        "machine {:?}",
        info.machine
    );
    Ok(())
}

/// The serial console's autologin (agetty + login) logs the user in at boot.
fn users(ctx: &mut DebCtx) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let users = ctx.client.guest_get_users()?;
        if let Some(user) = users.iter().find(|u| u.user == USER) {
            ensure!(user.login_time > 1.0e9, "login time {}", user.login_time);
            let who = shell_ok(&mut ctx.client, "who")?;
            ensure!(who.contains(USER), "who does not list {USER}: {who:?}");
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{USER} never appeared in guest-get-users: {users:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The user's hash in /etc/shadow, read through the agent.
fn shadow_hash(client: &mut Client<UnixStream>, user: &str) -> Result<String> {
    let shadow = read_text(client, "/etc/shadow")?;
    shadow
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            (fields.next() == Some(user)).then(|| fields.next().unwrap_or_default().to_owned())
        })
        .with_context(|| format!("{user} is not in /etc/shadow"))
}

/// Whether `password` matches `hash`, by the guest's own crypt(3) (perl-base is essential).
fn guest_crypt_matches(
    client: &mut Client<UnixStream>,
    password: &str,
    hash: &str,
) -> Result<bool> {
    let status = exec_wait(
        client,
        &GuestExecArgs {
            path: "/usr/bin/perl".into(),
            arg: Some(vec![
                "-e".into(),
                "exit(crypt($ARGV[0], $ARGV[1]) eq $ARGV[1] ? 0 : 1)".into(),
                password.into(),
                hash.into(),
            ]),
            env: None,
            input_data: None,
            capture_output: None,
        },
    )?;
    match status.exitcode {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        other => bail!("perl crypt check ended with {other:?}: {status:?}"),
    }
}

fn password(ctx: &mut DebCtx) -> Result<()> {
    let before = shadow_hash(&mut ctx.client, USER)?;
    let password = "Deb1an guest, pass!";
    ctx.client
        .guest_set_user_password(&GuestSetUserPasswordArgs {
            username: USER.into(),
            password: base64::encode(password.as_bytes()),
            crypted: false,
        })?;
    let hash = shadow_hash(&mut ctx.client, USER)?;
    ensure!(hash != before && hash.starts_with('$'), "hash {hash:?}");
    ensure!(
        guest_crypt_matches(&mut ctx.client, password, &hash)?,
        "the new hash does not match the password"
    );
    ensure!(
        !guest_crypt_matches(&mut ctx.client, "wrong", &hash)?,
        "the new hash matches a wrong password"
    );
    // A crypted password goes into /etc/shadow as given (chpasswd -e).
    let given = shell_ok(
        &mut ctx.client,
        "perl -e 'print crypt(\"second\", \"\\$6\\$vmtestsalt\\$\")'",
    )?;
    ctx.client
        .guest_set_user_password(&GuestSetUserPasswordArgs {
            username: USER.into(),
            password: base64::encode(given.as_bytes()),
            crypted: true,
        })?;
    let hash = shadow_hash(&mut ctx.client, USER)?;
    ensure!(hash == given, "crypted: {hash:?} instead of {given:?}");
    ensure!(
        guest_crypt_matches(&mut ctx.client, "second", &hash)?,
        "second password"
    );
    Ok(())
}

/// Owner, group and mode of guest paths (`stat -c`).
fn stat(client: &mut Client<UnixStream>, format: &str, path: &str) -> Result<String> {
    Ok(shell_ok(client, &format!("stat -c '{format}' {path}"))?
        .trim()
        .to_owned())
}

/// Adds, reads and removes keys for `user`; the files belong to the user.
fn keys_round_trip(ctx: &mut DebCtx, user: &str, home: &str, owner: &str) -> Result<()> {
    let keys = |list: &[&str]| list.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    let one = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIvmtest1 one@host";
    let two = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIvmtest2 two@host";
    ctx.client
        .guest_ssh_add_authorized_keys(&GuestSshAddAuthorizedKeysArgs {
            username: user.into(),
            keys: keys(&[one, two]),
            reset: Some(true),
        })?;
    let dir = format!("{home}/.ssh");
    let file = format!("{dir}/authorized_keys");
    ensure!(
        stat(&mut ctx.client, "%u:%g %a", &dir)? == format!("{owner} 700"),
        "{dir}: {}",
        stat(&mut ctx.client, "%u:%g %a", &dir)?
    );
    ensure!(
        stat(&mut ctx.client, "%u:%g %a", &file)? == format!("{owner} 600"),
        "{file}: {}",
        stat(&mut ctx.client, "%u:%g %a", &file)?
    );
    let text = read_text(&mut ctx.client, &file)?;
    ensure!(text == format!("{one}\n{two}"), "{file}: {text:?}");
    ctx.client
        .guest_ssh_remove_authorized_keys(&GuestSshRemoveAuthorizedKeysArgs {
            username: user.into(),
            keys: keys(&[one]),
        })?;
    let got = ctx
        .client
        .guest_ssh_get_authorized_keys(&GuestSshGetAuthorizedKeysArgs {
            username: user.into(),
        })?;
    ensure!(got.keys == keys(&[two]), "after remove: {got:?}");
    Ok(())
}

fn ssh_keys(ctx: &mut DebCtx) -> Result<()> {
    let ids = shell_ok(&mut ctx.client, &format!("id -u {USER}; id -g {USER}"))?;
    let ids: Vec<&str> = ids.lines().collect();
    ensure!(ids.len() == 2, "id printed {ids:?}");
    let owner = format!("{}:{}", ids[0], ids[1]);
    keys_round_trip(ctx, USER, &format!("/home/{USER}"), &owner)?;
    expect_error(
        "keys of an unknown user",
        ctx.client
            .guest_ssh_get_authorized_keys(&GuestSshGetAuthorizedKeysArgs {
                username: "nosuchuser".into(),
            }),
        ErrorClass::GenericError,
        "failed to lookup user 'nosuchuser': Success",
    )
}

/// A user that only libnss-extrausers knows: the static agent finds it through getent.
fn ssh_keys_nss(ctx: &mut DebCtx) -> Result<()> {
    let files = shell(
        &mut ctx.client,
        &format!("grep -c '^{NSS_USER}:' /etc/passwd"),
    )?;
    ensure!(
        files.stdout.trim() == "0",
        "{NSS_USER} is in /etc/passwd: {files:?}"
    );
    let nss = shell_ok(&mut ctx.client, &format!("getent passwd {NSS_USER}"))?;
    ensure!(
        nss.starts_with(&format!("{NSS_USER}:x:{NSS_UID}:")),
        "getent: {nss:?}"
    );
    let owner = format!("{NSS_UID}:{NSS_UID}");
    keys_round_trip(ctx, NSS_USER, &format!("/home/{NSS_USER}"), &owner)
}

fn fsfreeze_hook(ctx: &mut DebCtx) -> Result<()> {
    shell_ok(
        &mut ctx.client,
        &format!("rm -f {HOOK_LOG} /var/log/qga-fsfreeze-hook.log"),
    )?;
    let frozen = ctx.client.guest_fsfreeze_freeze()?;
    ensure!(frozen >= 1, "froze {frozen} filesystems");
    ensure!(
        ctx.client.guest_fsfreeze_status()? == GuestFsfreezeStatus::Frozen,
        "not frozen after freeze"
    );
    let thawed = ctx.client.guest_fsfreeze_thaw()?;
    ensure!(thawed == frozen, "thawed {thawed} of {frozen}");
    ensure!(
        ctx.client.guest_fsfreeze_status()? == GuestFsfreezeStatus::Thawed,
        "not thawed after thaw"
    );
    let log = read_text(&mut ctx.client, HOOK_LOG)?;
    ensure!(
        log == "freeze\nthaw\n",
        "fsfreeze-hook.d script log {log:?}"
    );
    let hook_log = read_text(&mut ctx.client, "/var/log/qga-fsfreeze-hook.log")?;
    for arg in ["freeze", "thaw"] {
        ensure!(
            hook_log.contains(&format!("/etc/qemu/fsfreeze-hook.d/50-vm-test {arg}")),
            "the hook's log lacks the {arg} run: {hook_log:?}"
        );
    }
    shell_ok(&mut ctx.client, "touch /root/written-after-thaw")?;
    Ok(())
}

fn restart_after_kill(ctx: &mut DebCtx) -> Result<()> {
    let before = unit_properties(&mut ctx.client)?;
    let pid = property(&before, "MainPID")?.to_owned();
    let restarts: u32 = property(&before, "NRestarts")?.parse()?;
    // The agent starts kill and answers; then it dies and the connection with it.
    shell_detached(&mut ctx.client, format!("sleep 0.5; kill -9 {pid}"))?;
    std::thread::sleep(Duration::from_secs(1));
    let _ = ctx
        .client
        .connection()
        .get_ref()
        .shutdown(std::net::Shutdown::Both);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        ctx.client = ctx.vm.wait_for_agent(Duration::from_secs(60))?;
        let after = unit_properties(&mut ctx.client)?;
        let new_pid = property(&after, "MainPID")?;
        if new_pid != pid && property(&after, "ActiveState")? == "active" {
            let now: u32 = property(&after, "NRestarts")?.parse()?;
            ensure!(now == restarts + 1, "NRestarts {restarts} -> {now}");
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the agent was not restarted: {after:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Runs `script` outside the agent's cgroup (stopping the agent must not kill it), output
/// in `log`, and waits for the agent to answer again and `log` to end with `done`.
fn run_detached(ctx: &mut DebCtx, name: &str, script: &str, log: &str) -> Result<String> {
    shell_ok(
        &mut ctx.client,
        &format!(
            "rm -f {log}; systemd-run --quiet --unit {name} sh -c '({script}) > {log} 2>&1; echo done >> {log}'"
        ),
    )?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let _ = ctx
            .client
            .connection()
            .get_ref()
            .shutdown(std::net::Shutdown::Both);
        ctx.client = ctx.vm.wait_for_agent(Duration::from_secs(60))?;
        let done = shell(&mut ctx.client, &format!("cat {log}"))?.stdout;
        if done.ends_with("done\n") {
            return Ok(done);
        }
        ensure!(Instant::now() < deadline, "{name} did not finish: {done:?}");
    }
}

/// Purge leaves none of the package's files or state; installing into the running system
/// starts the agent at once (postinst replays the port's udev event); installing again (an
/// upgrade) restarts it on the new binary and keeps the configuration.
fn purge_install_upgrade(ctx: &mut DebCtx) -> Result<()> {
    shell_ok(
        &mut ctx.client,
        "echo '# local edit' >> /etc/qemu/qemu-ga.conf",
    )?;
    let script = format!(
        "dpkg --purge qga-agent; \
         for f in /usr/sbin/qga-agent /lib/systemd/system/qga-agent.service \
           /lib/udev/rules.d/60-qga-agent.rules /etc/qemu/qemu-ga.conf /etc/qemu/fsfreeze-hook \
           /etc/qemu/fsfreeze-hook.d/README /var/log/qga-fsfreeze-hook.log /run/qga.state \
           /usr/share/doc/qga-agent; do [ -e $f ] && echo left: $f; done; \
         echo state: $(systemctl is-active qga-agent.service); \
         dpkg --install {GUEST_DEB}"
    );
    let log = run_detached(ctx, "vm-test-purge", &script, "/root/purge.log")?;
    ensure!(!log.contains("left:"), "purge left files: {log}");
    ensure!(log.contains("state: inactive"), "after purge: {log}");
    let conf = read_text(&mut ctx.client, "/etc/qemu/qemu-ga.conf")?;
    ensure!(
        !conf.contains("# local edit"),
        "the purged conffile came back edited"
    );
    let props = unit_properties(&mut ctx.client)?;
    ensure!(property(&props, "ActiveState")? == "active", "{props:?}");

    shell_ok(
        &mut ctx.client,
        "echo '# local edit' >> /etc/qemu/qemu-ga.conf",
    )?;
    let pid = property(&props, "MainPID")?.to_owned();
    let script = format!("dpkg --force-confold --install {GUEST_DEB}");
    let log = run_detached(ctx, "vm-test-upgrade", &script, "/root/upgrade.log")?;
    let props = unit_properties(&mut ctx.client)?;
    ensure!(
        property(&props, "ActiveState")? == "active",
        "{props:?}: {log}"
    );
    ensure!(
        property(&props, "MainPID")? != pid,
        "the upgrade did not restart the agent: {log}"
    );
    let conf = read_text(&mut ctx.client, "/etc/qemu/qemu-ga.conf")?;
    ensure!(
        conf.contains("# local edit"),
        "the upgrade replaced the edited conffile"
    );
    Ok(())
}

fn shutdown(ctx: &mut DebCtx) -> Result<()> {
    ctx.client
        .guest_shutdown(&GuestShutdownArgs { mode: None })?;
    let status = ctx.vm.wait_for_exit(Duration::from_secs(120))?;
    ensure!(status.success(), "QEMU exited with {status}");
    let console = ctx.vm.console();
    ensure!(
        console.contains("reboot: Power down"),
        "the console does not show a power-off"
    );
    Ok(())
}
