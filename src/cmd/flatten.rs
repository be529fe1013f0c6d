//! `hl7 flatten`: OBX observations to rows (issue 5).

use std::path::PathBuf;

use super::{Error, Exit, Global, Result};

/// Turn OBX observations into flat rows
///
/// Without a map: one long row per OBX with timestamp, message control id, patient id,
/// observation id/text, sub-id, value, units, reference range, abnormal flags and status.
/// With a map (TOML): named variables, types, scaling, bitfields unpacked into named booleans,
/// tags and the table name.
#[derive(clap::Args, Debug)]
#[command(
    after_long_help = "Example:\n  hl7 listen :2575 | hl7 flatten --map samples/elisa.toml | hl7 ilp localhost:9009"
)]
pub struct Args {
    /// Input files; stdin when none or -
    pub files: Vec<PathBuf>,
    /// The TOML map of variables, bitfields, tags and the table name
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = FlatTo::Ndjson)]
    pub to: FlatTo,
    /// One row per message
    #[arg(long, conflicts_with = "long")]
    pub wide: bool,
    /// One row per observation (the default)
    #[arg(long)]
    pub long: bool,
    /// Time zone of HL7 times without an offset (IANA name, default UTC)
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Input format, instead of detecting it
    #[arg(long, value_enum)]
    pub from: Option<super::FromFormat>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlatTo {
    Ndjson,
    Csv,
}

pub fn run(_args: Args, _global: &Global) -> Result<Exit> {
    Err(Error::not_implemented("flatten", 5))
}
