//! Linux system layer: what each guest-agent command does to the system.
//!
//! Every operation is a plain function or a method on a small state object and returns
//! `Result<T, SysError>`; the error's `Display` is exactly the `desc` text qemu-ga 10.0.2
//! reports for that failure (class `GenericError`). Filesystem roots and file paths are
//! parameters (with `*_default`/`Default` conveniences) so tests can use fake trees.

pub mod base64;
pub mod blockdev;
pub mod error;
pub mod exec;
pub mod file;
pub mod freeze;
pub mod fsioctl;
pub mod fstrim;
pub mod host;
pub mod memory;
pub mod mount;
pub mod net;
pub mod password;
pub mod process;
pub mod ssh;
pub mod stats;
pub mod suspend;
pub mod time;
pub mod users;
pub mod vcpu;

pub use error::{strerror, SysError};
