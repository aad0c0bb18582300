//! guest-get-fsinfo and guest-get-disks: block devices found by walking sysfs.
//!
//! qemu-ga asks libudev for device nodes and properties; we read what libudev reads: the
//! kernel's `uevent` file (`DEVNAME`) and udev's database under `/run/udev/data` (for
//! `ID_SERIAL` and `DM_NAME`). Without a udev database those properties are simply absent,
//! as they are for qemu-ga on a system where udevd does not run.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use qga_types::{
    GuestDiskAddress, GuestDiskBusType, GuestDiskInfo, GuestDiskSmart, GuestFilesystemInfo,
    GuestPciAddress,
};

use super::error::errno_of;
use super::mount::{Mount, MountTables};
use super::SysError;
use address::{ccw_device, nonpci_virtio, pci_device};
use nvme::nvme_smart;

mod address;
mod nvme;
mod scan;

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
    fn real_system_smoke() {
        if Path::new("/sys/block").exists() {
            let disks = get_disks().unwrap();
            assert!(disks.iter().all(|d| d.name.starts_with("/dev/")));
            let fsinfo = get_fsinfo().unwrap();
            assert!(fsinfo.iter().all(|f| !f.name.is_empty()));
        }
    }
}
