//! `hl7 convert`: messages through a template (HL7 to HL7, HL7 to JSON, JSON to HL7, any text),
//! NDJSON back to HL7, and each rendering to its own file.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use hl7::model::message::Message;
use hl7::time::Stamp;
use hl7::transform::files::{FileError, Files};
use hl7::transform::json::{self, Documents, Found, Notes, Shape};
use hl7::transform::pattern::Pattern;
use hl7::transform::template::{self, Env, Escape, Input, Renderer, Template};
use serde_json::Value as Json;

use crate::shell::input::{At, Checked, Filter, Flow, Reading};
use crate::shell::{Error, Exit, Global, Loc, Reporter, Result, exit};

/// Rewrite messages through a template: HL7 to HL7, HL7 to JSON, JSON to HL7, any text
///
/// --template renders each input message (raw HL7, MLLP capture or NDJSON) through a template
/// with {{ PATH }} placeholders, filters, loops and conditionals; the output is HL7, JSON, CSV
/// or any text. --to hl7 turns the NDJSON of `hl7 parse` back into the same HL7 bytes, --to
/// ndjson writes what `hl7 parse` writes. --output sends each rendering to a file of its own.
///
/// An invalid input message is reported (message number, byte offset) and skipped; the exit
/// code is then 1. A template that does not parse is a usage error (exit 2) naming its line and
/// column, reported before any input is read.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["template", "to"])))]
#[command(after_long_help = exit::after_help(
    AFTER_HELP,
    &Exit::BASIC,
    &[(Exit::Failure, "also: a failed filter, or (--strict) a missing value")],
))]
pub struct Args {
    /// Input files; stdin when none or -
    pub files: Vec<PathBuf>,
    /// Template file (.hl7: HL7 output, .json: JSON output, other: text)
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Without a template: hl7 (NDJSON back to HL7) or ndjson (as hl7 parse)
    #[arg(long, value_enum)]
    pub to: Option<ConvertTo>,
    /// Write each rendering to its own file: strftime (%Y %m %d %H %M %S) and field paths, e.g.
    /// 'patients/patient_{PID-3.1}.json'
    #[arg(long, value_name = "PATTERN")]
    pub output: Option<String>,
    /// With --output: append to the files (one record a line), instead of replacing them
    #[arg(long, requires = "output")]
    pub append: bool,
    /// How inserted values are escaped (default from the template's extension: .hl7 hl7,
    /// .json json, other none)
    #[arg(long, value_enum)]
    pub escape: Option<EscapeArg>,
    /// A missing value is an error (message number, path), and a rendering with a missing value
    /// or a failed filter is not written; the other messages are still converted (exit code 1)
    #[arg(long)]
    pub strict: bool,
    /// Also accept the {S-F} index placeholders of the old broker script: segment S (0-based),
    /// field F of the segment split by '|' (so {0-9} is MSH-10)
    #[arg(long)]
    pub legacy_placeholders: bool,
    /// Input format, instead of detecting it
    #[arg(long, value_enum)]
    pub from: Option<crate::shell::FromFormat>,
}

const AFTER_HELP: &str = "\
Template language:
  {{ PID-5.1 }}  {{ OBX[2]-5 }}  {{ MSH-9.2 }}   field paths (the grammar of hl7 parse --select)
  {{ order.patient.id }}  {{ items[0].code }}    dotted paths into a JSON input ($.PID for a
                                                 key that looks like a segment id)
  {{ PID-7 | date(\"%Y-%m-%d\") | default(\"unknown\") }}   filters, left to right:
      default(V) upper lower trim replace(\"a\",\"b\") re_replace(\"regex\",\"$1\")
      date(\"strftime\"[, \"Europe/Berlin\"]) hl7 json raw base64decode base64encode
      first last join(\", \")
  {{ now }} {{ now(\"%Y-%m-%d\") }} {{ control_id }} {{ counter }} {{ \"literal\" }}
  {% for OBX %} {{ -5 }} {{ loop.index }} {% endfor %}      every OBX (of the enclosing OBR
                                                 when nested); -5 is the current one's field 5
  {% for PID-3 %} {{ .1 }} {% endfor %}          every repetition; .1 is its component 1
  {% for item in order.items %} {{ item.code }} {% endfor %}    a JSON array
  {% if PID-8 == \"F\" and not PV1-2 %} .. {% elif .. %} .. {% else %} .. {% endif %}
  {# a comment #}     a block tag alone on its line takes the line with it
Values are escaped for the output (--escape, default from the template's extension): HL7
escapes in .hl7 templates, JSON string escapes in .json templates. A field with components
(PID-5 = DOE^JOHN) goes into HL7 output as written. HL7 output: each template line is a
segment ended by \\r, blank lines dropped, a \\n after each message (as hl7 parse --to hl7).
JSON output: each rendering is checked and written on one line (NDJSON). Text output: a \\n is
added when the rendering does not end with one; base64decode output is written as bytes.
A rendering that is only whitespace writes nothing (use {% if %} to filter messages).

NDJSON input: a line written by hl7 parse (an object with \"segments\", first MSH) or hl7 listen
--meta (a \"raw\" message) is an HL7 message: field paths work, and JSON paths read the line.
Any other JSON object is a plain document: JSON paths only. A document may span lines.

Samples (samples/templates/ in the source tree):
  hl7 convert --template samples/templates/pacs_order_to_orm.hl7 order.json
  hl7 convert --template samples/templates/pacs_oru_to_report.json reports.hl7
  hl7 convert --template samples/templates/observation_record.json --output \\
      'patients/patient_{PID-3.1}.json' --append results.hl7
  hl7 convert --template samples/templates/pdf_attachment.tmpl --output \\
      'docs/{PID-3.1}_{OBR-2.1}.pdf' mdm.hl7
  hl7 convert --template samples/templates/ack.hl7 messages.hl7
  hl7 convert --template samples/templates/adt_vendor_a_to_b.hl7 adt.hl7
Other modes:
  hl7 parse messages.hl7 | hl7 convert --to hl7          # the same HL7 bytes back
  hl7 convert --to hl7 --output '%Y/%m/{MSH-10}.hl7' captured.ndjson";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvertTo {
    Hl7,
    Ndjson,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EscapeArg {
    Hl7,
    Json,
    None,
}

enum Mode {
    /// The template, its renderer, and --strict.
    Template(Box<Template>, Box<Renderer>, bool),
    To(ConvertTo, Box<json::Writer>),
}

/// Where renderings go: stdout, or one file each (--output).
struct Sink<'a> {
    stdout: BufWriter<io::StdoutLock<'a>>,
    files: Option<Files>,
}

pub fn run(args: Args, global: &Global) -> Result<Exit> {
    // Everything that can be a usage error is checked before any input is read.
    if args.to.is_some() && (args.escape.is_some() || args.strict || args.legacy_placeholders) {
        return Err(Error::usage(
            "--escape, --strict and --legacy-placeholders go with --template, not --to",
        ));
    }
    let mode = match (&args.template, args.to) {
        (Some(path), None) => {
            let src = fs::read(path).map_err(|e| {
                Error::usage(format!("cannot read the template {}: {e}", path.display()))
            })?;
            let src = String::from_utf8(src).map_err(|_| {
                Error::usage(format!("the template {} is not UTF-8 text", path.display()))
            })?;
            let escape = match args.escape {
                Some(EscapeArg::Hl7) => Escape::Hl7,
                Some(EscapeArg::Json) => Escape::Json,
                Some(EscapeArg::None) => Escape::None,
                None => Escape::from_file_name(path),
            };
            let t = Template::parse(
                &src,
                template::Options {
                    escape,
                    legacy_placeholders: args.legacy_placeholders,
                },
            )
            .map_err(|e| Error::usage(format!("template {}: {e}", path.display())))?;
            let env = Env {
                local: jiff::tz::TimeZone::system(),
                id_seed: hl7::id::run_seed(),
                collect_missing: args.strict,
            };
            Mode::Template(Box::new(t), Box::new(Renderer::new(env)), args.strict)
        }
        (None, Some(to)) => Mode::To(to, Box::new(json::Writer::new())),
        _ => return Err(Error::usage("give --template FILE or --to hl7|ndjson")),
    };
    let pattern = match &args.output {
        Some(p) => Some(Pattern::parse(p).map_err(|e| Error::usage(format!("--output: {e}")))?),
        None => None,
    };
    let mut report = Reporter::new("convert", global);
    let stdout = io::stdout();
    let sink = Sink {
        stdout: BufWriter::with_capacity(256 * 1024, stdout.lock()),
        files: pattern.map(|p| Files::new(p, args.append)),
    };
    let reading = Reading::new(&args.files, args.from);
    let mut convert = Convert {
        mode,
        sink,
        counts: Counts::default(),
        out: Vec::with_capacity(64 * 1024),
        hl7_buf: Vec::new(),
        docs: Vec::new(),
        n: 0,
        documents: Documents::default(),
    };
    reading.run(global, &mut report, &mut convert)
}

/// What `hl7 convert` does with each message or JSON document: convert it and write it.
struct Convert<'a> {
    mode: Mode,
    sink: Sink<'a>,
    counts: Counts,
    out: Vec<u8>,
    hl7_buf: Vec<u8>,
    docs: Vec<Found>,
    /// JSON documents of this input so far.
    n: u64,
    /// JSON documents that span lines, gathered until they parse.
    documents: Documents,
}

impl Filter for Convert<'_> {
    const JSON_LINES: bool = true;

    fn message(&mut self, msg: Checked<'_>, at: At<'_>, report: &mut Reporter) -> Result<Flow> {
        let Ok(msg) = msg else {
            self.counts.bad += 1;
            return Ok(Flow::Go);
        };
        let input = Input {
            message: Some(msg),
            json: None,
        };
        one(
            &mut self.mode,
            input,
            &mut self.out,
            &mut self.sink,
            report,
            &at.loc(),
            at.message,
            &mut self.counts,
        )?;
        Ok(Flow::Go)
    }

    fn json_line(&mut self, line: &[u8], at: At<'_>, report: &mut Reporter) -> Result<Flow> {
        self.documents.line(line, at.byte, &mut self.docs);
        for found in self.docs.drain(..) {
            self.n += 1;
            let at = At {
                message: self.n,
                ..at
            };
            match found {
                Ok((doc, offset)) => json_doc(
                    &mut self.mode,
                    &doc,
                    &mut self.hl7_buf,
                    &mut self.out,
                    &mut self.sink,
                    report,
                    &At { byte: offset, ..at }.loc(),
                    self.n,
                    &mut self.counts,
                )?,
                Err((why, offset)) => {
                    self.counts.bad += 1;
                    report.error(&At { byte: offset, ..at }.loc(), &why);
                }
            }
        }
        Ok(Flow::Go)
    }

    fn end_of_input(&mut self, file: Option<&str>, report: &mut Reporter) {
        if let Some(offset) = self.documents.finish() {
            self.n += 1;
            self.counts.bad += 1;
            let at = At {
                file,
                message: self.n,
                byte: offset,
                json: true,
            };
            report.error(
                &at.loc(),
                &"a JSON document is not complete at the end of the input",
            );
        }
        self.n = 0;
    }

    fn mark(&mut self, line: &[u8]) -> Result<()> {
        self.sink.stdout.write_all(line)?;
        Ok(self.sink.stdout.write_all(b"\n")?)
    }

    fn flush(&mut self) -> Result<()> {
        Ok(self.sink.stdout.flush()?)
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()
    }

    fn counters(&self, bytes: u64, secs: Option<f64>) -> Option<String> {
        Some(
            self.counts
                .line(bytes, self.sink.files.as_ref().map_or(0, |f| f.count), secs),
        )
    }
}

fn with_path(l: &Loc, path: &str) -> Loc {
    Loc {
        path: (!path.is_empty()).then(|| path.to_string()),
        ..l.clone()
    }
}

/// Converts one JSON document: an HL7 message in JSON, or (with a template) any document.
#[allow(clippy::too_many_arguments)]
fn json_doc(
    mode: &mut Mode,
    doc: &Json,
    hl7_buf: &mut Vec<u8>,
    out: &mut Vec<u8>,
    sink: &mut Sink<'_>,
    report: &mut Reporter,
    l: &Loc,
    n: u64,
    counts: &mut Counts,
) -> Result<()> {
    if !json::is_message(doc) {
        if let Mode::To(..) = mode {
            counts.bad += 1;
            report.error(
                l,
                &"not an HL7 message in JSON (an object with \"segments\" from hl7 parse, or \"raw\" from hl7 listen --meta)",
            );
            return Ok(());
        }
        let input = Input {
            message: None,
            json: Some(doc),
        };
        return one(mode, input, out, sink, report, l, n, counts);
    }
    hl7_buf.clear();
    if let Err(e) = json::to_hl7(doc, hl7_buf) {
        counts.bad += 1;
        report.error(l, &e);
        return Ok(());
    }
    match Message::parse(hl7_buf).and_then(|m| m.validate().map(|_| m)) {
        Ok(mut msg) => {
            msg.resolve_charset();
            let input = Input {
                message: Some(msg),
                json: Some(doc),
            };
            one(mode, input, out, sink, report, l, n, counts)
        }
        Err(e) => {
            counts.bad += 1;
            report.error(&with_path(l, e.path.as_deref().unwrap_or("")), &e.what);
            Ok(())
        }
    }
}

/// Converts one input and writes the result.
#[allow(clippy::too_many_arguments)]
fn one(
    mode: &mut Mode,
    input: Input<'_>,
    out: &mut Vec<u8>,
    sink: &mut Sink<'_>,
    report: &mut Reporter,
    l: &Loc,
    n: u64,
    counts: &mut Counts,
) -> Result<()> {
    out.clear();
    match mode {
        Mode::To(to, writer) => {
            let Some(msg) = input.message else {
                return Ok(());
            };
            match to {
                ConvertTo::Hl7 => {
                    // as hl7 parse --to hl7: each segment ended by \r, a \n after the message
                    for seg in msg.segments() {
                        out.extend_from_slice(seg.bytes());
                        out.push(b'\r');
                    }
                    out.push(b'\n');
                }
                ConvertTo::Ndjson => {
                    let mut notes = Notes::default();
                    writer.write(out, &msg, Shape::Segments, &mut notes);
                    out.push(b'\n');
                    for seg in notes.unclean_escapes {
                        report.warn(
                            &with_path(l, &seg),
                            &"unknown or malformed escape sequence kept as written",
                        );
                    }
                }
            }
        }
        Mode::Template(t, renderer, strict) => {
            let r = renderer.render(t, input, out);
            // --strict: a rendering with a missing value or a failed filter is not written
            let skip = !r.missing.is_empty() || (*strict && !r.problems.is_empty());
            for m in &r.missing {
                report.error(&with_path(l, m), &"missing value (--strict)");
            }
            for p in &r.problems {
                report.error(&with_path(l, &p.path), &p.what);
            }
            if skip {
                counts.bad += 1;
                return Ok(());
            }
            if r.empty {
                counts.empty += 1;
                return Ok(());
            }
        }
    }
    if write(sink, input.message, out, report, l, n)? {
        counts.ok += 1;
    } else {
        counts.bad += 1;
    }
    Ok(())
}

/// Writes a rendering to stdout or its --output file; false when it could not be written.
fn write(
    sink: &mut Sink<'_>,
    msg: Option<Message<'_>>,
    out: &[u8],
    report: &mut Reporter,
    l: &Loc,
    n: u64,
) -> Result<bool> {
    let Some(files) = &mut sink.files else {
        sink.stdout.write_all(out)?;
        return Ok(true);
    };
    // The file name is built from message fields, so it is not printed (patient data).
    match files.write(msg, out, n, Stamp::local_now()) {
        Ok(()) => Ok(true),
        Err(FileError::Named { first }) => {
            report.error(
                l,
                &format!(
                    "--output names the file message {first} was written to; not replaced (use --append, or put a field that tells messages apart into the pattern, such as {{MSH-10}})"
                ),
            );
            Ok(false)
        }
        Err(FileError::Io(e)) => {
            report.error(l, &format!("cannot write the --output file: {e}"));
            Ok(false)
        }
    }
}

#[derive(Default)]
struct Counts {
    ok: u64,
    bad: u64,
    empty: u64,
}

impl Counts {
    fn line(&self, bytes: u64, files: u64, secs: Option<f64>) -> String {
        let mut s = format!(
            "{} converted, {} empty renderings, {} invalid or incomplete, {bytes} bytes read",
            self.ok, self.empty, self.bad
        );
        if files > 0 {
            s.push_str(&format!(", {files} files written"));
        }
        if let Some(secs) = secs {
            s.push_str(&format!(
                " in {secs:.3} s ({:.0} per second)",
                self.ok as f64 / secs.max(1e-9)
            ));
        }
        s
    }
}
