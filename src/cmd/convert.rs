//! `hl7 convert`: template-driven rewriting (issue 6).

use std::path::PathBuf;

use super::{Error, Exit, Global, Result};

/// Rewrite messages through a template: HL7 to HL7, HL7 to JSON, JSON to HL7
///
/// --template renders each input message (HL7 or NDJSON) through a template with {{ PATH }}
/// placeholders and filters; the output is HL7, JSON, CSV or any text. --to hl7 turns the
/// NDJSON of `hl7 parse` back into the same HL7 bytes.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["template", "to"])))]
pub struct Args {
    /// Input files; stdin when none or -
    pub files: Vec<PathBuf>,
    /// Template file
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Without a template: hl7 (NDJSON back to HL7) or ndjson (as hl7 parse)
    #[arg(long, value_enum)]
    pub to: Option<ConvertTo>,
    /// Write each rendering to its own file: strftime and field paths, e.g. 'patients/patient_{PID-3.1}.json'
    #[arg(long, value_name = "PATTERN")]
    pub output: Option<String>,
    /// With --output: append to existing files
    #[arg(long, requires = "output")]
    pub append: bool,
    /// How inserted values are escaped (default from the template's extension)
    #[arg(long, value_enum)]
    pub escape: Option<EscapeArg>,
    /// A missing value is an error, not empty
    #[arg(long)]
    pub strict: bool,
    /// Also accept the {0-9} index placeholders of the old broker script
    #[arg(long)]
    pub legacy_placeholders: bool,
    /// Input format, instead of detecting it
    #[arg(long, value_enum)]
    pub from: Option<super::FromFormat>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvertTo {
    Hl7,
    Ndjson,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EscapeArg {
    Hl7,
    Json,
    None,
}

pub fn run(_args: Args, _global: &Global) -> Result<Exit> {
    Err(Error::not_implemented("convert", 6))
}
