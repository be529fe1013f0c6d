//! Running the connections: one on the caller's thread, or a pool of connection threads, with
//! the results handed to a [`Sink`] in input order.
//!
//! With one connection and one message in flight everything runs on the caller's thread: no
//! thread hand-off per message, which matters when a loopback round trip is 30-90 µs. With N
//! connections, or a window ([`super::windowed`], even on one connection), the caller deals
//! messages round-robin to N connection threads, in small batches through bounded queues
//! ([`super::lane`]), and one output thread puts the results back in input order (a
//! connection with a window finishes its messages in the order their ACKs come). Memory is
//! bounded by N x ([`QUEUE`] + 1) batches of at most [`BATCH`] messages or [`BATCH_BYTES`],
//! plus N windows, whatever the length of the stream.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::{self, JoinHandle};

use super::conn::{Conn, Spin};
pub use super::lane::BATCH;
use super::lane::{Lane, Outbox, Report};
use super::windowed::Windowed;
use super::{Job, Outcome, Settings, Stop};

/// Batches waiting per connection; with [`BATCH`] and [`BATCH_BYTES`] it bounds memory.
pub const QUEUE: usize = 2;
/// A batch is handed over once it holds this many bytes.
pub const BATCH_BYTES: usize = 256 * 1024;
/// Result batches waiting for the output thread.
const DONE_QUEUE: usize = 64;

/// Where the outcomes go, one call per message in input order. With several connections it
/// runs on a thread of its own.
pub trait Sink: Send + 'static {
    /// Takes the outcome of `job`. An error ends the run: the messages not yet sent are not
    /// sent.
    fn record(&mut self, job: &Job, outcome: &Outcome) -> io::Result<()>;

    /// Called before the run may wait (for input, pacing, a backoff, a slow reply): push out
    /// what was recorded, so that a live stream's results are not held back. An error is for
    /// the next `record` to return.
    fn flush(&mut self);

    /// Takes a reply that matched no message in flight (on a connection with a window), and
    /// why: it was applied to no message, and the run is not a success.
    fn unmatched(&mut self, why: &str);
}

/// The connections of a run.
pub struct Engine<S: Sink>(Mode<S>);

enum Mode<S: Sink> {
    Inline {
        conn: Box<Conn>,
        sink: Rc<RefCell<S>>,
    },
    Pool {
        batches: Rc<RefCell<Batches>>,
        workers: Vec<JoinHandle<()>>,
        output: JoinHandle<io::Result<S>>,
    },
}

/// The pool's messages on their way to the connections. They travel in batches (up to
/// [`BATCH`] messages or [`BATCH_BYTES`]), so that the reader and the connection threads do not
/// wake each other for every message; a batch also goes as soon as the reader is about to wait
/// (for input, or for pacing), so nothing is held back.
struct Batches {
    queues: Vec<Lane>,
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
        if self.queues[k].send(batch) {
            Ok(())
        } else {
            Err(io::Error::other("a connection thread ended unexpectedly"))
        }
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

/// What to do before the caller may wait: flush the sink (one connection) or hand over the
/// partial batches (a pool). It may be kept, by a reader for instance, while the engine works.
pub struct Hook<S: Sink>(HookMode<S>);

enum HookMode<S: Sink> {
    Sink(Rc<RefCell<S>>),
    Batches(Rc<RefCell<Batches>>),
}

impl<S: Sink> Clone for Hook<S> {
    fn clone(&self) -> Self {
        Hook(match &self.0 {
            HookMode::Sink(s) => HookMode::Sink(s.clone()),
            HookMode::Batches(b) => HookMode::Batches(b.clone()),
        })
    }
}

impl<S: Sink> Hook<S> {
    pub fn fire(&self) {
        match &self.0 {
            HookMode::Sink(s) => s.borrow_mut().flush(),
            HookMode::Batches(b) => b.borrow_mut().flush(),
        }
    }
}

impl<S: Sink> Engine<S> {
    /// `connections` slots (at least one) sending to `cfg.target`; outcomes go to `sink`.
    pub fn new(cfg: &Arc<Settings>, connections: usize, sink: S) -> Self {
        if connections > 1 || cfg.windowed() {
            return Self::pool(cfg, connections, sink);
        }
        // Polling for replies needs a core of its own next to the peer's.
        let spin = if thread::available_parallelism().is_ok_and(|n| n.get() >= 2) {
            Spin::Busy
        } else {
            Spin::Off
        };
        Engine(Mode::Inline {
            conn: Box::new(Conn::new(cfg.clone(), spin)),
            sink: Rc::new(RefCell::new(sink)),
        })
    }

    fn pool(cfg: &Arc<Settings>, n: usize, sink: S) -> Self {
        let (done_tx, done_rx) = mpsc::sync_channel::<Vec<Report>>(DONE_QUEUE);
        let mut queues = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::sync_channel::<Vec<Job>>(QUEUE);
            let cfg = cfg.clone();
            let done = done_tx.clone();
            if cfg.windowed() {
                let (wake, inbox) = mpsc::channel();
                queues.push(Lane::new(tx, Some(wake.clone())));
                let conn = Windowed::new(cfg, rx, (wake, inbox), done);
                workers.push(thread::spawn(move || conn.run()));
            } else {
                queues.push(Lane::new(tx, None));
                workers.push(thread::spawn(move || worker(cfg, rx, done)));
            }
        }
        drop(done_tx);
        let stop_cfg = cfg.clone();
        let output = thread::spawn(move || output_thread(sink, done_rx, &stop_cfg.stop));
        Engine(Mode::Pool {
            batches: Rc::new(RefCell::new(Batches {
                queues,
                pending: (0..n).map(|_| Vec::with_capacity(BATCH)).collect(),
                bytes: vec![0; n],
                err: None,
            })),
            workers,
            output,
        })
    }

    /// Sends one message (one connection) or hands it to its connection (a pool). With one
    /// connection, the frame buffer is given back for the next message. An error is the
    /// sink's (or a connection thread gone): the caller stops the run.
    pub fn submit(&mut self, job: Job) -> io::Result<Option<Vec<u8>>> {
        match &mut self.0 {
            Mode::Inline { conn, sink } => {
                let s = sink.clone();
                let mut flush = move || s.borrow_mut().flush();
                let outcome = conn.deliver(&job, Some(&mut flush));
                sink.borrow_mut().record(&job, &outcome)?;
                Ok(Some(job.frame))
            }
            Mode::Pool { batches, .. } => {
                batches.borrow_mut().push(job)?;
                Ok(None)
            }
        }
    }

    pub fn hook(&self) -> Hook<S> {
        Hook(match &self.0 {
            Mode::Inline { sink, .. } => HookMode::Sink(sink.clone()),
            Mode::Pool { batches, .. } => HookMode::Batches(batches.clone()),
        })
    }

    /// Waits for every message in flight, closes the connections, gives the sink back.
    pub fn finish(self) -> io::Result<S> {
        match self.0 {
            Mode::Inline { mut conn, sink } => {
                conn.finish();
                Ok(Rc::try_unwrap(sink)
                    .map_err(|_| io::Error::other("output still shared"))?
                    .into_inner())
            }
            Mode::Pool {
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
/// in batches too ([`Outbox`]), and before the connection waits for more messages.
fn worker(cfg: Arc<Settings>, jobs: Receiver<Vec<Job>>, done: SyncSender<Vec<Report>>) {
    // More threads than cores here (ours and the peer's): poll, but give the CPU away
    // between polls.
    let mut conn = Conn::new(cfg.clone(), Spin::Yield);
    let mut out = Outbox::new(done);
    let mut next = jobs.recv().ok();
    'run: while let Some(batch) = next.take() {
        for job in batch {
            let outcome = if cfg.stop.is_set() {
                Outcome::unsent()
            } else {
                conn.deliver(&job, None)
            };
            out.push(Report::Done(job, outcome));
            if out.is_closed() {
                break 'run;
            }
        }
        next = match jobs.try_recv() {
            Ok(b) => Some(b),
            Err(TryRecvError::Empty) => {
                out.flush();
                if out.is_closed() {
                    break;
                }
                jobs.recv().ok()
            }
            Err(TryRecvError::Disconnected) => None,
        };
    }
    out.flush();
    conn.finish();
}

/// Records the pool's results in input order (a reorder buffer, bounded by the queues and the
/// windows, interleaves the connections' results back), and the unmatched replies as they come.
fn output_thread<S: Sink>(mut sink: S, done: Receiver<Vec<Report>>, stop: &Stop) -> io::Result<S> {
    let mut pending: BTreeMap<u64, (Job, Outcome)> = BTreeMap::new();
    let mut next = 0u64;
    let mut failure: Option<io::Error> = None;
    loop {
        let batch = match done.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Empty) => {
                // Nothing waiting: flush, so a live stream's results are not held back.
                sink.flush();
                match done.recv() {
                    Ok(b) => b,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        for report in batch {
            match report {
                Report::Done(job, outcome) => {
                    pending.insert(job.seq, (job, outcome));
                }
                Report::Unmatched(why) => sink.unmatched(&why),
            }
        }
        while let Some((job, outcome)) = pending.remove(&next) {
            next += 1;
            if failure.is_none()
                && let Err(e) = sink.record(&job, &outcome)
            {
                stop.set();
                failure = Some(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(sink),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::client::Status;
    use crate::client::conn::Target;

    /// Keeps what it is given; fails on `fail_at`.
    #[derive(Default)]
    struct Keep {
        got: Vec<(u64, Status, Option<String>)>,
        fail_at: Option<u64>,
    }

    impl Sink for Keep {
        fn record(&mut self, job: &Job, o: &Outcome) -> io::Result<()> {
            if self.fail_at == Some(job.seq) {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.got.push((job.seq, o.status, o.error.clone()));
            Ok(())
        }

        fn flush(&mut self) {}

        fn unmatched(&mut self, _: &str) {}
    }

    /// Settings for a receiver with no address: every connection fails at once, no socket
    /// is opened.
    fn nowhere(stopped: bool) -> Arc<Settings> {
        let cfg = Settings {
            target: Target::new("nowhere:1".into(), Vec::new()),
            tls: None,
            timeout: Duration::from_secs(1),
            retries: 0,
            retry_rejected: false,
            no_ack: false,
            per_message: false,
            window: 1,
            keep_acks: false,
            stop: Stop::default(),
        };
        if stopped {
            cfg.stop.set();
        }
        Arc::new(cfg)
    }

    fn job(seq: u64) -> Job {
        Job {
            seq,
            control_id: format!("C{seq}"),
            raw_id: format!("C{seq}").into_bytes(),
            frame: b"\x0bMSH|^~\\&\r\x1c\r".to_vec(),
            file: None,
            msg_no: seq + 1,
            byte: 0,
        }
    }

    fn run(cfg: &Arc<Settings>, connections: usize, jobs: u64, sink: Keep) -> io::Result<Keep> {
        let mut engine = Engine::new(cfg, connections, sink);
        for seq in 0..jobs {
            engine.submit(job(seq))?;
        }
        engine.hook().fire();
        engine.finish()
    }

    #[test]
    fn a_pool_gives_the_results_back_in_input_order() {
        let cfg = nowhere(true);
        let keep = run(&cfg, 3, 200, Keep::default()).unwrap();
        assert_eq!(keep.got.len(), 200);
        for (i, (seq, status, error)) in keep.got.iter().enumerate() {
            assert_eq!(*seq, i as u64);
            assert_eq!(*status, Status::Unsent);
            assert_eq!(error.as_deref(), Some("not sent: the run stopped"));
        }
        assert_eq!(cfg.stop.fatal(), None);
    }

    #[test]
    fn an_unreachable_receiver_stops_the_run() {
        let cfg = nowhere(false);
        let keep = run(&cfg, 1, 1, Keep::default()).unwrap();
        let why = "cannot connect to nowhere:1: no address";
        assert_eq!(keep.got, [(0, Status::Failed, Some(why.to_string()))]);
        assert!(cfg.stop.is_set());
        assert_eq!(cfg.stop.fatal().as_deref(), Some(why));

        let cfg = nowhere(false);
        let keep = run(&cfg, 2, 50, Keep::default()).unwrap();
        assert_eq!(keep.got.len(), 50);
        // Each connection fails at most once (which one first is a race), then the rest is
        // not sent.
        let failed = keep.got.iter().filter(|g| g.1 == Status::Failed).count();
        assert!((1..=2).contains(&failed), "{failed}");
        assert_eq!(keep.got[49].1, Status::Unsent);
        assert!(keep.got.iter().enumerate().all(|(i, g)| g.0 == i as u64));
        assert_eq!(cfg.stop.fatal().as_deref(), Some(why));
    }

    #[test]
    fn a_sink_error_ends_the_run() {
        let cfg = nowhere(true);
        let sink = Keep {
            fail_at: Some(3),
            ..Keep::default()
        };
        let e = run(&cfg, 2, 40, sink).err().map(|e| e.kind());
        assert_eq!(e, Some(io::ErrorKind::BrokenPipe));

        let cfg = nowhere(true);
        let sink = Keep {
            fail_at: Some(0),
            ..Keep::default()
        };
        let mut engine = Engine::new(&cfg, 1, sink);
        let e = engine.submit(job(0)).err().map(|e| e.kind());
        assert_eq!(e, Some(io::ErrorKind::BrokenPipe));
    }
}
