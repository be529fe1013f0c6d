//! `hl7 flatten`: OBX observations to rows. The work is in [`hl7::transform::flatten`]; this
//! file reads the inputs, reports and writes.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use hl7::transform::flatten::{Flattener, Format, Issue, Map, Options, Shape};

use crate::shell::input::{At, CharsetWarnings, Checked, Filter, Flow, Reading};
use crate::shell::{Error, Exit, Global, Reporter, Result, exit};

/// Turn OBX observations into flat rows (NDJSON or CSV)
///
/// Without a map: one long row per OBX with ts (OBX-14, else OBR-7, else MSH-7, as RFC 3339
/// UTC), control_id, sending_app, patient_id, set_id, observation_id/_text, coding_system,
/// sub_id, value_type, value (numbers) or text, units, reference_range, abnormal_flags, status
/// and equipment_id.
///
/// With a map (TOML): the table name, tags from field paths or from another observation's
/// value, a message filter, named and typed variables (scale, offset, unit), alarm-limit
/// variants, unit and value code lookups, status words unpacked into named bits, derived
/// columns, the time zone and what to do with observations the map does not name. See
/// hl7-map(5) (docs/map.md) for the format and samples/elisa.toml for a full example.
///
/// A map error is a usage error (exit 2) naming the line of the TOML file, found before any
/// input is read. A value that does not fit its declared type is reported with the message
/// number and path; the row is written without that column and the exit code is 1.
#[derive(clap::Args, Debug)]
#[command(after_long_help = exit::after_help(
    AFTER_HELP,
    &Exit::BASIC,
    &[(Exit::Failure, "also: values that do not fit their declared type")],
))]
pub struct Args {
    /// Input files; stdin when none or -
    pub files: Vec<PathBuf>,
    /// The TOML map of variables, bitfields, tags and the table name
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Output format: ndjson (typed JSON, one row a line) or csv (with a header line)
    #[arg(long, value_enum, default_value_t = FlatTo::Ndjson)]
    pub to: FlatTo,
    /// One row per message, one column per variable (the shape that suits QuestDB)
    #[arg(long, conflicts_with = "long")]
    pub wide: bool,
    /// One row per observation (the default)
    #[arg(long)]
    pub long: bool,
    /// Time zone of HL7 times without an offset (IANA name such as Europe/Oslo; overrides the
    /// map's timezone; default UTC)
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Input format, instead of detecting it
    #[arg(long, value_enum)]
    pub from: Option<crate::shell::FromFormat>,
    /// Check the map (and --tz), print its columns with their types and exit
    #[arg(long)]
    pub check: bool,
    /// Stop at the first invalid message or misfit value (exit 1)
    #[arg(long)]
    pub strict: bool,
}

const AFTER_HELP: &str = "\
Rows (long, no map):
  {\"ts\":\"2024-08-14T09:46:36Z\",\"control_id\":\"C1\",\"sending_app\":\"MON\",\"patient_id\":\"42\",
   \"set_id\":1,\"observation_id\":\"8867-4\",\"observation_text\":\"Heart rate\",\"coding_system\":\"LN\",
   \"value_type\":\"NM\",\"value\":72,\"units\":\"/min\",\"reference_range\":\"60-100\",\"status\":\"F\"}
Rows (long, samples/elisa.toml):
  {\"ts\":\"2024-08-14T09:46:36Z\",\"sending_app\":\"DATACAPTOR\",\"device_serial\":\"000000008204526\",...,
   \"variable\":\"generic_device_status\",\"variable_id\":\"801\",\"label\":\"Generic Device Status\",
   \"setting\":false,\"value\":46,\"unit\":\"unitless\",\"unit_code\":\"139\",\"gas_supplies_ok\":true,...}
Columns without a value are left out of NDJSON rows and empty in CSV rows.

The map (TOML; every key optional but a variable's code and name; hl7-map(5) has the details):
  table = \"pdm_medical_device\"   timezone = \"Europe/Oslo\"   unmapped = \"keep\"|\"drop\"|\"warn\"
  [timestamp]  column = \"ts\", paths = [\"OBX-14\", \"OBR-7\", \"MSH-7\"]  (the first with a time)
  [setting]    path = \"OBX-13\", equals = \"SETTING\"  (long rows: setting = true/false)
  [[filter]]   path = \"OBR-10.2\", equals = \"Elisa 800\"  (or in = [..], matches = \"re\"; not)
  [tags], [columns]
               NAME = \"PATH\", or NAME = { path = \"PATH\" | paths = [..] (joined by separator)
               | observation = \"CODE\" (its OBX-5), regex = \"..\", replace = \"$1\", default }
  [variants]   UpperAlarmLimit = \"upper_alarm_limit\"  (1414-UpperAlarmLimit: own column)
  [units]      \"39\" = \"cmH2O\"  (OBX-6.1 code -> unit)
  [codes.NAME] kk = \"Volume adaptive BiLevel\"  (code -> meaning)
  [[variable]] code = \"1414\" (OBX-3.1), name = \"peak_airway_pressure\", sub_id (OBX-4),
               app (MSH-3), label, type = float|int|bool|string, scale, offset, unit,
               codes = \"NAME\" or { code = meaning }, variants = [\"UpperAlarmLimit\"],
               bits = { gas_supplies_ok = 1, mode = \"4-6\" }, raw = true (keep the word)
  [long]       columns = [\"variable\", \"variable_id\", \"label\", \"setting\", \"value\", \"text\",
               \"meaning\", \"unit\", \"unit_code\", \"sub_id\"]  (the observation columns)
Column names are letters, digits and _ (QuestDB-safe); names made from observation ids are obx_
then the id with every other character as _ (1414-UpperAlarmLimit -> obx_1414_UpperAlarmLimit).

Examples:
  hl7 flatten results.hl7 --to csv
  hl7 simulate --profile vent --count 10 | hl7 flatten --map samples/elisa.toml --wide
  hl7 flatten --map samples/elisa.toml --check
  hl7 listen :2575 | hl7 flatten --map samples/elisa.toml | hl7 ilp --map samples/elisa.toml http://localhost:9000";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlatTo {
    Ndjson,
    Csv,
}

pub fn run(args: Args, global: &Global) -> Result<Exit> {
    let map = match &args.map {
        Some(p) => Some(Map::load(p).map_err(|e| Error::usage(e.to_string()))?),
        None => None,
    };
    let shape = if args.wide { Shape::Wide } else { Shape::Long };
    let opts = Options {
        shape,
        format: match args.to {
            FlatTo::Ndjson => Format::Ndjson,
            FlatTo::Csv => Format::Csv,
        },
        timezone: args.tz.clone(),
    };
    let flat = Flattener::new(map.as_ref(), opts).map_err(|e| {
        Error::usage(match &args.tz {
            Some(_) => format!("--tz: {e}"),
            None => e,
        })
    })?;
    let stdout = io::stdout();
    let mut w = BufWriter::with_capacity(256 * 1024, stdout.lock());
    if args.check {
        let Some(map) = &map else {
            return Err(Error::usage("--check needs --map FILE"));
        };
        for s in [Shape::Long, Shape::Wide] {
            writeln!(
                w,
                "{} rows of table {}: timestamp {}, symbols {}, dedup keys {}",
                if s == Shape::Long { "long" } else { "wide" },
                map.table(),
                map.timestamp_column(),
                map.symbols(s).join(","),
                map.dedup_keys(s).join(",")
            )?;
            for c in map.columns(s) {
                writeln!(w, "  {} {}", c.name, c.ty.questdb())?;
            }
        }
        w.flush()?;
        return Ok(Exit::Ok);
    }
    let mut report = Reporter::new("flatten", global);
    let reading = Reading::new(&args.files, args.from).strict(args.strict);
    let mut flatten = Flatten {
        flat,
        w,
        out: Vec::with_capacity(1 << 20),
        issues: Vec::new(),
        strict: args.strict,
        messages: 0,
        rows: 0,
        skipped: 0,
    };
    reading.run(global, &mut report, &mut flatten)
}

/// What `hl7 flatten` does with each message: its rows, gathered in `out` and written in
/// large pieces, and its issues reported.
struct Flatten<'a, 'm> {
    flat: Flattener<'m>,
    w: BufWriter<io::StdoutLock<'a>>,
    out: Vec<u8>,
    issues: Vec<Issue>,
    strict: bool,
    messages: u64,
    rows: u64,
    skipped: u64,
}

impl Filter for Flatten<'_, '_> {
    const CHARSET_WARNINGS: CharsetWarnings = CharsetWarnings::Always;
    const JSON_ERROR_OFFSET: bool = true;

    fn message(&mut self, msg: Checked<'_>, at: At<'_>, report: &mut Reporter) -> Result<Flow> {
        let Ok(msg) = msg else {
            return Ok(Flow::Go);
        };
        self.messages += 1;
        let k = self.flat.message(&msg, &mut self.out, &mut self.issues);
        if k == 0 {
            self.skipped += 1;
        }
        self.rows += k;
        let mut stop = false;
        for i in self.issues.drain(..) {
            let l = at.loc_path(Some(i.path).filter(|p| !p.is_empty()));
            if i.error {
                report.error(&l, &i.what);
                stop |= self.strict;
            } else {
                report.warn(&l, &i.what);
            }
        }
        if self.out.len() >= 256 * 1024 {
            self.w.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(if stop { Flow::Stop } else { Flow::Go })
    }

    fn mark(&mut self, line: &[u8]) -> Result<()> {
        self.out.extend_from_slice(line);
        self.out.push(b'\n');
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.w.write_all(&self.out)?;
        self.out.clear();
        Ok(self.w.flush()?)
    }

    fn finish(&mut self) -> Result<()> {
        self.flat.finish(&mut self.out);
        self.flush()
    }

    fn counters(&self, _bytes: u64, secs: Option<f64>) -> Option<String> {
        let (messages, rows, skipped) = (self.messages, self.rows, self.skipped);
        Some(match secs {
            None => format!("{messages} messages, {rows} rows, {skipped} without rows"),
            Some(secs) => format!(
                "{messages} messages, {rows} rows, {skipped} without rows in {secs:.3} s ({:.0} rows/s)",
                rows as f64 / secs.max(1e-9)
            ),
        })
    }
}
