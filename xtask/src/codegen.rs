//! `cargo xtask codegen [--check]`: regenerates `qga-types/src/generated.rs` from
//! `schema/qga/qapi-schema.json`; with `--check`, fails when the checked-in file is stale.

use crate::ci::workspace_root;
use anyhow::{bail, Context, Result};
use qapi_codegen::{Builder, Header, MemberOrder};

/// The qga schema's `if` conditions on the Rust targets we build for. qga-types' crate docs
/// explain each choice; keep the two in step.
pub const QGA_CFG: &[(&str, &str)] = &[
    ("CONFIG_LINUX", r#"target_os = "linux""#),
    ("CONFIG_POSIX", "unix"),
    ("CONFIG_WIN32", "windows"),
    ("CONFIG_FREEBSD", r#"target_os = "freebsd""#),
    (
        "CONFIG_FSFREEZE",
        r#"any(target_os = "linux", target_os = "freebsd")"#,
    ),
    ("CONFIG_FSTRIM", r#"target_os = "linux""#),
    ("HAVE_GETIFADDRS", "unix"),
    ("HAVE_UTMPX", "unix"),
    ("CONFIG_GETLOADAVG", "unix"),
    ("CONFIG_LIBUDEV", r#"target_os = "linux""#),
];

/// The builder that produces qga-types (also used by the staleness test).
pub fn qga_types_builder() -> Builder {
    let root = workspace_root();
    let mut builder = Builder::new()
        .schema(root.join("schema/qga/qapi-schema.json"))
        .member_order(MemberOrder::Qemu)
        .type_override("GuestFileRead.buf-b64", "qapi_runtime::Base64Bytes")
        .header(Header::ModuleDoc)
        .generated_by("`cargo xtask codegen`")
        .emit_rerun_if_changed(false);
    for (name, predicate) in QGA_CFG {
        builder = builder.cfg(name, predicate);
    }
    builder
}

pub fn run(check: bool) -> Result<()> {
    let output = qga_types_builder().generate()?;
    let path = workspace_root().join("qga-types/src/generated.rs");
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
