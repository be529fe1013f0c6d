//! One connection slot: it opens, reuses and reopens its connection as needed, sends a message,
//! waits for the reply block and tries again with backoff ([`super::retry`]).
//!
//! While round trips are short (under [`SPIN_UNDER`]), a slot polls for the reply before it
//! sleeps in `read`: on loopback, waking a sleeping thread is a large part of the round trip.
//! Slow peers never see it.

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::pace::sleep_unless_stopped;
use super::reply::{self, Reply};
use super::retry::Tries;
use super::socket::{self, Drainer};
use super::{Job, Outcome, Settings, Status};
use crate::wire::mllp::{self, Decoder, Event};
use crate::wire::tls::Stream;

/// Output is flushed when a reply takes longer than this.
const FLUSH_AFTER: Duration = Duration::from_millis(10);
/// How long to wait for the CR after a reply's FS before taking the block as ended.
pub(super) const EB_GRACE: Duration = Duration::from_millis(100);
/// A kept-alive connection idle longer than this is checked before use: the peer may have
/// closed it (an idle timeout), and writing into it would cost a retry.
const STALE_AFTER: Duration = Duration::from_secs(1);
/// A connection polls for the reply (non-blocking reads) while recent round trips are shorter
/// than this, for at most this long or twice the recent round trip; then it sleeps in `read`.
/// On loopback this halves the round trip (a sleeping thread's wake-up is much of it); on a
/// slower link it is not done, so it costs nothing there.
pub const SPIN_UNDER: Duration = Duration::from_micros(200);
/// The largest reply accepted.
pub const MAX_REPLY: usize = 16 << 20;

/// The receiver: its addresses, and which one answered last (tried first next time, so that
/// `localhost` does not cost a refused `::1` on every new connection).
pub struct Target {
    /// The address as given, for errors and summaries.
    pub name: String,
    addrs: Vec<SocketAddr>,
    good: AtomicUsize,
}

impl Target {
    pub fn new(name: String, addrs: Vec<SocketAddr>) -> Self {
        Target {
            name,
            addrs,
            good: AtomicUsize::new(0),
        }
    }

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

/// One try's result.
enum Try {
    Reply(Reply, Duration),
    /// Written, without waiting for a reply.
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
pub enum Spin {
    Off,
    /// Busy-poll: one connection, a core to itself.
    Busy,
    /// Poll, yielding the CPU between polls: several connections.
    Yield,
}

/// A connection slot: it opens, reuses and reopens its connection as needed.
pub struct Conn {
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
    /// Without waiting for replies: the thread that reads and drops what the peer sends, so
    /// its ACKs cannot fill the buffers and stall it; it notices the peer closing.
    drain: Option<Drainer>,
    /// Without waiting for replies, over TLS: the peer closed (seen by `drain_now`).
    tls_dead: bool,
    /// The last read failed with a TLS alert (the server refused our certificate).
    tls_refused: bool,
}

impl Conn {
    pub fn new(cfg: Arc<Settings>, spin: Spin) -> Self {
        Conn {
            cfg,
            stream: None,
            decoder: Decoder::new(MAX_REPLY),
            buf: vec![0; 64 * 1024],
            last_used: Instant::now(),
            timeout_set: None,
            spin,
            nonblocking: false,
            recent_us: 0.0,
            prev_id: Vec::new(),
            drain: None,
            tls_dead: false,
            tls_refused: false,
        }
    }

    /// Sends one message, with its retries. `idle` is called before any wait that may be
    /// long (to flush output); `None` when nobody needs it. When the receiver cannot be
    /// reached even after the retries, the run is stopped ([`super::Stop::fail`]).
    pub fn deliver(&mut self, job: &Job, mut idle: Option<&mut dyn FnMut()>) -> Outcome {
        let cfg = self.cfg.clone();
        let mut tries = Tries::new(cfg.retries);
        loop {
            let t = self.attempt(job, &mut idle);
            let mut connecting = false;
            let (mut outcome, retry) = match t {
                Try::Written => (Outcome::accepted(None), false),
                Try::Reply(reply, latency) => {
                    let v = reply::judge(job, reply, latency, cfg.retry_rejected);
                    if v.resync {
                        self.close();
                    }
                    (v.outcome, v.retry)
                }
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
            let stopped = cfg.stop.is_set();
            let Some(wait) = tries.again(retry, stopped) else {
                if let Some(e) = &mut outcome.error {
                    tries.note(e);
                }
                if connecting && !stopped && outcome.status == Status::Failed {
                    // Nothing else will get through either: stop the run.
                    cfg.stop.fail(outcome.error.as_deref().unwrap_or_default());
                }
                return outcome;
            };
            if let Some(f) = idle.as_mut() {
                f();
            }
            sleep_unless_stopped(wait, &cfg.stop);
        }
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
            return Try::Transport {
                error: format!("cannot connect to {}", self.cfg.target.name),
                connecting: true,
            };
        };
        let start = Instant::now();
        if let Err(e) = socket::write_frame(stream, &job.frame, &mut self.nonblocking) {
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
                socket::drain_now(stream, &mut self.nonblocking, &mut self.tls_dead);
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
                Some(d) => d.is_dead(),
                None => {
                    self.last_used.elapsed() > STALE_AFTER
                        && !socket::peer_open(s.tcp(), self.nonblocking)
                }
            };
            if stale {
                self.close();
            }
        }
        if self.stream.is_some() {
            return Ok(());
        }
        let s = open(&self.cfg)?;
        self.decoder = Decoder::new(MAX_REPLY);
        self.timeout_set = None;
        self.nonblocking = false;
        self.prev_id.clear();
        self.tls_dead = false;
        if let (true, Stream::Plain(tcp)) = (self.cfg.no_ack, &s) {
            self.drain = Some(Drainer::spawn(tcp.try_clone()?, self.cfg.timeout)?);
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
    ) -> Result<Option<Reply>, String> {
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
                match reply_of(ev, keep) {
                    Some(reply) if reply::is_late(&reply, &self.prev_id, id) => continue,
                    Some(reply) => return Ok(Some(reply)),
                    None => {}
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
                found = Some(reply::classify(payload, keep));
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
    /// last frame. Without waiting for replies, waits (at most the timeout) for the peer to
    /// close its side, so that closing with its ACKs unread cannot reset the connection before
    /// it read ours.
    pub fn finish(&mut self) {
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

/// Opens a connection to the receiver: TCP, then over TLS the handshake, now, so that a
/// refused certificate is a connection error, not a lost message. The socket is blocking, with
/// no timeouts but TLS's read timeout.
pub(super) fn open(cfg: &Settings) -> io::Result<Stream> {
    let tcp = cfg.target.connect(cfg.timeout)?;
    let Some((config, name)) = &cfg.tls else {
        return Ok(Stream::Plain(tcp));
    };
    tcp.set_read_timeout(Some(cfg.timeout))?;
    tcp.set_write_timeout(Some(cfg.timeout))?;
    let mut s = Stream::client(tcp, Arc::clone(config), name.clone())?;
    s.handshake()
        .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake: {e}")))?;
    s.tcp().set_write_timeout(None)?;
    Ok(s)
}

/// The reply a decoder event is, if it is one (keep-alives, noise between frames and restarted
/// blocks are not); `keep`: keep the ACK's bytes.
pub(super) fn reply_of(ev: Event<&[u8]>, keep: bool) -> Option<Reply> {
    match ev {
        Event::Frame { payload, .. } => Some(reply::classify(payload, keep)),
        Event::Oversize { size, .. } => Some(Reply::Bad(format!(
            "the reply ({size} bytes) is larger than {} MiB",
            MAX_REPLY >> 20
        ))),
        _ => None,
    }
}

/// Seconds as people write them: `30`, `0.5`.
pub(super) fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_as_written() {
        assert_eq!(secs(Duration::from_secs(30)), "30");
        assert_eq!(secs(Duration::from_millis(500)), "0.5");
        assert_eq!(secs(Duration::from_millis(1250)), "1.25");
    }
}
