//! A disk's controller address (PCI, SCSI/IDE/SATA numbers, CCW, non-PCI virtio), read from its
//! sysfs path as qemu-ga reads it.

use qga_types::{GuestCcwAddress, GuestDiskAddress, GuestDiskBusType};

use super::scan::{after, Scan};
use crate::sys::error::errno_of;
use crate::sys::SysError;

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
pub(super) fn pci_device(syspath: &str, disk: &mut GuestDiskAddress) -> Result<bool, SysError> {
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
pub(super) fn ccw_device(syspath: &str, disk: &mut GuestDiskAddress) -> bool {
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
pub(super) fn nonpci_virtio(syspath: &str, disk: &mut GuestDiskAddress) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::blockdev::unknown_address;

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
}
