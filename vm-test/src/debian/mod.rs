//! `vm-test --suite debian`: the packaged agent in a real Debian bookworm guest.
//!
//! Builds the release artifacts (`cargo xtask dist`), installs the .deb with dpkg into a
//! minimal bookworm root filesystem ([`image`]), boots that disk with its own kernel and
//! initramfs under TCG with the `org.qemu.guest_agent.0` port, waits until systemd has
//! started the agent (nothing in the guest is started by hand), then runs [`checks`].

pub mod checks;
pub mod image;

use crate::machine::{Vm, VmConfig};
use crate::{guest, host, target_dir, vm_dir, workspace_root, SuiteOptions};
use anyhow::{bail, Context, Result};
use checks::DebCtx;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The suite's name on the command line.
pub const NAME: &str = "debian";

/// Builds the .deb with `cargo xtask dist` and returns its path.
fn build_deb() -> Result<PathBuf> {
    let start = Instant::now();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    host::run(
        Command::new(cargo)
            .args(["run", "--quiet", "-p", "xtask", "--", "dist"])
            .current_dir(workspace_root()),
    )?;
    let dist = target_dir().join("dist");
    let version = env!("CARGO_PKG_VERSION");
    let deb = std::fs::read_dir(&dist)?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with(&format!("qga-agent_{version}-")) && n.ends_with("_amd64.deb")
            })
        })
        .with_context(|| {
            format!(
                "cargo xtask dist wrote no qga-agent .deb into {}",
                dist.display()
            )
        })?;
    eprintln!(
        "vm-test [debian]: cargo xtask dist: {} ms",
        start.elapsed().as_millis()
    );
    Ok(deb)
}

/// Runs the suite; prints `vm-test (debian): N passed, M failed`.
pub fn run(options: &SuiteOptions) -> Result<()> {
    let total = Instant::now();
    if !host::is_root() {
        bail!("the debian suite runs as root (mmdebstrap, chroot dpkg, device nodes in the image)");
    }
    let tar = image::base_tar(&vm_dir().join("debian"))?;
    let deb = build_deb()?;
    let work = vm_dir().join(format!("run-debian-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let step = Instant::now();
    let qga = crate::checks::cli::qga_binary()?;
    let files = image::prepare(&tar, &deb, &qga, &work)?;
    eprintln!(
        "vm-test [debian]: disk image with the package in {} ms",
        step.elapsed().as_millis()
    );

    let mut config = VmConfig::new(&files.vmlinuz, &files.initrd, &work);
    config.data_disk = Some(files.disk.clone());
    config.memory_mib = 1024;
    config.extra_cmdline = "root=/dev/vda rw".into();
    let mut vm = Vm::boot(&config)?;
    let client = vm.wait_for_agent(Duration::from_secs(300))?;
    eprintln!(
        "vm-test [debian]: the agent answered {:.1} s after QEMU started (port {})",
        vm.uptime().as_secs_f64(),
        guest::AGENT_PORT
    );
    let mut ctx = DebCtx {
        client,
        vm: &mut vm,
    };
    let mut failed: Vec<String> = Vec::new();
    for (index, &(name, check)) in checks::CHECKS.iter().enumerate() {
        let start = Instant::now();
        match check(&mut ctx) {
            Ok(()) => eprintln!("  ok    {name} ({} ms)", start.elapsed().as_millis()),
            Err(err) => {
                eprintln!("  FAIL  {name}: {err:#}");
                failed.push(name.to_owned());
                // Go on in sync with a fresh connection, unless the agent is gone.
                let _ = ctx
                    .client
                    .connection()
                    .get_ref()
                    .shutdown(std::net::Shutdown::Both);
                match ctx.vm.wait_for_agent(Duration::from_secs(30)) {
                    Ok(client) => ctx.client = client,
                    Err(err) => {
                        eprintln!("        the agent does not answer any more: {err:#}");
                        let rest = &checks::CHECKS[index + 1..];
                        failed.extend(rest.iter().map(|(name, _)| format!("{name} (not run)")));
                        break;
                    }
                }
            }
        }
    }
    if !failed.is_empty() {
        eprintln!("vm-test (debian): failed{}", vm.diagnostics());
    }
    drop(vm);
    println!(
        "vm-test (debian): {} passed, {} failed ({:.1} s)",
        checks::CHECKS.len() - failed.len(),
        failed.len(),
        total.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        eprintln!(
            "vm-test (debian): console log and disk kept in {}",
            work.display()
        );
        bail!("vm-test (debian) failed: {}", failed.join("; "));
    }
    if options.keep {
        eprintln!("vm-test (debian): kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(())
}
