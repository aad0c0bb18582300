//! gen-check step: the README's build-script recipe, built as written by a crate outside the
//! workspace. Each `// build.rs` block of the README's "From a build script" section becomes a
//! crate under `target/gen-check/recipe-N` with the section's `# Cargo.toml` and
//! `// src/lib.rs` blocks, the schemas of `schema/`, and `qapi-runtime`/`qapi-codegen` patched
//! to this workspace's paths; it must build with `-D warnings` (so no `unexpected cfg` either).

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// Where the recipe starts and ends in README.md.
const SECTION_START: &str = "From a build script";
const SECTION_END: &str = "Other builder options:";

/// The recipe's files, as the README writes them.
struct Recipe {
    manifest: String,
    lib: String,
    build_scripts: Vec<String>,
}

pub fn check(cargo: &str, root: &Path, base: &Path) -> Result<()> {
    let readme = std::fs::read_to_string(root.join("README.md")).context("reading README.md")?;
    let recipe = parse(&readme)?;
    let patch = format!(
        "\n# Added by `cargo xtask gen-check`: this workspace's crates instead of the registry's.\n\
         [patch.crates-io]\nqapi-runtime = {{ path = {:?} }}\nqapi-codegen = {{ path = {:?} }}\n\n\
         [workspace]\n",
        root.join("qapi-runtime").display().to_string(),
        root.join("qapi-codegen").display().to_string(),
    );
    let lock = std::fs::read(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    for (i, build) in recipe.build_scripts.iter().enumerate() {
        let dir = base.join(format!("recipe-{}", i + 1));
        let name = format!("readme-recipe-{}", i + 1);
        let manifest = format!(
            "[package]\nname = {name:?}\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n{}{patch}",
            recipe.manifest
        );
        write(&dir.join("Cargo.toml"), &manifest)?;
        write(&dir.join("build.rs"), build)?;
        write(&dir.join("src/lib.rs"), &recipe.lib)?;
        // The versions the workspace already uses, so the check needs no new downloads.
        std::fs::write(dir.join("Cargo.lock"), &lock).context("writing Cargo.lock")?;
        copy_dir(&root.join("schema"), &dir.join("schema"))?;
        let target = base.join("recipe-target");
        eprintln!(
            "$ (in {}) RUSTFLAGS='-D warnings' cargo build",
            dir.display()
        );
        let status = Command::new(cargo)
            .args(["build", "--quiet"])
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", &target)
            .env("RUSTFLAGS", "-D warnings")
            .status()
            .with_context(|| format!("running cargo in {}", dir.display()))?;
        if !status.success() {
            bail!("the README's recipe {} does not build as written", i + 1);
        }
    }
    eprintln!(
        "gen-check: the README's recipe builds warning-free ({} build scripts)",
        recipe.build_scripts.len()
    );
    Ok(())
}

/// The fenced blocks of the recipe section, sorted by the file their first line names.
fn parse(readme: &str) -> Result<Recipe> {
    let start = readme
        .find(SECTION_START)
        .context("README.md has no build-script recipe")?;
    let end = readme[start..]
        .find(SECTION_END)
        .map_or(readme.len(), |e| start + e);
    let mut manifest = None;
    let mut lib = None;
    let mut build_scripts = Vec::new();
    let mut blocks = readme[start..end].split("```").skip(1).step_by(2);
    for block in blocks.by_ref() {
        // The info string (`toml`, `rust`) ends the first line.
        let body = block.split_once('\n').map_or("", |(_, body)| body);
        match body.lines().next().unwrap_or("") {
            "# Cargo.toml" => manifest = Some(body.to_owned()),
            "// src/lib.rs" => lib = Some(body.to_owned()),
            "// build.rs" => build_scripts.push(body.to_owned()),
            other => bail!("README recipe: a block starting {other:?} names no file"),
        }
    }
    match (manifest, lib, build_scripts.is_empty()) {
        (Some(manifest), Some(lib), false) => Ok(Recipe {
            manifest,
            lib,
            build_scripts,
        }),
        _ => bail!(
            "README recipe: needs a `# Cargo.toml`, a `// src/lib.rs` and a `// build.rs` block"
        ),
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    qapi_codegen::write_if_changed(path, text)?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            let text = std::fs::read_to_string(entry.path())
                .with_context(|| format!("reading {}", entry.path().display()))?;
            write(&target, &text)?;
        }
    }
    Ok(())
}
