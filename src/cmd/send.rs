//! `hl7 send`: the MLLP client.
//!
//! Each message read from the inputs (by `hl7::transform::split::Splitter`, exactly as `hl7 parse` reads them) is
//! normalized to `\r`-terminated segments, framed (`hl7::wire::mllp::encode`) and written with one
//! `write_all`; then the sender waits for the reply block, decoded by `hl7::wire::mllp::Decoder` (so a
//! reply split anywhere across reads, even between FS and CR, is read whole), and matches its
//! MSA-2 to the MSH-10 sent (HL7 v2.5 §2.9, docs/conformance.md "ACKs": "match the reply's MSA-2 to the
//! sent MSH-10 rather than assuming order"). One message is in flight per connection: the
//! original-mode exchange is synchronous (MLLP Release 1).
//!
//! Shape of the code:
//! - [`Conn`] is one connection slot: connect, send, wait, retry with backoff, reconnect. It
//!   knows nothing of stdout.
//! - [`Sink`] writes the results (NDJSON lines, the ACKs, or the accepted messages with
//!   `--pass`), counts them, and reports failures on stderr.
//! - With one connection everything runs on the main thread ([`Engine::Inline`]): no thread
//!   hand-off per message, which matters when a loopback round trip is 30-90 µs. With
//!   `--connections N` ([`Engine::Pool`]) the main thread reads and deals messages round-robin
//!   to N connection threads, in small batches through bounded queues, and one output thread
//!   puts the results back in input order. Memory is bounded by N x ([`QUEUE`] + 1) batches of
//!   at most [`BATCH`] messages or [`BATCH_BYTES`], whatever the length of the stream.
//! - While round trips are short (under [`SPIN_UNDER`]), a connection polls for the reply
//!   before it sleeps in `read`: on loopback, waking a sleeping thread is a large part of the
//!   round trip. Slow peers never see it.
//!
//! Output is flushed whenever the sender is about to wait (for input, for pacing, for a backoff,
//! or for an ACK slower than [`FLUSH_AFTER`]); results of a live stream are never held back.
//!
//! Logs name control ids, counts and peer addresses, never message contents.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use hl7::ack::{self, Code};
use hl7::model::message::Message;
use hl7::time::Rate;
use hl7::transform::split::Item;
use hl7::wire::mllp::{self, Decoder, Event};
use hl7::wire::tls::{self, ServerName, Stream};

use crate::shell::{Error, Exit, Global, Loc, Reporter, Result};

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
#[command(after_long_help = AFTER_HELP)]
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
  hl7 send --replay --speed 10 127.0.0.1:2575 capture.ndjson
  hl7 send --tls --ca hospital-ca.pem --cert me.pem --key me.key ris.example.org:2575 a.hl7

Exit codes: 0 every message got AA/CA; 1 a message could not be delivered (after the retries),
a reply did not match, or invalid input was seen; 3 a peer answered AE/AR/CE/CR (1 wins over
3); 2 usage error.";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendTo {
    Ndjson,
    Hl7,
    None,
}

/// Batches waiting per connection in `--connections N` mode; with [`BATCH`] and
/// [`BATCH_BYTES`] it bounds memory.
const QUEUE: usize = 2;
/// The most messages in a batch handed to a connection thread (and results handed back).
const BATCH: usize = 32;
/// A batch is handed over once it holds this many bytes.
const BATCH_BYTES: usize = 256 * 1024;
/// A result waits at most this long in its connection thread before it is handed over.
const RESULT_DELAY: Duration = Duration::from_millis(5);
/// Result batches waiting for the output thread.
const DONE_QUEUE: usize = 64;
/// Output is flushed when an ACK takes longer than this.
const FLUSH_AFTER: Duration = Duration::from_millis(10);
/// How long to wait for the CR after a reply's FS before taking the block as ended.
const EB_GRACE: Duration = Duration::from_millis(100);
/// First backoff before a retry; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A kept-alive connection idle longer than this is checked before use: the peer may have
/// closed it (an idle timeout), and writing into it would cost a retry.
const STALE_AFTER: Duration = Duration::from_secs(1);
/// A connection polls for the reply (non-blocking reads) while recent round trips are shorter
/// than this, for at most this long or twice the recent round trip; then it sleeps in `read`.
/// On loopback this halves the round trip (a sleeping thread's wake-up is much of it); on a
/// slower link it is not done, so it costs nothing there.
const SPIN_UNDER: Duration = Duration::from_micros(200);
/// The largest reply accepted.
const MAX_REPLY: usize = 16 << 20;

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
        target: Target {
            name,
            addrs,
            good: AtomicUsize::new(0),
        },
        timeout: Duration::from_secs_f64(args.timeout),
        retries: args.retries,
        retry_rejected: args.retry_rejected,
        no_ack: args.no_ack,
        per_message: args.connection_per_message,
        keep_acks: args.to == SendTo::Hl7 && !args.pass,
        stop: AtomicBool::new(false),
        fatal: Mutex::new(None),
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
    let engine = if args.connections == 1 {
        let mut conn = Conn::new(cfg.clone());
        // Polling for replies needs a core of its own next to the peer's.
        if thread::available_parallelism().is_ok_and(|n| n.get() >= 2) {
            conn.spin = Spin::Busy;
        }
        Engine::Inline {
            conn: Box::new(conn),
            sink: Rc::new(RefCell::new(Sink::new(output, global, args.no_ack))),
        }
    } else {
        Engine::pool(&cfg, args.connections, output, global)
    };
    let mut p = Producer {
        args: &args,
        cfg: cfg.clone(),
        report: Reporter::new("send", global),
        engine,
        pace: match rate {
            Some(rate) => Pace::Rate { rate, start: None },
            None if args.replay => Pace::Replay {
                speed,
                base: None,
                last: None,
                warned: false,
            },
            None => Pace::None,
        },
        seq: 0,
        frame: Vec::new(),
        cache: None,
        pass: 0,
        pass_sent: 0,
        done: false,
        failed_output: None,
    };
    let produced = p.produce(global);
    let Producer {
        mut report,
        engine,
        failed_output,
        ..
    } = p;
    let sink = engine.finish();
    // A closed stdout ends the run quietly with success; other output errors are failures.
    let sink = match (produced, failed_output, sink) {
        (Err(e), _, _) | (_, Some(e), _) | (_, _, Err(e)) => return Err(e.into()),
        (Ok(()), None, Ok(sink)) => sink,
    };
    let fatal = cfg.fatal.lock().ok().and_then(|f| f.clone());
    if let Some(why) = &fatal {
        report.error(
            &Loc::default(),
            &format!("{why}; stopped, the rest of the input was not sent"),
        );
    }
    report.finish();
    sink.report.finish();
    let t = &sink.tally;
    if !global.quiet {
        report.info(&t.summary(&cfg.target.name, started.elapsed(), args.no_ack));
    }
    Ok(
        if t.failed > 0 || t.unsent > 0 || report.errors > 0 || fatal.is_some() {
            Exit::Failure
        } else if t.rejected > 0 {
            Exit::Rejected
        } else {
            Exit::Ok
        },
    )
}

// ---------------------------------------------------------------------------------------------
// The receiver's address

/// The receiver: its addresses, and which one answered last (tried first next time, so that
/// `localhost` does not cost a refused `::1` on every new connection).
struct Target {
    name: String,
    addrs: Vec<SocketAddr>,
    good: AtomicUsize,
}

impl Target {
    fn connect(&self, timeout: Duration) -> io::Result<TcpStream> {
        let first = self.good.load(Ordering::Relaxed);
        let mut last = None;
        for i in 0..self.addrs.len() {
            let k = (first + i) % self.addrs.len();
            match TcpStream::connect_timeout(&self.addrs[k], timeout) {
                Ok(s) => {
                    self.good.store(k, Ordering::Relaxed);
                    // One small frame per exchange: Nagle would hold it back for the ACK.
                    s.set_nodelay(true)?;
                    return Ok(s);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no address")))
    }
}

// ---------------------------------------------------------------------------------------------
// Messages and results

/// What every connection shares.
struct Settings {
    target: Target,
    /// MLLP over TLS: the client configuration and the name the server's certificate must bear.
    tls: Option<(Arc<tls::Client>, ServerName<'static>)>,
    timeout: Duration,
    retries: u32,
    retry_rejected: bool,
    no_ack: bool,
    per_message: bool,
    /// Keep the ACK messages (for `--to hl7`).
    keep_acks: bool,
    /// Set when the run must end: stdout closed, or the receiver cannot be reached.
    stop: AtomicBool,
    /// Why the receiver cannot be reached.
    fatal: Mutex<Option<String>>,
}

/// One message to send.
struct Job {
    /// Dispatch order, from 0; the result's `n` is `seq + 1`.
    seq: u64,
    control_id: String,
    /// MSH-10 as written, to compare with MSA-2.
    raw_id: Vec<u8>,
    /// The MLLP frame.
    frame: Vec<u8>,
    /// Where the message is in the input, for stderr.
    file: Option<Arc<str>>,
    msg_no: u64,
    byte: u64,
}

impl Job {
    /// The message without its framing.
    fn message(&self) -> &[u8] {
        &self.frame[1..self.frame.len() - 2]
    }

    fn loc(&self) -> Loc {
        Loc {
            file: self.file.as_deref().map(str::to_string),
            message: Some(self.msg_no),
            byte: Some(self.byte),
            path: Some(format!("MSH-10 '{}'", self.control_id)),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// AA/CA, an R2 commit ACK, or written with --no-ack.
    Accepted,
    /// AE/AR/CE/CR or an R2 commit NAK.
    Rejected,
    /// No usable reply after the retries.
    Failed,
    /// Not tried: the run stopped first.
    Unsent,
}

/// What became of one message.
struct Outcome {
    status: Status,
    /// MSA-1 as the peer wrote it, `ACK`/`NAK` for an R2 commit block.
    ack: Option<String>,
    /// The round trip of the last try.
    latency: Option<Duration>,
    /// Why it was not accepted; safe for stderr (codes, ids, counts, no content).
    error: Option<String>,
    /// The peer's own words (MSA-3), added to the NDJSON result only: stdout is data.
    peer_text: Option<String>,
    /// The ACK message, with `--to hl7`.
    reply: Option<Vec<u8>>,
}

impl Outcome {
    fn failed(error: String) -> Self {
        Outcome {
            status: Status::Failed,
            ack: None,
            latency: None,
            error: Some(error),
            peer_text: None,
            reply: None,
        }
    }
}

/// A reply block, read and owned.
enum Reply {
    /// An MLLP R2 commit block: ACK (true) or NAK (false).
    Commit(bool),
    Ack {
        code: Option<Code>,
        code_text: String,
        msa2: Vec<u8>,
        /// ERR-3 (or ERR-1) code and location, for the error text.
        reason: Option<String>,
        text: Option<String>,
        bytes: Option<Vec<u8>>,
    },
    /// Not an ACK, and why.
    Bad(String),
}

/// Reads a reply frame's payload.
fn classify(payload: &[u8], keep: bool) -> Reply {
    if let Some(ok) = mllp::is_commit_ack(payload) {
        return Reply::Commit(ok);
    }
    let Ok(mut msg) = Message::parse(payload) else {
        return Reply::Bad(format!(
            "the reply ({} bytes) is not an HL7 message",
            payload.len()
        ));
    };
    msg.resolve_charset();
    let Some(msa) = msg.segment("MSA", 1) else {
        return Reply::Bad("the reply has no MSA segment: it is not an ACK".into());
    };
    let raw = |n: usize| msa.field(n).map(|f| f.raw).unwrap_or_default().trim_ascii();
    let code_text = String::from_utf8_lossy(raw(1)).into_owned();
    let text = msa
        .field(3)
        .map(|f| f.text().trim().to_string())
        .filter(|t| !t.is_empty());
    let bytes = keep.then(|| {
        let mut v = Vec::with_capacity(payload.len() + 1);
        for seg in msg.segments() {
            v.extend_from_slice(seg.bytes());
            v.push(b'\r');
        }
        v
    });
    Reply::Ack {
        code: Code::parse(&code_text),
        code_text,
        msa2: raw(2).to_vec(),
        reason: err_summary(&msg),
        text,
        bytes,
    }
}

/// The error code and location of an ACK's ERR segment, in either shape: ERR-3 and ERR-2
/// (2.5 and later) or ERR-1 (`seg^seq^field^code&text`, up to 2.4).
fn err_summary(msg: &Message<'_>) -> Option<String> {
    let err = msg.segment("ERR", 1)?;
    let nonempty = |s: std::borrow::Cow<'_, str>| {
        let s = s.trim().to_string();
        (!s.is_empty()).then_some(s)
    };
    let (code, place) = match err.field(3).and_then(|f| nonempty(f.component(1).text())) {
        Some(code) => (Some(code), err.field(2).map(|f| f.repetition(1))),
        None => {
            let eld = err.field(1).map(|f| f.repetition(1));
            (
                eld.and_then(|f| nonempty(f.component(4).subcomponent(1).text())),
                eld,
            )
        }
    };
    let place = place.and_then(|p| {
        let seg = nonempty(p.component(1).text())?;
        Some(match nonempty(p.component(3).text()) {
            Some(field) => format!("{seg}-{field}"),
            None => seg,
        })
    });
    let code = code.map(|c| match c.parse::<u32>() {
        Ok(n) => format!("error {n} ({})", ack::error_text(n)),
        Err(_) => format!("error {c}"),
    });
    match (code, place) {
        (Some(c), Some(p)) => Some(format!("{c} at {p}")),
        (Some(c), None) => Some(c),
        (None, Some(p)) => Some(format!("error at {p}")),
        (None, None) => None,
    }
}

// ---------------------------------------------------------------------------------------------
// One connection

/// One try's result.
enum Try {
    Reply(Reply, Duration),
    /// Written, with --no-ack.
    Written,
    Timeout,
    /// The connection could not be opened (`connecting`) or broke.
    Transport {
        error: String,
        connecting: bool,
    },
}

/// How a connection waits for a fast reply before it sleeps in `read`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spin {
    Off,
    /// Busy-poll: one connection, a core to itself.
    Busy,
    /// Poll, yielding the CPU between polls: several connections.
    Yield,
}

/// A connection slot: it opens, reuses and reopens its connection as needed.
struct Conn {
    cfg: Arc<Settings>,
    stream: Option<Stream>,
    decoder: Decoder,
    buf: Vec<u8>,
    last_used: Instant,
    /// The read timeout currently set on the socket.
    timeout_set: Option<Duration>,
    /// Poll for the reply for a short while before sleeping in `read` (see [`SPIN_UNDER`]).
    spin: Spin,
    /// Whether the socket is in non-blocking mode (left so between messages while spinning).
    nonblocking: bool,
    /// Recent round trips (moving average, microseconds), to decide whether spinning pays.
    recent_us: f64,
    /// MSH-10 of the last message answered on this connection.
    prev_id: Vec<u8>,
    /// With --no-ack: the thread that reads and drops what the peer sends, so its ACKs cannot
    /// fill the buffers and stall it; it notices the peer closing.
    drain: Option<Drainer>,
    /// With --no-ack over TLS: the peer closed (seen by [`drain_now`]).
    tls_dead: bool,
    /// The last read failed with a TLS alert (the server refused our certificate).
    tls_refused: bool,
}

/// The --no-ack reader thread of a connection.
struct Drainer {
    /// Set by the thread when the peer closed.
    dead: Arc<AtomicBool>,
    /// Set by us when we are closing.
    closing: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl Drainer {
    fn join(self) {
        self.closing.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
    }
}

impl Conn {
    fn new(cfg: Arc<Settings>) -> Self {
        Conn {
            cfg,
            stream: None,
            decoder: Decoder::new(MAX_REPLY),
            buf: vec![0; 64 * 1024],
            last_used: Instant::now(),
            timeout_set: None,
            spin: Spin::Off,
            nonblocking: false,
            recent_us: 0.0,
            prev_id: Vec::new(),
            drain: None,
            tls_dead: false,
            tls_refused: false,
        }
    }

    /// Sends one message, with its retries. `idle` is called before any wait that may be
    /// long (to flush output); `None` when nobody needs it.
    fn deliver(&mut self, job: &Job, mut idle: Option<&mut dyn FnMut()>) -> Outcome {
        let cfg = self.cfg.clone();
        let mut tries = 0u32;
        let mut backoff = FIRST_BACKOFF;
        loop {
            tries += 1;
            let t = self.attempt(job, &mut idle);
            let mut connecting = false;
            let (mut outcome, retry) = match t {
                Try::Written => (
                    Outcome {
                        status: Status::Accepted,
                        ack: None,
                        latency: None,
                        error: None,
                        peer_text: None,
                        reply: None,
                    },
                    false,
                ),
                Try::Reply(reply, latency) => self.judge(job, reply, latency),
                Try::Timeout => {
                    self.close();
                    (
                        Outcome::failed(format!("no ACK within {} s", secs(cfg.timeout))),
                        true,
                    )
                }
                Try::Transport {
                    error,
                    connecting: c,
                } => {
                    self.close();
                    connecting = c;
                    (Outcome::failed(error), true)
                }
            };
            if cfg.per_message {
                self.close();
            }
            let stopped = cfg.stop.load(Ordering::Relaxed);
            if !retry || tries > cfg.retries || stopped {
                if tries > 1
                    && let Some(e) = &mut outcome.error
                {
                    e.push_str(&format!(" ({tries} tries)"));
                }
                if connecting && !stopped && outcome.status == Status::Failed {
                    // Nothing else will get through either: stop the run.
                    if let Ok(mut f) = cfg.fatal.lock() {
                        f.get_or_insert_with(|| outcome.error.clone().unwrap_or_default());
                    }
                    cfg.stop.store(true, Ordering::Relaxed);
                }
                return outcome;
            }
            if let Some(f) = idle.as_mut() {
                f();
            }
            sleep_unless_stopped(backoff, &cfg.stop);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Turns a reply into an outcome, and says whether it may be retried.
    fn judge(&mut self, job: &Job, reply: Reply, latency: Duration) -> (Outcome, bool) {
        let mut o = Outcome {
            status: Status::Accepted,
            ack: None,
            latency: Some(latency),
            error: None,
            peer_text: None,
            reply: None,
        };
        match reply {
            Reply::Commit(true) => o.ack = Some("ACK".into()),
            Reply::Commit(false) => {
                o.ack = Some("NAK".into());
                o.status = Status::Rejected;
                o.error = Some("rejected with an MLLP commit NAK".into());
                return (o, self.cfg.retry_rejected);
            }
            Reply::Bad(why) => {
                // The stream may be out of step: start the next message on a new connection.
                self.close();
                o.status = Status::Failed;
                o.error = Some(why);
            }
            Reply::Ack {
                code,
                code_text,
                msa2,
                reason,
                text,
                bytes,
            } => {
                o.ack = Some(code_text.clone());
                o.reply = bytes;
                let matches = msa2 == job.raw_id.trim_ascii()
                    // A NAK for bytes the peer could not read has an empty MSA-2
                    // (HL7 v2.5 §2.15.8, MSA): it is about our message all the same.
                    || (msa2.is_empty() && code.is_some_and(|c| !c.is_accept()));
                if !matches {
                    self.close();
                    o.status = Status::Failed;
                    o.error = Some(format!(
                        "ACK mismatch: MSA-2 is '{}', expected '{}' (MSA-1 {code_text})",
                        String::from_utf8_lossy(&msa2),
                        job.control_id
                    ));
                    return (o, false);
                }
                match code {
                    Some(c) if c.is_accept() => {}
                    Some(c) => {
                        o.status = Status::Rejected;
                        o.peer_text = text;
                        o.error = Some(match reason {
                            Some(r) => format!("rejected with {code_text}: {r}"),
                            None => format!("rejected with {code_text}"),
                        });
                        return (
                            o,
                            self.cfg.retry_rejected && matches!(c, Code::AR | Code::CR),
                        );
                    }
                    None => {
                        o.status = Status::Failed;
                        o.error = Some(format!(
                            "'{code_text}' in MSA-1 is not an acknowledgment code"
                        ));
                    }
                }
            }
        }
        (o, false)
    }

    /// One try: (re)connect when needed, write the frame, wait for the reply.
    fn attempt(&mut self, job: &Job, idle: &mut Option<&mut dyn FnMut()>) -> Try {
        if let Err(e) = self.ensure_connected() {
            return Try::Transport {
                error: format!("cannot connect to {}: {e}", self.cfg.target.name),
                connecting: true,
            };
        }
        let Some(stream) = self.stream.as_mut() else {
            unreachable!("connected above")
        };
        let start = Instant::now();
        if let Err(e) = write_frame(stream, &job.frame, &mut self.nonblocking) {
            return Try::Transport {
                error: format!(
                    "connection to {} lost while sending: {e}",
                    self.cfg.target.name
                ),
                connecting: false,
            };
        }
        if self.cfg.no_ack {
            if stream.is_tls() {
                drain_now(stream, &mut self.nonblocking, &mut self.tls_dead);
            }
            self.last_used = Instant::now();
            return Try::Written;
        }
        let t = self.wait_reply(start, &job.raw_id, idle);
        self.last_used = Instant::now();
        match t {
            Ok(Some(reply)) => {
                let latency = start.elapsed();
                self.prev_id.clear();
                self.prev_id.extend_from_slice(&job.raw_id);
                self.recent_us = 0.9 * self.recent_us + 0.1 * latency.as_micros() as f64;
                Try::Reply(reply, latency)
            }
            Ok(None) => Try::Timeout,
            Err(error) => Try::Transport {
                error,
                // A TLS refusal is the same for every message: as if the connection failed.
                connecting: std::mem::take(&mut self.tls_refused),
            },
        }
    }

    fn ensure_connected(&mut self) -> io::Result<()> {
        if let Some(s) = &self.stream {
            let stale = match &self.drain {
                _ if self.tls_dead => true,
                Some(d) => d.dead.load(Ordering::Relaxed),
                None => {
                    self.last_used.elapsed() > STALE_AFTER && !peer_open(s.tcp(), self.nonblocking)
                }
            };
            if stale {
                self.close();
            }
        }
        if self.stream.is_some() {
            return Ok(());
        }
        let tcp = self.cfg.target.connect(self.cfg.timeout)?;
        self.decoder = Decoder::new(MAX_REPLY);
        self.timeout_set = None;
        self.nonblocking = false;
        self.prev_id.clear();
        self.tls_dead = false;
        let s = match &self.cfg.tls {
            Some((config, name)) => {
                tcp.set_read_timeout(Some(self.cfg.timeout))?;
                tcp.set_write_timeout(Some(self.cfg.timeout))?;
                let mut s = Stream::client(tcp, Arc::clone(config), name.clone())?;
                // Now, so that a refused certificate is a connection error, not a lost message.
                s.handshake()
                    .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake: {e}")))?;
                s.tcp().set_write_timeout(None)?;
                s
            }
            None => Stream::Plain(tcp),
        };
        if let (true, Stream::Plain(tcp)) = (self.cfg.no_ack, &s) {
            let reader = tcp.try_clone()?;
            reader.set_read_timeout(Some(self.cfg.timeout))?;
            let dead = Arc::new(AtomicBool::new(false));
            let closing = Arc::new(AtomicBool::new(false));
            let (d, c) = (dead.clone(), closing.clone());
            let handle = thread::spawn(move || drain(reader, &d, &c));
            self.drain = Some(Drainer {
                dead,
                closing,
                handle,
            });
        }
        self.stream = Some(s);
        self.last_used = Instant::now();
        Ok(())
    }

    /// Waits for the reply block. `Ok(None)` on timeout, `Err` when the connection broke.
    fn wait_reply(
        &mut self,
        sent: Instant,
        id: &[u8],
        idle: &mut Option<&mut dyn FnMut()>,
    ) -> std::result::Result<Option<Reply>, String> {
        let deadline = sent + self.cfg.timeout;
        let keep = self.cfg.keep_acks;
        let mut flushed = idle.is_none();
        // The last read ended with FS: the CR may never come (some peers end frames with FS).
        let mut eb_tail = false;
        // Spin only while replies come fast: then it saves the wake-up of a sleeping thread,
        // a good part of a loopback round trip; on a slow link it would only burn CPU.
        let mut spinning = self.spin != Spin::Off && self.recent_us < SPIN_UNDER.as_micros() as f64;
        let spin_until =
            sent + SPIN_UNDER.min(Duration::from_micros(2 * self.recent_us as u64 + 20));
        loop {
            while let Some(ev) = self.decoder.next_event() {
                match ev {
                    Event::Frame { payload, .. } => {
                        let reply = classify(payload, keep);
                        // A second ACK for the message before (a commit ACK, then the
                        // application ACK, in enhanced mode) is not this message's reply.
                        if let Reply::Ack { msa2, .. } = &reply
                            && !self.prev_id.is_empty()
                            && *msa2 == self.prev_id
                            && msa2 != id
                        {
                            continue;
                        }
                        return Ok(Some(reply));
                    }
                    Event::Oversize { size, .. } => {
                        return Ok(Some(Reply::Bad(format!(
                            "the reply ({size} bytes) is larger than {} MiB",
                            MAX_REPLY >> 20
                        ))));
                    }
                    // Keep-alives, noise between frames, restarted blocks: not a reply yet.
                    _ => {}
                }
            }
            if spinning {
                let Some(stream) = self.stream.as_mut() else {
                    return Err("not connected".into());
                };
                if !self.nonblocking {
                    if let Err(e) = stream.tcp().set_nonblocking(true) {
                        return Err(format!("connection to {}: {e}", self.cfg.target.name));
                    }
                    self.nonblocking = true;
                }
                match stream.read(&mut self.buf) {
                    Ok(n) if n > 0 => {
                        eb_tail = self.buf[n - 1] == mllp::EB;
                        self.decoder.feed(&self.buf[..n]);
                        continue;
                    }
                    Err(e)
                        if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < spin_until =>
                    {
                        if self.spin == Spin::Yield {
                            thread::yield_now();
                        } else {
                            std::hint::spin_loop();
                        }
                        continue;
                    }
                    // End of input, an error, or the time is up: the blocking read tells.
                    _ => spinning = false,
                }
            }
            if self.nonblocking {
                if let Some(stream) = self.stream.as_mut()
                    && let Err(e) = stream.tcp().set_nonblocking(false)
                {
                    return Err(format!("connection to {}: {e}", self.cfg.target.name));
                }
                self.nonblocking = false;
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(self.finish_block(keep));
            }
            let remaining = deadline - now;
            let want = if !flushed {
                FLUSH_AFTER
            } else if eb_tail {
                EB_GRACE
            } else {
                self.cfg.timeout
            };
            // Reuse the socket's timeout when it is close enough (within 10%): setting it is a
            // system call, and the deadline is checked after every read anyway.
            let wait = if remaining + want / 10 >= want {
                want
            } else {
                remaining
            };
            let Some(stream) = self.stream.as_mut() else {
                return Err("not connected".into());
            };
            let wait = wait.max(Duration::from_millis(1));
            if self.timeout_set != Some(wait) {
                if let Err(e) = stream.tcp().set_read_timeout(Some(wait)) {
                    return Err(format!("connection to {}: {e}", self.cfg.target.name));
                }
                self.timeout_set = Some(wait);
            }
            match stream.read(&mut self.buf) {
                Ok(0) => {
                    if let Some(reply) = self.finish_block(keep) {
                        return Ok(Some(reply));
                    }
                    return Err(format!(
                        "connection closed by {} before the ACK",
                        self.cfg.target.name
                    ));
                }
                Ok(n) => {
                    eb_tail = self.buf[n - 1] == mllp::EB;
                    self.decoder.feed(&self.buf[..n]);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if !flushed {
                        if let Some(f) = idle.as_mut() {
                            f();
                        }
                        flushed = true;
                    } else if eb_tail && self.decoder.in_block() {
                        if let Some(reply) = self.finish_block(keep) {
                            return Ok(Some(reply));
                        }
                        eb_tail = false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Over TLS 1.3 the server judges our certificate after our side of the
                    // handshake is done: its refusal comes as an alert instead of the ACK.
                    self.tls_refused = e.kind() == io::ErrorKind::InvalidData
                        && self.prev_id.is_empty()
                        && self.stream.as_ref().is_some_and(Stream::is_tls);
                    return Err(format!(
                        "connection to {} lost while waiting for the ACK: {e}",
                        self.cfg.target.name
                    ));
                }
            }
        }
    }

    /// Ends the block being received, for a peer that stopped after FS without CR (or closed
    /// there). A partial block is dropped (R2: ignore the bytes received thus far).
    fn finish_block(&mut self, keep: bool) -> Option<Reply> {
        let mut found = None;
        while let Some(ev) = self.decoder.finish() {
            if found.is_none()
                && let Event::Frame { payload, .. } = ev
            {
                found = Some(classify(payload, keep));
            }
        }
        found
    }

    /// Drops the connection (the next try opens a new one).
    fn close(&mut self) {
        if let Some(mut s) = self.stream.take() {
            s.shutdown(Shutdown::Both);
        }
        if let Some(d) = self.drain.take() {
            d.join();
        }
    }

    /// Ends the connection cleanly at the end of the run: the peer sees end of input after the
    /// last frame. With --no-ack, waits (at most --timeout) for the peer to close its side, so
    /// that closing with its ACKs unread cannot reset the connection before it read ours.
    fn finish(&mut self) {
        if let Some(mut s) = self.stream.take() {
            s.shutdown(Shutdown::Write);
            if let Some(d) = self.drain.take() {
                d.join();
            } else if self.cfg.no_ack && s.is_tls() {
                // No reader thread over TLS (one TLS session cannot be read and written from
                // two threads): read what is left here until the peer closes or goes quiet.
                let _ = s.tcp().set_nonblocking(false);
                let _ = s.tcp().set_read_timeout(Some(self.cfg.timeout));
                let mut buf = [0u8; 16 * 1024];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            }
        }
    }
}

/// With --no-ack: reads and drops whatever the peer sends until it closes (or, once we are
/// closing, until it has been silent for a whole --timeout).
fn drain(mut s: TcpStream, dead: &AtomicBool, closing: &AtomicBool) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if closing.load(Ordering::Relaxed) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    dead.store(true, Ordering::Relaxed);
}

/// With --no-ack over TLS: reads and drops what the peer sent so far, without waiting, so that
/// its ACKs cannot fill the buffers and stall it. Notes when the peer has closed.
fn drain_now(s: &mut Stream, nonblocking: &mut bool, dead: &mut bool) {
    if !*nonblocking {
        if s.tcp().set_nonblocking(true).is_err() {
            return;
        }
        *nonblocking = true;
    }
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => {
                *dead = true;
                return;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => {
                *dead = true;
                return;
            }
        }
    }
}

/// Writes a frame whole. The socket may have been left non-blocking by the spin of the last
/// reply: if the send buffer is full, it goes back to blocking for the rest.
fn write_frame(s: &mut Stream, frame: &[u8], nonblocking: &mut bool) -> io::Result<()> {
    if s.is_tls() {
        // rustls buffers what a non-blocking socket refuses and reports success: write TLS
        // records on a blocking socket, so that the frame is on its way when this returns.
        if *nonblocking {
            s.tcp().set_nonblocking(false)?;
            *nonblocking = false;
        }
        s.write_all(frame)?;
        return s.flush();
    }
    let mut rest = frame;
    while !rest.is_empty() {
        match s.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                s.tcp().set_nonblocking(false)?;
                *nonblocking = false;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// True unless the peer has closed the connection (it is readable with end of input).
fn peer_open(s: &TcpStream, nonblocking: bool) -> bool {
    let mut probe = [0u8; 1];
    if !nonblocking && s.set_nonblocking(true).is_err() {
        return false;
    }
    let r = s.peek(&mut probe);
    if !nonblocking {
        let _ = s.set_nonblocking(false);
    }
    match r {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    }
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    loop {
        let now = Instant::now();
        if now >= end || stop.load(Ordering::Relaxed) {
            return;
        }
        thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

// ---------------------------------------------------------------------------------------------
// Output

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Ndjson,
    Acks,
    Pass,
    None,
}

/// Writes results, counts them, reports failures.
struct Sink {
    w: BufWriter<io::Stdout>,
    output: Output,
    line: Vec<u8>,
    dirty: bool,
    /// An output error seen while flushing in passing, returned by the next `record`.
    err: Option<io::Error>,
    tally: Tally,
    report: Reporter,
    stats: crate::shell::Stats,
    no_ack: bool,
}

impl Sink {
    fn new(output: Output, global: &Global, no_ack: bool) -> Self {
        Sink {
            w: BufWriter::with_capacity(256 * 1024, io::stdout()),
            output,
            line: Vec::with_capacity(256),
            dirty: false,
            err: None,
            tally: Tally::default(),
            report: Reporter::new("send", global),
            stats: crate::shell::Stats::new(global),
            no_ack,
        }
    }

    fn record(&mut self, job: &Job, o: &Outcome) -> io::Result<()> {
        if let Some(e) = self.err.take() {
            return Err(e);
        }
        self.tally.add(o);
        if let (Some(e), Status::Failed | Status::Rejected | Status::Unsent) = (&o.error, o.status)
        {
            self.report.error(&job.loc(), e);
        }
        match self.output {
            Output::None => {}
            Output::Ndjson => {
                let l = &mut self.line;
                l.clear();
                l.extend_from_slice(b"{\"n\":");
                l.extend_from_slice((job.seq + 1).to_string().as_bytes());
                l.extend_from_slice(b",\"control_id\":");
                hl7::transform::json::push_str(l, &job.control_id);
                l.extend_from_slice(b",\"ack\":");
                match &o.ack {
                    Some(a) => hl7::transform::json::push_str(l, a),
                    None => l.extend_from_slice(b"null"),
                }
                l.extend_from_slice(b",\"latency_ms\":");
                match o.latency {
                    Some(d) => {
                        l.extend_from_slice(format!("{:.3}", d.as_secs_f64() * 1000.0).as_bytes())
                    }
                    None => l.extend_from_slice(b"null"),
                }
                l.extend_from_slice(b",\"error\":");
                match (&o.error, &o.peer_text) {
                    (Some(e), Some(t)) => hl7::transform::json::push_str(l, &format!("{e}: {t}")),
                    (Some(e), None) => hl7::transform::json::push_str(l, e),
                    (None, _) => l.extend_from_slice(b"null"),
                }
                l.extend_from_slice(b"}\n");
                self.w.write_all(l)?;
                self.dirty = true;
            }
            Output::Acks => {
                if let Some(r) = &o.reply {
                    self.w.write_all(r)?;
                    self.w.write_all(b"\n")?;
                    self.dirty = true;
                }
            }
            Output::Pass => {
                if o.status == Status::Accepted {
                    self.w.write_all(job.message())?;
                    self.w.write_all(b"\n")?;
                    self.dirty = true;
                }
            }
        }
        let (tally, no_ack) = (&self.tally, self.no_ack);
        self.stats.tick(&self.report, || tally.progress(no_ack));
        Ok(())
    }

    /// Flushes what has been written; an error is kept for the next `record`.
    fn flush_soft(&mut self) {
        if self.dirty && self.err.is_none() {
            self.dirty = false;
            if let Err(e) = self.w.flush() {
                self.err = Some(e);
            }
        }
    }

    fn finish(mut self) -> io::Result<Sink> {
        if let Some(e) = self.err.take() {
            return Err(e);
        }
        self.w.flush()?;
        let (tally, no_ack) = (&self.tally, self.no_ack);
        self.stats.finish(&self.report, |_| tally.progress(no_ack));
        Ok(self)
    }
}

/// Counters, and the latency histogram.
#[derive(Default)]
struct Tally {
    accepted: u64,
    rejected: u64,
    failed: u64,
    unsent: u64,
    latency: Hist,
}

impl Tally {
    fn add(&mut self, o: &Outcome) {
        match o.status {
            Status::Accepted => self.accepted += 1,
            Status::Rejected => self.rejected += 1,
            Status::Failed => self.failed += 1,
            Status::Unsent => self.unsent += 1,
        }
        if let Some(d) = o.latency {
            self.latency.add(d);
        }
    }

    fn total(&self) -> u64 {
        self.accepted + self.rejected + self.failed + self.unsent
    }

    fn counts(&self, no_ack: bool) -> String {
        let mut s = if no_ack {
            format!("{} written", self.accepted)
        } else {
            format!("{} accepted", self.accepted)
        };
        for (n, what) in [
            (self.rejected, "rejected"),
            (self.failed, "failed"),
            (self.unsent, "not sent"),
        ] {
            if n > 0 {
                s.push_str(&format!(", {n} {what}"));
            }
        }
        s
    }

    fn progress(&self, no_ack: bool) -> String {
        format!("{} messages: {}", self.total(), self.counts(no_ack))
    }

    fn summary(&self, target: &str, elapsed: Duration, no_ack: bool) -> String {
        let secs = elapsed.as_secs_f64();
        let n = self.total();
        let mut s = format!(
            "{n} message{} to {target} in {secs:.3} s ({:.0} msg/s): {}",
            if n == 1 { "" } else { "s" },
            n as f64 / secs.max(1e-9),
            self.counts(no_ack)
        );
        if let Some(l) = self.latency.line() {
            s.push_str("; latency ");
            s.push_str(&l);
        }
        s
    }
}

/// Latencies in microseconds, log-linear buckets (16 per power of two, within 6.25%): constant
/// memory however long the run.
struct Hist {
    counts: Vec<u64>,
    n: u64,
    sum_us: u128,
    max_us: u64,
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            counts: vec![0; 16 + 60 * 16],
            n: 0,
            sum_us: 0,
            max_us: 0,
        }
    }
}

impl Hist {
    fn bucket(v: u64) -> usize {
        if v < 16 {
            return v as usize;
        }
        let e = 63 - v.leading_zeros() as usize;
        16 + (e - 4) * 16 + ((v >> (e - 4)) & 15) as usize
    }

    fn lower(b: usize) -> u64 {
        if b < 16 {
            return b as u64;
        }
        let e = (b - 16) / 16 + 4;
        (16 + ((b - 16) % 16) as u64) << (e - 4)
    }

    fn add(&mut self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        self.counts[Self::bucket(us)] += 1;
        self.n += 1;
        self.sum_us += us as u128;
        self.max_us = self.max_us.max(us);
    }

    fn quantile(&self, q: f64) -> u64 {
        let target = ((q * self.n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Self::lower(b).min(self.max_us);
            }
        }
        self.max_us
    }

    fn line(&self) -> Option<String> {
        if self.n == 0 {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(format!(
            "avg {:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            self.sum_us as f64 / self.n as f64 / 1000.0,
            ms(self.quantile(0.5)),
            ms(self.quantile(0.99)),
            ms(self.max_us)
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Engines: one connection on the main thread, or a pool of connection threads

struct Done {
    job: Job,
    outcome: Outcome,
}

enum Engine {
    Inline {
        conn: Box<Conn>,
        sink: Rc<RefCell<Sink>>,
    },
    Pool {
        batches: Rc<RefCell<Batches>>,
        workers: Vec<JoinHandle<()>>,
        output: JoinHandle<io::Result<Sink>>,
    },
}

/// The pool's messages on their way to the connections. They travel in batches (up to
/// [`BATCH`] messages or [`BATCH_BYTES`]), so that the reader and the connection threads do not
/// wake each other for every message; a batch also goes as soon as the reader is about to wait
/// (for input, or for pacing), so nothing is held back.
struct Batches {
    queues: Vec<SyncSender<Vec<Job>>>,
    pending: Vec<Vec<Job>>,
    bytes: Vec<usize>,
    /// A connection thread that is gone (it cannot happen short of a panic).
    err: Option<io::Error>,
}

impl Batches {
    fn push(&mut self, job: Job) -> io::Result<()> {
        if let Some(e) = self.err.take() {
            return Err(e);
        }
        let k = (job.seq % self.queues.len() as u64) as usize;
        self.bytes[k] += job.frame.len();
        self.pending[k].push(job);
        if self.pending[k].len() >= BATCH || self.bytes[k] >= BATCH_BYTES {
            self.send(k)?;
        }
        Ok(())
    }

    fn send(&mut self, k: usize) -> io::Result<()> {
        if self.pending[k].is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.pending[k], Vec::with_capacity(BATCH));
        self.bytes[k] = 0;
        self.queues[k]
            .send(batch)
            .map_err(|_| io::Error::other("a connection thread ended unexpectedly"))
    }

    /// Sends every partial batch; an error is kept for the next `push`.
    fn flush(&mut self) {
        for k in 0..self.queues.len() {
            if let Err(e) = self.send(k) {
                self.err.get_or_insert(e);
            }
        }
    }
}

/// What to do before the producer may wait: flush output (inline) or partial batches (pool).
#[derive(Clone)]
enum Hook {
    Sink(Rc<RefCell<Sink>>),
    Batches(Rc<RefCell<Batches>>),
}

impl Hook {
    fn fire(&self) {
        match self {
            Hook::Sink(s) => s.borrow_mut().flush_soft(),
            Hook::Batches(b) => b.borrow_mut().flush(),
        }
    }
}

impl Engine {
    fn pool(cfg: &Arc<Settings>, n: usize, output: Output, global: &Global) -> Engine {
        let (done_tx, done_rx) = mpsc::sync_channel::<Vec<Done>>(DONE_QUEUE);
        let mut queues = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::sync_channel::<Vec<Job>>(QUEUE);
            queues.push(tx);
            let cfg = cfg.clone();
            let done = done_tx.clone();
            workers.push(thread::spawn(move || worker(cfg, rx, done)));
        }
        drop(done_tx);
        let global = global.clone();
        let no_ack = cfg.no_ack;
        let stop_cfg = cfg.clone();
        let output = thread::spawn(move || {
            output_thread(Sink::new(output, &global, no_ack), done_rx, &stop_cfg.stop)
        });
        Engine::Pool {
            batches: Rc::new(RefCell::new(Batches {
                queues,
                pending: (0..n).map(|_| Vec::with_capacity(BATCH)).collect(),
                bytes: vec![0; n],
                err: None,
            })),
            workers,
            output,
        }
    }

    /// Sends one message (inline) or hands it to its connection (pool). Inline, the frame
    /// buffer is given back for the next message.
    fn submit(&mut self, job: Job) -> io::Result<Option<Vec<u8>>> {
        match self {
            Engine::Inline { conn, sink } => {
                let s = sink.clone();
                let mut flush = move || s.borrow_mut().flush_soft();
                let outcome = conn.deliver(&job, Some(&mut flush));
                sink.borrow_mut().record(&job, &outcome)?;
                Ok(Some(job.frame))
            }
            Engine::Pool { batches, .. } => {
                batches.borrow_mut().push(job)?;
                Ok(None)
            }
        }
    }

    fn hook(&self) -> Hook {
        match self {
            Engine::Inline { sink, .. } => Hook::Sink(sink.clone()),
            Engine::Pool { batches, .. } => Hook::Batches(batches.clone()),
        }
    }

    /// Waits for every message in flight, closes the connections, returns the results.
    fn finish(self) -> io::Result<Sink> {
        match self {
            Engine::Inline { mut conn, sink } => {
                conn.finish();
                let sink = Rc::try_unwrap(sink)
                    .map_err(|_| io::Error::other("output still shared"))?
                    .into_inner();
                sink.finish()
            }
            Engine::Pool {
                batches,
                workers,
                output,
            } => {
                let mut b = batches.borrow_mut();
                b.flush();
                b.queues.clear();
                drop(b);
                for w in workers {
                    let _ = w.join();
                }
                output
                    .join()
                    .map_err(|_| io::Error::other("the output thread panicked"))?
            }
        }
    }
}

/// A pool connection: its messages in order, one in flight. Results go to the output thread
/// in batches too: when [`BATCH`] are ready, when the oldest has waited [`RESULT_DELAY`], or
/// when there is nothing more to send for now.
fn worker(cfg: Arc<Settings>, jobs: Receiver<Vec<Job>>, done: SyncSender<Vec<Done>>) {
    let mut conn = Conn::new(cfg.clone());
    // More threads than cores here (ours and the peer's): poll, but give the CPU away
    // between polls.
    conn.spin = Spin::Yield;
    let mut out: Vec<Done> = Vec::with_capacity(BATCH);
    let mut oldest = Instant::now();
    let mut next = jobs.recv().ok();
    'run: while let Some(batch) = next.take() {
        for job in batch {
            let outcome = if cfg.stop.load(Ordering::Relaxed) {
                Outcome {
                    status: Status::Unsent,
                    ..Outcome::failed("not sent: the run stopped".into())
                }
            } else {
                conn.deliver(&job, None)
            };
            if out.is_empty() {
                oldest = Instant::now();
            }
            out.push(Done { job, outcome });
            if out.len() >= BATCH || oldest.elapsed() >= RESULT_DELAY {
                let full = std::mem::replace(&mut out, Vec::with_capacity(BATCH));
                if done.send(full).is_err() {
                    break 'run;
                }
            }
        }
        next = match jobs.try_recv() {
            Ok(b) => Some(b),
            Err(TryRecvError::Empty) => {
                if !out.is_empty() {
                    let part = std::mem::replace(&mut out, Vec::with_capacity(BATCH));
                    if done.send(part).is_err() {
                        break;
                    }
                }
                jobs.recv().ok()
            }
            Err(TryRecvError::Disconnected) => None,
        };
    }
    if !out.is_empty() {
        let _ = done.send(out);
    }
    conn.finish();
}

/// Writes the pool's results in input order (each connection finishes its messages in order;
/// a reorder buffer, bounded by the queues, interleaves them back).
fn output_thread(mut sink: Sink, done: Receiver<Vec<Done>>, stop: &AtomicBool) -> io::Result<Sink> {
    let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = 0u64;
    let mut failure: Option<io::Error> = None;
    loop {
        let batch = match done.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Empty) => {
                // Nothing waiting: flush, so a live stream's results are not held back.
                sink.flush_soft();
                match done.recv() {
                    Ok(b) => b,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        for d in batch {
            pending.insert(d.job.seq, d);
        }
        while let Some(d) = pending.remove(&next) {
            next += 1;
            if failure.is_none()
                && let Err(e) = sink.record(&d.job, &d.outcome)
            {
                stop.store(true, Ordering::Relaxed);
                failure = Some(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => sink.finish(),
    }
}

// ---------------------------------------------------------------------------------------------
// Pacing

enum Pace {
    None,
    /// Message k (from 0, over the whole run) is due k/rate after the first.
    Rate {
        rate: Rate,
        start: Option<Instant>,
    },
    /// Messages keep their original gaps, divided by `speed`.
    Replay {
        speed: f64,
        /// (when the first message of this pass went, its original time)
        base: Option<(Instant, f64)>,
        /// The last message's due time: never go back in time.
        last: Option<Instant>,
        warned: bool,
    },
}

impl Pace {
    /// A new pass over the input (--loop): the replay timeline starts again.
    fn new_pass(&mut self) {
        if let Pace::Replay { base, .. } = self {
            *base = None;
        }
    }

    /// When message `k` with original time `t` is due; `None` for now.
    fn due(
        &mut self,
        k: u64,
        t: Option<f64>,
        report: &mut Reporter,
        loc: impl FnOnce() -> Loc,
    ) -> Option<Instant> {
        match self {
            Pace::None => None,
            Pace::Rate { rate, start } => {
                let s = *start.get_or_insert_with(Instant::now);
                Some(s + rate.due(k))
            }
            Pace::Replay {
                speed,
                base,
                last,
                warned,
            } => {
                let due = match (t, *base) {
                    (Some(t), Some((at, t0))) => {
                        let gap = ((t - t0) / *speed).max(0.0);
                        at + Duration::from_secs_f64(gap.min(1e9))
                    }
                    (Some(t), None) => {
                        let now = Instant::now();
                        *base = Some((now, t));
                        now
                    }
                    (None, _) => {
                        if !*warned {
                            *warned = true;
                            report.warn(
                                &loc(),
                                &"no time to replay by (received, MSH-7); sent right after the one before",
                            );
                        }
                        last.unwrap_or_else(Instant::now)
                    }
                };
                let due = last.map_or(due, |l| due.max(l));
                *last = Some(due);
                Some(due)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the inputs

/// Flushes the output before each read of the input: a read may block on a slow producer, and
/// results must not wait for the next message (inline engine only).
struct FlushFirst<R> {
    inner: R,
    hook: Hook,
}

impl<R: Read> Read for FlushFirst<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.hook.fire();
        self.inner.read(buf)
    }
}

/// A stdin message kept for the next passes of --loop.
struct Cached {
    frame: Vec<u8>,
    control_id: String,
    raw_id: Vec<u8>,
    time: Option<f64>,
    msg_no: u64,
    byte: u64,
}

/// A message read and ready.
struct Ready {
    control_id: String,
    raw_id: Vec<u8>,
    time: Option<f64>,
}

struct Producer<'a> {
    args: &'a Args,
    cfg: Arc<Settings>,
    report: Reporter,
    engine: Engine,
    pace: Pace,
    /// Messages handed to the engine.
    seq: u64,
    /// The frame buffer, reused from message to message (inline engine).
    frame: Vec<u8>,
    /// With --loop, stdin's messages.
    cache: Option<Vec<Cached>>,
    pass: u64,
    pass_sent: u64,
    /// No more messages: --count reached, --strict tripped, or the run stopped.
    done: bool,
    failed_output: Option<io::Error>,
}

impl Producer<'_> {
    fn produce(&mut self, global: &Global) -> io::Result<()> {
        let inputs = crate::shell::open_inputs(&self.args.files, &mut self.report);
        let total = inputs.iter().map(|i| i.size).sum::<Option<u64>>();
        let bar = crate::shell::progress_bar(global, total);
        let names: Vec<Option<String>> = inputs.iter().map(|i| i.name.clone()).collect();
        for input in inputs {
            if self.done {
                break;
            }
            let reader = crate::shell::Counting {
                inner: input.reader,
                bar: bar.clone(),
            };
            self.read(reader, input.name.as_deref())?;
        }
        bar.finish_and_clear();
        while self.args.loop_ && !self.done {
            if self.pass_sent == 0 {
                self.report.error(
                    &Loc::default(),
                    &"--loop: the input holds no message that can be sent",
                );
                break;
            }
            self.pass += 1;
            self.pass_sent = 0;
            self.pace.new_pass();
            for name in &names {
                if self.done {
                    break;
                }
                match name {
                    None => self.replay_cache()?,
                    Some(path) => match File::open(path) {
                        Ok(f) => self.read(f, Some(path))?,
                        Err(e) => {
                            self.report.error(
                                &Loc {
                                    file: Some(path.clone()),
                                    ..Loc::default()
                                },
                                &format!("cannot open: {e}"),
                            );
                            self.done = true;
                        }
                    },
                }
            }
        }
        Ok(())
    }

    /// Sends the messages of one input.
    fn read(&mut self, reader: impl Read, name: Option<&str>) -> io::Result<()> {
        let reader = FlushFirst {
            inner: reader,
            hook: self.engine.hook(),
        };
        let mut splitter = crate::shell::splitter(reader, self.args.from);
        let file: Option<Arc<str>> = name.map(Arc::from);
        let caching = name.is_none() && self.args.loop_;
        if caching && self.cache.is_none() {
            self.cache = Some(Vec::new());
        }
        // Input problems are reported on the first pass only.
        let first = self.pass == 0;
        let mut n = 0u64;
        while !self.done {
            let item = match splitter.next_item() {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => {
                    self.report.error(
                        &Loc {
                            file: name.map(str::to_string),
                            ..Loc::default()
                        },
                        &format!("read error: {e}"),
                    );
                    break;
                }
            };
            let loc = |message: Option<u64>, byte: u64, path: Option<String>| Loc {
                file: name.map(str::to_string),
                message,
                byte: Some(byte),
                path,
            };
            let (ready, offset) = match item {
                Item::Warning { offset, what } => {
                    if first {
                        self.report.warn(&loc(None, offset, None), &what);
                    }
                    continue;
                }
                Item::Invalid(chunk, why) => {
                    if first {
                        self.report.error(&loc(None, chunk.offset, None), &why);
                    }
                    if self.args.strict {
                        self.done = true;
                    }
                    continue;
                }
                Item::Message(chunk) => {
                    n += 1;
                    let r = self.prepare(chunk.bytes, None, chunk.lines_checked);
                    (r, chunk.offset)
                }
                Item::Json(chunk) => {
                    n += 1;
                    let mut bytes = Vec::new();
                    let mut meta_time = None;
                    let built = hl7::transform::json::line_to_hl7(chunk.bytes, &mut bytes)
                        .map(|doc| {
                            if self.args.replay {
                                meta_time = match doc.get("received") {
                                    Some(serde_json::Value::String(s)) => hl7::time::seconds_of(s),
                                    Some(serde_json::Value::Number(x)) => x.as_f64(),
                                    _ => None,
                                };
                            }
                        })
                        .map_err(|e| e.to_string());
                    let r = match built {
                        Ok(()) => self.prepare(&bytes, meta_time, false),
                        Err(e) => Err((0, None, e)),
                    };
                    (r, chunk.offset)
                }
            };
            let ready = match ready {
                Ok(r) => r,
                Err((at, path, what)) => {
                    if first {
                        self.report
                            .error(&loc(Some(n), offset + at as u64, path), &what);
                    }
                    if self.args.strict {
                        self.done = true;
                    }
                    continue;
                }
            };
            if caching && let Some(c) = &mut self.cache {
                c.push(Cached {
                    frame: self.frame.clone(),
                    control_id: ready.control_id.clone(),
                    raw_id: ready.raw_id.clone(),
                    time: ready.time,
                    msg_no: n,
                    byte: offset,
                });
            }
            self.send(ready, file.clone(), n, offset)?;
        }
        Ok(())
    }

    /// Sends stdin's messages again (--loop).
    fn replay_cache(&mut self) -> io::Result<()> {
        let Some(cache) = self.cache.take() else {
            return Ok(());
        };
        for c in &cache {
            if self.done {
                break;
            }
            self.frame.clear();
            self.frame.extend_from_slice(&c.frame);
            let ready = Ready {
                control_id: c.control_id.clone(),
                raw_id: c.raw_id.clone(),
                time: c.time,
            };
            self.send(ready, None, c.msg_no, c.byte)?;
        }
        self.cache = Some(cache);
        Ok(())
    }

    /// Checks one message, normalizes it to \r-terminated segments and frames it into
    /// `self.frame`. `lines_checked`: the splitter has checked that every line starts with a
    /// segment id, so only the header is left to validate. The error is (offset in the
    /// message, field path, what).
    fn prepare(
        &mut self,
        bytes: &[u8],
        meta_time: Option<f64>,
        lines_checked: bool,
    ) -> std::result::Result<Ready, (usize, Option<String>, String)> {
        let mut msg = Message::parse(bytes)
            .and_then(|m| {
                if lines_checked {
                    m.validate_header()
                } else {
                    m.validate()
                }
                .map(|_| m)
            })
            .map_err(|e| (e.offset, e.path.clone(), e.what.clone()))?;
        let raw_id = msg
            .header_field(10)
            .map(|f| f.raw.trim_ascii().to_vec())
            .unwrap_or_default();
        // Only the control id (and with --replay MSH-7) is decoded here: the charset matters
        // when it is not ASCII (it scans the whole message: 4% of send's instructions).
        if !raw_id.is_ascii() || self.args.replay {
            msg.resolve_charset();
        }
        // Framed straight into the frame buffer: SB, the segments each ended by \r, EB CR.
        let f = &mut self.frame;
        f.clear();
        f.reserve(bytes.len() + 4);
        f.push(mllp::SB);
        for seg in msg.segments() {
            f.extend_from_slice(seg.bytes());
            f.push(b'\r');
        }
        if let Some(i) = memchr::memchr2(mllp::SB, mllp::EB, &f[1..]) {
            return Err((
                i,
                None,
                format!(
                    "byte 0x{:02X} (an MLLP frame delimiter) inside the message: it cannot be sent over MLLP",
                    f[1 + i]
                ),
            ));
        }
        f.push(mllp::EB);
        f.push(mllp::CR);
        let time = if self.args.replay {
            meta_time.or_else(|| {
                msg.header_field(7)
                    .and_then(|f| hl7::time::seconds_of(&f.component(1).text()))
            })
        } else {
            None
        };
        Ok(Ready {
            control_id: msg.control_id(),
            raw_id,
            time,
        })
    }

    /// Paces, then hands the framed message in `self.frame` to the engine.
    fn send(&mut self, r: Ready, file: Option<Arc<str>>, msg_no: u64, byte: u64) -> io::Result<()> {
        if self.cfg.stop.load(Ordering::Relaxed) {
            self.done = true;
            return Ok(());
        }
        let loc = || Loc {
            file: file.as_deref().map(str::to_string),
            message: Some(msg_no),
            byte: Some(byte),
            path: None,
        };
        if let Some(due) = self.pace.due(self.seq, r.time, &mut self.report, loc)
            && due > Instant::now()
        {
            self.engine.hook().fire();
            sleep_until(due, &self.cfg.stop);
        }
        // Inline, the buffer comes back from the engine for the next message; the pool keeps
        // each message until its result is written, and the next one gets a new buffer of its
        // own size (see `prepare`).
        let frame = std::mem::take(&mut self.frame);
        let job = Job {
            seq: self.seq,
            control_id: r.control_id,
            raw_id: r.raw_id,
            frame,
            file,
            msg_no,
            byte,
        };
        self.seq += 1;
        self.pass_sent += 1;
        match self.engine.submit(job) {
            Ok(Some(frame)) => self.frame = frame,
            Ok(None) => {}
            Err(e) => {
                self.done = true;
                self.cfg.stop.store(true, Ordering::Relaxed);
                self.failed_output = Some(e);
                return Ok(());
            }
        }
        if self.args.count.is_some_and(|c| self.seq >= c) || self.cfg.stop.load(Ordering::Relaxed) {
            self.done = true;
        }
        Ok(())
    }
}

fn sleep_until(due: Instant, stop: &AtomicBool) {
    let now = Instant::now();
    if due > now {
        sleep_unless_stopped(due - now, stop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in [
            0u64,
            1,
            15,
            16,
            17,
            31,
            32,
            33,
            100,
            1000,
            65_535,
            1 << 40,
            u64::MAX,
        ] {
            let b = Hist::bucket(v);
            assert!(b >= last, "{v}");
            last = b;
            let lo = Hist::lower(b);
            assert!(
                lo <= v && (v - lo) as f64 <= v as f64 / 16.0 + 1.0,
                "{v} {lo}"
            );
        }
    }

    #[test]
    fn replies_are_classified() {
        let ack = b"MSH|^~\\&|R|F|S|F|20240101||ACK^A01^ACK|A1|P|2.5\rMSA|AE|C1|bad\rERR||PID^1^3|101^Required field missing^HL70357|E\r";
        match classify(ack, true) {
            Reply::Ack {
                code,
                msa2,
                reason,
                text,
                bytes,
                ..
            } => {
                assert_eq!(code, Some(Code::AE));
                assert_eq!(msa2, b"C1");
                assert_eq!(
                    reason.as_deref(),
                    Some("error 101 (Required field missing) at PID-3")
                );
                assert_eq!(text.as_deref(), Some("bad"));
                assert_eq!(bytes.as_deref(), Some(&ack[..]));
            }
            _ => panic!("not an ACK"),
        }
        let old = b"MSH|^~\\&|R|F|S|F|20240101||ACK|A1|P|2.3\nMSA|AR|C1\nERR|PID^1^3^101&Required&HL70357\n";
        match classify(old, false) {
            Reply::Ack { reason, .. } => assert_eq!(
                reason.as_deref(),
                Some("error 101 (Required field missing) at PID-3")
            ),
            _ => panic!("not an ACK"),
        }
        assert!(matches!(classify(&[0x06], false), Reply::Commit(true)));
        assert!(matches!(classify(&[0x15], false), Reply::Commit(false)));
        assert!(matches!(classify(b"hello", false), Reply::Bad(_)));
        assert!(matches!(
            classify(b"MSH|^~\\&|R|F|S|F|1||ORU^R01|X|P|2.5\r", false),
            Reply::Bad(_)
        ));
    }
}
