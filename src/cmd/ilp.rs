//! `hl7 ilp`: rows to QuestDB over InfluxDB Line Protocol (issue 5).

use std::path::PathBuf;

use super::{Error, Exit, Global, Result};

/// Write rows (NDJSON or CSV) to QuestDB over InfluxDB Line Protocol
///
/// ADDR is HOST:PORT (ILP over TCP, default localhost:9009), http://HOST:PORT (ILP over HTTP,
/// transactional), or a questdb-rs configuration string ('tcp::addr=...;', 'http::addr=...;').
/// Exit code 3 when the database refused rows.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Database address
    #[arg(default_value = "localhost:9009")]
    pub addr: String,
    /// Input files; stdin when none or -
    #[arg(long = "input", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The map used by flatten (table, symbols and timestamp defaults)
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Table name
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Columns written as symbols (tags)
    #[arg(long, value_name = "COL", value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// The designated timestamp column
    #[arg(long, value_name = "COL")]
    pub timestamp: Option<String>,
    /// Flush after this many rows
    #[arg(long, value_name = "N", default_value = "10000")]
    pub batch_rows: usize,
    /// Flush after this many milliseconds
    #[arg(long, value_name = "MS", default_value = "1000")]
    pub batch_ms: u64,
    /// Write the ILP text to stdout instead
    #[arg(long)]
    pub dry_run: bool,
    /// Print the QuestDB CREATE TABLE with DEDUP UPSERT KEYS for the map, so replays are idempotent
    #[arg(long)]
    pub print_ddl: bool,
    /// Input format: ndjson or csv (detected by default)
    #[arg(long, value_name = "FORMAT")]
    pub from: Option<String>,
}

pub fn run(_args: Args, _global: &Global) -> Result<Exit> {
    Err(Error::not_implemented("ilp", 5))
}
