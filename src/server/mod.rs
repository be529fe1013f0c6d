//! The MLLP server behind `hl7 listen`: it accepts connections on one or more addresses
//! (channels), answers every frame (`ack::respond`), and writes each accepted message to one
//! output, and an archive, before the message is acknowledged. So an ACK always means "written,
//! flushed and, with an archive, fsynced", and a message a sender saw acknowledged is never
//! lost.
//!
//! Threads: one acceptor per address, one thread per connection. Group commit without a
//! thread of its own (`commit`): a connection queues each complete, valid message and waits;
//! the first waiting connection that finds nobody writing becomes the leader, takes every
//! message queued (its own and the other connections'), writes them all, flushes once (and
//! fsyncs the archive once), then wakes the others, which only then send AA. Durability costs
//! one flush per batch, not one per message, and a lone connection writes its own messages
//! without handing them to another thread. Each connection waits for its message, so the
//! queue holds at most one message per connection, and a slow output slows fast senders down
//! through TCP.
//!
//! With `--ack-after delivered` ([`delivery`]) an accepted message is written with a mark after
//! it, and its ACK waits, after the write, for a receipt from the end of the pipeline; the
//! connection reads and writes ahead meanwhile (all the frames of one read are committed, then
//! their ACKs sent together once the receipts cover them), so a sender with several messages in
//! flight is not held to one database commit per message.
//!
//! The server never prints and knows no command line: it reports [`Event`]s to a [`Report`]
//! the caller gives it, counts in [`Counters`], and stops when the caller's stop flag is set
//! (or when writing fails, after `count` messages, or when the end of the pipeline is gone).

mod allow;
mod archive;
mod commit;
mod conn;
mod delivery;
mod output;
mod report;

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::Duration;

pub use allow::{Cidr, CidrError};
pub use delivery::{DRAIN, ReceiptsError, ReceiptsListener};
pub use output::Format;
pub use report::{Counters, Event, Report, Stats};

use crate::ack;
use crate::transform::pattern::Pattern;
use crate::wire::addr::{self, AddrError};
use crate::wire::tls;

/// A read of a socket with a read timeout that gave nothing yet (the timeout passed, or a
/// signal came): read again, after looking at the clock and the stop flag.
fn nothing_yet(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// How the server behaves.
pub struct Config {
    /// Which ACKs: auto (MSH-15/MSH-16), original, enhanced, or none.
    pub ack_mode: ack::Mode,
    /// MSH-3 of the ACKs (default: the inbound MSH-5).
    pub app: Option<String>,
    /// MSH-4 of the ACKs (default: the inbound MSH-6).
    pub facility: Option<String>,
    /// Frames larger than this many bytes get a NAK and are discarded.
    pub max_message: usize,
    /// Connections without data this long are closed.
    pub idle: Duration,
    /// Connections beyond this many open are refused.
    pub max_connections: usize,
    /// Peers must be in one of these networks; any peer when empty.
    pub allow: Vec<Cidr>,
    /// MLLP over TLS: the server configuration.
    pub tls: Option<Arc<tls::Server>>,
    /// What the output holds.
    pub format: Format,
    /// The archive: a directory, and the layout of the files under it.
    pub archive: Option<(PathBuf, Pattern)>,
    /// Stop after this many messages have been written; later ones are refused unanswered.
    pub count: Option<u64>,
    /// `--ack-after delivered`: where receipts come; `None` acknowledges once written.
    pub receipts: Option<ReceiptsListener>,
}

/// Where accepted messages are written.
pub struct Output {
    pub out: Box<dyn Write + Send>,
    /// The output is this regular file: it is fsynced before the ACKs, as the archive is.
    pub file: Option<File>,
}

/// A bound address and the channel its messages are named with.
pub struct Listener {
    tcp: TcpListener,
    local: SocketAddr,
    channel: Arc<str>,
}

/// Why an address could not be listened on.
#[derive(Debug)]
pub enum BindError {
    /// Not an address to listen on, or a name that does not resolve.
    Address(AddrError),
    /// Binding failed (in use, not this host's, not permitted).
    Bind(io::Error),
    /// The bound socket could not be set up.
    Socket(io::Error),
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindError::Address(e) => e.fmt(f),
            BindError::Bind(e) | BindError::Socket(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BindError {}

impl Listener {
    /// Binds `addr` (`PORT`, `:PORT`, `HOST:PORT`, `[IPv6]:PORT`); its messages carry the
    /// channel `name`, or the address bound when there is none.
    pub fn bind(addr: &str, name: Option<&str>) -> Result<Listener, BindError> {
        let addrs = addr::listen_addrs(addr).map_err(BindError::Address)?;
        let tcp = TcpListener::bind(&addrs[..]).map_err(BindError::Bind)?;
        let local = tcp.local_addr().map_err(BindError::Socket)?;
        // Accepting polls, so that the stop flag is seen.
        tcp.set_nonblocking(true).map_err(BindError::Socket)?;
        let channel = match name {
            Some(n) => Arc::from(n),
            None => Arc::from(local.to_string()),
        };
        Ok(Listener {
            tcp,
            local,
            channel,
        })
    }

    /// The address bound (with the port picked when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

/// A server ready to run.
pub struct Server {
    listeners: Vec<Listener>,
    shared: Arc<conn::Shared>,
    committer: Arc<commit::Committer>,
    receipts: Option<(ReceiptsListener, Arc<delivery::Delivery>)>,
}

impl Server {
    /// A server on `listeners` writing accepted messages to `out`. It runs until `stop` is
    /// set (it sets it too: when writing fails, or after `config.count` messages).
    pub fn new(
        mut config: Config,
        listeners: Vec<Listener>,
        output: Output,
        stop: Arc<AtomicBool>,
        report: Arc<dyn Report>,
    ) -> Server {
        let receipts = config.receipts.take().map(|l| {
            let d = delivery::Delivery::new(l.local_addr(), Arc::clone(&stop), Arc::clone(&report));
            (l, d)
        });
        let delivery = receipts.as_ref().map(|(_, d)| Arc::clone(d));
        let shared = Arc::new(conn::Shared::new(
            &config,
            delivery.clone(),
            Arc::clone(&stop),
            Arc::clone(&report),
        ));
        let sink = commit::Sink {
            out: output.out,
            file: output.file,
            format: config.format,
            archive: config
                .archive
                .map(|(dir, layout)| archive::Archive::new(dir, layout)),
            delivery,
        };
        let committer = Arc::new(commit::Committer::new(sink, config.count, stop, report));
        Server {
            listeners,
            shared,
            committer,
            receipts,
        }
    }

    /// The counters, to read while the server runs.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.shared.counters)
    }

    /// Serves until stopped, then waits for every connection to end. The error is the first
    /// write failure (a closed output too: no more ACKs could be given), or in delivered mode
    /// the end of the pipeline gone.
    pub fn run(self) -> io::Result<()> {
        let mut delivery = None;
        let receipts = self.receipts.map(|(listener, d)| {
            delivery = Some(Arc::clone(&d));
            delivery::serve(listener, d)
        });
        let mut acceptors = Vec::new();
        for l in self.listeners {
            let shared = Arc::clone(&self.shared);
            let committer = Arc::clone(&self.committer);
            acceptors.push(thread::spawn(move || {
                conn::accept_loop(l.tcp, l.channel, &committer, shared)
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
        if let Some(r) = receipts {
            if let Some(d) = &delivery {
                d.finish();
            }
            let _ = r.join();
        }
        // Every connection is gone, and with it every message waiting to be written.
        self.committer.finish()?;
        match delivery.and_then(|d| d.lost()) {
            Some(why) => Err(io::Error::new(io::ErrorKind::BrokenPipe, why)),
            None => Ok(()),
        }
    }
}
