//! Several agents at once (`-d` repeated, `--all`, `-s` repeated): the subcommand runs on each
//! in a bounded pool of threads; the output is one table with a row per target (or one JSON
//! line each), and the exit status is 0 only when every target succeeded.

use crate::cli::{Cmd, Global};
use crate::output::Report;
use crate::transport::{Agent, Target};
use crate::{Failure, Inputs};
use comfy_table::{presets, Table};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub fn run(
    targets: &[Target],
    command: &Cmd,
    global: &Global,
    timeout: Duration,
    inputs: &Inputs,
) -> Result<i32, Failure> {
    crate::fleet_safe(command)?;
    if targets.is_empty() {
        return Err(Failure::new("no running domains".into()));
    }
    let results: Vec<Mutex<Option<Result<Report, Failure>>>> =
        targets.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = global.jobs.clamp(1, targets.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(target) = targets.get(i) else { break };
                let result = Agent::connect(target, timeout)
                    .and_then(|mut agent| crate::execute(&mut agent, command, global, inputs));
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(result);
                }
            });
        }
    });
    let mut all_ok = true;
    let mut table = Table::new();
    table.load_preset(presets::UTF8_BORDERS_ONLY);
    table.set_header(["TARGET", "STATUS", "RESULT"]);
    for (target, slot) in targets.iter().zip(results) {
        let result = slot
            .into_inner()
            .ok()
            .flatten()
            .unwrap_or_else(|| Err(Failure::new("the worker thread failed".into())));
        let label = target.label();
        match result {
            Ok(report) => {
                all_ok &= report.exit == 0;
                let status = if report.exit == 0 {
                    "ok".to_owned()
                } else {
                    format!("exit {}", report.exit)
                };
                if global.json {
                    println!(
                        "{}",
                        json!({ "target": label, "return": report.json, "exit": report.exit })
                    );
                }
                table.add_row([label, status, report.text.trim_end().to_owned()]);
            }
            Err(failure) => {
                all_ok = false;
                // Messages about connecting already name the target.
                let message = failure
                    .message
                    .strip_prefix(&format!("{label}: "))
                    .unwrap_or(&failure.message);
                let message = crate::one_line(message);
                if global.json {
                    println!("{}", json!({ "target": label, "error": message }));
                }
                table.add_row([label, "error".to_owned(), message]);
            }
        }
    }
    if !global.json {
        println!("{table}");
    }
    Ok(if all_ok { 0 } else { 1 })
}
