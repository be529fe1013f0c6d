//! MLLP framing without I/O: the incremental decoder that `hl7 listen` and `hl7 send` feed with
//! whatever each socket read returns, and the encoder for what they write.
//!
//! MLLP (MLLP Release 1) wraps each HL7 message in a block: R1 defines it as
//! `<SB>ddddd<EB><CR>` with SB = 0x0B (VT), EB = 0x1C (FS), CR = 0x0D; R2 keeps that block and
//! adds the one-byte commit acknowledgement blocks `<SB>0x06<EB><CR>` (ACK) and
//! `<SB>0x15<EB><CR>` (NAK). R2 also says how a destination behaves: "receive and ignore any
//! received bytes until the start of a Block is found", then receive "until the end of a Block is
//! found". MLLP knows nothing of the HL7 content, and neither does this module: payloads are
//! bytes.
//!
//! The module is sans-IO (no sockets, threads or clocks) so that every edge case is a byte-array
//! test, and so the listener and the sender share one decoder. The decoder is "R2-lenient"
//! (docs/conformance.md "MLLP framing"), because the peers we meet are not strict:
//! - a block may be split anywhere across reads, even between EB and CR, and one read may hold
//!   many blocks;
//! - bytes outside blocks are skipped (R2 step 1) and reported once per run ([`Event::Skipped`]);
//! - an SB inside an unfinished block restarts the block ([`Event::Restarted`]): peers that
//!   resend after a timeout do this, and keeping the VT as data gives garbage messages;
//! - EB followed by something other than CR (`FS VT`, `FS LF`) still ends the block
//!   ([`Event::NoCrAfterEnd`]);
//! - empty blocks (keep-alives) are reported as [`Event::Empty`], never as a frame;
//! - a block larger than the configured maximum is drained without being buffered and reported
//!   once ([`Event::Oversize`]), so a hostile or broken peer cannot exhaust memory;
//! - end of input inside a block is reported by [`Decoder::finish`] ([`Event::Truncated`]).
//!
//! The decoder is linear in its input: every byte is scanned once (it remembers how far it
//! scanned, and never searches again for EB in bytes it has looked at), and its buffer is
//! compacted on every feed so a long-lived connection does not grow it.

use memchr::{memchr, memchr2};

/// Start block: the ASCII vertical tab (VT), which opens every MLLP block.
pub const SB: u8 = 0x0B;
/// End block: the ASCII file separator (FS), which closes every MLLP block (followed by [`CR`]).
pub const EB: u8 = 0x1C;
/// Carriage return: the byte after [`EB`] that completes a block.
pub const CR: u8 = 0x0D;

/// The payload of an MLLP R2 affirmative commit acknowledgement block.
const COMMIT_ACK: u8 = 0x06;
/// The payload of an MLLP R2 negative commit acknowledgement block.
const COMMIT_NAK: u8 = 0x15;

/// Above this capacity an almost empty buffer is given back to the allocator, so that one huge
/// frame does not pin its memory for the rest of a long connection.
const SHRINK_ABOVE: usize = 1 << 20;
/// The capacity kept when the buffer is shrunk.
const SHRINK_TO: usize = 64 << 10;

/// Appends one framed block to `out`: SB, `payload`, EB, CR.
///
/// A payload that already starts with SB and ends with EB CR (for example a frame taken from an
/// `.mllp` capture) is appended as it is, not wrapped twice: a peer would see the inner SB as a
/// restart and the inner EB CR as the end of a block followed by junk. Only that exact shape is
/// recognised; anything else is wrapped.
///
/// The payload must not contain SB or EB itself (R2: UTF-16 and UTF-32 content is not supported
/// for this reason); they are not escaped, since MLLP has no escape mechanism.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) {
    if payload.len() >= 3 && payload[0] == SB && payload.ends_with(&[EB, CR]) {
        out.extend_from_slice(payload);
        return;
    }
    out.reserve(payload.len() + 3);
    out.push(SB);
    out.extend_from_slice(payload);
    out.push(EB);
    out.push(CR);
}

/// Tells whether a frame's payload is an MLLP R2 commit acknowledgement: `Some(true)` for an
/// affirmative one (the single byte 0x06), `Some(false)` for a negative one (0x15), `None` for
/// anything else.
///
/// Such a block is not an HL7 message (MLLP Release 1): a listener in R1 mode must not try
/// to parse it, and a sender in R2 mode waits for one instead of an HL7 ACK.
pub fn is_commit_ack(payload: &[u8]) -> Option<bool> {
    match payload {
        [COMMIT_ACK] => Some(true),
        [COMMIT_NAK] => Some(false),
        _ => None,
    }
}

/// What the decoder found.
///
/// Offsets count bytes in the whole stream fed so far (`u64`, so a connection that lives for
/// months cannot overflow them), so that callers can log where a problem was. The offset of a
/// block event (`Frame`, `Empty`, `Oversize`, `Restarted`, `Truncated`) is that of the block's SB.
///
/// `P` is the frame's payload: the decoder hands out `&[u8]` borrowing its buffer; a caller
/// that must keep the event past the next call maps it to what it needs ([`Event::map`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Event<P> {
    /// A complete block's content (between SB and EB; the CR after EB has been consumed). It may
    /// be an HL7 message, or the one-byte payload of an MLLP R2 commit ACK (0x06) or NAK (0x15)
    /// block: see [`is_commit_ack`]. Never empty (see [`Event::Empty`]) and never longer than
    /// the decoder's maximum.
    Frame {
        /// The block's content; from the decoder, it borrows the decoder's buffer until the
        /// next call.
        payload: P,
        /// Where the block's SB is.
        offset: u64,
    },
    /// Bytes outside any block were skipped (R2: "ignore any received bytes until the start of a
    /// Block is found"). Reported once per run of skipped bytes, when the next SB arrives or at
    /// [`Decoder::finish`], so noise between frames gives one warning rather than one per read.
    Skipped {
        /// How many bytes the run holds, whitespace included.
        bytes: u64,
        /// Where the run starts.
        offset: u64,
    },
    /// An SB arrived inside an unfinished block: the partial block was dropped and a new block
    /// started at that SB (at `offset + 1 + dropped`).
    Restarted {
        /// How many content bytes the dropped block had received (SB not counted).
        dropped: u64,
        /// Where the dropped block's SB is.
        offset: u64,
    },
    /// A block grew past the maximum: its bytes were discarded as they arrived, without being
    /// buffered, up to and including its EB. Reported once, when its EB arrives.
    Oversize {
        /// The block's full content size (SB, EB and CR not counted).
        size: u64,
        /// Where the block's SB is.
        offset: u64,
    },
    /// The EB was followed by something other than CR. The block is accepted anyway (it comes
    /// just before this event); the odd byte is consumed (as in `FS LF`) unless it is an SB, which
    /// then starts the next block (as in `FS VT`). At end of input, an EB with nothing after it
    /// gives this event too, with `offset` at the end of the stream.
    NoCrAfterEnd {
        /// Where the byte that should have been CR is.
        offset: u64,
    },
    /// An empty block (SB EB CR), e.g. a keep-alive. Never reported as a `Frame`, since an empty
    /// payload is not a message to parse or acknowledge.
    Empty {
        /// Where the block's SB is.
        offset: u64,
    },
    /// End of input inside a block (a peer closing mid-frame, or a capture cut short): the
    /// partial block was dropped. An error to log; there is nothing to acknowledge.
    Truncated {
        /// How many content bytes the block had received (SB not counted).
        bytes: u64,
        /// Where the block's SB is.
        offset: u64,
    },
}

/// Where the decoder is in the stream.
#[derive(Clone, Copy, Debug)]
enum State {
    /// Outside any block. `skipped` bytes from stream offset `skip_from` have been ignored and
    /// not yet reported.
    Idle { skip_from: u64, skipped: u64 },
    /// Inside a block whose SB is at stream offset `sb`; its content so far is
    /// `buf[start..pos]`.
    Block { sb: u64 },
    /// Inside a block that grew past the maximum: `size` content bytes were seen and dropped.
    Discard { sb: u64, size: u64 },
    /// The block's EB has been seen; the byte after it decides whether a CR is consumed.
    End { sb: u64, body: Body },
}

/// The content of a block whose EB has been seen.
#[derive(Clone, Copy, Debug)]
enum Body {
    /// Held at `buf[start..start + len]`.
    Held(usize),
    /// Too large: dropped, `size` bytes.
    Dropped(u64),
}

const IDLE: State = State::Idle {
    skip_from: 0,
    skipped: 0,
};

impl<P> Event<P> {
    /// The same event with the frame's payload turned into `f(payload)`.
    pub fn map<Q>(self, f: impl FnOnce(P) -> Q) -> Event<Q> {
        match self {
            Event::Frame { payload, offset } => Event::Frame {
                payload: f(payload),
                offset,
            },
            Event::Skipped { bytes, offset } => Event::Skipped { bytes, offset },
            Event::Restarted { dropped, offset } => Event::Restarted { dropped, offset },
            Event::Oversize { size, offset } => Event::Oversize { size, offset },
            Event::NoCrAfterEnd { offset } => Event::NoCrAfterEnd { offset },
            Event::Empty { offset } => Event::Empty { offset },
            Event::Truncated { bytes, offset } => Event::Truncated { bytes, offset },
        }
    }
}

/// The incremental MLLP decoder: [`feed`](Decoder::feed) it the bytes of each read, then call
/// [`next_event`](Decoder::next_event) until it returns `None`; at end of input call
/// [`finish`](Decoder::finish) until it returns `None`.
///
/// The events do not depend on how the stream was cut into reads.
#[derive(Debug)]
pub struct Decoder {
    /// The largest content accepted in a block.
    max_frame: usize,
    /// Bytes fed and not yet released. Bytes before `start` are released at the next feed.
    buf: Vec<u8>,
    /// The stream offset of `buf[0]`.
    base: u64,
    /// The first byte still needed: a block's first content byte while it is held, else `pos`.
    start: usize,
    /// The next byte to look at. Bytes before it have been scanned and are never scanned again.
    pos: usize,
    state: State,
    /// A `NoCrAfterEnd` to report right after the block event just returned.
    pending_no_cr: Option<u64>,
    /// Set by `finish`: no more input will come.
    eof: bool,
}

impl Decoder {
    /// A decoder for a new stream. `max_frame` is the largest block content accepted (e.g.
    /// 16 MiB, docs/conformance.md "MLLP framing"); larger blocks are reported as [`Event::Oversize`]. It also
    /// bounds the decoder's memory.
    pub fn new(max_frame: usize) -> Self {
        Decoder {
            max_frame,
            buf: Vec::new(),
            base: 0,
            start: 0,
            pos: 0,
            state: IDLE,
            pending_no_cr: None,
            eof: false,
        }
    }

    /// Hands the decoder the bytes of one read (any length, cut anywhere).
    ///
    /// Memory stays bounded: at most `max_frame` + 1 + one read is held, because an unfinished
    /// block beyond the maximum is dropped as it is scanned and an oversize block's excess is
    /// never kept. That holds when [`next_event`](Decoder::next_event) is called until `None`
    /// after each feed; input that is fed and not decoded accumulates.
    ///
    /// Feeding after [`finish`](Decoder::finish) continues the stream (offsets go on counting).
    pub fn feed(&mut self, data: &[u8]) {
        self.eof = false;
        // Release what has been consumed. What remains is at most one unfinished block, which
        // then sits at the front and is not moved again until it ends, so every byte is moved
        // at most once.
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.pos -= self.start;
            self.start = 0;
        }
        let need = self.buf.len() + data.len();
        if self.buf.capacity() > SHRINK_ABOVE && need < self.buf.capacity() / 4 {
            self.buf.shrink_to(need.max(SHRINK_TO));
        }
        self.buf.extend_from_slice(data);
    }

    /// The next event from what has been fed, or `None` when more input is needed. Call it until
    /// `None` after each feed. A returned payload borrows the decoder's buffer until the next
    /// call.
    pub fn next_event(&mut self) -> Option<Event<&[u8]>> {
        if let Some(offset) = self.pending_no_cr.take() {
            return Some(Event::NoCrAfterEnd { offset });
        }
        loop {
            match self.state {
                State::Idle { skip_from, skipped } => {
                    let from = if skipped == 0 {
                        self.offset(self.pos)
                    } else {
                        skip_from
                    };
                    match memchr(SB, &self.buf[self.pos..]) {
                        Some(i) => {
                            let at = self.pos + i;
                            let run = skipped + i as u64;
                            self.state = State::Block {
                                sb: self.offset(at),
                            };
                            self.pos = at + 1;
                            self.start = self.pos;
                            if run > 0 {
                                return Some(Event::Skipped {
                                    bytes: run,
                                    offset: from,
                                });
                            }
                        }
                        None => {
                            let run = skipped + (self.buf.len() - self.pos) as u64;
                            self.pos = self.buf.len();
                            self.start = self.pos;
                            if self.eof && run > 0 {
                                self.state = IDLE;
                                return Some(Event::Skipped {
                                    bytes: run,
                                    offset: from,
                                });
                            }
                            self.state = State::Idle {
                                skip_from: from,
                                skipped: run,
                            };
                            return None;
                        }
                    }
                }
                State::Block { sb } => match memchr2(SB, EB, &self.buf[self.pos..]) {
                    Some(i) => {
                        let at = self.pos + i;
                        let len = at - self.start;
                        self.pos = at + 1;
                        if self.buf[at] == SB {
                            self.state = State::Block {
                                sb: self.offset(at),
                            };
                            self.start = self.pos;
                            return Some(Event::Restarted {
                                dropped: len as u64,
                                offset: sb,
                            });
                        }
                        let body = if len > self.max_frame {
                            self.start = self.pos;
                            Body::Dropped(len as u64)
                        } else {
                            Body::Held(len)
                        };
                        self.state = State::End { sb, body };
                    }
                    None => {
                        self.pos = self.buf.len();
                        let len = self.pos - self.start;
                        if len > self.max_frame {
                            // Stop holding it: the rest of this block is only counted.
                            self.start = self.pos;
                            self.state = State::Discard {
                                sb,
                                size: len as u64,
                            };
                            continue;
                        }
                        if self.eof {
                            self.start = self.pos;
                            self.state = IDLE;
                            return Some(Event::Truncated {
                                bytes: len as u64,
                                offset: sb,
                            });
                        }
                        return None;
                    }
                },
                State::Discard { sb, size } => match memchr2(SB, EB, &self.buf[self.pos..]) {
                    Some(i) => {
                        let at = self.pos + i;
                        let size = size + i as u64;
                        self.pos = at + 1;
                        self.start = self.pos;
                        if self.buf[at] == SB {
                            self.state = State::Block {
                                sb: self.offset(at),
                            };
                            return Some(Event::Restarted {
                                dropped: size,
                                offset: sb,
                            });
                        }
                        self.state = State::End {
                            sb,
                            body: Body::Dropped(size),
                        };
                    }
                    None => {
                        let size = size + (self.buf.len() - self.pos) as u64;
                        self.pos = self.buf.len();
                        self.start = self.pos;
                        if self.eof {
                            self.state = IDLE;
                            return Some(Event::Truncated {
                                bytes: size,
                                offset: sb,
                            });
                        }
                        self.state = State::Discard { sb, size };
                        return None;
                    }
                },
                State::End { sb, body } => {
                    match self.buf.get(self.pos) {
                        Some(&CR) => self.pos += 1,
                        Some(&b) => {
                            self.pending_no_cr = Some(self.offset(self.pos));
                            // An SB is the start of the next block (`FS VT`): leave it.
                            if b != SB {
                                self.pos += 1;
                            }
                        }
                        // At end of input the EB alone ends the block.
                        None if self.eof => self.pending_no_cr = Some(self.offset(self.pos)),
                        // Wait: the CR may be the first byte of the next read.
                        None => return None,
                    }
                    let content = self.start;
                    self.start = self.pos;
                    self.state = IDLE;
                    return Some(match body {
                        Body::Held(0) => Event::Empty { offset: sb },
                        Body::Held(len) => Event::Frame {
                            payload: &self.buf[content..content + len],
                            offset: sb,
                        },
                        Body::Dropped(size) => Event::Oversize { size, offset: sb },
                    });
                }
            }
        }
    }

    /// End of input: reports what is left. Call it until `None`, like
    /// [`next_event`](Decoder::next_event) (it returns the events not yet taken first):
    /// - [`Event::Truncated`] when inside a block: a peer closing mid-frame is an error to log;
    /// - [`Event::Skipped`] for trailing bytes outside any block;
    /// - when the stream ends right after an EB, the block ([`Event::Frame`], `Empty` or
    ///   `Oversize`) followed by [`Event::NoCrAfterEnd`], since the CR can no longer come.
    ///
    /// Also useful on a stall timeout while [`in_block`](Decoder::in_block): it delivers a block
    /// whose sender stopped after EB, and otherwise drops the partial block (R2 step 3: "ignore
    /// all bytes received thus far").
    pub fn finish(&mut self) -> Option<Event<&[u8]>> {
        self.eof = true;
        self.next_event()
    }

    /// True while a block has started and not been delivered, including while waiting for the
    /// byte after its EB. Meant for idle and stall timeouts: a peer silent outside a block is
    /// idle, one silent inside a block is stuck.
    pub fn in_block(&self) -> bool {
        !matches!(self.state, State::Idle { .. })
    }

    /// Bytes currently held in the decoder's buffer: an unfinished block plus the rest of the
    /// last read (what has been consumed is released at the next feed). At most `max_frame` + 1
    /// + the size of the last read, when events are taken after every feed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The stream offset of `buf[i]`.
    fn offset(&self, i: usize) -> u64 {
        self.base + i as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An owned copy of an event, to compare runs of the decoder.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        Frame(Vec<u8>, u64),
        Skipped { bytes: u64, offset: u64 },
        Restarted { dropped: u64, offset: u64 },
        Oversize { size: u64, offset: u64 },
        NoCr(u64),
        Empty(u64),
        Truncated { bytes: u64, offset: u64 },
    }

    fn own(e: Event<&[u8]>) -> Ev {
        match e {
            Event::Frame { payload, offset } => Ev::Frame(payload.to_vec(), offset),
            Event::Skipped { bytes, offset } => Ev::Skipped { bytes, offset },
            Event::Restarted { dropped, offset } => Ev::Restarted { dropped, offset },
            Event::Oversize { size, offset } => Ev::Oversize { size, offset },
            Event::NoCrAfterEnd { offset } => Ev::NoCr(offset),
            Event::Empty { offset } => Ev::Empty(offset),
            Event::Truncated { bytes, offset } => Ev::Truncated { bytes, offset },
        }
    }

    fn drain(d: &mut Decoder, out: &mut Vec<Ev>) {
        while let Some(e) = d.next_event() {
            out.push(own(e));
        }
    }

    fn finish(d: &mut Decoder, out: &mut Vec<Ev>) {
        while let Some(e) = d.finish() {
            out.push(own(e));
        }
    }

    /// Feeds `stream` in reads of `chunk` bytes (0: all at once), then finishes. Checks the
    /// memory bound after every read.
    fn decode_chunked(stream: &[u8], max_frame: usize, chunk: usize) -> Vec<Ev> {
        let chunk = if chunk == 0 {
            stream.len().max(1)
        } else {
            chunk
        };
        let mut d = Decoder::new(max_frame);
        let mut out = Vec::new();
        for piece in stream.chunks(chunk) {
            d.feed(piece);
            assert!(d.buffered() <= max_frame + 1 + piece.len());
            drain(&mut d, &mut out);
        }
        finish(&mut d, &mut out);
        assert!(!d.in_block());
        out
    }

    fn decode(stream: &[u8]) -> Vec<Ev> {
        decode_chunked(stream, 1 << 24, 0)
    }

    /// Decodes `stream` whole and in reads of 1, 2, 3, 7 and 4096 bytes, checks that every
    /// cutting gives the same events, and returns them.
    fn decode_every_way(stream: &[u8], max_frame: usize) -> Vec<Ev> {
        let whole = decode_chunked(stream, max_frame, 0);
        for chunk in [1, 2, 3, 7, 4096] {
            assert_eq!(
                decode_chunked(stream, max_frame, chunk),
                whole,
                "reads of {chunk} bytes"
            );
        }
        whole
    }

    const MSG1: &[u8] = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||7\r";
    const MSG2: &[u8] = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|2|P|2.5\r";

    // ---- protocol tests: byte streams with a comment per byte group ----

    #[test]
    fn one_frame() {
        let stream = [
            &[0x0B][..], // SB
            b"MSH|1\r",  // content, 6 bytes
            &[0x1C],     // EB
            &[0x0D],     // CR
        ]
        .concat();
        assert_eq!(decode(&stream), [Ev::Frame(b"MSH|1\r".to_vec(), 0)]);
    }

    #[test]
    fn two_frames_in_one_feed() {
        let stream = [
            &[0x0B][..], // SB              @0
            MSG1,        // first message   @1
            &[0x1C, 0x0D],
            &[0x0B], // SB              @len(MSG1)+3
            MSG2,    // second message
            &[0x1C, 0x0D],
        ]
        .concat();
        let second = MSG1.len() as u64 + 3;
        let mut d = Decoder::new(1024);
        d.feed(&stream);
        assert_eq!(
            d.next_event(),
            Some(Event::Frame {
                payload: MSG1,
                offset: 0
            })
        );
        assert_eq!(
            d.next_event(),
            Some(Event::Frame {
                payload: MSG2,
                offset: second
            })
        );
        assert_eq!(d.next_event(), None);
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn frame_fed_one_byte_at_a_time() {
        let stream = [
            &[0x0B][..], // SB
            MSG1,        // content
            &[0x1C],     // EB
            &[0x0D],     // CR
        ]
        .concat();
        let mut d = Decoder::new(1024);
        let mut out = Vec::new();
        for (i, b) in stream.iter().enumerate() {
            d.feed(std::slice::from_ref(b));
            drain(&mut d, &mut out);
            if i + 1 < stream.len() {
                assert!(out.is_empty(), "nothing before the CR (byte {i})");
                assert!(d.in_block());
            }
        }
        assert_eq!(out, [Ev::Frame(MSG1.to_vec(), 0)]);
        assert!(!d.in_block());
    }

    #[test]
    fn split_exactly_between_eb_and_cr() {
        let read1 = [
            &[0x0B][..], // SB
            b"MSH|1\r",  // content
            &[0x1C],     // EB, the last byte of the read
        ]
        .concat();
        let read2 = [
            &[0x0D][..], // CR, the first byte of the next read
            &[0x0B],     // SB of the next block
            b"MSH|2\r",  // content
            &[0x1C, 0x0D],
        ]
        .concat();
        let mut d = Decoder::new(1024);
        d.feed(&read1);
        // The block is not delivered until we know whether a CR follows.
        assert_eq!(d.next_event(), None);
        assert!(d.in_block());
        d.feed(&read2);
        assert_eq!(
            d.next_event(),
            Some(Event::Frame {
                payload: &b"MSH|1\r"[..],
                offset: 0
            })
        );
        assert_eq!(
            d.next_event(),
            Some(Event::Frame {
                payload: &b"MSH|2\r"[..],
                offset: 9
            })
        );
        assert_eq!(d.next_event(), None);
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn junk_before_and_between_frames() {
        let stream = [
            &b"\r\n\0noise"[..], // 8 junk bytes        @0..8
            &[0x0B],             // SB                  @8
            b"MSH|1\r",          // content             @9..15
            &[0x1C, 0x0D],       // EB CR               @15..17
            b"\r\n  ",           // 4 junk bytes        @17..21
            &[0x0B],             // SB                  @21
            b"MSH|2\r",          // content
            &[0x1C, 0x0D],       // EB CR               @28..30
        ]
        .concat();
        assert_eq!(
            decode_every_way(&stream, 1024),
            [
                Ev::Skipped {
                    bytes: 8,
                    offset: 0
                },
                Ev::Frame(b"MSH|1\r".to_vec(), 8),
                Ev::Skipped {
                    bytes: 4,
                    offset: 17
                },
                Ev::Frame(b"MSH|2\r".to_vec(), 21),
            ]
        );
    }

    #[test]
    fn second_sb_restarts_the_block() {
        let stream = [
            &[0x0B][..],   // SB                    @0
            b"MSH|^~\\&|", // partial content, 9    @1..10
            &[0x0B],       // SB again              @10
            b"MSH|2\r",    // content               @11..17
            &[0x1C, 0x0D], // EB CR
        ]
        .concat();
        assert_eq!(
            decode_every_way(&stream, 1024),
            [
                Ev::Restarted {
                    dropped: 9,
                    offset: 0
                },
                Ev::Frame(b"MSH|2\r".to_vec(), 10),
            ]
        );
    }

    #[test]
    fn eb_without_cr_then_sb() {
        let stream = [
            &[0x0B][..],   // SB                    @0
            b"MSH|1\r",    // content               @1..7
            &[0x1C],       // EB, no CR             @7
            &[0x0B],       // SB of the next block  @8
            b"MSH|2\r",    // content
            &[0x1C, 0x0D], // EB CR
        ]
        .concat();
        assert_eq!(
            decode_every_way(&stream, 1024),
            [
                Ev::Frame(b"MSH|1\r".to_vec(), 0),
                Ev::NoCr(8),
                Ev::Frame(b"MSH|2\r".to_vec(), 8),
            ]
        );
    }

    #[test]
    fn fs_lf_is_accepted() {
        let stream = [
            &[0x0B][..], // SB          @0
            b"MSH|1\r",  // content     @1..7
            &[0x1C],     // EB          @7
            &[0x0A],     // LF, not CR  @8: consumed
            &[0x0B],     // SB          @9
            b"MSH|2\r",  // content
            &[0x1C],     // EB          @16
            &[0x0A],     // LF          @17
        ]
        .concat();
        assert_eq!(
            decode_every_way(&stream, 1024),
            [
                Ev::Frame(b"MSH|1\r".to_vec(), 0),
                Ev::NoCr(8),
                Ev::Frame(b"MSH|2\r".to_vec(), 9),
                Ev::NoCr(17),
            ]
        );
    }

    #[test]
    fn empty_frame() {
        let stream = [
            &[0x0B, 0x1C, 0x0D][..], // SB EB CR: a keep-alive   @0
            &[0x0B],                 // SB                       @3
            b"MSH|1\r",              // content
            &[0x1C, 0x0D],           // EB CR
        ]
        .concat();
        assert_eq!(
            decode_every_way(&stream, 1024),
            [Ev::Empty(0), Ev::Frame(b"MSH|1\r".to_vec(), 3)]
        );
    }

    #[test]
    fn r2_commit_ack_and_nak() {
        let stream = [
            &[0x0B][..], // SB
            &[0x06],     // ACK
            &[0x1C, 0x0D],
            &[0x0B], // SB
            &[0x15], // NAK
            &[0x1C, 0x0D],
            &[0x0B], // SB
            &[0x06, 0x06],
            &[0x1C, 0x0D], // two bytes: not a commit acknowledgement
        ]
        .concat();
        let events = decode_every_way(&stream, 1024);
        let acks: Vec<_> = events
            .iter()
            .map(|e| match e {
                Ev::Frame(p, _) => is_commit_ack(p),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(acks, [Some(true), Some(false), None]);
        assert_eq!(is_commit_ack(b""), None);
        assert_eq!(is_commit_ack(MSG1), None);
    }

    #[test]
    fn oversize_block_streams_through_in_bounded_memory() {
        const BIG: usize = 1 << 20;
        let mut stream = vec![0x0B]; // SB                       @0
        stream.extend(std::iter::repeat_n(b'x', BIG)); // 1 MiB of content
        stream.extend([0x1C, 0x0D]); // EB CR                    @BIG+1
        stream.push(0x0B); // SB                                 @BIG+3
        stream.extend_from_slice(b"MSH|2"); // 5 bytes: fits in 8
        stream.extend([0x1C, 0x0D]); // EB CR

        let mut d = Decoder::new(8);
        let mut out = Vec::new();
        for piece in stream.chunks(4096) {
            d.feed(piece);
            assert!(d.buffered() <= 8 + 1 + 4096, "held {}", d.buffered());
            assert!(
                d.buf.capacity() <= 4 * 4096,
                "capacity {}",
                d.buf.capacity()
            );
            drain(&mut d, &mut out);
        }
        finish(&mut d, &mut out);
        assert_eq!(
            out,
            [
                Ev::Oversize {
                    size: BIG as u64,
                    offset: 0
                },
                Ev::Frame(b"MSH|2".to_vec(), BIG as u64 + 3),
            ]
        );
        assert_eq!(decode_every_way(&stream[..2000], 8).len(), 1);
    }

    #[test]
    fn max_frame_is_inclusive() {
        let stream = [
            &[0x0B][..],    // SB            @0
            b"12345678",    // 8 bytes: fits
            &[0x1C, 0x0D],  // EB CR         @9
            &[0x0B],        // SB            @11
            b"123456789",   // 9 bytes: too many
            &[0x1C, 0x0D],  // EB CR
            &[0x0B],        // SB            @23
            b"123456789ab", // 11 bytes, then restarted
            &[0x0B],        // SB            @35
            b"123456789ab", // 11 bytes, then end of input
        ]
        .concat();
        assert_eq!(
            decode_every_way(&stream, 8),
            [
                Ev::Frame(b"12345678".to_vec(), 0),
                Ev::Oversize {
                    size: 9,
                    offset: 11
                },
                Ev::Restarted {
                    dropped: 11,
                    offset: 23
                },
                Ev::Truncated {
                    bytes: 11,
                    offset: 35
                },
            ]
        );
    }

    #[test]
    fn truncated_at_finish() {
        let stream = [
            &[0x0B][..], // SB                         @0
            b"MSH|1\r",  // content, then end of input
        ]
        .concat();
        let mut d = Decoder::new(1024);
        d.feed(&stream);
        assert_eq!(d.next_event(), None);
        assert!(d.in_block());
        assert_eq!(
            d.finish(),
            Some(Event::Truncated {
                bytes: 6,
                offset: 0
            })
        );
        assert_eq!(d.finish(), None);
        assert!(!d.in_block());
    }

    #[test]
    fn finish_with_trailing_junk() {
        let stream = [
            &[0x0B][..],   // SB          @0
            b"MSH|1\r",    // content
            &[0x1C, 0x0D], // EB CR
            b"\r\nbye",    // 5 junk bytes @9
        ]
        .concat();
        let mut d = Decoder::new(1024);
        d.feed(&stream);
        assert_eq!(
            d.next_event(),
            Some(Event::Frame {
                payload: &b"MSH|1\r"[..],
                offset: 0
            })
        );
        // The run may go on in the next read: reported only when it ends.
        assert_eq!(d.next_event(), None);
        assert_eq!(
            d.finish(),
            Some(Event::Skipped {
                bytes: 5,
                offset: 9
            })
        );
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn finish_right_after_eb() {
        let stream = [
            &[0x0B][..], // SB        @0
            b"MSH|1\r",  // content
            &[0x1C],     // EB        @7, then end of input
        ]
        .concat();
        assert_eq!(
            decode_every_way(&stream, 1024),
            [Ev::Frame(b"MSH|1\r".to_vec(), 0), Ev::NoCr(8)]
        );
    }

    #[test]
    fn offsets_survive_compaction() {
        let mut stream = Vec::new();
        for _ in 0..100 {
            encode(b"MSH|x\r", &mut stream); // 9 bytes per block
        }
        let events = decode_every_way(&stream, 1024);
        assert_eq!(events.len(), 100);
        for (i, e) in events.iter().enumerate() {
            assert_eq!(*e, Ev::Frame(b"MSH|x\r".to_vec(), 9 * i as u64));
        }
    }

    #[test]
    fn encode_frames_once() {
        let mut out = Vec::new();
        encode(b"MSH|1\r", &mut out);
        assert_eq!(
            out,
            [
                &[0x0B][..], // SB
                b"MSH|1\r",  // content
                &[0x1C, 0x0D]
            ]
            .concat()
        ); // EB CR
        let framed = out.clone();
        encode(&framed, &mut out); // already framed: appended as is
        assert_eq!(out, [&framed[..], &framed[..]].concat());

        let mut out = Vec::new();
        encode(b"", &mut out);
        assert_eq!(out, [0x0B, 0x1C, 0x0D]);
        encode(&[0x0B, 0x1C, 0x0D], &mut out); // an already framed empty block
        assert_eq!(out, [0x0B, 0x1C, 0x0D, 0x0B, 0x1C, 0x0D]);

        // Half framed (no CR after EB): wrapped, it is not a block.
        let mut out = Vec::new();
        encode(&[0x0B, b'A', 0x1C], &mut out);
        assert_eq!(out, [0x0B, 0x0B, b'A', 0x1C, 0x1C, 0x0D]);

        // What encode writes decodes back.
        let mut out = Vec::new();
        encode(MSG1, &mut out);
        encode(&[0x06], &mut out);
        assert_eq!(
            decode(&out),
            [
                Ev::Frame(MSG1.to_vec(), 0),
                Ev::Frame(vec![0x06], MSG1.len() as u64 + 3)
            ]
        );
    }

    // ---- the corpus streams (docs/conformance.md "MLLP framing") ----

    macro_rules! corpus {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/corpus/mllp__",
                $name,
                ".bin"
            ))
        };
    }

    const MAX: usize = 16 << 20;

    fn frames(events: &[Ev]) -> Vec<&[u8]> {
        events
            .iter()
            .filter_map(|e| match e {
                Ev::Frame(p, _) => Some(&p[..]),
                _ => None,
            })
            .collect()
    }

    fn control_id(payload: &[u8]) -> &[u8] {
        payload.split(|&b| b == b'|').nth(9).unwrap()
    }

    #[test]
    fn corpus_two_frames_back_to_back() {
        let events = decode_every_way(corpus!("two_frames_back_to_back"), MAX);
        assert!(matches!(events[..], [Ev::Frame(_, 0), Ev::Frame(_, 82)]));
        let ids: Vec<_> = frames(&events).into_iter().map(control_id).collect();
        assert_eq!(ids, [&b"MLLP-1"[..], b"MLLP-2"]);
    }

    #[test]
    fn corpus_keepalive_500_frames() {
        let events = decode_every_way(corpus!("keepalive_500_frames"), MAX);
        assert_eq!(events.len(), 500);
        for (i, p) in frames(&events).into_iter().enumerate() {
            assert_eq!(control_id(p), format!("KA-{i}").as_bytes());
        }
    }

    #[test]
    fn corpus_one_huge_frame() {
        let stream = corpus!("one_huge_frame_974kb_mdm");
        let events = decode_every_way(stream, MAX);
        let [Ev::Frame(payload, 0)] = &events[..] else {
            panic!("{} events", events.len())
        };
        assert_eq!(payload.len(), 974_255);
        assert!(payload.starts_with(b"MSH|"));
        // With a smaller maximum it is drained and reported once.
        assert_eq!(
            decode_every_way(stream, 64 << 10),
            [Ev::Oversize {
                size: 974_255,
                offset: 0
            }]
        );
    }

    #[test]
    fn corpus_empty_frame() {
        assert_eq!(
            decode_every_way(corpus!("empty_frame"), MAX),
            [Ev::Empty(0)]
        );
    }

    #[test]
    fn corpus_r2_commit_ack_and_nak() {
        let events = decode_every_way(corpus!("r2_commit_ack_and_nak"), MAX);
        assert_eq!(events.len(), 2);
        let acks: Vec<_> = frames(&events).into_iter().map(is_commit_ack).collect();
        assert_eq!(acks, [Some(true), Some(false)]);
    }

    #[test]
    fn corpus_missing_end_block_then_eof() {
        assert_eq!(
            decode_every_way(corpus!("missing_end_block_then_eof"), MAX),
            [Ev::Truncated {
                bytes: 79,
                offset: 0
            }]
        );
    }

    #[test]
    fn corpus_second_vt_inside_unterminated_frame() {
        let events = decode_every_way(corpus!("second_vt_inside_unterminated_frame"), MAX);
        let [
            Ev::Restarted {
                dropped: 30,
                offset: 0,
            },
            Ev::Frame(payload, 31),
        ] = &events[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(control_id(payload), b"MLLP-2");
    }

    #[test]
    fn corpus_junk_before_and_between_frames() {
        let events = decode_every_way(corpus!("junk_before_and_between_frames"), MAX);
        let [
            Ev::Skipped {
                bytes: 10,
                offset: 0,
            },
            Ev::Frame(p1, 10),
            Ev::Skipped {
                bytes: 4,
                offset: 92,
            },
            Ev::Frame(p2, 96),
        ] = &events[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(
            (control_id(p1), control_id(p2)),
            (&b"MLLP-1"[..], &b"MLLP-2"[..])
        );
    }

    #[test]
    fn corpus_fs_without_cr_then_next_frame() {
        let events = decode_every_way(corpus!("fs_without_cr_then_next_frame"), MAX);
        let [Ev::Frame(p1, 0), Ev::NoCr(81), Ev::Frame(p2, 81)] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(
            (control_id(p1), control_id(p2)),
            (&b"MLLP-1"[..], &b"MLLP-2"[..])
        );
        // The first message holds its two segments and nothing of the second.
        assert!(p1.ends_with(b"One^A\r"));
    }

    #[test]
    fn corpus_fs_lf_instead_of_fs_cr() {
        let events = decode_every_way(corpus!("fs_lf_instead_of_fs_cr"), MAX);
        let [Ev::Frame(p, 0), Ev::NoCr(81)] = &events[..] else {
            panic!("{events:?}")
        };
        assert!(p.ends_with(b"One^A\r"));
    }

    // ---- property test ----

    /// SplitMix64: a small deterministic generator, so failures reproduce without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Walks the stream along the events and checks that they account for every byte exactly
    /// once, in order, with what the bytes really are.
    fn check_accounting(stream: &[u8], events: &[Ev], max_frame: usize) {
        let at = |o: u64| stream.get(o as usize).copied();
        let mut cursor = 0u64;
        let mut i = 0;
        while i < events.len() {
            let block_end = match &events[i] {
                Ev::Skipped { bytes, offset } => {
                    assert_eq!(*offset, cursor);
                    assert!(*bytes > 0);
                    let run = &stream[cursor as usize..(cursor + bytes) as usize];
                    assert!(!run.contains(&SB));
                    cursor += bytes;
                    assert!(at(cursor).is_none_or(|b| b == SB));
                    None
                }
                Ev::Restarted { dropped, offset } => {
                    assert_eq!(*offset, cursor);
                    assert_eq!(at(cursor), Some(SB));
                    cursor += 1 + dropped;
                    assert_eq!(at(cursor), Some(SB));
                    None
                }
                Ev::Truncated { bytes, offset } => {
                    assert_eq!(*offset, cursor);
                    assert_eq!(at(cursor), Some(SB));
                    cursor += 1 + bytes;
                    assert_eq!(cursor as usize, stream.len());
                    None
                }
                Ev::Frame(payload, offset) => {
                    assert!(!payload.is_empty() && payload.len() <= max_frame);
                    assert!(!payload.contains(&SB) && !payload.contains(&EB));
                    let s = (offset + 1) as usize;
                    assert_eq!(&stream[s..s + payload.len()], &payload[..]);
                    Some((*offset, payload.len() as u64))
                }
                Ev::Empty(offset) => Some((*offset, 0)),
                Ev::Oversize { size, offset } => {
                    assert!(*size > max_frame as u64);
                    Some((*offset, *size))
                }
                Ev::NoCr(_) => panic!("NoCrAfterEnd without a block before it: {events:?}"),
            };
            i += 1;
            if let Some((offset, size)) = block_end {
                assert_eq!(offset, cursor);
                assert_eq!(at(cursor), Some(SB));
                cursor += 1 + size;
                assert_eq!(at(cursor), Some(EB));
                cursor += 1;
                if at(cursor) == Some(CR) {
                    cursor += 1;
                } else {
                    assert_eq!(events.get(i), Some(&Ev::NoCr(cursor)));
                    i += 1;
                    if at(cursor).is_some_and(|b| b != SB) {
                        cursor += 1;
                    }
                }
            }
        }
        assert_eq!(cursor as usize, stream.len(), "{events:?}");
    }

    #[test]
    fn random_streams_and_cuttings() {
        let mut rng = Rng(0x4D4C_4C50);
        for case in 0..3000 {
            let len = rng.below(120);
            let stream: Vec<u8> = (0..len)
                .map(|_| match rng.below(20) {
                    0..=2 => SB,
                    3..=5 => EB,
                    6..=8 => CR,
                    9 => b'\n',
                    10 => rng.next() as u8,
                    _ => b'a',
                })
                .collect();
            let max_frame = rng.below(12);
            let whole = decode_every_way(&stream, max_frame);
            for _ in 0..4 {
                let mut d = Decoder::new(max_frame);
                let mut out = Vec::new();
                let mut rest = &stream[..];
                while !rest.is_empty() {
                    let n = 1 + rng.below(rest.len().min(10));
                    let (piece, tail) = rest.split_at(n);
                    d.feed(piece);
                    assert!(d.buffered() <= max_frame + 1 + n);
                    drain(&mut d, &mut out);
                    rest = tail;
                }
                finish(&mut d, &mut out);
                assert_eq!(out, whole, "case {case}: {stream:?}");
            }
            check_accounting(&stream, &whole, max_frame);
        }
    }
}
