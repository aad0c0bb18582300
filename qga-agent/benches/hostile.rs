//! The 23 hostile inputs (`tests/common/hostile.rs`) against qga-agent and QEMU's qemu-ga side
//! by side: each input on a fresh agent, then a `guest-ping` on the same connection. Prints
//! per input whether the ping was answered there, the replies before it, and the agent's peak
//! resident memory (VmHWM), then the peak across all 23 for each agent.
//!
//! Run with `cargo bench -p qga-agent --bench hostile`. qemu-ga is `$QGA_REFERENCE` or found
//! on the path (`cargo xtask setup` installs it); without it only our figures are printed.
//! `QGA_HOSTILE_ONLY=<text>` runs the inputs whose name contains the text.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::hostile::{self, Outcome};

/// How long an agent may take to answer the ping after an input.
const LIMIT: Duration = Duration::from_secs(60);

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_qga-agent"));
    let reference = match std::env::var_os("QGA_REFERENCE") {
        Some(path) => Some(PathBuf::from(path)),
        None => testenv::external("qemu-ga"),
    };
    let only = std::env::var("QGA_HOSTILE_ONLY").unwrap_or_default();
    let mut rows = Vec::new();
    for case in hostile::cases() {
        if !case.name.contains(only.as_str()) {
            continue;
        }
        let mine = hostile::run(&ours, &case, LIMIT);
        let theirs = reference.as_ref().map(|r| hostile::run(r, &case, LIMIT));
        eprintln!("{}: ours {mine:?}\n  qemu-ga {theirs:?}", case.name);
        rows.push(Row {
            name: case.name,
            ours: mine,
            theirs,
        });
    }
    print_table(&rows);
}

/// One input's outcomes.
struct Row {
    name: &'static str,
    ours: Outcome,
    theirs: Option<Outcome>,
}

fn cell(outcome: Option<&Outcome>) -> [String; 3] {
    match outcome {
        None => ["-".into(), "-".into(), "-".into()],
        Some(o) => [
            match (o.answered, o.alive) {
                (true, _) => format!("yes ({:.1} s)", o.seconds),
                (false, true) => "no".into(),
                (false, false) => "no, died".into(),
            },
            if o.invalid > 0 {
                format!("{} ({} invalid)", o.replies, o.invalid)
            } else {
                o.replies.to_string()
            },
            o.peak_kib.to_string(),
        ],
    }
}

fn print_table(rows: &[Row]) {
    let header = [
        "input",
        "ours: answered",
        "replies",
        "peak KiB",
        "qemu-ga: answered",
        "replies",
        "peak KiB",
    ];
    let mut lines: Vec<[String; 7]> = vec![header.map(String::from)];
    for row in rows {
        let [a, b, c] = cell(Some(&row.ours));
        let [d, e, f] = cell(row.theirs.as_ref());
        lines.push([row.name.to_string(), a, b, c, d, e, f]);
    }
    let ours: Vec<&Outcome> = rows.iter().map(|r| &r.ours).collect();
    let theirs: Vec<&Outcome> = rows.iter().filter_map(|r| r.theirs.as_ref()).collect();
    let [a, c] = totals(&ours);
    let [d, f] = totals(&theirs);
    lines.push([
        "all inputs (peak: max)".into(),
        a,
        String::new(),
        c,
        d,
        String::new(),
        f,
    ]);
    let widths: Vec<usize> = (0..7)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        println!("{}", cells.join("  "));
    }
}

/// How many pings were answered, and the peak across all inputs.
fn totals(outcomes: &[&Outcome]) -> [String; 2] {
    if outcomes.is_empty() {
        return ["-".into(), "-".into()];
    }
    let answered = outcomes.iter().filter(|o| o.answered).count();
    let peak = outcomes.iter().map(|o| o.peak_kib).max().unwrap_or(0);
    [format!("{answered}/{}", outcomes.len()), peak.to_string()]
}
