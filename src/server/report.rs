//! What the server tells its caller while it runs: the events worth a line on a log, and the
//! counters. The server owns no words: the caller decides what each event says and which are
//! shown.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::model::message::MessageError;

/// Something that happened that a log may want. Never message contents: peers, positions,
/// control ids and counts only.
#[derive(Debug)]
pub enum Event<'a> {
    /// A connection refused: the peer is in none of the allowed networks.
    NotAllowed { peer: SocketAddr },
    /// A connection refused: `max` connections are open already.
    TooMany { peer: SocketAddr, max: usize },
    /// Accepting failed (the server goes on, after a pause).
    AcceptFailed { error: &'a io::Error },
    /// A connection ended on an error other than the peer hanging up.
    ConnectionFailed {
        peer: SocketAddr,
        error: &'a io::Error,
    },
    /// The TLS handshake failed (a bad certificate, a plain client on a TLS port); closed.
    HandshakeFailed {
        peer: SocketAddr,
        error: &'a io::Error,
    },
    /// Closed after `idle` without data; `in_frame` when the peer stalled inside a frame.
    Idle {
        peer: SocketAddr,
        idle: Duration,
        in_frame: bool,
    },
    /// An MLLP release 2 commit acknowledgement block, which is not a message: no answer.
    CommitAckIgnored { peer: SocketAddr, offset: u64 },
    /// A frame that is not a message: answered with a NAK.
    Unreadable {
        peer: SocketAddr,
        offset: u64,
        error: &'a MessageError,
    },
    /// A message that failed validation: answered with AE/CE, not written.
    Invalid {
        peer: SocketAddr,
        control_id: &'a str,
        error: &'a MessageError,
    },
    /// Bytes outside any frame were skipped.
    Skipped {
        peer: SocketAddr,
        offset: u64,
        bytes: u64,
    },
    /// A start block inside a frame dropped the frame so far.
    Restarted {
        peer: SocketAddr,
        offset: u64,
        dropped: u64,
    },
    /// An end block not followed by CR; the frame was accepted.
    NoCrAfterEnd { peer: SocketAddr, offset: u64 },
    /// A frame larger than `max` bytes: discarded, answered with a NAK.
    Oversize {
        peer: SocketAddr,
        offset: u64,
        size: u64,
        max: usize,
    },
    /// The connection closed inside a frame: its bytes discarded, no answer.
    Truncated {
        peer: SocketAddr,
        offset: u64,
        bytes: u64,
    },
    /// Writing messages failed: nothing is accepted from now on, and the server stops.
    WriteFailed { error: &'a io::Error },
    /// Delivered mode: the end of the pipeline connected and sent its first receipt.
    ReceiptsConnected { peer: SocketAddr },
    /// Delivered mode: a receipt (or a line on the receipts port) that was not taken, and why.
    ReceiptIgnored { peer: SocketAddr, why: &'a str },
    /// Delivered mode: messages have waited a while and no receipts connection came to `to`.
    NoReceipts { waiting: u64, to: &'a str },
    /// Delivered mode: the end of the pipeline is gone; `waiting` messages written get no ACK,
    /// and the server stops.
    PipelineLost { why: &'a str, waiting: u64 },
    /// A message held a line starting with the delivery-mark byte: refused (AR), not written.
    MarkInMessage {
        peer: SocketAddr,
        control_id: &'a str,
    },
}

/// Where the server's events go. Called from every connection's thread.
pub trait Report: Send + Sync {
    fn event(&self, event: Event<'_>);
}

/// The server's counters, updated as it runs; [`Counters::snapshot`] reads them.
#[derive(Debug, Default)]
pub struct Counters {
    pub(super) connections: AtomicU64,
    pub(super) open: AtomicUsize,
    pub(super) messages: AtomicU64,
    pub(super) bytes: AtomicU64,
    pub(super) naks: AtomicU64,
    pub(super) refused: AtomicU64,
    /// Sum of the times from a message's end block to its ACK, in microseconds.
    pub(super) ack_micros: AtomicU64,
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections open now.
    pub open: usize,
    /// Connections refused (not allowed, too many).
    pub refused: u64,
    /// Messages written and accepted.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Frames answered with anything but an accept.
    pub naks: u64,
    /// Sum of the times from a message's end block to its ACK, in microseconds.
    pub ack_micros: u64,
}

impl Stats {
    /// The mean time from a message's end block to its ACK, in milliseconds.
    pub fn mean_ack_ms(&self) -> f64 {
        if self.messages == 0 {
            0.0
        } else {
            self.ack_micros as f64 / self.messages as f64 / 1000.0
        }
    }
}

impl Counters {
    pub fn snapshot(&self) -> Stats {
        Stats {
            connections: self.connections.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            messages: self.messages.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            naks: self.naks.load(Ordering::Relaxed),
            ack_micros: self.ack_micros.load(Ordering::Relaxed),
        }
    }
}
