//! Host facts and power: guest-get-host-name, guest-get-timezone, guest-get-load,
//! guest-get-osinfo and guest-shutdown.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::utsname::{uname, UtsName};
use qga_types::{GuestLoadAverage, GuestOsInfo, GuestTimezone};

use super::{process, SysError};

/// `guest-get-host-name`: `gethostname()` (not the FQDN).
pub fn host_name() -> Result<String, SysError> {
    let name = nix::unistd::gethostname()
        .map_err(|errno| SysError::with_errno("cannot get hostname", errno))?;
    Ok(name.to_string_lossy().into_owned())
}

/// `guest-get-timezone`: the local zone (`TZ`, else `/etc/localtime`, else UTC) at this moment.
pub fn timezone() -> GuestTimezone {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    timezone_at(now)
}

/// The local zone's abbreviation and offset at `secs` since the epoch.
pub fn timezone_at(secs: i64) -> GuestTimezone {
    let time: libc::time_t = secs;
    // SAFETY: an all-zero `tm` is a valid value (integers and a null zone pointer).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: tzset takes no arguments; it (re)reads TZ so a changed environment is honoured.
    unsafe { tzset() };
    // SAFETY: both pointers are valid for the call; localtime_r writes only into `tm`.
    let result = unsafe { libc::localtime_r(&time, &mut tm) };
    if result.is_null() {
        return GuestTimezone {
            zone: Some("UTC".to_owned()),
            offset: 0,
        };
    }
    let zone = if tm.tm_zone.is_null() {
        None
    } else {
        // SAFETY: a non-null tm_zone points to a NUL-terminated string owned by libc that
        // stays valid until the next tzset(); we copy it at once.
        let name = unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) };
        Some(name.to_string_lossy().into_owned())
    };
    GuestTimezone {
        zone,
        offset: tm.tm_gmtoff,
    }
}

extern "C" {
    /// tzset(3): (re)initialises the local time zone from `TZ` / `/etc/localtime`. The
    /// `libc` crate does not declare it; `localtime_r` alone reads `TZ` only once.
    fn tzset();
}

/// `guest-get-load`: `getloadavg()`; failure is `cannot query load average: <strerror>`.
pub fn load_average() -> Result<GuestLoadAverage, SysError> {
    let mut loads = [0f64; 3];
    // SAFETY: the pointer is valid for 3 doubles and we ask for at most 3.
    let n = unsafe { libc::getloadavg(loads.as_mut_ptr(), 3) };
    if n < 3 {
        let errno = if n < 0 { Errno::last() } else { Errno::EIO };
        return Err(SysError::with_errno("cannot query load average", errno));
    }
    Ok(GuestLoadAverage {
        load1m: loads[0],
        load5m: loads[1],
        load15m: loads[2],
    })
}

/// The os-release files qemu-ga consults, in order: `$QGA_OS_RELEASE` alone if set, else
/// `/etc/os-release` then `/usr/lib/os-release`.
pub fn os_release_paths() -> Vec<PathBuf> {
    match std::env::var_os("QGA_OS_RELEASE") {
        Some(path) => vec![PathBuf::from(path)],
        None => vec![
            PathBuf::from("/etc/os-release"),
            PathBuf::from("/usr/lib/os-release"),
        ],
    }
}

/// `guest-get-osinfo`: `uname` and the first usable file of [`os_release_paths`].
pub fn os_info() -> GuestOsInfo {
    os_info_from(&os_release_paths())
}

/// [`os_info`] reading os-release from the first of `paths` that can be read and parsed.
pub fn os_info_from(paths: &[PathBuf]) -> GuestOsInfo {
    let uts = uname().ok();
    let uts_field = |field: fn(&UtsName) -> &OsStr| {
        uts.as_ref()
            .map(|uts| field(uts).to_string_lossy().into_owned())
    };
    let fields = paths
        .iter()
        .find_map(|path| read_os_release(path))
        .unwrap_or_default();
    let get = |key: &str| {
        fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| os_release_value(v))
    };
    GuestOsInfo {
        kernel_release: uts_field(UtsName::release),
        kernel_version: uts_field(UtsName::version),
        machine: uts_field(UtsName::machine),
        id: get("ID"),
        name: get("NAME"),
        pretty_name: get("PRETTY_NAME"),
        version: get("VERSION"),
        version_id: get("VERSION_ID"),
        variant: get("VARIANT"),
        variant_id: get("VARIANT_ID"),
    }
}

/// Reads an os-release file as qemu-ga does (a GLib key file with an implicit group): `None`
/// if it cannot be read, is not UTF-8 or has a line that is not `key=value`, a comment, blank
/// or a `[group]` header. Returns raw `(key, value)` pairs of the implicit group in file order.
pub fn read_os_release(path: &Path) -> Option<Vec<(String, String)>> {
    let bytes = std::fs::read(path).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    parse_os_release(&text)
}

/// The key-file parsing of [`read_os_release`].
pub fn parse_os_release(text: &str) -> Option<Vec<(String, String)>> {
    let mut fields = Vec::new();
    let mut in_first_group = true;
    for line in text.split('\n') {
        let line = line.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let group = header.trim_end().strip_suffix(']')?;
            // Our implicit group is called `os-release`, like qemu-ga's.
            in_first_group = group == "os-release";
            continue;
        }
        let (key, value) = line.split_once('=')?;
        let key = key.trim_end_matches(|c: char| c.is_ascii_whitespace());
        if key.is_empty() {
            return None;
        }
        let value = value.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if in_first_group {
            fields.push((key.to_owned(), value.to_owned()));
        }
    }
    Some(fields)
}

/// Interprets an os-release value as shell-like text: a value quoted with `"` or `'` ends at
/// the matching quote, with `\$ \' \" \\ \`` unescaped (other backslashes kept); an unquoted
/// value is cut at the first space or `;`.
///
/// qemu-ga treats single-quoted values like unquoted ones (`'Foo Linux'` becomes `'Foo`); we
/// unquote them, as the os-release format intends.
pub fn os_release_value(raw: &str) -> String {
    let mut chars = raw.chars();
    let quote = match chars.next() {
        Some(q @ ('"' | '\'')) => q,
        _ => {
            let end = raw.find([' ', ';']).unwrap_or(raw.len());
            return raw[..end].to_owned();
        }
    };
    let mut out = String::new();
    while let Some(c) = chars.next() {
        if c == quote {
            break;
        }
        if c == '\\' {
            match chars.clone().next() {
                Some(next @ ('$' | '\'' | '"' | '\\' | '`')) => {
                    chars.next();
                    out.push(next);
                }
                _ => out.push('\\'),
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The program `guest-shutdown` runs.
pub const SHUTDOWN: &str = "/sbin/shutdown";

/// The `shutdown` command line for a `guest-shutdown` mode (`None` = `powerdown`):
/// `/sbin/shutdown -h -P|-H|-r +0 "hypervisor initiated shutdown"`.
pub fn shutdown_command(mode: Option<&str>) -> Result<[&'static str; 5], SysError> {
    let flag = match mode.unwrap_or("powerdown") {
        "powerdown" => "-P",
        "halt" => "-H",
        "reboot" => "-r",
        _ => {
            // The unbalanced parenthesis is qemu-ga's text.
            return Err(SysError::new(
                "mode is invalid (valid values are: halt|powerdown|reboot",
            ));
        }
    };
    Ok([SHUTDOWN, "-h", flag, "+0", "hypervisor initiated shutdown"])
}

/// `guest-shutdown`: runs [`shutdown_command`] and waits for it; success means the shutdown
/// was scheduled (the command sends no reply then).
pub fn shutdown(mode: Option<&str>) -> Result<(), SysError> {
    shutdown_with(mode, SHUTDOWN)
}

/// [`shutdown`] with the program given instead of `/sbin/shutdown`.
pub fn shutdown_with(mode: Option<&str>, program: &str) -> Result<(), SysError> {
    let mut argv = shutdown_command(mode)?;
    argv[0] = program;
    process::run_command(&argv, None, "shutdown")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn host_name_is_the_kernel_host_name() {
        let expected = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(host_name().unwrap(), expected.trim_end());
    }

    #[test]
    fn timezone_gives_zone_and_offset() {
        let tz = timezone();
        assert!(tz.zone.as_deref().is_some_and(|z| !z.is_empty()));
        assert!(tz.offset.abs() <= 14 * 3600);
        assert_eq!(timezone_at(0).offset % 60, 0);
    }

    #[test]
    fn load_average_matches_proc() {
        let load = load_average().unwrap();
        let proc = std::fs::read_to_string("/proc/loadavg").unwrap();
        let first: f64 = proc.split_whitespace().next().unwrap().parse().unwrap();
        assert!(load.load1m >= 0.0 && load.load5m >= 0.0 && load.load15m >= 0.0);
        assert!((load.load1m - first).abs() < 2.0);
    }

    #[test]
    fn os_release_values_are_unquoted_like_qemu_ga() {
        assert_eq!(os_release_value("debian"), "debian");
        assert_eq!(os_release_value("Debian GNU/Linux"), "Debian");
        assert_eq!(os_release_value("a;b"), "a");
        assert_eq!(os_release_value(""), "");
        assert_eq!(
            os_release_value("\"Debian GNU/Linux 12\""),
            "Debian GNU/Linux 12"
        );
        assert_eq!(
            os_release_value("\"a\\\"b\\$c\\`d\\\\e\\'f\""),
            "a\"b$c`d\\e'f"
        );
        assert_eq!(os_release_value("\"keep\\n\\x\""), "keep\\n\\x");
        assert_eq!(os_release_value("\"unterminated"), "unterminated");
        assert_eq!(os_release_value("\"12\" trailing"), "12");
        assert_eq!(os_release_value("\"ends\\\\"), "ends\\");
        assert_eq!(os_release_value("\"lone\\"), "lone\\");
        // Fixed quirk: single quotes are unquoted too.
        assert_eq!(os_release_value("'Foo Linux'"), "Foo Linux");
    }

    #[test]
    fn os_release_files_parse_as_key_files() {
        let text = "# comment\n  NAME=\"Debian GNU/Linux\"\nID=debian\n\nID = later\n[other]\nVARIANT=x\n[os-release]\nVERSION=2\n";
        let fields = parse_os_release(text).unwrap();
        assert_eq!(
            fields,
            vec![
                ("NAME".to_owned(), "\"Debian GNU/Linux\"".to_owned()),
                ("ID".to_owned(), "debian".to_owned()),
                ("ID".to_owned(), "later".to_owned()),
                ("VERSION".to_owned(), "2".to_owned()),
            ]
        );
        assert_eq!(parse_os_release("NAME=x\ngarbage line\n"), None);
        assert_eq!(parse_os_release("=x\n"), None);
        assert_eq!(parse_os_release("[broken\n"), None);
    }

    #[test]
    fn os_info_reads_the_first_usable_file() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad");
        std::fs::write(&bad, b"ID=\xff\n").unwrap();
        let good = dir.path().join("good");
        std::fs::write(
            &good,
            "PRETTY_NAME=\"Test OS 1.0 (Tiny)\"\nNAME='Test OS'\nVERSION_ID=\"1.0\"\n\
             VERSION=\"1.0 (Tiny)\"\nID=test\nVARIANT=\"Server Edition\"\nVARIANT_ID=server\n",
        )
        .unwrap();
        let missing = dir.path().join("missing");
        let info = os_info_from(&[missing, bad, good]);
        assert_eq!(info.id.as_deref(), Some("test"));
        assert_eq!(info.name.as_deref(), Some("Test OS"));
        assert_eq!(info.pretty_name.as_deref(), Some("Test OS 1.0 (Tiny)"));
        assert_eq!(info.version.as_deref(), Some("1.0 (Tiny)"));
        assert_eq!(info.version_id.as_deref(), Some("1.0"));
        assert_eq!(info.variant.as_deref(), Some("Server Edition"));
        assert_eq!(info.variant_id.as_deref(), Some("server"));
        let uts = nix::sys::utsname::uname().unwrap();
        assert_eq!(info.machine.as_deref(), uts.machine().to_str());
        assert_eq!(info.kernel_release.as_deref(), uts.release().to_str());

        let none = os_info_from(&[dir.path().join("missing")]);
        assert_eq!(none.id, None);
        assert!(none.kernel_version.is_some());
    }

    #[test]
    fn shutdown_command_lines() {
        let msg = "hypervisor initiated shutdown";
        assert_eq!(
            shutdown_command(None).unwrap(),
            ["/sbin/shutdown", "-h", "-P", "+0", msg]
        );
        assert_eq!(shutdown_command(Some("powerdown")).unwrap()[2], "-P");
        assert_eq!(shutdown_command(Some("halt")).unwrap()[2], "-H");
        assert_eq!(
            shutdown_command(Some("reboot")).unwrap(),
            ["/sbin/shutdown", "-h", "-r", "+0", msg]
        );
        assert_eq!(
            shutdown_command(Some("Reboot")).unwrap_err().to_string(),
            "mode is invalid (valid values are: halt|powerdown|reboot"
        );
    }

    #[test]
    fn shutdown_runs_the_program_and_reports_failure() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let fake = dir.path().join("shutdown");
        let script = format!(
            "#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done > {}\n",
            log.display()
        );
        std::fs::write(&fake, script).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        shutdown_with(Some("halt"), fake.to_str().unwrap()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "[-h]\n[-H]\n[+0]\n[hypervisor initiated shutdown]\n"
        );
        assert_eq!(
            shutdown_with(None, "/nonexistent/shutdown")
                .unwrap_err()
                .to_string(),
            "child process has failed to shutdown: \
             failed to exec '/nonexistent/shutdown': No such file or directory\n"
        );
        // An invalid mode runs nothing.
        std::fs::remove_file(&log).unwrap();
        assert!(shutdown_with(Some("x"), fake.to_str().unwrap()).is_err());
        assert!(!log.exists());
    }
}
