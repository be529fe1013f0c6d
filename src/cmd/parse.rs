//! `hl7 parse`: HL7 to NDJSON, CSV, a human table or normalized HL7, and NDJSON back to HL7.

use std::borrow::Cow;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use comfy_table::{ContentArrangement, Table, presets};
use hl7::model::message::{Message, Value};
use hl7::model::path::DotStyle;
use hl7::transform::csv;
use hl7::transform::json::{self, Notes, Shape};
use hl7::transform::select::Selection;

use crate::shell::input::{At, Bad, Checked, Filter, Flow, Reading};
use crate::shell::{Error, Exit, Global, Loc, Reporter, Result, exit};

/// Parse HL7 into NDJSON, CSV, a table or normalized HL7 (and NDJSON back into HL7)
///
/// Reads raw HL7 (segments ended by \r, \n or \r\n, blank lines, a BOM, several messages,
/// FHS/BHS batches), MLLP-framed captures or NDJSON from files or stdin, detected per stream.
/// An invalid message is reported on stderr with its number and byte offset and the rest of
/// the stream is still read; the exit code is then 1. Values are decoded: escapes resolved
/// (formatting escapes such as \.br\ kept as written) and bytes read in the MSH-18 charset.
#[derive(clap::Args, Debug)]
#[command(after_long_help = exit::after_help(AFTER_HELP, &Exit::BASIC, &[]))]
pub struct Args {
    /// Input files; stdin when none or -
    pub files: Vec<PathBuf>,
    /// Output format: ndjson (lossless JSON, one message a line), csv, table (for humans), hl7
    #[arg(long, value_enum, default_value_t = To::Ndjson)]
    pub to: To,
    /// NDJSON shape: segments (lossless, ordered) or paths (one flat object of path: value)
    #[arg(long, value_enum, default_value_t = ShapeArg::Segments)]
    pub shape: ShapeArg,
    /// Only these values, e.g. MSH-10,PID-3.1; one row per message, or per OBX when a path names OBX
    #[arg(long, value_delimiter = ',', value_name = "PATH,...")]
    pub select: Vec<String>,
    /// Stop at the first invalid message (exit 1)
    #[arg(long)]
    pub strict: bool,
    /// Input format, instead of detecting it from the first bytes
    #[arg(long, value_enum)]
    pub from: Option<crate::shell::FromFormat>,
    /// How to read a dot path with three numbers such as PID.1.5.1 (refused by default)
    #[arg(long, value_enum, default_value_t = DotArg::Refuse)]
    pub dot_style: DotArg,
}

const AFTER_HELP: &str = "\
Output formats:
  ndjson  {\"type\":\"ORU^R01\",\"control_id\":\"C1\",\"version\":\"2.5\",\"charset\":\"UTF-8\",
           \"segments\":[{\"id\":\"MSH\",\"fields\":[\"|\",\"^~\\\\&\",...]},...]}
          fields[n-1] is field n (MSH too: fields[0] is MSH-1). A field is a string, or an array
          of repetitions; a repetition a string or an array of components; a component a string
          or an array of subcomponents. HL7's null \"\" is JSON null. A segment whose text cannot
          be rebuilt from its decoded fields also carries \"raw\".
          With --shape paths: {\"MSH-9\":\"ORU^R01\",\"MSH-9.1\":\"ORU\",\"PID-5.1\":\"DOE\",...}
  csv     with --select: a header row of the paths, then one row per message (or per OBX);
          without: one row per value: message,control_id,path,value
  table   each message's fields with their standard names (or the selected values)
  hl7     each message's segments ended by \\r, and a \\n after each message

Paths: PID-5, PID-5.1, PID-5.1.2, PID-3[2].1 or PID-3(2).1 (repetition), OBX[2]-5 (second OBX).
A path naming a structure gives its HL7 text; a path naming a single value gives it decoded.
With a path naming OBX (OBX-5, OBX[*]-5), rows are per OBX, and other segments' paths read the
OBX's own segments first (its NTE), else the nearest one before it outside other OBX (its OBR).

Examples:
  hl7 parse messages.hl7 | jq .control_id
  hl7 parse --select MSH-10,PID-3.1,PID-5.1 --to csv messages.hl7
  hl7 parse --select MSH-10,OBX-3.1,OBX-5,OBX-6.1 --to csv results.hl7
  hl7 parse --to table message.hl7
  hl7 parse messages.hl7 | hl7 parse --to hl7        # NDJSON back to the same HL7";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum To {
    Ndjson,
    Csv,
    Table,
    Hl7,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapeArg {
    Segments,
    Paths,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DotArg {
    /// Refuse PID.1.5.1 and show both readings
    Refuse,
    /// PID.1.5.1 is field 1, component 5, subcomponent 1
    Field,
    /// PID.1.5.1 is the first PID, field 5, component 1
    Occurrence,
    /// PID.1.5.1 is field 1, repetition 5, component 1 (python-hl7)
    Repetition,
}

/// How rows are made from `--select`.
struct Select {
    selection: Selection,
    /// JSON keys, pre-escaped: `"MSH-10":`
    keys: Vec<Vec<u8>>,
}

pub fn run(args: Args, global: &Global) -> Result<Exit> {
    let style = match args.dot_style {
        DotArg::Refuse => DotStyle::Refuse,
        DotArg::Field => DotStyle::FieldComponent,
        DotArg::Occurrence => DotStyle::OccurrenceField,
        DotArg::Repetition => DotStyle::FieldRepetition,
    };
    let select = if args.select.is_empty() {
        None
    } else {
        let selection = Selection::parse(args.select.iter().map(String::as_str), style)
            .map_err(|e| Error::usage(e.to_string()))?;
        let keys = selection
            .paths()
            .iter()
            .map(|p| {
                let mut k = Vec::new();
                json::push_str(&mut k, &p.to_string());
                k.push(b':');
                k
            })
            .collect();
        Some(Select { selection, keys })
    };
    if select.is_some() && args.to == To::Hl7 {
        return Err(Error::usage(
            "--select makes rows: use --to ndjson, csv or table, not hl7",
        ));
    }
    if args.shape == ShapeArg::Paths && (args.to != To::Ndjson || select.is_some()) {
        return Err(Error::usage(
            "--shape paths goes with --to ndjson and no --select",
        ));
    }
    let mut report = Reporter::new("parse", global);
    let stdout = io::stdout();
    let out = Out {
        w: BufWriter::with_capacity(256 * 1024, stdout.lock()),
        to: args.to,
        shape: match args.shape {
            ShapeArg::Segments => Shape::Segments,
            ShapeArg::Paths => Shape::Paths,
        },
        select,
        json: json::Writer::new(),
        csv: csv::Writer::new(),
        line: Vec::with_capacity(64 * 1024),
        header_written: false,
        tty: io::stdout().is_terminal(),
        table_rows: Vec::new(),
    };
    let reading = Reading::new(&args.files, args.from).strict(args.strict);
    let mut parser = Parser {
        out,
        count: Counts::default(),
    };
    reading.run(global, &mut report, &mut parser)
}

/// What `hl7 parse` does with each message: write it out, and count.
struct Parser<'a> {
    out: Out<'a>,
    count: Counts,
}

impl Filter for Parser<'_> {
    fn message(&mut self, msg: Checked<'_>, at: At<'_>, report: &mut Reporter) -> Result<Flow> {
        let msg = match msg {
            Ok(msg) => msg,
            Err(Bad::NotMessage(..)) => {
                self.count.invalid += 1;
                return Ok(Flow::Go);
            }
            Err(_) => {
                self.count.tally(false);
                return Ok(Flow::Go);
            }
        };
        let declared = msg.separators().declared;
        if declared < 4 && !at.json {
            report.warn(
                &at.plus(4).loc_path(Some("MSH-2".into())),
                &format!("{declared} encoding characters declared where 4 are expected; the missing delimiters are not used"),
            );
        }
        self.out.message(&msg, at.message, report, &at.loc())?;
        self.count.tally(true);
        Ok(Flow::Go)
    }

    fn mark(&mut self, line: &[u8]) -> Result<()> {
        if self.out.to != To::Table {
            self.out.w.write_all(line)?;
            self.out.w.write_all(b"\n")?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        Ok(self.out.w.flush()?)
    }

    fn finish(&mut self) -> Result<()> {
        self.out.finish()
    }

    fn counters(&self, bytes: u64, secs: Option<f64>) -> Option<String> {
        Some(self.count.line(bytes, secs))
    }
}

#[derive(Default)]
struct Counts {
    ok: u64,
    bad: u64,
    invalid: u64,
}

impl Counts {
    fn tally(&mut self, ok: bool) {
        if ok { self.ok += 1 } else { self.bad += 1 }
    }

    fn line(&self, bytes: u64, secs: Option<f64>) -> String {
        let mut s = format!(
            "{} messages parsed, {} invalid, {} chunks not HL7, {bytes} bytes",
            self.ok, self.bad, self.invalid
        );
        if let Some(secs) = secs {
            s.push_str(&format!(
                " in {secs:.3} s ({:.1} MB/s)",
                bytes as f64 / 1e6 / secs.max(1e-9)
            ));
        }
        s
    }
}

struct Out<'a> {
    w: BufWriter<io::StdoutLock<'a>>,
    to: To,
    shape: Shape,
    select: Option<Select>,
    json: json::Writer,
    csv: csv::Writer,
    /// The output of one message (or row), written out in one call.
    line: Vec<u8>,
    header_written: bool,
    tty: bool,
    /// Rows of a `--select --to table`, drawn at the end.
    table_rows: Vec<Vec<String>>,
}

impl Out<'_> {
    fn finish(&mut self) -> Result<()> {
        if let Some(sel) = &self.select
            && self.to == To::Table
        {
            let mut table = new_table(self.tty);
            table.set_header(sel.selection.paths().iter().map(|p| p.to_string()));
            for row in self.table_rows.drain(..) {
                table.add_row(row);
            }
            writeln!(self.w, "{table}")?;
        }
        self.w.flush()?;
        Ok(())
    }

    fn message(
        &mut self,
        msg: &Message<'_>,
        n: u64,
        report: &mut Reporter,
        loc: &Loc,
    ) -> Result<()> {
        if self.select.is_some() {
            return self.rows(msg);
        }
        match self.to {
            To::Ndjson => {
                self.line.clear();
                let mut notes = Notes::default();
                self.json.write(&mut self.line, msg, self.shape, &mut notes);
                self.line.push(b'\n');
                self.w.write_all(&self.line)?;
                for seg in notes.unclean_escapes {
                    report.warn(
                        &Loc {
                            path: Some(seg),
                            ..loc.clone()
                        },
                        &"unknown or malformed escape sequence kept as written",
                    );
                }
            }
            To::Hl7 => {
                for seg in msg.segments() {
                    self.w.write_all(seg.bytes())?;
                    self.w.write_all(b"\r")?;
                }
                self.w.write_all(b"\n")?;
            }
            To::Csv => self.long_csv(msg, n)?,
            To::Table => self.table(msg, n)?,
        }
        Ok(())
    }

    /// One CSV row per value, in message order: message number, control id, path, value.
    fn long_csv(&mut self, msg: &Message<'_>, n: u64) -> Result<()> {
        let (csv, line) = (&self.csv, &mut self.line);
        line.clear();
        if !self.header_written {
            csv.record(line, [&b"message"[..], b"control_id", b"path", b"value"]);
            self.header_written = true;
        }
        let control = msg.control_id();
        let num = n.to_string();
        let (mut key, mut counts) = (String::new(), Vec::new());
        json::walk_paths(msg, &mut key, &mut counts, |path, v| {
            let text = if v.is_null() {
                Cow::Borrowed("\"\"")
            } else {
                v.text()
            };
            csv.record(
                line,
                [
                    num.as_bytes(),
                    control.as_bytes(),
                    path.as_bytes(),
                    text.as_bytes(),
                ],
            );
        });
        self.w.write_all(&self.line)?;
        Ok(())
    }

    fn table(&mut self, msg: &Message<'_>, n: u64) -> Result<()> {
        let mut table = new_table(self.tty);
        table.set_header(["Field", "Name", "Value"]);
        let mut counts: Vec<(Vec<u8>, usize, usize)> = Vec::new();
        for seg in msg.segments() {
            match counts.iter_mut().find(|c| c.0 == seg.id()) {
                Some(c) => c.2 += 1,
                None => counts.push((seg.id().to_vec(), 0, 1)),
            }
        }
        for seg in msg.segments() {
            let id = seg.id_str().into_owned();
            let entry = counts.iter_mut().find(|c| c.0 == seg.id()).map(|c| {
                c.1 += 1;
                (c.1, c.2)
            });
            let occ = match entry {
                Some((k, total)) if total > 1 => format!("[{k}]"),
                _ => String::new(),
            };
            let seg_name =
                hl7::model::fields::segment_name(&id).unwrap_or(if id.starts_with('Z') {
                    "Z-segment (site-defined)"
                } else {
                    ""
                });
            table.add_row([format!("{id}{occ}"), seg_name.to_string(), String::new()]);
            for (i, f) in seg.fields().enumerate() {
                if f.is_empty() {
                    continue;
                }
                let name = hl7::model::fields::field_name(&id, i + 1).unwrap_or("");
                let text = if f.is_null() {
                    Cow::Borrowed("\"\" (null)")
                } else {
                    f.text()
                };
                table.add_row([
                    format!("{id}{occ}-{}", i + 1),
                    name.to_string(),
                    shorten(&text, 200),
                ]);
            }
        }
        writeln!(
            self.w,
            "Message {n}: {} {} (version {})",
            msg.message_type(),
            msg.control_id(),
            msg.version()
        )?;
        writeln!(self.w, "{table}")?;
        writeln!(self.w)?;
        Ok(())
    }

    fn rows(&mut self, msg: &Message<'_>) -> Result<()> {
        let Some(select) = self.select.take() else {
            return Ok(());
        };
        let mut values = Vec::with_capacity(select.keys.len());
        let result = select
            .selection
            .rows(msg, &mut values, |values| self.row(&select, values));
        self.select = Some(select);
        result
    }

    /// Writes one row of `--select` values.
    fn row(&mut self, sel: &Select, values: &[Option<Value<'_>>]) -> Result<()> {
        match self.to {
            To::Ndjson => {
                self.line.clear();
                self.line.push(b'{');
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        self.line.push(b',');
                    }
                    self.line.extend_from_slice(&sel.keys[i]);
                    match v {
                        Some(v) if v.is_null() => self.line.extend_from_slice(b"null"),
                        Some(v) => json::push_str(&mut self.line, &v.text()),
                        None => self.line.extend_from_slice(b"\"\""),
                    }
                }
                self.line.extend_from_slice(b"}\n");
                self.w.write_all(&self.line)?;
            }
            To::Csv => {
                self.line.clear();
                if !self.header_written {
                    let header: Vec<String> = sel
                        .selection
                        .paths()
                        .iter()
                        .map(|p| p.to_string())
                        .collect();
                    self.csv
                        .record(&mut self.line, header.iter().map(|s| s.as_bytes()));
                    self.header_written = true;
                }
                let texts: Vec<Cow<'_, str>> = values
                    .iter()
                    .map(|v| v.map(|v| v.text()).unwrap_or_default())
                    .collect();
                self.csv
                    .record(&mut self.line, texts.iter().map(|s| s.as_bytes()));
                self.w.write_all(&self.line)?;
            }
            To::Table => {
                // A table is drawn once, at the end, with every row.
                self.table_rows.push(
                    values
                        .iter()
                        .map(|v| v.map(|v| shorten(&v.text(), 80)).unwrap_or_default())
                        .collect(),
                );
            }
            // refused before reading: --select makes rows
            To::Hl7 => {}
        }
        Ok(())
    }
}

fn new_table(tty: bool) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    if !tty {
        t.set_width(120);
    }
    t
}

/// At most `max` characters, with the full length noted when cut; control characters shown
/// as escapes so a table stays one row per value.
fn shorten(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .take(max)
        .map(|c| match c {
            '\r' => '␍',
            '\n' => '␊',
            c if c.is_control() => '·',
            c => c,
        })
        .collect();
    let total = s.chars().count();
    if total > max {
        format!("{clean}… ({total} characters)")
    } else {
        clean
    }
}
