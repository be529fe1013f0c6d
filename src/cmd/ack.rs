//! `hl7 ack`: an ACK (or NAK) for each message on the input, built by `hl7::ack`.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use hl7::ack;
use hl7::time::Time;

use crate::shell::input::{At, Bad, CharsetWarnings, Checked, Filter, Flow, Reading};
use crate::shell::{Error, Exit, Global, Reporter, Result, exit};

/// Build one ACK (or NAK) for each input message
///
/// Delimiters are copied from the inbound message, sender and receiver swapped, MSH-9 is
/// ACK^<trigger>^ACK, MSH-10 new, MSH-11, MSH-12 and MSH-18 echoed, MSA-2 = the inbound
/// MSH-10, and the ERR segment has the shape of the message's version (ERR-1 up to 2.4,
/// ERR-2..ERR-4 from 2.5, no MSA-3 from 2.7). Original (AA/AE/AR) or enhanced (CA/CE/CR) mode
/// follows MSH-15/MSH-16 unless --mode says; NE/NE and ACKs get no answer. A message that does
/// not validate gets AE/CE with an ERR naming the field (101 required field missing, ...);
/// bytes that are not a message get an AR/CR NAK with what could be salvaged of the header.
#[derive(clap::Args, Debug)]
#[command(after_long_help = exit::after_help(
    "Examples:\n  hl7 ack messages.hl7\n  hl7 ack --code AE --error-code 207 --text 'database down' < message.hl7\n  hl7 simulate --count 3 | hl7 ack --to mllp > acks.bin",
    &Exit::BASIC,
    &[(Exit::Failure, "invalid input still gets its NAK")],
))]
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
    pub from: Option<crate::shell::FromFormat>,
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

pub fn run(args: Args, global: &Global) -> Result<Exit> {
    if args.error_code.is_some()
        && args
            .code
            .is_none_or(|c| matches!(c, AckCode::Aa | AckCode::Ca))
    {
        return Err(Error::usage(
            "--error-code goes with --code AE, AR, CE or CR",
        ));
    }
    let mut report = Reporter::new("ack", global);
    let now = {
        let mut v = Vec::new();
        Time::now_utc().write_ts(&mut v);
        String::from_utf8(v).unwrap_or_default()
    };
    let id_seed = hl7::id::run_seed();
    let mode = match args.mode {
        Some(Mode::Original) => ack::Mode::Original,
        Some(Mode::Enhanced) => ack::Mode::Enhanced,
        None => ack::Mode::Auto,
    };
    let code = args.code.map(|c| match c {
        AckCode::Aa => ack::Code::AA,
        AckCode::Ae => ack::Code::AE,
        AckCode::Ar => ack::Code::AR,
        AckCode::Ca => ack::Code::CA,
        AckCode::Ce => ack::Code::CE,
        AckCode::Cr => ack::Code::CR,
    });
    // An explicit code in the other mode's family picks that mode.
    let stdout = io::stdout();
    let reading = Reading::new(&args.files, args.from);
    let mut acks = Acks {
        args: &args,
        out: BufWriter::with_capacity(64 * 1024, stdout.lock()),
        now,
        id_seed,
        mode,
        code,
        n_acks: 0,
        control_id: String::new(),
    };
    reading.run(global, &mut report, &mut acks)
}

/// What `hl7 ack` does with each message, and with what is not one: answer it.
struct Acks<'a> {
    args: &'a Args,
    out: BufWriter<io::StdoutLock<'a>>,
    now: String,
    id_seed: u64,
    mode: ack::Mode,
    code: Option<ack::Code>,
    n_acks: u64,
    control_id: String,
}

impl Filter for Acks<'_> {
    const CHARSET_WARNINGS: CharsetWarnings = CharsetWarnings::Never;
    const JSON_ERROR_OFFSET: bool = true;
    const PROGRESS: bool = false;

    fn message(&mut self, msg: Checked<'_>, _at: At<'_>, _report: &mut Reporter) -> Result<Flow> {
        let Acks {
            args,
            out,
            now,
            id_seed,
            mode,
            code,
            n_acks,
            control_id,
        } = self;
        let opts = options(now, id(control_id, *id_seed, *n_acks), args, *mode, *code);
        let nak = |raw: &[u8], text: String| {
            let problem = ack::Problem {
                code: 100,
                location: None,
                text,
            };
            Some(ack::nak(raw, &problem, &opts))
        };
        // The decision is the library's (ack::respond's steps), as in hl7 listen; the driver
        // has already read and checked the message.
        let reply = match msg {
            Ok(msg) => {
                let outcome = code.map_or(ack::Outcome::Accept, ack::Code::outcome);
                let problem = args.error_code.map(|c| ack::Problem {
                    code: c,
                    location: None,
                    text: args
                        .text
                        .clone()
                        .unwrap_or_else(|| ack::error_text(c).to_string()),
                });
                let fate = ack::Fate {
                    outcome,
                    problem,
                    code: None,
                };
                ack::to_valid(&msg, &opts, |_, _| fate).0
            }
            Err(Bad::Invalid(msg, e)) => ack::to_invalid(&msg, &e, &opts),
            Err(Bad::Unparsable(bytes, e)) => Some(ack::to_unreadable(bytes, &e, &opts)),
            Err(Bad::NotMessage(bytes, why)) => nak(bytes, why),
            Err(Bad::Json(why)) => nak(b"", why),
        };
        if let Some(reply) = reply {
            emit(out, args.to, &reply)?;
            *n_acks += 1;
        }
        Ok(Flow::Go)
    }

    /// ACKs go back to a sender, not down a pipeline: a mark has no place among them.
    fn mark(&mut self, _line: &[u8]) -> Result<()> {
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        Ok(self.out.flush()?)
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}

/// A fresh control id for the `n`th ACK of this run.
fn id(buf: &mut String, seed: u64, n: u64) -> &str {
    let mut v = Vec::with_capacity(16);
    hl7::id::push_control_id(&mut v, seed, n);
    *buf = String::from_utf8(v).unwrap_or_default();
    buf
}

fn options<'a>(
    now: &'a str,
    control_id: &'a str,
    args: &'a Args,
    mode: ack::Mode,
    code: Option<ack::Code>,
) -> ack::Options<'a> {
    ack::Options {
        now,
        control_id,
        app: args.app.as_deref(),
        facility: args.facility.as_deref(),
        mode,
        code,
        text: args.text.as_deref(),
    }
}

fn emit(out: &mut impl Write, to: AckTo, reply: &[u8]) -> io::Result<()> {
    match to {
        AckTo::Hl7 => {
            out.write_all(reply)?;
            out.write_all(b"\n")
        }
        AckTo::Mllp => {
            let mut framed = Vec::with_capacity(reply.len() + 3);
            hl7::wire::mllp::encode(reply, &mut framed);
            out.write_all(&framed)
        }
    }
}
