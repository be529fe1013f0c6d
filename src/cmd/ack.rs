//! `hl7 ack`: ACK/NAK messages for messages on stdin (issue 4).

use std::path::PathBuf;

use super::{Error, Exit, Global, Result};

/// Build one ACK (or NAK) for each input message
///
/// Delimiters are copied from the inbound message, sender and receiver swapped, MSH-9 is
/// ACK^<trigger>^ACK, MSA-2 echoes MSH-10, and the ERR segment has the shape of the message's
/// version. Original (AA/AE/AR) or enhanced (CA/CE/CR) mode follows MSH-15/MSH-16 unless --mode.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Input files; stdin when none or -
    pub files: Vec<PathBuf>,
    /// Acknowledgment code
    #[arg(long, value_enum)]
    pub code: Option<AckCode>,
    /// Text for MSA-3 / ERR
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
    /// Error code for ERR (HL7 table 0357, e.g. 207)
    #[arg(long, value_name = "N")]
    pub error_code: Option<u32>,
    /// original (AA/AE/AR) or enhanced (CA/CE/CR)
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// MSH-3 of the ACKs
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// MSH-4 of the ACKs
    #[arg(long, value_name = "NAME")]
    pub facility: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = AckTo::Hl7)]
    pub to: AckTo,
    /// Input format, instead of detecting it
    #[arg(long, value_enum)]
    pub from: Option<super::FromFormat>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[value(rename_all = "UPPER")]
pub enum AckCode {
    Aa,
    Ae,
    Ar,
    Ca,
    Ce,
    Cr,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Original,
    Enhanced,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckTo {
    Hl7,
    Mllp,
}

pub fn run(_args: Args, _global: &Global) -> Result<Exit> {
    Err(Error::not_implemented("ack", 4))
}
