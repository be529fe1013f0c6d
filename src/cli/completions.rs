//! `hl7 completions`: shell completion scripts generated from the clap tree.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use clap_complete::Shell;

use crate::shell::{Error, Exit, Global, Result};

/// Print a shell completion script (or write all of them with --dir)
#[derive(clap::Args, Debug)]
#[command(
    after_long_help = "Examples:\n  hl7 completions bash > ~/.local/share/bash-completion/completions/hl7\n  hl7 completions zsh > ~/.zfunc/_hl7\n  hl7 completions --dir completions"
)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell
    #[arg(value_enum, required_unless_present = "dir")]
    pub shell: Option<Shell>,
    /// Write the scripts for every shell (or the one named) into DIR
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The file name each shell expects.
pub fn file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "hl7.bash",
        Shell::Zsh => "_hl7",
        Shell::Fish => "hl7.fish",
        Shell::Elvish => "hl7.elv",
        Shell::PowerShell => "_hl7.ps1",
        _ => "hl7.completion",
    }
}

pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::Elvish,
    Shell::PowerShell,
];

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut cmd = super::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "hl7", &mut out);
    out
}

pub fn run(args: Args, _global: &Global) -> Result<Exit> {
    match args.dir {
        Some(dir) => {
            fs::create_dir_all(&dir)
                .map_err(|e| Error::failure(format!("{}: {e}", dir.display())))?;
            let shells: Vec<Shell> = args.shell.map(|s| vec![s]).unwrap_or(SHELLS.to_vec());
            for s in shells {
                let path = dir.join(file_name(s));
                fs::write(&path, script(s))
                    .map_err(|e| Error::failure(format!("{}: {e}", path.display())))?;
            }
        }
        None => {
            let shell = args.shell.expect("clap requires a shell without --dir");
            io::stdout().lock().write_all(&script(shell))?;
        }
    }
    Ok(Exit::Ok)
}
