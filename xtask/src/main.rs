//! Project automation, run as `cargo xtask <task>` (see the cargo-xtask convention);
//! `cargo xtask --help` lists the tasks, `cargo xtask TASK --help` explains one.

mod apt;
mod ci;
mod codegen;
mod conformance;
mod differential;
mod dist;
mod gen;
mod introspect;
mod legacy;
mod oldqemu;
mod reference;
mod setup;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Project automation for qapi-rs: tests, code generation, reference checks against QEMU.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Option<Task>,
}

#[derive(Subcommand)]
enum Task {
    /// Everything CI checks (as root; installs what it needs); --quick: the pre-commit tier
    Ci {
        /// fmt, codegen freshness, clippy and the tests that need no root, VM, download or
        /// external program (those skip); installs and downloads nothing
        #[arg(long)]
        quick: bool,
    },
    /// Install what the tests need: QEMU and qemu-ga 10.0 from bookworm-backports, busybox... (root)
    Setup,
    /// Run QEMU's QAPI front-end test cases against qapi-dump
    Conformance {
        /// Directory of cases (NAME.json, NAME.out, NAME.err); default: QEMU 10.0.2's
        /// tests/qapi-schema, fetched by `qemu-scripts` when missing
        dir: Option<PathBuf>,
    },
    /// Regenerate qga-types' and qmp-types' src/generated.rs from schema/qga and schema/qmp
    Codegen {
        /// Fail if the checked-in file is stale instead of rewriting it
        #[arg(long)]
        check: bool,
    },
    /// Write a standalone Rust crate (Cargo.toml, src/lib.rs) for any schema
    Gen {
        /// The schema's main file
        schema: PathBuf,
        /// Where the crate goes
        out_dir: PathBuf,
        /// Read the schema in the old (QEMU 1.x-7.x) dialect
        #[arg(long)]
        legacy: bool,
    },
    /// Generate the crates CI checks (qga, QMP, QEMU's test cases) and build and clippy them
    GenCheck {
        /// Directory of QEMU's front-end test cases; default: the fetched QEMU 10.0.2 source
        #[arg(long)]
        cases: Option<PathBuf>,
    },
    /// Print the introspection (`query-qmp-schema`) of a schema for a set of conditions
    Introspect(introspect::Args),
    /// Start the guest agent on a unix socket and run a typed client session against it
    Demo,
    /// Download Debian bookworm's QEMU 7.2 and unpack it into target/old-qemu (skew tests)
    OldQemu,
    /// Fetch QEMU 10.0.2's Python QAPI scripts and front-end tests into target/qemu-src
    QemuScripts,
    /// Compare qapi-dump with QEMU's own front end on mutated and generated schemas
    Differential(differential::Args),
    /// Legacy mode against QEMU 5.2's and 7.2's schemas and test cases (downloads them)
    LegacyCheck {
        /// Also generate crates from their schemas and build and clippy them
        #[arg(long)]
        build: bool,
    },
    /// Build what a release ships into target/dist: static qga-agent, .deb, .rpm
    Dist {
        /// Then check them: static and stripped, package contents and relations, lintian
        #[arg(long)]
        check: bool,
    },
    /// End-to-end tests of the guest agent in a real VM (runs `cargo run -p vm-test -- ARGS`)
    #[command(disable_help_flag = true)]
    VmTest {
        /// Arguments for vm-test (`cargo xtask vm-test --help` shows its own)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    // `dist` (packaging) is merged here from its own branch: a `Dist` variant and its arm.
}

fn main() -> ExitCode {
    // Print the error chain plainly: a backtrace of xtask itself helps nobody.
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let Some(task) = cli.task else {
        Cli::command().print_help()?;
        return Ok(());
    };
    match task {
        Task::Ci { quick } => ci::run(quick),
        Task::Setup => setup::run(),
        Task::Conformance { dir } => conformance::run(dir),
        Task::Codegen { check } => codegen::run(check),
        Task::Gen {
            schema,
            out_dir,
            legacy,
        } => gen::run(&schema, &out_dir, legacy),
        Task::GenCheck { cases } => gen::ci_check(cases),
        Task::Introspect(args) => introspect::run(&args),
        Task::Demo => demo(),
        Task::OldQemu => oldqemu::run(),
        Task::QemuScripts => reference::run(),
        Task::Differential(args) => differential::run(&args),
        Task::LegacyCheck { build } => legacy::run(build),
        Task::VmTest { args } => vm_test(&args),
        Task::Dist { check } => dist::run(check),
    }
}

/// `cargo xtask demo`: builds the agent and runs its typed-client demo (`qga-agent/examples/demo.rs`).
fn demo() -> Result<()> {
    ci::cargo(&["build", "--quiet", "-p", "qga-agent"])?;
    ci::cargo(&["run", "--quiet", "-p", "qga-agent", "--example", "demo"])
}

/// `cargo xtask vm-test ARGS`: the VM tests live in their own crate (`vm-test`), because they
/// use the generated `qga-types` and xtask must build even when that code is stale.
pub fn vm_test(args: &[String]) -> Result<()> {
    let mut cargo_args = vec!["run", "--quiet", "-p", "vm-test", "--"];
    cargo_args.extend(args.iter().map(String::as_str));
    ci::cargo(&cargo_args)
}
