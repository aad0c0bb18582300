//! NVMe SMART / health information, read with the NVMe admin ioctl.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use qga_types::GuestNvMeSmart;

/// `struct nvme_admin_cmd` of `<linux/nvme_ioctl.h>`.
#[repr(C)]
#[derive(Debug, Default)]
struct NvmeAdminCmd {
    opcode: u8,
    flags: u8,
    rsvd1: u16,
    nsid: u32,
    cdw2: u32,
    cdw3: u32,
    metadata: u64,
    addr: u64,
    metadata_len: u32,
    data_len: u32,
    cdw10: u32,
    cdw11: u32,
    cdw12: u32,
    cdw13: u32,
    cdw14: u32,
    cdw15: u32,
    timeout_ms: u32,
    result: u32,
}

nix::ioctl_readwrite!(nvme_ioctl_admin_cmd, b'N', 0x41, NvmeAdminCmd);

/// Size of the NVMe SMART / health information log page.
const SMART_LOG_SIZE: usize = 512;

/// Reads the SMART log (page 0x02, all namespaces) of an NVMe device; `None` on any error.
pub(super) fn nvme_smart(device: &Path) -> Option<GuestNvMeSmart> {
    let file = File::open(device).ok()?;
    let mut log = [0u8; SMART_LOG_SIZE];
    let mut cmd = NvmeAdminCmd {
        opcode: 0x02,      // Get Log Page
        nsid: 0xffff_ffff, // broadcast
        addr: log.as_mut_ptr() as u64,
        data_len: SMART_LOG_SIZE as u32,
        // Log page 2, retain asynchronous event, number of dwords - 1.
        cdw10: 0x02 | (1 << 15) | (((SMART_LOG_SIZE as u32 >> 2) - 1) << 16),
        ..NvmeAdminCmd::default()
    };
    // SAFETY: `file` is open, `cmd` is a valid `nvme_admin_cmd` whose `addr`/`data_len`
    // describe `log`, a live, writable 512-byte buffer for the duration of the call.
    unsafe { nvme_ioctl_admin_cmd(file.as_raw_fd(), &mut cmd) }.ok()?;
    Some(parse_smart_log(&log))
}

/// Decodes the little-endian fields of an NVMe SMART log page.
fn parse_smart_log(log: &[u8; SMART_LOG_SIZE]) -> GuestNvMeSmart {
    let u64_at = |offset: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&log[offset..offset + 8]);
        u64::from_le_bytes(bytes)
    };
    GuestNvMeSmart {
        critical_warning: i64::from(log[0]),
        temperature: i64::from(u16::from_le_bytes([log[1], log[2]])),
        available_spare: i64::from(log[3]),
        available_spare_threshold: i64::from(log[4]),
        percentage_used: i64::from(log[5]),
        data_units_read_lo: u64_at(32),
        data_units_read_hi: u64_at(40),
        data_units_written_lo: u64_at(48),
        data_units_written_hi: u64_at(56),
        host_read_commands_lo: u64_at(64),
        host_read_commands_hi: u64_at(72),
        host_write_commands_lo: u64_at(80),
        host_write_commands_hi: u64_at(88),
        controller_busy_time_lo: u64_at(96),
        controller_busy_time_hi: u64_at(104),
        power_cycles_lo: u64_at(112),
        power_cycles_hi: u64_at(120),
        power_on_hours_lo: u64_at(128),
        power_on_hours_hi: u64_at(136),
        unsafe_shutdowns_lo: u64_at(144),
        unsafe_shutdowns_hi: u64_at(152),
        media_errors_lo: u64_at(160),
        media_errors_hi: u64_at(168),
        number_of_error_log_entries_lo: u64_at(176),
        number_of_error_log_entries_hi: u64_at(184),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_log_fields() {
        let mut log = [0u8; SMART_LOG_SIZE];
        log[0] = 1;
        log[1..3].copy_from_slice(&310u16.to_le_bytes());
        log[3] = 100;
        log[4] = 10;
        log[5] = 3;
        log[32..40].copy_from_slice(&7u64.to_le_bytes());
        log[184..192].copy_from_slice(&9u64.to_le_bytes());
        let smart = parse_smart_log(&log);
        assert_eq!(smart.critical_warning, 1);
        assert_eq!(smart.temperature, 310);
        assert_eq!(
            (
                smart.available_spare,
                smart.available_spare_threshold,
                smart.percentage_used
            ),
            (100, 10, 3)
        );
        assert_eq!(smart.data_units_read_lo, 7);
        assert_eq!(smart.number_of_error_log_entries_hi, 9);
        assert_eq!(std::mem::size_of::<NvmeAdminCmd>(), 72);
    }
}
