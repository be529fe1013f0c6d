//! The channels of a pool ([`super::pool`]): each connection's lane from the reader (its
//! messages, in batches through a bounded queue), and the reports from the connections back to
//! the output thread (results in batches, and replies that matched no message).
//!
//! A connection with a window ([`super::windowed`]) waits for several things at once (its
//! messages, the bytes its pump reads, its deadlines): they all come to it as [`Input`]s on one
//! unbounded channel, its inbox. The messages themselves still travel through the bounded
//! queue, which holds the reader back when the connection is behind; the inbox only says that
//! there are some.

use std::sync::mpsc::{Sender, SyncSender};
use std::time::{Duration, Instant};

use super::socket::Heard;
use super::{Job, Outcome};

/// The most messages in a batch handed to a connection, and of results handed back.
pub const BATCH: usize = 32;
/// A result waits at most this long in its connection before it is handed over.
const RESULT_DELAY: Duration = Duration::from_millis(5);

/// What a connection reports to the output thread. Nearly every report is a result: boxing it
/// to make the rare `Unmatched` smaller would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
pub(super) enum Report {
    /// What became of a message.
    Done(Job, Outcome),
    /// A reply that matched no message in flight (with a window), and why: reported, and
    /// applied to no message.
    Unmatched(String),
}

/// What a connection with a window is told.
pub(super) enum Input {
    /// Messages are waiting in its queue (or the reader is done: the queue is closed).
    Jobs,
    /// Its pump heard this on connection number `.0` (news of a closed connection are stale).
    Heard(u64, Heard),
}

/// The reader's end of one connection's queue.
pub(super) struct Lane {
    jobs: Option<SyncSender<Vec<Job>>>,
    /// The connection's inbox, for a connection with a window.
    wake: Option<Sender<Input>>,
}

impl Lane {
    pub(super) fn new(jobs: SyncSender<Vec<Job>>, wake: Option<Sender<Input>>) -> Self {
        Lane {
            jobs: Some(jobs),
            wake,
        }
    }

    /// Queues a batch (waiting while the queue is full); false when the connection is gone.
    pub(super) fn send(&self, batch: Vec<Job>) -> bool {
        let sent = self.jobs.as_ref().is_some_and(|j| j.send(batch).is_ok());
        self.wake();
        sent
    }

    fn wake(&self) {
        if let Some(w) = &self.wake {
            let _ = w.send(Input::Jobs);
        }
    }
}

impl Drop for Lane {
    /// Closes the queue, then tells the connection so, when it waits on its inbox.
    fn drop(&mut self) {
        self.jobs = None;
        self.wake();
    }
}

/// A connection's results on their way to the output thread: handed over in batches, when
/// [`BATCH`] are ready, when the oldest has waited [`RESULT_DELAY`], or when the connection is
/// about to wait ([`Outbox::flush`]).
pub(super) struct Outbox {
    tx: SyncSender<Vec<Report>>,
    out: Vec<Report>,
    oldest: Instant,
    closed: bool,
}

impl Outbox {
    pub(super) fn new(tx: SyncSender<Vec<Report>>) -> Self {
        Outbox {
            tx,
            out: Vec::with_capacity(BATCH),
            oldest: Instant::now(),
            closed: false,
        }
    }

    pub(super) fn push(&mut self, report: Report) {
        if self.out.is_empty() {
            self.oldest = Instant::now();
        }
        self.out.push(report);
        if self.out.len() >= BATCH || self.oldest.elapsed() >= RESULT_DELAY {
            self.flush();
        }
    }

    /// Hands over what is ready.
    pub(super) fn flush(&mut self) {
        if self.out.is_empty() || self.closed {
            return;
        }
        let batch = std::mem::replace(&mut self.out, Vec::with_capacity(BATCH));
        if self.tx.send(batch).is_err() {
            self.closed = true;
        }
    }

    /// The output thread is gone (it cannot happen short of a panic): stop.
    pub(super) fn is_closed(&self) -> bool {
        self.closed
    }
}
