//! `hl7 ack`: an ACK (or NAK) for each message on the input, built by `hl7::ack`.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use hl7::ack;
use hl7::time::Time;
use hl7::transform::split::Item;

use crate::shell::{Error, Exit, Global, Loc, Reporter, Result};

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
#[command(
    after_long_help = "Examples:\n  hl7 ack messages.hl7\n  hl7 ack --code AE --error-code 207 --text 'database down' < message.hl7\n  hl7 simulate --count 3 | hl7 ack --to mllp > acks.bin\n\nExit codes: 0 ok; 1 invalid input seen (it still gets a NAK) or I/O failure; 2 usage error."
)]
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
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut n_acks = 0u64;
    let mut control_id = String::new();
    let inputs = crate::shell::open_inputs(&args.files, &mut report);
    for input in inputs {
        let name = input.name.clone();
        let pause = input.pause.clone();
        let mut splitter = crate::shell::splitter(input.reader, args.from);
        let mut n = 0u64;
        // to the end of this input, or a read error (reported): then on to the next input
        while let Some(item) = crate::shell::next_item(&mut splitter, &mut report, &name) {
            let loc = |message: Option<u64>, byte: u64, path: Option<String>| Loc {
                file: name.clone(),
                message,
                byte: Some(byte),
                path,
            };
            let (bytes, offset): (Vec<u8>, u64) = match item {
                Item::Warning { offset, what } => {
                    report.warn(&loc(None, offset, None), &what);
                    continue;
                }
                Item::Message(c) => (c.bytes.to_vec(), c.offset),
                Item::Json(c) => {
                    let mut v = Vec::new();
                    let built = hl7::transform::json::line_to_hl7(c.bytes, &mut v)
                        .map_err(|e| e.to_string());
                    if let Err(e) = built {
                        n += 1;
                        report.error(&loc(Some(n), c.offset, None), &e);
                        let problem = ack::Problem {
                            code: 100,
                            location: None,
                            text: e,
                        };
                        emit(
                            &mut out,
                            args.to,
                            &ack::nak(
                                b"",
                                &problem,
                                &options(
                                    &now,
                                    id(&mut control_id, id_seed, n_acks),
                                    &args,
                                    mode,
                                    code,
                                ),
                            ),
                        )?;
                        n_acks += 1;
                        continue;
                    }
                    (v, c.offset)
                }
                Item::Invalid(c, why) => {
                    report.error(&loc(None, c.offset, None), &why);
                    let problem = ack::Problem {
                        code: 100,
                        location: None,
                        text: why,
                    };
                    emit(
                        &mut out,
                        args.to,
                        &ack::nak(
                            c.bytes,
                            &problem,
                            &options(
                                &now,
                                id(&mut control_id, id_seed, n_acks),
                                &args,
                                mode,
                                code,
                            ),
                        ),
                    )?;
                    n_acks += 1;
                    continue;
                }
            };
            n += 1;
            let opts = options(
                &now,
                id(&mut control_id, id_seed, n_acks),
                &args,
                mode,
                code,
            );
            let outcome = code.map_or(ack::Outcome::Accept, ack::Code::outcome);
            let response = ack::respond(&bytes, &opts, |_, _| ack::Fate {
                outcome,
                problem: args.error_code.map(|c| ack::Problem {
                    code: c,
                    location: None,
                    text: args
                        .text
                        .clone()
                        .unwrap_or_else(|| ack::error_text(c).to_string()),
                }),
                code: None,
            });
            if let ack::Verdict::Unreadable(e) | ack::Verdict::Invalid(_, e) = &response.verdict {
                report.error(
                    &loc(Some(n), offset + e.offset as u64, e.path.clone()),
                    &e.what,
                );
            }
            let reply = response.reply;
            if let Some(reply) = reply {
                emit(&mut out, args.to, &reply)?;
                n_acks += 1;
            }
            if crate::shell::Input::paused(&pause) {
                out.flush()?;
            }
        }
    }
    out.flush()?;
    report.finish();
    Ok(if report.errors > 0 {
        Exit::Failure
    } else {
        Exit::Ok
    })
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
