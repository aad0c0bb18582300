//! User lookups that work in a statically linked agent.
//!
//! A static glibc cannot load the system's NSS modules reliably (`getpwnam` would `dlopen`
//! modules of the glibc it was linked with, not the guest's), so the agent never calls it:
//! it reads `/etc/passwd` itself (the `files` source, which every guest has), and for a user
//! not found there asks `getent passwd NAME`, a dynamically linked program that goes through
//! the guest's own NSS configuration (LDAP, SSSD, extrausers, systemd's userdb...). The same
//! code runs in a dynamic build, so both behave alike.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The files source of the passwd database.
pub const PASSWD_FILE: &str = "/etc/passwd";
/// glibc's NSS front end (in `libc-bin` on Debian, `glibc-common` on RHEL).
pub const GETENT: &str = "getent";

/// The fields of a passwd entry the agent uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// Looks `name` up: `/etc/passwd` first, then `getent`. `Ok(None)`: no such user.
pub fn lookup_user(name: &str) -> io::Result<Option<PasswdEntry>> {
    lookup_user_with(name, Path::new(PASSWD_FILE), GETENT)
}

/// [`lookup_user`] with the passwd file and the getent program as parameters (for tests).
pub fn lookup_user_with(
    name: &str,
    passwd: &Path,
    getent: &str,
) -> io::Result<Option<PasswdEntry>> {
    // A name with ':' or a newline could forge an entry; no such user can exist.
    if name.is_empty() || name.contains([':', '\n']) {
        return Ok(None);
    }
    match std::fs::read_to_string(passwd) {
        Ok(text) => {
            if let Some(entry) = find_entry(&text, name) {
                return Ok(Some(entry));
            }
        }
        // No passwd file: every user comes from another source.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    lookup_getent(name, getent)
}

/// Asks `getent passwd NAME` (exit status 2: not found). A guest without getent has only
/// the files source, which was already searched: the user does not exist.
fn lookup_getent(name: &str, getent: &str) -> io::Result<Option<PasswdEntry>> {
    let output = match Command::new(getent)
        .args(["passwd", "--", name])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match output.status.code() {
        Some(0) => Ok(find_entry(&String::from_utf8_lossy(&output.stdout), name)),
        Some(2) => Ok(None),
        _ => Err(io::Error::other(format!(
            "{getent} passwd failed ({})",
            output.status
        ))),
    }
}

/// The entry for `name` in passwd-format text (NIS compat `+`/`-` lines are skipped).
pub fn find_entry(text: &str, name: &str) -> Option<PasswdEntry> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let [user, _, uid, gid, _, home, ..] = fields[..] else {
            return None;
        };
        if user != name || user.starts_with(['+', '-', '#']) {
            return None;
        }
        Some(PasswdEntry {
            name: user.to_owned(),
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
            home: PathBuf::from(home),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        # a comment\n\
        +nisuser::::::\n\
        broken:x:notanumber:1:::\n\
        alice:x:1000:1001:Alice,,,:/home/alice:/bin/sh\n";

    #[test]
    fn entries_are_parsed_from_passwd_text() {
        assert_eq!(
            find_entry(PASSWD, "alice"),
            Some(PasswdEntry {
                name: "alice".into(),
                uid: 1000,
                gid: 1001,
                home: "/home/alice".into()
            })
        );
        assert_eq!(find_entry(PASSWD, "root").map(|e| e.uid), Some(0));
        assert_eq!(find_entry(PASSWD, "+nisuser"), None);
        assert_eq!(find_entry(PASSWD, "broken"), None);
        assert_eq!(find_entry(PASSWD, "ali"), None);
    }

    /// A stand-in for getent answering for one user only, as an NSS source other than files
    /// would (exit status 2 for any other name, as getent's).
    fn fake_getent(dir: &Path) -> String {
        let path = dir.join("getent");
        std::fs::write(
            &path,
            "#!/bin/sh\n[ \"$1 $2 $3\" = 'passwd -- ldapuser' ] || exit 2\n\
             echo 'ldapuser:*:70000:70000:LDAP:/srv/ldapuser:/bin/sh'\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn files_first_then_getent() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, PASSWD).unwrap();
        let getent = fake_getent(dir.path());
        let found = lookup_user_with("alice", &passwd, &getent).unwrap();
        assert_eq!(found.map(|e| e.uid), Some(1000));
        let found = lookup_user_with("ldapuser", &passwd, &getent).unwrap();
        assert_eq!(
            found.map(|e| (e.uid, e.home)),
            Some((70000, "/srv/ldapuser".into()))
        );
        assert_eq!(
            lookup_user_with("nobody-here", &passwd, &getent).unwrap(),
            None
        );
        // No passwd file at all: getent is asked.
        let missing = dir.path().join("missing");
        let found = lookup_user_with("ldapuser", &missing, &getent).unwrap();
        assert_eq!(found.map(|e| e.gid), Some(70000));
        // No getent either: the user does not exist.
        assert_eq!(
            lookup_user_with("ldapuser", &passwd, "/nonexistent/getent").unwrap(),
            None
        );
    }

    #[test]
    fn forged_names_are_not_users() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, PASSWD).unwrap();
        let getent = fake_getent(dir.path());
        assert_eq!(lookup_user_with("alice:x", &passwd, &getent).unwrap(), None);
        assert_eq!(lookup_user_with("", &passwd, &getent).unwrap(), None);
    }

    #[test]
    fn the_real_getent_answers_for_root() {
        // The system's getent through its NSS configuration (skipped where there is none).
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("passwd");
        std::fs::write(&empty, "").unwrap();
        if Command::new(GETENT).arg("--help").output().is_err() {
            assert!(
                std::env::var_os("QAPI_REQUIRE_EXTERNAL").is_none(),
                "{GETENT} not found"
            );
            eprintln!("skipped: {GETENT} not found");
            return;
        }
        let root = lookup_user_with("root", &empty, GETENT).unwrap();
        assert_eq!(root.map(|e| e.uid), Some(0));
        let none = lookup_user_with("no-such-user-qga", &empty, GETENT).unwrap();
        assert_eq!(none, None);
    }
}
