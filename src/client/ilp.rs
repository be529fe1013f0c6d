//! Delivering ILP rows to QuestDB: the questdb-rs sender over HTTP or TCP, batches, and the
//! rule that a batch is never dropped because the database cannot be reached.
//!
//! A batch goes out every `max_rows` rows, when its first row has waited `max_age`, when the
//! input pauses ([`Batcher::tick`]) and at the end. A try that fails because the database cannot
//! be reached, restarts, times out or answers that it cannot take rows now (HTTP 5xx) keeps the
//! batch and tries again, after 100 ms, 200 ms, ... at most 30 s apart (with some jitter),
//! until it goes through or, with a give-up time, until that long has passed since the first
//! failed try; meanwhile the caller is blocked in [`Batcher::flush`], so it reads no input and
//! the pipeline upstream waits on its pipe. The caller hears once that delivery stopped and
//! once that it resumed ([`Notice`]). A batch the database refuses (HTTP 4xx: a bad type, name
//! or line) is not tried again: it is counted and returned as [`FlushError::Refused`].
//!
//! Over TCP the database confirms nothing: a write that the socket took may still be lost when
//! the database goes away, and questdb-rs cannot tell. A failed write makes a new connection and
//! sends the whole batch again (rows may then arrive twice).
//!
//! Delivery marks ([`Batcher::mark`]): a mark read when no rows wait is delivered at once;
//! otherwise when the flush holding the rows read before it is committed (or refused: refused
//! rows are reported, and do not hold marks back). Only the latest delivered mark matters
//! (receipts are cumulative): [`Batcher::take_delivered`].

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{self, Write};
use std::time::{Duration, Instant};

pub use questdb::ingress::Sender;
use questdb::{Error as QdbError, ErrorCode};

use crate::transform::ilp::{Buffer, ProtocolVersion};
use crate::wire::receipt::Mark;

/// The first wait before a batch is sent again; it doubles up to [`MAX_WAIT`].
pub const FIRST_WAIT: Duration = Duration::from_millis(100);
/// The longest wait between two tries of a batch.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Where batches go: one try each call of [`Sink::send`].
pub trait Sink {
    /// Sends the batch once; the buffer is left as it is.
    fn send(&mut self, buf: &Buffer) -> Result<(), Failure>;

    /// Whether the database confirms what it stores (ILP over HTTP, or text output).
    fn confirms(&self) -> bool {
        true
    }

    /// The input pauses: push out whatever is buffered below.
    fn idle(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why one try did not deliver a batch.
#[derive(Debug)]
pub enum Failure {
    /// The database answered that the rows are bad (HTTP 4xx): sending them again cannot help.
    Refused(String),
    /// The database could not be reached, timed out, or answered that it cannot take rows now
    /// (HTTP 5xx): the batch is to be sent again.
    Unavailable(String),
    /// Writing the text output failed.
    Io(io::Error),
}

/// ILP text to a writer (`--dry-run`): a batch is delivered when it is written and flushed.
pub struct Text(pub Box<dyn Write>);

impl Sink for Text {
    fn send(&mut self, buf: &Buffer) -> Result<(), Failure> {
        self.0
            .write_all(buf.as_bytes())
            .and_then(|()| self.0.flush())
            .map_err(Failure::Io)
    }

    fn idle(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A database: its questdb-rs sender (made again after a TCP connection broke) and its
/// configuration.
pub struct Db {
    sender: Option<Sender>,
    conf: String,
    http: bool,
    version: ProtocolVersion,
    addr: String,
}

/// Why a database could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The configuration string is wrong (a usage error).
    Config(String),
    /// The database must be reached to learn the protocol version (`protocol_version=auto`),
    /// and it cannot be.
    Unreachable(String),
}

/// The questdb-rs configuration string for an ADDR: `HOST:PORT` is ILP over TCP,
/// `http://HOST:PORT` (or `https://`) ILP over HTTP, and anything holding `::` is passed as it
/// is. The short forms use protocol version 1 (text), which every ILP server reads and which is
/// exactly what `--dry-run` prints.
pub fn sender_conf(addr: &str) -> Result<String, String> {
    if addr.contains("::") {
        return Ok(addr.to_owned());
    }
    let (scheme, rest) = if let Some(r) = addr.strip_prefix("http://") {
        ("http", r)
    } else if let Some(r) = addr.strip_prefix("https://") {
        ("https", r)
    } else if addr.contains("://") {
        return Err(format!(
            "{addr:?}: unknown scheme (use HOST:PORT, http://HOST:PORT or a questdb-rs configuration string)"
        ));
    } else {
        ("tcp", addr)
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() || host.contains(['/', ';', '?', '#']) {
        return Err(format!("{addr:?}: expected HOST:PORT"));
    }
    let host = if host.starts_with(':') {
        format!("localhost{host}")
    } else {
        host.to_owned()
    };
    Ok(format!("{scheme}::addr={host};protocol_version=1;"))
}

/// A configuration string with what `hl7 ilp` needs added when it is not set: `retry_timeout=0`
/// over HTTP (the retries are the [`Batcher`]'s, so that it can say when delivery stops) and
/// `protocol_version=1` (so that nothing is asked of the database before the first batch).
/// Also the service (`http`, `tcp`, ...) and the address.
fn complete(conf: &str) -> Result<(String, String, String), String> {
    let parsed = questdb_confstr::parse_conf_str(conf).map_err(|e| e.to_string())?;
    let service = parsed.service().to_owned();
    let addr = parsed.get("addr").unwrap_or_default().to_owned();
    let mut out = conf.to_owned();
    if !out.ends_with(';') {
        out.push(';');
    }
    if matches!(service.as_str(), "http" | "https") && parsed.get("retry_timeout").is_none() {
        out.push_str("retry_timeout=0;");
    }
    if parsed.get("protocol_version").is_none() {
        out.push_str("protocol_version=1;");
    }
    Ok((out, service, addr))
}

impl Db {
    /// Reads a configuration string and makes its sender: over TCP that connects; over HTTP
    /// nothing is sent yet. A database that cannot be reached now is not an error (the first
    /// batch waits for it), unless the protocol version must be asked of it.
    pub fn open(conf: &str) -> Result<Box<Db>, OpenError> {
        let (conf, service, addr) = complete(conf).map_err(OpenError::Config)?;
        let http = matches!(service.as_str(), "http" | "https");
        let (sender, version) = match Sender::from_conf(&conf) {
            Ok(s) => {
                let v = s.protocol_version();
                (Some(s), v)
            }
            Err(e) if unreachable(e.code()) => {
                let given = questdb_confstr::parse_conf_str(&conf).ok().and_then(|c| {
                    match c.get("protocol_version") {
                        Some("1") => Some(ProtocolVersion::V1),
                        Some("2") => Some(ProtocolVersion::V2),
                        Some("3") => Some(ProtocolVersion::V3),
                        _ => None,
                    }
                });
                match given {
                    Some(v) => (None, v),
                    None => return Err(OpenError::Unreachable(text_of(&e))),
                }
            }
            Err(e) => return Err(OpenError::Config(e.msg().to_owned())),
        };
        Ok(Box::new(Db {
            sender,
            conf,
            http,
            version,
            addr,
        }))
    }

    /// ILP over HTTP (the database confirms each batch), not TCP.
    pub fn is_http(&self) -> bool {
        self.http
    }

    /// The database's address (`HOST:PORT`), for messages.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn new_buffer(&self) -> Buffer {
        match &self.sender {
            Some(s) => s.new_buffer(),
            None => Buffer::new(self.version),
        }
    }
}

impl Sink for Db {
    /// One try: over HTTP one transaction, which the database confirms; over TCP a write into
    /// the socket, on a new connection when the last one broke.
    fn send(&mut self, buf: &Buffer) -> Result<(), Failure> {
        let sender = match &mut self.sender {
            Some(s) => s,
            None => match Sender::from_conf(&self.conf) {
                Ok(s) => self.sender.insert(s),
                Err(e) => return Err(Failure::Unavailable(text_of(&e))),
            },
        };
        let result = if self.http {
            sender.flush_and_keep_with_flags(buf, true)
        } else {
            sender.flush_and_keep(buf)
        };
        let Err(e) = result else { return Ok(()) };
        let failure = classify(&e, self.http);
        if !self.http && matches!(failure, Failure::Unavailable(_)) {
            // A TCP connection that failed once is not used again.
            self.sender = None;
        }
        Err(failure)
    }

    fn confirms(&self) -> bool {
        self.http
    }
}

/// Errors that mean the database cannot be reached (now).
fn unreachable(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::SocketError | ErrorCode::CouldNotResolveAddr | ErrorCode::ConnectTimeout
    )
}

/// A questdb-rs error's text, without the prefix every flush error has, on one line (a
/// database's answer may hold line ends).
fn text_of(e: &QdbError) -> String {
    let msg = e.msg();
    let msg = msg.strip_prefix("Could not flush buffer: ").unwrap_or(msg);
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a failed try is to be tried again (see [`Failure`]). questdb-rs gives:
/// - `SocketError` for a connection refused, broken or timed out (over HTTP also a request that
///   timed out, or an answer that could not be read), `CouldNotResolveAddr`, `ConnectTimeout`:
///   unavailable;
/// - `HttpNotSupported` (HTTP 404), `AuthError` (401, 403), `TlsError`: unavailable too. They
///   say nothing about the rows, and dropping every batch for them would lose everything: the
///   batch waits (and the stall message says why) until the setup is fixed or the give-up time;
/// - `ServerFlushError` for every other HTTP error answer, 4xx and 5xx alike, with the answer's
///   text and not its status: see [`server_side`];
/// - `InvalidApiCall` and the other encoding errors for a batch questdb-rs will not send (one
///   larger than `max_buf_size`): refused, as sending it again cannot help.
fn classify(e: &QdbError, http: bool) -> Failure {
    let text = text_of(e);
    match e.code() {
        ErrorCode::ServerFlushError if http && !server_side(&text) => Failure::Refused(text),
        ErrorCode::InvalidApiCall
        | ErrorCode::InvalidName
        | ErrorCode::InvalidTimestamp
        | ErrorCode::InvalidUtf8
        | ErrorCode::InvalidDecimal
        | ErrorCode::ArrayError => Failure::Refused(text),
        _ => Failure::Unavailable(text),
    }
}

/// Whether an HTTP error answer (its text, as questdb-rs reports it) says that the server
/// cannot take rows now (5xx, 429) rather than that the rows are bad (4xx). questdb-rs keeps the
/// text and not the status, so the text decides: QuestDB's own answers end with their JSON
/// `code` (`[id: ..., code: internal error]` is its 500; `invalid`, `not supported` and `request
/// too large` its 4xx); for another server or a proxy in between, an empty answer or the usual
/// words of 5xx and 429 answers ("Bad Gateway", "Service Unavailable", ...) count as the server's
/// trouble, anything else as the rows'.
fn server_side(text: &str) -> bool {
    let t = text.trim().to_ascii_lowercase();
    if let Some(code) = questdb_code(&t) {
        return code == "internal error";
    }
    const SERVER: &[&str] = &[
        "internal server error",
        "bad gateway",
        "service unavailable",
        "temporarily unavailable",
        "gateway timeout",
        "gateway time-out",
        "no healthy upstream",
        "upstream connect error",
        "overloaded",
        "too many requests",
    ];
    t.is_empty() || SERVER.iter().any(|s| t.contains(s))
}

/// The `code` of a QuestDB JSON error as questdb-rs writes it: `... [id: X, code: C, line: N]`.
fn questdb_code(text: &str) -> Option<&str> {
    let inside = text.strip_suffix(']')?;
    let inside = &inside[inside.rfind('[')? + 1..];
    inside
        .split(", ")
        .find_map(|part| part.strip_prefix("code: "))
}

/// Counters of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Rows the database accepted (HTTP) or that were written to its socket (TCP) or to the
    /// text output.
    pub sent: u64,
    pub flushes: u64,
    /// Rows in batches the database refused.
    pub refused: u64,
    /// Rows given up on: the database could not be reached for the give-up time.
    pub undelivered: u64,
}

/// Why a flush did not deliver its rows.
#[derive(Debug)]
pub enum FlushError {
    /// The database refused the batch (HTTP 4xx): its rows are counted in `refused`; the next
    /// batches may still go through.
    Refused { rows: u64, error: String },
    /// The database could not be reached for the give-up time: the rows are counted in
    /// `undelivered` and the stream should stop.
    Unreachable {
        rows: u64,
        error: String,
        waited: Duration,
    },
    /// Writing the text output failed.
    Io(io::Error),
}

/// What a flush that had to wait tells its caller, once each.
#[derive(Debug, PartialEq, Eq)]
pub enum Notice<'a> {
    /// Delivery stopped: the batch of `rows` could not be delivered (`error`), and is being
    /// tried again; no input is read meanwhile.
    Stalled { rows: u64, error: &'a str },
    /// The database answered again (the batch went through, or was refused), after `waited`.
    Resumed { rows: u64, waited: Duration },
}

/// Collects rows into a buffer and flushes it every `max_rows` rows or `max_age` after the
/// first waiting row, whichever comes first, or when the input pauses; keeps a batch the
/// database cannot take until it goes through (or for the give-up time), and tracks which
/// delivery marks are delivered.
pub struct Batcher {
    sink: Box<dyn Sink>,
    pub buf: Buffer,
    rows: u64,
    since: Option<Instant>,
    max_rows: u64,
    max_age: Duration,
    give_up: Option<Duration>,
    first_wait: Duration,
    max_wait: Duration,
    pub counts: Counts,
    /// The latest mark read while rows wait: delivered with them.
    held: Option<Mark>,
    /// The latest delivered mark, until it is taken.
    delivered: Option<Mark>,
}

impl Batcher {
    /// `buf` must come from the sink's sender (its protocol version); `give_up`: how long a
    /// batch is tried before it is given up (`None`: for ever).
    pub fn new(
        sink: Box<dyn Sink>,
        buf: Buffer,
        max_rows: usize,
        max_age: Duration,
        give_up: Option<Duration>,
    ) -> Self {
        Batcher {
            sink,
            buf,
            rows: 0,
            since: None,
            max_rows: max_rows.max(1) as u64,
            max_age,
            give_up,
            first_wait: FIRST_WAIT,
            max_wait: MAX_WAIT,
            counts: Counts::default(),
            held: None,
            delivered: None,
        }
    }

    /// Other waits between tries than [`FIRST_WAIT`] and [`MAX_WAIT`].
    pub fn with_waits(mut self, first: Duration, max: Duration) -> Self {
        self.first_wait = first;
        self.max_wait = max;
        self
    }

    /// Whether the sink confirms what it stores (see [`Sink::confirms`]).
    pub fn confirms(&self) -> bool {
        self.sink.confirms()
    }

    /// Rows waiting in the buffer.
    pub fn waiting(&self) -> u64 {
        self.rows
    }

    /// Notes that one more row was encoded into `buf`, and flushes when the batch is full or
    /// old enough.
    pub fn row_added(&mut self, notify: &mut dyn FnMut(Notice)) -> Result<(), FlushError> {
        self.rows += 1;
        if self.rows == 1 {
            self.since = Some(Instant::now());
        }
        if self.rows >= self.max_rows || (self.rows.is_multiple_of(256) && self.old()) {
            self.flush(notify)?;
        }
        Ok(())
    }

    fn old(&self) -> bool {
        self.since.is_some_and(|t| t.elapsed() >= self.max_age)
    }

    /// Flushes when the waiting rows are older than the age limit.
    pub fn flush_if_old(&mut self, notify: &mut dyn FnMut(Notice)) -> Result<(), FlushError> {
        if self.old() {
            self.flush(notify)?;
        }
        Ok(())
    }

    /// The input pauses: flushes whatever waits, and pushes out what the sink holds.
    pub fn tick(&mut self, notify: &mut dyn FnMut(Notice)) -> Result<(), FlushError> {
        self.flush(notify)?;
        self.sink.idle().map_err(FlushError::Io)
    }

    /// A delivery mark was read: delivered now when no rows wait, else with them.
    pub fn mark(&mut self, mark: Mark) {
        if self.rows == 0 {
            self.delivered = Some(mark);
        } else {
            self.held = Some(mark);
        }
    }

    /// The latest mark whose rows are all delivered, if one was delivered since the last call.
    pub fn take_delivered(&mut self) -> Option<Mark> {
        self.delivered.take()
    }

    /// Gives up the waiting rows without sending them (the run stops): counted as undelivered.
    pub fn abandon(&mut self) {
        self.counts.undelivered += self.rows;
        self.held = None;
        self.clear();
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.rows = 0;
        self.since = None;
    }

    /// Sends the waiting rows: tries again while the database cannot take them, until they go
    /// through or the give-up time has passed since the first failed try. `notify` hears when
    /// delivery stops and when it resumes.
    pub fn flush(&mut self, notify: &mut dyn FnMut(Notice)) -> Result<(), FlushError> {
        if self.rows == 0 {
            return Ok(());
        }
        let rows = self.rows;
        let mut wait = self.first_wait;
        let mut stalled: Option<Instant> = None;
        let mut first = true;
        let result = loop {
            let start = Instant::now();
            let error = match self.sink.send(&self.buf) {
                Ok(()) => break Ok(()),
                Err(Failure::Refused(error)) => break Err(FlushError::Refused { rows, error }),
                // The rows stay unsent; the run stops.
                Err(Failure::Io(e)) => return Err(FlushError::Io(e)),
                Err(Failure::Unavailable(error)) => error,
            };
            // A kept-open connection that the server closed meanwhile fails at once: one more
            // try on a new one before anything is said.
            if std::mem::take(&mut first) && start.elapsed() < Duration::from_secs(1) {
                continue;
            }
            let since = *stalled.get_or_insert_with(|| {
                notify(Notice::Stalled {
                    rows,
                    error: &error,
                });
                Instant::now()
            });
            let mut pause = jitter(wait);
            if let Some(limit) = self.give_up {
                let waited = since.elapsed();
                if waited >= limit {
                    self.abandon();
                    return Err(FlushError::Unreachable {
                        rows,
                        error,
                        waited,
                    });
                }
                pause = pause.min(limit - waited);
            }
            std::thread::sleep(pause);
            wait = (wait * 2).min(self.max_wait);
        };
        if let Some(since) = stalled {
            notify(Notice::Resumed {
                rows,
                waited: since.elapsed(),
            });
        }
        match &result {
            Ok(()) => {
                self.counts.sent += rows;
                self.counts.flushes += 1;
            }
            Err(_) => self.counts.refused += rows,
        }
        self.clear();
        // Every row read before the held mark is now committed (or refused and reported).
        if let Some(mark) = self.held.take() {
            self.delivered = Some(mark);
        }
        result
    }
}

/// A wait stretched or shrunk by up to a fifth, at random.
fn jitter(wait: Duration) -> Duration {
    let r = RandomState::new().hash_one(Instant::now()) % 401;
    wait * (800 + r as u32) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;

    #[test]
    fn addresses() {
        assert_eq!(
            sender_conf("localhost:9009").unwrap(),
            "tcp::addr=localhost:9009;protocol_version=1;"
        );
        assert_eq!(
            sender_conf("http://db:9000/").unwrap(),
            "http::addr=db:9000;protocol_version=1;"
        );
        assert_eq!(
            sender_conf(":9009").unwrap(),
            "tcp::addr=localhost:9009;protocol_version=1;"
        );
        assert_eq!(
            sender_conf("http::addr=x:1;retry_timeout=5;").unwrap(),
            "http::addr=x:1;retry_timeout=5;"
        );
        assert!(sender_conf("ftp://x").is_err());
        assert!(sender_conf("http://x/write").is_err());
    }

    #[test]
    fn configurations_are_completed() {
        let c = |s: &str| complete(s).unwrap();
        assert_eq!(
            c("http::addr=db:9000;protocol_version=1;"),
            (
                "http::addr=db:9000;protocol_version=1;retry_timeout=0;".into(),
                "http".into(),
                "db:9000".into()
            )
        );
        assert_eq!(
            c("https::addr=db:9000;retry_timeout=5000;protocol_version=2;").0,
            "https::addr=db:9000;retry_timeout=5000;protocol_version=2;"
        );
        assert_eq!(
            c("tcp::addr=db:9009;").0,
            "tcp::addr=db:9009;protocol_version=1;"
        );
        assert!(complete("http::addr").is_err());
    }

    #[test]
    fn error_texts_are_one_line() {
        let e = QdbError::new(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: errors on line(s):\nerror in line 1: x",
        );
        assert_eq!(text_of(&e), "errors on line(s): error in line 1: x");
    }

    #[test]
    fn error_answers_are_told_apart() {
        let e = |code, msg: &str| classify(&QdbError::new(code, msg), true);
        let refused = |f: Failure| matches!(f, Failure::Refused(_));
        // QuestDB's own answers.
        assert!(refused(e(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: failed to parse line protocol:errors encountered on line(s):\nerror in line 1: bad [id: 1a-2, code: invalid, line: 1]"
        )));
        assert!(refused(e(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: too large [code: request too large]"
        )));
        assert!(!refused(e(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: commit error for table: t, errno: 28 [id: 1a-3, code: internal error]"
        )));
        // Other servers and proxies.
        assert!(!refused(e(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: <html><title>502 Bad Gateway</title></html>"
        )));
        assert!(!refused(e(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: "
        )));
        assert!(refused(e(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: cannot parse line"
        )));
        // Not about the rows: wait for the database (or its setup) to come back.
        for code in [
            ErrorCode::SocketError,
            ErrorCode::CouldNotResolveAddr,
            ErrorCode::HttpNotSupported,
            ErrorCode::AuthError,
        ] {
            assert!(!refused(e(code, "x")), "{code:?}");
        }
        assert!(refused(e(ErrorCode::InvalidApiCall, "too big")));
        // Over TCP there are no answers.
        assert!(!refused(classify(
            &QdbError::new(ErrorCode::SocketError, "broken pipe"),
            false
        )));
    }

    /// A sink that answers each try from a script (then succeeds) and records what it got.
    #[derive(Clone, Default)]
    struct Script {
        answers: Rc<RefCell<VecDeque<Failure>>>,
        got: Rc<RefCell<Vec<String>>>,
    }

    impl Sink for Script {
        fn send(&mut self, buf: &Buffer) -> Result<(), Failure> {
            let text = String::from_utf8_lossy(buf.as_bytes()).into_owned();
            self.got.borrow_mut().push(text);
            match self.answers.borrow_mut().pop_front() {
                Some(f) => Err(f),
                None => Ok(()),
            }
        }
    }

    fn batcher(script: &Script, max_rows: usize, give_up: Option<Duration>) -> Batcher {
        Batcher::new(
            Box::new(script.clone()),
            Buffer::new(ProtocolVersion::V1),
            max_rows,
            Duration::from_secs(3600),
            give_up,
        )
        .with_waits(Duration::from_millis(1), Duration::from_millis(4))
    }

    fn add(b: &mut Batcher, v: i64, notify: &mut dyn FnMut(Notice)) -> Result<(), FlushError> {
        b.buf
            .table("t")
            .unwrap()
            .column_i64("v", v)
            .unwrap()
            .at_now()
            .unwrap();
        b.row_added(notify)
    }

    fn mark(seq: u64) -> Mark {
        Mark {
            session: 7,
            seq,
            to: "127.0.0.1:1".into(),
        }
    }

    fn seq(m: Option<Mark>) -> Option<u64> {
        m.map(|m| m.seq)
    }

    #[test]
    fn a_mark_with_nothing_waiting_is_delivered_at_once() {
        let script = Script::default();
        let mut b = batcher(&script, 10, None);
        b.mark(mark(1));
        b.mark(mark(2));
        assert_eq!(seq(b.take_delivered()), Some(2));
        assert_eq!(seq(b.take_delivered()), None);
        assert!(script.got.borrow().is_empty());
    }

    #[test]
    fn a_mark_behind_waiting_rows_waits_for_their_flush() {
        let script = Script::default();
        let mut b = batcher(&script, 3, None);
        let quiet = &mut |n: Notice| panic!("{n:?}");
        add(&mut b, 1, quiet).unwrap();
        b.mark(mark(1));
        add(&mut b, 2, quiet).unwrap();
        b.mark(mark(2));
        assert_eq!(seq(b.take_delivered()), None);
        // The third row fills the batch: the flush holds every row read before mark 2.
        add(&mut b, 3, quiet).unwrap();
        assert_eq!(seq(b.take_delivered()), Some(2));
        // A row after a mark does not hold an earlier flush's mark back; its own waits.
        add(&mut b, 4, quiet).unwrap();
        b.mark(mark(3));
        assert_eq!(seq(b.take_delivered()), None);
        b.tick(quiet).unwrap();
        assert_eq!(seq(b.take_delivered()), Some(3));
        assert_eq!(b.counts.sent, 4);
        assert_eq!(b.counts.flushes, 2);
    }

    #[test]
    fn a_failing_flush_holds_its_mark_back_until_it_goes_through() {
        let script = Script::default();
        script.answers.borrow_mut().extend([
            Failure::Unavailable("down".into()),
            Failure::Unavailable("down".into()),
            Failure::Unavailable("still down".into()),
        ]);
        let mut b = batcher(&script, 10, None);
        let mut notices = Vec::new();
        let mut notify = |n: Notice| notices.push(format!("{n:?}"));
        add(&mut b, 1, &mut notify).unwrap();
        b.mark(mark(1));
        b.tick(&mut notify).unwrap();
        // Four tries of the same batch, the last one through; one notice each way.
        let got = script.got.borrow();
        assert_eq!(got.len(), 4);
        assert!(got.iter().all(|g| *g == got[0]));
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert!(notices[0].starts_with("Stalled { rows: 1, error: \"down\""));
        assert!(notices[1].starts_with("Resumed { rows: 1"));
        assert_eq!(seq(b.take_delivered()), Some(1));
        assert_eq!(b.counts.sent, 1);
    }

    #[test]
    fn a_batch_given_up_delivers_no_mark() {
        let script = Script::default();
        script
            .answers
            .borrow_mut()
            .extend((0..10_000).map(|_| Failure::Unavailable("down".into())));
        let mut b = batcher(&script, 10, Some(Duration::from_millis(20)));
        let mut stalls = 0;
        let mut notify = |n: Notice| {
            assert!(matches!(n, Notice::Stalled { .. }), "{n:?}");
            stalls += 1;
        };
        add(&mut b, 1, &mut notify).unwrap();
        add(&mut b, 2, &mut notify).unwrap();
        b.mark(mark(1));
        match b.tick(&mut notify) {
            Err(FlushError::Unreachable { rows, waited, .. }) => {
                assert_eq!(rows, 2);
                assert!(waited >= Duration::from_millis(20));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(stalls, 1);
        assert_eq!(seq(b.take_delivered()), None);
        assert_eq!(b.counts.undelivered, 2);
        assert_eq!(b.waiting(), 0);
    }

    #[test]
    fn refused_rows_do_not_hold_marks_back() {
        let script = Script::default();
        script
            .answers
            .borrow_mut()
            .push_back(Failure::Refused("bad".into()));
        let mut b = batcher(&script, 10, None);
        let quiet = &mut |n: Notice| panic!("{n:?}");
        add(&mut b, 1, quiet).unwrap();
        b.mark(mark(1));
        assert!(matches!(
            b.tick(quiet),
            Err(FlushError::Refused { rows: 1, .. })
        ));
        assert_eq!(seq(b.take_delivered()), Some(1));
        // Refused once: the batch is not sent again; the next one goes.
        add(&mut b, 2, quiet).unwrap();
        b.tick(quiet).unwrap();
        assert_eq!(script.got.borrow().len(), 2);
        assert_eq!(
            (b.counts.refused, b.counts.sent, b.counts.undelivered),
            (1, 1, 0)
        );
    }

    #[test]
    fn jitter_stays_within_a_fifth() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(1000));
            assert!(j >= Duration::from_millis(800) && j <= Duration::from_millis(1200));
        }
    }
}
