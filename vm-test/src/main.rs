//! End-to-end tests in a real VM: `cargo xtask vm-test` (this binary) boots a Debian kernel under TCG with
//! an initramfs that runs the guest agent on a virtio-serial port, and drives the agent from
//! the host through that port with the generated typed client (`qga_types::Client`).
//!
//! Usage: `cargo xtask vm-test [--agent PATH | --reference | --all] [--suite NAME]
//! [--vmlinuz] [--keep]` (or `cargo run -p vm-test -- ...`)
//!
//! A crate of its own, not part of xtask: it uses the generated `qga-types`, and the tool that
//! regenerates `qga-types` must build even when the checked-in generated code does not.
//! - default: builds and tests this workspace's `qga-agent` (dev profile);
//! - `--agent PATH`: tests that binary instead, expecting qga-agent's behaviour (its shared
//!   libraries are copied along);
//! - `--reference`: tests QEMU's own qemu-ga (installed by `cargo xtask setup`);
//! - `--all`: qga-agent, then qemu-ga, with the same checks (what CI runs);
//! - `--suite NAME`: only that suite (`main`, `hook+power`; see [`suite`]);
//! - `--vmlinuz`: boots the compressed kernel in every suite (slower);
//! - `--keep`: keeps the work directories (initramfs, disk image, logs) after passing runs.

pub mod checks;
pub mod cpio;
pub mod disk;
pub mod elf;
pub mod guest;
pub mod initramfs;
pub mod kernel;
pub mod machine;
pub mod modules;
pub mod qga;
pub mod qmp;
pub mod suite;

use anyhow::{bail, Context, Result};
use checks::Flavor;
use clap::Parser;
use kernel::Kernel;
use machine::{Vm, VmConfig};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use suite::Suite;
use testenv as host;

/// The workspace root (this crate lives one level below it).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The cargo target directory (`CARGO_TARGET_DIR`, or `target/` in the workspace).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Cache and work directories of the VM tests: `<workspace>/target/vm`.
pub fn vm_dir() -> PathBuf {
    target_dir().join("vm")
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
    /// Which behaviour the checks expect where the agents legitimately differ.
    pub flavor: Flavor,
}

impl AgentUnderTest {
    /// QEMU's reference qemu-ga as installed on the host.
    pub fn reference() -> Result<Self> {
        let binary = host::which("qemu-ga")
            .context("qemu-ga not found (run `cargo xtask setup` as root)")?;
        Ok(AgentUnderTest {
            label: "qemu-ga".into(),
            binary,
            flavor: Flavor::Reference,
        })
    }

    /// This workspace's agent in the dev profile: `cargo test` has built it already in CI,
    /// and a release build would cost a full optimised compile for no gain in the VM (the
    /// checks spend their time in the guest, not in the agent).
    pub fn ours() -> Result<Self> {
        let start = Instant::now();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        host::run(
            std::process::Command::new(cargo)
                .args(["build", "--quiet", "-p", "qga-agent"])
                .current_dir(workspace_root()),
        )?;
        let binary = target_dir().join("debug").join("qga-agent");
        if !binary.is_file() {
            bail!("built qga-agent but {} does not exist", binary.display());
        }
        eprintln!(
            "vm-test: cargo build -p qga-agent: {} ms",
            start.elapsed().as_millis()
        );
        Ok(AgentUnderTest {
            label: "qga-agent".into(),
            binary,
            flavor: Flavor::Ours,
        })
    }
}

/// How the suites run.
#[derive(Debug, Clone, Default)]
pub struct SuiteOptions {
    /// Boot the bzImage even if a vmlinux is available.
    pub compressed_kernel: bool,
    /// Keep the work directory after a passing run.
    pub keep: bool,
}

/// Check counts of one suite run.
struct SuiteResult {
    passed: usize,
    failed: Vec<String>,
}

/// Runs every suite against `agent`, prints `vm-test (<label>): N passed, M failed`, and
/// fails if any check failed.
pub fn run_agent(
    kernel: &Kernel,
    agent: &AgentUnderTest,
    suites: &[&Suite],
    options: &SuiteOptions,
) -> Result<()> {
    let start = Instant::now();
    let mut passed = 0;
    let mut failed = Vec::new();
    for suite in suites {
        match run_suite(kernel, agent, suite, options) {
            Ok(result) => {
                passed += result.passed;
                failed.extend(result.failed);
            }
            Err(err) => {
                eprintln!("vm-test ({}) [{}]: {err:#}", agent.label, suite.name);
                failed.extend(
                    suite
                        .checks
                        .iter()
                        .map(|(name, _)| format!("{}: {name} (not run)", suite.name)),
                );
            }
        }
    }
    println!(
        "vm-test ({}): {passed} passed, {} failed ({:.1} s)",
        agent.label,
        failed.len(),
        start.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        bail!("vm-test ({}) failed: {}", agent.label, failed.join("; "));
    }
    Ok(())
}

/// Builds the initramfs and disk, boots, runs the suite's checks. Err only if the VM could
/// not be brought up; failed checks are counted in the result.
fn run_suite(
    kernel: &Kernel,
    agent: &AgentUnderTest,
    suite: &Suite,
    options: &SuiteOptions,
) -> Result<SuiteResult> {
    let total = Instant::now();
    let tag = format!("vm-test ({}) [{}]", agent.label, suite.name);
    let work = fresh_work_dir(&format!("{}-{}", agent.label, suite.name.replace('+', "-")))?;

    let step = Instant::now();
    let initrd = work.join("initramfs.cpio");
    let agent_args: Vec<String> = suite.agent_args.iter().map(|a| a.to_string()).collect();
    initramfs::build(kernel, &agent.binary, &agent_args, &initrd)?;
    let disk = work.join("data.img");
    disk::build(&disk)?;
    let prepare_ms = step.elapsed().as_millis();

    let image = if options.compressed_kernel || suite.compressed_kernel {
        &kernel.vmlinuz
    } else {
        kernel.boot_image()
    };
    let mut config = VmConfig::new(image, &initrd, &work);
    config.data_disk = Some(disk);
    config.qmp = suite.qmp;
    config.memory_slots = suite.memory_slots;
    config.extra_cmdline = suite.kernel_args.to_string();
    let mut vm = Vm::boot(&config)?;
    let client = vm.wait_for_agent(Duration::from_secs(180))?;
    let boot_ms = vm.uptime().as_millis();
    eprintln!(
        "{tag}: {} on {} {}; initramfs + disk {prepare_ms} ms ({} KiB), boot to agent {boot_ms} ms",
        agent.binary.display(),
        file_name(image),
        kernel.package_version,
        std::fs::metadata(&initrd)
            .map(|m| m.len() >> 10)
            .unwrap_or(0),
    );
    if options.keep {
        eprintln!(
            "{tag}: agent socket {}, console {}",
            vm.agent_socket().display(),
            vm.console_log().display()
        );
    }

    let outcomes = {
        let mut ctx = checks::Ctx {
            client,
            vm: &mut vm,
            kernel,
            flavor: agent.flavor,
        };
        checks::run_all(&mut ctx, suite.checks)
    };
    let checks_ms: u128 = outcomes.iter().map(|o| o.took.as_millis()).sum();
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| format!("{}: {}", suite.name, o.name))
        .collect();
    eprintln!(
        "{tag}: checks {checks_ms} ms, suite total {} ms",
        total.elapsed().as_millis()
    );
    if !failed.is_empty() {
        // Loudly, with what the guest said.
        eprintln!(
            "{tag}: {} check(s) failed{}",
            failed.len(),
            vm.diagnostics()
        );
    }
    drop(vm);
    if !failed.is_empty() {
        eprintln!("{tag}: console log and images kept in {}", work.display());
    } else if options.keep {
        eprintln!("{tag}: kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(SuiteResult {
        passed: outcomes.len() - failed.len(),
        failed,
    })
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

/// `cargo xtask vm-test`: the guest agent, end to end, in real VMs under QEMU (TCG).
#[derive(Debug, Parser)]
#[command(name = "vm-test", version)]
struct Args {
    /// Test this agent binary (expecting qga-agent's behaviour) instead of building ours.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["reference", "all"])]
    agent: Option<PathBuf>,
    /// Test QEMU's own qemu-ga (installed by `cargo xtask setup`).
    #[arg(long, conflicts_with = "all")]
    reference: bool,
    /// qga-agent, then qemu-ga, with the same checks (what CI runs).
    #[arg(long)]
    all: bool,
    /// Run only this suite.
    #[arg(long, value_name = "NAME")]
    suite: Option<String>,
    /// Boot the compressed kernel in every suite (slower).
    #[arg(long)]
    vmlinuz: bool,
    /// Keep the work directories (initramfs, disk image, logs) after passing runs.
    #[arg(long)]
    keep: bool,
}

fn main() -> std::process::ExitCode {
    // The error chain, plainly: a backtrace of the harness helps nobody.
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    let options = SuiteOptions {
        compressed_kernel: args.vmlinuz,
        keep: args.keep,
    };
    let suites: Vec<&Suite> = match &args.suite {
        None => suite::SUITES.to_vec(),
        Some(name) => {
            let found = suite::SUITES.iter().copied().filter(|s| s.name == name);
            let found: Vec<&Suite> = found.collect();
            if found.is_empty() {
                let names: Vec<&str> = suite::SUITES.iter().map(|s| s.name).collect();
                bail!("vm-test: no suite {name:?} (suites: {})", names.join(", "));
            }
            found
        }
    };
    let agents = if let Some(binary) = args.agent {
        let binary = std::fs::canonicalize(&binary)
            .with_context(|| format!("agent {} not found", binary.display()))?;
        vec![AgentUnderTest {
            label: "custom".into(),
            binary,
            flavor: Flavor::Ours,
        }]
    } else if args.reference {
        vec![AgentUnderTest::reference()?]
    } else if args.all {
        vec![AgentUnderTest::ours()?, AgentUnderTest::reference()?]
    } else {
        vec![AgentUnderTest::ours()?]
    };
    let kernel = kernel::ensure(&kernel_cache())?;
    // Every agent runs even if an earlier one failed: the differential needs both results.
    let failed: Vec<String> = agents
        .iter()
        .filter_map(|agent| run_agent(&kernel, agent, &suites, &options).err())
        .map(|err| format!("{err:#}"))
        .collect();
    if !failed.is_empty() {
        bail!("{}", failed.join("\n"));
    }
    Ok(())
}
