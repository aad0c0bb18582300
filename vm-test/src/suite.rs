//! Test suites: one VM boot each, with its own agent options and VM configuration, and the
//! checks that run in it (in order; each suite ends by shutting the guest down).

use super::checks::{autothaw, cli, files, hook, power, session, storage, system, CheckFn};

/// One boot of the test VM.
pub struct Suite {
    pub name: &'static str,
    /// Agent options after the standard virtio-serial ones.
    pub agent_args: &'static [&'static str],
    /// Boot the bzImage: with the PVH entry of the plain vmlinux, a wake-up from S3 resets
    /// the VM instead of resuming it.
    pub compressed_kernel: bool,
    /// Attach a QMP monitor (wake-up, memory hot-plug).
    pub qmp: bool,
    /// Free DIMM slots for memory hot-plug.
    pub memory_slots: u32,
    /// Appended to the kernel command line.
    pub kernel_args: &'static str,
    /// Tests a qga-agent extension: not run against qemu-ga.
    pub extension: bool,
    pub checks: &'static [(&'static str, CheckFn)],
}

/// The agent as qemu-ga runs by default: every command, no hook. Ends with a power-off.
pub const MAIN: Suite = Suite {
    name: "main",
    agent_args: &[],
    compressed_kernel: false,
    qmp: false,
    memory_slots: 0,
    kernel_args: "",
    extension: false,
    checks: &[
        ("guest-sync, guest-sync-delimited", session::sync),
        ("guest-ping", session::ping),
        ("guest-info", session::info),
        ("protocol errors", session::protocol_errors),
        ("wire framing (raw bytes)", session::wire_framing),
        ("reconnect after hang-up", session::reconnect),
        ("guest-get-host-name", system::host_name),
        ("guest-get-osinfo", system::osinfo),
        ("guest-get-time", system::get_time),
        ("guest-get-timezone", system::timezone),
        ("guest-get-load", system::load),
        ("guest-get-users", system::users),
        ("guest-get-vcpus, guest-set-vcpus", system::vcpus),
        ("guest-get-cpustats", system::cpustats),
        ("guest-*-memory-block*", system::memory_blocks),
        ("guest-network-get-interfaces", system::network),
        ("guest-network-get-route", system::routes),
        ("guest-file-* read", files::file_read),
        ("guest-file-* write/seek/flush", files::file_write),
        ("guest-file-* 1 MiB round trip", files::file_large),
        ("guest-exec, guest-exec-status", files::exec),
        ("guest-set-time", system::set_time),
        ("guest-ssh-*-authorized-keys", files::ssh_keys),
        ("guest-set-user-password", files::user_password),
        ("guest-get-fsinfo", storage::fsinfo),
        ("guest-get-disks", storage::disks),
        ("guest-get-diskstats", storage::diskstats),
        ("guest-fstrim", storage::fstrim),
        ("guest-fsfreeze-*", storage::fsfreeze),
        ("guest-shutdown bad mode", power::shutdown_bad_mode),
        ("guest-shutdown powerdown", power::shutdown_powerdown),
    ],
};

/// The agent with the fsfreeze hook (`-F`: the default path), a QMP monitor for S3 wake-up
/// and memory hot-plug. Ends with a reboot, which -no-reboot turns into QEMU exiting.
pub const HOOK_AND_POWER: Suite = Suite {
    name: "hook+power",
    agent_args: &["-F"],
    compressed_kernel: true,
    qmp: true,
    memory_slots: 1,
    // Memory onlined with a plain "online" (what qemu-ga writes) goes to ZONE_MOVABLE, so
    // taking it offline again cannot fail on unmovable kernel allocations.
    kernel_args: "memory_hotplug.online_policy=auto-movable",
    extension: false,
    checks: &[
        ("guest-fsfreeze-* with hook", hook::hook_freeze_thaw),
        ("guest-fsfreeze-* failing hook", hook::hook_failures),
        (
            "memory hot-plug, guest-set-memory-blocks",
            power::memory_hotplug,
        ),
        ("guest-suspend-*", power::suspend),
        ("guest-shutdown reboot", power::shutdown_reboot),
    ],
};

/// The host command line `qga` (qga-cli) on the agent's port: the subcommands that change
/// the machine, a QMP monitor for the wake-up after `qga suspend ram`. Ends with `qga shutdown`.
pub const CLI: Suite = Suite {
    name: "cli",
    agent_args: &[],
    // S3 wake-up resumes only with the bzImage (see compressed_kernel).
    compressed_kernel: true,
    // For `qga suspend ram`: the run state and the wake-up.
    qmp: true,
    memory_slots: 0,
    kernel_args: "",
    extension: false,
    checks: &[
        ("qga queries", cli::queries),
        ("qga time set/sync", cli::time),
        ("qga vcpus on/off", cli::vcpus),
        ("qga freeze/thaw, hold, command, Ctrl-C", cli::freeze),
        ("qga fstrim", cli::fstrim),
        ("qga suspend ram, QMP wake-up", cli::suspend),
        ("qga password, ssh-keys", cli::password_and_keys),
        ("qga put/get, exec", cli::files_and_exec),
        ("qga shutdown", cli::shutdown),
    ],
};

/// qga-agent's `--freeze-timeout` with the hook: filesystems frozen by a host that then
/// leaves are thawed by the agent. Ends with a power-off.
pub const AUTOTHAW: Suite = Suite {
    name: "autothaw",
    agent_args: &["-F", "--freeze-timeout=10"],
    compressed_kernel: false,
    qmp: false,
    memory_slots: 0,
    kernel_args: "",
    extension: true,
    checks: &[
        (
            "--freeze-timeout thaws without a host",
            autothaw::thaw_after_host_left,
        ),
        ("guest-shutdown powerdown", power::shutdown_powerdown),
    ],
};

pub const SUITES: &[&Suite] = &[&MAIN, &HOOK_AND_POWER, &CLI, &AUTOTHAW];
