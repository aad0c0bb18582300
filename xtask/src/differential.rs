//! `cargo xtask differential [--count N] [--seed S] [--keep DIR]`: `qapi-dump` against QEMU's
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

use crate::ci::{cargo, workspace_root};

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
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut opts = Options {
        count: 2000,
        seed: 1,
        keep: None,
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
            other => bail!(
                "unknown argument {other:?} (usage: differential [--count N] [--seed S] [--keep DIR])"
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
    cargo(&[
        "build",
        "--quiet",
        "-p",
        "qapi-parser",
        "--bin",
        "qapi-dump",
    ])?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let tool = if target.is_absolute() {
        target
    } else {
        root.join(target)
    }
    .join("debug/qapi-dump");

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
        crashes,
    } = result?;
    for (kind, n) in &crashes {
        println!("QEMU crash x{n}: {kind}");
    }
    let crashed: u64 = crashes.values().sum();
    println!(
        "{accepted} of the compared mutants were accepted by QEMU; \
         {crashed} QEMU crashes were not compared"
    );
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
    /// Compared mutants QEMU's front end accepted (the rest it rejected).
    accepted: u64,
    /// QEMU crashes by exception and place.
    crashes: std::collections::BTreeMap<String, u64>,
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
    let seeds = load_seeds(work)?;
    let pool = Pool::new(&seeds);

    let mut python = Python::start(qemu, work, root)?;
    let mut tally = Tally::default();
    let started = Instant::now();
    for i in 0..opts.count {
        let mut rng = Rng::new(opts.seed, i);
        let seed = &seeds[rng.below(seeds.len())];
        let text = mutate(&seed.text, &mut rng, &pool);
        let rel = format!("{}/m{i:06}-{}", seed.dir, seed.name);
        let path = work.join(&rel);
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;

        let ours = Ours::start(tool, work, &rel)?;
        let theirs = python.ask(&rel)?;
        let (out, err, status) = ours.finish()?;
        let panicked = status == Some(101) || err.contains("panicked at");
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
                    "QEMU crashed ({crash}) and qapi-dump panicked:\n{err}"
                ));
            }
        } else {
            tally.compared += 1;
            tally.accepted += u64::from(!theirs.failed);
            if status.is_none() {
                report.push_str("qapi-dump timed out\n");
            }
            if out != theirs.out {
                report.push_str(&short_diff("stdout", &theirs.out, &out));
            }
            if err != theirs.err {
                report.push_str(&short_diff("stderr", &theirs.err, &err));
            }
            if (status != Some(0)) != theirs.failed {
                report.push_str(&format!(
                    "exit status {status:?}, QEMU {}\n",
                    if theirs.failed { "failed" } else { "passed" }
                ));
            }
        }
        if report.is_empty() {
            let _ = std::fs::remove_file(&path);
        } else {
            tally.mismatches += 1;
            println!("MISMATCH {} (seed {})\n{report}", path.display(), seed.name);
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
    fn start(qemu: &Path, work: &Path, root: &Path) -> Result<Python> {
        let driver = root.join("xtask/differential/driver.py");
        let mut child = Command::new("python3")
            .arg(&driver)
            .arg(qemu)
            .current_dir(work)
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
        for seed in seeds {
            for tok in tokens(&seed.text) {
                if tok.kind == Kind::Str {
                    let s = String::from_utf8_lossy(&seed.text[tok.start + 1..tok.end - 1]);
                    if s.len() < 60 && seen.insert(s.to_string()) {
                        strings.push(s.into_owned());
                    }
                }
            }
        }
        Pool { strings }
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
        });
    }
    toks
}

/// Index of the last token of the value starting at token `i` (skipping comments).
fn value_end(toks: &[Tok], i: usize) -> usize {
    if toks[i].kind != Kind::Open {
        return i;
    }
    let mut depth = 0usize;
    for (j, t) in toks.iter().enumerate().skip(i) {
        match t.kind {
            Kind::Open => depth += 1,
            Kind::Close => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    toks.len() - 1
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
    match rng.below(16) {
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

fn doc_line(rng: &mut Rng, pool: &Pool) -> String {
    match rng.below(5) {
        0 => format!("# @{}: text", pool.string(rng)),
        _ => rng.pick(DOC_LINES).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Pool {
        Pool {
            strings: vec!["a".into(), "b".into()],
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
