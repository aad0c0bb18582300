//! `cargo xtask conformance [DIR]`: runs QEMU's front-end test cases against `qapi-dump`.
//!
//! For every `NAME.out` in DIR (default: QEMU 10.0.2's `tests/qapi-schema`, fetched into
//! `target/qemu-src` when missing), runs `qapi-dump <dir>/NAME.json` from DIR's parent, as QEMU's harness does, and
//! compares stdout with `NAME.out` and stderr, with every `<dir>/` deleted, with `NAME.err`.
//! The exit status must be non-zero exactly when `NAME.err` is not empty. In QEMU's source
//! tree, only the cases its `meson.build` lists run, as there.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ci::cargo;

/// Builds `qapi-dump` (debug) and returns its path.
pub fn build_qapi_dump() -> Result<PathBuf> {
    cargo(&[
        "build",
        "--quiet",
        "-p",
        "qapi-parser",
        "--bin",
        "qapi-dump",
    ])?;
    Ok(testenv::target_dir().join("debug").join("qapi-dump"))
}

pub fn run(dir: Option<PathBuf>) -> Result<()> {
    let dir = match dir {
        Some(dir) => dir,
        None => crate::reference::ensure().map(|_| crate::reference::test_cases())?,
    };
    let dir = dir
        .canonicalize()
        .with_context(|| format!("test case directory {}", dir.display()))?;
    let (Some(parent), Some(dir_name)) = (dir.parent(), dir.file_name()) else {
        bail!("{} has no parent directory", dir.display());
    };
    let dir_name = dir_name.to_string_lossy().into_owned();

    let tool = build_qapi_dump()?;

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".out").map(str::to_string)
        })
        .collect();
    // In QEMU's source tree, its meson.build says which cases run (a few stale ones do not).
    if let Ok(meson) = std::fs::read_to_string(dir.join("meson.build")) {
        names.retain(|name| meson.contains(&format!("'{name}.json'")));
    }
    names.sort();

    let (mut passed, mut failed) = (0usize, 0usize);
    for name in &names {
        match run_case(&tool, parent, &dir, &dir_name, name)? {
            None => passed += 1,
            Some(report) => {
                failed += 1;
                println!("{name} FAIL\n{report}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} conformance case(s) failed");
    }
    Ok(())
}

/// Runs one case; `Some(diff)` when it fails.
fn run_case(
    tool: &Path,
    parent: &Path,
    dir: &Path,
    dir_name: &str,
    name: &str,
) -> Result<Option<String>> {
    let read = |ext: &str| {
        let path = dir.join(format!("{name}.{ext}"));
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    };
    let (want_out, want_err) = (read("out")?, read("err")?);
    let output = Command::new(tool)
        .arg(format!("{dir_name}/{name}.json"))
        .current_dir(parent)
        .output()
        .with_context(|| format!("running {}", tool.display()))?;
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr).replace(&format!("{dir_name}/"), "");
    let mut report = String::new();
    if out != want_out {
        report.push_str(&diff(&format!("{name}.out"), &want_out, &out));
    }
    if err != want_err {
        report.push_str(&diff(&format!("{name}.err"), &want_err, &err));
    }
    if output.status.success() != want_err.is_empty() {
        report.push_str(&format!(
            "exit status {} but {name}.err is {}\n",
            output.status,
            if want_err.is_empty() {
                "empty"
            } else {
                "not empty"
            }
        ));
    }
    Ok((!report.is_empty()).then_some(report))
}

/// A line diff (longest common subsequence), `-` expected, `+` actual.
fn diff(label: &str, want: &str, got: &str) -> String {
    let a: Vec<&str> = want.lines().collect();
    let b: Vec<&str> = got.lines().collect();
    let mut out = format!("--- {label} (expected)\n+++ {label} (actual)\n");
    if a.len() * b.len() > 4_000_000 {
        let first = a
            .iter()
            .zip(&b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        out.push_str(&format!("first difference at line {}\n", first + 1));
        return out;
    }
    // lcs[i][j] = length of the LCS of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!(" {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        }
    }
    if want.ends_with('\n') != got.ends_with('\n') {
        out.push_str("(final newline differs)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::diff;

    #[test]
    fn diff_marks_changed_lines() {
        let d = diff("x", "a\nb\nc\n", "a\nB\nc\n");
        assert!(d.contains("-b\n"));
        assert!(d.contains("+B\n"));
        assert!(d.contains(" a\n"));
    }
}
