//! End-to-end tests in a real VM: `cargo xtask vm-test` boots a Debian kernel under TCG with
//! an initramfs that runs the guest agent on a virtio-serial port, and drives the agent from
//! the host through that port.
//!
//! Usage: `cargo xtask vm-test [--agent PATH | --reference] [--vmlinuz] [--keep]`
//! - default: builds and tests this workspace's `qga-agent`;
//! - `--agent PATH`: tests that binary instead (its shared libraries are copied along);
//! - `--reference`: tests QEMU's own qemu-ga (installed by `cargo xtask setup`);
//! - `--vmlinuz`: boots the compressed kernel instead of the extracted vmlinux (slower);
//! - `--keep`: keeps the work directory (initramfs, disk image, logs) after a passing run.

pub mod base64;
pub mod checks;
pub mod cpio;
pub mod disk;
pub mod elf;
pub mod guest;
pub mod host;
pub mod initramfs;
pub mod kernel;
pub mod machine;
pub mod modules;
pub mod qga;

use anyhow::{bail, Context, Result};
use kernel::Kernel;
use machine::{Vm, VmConfig};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Cache and work directories of the VM tests: `<workspace>/target/vm`.
pub fn vm_dir() -> PathBuf {
    crate::ci::workspace_root().join("target").join("vm")
}

/// Where unpacked kernel packages are cached.
pub fn kernel_cache() -> PathBuf {
    vm_dir().join("kernel")
}

/// An agent binary to put into the VM.
#[derive(Debug, Clone)]
pub struct AgentUnderTest {
    /// Short name, used for the work directory and messages.
    pub label: String,
    pub binary: PathBuf,
    /// Extra command-line arguments after the standard virtio-serial ones.
    pub args: Vec<String>,
}

impl AgentUnderTest {
    /// QEMU's reference qemu-ga as installed on the host.
    pub fn reference() -> Result<Self> {
        let binary = host::which("qemu-ga")
            .context("qemu-ga not found (run `cargo xtask setup` as root)")?;
        Ok(AgentUnderTest {
            label: "reference".into(),
            binary,
            args: Vec::new(),
        })
    }

    /// This workspace's agent, built in the dev profile (already built by `cargo test`).
    pub fn ours() -> Result<Self> {
        crate::ci::cargo(&["build", "--quiet", "-p", "qga-agent"])?;
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::ci::workspace_root().join("target"));
        let binary = target.join("debug").join("qga-agent");
        if !binary.is_file() {
            bail!("built qga-agent but {} does not exist", binary.display());
        }
        Ok(AgentUnderTest {
            label: "qga-agent".into(),
            binary,
            args: Vec::new(),
        })
    }
}

/// How a suite run goes.
#[derive(Debug, Clone, Default)]
pub struct SuiteOptions {
    /// Boot the bzImage even if a vmlinux is available.
    pub compressed_kernel: bool,
    /// Keep the work directory after a passing run.
    pub keep: bool,
}

/// Builds the initramfs and disk for `agent`, boots, runs every check; Err if any failed.
pub fn run_suite(kernel: &Kernel, agent: &AgentUnderTest, options: &SuiteOptions) -> Result<()> {
    let total = Instant::now();
    let work = fresh_work_dir(&agent.label)?;

    let step = Instant::now();
    let initrd = work.join("initramfs.cpio");
    initramfs::build(kernel, &agent.binary, &agent.args, &initrd)?;
    let initrd_ms = step.elapsed().as_millis();
    let step = Instant::now();
    let disk = work.join("data.img");
    disk::build(&disk)?;
    let disk_ms = step.elapsed().as_millis();

    let image = if options.compressed_kernel {
        &kernel.vmlinuz
    } else {
        kernel.boot_image()
    };
    let mut config = VmConfig::new(image, &initrd, &work);
    config.data_disk = Some(disk);
    let mut vm = Vm::boot(&config)?;
    let mut agent_conn = vm.wait_for_agent(Duration::from_secs(180))?;
    let boot_ms = vm.uptime().as_millis();
    if options.keep {
        eprintln!(
            "vm-test [{}]: agent socket {}, console {}",
            agent.label,
            vm.agent_socket().display(),
            vm.console_log().display()
        );
    }
    eprintln!(
        "vm-test [{}]: {} on {} {}; initramfs {initrd_ms} ms ({} KiB), disk {disk_ms} ms, boot to agent {boot_ms} ms",
        agent.label,
        agent.binary.display(),
        file_name(image),
        kernel.package_version,
        std::fs::metadata(&initrd).map(|m| m.len() >> 10).unwrap_or(0),
    );

    let outcomes = {
        let mut ctx = checks::Ctx {
            agent: &mut agent_conn,
            vm: &mut vm,
            kernel,
        };
        checks::run_all(&mut ctx)
    };
    let checks_ms: u128 = outcomes.iter().map(|o| o.took.as_millis()).sum();
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| o.name)
        .collect();
    let passed = outcomes.len() - failed.len();
    eprintln!(
        "vm-test [{}]: checks {checks_ms} ms, total {} ms",
        agent.label,
        total.elapsed().as_millis()
    );
    println!("vm-test: {passed} passed, {} failed", failed.len());
    drop(vm);
    if !failed.is_empty() {
        bail!(
            "vm-test [{}] failed: {}; console log and images kept in {}",
            agent.label,
            failed.join(", "),
            work.display()
        );
    }
    if options.keep {
        eprintln!("vm-test [{}]: kept {}", agent.label, work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(())
}

/// `target/vm/run-<label>-<pid>`: one per process, so concurrent runs do not collide.
/// Directories left by earlier runs that are no longer alive (failed or kept) are removed.
fn fresh_work_dir(label: &str) -> Result<PathBuf> {
    let prefix = format!("run-{label}-");
    if let Ok(entries) = std::fs::read_dir(vm_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(&prefix) else {
                continue;
            };
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let work = vm_dir().join(format!("{prefix}{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    Ok(work)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// `cargo xtask vm-test ...`
pub fn run(args: &[String]) -> Result<()> {
    let mut agent_path = None;
    let mut reference = false;
    let mut options = SuiteOptions::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--agent" => {
                agent_path = Some(PathBuf::from(args.next().context("--agent needs a path")?))
            }
            "--reference" => reference = true,
            "--vmlinuz" => options.compressed_kernel = true,
            "--keep" => options.keep = true,
            other => bail!("vm-test: unknown argument {other:?} (see xtask/src/vm/mod.rs)"),
        }
    }
    let agent = match (agent_path, reference) {
        (Some(_), true) => bail!("vm-test: give --agent or --reference, not both"),
        (Some(binary), false) => {
            let binary = std::fs::canonicalize(&binary)
                .with_context(|| format!("agent {} not found", binary.display()))?;
            AgentUnderTest {
                label: "custom".into(),
                binary,
                args: Vec::new(),
            }
        }
        (None, true) => AgentUnderTest::reference()?,
        (None, false) => AgentUnderTest::ours()?,
    };
    let kernel = kernel::ensure(&kernel_cache())?;
    run_suite(&kernel, &agent, &options)
}
