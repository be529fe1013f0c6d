//! Clients: what sends to a peer and reads its answers, without a command line. Most of it is
//! the MLLP client behind `hl7 send` ([`ilp`] is the QuestDB sender behind `hl7 ilp`, and
//! [`receipts`] its receipts to `hl7 listen`): its protocol and policy. Sockets are fine here;
//! argv, stdout and exit codes are not: what became of each message is an [`Outcome`], and the
//! caller decides what to print and how the run ends.
//!
//! Each message is framed ([`frame`]) and written with one `write_all`; then the client waits for
//! the reply block, decoded by [`crate::wire::mllp::Decoder`] (so a reply split anywhere across
//! reads, even between FS and CR, is read whole), and matches its MSA-2 to the MSH-10 sent (HL7
//! v2.5 §2.9: match the reply's MSA-2 to the sent MSH-10 rather than assuming order). By
//! default one message is in flight per connection: the original-mode exchange is synchronous
//! (MLLP Release 1). With a window ([`Settings::window`]) a connection writes up to N messages
//! ahead of their ACKs, for receivers whose ACK waits for something slow (a database commit):
//! the receiver still reads one frame after another, TCP holds the rest.
//!
//! - [`reply`]: reading a reply block, matching its MSA-2, judging what it means.
//! - [`retry`]: which outcomes are tried again, and the backoff between tries.
//! - [`pace`]: when each message is due (a rate, or the original gaps replayed).
//! - [`conn`]: the receiver's address, and one connection slot: connect, send, wait, retry,
//!   reconnect.
//! - [`window`]: the bookkeeping of a window: which message in flight a reply belongs to.
//! - `windowed`: a connection slot with a window: writes ahead, a reader thread (the pump),
//!   retries and reconnects for the whole window.
//! - [`pool`]: one connection on the caller's thread, or N connection threads (`lane`: the
//!   channels between them); results handed to a [`pool::Sink`] in input order.
//! - [`tally`]: outcome counts and the latency histogram.
//! - [`ilp`]: rows delivered to QuestDB over ILP (HTTP or TCP): batches, a batch kept and sent
//!   again with backoff while the database cannot take it, and which delivery marks are
//!   delivered.
//! - [`receipts`]: receipts sent back to `hl7 listen --ack-after delivered` for the delivered
//!   marks, over a connection made again with backoff when it fails.
//!
//! Errors and outcomes name control ids, counts and peer addresses, never message contents.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::model::message::Message;
use crate::wire::mllp;
use crate::wire::tls::{self, ServerName};

pub mod conn;
pub mod ilp;
mod lane;
pub mod pace;
pub mod pool;
pub mod receipts;
pub mod reply;
pub mod retry;
mod socket;
pub mod tally;
pub mod window;
mod windowed;

/// What every connection of a run shares.
pub struct Settings {
    pub target: conn::Target,
    /// MLLP over TLS: the client configuration and the name the server's certificate must bear.
    pub tls: Option<(Arc<tls::Client>, ServerName<'static>)>,
    /// How long to wait for each reply, and for each connection to open.
    pub timeout: Duration,
    /// Tries after the first, for an outcome that may be retried.
    pub retries: u32,
    /// Retry AR/CR rejections too (AE/CE never: the data must be fixed).
    pub retry_rejected: bool,
    /// Fire and forget: write, and do not wait for replies.
    pub no_ack: bool,
    /// A fresh connection for each message, closed after its reply.
    pub per_message: bool,
    /// Messages in flight per connection, written before the ACKs of the earlier ones come
    /// (1 to [`window::MAX`]; 1: one at a time). Not used with `no_ack` (no ACK is awaited) nor
    /// with `per_message` (one message per connection).
    pub window: usize,
    /// Keep the reply messages in the outcomes.
    pub keep_acks: bool,
    pub stop: Stop,
}

impl Settings {
    /// Whether the connections keep more than one message in flight.
    pub fn windowed(&self) -> bool {
        self.window > 1 && !self.no_ack && !self.per_message
    }
}

/// Set when the run must end: the caller's output closed, or the receiver cannot be reached.
/// Messages not tried by then are [`Status::Unsent`].
#[derive(Default)]
pub struct Stop {
    flag: AtomicBool,
    /// Why the receiver cannot be reached.
    fatal: Mutex<Option<String>>,
}

impl Stop {
    pub fn set(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Stops the run because the receiver cannot be reached; the first reason given is kept.
    pub fn fail(&self, why: &str) {
        if let Ok(mut f) = self.fatal.lock() {
            f.get_or_insert_with(|| why.to_string());
        }
        self.set();
    }

    /// Why the receiver could not be reached, when that stopped the run.
    pub fn fatal(&self) -> Option<String> {
        self.fatal.lock().ok().and_then(|f| f.clone())
    }
}

/// One message to send.
pub struct Job {
    /// Dispatch order, from 0; the result's `n` is `seq + 1`.
    pub seq: u64,
    pub control_id: String,
    /// MSH-10 as written, to compare with MSA-2.
    pub raw_id: Vec<u8>,
    /// The MLLP frame, as made by [`frame`].
    pub frame: Vec<u8>,
    /// Where the message is in the input (file, message number, byte), for the caller's
    /// reports.
    pub file: Option<Arc<str>>,
    pub msg_no: u64,
    pub byte: u64,
}

impl Job {
    /// The message without its framing.
    pub fn message(&self) -> &[u8] {
        self.frame
            .get(1..self.frame.len().saturating_sub(2))
            .unwrap_or_default()
    }
}

/// Frames a message into `f` (cleared first): SB, each segment ended by `\r`, EB CR, whatever
/// line endings the message was read with.
pub fn frame(msg: &Message<'_>, f: &mut Vec<u8>) -> Result<(), Delimiter> {
    f.clear();
    f.reserve(msg.bytes().len() + 4);
    f.push(mllp::SB);
    for seg in msg.segments() {
        f.extend_from_slice(seg.bytes());
        f.push(b'\r');
    }
    // MLLP has no escape for its own delimiters: such a message cannot be sent at all.
    if let Some(i) = memchr::memchr2(mllp::SB, mllp::EB, &f[1..]) {
        return Err(Delimiter {
            offset: i,
            byte: f[1 + i],
        });
    }
    f.push(mllp::EB);
    f.push(mllp::CR);
    Ok(())
}

/// An MLLP delimiter (SB or EB) inside a message, at `offset` in its normalized bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Delimiter {
    pub offset: usize,
    pub byte: u8,
}

impl fmt::Display for Delimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "byte 0x{:02X} (an MLLP frame delimiter) inside the message: it cannot be sent over MLLP",
            self.byte
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// AA/CA, an R2 commit ACK, or written with `no_ack`.
    Accepted,
    /// AE/AR/CE/CR or an R2 commit NAK.
    Rejected,
    /// No usable reply after the retries.
    Failed,
    /// Not tried: the run stopped first.
    Unsent,
}

/// What became of one message.
#[derive(Debug)]
pub struct Outcome {
    pub status: Status,
    /// MSA-1 as the peer wrote it, `ACK`/`NAK` for an R2 commit block.
    pub ack: Option<String>,
    /// The round trip of the last try.
    pub latency: Option<Duration>,
    /// Why it was not accepted; safe for a log (codes, ids, counts, no content).
    pub error: Option<String>,
    /// The peer's own words (MSA-3): message data, not for a log.
    pub peer_text: Option<String>,
    /// The reply message, with [`Settings::keep_acks`].
    pub reply: Option<Vec<u8>>,
}

impl Outcome {
    pub fn accepted(latency: Option<Duration>) -> Self {
        Outcome {
            status: Status::Accepted,
            ack: None,
            latency,
            error: None,
            peer_text: None,
            reply: None,
        }
    }

    pub fn failed(error: String) -> Self {
        Outcome {
            status: Status::Failed,
            error: Some(error),
            ..Outcome::accepted(None)
        }
    }

    /// A message the run stopped before trying.
    pub fn unsent() -> Self {
        Outcome {
            status: Status::Unsent,
            ..Outcome::failed("not sent: the run stopped".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_framed_with_cr_segments() {
        let msg =
            Message::parse(b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5\nPID|1\r\n").unwrap();
        let mut f = vec![9, 9];
        frame(&msg, &mut f).unwrap();
        assert_eq!(
            f,
            b"\x0bMSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5\rPID|1\r\x1c\r"
        );
        let job = Job {
            seq: 0,
            control_id: "X1".into(),
            raw_id: b"X1".to_vec(),
            frame: f,
            file: None,
            msg_no: 1,
            byte: 0,
        };
        assert!(job.message().starts_with(b"MSH|") && job.message().ends_with(b"PID|1\r"));
    }

    #[test]
    fn a_delimiter_inside_a_message_cannot_be_framed() {
        let msg = Message::parse(b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5\rNTE|1||a\x1cb\r")
            .unwrap();
        let mut f = Vec::new();
        let e = frame(&msg, &mut f).unwrap_err();
        assert_eq!(e.byte, 0x1c);
        assert_eq!(&f[1 + e.offset..1 + e.offset + 2], b"\x1cb");
        assert!(
            e.to_string()
                .starts_with("byte 0x1C (an MLLP frame delimiter)")
        );
    }

    #[test]
    fn a_stop_keeps_the_first_reason() {
        let stop = Stop::default();
        assert!(!stop.is_set() && stop.fatal().is_none());
        stop.fail("first");
        stop.fail("second");
        assert!(stop.is_set());
        assert_eq!(stop.fatal().as_deref(), Some("first"));
    }
}
