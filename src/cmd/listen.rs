//! `hl7 listen`: the adapter over `hl7::server`. Flags become the server's settings, its
//! events become stderr lines (`hl7 listen: <peer>: <what>`), its counters `--stats` lines, and
//! its result the exit code.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hl7::ack;
use hl7::server::{
    self, BindError, Cidr, Config, Event, Format, Listener, Output, ReceiptsListener, Server, Stats,
};
use hl7::transform::pattern::Pattern;
use hl7::wire::tls;

use crate::shell::{Error, Exit, Global, Result, exit};

/// Receive HL7 over MLLP, ACK each message, write them to stdout
///
/// Serves many connections on one or more addresses (channels). What an AA (or CA) promises
/// depends on --ack-after:
///
///   written (default): the message was written and flushed to stdout (a pipe, or a file,
///     which is then fsynced) and, with --archive, appended and fsynced to disk. A consumer
///     that dies loses what it had read and not yet passed on.
///
///   delivered: the database committed every row made from the message. A mark line follows
///     each message down the pipeline (parse, flatten and convert pass it on), and `hl7 ilp`
///     at the end reports back over a loopback connection (--receipts) once the database has
///     confirmed the rows (ILP over HTTP). If any stage dies, the messages not yet confirmed
///     get no ACK, the sender sends them again, and listen exits 1 so a supervisor restarts the
///     pipeline; replays are harmless with `hl7 ilp --print-ddl`'s DEDUP keys.
///
/// Frames that are not HL7 or are too large get a NAK with a reason; the connection stays
/// usable. Prints "listening on ADDR" for each bound address to stderr, so port 0 works in
/// scripts. Logs name peers, control ids and counts, never message contents.
#[derive(clap::Args, Debug)]
#[command(after_long_help = exit::after_help(
    "Examples:\n  hl7 listen :2575 --ack-after delivered | hl7 flatten --map elisa.toml | hl7 ilp --map elisa.toml http://localhost:9000\n  hl7 listen :2575 | hl7 flatten --map elisa.toml | hl7 ilp --map elisa.toml http://localhost:9000\n  hl7 listen --to ndjson --meta --archive /var/lib/hl7 127.0.0.1:0\n  hl7 listen :2575 --tls-cert server.pem --tls-key server.key --tls-client-ca clients-ca.pem",
    &Exit::BASIC,
    &[(Exit::Failure, "also: an address that cannot be bound, stdout closed or no longer writable (no more ACKs), or with --ack-after delivered the end of the pipeline gone")],
))]
pub struct Args {
    /// Addresses to listen on: PORT, :PORT (all interfaces), HOST:PORT or [IPv6]:PORT; several =
    /// several channels (default :2575 when no --channel is given either)
    pub addrs: Vec<String>,
    /// Output: hl7 (segments joined by \r, a \n after each message), ndjson, or mllp (framed)
    #[arg(long, value_enum, default_value_t = ListenTo::Hl7)]
    pub to: ListenTo,
    /// With --to ndjson: add received time, peer, channel, control id and ACK code, and the raw message
    #[arg(long)]
    pub meta: bool,
    /// When to send AA: once written (and fsynced where it is a file or the archive), or once
    /// `hl7 ilp` at the end of the pipeline reports the message's rows committed
    #[arg(long, value_enum, default_value_t = AckAfter::Written)]
    pub ack_after: AckAfter,
    /// With --ack-after delivered: the loopback address where `hl7 ilp` sends receipts (the
    /// marks name it, so ilp needs no flag) [default: 127.0.0.1:0, a free port]
    #[arg(long, value_name = "HOST:PORT")]
    pub receipts: Option<String>,
    /// Name a channel: NAME=ADDR
    #[arg(long, value_name = "NAME=ADDR")]
    pub channel: Vec<String>,
    /// Append each message durably (fsync) to files under DIR before it is ACKed
    #[arg(long, value_name = "DIR")]
    pub archive: Option<PathBuf>,
    /// Archive file layout: strftime and field paths
    #[arg(
        long,
        value_name = "PATTERN",
        default_value = "%Y/%m/%d/{MSH-9.1}_{MSH-9.2}.hl7"
    )]
    pub archive_layout: String,
    /// ACK mode: auto honours MSH-15/MSH-16; original (AA/AE/AR); enhanced (CA/CE/CR); none
    #[arg(long, value_enum, default_value_t = AckMode::Auto)]
    pub ack_mode: AckMode,
    /// MSH-3 of the ACKs sent
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// MSH-4 of the ACKs sent
    #[arg(long, value_name = "NAME")]
    pub facility: Option<String>,
    /// Frames larger than this get a NAK and are discarded
    #[arg(long, value_name = "BYTES", default_value = "16777216")]
    pub max_message_size: u64,
    /// Close connections idle this long (seconds)
    #[arg(long, value_name = "SECS", default_value = "300")]
    pub idle_timeout: u64,
    /// Most connections served at once
    #[arg(long, value_name = "N", default_value = "1024")]
    pub max_connections: usize,
    /// Accept connections only from these networks
    #[arg(long, value_name = "CIDR", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Exit 0 after N messages have been received, written and ACKed
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// MLLP over TLS: certificate chain (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// MLLP over TLS: private key (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: accept only clients with a certificate signed by this CA (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenTo {
    Hl7,
    Ndjson,
    Mllp,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckAfter {
    /// AA once written and flushed to stdout (fsynced if a file) and to the archive
    Written,
    /// AA once `hl7 ilp` reports the message's rows committed by the database
    Delivered,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckMode {
    Auto,
    Original,
    Enhanced,
    None,
}

pub fn run(args: Args, global: &Global) -> Result<Exit> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            tls::server_config(cert, key, args.tls_client_ca.as_deref())
                .map_err(|e| Error::usage(format!("TLS: {e}")))?,
        ),
        _ => None,
    };
    let mut specs: Vec<(String, String)> =
        args.addrs.iter().map(|a| (a.clone(), a.clone())).collect();
    for c in &args.channel {
        let (name, addr) = c
            .split_once('=')
            .ok_or_else(|| Error::usage(format!("--channel '{c}': expected NAME=ADDR")))?;
        specs.push((name.to_string(), addr.to_string()));
    }
    if specs.is_empty() {
        specs.push((":2575".into(), ":2575".into()));
    }
    let allow: Vec<Cidr> = args
        .allow
        .iter()
        .filter(|a| !a.trim().is_empty())
        .map(|a| a.parse::<Cidr>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::usage(format!("--allow: {e}")))?;
    let layout = match &args.archive {
        Some(_) => Some(
            Pattern::parse(&args.archive_layout)
                .map_err(|e| Error::usage(format!("--archive-layout: {e}")))?,
        ),
        None => None,
    };
    if args.max_message_size == 0 {
        return Err(Error::usage("--max-message-size must be above 0"));
    }
    let delivered = args.ack_after == AckAfter::Delivered;
    if delivered && args.to == ListenTo::Mllp {
        return Err(Error::usage(
            "--ack-after delivered writes a mark line after each message, which has no place in --to mllp; use --to hl7 or --to ndjson",
        ));
    }
    let mut listeners = Vec::new();
    for (name, spec) in &specs {
        // A channel named like its address is named by the address bound, port 0 resolved.
        let name = (name != spec).then_some(name.as_str());
        let listener = Listener::bind(spec, name).map_err(|e| match e {
            BindError::Address(e) => Error::usage(e.to_string()),
            BindError::Bind(e) => Error::failure(format!("cannot listen on {spec}: {e}")),
            BindError::Socket(e) => Error::from(e),
        })?;
        eprintln!("listening on {}", listener.local_addr());
        listeners.push(listener);
    }
    if !delivered && args.receipts.is_some() {
        return Err(Error::usage(
            "--receipts is for --ack-after delivered (receipts are what ilp sends back then)",
        ));
    }
    let receipts = if delivered {
        let spec = args.receipts.as_deref().unwrap_or("127.0.0.1:0");
        let r = ReceiptsListener::bind(spec).map_err(|e| match e {
            server::ReceiptsError::Address(e) => Error::usage(format!("--receipts {e}")),
            server::ReceiptsError::Bind(e) => {
                Error::failure(format!("cannot listen on {spec} for receipts: {e}"))
            }
        })?;
        eprintln!("receipts on {}", r.local_addr());
        Some(r)
    } else {
        None
    };

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| Error::failure(format!("cannot handle signals: {e}")))?;
    }
    let config = Config {
        ack_mode: match args.ack_mode {
            AckMode::Auto => ack::Mode::Auto,
            AckMode::Original => ack::Mode::Original,
            AckMode::Enhanced => ack::Mode::Enhanced,
            AckMode::None => ack::Mode::None,
        },
        app: args.app.clone(),
        facility: args.facility.clone(),
        max_message: usize::try_from(args.max_message_size).unwrap_or(usize::MAX),
        idle: Duration::from_secs(args.idle_timeout.max(1)),
        max_connections: args.max_connections,
        allow,
        tls,
        format: match args.to {
            ListenTo::Hl7 => Format::Hl7,
            ListenTo::Mllp => Format::Mllp,
            ListenTo::Ndjson if args.meta => Format::Envelope,
            ListenTo::Ndjson => Format::Ndjson,
        },
        archive: args.archive.clone().zip(layout),
        count: args.count,
        receipts,
    };
    let output = Output {
        out: Box::new(io::stdout()),
        file: stdout_file(),
    };
    let server = Server::new(
        config,
        listeners,
        output,
        Arc::clone(&stop),
        Arc::new(Stderr {
            quiet: global.quiet,
        }),
    );
    let counters = server.counters();
    let stats = global.stats.then(|| {
        let counters = Arc::clone(&counters);
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(100));
                if last.elapsed() >= Duration::from_secs(1) {
                    last = Instant::now();
                    line(&stats_line(&counters.snapshot()));
                }
            }
        })
    });
    let result = server.run();
    let counters_line = stats_line(&counters.snapshot());
    if let Some(s) = stats {
        let _ = s.join();
    }
    if global.stats {
        eprintln!("hl7 listen: {counters_line}");
    }
    // A closed stdout (the consumer went away) or, in delivered mode, the end of the pipeline
    // gone: exit 1 after the line that said so, so that a supervisor restarts the pipeline.
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Exit::Failure),
        Err(e) => Err(Error::failure(format!("writing messages failed: {e}"))),
        Ok(()) => Ok(Exit::Ok),
    }
}

/// stdout as a file to fsync before each ACK, when it is a regular file (`> messages.hl7`).
#[cfg(unix)]
fn stdout_file() -> Option<std::fs::File> {
    use std::os::fd::AsFd;
    let fd = io::stdout().as_fd().try_clone_to_owned().ok()?;
    let file = std::fs::File::from(fd);
    file.metadata().ok()?.is_file().then_some(file)
}

/// stdout as a file to fsync before each ACK, when it is a regular file (`> messages.hl7`).
#[cfg(windows)]
fn stdout_file() -> Option<std::fs::File> {
    use std::os::windows::io::AsHandle;
    let handle = io::stdout().as_handle().try_clone_to_owned().ok()?;
    let file = std::fs::File::from(handle);
    file.metadata().ok()?.is_file().then_some(file)
}

fn stats_line(s: &Stats) -> String {
    format!(
        "{} connections ({} open, {} refused), {} messages, {} bytes, {} NAKs, mean ACK latency {:.3} ms",
        s.connections,
        s.open,
        s.refused,
        s.messages,
        s.bytes,
        s.naks,
        s.mean_ack_ms()
    )
}

fn line(what: &str) {
    let _ = writeln!(io::stderr().lock(), "hl7 listen: {what}");
}

/// The server's events as stderr lines; with --quiet, only the errors.
struct Stderr {
    quiet: bool,
}

impl server::Report for Stderr {
    fn event(&self, event: Event<'_>) {
        let (error, what) = match event {
            Event::NotAllowed { peer } => (true, format!("{peer}: refused: not in --allow")),
            Event::TooMany { peer, max } => (
                true,
                format!("{peer}: refused: --max-connections {max} reached"),
            ),
            Event::AcceptFailed { error } => (true, format!("accept failed: {error}")),
            Event::ConnectionFailed { peer, error } => (false, format!("{peer}: {error}")),
            Event::HandshakeFailed { peer, error } => (
                true,
                format!("{peer}: closed: TLS handshake failed: {error}"),
            ),
            Event::Idle {
                peer,
                idle,
                in_frame,
            } => {
                let what = if in_frame {
                    "stalled inside a frame"
                } else {
                    "idle"
                };
                (
                    false,
                    format!("{peer}: closed: {what} for {} s", idle.as_secs()),
                )
            }
            Event::CommitAckIgnored { peer, offset } => (
                false,
                format!(
                    "{peer}: byte {offset}: MLLP release 2 commit acknowledgement block ignored"
                ),
            ),
            Event::Unreadable {
                peer,
                offset,
                error,
            } => (
                true,
                format!("{peer}: byte {offset}: not accepted: {error}"),
            ),
            Event::Invalid {
                peer,
                control_id,
                error,
            } => (
                true,
                format!("{peer}: message {control_id}: not accepted: {error}"),
            ),
            Event::Skipped {
                peer,
                offset,
                bytes,
            } => (
                false,
                format!("{peer}: byte {offset}: {bytes} bytes outside any frame skipped"),
            ),
            Event::Restarted {
                peer,
                offset,
                dropped,
            } => (
                false,
                format!(
                    "{peer}: byte {offset}: frame restarted by a new start block; {dropped} bytes dropped"
                ),
            ),
            Event::NoCrAfterEnd { peer, offset } => (
                false,
                format!("{peer}: byte {offset}: end block not followed by CR; accepted"),
            ),
            Event::Oversize {
                peer,
                offset,
                size,
                max,
            } => (
                true,
                format!(
                    "{peer}: byte {offset}: frame of {size} bytes is larger than --max-message-size {max}; discarded with a NAK"
                ),
            ),
            Event::Truncated {
                peer,
                offset,
                bytes,
            } => (
                true,
                format!(
                    "{peer}: byte {offset}: connection closed inside a frame; {bytes} bytes discarded, no ACK"
                ),
            ),
            Event::WriteFailed { error } if error.kind() == io::ErrorKind::BrokenPipe => {
                (true, "stdout closed; no more ACKs, stopping".to_string())
            }
            Event::WriteFailed { error } => (
                true,
                format!("cannot write messages: {error}; no more ACKs, stopping"),
            ),
            Event::ReceiptsConnected { peer } => (
                false,
                format!("receipts: {peer} connected (delivered mode)"),
            ),
            Event::ReceiptIgnored { peer, why } => {
                (true, format!("receipts: {peer}: ignored: {why}"))
            }
            Event::NoReceipts { waiting, to } => (
                true,
                format!(
                    "{waiting} messages wait for receipts and nothing has reported to {to}; is `hl7 ilp` (over HTTP) at the end of the pipeline?"
                ),
            ),
            Event::PipelineLost { why, waiting } => (
                true,
                format!(
                    "the end of the pipeline is gone: {why}; {waiting} messages written but not confirmed get no ACK (their senders will send them again); stopping"
                ),
            ),
            Event::MarkInMessage { peer, control_id } => (
                true,
                format!(
                    "{peer}: message {control_id}: not accepted: a line starts with byte 0x1E, reserved for delivery marks"
                ),
            ),
        };
        if error || !self.quiet {
            line(&what);
        }
    }
}
