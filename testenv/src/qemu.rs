//! A bare QEMU for QMP tests and benches: `-M none`, no devices, paused, with one QMP socket
//! per name; killed (and its socket directory removed) on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `qemu-system-x86_64 -M none` with QMP sockets `<dir>/<name>.sock`.
pub struct Qemu {
    child: Child,
    dir: PathBuf,
}

impl Qemu {
    /// Starts QEMU with one QMP socket per name in `sockets` (and `extra` arguments), and waits
    /// until every socket exists. `None` (with a notice) when QEMU is not installed, unless
    /// missing programs are failures (see [`crate::external`]).
    pub fn start(tag: &str, sockets: &[&str], extra: &[&str]) -> Option<Qemu> {
        let program = crate::external("qemu-system-x86_64")?;
        Some(Qemu::start_program(&program, tag, sockets, extra))
    }

    /// [`Qemu::start`] with Debian bookworm's QEMU 7.2 (see [`crate::old_qemu`]); `None`
    /// (with a notice) when `cargo xtask old-qemu` has not fetched it, unless missing
    /// programs are failures.
    pub fn start_old(tag: &str, sockets: &[&str]) -> Option<Qemu> {
        let Some((program, firmware)) = crate::old_qemu() else {
            crate::skip_or_fail(&format!(
                "QEMU 7.2 is not in {} (run `cargo xtask old-qemu`)",
                crate::old_qemu_root().display()
            ));
            return None;
        };
        let firmware = firmware.to_string_lossy().into_owned();
        Some(Qemu::start_program(
            &program,
            tag,
            sockets,
            &["-L", &firmware],
        ))
    }

    fn start_program(
        program: &std::path::Path,
        tag: &str,
        sockets: &[&str],
        extra: &[&str],
    ) -> Qemu {
        let dir = std::env::temp_dir().join(format!("qemu-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let mut command = Command::new(program);
        command.args(["-M", "none", "-nodefaults", "-display", "none", "-S"]);
        command.args(extra);
        for name in sockets {
            let socket = dir.join(format!("{name}.sock"));
            command
                .arg("-qmp")
                .arg(format!("unix:{},server=on,wait=off", socket.display()));
        }
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start QEMU: {e}"));
        let qemu = Qemu { child, dir };
        let started = Instant::now();
        while !sockets.iter().all(|name| qemu.socket(name).exists()) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "QEMU's QMP sockets did not appear in {}",
                qemu.dir.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        qemu
    }

    /// The path of QMP socket `name`.
    pub fn socket(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.sock"))
    }

    /// QEMU's process id (to stop or kill it in a test).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
