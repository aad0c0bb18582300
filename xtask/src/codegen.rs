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
        let fresh = output.check_fresh(&path);
        if fresh.is_ok() {
            eprintln!("codegen: {} is up to date", path.display());
        } else if let (true, Err(why)) = (check, fresh) {
            stale.push(why);
        } else {
            std::fs::write(&path, output.code)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("codegen: wrote {}", path.display());
        }
    }
    if !stale.is_empty() {
        bail!(
            "{}: run `cargo xtask codegen` and commit the result",
            stale.join("; ")
        );
    }
    Ok(())
}
