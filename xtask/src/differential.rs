//! `cargo xtask differential [--count N] [--seed S] [--keep DIR] [--errors] [--only NAME]`: `qapi-dump` against QEMU's
//! own Python front end on mutated schemas.
//!
//! Seeds are QEMU's front-end test cases, the qga schema and a few QMP modules. Each mutant
//! (1 to 3 QAPI-aware edits of a seed, see `mutate`) is written next to its seed's copies in a
//! work directory (so includes resolve), then `qapi-dump` and one long-lived python3 running
//! `xtask/differential/driver.py` (QEMU's `test-qapi.py` visitor) are given the same relative
//! path. Stdout, stderr and failure must agree; mutants on which QEMU's front end crashes (a
//! Python exception other than `QAPIError`) are counted apart and only checked for a panic of
//! ours. Mutant `i` depends only on the seed and `i`, so any one can be regenerated.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use crate::ci::workspace_root;

/// QMP modules used as seeds (small to mid-sized; each pulls in a few others).
const QMP_SEEDS: &[&str] = &[
    "sockets.json",
    "job.json",
    "run-state.json",
    "control.json",
    "introspect.json",
    "common.json",
    "char.json",
    "pci.json",
    "qdev.json",
    "crypto.json",
    "machine-common.json",
    "replay.json",
    "authz.json",
    "yank.json",
    "acpi.json",
    "tpm.json",
];

/// How long one side may take on one mutant before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(20);

struct Options {
    count: u64,
    seed: u64,
    keep: Option<PathBuf>,
    /// Print how often QEMU gave each kind of error (to judge what the mutants reach).
    errors: bool,
    /// Only seeds whose name contains this (and no generated schemas).
    only: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut opts = Options {
        count: 2000,
        seed: 1,
        keep: None,
        errors: false,
        only: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{arg} needs a value"))
                .cloned()
        };
        match arg.as_str() {
            "--count" => opts.count = value()?.parse().context("--count")?,
            "--seed" => opts.seed = value()?.parse().context("--seed")?,
            "--keep" => opts.keep = Some(PathBuf::from(value()?)),
            "--errors" => opts.errors = true,
            "--only" => opts.only = Some(value()?),
            other => bail!(
                "unknown argument {other:?} (usage: differential [--count N] [--seed S] [--keep DIR] [--errors] [--only NAME])"
            ),
        }
    }
    Ok(opts)
}

/// A seed schema: where its mutants go (a directory of the work tree) and its text.
struct Seed {
    dir: &'static str,
    name: String,
    text: Vec<u8>,
}

pub fn run(args: &[String]) -> Result<()> {
    let opts = parse_args(args)?;
    let root = workspace_root();
    let qemu = crate::reference::scripts_dir()
        .parent()
        .map(Path::to_path_buf)
        .context("QEMU source directory")?;
    if !crate::reference::test_harness().is_file() {
        bail!("QEMU's front end is missing; run `cargo xtask qemu-scripts` first");
    }
    let tool = crate::conformance::build_qapi_dump()?;

    let (work, temporary) = match &opts.keep {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("qapi-differential-{}", std::process::id())),
            true,
        ),
    };
    let result = run_in(&opts, &root, &qemu, &tool, &work);
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

/// What a run found.
#[derive(Default)]
struct Tally {
    compared: u64,
    mismatches: u64,
    /// Compared mutants QEMU's front end accepted: of seeds, of generated schemas.
    accepted: [u64; 2],
    /// Compared mutants that are generated schemas.
    generated: u64,
    /// Mutants on which QEMU's answer depends on Python's hash seed.
    unstable: u64,
    /// QEMU crashes by exception and place.
    crashes: std::collections::BTreeMap<String, u64>,
    /// QEMU's errors by kind (last line, without place and quoted names).
    errors: std::collections::BTreeMap<String, u64>,
}

/// Sets up the work tree and runs all mutants.
fn run_in(opts: &Options, root: &Path, qemu: &Path, tool: &Path, work: &Path) -> Result<Tally> {
    let shared = root.join("../shared");
    copy_dir(&shared.join("qapi-tests/cases"), &work.join("cases"))?;
    copy_dir(&shared.join("schemas/qmp-10.0"), &work.join("qmp"))?;
    std::fs::create_dir_all(work.join("qga"))?;
    std::fs::copy(
        root.join("schema/qga/qapi-schema.json"),
        work.join("qga/qapi-schema.json"),
    )?;
    let mut seeds = load_seeds(work)?;
    if let Some(only) = &opts.only {
        seeds.retain(|s| s.name.contains(only.as_str()));
        if seeds.is_empty() {
            bail!("no seed's name contains {only:?}");
        }
    }
    let pool = Pool::new(&seeds);

    // Python's string hashing is salted per process, and QEMU's front end iterates a set in
    // a few places (which of several clashes it reports). The main reference runs with a fixed
    // seed; on a mismatch, references with other seeds are asked too (started on first need).
    let mut python = Python::start(qemu, work, root, 0)?;
    let mut others: Vec<Python> = Vec::new();
    let mut tally = Tally::default();
    let started = Instant::now();
    for i in 0..opts.count {
        let mut rng = Rng::new(opts.seed, i);
        // A third are generated schemas (dense in definitions that refer to each other),
        // mutated or not; the rest are mutants of a seed.
        let (text, rel, origin) = if rng.below(3) == 0 && opts.only.is_none() {
            let mut text = generate(&mut rng);
            if rng.below(2) == 0 {
                text = mutate(&text, &mut rng, &pool);
            }
            (text, format!("cases/g{i:06}.json"), "generated")
        } else {
            let seed = &seeds[rng.below(seeds.len())];
            let text = mutate(&seed.text, &mut rng, &pool);
            let rel = format!("{}/m{i:06}-{}", seed.dir, seed.name);
            (text, rel, seed.name.as_str())
        };
        let path = work.join(&rel);
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;

        let ours = Ours::start(tool, work, &rel)?;
        let theirs = python.ask(&rel)?;
        let (out, err, status) = ours.finish()?;
        // A panic, or death by a signal (a stack overflow aborts) or by the timeout.
        let panicked = status.is_none() || status == Some(101) || err.contains("panicked at");
        let mut report = String::new();
        if let Some(crash) = &theirs.crash {
            // Grouped by exception type and place, not by message (which names the input).
            let kind = match (crash.split_once(':'), crash.rfind(" (")) {
                (Some((ty, _)), Some(at)) => format!("{ty}{}", &crash[at..]),
                _ => crash.clone(),
            };
            *tally.crashes.entry(kind).or_default() += 1;
            if panicked {
                report.push_str(&format!(
                    "QEMU crashed ({crash}) and qapi-dump died (status {status:?}):\n{err}"
                ));
            }
        } else {
            tally.compared += 1;
            let is_generated = usize::from(origin == "generated");
            tally.accepted[is_generated] += u64::from(!theirs.failed);
            tally.generated += is_generated as u64;
            if theirs.failed {
                *tally.errors.entry(error_kind(&theirs.err)).or_default() += 1;
            }
            if status.is_none() {
                report.push_str("qapi-dump timed out\n");
            }
            report.push_str(&compare(&theirs, &out, &err, status));
            if !report.is_empty() && status.is_some() {
                if others.is_empty() {
                    for hash_seed in 1..=RESEEDS {
                        others.push(Python::start(qemu, work, root, hash_seed)?);
                    }
                }
                let mut answers = vec![theirs];
                for other in &mut others {
                    answers.push(other.ask(&rel)?);
                }
                let differ = answers
                    .iter()
                    .any(|a| a.err != answers[0].err || a.out != answers[0].out);
                if differ {
                    tally.unstable += 1;
                    if answers
                        .iter()
                        .any(|a| compare(a, &out, &err, status).is_empty())
                    {
                        report.clear();
                    } else {
                        report.push_str("(QEMU's answer depends on the hash seed; none matched)\n");
                    }
                }
            }
        }
        if report.is_empty() {
            let _ = std::fs::remove_file(&path);
        } else {
            tally.mismatches += 1;
            println!("MISMATCH {} ({origin})\n{report}", path.display());
        }
        if (i + 1) % 2000 == 0 {
            eprintln!(
                "differential: {} mutants in {:.0?}, {} mismatches",
                i + 1,
                started.elapsed(),
                tally.mismatches
            );
        }
    }
    Ok(tally)
}

fn load_seeds(work: &Path) -> Result<Vec<Seed>> {
    let mut seeds = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(work.join("cases"))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    for name in names {
        let text = std::fs::read(work.join("cases").join(&name))?;
        seeds.push(Seed {
            dir: "cases",
            name,
            text,
        });
    }
    seeds.push(Seed {
        dir: "qga",
        name: "qapi-schema.json".into(),
        text: std::fs::read(work.join("qga/qapi-schema.json"))?,
    });
    for name in QMP_SEEDS {
        // QMP modules rely on the pragmas of the main file, so the seed includes them first.
        let mut text = b"{ 'include': 'pragma.json' }\n".to_vec();
        text.extend(std::fs::read(work.join("qmp").join(name))?);
        seeds.push(Seed {
            dir: "qmp",
            name: name.to_string(),
            text,
        });
    }
    Ok(seeds)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// One run of `qapi-dump`, output going to files (a dump may not fit a pipe's buffer).
struct Ours {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Ours {
    fn start(tool: &Path, work: &Path, rel: &str) -> Result<Ours> {
        let (out, err) = (work.join(".ours.out"), work.join(".ours.err"));
        let child = Command::new(tool)
            .arg(rel)
            .current_dir(work)
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out)?)
            .stderr(std::fs::File::create(&err)?)
            .spawn()
            .with_context(|| format!("running {}", tool.display()))?;
        Ok(Ours { child, out, err })
    }

    /// Stdout, stderr and the exit code (`None` when killed after `TIMEOUT`).
    fn finish(mut self) -> Result<(String, String, Option<i32>)> {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status.code();
            }
            if started.elapsed() > TIMEOUT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let read = |p: &Path| -> Result<String> {
            Ok(String::from_utf8_lossy(&std::fs::read(p)?).into_owned())
        };
        Ok((read(&self.out)?, read(&self.err)?, status))
    }
}

/// QEMU's verdict on one schema.
struct Verdict {
    out: String,
    err: String,
    failed: bool,
    crash: Option<String>,
}

/// The long-lived python3 running the driver; answers arrive through a reader thread so
/// a hung front end shows as a timeout, not a hung tool.
struct Python {
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<String>,
}

impl Python {
    fn start(qemu: &Path, work: &Path, root: &Path, hash_seed: u32) -> Result<Python> {
        let driver = root.join("xtask/differential/driver.py");
        let mut child = Command::new("python3")
            .arg(&driver)
            .arg(qemu)
            .current_dir(work)
            .env("PYTHONHASHSEED", hash_seed.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting python3 (QEMU's front end needs it)")?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            bail!("python3 without pipes");
        };
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Python {
            child,
            stdin,
            answers,
        })
    }

    fn ask(&mut self, rel: &str) -> Result<Verdict> {
        writeln!(self.stdin, "{rel}").context("writing to the python driver")?;
        self.stdin.flush()?;
        let line = self
            .answers
            .recv_timeout(TIMEOUT)
            .with_context(|| format!("the python driver gave no answer for {rel}"))?;
        let v: serde_json::Value = serde_json::from_str(&line).context("driver answer")?;
        let text = |key: &str| v[key].as_str().unwrap_or_default().to_string();
        Ok(Verdict {
            out: text("out"),
            err: text("err"),
            failed: v["failed"].as_bool().unwrap_or(false),
            crash: v["crash"].as_str().map(str::to_string),
        })
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many other hash seeds are tried when QEMU and we disagree.
const RESEEDS: u32 = 8;

/// Where QEMU's verdict and ours differ (empty when they agree).
fn compare(theirs: &Verdict, out: &str, err: &str, status: Option<i32>) -> String {
    let mut report = String::new();
    if out != theirs.out {
        report.push_str(&short_diff("stdout", &theirs.out, out));
    }
    if err != theirs.err {
        report.push_str(&short_diff("stderr", &theirs.err, err));
    }
    if (status != Some(0)) != theirs.failed {
        report.push_str(&format!(
            "exit status {status:?}, QEMU {}\n",
            if theirs.failed { "failed" } else { "passed" }
        ));
    }
    report
}

/// An error's last line without its `file:line[:col]:` and with quoted names as `'_'`.
fn error_kind(err: &str) -> String {
    let last = err.lines().last().unwrap_or_default();
    let mut text = last.split_once(": ").map_or(last, |(_, rest)| rest);
    if let Some((place, rest)) = last.split_once(": ") {
        // The place is `file:line` or `file:line:col`; keep lines that have none.
        if !place.ends_with(|c: char| c.is_ascii_digit()) {
            text = last;
        } else {
            text = rest;
        }
    }
    let mut out = String::new();
    for (i, part) in text.split('\'').enumerate() {
        out.push_str(if i % 2 == 1 { "'_'" } else { part });
    }
    out
}

/// The first differing line with two lines of context, `-` QEMU, `+` ours.
fn short_diff(label: &str, want: &str, got: &str) -> String {
    let a: Vec<&str> = want.lines().collect();
    let b: Vec<&str> = got.lines().collect();
    let first = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let mut out = format!(
        "--- {label} (QEMU) / +++ {label} (qapi-dump), line {}\n",
        first + 1
    );
    for line in &a[first.saturating_sub(2)..first] {
        out.push_str(&format!(" {line}\n"));
    }
    for line in a.iter().skip(first).take(3) {
        out.push_str(&format!("-{line}\n"));
    }
    for line in b.iter().skip(first).take(3) {
        out.push_str(&format!("+{line}\n"));
    }
    if a.len() == b.len() && first == a.len() {
        out.push_str("(final newline differs)\n");
    }
    out
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

/// Strings seen in the seeds, plus hand-picked ones that sit on naming-rule edges.
struct Pool {
    strings: Vec<String>,
    /// Top-level expressions of the seeds with the comments before them.
    exprs: Vec<Vec<u8>>,
}

const EDGE_STRINGS: &[&str] = &[
    "",
    " ",
    "int",
    "str",
    "any",
    "null",
    "number",
    "bool",
    "size",
    "uint8",
    "int64",
    "QType",
    "q_empty",
    "q_obj_foo-arg",
    "q_foo",
    "q_Foo",
    "__org.qemu_x-foo",
    "__org.qemu_x-Foo",
    "__org.qemu_x_foo",
    "__org.qemu.x-foo",
    "_foo",
    "Foo",
    "foo",
    "FOO",
    "Foo_Bar",
    "foo_bar",
    "foo-bar",
    "Foo-Bar",
    "FooList",
    "fooList",
    "FooKind",
    "x-foo",
    "x-Foo",
    "*foo",
    "*Foo",
    "**foo",
    "*",
    "a",
    "A",
    "1a",
    "a.b",
    "a b",
    "a$b",
    "UPPER_CASE",
    "Upper-Case",
    "has-foo",
    "has_foo",
    "u",
    "max",
    "MAX",
    "deprecated",
    "unstable",
    "feat",
    "CONFIG_FOO",
    "defined(CONFIG_FOO)",
    "IFONE",
    "discriminator",
    "type",
    "kind",
    "data",
    "base",
    "if",
    "features",
    "name",
    "é",
    "tab\there",
    "back\\\\slash",
    "quote\\'s",
];

/// QAPI keys of definitions, members and pragmas.
const KEYS: &[&str] = &[
    "enum",
    "struct",
    "union",
    "alternate",
    "command",
    "event",
    "include",
    "pragma",
    "data",
    "base",
    "discriminator",
    "prefix",
    "if",
    "features",
    "returns",
    "boxed",
    "gen",
    "success-response",
    "allow-oob",
    "allow-preconfig",
    "coroutine",
    "type",
    "name",
    "doc-required",
    "command-name-exceptions",
    "command-returns-exceptions",
    "documentation-exceptions",
    "member-name-exceptions",
    "all",
    "any",
    "not",
    "bogus",
];

/// Values of every JSON type, some valid somewhere, some nowhere.
const VALUES: &[&str] = &[
    "'str'",
    "'int'",
    "'x'",
    "'Foo'",
    "['int']",
    "[ 'str' ]",
    "[]",
    "[ 'a', 'b' ]",
    "{}",
    "{ 'a': 'int' }",
    "{ '*a': 'str', 'b': 'bool' }",
    "{ 'type': 'str' }",
    "{ 'type': 'int', 'if': 'X' }",
    "{ 'type': ['int'] }",
    "true",
    "false",
    "null",
    "1",
    "True",
    "[ {} ]",
    "[ 'int', 'str' ]",
];

const IF_VALUES: &[&str] = &[
    "'CONFIG_FOO'",
    "'defined(X)'",
    "'A B'",
    "''",
    "' '",
    "'bad-name'",
    "{ 'all': [ 'A', 'B' ] }",
    "{ 'any': [ 'A', { 'not': 'B' } ] }",
    "{ 'not': 'A' }",
    "{ 'not': { 'all': [ 'A' ] } }",
    "{ 'all': [] }",
    "{ 'any': [] }",
    "{ 'all': 'A' }",
    "{ 'foo': 'A' }",
    "{}",
    "{ 'not': 'A', 'all': [ 'B' ] }",
    "[ 'A' ]",
    "[]",
    "true",
    "{ 'not': [] }",
    "{ 'all': [ '' ] }",
    "{ 'any': [ 'A', 'A' ] }",
];

const FEATURE_VALUES: &[&str] = &[
    "[ 'feat' ]",
    "[ 'deprecated' ]",
    "[ 'unstable' ]",
    "[ 'deprecated', 'unstable' ]",
    "[ { 'name': 'feat', 'if': 'X' } ]",
    "[ { 'name': 'feat', 'if': { 'not': 'X' } } ]",
    "[ 'feat', 'feat' ]",
    "[ 'Feat' ]",
    "[ 'q_feat' ]",
    "[ 'x-feat' ]",
    "[ 'feat_b' ]",
    "[ '__org.qemu_x-feat' ]",
    "'feat'",
    "[]",
    "[ { 'name': 'feat', 'foo': 'x' } ]",
    "[ {} ]",
    "[ { 'if': 'X' } ]",
    "[ [ 'feat' ] ]",
    "[ 'feat', 'deprecated' ]",
];

const DOC_LINES: &[&str] = &[
    "#",
    "##",
    "# Returns: something",
    "# Returns:",
    "# Returns: @Foo",
    "# Since: 9.0",
    "# Since:",
    "# Since 9.0",
    "# Errors:",
    "# Errors: - if bad",
    "# Errors:\n#     - if bad",
    "# TODO: fix",
    "# TODO:",
    "# Todo: x",
    "# Note: x",
    "# Notes: x",
    "# .. note:: x",
    "# Example:",
    "# .. qmp-example::",
    "# Features:",
    "# Features: x",
    "# @deprecated: gone",
    "# @unstable: maybe",
    "# @feat: text",
    "# @feat:",
    "# @member: text",
    "# @a: text",
    "# @b: text",
    "# @foo: text",
    "# @:",
    "# @",
    "# @Foo:",
    "# @foo-bar:",
    "#  indented",
    "#     indented more",
    "#\ttab",
    "#Returns: x",
    "# = Heading",
    "# == Sub heading",
    "# =",
    "#     Returns: x",
    "#   Since: 1",
    "# text @ref and *emph*",
    "# text",
];

impl Pool {
    fn new(seeds: &[Seed]) -> Pool {
        let mut strings: Vec<String> = EDGE_STRINGS.iter().map(|s| s.to_string()).collect();
        let mut seen = std::collections::HashSet::new();
        let mut exprs = Vec::new();
        for seed in seeds {
            for tok in tokens(&seed.text) {
                if tok.kind == Kind::Str {
                    let s = String::from_utf8_lossy(&seed.text[tok.start + 1..tok.end - 1]);
                    if s.len() < 60 && seen.insert(s.to_string()) {
                        strings.push(s.into_owned());
                    }
                }
            }
            exprs.extend(
                top_level(&seed.text)
                    .into_iter()
                    .map(|(s, e)| seed.text[s..e].to_vec()),
            );
        }
        Pool { strings, exprs }
    }

    /// A corpus string or a variant of one on a naming-rule edge.
    fn string(&self, rng: &mut Rng) -> String {
        let s = rng.pick(&self.strings).clone();
        match rng.below(10) {
            0 => format!("q_{s}"),
            1 => format!("__org.qemu_x-{s}"),
            2 => format!("*{s}"),
            3 => s.to_uppercase(),
            4 => s.replace('-', "_"),
            5 => format!("{s}List"),
            6 => format!("x-{s}"),
            _ => s,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Str,
    Comment,
    Open,
    Close,
    Colon,
    Comma,
    Word,
}

#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
    /// For an opening bracket, the index of its closing one (the last token if unclosed).
    close: usize,
}

/// A forgiving tokenizer over any bytes (mutants are often broken already).
fn tokens(text: &[u8]) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let start = i;
        let kind = match text[i] {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < text.len() && text[i] != b'\n' {
                    i += 1;
                }
                Kind::Comment
            }
            b'\'' => {
                i += 1;
                while i < text.len() && text[i] != b'\'' && text[i] != b'\n' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(text.len());
                Kind::Str
            }
            b'{' | b'[' => {
                i += 1;
                Kind::Open
            }
            b'}' | b']' => {
                i += 1;
                Kind::Close
            }
            b':' => {
                i += 1;
                Kind::Colon
            }
            b',' => {
                i += 1;
                Kind::Comma
            }
            _ => {
                while i < text.len() && !b" \t\n\r#'{}[]:,".contains(&text[i]) {
                    i += 1;
                }
                Kind::Word
            }
        };
        toks.push(Tok {
            kind,
            start,
            end: i.min(text.len()),
            close: 0,
        });
    }
    // Brackets matched in one pass (values can be nested tens of thousands deep).
    let mut open = Vec::new();
    for j in 0..toks.len() {
        match toks[j].kind {
            Kind::Open => open.push(j),
            Kind::Close => {
                if let Some(o) = open.pop() {
                    toks[o].close = j;
                }
            }
            _ => {}
        }
    }
    let last = toks.len().saturating_sub(1);
    for o in open {
        toks[o].close = last;
    }
    toks
}

/// Index of the last token of the value starting at token `i` (skipping comments).
fn value_end(toks: &[Tok], i: usize) -> usize {
    if toks[i].kind == Kind::Open {
        toks[i].close
    } else {
        i
    }
}

/// The next non-comment token after `i`.
fn next_code(toks: &[Tok], i: usize) -> Option<usize> {
    (i + 1..toks.len()).find(|&j| toks[j].kind != Kind::Comment)
}

/// Token indexes of `'key': value` pairs: (key, last token of the value).
fn pairs(toks: &[Tok]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for i in 0..toks.len() {
        if toks[i].kind != Kind::Str {
            continue;
        }
        let Some(colon) = next_code(toks, i) else {
            continue;
        };
        if toks[colon].kind != Kind::Colon {
            continue;
        }
        if let Some(v) = next_code(toks, colon) {
            out.push((i, value_end(toks, v)));
        }
    }
    out
}

fn splice(text: &mut Vec<u8>, start: usize, end: usize, with: &[u8]) {
    text.splice(start..end, with.iter().copied());
}

/// Byte ranges of the lines (without their newline).
fn lines(text: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        if b == b'\n' {
            out.push((start, i));
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push((start, text.len()));
    }
    out
}

/// 1 to 3 edits of `seed`.
fn mutate(seed: &[u8], rng: &mut Rng, pool: &Pool) -> Vec<u8> {
    let mut text = seed.to_vec();
    let edits = match rng.below(10) {
        0..=5 => 1,
        6..=8 => 2,
        _ => 3,
    };
    for _ in 0..edits {
        // An edit that finds nothing to work on tries another kind.
        for _ in 0..8 {
            if edit(&mut text, rng, pool) {
                break;
            }
        }
    }
    text
}

/// One edit; false when the text has nothing it applies to.
fn edit(text: &mut Vec<u8>, rng: &mut Rng, pool: &Pool) -> bool {
    let toks = tokens(text);
    let ls = lines(text);
    match rng.below(18) {
        // Line edits: delete, duplicate, swap with the next.
        0 => {
            let Some(&(s, e)) = ls.get(rng.below(ls.len())) else {
                return false;
            };
            splice(text, s, (e + 1).min(text.len()), b"");
        }
        1 => {
            let Some(&(s, e)) = ls.get(rng.below(ls.len())) else {
                return false;
            };
            let mut line = text[s..e].to_vec();
            line.push(b'\n');
            splice(text, s, s, &line);
        }
        2 => {
            if ls.len() < 2 {
                return false;
            }
            let k = rng.below(ls.len() - 1);
            let ((s1, e1), (s2, e2)) = (ls[k], ls[k + 1]);
            let mut swapped = text[s2..e2].to_vec();
            swapped.push(b'\n');
            swapped.extend_from_slice(&text[s1..e1]);
            splice(text, s1, e2, &swapped);
        }
        // Drop a key with its value (and the comma after it, if any).
        3 => {
            let ps = pairs(&toks);
            let Some(&(k, v)) = ps.get(rng.below(ps.len())) else {
                return false;
            };
            let mut end = toks[v].end;
            if let Some(c) = next_code(&toks, v).filter(|&c| toks[c].kind == Kind::Comma) {
                end = toks[c].end;
            }
            splice(text, toks[k].start, end, b"");
        }
        // Duplicate a key with its value.
        4 => {
            let ps = pairs(&toks);
            let Some(&(k, v)) = ps.get(rng.below(ps.len())) else {
                return false;
            };
            let mut copy = text[toks[k].start..toks[v].end].to_vec();
            copy.extend_from_slice(b", ");
            splice(text, toks[k].start, toks[k].start, &copy);
        }
        // Replace a string with another one.
        5 | 6 => {
            let strs: Vec<&Tok> = toks.iter().filter(|t| t.kind == Kind::Str).collect();
            let Some(t) = strs.get(rng.below(strs.len())) else {
                return false;
            };
            let with = format!("'{}'", pool.string(rng));
            splice(text, t.start, t.end, with.as_bytes());
        }
        // Replace a value by one of another JSON type.
        7 => {
            let ps = pairs(&toks);
            let Some(&(k, v)) = ps.get(rng.below(ps.len())) else {
                return false;
            };
            let Some(first) = next_code(&toks, k).and_then(|c| next_code(&toks, c)) else {
                return false;
            };
            let key = &text[toks[k].start..toks[k].end];
            let with = match key {
                b"'if'" => *rng.pick(IF_VALUES),
                b"'features'" => *rng.pick(FEATURE_VALUES),
                _ => *rng.pick(VALUES),
            };
            splice(text, toks[first].start, toks[v].end, with.as_bytes());
        }
        // Insert a key into a dict: 'if', 'features' or any QAPI key.
        8 | 9 => {
            let opens: Vec<&Tok> = toks
                .iter()
                .filter(|t| t.kind == Kind::Open && text[t.start] == b'{')
                .collect();
            let Some(t) = opens.get(rng.below(opens.len())) else {
                return false;
            };
            let pair = match rng.below(3) {
                0 => format!(" 'if': {},", rng.pick(IF_VALUES)),
                1 => format!(" 'features': {},", rng.pick(FEATURE_VALUES)),
                _ => {
                    let key = if rng.below(2) == 0 {
                        rng.pick(KEYS).to_string()
                    } else {
                        pool.string(rng)
                    };
                    let value = if rng.below(2) == 0 {
                        rng.pick(VALUES).to_string()
                    } else {
                        format!("'{}'", pool.string(rng))
                    };
                    format!(" '{key}': {value},")
                }
            };
            // Before the closing brace (no trailing comma) or right after the opening one.
            if rng.below(2) == 0 {
                splice(text, t.end, t.end, pair.as_bytes());
            } else {
                let i = toks.iter().position(|x| x.start == t.start).unwrap_or(0);
                let close = value_end(&toks, i);
                if toks[close].kind != Kind::Close {
                    return false;
                }
                let pair = format!(", {}", pair.trim().trim_end_matches(','));
                splice(text, toks[close].start, toks[close].start, pair.as_bytes());
            }
        }
        // Doc comments: replace a comment line, insert one, or re-indent one.
        10 | 11 => {
            let comments: Vec<(usize, usize)> = ls
                .iter()
                .copied()
                .filter(|&(s, e)| e > s && text[s] == b'#')
                .collect();
            let Some(&(s, e)) = comments.get(rng.below(comments.len())) else {
                return false;
            };
            match rng.below(4) {
                0 => {
                    let line = doc_line(rng, pool);
                    splice(text, s, e, line.as_bytes());
                }
                1 => {
                    let line = format!("{}\n", doc_line(rng, pool));
                    splice(text, s, s, line.as_bytes());
                }
                2 => splice(text, s + 1, s + 1, b" "),
                _ => {
                    if text.get(s + 1) == Some(&b' ') {
                        splice(text, s + 1, s + 2, b"");
                    } else {
                        splice(text, s, e, b"#");
                    }
                }
            }
        }
        // A doc block before a definition.
        12 => {
            let defs: Vec<(usize, usize)> = ls
                .iter()
                .copied()
                .filter(|&(s, e)| e > s && text[s] == b'{')
                .collect();
            let Some(&(s, _)) = defs.get(rng.below(defs.len())) else {
                return false;
            };
            let mut block = format!("##\n# @{}:\n", pool.string(rng));
            for _ in 0..rng.below(4) {
                block.push_str(&doc_line(rng, pool));
                block.push('\n');
            }
            block.push_str("##\n");
            splice(text, s, s, block.as_bytes());
        }
        // A value of another type for a whole pair's value, from the corpus.
        13 => {
            let strs: Vec<&Tok> = toks.iter().filter(|t| t.kind == Kind::Str).collect();
            let Some(t) = strs.get(rng.below(strs.len())) else {
                return false;
            };
            let s = pool.string(rng);
            let with = match rng.below(3) {
                0 => format!("[ '{s}' ]"),
                1 => format!("{{ '{s}': 'str' }}"),
                _ => format!("{{ 'type': '{s}' }}"),
            };
            splice(text, t.start, t.end, with.as_bytes());
        }
        // A definition of another seed, with its doc comment, between two definitions.
        14 => {
            if pool.exprs.is_empty() {
                return false;
            }
            let at = match top_level(text).get(rng.below(top_level(text).len() + 1)) {
                Some(&(s, _)) => s,
                None => text.len(),
            };
            let mut with = rng.pick(&pool.exprs).clone();
            with.push(b'\n');
            splice(text, at, at, &with);
        }
        // A value nested deeply in lists or objects (QEMU's recursion has a limit; ours too?).
        15 => {
            let ps = pairs(&toks);
            let Some(&(k, v)) = ps.get(rng.below(ps.len())) else {
                return false;
            };
            let Some(first) = next_code(&toks, k).and_then(|c| next_code(&toks, c)) else {
                return false;
            };
            let depth = *rng.pick(&[2, 10, 100, 300, 490, 494, 495, 1000, 5000, 30_000]);
            let (open, close) = if rng.below(2) == 0 {
                ("[".repeat(depth), "]".repeat(depth))
            } else {
                ("{ 'not': ".repeat(depth), " }".repeat(depth))
            };
            let inner = text[toks[first].start..toks[v].end].to_vec();
            let mut with = open.into_bytes();
            with.extend_from_slice(&inner);
            with.extend_from_slice(close.as_bytes());
            splice(text, toks[first].start, toks[v].end, &with);
        }
        // Byte edits.
        _ => {
            if text.is_empty() {
                return false;
            }
            const BYTES: &[&[u8]] = &[
                b"'",
                b"\\",
                b"#",
                b"\xc3\xa9",
                b"\xe2\x80\xa8",
                b"\t",
                b"\x0c",
                b"\r",
                b"\x00",
                b"{",
                b"}",
                b"[",
                b"]",
                b":",
                b",",
                b"\"",
                b"\n",
                b" ",
                b"\xff",
                b"\x7f",
                b"\\u0041",
                b"\\'",
                b"\\\\",
            ];
            let at = rng.below(text.len() + 1);
            if rng.below(4) == 0 {
                splice(text, at.min(text.len() - 1), (at + 1).min(text.len()), b"");
            } else {
                // Inside a string more often than not: that is where escapes matter.
                let at = match toks.iter().filter(|t| t.kind == Kind::Str).count() {
                    0 => at,
                    n if rng.below(2) == 0 => {
                        let t = toks
                            .iter()
                            .filter(|t| t.kind == Kind::Str)
                            .nth(rng.below(n));
                        t.map(|t| t.start + 1 + rng.below(t.end - t.start))
                            .unwrap_or(at)
                            .min(text.len())
                    }
                    _ => at,
                };
                let with = *rng.pick(BYTES);
                splice(text, at, at, with);
            }
        }
    }
    true
}

/// Byte ranges of the top-level expressions, each from the first comment line before it.
fn top_level(text: &[u8]) -> Vec<(usize, usize)> {
    let toks = tokens(text);
    let mut out = Vec::new();
    let mut i = 0;
    let mut comments_from = None;
    while i < toks.len() {
        match toks[i].kind {
            Kind::Comment => {
                comments_from.get_or_insert(toks[i].start);
                i += 1;
            }
            Kind::Open if text[toks[i].start] == b'{' => {
                let end = value_end(&toks, i);
                out.push((comments_from.unwrap_or(toks[i].start), toks[end].end));
                comments_from = None;
                i = end + 1;
            }
            _ => {
                comments_from = None;
                i += 1;
            }
        }
    }
    out
}

fn doc_line(rng: &mut Rng, pool: &Pool) -> String {
    match rng.below(5) {
        0 => format!("# @{}: text", pool.string(rng)),
        _ => rng.pick(DOC_LINES).to_string(),
    }
}

/// Type names of generated schemas: few, so that definitions refer to and clash with each other.
const GEN_TYPES: &[&str] = &["Foo", "Bar", "Baz", "Enum", "Alt", "Union", "Sub"];
const GEN_MEMBERS: &[&str] = &[
    "a", "b", "c", "type", "kind", "one", "two", "on", "off", "data",
];
/// Member names on the edges of the naming rules (used now and then).
const GEN_EDGE_MEMBERS: &[&str] = &[
    "a-b",
    "a_b",
    "x-c",
    "__org.qemu_x-d",
    "has-a",
    "u",
    "max",
    "If",
    "q_e",
    "1",
    "base",
];
const GEN_BUILTINS: &[&str] = &[
    "int", "str", "bool", "number", "any", "null", "size", "int8", "uint64", "QType",
];
const GEN_EVENTS: &[&str] = &["FOO", "BAR", "EV_ONE", "Ev"];
const GEN_COMMANDS: &[&str] = &["foo", "bar", "do-it", "x-cmd", "Cmd", "cmd_two"];
/// Conditions and features that are valid (the edge cases are in `IF_VALUES` etc.).
const GEN_IFS: &[&str] = &[
    "'CONFIG_A'",
    "'CONFIG_B'",
    "{ 'not': 'CONFIG_A' }",
    "{ 'all': [ 'CONFIG_A', 'CONFIG_B' ] }",
    "{ 'any': [ 'CONFIG_A', { 'not': 'CONFIG_B' } ] }",
];
const GEN_FEATURES: &[&str] = &[
    "[ 'feat' ]",
    "[ 'deprecated' ]",
    "[ 'unstable', 'feat' ]",
    "[ { 'name': 'feat', 'if': 'CONFIG_A' } ]",
];

/// Mostly a common name, now and then an edge one.
fn gen_name(rng: &mut Rng, common: &[&'static str], edge: &[&'static str]) -> &'static str {
    let names = if rng.below(12) == 0 { edge } else { common };
    names[rng.below(names.len())]
}

fn gen_member(rng: &mut Rng) -> &'static str {
    gen_name(rng, GEN_MEMBERS, GEN_EDGE_MEMBERS)
}

/// A random schema of 1 to 6 definitions, often valid, with optional docs and pragmas.
fn generate(rng: &mut Rng) -> Vec<u8> {
    // Plan the definitions first, so that references mostly hit defined types.
    let mut plan: Vec<(&str, &str)> = Vec::new();
    for _ in 0..1 + rng.below(7) {
        let (meta, name) = match rng.below(6) {
            0 => ("enum", *rng.pick(&["Enum", "Kind", "Color"])),
            1 => ("struct", *rng.pick(&["Foo", "Bar", "Sub"])),
            2 => ("union", *rng.pick(&["Union", "Obj"])),
            3 => ("alternate", *rng.pick(&["Alt", "Either"])),
            4 => ("command", gen_name(rng, &GEN_COMMANDS[..4], GEN_COMMANDS)),
            _ => ("event", gen_name(rng, &GEN_EVENTS[..3], GEN_EVENTS)),
        };
        if plan.iter().all(|&(_, n)| n != name) || rng.below(10) == 0 {
            plan.push((meta, name));
        }
    }
    // Unions need an enum for their tag, usually.
    if plan.iter().any(|&(m, _)| m == "union") && rng.below(8) != 0 {
        plan.insert(0, ("enum", "Tag"));
    }
    let named = |want: &[&str]| -> Vec<&str> {
        plan.iter()
            .filter(|(m, _)| want.contains(m))
            .map(|&(_, n)| n)
            .collect()
    };
    let types = named(&["enum", "struct", "union", "alternate"]);
    let structs = named(&["struct"]);
    let enums = named(&["enum"]);
    // Enum members are fixed up front: unions need them for their branches.
    let enum_members: Vec<Vec<&str>> = enums
        .iter()
        .map(|_| {
            let mut ms: Vec<&str> = Vec::new();
            for _ in 0..rng.below(5) {
                let m = gen_member(rng);
                if !ms.contains(&m) || rng.below(10) == 0 {
                    ms.push(m);
                }
            }
            ms
        })
        .collect();

    let mut out = String::new();
    let mut all_docs = rng.below(4) == 0;
    if rng.below(5) == 0 {
        let pragma = gen_pragma(rng);
        all_docs |= pragma.contains("'doc-required': true");
        out.push_str(&pragma);
    }
    for &(meta, name) in &plan {
        let mut members: Vec<String> = Vec::new();
        let mut body = format!("{{ '{meta}': '{name}'");
        match meta {
            "enum" => {
                let k = enums.iter().position(|&e| e == name).unwrap_or(0);
                let data: Vec<String> = enum_members
                    .get(k)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|m| {
                        members.push(m.to_string());
                        match rng.below(4) {
                            0 => format!("{{ 'name': '{m}'{} }}", gen_extras(rng, "member")),
                            _ => format!("'{m}'"),
                        }
                    })
                    .collect();
                body.push_str(&format!(", 'data': [ {} ]", data.join(", ")));
                if rng.below(6) == 0 {
                    body.push_str(", 'prefix': 'PRE'");
                }
            }
            "struct" => {
                if rng.below(3) == 0 {
                    let base = match structs.get(rng.below(structs.len() + 1)) {
                        Some(s) => format!("'{s}'"),
                        None => gen_type_ref(rng, &types, true),
                    };
                    body.push_str(&format!(", 'base': {base}"));
                }
                let data = gen_members(rng, &types, &mut members);
                body.push_str(&format!(", 'data': {data}"));
            }
            "union" => {
                let k = rng.below(enums.len() + 1);
                let (tag_type, tags) = match enums.get(k) {
                    Some(e) => (*e, enum_members[k].as_slice()),
                    None => ("Enum", &["a", "b"][..]),
                };
                let tag = gen_name(rng, &["type", "kind"], &["a", "*type"]);
                members.push(tag.trim_start_matches('*').to_string());
                let base = match rng.below(4) {
                    0 => format!("'{}'", structs.first().unwrap_or(&"Foo")),
                    _ => format!("{{ '{tag}': '{tag_type}' }}"),
                };
                body.push_str(&format!(", 'base': {base}"));
                let disc = gen_name(rng, &[tag.trim_start_matches('*')], &["type", "b"]);
                body.push_str(&format!(", 'discriminator': '{disc}'"));
                let mut branches = Vec::new();
                for &b in tags {
                    if rng.below(4) == 0 {
                        continue;
                    }
                    let t = match structs.get(rng.below(structs.len() + 1)) {
                        Some(s) => s,
                        None => types.get(rng.below(types.len() + 1)).unwrap_or(&"int"),
                    };
                    branches.push(match rng.below(4) {
                        0 => format!("'{b}': {{ 'type': '{t}'{} }}", gen_extras(rng, "member")),
                        _ => format!("'{b}': '{t}'"),
                    });
                }
                body.push_str(&format!(", 'data': {{ {} }}", branches.join(", ")));
            }
            "alternate" => {
                let mut branches = Vec::new();
                for _ in 0..1 + rng.below(3) {
                    let b = gen_member(rng);
                    if members.iter().any(|m| m == b) {
                        continue;
                    }
                    members.push(b.to_string());
                    let t = if rng.below(2) == 0 {
                        format!("'{}'", rng.pick(&["int", "str", "bool", "null", "number"]))
                    } else {
                        gen_type_ref(rng, &types, false)
                    };
                    branches.push(format!("'{b}': {t}"));
                }
                body.push_str(&format!(", 'data': {{ {} }}", branches.join(", ")));
            }
            _ => {
                let boxed = match rng.below(4) {
                    0 => false,
                    1 => {
                        let t = types.get(rng.below(types.len() + 1)).unwrap_or(&"Foo");
                        body.push_str(&format!(", 'data': '{t}'"));
                        rng.below(2) == 0
                    }
                    _ => {
                        let data = gen_members(rng, &types, &mut members);
                        body.push_str(&format!(", 'data': {data}"));
                        false
                    }
                };
                if meta == "command" && rng.below(2) == 0 {
                    let t = match structs.get(rng.below(structs.len() + 1)) {
                        Some(s) if rng.below(2) == 0 => format!("'{s}'"),
                        _ => gen_type_ref(rng, &types, false),
                    };
                    body.push_str(&format!(", 'returns': {t}"));
                }
                // Flags with the only value they accept, now and then the other one.
                let flags: &[(&str, bool)] = if meta == "command" {
                    &[
                        ("gen", false),
                        ("success-response", false),
                        ("allow-oob", true),
                        ("allow-preconfig", true),
                        ("coroutine", true),
                    ]
                } else {
                    &[]
                };
                if boxed {
                    body.push_str(", 'boxed': true");
                }
                for &(flag, value) in flags {
                    if rng.below(flags.len() * 2) == 0 {
                        let value = value != (rng.below(10) == 0);
                        body.push_str(&format!(", '{flag}': {value}"));
                    }
                }
            }
        }
        let extras = gen_extras(rng, meta);
        body.push_str(&extras);
        body.push_str(" }\n");
        if all_docs || rng.below(2) == 0 {
            out.push_str(&gen_doc(rng, meta, name, &members, &extras));
        }
        out.push_str(&body);
    }
    if rng.below(6) == 0 {
        out.push_str("##\n# = Section\n##\n");
    }
    out.into_bytes()
}

fn gen_pragma(rng: &mut Rng) -> String {
    let mut items = Vec::new();
    if rng.below(2) == 0 {
        items.push(format!("'doc-required': {}", rng.below(2) == 0));
    }
    for key in [
        "command-name-exceptions",
        "command-returns-exceptions",
        "documentation-exceptions",
        "member-name-exceptions",
    ] {
        if rng.below(3) == 0 {
            let names = [*rng.pick(GEN_TYPES), *rng.pick(GEN_COMMANDS)];
            items.push(format!("'{key}': [ '{}', '{}' ]", names[0], names[1]));
        }
    }
    format!("{{ 'pragma': {{ {} }} }}\n", items.join(", "))
}

/// `, 'if': ...` and/or `, 'features': [...]`, or nothing.
fn gen_extras(rng: &mut Rng, meta: &str) -> String {
    let mut out = String::new();
    if rng.below(4) == 0 {
        let values = if rng.below(16) == 0 {
            IF_VALUES
        } else {
            GEN_IFS
        };
        out.push_str(&format!(", 'if': {}", rng.pick(values)));
    }
    if rng.below(4) == 0 {
        let values = if rng.below(16) == 0 {
            FEATURE_VALUES
        } else {
            GEN_FEATURES
        };
        let mut features = rng.pick(values).to_string();
        // 'deprecated' is for commands, events and members, not types.
        if ["enum", "struct", "union", "alternate"].contains(&meta) && rng.below(8) != 0 {
            features = features.replace("'deprecated'", "'feat2'");
        }
        out.push_str(&format!(", 'features': {features}"));
    }
    out
}

/// A type reference: a built-in or planned type, an array, an inline object, rarely unknown.
fn gen_type_ref(rng: &mut Rng, types: &[&str], inline: bool) -> String {
    let named = match types.get(rng.below(types.len() * 2 + 1)) {
        Some(t) if rng.below(12) != 0 => *t,
        Some(_) => "Nope",
        None => *rng.pick(GEN_BUILTINS),
    };
    match rng.below(if inline { 4 } else { 3 }) {
        0 => format!("[ '{named}' ]"),
        3 => format!("{{ 'm': '{named}' }}"),
        _ => format!("'{named}'"),
    }
}

fn gen_members(rng: &mut Rng, types: &[&str], names: &mut Vec<String>) -> String {
    let mut data = Vec::new();
    for _ in 0..rng.below(4) {
        let m = gen_member(rng);
        if names.iter().any(|n| n == m) && rng.below(10) != 0 {
            continue;
        }
        names.push(m.to_string());
        let opt = if rng.below(3) == 0 { "*" } else { "" };
        let inline = rng.below(10) == 0;
        let ty = gen_type_ref(rng, types, inline);
        data.push(match rng.below(4) {
            0 => format!(
                "'{opt}{m}': {{ 'type': {ty}{} }}",
                gen_extras(rng, "member")
            ),
            _ => format!("'{opt}{m}': {ty}"),
        });
    }
    format!("{{ {} }}", data.join(", "))
}

/// A doc comment for `name`, describing some of `members` (and sometimes other names).
fn gen_doc(rng: &mut Rng, meta: &str, name: &str, members: &[String], extras: &str) -> String {
    let mut out = format!("##\n# @{name}:\n");
    if rng.below(2) == 0 {
        out.push_str("#\n# Intro text.\n");
    }
    let mut documented = std::collections::HashSet::new();
    for m in members {
        if documented.insert(m) && rng.below(8) != 0 {
            out.push_str(&format!("#\n# @{m}: text\n"));
            if rng.below(4) == 0 {
                out.push_str("#     more text\n");
            }
        }
    }
    if rng.below(6) == 0 {
        out.push_str(&format!("# @{}: extra\n", gen_member(rng)));
    }
    // The features the definition has, now and then one more or one less.
    let mut features: Vec<&str> = ["feat", "feat2", "deprecated", "unstable"]
        .into_iter()
        .filter(|f| extras.contains(&format!("'{f}'")) != (rng.below(10) == 0))
        .collect();
    if rng.below(10) == 0 {
        features.clear();
    }
    if !features.is_empty() {
        out.push_str("#\n# Features:\n#\n");
        for f in features {
            out.push_str(&format!("# @{f}: text\n"));
        }
    }
    // Sections in the usual order, each at most once (an odd one now and then).
    let is_command = meta == "command";
    for (section, usual) in [
        ("Returns: a value", is_command),
        ("Errors: if bad", is_command),
        ("Plain text.", true),
        ("Since: 1.0", true),
        ("TODO: x", false),
    ] {
        if rng.below(if usual { 3 } else { 100 }) == 0 {
            out.push_str(&format!("#\n# {section}\n"));
        }
    }
    out.push_str("##\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Pool {
        Pool {
            strings: vec!["a".into(), "b".into()],
            exprs: vec![b"{ 'enum': 'E', 'data': [] }".to_vec()],
        }
    }

    #[test]
    fn mutants_are_deterministic_and_differ() {
        let seed = b"##\n# @Foo:\n##\n{ 'struct': 'Foo', 'data': { 'a': 'int', '*b': ['str'] } }\n";
        let p = pool();
        let one: Vec<Vec<u8>> = (0..50)
            .map(|i| mutate(seed, &mut Rng::new(7, i), &p))
            .collect();
        let two: Vec<Vec<u8>> = (0..50)
            .map(|i| mutate(seed, &mut Rng::new(7, i), &p))
            .collect();
        assert_eq!(one, two);
        assert!(one.iter().filter(|m| m.as_slice() != seed).count() > 40);
    }

    #[test]
    fn generated_schemas_are_deterministic() {
        let one: Vec<Vec<u8>> = (0..20).map(|i| generate(&mut Rng::new(3, i))).collect();
        let two: Vec<Vec<u8>> = (0..20).map(|i| generate(&mut Rng::new(3, i))).collect();
        assert_eq!(one, two);
        assert!(one
            .iter()
            .all(|s| s.starts_with(b"{") || s.starts_with(b"#")));
    }

    #[test]
    fn top_level_takes_comments_along() {
        let text = b"# c\n{ 'a': { 'b': 1 } }\n{ 'c': 2 }\n";
        let spans: Vec<&[u8]> = top_level(text).iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(spans, [&b"# c\n{ 'a': { 'b': 1 } }"[..], b"{ 'c': 2 }"]);
    }

    #[test]
    fn pairs_span_whole_values() {
        let text = b"{ 'a': { 'b': [ 'c' ] }, 'd': true }";
        let toks = tokens(text);
        let spans: Vec<&[u8]> = pairs(&toks)
            .iter()
            .map(|&(k, v)| &text[toks[k].start..toks[v].end])
            .collect();
        assert_eq!(
            spans,
            [&b"'a': { 'b': [ 'c' ] }"[..], b"'b': [ 'c' ]", b"'d': true"]
        );
    }

    #[test]
    fn tokens_survive_broken_text() {
        for text in [&b"'unterminated"[..], b"\\", b"{ ]] ", b"'a\\"] {
            let toks = tokens(text);
            assert!(toks.iter().all(|t| t.end <= text.len()));
        }
    }
}
