//! `hl7 listen`: the MLLP server.
//!
//! Threads: one acceptor per address, one thread per connection. Group commit without a
//! thread of its own: a connection queues each complete, valid message and waits; the first
//! waiting connection that finds nobody writing becomes the leader, takes every message queued
//! (its own and the other connections'), writes them all, flushes once (and fsyncs the archive
//! once), then wakes the others, which only then send AA. So an ACK always means "on stdout and
//! on disk", durability costs one flush per batch, not one per message, and a lone connection
//! writes its own messages without handing them to another thread. Each connection waits for
//! its message, so the queue holds at most one message per connection, and a slow stdout slows
//! fast senders down through TCP.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use hl7::ack::{self, Outcome, Problem};
use hl7::model::message::Message;
use hl7::time::Time;
use hl7::transform::json::{self, Notes, Shape};
use hl7::transform::pattern::Pattern;
use hl7::wire::mllp::{self, Decoder, Event};
use hl7::wire::tls::{self, Stream};

use crate::shell::{Error, Exit, Global, Result};

/// Receive HL7 over MLLP, ACK each message, write them to stdout
///
/// Serves many connections on one or more addresses (channels). A message is ACKed with AA (or
/// CA) only after it has been written and flushed to stdout and, with --archive, appended and
/// fsynced to disk, so a message a sender saw ACKed is never lost. Frames that are not HL7 or
/// are too large get a NAK with a reason; the connection stays usable. Prints
/// "listening on ADDR" for each bound address to stderr, so port 0 works in scripts.
/// Logs name peers, control ids and counts, never message contents.
#[derive(clap::Args, Debug)]
#[command(
    after_long_help = "Examples:\n  hl7 listen :2575 | hl7 flatten --map elisa.toml | hl7 ilp --map elisa.toml http://localhost:9000\n  hl7 listen --to ndjson --meta --archive /var/lib/hl7 127.0.0.1:0\n  hl7 listen :2575 --tls-cert server.pem --tls-key server.key --tls-client-ca clients-ca.pem"
)]
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
pub enum AckMode {
    Auto,
    Original,
    Enhanced,
    None,
}

/// A network a peer must be in (`--allow`).
#[derive(Clone, Copy, Debug)]
struct Cidr {
    net: IpAddr,
    bits: u32,
}

impl Cidr {
    fn parse(s: &str) -> std::result::Result<Cidr, String> {
        let (ip, bits) = match s.trim().split_once('/') {
            Some((ip, b)) => (ip, Some(b)),
            None => (s.trim(), None),
        };
        let net: IpAddr = ip
            .parse()
            .map_err(|_| format!("'{s}' is not an address or network (10.0.0.0/8, ::1)"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b
                .parse::<u32>()
                .ok()
                .filter(|&b| b <= max)
                .ok_or_else(|| format!("'{s}': the prefix must be 0 to {max}"))?,
            None => max,
        };
        Ok(Cidr { net, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.bits)
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.bits)
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Counters for --stats and the final summary.
#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    open: AtomicUsize,
    messages: AtomicU64,
    bytes: AtomicU64,
    naks: AtomicU64,
    refused: AtomicU64,
    /// Sum of the times from a message's end block to its ACK, in microseconds.
    ack_micros: AtomicU64,
}

/// A message for the committer.
struct Commit {
    bytes: Vec<u8>,
    received: SystemTime,
    peer: SocketAddr,
    channel: Arc<str>,
    control_id: String,
    /// The code that will be sent when the write succeeds.
    code: &'static str,
}

/// Settings every connection shares.
struct Shared {
    ack_mode: ack::Mode,
    app: Option<String>,
    facility: Option<String>,
    max_message: usize,
    idle: Duration,
    stop: Arc<AtomicBool>,
    failed: AtomicBool,
    counters: Counters,
    id_seed: u64,
    ack_number: AtomicU64,
    quiet: bool,
    /// MLLP over TLS: the server configuration.
    tls: Option<Arc<tls::Server>>,
}

impl Shared {
    fn log(&self, what: &str) {
        if !self.quiet {
            let _ = writeln!(io::stderr().lock(), "hl7 listen: {what}");
        }
    }

    fn error(&self, what: &str) {
        let _ = writeln!(io::stderr().lock(), "hl7 listen: {what}");
    }

    fn options<'a>(&'a self, now: &'a str, control_id: &'a str) -> ack::Options<'a> {
        ack::Options {
            now,
            control_id,
            app: self.app.as_deref(),
            facility: self.facility.as_deref(),
            mode: self.ack_mode,
            code: None,
            text: None,
        }
    }

    fn next_ack_id(&self) -> String {
        let n = self.ack_number.fetch_add(1, Ordering::Relaxed);
        let mut v = Vec::with_capacity(16);
        hl7::id::push_control_id(&mut v, self.id_seed, n);
        String::from_utf8(v).unwrap_or_default()
    }
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
        .map(|a| Cidr::parse(a))
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
    let mut listeners = Vec::new();
    for (name, spec) in &specs {
        let addrs = hl7::wire::addr::listen_addrs(spec).map_err(|e| Error::usage(e.to_string()))?;
        let listener = TcpListener::bind(&addrs[..])
            .map_err(|e| Error::failure(format!("cannot listen on {spec}: {e}")))?;
        let local = listener.local_addr()?;
        eprintln!("listening on {local}");
        let channel: Arc<str> = if name == spec {
            Arc::from(local.to_string())
        } else {
            Arc::from(name.as_str())
        };
        listener.set_nonblocking(true)?;
        listeners.push((listener, channel));
    }

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| Error::failure(format!("cannot handle signals: {e}")))?;
    }
    let shared = Arc::new(Shared {
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
        stop: Arc::clone(&stop),
        failed: AtomicBool::new(false),
        counters: Counters::default(),
        id_seed: hl7::id::run_seed(),
        ack_number: AtomicU64::new(0),
        quiet: global.quiet,
        tls,
    });

    let committer = Arc::new(Committer::new(
        Output {
            to: args.to,
            meta: args.meta,
            json: json::Writer::new(),
            line: Vec::new(),
        },
        args.archive
            .clone()
            .zip(layout)
            .map(|(dir, layout)| Archive {
                dir,
                layout,
                files: HashMap::new(),
            }),
        args.count,
    ));
    let stats = global.stats.then(|| {
        let shared = Arc::clone(&shared);
        thread::spawn(move || {
            let mut last = Instant::now();
            while !shared.stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(100));
                if last.elapsed() >= Duration::from_secs(1) {
                    last = Instant::now();
                    shared.error(&stats_line(&shared.counters));
                }
            }
        })
    });

    let mut acceptors = Vec::new();
    for (listener, channel) in listeners {
        let shared = Arc::clone(&shared);
        let allow = allow.clone();
        let max = args.max_connections;
        let committer = Arc::clone(&committer);
        acceptors.push(thread::spawn(move || {
            accept_loop(listener, channel, &allow, max, &committer, shared)
        }));
    }
    let mut connections = Vec::new();
    for a in acceptors {
        if let Ok(handles) = a.join() {
            connections.extend(handles);
        }
    }
    for c in connections {
        let _ = c.join();
    }
    // Every connection is gone, and with it every message waiting to be written.
    let counters_line = stats_line(&shared.counters);
    let result = committer.finish();
    if let Some(s) = stats {
        let _ = s.join();
    }
    if global.stats {
        eprintln!("hl7 listen: {counters_line}");
    }
    // A closed stdout (the consumer went away) ends the run like any closed pipe: exit 0, after
    // the "no more ACKs" line; any other write failure is exit 1.
    match result {
        Err(e) => Err(Error::failure(format!("writing messages failed: {e}"))),
        Ok(()) => Ok(Exit::Ok),
    }
}

fn stats_line(c: &Counters) -> String {
    let messages = c.messages.load(Ordering::Relaxed);
    let micros = c.ack_micros.load(Ordering::Relaxed);
    format!(
        "{} connections ({} open, {} refused), {} messages, {} bytes, {} NAKs, mean ACK latency {:.3} ms",
        c.connections.load(Ordering::Relaxed),
        c.open.load(Ordering::Relaxed),
        c.refused.load(Ordering::Relaxed),
        messages,
        c.bytes.load(Ordering::Relaxed),
        c.naks.load(Ordering::Relaxed),
        if messages == 0 {
            0.0
        } else {
            micros as f64 / messages as f64 / 1000.0
        }
    )
}

/// Accepts until told to stop; returns the connection threads to wait for.
fn accept_loop(
    listener: TcpListener,
    channel: Arc<str>,
    allow: &[Cidr],
    max: usize,
    committer: &Arc<Committer>,
    shared: Arc<Shared>,
) -> Vec<thread::JoinHandle<()>> {
    let mut handles: Vec<thread::JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, peer)) => {
                if !allow.is_empty() && !allow.iter().any(|c| c.contains(peer.ip())) {
                    shared.counters.refused.fetch_add(1, Ordering::Relaxed);
                    shared.error(&format!("{peer}: refused: not in --allow"));
                    continue;
                }
                if shared.counters.open.load(Ordering::Relaxed) >= max {
                    shared.counters.refused.fetch_add(1, Ordering::Relaxed);
                    shared.error(&format!("{peer}: refused: --max-connections {max} reached"));
                    continue;
                }
                shared.counters.connections.fetch_add(1, Ordering::Relaxed);
                shared.counters.open.fetch_add(1, Ordering::Relaxed);
                let shared = Arc::clone(&shared);
                let channel = Arc::clone(&channel);
                let committer = Arc::clone(committer);
                handles.retain(|h| !h.is_finished());
                handles.push(thread::spawn(move || {
                    if let Err(e) = serve(stream, peer, &channel, &committer, &shared)
                        && e.kind() != io::ErrorKind::BrokenPipe
                        && e.kind() != io::ErrorKind::ConnectionReset
                    {
                        shared.log(&format!("{peer}: {e}"));
                    }
                    shared.counters.open.fetch_sub(1, Ordering::Relaxed);
                }));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(20))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                shared.error(&format!("accept failed: {e}"));
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
    handles
}

/// Serves one connection: frames in, ACKs out, in order.
fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    channel: &Arc<str>,
    committer: &Committer,
    shared: &Shared,
) -> io::Result<()> {
    tcp.set_nonblocking(false)?;
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut stream = match &shared.tls {
        Some(config) => Stream::server(tcp, Arc::clone(config))?,
        None => Stream::Plain(tcp),
    };
    let r = serve_stream(&mut stream, peer, channel, committer, shared);
    if let Err(e) = &r
        && stream.is_handshaking()
    {
        // A bad certificate, a plain-TCP client on a TLS port, a TLS version we refuse.
        shared.error(&format!("{peer}: closed: TLS handshake failed: {e}"));
        return Ok(());
    }
    stream.shutdown(Shutdown::Both);
    r
}

fn serve_stream(
    stream: &mut Stream,
    peer: SocketAddr,
    channel: &Arc<str>,
    committer: &Committer,
    shared: &Shared,
) -> io::Result<()> {
    let mut decoder = Decoder::new(shared.max_message);
    let slot = Slot::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_data = Instant::now();
    let mut replies = Vec::with_capacity(512);
    let mut framed = Vec::with_capacity(512);
    loop {
        if shared.stop.load(Ordering::Relaxed) && !decoder.in_block() {
            return Ok(());
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => {
                decoder_finish(&mut decoder, peer, shared);
                return Ok(());
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                if last_data.elapsed() >= shared.idle {
                    let what = if decoder.in_block() {
                        "stalled inside a frame"
                    } else {
                        "idle"
                    };
                    shared.log(&format!(
                        "{peer}: closed: {what} for {} s",
                        shared.idle.as_secs()
                    ));
                    return Ok(());
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        last_data = Instant::now();
        decoder.feed(&buf[..n]);
        replies.clear();
        while let Some(event) = decoder.next_event() {
            match event {
                Event::Frame { payload, offset } => {
                    if let Some(r) = handle_frame(payload, offset, peer, channel, (committer, &slot), shared)? {
                        framed.clear();
                        mllp::encode(&r, &mut framed);
                        replies.extend_from_slice(&framed);
                    }
                }
                Event::Skipped { bytes, offset } => shared.log(&format!("{peer}: byte {offset}: {bytes} bytes outside any frame skipped")),
                Event::Restarted { dropped, offset } => shared.log(&format!("{peer}: byte {offset}: frame restarted by a new start block; {dropped} bytes dropped")),
                Event::NoCrAfterEnd { offset } => shared.log(&format!("{peer}: byte {offset}: end block not followed by CR; accepted")),
                Event::Empty { .. } => {}
                Event::Truncated { .. } => {}
                Event::Oversize { size, offset } => {
                    shared.counters.naks.fetch_add(1, Ordering::Relaxed);
                    shared.error(&format!("{peer}: byte {offset}: frame of {size} bytes is larger than --max-message-size {}; discarded with a NAK", shared.max_message));
                    let problem = Problem { code: 207, location: None, text: format!("message of {size} bytes is larger than the {} bytes accepted", shared.max_message) };
                    let id = shared.next_ack_id();
                    let now = now_ts();
                    let nak = ack::nak(b"", &problem, &shared.options(&now, &id));
                    framed.clear();
                    mllp::encode(&nak, &mut framed);
                    replies.extend_from_slice(&framed);
                }
            }
        }
        if !replies.is_empty() {
            stream.write_all(&replies)?;
        }
        if shared.failed.load(Ordering::Relaxed) {
            return Ok(());
        }
    }
}

fn decoder_finish(decoder: &mut Decoder, peer: SocketAddr, shared: &Shared) {
    while let Some(event) = decoder.finish() {
        if let Event::Truncated { bytes, offset } = event {
            shared.error(&format!("{peer}: byte {offset}: connection closed inside a frame; {bytes} bytes discarded, no ACK"));
        }
    }
}

fn now_ts() -> String {
    // Formatted once per second per connection thread, not once per message.
    thread_local! {
        static LAST: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    let now = Time::now_utc();
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != now.local {
            let mut v = Vec::with_capacity(20);
            now.write_ts(&mut v);
            *last = (now.local, String::from_utf8(v).unwrap_or_default());
        }
        last.1.clone()
    })
}

/// Handles one frame: a NAK for what cannot be accepted, else commit and then the ACK.
/// Returns the reply to send, if any.
fn handle_frame(
    payload: &[u8],
    offset: u64,
    peer: SocketAddr,
    channel: &Arc<str>,
    (committer, slot): (&Committer, &Arc<Slot>),
    shared: &Shared,
) -> io::Result<Option<Vec<u8>>> {
    let started = Instant::now();
    if mllp::is_commit_ack(payload).is_some() {
        shared.log(&format!(
            "{peer}: byte {offset}: MLLP release 2 commit acknowledgement block ignored"
        ));
        return Ok(None);
    }
    let now = now_ts();
    let id = shared.next_ack_id();
    let opts = shared.options(&now, &id);
    let mut msg = match Message::parse(payload) {
        Ok(m) => m,
        Err(e) => {
            shared.counters.naks.fetch_add(1, Ordering::Relaxed);
            shared.error(&format!("{peer}: byte {offset}: not accepted: {e}"));
            let problem = Problem {
                code: 100,
                location: e.path.clone(),
                text: e.to_string(),
            };
            return Ok(Some(ack::nak(payload, &problem, &opts)));
        }
    };
    msg.resolve_charset();
    let control_id = msg.control_id();
    if let Err(e) = msg.validate() {
        shared.counters.naks.fetch_add(1, Ordering::Relaxed);
        shared.error(&format!("{peer}: message {control_id}: not accepted: {e}"));
        let problem = ack::problem_for(&e);
        return Ok(ack::build(&msg, Outcome::Error, Some(&problem), &opts));
    }
    let code = ack::choose(&msg, shared.ack_mode, Outcome::Accept).map_or("", |c| c.as_str());
    let commit = Commit {
        bytes: payload.to_vec(),
        received: SystemTime::now(),
        peer,
        channel: Arc::clone(channel),
        control_id: control_id.clone(),
        code: if ack::is_ack(&msg) { "" } else { code },
    };
    let written = committer.commit(commit, slot, shared);
    if !written {
        // Not on stdout: never AA. The sender keeps the message and tries again later.
        shared.counters.naks.fetch_add(1, Ordering::Relaxed);
        let problem = Problem {
            code: 207,
            location: None,
            text: "the receiver could not store the message; send it again later".into(),
        };
        return Ok(ack::build(
            &msg,
            Outcome::Reject,
            Some(&problem),
            &ack::Options {
                mode: if shared.ack_mode == ack::Mode::None {
                    ack::Mode::None
                } else {
                    ack::Mode::Original
                },
                ..opts
            },
        ));
    }
    shared.counters.messages.fetch_add(1, Ordering::Relaxed);
    shared
        .counters
        .bytes
        .fetch_add(payload.len() as u64, Ordering::Relaxed);
    let reply = ack::build(&msg, Outcome::Accept, None, &opts);
    shared
        .counters
        .ack_micros
        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    Ok(reply)
}

/// How messages are written to stdout.
struct Output {
    to: ListenTo,
    meta: bool,
    json: json::Writer,
    line: Vec<u8>,
}

impl Output {
    fn write(&mut self, out: &mut impl Write, c: &Commit) -> io::Result<()> {
        match self.to {
            ListenTo::Hl7 => {
                out.write_all(&c.bytes)?;
                out.write_all(b"\n")
            }
            ListenTo::Mllp => {
                self.line.clear();
                mllp::encode(&c.bytes, &mut self.line);
                out.write_all(&self.line)
            }
            ListenTo::Ndjson if self.meta => {
                self.line.clear();
                self.line.extend_from_slice(b"{\"received\":");
                json::push_str(&mut self.line, &hl7::time::rfc3339_utc(c.received));
                self.line.extend_from_slice(b",\"peer\":");
                json::push_str(&mut self.line, &c.peer.to_string());
                self.line.extend_from_slice(b",\"channel\":");
                json::push_str(&mut self.line, &c.channel);
                self.line.extend_from_slice(b",\"control_id\":");
                json::push_str(&mut self.line, &c.control_id);
                self.line.extend_from_slice(b",\"ack\":");
                json::push_str(&mut self.line, c.code);
                match std::str::from_utf8(&c.bytes) {
                    Ok(text) => {
                        self.line.extend_from_slice(b",\"raw\":");
                        json::push_str(&mut self.line, text);
                    }
                    Err(_) => {
                        // not UTF-8 (an 8859 message): the bytes as they came, in base64
                        use base64::Engine;
                        self.line.extend_from_slice(b",\"raw_base64\":\"");
                        self.line.extend_from_slice(
                            base64::engine::general_purpose::STANDARD
                                .encode(&c.bytes)
                                .as_bytes(),
                        );
                        self.line.push(b'"');
                    }
                }
                self.line.extend_from_slice(b"}\n");
                out.write_all(&self.line)
            }
            ListenTo::Ndjson => {
                self.line.clear();
                if let Ok(mut m) = Message::parse(&c.bytes) {
                    m.resolve_charset();
                    self.json
                        .write(&mut self.line, &m, Shape::Segments, &mut Notes::default());
                }
                self.line.push(b'\n');
                out.write_all(&self.line)
            }
        }
    }
}

/// The archive: files opened once and kept, appended to, fsynced once per batch.
struct Archive {
    dir: PathBuf,
    layout: Pattern,
    files: HashMap<PathBuf, File>,
}

impl Archive {
    fn append(&mut self, c: &Commit, dirty: &mut Vec<PathBuf>) -> io::Result<()> {
        let msg = Message::parse(&c.bytes).map_err(|e| io::Error::other(e.to_string()))?;
        let stamp = hl7::time::Stamp::utc(hl7::time::unix_seconds(c.received));
        let rel = self.layout.render(&msg, stamp);
        let path = self.dir.join(
            FsPath::new(&rel)
                .components()
                .filter(|c| matches!(c, std::path::Component::Normal(_)))
                .collect::<PathBuf>(),
        );
        if !self.files.contains_key(&path) {
            if self.files.len() >= 64 {
                self.files.clear(); // bounded: close the least likely to be reused (all) and reopen on demand
            }
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            let f = OpenOptions::new().create(true).append(true).open(&path)?;
            self.files.insert(path.clone(), f);
        }
        let f = self.files.get_mut(&path).expect("opened above");
        f.write_all(&c.bytes)?;
        f.write_all(b"\n")?;
        if !dirty.contains(&path) {
            dirty.push(path);
        }
        Ok(())
    }

    fn sync(&mut self, dirty: &[PathBuf]) -> io::Result<()> {
        for p in dirty {
            if let Some(f) = self.files.get(p) {
                f.sync_data()?;
            }
        }
        Ok(())
    }
}

/// Group commit (see the module's documentation): where connections queue their messages and
/// wait until a leader among them has written them.
struct Committer {
    state: Mutex<CommitState>,
    count: Option<u64>,
}

/// A connection's place to hear how its message fared; the connection's thread parks on it.
struct Slot {
    outcome: AtomicU8,
    thread: thread::Thread,
}

const PENDING: u8 = 0;
const WRITTEN: u8 = 1;
const REFUSED: u8 = 2;

impl Slot {
    /// The calling thread's slot.
    fn new() -> Arc<Slot> {
        Arc::new(Slot {
            outcome: AtomicU8::new(PENDING),
            thread: thread::current(),
        })
    }
}

struct CommitState {
    /// Messages waiting for the next batch, with the slots of their connections.
    queue: Vec<(Commit, Arc<Slot>)>,
    /// Somebody is writing a batch (the writer is out of the state meanwhile).
    leading: bool,
    writer: Option<Writer>,
    written: u64,
    /// Stdout failed, or --count was reached: every message from now on is refused.
    refusing: bool,
    failure: Option<io::Error>,
}

/// What the leader writes with: stdout, the output format, the archive.
struct Writer {
    out: BufWriter<io::Stdout>,
    output: Output,
    archive: Option<Archive>,
    dirty: Vec<PathBuf>,
}

impl Writer {
    fn write<'a>(&mut self, batch: impl Iterator<Item = &'a Commit>) -> io::Result<()> {
        for c in batch {
            self.output.write(&mut self.out, c)?;
            if let Some(a) = self.archive.as_mut() {
                a.append(c, &mut self.dirty)?;
            }
        }
        self.out.flush()?;
        if let Some(a) = self.archive.as_mut() {
            a.sync(&self.dirty)?;
        }
        self.dirty.clear();
        Ok(())
    }
}

impl Committer {
    fn new(output: Output, archive: Option<Archive>, count: Option<u64>) -> Committer {
        Committer {
            state: Mutex::new(CommitState {
                queue: Vec::with_capacity(64),
                leading: false,
                writer: Some(Writer {
                    out: BufWriter::with_capacity(256 * 1024, io::stdout()),
                    output,
                    archive,
                    dirty: Vec::new(),
                }),
                written: 0,
                refusing: false,
                failure: None,
            }),
            count,
        }
    }

    fn lock(&self) -> MutexGuard<'_, CommitState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a message and returns once it has been written and flushed (true), or refused
    /// (false: stdout failed or was closed, or --count was reached before it). `slot` is the
    /// calling thread's.
    fn commit(&self, c: Commit, slot: &Arc<Slot>, shared: &Shared) -> bool {
        slot.outcome.store(PENDING, Ordering::SeqCst);
        let mut st = self.lock();
        st.queue.push((c, Arc::clone(slot)));
        loop {
            // Our message may be decided by a leader that has not told us yet: only the
            // outcome in our slot counts, never the fact that we led a batch ourselves.
            match slot.outcome.load(Ordering::SeqCst) {
                PENDING => {}
                outcome => return outcome == WRITTEN,
            }
            if !st.leading && !st.queue.is_empty() {
                self.lead(st, shared);
            } else {
                drop(st);
                // Woken when our message is decided, or to take over as the leader (a stale
                // wake-up only costs a look at the state).
                thread::park();
            }
            st = self.lock();
        }
    }

    /// Writes every message queued, ours included, outside the lock; then tells their
    /// connections, and wakes the first connection that queued meanwhile to lead next.
    fn lead(&self, mut st: MutexGuard<'_, CommitState>, shared: &Shared) {
        st.leading = true;
        let batch = std::mem::take(&mut st.queue);
        let mut writer = st.writer.take();
        let refusing = st.refusing || shared.failed.load(Ordering::SeqCst);
        // With --count, messages past the count are not taken: no ACK, the sender keeps them.
        let take = match (refusing, self.count) {
            (true, _) => 0,
            (false, Some(c)) => batch.len().min(c.saturating_sub(st.written) as usize),
            (false, None) => batch.len(),
        };
        drop(st);
        let result = match writer.as_mut() {
            Some(w) if take > 0 => w.write(batch[..take].iter().map(|(c, _)| c)),
            _ => Ok(()),
        };
        let mut st = self.lock();
        st.writer = writer;
        let ok = match result {
            Ok(()) => {
                st.written += take as u64;
                if take < batch.len() {
                    st.refusing = true;
                }
                true
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::BrokenPipe {
                    shared.error(&format!(
                        "cannot write messages: {e}; no more ACKs, stopping"
                    ));
                } else {
                    shared.error("stdout closed; no more ACKs, stopping");
                }
                st.refusing = true;
                st.failure.get_or_insert(e);
                shared.failed.store(true, Ordering::SeqCst);
                shared.stop.store(true, Ordering::SeqCst);
                false
            }
        };
        if self.count.is_some_and(|c| st.written >= c) {
            shared.stop.store(true, Ordering::SeqCst);
        }
        st.leading = false;
        if let Some((_, next)) = st.queue.first() {
            next.thread.unpark();
        }
        drop(st);
        let me = thread::current().id();
        for (i, (_, slot)) in batch.iter().enumerate() {
            let outcome = if ok && i < take { WRITTEN } else { REFUSED };
            slot.outcome.store(outcome, Ordering::SeqCst);
            if slot.thread.id() != me {
                slot.thread.unpark();
            }
        }
    }

    /// The end of the run, once every connection is gone: the first write failure, if any (a
    /// closed stdout is not one: it ends the run like any closed pipe).
    fn finish(&self) -> io::Result<()> {
        match self.lock().failure.take() {
            Some(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(
            Cidr::parse("127.0.0.1")
                .unwrap()
                .contains("127.0.0.1".parse().unwrap())
        );
        assert!(
            Cidr::parse("127.0.0.1")
                .unwrap()
                .contains("::ffff:127.0.0.1".parse().unwrap())
        );
        assert!(Cidr::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope").is_err());
    }
}
