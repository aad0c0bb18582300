//! Shared by the qga-types tests: a stub server, and QEMU's qemu-ga started on a socket.

#![allow(dead_code)]

use qapi_runtime::QapiError;
use qga_types::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server whose commands are never reached: for requests that fail before the call.
pub struct Unreachable;

macro_rules! unreachable_commands {
    ($($method:ident($($args:ty)?) -> $ret:ty;)*) => {
        impl Commands for Unreachable {
            $(
                fn $method(&mut self $(, _arguments: $args)?) -> Result<$ret, QapiError> {
                    Err(QapiError::generic(concat!("test stub: ", stringify!($method), " reached")))
                }
            )*
            #[cfg(windows)]
            fn guest_get_devices(&mut self) -> Result<Vec<GuestDeviceInfo>, QapiError> {
                Err(QapiError::generic("test stub"))
            }
        }
    };
}

unreachable_commands! {
    guest_sync_delimited(GuestSyncDelimitedArgs) -> i64;
    guest_sync(GuestSyncArgs) -> i64;
    guest_ping() -> ();
    guest_get_time() -> i64;
    guest_set_time(GuestSetTimeArgs) -> ();
    guest_info() -> GuestAgentInfo;
    guest_shutdown(GuestShutdownArgs) -> ();
    guest_file_open(GuestFileOpenArgs) -> i64;
    guest_file_close(GuestFileCloseArgs) -> ();
    guest_file_read(GuestFileReadArgs) -> GuestFileRead;
    guest_file_write(GuestFileWriteArgs) -> GuestFileWrite;
    guest_file_seek(GuestFileSeekArgs) -> GuestFileSeek;
    guest_file_flush(GuestFileFlushArgs) -> ();
    guest_fsfreeze_status() -> GuestFsfreezeStatus;
    guest_fsfreeze_freeze() -> i64;
    guest_fsfreeze_freeze_list(GuestFsfreezeFreezeListArgs) -> i64;
    guest_fsfreeze_thaw() -> i64;
    guest_fstrim(GuestFstrimArgs) -> GuestFilesystemTrimResponse;
    guest_suspend_disk() -> ();
    guest_suspend_ram() -> ();
    guest_suspend_hybrid() -> ();
    guest_network_get_interfaces() -> Vec<GuestNetworkInterface>;
    guest_get_vcpus() -> Vec<GuestLogicalProcessor>;
    guest_set_vcpus(GuestSetVcpusArgs) -> i64;
    guest_get_disks() -> Vec<GuestDiskInfo>;
    guest_get_fsinfo() -> Vec<GuestFilesystemInfo>;
    guest_set_user_password(GuestSetUserPasswordArgs) -> ();
    guest_get_memory_blocks() -> Vec<GuestMemoryBlock>;
    guest_set_memory_blocks(GuestSetMemoryBlocksArgs) -> Vec<GuestMemoryBlockResponse>;
    guest_get_memory_block_info() -> GuestMemoryBlockInfo;
    guest_exec_status(GuestExecStatusArgs) -> GuestExecStatus;
    guest_exec(GuestExecArgs) -> GuestExec;
    guest_get_host_name() -> GuestHostName;
    guest_get_users() -> Vec<GuestUser>;
    guest_get_timezone() -> GuestTimezone;
    guest_get_osinfo() -> GuestOsInfo;
    guest_ssh_get_authorized_keys(GuestSshGetAuthorizedKeysArgs) -> GuestAuthorizedKeys;
    guest_ssh_add_authorized_keys(GuestSshAddAuthorizedKeysArgs) -> ();
    guest_ssh_remove_authorized_keys(GuestSshRemoveAuthorizedKeysArgs) -> ();
    guest_get_diskstats() -> Vec<GuestDiskStatsInfo>;
    guest_get_cpustats() -> Vec<GuestCpuStats>;
    guest_get_load() -> GuestLoadAverage;
    guest_network_get_route() -> Vec<GuestNetworkRoute>;
}

/// Finds an external program, or skips (see `testenv::external`).
pub use testenv::external;

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("qga-types-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("cannot create a temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// QEMU's qemu-ga listening on a Unix socket; killed on drop.
pub struct ReferenceAgent {
    child: Child,
    pub socket: PathBuf,
    pub dir: TempDir,
}

impl ReferenceAgent {
    pub fn start(program: &Path) -> ReferenceAgent {
        let dir = TempDir::new("qemu-ga");
        let socket = dir.0.join("ga.sock");
        let state = dir.0.join("state");
        std::fs::create_dir_all(&state).expect("state dir");
        let child = Command::new(program)
            .arg("-m")
            .arg("unix-listen")
            .arg("-p")
            .arg(&socket)
            .arg("-t")
            .arg(&state)
            .stdin(Stdio::null())
            .spawn()
            .expect("cannot start qemu-ga");
        let started = Instant::now();
        while !socket.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "qemu-ga did not create its socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        ReferenceAgent { child, socket, dir }
    }

    pub fn connect(&self) -> UnixStream {
        let stream = UnixStream::connect(&self.socket).expect("cannot connect to qemu-ga");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream
    }
}

impl Drop for ReferenceAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A line-based raw connection, to see replies byte for byte.
pub struct Raw {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Raw {
    pub fn new(stream: UnixStream) -> Raw {
        let writer = stream.try_clone().expect("clone");
        Raw {
            reader: BufReader::new(stream),
            writer,
        }
    }

    /// Sends one request line and returns the reply line (without `\n`, without a 0xFF
    /// prefix).
    pub fn call(&mut self, request: &str) -> Vec<u8> {
        self.writer.write_all(request.as_bytes()).expect("write");
        self.writer.write_all(b"\n").expect("write");
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).expect("read");
        assert_eq!(line.pop(), Some(b'\n'), "reply to {request} is not a line");
        if line.first() == Some(&0xFF) {
            line.remove(0);
        }
        line
    }
}
