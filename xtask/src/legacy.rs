//! `cargo xtask legacy-check [--build]`: legacy mode against the schemas of older QEMU
//! releases, fetched from Debian's archive (QEMU 5.2 and 7.2 source tarballs).
//!
//! For each release, `qapi-dump --legacy` must accept its QMP schema, its guest-agent schema
//! and every positive case of its own front-end test suite (a `NAME.json` with an empty
//! `NAME.err`). With `--build`, crates generated from the QMP and guest-agent schemas must
//! also build and pass clippy with `-D warnings`.

use anyhow::{bail, Context, Result};
use std::process::Command;

/// Releases checked: version (the tarball's top directory) and tarball in Debian's pool.
const RELEASES: &[(&str, &str)] = &[
    ("5.2.0", "pool/main/q/qemu/qemu_5.2+dfsg.orig.tar.xz"),
    ("7.2.0", "pool/main/q/qemu/qemu_7.2+dfsg.orig.tar.xz"),
];

pub fn run(build: bool) -> Result<()> {
    let dump = crate::conformance::build_qapi_dump()?;
    let mut failures = 0usize;
    for (version, tarball) in RELEASES {
        let top = format!("qemu-{version}");
        let mut dir = crate::reference::source_dir(&top);
        if !dir.join("tests/qapi-schema").is_dir() {
            eprintln!("legacy-check: QEMU {version}'s schemas and test cases are not in {}; fetching them", dir.display());
            dir = crate::reference::fetch(
                tarball,
                &top,
                &["qapi", "qga/qapi-schema.json", "tests/qapi-schema"],
            )?;
        }
        let mut schemas = vec![
            dir.join("qapi/qapi-schema.json"),
            dir.join("qga/qapi-schema.json"),
        ];
        schemas.extend(crate::gen::positive_cases(&dir.join("tests/qapi-schema"))?);
        let mut accepted = 0usize;
        for schema in &schemas {
            let out = Command::new(&dump)
                .arg("--legacy")
                .arg(schema)
                .output()
                .with_context(|| format!("running {}", dump.display()))?;
            if out.status.success() {
                accepted += 1;
            } else {
                failures += 1;
                eprintln!(
                    "QEMU {version}: {} rejected:\n{}",
                    schema.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        eprintln!(
            "QEMU {version}: {accepted} of {} schemas accepted",
            schemas.len()
        );
        if build {
            let base = testenv::target_dir().join("legacy-check");
            let cargo = crate::ci::cargo_program();
            for (name, schema) in [("qmp", &schemas[0]), ("qga", &schemas[1])] {
                crate::gen::check_crate(&cargo, &base, &format!("{version}-{name}"), schema, true)?;
            }
        }
    }
    if failures > 0 {
        bail!("{failures} schemas rejected in legacy mode");
    }
    Ok(())
}
