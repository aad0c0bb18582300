//! `qapi-dump [--legacy] SCHEMA`: prints the checked schema in the format of QEMU's front-end
//! test harness, or the first error in QEMU's format (exit status 1).

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut options = qapi_parser::Options::default();
    let mut report = false;
    let mut schema = None;
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--legacy") => options.legacy = true,
            Some("--report") => report = true,
            Some("-h" | "--help") => {
                println!("usage: qapi-dump [--legacy] [--report] SCHEMA");
                return ExitCode::SUCCESS;
            }
            _ if schema.is_none() => schema = Some(arg),
            _ => {
                eprintln!("usage: qapi-dump [--legacy] [--report] SCHEMA");
                return ExitCode::from(2);
            }
        }
    }
    let Some(schema) = schema else {
        eprintln!("usage: qapi-dump [--legacy] [--report] SCHEMA");
        return ExitCode::from(2);
    };
    match qapi_parser::load(&schema, &options) {
        Ok(s) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(qapi_parser::dump(&s).as_bytes()).is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if report {
                eprintln!("{}", e.report());
            } else {
                eprintln!("{e}");
            }
            ExitCode::FAILURE
        }
    }
}
