//! `cargo xtask introspect SCHEMA [--cfg NAME]... [--cfg-file FILE] [--all-cfg] [--unmask]`:
//! prints (pretty) what QEMU's `query-qmp-schema` returns for a build of SCHEMA where the named
//! conditions hold (see `qapi_codegen::introspect`).

use anyhow::{Context, Result};
use qapi_codegen::Conditions;
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The schema's main file
    schema: PathBuf,
    /// A condition that holds (repeatable); all others are false
    #[arg(long = "cfg", value_name = "NAME")]
    cfg: Vec<String>,
    /// A file of conditions that hold, one a line, `#` comments (e.g. schema/qmp/debian-x86_64.cfg)
    #[arg(long, value_name = "FILE")]
    cfg_file: Option<PathBuf>,
    /// Every condition holds
    #[arg(long, conflicts_with_all = ["cfg", "cfg_file"])]
    all_cfg: bool,
    /// Print the names of every condition the schema uses instead, one a line
    #[arg(long)]
    list_conditions: bool,
    /// Keep type names instead of numbering them (QEMU's --unmask-non-abi-names)
    #[arg(long)]
    unmask: bool,
}

pub fn run(args: &Args) -> Result<()> {
    let schema = qapi_codegen::load_schema(&args.schema, false)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.schema.display()))?;
    if args.list_conditions {
        for name in qapi_codegen::condition_names(&schema) {
            println!("{name}");
        }
        return Ok(());
    }
    let conditions = if args.all_cfg {
        Conditions::All
    } else {
        let mut names: BTreeSet<String> = args.cfg.iter().cloned().collect();
        if let Some(file) = &args.cfg_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            if let Conditions::Only(listed) = Conditions::from_list(&text) {
                names.extend(listed);
            }
        }
        Conditions::Only(names)
    };
    let value = qapi_codegen::introspect(&schema, &conditions, args.unmask);
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}
