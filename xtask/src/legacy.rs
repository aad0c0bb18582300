//! `cargo xtask legacy-check [--build]`: legacy mode against the schemas of older QEMU
//! releases.
//!
//! Releases checked: the small schemas of old constructs in `qapi-codegen/tests/legacy`,
//! every folder of `../shared/legacy-schemas` (QEMU 0.15-6.1 as shipped;
//! skipped with a message when the folder is absent) and QEMU 5.2 and 7.2, whose source
//! tarballs come from the Debian archive named in the machine's apt sources.
//!
//! For each release, `qapi-dump --legacy` must accept its QMP schema, its guest-agent schema
//! and (5.2, 7.2) every positive case of its own front-end test suite (a `NAME.json` with an
//! empty `NAME.err`). With `--build`, a crate is generated from each QMP and guest-agent
//! schema; all of them are members of one cargo workspace (`target/legacy-check/crates`), so
//! serde builds once, and it must build and pass clippy with `-D warnings`, with no features
//! and with all of them. Ends with `N passed, M failed`.

use crate::ci::workspace_root;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Releases fetched from the Debian archive: version (the tarball's top directory) and the
/// tarball's path in the archive.
const FETCHED: &[(&str, &str)] = &[
    ("5.2.0", "pool/main/q/qemu/qemu_5.2+dfsg.orig.tar.xz"),
    ("7.2.0", "pool/main/q/qemu/qemu_7.2+dfsg.orig.tar.xz"),
];

/// Old schemas as shipped, one folder per release (optional: the repository must not need it).
const SHARED: &str = "../shared/legacy-schemas";

/// Where a release keeps its QMP schema (newest layout first).
const QMP_ROOTS: &[&str] = &["qapi/qapi-schema.json", "qapi-schema.json"];

/// Where a release keeps its guest-agent schema (0.15-1.2: next to the QMP schema).
const QGA_ROOTS: &[&str] = &["qga/qapi-schema.json", "qapi-schema-guest.json"];

/// Old constructs in small schemas of the repository, checked and built like a release.
const REPO_SCHEMAS: &[(&str, &str)] = &[
    (
        "old-constructs",
        "qapi-codegen/tests/legacy/old-constructs.json",
    ),
    (
        "simple-union",
        "qapi-codegen/tests/legacy/simple-union.json",
    ),
];

/// One release's schemas.
struct Release {
    version: String,
    /// The schemas a crate is generated from: what (`qmp`, `qga`) and where.
    schemas: Vec<(&'static str, PathBuf)>,
    /// Positive cases of its front-end test suite.
    cases: Vec<PathBuf>,
}

impl Release {
    fn new(version: &str, dir: &Path, cases: Vec<PathBuf>) -> Release {
        let qmp = find_root(dir, QMP_ROOTS).map(|p| ("qmp", p));
        let qga = find_root(dir, QGA_ROOTS).map(|p| ("qga", p));
        Release {
            version: version.to_string(),
            schemas: qmp.into_iter().chain(qga).collect(),
            cases,
        }
    }
}

/// Passes and failures, each failure printed as it happens.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn pass(&mut self) {
        self.passed += 1;
    }

    fn fail(&mut self, what: &str, why: &str) {
        self.failed += 1;
        eprintln!("legacy-check: FAILED {what}\n{}", why.trim_end());
    }
}

pub fn run(build: bool) -> Result<()> {
    let started = Instant::now();
    let root = workspace_root();
    let mut releases = vec![Release {
        version: "repo".into(),
        schemas: REPO_SCHEMAS
            .iter()
            .map(|(name, path)| (*name, root.join(path)))
            .collect(),
        cases: Vec::new(),
    }];
    releases.extend(shared_releases()?);
    releases.extend(fetched_releases()?);
    let dump = crate::conformance::build_qapi_dump()?;
    let mut tally = Tally::default();
    for release in &releases {
        let schemas = release.schemas.iter().map(|(_, p)| p).chain(&release.cases);
        let mut accepted = 0usize;
        let mut total = 0usize;
        for schema in schemas {
            total += 1;
            let out = Command::new(&dump)
                .arg("--legacy")
                .arg(schema)
                .output()
                .with_context(|| format!("running {}", dump.display()))?;
            if out.status.success() {
                accepted += 1;
                tally.pass();
            } else {
                let what = format!("QEMU {}: {} rejected", release.version, schema.display());
                tally.fail(&what, &String::from_utf8_lossy(&out.stderr));
            }
        }
        eprintln!(
            "legacy-check: QEMU {}: {accepted} of {total} schemas accepted",
            release.version
        );
    }
    if build {
        build_crates(&releases, &mut tally)?;
    }
    println!(
        "legacy-check: {} passed, {} failed ({:.0} s)",
        tally.passed,
        tally.failed,
        started.elapsed().as_secs_f64()
    );
    if tally.failed > 0 {
        bail!("{} legacy checks failed", tally.failed);
    }
    Ok(())
}

/// The first of `roots` that exists under `dir`.
fn find_root(dir: &Path, roots: &[&str]) -> Option<PathBuf> {
    roots.iter().map(|r| dir.join(r)).find(|p| p.is_file())
}

/// A release number as numbers, for sorting (`2.10` after `2.8`).
fn version_key(version: &str) -> Vec<u32> {
    version
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

/// The releases of `../shared/legacy-schemas`, oldest first; none (with a message) when the
/// folder is absent.
fn shared_releases() -> Result<Vec<Release>> {
    let dir = workspace_root().join(SHARED);
    if !dir.is_dir() {
        eprintln!(
            "legacy-check: {} not found, skipping the shared old schemas",
            dir.display()
        );
        return Ok(Vec::new());
    }
    let mut releases = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        let version = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let release = Release::new(&version, &path, Vec::new());
        if !release.schemas.is_empty() {
            releases.push(release);
        }
    }
    releases.sort_by_key(|r| version_key(&r.version));
    if releases.is_empty() {
        bail!("no release folders with schemas in {}", dir.display());
    }
    Ok(releases)
}

/// QEMU 5.2 and 7.2 from their source tarballs (downloaded once into `target/qemu-src`).
fn fetched_releases() -> Result<Vec<Release>> {
    let mut releases = Vec::new();
    for (version, pool_path) in FETCHED {
        let top = format!("qemu-{version}");
        let mut dir = crate::reference::source_dir(&top);
        if !dir.join("tests/qapi-schema").is_dir() {
            dir = crate::reference::fetch(
                pool_path,
                &top,
                &["qapi", "qga/qapi-schema.json", "tests/qapi-schema"],
            )?;
        }
        let cases = crate::gen::positive_cases(&dir.join("tests/qapi-schema"))?;
        releases.push(Release::new(version, &dir, cases));
    }
    Ok(releases)
}

/// `--build`: one crate per QMP and guest-agent schema, all members of one workspace, built
/// and linted with no features and with all of them; a failing workspace run is retried
/// crate by crate to name the culprits.
fn build_crates(releases: &[Release], tally: &mut Tally) -> Result<()> {
    let started = Instant::now();
    let base = testenv::target_dir().join("legacy-check");
    let dir = base.join("crates");
    let target = base.join("target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut members: Vec<(String, String)> = Vec::new();
    for release in releases {
        for (kind, schema) in &release.schemas {
            let member = format!("{}-{kind}", release.version);
            let out = dir.join(&member);
            match crate::gen::write_member_crate(schema, &out, true) {
                Ok(package) => members.push((member, package)),
                Err(e) => tally.fail(
                    &format!("generating a crate from {}", schema.display()),
                    &format!("{e:#}"),
                ),
            }
        }
    }
    // Crates of releases no longer checked would be members no more: remove them.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && !members.iter().any(|(m, _)| *m == name) {
                std::fs::remove_dir_all(entry.path())
                    .with_context(|| format!("removing {}", entry.path().display()))?;
            }
        }
    }
    let list: Vec<String> = members.iter().map(|(m, _)| format!("{m:?}")).collect();
    let manifest = format!(
        "# Generated by `cargo xtask legacy-check --build`.\n[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
        list.join(", ")
    );
    qapi_codegen::write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    let mut broken: Vec<String> = Vec::new();
    for features in [None, Some("--all-features")] {
        for command in ["build", "clippy"] {
            let run = |package: Option<&str>, quiet: bool| -> Result<bool> {
                let mut args = vec![command];
                if quiet {
                    args.push("--quiet");
                }
                match package {
                    Some(p) => args.extend(["-p", p]),
                    None => args.push("--workspace"),
                }
                args.extend(features);
                if command == "clippy" {
                    args.extend(["--", "-D", "warnings"]);
                }
                crate::gen::cargo_status(&cargo, &dir, &target, &args)
            };
            if run(None, true)? {
                continue;
            }
            for (member, package) in &members {
                if broken.contains(member) {
                    continue;
                }
                if !run(Some(package), false)? {
                    let what = format!(
                        "cargo {command} {} of the {member} crate",
                        features.unwrap_or("(no features)")
                    );
                    tally.fail(&what, &format!("in {}", dir.join(member).display()));
                    broken.push(member.clone());
                }
            }
        }
    }
    for (member, _) in &members {
        if !broken.contains(member) {
            tally.pass();
        }
    }
    eprintln!(
        "legacy-check: {} generated crates checked in {:.0} s",
        members.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
