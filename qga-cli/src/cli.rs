//! The command line: global options (where the agent is, output format, timeout) and one
//! subcommand per task.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Talk to QEMU guest agents (qemu-ga or any agent speaking its protocol) from the host.
#[derive(Debug, Parser)]
#[command(name = "qga", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Cmd,
}

/// Options accepted before or after the subcommand.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The host side of a VM's agent channel (a unix socket); may repeat for several agents
    #[arg(short, long = "socket", value_name = "PATH", global = true)]
    pub sockets: Vec<PathBuf>,
    /// An agent listening on vsock
    #[arg(long, value_name = "CID:PORT", global = true)]
    pub vsock: Option<String>,
    /// libvirt connection URI (e.g. qemu:///system, qemu+ssh://host/system)
    #[arg(short = 'c', long = "connect", value_name = "URI", global = true)]
    pub uri: Option<String>,
    /// A libvirt domain; may repeat
    #[arg(short, long = "domain", value_name = "NAME", global = true)]
    pub domains: Vec<String>,
    /// Every running domain of the libvirt connection
    #[arg(long, global = true)]
    pub all: bool,
    /// At most this many agents at once (with several targets)
    #[arg(long, value_name = "N", default_value_t = 8, global = true)]
    pub jobs: usize,
    /// Machine-readable output: the agent's JSON (one line per target with several)
    #[arg(long, global = true)]
    pub json: bool,
    /// Seconds allowed for connecting and the handshake together, and for each reply
    /// (default 10); for `exec` the wait for the process
    #[arg(long, value_name = "SECS", global = true)]
    pub timeout: Option<f64>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Cmd {
    /// Check that the agent answers
    Ping,
    /// Agent version and its commands with their enabled flags
    Info,
    /// Operating system of the guest
    Os,
    /// Show the guest's clock, or set it
    Time {
        #[command(subcommand)]
        action: Option<TimeAction>,
    },
    /// Host name of the guest
    Hostname,
    /// Time zone of the guest
    Timezone,
    /// Users logged in to the guest
    Users,
    /// Load averages of the guest
    Load,
    /// Network interfaces and addresses
    Interfaces,
    /// Routing table
    Routes,
    /// Mounted filesystems
    Fsinfo,
    /// Disks and partitions
    Disks,
    /// Virtual CPUs, or bring some on or off line
    Vcpus {
        #[command(subcommand)]
        action: Option<VcpuAction>,
    },
    /// Memory blocks and their state
    MemoryBlocks,
    /// CPU and disk statistics
    Stats,
    /// Run a program in the guest, print its output, exit with its status
    Exec(ExecArgs),
    /// Print a guest file
    Cat {
        /// Path in the guest
        remote: String,
    },
    /// Copy a guest file to the host
    Get {
        /// Path in the guest
        remote: String,
        /// Path on the host
        local: PathBuf,
    },
    /// Copy a host file into the guest
    Put {
        /// Path on the host
        local: PathBuf,
        /// Path in the guest
        remote: String,
    },
    /// Freeze guest filesystems; with --hold or a command, thaw again afterwards
    Freeze(FreezeArgs),
    /// Thaw frozen guest filesystems
    Thaw,
    /// Whether the guest filesystems are frozen
    FsfreezeStatus,
    /// Discard unused blocks on the guest filesystems
    Fstrim {
        /// Minimum contiguous free range to discard, in bytes
        #[arg(long)]
        minimum: Option<i64>,
    },
    /// Power the guest down (default), or reboot or halt it
    Shutdown {
        #[arg(long, conflicts_with = "halt")]
        reboot: bool,
        #[arg(long)]
        halt: bool,
    },
    /// Suspend the guest
    Suspend {
        #[arg(value_enum)]
        mode: SuspendMode,
    },
    /// List, add or remove a guest user's authorized SSH keys
    SshKeys {
        #[command(subcommand)]
        action: SshAction,
    },
    /// Set a guest user's password (read from a terminal prompt or standard input)
    Password {
        user: String,
        /// The input is already crypted (as in /etc/shadow)
        #[arg(long)]
        crypted: bool,
    },
    /// Run any command of the schema; arguments are checked locally before sending
    Call {
        /// Command name, e.g. guest-get-time
        command: String,
        /// Arguments as a JSON object
        arguments: Option<String>,
    },
    /// Write shell completions (bash, zsh, fish) and the man page qga.1 into DIR
    #[command(hide = true)]
    GenerateAssets { dir: PathBuf },
}

#[derive(Debug, Clone, Subcommand)]
pub enum TimeAction {
    /// Set the guest clock to NANOS since the epoch, or from its hardware clock without it
    Set { nanos: Option<i64> },
    /// Set the guest clock to the host's
    Sync,
}

#[derive(Debug, Clone, Subcommand)]
pub enum VcpuAction {
    /// Bring the listed vCPUs (e.g. 1,3-5) on line
    On { list: String },
    /// Take the listed vCPUs off line
    Off { list: String },
}

#[derive(Debug, Clone, Subcommand)]
pub enum SshAction {
    /// The user's authorized keys
    List { user: String },
    /// Add keys (arguments, or one per line on standard input)
    Add {
        user: String,
        keys: Vec<String>,
        /// Replace the existing keys
        #[arg(long)]
        reset: bool,
    },
    /// Remove keys (arguments, or one per line on standard input)
    Remove { user: String, keys: Vec<String> },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SuspendMode {
    Disk,
    Ram,
    Hybrid,
}

#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    /// Set an environment variable for the program
    #[arg(short, long = "env", value_name = "VAR=VAL")]
    pub env: Vec<String>,
    /// Send the local standard input to the program
    #[arg(long)]
    pub stdin: bool,
    /// The program and its arguments
    #[arg(required = true, last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct FreezeArgs {
    /// Freeze only this mountpoint; may repeat
    #[arg(long = "mountpoint", value_name = "M")]
    pub mountpoints: Vec<String>,
    /// Thaw after SECS (or on Ctrl-C); with a command, the longest it may run (default 10).
    /// Not `--timeout`, which is the global request timeout
    #[arg(long, value_name = "SECS")]
    pub hold: Option<f64>,
    /// A local command to run while frozen (e.g. taking a snapshot); thawed when it ends
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}
