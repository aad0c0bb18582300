//! guest-ssh-get/add/remove-authorized-keys: a user's `~/.ssh/authorized_keys`.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid};

use super::error::io_strerror;
use super::{passwd, SysError};

/// The passwd facts the key commands need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub home: PathBuf,
    pub uid: Uid,
    pub gid: Gid,
}

/// Looks `username` up in the passwd database (files, then the guest's NSS through getent:
/// see [`super::passwd`]). Not found reads `failed to lookup user '<u>': Success` (qemu-ga
/// passes on GLib's errno-0 text).
pub fn lookup_account(username: &str) -> Result<Account, SysError> {
    let fail = |text: String| SysError::new(format!("failed to lookup user '{username}': {text}"));
    match passwd::lookup_user(username) {
        Ok(Some(user)) => Ok(Account {
            home: user.home,
            uid: Uid::from_raw(user.uid),
            gid: Gid::from_raw(user.gid),
        }),
        Ok(None) => Err(fail("Success".to_owned())),
        Err(e) => Err(fail(io_strerror(&e))),
    }
}

/// A key is rejected if it starts with `#` or contains a newline:
/// `invalid OpenSSH public key: '<key>'` (an empty key is accepted, as by qemu-ga).
pub fn check_keys(keys: &[String]) -> Result<(), SysError> {
    match keys.iter().find(|k| k.starts_with('#') || k.contains('\n')) {
        Some(bad) => Err(SysError::new(format!(
            "invalid OpenSSH public key: '{bad}'"
        ))),
        None => Ok(()),
    }
}

/// `guest-ssh-get-authorized-keys`.
pub fn get_authorized_keys(username: &str) -> Result<Vec<String>, SysError> {
    get_authorized_keys_for(&lookup_account(username)?)
}

/// The keys of `~/.ssh/authorized_keys`: lines trimmed, blank and `#` lines dropped, in
/// **reverse** file order (qemu-ga prepends). A missing file is an error.
pub fn get_authorized_keys_for(account: &Account) -> Result<Vec<String>, SysError> {
    let lines = read_authkeys(&keys_path(account))?;
    Ok(lines
        .iter()
        .map(|line| line.trim_matches(|c: char| c.is_ascii_whitespace()))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .rev()
        .map(str::to_owned)
        .collect())
}

/// `guest-ssh-add-authorized-keys`: keys are checked before the user is looked up.
pub fn add_authorized_keys(username: &str, keys: &[String], reset: bool) -> Result<(), SysError> {
    check_keys(keys)?;
    add_authorized_keys_for(&lookup_account(username)?, keys, reset)
}

/// Appends the keys not yet present (exact line match) to the existing lines (none when
/// `reset` or the file is unreadable, in which case `~/.ssh` is created with mode 0700 and
/// the user's ownership if it is not a directory), then writes the lines joined by `\n`
/// (no final newline), owned by the user, mode 0600.
pub fn add_authorized_keys_for(
    account: &Account,
    keys: &[String],
    reset: bool,
) -> Result<(), SysError> {
    check_keys(keys)?;
    let ssh_dir = account.home.join(".ssh");
    let path = ssh_dir.join("authorized_keys");
    let existing = if reset {
        None
    } else {
        read_authkeys(&path).ok()
    };
    if existing.is_none() && !ssh_dir.is_dir() {
        make_ssh_dir(&ssh_dir, account)?;
    }
    let mut lines = existing.unwrap_or_default();
    for key in keys {
        if !lines.contains(key) {
            lines.push(key.clone());
        }
    }
    write_authkeys(&path, &lines, account)
}

/// `guest-ssh-remove-authorized-keys`: keys are checked before the user is looked up.
pub fn remove_authorized_keys(username: &str, keys: &[String]) -> Result<(), SysError> {
    check_keys(keys)?;
    remove_authorized_keys_for(&lookup_account(username)?, keys)
}

/// Drops the lines equal to one of `keys` and rewrites the file; a missing file is success.
pub fn remove_authorized_keys_for(account: &Account, keys: &[String]) -> Result<(), SysError> {
    check_keys(keys)?;
    let path = keys_path(account);
    if fs::symlink_metadata(&path).is_err() {
        return Ok(());
    }
    let lines: Vec<String> = read_authkeys(&path)?
        .into_iter()
        .filter(|line| !keys.contains(line))
        .collect();
    write_authkeys(&path, &lines, account)
}

fn keys_path(account: &Account) -> PathBuf {
    account.home.join(".ssh").join("authorized_keys")
}

/// The file split at `\n` (a final newline yields a final empty line, as `g_strsplit`).
fn read_authkeys(path: &Path) -> Result<Vec<String>, SysError> {
    let fail = |what: &str, err: &std::io::Error| {
        SysError::new(format!(
            "failed to read '{}': Failed to {what} file \u{201c}{}\u{201d}: {}",
            path.display(),
            path.display(),
            io_strerror(err)
        ))
    };
    let mut file = File::open(path).map_err(|err| fail("open", &err))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|err| fail("read from", &err))?;
    Ok(String::from_utf8_lossy(&bytes)
        .split('\n')
        .map(str::to_owned)
        .collect())
}

fn make_ssh_dir(dir: &Path, account: &Account) -> Result<(), SysError> {
    let fail = |what: &str, err: std::io::Error| {
        SysError::new(format!(
            "failed to {what} directory '{}': {}",
            dir.display(),
            io_strerror(&err)
        ))
    };
    fs::create_dir(dir).map_err(|err| fail("create", err))?;
    chown(dir, Some(account.uid.as_raw()), Some(account.gid.as_raw()))
        .map_err(|err| fail("set ownership of", err))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|err| fail("set permissions of", err))
}

/// Replaces the file atomically (a temporary file next to it, then rename, as
/// `g_file_set_contents`), then sets ownership and mode 0600.
fn write_authkeys(path: &Path, lines: &[String], account: &Account) -> Result<(), SysError> {
    let shown = path.display();
    let fail = |detail: String| SysError::new(format!("failed to write to '{shown}': {detail}"));
    let temp = temp_name(path);
    let result = File::options()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(|err| {
            fail(format!(
                "Failed to create file \u{201c}{}\u{201d}: {}",
                temp.display(),
                io_strerror(&err)
            ))
        })
        .and_then(|mut file| {
            file.write_all(lines.join("\n").as_bytes()).map_err(|err| {
                fail(format!(
                    "Failed to write file \u{201c}{}\u{201d}: write() failed: {}",
                    temp.display(),
                    io_strerror(&err)
                ))
            })
        })
        .and_then(|()| {
            fs::rename(&temp, path).map_err(|err| {
                fail(format!(
                    "Failed to rename file \u{201c}{}\u{201d} to \u{201c}{shown}\u{201d}: \
                     g_rename() failed: {}",
                    temp.display(),
                    io_strerror(&err)
                ))
            })
        });
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    // qemu-ga's text says "directory" here too.
    chown(path, Some(account.uid.as_raw()), Some(account.gid.as_raw())).map_err(|err| {
        SysError::new(format!(
            "failed to set ownership of directory '{shown}': {}",
            io_strerror(&err)
        ))
    })?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|err| {
        SysError::new(format!(
            "failed to set permissions of '{shown}': {}",
            io_strerror(&err)
        ))
    })
}

/// `<path>.XXXXXX` with six random-ish characters, like `g_mkstemp`.
fn temp_name(path: &Path) -> PathBuf {
    use std::hash::{BuildHasher, Hasher};
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let mut seed = hasher.finish();
    let suffix: String = (0..6)
        .map(|_| {
            let c = CHARS[(seed % CHARS.len() as u64) as usize] as char;
            seed /= CHARS.len() as u64;
            c
        })
        .collect();
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{suffix}"));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn account(home: &Path) -> Account {
        Account {
            home: home.to_owned(),
            uid: Uid::current(),
            gid: Gid::current(),
        }
    }

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn lookup() {
        let root = lookup_account("root").unwrap();
        assert_eq!(root.uid, Uid::from_raw(0));
        assert_eq!(
            lookup_account("no-such-user-qga").unwrap_err().to_string(),
            "failed to lookup user 'no-such-user-qga': Success"
        );
        assert_eq!(
            get_authorized_keys("no-such-user-qga")
                .unwrap_err()
                .to_string(),
            "failed to lookup user 'no-such-user-qga': Success"
        );
    }

    #[test]
    fn key_checks_come_first() {
        for bad in ["#comment", "a\nb"] {
            let err = add_authorized_keys("no-such-user-qga", &keys(&["ok", bad]), false);
            assert_eq!(
                err.unwrap_err().to_string(),
                format!("invalid OpenSSH public key: '{bad}'")
            );
            let err = remove_authorized_keys("no-such-user-qga", &keys(&[bad]));
            assert!(err.unwrap_err().to_string().starts_with("invalid OpenSSH"));
        }
        check_keys(&keys(&["", "ssh-ed25519 AAAA x"])).unwrap();
    }

    #[test]
    fn get_trims_filters_and_reverses() {
        let home = tempfile::tempdir().unwrap();
        let acct = account(home.path());
        let path = home.path().join(".ssh/authorized_keys");
        assert_eq!(
            get_authorized_keys_for(&acct).unwrap_err().to_string(),
            format!(
                "failed to read '{0}': Failed to open file \u{201c}{0}\u{201d}: \
                 No such file or directory",
                path.display()
            )
        );
        fs::create_dir(home.path().join(".ssh")).unwrap();
        fs::write(
            &path,
            "  key-a x \n\n# comment\nkey-b\n\t#indented comment\nkey-c",
        )
        .unwrap();
        assert_eq!(
            get_authorized_keys_for(&acct).unwrap(),
            keys(&["key-c", "key-b", "key-a x"])
        );
    }

    #[test]
    fn add_creates_the_directory_and_file() {
        let home = tempfile::tempdir().unwrap();
        let acct = account(home.path());
        add_authorized_keys_for(&acct, &keys(&["k1", "k2", "k1"]), false).unwrap();
        let ssh = home.path().join(".ssh");
        assert_eq!(fs::metadata(&ssh).unwrap().mode() & 0o777, 0o700);
        let path = ssh.join("authorized_keys");
        assert_eq!(fs::read_to_string(&path).unwrap(), "k1\nk2");
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(meta.uid(), Uid::current().as_raw());
        // Existing lines (with the empty line a final newline leaves) stay; duplicates skip.
        fs::write(&path, "k0\nk1\n").unwrap();
        add_authorized_keys_for(&acct, &keys(&["k1", "k3"]), false).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "k0\nk1\n\nk3");
        add_authorized_keys_for(&acct, &keys(&["only"]), true).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "only");
        let leftovers = fs::read_dir(&ssh).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files are left behind");
    }

    #[test]
    fn add_reports_directory_errors() {
        let home = tempfile::tempdir().unwrap();
        let acct = account(&home.path().join("missing"));
        assert_eq!(
            add_authorized_keys_for(&acct, &keys(&["k"]), false)
                .unwrap_err()
                .to_string(),
            format!(
                "failed to create directory '{}': No such file or directory",
                home.path().join("missing/.ssh").display()
            )
        );
    }

    #[test]
    fn remove_drops_exact_lines() {
        let home = tempfile::tempdir().unwrap();
        let acct = account(home.path());
        remove_authorized_keys_for(&acct, &keys(&["k"])).unwrap();
        assert!(
            !home.path().join(".ssh").exists(),
            "missing file: nothing to do"
        );
        fs::create_dir(home.path().join(".ssh")).unwrap();
        let path = home.path().join(".ssh/authorized_keys");
        fs::write(&path, "a\nb \nb\nc\n").unwrap();
        remove_authorized_keys_for(&acct, &keys(&["b", "zzz"])).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\nb \nc\n");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    }
}
