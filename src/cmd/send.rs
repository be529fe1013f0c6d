//! `hl7 send`: the MLLP client (issue 4).

use std::path::PathBuf;

use super::{Error, Exit, Global, Result};

/// Send HL7 messages over MLLP and check each ACK
///
/// Sends each message framed, waits for its ACK (matched by MSA-2 = MSH-10) and prints one
/// result line per message. Exit code 3 when a peer answered AE/AR/CE/CR.
#[derive(clap::Args, Debug)]
#[command(
    after_long_help = "Examples:\n  hl7 send localhost:2575 messages.hl7\n  hl7 simulate --profile vent --rate 1/s | hl7 send --loop pacs:104"
)]
pub struct Args {
    /// Receiver: HOST:PORT
    pub addr: String,
    /// Input files; stdin when none or -
    pub files: Vec<PathBuf>,
    /// Results: ndjson ({"n","control_id","ack","latency_ms","error"}), hl7 (the ACKs), none
    #[arg(long, value_enum, default_value_t = SendTo::Ndjson)]
    pub to: SendTo,
    /// Write each accepted message to stdout instead of a result, so send can sit mid-pipeline like tee
    #[arg(long)]
    pub pass: bool,
    /// Seconds to wait for each ACK
    #[arg(long, value_name = "SECS", default_value = "30")]
    pub timeout: f64,
    /// Retries per message, with backoff
    #[arg(long, value_name = "N", default_value = "3")]
    pub retries: u32,
    /// Pace sending: N messages per second (N/s)
    #[arg(long, value_name = "N/s")]
    pub rate: Option<String>,
    /// Pace by the original gaps (listen --meta times, else MSH-7)
    #[arg(long)]
    pub replay: bool,
    /// With --replay: play faster (2) or slower (0.5)
    #[arg(long, value_name = "X", requires = "replay")]
    pub speed: Option<f64>,
    /// Repeat the input forever (use with --rate)
    #[arg(long = "loop")]
    pub loop_: bool,
    /// Parallel connections (order is kept per connection)
    #[arg(long, value_name = "N", default_value = "1")]
    pub connections: usize,
    /// Open a fresh connection for each message and close it after the ACK
    #[arg(long)]
    pub connection_per_message: bool,
    /// Fire and forget: do not wait for ACKs
    #[arg(long)]
    pub no_ack: bool,
    /// MLLP over TLS
    #[arg(long)]
    pub tls: bool,
    /// CA certificate to trust (PEM)
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM), for mutual TLS
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM)
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Input format, instead of detecting it
    #[arg(long, value_enum)]
    pub from: Option<super::FromFormat>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendTo {
    Ndjson,
    Hl7,
    None,
}

pub fn run(_args: Args, _global: &Global) -> Result<Exit> {
    Err(Error::not_implemented("send", 4))
}
