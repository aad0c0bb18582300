//! Disks and filesystems: guest-get-fsinfo, -disks, -diskstats, guest-fstrim and the
//! guest-fsfreeze-* commands (without a hook; see [`super::hook`] for the hook).

use super::{command_error, expect_error, read_file, read_text, shell_ok, write_file, Ctx};
use crate::guest;
use anyhow::{bail, ensure, Context, Result};
use qga_types::qapi_runtime::ErrorClass;
use qga_types::{
    GuestDiskAddress, GuestDiskBusType, GuestFileOpenArgs, GuestFilesystemTrimResult,
    GuestFsfreezeFreezeListArgs, GuestFsfreezeStatus, GuestFstrimArgs, GuestPciAddress,
};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

/// The data disk as guest-get-fsinfo and guest-get-disks describe it: virtio, on the PCI
/// slot QEMU was given. The serial comes from udev's database, which this guest lacks.
fn data_disk_address() -> GuestDiskAddress {
    GuestDiskAddress {
        pci_controller: GuestPciAddress {
            domain: 0,
            bus: 0,
            slot: guest::DATA_DISK_PCI_SLOT,
            function: 0,
        },
        bus_type: GuestDiskBusType::Virtio,
        bus: 0,
        target: 0,
        unit: 0,
        serial: None,
        dev: Some(guest::DATA_DEVICE.to_string()),
        ccw_address: None,
    }
}

/// Only the ext4 data disk is a block-device mount; its sizes agree with statfs (busybox
/// `stat -f` in the guest).
pub fn fsinfo(ctx: &mut Ctx) -> Result<()> {
    let statfs = shell_ok(
        &mut ctx.client,
        &format!("stat -f -c '%S %b %f %a' {}", guest::DATA_MOUNT),
    )?;
    let got = ctx.client.guest_get_fsinfo()?;
    let numbers: Vec<u64> = statfs
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("stat -f printed {statfs:?}"))?;
    let [frsize, blocks, free, avail] = numbers[..] else {
        bail!("stat -f printed {statfs:?}");
    };
    let [fs] = got.as_slice() else {
        bail!("expected only the data disk, got {got:?}");
    };
    ensure!(
        fs.name == guest::DATA_DEVICE_NAME && fs.mountpoint == guest::DATA_MOUNT,
        "filesystem {fs:?}"
    );
    ensure!(fs.r#type == "ext4", "type {}", fs.r#type);
    let used = (blocks - free) * frsize;
    ensure!(
        fs.used_bytes == Some(used)
            && fs.total_bytes == Some(used + avail * frsize)
            && fs.total_bytes_privileged == Some(blocks * frsize),
        "sizes {:?} / {:?} / {:?}, statfs: frsize {frsize} blocks {blocks} free {free} avail {avail}",
        fs.used_bytes,
        fs.total_bytes,
        fs.total_bytes_privileged
    );
    let size = guest::DATA_DISK_MIB << 20;
    ensure!(
        blocks * frsize > size / 2 && blocks * frsize <= size,
        "{blocks} blocks"
    );
    let want = vec![data_disk_address()];
    ensure!(
        fs.disk == want,
        "disk\n  got  {:?}\n  want {want:?}",
        fs.disk
    );
    Ok(())
}

pub fn disks(ctx: &mut Ctx) -> Result<()> {
    let got = ctx.client.guest_get_disks()?;
    let [disk] = got.as_slice() else {
        bail!("expected only the data disk, got {got:?}");
    };
    ensure!(
        disk.name == guest::DATA_DEVICE && !disk.partition,
        "disk {disk:?}"
    );
    ensure!(
        disk.dependencies.as_deref() == Some(&[][..]),
        "dependencies {:?}",
        disk.dependencies
    );
    ensure!(
        disk.address == Some(data_disk_address()),
        "address {:?}",
        disk.address
    );
    ensure!(
        disk.alias.is_none() && disk.smart.is_none(),
        "disk {disk:?}"
    );
    Ok(())
}

/// The data disk's counters lie between /sys/block/vda/stat readings before and after.
pub fn diskstats(ctx: &mut Ctx) -> Result<()> {
    let name = guest::DATA_DEVICE_NAME;
    let dev = read_text(&mut ctx.client, &format!("/sys/block/{name}/dev"))?;
    let (major, minor) = dev.trim().split_once(':').context("bad sysfs dev")?;
    let (major, minor): (u64, u64) = (major.parse()?, minor.parse()?);
    let sysfs = |ctx: &mut Ctx| -> Result<Vec<u64>> {
        let text = read_text(&mut ctx.client, &format!("/sys/block/{name}/stat"))?;
        Ok(text
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()?)
    };
    let before = sysfs(ctx)?;
    let got = ctx.client.guest_get_diskstats()?;
    let after = sysfs(ctx)?;
    let entry = got
        .iter()
        .find(|d| d.name == name)
        .with_context(|| format!("no {name} in {got:?}"))?;
    ensure!(
        entry.major == major && entry.minor == minor,
        "entry {entry:?}, sysfs {dev}"
    );
    let s = &entry.stats;
    // /sys/block/<dev>/stat column order (Documentation/block/stat.rst).
    let columns = [
        ("read-ios", s.read_ios),
        ("read-merges", s.read_merges),
        ("read-sectors", s.read_sectors),
        ("read-ticks", s.read_ticks),
        ("write-ios", s.write_ios),
        ("write-merges", s.write_merges),
        ("write-sectors", s.write_sectors),
        ("write-ticks", s.write_ticks),
        ("ios-pgr", s.ios_pgr),
        ("total-ticks", s.total_ticks),
        ("weight-ticks", s.weight_ticks),
        ("discard-ios", s.discard_ios),
        ("discard-merges", s.discard_merges),
        ("discard-sectors", s.discard_sectors),
        ("discard-ticks", s.discard_ticks),
        ("flush-ios", s.flush_ios),
        ("flush-ticks", s.flush_ticks),
    ];
    ensure!(before.len() == columns.len(), "sysfs stat {before:?}");
    for (i, (member, value)) in columns.iter().enumerate() {
        let value = value.with_context(|| format!("{member} missing in {entry:?}"))?;
        // ios-pgr is a gauge, not a counter.
        if *member != "ios-pgr" {
            ensure!(
                before[i] <= value && value <= after[i],
                "{member} {value} not within sysfs {} ..= {}",
                before[i],
                after[i]
            );
        }
    }
    ensure!(s.read_ios > Some(0), "no reads counted: {entry:?}");
    Ok(())
}

/// Host bytes allocated to the data disk image (discards punch holes into it).
fn image_allocated(ctx: &Ctx) -> Result<u64> {
    let image = ctx.vm.data_disk().context("no data disk")?;
    Ok(std::fs::metadata(image)?.blocks() * 512)
}

/// Write 8 MiB, delete them, trim: the filesystem reports what it trimmed and the discards
/// reach the host image (discard=unmap), which shrinks. A minimum larger than a block group
/// is refused by ext4 and reported per path.
pub fn fstrim(ctx: &mut Ctx) -> Result<()> {
    let file = format!("{}/trim-me", guest::DATA_MOUNT);
    shell_ok(
        &mut ctx.client,
        &format!("dd if=/dev/urandom of={file} bs=1M count=8 2>/dev/null && sync"),
    )?;
    let full = image_allocated(ctx)?;
    shell_ok(&mut ctx.client, &format!("rm {file} && sync"))?;
    let got = ctx
        .client
        .guest_fstrim(&GuestFstrimArgs { minimum: None })?;
    let [entry] = got.paths.as_slice() else {
        bail!("expected only the data disk: {got:?}");
    };
    let trimmed = entry.trimmed.unwrap_or(0);
    ensure!(
        entry.path == guest::DATA_MOUNT
            && entry.minimum == Some(0)
            && entry.error.is_none()
            && trimmed >= 8 << 20,
        "entry {entry:?}"
    );
    let emptied = image_allocated(ctx)?;
    ensure!(
        emptied + (7 << 20) <= full,
        "the image still holds {emptied} bytes (had {full}): discards did not reach it"
    );
    let got = ctx.client.guest_fstrim(&GuestFstrimArgs {
        minimum: Some(1 << 30),
    })?;
    let want = vec![GuestFilesystemTrimResult {
        path: guest::DATA_MOUNT.into(),
        trimmed: None,
        minimum: None,
        error: Some("failed to trim: Invalid argument".into()),
    }];
    ensure!(got.paths == want, "minimum 1 GiB: {got:?}");
    Ok(())
}

/// The commands qemu-ga allows while filesystems are frozen.
const FREEZE_SAFE: [&str; 6] = [
    "guest-ping",
    "guest-info",
    "guest-sync",
    "guest-sync-delimited",
    "guest-fsfreeze-status",
    "guest-fsfreeze-thaw",
];

/// The frozen marker's appearances and disappearances /init reported on the console.
fn marker_events(ctx: &Ctx) -> (usize, usize) {
    let console = ctx.vm.console();
    (
        console
            .matches(&format!("{} present", guest::FROZEN_MARKER))
            .count(),
        console
            .matches(&format!("{} absent", guest::FROZEN_MARKER))
            .count(),
    )
}

/// Waits until the console shows the marker present (`frozen`) or absent again.
fn expect_marker(ctx: &Ctx, before: (usize, usize), frozen: bool) -> Result<()> {
    let (needle, count) = if frozen {
        ("present", before.0 + 1)
    } else {
        ("absent", before.1 + 1)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = marker_events(ctx);
        if (if frozen { now.0 } else { now.1 }) >= count {
            return Ok(());
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "the console never reported {} {needle}",
            guest::FROZEN_MARKER
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn status(ctx: &mut Ctx) -> Result<GuestFsfreezeStatus> {
    Ok(ctx.client.guest_fsfreeze_status()?)
}

/// Freeze everything (only the data disk is freezable), what is refused while frozen, the
/// state file, thaw; freeze-list with the data disk and with an unknown mount point.
pub fn fsfreeze(ctx: &mut Ctx) -> Result<()> {
    ensure!(
        status(ctx)? == GuestFsfreezeStatus::Thawed,
        "not thawed at start"
    );
    let events = marker_events(ctx);
    let frozen = ctx.client.guest_fsfreeze_freeze()?;
    ensure!(frozen == 1, "froze {frozen} filesystems, expected 1");
    ensure!(
        status(ctx)? == GuestFsfreezeStatus::Frozen,
        "status after freeze"
    );
    expect_marker(ctx, events, true)?;
    // While frozen only the freeze-safe commands are enabled.
    expect_error(
        "guest-file-open while frozen",
        ctx.client.guest_file_open(&GuestFileOpenArgs {
            path: "/etc/hostname".into(),
            mode: None,
        }),
        ErrorClass::CommandNotFound,
        "Command guest-file-open has been disabled: the command is not allowed",
    )?;
    expect_error(
        "guest-fsfreeze-freeze while frozen",
        ctx.client.guest_fsfreeze_freeze(),
        ErrorClass::CommandNotFound,
        "Command guest-fsfreeze-freeze has been disabled: the command is not allowed",
    )?;
    let info = ctx.client.guest_info()?;
    for command in &info.supported_commands {
        let safe = FREEZE_SAFE.contains(&command.name.as_str());
        ensure!(
            command.enabled == safe,
            "while frozen {} is {}",
            command.name,
            if command.enabled {
                "enabled"
            } else {
                "disabled"
            }
        );
    }
    ctx.client.guest_ping()?;
    let thawed = ctx.client.guest_fsfreeze_thaw()?;
    ensure!(thawed == 1, "thawed {thawed} filesystems, expected 1");
    ensure!(
        status(ctx)? == GuestFsfreezeStatus::Thawed,
        "status after thaw"
    );
    expect_marker(ctx, events, false)?;
    expect_error(
        "opening the frozen marker after thaw",
        ctx.client.guest_file_open(&GuestFileOpenArgs {
            path: guest::FROZEN_MARKER.into(),
            mode: None,
        }),
        ErrorClass::GenericError,
        &format!(
            "failed to open file '{}' (mode: 'r'): No such file or directory",
            guest::FROZEN_MARKER
        ),
    )?;
    let info = ctx.client.guest_info()?;
    ensure!(
        info.supported_commands.iter().all(|c| c.enabled),
        "commands still disabled after thaw"
    );
    // Writes work again.
    let path = format!("{}/after-thaw.txt", guest::DATA_MOUNT);
    write_file(&mut ctx.client, &path, b"thawed\n")?;
    ensure!(
        read_file(&mut ctx.client, &path)? == b"thawed\n",
        "{path} content"
    );
    // Thawing when nothing is frozen thaws nothing.
    ensure!(
        ctx.client.guest_fsfreeze_thaw()? == 0,
        "a second thaw thawed something"
    );

    let freeze_list = |ctx: &mut Ctx, mountpoints: &[&str]| {
        ctx.client
            .guest_fsfreeze_freeze_list(&GuestFsfreezeFreezeListArgs {
                mountpoints: Some(mountpoints.iter().map(|m| m.to_string()).collect()),
            })
    };
    let frozen = freeze_list(ctx, &[guest::DATA_MOUNT])?;
    ensure!(frozen == 1, "freeze-list froze {frozen}");
    ensure!(
        status(ctx)? == GuestFsfreezeStatus::Frozen,
        "status after freeze-list"
    );
    ensure!(
        ctx.client.guest_fsfreeze_thaw()? == 1,
        "thaw after freeze-list"
    );
    // A mount point that does not exist matches nothing: 0, and the agent stays thawed.
    let frozen = freeze_list(ctx, &["/no/such/mount"])?;
    ensure!(
        frozen == 0,
        "freezing an unknown mount point froze {frozen}"
    );
    ensure!(
        status(ctx)? == GuestFsfreezeStatus::Thawed,
        "status after freezing nothing"
    );
    ctx.client
        .guest_file_open(&GuestFileOpenArgs {
            path: "/etc/hostname".into(),
            mode: None,
        })
        .map(|handle| {
            let _ = ctx
                .client
                .guest_file_close(&qga_types::GuestFileCloseArgs { handle });
        })?;
    // No hook is configured in this suite: none ran.
    let error = command_error(
        "reading the hook log",
        ctx.client.guest_file_open(&GuestFileOpenArgs {
            path: guest::FSFREEZE_HOOK_LOG.into(),
            mode: None,
        }),
    )?;
    ensure!(
        error.desc.ends_with("No such file or directory"),
        "hook log: {error:?}"
    );
    Ok(())
}
