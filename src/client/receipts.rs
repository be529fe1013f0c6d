//! Sending delivery receipts back to `hl7 listen --ack-after delivered` (the line formats are
//! in [`crate::wire::receipt`]).
//!
//! [`Receipts::delivered`] is called with the latest mark whose rows are committed; it sends a
//! receipt for it over one TCP connection, made at the first mark, to the address the mark
//! names (or a fixed one). Receipts are cumulative, so only the latest matters: when the
//! connection cannot be made or a write fails, the receipt is kept, and the connection is tried
//! again with backoff (0.25 s doubling to 5 s) from [`Receipts::retry`], which the caller calls
//! now and then; the latest receipt goes when it works again. Nothing here waits long (a 1 s
//! connect timeout, a 1 s write timeout), so that row delivery is never held up by receipts.
//! Nothing is printed: each call says what happened ([`Sent`]), and the caller reports it.

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::wire::receipt::{Mark, Receipt};

/// How long a connect or a write may take.
pub const TIMEOUT: Duration = Duration::from_secs(1);
/// The first wait before the connection is tried again; it doubles up to [`MAX_WAIT`].
pub const FIRST_WAIT: Duration = Duration::from_millis(250);
pub const MAX_WAIT: Duration = Duration::from_secs(5);

/// What a call did.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// Nothing to send (no new receipt), or a retry is not due yet while the connection is down.
    Nothing,
    /// The receipt was written.
    Sent(Receipt),
    /// The receipt was written after the connection had failed: it works again.
    Restored { to: String, receipt: Receipt },
    /// The connect or the write failed, the first time since it last worked: the receipt is
    /// kept and sent when the connection works again.
    Failed { to: String, error: String },
    /// It failed again (already said): the receipt is kept.
    Held,
}

/// The receipts connection of an `hl7 ilp` run.
pub struct Receipts {
    /// `--receipts`: overrides the marks' address.
    fixed: Option<String>,
    conn: Option<(String, TcpStream)>,
    /// The latest receipt and where it goes.
    latest: Option<(String, Receipt)>,
    /// The last receipt written.
    written: Option<Receipt>,
    /// Set while the connection is failing.
    down: bool,
    next_try: Instant,
    wait: Duration,
}

impl Receipts {
    /// `fixed`: the address receipts go to whatever the marks say.
    pub fn new(fixed: Option<String>) -> Self {
        Receipts {
            fixed,
            conn: None,
            latest: None,
            written: None,
            down: false,
            next_try: Instant::now(),
            wait: FIRST_WAIT,
        }
    }

    /// Every row read before `mark` is committed: sends its receipt (if the connection is up or
    /// a retry is due; else it waits for [`Receipts::retry`]).
    pub fn delivered(&mut self, mark: &Mark) -> Sent {
        let to = self.fixed.clone().unwrap_or_else(|| mark.to.clone());
        let receipt = Receipt {
            session: mark.session,
            seq: mark.seq,
        };
        self.latest = Some((to, receipt));
        self.send(false)
    }

    /// Sends the latest receipt if it has not gone yet and a retry is due.
    pub fn retry(&mut self) -> Sent {
        self.send(false)
    }

    /// One last try for the latest receipt, due or not (the run ends).
    pub fn finish(&mut self) -> Sent {
        self.send(true)
    }

    /// The latest receipt when it has not been written, and where it goes.
    pub fn unsent(&self) -> Option<(&str, Receipt)> {
        match &self.latest {
            Some((to, r)) if self.written != Some(*r) => Some((to.as_str(), *r)),
            _ => None,
        }
    }

    fn send(&mut self, now: bool) -> Sent {
        let Some((to, receipt)) = self.latest.clone() else {
            return Sent::Nothing;
        };
        if self.written == Some(receipt) {
            return Sent::Nothing;
        }
        if self.down && !now && Instant::now() < self.next_try {
            return Sent::Held;
        }
        match self.write(&to, receipt) {
            Ok(()) => {
                self.written = Some(receipt);
                self.wait = FIRST_WAIT;
                if std::mem::take(&mut self.down) {
                    Sent::Restored { to, receipt }
                } else {
                    Sent::Sent(receipt)
                }
            }
            Err(e) => {
                self.conn = None;
                self.next_try = Instant::now() + self.wait;
                self.wait = (self.wait * 2).min(MAX_WAIT);
                if std::mem::replace(&mut self.down, true) {
                    Sent::Held
                } else {
                    Sent::Failed {
                        to,
                        error: e.to_string(),
                    }
                }
            }
        }
    }

    /// Writes a receipt line, on the open connection when it goes to `to` and is still open,
    /// else on a new one.
    fn write(&mut self, to: &str, receipt: Receipt) -> io::Result<()> {
        let usable = match &self.conn {
            Some((addr, stream)) => addr == to && still_open(stream),
            None => false,
        };
        if !usable {
            self.conn = Some((to.to_owned(), connect(to)?));
        }
        let (_, stream) = self.conn.as_mut().expect("connected above");
        stream.write_all(receipt.line().as_bytes())
    }
}

fn connect(to: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{to}: no address"));
    for addr in to.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(s) => {
                s.set_nodelay(true)?;
                s.set_write_timeout(Some(TIMEOUT))?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Whether the peer has not closed the connection (a receipt written into a closed one would
/// be lost without an error).
fn still_open(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let open = match stream.peek(&mut [0u8; 1]) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).is_ok() && open
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    fn mark(seq: u64, to: &str) -> Mark {
        Mark {
            session: 0xab,
            seq,
            to: to.into(),
        }
    }

    fn receipt(seq: u64) -> Receipt {
        Receipt { session: 0xab, seq }
    }

    fn next_line(r: &mut BufReader<TcpStream>) -> String {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        line
    }

    #[test]
    fn receipts_go_to_the_marks_address_on_one_connection() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let to = server.local_addr().unwrap().to_string();
        let mut r = Receipts::new(None);
        assert_eq!(r.delivered(&mark(1, &to)), Sent::Sent(receipt(1)));
        // The same receipt again is not sent again.
        assert_eq!(r.delivered(&mark(1, &to)), Sent::Nothing);
        assert_eq!(r.delivered(&mark(3, &to)), Sent::Sent(receipt(3)));
        let (conn, _) = server.accept().unwrap();
        let mut lines = BufReader::new(conn);
        assert_eq!(next_line(&mut lines), "hl7-receipt 00000000000000ab 1\n");
        assert_eq!(next_line(&mut lines), "hl7-receipt 00000000000000ab 3\n");
        assert_eq!(r.unsent(), None);
    }

    #[test]
    fn a_fixed_address_wins() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let to = server.local_addr().unwrap().to_string();
        let mut r = Receipts::new(Some(to));
        assert_eq!(r.delivered(&mark(2, "127.0.0.1:1")), Sent::Sent(receipt(2)));
        let (conn, _) = server.accept().unwrap();
        assert_eq!(
            next_line(&mut BufReader::new(conn)),
            "hl7-receipt 00000000000000ab 2\n"
        );
    }

    #[test]
    fn a_failed_connection_is_said_once_and_the_latest_receipt_goes_when_it_is_back() {
        // A port with nothing on it: take one, then free it.
        let to = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let mut r = Receipts::new(None);
        assert!(matches!(r.delivered(&mark(1, &to)), Sent::Failed { .. }));
        assert_eq!(r.delivered(&mark(2, &to)), Sent::Held);
        assert_eq!(r.unsent(), Some((to.as_str(), receipt(2))));
        // Back: the next due try sends the latest receipt only.
        let server = TcpListener::bind(&to).unwrap();
        assert_eq!(
            r.finish(),
            Sent::Restored {
                to: to.clone(),
                receipt: receipt(2)
            }
        );
        let (conn, _) = server.accept().unwrap();
        assert_eq!(
            next_line(&mut BufReader::new(conn)),
            "hl7-receipt 00000000000000ab 2\n"
        );
        assert_eq!(r.retry(), Sent::Nothing);
    }

    #[test]
    fn a_connection_closed_by_listen_is_made_again() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let to = server.local_addr().unwrap().to_string();
        let mut r = Receipts::new(None);
        assert_eq!(r.delivered(&mark(1, &to)), Sent::Sent(receipt(1)));
        let (first, _) = server.accept().unwrap();
        assert_eq!(
            next_line(&mut BufReader::new(first.try_clone().unwrap())),
            "hl7-receipt 00000000000000ab 1\n"
        );
        drop(first);
        // The close is seen before the next write: that receipt goes on a new connection.
        let start = Instant::now();
        loop {
            let (_, stream) = r.conn.as_ref().unwrap();
            if !still_open(stream) || start.elapsed() > Duration::from_secs(10) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(r.delivered(&mark(2, &to)), Sent::Sent(receipt(2)));
        let (second, _) = server.accept().unwrap();
        assert_eq!(
            next_line(&mut BufReader::new(second)),
            "hl7-receipt 00000000000000ab 2\n"
        );
    }
}
