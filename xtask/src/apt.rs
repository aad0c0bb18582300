//! The machine's own apt: its Debian mirror (read from its sources, never written in the
//! repository), bookworm-backports, installing packages, and downloading files from the
//! archive through apt's own acquire code (so apt's proxy settings apply).

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;
use testenv as host;

/// apt's source lists: deb822 `.sources` files and one-line `.list` files.
fn source_files() -> Vec<std::path::PathBuf> {
    let mut files = vec![std::path::PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "sources" || e == "list"))
            .collect();
        more.sort();
        files.extend(more);
    }
    files
}

/// The Debian mirror of the machine's `bookworm` suite, e.g. the `URIs:` of
/// `/etc/apt/sources.list.d/debian.sources`, without a trailing slash.
pub fn mirror() -> Result<String> {
    for file in source_files() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if let Some(uri) = mirror_in(&text) {
            return Ok(uri.trim_end_matches('/').to_string());
        }
    }
    bail!("no apt source for Debian bookworm in /etc/apt/sources.list(.d)")
}

/// The first URI serving the `bookworm` suite in one sources file (either format).
fn mirror_in(text: &str) -> Option<String> {
    // deb822: stanzas separated by blank lines, with `URIs:` and `Suites:` fields.
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
        };
        if let (Some(uris), Some(suites)) = (field("URIs:"), field("Suites:")) {
            if suites.split_whitespace().any(|s| s == "bookworm") {
                return uris.split_whitespace().next().map(str::to_string);
            }
        }
    }
    // One-line format: `deb [options] URI SUITE COMPONENTS...`.
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace().filter(|w| !w.starts_with('['));
        (words.next() == Some("deb")).then_some(())?;
        let uri = words.next()?;
        (words.next() == Some("bookworm")).then(|| uri.to_string())
    })
}

/// Downloads `pool_path` (e.g. `pool/main/q/qemu/...`) from the machine's mirror to `to`,
/// saying what it fetches first.
pub fn download(pool_path: &str, to: &Path) -> Result<()> {
    let url = format!("{}/{pool_path}", mirror()?);
    eprintln!("downloading {url} (into {})", to.display());
    let partial = to.with_extension("part");
    host::run(
        Command::new("/usr/lib/apt/apt-helper")
            .arg("download-file")
            .arg(&url)
            .arg(&partial),
    )
    .with_context(|| format!("downloading {url}"))?;
    std::fs::rename(&partial, to).with_context(|| format!("writing {}", to.display()))?;
    Ok(())
}

/// Adds bookworm-backports (on the machine's own mirror) to apt's sources unless some source
/// already names it, and refreshes the package lists. Needs root.
pub fn enable_backports() -> Result<()> {
    let present = source_files()
        .iter()
        .any(|f| std::fs::read_to_string(f).is_ok_and(|text| text.contains("bookworm-backports")));
    if present {
        return Ok(());
    }
    let path = Path::new("/etc/apt/sources.list.d/bookworm-backports.sources");
    let uri = mirror()?;
    eprintln!(
        "setup: adding bookworm-backports from {uri} to {}",
        path.display()
    );
    std::fs::write(
        path,
        format!(
            "Types: deb\nURIs: {uri}\nSuites: bookworm-backports\nComponents: main\n\
             Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        ),
    )
    .with_context(|| format!("writing {}", path.display()))?;
    host::run(Command::new("apt-get").args(["update", "-q"]))
}

/// `apt-get install` of `packages` (from bookworm-backports when `backports`), refreshing
/// stale package lists once if the first attempt fails. Needs root.
pub fn install(packages: &[&str], backports: bool) -> Result<()> {
    eprintln!(
        "setup: installing {}{}",
        packages.join(", "),
        if backports {
            " from bookworm-backports"
        } else {
            ""
        }
    );
    let attempt = || {
        let mut apt = Command::new("apt-get");
        apt.env("DEBIAN_FRONTEND", "noninteractive").args([
            "-o",
            "DPkg::Lock::Timeout=600",
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
        ]);
        if backports {
            apt.args(["-t", "bookworm-backports"]);
        }
        host::run(apt.args(packages))
    };
    if attempt().is_err() {
        // A fresh machine may have stale package lists.
        host::run(Command::new("apt-get").args(["update", "-q"]))?;
        attempt()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::mirror_in;

    #[test]
    fn mirror_from_deb822_skips_other_suites() {
        let text =
            "Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\n\n\
                    Types: deb\nURIs: http://m.example/debian\nSuites: bookworm bookworm-updates\n";
        assert_eq!(mirror_in(text).as_deref(), Some("http://m.example/debian"));
    }

    #[test]
    fn mirror_from_one_line_format() {
        let text = "# comment\ndeb [arch=amd64] http://m.example/debian bookworm main\n";
        assert_eq!(mirror_in(text).as_deref(), Some("http://m.example/debian"));
        assert_eq!(
            mirror_in("deb http://m.example/debian bullseye main\n"),
            None
        );
    }
}
