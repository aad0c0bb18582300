//! `cargo xtask differential [--count N] [--seed S] [--keep DIR] [--errors] [--only NAME]
//! [--cases DIR]`: `qapi-dump` against QEMU's own Python front end on mutated schemas.
//!
//! Seeds are QEMU 10.0.2's front-end test cases (fetched into `target/qemu-src` when missing,
//! or `--cases DIR`), `schema/qga` and a few modules of `schema/qmp`, copied into a work
//! directory (`target/differential-PID`, or `--keep DIR`). Each mutant (1 to 3 QAPI-aware
//! edits of a seed, [`mutate`]) or made-up schema ([`generate`]) is written next to its
//! seed's copies (so includes resolve); then [`runner`] gives the same relative path to
//! `qapi-dump` and to one long-lived python3 running `xtask/differential/driver.py` (QEMU's
//! `test-qapi.py` visitor). Stdout, stderr and failure must agree; mutants on which QEMU's
//! front end crashes (a Python exception other than `QAPIError`) are counted apart and only
//! checked for a panic of ours. Mutant `i` depends only on the seed and `i`, so any one can
//! be regenerated.

mod generate;
mod mutate;
mod runner;

use anyhow::{bail, Result};
use std::path::PathBuf;

use crate::ci::workspace_root;
use runner::{Tally, RESEEDS};

/// `cargo xtask differential` options.
#[derive(clap::Args, Default)]
pub struct Args {
    /// How many mutants to compare
    #[arg(long, default_value_t = 2000)]
    pub count: u64,
    /// Random seed: mutant i of seed S is always the same schema
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Work in DIR and keep the mismatching inputs there
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Print how often QEMU gave each kind of error (to judge what the mutants reach)
    #[arg(long)]
    pub errors: bool,
    /// Only mutate seeds whose name contains NAME (and no generated schemas)
    #[arg(long, value_name = "NAME")]
    pub only: Option<String>,
    /// QEMU's front-end test cases to seed from; default: QEMU 10.0.2's, fetched when missing
    #[arg(long, value_name = "DIR")]
    pub cases: Option<PathBuf>,
}

/// A seed schema: where its mutants go (a directory of the work tree) and its text.
struct Seed {
    dir: &'static str,
    name: String,
    text: Vec<u8>,
}

pub fn run(opts: &Args) -> Result<()> {
    let root = workspace_root();
    let qemu = crate::reference::ensure()?;
    let cases = match &opts.cases {
        Some(dir) => dir.clone(),
        None => crate::reference::test_cases(),
    };
    let tool = crate::conformance::build_qapi_dump()?;

    let (work, temporary) = match &opts.keep {
        Some(dir) => (dir.clone(), false),
        None => (
            testenv::target_dir().join(format!("differential-{}", std::process::id())),
            true,
        ),
    };
    let result = runner::run_in(opts, &root, &qemu, &tool, &cases, &work);
    if temporary {
        let _ = std::fs::remove_dir_all(&work);
    }
    let Tally {
        compared,
        mismatches,
        accepted,
        generated,
        unstable,
        crashes,
        errors,
    } = result?;
    if opts.errors {
        let mut errors: Vec<(u64, String)> = errors.into_iter().map(|(k, n)| (n, k)).collect();
        errors.sort_by(|a, b| b.cmp(a));
        for (n, kind) in errors {
            println!("{n:6} {kind}");
        }
    }
    for (kind, n) in &crashes {
        println!("QEMU crash x{n}: {kind}");
    }
    let crashed: u64 = crashes.values().sum();
    println!(
        "QEMU accepted {} of {} compared generated schemas and {} of {} other mutants; \
         {crashed} QEMU crashes were not compared",
        accepted[1],
        generated,
        accepted[0],
        compared - generated
    );
    if unstable > 0 {
        println!(
            "{unstable} mutants where QEMU's answer depends on Python's hash seed \
             (compared with all answers of {RESEEDS} more seeds)"
        );
    }
    println!("{compared} compared, {mismatches} mismatches");
    if mismatches > 0 {
        bail!("{mismatches} mismatch(es) with QEMU's front end");
    }
    Ok(())
}

/// splitmix64: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, index: u64) -> Rng {
        let mut rng = Rng(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
