//! `hl7 simulate`: seeded, realistic traffic. The generators are in the library
//! (`hl7::simulate`); this file reads the options, paces and writes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use hl7::model::message::Message;
use hl7::simulate::{self, Config};
use hl7::time::{Rate, Time};
use hl7::transform::json::{Notes, Shape, Writer};
use hl7::transform::split::{Item, Splitter};

use crate::shell::{Error, Exit, Global, Result, exit};

/// Generate realistic, seeded HL7 traffic
///
/// Profiles: vent (Löwenstein elisa 800 ventilators through a Capsule DataCaptor gateway, in
/// the exact format of a real capture: settings, measurements, alarm limits, alarms and status
/// words), monitor (IHE PCD-01 vital signs), lab (ORU^R01 results with LOINC codes), adt
/// (A01/A08/A40 over a consistent patient population), orm (ORM^O01 radiology orders as a PACS
/// broker expects them), pacs (the mix a PACS broker sees: orders, reports, A08 updates, A40
/// merges), mdm (MDM^T02 with a generated PDF in base64), cycle (the messages of --from-file, or
/// three built-in ones, round-robin with fresh control ids and times).
///
/// The same seed and start give the same bytes, whatever the rate. Without --count: 100
/// messages, or unlimited with --rate. Message times start at --start (default now, UTC) and
/// advance by the profile's own cadence (vent: one message per device per second), not by
/// the wall clock, so paced and unpaced runs write the same messages.
#[derive(clap::Args, Debug)]
#[command(after_long_help = exit::after_help(AFTER_HELP, &Exit::BASIC, &[]))]
pub struct Args {
    /// Traffic profile
    #[arg(long, value_enum, default_value_t = Profile::Vent)]
    pub profile: Profile,
    /// Number of messages (default 100, or unlimited with --rate)
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Pace the output: messages per second (20/s, 0.5/s), per minute (30/min) or per hour (2/h)
    #[arg(long, value_name = "N/s")]
    pub rate: Option<String>,
    /// Random seed: the same seed (and --start) gives the same bytes; default: a fresh one,
    /// shown with --stats
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Number of devices, each with its own identity and trend (vent, monitor)
    #[arg(long, value_name = "N", default_value = "1")]
    pub devices: u32,
    /// Size of the patient population
    #[arg(long, value_name = "N", default_value = "100")]
    pub patients: u32,
    /// Clock of the first message: RFC 3339 (2024-08-14T11:46:36+02:00) or HL7 (20240814114636)
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// With --profile mdm: pad each PDF attachment to this size (bytes, or with kB, KiB, MB, MiB)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub attachment_size: Option<usize>,
    /// HL7 version to write in MSH-12 (default: the profile's own)
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// Output: hl7 (segments ended by \r, a \n after each message), mllp (framed), ndjson
    #[arg(long, value_enum, default_value_t = SimTo::Hl7)]
    pub to: SimTo,
    /// With --profile cycle: the messages to cycle through (HL7, MLLP capture or NDJSON)
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
}

const AFTER_HELP: &str = "\
Examples:
  hl7 simulate --profile vent --count 10 --seed 1 --start 2024-08-14T11:46:36
  hl7 simulate --profile vent --devices 4 --rate 4/s | hl7 send localhost:2575
  hl7 simulate --profile pacs --rate 0.5/s --to mllp > capture.bin
  hl7 simulate --profile cycle --from-file samples.hl7 --rate 1/s | hl7 send localhost:2575
  hl7 simulate --profile adt --count 100000 --seed 7 | hl7 parse --select MSH-9,PID-3.1 --to csv";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Vent,
    Monitor,
    Lab,
    Adt,
    Orm,
    Pacs,
    Mdm,
    Cycle,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimTo {
    Hl7,
    Mllp,
    Ndjson,
}

pub fn run(args: Args, global: &Global) -> Result<Exit> {
    let rate = match &args.rate {
        Some(r) => Some(Rate::parse(r).map_err(|e| Error::usage(format!("--rate: {e}")))?),
        None => None,
    };
    let start = match &args.start {
        Some(s) => Time::parse(s).map_err(|e| Error::usage(format!("--start: {e}")))?,
        None => Time::now_utc(),
    };
    if args.from_file.is_some() && args.profile != Profile::Cycle {
        return Err(Error::usage("--from-file goes with --profile cycle"));
    }
    if args.attachment_size.is_some() && args.profile != Profile::Mdm {
        return Err(Error::usage("--attachment-size goes with --profile mdm"));
    }
    let seed = args.seed.unwrap_or_else(hl7::id::run_seed);
    let mut cfg = Config::new(profile(args.profile), seed, start);
    cfg.devices = args.devices;
    cfg.patients = args.patients;
    cfg.version = args.version.clone();
    cfg.attachment_size = args.attachment_size.unwrap_or(0);
    if let Some(path) = &args.from_file {
        cfg.cycle_messages = read_messages(path)?;
    }
    let mut generator = simulate::generator(&cfg).map_err(|e| Error::usage(e.to_string()))?;
    let count = args.count.or(if rate.is_some() { None } else { Some(100) });

    let report = crate::shell::Reporter::new("simulate", global);
    let mut stats = crate::shell::Stats::new(global);
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
    let mut msg = Vec::with_capacity(16 * 1024);
    let mut line = Vec::with_capacity(64 * 1024);
    let mut json = Writer::new();
    let began = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    while count.is_none_or(|c| n < c) {
        if let Some(rate) = rate {
            // Each message has its own slot from the start, so pacing never drifts.
            let due = rate.due(n);
            let now = began.elapsed();
            if due > now {
                out.flush()?;
                std::thread::sleep(due - now);
            }
        }
        msg.clear();
        generator.next(&mut msg);
        match args.to {
            SimTo::Hl7 => {
                out.write_all(&msg)?;
                out.write_all(b"\n")?;
            }
            SimTo::Mllp => {
                out.write_all(b"\x0b")?;
                out.write_all(&msg)?;
                out.write_all(b"\x1c\r")?;
            }
            SimTo::Ndjson => {
                let mut m = Message::parse(&msg)
                    .map_err(|e| Error::failure(format!("generated an unreadable message: {e}")))?;
                m.resolve_charset();
                line.clear();
                json.write(&mut line, &m, Shape::Segments, &mut Notes::default());
                line.push(b'\n');
                out.write_all(&line)?;
            }
        }
        n += 1;
        bytes += msg.len() as u64;
        if rate.is_some() {
            out.flush()?;
        }
        stats.tick(&report, || {
            format!("seed {seed}: {n} messages, {bytes} bytes")
        });
    }
    out.flush()?;
    stats.finish(&report, |secs| {
        format!(
            "seed {seed}: {n} messages, {bytes} bytes in {secs:.3} s ({:.0} messages/s, {:.1} MB/s)",
            n as f64 / secs.max(1e-9),
            bytes as f64 / 1e6 / secs.max(1e-9)
        )
    });
    Ok(Exit::Ok)
}

fn profile(p: Profile) -> simulate::Profile {
    match p {
        Profile::Vent => simulate::Profile::Vent,
        Profile::Monitor => simulate::Profile::Monitor,
        Profile::Lab => simulate::Profile::Lab,
        Profile::Adt => simulate::Profile::Adt,
        Profile::Orm => simulate::Profile::Orm,
        Profile::Pacs => simulate::Profile::Pacs,
        Profile::Mdm => simulate::Profile::Mdm,
        Profile::Cycle => simulate::Profile::Cycle,
    }
}

/// The messages of a file for `--profile cycle`, each with its segments ended by `\r`.
fn read_messages(path: &PathBuf) -> Result<Vec<Vec<u8>>> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::failure(format!("{name}: cannot open: {e}")))?;
    let mut splitter = Splitter::new(file);
    let mut messages = Vec::new();
    let mut number = 0u64;
    while let Some(item) = splitter
        .next_item()
        .map_err(|e| Error::failure(format!("{name}: {e}")))?
    {
        let bytes = match item {
            Item::Message(c) => {
                number += 1;
                c.bytes.to_vec()
            }
            Item::Json(c) => {
                number += 1;
                let mut v = Vec::new();
                hl7::transform::json::line_to_hl7(c.bytes, &mut v)
                    .map_err(|e| Error::usage(format!("{name}: message {number}: {e}")))?;
                v
            }
            Item::Invalid(c, why) => {
                return Err(Error::usage(format!("{name}: byte {}: {why}", c.offset)));
            }
            Item::Warning { .. } | Item::Mark(_) | Item::Idle => continue,
        };
        let m = Message::parse(&bytes)
            .and_then(|m| m.validate().map(|_| m))
            .map_err(|e| Error::usage(format!("{name}: message {number}: {e}")))?;
        let mut norm = Vec::with_capacity(bytes.len());
        for seg in m.segments() {
            norm.extend_from_slice(seg.bytes());
            norm.push(b'\r');
        }
        messages.push(norm);
    }
    if messages.is_empty() {
        return Err(Error::usage(format!(
            "{name}: no messages to cycle through"
        )));
    }
    Ok(messages)
}

/// `1000000`, `500kB`, `1MiB`, `2MB`: a size in bytes (at most 256 MiB).
fn parse_size(s: &str) -> std::result::Result<usize, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: usize = t[..digits]
        .parse()
        .map_err(|_| format!("'{s}' is not a size: use bytes, or kB, KiB, MB, MiB"))?;
    let unit = match t[digits..].trim() {
        "" | "B" => 1,
        "k" | "kB" | "KB" => 1000,
        "KiB" => 1024,
        "M" | "MB" => 1_000_000,
        "MiB" => 1 << 20,
        other => return Err(format!("unknown unit '{other}': use kB, KiB, MB or MiB")),
    };
    n.checked_mul(unit)
        .filter(|&b| b <= 256 << 20)
        .ok_or_else(|| format!("'{s}' is more than 256 MiB"))
}
