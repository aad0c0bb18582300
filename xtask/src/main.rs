//! Project automation, run as `cargo xtask <task>` (see the cargo-xtask convention).
//!
//! Tasks:
//! - `ci`: everything CI checks; the one test command of the README.

mod ci;

use anyhow::{bail, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        bail!("usage: cargo xtask <ci> [ARGS...]");
    };
    match task.as_str() {
        "ci" => ci::run(rest),
        other => bail!("unknown task '{other}'"),
    }
}
