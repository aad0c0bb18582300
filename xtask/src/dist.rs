//! `cargo xtask dist [--check]`: builds what a release ships into `<target>/dist/` and prints
//! each file with its size:
//! - `qga-agent`: statically linked (glibc `crt-static`), from the `ship` profile (LTO, one
//!   codegen unit, stripped);
//! - `qga-agent_<version>_amd64.deb` (cargo-deb) and `qga-agent-<version>.x86_64.rpm`
//!   (cargo-generate-rpm), from the metadata in `qga-agent/Cargo.toml` and the files in
//!   `qga-agent/packaging/`.
//!
//! cargo-deb and cargo-generate-rpm are installed once into `<target>/tools` with
//! `cargo install` (crates.io), never into the user's cargo directory.
//!
//! `--check` then checks the artifacts: the binary has no program interpreter (static) and
//! `file` agrees, `dpkg-deb` shows the files and relations, lintian reports no error, and
//! `rpm -qlp` lists the files. Missing tools are installed with apt when root; otherwise
//! the checks needing them are skipped (failures under `QAPI_REQUIRE_EXTERNAL=1`).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use testenv as host;

/// The target triple of the shipped binary (`--target` keeps `crt-static` off build scripts).
pub const TRIPLE: &str = "x86_64-unknown-linux-gnu";
/// The Cargo profile of the shipped binary (root Cargo.toml).
pub const PROFILE: &str = "ship";

/// Files every package must contain (Debian paths; the rpm uses /usr/lib for /lib).
const PACKAGED: &[&str] = &[
    "/usr/sbin/qga-agent",
    "/lib/systemd/system/qga-agent.service",
    "/lib/udev/rules.d/60-qga-agent.rules",
    "/etc/qemu/fsfreeze-hook",
    "/etc/qemu/fsfreeze-hook.d/README",
    "/etc/qemu/qemu-ga.conf",
    "/usr/share/man/man8/qga-agent.8.gz",
];

/// The artifacts of one `dist` run.
#[derive(Debug)]
pub struct Artifacts {
    pub binary: PathBuf,
    pub deb: PathBuf,
    pub rpm: PathBuf,
}

pub fn run(check: bool) -> Result<()> {
    let artifacts = build()?;
    for path in [&artifacts.binary, &artifacts.deb, &artifacts.rpm] {
        let size = std::fs::metadata(path)?.len();
        println!("{:>10}  {}", size, path.display());
    }
    if check {
        check_artifacts(&artifacts)?;
        println!("dist: all checks passed");
    }
    Ok(())
}

/// Builds the static binary and both packages into `<target>/dist/`.
pub fn build() -> Result<Artifacts> {
    let target = testenv::target_dir();
    let dist = target.join("dist");
    std::fs::create_dir_all(&dist)?;
    let out = target.join(TRIPLE).join(PROFILE);

    // Static glibc; RUSTFLAGS reach only the target's crates because --target is given.
    let mut rustflags = std::env::var("RUSTFLAGS").unwrap_or_default();
    rustflags.push_str(" -C target-feature=+crt-static");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(&cargo);
    build
        .current_dir(crate::ci::workspace_root())
        .env("RUSTFLAGS", rustflags.trim())
        .args(["build", "--quiet", "-p", "qga-agent", "--bin", "qga-agent"])
        .args(["--profile", PROFILE, "--target", TRIPLE]);
    eprintln!("dist: {}", host::describe(&build));
    let status = build.status().context("running cargo build")?;
    if !status.success() {
        bail!("building the static qga-agent failed ({status})");
    }
    let built = out.join("qga-agent");
    if let Some(interp) = interpreter(&built)? {
        bail!(
            "{} is dynamically linked (interpreter {interp})",
            built.display()
        );
    }
    let binary = dist.join("qga-agent");
    std::fs::copy(&built, &binary)?;

    // The man page, compressed reproducibly where the packagers look for target/release/.
    let page = crate::ci::workspace_root().join("qga-agent/packaging/qga-agent.8");
    let gz = Command::new("gzip").arg("-9nc").arg(&page).output()?;
    if !gz.status.success() {
        bail!("gzip {} failed ({})", page.display(), gz.status);
    }
    std::fs::write(out.join("qga-agent.8.gz"), gz.stdout)?;

    let tools = target.join("tools");
    let cargo_deb = tool(&tools, "cargo-deb")?;
    let mut deb = Command::new(&cargo_deb);
    deb.current_dir(crate::ci::workspace_root())
        .args(["-p", "qga-agent", "--no-build", "--no-strip", "--quiet"])
        .args(["--profile", PROFILE, "--target", TRIPLE, "--output"])
        .arg(&dist);
    let deb_path = host::output(&mut deb)?;
    let deb = PathBuf::from(deb_path.trim());
    if !deb.is_file() {
        bail!("cargo-deb printed {deb_path:?}, which is not a file");
    }

    let cargo_rpm = tool(&tools, "cargo-generate-rpm")?;
    let mut rpm = Command::new(&cargo_rpm);
    rpm.current_dir(crate::ci::workspace_root())
        .args(["generate-rpm", "-p", "qga-agent"])
        .args(["--profile", PROFILE, "--target", TRIPLE, "--target-dir"])
        .arg(&target)
        .arg("-o")
        .arg(&dist);
    host::run(&mut rpm)?;
    let version = env!("CARGO_PKG_VERSION");
    let rpm = dist.join(format!("qga-agent-{version}-1.x86_64.rpm"));
    if !rpm.is_file() {
        bail!("cargo-generate-rpm did not write {}", rpm.display());
    }
    Ok(Artifacts { binary, deb, rpm })
}

/// `<tools>/bin/NAME`, installed from crates.io on first use.
fn tool(tools: &Path, name: &str) -> Result<PathBuf> {
    let path = tools.join("bin").join(name);
    if path.is_file() {
        return Ok(path);
    }
    eprintln!(
        "dist: installing {name} into {} (cargo install, once)",
        tools.display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["install", "--quiet", "--locked", "--root"])
        .arg(tools)
        .arg(name)
        .status()
        .with_context(|| format!("running cargo install {name}"))?;
    if !status.success() || !path.is_file() {
        bail!("cargo install {name} failed ({status})");
    }
    Ok(path)
}

/// The program interpreter (`PT_INTERP`) of an ELF64 file: `None` for a static binary.
pub fn interpreter(path: &Path) -> Result<Option<String>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let field = |at: usize, len: usize| -> Result<u64> {
        let bytes = data
            .get(at..at + len)
            .with_context(|| format!("{} is truncated", path.display()))?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    };
    if data.get(..5) != Some(b"\x7fELF\x02") {
        bail!("{} is not an ELF64 file", path.display());
    }
    let phoff = usize::try_from(field(0x20, 8)?)?;
    let phentsize = usize::try_from(field(0x36, 2)?)?;
    let phnum = usize::try_from(field(0x38, 2)?)?;
    for i in 0..phnum {
        let header = phoff + i * phentsize;
        if field(header, 4)? == 3 {
            let offset = usize::try_from(field(header + 8, 8)?)?;
            let size = usize::try_from(field(header + 32, 8)?)?;
            let text = data
                .get(offset..offset + size)
                .with_context(|| format!("{} is truncated", path.display()))?;
            let text = String::from_utf8_lossy(text);
            return Ok(Some(text.trim_end_matches('\0').to_owned()));
        }
    }
    Ok(None)
}

/// Finds a host program the checks need, installing its Debian package when root.
fn need(program: &str, package: &str) -> Result<Option<PathBuf>> {
    if let Some(path) = host::which(program) {
        return Ok(Some(path));
    }
    if host::is_root() {
        eprintln!("dist: installing {package} (for {program})");
        let mut apt = Command::new("apt-get");
        apt.env("DEBIAN_FRONTEND", "noninteractive")
            .args(["-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q"])
            .args(["--no-install-recommends", package]);
        if host::run(&mut apt).is_err() {
            host::run(Command::new("apt-get").args(["update", "-q"]))?;
            host::run(&mut apt)?;
        }
        return Ok(host::which(program));
    }
    host::skip_or_fail(&format!("{program} ({package}) is not installed"));
    Ok(None)
}

/// The checks of `--check` (see the module comment).
pub fn check_artifacts(artifacts: &Artifacts) -> Result<()> {
    if let Some(file) = need("file", "file")? {
        let said = host::output(Command::new(file).arg(&artifacts.binary))?;
        if !said.contains("static") || !said.contains("stripped") || said.contains("not stripped") {
            bail!("file does not call the binary static and stripped: {said}");
        }
        eprintln!("check: {}", said.trim());
    }

    let listing = host::output(Command::new("dpkg-deb").arg("-c").arg(&artifacts.deb))?;
    let listed: Vec<&str> = listing
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .map(|path| path.trim_start_matches('.'))
        .collect();
    for path in PACKAGED
        .iter()
        .chain(&[
            "/etc/qemu/fsfreeze-hook.d/",
            "/usr/share/doc/qga-agent/copyright",
        ])
        .chain(&["/usr/share/doc/qga-agent/changelog.Debian.gz"])
    {
        if !listed.contains(path) {
            bail!("the .deb lacks {path}; dpkg-deb -c says:\n{listing}");
        }
    }
    let field = |name: &str| -> Result<String> {
        let out = host::output(
            Command::new("dpkg-deb")
                .arg("-f")
                .arg(&artifacts.deb)
                .arg(name),
        )?;
        Ok(out.trim().to_owned())
    };
    for relation in ["Conflicts", "Replaces", "Provides"] {
        if field(relation)? != "qemu-guest-agent" {
            bail!("the .deb's {relation} is not qemu-guest-agent");
        }
    }
    let conffiles = host::output(
        Command::new("dpkg-deb")
            .arg("--info")
            .arg(&artifacts.deb)
            .arg("conffiles"),
    )?;
    for conf in ["/etc/qemu/qemu-ga.conf", "/etc/qemu/fsfreeze-hook"] {
        if !conffiles.lines().any(|l| l.trim() == conf) {
            bail!("{conf} is not a conffile of the .deb (conffiles: {conffiles:?})");
        }
    }
    eprintln!(
        "check: dpkg-deb -c lists the {} packaged files; Conflicts/Replaces/Provides qemu-guest-agent",
        PACKAGED.len()
    );

    if let Some(lintian) = need("lintian", "lintian")? {
        let out = Command::new(lintian)
            .arg("--no-tag-display-limit")
            .arg(&artifacts.deb)
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            eprintln!("lintian: {line}");
        }
        if text.lines().any(|l| l.starts_with("E:")) || !matches!(out.status.code(), Some(0 | 1)) {
            bail!("lintian reports errors on {}", artifacts.deb.display());
        }
        eprintln!("check: lintian reports no error");
    }

    if let Some(rpm) = need("rpm", "rpm")? {
        let listing = host::output(Command::new(&rpm).arg("-qlp").arg(&artifacts.rpm))?;
        for path in PACKAGED {
            let path = match path.strip_prefix("/lib/") {
                Some(rest) => format!("/usr/lib/{rest}"),
                None => path.to_string(),
            };
            if !listing.lines().any(|l| l == path) {
                bail!("the .rpm lacks {path}; rpm -qlp says:\n{listing}");
            }
        }
        let relations = host::output(
            Command::new(&rpm)
                .args(["-qp", "--conflicts", "--provides", "--obsoletes"])
                .arg(&artifacts.rpm),
        )?;
        if relations.matches("qemu-guest-agent").count() < 3 {
            bail!("the .rpm does not conflict with, obsolete and provide qemu-guest-agent:\n{relations}");
        }
        eprintln!("check: rpm -qlp lists the packaged files; conflicts/obsoletes/provides qemu-guest-agent");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_binaries_have_an_interpreter() {
        let sh = std::fs::canonicalize("/bin/sh").expect("/bin/sh");
        let interp = interpreter(&sh).expect("ELF");
        assert!(
            interp.as_deref().is_some_and(|i| i.contains("ld-linux")),
            "{interp:?}"
        );
    }

    #[test]
    fn static_binaries_have_none() {
        // busybox-static, which `cargo xtask setup` installs for the VM tests.
        let Some(busybox) = host::which("busybox") else {
            host::skip_or_fail("busybox (busybox-static) is not installed");
            return;
        };
        assert_eq!(interpreter(&busybox).expect("ELF"), None);
    }

    #[test]
    fn non_elf_files_are_refused() {
        let err = interpreter(Path::new(env!("CARGO_MANIFEST_PATH"))).unwrap_err();
        assert!(err.to_string().contains("not an ELF64 file"), "{err:#}");
    }
}
