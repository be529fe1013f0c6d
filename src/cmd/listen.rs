//! `hl7 listen`: the MLLP server (issue 4).

use std::path::PathBuf;

use super::{Error, Exit, Global, Result};

/// Receive HL7 over MLLP, ACK each message, write them to stdout
///
/// Serves many connections on one or more addresses (channels). A message is ACKed with AA (or
/// CA) only after it has been written and flushed to stdout and, with --archive, appended and
/// fsynced to disk, so a message a sender saw ACKed is never lost. Frames that are not HL7 or
/// are too large get a NAK with a reason; the connection stays usable. Prints
/// "listening on ADDR" for each bound address to stderr, so port 0 works in scripts.
/// Logs name peers, control ids and counts, never message contents.
#[derive(clap::Args, Debug)]
#[command(
    after_long_help = "Examples:\n  hl7 listen :2575 | hl7 flatten --map elisa.toml | hl7 ilp localhost:9009\n  hl7 listen --to ndjson --meta --archive /var/lib/hl7 127.0.0.1:0"
)]
pub struct Args {
    /// Addresses to listen on: PORT, :PORT (all interfaces), HOST:PORT or [IPv6]:PORT; several = several channels
    #[arg(default_value = ":2575")]
    pub addrs: Vec<String>,
    /// Output: hl7 (segments joined by \r, a \n after each message), ndjson, or mllp (framed)
    #[arg(long, value_enum, default_value_t = ListenTo::Hl7)]
    pub to: ListenTo,
    /// With --to ndjson: add received time, peer, channel, control id and ACK code, and the raw message
    #[arg(long)]
    pub meta: bool,
    /// Name a channel: NAME=ADDR
    #[arg(long, value_name = "NAME=ADDR")]
    pub channel: Vec<String>,
    /// Append each message durably (fsync) to files under DIR before it is ACKed
    #[arg(long, value_name = "DIR")]
    pub archive: Option<PathBuf>,
    /// Archive file layout: strftime and field paths
    #[arg(
        long,
        value_name = "PATTERN",
        default_value = "%Y/%m/%d/{MSH-9.1}_{MSH-9.2}.hl7"
    )]
    pub archive_layout: String,
    /// ACK mode: auto honours MSH-15/MSH-16; original (AA/AE/AR); enhanced (CA/CE/CR); none
    #[arg(long, value_enum, default_value_t = AckMode::Auto)]
    pub ack_mode: AckMode,
    /// MSH-3 of the ACKs sent
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// MSH-4 of the ACKs sent
    #[arg(long, value_name = "NAME")]
    pub facility: Option<String>,
    /// Frames larger than this get a NAK and are discarded
    #[arg(long, value_name = "BYTES", default_value = "16777216")]
    pub max_message_size: u64,
    /// Close connections idle this long (seconds)
    #[arg(long, value_name = "SECS", default_value = "300")]
    pub idle_timeout: u64,
    /// Most connections served at once
    #[arg(long, value_name = "N", default_value = "1024")]
    pub max_connections: usize,
    /// Accept connections only from these networks
    #[arg(long, value_name = "CIDR", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Exit 0 after N messages have been received, written and ACKed
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// MLLP over TLS: certificate chain (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// MLLP over TLS: private key (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: accept only clients with a certificate signed by this CA (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenTo {
    Hl7,
    Ndjson,
    Mllp,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckMode {
    Auto,
    Original,
    Enhanced,
    None,
}

pub fn run(_args: Args, _global: &Global) -> Result<Exit> {
    Err(Error::not_implemented("listen", 4))
}
