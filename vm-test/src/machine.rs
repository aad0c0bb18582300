//! Boots and controls one test VM: qemu-system-x86_64 under TCG with the agent's
//! virtio-serial port on a host unix socket, the serial console in a log file and, on
//! request, a QMP monitor on a second socket.

use super::guest;
use super::qmp::Qmp;
use anyhow::{bail, Context, Result};
use qga_types::qapi_runtime::ClientError;
use qga_types::Client;
use std::fs;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How to boot a VM.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// `-kernel`: an uncompressed vmlinux (PVH entry, faster) or a bzImage.
    pub kernel: PathBuf,
    /// `-initrd`: the initramfs.
    pub initrd: PathBuf,
    /// A raw disk image attached as the only virtio disk (`/dev/vda` in the guest), with
    /// discards passed through to the image.
    pub data_disk: Option<PathBuf>,
    /// Attach a QMP monitor socket (for wake-up and memory hot-plug).
    pub qmp: bool,
    /// Free DIMM slots for memory hot-plug (0: none), each up to `memory_mib` large.
    pub memory_slots: u32,
    /// Directory for the agent socket, the console log and QEMU's own stderr.
    pub run_dir: PathBuf,
    pub memory_mib: u32,
    /// Appended to the kernel command line.
    pub extra_cmdline: String,
}

impl VmConfig {
    pub fn new(kernel: &Path, initrd: &Path, run_dir: &Path) -> Self {
        VmConfig {
            kernel: kernel.to_path_buf(),
            initrd: initrd.to_path_buf(),
            data_disk: None,
            qmp: false,
            memory_slots: 0,
            run_dir: run_dir.to_path_buf(),
            memory_mib: 512,
            extra_cmdline: String::new(),
        }
    }
}

/// A running VM; killed when dropped.
pub struct Vm {
    child: Child,
    agent_socket: PathBuf,
    qmp_socket: Option<PathBuf>,
    data_disk: Option<PathBuf>,
    console_log: PathBuf,
    qemu_log: PathBuf,
    /// A directory made only because `run_dir` was too long for a socket path.
    socket_dir: Option<PathBuf>,
    started: Instant,
    memory_mib: u32,
}

/// Longest unix socket path (sun_path is 108 bytes including the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// How long one command may take before the client gives up (`dd`, hibernation attempts).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

impl Vm {
    pub fn boot(config: &VmConfig) -> Result<Vm> {
        fs::create_dir_all(&config.run_dir)
            .with_context(|| format!("cannot create {}", config.run_dir.display()))?;
        let mut socket_dir = None;
        let mut sockets = config.run_dir.clone();
        if sockets.join("qga.sock").as_os_str().len() > MAX_SOCKET_PATH {
            sockets = std::env::temp_dir().join(format!("qga-vm-{}", std::process::id()));
            fs::create_dir_all(&sockets)?;
            socket_dir = Some(sockets.clone());
        }
        let agent_socket = sockets.join("qga.sock");
        let qmp_socket = config.qmp.then(|| sockets.join("qmp.sock"));
        for socket in [Some(&agent_socket), qmp_socket.as_ref()]
            .into_iter()
            .flatten()
        {
            let _ = fs::remove_file(socket);
        }
        let console_log = config.run_dir.join("console.log");
        let qemu_log = config.run_dir.join("qemu.log");
        let _ = fs::remove_file(&console_log);

        // cryptomgr.notests skips the crypto self-tests: 0.4 s of a 2.5 s boot under TCG.
        let mut cmdline = "console=ttyS0 quiet panic=-1 cryptomgr.notests".to_string();
        if !config.extra_cmdline.is_empty() {
            cmdline.push(' ');
            cmdline.push_str(&config.extra_cmdline);
        }
        // TCG (nested KVM fails here). q35 and pc boot equally fast; -cpu max gives the guest
        // RDRAND, so its random pool is ready at once. No network, no default devices.
        let mut qemu = Command::new("qemu-system-x86_64");
        qemu.args([
            "-accel", "tcg", "-machine", "q35", "-cpu", "max", "-smp", "1",
        ])
        .arg("-m")
        .arg(match config.memory_slots {
            0 => format!("{}M", config.memory_mib),
            slots => format!(
                "{}M,slots={slots},maxmem={}M",
                config.memory_mib,
                config.memory_mib * (slots + 1)
            ),
        })
        .args([
            "-display",
            "none",
            "-nodefaults",
            "-no-user-config",
            "-no-reboot",
        ])
        .arg("-kernel")
        .arg(&config.kernel)
        .arg("-initrd")
        .arg(&config.initrd)
        .args(["-append", &cmdline])
        .arg("-serial")
        .arg(format!("file:{}", console_log.display()))
        .args(["-device", "virtio-serial-pci"])
        .arg("-chardev")
        .arg(format!(
            "socket,id=qga0,path={},server=on,wait=off",
            agent_socket.display()
        ))
        .args([
            "-device",
            &format!("virtserialport,chardev=qga0,name={}", guest::AGENT_PORT),
        ]);
        if let Some(disk) = &config.data_disk {
            // A fixed PCI slot, so the checks know the disk's address.
            qemu.arg("-drive")
                .arg(format!(
                    "file={},if=none,id=data,format=raw,discard=unmap",
                    disk.display()
                ))
                .arg("-device")
                .arg(format!(
                    "virtio-blk-pci,drive=data,addr={:#x}",
                    guest::DATA_DISK_PCI_SLOT
                ));
        }
        if let Some(socket) = &qmp_socket {
            qemu.arg("-qmp")
                .arg(format!("unix:{},server=on,wait=off", socket.display()));
        }
        let log = fs::File::create(&qemu_log)?;
        let child = qemu
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start qemu-system-x86_64 (run `cargo xtask setup` as root)")?;
        Ok(Vm {
            child,
            agent_socket,
            qmp_socket,
            data_disk: config.data_disk.clone(),
            console_log,
            qemu_log,
            socket_dir,
            started: Instant::now(),
            memory_mib: config.memory_mib,
        })
    }

    /// Host end of the guest agent's virtio-serial port.
    pub fn agent_socket(&self) -> &Path {
        &self.agent_socket
    }

    /// The data disk image on the host.
    pub fn data_disk(&self) -> Option<&Path> {
        self.data_disk.as_deref()
    }

    /// A new QMP session (fails if the VM was booted without a monitor).
    pub fn qmp(&self) -> Result<Qmp> {
        let socket = self
            .qmp_socket
            .as_ref()
            .context("this VM was booted without a QMP monitor")?;
        Qmp::connect(socket)
    }

    /// File receiving the guest's serial console.
    pub fn console_log(&self) -> &Path {
        &self.console_log
    }

    /// What the guest printed on its console so far.
    pub fn console(&self) -> String {
        fs::read_to_string(&self.console_log).unwrap_or_default()
    }

    /// The guest's RAM size.
    pub fn memory_mib(&self) -> u32 {
        self.memory_mib
    }

    /// Time since QEMU was started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Connects to the agent socket and repeats the guest-agent handshake until the agent
    /// answers; the client's reads then time out after [`COMMAND_TIMEOUT`].
    pub fn wait_for_agent(&mut self, timeout: Duration) -> Result<Client<UnixStream>> {
        let deadline = Instant::now() + timeout;
        let mut client = None;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "QEMU exited ({status}) before the agent answered{}",
                    self.diagnostics()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "no answer from the agent within {timeout:?}{}",
                    self.diagnostics()
                );
            }
            if client.is_none() {
                client = UnixStream::connect(&self.agent_socket)
                    .and_then(|stream| {
                        // Short reads: each handshake attempt gives up quickly and repeats.
                        stream.set_read_timeout(Some(Duration::from_millis(300)))?;
                        Ok(Client::new(stream))
                    })
                    .ok();
            }
            let Some(connected) = client.as_mut() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            match connected.connection().guest_agent_handshake() {
                Ok(()) => {
                    let mut client = client.context("connection vanished")?;
                    client
                        .connection()
                        .get_ref()
                        .set_read_timeout(Some(COMMAND_TIMEOUT))?;
                    return Ok(client);
                }
                Err(ClientError::Timeout) => {}
                // QEMU went away or dropped the socket: the next round tells which.
                Err(_) => {
                    client = None;
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// Waits for QEMU to exit by itself (the guest powered off).
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!(
                    "the VM was still running after {timeout:?}{}",
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the VM at once (the guest gets no chance to shut down).
    pub fn shutdown(&mut self) -> Result<()> {
        if self.child.try_wait()?.is_none() {
            self.child.kill().context("cannot kill QEMU")?;
        }
        self.child.wait()?;
        Ok(())
    }

    /// The end of the console log and QEMU's own messages, for error reports.
    pub fn diagnostics(&self) -> String {
        let tail = |path: &Path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(30)..].join("\n")
        };
        format!(
            "\n--- console ({}) ---\n{}\n--- qemu ---\n{}",
            self.console_log.display(),
            tail(&self.console_log),
            tail(&self.qemu_log)
        )
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.shutdown();
        if let Some(dir) = &self.socket_dir {
            let _ = fs::remove_dir_all(dir);
        }
    }
}
