//! guest-set-user-password: `chpasswd` fed `user:password`.

use super::{base64, process, SysError};

/// The program run (looked up in `PATH`).
pub const CHPASSWD: &str = "chpasswd";

/// The line fed to `chpasswd`, after qemu-ga's checks in its order: base64 decoding, no
/// newline in the password (`forbidden characters in raw password`), no newline or `:` in the
/// user name (`forbidden characters in username`). The password ends at a NUL byte, as in C.
pub fn chpasswd_input(username: &str, password_b64: &str) -> Result<Vec<u8>, SysError> {
    let mut password = base64::decode(password_b64)?;
    if let Some(nul) = password.iter().position(|&b| b == 0) {
        password.truncate(nul);
    }
    if password.contains(&b'\n') {
        return Err(SysError::new("forbidden characters in raw password"));
    }
    if username.contains(['\n', ':']) {
        return Err(SysError::new("forbidden characters in username"));
    }
    let username = username.split('\0').next().unwrap_or_default();
    let mut line = Vec::with_capacity(username.len() + password.len() + 2);
    line.extend_from_slice(username.as_bytes());
    line.push(b':');
    line.extend_from_slice(&password);
    line.push(b'\n');
    Ok(line)
}

/// `guest-set-user-password`: runs `chpasswd` (`chpasswd -e` for a crypted password);
/// failure: `child process has failed to set user password: <output>`.
pub fn set_user_password(
    username: &str,
    password_b64: &str,
    crypted: bool,
) -> Result<(), SysError> {
    set_user_password_with(CHPASSWD, username, password_b64, crypted)
}

/// [`set_user_password`] with the program given.
pub fn set_user_password_with(
    program: &str,
    username: &str,
    password_b64: &str,
    crypted: bool,
) -> Result<(), SysError> {
    let input = chpasswd_input(username, password_b64)?;
    let mut argv = vec![program];
    if crypted {
        argv.push("-e");
    }
    process::run_command(&argv, Some(&input), "set user password")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn input_checks_in_qemu_ga_order() {
        assert_eq!(chpasswd_input("alice", "aGk=").unwrap(), b"alice:hi\n");
        assert_eq!(chpasswd_input("alice", "").unwrap(), b"alice:\n");
        // NUL ends the password.
        assert_eq!(chpasswd_input("u", "YQBi").unwrap(), b"u:a\n");
        let err = |u, p| chpasswd_input(u, p).unwrap_err().to_string();
        assert_eq!(err("a\nb", "a!"), "Base64 data contains invalid characters");
        assert_eq!(err("a:b", "aGkK"), "forbidden characters in raw password");
        assert_eq!(err("a:b", "aGk="), "forbidden characters in username");
        assert_eq!(err("a\nb", "aGk="), "forbidden characters in username");
    }

    #[test]
    fn chpasswd_gets_the_line_and_flag() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let fake = dir.path().join("chpasswd");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\necho \"args=$*\" > {0}\ncat >> {0}\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let fake = fake.to_str().unwrap();
        set_user_password_with(fake, "bob", "c2VjcmV0", false).unwrap();
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "args=\nbob:secret\n"
        );
        set_user_password_with(fake, "bob", "JDYkeA==", true).unwrap();
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "args=-e\nbob:$6$x\n"
        );
    }

    #[test]
    fn chpasswd_failure_is_reported() {
        let err = set_user_password_with("/bin/false", "bob", "aGk=", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "child process has failed to set user password: exit status 1"
        );
    }
}
