//! What the test VM looks like from inside: the facts the initramfs sets up and the checks
//! expect back from the agent. One place, so setup and expectations cannot drift apart.

/// Host name set by /init from /etc/hostname.
pub const HOSTNAME: &str = "qga-test-vm";

/// Name of the virtio-serial port the agent talks on (`/dev/virtio-ports/<name>`).
pub const AGENT_PORT: &str = "org.qemu.guest_agent.0";

/// The agent's state directory (`-t`); /var/run is a symlink to /run.
pub const STATE_DIR: &str = "/var/run";
/// The agent's marker of frozen filesystems in [`STATE_DIR`]; /init reports on the console
/// when it appears (`<path> present`) and disappears (`<path> absent`).
pub const FROZEN_MARKER: &str = "/var/run/qga.state.isfrozen";

/// Where the ext4 data disk is mounted, and its device in the guest.
pub const DATA_MOUNT: &str = "/mnt/data";
pub const DATA_DEVICE: &str = "/dev/vda";
/// `name` the agent reports for the data disk (basename of its sysfs device).
pub const DATA_DEVICE_NAME: &str = "vda";
/// Size of the data disk image.
pub const DATA_DISK_MIB: u64 = 64;
/// The data disk's PCI slot on the root bus (`virtio-blk-pci,addr=...`).
pub const DATA_DISK_PCI_SLOT: i64 = 5;

/// The fsfreeze hook script, at qemu-ga's default path (used with a bare `-F`).
pub const FSFREEZE_HOOK: &str = "etc/qemu/fsfreeze-hook";
/// Where the hook appends each argument it is called with.
pub const FSFREEZE_HOOK_LOG: &str = "/run/fsfreeze-hook.log";
/// While this file exists the hook fails, with the exit status written in it.
pub const FSFREEZE_HOOK_FAIL: &str = "/run/fsfreeze-hook.fail";

/// Files placed on the data disk by `mkfs.ext4 -d` (paths relative to [`DATA_MOUNT`]).
pub const DATA_FILES: &[(&str, &[u8])] = &[
    ("hello.txt", b"Hello from the qga test data disk.\n"),
    (
        "nested/binary.bin",
        &[0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, b'\n', 0],
    ),
];

/// Modules /init loads (their dependencies are added in order). crc32c_generic provides the
/// crc32c that ext4 checksums need; ext4 asks for it only through a soft dependency.
pub const MODULES: &[&str] = &[
    "virtio_pci",
    "virtio_console",
    "virtio_blk",
    "crc32c_generic",
    "ext4",
];

/// /etc/os-release of the guest; quoting and escapes exercise the agent's parser.
pub const OS_RELEASE: &str = r#"# os-release of the qga test VM
NAME="QGA Test Linux"
ID=qgatest
PRETTY_NAME="QGA Test Linux 1 (\"initramfs\")"
VERSION="1 (initramfs)"
VERSION_ID=1
VARIANT='Agent test VM'
VARIANT_ID=agent-vm
"#;

/// utmp record types (`ut_type`).
pub const LOGIN_PROCESS: i16 = 6;
pub const USER_PROCESS: i16 = 7;
pub const DEAD_PROCESS: i16 = 8;

/// The guest's /var/run/utmp, as (type, line, user, seconds, microseconds); nobody really
/// logs in to the test VM, so the host writes the records.
pub const UTMP: &[(i16, &str, &str, i32, i32)] = &[
    (USER_PROCESS, "tty1", "root", 1_700_000_000, 500_000),
    (LOGIN_PROCESS, "tty2", "LOGIN", 1_700_000_010, 0),
    (USER_PROCESS, "pts/0", "alice", 1_700_000_100, 250_000),
    (USER_PROCESS, "pts/1", "root", 1_699_999_000, 0),
    (DEAD_PROCESS, "pts/2", "bob", 1_700_000_200, 0),
];

/// What guest-get-users reports from [`UTMP`]: each user of a `USER_PROCESS` record once,
/// with the earliest login time.
pub const USERS: &[(&str, f64)] = &[("root", 1_699_999_000.0), ("alice", 1_700_000_100.25)];

/// /etc/shadow: root starts without a password; /usr/sbin/chpasswd (a script) changes it.
pub const SHADOW: &str = "root:*:19000:0:99999:7:::\n";

/// Other small files of the guest's /etc.
pub const ETC_FILES: &[(&str, &str)] = &[
    ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
    ("etc/group", "root:x:0:\n"),
    // The RTC keeps UTC; busybox hwclock reads this when given neither -u nor -l.
    ("etc/adjtime", "0.0 0 0.0\n0\nUTC\n"),
];
