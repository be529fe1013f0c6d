//! `hl7 ilp`: rows to QuestDB over InfluxDB Line Protocol.

use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::time::Duration;

use hl7::client::ilp::{Batcher, Db, Destination, FlushError, sender_conf};
use hl7::transform::ilp::{self, Config, Encoder, Event};

use crate::shell::{Error, Exit, Global, Loc, Reporter, Result, exit, input};

/// Write rows (NDJSON or CSV) to QuestDB over InfluxDB Line Protocol
///
/// ADDR is HOST:PORT (ILP over TCP, default localhost:9009), http://HOST:PORT (ILP over HTTP,
/// transactional), or a questdb-rs configuration string ('tcp::addr=...;', 'http::addr=...;').
/// Rows are flat JSON objects, one a line (as `hl7 flatten` writes them), or CSV with a header.
/// Over HTTP every flush is one transaction that the database confirms, and a failed flush is
/// retried with backoff; over TCP the database cannot report errors (it closes the connection),
/// so rows can be lost without notice: use HTTP where loss matters. A row that cannot be
/// encoded is reported with its line number and skipped (exit 1 at the end).
#[derive(clap::Args, Debug)]
#[command(after_long_help = exit::after_help(AFTER_HELP, &Exit::ALL, &[]))]
pub struct Args {
    /// Database address
    #[arg(default_value = "localhost:9009")]
    pub addr: String,
    /// Input file (repeat for several); stdin when none or -
    #[arg(long = "input", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The flatten map the rows were made with: table, symbols, timestamp, column types and
    /// deduplication keys (flags override it)
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Table name [default: observations]
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Columns written as symbols (tags)
    #[arg(long, value_name = "COL", value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// The designated timestamp column: RFC 3339 text or epoch nanoseconds [default: ts]
    #[arg(long, value_name = "COL")]
    pub timestamp: Option<String>,
    /// Flush after this many rows
    #[arg(long, value_name = "N", default_value = "10000")]
    pub batch_rows: usize,
    /// Flush rows that have waited this many milliseconds (also when the input is quiet)
    #[arg(long, value_name = "MS", default_value = "1000")]
    pub batch_ms: u64,
    /// Write the ILP text to stdout instead
    #[arg(long)]
    pub dry_run: bool,
    /// With --map: the rows are flatten's --wide rows (one per message), not its long ones
    #[arg(long, requires = "map")]
    pub wide: bool,
    /// Print the QuestDB CREATE TABLE with DEDUP UPSERT KEYS for the table, so replays are
    /// idempotent
    #[arg(long)]
    pub print_ddl: bool,
    /// Input format (detected by default: a first `{` is NDJSON, else CSV)
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub from: Option<From>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum From {
    /// One flat JSON object a line
    Ndjson,
    /// Comma-separated values with a header line
    Csv,
}

const AFTER_HELP: &str = "\
Table and columns:
  With --map (the flatten map the rows were made with; --wide for flatten --wide rows), the
  table, symbols, timestamp, column types (int columns are sent as LONG) and deduplication
  keys come from the map; --table, --symbols and --timestamp override it. Without a map:
  table observations, timestamp ts, no symbols.
  Names are sanitized for QuestDB: each of ? . , ' \" \\ / : ( ) + - * % ~, whitespace and
  control characters becomes _ (1414-UpperAlarmLimit -> 1414_UpperAlarmLimit).
  A column not declared keeps one type, set by its first value: a number makes a DOUBLE
  (3 is sent as 3.0), true/false a BOOLEAN, text a VARCHAR; --symbols columns are SYMBOLs.
  A value that does not fit its column's type makes its row an error. CSV fields are typed
  the same way from their text. null and empty CSV fields are absent. Newlines in text
  become spaces.
  The timestamp column holds RFC 3339 text (2024-08-14T09:46:36Z, fractions and offsets
  allowed) or integer epoch nanoseconds; a row without it gets the server's time.

Delivery:
  A batch is flushed every --batch-rows rows or when its first row has waited --batch-ms,
  whichever comes first, and at the end. Over HTTP the client retries a failed flush with
  backoff (retry_timeout, default 10 s; set it in a configuration string); a batch the
  database refuses is reported and counted (exit 3). If the database cannot be reached after
  the retries, hl7 ilp stops, reports the rows that were not delivered and the input line
  they start at, and exits 1. Over TCP a broken connection is reopened for up to 10 s and
  the batch sent again. A summary (rows sent, flushes, errors) goes to stderr.

Replays:
  Create the table first with --print-ddl: QuestDB then deduplicates on the timestamp and
  the symbols (the map's keys with --map), so sending the same capture twice keeps one copy of each row (and the
  designated timestamp column keeps its name; a table QuestDB creates by itself from ILP
  calls it \"timestamp\").

Examples:
  hl7 simulate --profile vent --count 10 | hl7 flatten --map samples/elisa.toml |
      hl7 ilp --map samples/elisa.toml --dry-run
  hl7 ilp --map samples/elisa.toml --print-ddl
  hl7 listen :2575 | hl7 flatten --map elisa.toml --wide | hl7 ilp --map elisa.toml --wide http://localhost:9000
  hl7 ilp --table vent --symbols device_serial,variable_id --print-ddl
  hl7 ilp 'http::addr=db:9000;username=u;password=p;retry_timeout=60000;' --input rows.csv";

/// The table, symbols, timestamp, column types and deduplication keys: from the flatten map
/// when one is given (for its long rows, or wide with `--wide`), then from the flags.
fn config(args: &Args) -> Result<Config> {
    let mut config = Config::default();
    if let Some(path) = &args.map {
        use hl7::transform::flatten::{ColumnType as T, Map, Shape};
        let map = Map::load(path).map_err(|e| Error::usage(e.to_string()))?;
        let shape = if args.wide { Shape::Wide } else { Shape::Long };
        let own = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
        config.table = map.table().into();
        config.timestamp = map.timestamp_column().into();
        config.symbols = own(map.symbols(shape));
        config.dedup_keys = own(map.dedup_keys(shape));
        config.types = map
            .columns(shape)
            .into_iter()
            .filter(|c| !matches!(c.ty, T::Timestamp | T::Symbol))
            .map(|c| (c.name, c.ty))
            .collect();
    }
    if let Some(t) = &args.table {
        config.table = t.clone();
    }
    // Flags override the map.
    if let Some(t) = &args.timestamp {
        for k in &mut config.dedup_keys {
            if *k == config.timestamp {
                k.clone_from(t);
            }
        }
        config.timestamp = t.clone();
    }
    if !args.symbols.is_empty() {
        config.symbols = args.symbols.clone();
        config.dedup_keys.clear();
    }
    let (ts, symbols) = (&config.timestamp, &config.symbols);
    config
        .types
        .retain(|(n, _)| n != ts && !symbols.contains(n));
    config.validate().map_err(Error::usage)?;
    Ok(config)
}

pub fn run(args: Args, global: &Global) -> Result<Exit> {
    let config = config(&args)?;
    if args.print_ddl {
        let ddl = ilp::ddl(&config).map_err(Error::usage)?;
        io::Write::write_all(&mut io::stdout().lock(), ddl.as_bytes())?;
        return Ok(Exit::Ok);
    }
    if args.batch_rows == 0 {
        return Err(Error::usage("--batch-rows must be at least 1"));
    }
    let mut encoder = Encoder::new(config).map_err(Error::usage)?;
    let dest = if args.dry_run {
        Destination::Text(Box::new(BufWriter::with_capacity(256 * 1024, io::stdout())))
    } else {
        let conf = sender_conf(&args.addr).map_err(Error::usage)?;
        match Db::connect(&conf) {
            Ok(db) => Destination::Db(db),
            Err(e) if e.code() == questdb::ErrorCode::ConfigError => {
                return Err(Error::usage(format!("{}: {}", args.addr, e.msg())));
            }
            Err(e) => {
                return Err(Error::failure(format!(
                    "cannot connect to {}: {}; no rows were read",
                    args.addr,
                    e.msg()
                )));
            }
        }
    };
    let mut batcher = Batcher::new(dest, args.batch_rows, Duration::from_millis(args.batch_ms));
    let mut report = Reporter::new("ilp", global);
    let (inputs, bar) = input::open_counted(&args.files, global, true, &mut report);
    let mut stats = crate::shell::Stats::new(global);
    let format = args.from.map(|f| match f {
        From::Ndjson => ilp::Format::Ndjson,
        From::Csv => ilp::Format::Csv,
    });
    let mut skipped = 0u64;
    // Where the waiting batch starts, to say which rows a failed flush held.
    let mut batch_start: Option<(Option<String>, u64)> = None;
    let mut stop: Option<Error> = None;
    let mut rows = 0u64;
    for input in inputs {
        let name = input.name.clone();
        let loc = |line: u64| Loc {
            file: name.clone(),
            path: Some(format!("line {line}")),
            ..Loc::default()
        };
        let read = ilp::read_rows(input.reader, format, |event| match event {
            Event::Row { line, fields } => {
                rows += 1;
                if rows.is_multiple_of(1024) {
                    stats.tick(&report, || progress(&batcher, skipped));
                }
                match encoder.encode(fields, &mut batcher.buf) {
                    Ok(()) => {
                        if batcher.waiting() == 0 {
                            batch_start = Some((name.clone(), line));
                        }
                        let result = batcher.row_added();
                        flushed(result, &batch_start, &mut report, &mut stop)
                    }
                    Err(e) => {
                        skipped += 1;
                        report.error(&loc(line), &e);
                        true
                    }
                }
            }
            Event::Bad { line, error } => {
                skipped += 1;
                report.error(&loc(line), &error);
                true
            }
            Event::Idle => {
                stats.tick(&report, || progress(&batcher, skipped));
                let result = batcher.tick();
                flushed(result, &batch_start, &mut report, &mut stop)
            }
            Event::Read => {
                let result = batcher.flush_if_old();
                flushed(result, &batch_start, &mut report, &mut stop)
            }
            // Receipts come in a later change.
            Event::Mark(_) => true,
        });
        if let Err(e) = read {
            input::read_error(&mut report, name.as_deref(), &e);
        }
        if stop.is_some() {
            break;
        }
    }
    if stop.is_none() {
        let result = batcher.flush();
        flushed(result, &batch_start, &mut report, &mut stop);
    }
    bar.finish_and_clear();
    if let Some(e) = &stop
        && e.broken_pipe
    {
        return Ok(Exit::Ok);
    }
    report.finish();
    stats.finish(&report, |secs| {
        format!("{} in {secs:.1} s", progress(&batcher, skipped))
    });
    let c = batcher.counts;
    if !global.quiet || c.refused + c.undelivered + skipped > 0 {
        let what = if args.dry_run { "written" } else { "sent" };
        report.info(&format!(
            "{} rows {what} in {} flushes; {skipped} rows skipped as invalid; {} refused by the database; {} not delivered",
            c.sent, c.flushes, c.refused, c.undelivered
        ));
    }
    if let Some(e) = stop {
        if c.refused > 0 {
            report.info(&e);
            return Ok(Exit::Rejected);
        }
        return Err(e);
    }
    Ok(if c.refused > 0 {
        Exit::Rejected
    } else if report.errors > 0 {
        Exit::Failure
    } else {
        Exit::Ok
    })
}

/// Reports a flush's failure; sets `stop` (and returns false) when reading should stop.
fn flushed(
    result: std::result::Result<(), FlushError>,
    batch_start: &Option<(Option<String>, u64)>,
    report: &mut Reporter,
    stop: &mut Option<Error>,
) -> bool {
    let from = || match batch_start {
        Some((Some(f), l)) => format!("{f} line {l}"),
        Some((None, l)) => format!("line {l}"),
        None => "?".into(),
    };
    match result {
        Ok(()) => true,
        Err(FlushError::Refused { rows, error }) => {
            report.error(
                &Loc::default(),
                &format!(
                    "the database refused a batch of {rows} rows (from {}): {error}",
                    from()
                ),
            );
            true
        }
        Err(FlushError::Unreachable { rows, error }) => {
            *stop = Some(Error::failure(format!(
                "the database could not be reached: {error}; {rows} rows from {} on were not delivered, and no input after them was read",
                from()
            )));
            false
        }
        Err(FlushError::Io(e)) => {
            *stop = Some(e.into());
            false
        }
    }
}

fn progress(batcher: &Batcher, skipped: u64) -> String {
    let c = batcher.counts;
    format!(
        "{} rows sent, {} waiting, {} flushes, {skipped} skipped, {} refused, {} not delivered",
        c.sent,
        batcher.waiting(),
        c.flushes,
        c.refused,
        c.undelivered
    )
}
