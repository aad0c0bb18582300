//! guest-get-time / guest-set-time: the wall clock and the hardware clock.

use nix::sys::time::TimeSpec;
use nix::time::{clock_gettime, clock_settime, ClockId};

use super::{process, SysError};

/// The program qemu-ga runs to sync the hardware clock.
pub const HWCLOCK: &str = "/sbin/hwclock";

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// `guest-get-time`: the wall clock in nanoseconds since the epoch, with microsecond
/// resolution (qemu-ga reports `g_get_real_time() * 1000`).
pub fn get_time() -> Result<i64, SysError> {
    let now = clock_gettime(ClockId::CLOCK_REALTIME)
        .map_err(|errno| SysError::with_errno("failed to read the clock", errno))?;
    Ok(now.tv_sec() * NANOS_PER_SEC + now.tv_nsec() / 1000 * 1000)
}

/// `guest-set-time`: with a time, checks it, sets the system clock and then copies it to the
/// hardware clock (`/sbin/hwclock -w`); without one, sets the system clock from the hardware
/// clock (`/sbin/hwclock -s`).
pub fn set_time(time_ns: Option<i64>) -> Result<(), SysError> {
    set_time_with(time_ns, HWCLOCK)
}

/// [`set_time`] with the hwclock program given.
pub fn set_time_with(time_ns: Option<i64>, hwclock: &str) -> Result<(), SysError> {
    if let Some(time_ns) = time_ns {
        let time = checked_time(time_ns)?;
        clock_settime(ClockId::CLOCK_REALTIME, time)
            .map_err(|errno| SysError::with_errno("Failed to set time to guest", errno))?;
    }
    let flag = if time_ns.is_some() { "-w" } else { "-s" };
    process::run_command(&[hwclock, flag], None, "set hardware clock to system time")
}

/// The time qemu-ga would pass to `settimeofday`: seconds and microseconds truncated toward
/// zero, after checking that the local-time year is within 1970..=2069 (`Invalid time`).
///
/// qemu-ga appends a stale, unrelated `errno` text to `Invalid time`; we report the bare text.
pub fn checked_time(time_ns: i64) -> Result<TimeSpec, SysError> {
    let secs = time_ns / NANOS_PER_SEC;
    let micros = (time_ns % NANOS_PER_SEC) / 1000;
    match local_year(secs) {
        Some(year) if (1970..2070).contains(&year) => Ok(TimeSpec::new(secs, micros * 1000)),
        _ => Err(SysError::new("Invalid time")),
    }
}

/// The calendar year of `secs` in the local time zone (`None` if not representable).
fn local_year(secs: i64) -> Option<i64> {
    let time: libc::time_t = secs;
    // SAFETY: an all-zero `tm` is a valid value (integers and a null zone pointer).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call; localtime_r writes only
    // into `tm` and returns null on failure.
    let result = unsafe { libc::localtime_r(&time, &mut tm) };
    (!result.is_null()).then(|| i64::from(tm.tm_year) + 1900)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const DAY: i64 = 86_400;
    // 2070-01-01T00:00:00Z
    const Y2070: i64 = 3_155_760_000;

    #[test]
    fn get_time_has_microsecond_resolution_and_is_now() {
        let ns = get_time().unwrap();
        assert_eq!(ns % 1000, 0);
        let std_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        assert!((std_now - ns).abs() < 5 * NANOS_PER_SEC);
    }

    #[test]
    fn years_outside_1970_to_2069_are_invalid() {
        // Margins of a day keep these independent of the local time zone.
        for ns in [
            -DAY * NANOS_PER_SEC,
            (Y2070 + DAY) * NANOS_PER_SEC,
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(checked_time(ns).unwrap_err().to_string(), "Invalid time");
        }
        let ok = checked_time((Y2070 - DAY) * NANOS_PER_SEC + 123_456_789).unwrap();
        assert_eq!(ok.tv_sec(), Y2070 - DAY);
        assert_eq!(ok.tv_nsec(), 123_456_000);
        assert_eq!(checked_time(DAY * NANOS_PER_SEC).unwrap().tv_sec(), DAY);
    }

    #[test]
    fn hwclock_runs_with_s_without_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let fake = dir.path().join("hwclock");
        std::fs::write(
            &fake,
            format!("#!/bin/sh\necho \"$@\" > {}\n", log.display()),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        set_time_with(None, fake.to_str().unwrap()).unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "-s\n");
    }

    #[test]
    fn hwclock_failures_are_reported() {
        assert_eq!(
            set_time_with(None, "/nonexistent/hwclock")
                .unwrap_err()
                .to_string(),
            "child process has failed to set hardware clock to system time: \
             failed to exec '/nonexistent/hwclock': No such file or directory\n"
        );
        // An invalid time fails before the clock or the hwclock program is touched.
        assert_eq!(
            set_time_with(Some(-DAY * NANOS_PER_SEC), "/nonexistent/hwclock")
                .unwrap_err()
                .to_string(),
            "Invalid time"
        );
    }
}
