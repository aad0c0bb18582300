//! Builds the test VM's initramfs: busybox, the kernel modules, /init, a small /etc, and the
//! agent under test with the shared libraries it links against.

use super::cpio::{Archive, Node};
use super::kernel::Kernel;
use super::{guest, host, modules};
use anyhow::{bail, Context, Result};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

const INIT: &str = include_str!("../guest/init");
const SHUTDOWN: &str = include_str!("../guest/shutdown");
const CHPASSWD: &str = include_str!("../guest/chpasswd");
const FSFREEZE_HOOK: &str = include_str!("../guest/fsfreeze-hook");

/// Where the agent binary lands inside the guest: `/usr/bin/<file name on the host>`.
pub fn agent_guest_path(agent: &Path) -> Result<String> {
    let name = agent
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("agent path {} has no file name", agent.display()))?;
    Ok(format!("/usr/bin/{name}"))
}

/// The agent command line /init runs: qemu-ga's own options for the virtio-serial port.
pub fn agent_command(agent: &Path, extra_args: &[String]) -> Result<Vec<String>> {
    let port = format!("/dev/virtio-ports/{}", guest::AGENT_PORT);
    let mut words = vec![agent_guest_path(agent)?];
    words.extend(["-m", "virtio-serial", "-p", &port, "-t", guest::STATE_DIR].map(String::from));
    words.extend(extra_args.iter().cloned());
    Ok(words)
}

/// Writes an uncompressed newc initramfs for `kernel` running `agent` to `out`.
pub fn build(kernel: &Kernel, agent: &Path, agent_args: &[String], out: &Path) -> Result<()> {
    let mut archive = Archive::default();
    for dir in [
        "dev", "proc", "sys", "run", "root", "mnt", "bin", "sbin", "usr/bin", "usr/sbin",
    ] {
        archive.dir(dir);
    }
    archive.insert("tmp", Node::Dir { mode: 0o1777 });
    archive.dir(guest::DATA_MOUNT);
    archive.symlink("var/run", "../run");
    // The kernel opens /dev/console for init before devtmpfs is mounted.
    let console = Node::CharDevice {
        mode: 0o600,
        major: 5,
        minor: 1,
    };
    archive.insert("dev/console", console);

    add_busybox(&mut archive)?;
    archive.file("init", 0o755, INIT);
    archive.file("sbin/shutdown", 0o755, SHUTDOWN);
    archive.file("usr/sbin/chpasswd", 0o755, CHPASSWD);
    archive.file(guest::FSFREEZE_HOOK, 0o755, FSFREEZE_HOOK);

    archive.file("etc/hostname", 0o644, format!("{}\n", guest::HOSTNAME));
    archive.file("etc/os-release", 0o644, guest::OS_RELEASE);
    for (path, text) in guest::ETC_FILES {
        archive.file(path, 0o644, *text);
    }
    archive.file("etc/shadow", 0o600, guest::SHADOW);
    archive.symlink("etc/mtab", "/proc/self/mounts");
    archive.file("run/utmp", 0o664, utmp(guest::UTMP));

    let modules = modules::resolve(&kernel.modules_dir(), guest::MODULES)?;
    let mut module_paths = Vec::new();
    for module in modules {
        let path = Path::new("lib/modules")
            .join(&kernel.release)
            .join(&module.relative_path);
        let path = path.to_string_lossy().into_owned();
        module_paths.push(format!("/{path}"));
        archive.file(&path, 0o644, module.data);
    }

    // Without debug info a dev-profile agent shrinks several-fold, and so does the unpacking
    // time in the guest; the symbol table stays for backtraces.
    let stripped = out.with_extension("agent");
    let agent_copy = match host::which("strip") {
        Some(strip) => {
            let mut cmd = Command::new(strip);
            host::run(cmd.arg("--strip-debug").arg("-o").arg(&stripped).arg(agent))?;
            stripped.as_path()
        }
        None => agent,
    };
    add_program(&mut archive, agent_copy, &agent_guest_path(agent)?)?;
    let _ = fs::remove_file(&stripped);
    let command = agent_command(agent, agent_args)?;
    if let Some(bad) = command
        .iter()
        .find(|w| w.is_empty() || w.contains(|c: char| c.is_whitespace() || "'\"\\$`".contains(c)))
    {
        bail!("agent argument {bad:?} cannot be passed through /init (no spaces or quotes)");
    }
    let conf = [
        ("MODULES", module_paths.join(" ")),
        ("DATA_DEVICE", guest::DATA_DEVICE.to_string()),
        ("DATA_MOUNT", guest::DATA_MOUNT.to_string()),
        ("AGENT_PORT", guest::AGENT_PORT.to_string()),
        ("FROZEN_MARKER", guest::FROZEN_MARKER.to_string()),
        ("AGENT_CMD", command.join(" ")),
    ]
    .iter()
    .map(|(key, value)| format!("{key}='{value}'\n"))
    .collect::<String>();
    archive.file("etc/vm.conf", 0o644, conf);

    let file = fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut writer = BufWriter::new(file);
    archive.write_to(&mut writer)?;
    writer.flush()?;
    Ok(())
}

/// glibc's x86_64 `struct utmpx` (384 bytes) for each (type, line, user, seconds,
/// microseconds).
fn utmp(records: &[(i16, &str, &str, i32, i32)]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(kind, line, user, seconds, micros) in records {
        let mut record = [0u8; 384];
        record[0..2].copy_from_slice(&kind.to_le_bytes());
        record[4..8].copy_from_slice(&1i32.to_le_bytes()); // ut_pid
        let text = |record: &mut [u8; 384], at: usize, len: usize, value: &str| {
            let bytes = &value.as_bytes()[..value.len().min(len)];
            record[at..at + bytes.len()].copy_from_slice(bytes);
        };
        text(&mut record, 8, 32, line); // ut_line
        text(&mut record, 40, 4, line.rsplit('/').next().unwrap_or(line)); // ut_id
        text(&mut record, 44, 32, user); // ut_user; ut_host (256), exit, session follow
        record[340..344].copy_from_slice(&seconds.to_le_bytes()); // ut_tv.tv_sec
        record[344..348].copy_from_slice(&micros.to_le_bytes()); // ut_tv.tv_usec
        out.extend_from_slice(&record);
    }
    out
}

/// busybox-static as /bin/busybox plus a symlink for every applet.
fn add_busybox(archive: &mut Archive) -> Result<()> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| host::which("busybox"))
        .context(
            "busybox not found (install busybox-static, or run `cargo xtask setup` as root)",
        )?;
    add_program(archive, &busybox, "/bin/busybox")?;
    let applets = host::output(Command::new(&busybox).arg("--list-full"))?;
    for applet in applets.lines().map(str::trim).filter(|a| !a.is_empty()) {
        if !archive.contains(applet) {
            archive.symlink(applet, "/bin/busybox");
        }
    }
    Ok(())
}

/// Copies the program at `host_path` to `guest_path`, with the libraries `ldd` lists for it
/// (at the same paths, so the dynamic loader finds them without a cache).
fn add_program(archive: &mut Archive, host_path: &Path, guest_path: &str) -> Result<()> {
    let data =
        fs::read(host_path).with_context(|| format!("cannot read {}", host_path.display()))?;
    archive.file(guest_path, 0o755, data);
    for library in shared_libraries(host_path)? {
        let data =
            fs::read(&library).with_context(|| format!("cannot read {}", library.display()))?;
        archive.file(&library.to_string_lossy(), 0o755, data);
    }
    Ok(())
}

/// The absolute paths `ldd` resolves for `program` (none for a static program).
fn shared_libraries(program: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(program)
        .output()
        .context("cannot run ldd")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success()
        || text.contains("not a dynamic executable")
        || text.contains("statically linked")
    {
        return Ok(Vec::new());
    }
    let mut libraries = Vec::new();
    for line in text.lines() {
        if line.contains("not found") {
            bail!(
                "{} needs a library the host lacks: {}",
                program.display(),
                line.trim()
            );
        }
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        let path = line.split("=>").last().unwrap_or(line).trim();
        let path = path.split(" (").next().unwrap_or(path).trim();
        if path.starts_with('/') {
            libraries.push(PathBuf::from(path));
        }
    }
    Ok(libraries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utmp_records_use_glibcs_x86_64_layout() {
        let bytes = utmp(&[(7, "pts/12", "someone", 1_700_000_000, 250_000)]);
        assert_eq!(bytes.len(), 384);
        assert_eq!(&bytes[0..2], &7i16.to_le_bytes());
        assert_eq!(&bytes[8..14], b"pts/12");
        assert_eq!(&bytes[40..42], b"12");
        assert_eq!(&bytes[44..52], b"someone\0");
        assert_eq!(&bytes[340..344], &1_700_000_000i32.to_le_bytes());
        assert_eq!(&bytes[344..348], &250_000i32.to_le_bytes());
        let long = "x".repeat(40);
        let bytes = utmp(&[(7, "tty1", &long, 0, 0), (8, "tty2", "b", 0, 0)]);
        assert_eq!(bytes.len(), 768);
        // A name is cut at the field size, not spilled into the next field.
        assert_eq!(&bytes[44..76], &long.as_bytes()[..32]);
        assert_eq!(bytes[76], 0);
    }
}
