//! `hl7 send`: the command line of the MLLP client in [`hl7::client`].
//!
//! The adapter reads the inputs exactly as `hl7 parse` reads them (`hl7::transform::split`),
//! checks and frames each message and paces it ([`input`]), hands it to the client's
//! [`Engine`], and writes what became of it ([`output`]): NDJSON lines, the ACKs, or the
//! accepted messages with `--pass`, failures on stderr, and the exit code.
//!
//! Output is flushed whenever the sender is about to wait (for input, for pacing, for a
//! backoff, or for a slow ACK): results of a live stream are never held back.
//!
//! Logs name control ids, counts and peer addresses, never message contents.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hl7::client::conn::Target;
use hl7::client::pace::Pace;
use hl7::client::pool::Engine;
use hl7::client::{Settings, Stop, window};
use hl7::time::Rate;
use hl7::wire::tls;

use crate::shell::{Error, Exit, Global, Loc, Reporter, Result, exit};

mod input;
mod output;

use input::Producer;
use output::{Output, Results};

/// Send HL7 messages over MLLP and check each ACK
///
/// Sends each message framed, waits for its ACK (matched by MSA-2 = MSH-10) and prints one
/// result line per message, in input order. Messages are read like `hl7 parse` reads them (HL7
/// with any line endings, MLLP captures frame by frame, NDJSON from parse or listen --meta) and
/// sent as \r-terminated segments. Invalid input is reported and skipped (exit 1 at the end).
/// AA/CA accept; AE/CE are never retried (the data must be fixed); AR/CR only with
/// --retry-rejected. Timeouts and dropped connections are retried with backoff (0.5 s, 1 s,
/// 2 s, ... up to 30 s), on a fresh connection. A reply whose MSA-2 is not the MSH-10 sent is an
/// error, never an accept. Logs name control ids, counts and peers, never message contents.
#[derive(clap::Args, Debug)]
#[command(after_long_help = exit::after_help(
    AFTER_HELP,
    &Exit::ALL,
    &[
        (Exit::Ok, "for send: every message got AA/CA"),
        (Exit::Failure, "also: a message not delivered after the retries, or a reply that did not match"),
        (Exit::Rejected, "when 1 and 3 both happened, send ends with 1"),
    ],
))]
pub struct Args {
    /// Receiver: HOST:PORT ([IPv6]:PORT; PORT or :PORT alone means localhost)
    pub addr: String,
    /// Input files; stdin when none or -
    pub files: Vec<PathBuf>,
    /// Results: ndjson ({"n","control_id","ack","latency_ms","error"}), hl7 (the ACKs), none
    #[arg(long, value_enum, default_value_t = SendTo::Ndjson)]
    pub to: SendTo,
    /// Write each accepted message to stdout instead of a result, so send can sit mid-pipeline like tee
    #[arg(long, conflicts_with = "to")]
    pub pass: bool,
    /// Seconds to wait for each ACK (and for each connection to open)
    #[arg(long, value_name = "SECS", default_value = "30")]
    pub timeout: f64,
    /// Retries per message, with backoff (0.5 s, doubling, at most 30 s)
    #[arg(long, value_name = "N", default_value = "3")]
    pub retries: u32,
    /// Retry AR/CR rejections too (AE/CE are never retried: the data must be fixed)
    #[arg(long)]
    pub retry_rejected: bool,
    /// Pace sending: N messages per second (N/s; also N/min, N/h)
    #[arg(long, value_name = "N/s", conflicts_with = "replay")]
    pub rate: Option<String>,
    /// Pace by the original gaps (listen --meta received times, else MSH-7)
    #[arg(long)]
    pub replay: bool,
    /// With --replay: play faster (2) or slower (0.5)
    #[arg(long, value_name = "X", requires = "replay")]
    pub speed: Option<f64>,
    /// Repeat the input (needs --rate, --replay or --count)
    #[arg(long = "loop")]
    pub loop_: bool,
    /// Stop after N messages (with --loop: N in all)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Parallel connections (messages dealt round-robin; order is kept per connection)
    #[arg(long, value_name = "N", default_value = "1")]
    pub connections: usize,
    /// Messages in flight per connection (1-4096): write up to N ahead while their ACKs are
    /// outstanding, each ACK matched to its message by MSA-2 whatever order they come in.
    /// Results stay in input order. 1 (the default) waits for each ACK before the next message
    #[arg(long, value_name = "N", default_value = "1")]
    pub window: usize,
    /// Open a fresh connection for each message and close it after the ACK
    #[arg(long)]
    pub connection_per_message: bool,
    /// Fire and forget: do not wait for ACKs
    #[arg(long)]
    pub no_ack: bool,
    /// Stop at the first invalid input message (exit 1)
    #[arg(long)]
    pub strict: bool,
    /// MLLP over TLS
    #[arg(long)]
    pub tls: bool,
    /// With --tls: the CA certificates to trust (PEM), instead of the system's store
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca: Option<PathBuf>,
    /// With --tls: client certificate chain (PEM), for mutual TLS
    #[arg(long, value_name = "FILE", requires_all = ["key", "tls"])]
    pub cert: Option<PathBuf>,
    /// With --tls: the client certificate's private key (PEM)
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// With --tls: the name the server's certificate must bear (default: the host of ADDR)
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub tls_server_name: Option<String>,
    /// Input format, instead of detecting it
    #[arg(long, value_enum)]
    pub from: Option<crate::shell::FromFormat>,
}

const AFTER_HELP: &str = "\
Results (--to ndjson), one line per message, in input order:
  {\"n\":1,\"control_id\":\"MSG0001\",\"ack\":\"AA\",\"latency_ms\":0.412,\"error\":null}
  n counts the messages sent (from 1); ack is MSA-1 as the peer wrote it (ACK or NAK for an
  MLLP R2 commit block; null when there was no reply); latency_ms is the round trip of the last
  try. --to hl7 writes the ACKs (segments ended by \\r, a \\n after each); --pass writes the
  accepted messages the same way; --to none writes nothing. Failures are also reported on
  stderr, and a summary line at the end (unless -q).

Retries: a timeout, a refused or dropped connection is retried --retries times, after 0.5 s,
1 s, 2 s, ... (at most 30 s), on a new connection. AR/CR (and an R2 NAK) are retried only with
--retry-rejected; AE/CE never. A reply with another MSA-2, or that is not an ACK, is an error
and is not retried. When a connection cannot be opened even after the retries, send stops.

Window: --window N keeps up to N messages unacknowledged on each connection (at most 4096):
frames are written ahead while earlier ACKs are outstanding, each ACK is matched to its
message by MSA-2 in whatever order it comes, and the results are still written in input
order. A receiver that reads one message, answers it, then reads the next works unchanged (TCP
holds the frames written ahead). Each message's --timeout counts from its own write; a timeout
closes the connection and resends, on a new one, every message of the window without its ACK
(one retry each). A reply whose MSA-2 names no message in flight is reported and taken for
none (exit 1). --window does nothing with --no-ack, and cannot go with
--connection-per-message.

Pacing: --rate gives message k its slot k/rate after the start (no drift); --replay keeps the
gaps between the received times of listen --meta (else MSH-7), divided by --speed. --loop
repeats the input (stdin is kept in memory for that) and needs --rate, --replay or --count.

TLS: --tls checks the server's certificate against the system's CA store, or only --ca FILE,
and against the host of ADDR (or --tls-server-name). A refused certificate, on either side, is
a connection failure.

Examples:
  hl7 send localhost:2575 messages.hl7
  hl7 send --to none pacs:104 orders.hl7 && echo all accepted
  hl7 simulate --profile vent --rate 1/s | hl7 send --pass ris:2575 | hl7 flatten
  hl7 send --connection-per-message --retries 5 pacs:104 orders.hl7
  hl7 send --loop --rate 200/s --connections 4 127.0.0.1:2575 sample.hl7
  hl7 send --window 64 --to none 127.0.0.1:2575 backlog.hl7
  hl7 send --replay --speed 10 127.0.0.1:2575 capture.ndjson
  hl7 send --tls --ca hospital-ca.pem --cert me.pem --key me.key ris.example.org:2575 a.hl7";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendTo {
    Ndjson,
    Hl7,
    None,
}

pub fn run(args: Args, global: &Global) -> Result<Exit> {
    // Everything that can be refused is refused before any I/O.
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(Error::usage(
            "--timeout must be a number of seconds above 0",
        ));
    }
    if args.connections == 0 {
        return Err(Error::usage("--connections must be at least 1"));
    }
    if !(1..=window::MAX).contains(&args.window) {
        return Err(Error::usage(format!(
            "--window must be from 1 to {} (messages in flight per connection)",
            window::MAX
        )));
    }
    if args.window > 1 && args.connection_per_message {
        return Err(Error::usage(
            "--window above 1 needs a connection that carries many messages:              --connection-per-message sends one per connection (drop one of the two)",
        ));
    }
    let rate = match &args.rate {
        Some(r) => Some(Rate::parse(r).map_err(|e| Error::usage(format!("--rate: {e}")))?),
        None => None,
    };
    let speed = args.speed.unwrap_or(1.0);
    if !(speed.is_finite() && speed > 0.0) {
        return Err(Error::usage("--speed must be above 0 (2 is twice as fast)"));
    }
    if args.loop_ && rate.is_none() && !args.replay && args.count.is_none() {
        return Err(Error::usage(
            "--loop repeats the input forever: give --rate, --replay or --count N",
        ));
    }
    let (name, addrs) = hl7::wire::addr::connect_addrs(&args.addr).map_err(|e| match e {
        hl7::wire::addr::AddrError::Syntax(m) => Error::usage(m),
        hl7::wire::addr::AddrError::Resolve(m) => Error::failure(m),
    })?;
    let tls = if args.tls {
        let config = tls::client_config(
            args.ca.as_deref(),
            args.cert.as_deref().zip(args.key.as_deref()),
        )
        .map_err(|e| Error::usage(format!("TLS: {e}")))?;
        let host = match &args.tls_server_name {
            Some(n) => n.clone(),
            None => name.rsplit_once(':').map_or("", |(h, _)| h).to_string(),
        };
        let server = tls::server_name(&host).map_err(|e| Error::usage(format!("TLS: {e}")))?;
        Some((config, server))
    } else {
        None
    };
    let cfg = Arc::new(Settings {
        tls,
        target: Target::new(name, addrs),
        timeout: Duration::from_secs_f64(args.timeout),
        retries: args.retries,
        retry_rejected: args.retry_rejected,
        no_ack: args.no_ack,
        per_message: args.connection_per_message,
        window: args.window,
        keep_acks: args.to == SendTo::Hl7 && !args.pass,
        stop: Stop::default(),
    });
    let output = if args.pass {
        Output::Pass
    } else {
        match args.to {
            SendTo::Ndjson => Output::Ndjson,
            SendTo::Hl7 => Output::Acks,
            SendTo::None => Output::None,
        }
    };
    let started = Instant::now();
    let results = Results::new(output, global, args.no_ack);
    let engine = Engine::new(&cfg, args.connections, results);
    let pace = match rate {
        Some(rate) => Pace::rate(rate),
        None if args.replay => Pace::replay(speed),
        None => Pace::none(),
    };
    let mut p = Producer::new(
        &args,
        cfg.clone(),
        Reporter::new("send", global),
        engine,
        pace,
    );
    let produced = p.produce(global);
    let (mut report, engine, failed_output) = p.into_parts();
    let results = engine.finish().and_then(Results::finish);
    // A closed stdout ends the run quietly with success; other output errors are failures.
    let results = match (produced, failed_output, results) {
        (Err(e), _, _) | (_, Some(e), _) | (_, _, Err(e)) => return Err(e.into()),
        (Ok(()), None, Ok(results)) => results,
    };
    let fatal = cfg.stop.fatal();
    if let Some(why) = &fatal {
        report.error(
            &Loc::default(),
            &format!("{why}; stopped, the rest of the input was not sent"),
        );
    }
    report.finish();
    results.report.finish();
    let t = &results.tally;
    if !global.quiet {
        report.info(&t.summary(&cfg.target.name, started.elapsed(), args.no_ack));
    }
    Ok(
        if t.failed > 0 || t.unsent > 0 || t.unmatched > 0 || report.errors > 0 || fatal.is_some() {
            Exit::Failure
        } else if t.rejected > 0 {
            Exit::Rejected
        } else {
            Exit::Ok
        },
    )
}
