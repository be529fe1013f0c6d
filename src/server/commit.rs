//! Group commit: connections queue their messages and wait until a leader among them has
//! written them (the server's module documentation tells the whole scheme).
//!
//! A connection's thread calls [`Committer::commit`] and parks. The first waiting connection
//! that finds nobody writing becomes the leader: it takes every message queued (its own and
//! the other connections'), writes them all outside the lock, flushes once and fsyncs the
//! archive once, then tells exactly that batch's connections how their messages fared and
//! wakes the first connection that queued meanwhile to lead the next batch.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::SystemTime;

use super::archive::Archive;
use super::delivery::Delivery;
use super::output::{Format, Output};
use super::report::{Event, Report};
use crate::transform::envelope::Envelope;

/// A message for the committer, with what its envelope says.
pub(super) struct Record {
    pub(super) bytes: Vec<u8>,
    pub(super) received: SystemTime,
    pub(super) peer: SocketAddr,
    pub(super) channel: Arc<str>,
    pub(super) control_id: String,
    /// The code that will be sent when the write succeeds (empty when none will be).
    pub(super) code: &'static str,
}

impl Record {
    fn envelope(&self) -> Envelope<'_> {
        Envelope {
            received: self.received,
            peer: self.peer,
            channel: &self.channel,
            control_id: &self.control_id,
            ack: self.code,
            raw: &self.bytes,
        }
    }
}

/// A connection's place to hear how its message fared; the connection's thread parks on it.
pub(super) struct Slot {
    outcome: AtomicU8,
    /// The message's number in the output (from 1), once written.
    seq: AtomicU64,
    thread: thread::Thread,
}

const PENDING: u8 = 0;
const WRITTEN: u8 = 1;
const REFUSED: u8 = 2;

impl Slot {
    /// The calling thread's slot.
    pub(super) fn new() -> Arc<Slot> {
        Arc::new(Slot {
            outcome: AtomicU8::new(PENDING),
            seq: AtomicU64::new(0),
            thread: thread::current(),
        })
    }
}

/// Where connections queue their messages to be written.
pub(super) struct Committer {
    state: Mutex<CommitState>,
    count: Option<u64>,
    /// Writing failed: every message from now on is refused, and connections close.
    failed: AtomicBool,
    /// Set to stop the server: on a write failure, and once `count` messages are written.
    stop: Arc<AtomicBool>,
    report: Arc<dyn Report>,
}

struct CommitState {
    /// Messages waiting for the next batch, with the slots of their connections.
    queue: Vec<(Record, Arc<Slot>)>,
    /// Somebody is writing a batch (the writer is out of the state meanwhile).
    leading: bool,
    writer: Option<Writer>,
    written: u64,
    /// Writing failed, or `count` was reached: every message from now on is refused.
    refusing: bool,
    failure: Option<io::Error>,
}

/// Where accepted messages go, and what makes them durable there.
pub(super) struct Sink {
    pub(super) out: Box<dyn Write + Send>,
    /// The output is this regular file: fsynced after each batch, before the ACKs.
    pub(super) file: Option<File>,
    pub(super) format: Format,
    pub(super) archive: Option<Archive>,
    /// Delivered mode: a mark after each message.
    pub(super) delivery: Option<Arc<Delivery>>,
}

/// What the leader writes with: the output, its format, the archive.
struct Writer {
    out: BufWriter<Box<dyn Write + Send>>,
    file: Option<File>,
    output: Output,
    archive: Option<Archive>,
    dirty: Vec<PathBuf>,
    delivery: Option<Arc<Delivery>>,
    /// Messages written so far (the number of the last one).
    seq: u64,
}

impl Writer {
    /// Writes a batch (each message followed by its mark in delivered mode), flushes, and
    /// makes it durable; returns the number of the batch's first message.
    fn write<'a>(&mut self, batch: impl ExactSizeIterator<Item = &'a Record>) -> io::Result<u64> {
        let first = self.seq + 1;
        let mut seq = self.seq;
        if let Some(d) = &self.delivery {
            // Before any mark can reach the output (the buffer may spill while it fills): a
            // receipt may come back as soon as the mark is read, and it is taken only up to
            // what was announced here.
            d.written(self.seq + batch.len() as u64);
        }
        for r in batch {
            self.output.write(&mut self.out, &r.envelope())?;
            seq += 1;
            if let Some(d) = &self.delivery {
                d.mark(seq, &mut self.out)?;
            }
            if let Some(a) = self.archive.as_mut() {
                a.append(&r.bytes, r.received, &mut self.dirty)?;
            }
        }
        self.out.flush()?;
        if let Some(f) = &self.file {
            f.sync_data()?;
        }
        if let Some(a) = self.archive.as_mut() {
            a.sync(&self.dirty)?;
        }
        self.dirty.clear();
        self.seq = seq;
        Ok(first)
    }
}

impl Committer {
    /// A committer writing to `sink`; with `count`, it refuses every message after the
    /// `count`th.
    pub(super) fn new(
        sink: Sink,
        count: Option<u64>,
        stop: Arc<AtomicBool>,
        report: Arc<dyn Report>,
    ) -> Committer {
        Committer {
            state: Mutex::new(CommitState {
                queue: Vec::with_capacity(64),
                leading: false,
                writer: Some(Writer {
                    out: BufWriter::with_capacity(256 * 1024, sink.out),
                    file: sink.file,
                    output: Output::new(sink.format),
                    archive: sink.archive,
                    dirty: Vec::new(),
                    delivery: sink.delivery,
                    seq: 0,
                }),
                written: 0,
                refusing: false,
                failure: None,
            }),
            count,
            failed: AtomicBool::new(false),
            stop,
            report,
        }
    }

    fn lock(&self) -> MutexGuard<'_, CommitState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether writing has failed (then nothing more is accepted).
    pub(super) fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Queues a message and returns once it has been written and flushed (its number in the
    /// output, from 1), or refused (`None`: writing failed, or `count` was reached before it).
    /// `slot` is the calling thread's.
    pub(super) fn commit(&self, r: Record, slot: &Arc<Slot>) -> Option<u64> {
        slot.outcome.store(PENDING, Ordering::SeqCst);
        let mut st = self.lock();
        st.queue.push((r, Arc::clone(slot)));
        loop {
            // Our message may be decided by a leader that has not told us yet: only the
            // outcome in our slot counts, never the fact that we led a batch ourselves.
            match slot.outcome.load(Ordering::SeqCst) {
                PENDING => {}
                WRITTEN => return Some(slot.seq.load(Ordering::SeqCst)),
                _ => return None,
            }
            if !st.leading && !st.queue.is_empty() {
                self.lead(st);
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
    fn lead(&self, mut st: MutexGuard<'_, CommitState>) {
        st.leading = true;
        let batch = std::mem::take(&mut st.queue);
        let mut writer = st.writer.take();
        let refusing = st.refusing || self.failed.load(Ordering::SeqCst);
        // With a count, messages past it are not taken: no ACK, the sender keeps them.
        let take = match (refusing, self.count) {
            (true, _) => 0,
            (false, Some(c)) => batch.len().min(c.saturating_sub(st.written) as usize),
            (false, None) => batch.len(),
        };
        drop(st);
        let result = match writer.as_mut() {
            Some(w) if take > 0 => w.write(batch[..take].iter().map(|(r, _)| r)),
            _ => Ok(0),
        };
        let mut st = self.lock();
        st.writer = writer;
        let (ok, first) = match result {
            Ok(first) => {
                st.written += take as u64;
                if take < batch.len() {
                    st.refusing = true;
                }
                (true, first)
            }
            Err(e) => {
                self.report.event(Event::WriteFailed { error: &e });
                st.refusing = true;
                st.failure.get_or_insert(e);
                self.failed.store(true, Ordering::SeqCst);
                self.stop.store(true, Ordering::SeqCst);
                (false, 0)
            }
        };
        if self.count.is_some_and(|c| st.written >= c) {
            self.stop.store(true, Ordering::SeqCst);
        }
        st.leading = false;
        if let Some((_, next)) = st.queue.first() {
            next.thread.unpark();
        }
        drop(st);
        let me = thread::current().id();
        for (i, (_, slot)) in batch.iter().enumerate() {
            let outcome = if ok && i < take { WRITTEN } else { REFUSED };
            slot.seq.store(first + i as u64, Ordering::SeqCst);
            slot.outcome.store(outcome, Ordering::SeqCst);
            if slot.thread.id() != me {
                slot.thread.unpark();
            }
        }
    }

    /// The end of the run, once every connection is gone: the first write failure, if any (a
    /// closed output is one: the server could not go on acknowledging).
    pub(super) fn finish(&self) -> io::Result<()> {
        match self.lock().failure.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        self.lock().queue.len()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    /// An output that keeps what reaches it and a `#` for each flush; it can fail every write,
    /// and hold its first write until told to go on.
    #[derive(Clone, Default)]
    pub(in crate::server) struct Sink {
        bytes: Arc<Mutex<Vec<u8>>>,
        fail: Option<io::ErrorKind>,
        hold: Arc<Mutex<Option<mpsc::Receiver<()>>>>,
        holding: Arc<AtomicBool>,
    }

    impl Sink {
        pub(in crate::server) fn failing(kind: io::ErrorKind) -> Sink {
            Sink {
                fail: Some(kind),
                ..Sink::default()
            }
        }

        /// The first write waits for the sender to send (or to be dropped).
        fn held(self) -> (Sink, mpsc::Sender<()>) {
            let (tx, rx) = mpsc::channel();
            *self.hold.lock().unwrap() = Some(rx);
            (self, tx)
        }

        pub(in crate::server) fn text(&self) -> String {
            String::from_utf8(self.bytes.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let held = self.hold.lock().unwrap().take();
            if let Some(rx) = held {
                self.holding.store(true, Ordering::SeqCst);
                let _ = rx.recv();
            }
            if let Some(kind) = self.fail {
                return Err(io::Error::from(kind));
            }
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            self.bytes.lock().unwrap().push(b'#');
            Ok(())
        }
    }

    /// The events reported, as their debug text.
    #[derive(Default)]
    pub(in crate::server) struct Log(pub(in crate::server) Mutex<Vec<String>>);

    impl Report for Log {
        fn event(&self, event: Event<'_>) {
            self.0.lock().unwrap().push(format!("{event:?}"));
        }
    }

    pub(in crate::server) struct Fixture {
        pub(in crate::server) committer: Arc<Committer>,
        pub(in crate::server) stop: Arc<AtomicBool>,
        pub(in crate::server) log: Arc<Log>,
    }

    pub(in crate::server) fn fixture(sink: &Sink, format: Format, count: Option<u64>) -> Fixture {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Log::default());
        let committer = Arc::new(Committer::new(
            super::Sink {
                out: Box::new(sink.clone()),
                file: None,
                format,
                archive: None,
                delivery: None,
            },
            count,
            Arc::clone(&stop),
            Arc::clone(&log) as Arc<dyn Report>,
        ));
        Fixture {
            committer,
            stop,
            log,
        }
    }

    fn record(text: &str) -> Record {
        Record {
            bytes: text.as_bytes().to_vec(),
            received: SystemTime::UNIX_EPOCH,
            peer: "127.0.0.1:4000".parse().unwrap(),
            channel: Arc::from("test"),
            control_id: text.to_string(),
            code: "AA",
        }
    }

    /// Commits `text` from a thread of its own, as a connection would.
    fn connection(c: &Arc<Committer>, text: &'static str) -> thread::JoinHandle<bool> {
        let c = Arc::clone(c);
        thread::spawn(move || c.commit(record(text), &Slot::new()).is_some())
    }

    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waited for {what}"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn written_and_flushed_before_it_counts_as_written() {
        let sink = Sink::default();
        let f = fixture(&sink, Format::Hl7, None);
        let slot = Slot::new();
        assert_eq!(f.committer.commit(record("one"), &slot), Some(1));
        assert_eq!(sink.text(), "one\n#");
        assert_eq!(f.committer.commit(record("two"), &slot), Some(2));
        assert_eq!(sink.text(), "one\n#two\n#");
        assert!(!f.stop.load(Ordering::SeqCst));
        assert!(f.committer.finish().is_ok());
        assert!(f.log.0.lock().unwrap().is_empty());
    }

    /// Three connections: the first leads a batch of its own and holds it while the other two
    /// queue; the next leader writes both with one flush.
    fn three_connections(sink: Sink) -> (Fixture, Vec<bool>) {
        let (sink, go) = sink.held();
        let f = fixture(&sink, Format::Hl7, None);
        let first = connection(&f.committer, "A");
        wait_until("the first write", || sink.holding.load(Ordering::SeqCst));
        let second = connection(&f.committer, "B");
        wait_until("B to queue", || f.committer.queued() == 1);
        let third = connection(&f.committer, "C");
        wait_until("C to queue", || f.committer.queued() == 2);
        go.send(()).unwrap();
        let written = [first, second, third].map(|t| t.join().unwrap()).to_vec();
        (f, written)
    }

    #[test]
    fn one_flush_for_everything_queued_meanwhile() {
        let sink = Sink::default();
        let (f, written) = three_connections(sink.clone());
        assert_eq!(written, [true, true, true]);
        assert_eq!(sink.text(), "A\n#B\nC\n#");
        assert!(f.committer.finish().is_ok());
    }

    #[test]
    fn a_failing_output_refuses_its_batch_and_all_after() {
        let sink = Sink::failing(io::ErrorKind::Other);
        let (f, written) = three_connections(sink.clone());
        assert_eq!(written, [false, false, false]);
        assert!(f.committer.failed());
        assert!(f.stop.load(Ordering::SeqCst));
        assert!(f.committer.commit(record("D"), &Slot::new()).is_none());
        let log = f.log.0.lock().unwrap().clone();
        assert_eq!(log.len(), 1, "{log:?}");
        assert!(log[0].starts_with("WriteFailed"), "{log:?}");
        assert!(f.committer.finish().is_err());
        assert_eq!(sink.text(), "", "nothing reached the output");
    }

    #[test]
    fn a_closed_output_refuses_and_fails_the_run() {
        let sink = Sink::failing(io::ErrorKind::BrokenPipe);
        let f = fixture(&sink, Format::Hl7, None);
        assert!(f.committer.commit(record("A"), &Slot::new()).is_none());
        assert!(f.stop.load(Ordering::SeqCst));
        let e = f.committer.finish().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn a_count_stops_and_refuses_what_comes_after() {
        let sink = Sink::default();
        let f = fixture(&sink, Format::Hl7, Some(2));
        let slot = Slot::new();
        assert_eq!(f.committer.commit(record("A"), &slot), Some(1));
        assert!(!f.stop.load(Ordering::SeqCst));
        assert_eq!(f.committer.commit(record("B"), &slot), Some(2));
        assert!(f.stop.load(Ordering::SeqCst));
        assert!(f.committer.commit(record("C"), &slot).is_none());
        assert_eq!(sink.text(), "A\n#B\n#");
        assert!(f.committer.finish().is_ok());
    }
}
