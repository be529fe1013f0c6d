//! Delivering ILP rows to QuestDB: the questdb-rs sender over TCP or HTTP, batches, and
//! retries with backoff when the database cannot be reached.

use std::io::{self, Write};
use std::time::{Duration, Instant};

pub use questdb::ingress::Sender;
use questdb::{Error as QdbError, ErrorCode};

use crate::transform::ilp::{Buffer, ProtocolVersion};

/// Where rows go: ILP text to a writer (`--dry-run`), or a database.
pub enum Destination {
    Text(Box<dyn Write>),
    Db(Box<Db>),
}

/// A database connection and how to make it again.
pub struct Db {
    sender: Option<Sender>,
    conf: String,
    http: bool,
    /// How long an unreachable database is retried.
    retry_for: Duration,
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

impl Db {
    /// Connects (TCP) or prepares (HTTP) a sender for a configuration string.
    pub fn connect(conf: &str) -> Result<Box<Db>, QdbError> {
        let http = conf.starts_with("http::") || conf.starts_with("https::");
        let sender = Sender::from_conf(conf)?;
        Ok(Box::new(Db {
            sender: Some(sender),
            conf: conf.to_owned(),
            http,
            retry_for: retry_timeout(conf).unwrap_or(Duration::from_secs(10)),
        }))
    }

    pub fn is_http(&self) -> bool {
        self.http
    }

    pub fn new_buffer(&self) -> Buffer {
        match &self.sender {
            Some(s) => s.new_buffer(),
            None => Buffer::new(ProtocolVersion::V1),
        }
    }

    /// Sends the buffer, over HTTP as one transaction. When the database cannot be reached
    /// (connection refused or broken, name not resolved), tries again with backoff from 50 ms
    /// up to 2 s between tries, for `retry_for` (the configuration's `retry_timeout`, default
    /// 10 s); over TCP with a new connection each time. Over HTTP the client also retries
    /// requests that time out or get a 5xx answer, within the same `retry_timeout`.
    fn send(&mut self, buf: &Buffer) -> Result<(), QdbError> {
        let deadline = Instant::now() + self.retry_for;
        let mut backoff = Duration::from_millis(50);
        loop {
            let http = self.http;
            let flush = |s: &mut Sender| {
                if http {
                    s.flush_and_keep_with_flags(buf, true)
                } else {
                    s.flush_and_keep(buf)
                }
            };
            let result = match self.sender.as_mut() {
                Some(sender) => flush(sender),
                None => Sender::from_conf(&self.conf).and_then(|mut s| {
                    let r = flush(&mut s);
                    self.sender = Some(s);
                    r
                }),
            };
            let Err(e) = result else { return Ok(()) };
            if !self.http {
                // A TCP connection that failed once is not used again.
                self.sender = None;
            }
            let unreachable = matches!(
                e.code(),
                ErrorCode::SocketError | ErrorCode::CouldNotResolveAddr
            );
            if !unreachable || Instant::now() + backoff > deadline {
                return Err(e);
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}

/// The `retry_timeout` (milliseconds) of a configuration string, if it sets one.
fn retry_timeout(conf: &str) -> Option<Duration> {
    let (_, params) = conf.split_once("::")?;
    params.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == "retry_timeout")
            .then(|| v.trim().parse().ok().map(Duration::from_millis))
            .flatten()
    })
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
    /// Rows that could not be delivered because the database could not be reached.
    pub undelivered: u64,
}

/// Why a flush did not deliver its rows.
#[derive(Debug)]
pub enum FlushError {
    /// The database refused the batch (HTTP): its rows are counted in `refused`; the next
    /// batches may still go through.
    Refused { rows: u64, error: String },
    /// The database could not be reached after the retries: the rows are counted in
    /// `undelivered` and the stream should stop.
    Unreachable { rows: u64, error: String },
    /// Writing the text output failed.
    Io(io::Error),
}

/// Collects rows into a buffer and flushes it every `max_rows` rows or `max_age` after the
/// first waiting row, whichever comes first.
pub struct Batcher {
    dest: Destination,
    pub buf: Buffer,
    rows: u64,
    since: Option<Instant>,
    max_rows: u64,
    max_age: Duration,
    pub counts: Counts,
}

impl Batcher {
    pub fn new(dest: Destination, max_rows: usize, max_age: Duration) -> Self {
        let buf = match &dest {
            Destination::Db(db) => db.new_buffer(),
            Destination::Text(_) => Buffer::new(ProtocolVersion::V1),
        };
        Batcher {
            dest,
            buf,
            rows: 0,
            since: None,
            max_rows: max_rows.max(1) as u64,
            max_age,
            counts: Counts::default(),
        }
    }

    /// Rows waiting in the buffer.
    pub fn waiting(&self) -> u64 {
        self.rows
    }

    /// Notes that one more row was encoded into `buf`, and flushes when the batch is full or
    /// old enough.
    pub fn row_added(&mut self) -> Result<(), FlushError> {
        self.rows += 1;
        if self.rows == 1 {
            self.since = Some(Instant::now());
        }
        if self.rows >= self.max_rows || (self.rows.is_multiple_of(256) && self.old()) {
            self.flush()?;
        }
        Ok(())
    }

    fn old(&self) -> bool {
        self.since.is_some_and(|t| t.elapsed() >= self.max_age)
    }

    /// Flushes when the waiting rows are older than the age limit.
    pub fn flush_if_old(&mut self) -> Result<(), FlushError> {
        if self.old() {
            self.flush()?;
        }
        Ok(())
    }

    /// [`Batcher::flush_if_old`], and for text output also pushes out what the writer holds
    /// (call when the input is idle).
    pub fn tick(&mut self) -> Result<(), FlushError> {
        self.flush_if_old()?;
        if let Destination::Text(w) = &mut self.dest {
            w.flush().map_err(FlushError::Io)?;
        }
        Ok(())
    }

    /// Sends the waiting rows.
    pub fn flush(&mut self) -> Result<(), FlushError> {
        if self.rows == 0 {
            return Ok(());
        }
        let rows = self.rows;
        let result = match &mut self.dest {
            Destination::Text(w) => w
                .write_all(self.buf.as_bytes())
                .and_then(|()| w.flush())
                .map_err(FlushError::Io),
            Destination::Db(db) => db.send(&self.buf).map_err(|e| {
                let error = e.msg().to_owned();
                match e.code() {
                    ErrorCode::ServerFlushError if db.http => FlushError::Refused { rows, error },
                    _ => FlushError::Unreachable { rows, error },
                }
            }),
        };
        self.buf.clear();
        self.rows = 0;
        self.since = None;
        match &result {
            Ok(()) => {
                self.counts.sent += rows;
                self.counts.flushes += 1;
            }
            Err(FlushError::Refused { .. }) => self.counts.refused += rows,
            Err(FlushError::Unreachable { .. }) => self.counts.undelivered += rows,
            Err(FlushError::Io(_)) => {}
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            retry_timeout("http::addr=x:1; retry_timeout = 500;"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(retry_timeout("tcp::addr=x:1;"), None);
        assert!(sender_conf("ftp://x").is_err());
        assert!(sender_conf("http://x/write").is_err());
    }
}
