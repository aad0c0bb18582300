//! `cargo xtask codegen [--check]`: regenerates the checked-in generated layers,
//! `qga-types/src/generated.rs` (from `schema/qga`) and `qmp-types/src/generated.rs` (from
//! `schema/qmp`); with `--check`, fails when one is stale.

use crate::ci::workspace_root;
use anyhow::{bail, Context, Result};

// QGA_CFG, GENERATED and qga_types_builder: qga-types' generator configuration, shared with
// its freshness test; likewise QMP_GENERATED and qmp_types_builder for qmp-types.
include!("../../qga-types/codegen.rs");
include!("../../qmp-types/codegen.rs");

pub fn run(check: bool) -> Result<()> {
    let root = workspace_root();
    let mut stale = Vec::new();
    for (builder, file) in [
        (qga_types_builder(&root), GENERATED),
        (qmp_types_builder(&root), QMP_GENERATED),
    ] {
        let output = builder.generate()?;
        let path = root.join(file);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == output.code {
            eprintln!("codegen: {} is up to date", path.display());
        } else if check {
            stale.push(path.display().to_string());
        } else {
            std::fs::write(&path, output.code)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("codegen: wrote {}", path.display());
        }
    }
    if !stale.is_empty() {
        bail!(
            "{} stale: run `cargo xtask codegen` and commit the result",
            stale.join(" and ")
        );
    }
    Ok(())
}
