//! `--ack-after delivered`: an AA that means "stored in the database". The committer writes a
//! mark after each message ([`crate::wire::receipt`]); `hl7 ilp` at the end of the pipeline
//! sends back receipts ("every row of messages 1 to N is committed") over a loopback TCP
//! connection to the address the marks name; a connection's thread sends the ACKs of what it
//! read only once a receipt covers them.
//!
//! What ends the wait:
//! - a receipt covering the message: the ACK goes out;
//! - the end of the pipeline is gone (the receipts connection that had sent receipts closed):
//!   no ACK, the connection is closed, the server stops and reports it, so a supervisor
//!   restarts the pipeline and the sender sends the un-ACKed messages again;
//! - the server was told to stop and [`DRAIN`] has passed since: no ACK.
//!
//! Receipts arrive in order and are cumulative, so the state is two numbers: messages written
//! and messages delivered.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::report::{Event, Report};
use crate::wire::addr;
use crate::wire::receipt::{self, MAX_LINE, Receipt};

/// How long a connection keeps waiting for its receipts once the server is told to stop.
pub const DRAIN: Duration = Duration::from_secs(10);

/// How long messages wait without any receipts connection before a warning.
const NO_RECEIPTS_WARNING: Duration = Duration::from_secs(10);

/// The loopback address receipts come to.
pub struct ReceiptsListener {
    tcp: TcpListener,
    local: SocketAddr,
}

/// Why the receipts address could not be listened on.
#[derive(Debug)]
pub enum ReceiptsError {
    /// Not an address, or not a loopback one (receipts are not for other hosts).
    Address(String),
    Bind(io::Error),
}

impl std::fmt::Display for ReceiptsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReceiptsError::Address(e) => f.write_str(e),
            ReceiptsError::Bind(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReceiptsError {}

impl ReceiptsListener {
    /// Binds `spec` (`HOST:PORT`, `PORT`; port 0 picks one), which must be a loopback
    /// address.
    pub fn bind(spec: &str) -> Result<ReceiptsListener, ReceiptsError> {
        let addrs = addr::listen_addrs(spec).map_err(|e| ReceiptsError::Address(e.to_string()))?;
        if let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback()) {
            return Err(ReceiptsError::Address(format!(
                "{spec}: {} is not a loopback address; receipts come from the same host (e.g. 127.0.0.1:0)",
                a.ip()
            )));
        }
        let tcp = TcpListener::bind(&addrs[..]).map_err(ReceiptsError::Bind)?;
        let local = tcp.local_addr().map_err(ReceiptsError::Bind)?;
        tcp.set_nonblocking(true).map_err(ReceiptsError::Bind)?;
        Ok(ReceiptsListener { tcp, local })
    }

    /// The address bound, which the marks name.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

/// How a wait for receipts ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Waited {
    Delivered,
    /// The end of the pipeline is gone: no ACK.
    Lost,
    /// The server stopped and the drain time passed: no ACK.
    Stopped,
}

/// What connections and the committer share in delivered mode.
pub(super) struct Delivery {
    session: u64,
    to: String,
    state: Mutex<State>,
    changed: Condvar,
    stop: Arc<AtomicBool>,
    /// Every connection is gone: receipts are no longer read. (Not `stop`: after a stop, the
    /// connections still wait [`DRAIN`] for their receipts.)
    finished: AtomicBool,
    report: Arc<dyn Report>,
}

#[derive(Default)]
struct State {
    /// Messages written (or being written) so far: the last mark's number.
    written: u64,
    /// Messages the end of the pipeline has confirmed.
    delivered: u64,
    /// A receipts connection has sent a valid receipt.
    connected: bool,
    /// Why the end of the pipeline is known to be gone.
    lost: Option<String>,
    /// The no-receipts warning was given.
    warned: bool,
}

impl Delivery {
    pub(super) fn new(
        to: SocketAddr,
        stop: Arc<AtomicBool>,
        report: Arc<dyn Report>,
    ) -> Arc<Delivery> {
        Arc::new(Delivery {
            session: crate::id::run_seed(),
            to: to.to_string(),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            stop,
            finished: AtomicBool::new(false),
            report,
        })
    }

    /// Every connection is gone: the receipts threads end.
    pub(super) fn finish(&self) {
        self.finished.store(true, Ordering::SeqCst);
    }

    fn finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends the mark of message `seq`.
    pub(super) fn mark(&self, seq: u64, out: &mut impl io::Write) -> io::Result<()> {
        receipt::write_mark(out, self.session, seq, &self.to)
    }

    /// Messages up to `seq` are being written: receipts may cover them from now on.
    pub(super) fn written(&self, seq: u64) {
        let mut st = self.lock();
        st.written = st.written.max(seq);
    }

    /// Why the end of the pipeline is gone, if it is.
    pub(super) fn lost(&self) -> Option<String> {
        self.lock().lost.clone()
    }

    /// Waits until a receipt covers message `seq`, the pipeline is gone, or the server stopped
    /// [`DRAIN`] ago.
    pub(super) fn wait(&self, seq: u64) -> Waited {
        let started = Instant::now();
        let mut stopping: Option<Instant> = None;
        let mut st = self.lock();
        loop {
            if st.delivered >= seq {
                return Waited::Delivered;
            }
            if st.lost.is_some() {
                return Waited::Lost;
            }
            if self.stop.load(Ordering::Relaxed) {
                let since = *stopping.get_or_insert_with(Instant::now);
                if since.elapsed() >= DRAIN {
                    return Waited::Stopped;
                }
            }
            if !st.connected && !st.warned && started.elapsed() >= NO_RECEIPTS_WARNING {
                st.warned = true;
                let waiting = st.written - st.delivered;
                self.report.event(Event::NoReceipts {
                    waiting,
                    to: &self.to,
                });
            }
            st = self
                .changed
                .wait_timeout(st, Duration::from_millis(100))
                .map_or_else(|p| p.into_inner().0, |(g, _)| g);
        }
    }

    /// Takes a receipt. `Err`: why it is ignored.
    fn receipt(&self, r: Receipt) -> Result<(), String> {
        if r.session != self.session {
            return Err(format!(
                "receipt for another run of hl7 listen (session {:016x}, this one is {:016x})",
                r.session, self.session
            ));
        }
        let mut st = self.lock();
        if r.seq > st.written {
            return Err(format!(
                "receipt for message {} but only {} were written",
                r.seq, st.written
            ));
        }
        st.connected = true;
        if r.seq > st.delivered {
            st.delivered = r.seq;
            self.changed.notify_all();
        }
        Ok(())
    }

    /// The end of the pipeline is gone: every wait ends without an ACK, and the server stops.
    fn lose(&self, why: String) {
        let mut st = self.lock();
        if st.lost.is_none() {
            let waiting = st.written - st.delivered;
            self.report
                .event(Event::PipelineLost { why: &why, waiting });
            st.lost = Some(why);
        }
        self.stop.store(true, Ordering::SeqCst);
        self.changed.notify_all();
    }
}

/// Accepts receipts connections until every connection is gone ([`Delivery::finish`]); each
/// is read on a thread of its own.
pub(super) fn serve(listener: ReceiptsListener, delivery: Arc<Delivery>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        while !delivery.finished() {
            match listener.tcp.accept() {
                Ok((stream, peer)) => {
                    let delivery = Arc::clone(&delivery);
                    thread::spawn(move || read_receipts(stream, peer, &delivery));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(20));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    delivery.report.event(Event::AcceptFailed { error: &error });
                    thread::sleep(Duration::from_millis(100));
                }
            }
        }
    })
}

/// Reads receipt lines from one connection. A connection that has sent a valid receipt is the
/// end of the pipeline: when it closes while the server runs, the pipeline is gone.
fn read_receipts(mut stream: TcpStream, peer: SocketAddr, delivery: &Delivery) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 4096];
    let mut line: Vec<u8> = Vec::with_capacity(MAX_LINE);
    let mut trusted = false;
    let end = loop {
        if delivery.finished() {
            return;
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => break "closed".to_string(),
            Ok(n) => n,
            Err(e) if super::nothing_yet(&e) => continue,
            Err(e) => break e.to_string(),
        };
        let mut bad = None;
        for &b in &buf[..n] {
            if b != b'\n' {
                if line.len() > MAX_LINE {
                    bad = Some("a line longer than a receipt".to_string());
                    break;
                }
                line.push(b);
                continue;
            }
            match Receipt::parse(&line) {
                Some(r) => match delivery.receipt(r) {
                    Ok(()) if !trusted => {
                        trusted = true;
                        delivery.report.event(Event::ReceiptsConnected { peer });
                    }
                    Ok(()) => {}
                    Err(why) => delivery
                        .report
                        .event(Event::ReceiptIgnored { peer, why: &why }),
                },
                None => {
                    bad = Some("not a receipt line".to_string());
                    break;
                }
            }
            line.clear();
        }
        if let Some(why) = bad {
            delivery
                .report
                .event(Event::ReceiptIgnored { peer, why: &why });
            if !trusted {
                return;
            }
            break why;
        }
    };
    if trusted && !delivery.finished() {
        delivery.lose(format!("the receipts connection from {peer} ended ({end})"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl Report for Log {
        fn event(&self, event: Event<'_>) {
            self.0.lock().unwrap().push(format!("{event:?}"));
        }
    }

    fn setup() -> (Arc<Delivery>, SocketAddr, Arc<AtomicBool>, Arc<Log>) {
        let listener = ReceiptsListener::bind("127.0.0.1:0").unwrap();
        let to = listener.local_addr();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Log::default());
        let d = Delivery::new(to, Arc::clone(&stop), Arc::clone(&log) as Arc<dyn Report>);
        serve(listener, Arc::clone(&d));
        (d, to, stop, log)
    }

    #[test]
    fn only_loopback_addresses_take_receipts() {
        let e = ReceiptsListener::bind("0.0.0.0:0").err().unwrap();
        assert!(e.to_string().contains("not a loopback address"), "{e}");
        assert!(ReceiptsListener::bind("127.0.0.1:0").is_ok());
    }

    #[test]
    fn a_receipt_releases_what_it_covers_and_no_more() {
        let (d, to, stop, log) = setup();
        d.written(3);
        let mut ilp = TcpStream::connect(to).unwrap();
        let r = |seq| Receipt {
            session: d.session,
            seq,
        };
        ilp.write_all(r(2).line().as_bytes()).unwrap();
        assert_eq!(d.wait(1), Waited::Delivered);
        assert_eq!(d.wait(2), Waited::Delivered);
        // a receipt from another run, or beyond what was written, changes nothing
        let other = Receipt {
            session: d.session ^ 1,
            seq: 3,
        };
        ilp.write_all(other.line().as_bytes()).unwrap();
        ilp.write_all(r(9).line().as_bytes()).unwrap();
        ilp.write_all(r(3).line().as_bytes()).unwrap();
        assert_eq!(d.wait(3), Waited::Delivered);
        assert_eq!(d.lock().delivered, 3);
        let log = log.0.lock().unwrap().clone();
        assert!(log[0].starts_with("ReceiptsConnected"), "{log:?}");
        assert!(log[1].contains("another run"), "{log:?}");
        assert!(log[2].contains("only 3 were written"), "{log:?}");
        assert!(!stop.load(Ordering::SeqCst));
    }

    #[test]
    fn the_pipeline_gone_ends_every_wait_without_delivery_and_stops() {
        let (d, to, stop, log) = setup();
        d.written(2);
        let mut ilp = TcpStream::connect(to).unwrap();
        let first = Receipt {
            session: d.session,
            seq: 1,
        };
        ilp.write_all(first.line().as_bytes()).unwrap();
        assert_eq!(d.wait(1), Waited::Delivered);
        drop(ilp);
        assert_eq!(d.wait(2), Waited::Lost);
        assert!(stop.load(Ordering::SeqCst));
        assert!(d.lost().unwrap().contains("ended"), "{:?}", d.lost());
        let log = log.0.lock().unwrap().clone();
        assert!(
            log.iter()
                .any(|l| l.starts_with("PipelineLost") && l.contains("waiting: 1")),
            "{log:?}"
        );
    }

    #[test]
    fn a_stranger_that_says_nothing_useful_changes_nothing() {
        let (d, to, stop, _log) = setup();
        d.written(1);
        let mut s = TcpStream::connect(to).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        drop(s);
        // the stranger's connection closing does not stop the server
        let mut ilp = TcpStream::connect(to).unwrap();
        let r = Receipt {
            session: d.session,
            seq: 1,
        };
        ilp.write_all(r.line().as_bytes()).unwrap();
        assert_eq!(d.wait(1), Waited::Delivered);
        assert!(!stop.load(Ordering::SeqCst));
    }
}
