//! The generated `Commands` trait implemented for [`Agent`]: thin glue from decoded arguments
//! to the system layer ([`crate::sys`]), which returns the protocol types itself.

use qga_types::qapi_runtime::{self, CommandInfo, Disabled, QapiError};
use qga_types::{self as t, Commands};

use crate::agent::Agent;
use crate::config::QGA_VERSION;
use crate::log;
use crate::sys::exec::CaptureMode;
use crate::sys::file::{Whence, WhenceArg};
use crate::sys::suspend::SuspendMode;
use crate::sys::{self, SysError};

type Result<T> = std::result::Result<T, QapiError>;

/// System errors are `GenericError`s whose text is qemu-ga's.
/// A failed system operation is a `GenericError` with qemu-ga's text.
impl From<SysError> for QapiError {
    fn from(e: SysError) -> Self {
        QapiError::generic(e.desc())
    }
}

impl Commands for Agent {
    fn check_enabled(&self, command: &'static CommandInfo) -> std::result::Result<(), Disabled> {
        self.check(command)
    }

    fn guest_sync_delimited(&mut self, args: t::GuestSyncDelimitedArgs) -> Result<i64> {
        self.delimit = true;
        Ok(args.id)
    }

    fn guest_sync(&mut self, args: t::GuestSyncArgs) -> Result<i64> {
        Ok(args.id)
    }

    fn guest_ping(&mut self) -> Result<()> {
        Ok(())
    }

    fn guest_get_time(&mut self) -> Result<i64> {
        sys::time::get_time().map_err(QapiError::from)
    }

    fn guest_set_time(&mut self, args: t::GuestSetTimeArgs) -> Result<()> {
        sys::time::set_time(args.time).map_err(QapiError::from)
    }

    fn guest_info(&mut self) -> Result<t::GuestAgentInfo> {
        Ok(t::GuestAgentInfo {
            version: QGA_VERSION.to_owned(),
            supported_commands: self.command_list(),
        })
    }

    fn guest_shutdown(&mut self, args: t::GuestShutdownArgs) -> Result<()> {
        let mode = args.mode.as_deref();
        log::syslog(&format!(
            "guest-shutdown called, mode: {}",
            mode.unwrap_or("(null)")
        ));
        sys::host::shutdown(mode).map_err(QapiError::from)
    }

    fn guest_file_open(&mut self, args: t::GuestFileOpenArgs) -> Result<i64> {
        let mode = args.mode.as_deref();
        log::syslog(&format!(
            "guest-file-open called, filepath: {}, mode: {}",
            args.path,
            mode.unwrap_or("r")
        ));
        let state = &mut self.state;
        let handle = self.files.open(&args.path, mode, || {
            state.next_handle().map_err(|e| {
                crate::qlog!(Critical, "failed to write persistent state: {e}");
                SysError::new("failed to commit persistent state to disk")
            })
        })?;
        log::syslog(&format!("guest-file-open, handle: {handle}"));
        Ok(handle)
    }

    fn guest_file_close(&mut self, args: t::GuestFileCloseArgs) -> Result<()> {
        log::syslog(&format!("guest-file-close called, handle: {}", args.handle));
        self.files.close(args.handle).map_err(QapiError::from)
    }

    fn guest_file_read(&mut self, args: t::GuestFileReadArgs) -> Result<t::GuestFileRead> {
        self.files
            .read(args.handle, args.count)
            .map_err(QapiError::from)
    }

    fn guest_file_write(&mut self, args: t::GuestFileWriteArgs) -> Result<t::GuestFileWrite> {
        self.files
            .write(args.handle, &args.buf_b64, args.count)
            .map_err(QapiError::from)
    }

    fn guest_file_seek(&mut self, args: t::GuestFileSeekArgs) -> Result<t::GuestFileSeek> {
        let whence = match args.whence {
            t::GuestFileWhence::Value(code) => WhenceArg::Code(code),
            t::GuestFileWhence::Name(t::QgaSeek::Set) => WhenceArg::Name(Whence::Set),
            t::GuestFileWhence::Name(t::QgaSeek::Cur) => WhenceArg::Name(Whence::Cur),
            t::GuestFileWhence::Name(t::QgaSeek::End) => WhenceArg::Name(Whence::End),
            t::GuestFileWhence::Name(t::QgaSeek::Unrecognized(name)) => {
                return Err(QapiError::generic(format!(
                    "Parameter 'whence' does not accept value '{name}'"
                )))
            }
        };
        self.files
            .seek(args.handle, args.offset, whence)
            .map_err(QapiError::from)
    }

    fn guest_file_flush(&mut self, args: t::GuestFileFlushArgs) -> Result<()> {
        self.files.flush(args.handle).map_err(QapiError::from)
    }

    fn guest_fsfreeze_status(&mut self) -> Result<t::GuestFsfreezeStatus> {
        Ok(if self.core.frozen {
            t::GuestFsfreezeStatus::Frozen
        } else {
            t::GuestFsfreezeStatus::Thawed
        })
    }

    fn guest_fsfreeze_freeze(&mut self) -> Result<i64> {
        log::syslog("guest-fsfreeze called");
        self.fsfreeze
            .freeze(None, &mut self.core)
            .map_err(QapiError::from)
    }

    fn guest_fsfreeze_freeze_list(&mut self, args: t::GuestFsfreezeFreezeListArgs) -> Result<i64> {
        log::syslog("guest-fsfreeze called");
        self.fsfreeze
            .freeze(args.mountpoints.as_deref(), &mut self.core)
            .map_err(QapiError::from)
    }

    fn guest_fsfreeze_thaw(&mut self) -> Result<i64> {
        self.fsfreeze.thaw(&mut self.core).map_err(QapiError::from)
    }

    fn guest_fstrim(&mut self, args: t::GuestFstrimArgs) -> Result<t::GuestFilesystemTrimResponse> {
        let paths = sys::fstrim::fstrim(args.minimum)?;
        Ok(t::GuestFilesystemTrimResponse { paths })
    }

    fn guest_suspend_disk(&mut self) -> Result<()> {
        sys::suspend::suspend(SuspendMode::Disk).map_err(QapiError::from)
    }

    fn guest_suspend_ram(&mut self) -> Result<()> {
        sys::suspend::suspend(SuspendMode::Ram).map_err(QapiError::from)
    }

    fn guest_suspend_hybrid(&mut self) -> Result<()> {
        sys::suspend::suspend(SuspendMode::Hybrid).map_err(QapiError::from)
    }

    fn guest_network_get_interfaces(&mut self) -> Result<Vec<t::GuestNetworkInterface>> {
        sys::net::network_interfaces().map_err(QapiError::from)
    }

    fn guest_get_vcpus(&mut self) -> Result<Vec<t::GuestLogicalProcessor>> {
        sys::vcpu::get_vcpus().map_err(QapiError::from)
    }

    fn guest_set_vcpus(&mut self, args: t::GuestSetVcpusArgs) -> Result<i64> {
        sys::vcpu::set_vcpus(&args.vcpus).map_err(QapiError::from)
    }

    fn guest_get_disks(&mut self) -> Result<Vec<t::GuestDiskInfo>> {
        sys::blockdev::get_disks().map_err(QapiError::from)
    }

    fn guest_get_fsinfo(&mut self) -> Result<Vec<t::GuestFilesystemInfo>> {
        sys::blockdev::get_fsinfo().map_err(QapiError::from)
    }

    fn guest_set_user_password(&mut self, args: t::GuestSetUserPasswordArgs) -> Result<()> {
        sys::password::set_user_password(&args.username, &args.password, args.crypted)
            .map_err(QapiError::from)
    }

    fn guest_get_memory_blocks(&mut self) -> Result<Vec<t::GuestMemoryBlock>> {
        sys::memory::get_memory_blocks().map_err(QapiError::from)
    }

    fn guest_set_memory_blocks(
        &mut self,
        args: t::GuestSetMemoryBlocksArgs,
    ) -> Result<Vec<t::GuestMemoryBlockResponse>> {
        Ok(sys::memory::set_memory_blocks(&args.mem_blks))
    }

    fn guest_get_memory_block_info(&mut self) -> Result<t::GuestMemoryBlockInfo> {
        sys::memory::get_memory_block_info().map_err(QapiError::from)
    }

    fn guest_exec_status(&mut self, args: t::GuestExecStatusArgs) -> Result<t::GuestExecStatus> {
        let status = self.exec.status(args.pid)?;
        let base64 = |data: Vec<u8>| qapi_runtime::base64::encode(&data);
        Ok(t::GuestExecStatus {
            exited: status.exited,
            exitcode: status.exitcode,
            signal: status.signal,
            out_data: status.out_data.map(base64),
            err_data: status.err_data.map(base64),
            out_truncated: status.out_truncated,
            err_truncated: status.err_truncated,
        })
    }

    fn guest_exec(&mut self, args: t::GuestExecArgs) -> Result<t::GuestExec> {
        use t::GuestExecCaptureOutputMode as M;
        let capture = match args.capture_output {
            None => CaptureMode::None,
            Some(t::GuestExecCaptureOutput::Flag(flag)) => CaptureMode::from_flag(flag),
            Some(t::GuestExecCaptureOutput::Mode(mode)) => match mode {
                M::None => CaptureMode::None,
                M::Stdout => CaptureMode::Stdout,
                M::Stderr => CaptureMode::Stderr,
                M::Separated => CaptureMode::Separated,
                M::Merged => CaptureMode::Merged,
                M::Unrecognized(name) => {
                    return Err(QapiError::generic(format!(
                        "Parameter 'capture-output' does not accept value '{name}'"
                    )))
                }
            },
        };
        let pid = self.exec.exec(
            &args.path,
            args.arg.as_deref().unwrap_or_default(),
            args.env.as_deref(),
            args.input_data.as_deref(),
            capture,
        )?;
        Ok(t::GuestExec { pid })
    }

    fn guest_get_host_name(&mut self) -> Result<t::GuestHostName> {
        let host_name = sys::host::host_name()?;
        Ok(t::GuestHostName { host_name })
    }

    fn guest_get_users(&mut self) -> Result<Vec<t::GuestUser>> {
        Ok(sys::users::users())
    }

    fn guest_get_timezone(&mut self) -> Result<t::GuestTimezone> {
        Ok(sys::host::timezone())
    }

    fn guest_get_osinfo(&mut self) -> Result<t::GuestOsInfo> {
        Ok(sys::host::os_info())
    }

    fn guest_ssh_get_authorized_keys(
        &mut self,
        args: t::GuestSshGetAuthorizedKeysArgs,
    ) -> Result<t::GuestAuthorizedKeys> {
        let keys = sys::ssh::get_authorized_keys(&args.username)?;
        Ok(t::GuestAuthorizedKeys { keys })
    }

    fn guest_ssh_add_authorized_keys(
        &mut self,
        args: t::GuestSshAddAuthorizedKeysArgs,
    ) -> Result<()> {
        sys::ssh::add_authorized_keys(&args.username, &args.keys, args.reset.unwrap_or(false))
            .map_err(QapiError::from)
    }

    fn guest_ssh_remove_authorized_keys(
        &mut self,
        args: t::GuestSshRemoveAuthorizedKeysArgs,
    ) -> Result<()> {
        sys::ssh::remove_authorized_keys(&args.username, &args.keys).map_err(QapiError::from)
    }

    fn guest_get_diskstats(&mut self) -> Result<Vec<t::GuestDiskStatsInfo>> {
        sys::stats::disk_stats().map_err(QapiError::from)
    }

    fn guest_get_cpustats(&mut self) -> Result<Vec<t::GuestCpuStats>> {
        sys::stats::cpu_stats().map_err(QapiError::from)
    }

    fn guest_get_load(&mut self) -> Result<t::GuestLoadAverage> {
        sys::host::load_average().map_err(QapiError::from)
    }

    fn guest_network_get_route(&mut self) -> Result<Vec<t::GuestNetworkRoute>> {
        sys::net::network_routes().map_err(QapiError::from)
    }
}
