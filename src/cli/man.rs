//! `hl7 man`: man pages generated from the clap tree.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::shell::{Error, Exit, Global, Result};

/// Write the man pages (hl7.1 and hl7-<command>.1) into DIR, or print hl7.1
#[derive(clap::Args, Debug)]
#[command(after_long_help = "Examples:\n  hl7 man man/\n  hl7 man | man -l -")]
pub struct Args {
    /// Directory to write the pages into; without it, hl7.1 goes to stdout
    pub dir: Option<PathBuf>,
}

/// Every page as (file name, roff text): hl7.1, then hl7-<cmd>.1 for each subcommand.
pub fn pages() -> io::Result<Vec<(String, Vec<u8>)>> {
    let cmd = super::command();
    let mut pages = Vec::new();
    let mut top = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut top)?;
    pages.push(("hl7.1".to_string(), top));
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let name = format!("hl7-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(name.clone())
            .display_name(name.clone())
            .version(cmd.get_version().unwrap_or_default().to_string());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub).render(&mut page)?;
        pages.push((format!("{name}.1"), page));
    }
    Ok(pages)
}

pub fn run(args: Args, _global: &Global) -> Result<Exit> {
    let pages = pages()?;
    match args.dir {
        Some(dir) => write_all(&dir, &pages)?,
        None => io::stdout().lock().write_all(&pages[0].1)?,
    }
    Ok(Exit::Ok)
}

fn write_all(dir: &Path, pages: &[(String, Vec<u8>)]) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::failure(format!("{}: {e}", dir.display())))?;
    for (name, text) in pages {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|e| Error::failure(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}
