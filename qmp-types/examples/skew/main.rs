//! `cargo run -p qmp-types --example skew -- SOCKET`: how the bindings (QEMU 10.0.2's schema,
//! every condition on) and the QEMU behind the QMP unix socket SOCKET differ, then every
//! argument-less query of that QEMU run through the typed client.
//!
//! The report compares the bindings' introspection (`qmp_types::SCHEMA_INFO`) with the live
//! `query-qmp-schema`, per command and event; `since` comes from the bindings' schema docs
//! (`schema/qmp`). The last line is `N passed, M failed`: a query passes when its reply
//! decodes in the default, lenient mode. Exits non-zero when one fails.

mod queries;
mod since;

use qapi_runtime::{Greeting, Skew};
use qmp_types::{Client, VersionInfo};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(socket), None) = (args.next(), args.next()) else {
        eprintln!("usage: skew SOCKET   (a QMP unix socket, e.g. from -qmp unix:SOCKET,server=on,wait=off)");
        return ExitCode::from(2);
    };
    match run(&socket) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("skew: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(socket: &str) -> Result<bool, Box<dyn std::error::Error>> {
    let stream = UnixStream::connect(socket).map_err(|e| format!("connecting to {socket}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut client = Client::new(stream);
    let greeting = Greeting::from_message(&client.connection().qmp_handshake()?)?;
    let version: VersionInfo = greeting.version()?;
    let live = client.connection().capabilities()?;
    let bindings = qmp_types::schema_info();
    println!(
        "QEMU {}.{}.{} {}: {} commands, {} events; the bindings (QEMU 10.0.2): {} commands, {} events",
        version.qemu.major,
        version.qemu.minor,
        version.qemu.micro,
        version.package,
        live.schema().commands().count(),
        live.schema().events().count(),
        bindings.commands().count(),
        bindings.events().count(),
    );

    let mut skew = Skew::compare(&bindings, live.schema());
    match since::SinceTable::load() {
        Ok(table) => skew.fill_since(|path| table.since(path)),
        Err(e) => eprintln!("skew: no since information ({e})"),
    }
    if skew.is_empty() {
        println!("No skew.");
    } else {
        print!("{skew}");
    }

    let queries = queries::argumentless_queries(&bindings);
    let outcome = queries::run(&mut client, &live, &queries, false)?;
    if !outcome.skipped.is_empty() {
        println!("Skipped (not in this QEMU): {}", outcome.skipped.join(", "));
    }
    for error in &outcome.errors {
        println!("answered with an error (not counted): {error}");
    }
    for failure in &outcome.failed {
        println!("FAILED {failure}");
    }
    println!(
        "{} passed, {} failed",
        outcome.passed.len(),
        outcome.failed.len()
    );
    Ok(outcome.failed.is_empty())
}
