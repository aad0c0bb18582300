//! Linux system layer: what each guest-agent command does to the system.
//!
//! Every operation is a plain function or a method on a small state object and returns
//! `Result<T, SysError>`; the error's `Display` is exactly the `desc` text qemu-ga 10.0.2
//! reports for that failure (class `GenericError`). Filesystem roots and file paths are
//! parameters (with `Default`s or `*_in`/`*_from`/`*_with` variants) so tests can use fake
//! trees. Results are the generated `qga_types` types wherever they are what goes on the wire
//! (file reads carry raw bytes as `Base64Bytes`, encoded while the reply is written); exec
//! output is raw `Vec<u8>` that the protocol layer base64-encodes.
//!
//! | commands | module |
//! |---|---|
//! | guest-file-* | [`file::FileTable`] |
//! | guest-get-time, guest-set-time | [`time`] |
//! | guest-get-host-name, -timezone, -load, -osinfo, guest-shutdown | [`host`] |
//! | guest-fsfreeze-freeze(-list), -thaw | [`freeze::FsFreeze`] (+ [`mount`], [`fsioctl`]) |
//! | guest-fstrim | [`fstrim`] |
//! | guest-network-get-interfaces, guest-network-get-route | [`net`] |
//! | guest-get-vcpus, guest-set-vcpus | [`vcpu`] |
//! | guest-get/set-memory-blocks, guest-get-memory-block-info | [`memory`] |
//! | guest-get-users | [`users`] |
//! | guest-get-diskstats, guest-get-cpustats | [`stats`] |
//! | guest-ssh-*-authorized-keys | [`ssh`] (users looked up by [`passwd`]) |
//! | guest-set-user-password | [`password`] |
//! | guest-suspend-disk, -ram, -hybrid | [`suspend`] |
//! | guest-get-fsinfo, guest-get-disks | [`blockdev`] |
//! | guest-exec, guest-exec-status | [`exec::ExecTable`] |
//!
//! Helper programs run through [`process`]; base64 input is decoded by [`base64`].

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
pub mod passwd;
pub mod password;
pub mod process;
pub mod ssh;
pub mod stats;
pub mod suspend;
pub mod time;
pub mod users;
pub mod vcpu;

pub use error::{strerror, SysError};
