//! Bytes to messages: a streaming splitter with bounded memory (it holds one message at a time,
//! however long the stream).
//!
//! Input formats (docs/input.md), detected from the first bytes or chosen:
//! - raw HL7 (docs/conformance.md "Segments and line ends", "Batches"): segments end in `\r`, `\n`
//!   or `\r\n`, mixed; blank lines and a UTF-8 BOM are skipped; a message starts at each line that
//!   begins with `MSH` (never at `MSH` inside a field); FHS/BHS/BTS/FTS envelopes are taken apart
//!   so the messages come out one by one, and the counts in BTS-1 and FTS-1 are checked (a mismatch
//!   is a warning, never an error);
//! - MLLP-framed captures (`0x0B message 0x1C 0x0D`), read by [`crate::wire::mllp::Decoder`] (the
//!   decoder of `hl7 listen` and `hl7 send`) with the leniency of a good receiver: bytes outside
//!   frames are skipped with a warning, a start block inside an unfinished frame restarts it, FS
//!   without CR is accepted, empty frames are ignored, and end of input inside a frame is
//!   reported;
//! - NDJSON, one JSON document a line, as written by `hl7 parse` and `hl7 listen --meta`.
//!
//! Lines that do not belong to a message (a PID with no MSH before it, comments, garbage) come
//! out as [`Item::Invalid`] with their offset, so nothing is dropped silently.

use std::collections::VecDeque;
use std::io::{self, Read};

use crate::model::message::is_header_id;
use crate::wire::mllp::{self, Decoder, Event, SB};
use crate::wire::receipt;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// True when `d` (a message so far) ends the way a message ends in a stream of
/// CR-terminated segments: with an LF after its segments (`hl7 listen`, `simulate` and
/// `parse --to hl7` write a `\n` after each message), or with a blank line.
fn ends_message(d: &[u8]) -> bool {
    match d {
        [.., b'\r' | b'\n', b'\r' | b'\n'] => true,
        [.., b'\n'] => memchr::memchr(b'\r', d).is_some(),
        _ => false,
    }
}

/// What a read gave.
enum Fill {
    Data,
    Eof,
    /// The reader timed out (`TimedOut`): the writer paused.
    Idle,
    /// The reader has nothing ready right now (`WouldBlock`); the next read waits.
    Drained,
}

/// An input format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Hl7,
    Mllp,
    Ndjson,
}

impl Format {
    /// Guesses the format from the first bytes of a stream: a start block means MLLP, `{` means
    /// NDJSON, anything else raw HL7.
    pub fn detect(head: &[u8]) -> Format {
        let mut head = head.strip_prefix(BOM).unwrap_or(head);
        // delivery marks say nothing of the format: a stream may start with one (a filter
        // whose first message made nothing)
        while receipt::is_mark(head) {
            match memchr::memchr(b'\n', head) {
                Some(i) => head = &head[i + 1..],
                None => return Format::Hl7,
            }
        }
        match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(&SB) => Format::Mllp,
            Some(b'{') => Format::Ndjson,
            // a capture with noise before its first frame
            _ => match memchr::memchr(SB, head) {
                Some(i) if memchr::memmem::find(&head[..i], b"MSH").is_none() => Format::Mllp,
                _ => Format::Hl7,
            },
        }
    }
}

/// What the splitter found next.
#[derive(Debug)]
pub enum Item<'a> {
    /// One message: from its `MSH` to the end of its last segment (terminator not included).
    Message(Chunk<'a>),
    /// One NDJSON line.
    Json(Chunk<'a>),
    /// Bytes that are not part of any message, and why.
    Invalid(Chunk<'a>, String),
    /// Something worth a warning that loses no data (envelope counts, bytes between frames).
    Warning { offset: u64, what: String },
    /// The input has nothing more ready right now (its reader said `WouldBlock`, as a live
    /// pipe's does): a filter passes on what it has made so far, so that rows flow as soon as
    /// the writer stops for a moment. Given between items, or while a raw HL7 message waits
    /// for its end; never for a plain file.
    Idle,
    /// A delivery mark line (`listen --ack-after delivered`, [`crate::wire::receipt`]), without
    /// its line end: a filter copies it to its output after what it made of the messages before
    /// it. Read in raw HL7 and NDJSON streams.
    Mark(Chunk<'a>),
}

/// A piece of the stream with its position.
#[derive(Debug)]
pub struct Chunk<'a> {
    pub bytes: &'a [u8],
    /// Byte offset of the first byte in the whole stream.
    pub offset: u64,
    /// For a raw HL7 message: the splitter, which looks at every line start anyway, saw each
    /// line after the MSH start with a segment id (three upper-case letters or digits, then
    /// the field separator or the end of the line) or be empty. Then
    /// [`Message::validate_header`](crate::model::message::Message::validate_header) is all that is left
    /// of [`Message::validate`](crate::model::message::Message::validate). False whenever it did not
    /// look (MLLP, NDJSON, the end of the input) or saw anything else: then validate in full.
    pub lines_checked: bool,
}

#[derive(Default)]
struct Envelope {
    /// Inside a BHS: messages seen since it.
    batch_messages: Option<u64>,
    /// Inside an FHS: batches seen since it.
    file_batches: Option<u64>,
}

/// The streaming splitter. Call [`Splitter::next_item`] until it returns `None`.
pub struct Splitter<R> {
    reader: R,
    format: Option<Format>,
    buf: Vec<u8>,
    /// Unconsumed data is `buf[start..end]`.
    start: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// Where the scan for the end of the current message had got to, relative to `start`.
    resume: usize,
    /// Every line the scan has passed so far starts with a segment id (see
    /// [`Chunk::lines_checked`]).
    lines_ok: bool,
    envelope: Envelope,
    mllp: Mllp,
}

/// The state of the MLLP reader. The framing rules are those of [`mllp::Decoder`]; the bytes of
/// the items are the splitter's buffer, which keeps an unfinished frame from its start block
/// until the decoder has found its end (so one frame is held at a time, as in raw HL7).
struct Mllp {
    /// No maximum frame size: files are trusted input, and a frame is held whole anyway.
    dec: Decoder,
    started: bool,
    /// Stream offset of the decoder's offset 0 (past a BOM that format detection skipped).
    origin: u64,
    /// Stream offset up to which input has been fed to the decoder.
    fed: u64,
    /// Stream offset where the input fed last starts.
    feed_from: u64,
    /// The decoder may have more events for the input fed.
    draining: bool,
    /// End of input: the events come from [`Decoder::finish`].
    finishing: bool,
    done: bool,
    /// Stream offset of the start block of the frame the decoder is inside.
    block: Option<u64>,
    /// Blocks seen (frames, empty or not, and frames cut short).
    frames: u64,
    /// Stream offset past the last block's end block and the byte after it: where the next run
    /// of skipped bytes starts, if there is one.
    last_end: u64,
    /// Text (non-whitespace) bytes of the current run of skipped bytes in inputs fed before.
    carry: u64,
    /// A byte after an end block that was not CR and not a start block: where it is, and 1 if it
    /// is not whitespace. The decoder ends the block with it; it is reported as skipped, with
    /// the run of skipped bytes after it.
    odd: Option<(u64, u64)>,
    /// While some: the items of the last block, from this index of `out` on, wait for the next
    /// event, since a warning about the block's end block goes before them.
    held: Option<usize>,
    /// Items found, in order.
    out: VecDeque<Out>,
}

impl Mllp {
    fn new() -> Self {
        Mllp {
            dec: Decoder::new(usize::MAX),
            started: false,
            origin: 0,
            fed: 0,
            feed_from: 0,
            draining: false,
            finishing: false,
            done: false,
            block: None,
            frames: 0,
            last_end: 0,
            carry: 0,
            odd: None,
            held: None,
            out: VecDeque::new(),
        }
    }

    /// A block (SB, `len` bytes, EB) at `sb` ended.
    fn block_ended(&mut self, sb: u64, len: u64) {
        self.flush_odd();
        self.frames += 1;
        self.held = Some(self.out.len());
        self.last_end = sb + len + 3;
    }

    /// Reports an odd byte after an end block that no skipped bytes followed.
    fn flush_odd(&mut self) {
        if let Some((at, n)) = self.odd.take()
            && n > 0
        {
            self.out.push_back(Out::Warning(at, skipped(n)));
        }
    }
}

/// An item of an MLLP capture, waiting its turn.
enum Out {
    Warning(u64, String),
    /// `buf[from..to]` at stream offset `offset`: a message, or why it is not one.
    Chunk {
        offset: u64,
        from: usize,
        to: usize,
        why: Option<String>,
    },
}

/// A decoder event that no longer borrows the decoder (decoder offsets): a frame is its length
/// and what it holds ([`judge_frame`]).
type Found = Event<(u64, Option<(usize, Option<String>)>)>;

/// A frame's payload as [`Found`] keeps it.
fn found(payload: &[u8]) -> (u64, Option<(usize, Option<String>)>) {
    (payload.len() as u64, judge_frame(payload))
}

/// What a frame holds: `None` when it is blank (a keep-alive carries nothing), else the length
/// of its content without the line ends after its last segment, and why it is not a message
/// when it is not one.
fn judge_frame(payload: &[u8]) -> Option<(usize, Option<String>)> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let body = trim_end(payload);
    if body.starts_with(b"MSH") {
        return Some((body.len(), None));
    }
    let why = match mllp::is_commit_ack(body) {
        Some(true) => {
            "MLLP release 2 commit acknowledgement (ACK block), not a message".to_string()
        }
        Some(false) => {
            "MLLP release 2 negative commit acknowledgement (NAK block), not a message".to_string()
        }
        None => format!(
            "MLLP frame does not hold an HL7 message (it starts with {})",
            describe(body)
        ),
    };
    Some((body.len(), Some(why)))
}

/// Bytes that are not whitespace.
fn count_text(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| !b.is_ascii_whitespace()).count() as u64
}

fn skipped(text: u64) -> String {
    format!("{text} bytes outside any MLLP frame skipped")
}

const READ_SIZE: usize = 256 * 1024;
/// How many bytes format detection looks at.
const DETECT_WINDOW: usize = 1024;

impl<R: Read> Splitter<R> {
    /// A splitter that detects the format from the first bytes.
    pub fn new(reader: R) -> Self {
        Splitter {
            reader,
            format: None,
            buf: vec![0; READ_SIZE * 2],
            start: 0,
            end: 0,
            base: 0,
            eof: false,
            resume: 0,
            lines_ok: false,
            envelope: Envelope::default(),
            mllp: Mllp::new(),
        }
    }

    /// A splitter for a known format.
    pub fn with_format(reader: R, format: Format) -> Self {
        let mut s = Self::new(reader);
        s.format = Some(format);
        s
    }

    /// The format in use (detected on the first call of `next_item`).
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    /// Reads more input. Returns false at end of input. A reader that times out or has nothing
    /// ready (a live pipe with nothing to say for a while) is simply read again.
    fn fill(&mut self) -> io::Result<bool> {
        loop {
            match self.fill_or_idle()? {
                Fill::Data => return Ok(true),
                Fill::Eof => return Ok(false),
                Fill::Idle | Fill::Drained => {}
            }
        }
    }

    /// Reads more input: `Some(true)` data, `Some(false)` the end, `None` nothing ready now
    /// (the caller gives [`Item::Idle`]; the next read waits).
    fn fill_or_drained(&mut self) -> io::Result<Option<bool>> {
        loop {
            match self.fill_or_idle()? {
                Fill::Data => return Ok(Some(true)),
                Fill::Eof => return Ok(Some(false)),
                Fill::Drained => return Ok(None),
                Fill::Idle => {}
            }
        }
    }

    /// Reads more input, telling a pause of the writer (the reader returned `TimedOut`) and
    /// nothing ready now (`WouldBlock`) apart from data and from the end.
    fn fill_or_idle(&mut self) -> io::Result<Fill> {
        if self.eof {
            return Ok(Fill::Eof);
        }
        if self.start > 0 && (self.end == self.buf.len() || self.start >= self.buf.len() / 2) {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(Fill::Eof);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(Fill::Data);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok(Fill::Idle),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Fill::Drained),
                Err(e) => return Err(e),
            }
        }
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn offset_of(&self, pos: usize) -> u64 {
        self.base + pos as u64
    }

    /// Makes sure at least `n` unconsumed bytes are buffered, or end of input is reached.
    fn want(&mut self, n: usize) -> io::Result<()> {
        while self.end - self.start < n && self.fill()? {}
        Ok(())
    }

    /// Takes `len` bytes from the front as a chunk.
    fn take(&mut self, len: usize) -> Chunk<'_> {
        let s = self.start;
        self.start += len;
        self.resume = 0;
        Chunk {
            bytes: &self.buf[s..s + len],
            offset: self.base + s as u64,
            lines_checked: false,
        }
    }

    /// The next item, or `None` at the end of the stream.
    pub fn next_item(&mut self) -> io::Result<Option<Item<'_>>> {
        if self.format.is_none() {
            // Always the same window, however the reads fell, so the same bytes are always
            // read the same way; only a live writer's pause (with something to look at) cuts
            // it short, so its first message is not held back.
            while self.end - self.start < DETECT_WINDOW {
                match self.fill_or_idle()? {
                    Fill::Data | Fill::Drained => {}
                    Fill::Idle if self.end > self.start => break,
                    Fill::Idle => {}
                    Fill::Eof => break,
                }
            }
            if self.data().starts_with(BOM) {
                self.start += BOM.len();
            }
            let d = self.data();
            self.format = Some(Format::detect(&d[..d.len().min(DETECT_WINDOW)]));
        }
        match self.format {
            Some(Format::Mllp) => self.next_frame(),
            Some(Format::Ndjson) => self.next_json(),
            _ => self.next_hl7(),
        }
    }

    // ---- raw HL7 ----

    /// Skips line terminators and whitespace-only lines at the front. False: nothing is
    /// buffered and the reader has nothing ready now.
    fn skip_blank(&mut self) -> io::Result<bool> {
        loop {
            let d = self.data();
            let n = d
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | b'\x0c'))
                .count();
            self.start += n;
            if self.start < self.end {
                return Ok(true);
            }
            match self.fill_or_drained()? {
                Some(true) => {}
                Some(false) => return Ok(true),
                None => return Ok(false),
            }
        }
    }

    /// Length of the first line of the unconsumed data (reading more as needed), without its
    /// terminator.
    fn line_len(&mut self, from: usize) -> io::Result<usize> {
        let mut scanned = from;
        loop {
            let d = self.data();
            if let Some(i) = memchr::memchr2(b'\r', b'\n', &d[scanned..]) {
                return Ok(scanned + i - from);
            }
            scanned = d.len();
            if !self.fill()? {
                return Ok(self.data().len() - from);
            }
        }
    }

    /// Scans from `self.resume` for the start of the next line that begins a new unit (MSH, FHS,
    /// BHS, BTS, FTS, a mark). Returns its position relative to `start`, or the end of data at
    /// EOF; `None` when the reader has nothing ready now (the scan resumes where it stopped).
    fn find_boundary(&mut self, first_line_end: usize) -> io::Result<Option<usize>> {
        let mut pos = self.resume.max(first_line_end);
        loop {
            let d = self.data();
            // pos is at a terminator (or end of data)
            let mut found = None;
            let mut lines_ok = self.lines_ok;
            let sep = d.get(3).copied();
            while pos < d.len() {
                let Some(t) = memchr::memchr2(b'\r', b'\n', &d[pos..]) else {
                    pos = d.len();
                    break;
                };
                let line = pos + t + 1;
                // need 4 bytes to classify the line start; if not buffered, read more
                if d.len() - line < 4 && !self.eof {
                    pos += t;
                    break;
                }
                if starts_unit(&d[line..]) {
                    found = Some(line);
                    break;
                }
                if lines_ok && !line_starts_segment(&d[line..], sep) {
                    lines_ok = false;
                }
                pos = line;
            }
            self.lines_ok = lines_ok;
            if let Some(f) = found {
                return Ok(Some(f));
            }
            self.resume = pos;
            match self.fill_or_idle()? {
                Fill::Data => {}
                Fill::Drained => return Ok(None),
                Fill::Eof => return Ok(Some(self.boundary_at_end())),
                // The writer paused after the end of a message as our tools write it (CR
                // between segments, an LF after the message, or a blank line): raw HL7 has no
                // other end-of-message mark, so a live pipe's message is complete now
                // (`simulate --rate 1/s | send` must not lag a message behind). A pause after
                // a segment's own terminator proves nothing (a slow writer between two
                // segments), so then the next MSH is still awaited.
                Fill::Idle if ends_message(self.data()) => {
                    return Ok(Some(self.boundary_at_end()));
                }
                Fill::Idle => {}
            }
            pos = self.resume;
        }
    }

    /// At the end of the data (end of input, or a pause): the start of a unit among the lines
    /// not yet classified, else the end.
    fn boundary_at_end(&mut self) -> usize {
        // These lines are not looked at one by one: the message is validated in full.
        self.lines_ok = false;
        let d = self.data();
        let mut p = self.resume;
        while let Some(t) = memchr::memchr2(b'\r', b'\n', &d[p..]) {
            let line = p + t + 1;
            if starts_unit(&d[line..]) {
                return line;
            }
            p = line;
        }
        d.len()
    }

    fn next_hl7(&mut self) -> io::Result<Option<Item<'_>>> {
        loop {
            if !self.skip_blank()? {
                return Ok(Some(Item::Idle));
            }
            if self.start >= self.end {
                return Ok(self.finish_envelope());
            }
            if receipt::is_mark(self.data()) {
                return self.mark();
            }
            self.want(4)?;
            let head: [u8; 3] = {
                let d = self.data();
                let mut h = [0u8; 3];
                for (i, b) in d.iter().take(3).enumerate() {
                    h[i] = *b;
                }
                h
            };
            let is_unit = starts_unit(self.data());
            if is_unit && matches!(&head, b"FHS" | b"BHS" | b"BTS" | b"FTS") {
                let len = self.line_len(0)?;
                let at = self.offset_of(self.start);
                let line = self.data()[..len].to_vec();
                self.start += len;
                if let Some(w) = self.envelope_line(&line) {
                    return Ok(Some(Item::Warning {
                        offset: at,
                        what: w,
                    }));
                }
                continue;
            }
            let first = self.line_len(0)?;
            if self.resume == 0 {
                // not back from an Idle in the middle of the scan
                self.lines_ok = is_unit && &head == b"MSH";
            }
            let Some(boundary) = self.find_boundary(first)? else {
                return Ok(Some(Item::Idle));
            };
            let d = self.data();
            let mut len = boundary;
            while len > 0 && matches!(d[len - 1], b'\r' | b'\n') {
                len -= 1;
            }
            if is_unit && &head == b"MSH" {
                if let Some(n) = self.envelope.batch_messages.as_mut() {
                    *n += 1;
                }
                let consumed = boundary;
                let chunk_start = self.start;
                self.start += consumed;
                self.resume = 0;
                return Ok(Some(Item::Message(Chunk {
                    bytes: &self.buf[chunk_start..chunk_start + len],
                    offset: self.base + chunk_start as u64,
                    lines_checked: self.lines_ok,
                })));
            }
            let why = format!(
                "not part of a message: expected a segment starting with MSH, found {}",
                describe(&d[..first])
            );
            let chunk_start = self.start;
            self.start += boundary;
            self.resume = 0;
            return Ok(Some(Item::Invalid(
                Chunk {
                    bytes: &self.buf[chunk_start..chunk_start + len],
                    offset: self.base + chunk_start as u64,
                    lines_checked: false,
                },
                why,
            )));
        }
    }

    /// Handles an FHS/BHS/BTS/FTS line; returns a warning when a count does not match.
    fn envelope_line(&mut self, line: &[u8]) -> Option<String> {
        let id = &line[..3];
        let fs = line.get(3).copied().unwrap_or(b'|');
        // BTS-1 / FTS-1 is the first field; FHS/BHS fields are numbered like MSH.
        let count_field = || -> Option<u64> {
            let f = line.get(4..)?.split(|&b| b == fs).next()?;
            std::str::from_utf8(f).ok()?.trim().parse().ok()
        };
        match id {
            b"FHS" => {
                let mut w = None;
                if self.envelope.file_batches.is_some() {
                    w = Some("FHS inside a file that had no FTS".to_string());
                }
                self.envelope.file_batches = Some(0);
                w
            }
            b"BHS" => {
                let mut w = None;
                if self.envelope.batch_messages.is_some() {
                    w = Some("BHS inside a batch that had no BTS".to_string());
                }
                self.envelope.batch_messages = Some(0);
                if let Some(n) = self.envelope.file_batches.as_mut() {
                    *n += 1;
                }
                w
            }
            b"BTS" => {
                let seen = self.envelope.batch_messages.take();
                match (seen, count_field()) {
                    (None, _) => Some("BTS without a BHS before it".to_string()),
                    (Some(seen), Some(said)) if said != seen => Some(format!(
                        "BTS-1 says the batch holds {said} messages; found {seen}"
                    )),
                    _ => None,
                }
            }
            _ => {
                // FTS
                let mut w = None;
                if let Some(open) = self.envelope.batch_messages.take() {
                    w = Some(format!(
                        "FTS closes a batch that had no BTS ({open} messages)"
                    ));
                }
                let seen = self.envelope.file_batches.take();
                match (seen, count_field()) {
                    (None, _) => w.or(Some("FTS without an FHS before it".to_string())),
                    (Some(seen), Some(said)) if said != seen && !(seen == 0 && said == 1) => {
                        w.or(Some(format!(
                            "FTS-1 says the file holds {said} batches; found {seen}"
                        )))
                    }
                    _ => w,
                }
            }
        }
    }

    fn finish_envelope(&mut self) -> Option<Item<'_>> {
        let at = self.offset_of(self.end);
        if self.envelope.batch_messages.take().is_some() {
            return Some(Item::Warning {
                offset: at,
                what: "end of input inside a batch: no BTS after BHS".into(),
            });
        }
        if self.envelope.file_batches.take().is_some() {
            return Some(Item::Warning {
                offset: at,
                what: "end of input inside a file: no FTS after FHS".into(),
            });
        }
        None
    }

    // ---- MLLP ----

    /// The next item of an MLLP capture. The framing rules are [`mllp::Decoder`]'s; this turns
    /// its events into items, in stream order, except that a warning about a frame's end block
    /// comes before the frame.
    fn next_frame(&mut self) -> io::Result<Option<Item<'_>>> {
        loop {
            let m = &mut self.mllp;
            let ready = match m.held {
                Some(n) => n > 0,
                None => !m.out.is_empty(),
            };
            if ready && let Some(out) = m.out.pop_front() {
                if let Some(n) = m.held.as_mut() {
                    *n -= 1;
                }
                return Ok(Some(self.mllp_item(out)));
            }
            if m.done {
                return Ok(None);
            }
            if !self.mllp_pull()? {
                return Ok(Some(Item::Idle));
            }
        }
    }

    fn mllp_item(&self, out: Out) -> Item<'_> {
        match out {
            Out::Warning(offset, what) => Item::Warning { offset, what },
            Out::Chunk {
                offset,
                from,
                to,
                why,
            } => {
                let chunk = Chunk {
                    bytes: self.buf.get(from..to).unwrap_or_default(),
                    offset,
                    lines_checked: false,
                };
                match why {
                    None => Item::Message(chunk),
                    Some(why) => Item::Invalid(chunk, why),
                }
            }
        }
    }

    /// Takes the next event from the decoder and queues what it means, feeding the decoder more
    /// input first when it has given all the events of what it was fed. False: the reader has
    /// nothing ready now (nothing changed; call again).
    fn mllp_pull(&mut self) -> io::Result<bool> {
        if !self.mllp.started {
            let at = self.offset_of(self.start);
            let m = &mut self.mllp;
            m.started = true;
            (m.origin, m.fed, m.last_end) = (at, at, at);
        }
        if !self.mllp.draining {
            if self.mllp.fed >= self.offset_of(self.end) {
                // Everything read has been decoded: keep the unfinished frame (the decoder's
                // events give its bytes only when it ends), drop the rest, read more.
                self.start = match self.mllp.block {
                    Some(sb) if self.mllp.dec.in_block() => self.index(sb),
                    _ => self.end,
                };
                match self.fill_or_drained()? {
                    Some(true) => {}
                    Some(false) => self.mllp.finishing = true,
                    None => return Ok(false),
                }
            }
            let from = self.mllp.fed;
            if !self.mllp.finishing {
                let i = self.index(from);
                self.mllp.dec.feed(&self.buf[i..self.end]);
                self.mllp.fed = self.offset_of(self.end);
            }
            self.mllp.feed_from = from;
            self.mllp.draining = true;
        }
        let found = if self.mllp.finishing {
            self.mllp.dec.finish().map(|e| e.map(found))
        } else {
            self.mllp.dec.next_event().map(|e| e.map(found))
        };
        let held = self.mllp.held.take();
        match found {
            Some(found) => self.on_found(found, held),
            None => self.fed_all(),
        }
        Ok(true)
    }

    /// The buffer index of a stream offset, clamped to the buffered data.
    fn index(&self, offset: u64) -> usize {
        usize::try_from(offset.saturating_sub(self.base)).map_or(self.end, |i| i.min(self.end))
    }

    /// The buffered bytes between two stream offsets.
    fn bytes_at(&self, from: u64, to: u64) -> &[u8] {
        self.buf
            .get(self.index(from)..self.index(to))
            .unwrap_or_default()
    }

    /// Queues the items for one decoder event. `held` is where the items of the block just
    /// before it start in the queue, if they are still held back.
    fn on_found(&mut self, found: Found, held: Option<usize>) {
        let origin = self.mllp.origin;
        match found {
            Found::Skipped { bytes, offset } => {
                let at = origin + offset;
                // Only the part of the run in the input fed last is still buffered; `carry`
                // counted the rest.
                let here = count_text(self.bytes_at(at.max(self.mllp.feed_from), at + bytes));
                let m = &mut self.mllp;
                let mut text = std::mem::take(&mut m.carry) + here;
                let mut at = at;
                match m.odd {
                    // The odd byte after the last end block starts the run, as if skipped.
                    Some((odd, n)) if odd + 1 == at => {
                        m.odd = None;
                        (at, text) = (odd, text + n);
                    }
                    _ => m.flush_odd(),
                }
                if text == 0 {
                    // whitespace between frames (a CR LF after the end block) is not worth a word
                } else if m.finishing && m.frames == 0 {
                    // Not one frame in the whole stream: this is not an MLLP capture.
                    let end = self.end;
                    m.out.push_back(Out::Chunk {
                        offset: at,
                        from: end,
                        to: end,
                        why: Some(format!(
                            "no MLLP frame (0x0B ... 0x1C 0x0D) in {text} bytes; is this raw HL7 (--from hl7)?"
                        )),
                    });
                } else {
                    m.out.push_back(Out::Warning(at, skipped(text)));
                }
            }
            Found::Restarted { dropped, offset } => {
                let m = &mut self.mllp;
                m.flush_odd();
                m.out.push_back(Out::Warning(
                    origin + offset,
                    format!(
                        "MLLP frame restarted by a new start block before its end block; {dropped} bytes dropped"
                    ),
                ));
            }
            Found::Frame {
                offset,
                payload: (len, verdict),
            } => {
                let sb = origin + offset;
                let from = self.index(sb + 1);
                let m = &mut self.mllp;
                m.block_ended(sb, len);
                if let Some((n, why)) = verdict {
                    m.out.push_back(Out::Chunk {
                        offset: sb + 1,
                        from,
                        to: (from + n).min(self.end),
                        why,
                    });
                }
            }
            // an empty frame (a keep-alive) carries nothing
            Found::Empty { offset } => self.mllp.block_ended(origin + offset, 0),
            Found::Oversize { size, offset } => {
                // Not with a decoder that has no maximum; said for completeness.
                let sb = origin + offset;
                let end = self.end;
                let m = &mut self.mllp;
                m.block_ended(sb, size);
                m.out.push_back(Out::Chunk {
                    offset: sb + 1,
                    from: end,
                    to: end,
                    why: Some(format!("MLLP frame of {size} bytes is too large; skipped")),
                });
            }
            Found::NoCrAfterEnd { offset } => {
                let at = origin + offset;
                // At end of input there is no byte after the end block, and nothing to say.
                let Some(&b) = self.bytes_at(at, at + 1).first() else {
                    return;
                };
                let m = &mut self.mllp;
                let warning = Out::Warning(
                    at.saturating_sub(1),
                    format!(
                        "MLLP end block 0x1C followed by {} instead of 0x0D; accepted",
                        crate::model::message::show_byte(b)
                    ),
                );
                let slot = held.unwrap_or(m.out.len()).min(m.out.len());
                m.out.insert(slot, warning);
                if b != SB {
                    m.odd = Some((at, u64::from(!b.is_ascii_whitespace())));
                }
            }
            Found::Truncated { bytes, offset } => {
                let sb = origin + offset;
                let (from, to) = (self.index(sb + 1), self.index(sb + 1 + bytes));
                let m = &mut self.mllp;
                m.flush_odd();
                m.frames += 1;
                m.out.push_back(Out::Chunk {
                    offset: sb + 1,
                    from,
                    to,
                    why: Some(
                        "end of input inside an MLLP frame (no end block 0x1C 0x0D); the message may be truncated"
                            .into(),
                    ),
                });
            }
        }
    }

    /// The decoder has given every event of the input fed: notes what the next input needs.
    fn fed_all(&mut self) {
        self.mllp.draining = false;
        if self.mllp.finishing {
            self.mllp.flush_odd();
            self.mllp.done = true;
            return;
        }
        let from = self.mllp.feed_from;
        if self.mllp.dec.in_block() {
            // The unfinished frame starts at the last start block, since one inside a frame
            // restarts it.
            let i = self.index(from);
            if let Some(k) = memchr::memrchr(SB, &self.buf[i..self.end]) {
                self.mllp.block = Some(from + k as u64);
            }
            self.mllp.carry = 0;
        } else {
            // A run of skipped bytes goes on to the end of this input (it is reported when it
            // ends); count its text now, while it is buffered.
            self.mllp.block = None;
            let n = count_text(self.bytes_at(self.mllp.last_end.max(from), self.mllp.fed));
            self.mllp.carry += n;
        }
    }

    // ---- NDJSON ----

    fn next_json(&mut self) -> io::Result<Option<Item<'_>>> {
        if !self.skip_blank()? {
            return Ok(Some(Item::Idle));
        }
        if self.start >= self.end {
            return Ok(None);
        }
        if receipt::is_mark(self.data()) {
            return self.mark();
        }
        let len = self.line_len(0)?;
        let c = self.take(len);
        Ok(Some(Item::Json(c)))
    }

    /// The delivery mark line at the front.
    fn mark(&mut self) -> io::Result<Option<Item<'_>>> {
        let len = self.line_len(0)?;
        Ok(Some(Item::Mark(self.take(len))))
    }
}

/// True when `rest` (from a line start) is an empty line, or starts with a segment id followed
/// by the field separator `sep` or the end of the line, as [`Message::validate`] wants every
/// segment to. A line too short to tell, or anything else, is false (then the message is
/// validated in full, which says what is wrong).
///
/// [`Message::validate`]: crate::model::message::Message::validate
#[inline]
fn line_starts_segment(rest: &[u8], sep: Option<u8>) -> bool {
    match rest {
        [] | [b'\r' | b'\n', ..] => true,
        [a, b, c, rest @ ..] => {
            a.is_ascii_uppercase()
                && (b.is_ascii_uppercase() || b.is_ascii_digit())
                && (c.is_ascii_uppercase() || c.is_ascii_digit())
                && match rest.first() {
                    None | Some(b'\r' | b'\n') => true,
                    Some(&x) => Some(x) == sep,
                }
        }
        _ => false,
    }
}

/// True when a line starts a new unit: MSH, FHS, BHS, BTS or FTS followed by a non-alphanumeric
/// byte (the field separator) or the end of the line.
#[inline]
fn starts_unit(line: &[u8]) -> bool {
    if receipt::is_mark(line) {
        return true;
    }
    if line.len() < 3 {
        return false;
    }
    let id = &line[..3];
    (is_header_id(id) || id == b"BTS" || id == b"FTS")
        && line.get(3).is_none_or(|b| !b.is_ascii_alphanumeric())
}

fn trim_end(b: &[u8]) -> &[u8] {
    let mut n = b.len();
    while n > 0 && matches!(b[n - 1], b'\r' | b'\n') {
        n -= 1;
    }
    &b[..n]
}

/// Says what a line that is not a message looks like, without repeating its contents (they
/// may be patient data): a segment id, a comment, text or binary data.
pub fn describe(line: &[u8]) -> String {
    let id = &line[..line.len().min(3)];
    if id.len() == 3
        && id
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return format!("a {} segment", String::from_utf8_lossy(id));
    }
    if line.starts_with(b"//") || line.starts_with(b"/*") || line.starts_with(b"#") {
        return "a comment line".to_string();
    }
    let text = line.iter().take(256).all(|&b| b >= 0x20 || b == b'\t');
    if text && std::str::from_utf8(line).is_ok() {
        format!("{} bytes of text that is not HL7", line.len())
    } else {
        format!("{} bytes of binary data", line.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lines_checked` is only ever true where `validate_segment_ids` agrees, whatever the
    /// lines, terminators and read sizes; and it is true for ordinary messages.
    #[test]
    fn lines_checked_agrees_with_validate() {
        struct Chunky<'a>(&'a [u8], usize);
        impl Read for Chunky<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        const LINES: [&[u8]; 14] = [
            b"PID|1||X",
            b"OBX|1|NM|2",
            b"ZZ1|a",
            b"NTE",
            b"",
            b"   ",
            b"\t",
            b"pid|1",
            b"PI",
            b"P1D|x",
            b"OBX^1",
            b"EVN|A01",
            b"  PID|1",
            b"MSHX|y",
        ];
        const ENDS: [&[u8]; 3] = [b"\r", b"\n", b"\r\n"];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut checked, mut messages, mut bad) = (0, 0, 0);
        for _ in 0..3000 {
            let mut input = Vec::new();
            for m in 0..1 + next(3) {
                let sep = if next(4) == 0 { b'#' } else { b'|' };
                input.extend_from_slice(b"MSH");
                input.push(sep);
                input.extend_from_slice(b"^~\\&");
                input.push(sep);
                input.extend_from_slice(
                    format!("A|B|C|D|1||ADT^A01|{m}|P|2.5")
                        .replace('|', &(sep as char).to_string())
                        .as_bytes(),
                );
                for _ in 0..next(6) {
                    input.extend_from_slice(ENDS[next(3)]);
                    let line = LINES[if next(3) == 0 {
                        next(LINES.len())
                    } else {
                        next(2)
                    }];
                    input.extend(line.iter().map(|&b| if b == b'|' { sep } else { b }));
                }
                input.extend_from_slice(ENDS[next(3)]);
            }
            let mut s = Splitter::new(Chunky(&input, 1 + next(40)));
            while let Some(item) = s.next_item().unwrap() {
                if let Item::Message(c) = item {
                    messages += 1;
                    let m = crate::model::message::Message::parse(c.bytes).unwrap();
                    assert!(m.validate_header().is_ok());
                    bad += usize::from(m.validate_segment_ids().is_err());
                    if c.lines_checked {
                        checked += 1;
                        assert!(
                            m.validate_segment_ids().is_ok(),
                            "{:?}",
                            String::from_utf8_lossy(c.bytes)
                        );
                    }
                }
            }
        }
        assert!(checked > messages / 4, "{checked} of {messages}");
        assert!(bad > messages / 20, "{bad} of {messages} with a bad line");
    }

    /// Splits a byte string, returning a compact description of each item.
    fn items(input: &[u8]) -> Vec<String> {
        items_with(input, None)
    }

    #[test]
    fn nothing_ready_is_idle_and_never_cuts_a_message() {
        // A reader with nothing ready (WouldBlock) between messages, after a mark and in the
        // middle of a message: Idle comes out where the splitter has nothing whole to give,
        // and the messages come out whole.
        struct Gaps(Vec<&'static [u8]>);
        impl Read for Gaps {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Ok(0);
                }
                let part = self.0.remove(0);
                if part.is_empty() {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                buf[..part.len()].copy_from_slice(part);
                Ok(part.len())
            }
        }
        let parts: Vec<&[u8]> = vec![
            b"MSH|^~\\&|A\r",
            b"",
            b"PID|1\r\n",
            b"",
            b"\x1Ehl7-mark 0000000000000001 1 h:1\n",
            b"",
            b"MSH|^~\\&|B\r\n",
        ];
        let mut s = Splitter::with_format(Gaps(parts), Format::Hl7);
        let mut got = Vec::new();
        while let Some(item) = s.next_item().unwrap() {
            got.push(match item {
                Item::Message(c) => format!("M:{}", String::from_utf8_lossy(c.bytes)),
                Item::Mark(_) => "K".into(),
                Item::Idle => "idle".into(),
                other => format!("{other:?}"),
            });
        }
        assert_eq!(
            got,
            [
                "idle",
                "idle",
                "M:MSH|^~\\&|A\rPID|1",
                "K",
                "idle",
                "M:MSH|^~\\&|B"
            ]
        );
    }

    #[test]
    fn marks_end_messages_and_keep_their_place() {
        let hl7 = b"MSH|^~\\&|A\rPID|1\r\n\x1Ehl7-mark 0000000000000001 1 h:1\nMSH|^~\\&|B\r\n\x1Ehl7-mark 0000000000000001 2 h:1\n";
        assert_eq!(
            items(hl7),
            [
                "M@0:MSH|^~\\&|A\rPID|1",
                "K@18:hl7-mark 0000000000000001 1 h:1",
                "M@51:MSH|^~\\&|B",
                "K@63:hl7-mark 0000000000000001 2 h:1",
            ]
        );
        // a stream that starts with a mark is still NDJSON when its rows are
        let json = b"\x1Ehl7-mark 0000000000000001 1 h:1\n{\"a\":1}\n\x1Ehl7-mark 0000000000000001 2 h:1\n";
        assert_eq!(
            items(json),
            [
                "K@0:hl7-mark 0000000000000001 1 h:1",
                "J@33:{\"a\":1}",
                "K@41:hl7-mark 0000000000000001 2 h:1",
            ]
        );
    }

    fn items_with(input: &[u8], format: Option<Format>) -> Vec<String> {
        // A reader that hands out 7 bytes at a time, so every boundary case crosses reads.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(7).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut s = match format {
            Some(f) => Splitter::with_format(Trickle(input), f),
            None => Splitter::new(Trickle(input)),
        };
        let mut out = Vec::new();
        while let Some(item) = s.next_item().unwrap() {
            out.push(match item {
                Item::Message(c) => format!("M@{}:{}", c.offset, String::from_utf8_lossy(c.bytes)),
                Item::Json(c) => format!("J@{}:{}", c.offset, String::from_utf8_lossy(c.bytes)),
                Item::Invalid(c, why) => format!(
                    "X@{}:{}:{}",
                    c.offset,
                    String::from_utf8_lossy(c.bytes),
                    why
                ),
                Item::Warning { offset, what } => format!("W@{offset}:{what}"),
                Item::Mark(c) => {
                    format!("K@{}:{}", c.offset, String::from_utf8_lossy(&c.bytes[1..]))
                }
                Item::Idle => "idle".into(),
            });
        }
        out
    }

    #[test]
    fn one_message_any_terminator() {
        assert_eq!(items(b"MSH|^~\\&|A\rPID|1\r"), ["M@0:MSH|^~\\&|A\rPID|1"]);
        assert_eq!(items(b"MSH|^~\\&|A\nPID|1\n"), ["M@0:MSH|^~\\&|A\nPID|1"]);
        assert_eq!(items(b"MSH|^~\\&|A\r\nPID|1"), ["M@0:MSH|^~\\&|A\r\nPID|1"]);
    }

    #[test]
    fn several_messages_blank_lines_and_bom() {
        // BOM, CRLF, then a blank line, then a second message on LF.
        let got = items(b"\xEF\xBB\xBFMSH|^~\\&|1\r\nPID|1\r\n\r\n\nMSH|^~\\&|2\nPID|2\n");
        assert_eq!(got, ["M@3:MSH|^~\\&|1\r\nPID|1", "M@25:MSH|^~\\&|2\nPID|2"]);
    }

    #[test]
    fn msh_inside_a_field_does_not_split() {
        let got = items(b"MSH|^~\\&|1\rNTE|1||see MSH|^~\\& below\rOBX|MSH\r");
        assert_eq!(got.len(), 1, "{got:?}");
    }

    #[test]
    fn segments_before_any_msh_are_reported() {
        let got = items(b"PID|1\rEVN|A\rMSH|^~\\&|1\r");
        assert_eq!(
            got[0],
            "X@0:PID|1\rEVN|A:not part of a message: expected a segment starting with MSH, found a PID segment"
        );
        assert_eq!(got[1], "M@12:MSH|^~\\&|1");
    }

    #[test]
    fn batches_come_apart_and_counts_are_checked() {
        let good = b"FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|1\rMSH|^~\\&|2\rBTS|2\rBHS|^~\\&\rMSH|^~\\&|3\rBTS|1\rFTS|2\r";
        let got = items(good);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got.iter().all(|g| g.starts_with("M@")));
        let bad = b"BHS|^~\\&\rMSH|^~\\&|1\rBTS|3\r";
        let got = items(bad);
        assert_eq!(
            got[1],
            "W@20:BTS-1 says the batch holds 3 messages; found 1"
        );
        let open = items(b"BHS|^~\\&\rMSH|^~\\&|1\r");
        assert!(open[1].contains("no BTS"), "{open:?}");
        let noisy = items(b"BHS|^~\\&\rEVN|1\rBTS|0\r");
        assert!(noisy[0].starts_with("X@9:EVN|1"), "{noisy:?}");
    }

    #[test]
    fn mllp_frames() {
        // VT msg FS CR, twice, with junk before and between
        let got = items(b"\r\njunk\x0bMSH|^~\\&|1\r\x1c\r\x00\x0bMSH|^~\\&|2\r\x1c\r");
        assert_eq!(
            got,
            [
                "W@0:4 bytes outside any MLLP frame skipped",
                "M@7:MSH|^~\\&|1",
                "W@20:1 bytes outside any MLLP frame skipped",
                "M@22:MSH|^~\\&|2"
            ]
        );
        // FS without CR then the next frame; an empty frame
        let got = items(b"\x0b\x1c\r\x0bMSH|^~\\&|1\x1c\x0bMSH|^~\\&|2\x1c\n");
        assert_eq!(
            got,
            [
                "W@14:MLLP end block 0x1C followed by byte 0x0B instead of 0x0D; accepted",
                "M@4:MSH|^~\\&|1",
                "W@26:MLLP end block 0x1C followed by byte 0x0A instead of 0x0D; accepted",
                "M@16:MSH|^~\\&|2"
            ]
        );
        // a second VT restarts the frame
        let got = items(b"\x0bMSH|^~\\&|lost\r\x0bMSH|^~\\&|kept\r\x1c\r");
        assert_eq!(
            got[0],
            "W@0:MLLP frame restarted by a new start block before its end block; 14 bytes dropped"
        );
        assert_eq!(got[1], "M@16:MSH|^~\\&|kept");
        // EOF inside a frame
        let got = items(b"\x0bMSH|^~\\&|1\rPID|");
        assert!(
            got[0].starts_with("X@1:MSH|^~\\&|1\rPID|:end of input inside an MLLP frame"),
            "{got:?}"
        );
        // R2 commit ACK / NAK blocks
        let got = items(b"\x0b\x06\x1c\r\x0b\x15\x1c\r");
        assert!(
            got[0].contains("commit acknowledgement") && got[1].contains("negative"),
            "{got:?}"
        );
    }

    #[test]
    fn a_stream_without_frames_is_not_mllp() {
        let got = items_with(b"MSH|^~\\&|1\rPID|1\r", Some(Format::Mllp));
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("X@0::no MLLP frame"), "{got:?}");
    }

    #[test]
    fn ndjson_lines() {
        let got = items(b"{\"a\":1}\n\n{\"b\":2}");
        assert_eq!(got, ["J@0:{\"a\":1}", "J@9:{\"b\":2}"]);
    }

    #[test]
    fn a_pause_after_a_complete_line_ends_a_live_message() {
        use std::cell::Cell;
        use std::rc::Rc;
        // A reader that pauses (TimedOut) between messages, as a live pipe does, and counts
        // how many chunks were handed out.
        struct Live(Vec<Option<&'static [u8]>>, Rc<Cell<usize>>);
        impl Read for Live {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Ok(0);
                }
                self.1.set(self.1.get() + 1);
                match self.0.remove(0) {
                    Some(b) => {
                        buf[..b.len()].copy_from_slice(b);
                        Ok(b.len())
                    }
                    None => Err(io::ErrorKind::TimedOut.into()),
                }
            }
        }
        let reads = Rc::new(Cell::new(0));
        let chunks = vec![
            // as `hl7 listen` writes what python-hl7 sent: no final CR, then LF
            Some(&b"MSH|^~\\&|1\rPID|1\n"[..]),
            None,
            Some(b"MSH|^~\\&|2\rPID|2\r\n"),
        ];
        let mut s = Splitter::with_format(Live(chunks, Rc::clone(&reads)), Format::Hl7);
        let Some(Item::Message(c)) = s.next_item().unwrap() else {
            panic!()
        };
        assert_eq!(c.bytes, b"MSH|^~\\&|1\rPID|1");
        assert_eq!(
            reads.get(),
            2,
            "message 1 came out at the pause, before message 2 was read"
        );
        let Some(Item::Message(c)) = s.next_item().unwrap() else {
            panic!()
        };
        assert_eq!(c.bytes, b"MSH|^~\\&|2\rPID|2");
        // a pause in the middle of a line, or after one segment's terminator, never ends a
        // message
        let chunks = vec![
            Some(&b"MSH|^~\\&|3\rPI"[..]),
            None,
            Some(b"D|3\r"),
            None,
            Some(b"OBX|1\r"),
        ];
        let mut s = Splitter::with_format(Live(chunks, reads), Format::Hl7);
        let Some(Item::Message(c)) = s.next_item().unwrap() else {
            panic!()
        };
        assert_eq!(c.bytes, b"MSH|^~\\&|3\rPID|3\rOBX|1");
    }

    #[test]
    fn large_message_grows_the_buffer() {
        let mut m = b"MSH|^~\\&|1\rOBX|1|ED|||".to_vec();
        m.extend(std::iter::repeat_n(b'A', 3 * READ_SIZE));
        m.extend_from_slice(b"\rMSH|^~\\&|2\r");
        let mut s = Splitter::new(&m[..]);
        let Some(Item::Message(c)) = s.next_item().unwrap() else {
            panic!()
        };
        assert_eq!(c.bytes.len(), m.len() - 12);
        let Some(Item::Message(c)) = s.next_item().unwrap() else {
            panic!()
        };
        assert_eq!(c.bytes, b"MSH|^~\\&|2");
        assert!(s.next_item().unwrap().is_none());
    }
}
