//! guest-get-users: logged-in users from the utmpx database.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Mutex;

use qga_types::GuestUser;

/// The utmpx database glibc reads by default.
pub const UTMP_PATH: &str = "/var/run/utmp";

/// glibc's utmpx functions keep one global cursor and file name.
static UTMPX: Mutex<()> = Mutex::new(());

/// `guest-get-users` from [`UTMP_PATH`].
pub fn users() -> Vec<GuestUser> {
    users_from(Path::new(UTMP_PATH))
}

/// `guest-get-users`: one entry per user name of the `USER_PROCESS` records of `utmp`, in
/// order of first appearance, with the earliest login time (seconds since the epoch with a
/// microsecond fraction; Linux has no `domain`). An unreadable file gives `[]`.
pub fn users_from(utmp: &Path) -> Vec<GuestUser> {
    let Ok(path) = CString::new(utmp.as_os_str().as_bytes()) else {
        return Vec::new();
    };
    let _guard = UTMPX
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut users: Vec<GuestUser> = Vec::new();
    // SAFETY: the utmpx functions are only called with the lock held; `path` outlives the
    // calls (glibc copies the name); every record pointer is used before the next call.
    unsafe {
        if libc::utmpxname(path.as_ptr()) != 0 {
            return users;
        }
        libc::setutxent();
        loop {
            let record = libc::getutxent();
            if record.is_null() {
                break;
            }
            let record = &*record;
            if record.ut_type != libc::USER_PROCESS {
                continue;
            }
            let name = c_field(&record.ut_user);
            let login_time =
                f64::from(record.ut_tv.tv_sec) + f64::from(record.ut_tv.tv_usec) / 1_000_000.0;
            match users.iter_mut().find(|u| u.user == name) {
                Some(user) => user.login_time = user.login_time.min(login_time),
                None => users.push(GuestUser {
                    user: name,
                    login_time,
                    domain: None,
                }),
            }
        }
        libc::endutxent();
        // Leave the default database selected for anyone else.
        let default = c"/var/run/utmp";
        libc::utmpxname(default.as_ptr());
    }
    users
}

/// A fixed-size C string field (NUL-terminated unless it fills the array).
fn c_field(field: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends records to a utmpx file through glibc's own writer.
    fn write_records(path: &Path, records: &[(i16, &str, &str, i32, i32)]) {
        std::fs::write(path, b"").unwrap();
        let cpath = CString::new(path.as_os_str().as_bytes()).unwrap();
        let _guard = UTMPX.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: as in `users_from`; `entry` is a fully initialised utmpx value.
        unsafe {
            assert_eq!(libc::utmpxname(cpath.as_ptr()), 0);
            libc::setutxent();
            for (kind, user, line, sec, usec) in records {
                let mut entry: libc::utmpx = std::mem::zeroed();
                entry.ut_type = *kind;
                entry.ut_pid = 1000 + *sec;
                for (d, s) in entry.ut_user.iter_mut().zip(user.bytes()) {
                    *d = s as libc::c_char;
                }
                for (d, s) in entry.ut_line.iter_mut().zip(line.bytes()) {
                    *d = s as libc::c_char;
                }
                for (d, s) in entry.ut_id.iter_mut().zip(line.bytes().rev()) {
                    *d = s as libc::c_char;
                }
                entry.ut_tv.tv_sec = *sec;
                entry.ut_tv.tv_usec = *usec;
                assert!(!libc::pututxline(&entry).is_null());
            }
            libc::endutxent();
            libc::utmpxname(c"/var/run/utmp".as_ptr());
        }
    }

    #[test]
    fn user_processes_are_grouped_with_the_earliest_login() {
        let dir = tempfile::tempdir().unwrap();
        let utmp = dir.path().join("utmp");
        write_records(
            &utmp,
            &[
                (libc::BOOT_TIME, "reboot", "~", 100, 0),
                (libc::USER_PROCESS, "alice", "pts/1", 2000, 500_000),
                (libc::USER_PROCESS, "bob", "pts/2", 1500, 0),
                (libc::USER_PROCESS, "alice", "pts/3", 1000, 250_000),
                (libc::DEAD_PROCESS, "carol", "pts/4", 10, 0),
                (
                    libc::USER_PROCESS,
                    "a-very-long-user-name-of-32-chars",
                    "pts/5",
                    3000,
                    0,
                ),
            ],
        );
        let users = users_from(&utmp);
        assert_eq!(
            users,
            [
                GuestUser {
                    user: "alice".into(),
                    login_time: 1000.25,
                    domain: None,
                },
                GuestUser {
                    user: "bob".into(),
                    login_time: 1500.0,
                    domain: None,
                },
                GuestUser {
                    user: "a-very-long-user-name-of-32-char".into(),
                    login_time: 3000.0,
                    domain: None,
                },
            ]
        );
        assert_eq!(users_from(&dir.path().join("missing")), []);
    }

    #[test]
    fn the_system_database_is_readable() {
        // Whatever is logged in; the call must not fail or hang.
        let _ = users();
    }
}
