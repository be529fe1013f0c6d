//! `hl7 simulate`: seeded, realistic traffic (issue 3).

use std::path::PathBuf;

use super::{Error, Exit, Global, Result};

/// Generate realistic, seeded HL7 traffic
///
/// Profiles: vent (Elisa 800-style ventilator ORU^R01: numeric settings and measurements,
/// status/alarm bitfield words), monitor (vital signs), lab (ORU^R01 results), adt
/// (A01/A08/A40), orm (ORM^O01 radiology orders), pacs (ORM^O01, ORU^R01, ADT^A08, ADT^A40
/// mix), mdm (MDM^T02 with a base64 PDF), cycle (a fixed set of messages round-robin).
/// The same seed gives the same bytes. Without --count: 100 messages, or unlimited with --rate.
#[derive(clap::Args, Debug)]
#[command(
    after_long_help = "Examples:\n  hl7 simulate --profile vent --count 10 --seed 1\n  hl7 simulate --profile pacs --rate 1/s | hl7 send localhost:2575"
)]
pub struct Args {
    /// Traffic profile
    #[arg(long, value_enum, default_value_t = Profile::Vent)]
    pub profile: Profile,
    /// Number of messages
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Messages per second (N/s)
    #[arg(long, value_name = "N/s")]
    pub rate: Option<String>,
    /// Random seed: same seed, same bytes
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Number of devices (vent, monitor)
    #[arg(long, value_name = "N")]
    pub devices: Option<u32>,
    /// Size of the patient population
    #[arg(long, value_name = "N")]
    pub patients: Option<u32>,
    /// Clock start (HL7 TS or RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// HL7 version written in MSH-12
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = SimTo::Hl7)]
    pub to: SimTo,
    /// With --profile cycle: the messages to cycle through
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Vent,
    Monitor,
    Lab,
    Adt,
    Orm,
    Pacs,
    Mdm,
    Cycle,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimTo {
    Hl7,
    Mllp,
    Ndjson,
}

pub fn run(_args: Args, _global: &Global) -> Result<Exit> {
    Err(Error::not_implemented("simulate", 3))
}
