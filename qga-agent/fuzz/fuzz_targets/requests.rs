//! Fuzzes the agent's whole request path (see `qga_agent::fuzzing`): any bytes, read in any
//! pieces, must give replies that are JSON objects, never a panic, a hang or invalid output.
//!
//! Run in `qga-agent/`, seeded from `fuzz/seeds`:
//! `mkdir -p fuzz/corpus/requests && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none requests
//! fuzz/corpus/requests fuzz/seeds` (`-s none`: no AddressSanitizer, about 3 times the
//! executions per second; the code under test is safe Rust apart from a few syscalls).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use qga_agent::fuzzing::{self, Scratch};

/// One scratch directory for the whole run, removed by nobody: libFuzzer exits the process.
fn scratch() -> &'static Scratch {
    static SCRATCH: OnceLock<(tempfile::TempDir, Scratch)> = OnceLock::new();
    let (_, scratch) = SCRATCH.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let scratch = Scratch::new(dir.path()).expect("the scratch directory");
        (dir, scratch)
    });
    scratch
}

fuzz_target!(|data: &[u8]| {
    if let Err(problem) = fuzzing::run(data, scratch()) {
        panic!("{problem}");
    }
});
