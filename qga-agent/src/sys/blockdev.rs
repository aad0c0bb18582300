//! guest-get-fsinfo and guest-get-disks: block devices found by walking sysfs.
//!
//! qemu-ga asks libudev for device nodes and properties; we read what libudev reads: the
//! kernel's `uevent` file (`DEVNAME`) and udev's database under `/run/udev/data` (for
//! `ID_SERIAL` and `DM_NAME`). Without a udev database those properties are simply absent,
//! as they are for qemu-ga on a system where udevd does not run.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use qga_types::{
    GuestCcwAddress, GuestDiskAddress, GuestDiskBusType, GuestDiskInfo, GuestDiskSmart,
    GuestFilesystemInfo, GuestNvMeSmart, GuestPciAddress,
};

use super::error::errno_of;
use super::mount::{Mount, MountTables};
use super::SysError;

/// A disk address with nothing known yet: PCI fields -1 (unknown), bus type `unknown`.
fn unknown_address() -> GuestDiskAddress {
    GuestDiskAddress {
        pci_controller: GuestPciAddress {
            domain: -1,
            bus: -1,
            slot: -1,
            function: -1,
        },
        bus_type: GuestDiskBusType::Unknown,
        bus: 0,
        target: 0,
        unit: 0,
        serial: None,
        dev: None,
        ccw_address: None,
    }
}

/// `guest-get-fsinfo` for the real mount tables and sysfs.
pub fn get_fsinfo() -> Result<Vec<GuestFilesystemInfo>, SysError> {
    BlockDevices::default().fsinfo(&MountTables::default().list()?)
}

/// `guest-get-disks` for the real sysfs.
pub fn get_disks() -> Result<Vec<GuestDiskInfo>, SysError> {
    BlockDevices::default().disks()
}

/// Where devices are looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDevices {
    /// The sysfs mount, normally `/sys`.
    pub sys: PathBuf,
    /// udev's database, normally `/run/udev/data`.
    pub udev_data: PathBuf,
}

impl Default for BlockDevices {
    fn default() -> Self {
        BlockDevices {
            sys: PathBuf::from("/sys"),
            udev_data: PathBuf::from("/run/udev/data"),
        }
    }
}

impl BlockDevices {
    /// `guest-get-fsinfo`: one entry per mount, in **reverse** mount order. The device is
    /// `<sys>/dev/block/M:m` resolved; virtual devices (`/devices/virtual/block/`) are
    /// followed through `slaves/`; real ones yield a disk address. Sizes come from `statvfs`.
    /// Errors abort the whole command: `realpath("<path>"): <strerror>`, ...
    pub fn fsinfo(&self, mounts: &[Mount]) -> Result<Vec<GuestFilesystemInfo>, SysError> {
        let mut list = Vec::new();
        for mount in mounts {
            let devpath = self
                .sys
                .join(format!("dev/block/{}:{}", mount.dev_major, mount.dev_minor));
            let mut name = None;
            let mut disk = Vec::new();
            self.device(&devpath, &mut name, &mut disk)?;
            let mut info = GuestFilesystemInfo {
                name: name.unwrap_or_default(),
                mountpoint: mount.dir_text(),
                r#type: mount.fs_type.clone(),
                used_bytes: None,
                total_bytes: None,
                total_bytes_privileged: None,
                disk,
            };
            if let Ok(st) = nix::sys::statvfs::statvfs(mount.dir.as_os_str().as_bytes()) {
                let frsize = st.fragment_size();
                let used = st.blocks().wrapping_sub(st.blocks_free());
                info.used_bytes = Some(used.wrapping_mul(frsize));
                info.total_bytes = Some(
                    used.wrapping_add(st.blocks_available())
                        .wrapping_mul(frsize),
                );
                info.total_bytes_privileged = Some(st.blocks().wrapping_mul(frsize));
            }
            list.push(info);
        }
        list.reverse();
        Ok(list)
    }

    /// `guest-get-disks`: the non-empty disks of `<sys>/block` and their partitions
    /// (`<disk>N` or `<disk>pN` subdirectories), in qemu-ga's order (reverse discovery; each
    /// disk followed by its partitions in reverse). Errors reading details are ignored.
    pub fn disks(&self) -> Result<Vec<GuestDiskInfo>, SysError> {
        let block = self.sys.join("block");
        let entries = std::fs::read_dir(&block).map_err(|err| {
            SysError::with_errno(
                format!("Can't open directory \"{}\"", block.display()),
                errno_of(&err),
            )
        })?;
        let mut list = Vec::new();
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_symlink()) {
                continue;
            }
            let name = entry.file_name();
            let disk_dir = block.join(&name);
            match std::fs::read(disk_dir.join("size")) {
                Ok(size) if size != b"0\n" => {}
                _ => continue,
            }
            let Some(dev_name) = self.devnode(&disk_dir) else {
                continue;
            };
            let mut disk = GuestDiskInfo {
                name: dev_name.clone(),
                partition: false,
                dependencies: None,
                address: None,
                alias: self
                    .udev_property(&disk_dir, "DM_NAME")
                    .filter(|alias| !alias.is_empty()),
                smart: None,
            };
            let is_virtual = std::fs::canonicalize(&disk_dir)
                .map_or(true, |p| contains(&p, "/devices/virtual/block/"));
            if !is_virtual {
                let mut name = None;
                let mut addresses = Vec::new();
                if self.device(&disk_dir, &mut name, &mut addresses).is_ok() {
                    disk.address = addresses.into_iter().next();
                }
            }
            disk.dependencies = self.dependencies(&disk_dir);
            if disk
                .address
                .as_ref()
                .is_some_and(|a| a.bus_type == GuestDiskBusType::Nvme)
            {
                disk.smart = nvme_smart(Path::new(&disk.name)).map(GuestDiskSmart::Nvme);
            }
            list.push(disk);
            list.extend(self.partitions(&name.to_string_lossy(), &disk_dir, &dev_name));
        }
        list.reverse();
        Ok(list)
    }

    /// Device nodes of `<disk>/slaves/*`, in reverse directory order; `None` without `slaves/`.
    fn dependencies(&self, disk_dir: &Path) -> Option<Vec<String>> {
        let entries = std::fs::read_dir(disk_dir.join("slaves")).ok()?;
        let mut deps: Vec<String> = entries
            .flatten()
            .filter_map(|entry| self.devnode(&entry.path()))
            .collect();
        deps.reverse();
        Some(deps)
    }

    /// The partitions of a disk as entries that depend on the disk, in directory order.
    fn partitions(&self, disk_name: &str, disk_dir: &Path, disk_dev: &str) -> Vec<GuestDiskInfo> {
        let Ok(entries) = std::fs::read_dir(disk_dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|entry| is_partition_name(disk_name, &entry.file_name().to_string_lossy()))
            .filter_map(|entry| {
                Some(GuestDiskInfo {
                    name: self.devnode(&entry.path())?,
                    partition: true,
                    dependencies: Some(vec![disk_dev.to_owned()]),
                    address: None,
                    alias: None,
                    smart: None,
                })
            })
            .collect()
    }

    /// Resolves `devpath` and records its name (once) and disk addresses.
    fn device(
        &self,
        devpath: &Path,
        name: &mut Option<String>,
        disks: &mut Vec<GuestDiskAddress>,
    ) -> Result<(), SysError> {
        let syspath = std::fs::canonicalize(devpath).map_err(|err| {
            SysError::with_errno(
                format!("realpath(\"{}\")", devpath.display()),
                errno_of(&err),
            )
        })?;
        if name.is_none() {
            *name = syspath
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
        }
        if contains(&syspath, "/devices/virtual/block/") {
            self.virtual_device(&syspath, name, disks)
        } else {
            self.real_device(&syspath, disks)
        }
    }

    /// Follows the `slaves/` links of a virtual device (dm, md, ...).
    fn virtual_device(
        &self,
        syspath: &Path,
        name: &mut Option<String>,
        disks: &mut Vec<GuestDiskAddress>,
    ) -> Result<(), SysError> {
        let slaves = syspath.join("slaves");
        let entries = match std::fs::read_dir(&slaves) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => {
                return Err(SysError::with_errno(
                    format!("opendir(\"{}\")", slaves.display()),
                    errno_of(&err),
                ))
            }
        };
        for entry in entries {
            let entry = entry.map_err(|err| {
                SysError::with_errno(format!("readdir(\"{}\")", slaves.display()), errno_of(&err))
            })?;
            if entry.file_type().is_ok_and(|t| t.is_symlink()) {
                self.device(&entry.path(), name, disks)?;
            }
        }
        Ok(())
    }

    /// Builds the address of a real device; it is kept (prepended) if anything was learnt.
    fn real_device(
        &self,
        syspath: &Path,
        disks: &mut Vec<GuestDiskAddress>,
    ) -> Result<(), SysError> {
        let mut disk = unknown_address();
        disk.dev = self.devnode(syspath);
        disk.serial = self
            .udev_property(syspath, "ID_SERIAL")
            .filter(|s| !s.is_empty());
        let text = syspath.to_string_lossy();
        let has_hwinf = if text.contains("/devices/pci") {
            pci_device(&text, &mut disk)?
        } else if text.contains("/devices/css") {
            ccw_device(&text, &mut disk)
        } else if text.contains("/virtio") {
            nonpci_virtio(&text, &mut disk)
        } else {
            false
        };
        if has_hwinf || disk.dev.is_some() || disk.serial.is_some() {
            disks.insert(0, disk);
        }
        Ok(())
    }

    /// The device node libudev reports: `/dev/` + `DEVNAME` of the device's `uevent`.
    fn devnode(&self, syspath: &Path) -> Option<String> {
        let uevent = std::fs::read_to_string(syspath.join("uevent")).ok()?;
        uevent
            .lines()
            .find_map(|line| line.strip_prefix("DEVNAME="))
            .map(|name| format!("/dev/{name}"))
    }

    /// A property from udev's database entry of the device (`E:KEY=value` lines of
    /// `<udev_data>/b<major>:<minor>`).
    fn udev_property(&self, syspath: &Path, key: &str) -> Option<String> {
        let dev = std::fs::read_to_string(syspath.join("dev")).ok()?;
        let db = std::fs::read_to_string(self.udev_data.join(format!("b{}", dev.trim()))).ok()?;
        db.lines()
            .filter_map(|line| line.strip_prefix("E:"))
            .find_map(|entry| {
                entry
                    .split_once('=')
                    .filter(|(k, _)| *k == key)
                    .map(|(_, v)| v.to_owned())
            })
    }
}

fn contains(path: &Path, needle: &str) -> bool {
    path.to_string_lossy().contains(needle)
}

/// `<disk>N` or `<disk>pN`.
fn is_partition_name(disk: &str, entry: &str) -> bool {
    let Some(rest) = entry.strip_prefix(disk) else {
        return false;
    };
    let rest = rest
        .strip_prefix('p')
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(rest);
    rest.starts_with(|c: char| c.is_ascii_digit())
}

/// A tiny `sscanf` for sysfs paths: hex/decimal numbers and literal characters.
struct Scan<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Self {
        Scan { text, pos: 0 }
    }

    fn number(&mut self, radix: u32) -> Option<i64> {
        let rest = &self.text[self.pos..];
        let len = rest
            .find(|c: char| !c.is_digit(radix))
            .unwrap_or(rest.len());
        let value = u32::from_str_radix(&rest[..len], radix).ok()?;
        self.pos += len;
        Some(i64::from(value))
    }

    fn hex(&mut self) -> Option<i64> {
        self.number(16)
    }

    fn dec(&mut self) -> Option<i64> {
        self.number(10)
    }

    fn lit(&mut self, c: char) -> Option<()> {
        self.text[self.pos..]
            .starts_with(c)
            .then(|| self.pos += c.len_utf8())
    }

    /// `%x:%x:%x.%x` as a PCI address.
    fn pci(&mut self) -> Option<GuestPciAddress> {
        let domain = self.hex()?;
        self.lit(':')?;
        let bus = self.hex()?;
        self.lit(':')?;
        let slot = self.hex()?;
        self.lit('.')?;
        let function = self.hex()?;
        Some(GuestPciAddress {
            domain,
            bus,
            slot,
            function,
        })
    }

    /// `%*u:%*u:%*u/%*u:%u:%u:%u` after `/target`: (channel, target, lun).
    fn target(&mut self) -> Option<[i64; 3]> {
        self.dec()?;
        self.lit(':')?;
        self.dec()?;
        self.lit(':')?;
        self.dec()?;
        self.lit('/')?;
        self.dec()?;
        self.lit(':')?;
        let a = self.dec()?;
        self.lit(':')?;
        let b = self.dec()?;
        self.lit(':')?;
        let c = self.dec()?;
        Some([a, b, c])
    }
}

fn after<'a>(text: &'a str, needle: &str) -> Option<&'a str> {
    text.find(needle).map(|i| &text[i + needle.len()..])
}

const KNOWN_DRIVERS: [&str; 7] = [
    "ata_piix",
    "sym53c8xx",
    "virtio-pci",
    "ahci",
    "nvme",
    "xhci_hcd",
    "ehci-pci",
];

/// A PCI-attached disk: the controller is the first PCI device on the path (descending
/// through bridges) bound to a known driver; the driver decides the bus type and numbers.
fn pci_device(syspath: &str, disk: &mut GuestDiskAddress) -> Result<bool, SysError> {
    let Some(start) = syspath.find("/devices/pci") else {
        return Ok(false);
    };
    let mut scan = Scan::new(&syspath[start + 12..]);
    let first = (|| {
        scan.hex()?;
        scan.lit(':')?;
        scan.hex()?;
        scan.lit('/')?;
        scan.pci()
    })();
    let Some(mut pci) = first else {
        return Ok(false);
    };
    let mut end = start + 12 + scan.pos;
    let driver = loop {
        let driver = std::fs::read_link(format!("{}/driver", &syspath[..end]))
            .ok()
            .and_then(|link| link.file_name().map(|n| n.to_string_lossy().into_owned()));
        if let Some(driver) = driver.filter(|d| KNOWN_DRIVERS.contains(&d.as_str())) {
            break driver;
        }
        let mut next = Scan::new(&syspath[end..]);
        match next.lit('/').and_then(|()| next.pci()) {
            Some(address) => {
                pci = address;
                end += next.pos;
            }
            None => return Ok(false),
        }
    };

    let target = after(syspath, "/target").and_then(|rest| Scan::new(rest).target());
    let (host_at, is_ata) = match syspath.find("/ata") {
        Some(i) => (Some(i), true),
        None => (syspath.find("/host"), false),
    };
    let mut host = None;
    let mut hosts = Vec::new();
    if let Some(at) = host_at {
        let number_at = at + if is_ata { 4 } else { 5 };
        if let Some(number) = Scan::new(&syspath[number_at..]).dec() {
            host = Some(number);
            hosts = host_numbers(&syspath[..at], if is_ata { "ata" } else { "host" })?;
        }
    }

    disk.pci_controller = pci;
    let host_index = host.and_then(|h| hosts.iter().position(|&n| n == h));
    match driver.as_str() {
        "ata_piix" => {
            let (Some(index), Some(target)) = (host_index, target) else {
                return Ok(false);
            };
            disk.bus_type = GuestDiskBusType::Ide;
            disk.bus = index as i64;
            disk.unit = target[1];
        }
        "sym53c8xx" => {
            let Some(target) = target else {
                return Ok(false);
            };
            disk.bus_type = GuestDiskBusType::Scsi;
            disk.unit = target[1];
        }
        "virtio-pci" => match target {
            Some(target) => {
                disk.bus_type = GuestDiskBusType::Scsi;
                disk.unit = target[2];
            }
            None => disk.bus_type = GuestDiskBusType::Virtio,
        },
        "ahci" => {
            let (Some(index), Some(_)) = (host_index, target) else {
                return Ok(false);
            };
            disk.unit = index as i64;
            disk.bus_type = GuestDiskBusType::Sata;
        }
        "nvme" => disk.bus_type = GuestDiskBusType::Nvme,
        _ => disk.bus_type = GuestDiskBusType::Usb,
    }
    Ok(true)
}

/// The sorted numbers of the `ata<N>`/`host<N>` entries of `dir` (at most 8, as qemu-ga).
fn host_numbers(dir: &str, prefix: &str) -> Result<Vec<i64>, SysError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|err| SysError::with_errno(format!("opendir(\"{dir}\")"), errno_of(&err)))?;
    let mut numbers: Vec<i64> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let rest = name.to_str()?.strip_prefix(prefix)?;
            Scan::new(rest).dec()
        })
        .take(8)
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

/// An s390 channel-attached disk: `/devices/css<x>/<cssid>.<ssid>.<subchno>/<x>.<x>.<devno>/`.
fn ccw_device(syspath: &str, disk: &mut GuestDiskAddress) -> bool {
    let Some(rest) = after(syspath, "/devices/css") else {
        return false;
    };
    let mut scan = Scan::new(rest);
    let address = (|| {
        scan.hex()?;
        scan.lit('/')?;
        let cssid = scan.hex()?;
        scan.lit('.')?;
        let ssid = scan.hex()?;
        scan.lit('.')?;
        let subchno = scan.hex()?;
        scan.lit('/')?;
        scan.hex()?;
        scan.lit('.')?;
        scan.hex()?;
        scan.lit('.')?;
        let devno = scan.hex()?;
        Some(GuestCcwAddress {
            cssid,
            ssid,
            subchno,
            devno,
        })
    })();
    let Some(address) = address else {
        return false;
    };
    disk.ccw_address = Some(address);
    if rest.contains("/virtio") {
        nonpci_virtio(syspath, disk);
    }
    true
}

/// A virtio disk not on PCI: virtio-scsi (`target` numbers) or virtio-blk.
fn nonpci_virtio(syspath: &str, disk: &mut GuestDiskAddress) -> bool {
    if !syspath.contains("/virtio") || !syspath.contains("/block") {
        return false;
    }
    match after(syspath, "/target").and_then(|rest| Scan::new(rest).target()) {
        Some([bus, target, unit]) => {
            disk.bus_type = GuestDiskBusType::Scsi;
            disk.bus = bus;
            disk.target = target;
            disk.unit = unit;
        }
        None => disk.bus_type = GuestDiskBusType::Virtio,
    }
    true
}

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
fn nvme_smart(device: &Path) -> Option<GuestNvMeSmart> {
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
    use std::os::unix::fs::symlink;

    use super::*;

    /// A fake sysfs + udev database with a virtio disk (one partition under device-mapper),
    /// a SATA disk, a virtio-scsi disk, an NVMe disk behind a bridge and an empty loop device.
    struct FakeSys {
        root: tempfile::TempDir,
    }

    impl FakeSys {
        fn new() -> FakeSys {
            let fake = FakeSys {
                root: tempfile::tempdir().unwrap(),
            };
            let vda = "devices/pci0000:00/0000:00:02.0/virtio1/block/vda";
            fake.device(vda, "vda", "254:0", "100\n");
            fake.device(&format!("{vda}/vda1"), "vda1", "254:1", "50\n");
            fake.driver("devices/pci0000:00/0000:00:02.0", "virtio-pci");
            let dm = "devices/virtual/block/dm-0";
            fake.device(dm, "dm-0", "253:0", "50\n");
            fake.link(
                &format!("{dm}/slaves/vda1"),
                "../../../../pci0000:00/0000:00:02.0/virtio1/block/vda/vda1",
            );
            fake.device("devices/virtual/block/loop0", "loop0", "7:0", "0\n");
            let ahci = "devices/pci0000:00/0000:00:1f.2";
            fake.driver(ahci, "ahci");
            for ata in ["ata1", "ata3"] {
                std::fs::create_dir_all(fake.path(&format!("{ahci}/{ata}"))).unwrap();
            }
            let sda = format!("{ahci}/ata2/host1/target1:0:0/1:0:0:0/block/sda");
            fake.device(&sda, "sda", "8:0", "10\n");
            let scsi = "devices/pci0000:00/0000:00:03.0";
            fake.driver(scsi, "virtio-pci");
            let sdb = format!("{scsi}/virtio2/host2/target2:0:1/2:0:1:5/block/sdb");
            fake.device(&sdb, "sdb", "8:16", "10\n");
            fake.driver("devices/pci0000:00/0000:00:1c.0", "pcieport");
            let nvme_ctrl = "devices/pci0000:00/0000:00:1c.0/0000:01:00.0";
            fake.driver(nvme_ctrl, "nvme");
            let nvme = format!("{nvme_ctrl}/nvme/nvme0/qga-test-nvme0n1");
            fake.device(&nvme, "qga-test-nvme0n1", "259:0", "10\n");
            for (dev, target) in [
                ("254:0", vda.to_owned()),
                ("254:1", format!("{vda}/vda1")),
                ("253:0", dm.to_owned()),
                ("8:0", sda.clone()),
                ("8:16", sdb.clone()),
                ("259:0", nvme.clone()),
            ] {
                fake.link(&format!("dev/block/{dev}"), &format!("../../{target}"));
            }
            for (name, target) in [
                ("vda", vda.to_owned()),
                ("dm-0", dm.to_owned()),
                ("loop0", "devices/virtual/block/loop0".to_owned()),
                ("sda", sda),
                ("sdb", sdb),
                ("qga-test-nvme0n1", nvme),
            ] {
                fake.link(&format!("block/{name}"), &format!("../{target}"));
            }
            fake.write(
                "udev/b254:1",
                "S:disk/by-id/x\nE:ID_SERIAL=SER1\nE:OTHER=1\n",
            );
            fake.write("udev/b253:0", "E:DM_NAME=vg-root\n");
            fake.write("udev/b8:0", "E:ID_SERIAL=\n");
            fake
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.root.path().join(rel)
        }

        fn write(&self, rel: &str, content: &str) {
            let path = self.path(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }

        fn link(&self, rel: &str, target: &str) {
            let path = self.path(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            symlink(target, path).unwrap();
        }

        fn device(&self, rel: &str, name: &str, dev: &str, size: &str) {
            self.write(
                &format!("{rel}/uevent"),
                &format!("MAJOR=1\nMINOR=2\nDEVNAME={name}\nDEVTYPE=disk\n"),
            );
            self.write(&format!("{rel}/dev"), &format!("{dev}\n"));
            self.write(&format!("{rel}/size"), size);
        }

        fn driver(&self, rel: &str, driver: &str) {
            self.link(
                &format!("{rel}/driver"),
                &format!("../../../bus/pci/drivers/{driver}"),
            );
        }

        fn devices(&self) -> BlockDevices {
            BlockDevices {
                sys: self.root.path().to_owned(),
                udev_data: self.path("udev"),
            }
        }

        fn mount(&self, dir: &str, major: u32, minor: u32) -> Mount {
            let dir = self.path(dir);
            std::fs::create_dir_all(&dir).unwrap();
            Mount {
                dir,
                fs_type: "ext4".into(),
                source: "/dev/x".into(),
                dev_major: major,
                dev_minor: minor,
            }
        }
    }

    fn pci(domain: i64, bus: i64, slot: i64, function: i64) -> GuestPciAddress {
        GuestPciAddress {
            domain,
            bus,
            slot,
            function,
        }
    }

    #[test]
    fn fsinfo_resolves_devices_and_addresses() {
        let fake = FakeSys::new();
        let mounts = [
            fake.mount("m/root", 253, 0),
            fake.mount("m/data", 8, 0),
            fake.mount("m/scsi", 8, 16),
            fake.mount("m/nvme", 259, 0),
        ];
        let list = fake.devices().fsinfo(&mounts).unwrap();
        let names: Vec<_> = list.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["qga-test-nvme0n1", "sdb", "sda", "dm-0"],
            "reversed"
        );

        let root = &list[3];
        assert_eq!(root.mountpoint, fake.path("m/root").to_str().unwrap());
        assert_eq!(root.r#type, "ext4");
        assert_eq!(
            root.disk,
            [GuestDiskAddress {
                pci_controller: pci(0, 0, 2, 0),
                bus_type: GuestDiskBusType::Virtio,
                bus: 0,
                target: 0,
                unit: 0,
                serial: Some("SER1".into()),
                dev: Some("/dev/vda1".into()),
                ccw_address: None,
            }]
        );
        let total = root.total_bytes_privileged.unwrap();
        assert!(total > 0 && root.used_bytes.unwrap() <= total);
        assert!(root.total_bytes.unwrap() <= total);

        let sata = &list[2].disk[0];
        assert_eq!(sata.bus_type, GuestDiskBusType::Sata);
        assert_eq!(sata.unit, 1, "ata2 is the second of ata1, ata2, ata3");
        assert_eq!(sata.pci_controller, pci(0, 0, 0x1f, 2));
        assert_eq!(sata.serial, None, "empty serials are dropped");

        let scsi = &list[1].disk[0];
        assert_eq!((&scsi.bus_type, scsi.unit), (&GuestDiskBusType::Scsi, 5));

        let nvme = &list[0].disk[0];
        assert_eq!(nvme.bus_type, GuestDiskBusType::Nvme);
        assert_eq!(
            nvme.pci_controller,
            pci(0, 1, 0, 0),
            "the controller behind the bridge"
        );
    }

    #[test]
    fn fsinfo_fails_on_unknown_devices() {
        let fake = FakeSys::new();
        let err = fake
            .devices()
            .fsinfo(&[fake.mount("m/x", 9, 9)])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "realpath(\"{}\"): No such file or directory",
                fake.path("dev/block/9:9").display()
            )
        );
    }

    #[test]
    fn disks_with_partitions_dependencies_and_aliases() {
        let fake = FakeSys::new();
        let disks = fake.devices().disks().unwrap();
        let find = |name: &str| disks.iter().find(|d| d.name == name).unwrap();
        assert_eq!(disks.len(), 6, "loop0 is empty and skipped");
        let vda = find("/dev/vda");
        assert!(!vda.partition);
        assert_eq!(vda.dependencies, None);
        assert_eq!(
            vda.address.as_ref().unwrap().bus_type,
            GuestDiskBusType::Virtio
        );
        assert_eq!(
            vda.address.as_ref().unwrap().dev.as_deref(),
            Some("/dev/vda")
        );
        let vda1 = find("/dev/vda1");
        assert!(vda1.partition);
        assert_eq!(vda1.dependencies, Some(vec!["/dev/vda".to_owned()]));
        let dm = find("/dev/dm-0");
        assert_eq!(dm.alias.as_deref(), Some("vg-root"));
        assert_eq!(dm.dependencies, Some(vec!["/dev/vda1".to_owned()]));
        assert_eq!(dm.address, None, "virtual disks have no address");
        assert_eq!(
            find("/dev/sda").address.as_ref().unwrap().bus_type,
            GuestDiskBusType::Sata
        );
        let nvme = find("/dev/qga-test-nvme0n1");
        assert_eq!(
            nvme.address.as_ref().unwrap().bus_type,
            GuestDiskBusType::Nvme
        );
        assert_eq!(nvme.smart, None, "no device node to query");
        // Each partition comes right before its disk (reverse order of discovery).
        let vda_at = disks.iter().position(|d| d.name == "/dev/vda").unwrap();
        assert_eq!(disks[vda_at - 1].name, "/dev/vda1");

        let missing = BlockDevices {
            sys: fake.path("none"),
            udev_data: fake.path("udev"),
        };
        assert_eq!(
            missing.disks().unwrap_err().to_string(),
            format!(
                "Can't open directory \"{}\": No such file or directory",
                fake.path("none/block").display()
            )
        );
    }

    #[test]
    fn partition_names() {
        assert!(is_partition_name("sda", "sda1"));
        assert!(is_partition_name("nvme0n1", "nvme0n1p2"));
        assert!(!is_partition_name("sda", "sdb1"));
        assert!(!is_partition_name("sda", "power"));
        assert!(!is_partition_name("sda", "sdap"));
        assert!(!is_partition_name("vda", "vda"));
    }

    #[test]
    fn ide_scsi_usb_and_ccw_paths() {
        let mut disk = unknown_address();
        assert!(ccw_device(
            "/sys/devices/css0/0.0.0002/0.0.0042/virtio1/block/vda",
            &mut disk
        ));
        assert_eq!(
            disk.ccw_address,
            Some(GuestCcwAddress {
                cssid: 0,
                ssid: 0,
                subchno: 2,
                devno: 0x42
            })
        );
        assert_eq!(disk.bus_type, GuestDiskBusType::Virtio);
        let mut disk = unknown_address();
        assert!(nonpci_virtio(
            "/sys/devices/platform/virtio0/host0/target0:0:3/0:0:3:4/block/sda",
            &mut disk
        ));
        assert_eq!((disk.bus, disk.target, disk.unit), (0, 3, 4));
        assert!(!nonpci_virtio(
            "/sys/devices/platform/foo/block/x",
            &mut disk
        ));
    }

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

    #[test]
    fn real_system_smoke() {
        if Path::new("/sys/block").exists() {
            let disks = get_disks().unwrap();
            assert!(disks.iter().all(|d| d.name.starts_with("/dev/")));
            let fsinfo = get_fsinfo().unwrap();
            assert!(fsinfo.iter().all(|f| !f.name.is_empty()));
        }
    }
}
