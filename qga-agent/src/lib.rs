//! qga-agent: a Linux guest agent compatible with QEMU's qemu-ga.
pub mod sys;
