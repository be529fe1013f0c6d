//! Connections: the acceptor of each address, and one thread per connection that reads
//! frames, answers each through [`ack::respond`] (a valid message is answered only once the
//! committer has written it and, in delivered mode, a receipt covers it), and writes the
//! answers for one read at once, in order.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::Config;
use super::allow::Cidr;
use super::commit::{Committer, Record, Slot};
use super::delivery::{Delivery, Waited};
use super::report::{Counters, Event, Report};
use crate::ack::{self, Code, Fate, Outcome, Problem, Verdict};
use crate::time::Time;
use crate::wire::mllp::{self, Decoder, Event as Mllp};
use crate::wire::receipt;
use crate::wire::tls::{self, Stream};

/// Settings and state every connection shares.
pub(super) struct Shared {
    ack_mode: ack::Mode,
    app: Option<String>,
    facility: Option<String>,
    max_message: usize,
    idle: Duration,
    max_connections: usize,
    allow: Vec<Cidr>,
    tls: Option<Arc<tls::Server>>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) counters: Arc<Counters>,
    report: Arc<dyn Report>,
    id_seed: u64,
    ack_number: AtomicU64,
    /// Delivered mode: ACKs wait for receipts.
    delivery: Option<Arc<Delivery>>,
}

impl Shared {
    pub(super) fn new(
        config: &Config,
        delivery: Option<Arc<Delivery>>,
        stop: Arc<AtomicBool>,
        report: Arc<dyn Report>,
    ) -> Shared {
        Shared {
            ack_mode: config.ack_mode,
            app: config.app.clone(),
            facility: config.facility.clone(),
            max_message: config.max_message,
            idle: config.idle,
            max_connections: config.max_connections,
            allow: config.allow.clone(),
            tls: config.tls.clone(),
            stop,
            counters: Arc::default(),
            report,
            id_seed: crate::id::run_seed(),
            ack_number: AtomicU64::new(0),
            delivery,
        }
    }

    fn options<'a>(&'a self, now: &'a str, control_id: &'a str) -> ack::Options<'a> {
        ack::Options {
            now,
            control_id,
            app: self.app.as_deref(),
            facility: self.facility.as_deref(),
            mode: self.ack_mode,
            code: None,
            text: None,
        }
    }

    fn next_ack_id(&self) -> String {
        let n = self.ack_number.fetch_add(1, Ordering::Relaxed);
        let mut v = Vec::with_capacity(16);
        crate::id::push_control_id(&mut v, self.id_seed, n);
        String::from_utf8(v).unwrap_or_default()
    }

    fn refused(&self, event: Event<'_>) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
        self.report.event(event);
    }

    fn nak(&self) {
        self.counters.naks.fetch_add(1, Ordering::Relaxed);
    }
}

/// Accepts until told to stop; returns the connection threads to wait for.
pub(super) fn accept_loop(
    listener: TcpListener,
    channel: Arc<str>,
    committer: &Arc<Committer>,
    shared: Arc<Shared>,
) -> Vec<thread::JoinHandle<()>> {
    let mut handles: Vec<thread::JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, peer)) => {
                if !shared.allow.is_empty() && !shared.allow.iter().any(|c| c.contains(peer.ip())) {
                    shared.refused(Event::NotAllowed { peer });
                    continue;
                }
                let max = shared.max_connections;
                if shared.counters.open.load(Ordering::Relaxed) >= max {
                    shared.refused(Event::TooMany { peer, max });
                    continue;
                }
                shared.counters.connections.fetch_add(1, Ordering::Relaxed);
                shared.counters.open.fetch_add(1, Ordering::Relaxed);
                let shared = Arc::clone(&shared);
                let channel = Arc::clone(&channel);
                let committer = Arc::clone(committer);
                handles.retain(|h| !h.is_finished());
                handles.push(thread::spawn(move || {
                    if let Err(error) = serve(stream, peer, &channel, &committer, &shared)
                        && error.kind() != io::ErrorKind::BrokenPipe
                        && error.kind() != io::ErrorKind::ConnectionReset
                    {
                        shared.report.event(Event::ConnectionFailed {
                            peer,
                            error: &error,
                        });
                    }
                    shared.counters.open.fetch_sub(1, Ordering::Relaxed);
                }));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(20))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                shared.report.event(Event::AcceptFailed { error: &error });
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
    handles
}

/// Serves one connection: frames in, ACKs out, in order.
fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    channel: &Arc<str>,
    committer: &Committer,
    shared: &Shared,
) -> io::Result<()> {
    tcp.set_nonblocking(false)?;
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut stream = match &shared.tls {
        Some(config) => Stream::server(tcp, Arc::clone(config))?,
        None => Stream::Plain(tcp),
    };
    let r = serve_stream(&mut stream, peer, channel, committer, shared);
    if let Err(error) = &r
        && stream.is_handshaking()
    {
        shared.report.event(Event::HandshakeFailed { peer, error });
        return Ok(());
    }
    stream.shutdown(Shutdown::Both);
    r
}

fn serve_stream(
    stream: &mut Stream,
    peer: SocketAddr,
    channel: &Arc<str>,
    committer: &Committer,
    shared: &Shared,
) -> io::Result<()> {
    let mut decoder = Decoder::new(shared.max_message);
    let slot = Slot::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_data = Instant::now();
    let mut replies = Vec::with_capacity(512);
    let report = &shared.report;
    loop {
        if shared.stop.load(Ordering::Relaxed) && !decoder.in_block() {
            return Ok(());
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => {
                while let Some(event) = decoder.finish() {
                    if let Mllp::Truncated { bytes, offset } = event {
                        report.event(Event::Truncated {
                            peer,
                            offset,
                            bytes,
                        });
                    }
                }
                return Ok(());
            }
            Ok(n) => n,
            Err(e) if super::nothing_yet(&e) => {
                if last_data.elapsed() >= shared.idle {
                    report.event(Event::Idle {
                        peer,
                        idle: shared.idle,
                        in_frame: decoder.in_block(),
                    });
                    return Ok(());
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        last_data = Instant::now();
        decoder.feed(&buf[..n]);
        replies.clear();
        // Delivered mode: the last message of this read that waits for a receipt, and how
        // many accepts wait with it (for the ACK latency).
        let mut wait_for = None;
        let mut accepted: u32 = 0;
        while let Some(event) = decoder.next_event() {
            match event {
                Mllp::Frame { payload, offset } => {
                    let from = Inbound {
                        peer,
                        channel,
                        committer,
                        slot: &slot,
                    };
                    let answer = handle_frame(payload, offset, &from, shared);
                    if let Some(reply) = answer.reply {
                        mllp::encode(&reply, &mut replies);
                        if let Some(seq) = answer.delivered_after {
                            wait_for = Some(seq);
                            accepted += 1;
                        }
                    }
                }
                Mllp::Skipped { bytes, offset } => report.event(Event::Skipped {
                    peer,
                    offset,
                    bytes,
                }),
                Mllp::Restarted { dropped, offset } => report.event(Event::Restarted {
                    peer,
                    offset,
                    dropped,
                }),
                Mllp::NoCrAfterEnd { offset } => report.event(Event::NoCrAfterEnd { peer, offset }),
                Mllp::Empty { .. } | Mllp::Truncated { .. } => {}
                Mllp::Oversize { size, offset } => {
                    mllp::encode(&oversize(size, offset, peer, shared), &mut replies);
                }
            }
        }
        if let (Some(seq), Some(d)) = (wait_for, &shared.delivery) {
            // The frames of this read are all written; their ACKs go once a receipt covers
            // the last. Without one, none: the sender keeps them and sends them again.
            let wait_started = Instant::now();
            if d.wait(seq) != Waited::Delivered {
                return Ok(());
            }
            // on top of the handling each message's latency already counts
            let waited = wait_started.elapsed().as_micros() as u64;
            shared
                .counters
                .ack_micros
                .fetch_add(waited * u64::from(accepted), Ordering::Relaxed);
        }
        if !replies.is_empty() {
            stream.write_all(&replies)?;
        }
        if committer.failed() {
            return Ok(());
        }
    }
}

/// The answer to one frame.
pub(super) struct Answer {
    /// The reply to send, if any.
    pub(super) reply: Option<Vec<u8>>,
    /// Delivered mode: the reply is an accept that may go only once a receipt covers this
    /// message number.
    pub(super) delivered_after: Option<u64>,
}

/// Where a frame came from, and where its message goes.
pub(super) struct Inbound<'a> {
    pub(super) peer: SocketAddr,
    pub(super) channel: &'a Arc<str>,
    pub(super) committer: &'a Committer,
    /// The connection thread's slot in the committer.
    pub(super) slot: &'a Arc<Slot>,
}

/// The NAK for a frame larger than the maximum, which was discarded unread.
fn oversize(size: u64, offset: u64, peer: SocketAddr, shared: &Shared) -> Vec<u8> {
    shared.nak();
    let max = shared.max_message;
    shared.report.event(Event::Oversize {
        peer,
        offset,
        size,
        max,
    });
    let problem = Problem {
        code: 207,
        location: None,
        text: format!("message of {size} bytes is larger than the {max} bytes accepted"),
    };
    let id = shared.next_ack_id();
    let now = now_ts();
    ack::nak(b"", &problem, &shared.options(&now, &id))
}

/// Answers one frame: a valid message is committed first, and accepted only once written (in
/// delivered mode, the accept waits for a receipt: see [`Answer::delivered_after`]).
pub(super) fn handle_frame(
    payload: &[u8],
    offset: u64,
    from: &Inbound<'_>,
    shared: &Shared,
) -> Answer {
    let started = Instant::now();
    let peer = from.peer;
    if mllp::is_commit_ack(payload).is_some() {
        shared
            .report
            .event(Event::CommitAckIgnored { peer, offset });
        return Answer {
            reply: None,
            delivered_after: None,
        };
    }
    let now = now_ts();
    let id = shared.next_ack_id();
    let opts = shared.options(&now, &id);
    let mut written = None;
    let response = ack::respond(payload, &opts, |msg, code| {
        if shared.delivery.is_some() && receipt::has_mark_line(payload) {
            // it would forge a delivery mark in the output
            shared.report.event(Event::MarkInMessage {
                peer,
                control_id: &msg.control_id(),
            });
            return Fate {
                outcome: Outcome::Reject,
                problem: Some(Problem {
                    code: 207,
                    location: None,
                    text: "a line of the message starts with byte 0x1E, which this receiver reserves for delivery marks".into(),
                }),
                code: None,
            };
        }
        let record = Record {
            bytes: payload.to_vec(),
            received: SystemTime::now(),
            peer,
            channel: Arc::clone(from.channel),
            control_id: msg.control_id(),
            code: code.map_or("", Code::as_str),
        };
        // Not written: never AA. The sender keeps the message and tries again later.
        match from.committer.commit(record, from.slot) {
            Some(seq) => {
                written = Some(seq);
                Fate::ACCEPTED
            }
            None => Fate::unstored(),
        }
    });
    let counters = &shared.counters;
    match &response.verdict {
        Verdict::Unreadable(error) => {
            shared.nak();
            shared.report.event(Event::Unreadable {
                peer,
                offset,
                error,
            });
        }
        Verdict::Invalid(msg, error) => {
            shared.nak();
            shared.report.event(Event::Invalid {
                peer,
                control_id: &msg.control_id(),
                error,
            });
        }
        Verdict::Valid(Outcome::Accept) => {
            counters.messages.fetch_add(1, Ordering::Relaxed);
            counters
                .bytes
                .fetch_add(payload.len() as u64, Ordering::Relaxed);
            counters
                .ack_micros
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
        Verdict::Valid(_) => shared.nak(),
    }
    let accepted = matches!(response.verdict, Verdict::Valid(Outcome::Accept));
    Answer {
        reply: response.reply,
        delivered_after: written.filter(|_| accepted && shared.delivery.is_some()),
    }
}

/// MSH-7 of the ACKs: formatted once per second per connection thread, not once per message.
fn now_ts() -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    let now = Time::now_utc();
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != now.local {
            let mut v = Vec::with_capacity(20);
            now.write_ts(&mut v);
            *last = (now.local, String::from_utf8(v).unwrap_or_default());
        }
        last.1.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::commit::tests::{Fixture, Sink, fixture};
    use super::*;

    fn config(format: Format) -> Config {
        Config {
            ack_mode: ack::Mode::Auto,
            app: None,
            facility: None,
            max_message: 1 << 20,
            idle: Duration::from_secs(300),
            max_connections: 8,
            allow: Vec::new(),
            tls: None,
            format,
            archive: None,
            count: None,
            receipts: None,
        }
    }

    /// Answers `frames` as one connection would, with the output `sink`: the MSA-1 of each
    /// reply (or "-" for none), the events reported and the counters.
    fn answers(sink: &Sink, format: Format, frames: &[&[u8]]) -> (Vec<String>, Fixture, Shared) {
        let f = fixture(sink, format, None);
        let shared = Shared::new(
            &config(format),
            None,
            Arc::clone(&f.stop),
            Arc::clone(&f.log) as Arc<dyn Report>,
        );
        let channel: Arc<str> = Arc::from("icu");
        let slot = Slot::new();
        let from = Inbound {
            peer: "10.0.0.5:51234".parse().unwrap(),
            channel: &channel,
            committer: &f.committer,
            slot: &slot,
        };
        let codes = frames
            .iter()
            .map(|frame| match handle_frame(frame, 0, &from, &shared).reply {
                Some(reply) => {
                    let reply = String::from_utf8(reply).unwrap();
                    let msa = reply.split('\r').find(|s| s.starts_with("MSA|")).unwrap();
                    msa[4..6].to_string()
                }
                None => "-".to_string(),
            })
            .collect();
        (codes, f, shared)
    }

    const PLAIN: &[u8] = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|M1|P|2.5\rPID|1\r";
    const COMMIT: &[u8] = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|M2|P|2.5|||AL|NE\rPID|1\r";
    const QUIET: &[u8] = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|M3|P|2.5|||NE|NE\rPID|1\r";
    const ACK: &[u8] = b"MSH|^~\\&|A|B|C|D|2024||ACK^A01^ACK|M4|P|2.5\rMSA|AA|X\r";
    const INVALID: &[u8] = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01\rPID|1\r";

    #[test]
    fn written_then_acked_in_the_mode_the_message_asks() {
        let sink = Sink::default();
        let (codes, f, shared) = answers(
            &sink,
            Format::Hl7,
            &[PLAIN, COMMIT, QUIET, ACK, INVALID, b"nope", b"\x06"],
        );
        assert_eq!(codes, ["AA", "CA", "-", "-", "AE", "AR", "-"]);
        // every valid message is written, an ACK too (it is not answered); a flush each
        assert_eq!(
            sink.text().as_bytes(),
            [PLAIN, b"\n#", COMMIT, b"\n#", QUIET, b"\n#", ACK, b"\n#"].concat()
        );
        let stats = shared.counters.snapshot();
        assert_eq!((stats.messages, stats.naks), (4, 2));
        assert_eq!(
            stats.bytes,
            (PLAIN.len() + COMMIT.len() + QUIET.len() + ACK.len()) as u64
        );
        let log = f.log.0.lock().unwrap().clone();
        assert_eq!(log.len(), 3, "{log:?}");
        assert!(log[0].starts_with("Invalid") && log[0].contains("control_id: \"\""));
        assert!(log[1].starts_with("Unreadable"), "{log:?}");
        assert!(log[2].starts_with("CommitAckIgnored"), "{log:?}");
    }

    #[test]
    fn a_failing_output_is_answered_ar_never_aa() {
        let sink = Sink::failing(io::ErrorKind::Other);
        let (codes, f, shared) = answers(&sink, Format::Hl7, &[PLAIN, COMMIT, QUIET, ACK]);
        // AR even where MSH-15/MSH-16 ask for no answer; still none to an ACK
        assert_eq!(codes, ["AR", "AR", "AR", "-"]);
        let stats = shared.counters.snapshot();
        assert_eq!((stats.messages, stats.naks), (0, 4));
        assert!(f.committer.failed());
        assert!(f.stop.load(Ordering::SeqCst));
    }

    #[test]
    fn the_envelope_holds_the_code_sent() {
        let sink = Sink::default();
        let (codes, ..) = answers(&sink, Format::Envelope, &[COMMIT, ACK]);
        assert_eq!(codes, ["CA", "-"]);
        let text = sink.text();
        let lines: Vec<&str> = text.split("\n#").collect();
        assert!(
            lines[0].contains(r#""peer":"10.0.0.5:51234","channel":"icu","control_id":"M2","ack":"CA","raw":"MSH|"#),
            "{text}"
        );
        assert!(
            lines[1].contains(r#""control_id":"M4","ack":"","#),
            "{text}"
        );
    }
}
