//! `vm-test --libvirt`: qga's libvirt transport (`-c URI -d DOMAIN`, `--all`) against two
//! transient domains of a libvirtd this test starts itself, in the foreground, as a child.
//!
//! libvirt owns each domain's agent socket; qga reaches the agent only through libvirt's
//! agent API. The domains boot the same kernel and initramfs as the other suites (direct
//! kernel boot) with a `<channel type='unix'>` targeting `org.qemu.guest_agent.0`.
//!
//! The privileged QEMU driver reads `/etc/libvirt/qemu.conf` only, so the test writes one
//! for a machine without systemd, cgroup delegation or security modules (no security
//! driver, root, no ownership changes, no cgroup controllers, no namespaces) and puts the
//! original back afterwards. libvirtd's own sockets live in the work directory.

use super::kernel::Kernel;
use super::{initramfs, vm_dir, AgentUnderTest};
use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use testenv as host;

const QEMU_CONF: &str = "/etc/libvirt/qemu.conf";

const OUR_QEMU_CONF: &str = r#"# Written by qapi-rs's vm-test --libvirt (the original is put back afterwards).
security_driver = "none"
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
"#;

/// Two domains: enough for `--all` to be a fleet.
const DOMAINS: [&str; 2] = ["qga-lv-1", "qga-lv-2"];

/// Runs the libvirt checks against `agent`.
pub fn run(kernel: &Kernel, agent: &AgentUnderTest) -> Result<()> {
    for program in ["libvirtd", "virsh"] {
        if host::which(program).is_none() {
            bail!("{program} is not installed (run `cargo xtask setup` as root)");
        }
    }
    let start = Instant::now();
    let qga = build_qga()?;
    let work = vm_dir().join(format!("libvirt-{}-{}", agent.label, std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("run"))?;
    let initrd = work.join("initramfs.cpio");
    initramfs::build(kernel, &agent.binary, &[], &initrd)?;

    let _conf = ConfGuard::install()?;
    let daemon = Daemon::start(&work)?;
    let uri = daemon.uri.clone();
    for name in DOMAINS {
        let xml = domain_xml(
            name,
            kernel.boot_image(),
            &initrd,
            &work.join(format!("{name}.log")),
        );
        let file = work.join(format!("{name}.xml"));
        std::fs::write(&file, xml)?;
        host::run(
            Command::new("virsh")
                .args(["-q", "-c", &uri, "create"])
                .arg(&file),
        )
        .with_context(|| format!("virsh create {name}; libvirtd log: {}", daemon.log()))?;
    }
    let tag = format!("vm-test ({}) [libvirt]", agent.label);
    let result = (|| {
        for name in DOMAINS {
            let console = work.join(format!("{name}.log"));
            wait_for_agent(&qga, &uri, name, Duration::from_secs(180))
                .with_context(|| format!("{name}: console {}", console.display()))?;
        }
        eprintln!(
            "{tag}: libvirtd up, {} domains answer after {} ms",
            DOMAINS.len(),
            start.elapsed().as_millis()
        );
        checks(&qga, &uri)
    })();
    match &result {
        Ok(()) => eprintln!(
            "{tag}: all checks passed ({:.1} s)",
            start.elapsed().as_secs_f64()
        ),
        Err(e) => eprintln!("{tag}: FAIL {e:#}\n  libvirtd log: {}", daemon.log()),
    }
    // Whatever happened, no domain outlives the test.
    for name in DOMAINS {
        let _ = Command::new("virsh")
            .args(["-q", "-c", &uri, "destroy", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    drop(daemon);
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&work);
    }
    result
}

fn checks(qga: &Path, uri: &str) -> Result<()> {
    let run = |args: &[&str]| -> Result<Run> { qga_run(qga, uri, "60", args) };

    // One domain, human output.
    let host_name = run(&["-d", DOMAINS[0], "hostname"])?;
    ensure!(
        host_name.code == 0 && !host_name.stdout.trim().is_empty(),
        "hostname: {host_name:?}"
    );

    // --all: one JSON line per running domain, every one successful.
    let all = run(&["--all", "--json", "hostname"])?;
    ensure!(all.code == 0, "--all hostname: {all:?}");
    let lines: Vec<Value> = all
        .stdout
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .with_context(|| format!("--all printed {:?}", all.stdout))?;
    let targets: Vec<&str> = lines.iter().filter_map(|l| l["target"].as_str()).collect();
    ensure!(targets == DOMAINS, "--all targets {targets:?}");
    ensure!(
        lines.iter().all(|l| l["return"]["host-name"].is_string()),
        "{lines:?}"
    );

    // --all as a table: a row per domain.
    let table = run(&["--all", "ping"])?;
    ensure!(table.code == 0, "{table:?}");
    for name in DOMAINS {
        ensure!(
            table
                .stdout
                .lines()
                .any(|l| l.contains(name) && l.contains(" ok ")),
            "no ok row for {name}: {}",
            table.stdout
        );
    }

    // A domain that does not exist: one line alone, an error row in a fleet.
    let missing = run(&["-d", "qga-no-such-domain", "ping"])?;
    ensure!(
        missing.code == 1
            && missing
                .stderr
                .trim()
                .starts_with("qga: qga-no-such-domain: no such domain")
            && missing.stderr.trim().lines().count() == 1,
        "{missing:?}"
    );
    let mixed = run(&["-d", DOMAINS[0], "-d", "qga-no-such-domain", "ping"])?;
    ensure!(mixed.code == 1, "{mixed:?}");
    ensure!(
        mixed
            .stdout
            .lines()
            .any(|l| l.contains("qga-no-such-domain") && l.contains("error")),
        "{}",
        mixed.stdout
    );

    // exec passes the guest's exit status through libvirt too.
    let exec = run(&[
        "-d",
        DOMAINS[1],
        "exec",
        "--",
        "/bin/sh",
        "-c",
        "echo via libvirt; exit 5",
    ])?;
    ensure!(exec.code == 5 && exec.stdout == "via libvirt\n", "{exec:?}");

    // A file round trip through libvirt's agent API. Small: a guest-file-write of 300 KB
    // through libvirt 11.3 times out with either agent (open problem, see qga-cli's notes).
    let dir = tempfile_dir()?;
    let (up, down) = (dir.join("up"), dir.join("down"));
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&up, &data)?;
    let put = run(&[
        "-d",
        DOMAINS[0],
        "put",
        &up.to_string_lossy(),
        "/tmp/lv.bin",
    ])?;
    ensure!(put.code == 0, "{put:?}");
    let get = run(&[
        "-d",
        DOMAINS[0],
        "get",
        "/tmp/lv.bin",
        &down.to_string_lossy(),
    ])?;
    ensure!(get.code == 0, "{get:?}");
    ensure!(
        std::fs::read(&down)? == data,
        "get through libvirt returned other bytes"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // shutdown on the whole fleet: every domain goes away.
    let down = run(&["--all", "shutdown"])?;
    ensure!(down.code == 0, "{down:?}");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let list = host::output(Command::new("virsh").args(["-q", "-c", uri, "list", "--name"]))?;
        if list.trim().is_empty() {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "still running after shutdown: {list}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let none = run(&["--all", "ping"])?;
    ensure!(none.code != 0, "--all with no domains: {none:?}");
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("qga-lv-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// qga with its `libvirt` feature (dev profile), in a target directory of its own so that
/// builds without the feature (the cli suite, `cargo test`) do not replace it.
fn build_qga() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = super::target_dir().join("qga-libvirt");
    host::run(
        Command::new(cargo)
            .args(["build", "--quiet", "-p", "qga-cli", "--features", "libvirt"])
            .args(["--bin", "qga", "--target-dir"])
            .arg(&target)
            .current_dir(super::workspace_root()),
    )?;
    let binary = target.join("debug").join("qga");
    ensure!(
        binary.is_file(),
        "{} missing after the build",
        binary.display()
    );
    Ok(binary)
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn qga_run(qga: &Path, uri: &str, timeout: &str, args: &[&str]) -> Result<Run> {
    let out = Command::new(qga)
        .args(["-c", uri, "--timeout", timeout])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running qga")?;
    Ok(Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn wait_for_agent(qga: &Path, uri: &str, name: &str, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let run = qga_run(qga, uri, "5", &["-d", name, "ping"])?;
        if run.code == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("the agent in {name} never answered: {}", run.stderr.trim());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A transient TCG domain booting `kernel` + `initrd`, its console in `console`.
fn domain_xml(name: &str, kernel: &Path, initrd: &Path, console: &Path) -> String {
    format!(
        r#"<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 cryptomgr.notests</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='maximum' check='none'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'>
      <source path='{console}'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <source mode='bind'/>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <memballoon model='none'/>
  </devices>
</domain>
"#,
        kernel = kernel.display(),
        initrd = initrd.display(),
        console = console.display(),
    )
}

/// Our qemu.conf while the test runs; the original comes back on drop.
struct ConfGuard {
    original: Option<Vec<u8>>,
}

impl ConfGuard {
    fn install() -> Result<ConfGuard> {
        let original = std::fs::read(QEMU_CONF).ok();
        if let Some(dir) = Path::new(QEMU_CONF).parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(QEMU_CONF, OUR_QEMU_CONF).with_context(|| format!("writing {QEMU_CONF}"))?;
        Ok(ConfGuard { original })
    }
}

impl Drop for ConfGuard {
    fn drop(&mut self) {
        let _ = match &self.original {
            Some(content) => std::fs::write(QEMU_CONF, content),
            None => std::fs::remove_file(QEMU_CONF),
        };
    }
}

/// libvirtd in the foreground with its sockets in the work directory; killed on drop.
struct Daemon {
    child: Child,
    uri: String,
    log: PathBuf,
}

impl Daemon {
    fn start(work: &Path) -> Result<Daemon> {
        let run = work.join("run");
        let log = work.join("libvirtd.log");
        let conf = work.join("libvirtd.conf");
        std::fs::write(
            &conf,
            format!(
                "unix_sock_dir = \"{}\"\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n\
                 log_outputs = \"3:file:{}\"\n",
                run.display(),
                log.display()
            ),
        )?;
        let child = Command::new("libvirtd")
            .arg("--config")
            .arg(&conf)
            .arg("--pid-file")
            .arg(work.join("libvirtd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting libvirtd")?;
        let uri = format!(
            "qemu:///system?socket={}",
            run.join("libvirt-sock").display()
        );
        let mut daemon = Daemon { child, uri, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = Command::new("virsh")
                .args(["-q", "-c", &daemon.uri, "version"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Ok(daemon);
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                bail!("libvirtd exited with {status}: {}", daemon.log());
            }
            ensure!(
                Instant::now() < deadline,
                "libvirtd did not answer within 30 s: {}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The end of libvirtd's log, for failure messages.
    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
