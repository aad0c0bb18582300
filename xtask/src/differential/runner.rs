//! Runs the mutants: sets up the work tree, runs `qapi-dump` and QEMU's front end (a
//! long-lived python3 running `xtask/differential/driver.py`) on each and compares them.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use super::generate::generate;
use super::mutate::{mutate, Pool};
use super::{Args, Rng, Seed};

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

/// What a run found.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) compared: u64,
    pub(super) mismatches: u64,
    /// Compared mutants QEMU's front end accepted: of seeds, of generated schemas.
    pub(super) accepted: [u64; 2],
    /// Compared mutants that are generated schemas.
    pub(super) generated: u64,
    /// Mutants on which QEMU's answer depends on Python's hash seed.
    pub(super) unstable: u64,
    /// QEMU crashes by exception and place.
    pub(super) crashes: std::collections::BTreeMap<String, u64>,
    /// QEMU's errors by kind (last line, without place and quoted names).
    pub(super) errors: std::collections::BTreeMap<String, u64>,
}

/// Sets up the work tree and runs all mutants.
pub(super) fn run_in(
    opts: &Args,
    root: &Path,
    qemu: &Path,
    tool: &Path,
    cases: &Path,
    work: &Path,
) -> Result<Tally> {
    copy_dir(cases, &work.join("cases"))?;
    copy_dir(&root.join("schema/qmp"), &work.join("qmp"))?;
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
pub(super) const RESEEDS: u32 = 8;

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
