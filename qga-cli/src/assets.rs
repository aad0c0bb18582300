//! Shell completions and the man page, generated from the clap definition; `cargo xtask dist`
//! (or a packager) runs `qga generate-assets DIR` or calls [`generate`].

use crate::cli::Cli;
use clap::CommandFactory;
use clap_complete::Shell;
use std::path::Path;

/// Writes `qga.bash`, `_qga` (zsh), `qga.fish` and `qga.1` into `dir` (created if needed).
pub fn generate(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut command = Cli::command();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut command, "qga", dir)?;
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    std::fs::write(dir.join("qga.1"), page)
}
