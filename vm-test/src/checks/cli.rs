//! The `qga` command line (qga-cli) on the VM's agent port: the subcommands that change the
//! machine (time set, vcpus, freeze with its self-thaw on timeout and on Ctrl-C, fstrim,
//! password, ssh keys, suspend to RAM and wake-up, shutdown), plus a file round trip and exec
//! over virtio-serial.
//!
//! The agent's port takes one client at a time, so each check hangs up the harness's own
//! connection first and connects again at the end.

use super::{Ctx, Flavor};
use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The qga binary, built once (dev profile, like the agent under test).
pub fn qga_binary() -> Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            testenv::run(
                Command::new(cargo)
                    .args(["build", "--quiet", "-p", "qga-cli", "--bin", "qga"])
                    .current_dir(crate::workspace_root()),
            )
            .map_err(|e| format!("{e:#}"))?;
            let binary = crate::target_dir().join("debug").join("qga");
            if binary.is_file() {
                Ok(binary)
            } else {
                Err(format!("{} missing after the build", binary.display()))
            }
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// One run of qga.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self, what: &str) -> Result<&str> {
        ensure!(
            self.code == 0,
            "qga {what} exited {}: {}",
            self.code,
            self.stderr.trim()
        );
        Ok(&self.stdout)
    }

    fn json(&self, what: &str) -> Result<Value> {
        serde_json::from_str(self.ok(what)?.trim())
            .with_context(|| format!("qga {what} printed {:?}", self.stdout))
    }

    /// A failure in one `qga: ...` line.
    fn one_line_error(&self, what: &str) -> Result<&str> {
        let line = self.stderr.trim_end();
        ensure!(
            self.code != 0 && line.starts_with("qga: ") && !line.contains('\n'),
            "qga {what} should fail in one line: exit {}, stderr {:?}",
            self.code,
            self.stderr
        );
        Ok(line)
    }
}

/// Runs `qga -s <agent port> --timeout 30 <args>` with optional standard input.
fn qga(ctx: &Ctx, args: &[&str], input: Option<&[u8]>) -> Result<Run> {
    let mut all = vec!["--timeout", "30"];
    all.extend_from_slice(args);
    qga_as_given(ctx, &all, input)
}

/// Runs `qga -s <agent port> <args>`: no --timeout unless given.
fn qga_as_given(ctx: &Ctx, args: &[&str], input: Option<&[u8]>) -> Result<Run> {
    let mut child = Command::new(qga_binary()?)
        .arg("-s")
        .arg(ctx.vm.agent_socket())
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting qga")?;
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(data)?;
    }
    let out = child.wait_with_output()?;
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    // For documentation: what qga printed, as a terminal session.
    if std::env::var_os("VM_TEST_SHOW_QGA").is_some() {
        eprintln!("$ qga {}\n{}{}", args.join(" "), run.stdout, run.stderr);
    }
    Ok(run)
}

/// Runs `body` with the harness's connection hung up, then connects it again.
fn with_port(ctx: &mut Ctx, body: impl FnOnce(&mut Ctx) -> Result<()>) -> Result<()> {
    ctx.hang_up();
    let result = body(ctx);
    ctx.reconnect()?;
    result
}

/// Queries through qga: the guest's kernel and host name, the agent's version.
pub fn queries(ctx: &mut Ctx) -> Result<()> {
    with_port(ctx, |ctx| {
        qga(ctx, &["ping"], None)?.ok("ping")?;
        let os = qga(ctx, &["--json", "os"], None)?.json("os")?;
        ensure!(
            os["kernel-release"] == ctx.kernel.release.as_str(),
            "os: {os}"
        );
        let info = qga(ctx, &["--json", "info"], None)?.json("info")?;
        ensure!(info["version"] == "10.0.2", "info: {info}");
        let cpus = qga(ctx, &["--json", "vcpus"], None)?.json("vcpus")?;
        ensure!(cpus.as_array().map(Vec::len) == Some(1), "vcpus: {cpus}");
        Ok(())
    })
}

/// time set NANOS moves the guest clock there; time sync brings it back to the host's.
pub fn time(ctx: &mut Ctx) -> Result<()> {
    with_port(ctx, |ctx| {
        let past: i64 = 1_700_000_000_000_000_000;
        let set =
            qga(ctx, &["--json", "time", "set", &past.to_string()], None)?.json("time set")?;
        let now = set["time"].as_i64().context("time set reports the clock")?;
        ensure!(
            (past..past + 60_000_000_000).contains(&now),
            "after time set the guest says {now}"
        );
        qga(ctx, &["time", "sync"], None)?.ok("time sync")?;
        let time = qga(ctx, &["--json", "time"], None)?.json("time")?;
        let skew = time["time"].as_i64().unwrap_or(0) - time["host-time"].as_i64().unwrap_or(0);
        ensure!(skew.abs() < 5_000_000_000, "skew after sync {skew} ns");
        Ok(())
    })
}

/// vcpus on for the one CPU succeeds; off fails (CPU 0 cannot go offline) in one line.
pub fn vcpus(ctx: &mut Ctx) -> Result<()> {
    with_port(ctx, |ctx| {
        let on = qga(ctx, &["vcpus", "on", "0"], None)?;
        ensure!(
            on.ok("vcpus on 0")?.trim() == "1 of 1 vCPUs set online",
            "{:?}",
            on.stdout
        );
        let off = qga(ctx, &["vcpus", "off", "0"], None)?;
        off.one_line_error("vcpus off 0")?;
        Ok(())
    })
}

/// freeze / fsfreeze-status / thaw; freeze with a hold time thaws by itself; freeze with a
/// command thaws when it ends; Ctrl-C during a hold thaws too.
pub fn freeze(ctx: &mut Ctx) -> Result<()> {
    with_port(ctx, |ctx| {
        let status = |ctx: &Ctx| -> Result<Value> {
            qga(ctx, &["--json", "fsfreeze-status"], None)?.json("fsfreeze-status")
        };
        // --timeout without --hold is refused: it used to be the hold time.
        let refused = qga(ctx, &["freeze"], None)?;
        ensure!(
            refused
                .one_line_error("freeze --timeout")?
                .contains("--hold"),
            "{:?}",
            refused.stderr
        );
        ensure!(status(ctx)? == "thawed", "status after the refused freeze");
        let frozen = qga_as_given(ctx, &["freeze"], None)?;
        ensure!(
            frozen.ok("freeze")?.starts_with("1 filesystems frozen"),
            "{:?}",
            frozen.stdout
        );
        ensure!(status(ctx)? == "frozen", "status after freeze");
        let thawed = qga(ctx, &["thaw"], None)?;
        ensure!(thawed.ok("thaw")?.trim() == "1 filesystems thawed");
        ensure!(status(ctx)? == "thawed", "status after thaw");

        // Hold for 2 s, then thaw; the global --timeout (30 s) is the request timeout.
        let held = qga(ctx, &["--json", "freeze", "--hold", "2"], None)?.json("freeze hold")?;
        ensure!(
            held["frozen"] == 1 && held["thawed"] == 1 && held["reason"] == "time is up",
            "{held}"
        );
        ensure!(status(ctx)? == "thawed", "status after the hold");

        // A local command runs while frozen; its exit status is passed on.
        let cmd = qga(ctx, &["--json", "freeze", "--", "sh", "-c", "exit 4"], None)?;
        ensure!(cmd.code == 4, "freeze -- cmd exited {}", cmd.code);
        ensure!(status(ctx)? == "thawed", "status after the command");

        // Ctrl-C while holding: thawed, exit 130.
        let mut child = Command::new(qga_binary()?)
            .arg("-s")
            .arg(ctx.vm.agent_socket())
            .args(["freeze", "--hold", "120"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().context("stderr pipe")?;
        let mut line = String::new();
        BufReader::new(stderr).read_line(&mut line)?;
        ensure!(line.contains("thawing after"), "freeze said {line:?}");
        testenv::run(Command::new("kill").args(["-INT", &child.id().to_string()]))?;
        let out = child.wait_with_output()?;
        ensure!(
            out.status.code() == Some(130),
            "after Ctrl-C: {:?}",
            out.status
        );
        let text = String::from_utf8_lossy(&out.stdout);
        ensure!(text.contains("1 thawed (interrupted)"), "{text:?}");
        ensure!(status(ctx)? == "thawed", "status after Ctrl-C");
        Ok(())
    })
}

/// `qga suspend ram`: our agent really suspends (QMP says `suspended`), QMP's `system_wakeup`
/// wakes the guest and `qga ping` gets an answer again; the kernel counts one suspend.
/// qemu-ga cannot write /sys/power/state in this guest (no pm-utils or systemd; its sysfs
/// write goes through a temporary file, see power.rs), so there the VM keeps running and an
/// error, if it arrives within qga's wait, names the file.
pub fn suspend(ctx: &mut Ctx) -> Result<()> {
    with_port(ctx, |ctx| {
        let mut qmp = ctx.vm.qmp()?;
        ensure!(qmp.status()? == "running", "the VM is not running");
        let run = qga(ctx, &["suspend", "ram"], None)?;
        match ctx.flavor {
            Flavor::Ours => {
                ensure!(
                    run.ok("suspend ram")?.contains("suspend to RAM requested"),
                    "{:?}",
                    run.stdout
                );
                qmp.wait_for_status("suspended", Duration::from_secs(20))?;
                qmp.execute("system_wakeup", None)?;
                qmp.wait_for_status("running", Duration::from_secs(10))?;
                qga(ctx, &["ping"], None)?
                    .ok("ping after the wake-up")
                    .context("the agent does not answer after the wake-up")?;
                let count = qga(ctx, &["cat", "/sys/power/suspend_stats/success"], None)?;
                let count = count.ok("cat suspend_stats")?.trim();
                ensure!(count == "1", "{count:?} suspends completed, expected 1");
            }
            Flavor::Reference => {
                if run.code != 0 {
                    let line = run.one_line_error("suspend ram")?;
                    ensure!(line.contains("/sys/power/state"), "{line}");
                }
                std::thread::sleep(Duration::from_secs(3));
                ensure!(
                    qmp.status()? == "running",
                    "qemu-ga suspended although its sysfs write cannot work"
                );
                qga(ctx, &["ping"], None)?.ok("ping")?;
            }
        }
        Ok(())
    })
}

/// fstrim reports each filesystem.
pub fn fstrim(ctx: &mut Ctx) -> Result<()> {
    with_port(ctx, |ctx| {
        let trimmed = qga(ctx, &["--json", "fstrim"], None)?.json("fstrim")?;
        let paths = trimmed["paths"].as_array().context("paths")?;
        ensure!(!paths.is_empty(), "{trimmed}");
        Ok(())
    })
}

/// password from standard input changes root's hash; ssh-keys add, list, remove.
pub fn password_and_keys(ctx: &mut Ctx) -> Result<()> {
    with_port(ctx, |ctx| {
        let shadow = |ctx: &Ctx| -> Result<String> {
            let out = qga(
                ctx,
                &["exec", "--", "/bin/sh", "-c", "grep ^root: /etc/shadow"],
                None,
            )?;
            Ok(out.ok("exec grep")?.to_owned())
        };
        let before = shadow(ctx)?;
        qga(ctx, &["password", "root"], Some(b"an0ther pass\n"))?.ok("password")?;
        let after = shadow(ctx)?;
        ensure!(
            before != after && after.starts_with("root:$"),
            "{before:?} -> {after:?}"
        );

        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqgaCliVmTestKeyOnly0000000000000000000 qga-vm";
        qga(ctx, &["ssh-keys", "add", "root", key], None)?.ok("ssh-keys add")?;
        let listed = qga(ctx, &["ssh-keys", "list", "root"], None)?;
        ensure!(
            listed.ok("ssh-keys list")?.contains(key),
            "{:?}",
            listed.stdout
        );
        qga(ctx, &["ssh-keys", "remove", "root", key], None)?.ok("ssh-keys remove")?;
        let listed = qga(ctx, &["--json", "ssh-keys", "list", "root"], None)?.json("list")?;
        ensure!(!listed.to_string().contains("qga-vm"), "{listed}");
        Ok(())
    })
}

/// put then get of 1 MiB through virtio-serial; exec passes the exit status on.
pub fn files_and_exec(ctx: &mut Ctx) -> Result<()> {
    with_port(ctx, |ctx| {
        let dir = std::env::temp_dir().join(format!("qga-vm-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let data: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7 + i / 4096) as u8).collect();
        let (local, back) = (dir.join("up.bin"), dir.join("down.bin"));
        std::fs::write(&local, &data)?;
        let path = |p: &PathBuf| p.to_string_lossy().into_owned();
        let result = (|| {
            qga(ctx, &["put", &path(&local), "/tmp/qga-up.bin"], None)?.ok("put")?;
            qga(ctx, &["get", "/tmp/qga-up.bin", &path(&back)], None)?.ok("get")?;
            ensure!(std::fs::read(&back)? == data, "get returned other bytes");
            let run = qga(
                ctx,
                &["exec", "--", "/bin/sh", "-c", "echo hi; exit 7"],
                None,
            )?;
            ensure!(
                run.code == 7 && run.stdout == "hi\n",
                "exec: {} {:?}",
                run.code,
                run.stdout
            );
            Ok(())
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result
    })
}

/// shutdown powers the VM off (the last check).
pub fn shutdown(ctx: &mut Ctx) -> Result<()> {
    ctx.hang_up();
    let run = qga(ctx, &["shutdown"], None)?;
    ensure!(
        run.ok("shutdown")?.contains("powerdown requested"),
        "{:?}",
        run.stdout
    );
    let status = ctx.vm.wait_for_exit(Duration::from_secs(60))?;
    if !status.success() {
        bail!("QEMU exited with {status}");
    }
    Ok(())
}
