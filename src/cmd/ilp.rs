//! `hl7 ilp`: rows to QuestDB over InfluxDB Line Protocol.

use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::time::Duration;

use hl7::client::ilp::{Batcher, Db, FlushError, Notice, OpenError, Text, sender_conf};
use hl7::client::receipts::{Receipts, Sent};
use hl7::transform::ilp::{self, Config, Encoder, Event};

use crate::shell::{Error, Exit, Global, Loc, Reporter, Result, Stats, exit, input};

/// Write rows (NDJSON or CSV) to QuestDB over InfluxDB Line Protocol
///
/// ADDR is http://HOST:PORT (ILP over HTTP: every flush is one transaction that the database
/// confirms; recommended), HOST:PORT (ILP over TCP, default localhost:9009), or a questdb-rs
/// configuration string ('http::addr=...;', 'tcp::addr=...;'). Rows are flat JSON objects, one a
/// line (as `hl7 flatten` writes them), or CSV with a header.
///
/// A database that cannot be reached, restarts, times out or answers 5xx never costs rows: the
/// batch is kept and sent again with backoff (0.1 s doubling to 30 s), and no input is read
/// meanwhile, so the pipeline upstream waits (--give-up-after SECS bounds the wait). Over TCP the
/// database confirms nothing: rows written into the socket before it went away can be lost
/// without notice, and a batch sent again after a broken connection may arrive twice (create
/// the table with --print-ddl: its DEDUP keys make that harmless). Use HTTP where loss matters.
/// A row that cannot be encoded is reported with its line number and skipped (exit 1 at the
/// end); rows the database refuses are reported with their lines and skipped (exit 3).
#[derive(clap::Args, Debug)]
#[command(after_long_help = exit::after_help(AFTER_HELP, &Exit::ALL, &[]))]
pub struct Args {
    /// Database address: http://HOST:PORT (confirmed transactions), HOST:PORT (ILP over TCP:
    /// nothing is confirmed, rows can be lost when the database goes away), or a questdb-rs
    /// configuration string
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
    /// Flush after this many rows (a busy input, always ready, goes out in batches this big;
    /// whatever waits is also flushed as soon as the input pauses)
    #[arg(long, value_name = "N", default_value = "10000")]
    pub batch_rows: usize,
    /// Flush rows that have waited this many milliseconds, also while the input keeps coming
    /// (whatever waits is also flushed as soon as the input pauses)
    #[arg(long, value_name = "MS", default_value = "1000")]
    pub batch_ms: u64,
    /// Stop when a batch could not be delivered for this many seconds: exit 1, saying how many
    /// rows were not delivered and the input line they start at [default: never]
    #[arg(long, value_name = "SECS")]
    pub give_up_after: Option<u64>,
    /// Report committed messages back to `hl7 listen --ack-after delivered`; default: the
    /// address the marks name
    #[arg(long, value_name = "HOST:PORT")]
    pub receipts: Option<String>,
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
  Rows are flushed every --batch-rows rows, when the first waiting row has waited --batch-ms,
  as soon as the input pauses (so a trickle reaches the database within milliseconds), and at
  the end. Over HTTP each flush is one transaction the database confirms; a batch it refuses
  (HTTP 4xx: a bad type, name or line) is reported with its input lines and skipped (exit 3).
  When the database cannot be reached, restarts, times out or answers 5xx, the batch is kept
  and sent again, 0.1 s doubling to 30 s apart, for as long as it takes (--give-up-after SECS:
  then stop, report the rows not delivered and the input line they start at, exit 1). Until it
  goes through no input is read, so the commands upstream wait on the pipe; this is said once
  on stderr when it starts and once when it ends. Over TCP a broken connection is made again
  and the batch sent again (rows may arrive twice); rows the socket took before the database
  went away can be lost without notice. A summary (rows sent, flushes, errors) goes to stderr.

Receipts (hl7 listen --ack-after delivered):
  The input then holds delivery marks (lines starting with byte 0x1E), which are never rows.
  When every row read before a mark is committed (the database answered the flush holding
  them; refused rows are reported and do not hold marks back), hl7 ilp sends a receipt for
  it over TCP to the address the mark names, or to --receipts HOST:PORT; listen then sends
  the ACKs. Receipts never hold up rows: a receipts connection that fails is reported once and
  made again (at most 5 s apart), and the latest receipt sent then. Marks need ILP over HTTP:
  over TCP the database confirms nothing, and hl7 ilp stops with exit 2 at the first mark.
  With --dry-run, rows count as delivered once written and flushed to stdout, and receipts are
  sent then (for tests and benchmarks).

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
  hl7 ilp 'http::addr=db:9000;username=u;password=p;' --input rows.csv
  hl7 listen --ack-after delivered :2575 | hl7 flatten --map elisa.toml |
      hl7 ilp --map elisa.toml http://localhost:9000";

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
    if let Some(r) = &args.receipts
        && !host_port(r)
    {
        return Err(Error::usage(format!(
            "--receipts {r:?}: expected HOST:PORT"
        )));
    }
    let encoder = Encoder::new(config).map_err(Error::usage)?;
    let give_up = args.give_up_after.map(Duration::from_secs);
    let batch_ms = Duration::from_millis(args.batch_ms);
    let (batcher, db_addr) = if args.dry_run {
        let out = BufWriter::with_capacity(256 * 1024, io::stdout());
        let buf = ilp::Buffer::new(ilp::ProtocolVersion::V1);
        let sink = Box::new(Text(Box::new(out)));
        let b = Batcher::new(sink, buf, args.batch_rows, batch_ms, give_up);
        (b, "stdout".to_owned())
    } else {
        let conf = sender_conf(&args.addr).map_err(Error::usage)?;
        let db = match Db::open(&conf) {
            Ok(db) => db,
            Err(OpenError::Config(e)) => return Err(Error::usage(format!("{}: {e}", args.addr))),
            Err(OpenError::Unreachable(e)) => {
                return Err(Error::failure(format!(
                    "cannot connect to {} to ask its protocol version (protocol_version=auto): {e}; no rows were read",
                    args.addr
                )));
            }
        };
        let addr = db.addr().to_owned();
        let buf = db.new_buffer();
        (
            Batcher::new(db, buf, args.batch_rows, batch_ms, give_up),
            addr,
        )
    };
    let mut run = Run {
        batcher,
        encoder,
        report: Reporter::new("ilp", global),
        stats: Stats::new(global),
        receipts: Receipts::new(args.receipts.clone()),
        db_addr,
        skipped: 0,
        rows: 0,
        first: None,
        last: None,
        stop: None,
    };
    let (inputs, bar) = input::open_counted(&args.files, global, true, &mut run.report);
    let format = args.from.map(|f| match f {
        From::Ndjson => ilp::Format::Ndjson,
        From::Csv => ilp::Format::Csv,
    });
    for input in inputs {
        let name = input.name.clone();
        let read = ilp::read_rows(input.reader, format, |event| run.event(event, &name));
        if let Err(e) = read {
            input::read_error(&mut run.report, name.as_deref(), &e);
        }
        if run.stop.is_some() {
            break;
        }
    }
    if run.stop.is_none() {
        let result = run.flush(|b, n| b.flush(n));
        run.after(result);
    }
    if let Some(e) = &run.stop
        && e.exit == Exit::Usage
    {
        run.batcher.abandon();
    }
    run.finish_receipts();
    bar.finish_and_clear();
    let Run {
        batcher,
        report,
        stats,
        skipped,
        stop,
        ..
    } = run;
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
        if c.refused > 0 && e.exit == Exit::Failure {
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

/// `HOST:PORT`, roughly: something, a colon, a port number.
fn host_port(s: &str) -> bool {
    s.rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
}

/// Where a row is in the input: its file (None: stdin) and line.
type At = (Option<String>, u64);

/// One run: the rows' way from the reader to the database, and the receipts.
struct Run {
    batcher: Batcher,
    encoder: Encoder,
    report: Reporter,
    stats: Stats,
    receipts: Receipts,
    /// The database's address, for messages.
    db_addr: String,
    skipped: u64,
    rows: u64,
    /// Where the waiting batch starts and ends, to say which rows a flush held.
    first: Option<At>,
    last: Option<At>,
    /// Set when reading must stop.
    stop: Option<Error>,
}

impl Run {
    /// Handles one event of the reader; false stops reading.
    fn event(&mut self, event: Event, name: &Option<String>) -> bool {
        match event {
            Event::Row { line, fields } => {
                self.rows += 1;
                if self.rows.is_multiple_of(1024) {
                    let (b, skipped) = (&self.batcher, self.skipped);
                    self.stats.tick(&self.report, || progress(b, skipped));
                }
                match self.encoder.encode(fields, &mut self.batcher.buf) {
                    Ok(()) => {
                        if self.batcher.waiting() == 0 {
                            self.first = Some((name.clone(), line));
                        }
                        self.last = Some((name.clone(), line));
                        let result = self.flush(|b, n| b.row_added(n));
                        self.after(result)
                    }
                    Err(e) => {
                        self.skipped += 1;
                        self.report.error(&loc(name, line), &e);
                        true
                    }
                }
            }
            Event::Bad { line, error } => {
                self.skipped += 1;
                self.report.error(&loc(name, line), &error);
                true
            }
            Event::Idle => {
                let (b, skipped) = (&self.batcher, self.skipped);
                self.stats.tick(&self.report, || progress(b, skipped));
                let result = self.flush(|b, n| b.tick(n));
                let go = self.after(result);
                let sent = self.receipts.retry();
                self.said(sent);
                go
            }
            Event::Read => {
                let result = self.flush(|b, n| b.flush_if_old(n));
                self.after(result)
            }
            Event::Mark(mark) => {
                if !self.batcher.confirms() {
                    self.stop = Some(Error::usage(
                        "--ack-after delivered needs ILP over HTTP: the database confirms nothing over TCP",
                    ));
                    return false;
                }
                self.batcher.mark(mark);
                self.after(Ok(()))
            }
        }
    }

    /// Runs a batcher call that may flush, with the stall and resume notices on stderr.
    fn flush(
        &mut self,
        call: impl FnOnce(&mut Batcher, &mut dyn FnMut(Notice)) -> std::result::Result<(), FlushError>,
    ) -> std::result::Result<(), FlushError> {
        let (report, addr) = (&self.report, &self.db_addr);
        call(&mut self.batcher, &mut |notice| {
            match notice {
            Notice::Stalled { rows, error } => report.info(&format!(
                "the database at {addr} cannot be reached ({error}); holding {rows} rows and retrying (not reading input meanwhile)"
            )),
            Notice::Resumed { rows, waited } => report.info(&format!(
                "delivery to the database at {addr} resumed: {rows} rows waited {:.1} s",
                waited.as_secs_f64()
            )),
        }
        })
    }

    /// Reports a flush's failure (setting `stop` when reading should stop) and sends the
    /// receipt of a delivered mark. Returns false when reading should stop.
    fn after(&mut self, result: std::result::Result<(), FlushError>) -> bool {
        match result {
            Ok(()) => {}
            Err(FlushError::Refused { rows, error }) => {
                let lines = range(&self.first, &self.last);
                self.report.error(
                    &Loc::default(),
                    &format!("the database refused a batch of {rows} rows ({lines}): {error}"),
                );
            }
            Err(FlushError::Unreachable {
                rows,
                error,
                waited,
            }) => {
                let from = self.first.as_ref().map_or("?".into(), at);
                self.stop = Some(Error::failure(format!(
                    "the database at {} could not be reached for {:.0} s: {error}; {rows} rows from {from} on were not delivered, and no input after them was read",
                    self.db_addr,
                    waited.as_secs_f64()
                )));
            }
            Err(FlushError::Io(e)) => self.stop = Some(e.into()),
        }
        if let Some(mark) = self.batcher.take_delivered() {
            let sent = self.receipts.delivered(&mark);
            self.said(sent);
        }
        self.stop.is_none()
    }

    /// Reports what became of a receipt, when there is something to say.
    fn said(&mut self, sent: Sent) {
        match sent {
            Sent::Failed { to, error } => self.report.info(&format!(
                "cannot send receipts to {to} ({error}); rows are still delivered, and the latest receipt goes when the connection is back"
            )),
            Sent::Restored { to, .. } => {
                self.report.info(&format!("receipts to {to} go through again"));
            }
            Sent::Nothing | Sent::Sent(_) | Sent::Held => {}
        }
    }

    /// The last receipt, one more try when it has not gone.
    fn finish_receipts(&mut self) {
        if self.receipts.unsent().is_none() {
            return;
        }
        let sent = self.receipts.finish();
        self.said(sent);
        if let Some((to, r)) = self.receipts.unsent() {
            self.report.info(&format!(
                "the receipt for message {} of session {:016x} could not be sent to {to}",
                r.seq, r.session
            ));
        }
    }
}

fn loc(name: &Option<String>, line: u64) -> Loc {
    Loc {
        file: name.clone(),
        path: Some(format!("line {line}")),
        ..Loc::default()
    }
}

/// `line 3` or `a.csv line 3`.
fn at((file, line): &At) -> String {
    match file {
        Some(f) => format!("{f} line {line}"),
        None => format!("line {line}"),
    }
}

/// The input lines of a batch: `line 3`, `lines 3-9`, `a.csv lines 3-9`, or `a.csv line 9 to
/// b.csv line 2`.
fn range(first: &Option<At>, last: &Option<At>) -> String {
    match (first, last) {
        (Some((f1, l1)), Some((f2, l2))) if f1 == f2 => {
            let file = f1.as_ref().map(|f| format!("{f} ")).unwrap_or_default();
            if l1 == l2 {
                format!("{file}line {l1}")
            } else {
                format!("{file}lines {l1}-{l2}")
            }
        }
        (Some(a), Some(b)) => format!("{} to {}", at(a), at(b)),
        _ => "?".into(),
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
