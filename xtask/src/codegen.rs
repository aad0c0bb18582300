//! `cargo xtask codegen [--check]`: regenerates `qga-types/src/generated.rs` from
//! `schema/qga/qapi-schema.json`; with `--check`, fails when the checked-in file is stale.

use crate::ci::workspace_root;
use anyhow::{bail, Context, Result};

// QGA_CFG, GENERATED and qga_types_builder: qga-types' generator configuration, shared with
// its freshness test.
include!("../../qga-types/codegen.rs");

pub fn run(check: bool) -> Result<()> {
    let root = workspace_root();
    let output = qga_types_builder(&root).generate()?;
    let path = root.join(GENERATED);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == output.code {
        eprintln!("codegen: {} is up to date", path.display());
        return Ok(());
    }
    if check {
        bail!(
            "{} is stale: run `cargo xtask codegen` and commit the result",
            path.display()
        );
    }
    std::fs::write(&path, output.code).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("codegen: wrote {}", path.display());
    Ok(())
}
