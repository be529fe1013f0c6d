//! A zero-copy view of one HL7 v2 message.
//!
//! [`Message`] borrows the message bytes and finds segments, fields, repetitions, components and
//! subcomponents on demand; nothing is copied or decoded until a value is asked for
//! ([`Value::text`]). Separators come from MSH-1/MSH-2 (HL7 v2.5 §2.5.4, docs/conformance.md
//! "Separators"): any declared characters, 4 encoding characters, or 5 with the v2.7 truncation
//! character.
//!
//! Segments may end in `\r` (the standard), `\n` or `\r\n`, mixed; blank lines are not segments
//! (docs/conformance.md "Segments and line ends"). MSH-1 is the field separator itself and
//! MSH-2 the encoding characters, so `MSH-9` is the message type as users expect; FHS and BHS
//! are numbered the same way.

use std::borrow::Cow;

use crate::model::charset::Charset;
use crate::model::escape;
use crate::model::path::{Occurrence, Path};
pub use crate::model::separators::{
    MessageError, Separators, is_header_id, show_byte, valid_segment_id,
};

/// One message, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    bytes: &'a [u8],
    sep: Separators,
    charset: Charset,
    hdr: HeaderIndex,
}

/// Where the MSH line ends and where its field separators are, found once when the message is
/// parsed: MSH-9, -10, -12 and -18 are read several times per message (validation, charset,
/// type and control id), and each lookup would otherwise scan the line again.
#[derive(Clone, Copy, Debug)]
struct HeaderIndex {
    /// The length of the MSH line.
    end: u32,
    /// Positions of the field separators after MSH-2 (`seps[0]` ends MSH-2), as far as
    /// [`HEADER_SEPS`] go.
    seps: [u32; HEADER_SEPS],
    /// How many of `seps` are set. `HEADER_SEPS` means there may be more.
    count: u8,
}

const HEADER_SEPS: usize = 24;

impl HeaderIndex {
    fn new(bytes: &[u8], field: u8) -> HeaderIndex {
        let end = memchr::memchr2(b'\r', b'\n', bytes).unwrap_or(bytes.len());
        let mut idx = HeaderIndex {
            end: end as u32,
            seps: [0; HEADER_SEPS],
            count: 0,
        };
        if let Some(line) = bytes.get(4..end) {
            for (k, p) in memchr::memchr_iter(field, line)
                .take(HEADER_SEPS)
                .enumerate()
            {
                idx.seps[k] = (p + 4) as u32;
                idx.count = k as u8 + 1;
            }
        }
        idx
    }

    /// The bytes of MSH-`n` (n >= 3) as positions in the message: `Some(None)` when the line
    /// ends before it, `None` when the index does not reach that far.
    fn field(&self, n: usize) -> Option<Option<(usize, usize)>> {
        let k = n - 3;
        let count = self.count as usize;
        if k + 1 >= HEADER_SEPS && count == HEADER_SEPS {
            return None;
        }
        if k >= count {
            return Some(None);
        }
        let start = self.seps[k] as usize + 1;
        let end = if k + 1 < count {
            self.seps[k + 1] as usize
        } else {
            self.end as usize
        };
        Some(Some((start, end)))
    }
}

impl<'a> Message<'a> {
    /// Reads the header of a message (the bytes from `MSH` to the end of its last segment). Only
    /// MSH-1 and MSH-2 are checked here; [`Message::validate`] checks the rest.
    pub fn parse(bytes: &'a [u8]) -> Result<Message<'a>, MessageError> {
        let head = &bytes[..bytes.len().min(3)];
        if head != b"MSH" {
            let what = if head.is_empty() {
                "empty message".to_string()
            } else if valid_segment_id(bytes, b'|')
                || (head.len() == 3 && head.iter().all(u8::is_ascii_uppercase))
            {
                format!(
                    "a message must start with an MSH segment, found {}",
                    String::from_utf8_lossy(head)
                )
            } else {
                "not an HL7 message (it does not start with MSH)".to_string()
            };
            return Err(MessageError::new(0, None, what));
        }
        let sep = Separators::from_msh(bytes)?;
        let mut m = Message {
            bytes,
            sep,
            charset: Charset::Utf8,
            hdr: HeaderIndex::new(bytes, sep.field),
        };
        m.charset = m.declared_charset().unwrap_or(Charset::Utf8);
        Ok(m)
    }

    /// A message with known separators and charset (used when bytes were built, not received).
    pub fn with(bytes: &'a [u8], sep: Separators, charset: Charset) -> Message<'a> {
        Message {
            bytes,
            sep,
            charset,
            hdr: HeaderIndex::new(bytes, sep.field),
        }
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn separators(&self) -> &Separators {
        &self.sep
    }

    /// The character set values are decoded with (see [`Message::resolve_charset`]).
    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// Overrides the character set used to decode values.
    pub fn set_charset(&mut self, charset: Charset) {
        self.charset = charset;
    }

    /// The charset MSH-18 declares: `Some(Ascii)` when empty, `None` when unknown or unsupported.
    pub fn declared_charset(&self) -> Option<Charset> {
        let v = self.header_field(18).map(|f| f.repetition(1).raw);
        Charset::from_msh18(v.unwrap_or(b""))
    }

    /// Chooses the charset values are decoded with, following this policy:
    /// 8859/n as declared; UNICODE UTF-8 as declared; ASCII, empty or an unsupported MSH-18 as
    /// UTF-8 when the bytes are valid UTF-8 (a UTF-8 message labelled ASCII is common), and as
    /// ISO-8859-1 otherwise, so every byte still has a character. Returns a warning to report
    /// when the declaration did not fit the bytes.
    pub fn resolve_charset(&mut self) -> Option<String> {
        let declared = self.declared_charset();
        // borrowed from the message (no copy unless it is not UTF-8): only warnings use it
        let msh18 = self
            .header_field(18)
            .map(|f| String::from_utf8_lossy(f.repetition(1).raw))
            .unwrap_or_default();
        match declared {
            Some(cs @ Charset::Iso8859(_)) => {
                self.charset = cs;
                None
            }
            _ => {
                let ascii = self.bytes.is_ascii();
                let utf8 = ascii || std::str::from_utf8(self.bytes).is_ok();
                self.charset = if utf8 {
                    Charset::Utf8
                } else {
                    Charset::Iso8859(1)
                };
                match (declared, utf8) {
                    (Some(Charset::Utf8), true) => None,
                    (Some(Charset::Utf8), false) => Some(
                        "UTF-8 declared, but the message is not valid UTF-8; decoded as ISO-8859-1"
                            .into(),
                    ),
                    (Some(Charset::Ascii), true) if !ascii && !msh18.trim().is_empty() => Some(
                        format!("{msh18} declared, but the message holds UTF-8; decoded as UTF-8"),
                    ),
                    (Some(Charset::Ascii), false) => Some(
                        "no charset declared and the message is not valid UTF-8; decoded as ISO-8859-1"
                            .into(),
                    ),
                    (None, _) => Some(format!(
                        "'{}' is not a supported charset; decoded as {}",
                        msh18,
                        self.charset.name()
                    )),
                    _ => None,
                }
            }
        }
    }

    /// The segments in order, blank lines skipped.
    pub fn segments(&self) -> Segments<'a> {
        Segments {
            bytes: self.bytes,
            pos: 0,
            sep: self.sep,
            charset: self.charset,
        }
    }

    /// The MSH segment.
    pub fn header(&self) -> Segment<'a> {
        Segment {
            bytes: &self.bytes[..self.hdr.end as usize],
            offset: 0,
            sep: self.sep,
            charset: self.charset,
        }
    }

    /// Field `n` of the MSH segment: `self.header().field(n)`, without scanning the line.
    pub fn header_field(&self, n: usize) -> Option<Value<'a>> {
        let h = self.header();
        if n < 3 {
            return h.field(n);
        }
        match self.hdr.field(n) {
            Some(Some((start, end))) => Some(h.value(&self.bytes[start..end], Level::Field)),
            Some(None) => None,
            None => h.field(n),
        }
    }

    /// The `n`th (1-based) segment with this id.
    pub fn segment(&self, id: &str, n: usize) -> Option<Segment<'a>> {
        self.segments()
            .filter(|s| s.id() == id.as_bytes())
            .nth(n.checked_sub(1)?)
    }

    /// Looks a path up. `Occurrence::All` reads as the first occurrence here; per-occurrence
    /// callers iterate segments themselves and use [`Segment::get`].
    pub fn get(&self, path: &Path) -> Option<Value<'a>> {
        let n = match path.occurrence {
            Occurrence::Nth(n) => n,
            Occurrence::First | Occurrence::All => 1,
        };
        self.segment(path.segment_str(), n)?.get(path)
    }

    /// The decoded text at `path`, or `None` when absent.
    pub fn text(&self, path: &Path) -> Option<Cow<'a, str>> {
        self.get(path).map(|v| v.text())
    }

    /// MSH-9 as written (`ORU^R01^ORU_R01`), decoded.
    pub fn message_type(&self) -> String {
        self.header_text(9)
    }

    /// MSH-10.
    pub fn control_id(&self) -> String {
        self.header_text(10)
    }

    /// MSH-12 component 1.
    pub fn version(&self) -> String {
        self.header_field(12)
            .map(|f| f.repetition(1).component(1).text().into_owned())
            .unwrap_or_default()
    }

    fn header_text(&self, n: usize) -> String {
        self.header_field(n)
            .map(|f| {
                let v = f.repetition(1);
                v.text().into_owned()
            })
            .unwrap_or_default()
    }

    /// Checks what a receiver needs before it can accept the message: every line is a segment
    /// (catches hard-wrapped and glued messages), MSH-9, MSH-10 and MSH-12 are present (required
    /// in every version), and MSH-12 looks like a version.
    pub fn validate(&self) -> Result<(), MessageError> {
        self.validate_segment_ids()?;
        self.validate_header()
    }

    /// The part of [`Message::validate`] that looks at every line: each starts with a segment
    /// id. (The splitter can vouch for this: [`crate::transform::split::Chunk::lines_checked`].)
    pub fn validate_segment_ids(&self) -> Result<(), MessageError> {
        for (i, seg) in self.segments().enumerate() {
            if !valid_segment_id(seg.bytes, self.sep.field) {
                // The line itself is not shown: it may be patient data.
                return Err(MessageError::new(
                    seg.offset,
                    None,
                    format!(
                        "line {} does not start with a segment id (3 upper-case letters or digits, then '{}'); the message may be hard-wrapped or damaged",
                        i + 1,
                        self.sep.field as char
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The part of [`Message::validate`] that looks at the header only: MSH-9, MSH-10 and
    /// MSH-12 are there, and the version is a version.
    pub fn validate_header(&self) -> Result<(), MessageError> {
        let h = self.header();
        for (n, name) in [
            (9, "message type"),
            (10, "message control ID"),
            (12, "version ID"),
        ] {
            if self.header_field(n).is_none_or(|f| f.raw.is_empty()) {
                return Err(MessageError::new(
                    h.field_offset(n).unwrap_or(h.bytes.len()),
                    Some(&format!("MSH-{n}")),
                    format!("the {name} is missing (required in every HL7 version)"),
                ));
            }
        }
        let version = self
            .header_field(12)
            .map(|f| f.repetition(1).component(1).raw)
            .unwrap_or_default();
        let ok = !version.is_empty()
            && version[0].is_ascii_digit()
            && version.iter().all(|b| b.is_ascii_digit() || *b == b'.');
        if !ok {
            return Err(MessageError::new(
                h.field_offset(12).unwrap_or(0),
                Some("MSH-12"),
                format!(
                    "'{}' is not a version ID like 2.5.1; segments may be glued together or wrapped",
                    String::from_utf8_lossy(&version[..version.len().min(20)])
                ),
            ));
        }
        Ok(())
    }
}

/// Iterator over the segments of a message.
#[derive(Clone)]
pub struct Segments<'a> {
    bytes: &'a [u8],
    pos: usize,
    sep: Separators,
    charset: Charset,
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        loop {
            let rest = &self.bytes[self.pos..];
            if rest.is_empty() {
                return None;
            }
            let len = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
            let start = self.pos;
            self.pos += len + (len < rest.len()) as usize;
            let line = &rest[..len];
            if line.iter().all(|b| matches!(b, b' ' | b'\t')) {
                continue;
            }
            return Some(Segment {
                bytes: line,
                offset: start,
                sep: self.sep,
                charset: self.charset,
            });
        }
    }
}

/// One segment, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    bytes: &'a [u8],
    offset: usize,
    sep: Separators,
    charset: Charset,
}

impl<'a> Segment<'a> {
    /// The segment id (`PID`); the first three bytes.
    pub fn id(&self) -> &'a [u8] {
        &self.bytes[..self.bytes.len().min(3)]
    }

    /// The segment id as text.
    pub fn id_str(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.id())
    }

    /// The whole segment as written, without its terminator.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Byte offset of the segment inside its message.
    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn separators(&self) -> &Separators {
        &self.sep
    }

    pub fn charset(&self) -> Charset {
        self.charset
    }

    fn is_header(&self) -> bool {
        is_header_id(self.id())
    }

    /// The bytes after `SEG|` that hold the ordinary fields, and the number of the first of them.
    fn field_area(&self) -> Option<(&'a [u8], usize)> {
        if self.is_header() {
            // MSH|^~\&|MSH-3|...
            let rest = self.bytes.get(4..)?;
            let enc_len = memchr::memchr(self.sep.field, rest)?;
            Some((&rest[enc_len + 1..], 3))
        } else {
            Some((self.bytes.get(4..)?, 1))
        }
    }

    /// Field `n` (1-based), or `None` when the segment ends before it.
    pub fn field(&self, n: usize) -> Option<Value<'a>> {
        if self.is_header() {
            match n {
                0 => return None,
                1 => return self.bytes.get(3..4).map(|b| self.value(b, Level::Atom)),
                2 => {
                    let rest = self.bytes.get(4..)?;
                    let end = memchr::memchr(self.sep.field, rest).unwrap_or(rest.len());
                    return Some(self.value(&rest[..end], Level::Atom));
                }
                _ => {}
            }
        }
        let (area, first) = self.field_area()?;
        let idx = n.checked_sub(first)?;
        nth_piece(area, self.sep.field, idx).map(|b| self.value(b, Level::Field))
    }

    /// Byte offset of field `n` inside the message (for error messages).
    pub fn field_offset(&self, n: usize) -> Option<usize> {
        let v = self.field(n)?;
        Some(self.offset + (v.raw.as_ptr() as usize - self.bytes.as_ptr() as usize))
    }

    /// The number of fields present (the last numbered field that exists).
    pub fn field_count(&self) -> usize {
        match self.field_area() {
            Some((area, first)) => first + memchr::memchr_iter(self.sep.field, area).count(),
            None if self.is_header() => self.bytes.len().saturating_sub(2).min(2),
            None => 0,
        }
    }

    /// All fields in order, starting at field 1.
    pub fn fields(&self) -> impl Iterator<Item = Value<'a>> + 'a {
        let seg = *self;
        let header = self.is_header();
        let head = [1, 2]
            .into_iter()
            .filter(move |_| header)
            .filter_map(move |n| seg.field(n));
        let sep = self.sep.field;
        let rest = self
            .field_area()
            .map(|(area, _)| area.split(move |&b| b == sep))
            .into_iter()
            .flatten()
            .map(move |b| seg.value(b, Level::Field));
        head.chain(rest)
    }

    fn value(&self, raw: &'a [u8], level: Level) -> Value<'a> {
        Value {
            raw,
            level,
            sep: self.sep,
            charset: self.charset,
        }
    }

    /// Looks up the field part of `path` in this segment (its segment and occurrence are not
    /// checked here).
    pub fn get(&self, path: &Path) -> Option<Value<'a>> {
        let Some(f) = path.field else {
            return Some(self.value(self.bytes, Level::Atom));
        };
        let field = self.field(f)?;
        if path.repetition.is_none() && path.component.is_none() {
            return Some(field);
        }
        let rep = field.repetition(path.repetition.unwrap_or(1));
        let Some(c) = path.component else {
            return Some(rep);
        };
        let comp = rep.component(c);
        match path.subcomponent {
            Some(s) => Some(comp.subcomponent(s)),
            None => Some(comp),
        }
    }
}

/// Where a value sits in the hierarchy, which tells which separator splits it further.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// MSH-1, MSH-2 or a whole segment: never split.
    Atom,
    Field,
    Repetition,
    Component,
    Subcomponent,
}

/// A field, repetition, component or subcomponent, borrowed from the message.
#[derive(Clone, Copy, Debug)]
pub struct Value<'a> {
    /// The bytes as written (escapes not decoded).
    pub raw: &'a [u8],
    pub level: Level,
    sep: Separators,
    charset: Charset,
}

impl<'a> Value<'a> {
    /// HL7's explicit null, `""`, which is not the same as empty.
    pub fn is_null(&self) -> bool {
        self.raw == b"\"\""
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The separator that splits this value one level down.
    fn child_sep(&self) -> Option<(u8, Level)> {
        match self.level {
            Level::Field => Some((self.sep.repetition, Level::Repetition)),
            Level::Repetition => Some((self.sep.component, Level::Component)),
            Level::Component => self.sep.subcomponent.map(|s| (s, Level::Subcomponent)),
            Level::Atom | Level::Subcomponent => None,
        }
    }

    /// The parts one level down (repetitions of a field, components of a repetition, ...).
    /// A value with nothing to split has one part: itself.
    pub fn parts(&self) -> impl Iterator<Item = Value<'a>> + 'a {
        let me = *self;
        let (sep, level) = match self.child_sep() {
            Some((s, l)) if s != 0 => (s, l),
            _ => (0, self.level),
        };
        let single = sep == 0;
        let split: Box<dyn Iterator<Item = &'a [u8]>> = if single {
            Box::new(std::iter::once(self.raw))
        } else {
            Box::new(self.raw.split(move |&b| b == sep))
        };
        split.map(move |raw| Value { raw, level, ..me })
    }

    fn nth(&self, want: Level, n: usize) -> Value<'a> {
        let empty = Value {
            raw: &self.raw[..0],
            level: want,
            ..*self
        };
        match self.child_sep() {
            Some((s, l)) if l == want && s != 0 => {
                match n.checked_sub(1).and_then(|i| nth_piece(self.raw, s, i)) {
                    Some(raw) => Value {
                        raw,
                        level: want,
                        ..*self
                    },
                    None => empty,
                }
            }
            // Asking for part 1 of something that does not split (MSH-2, or a level the
            // message has no separator for) gives the thing itself.
            _ if n == 1 => Value {
                level: want,
                ..*self
            },
            _ => empty,
        }
    }

    /// Repetition `n` (1-based) of a field. Absent repetitions read as empty.
    pub fn repetition(&self, n: usize) -> Value<'a> {
        if self.level == Level::Field {
            self.nth(Level::Repetition, n)
        } else if n == 1 {
            *self
        } else {
            Value {
                raw: &self.raw[..0],
                ..*self
            }
        }
    }

    /// Component `n` of a repetition (of repetition 1 when called on a field).
    pub fn component(&self, n: usize) -> Value<'a> {
        match self.level {
            Level::Field => self.repetition(1).component(n),
            Level::Repetition => self.nth(Level::Component, n),
            _ if n == 1 => *self,
            _ => Value {
                raw: &self.raw[..0],
                ..*self
            },
        }
    }

    /// Subcomponent `n` of a component.
    pub fn subcomponent(&self, n: usize) -> Value<'a> {
        match self.level {
            Level::Field | Level::Repetition => self.component(1).subcomponent(n),
            Level::Component => self.nth(Level::Subcomponent, n),
            _ if n == 1 => *self,
            _ => Value {
                raw: &self.raw[..0],
                ..*self
            },
        }
    }

    /// True when the value holds no separator of a lower level, so decoding it is meaningful.
    pub fn is_leaf(&self) -> bool {
        let s = &self.sep;
        let hit = |c: u8| c != 0 && memchr::memchr(c, self.raw).is_some();
        match self.level {
            Level::Atom | Level::Subcomponent => true,
            Level::Component => !s.subcomponent.is_some_and(hit),
            Level::Repetition => !hit(s.component) && !s.subcomponent.is_some_and(hit),
            Level::Field => {
                !hit(s.repetition) && !hit(s.component) && !s.subcomponent.is_some_and(hit)
            }
        }
    }

    /// The value as text: escapes decoded and bytes read in the message charset when it is a
    /// leaf; the HL7 text as written (escapes kept, so it stays unambiguous) when it has
    /// structure, and for MSH-1/MSH-2.
    pub fn text(&self) -> Cow<'a, str> {
        if self.level == Level::Atom || !self.is_leaf() {
            return self.charset.decode(self.raw).0;
        }
        if !escape::has_escape(self.raw, &self.sep) {
            return self.charset.decode(self.raw).0;
        }
        Cow::Owned(escape::decode(self.raw, &self.sep, self.charset).0)
    }
}

/// The `idx`th (0-based) piece of `bytes` split by `sep`.
#[inline]
fn nth_piece(bytes: &[u8], sep: u8, idx: usize) -> Option<&[u8]> {
    let mut start = 0;
    let mut i = 0;
    for pos in memchr::memchr_iter(sep, bytes) {
        if i == idx {
            return Some(&bytes[start..pos]);
        }
        start = pos + 1;
        i += 1;
    }
    // the last piece runs to the end (one pass: the separators were counted on the way)
    (i == idx).then(|| &bytes[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header index gives what a scan of the MSH line gives, for every field number, with
    /// any separators, short and long headers, and terminators.
    #[test]
    fn header_index_agrees_with_the_segment() {
        let many: String = (3..40).map(|i| format!("|f{i}")).collect();
        let long = format!("MSH|^~\\&{many}\rPID|1\r");
        let cases: [&[u8]; 9] = [
            b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5\rPID|1||123\r",
            b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5||||||8859/1|\nPID|1\n",
            b"MSH|^~\\&",
            b"MSH|^~\\&|",
            b"MSH|^~\\&||||||||||||||||||||||||||||||",
            b"MSH#^~\\&#A#B#C#D#1##ORU^R01#9#P#2.3\r\nOBX#1\r\n",
            b"MSH|^~\\&|A\r",
            b"MSH|^~|A|B\rEVN|x",
            long.as_bytes(),
        ];
        for bytes in cases {
            let m = Message::parse(bytes).unwrap();
            for n in 0..45 {
                let a = m.header_field(n).map(|v| (v.raw, v.raw.as_ptr()));
                let b = m.header().field(n).map(|v| (v.raw, v.raw.as_ptr()));
                assert_eq!(a, b, "MSH-{n} of {:?}", String::from_utf8_lossy(bytes));
            }
        }
    }

    fn p(s: &str) -> Path {
        s.parse().unwrap()
    }

    // pyhl7__rep_subcomp.hl7
    const REP: &[u8] = b"MSH|^~\\&|MegaReg|XYZHospC|SuperOE|XYZImgCtr|20060529090131-0500||ORU^R01|CNTRL-3456|P|2.4\r\
PID|Field1|Component1^Sub-Component1&Sub-Component2^Component3|Repeat1~Repeat2\r";

    #[test]
    fn msh_numbering_is_special() {
        let m = Message::parse(REP).unwrap();
        assert_eq!(m.text(&p("MSH-1")).unwrap(), "|");
        assert_eq!(m.text(&p("MSH-2")).unwrap(), "^~\\&");
        assert_eq!(m.text(&p("MSH-3")).unwrap(), "MegaReg");
        assert_eq!(m.text(&p("MSH-9")).unwrap(), "ORU^R01");
        assert_eq!(m.text(&p("MSH-9.2")).unwrap(), "R01");
        assert_eq!(m.control_id(), "CNTRL-3456");
        assert_eq!(m.version(), "2.4");
        assert!(m.text(&p("MSH-13")).is_none(), "past the end is absent");
    }

    #[test]
    fn hierarchy_of_fields_reps_components_subcomponents() {
        let m = Message::parse(REP).unwrap();
        assert_eq!(m.text(&p("PID-1")).unwrap(), "Field1");
        assert_eq!(m.text(&p("PID-2.2.2")).unwrap(), "Sub-Component2");
        assert_eq!(
            m.text(&p("PID-2.2")).unwrap(),
            "Sub-Component1&Sub-Component2"
        );
        assert_eq!(m.text(&p("PID-3[2]")).unwrap(), "Repeat2");
        assert_eq!(m.text(&p("PID-3(1)")).unwrap(), "Repeat1");
        assert_eq!(
            m.text(&p("PID-3[3]")).unwrap(),
            "",
            "absent repetition reads empty"
        );
        assert_eq!(m.text(&p("PID-1.5")).unwrap(), "");
        assert!(m.get(&p("PID-9")).is_none());
        assert!(m.get(&p("OBX-1")).is_none());
    }

    #[test]
    fn null_is_not_empty() {
        let m = Message::parse(
            b"MSH|^~\\&|A||||20240101||ADT^A08|1|P|2.5\rPID|1||\"\"||\"\"^Anna^\"\"^^^\r",
        )
        .unwrap();
        let f3 = m.get(&p("PID-3")).unwrap();
        assert!(f3.is_null() && !f3.is_empty());
        let f4 = m.get(&p("PID-4")).unwrap();
        assert!(f4.is_empty() && !f4.is_null());
        assert!(m.get(&p("PID-5.1")).unwrap().is_null());
        assert_eq!(m.text(&p("PID-5.2")).unwrap(), "Anna");
        assert_eq!(
            m.get(&p("PID-5"))
                .unwrap()
                .parts()
                .next()
                .unwrap()
                .parts()
                .count(),
            6
        );
    }

    #[test]
    fn line_endings_and_blank_lines() {
        // synthetic__mixed_terminators_cr_lf_crlf_blank.hl7 in miniature
        let raw =
            b"MSH|^~\\&|A|B|C|D|1||ORU^R01|X|P|2.4\r\nPID|1\n\nOBR|1\r\r  \rOBX|1\rOBX|2\nOBX|3";
        let m = Message::parse(raw).unwrap();
        let ids: Vec<_> = m.segments().map(|s| s.id_str().into_owned()).collect();
        assert_eq!(ids, ["MSH", "PID", "OBR", "OBX", "OBX", "OBX"]);
        assert_eq!(m.text(&p("OBX[3]-1")).unwrap(), "3");
        m.validate().unwrap();
    }

    #[test]
    fn custom_separators() {
        let m = Message::parse(
            b"MSH!@%$?!A!B!C!D!20240101!!ADT@A01@ADT_A01!C1!P!2.5\rPID!1!!X1%X2!Doe$F$@J?r\r",
        )
        .unwrap();
        assert_eq!(m.text(&p("MSH-9.2")).unwrap(), "A01");
        assert_eq!(m.text(&p("PID-3[2]")).unwrap(), "X2");
        assert_eq!(m.text(&p("PID-4.1")).unwrap(), "Doe!");
        assert_eq!(m.text(&p("PID-4.2.2")).unwrap(), "r");
        let caret = Message::parse(b"MSH^~|\\&^A^^^^^^ADT~A24^1^P^2.4\r").unwrap();
        assert_eq!(caret.text(&p("MSH-9.2")).unwrap(), "A24");
    }

    #[test]
    fn header_errors() {
        let e = Message::parse(b"MSH|\r").unwrap_err();
        assert_eq!(e.path.as_deref(), Some("MSH-2"));
        let e = Message::parse(b"MSH|^&&^|A\r").unwrap_err();
        assert!(e.what.contains("duplicate"), "{e}");
        let e = Message::parse(b"PID|1\r").unwrap_err();
        assert!(e.what.contains("MSH"), "{e}");
        let e = Message::parse(b"hello world\r").unwrap_err();
        assert!(e.what.contains("not an HL7"), "{e}");
        assert!(Message::parse(b"").is_err());
        assert!(Message::parse(b"MSH").is_err());
        // minimal header: MSH-3 and later absent, not an error of the model
        let m = Message::parse(b"MSH|^~\\&").unwrap();
        assert!(m.get(&p("MSH-3")).is_none());
        assert!(m.validate().is_err(), "but MSH-9 is required to accept it");
    }

    #[test]
    fn validate_catches_wrapped_and_glued_messages() {
        let wrapped =
            Message::parse(b"MSH|^~\\&|A|B|C|D|1||MDM^T04|{6AF4-\n4563-99}|P|2.3\rEVN|T04\r")
                .unwrap();
        let e = wrapped.validate().unwrap_err();
        assert!(e.what.contains("segment id"), "{e}");
        let glued = Message::parse(b"MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.3 PID|1\r").unwrap();
        assert_eq!(
            glued.validate().unwrap_err().path.as_deref(),
            Some("MSH-12")
        );
    }

    #[test]
    fn charset_policy() {
        let mut m = Message::parse(
            b"MSH|^~\\&|A|B|C|D|1||ADT^A08|1|P|2.5||||||8859/1\rPID|1||||Lef\xe8vre\r",
        )
        .unwrap();
        assert_eq!(m.resolve_charset(), None);
        assert_eq!(m.text(&p("PID-5")).unwrap(), "Lefèvre");
        let mut m = Message::parse(
            b"MSH|^~\\&|A|B|C|D|1||ADT^A08|1|P|2.5||||||ASCII\rPID|1||||Gr\xc3\xbcn\r",
        )
        .unwrap();
        assert!(m.resolve_charset().unwrap().contains("UTF-8"));
        assert_eq!(m.text(&p("PID-5")).unwrap(), "Grün");
        let mut m =
            Message::parse(b"MSH|^~\\&|A|B|C|D|1||ADT^A08|1|P|2.5\rPID|1||||\xff\r").unwrap();
        assert!(m.resolve_charset().unwrap().contains("ISO-8859-1"));
        assert_eq!(m.text(&p("PID-5")).unwrap(), "\u{ff}");
    }
}
