//! A connection slot with a window (`send --window N`): up to N messages written on one
//! connection and not yet answered. Frames go out ahead while earlier ACKs are outstanding;
//! each ACK is matched to its message by MSA-2 ([`super::window`]), in whatever order the
//! receiver answers, and the pool's output thread puts the results back in input order.
//!
//! Reading and writing must never wait for each other. A receiver that answers one message at
//! a time reads the next frame only after it has written its last ACK: if nobody read our ACKs
//! while a write of ours waited for room, its ACK write would block, it would stop reading, our
//! write would never end, and neither side would move again. So each connection has two
//! threads:
//!
//! - the pump ([`super::socket::Pump`]) does nothing but read: whatever comes, as it comes,
//!   stamped with the time it came, into this connection's unbounded inbox. The peer's ACKs
//!   never wait for us, whatever the connection's thread is doing;
//! - the connection's thread owns everything else: the window, the writes (blocking, which is
//!   safe since the pump keeps reading), the deadlines, the retries and reconnects, and the
//!   TLS session.
//!
//! Two threads rather than one thread with non-blocking sockets: a TLS session (rustls) has
//! one owner, so the pump moves ciphertext and the connection's thread decrypts it
//! (`Stream::decrypt`) and writes records without reading (`Stream::write_only`), the same
//! code for TLS and plain TCP; one thread would have to wait on the socket and on the reader's
//! queue at once, which takes poll(2) and a wake-up descriptor, where blocking sockets and
//! channels are portable; and the hand-off a read costs is shared by all the ACKs that one
//! read brings once the window is open.
//!
//! Timeouts count from each message's last write. When one runs out, the connection is in an
//! unknown state: it is closed, and every written message without its ACK is tried again on a
//! new connection, each charged one try and waiting its own backoff, as after a connection
//! lost. A connection that cannot be opened charges the first message waiting; the others wait
//! with it. A message rejected with AR/CR and retried (`retry_rejected`) is written again on
//! the same connection after its backoff. A reply that matches no message in flight is
//! reported and applied to no message; one for a message already answered is ignored.

use std::collections::VecDeque;
use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError};
use std::time::{Duration, Instant};

use super::conn::{self, EB_GRACE, MAX_REPLY, secs};
use super::lane::{Input, Outbox, Report};
use super::reply::{self, Reply};
use super::retry::Tries;
use super::socket::{Heard, Pump};
use super::window::{Found, Window};
use super::{Job, Outcome, Settings};
use crate::wire::mllp::{self, Decoder};
use crate::wire::tls::Stream;

/// Frames due together are written together, up to about this many bytes a write.
const WRITE_CHUNK: usize = 64 * 1024;
/// While a retry waits for its backoff, how often to look whether the run was stopped.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// A message in the window.
struct Flight {
    job: Job,
    tries: Tries,
    /// The outcome of the last try (its error noted with the tries so far), while the next
    /// waits for its backoff.
    last: Option<Outcome>,
}

/// The open connection.
struct Link {
    stream: Stream,
    pump: Pump,
    /// A reply came on it: a TLS error now is not the refusal of our certificate.
    answered: bool,
}

/// Why the written messages lost their connection.
enum Loss {
    /// This message (its `seq`) had no ACK within the timeout.
    Timeout(u64),
    /// The connection could not be opened (`connecting`), or broke.
    Broken { error: String, connecting: bool },
}

/// One connection slot with a window, run on a thread of its own by the pool.
pub(super) struct Windowed {
    cfg: Arc<Settings>,
    /// The reader's messages for this connection; `None` once the reader is done.
    jobs: Option<Receiver<Vec<Job>>>,
    /// Messages taken from the queue, waiting for room in the window.
    queued: VecDeque<Job>,
    window: Window<Flight>,
    inbox: Receiver<Input>,
    /// The inbox's sending end, for the pumps.
    tell: Sender<Input>,
    link: Option<Link>,
    /// The number of the current connection: what a pump says of an older one is stale.
    generation: u64,
    decoder: Decoder,
    /// Plaintext of the bytes last received.
    plain: Vec<u8>,
    /// The last bytes received ended with FS, and came then: the CR may never come (some
    /// peers end blocks with FS alone).
    eb_tail: Option<Instant>,
    out: Outbox,
    /// Frames gathered for one write.
    wbuf: Vec<u8>,
}

impl Windowed {
    /// A connection slot taking its messages from `jobs`, told of them (and of what its pumps
    /// hear) on `inbox` (its sending end is for the pumps), and reporting to `done`.
    pub(super) fn new(
        cfg: Arc<Settings>,
        jobs: Receiver<Vec<Job>>,
        (tell, inbox): (Sender<Input>, Receiver<Input>),
        done: SyncSender<Vec<Report>>,
    ) -> Self {
        Windowed {
            window: Window::new(cfg.window),
            cfg,
            jobs: Some(jobs),
            queued: VecDeque::new(),
            inbox,
            tell,
            link: None,
            generation: 0,
            decoder: Decoder::new(MAX_REPLY),
            plain: Vec::new(),
            eb_tail: None,
            out: Outbox::new(done),
            wbuf: Vec::new(),
        }
    }

    /// Sends the messages until the reader is done and every message has its outcome.
    pub(super) fn run(mut self) {
        loop {
            // What the pump heard first: a connection the peer closed is seen before anything
            // more is written into it, and the ACKs read free their room in the window.
            while let Ok(input) = self.inbox.try_recv() {
                self.take(input);
            }
            self.check_deadlines();
            self.admit();
            self.write_due();
            if self.out.is_closed() || self.is_done() {
                break;
            }
            self.out.flush();
            if let Some(input) = self.wait() {
                self.take(input);
            }
        }
        self.out.flush();
        self.finish();
    }

    fn is_done(&self) -> bool {
        self.jobs.is_none() && self.queued.is_empty() && self.window.is_empty()
    }

    /// Waits for news, until the next deadline: the oldest message's timeout, a retry's
    /// backoff (looking at the stop flag meanwhile), the grace after a lone FS.
    fn wait(&self) -> Option<Input> {
        let timeout = self
            .window
            .oldest_written()
            .map(|(t, _)| t + self.cfg.timeout);
        let backoff = self
            .window
            .next_due()
            .map(|t| t.min(Instant::now() + STOP_CHECK));
        let eb = self.eb_tail.map(|t| t + EB_GRACE);
        match [timeout, backoff, eb].into_iter().flatten().min() {
            None => self.inbox.recv().ok(),
            Some(t) => self
                .inbox
                .recv_timeout(t.saturating_duration_since(Instant::now()))
                .ok(),
        }
    }

    fn take(&mut self, input: Input) {
        match input {
            Input::Heard(generation, heard)
                if generation == self.generation && self.link.is_some() =>
            {
                match heard {
                    Heard::Bytes(bytes, at) => self.received(&bytes, at),
                    Heard::End(error) => self.ended(error),
                }
            }
            // Messages to take (done at the top of the loop), or news of a closed connection.
            Input::Jobs | Input::Heard(..) => {}
        }
    }

    /// Takes messages into the window while it has room. Once the run is stopped, the
    /// messages not yet in the window are not sent.
    fn admit(&mut self) {
        loop {
            let stopped = self.cfg.stop.is_set();
            if !stopped && self.window.is_full() {
                return;
            }
            let Some(job) = self.next_job() else {
                return;
            };
            if stopped {
                self.out.push(Report::Done(job, Outcome::unsent()));
                continue;
            }
            let (seq, id) = (job.seq, job.raw_id.trim_ascii().to_vec());
            let flight = Flight {
                job,
                tries: Tries::new(self.cfg.retries),
                last: None,
            };
            self.window.admit(seq, id, flight, Instant::now());
        }
    }

    fn next_job(&mut self) -> Option<Job> {
        loop {
            if let Some(job) = self.queued.pop_front() {
                return Some(job);
            }
            match self.jobs.as_ref()?.try_recv() {
                Ok(batch) => self.queued.extend(batch),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => {
                    self.jobs = None;
                    return None;
                }
            }
        }
    }

    /// Writes the messages that are due, connecting first when needed.
    fn write_due(&mut self) {
        if self.cfg.stop.is_set() {
            return self.give_up();
        }
        if self.window.next_due().is_none_or(|t| t > Instant::now()) {
            return;
        }
        if self.link.is_none()
            && let Err(e) = self.connect()
        {
            return self.unreachable(e);
        }
        let due = self.window.due_by(Instant::now());
        let (mut start, mut bytes) = (0, 0);
        for (i, &seq) in due.iter().enumerate() {
            bytes += self.window.get(seq).map_or(0, |f| f.job.frame.len());
            if bytes < WRITE_CHUNK && i + 1 < due.len() {
                continue;
            }
            if let Err(e) = self.write_frames(&due[start..=i]) {
                let e = match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        format!("the receiver read nothing for {} s", secs(self.cfg.timeout))
                    }
                    _ => e.to_string(),
                };
                let error = format!(
                    "connection to {} lost while sending: {e}",
                    self.cfg.target.name
                );
                return self.lose(Loss::Broken {
                    error,
                    connecting: false,
                });
            }
            (start, bytes) = (i + 1, 0);
        }
    }

    /// Writes these messages' frames in one write; each one's timeout starts now.
    fn write_frames(&mut self, seqs: &[u64]) -> io::Result<()> {
        let Some(link) = self.link.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let now = Instant::now();
        for &seq in seqs {
            self.window.mark_written(seq, now);
        }
        if let [seq] = seqs {
            let frame = self.window.get(*seq).map_or(&[][..], |f| &f.job.frame);
            return link.stream.write_only(frame);
        }
        self.wbuf.clear();
        for &seq in seqs {
            if let Some(f) = self.window.get(seq) {
                self.wbuf.extend_from_slice(&f.job.frame);
            }
        }
        link.stream.write_only(&self.wbuf)
    }

    /// Opens the connection and starts its pump.
    fn connect(&mut self) -> io::Result<()> {
        let stream = conn::open(&self.cfg)?;
        let tcp = stream.tcp();
        // The pump waits in `read` for as long as it takes; a write that cannot move for a
        // whole timeout (the receiver reads nothing) fails.
        tcp.set_read_timeout(None)?;
        tcp.set_write_timeout(Some(self.cfg.timeout))?;
        let reader = tcp.try_clone()?;
        self.generation += 1;
        let (generation, tell) = (self.generation, self.tell.clone());
        let pump = Pump::spawn(reader, move |heard| {
            tell.send(Input::Heard(generation, heard)).is_ok()
        });
        self.decoder = Decoder::new(MAX_REPLY);
        self.eb_tail = None;
        self.link = Some(Link {
            stream,
            pump,
            answered: false,
        });
        Ok(())
    }

    /// The connection could not be opened: that costs the first message waiting a try, and the
    /// others wait with it for the next attempt (when the first runs out of tries, the run
    /// stops, and they are not sent).
    fn unreachable(&mut self, e: io::Error) {
        let due = self.window.due_by(Instant::now());
        let Some((&first, rest)) = due.split_first() else {
            return;
        };
        let error = format!("cannot connect to {}: {e}", self.cfg.target.name);
        self.charge(
            &[first],
            &Loss::Broken {
                error,
                connecting: true,
            },
        );
        if let Some(at) = self.window.due_at(first) {
            for &seq in rest {
                self.window.again_at(seq, at);
            }
        }
    }

    /// Bytes from the pump.
    fn received(&mut self, bytes: &[u8], at: Instant) {
        let Some(link) = self.link.as_mut() else {
            return;
        };
        self.plain.clear();
        match link.stream.decrypt(bytes, &mut self.plain) {
            Ok(closed) => {
                if !self.plain.is_empty() {
                    self.decoder.feed(&self.plain);
                    self.eb_tail = (self.plain.last() == Some(&mllp::EB)).then_some(at);
                    self.take_replies(at);
                }
                if closed {
                    self.ended(None);
                }
            }
            Err(e) => {
                // Over TLS 1.3 the server judges our certificate after our side of the
                // handshake is done: its refusal comes as an alert instead of the first ACK,
                // and it is the same for every message, as if the connection failed.
                let connecting = e.kind() == io::ErrorKind::InvalidData
                    && !link.answered
                    && link.stream.is_tls();
                let error = format!(
                    "connection to {} lost while waiting for the ACK: {e}",
                    self.cfg.target.name
                );
                self.lose(Loss::Broken { error, connecting });
            }
        }
    }

    /// The replies the decoder has whole, received at `at`.
    fn take_replies(&mut self, at: Instant) {
        let keep = self.cfg.keep_acks;
        let mut replies = Vec::new();
        while let Some(ev) = self.decoder.next_event() {
            replies.extend(conn::reply_of(ev, keep));
        }
        for r in replies {
            self.reply(r, at);
        }
    }

    /// Ends the block being received, for a peer that ended it with FS and no CR (or closed
    /// there); a partial block is dropped (R2: ignore the bytes received thus far).
    fn end_block(&mut self, at: Instant) {
        let keep = self.cfg.keep_acks;
        let mut replies = Vec::new();
        while let Some(ev) = self.decoder.finish() {
            replies.extend(conn::reply_of(ev, keep));
        }
        for r in replies {
            self.reply(r, at);
        }
    }

    /// The pump saw the connection end: the messages still written lose it.
    fn ended(&mut self, error: Option<io::Error>) {
        self.end_block(Instant::now());
        let name = &self.cfg.target.name;
        let error = match error {
            None => format!("connection closed by {name} before the ACK"),
            Some(e) => format!("connection to {name} lost while waiting for the ACK: {e}"),
        };
        self.lose(Loss::Broken {
            error,
            connecting: false,
        });
    }

    fn reply(&mut self, reply: Reply, at: Instant) {
        let found = match &reply {
            Reply::Ack { msa2, .. } => self.window.find(msa2),
            // A commit block names no message: only the order could tell whose it is.
            Reply::Commit(_) | Reply::Bad(_) => Found::Unmatched,
        };
        match found {
            Found::Message(seq) => self.answer(seq, reply, at),
            Found::Late => {}
            Found::Unmatched => self.out.push(Report::Unmatched(reply::unmatched(&reply))),
        }
    }

    /// The reply to message `seq`, received at `at`.
    fn answer(&mut self, seq: u64, reply: Reply, at: Instant) {
        if let Some(link) = &mut self.link {
            link.answered = true;
        }
        let written = self.window.written_at(seq).unwrap_or(at);
        let latency = at.saturating_duration_since(written);
        let stopped = self.cfg.stop.is_set();
        let retry_rejected = self.cfg.retry_rejected;
        let Some(f) = self.window.get_mut(seq) else {
            return;
        };
        // Found by its MSA-2, the reply is this message's: the stream is in step.
        let v = reply::judge(&f.job, reply, latency, retry_rejected);
        let mut outcome = v.outcome;
        if let Some(e) = &mut outcome.error {
            f.tries.note(e);
        }
        match f.tries.again(v.retry, stopped) {
            Some(wait) => {
                f.last = Some(outcome);
                self.window.again_at(seq, Instant::now() + wait);
            }
            None => self.settle(seq, outcome),
        }
    }

    /// Message `seq` leaves the window with its outcome.
    fn settle(&mut self, seq: u64, outcome: Outcome) {
        if let Some((f, _)) = self.window.remove(seq) {
            self.out.push(Report::Done(f.job, outcome));
        }
    }

    /// What passed its deadline: the grace after a lone FS, the oldest message's timeout.
    fn check_deadlines(&mut self) {
        let now = Instant::now();
        if let Some(at) = self.eb_tail
            && now >= at + EB_GRACE
        {
            self.eb_tail = None;
            if self.decoder.in_block() {
                self.end_block(at);
            }
        }
        if let Some((t, seq)) = self.window.oldest_written()
            && now >= t + self.cfg.timeout
        {
            self.lose(Loss::Timeout(seq));
        }
    }

    /// Drops the connection after `loss`: every written message without its ACK is tried
    /// again on a new connection, or, out of tries, fails.
    fn lose(&mut self, loss: Loss) {
        self.close();
        let written = self.window.written();
        self.charge(&written, &loss);
    }

    /// Charges one try to each of these messages, for `loss`: each is to be written again
    /// after its backoff, or, out of tries (or the run stopping), fails. A message that cannot
    /// get through for want of a connection stops the run.
    fn charge(&mut self, seqs: &[u64], loss: &Loss) {
        let now = Instant::now();
        for &seq in seqs {
            let mut error = self.loss_error(loss, seq);
            let stopped = self.cfg.stop.is_set();
            let Some(f) = self.window.get_mut(seq) else {
                continue;
            };
            f.tries.note(&mut error);
            match f.tries.again(true, stopped) {
                Some(wait) => {
                    f.last = Some(Outcome::failed(error));
                    self.window.again_at(seq, now + wait);
                }
                None => {
                    if matches!(
                        loss,
                        Loss::Broken {
                            connecting: true,
                            ..
                        }
                    ) && !stopped
                    {
                        // Nothing else will get through either: stop the run.
                        self.cfg.stop.fail(&error);
                    }
                    self.settle(seq, Outcome::failed(error));
                }
            }
        }
    }

    fn loss_error(&self, loss: &Loss, seq: u64) -> String {
        let within = || format!("within {} s", secs(self.cfg.timeout));
        match loss {
            Loss::Timeout(late) if *late == seq => format!("no ACK {}", within()),
            Loss::Timeout(late) => format!(
                "no ACK: the connection was closed when MSH-10 '{}' had none {}",
                self.window
                    .get(*late)
                    .map_or("", |f| f.job.control_id.as_str()),
                within()
            ),
            Loss::Broken { error, .. } => error.clone(),
        }
    }

    /// The run stopped: what waits to be written is not written. A message tried before ends
    /// with the outcome of its last try; the others are not sent.
    fn give_up(&mut self) {
        for seq in self.window.due() {
            let outcome = self
                .window
                .get_mut(seq)
                .and_then(|f| f.last.take())
                .unwrap_or_else(Outcome::unsent);
            self.settle(seq, outcome);
        }
    }

    /// Drops the connection (the next write opens a new one); what was received on it and
    /// not read yet is gone with it.
    fn close(&mut self) {
        if let Some(link) = self.link.take() {
            let _ = link.stream.tcp().shutdown(Shutdown::Both);
            link.pump.join();
        }
        self.eb_tail = None;
    }

    /// Ends the connection cleanly at the end of the run: the peer sees the end of input (and
    /// over TLS a close_notify) after the last frame; then the pump is woken and ends.
    fn finish(&mut self) {
        if let Some(mut link) = self.link.take() {
            link.stream.shutdown(Shutdown::Write);
            let _ = link.stream.tcp().shutdown(Shutdown::Read);
            link.pump.join();
        }
    }
}
