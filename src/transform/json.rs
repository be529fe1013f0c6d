//! Messages to JSON and back (docs/json.md).
//!
//! The default shape is lossless and ordered, one object per message:
//!
//! ```text
//! {"type":"ORU^R01","control_id":"MSG1","version":"2.5","charset":"UTF-8",
//!  "segments":[{"id":"MSH","fields":["|","^~\\&","LAB",...]},
//!              {"id":"PID","fields":["1","",[["123","","","HOSP","MR"]],...]}]}
//! ```
//!
//! `fields[n-1]` is field n for every segment, MSH included (`fields[0]` is MSH-1, the field
//! separator, and `fields[1]` MSH-2, verbatim). A field is a string when it has no structure,
//! else an array of repetitions; a repetition is a string or an array of components; a component
//! is a string or an array of subcomponents. So the depth always tells the level:
//! `PID-5 = DOE^JOHN` is `[["DOE","JOHN"]]`, `A~B` is `["A","B"]`. Nothing is trimmed: trailing
//! empty components and fields stay, so the text comes back byte for byte. Strings are decoded:
//! escapes resolved (formatting escapes such as `\.br\` kept as written) and bytes read in the
//! message charset. HL7's explicit null `""` is JSON `null`; an empty value is `""`.
//!
//! Where decoding cannot be undone exactly (hex escapes, formatting or unknown escapes, bytes the
//! charset has no character for), the segment also carries `"raw"`: its text as written (or
//! `"raw_base64"` when even that is not text). [`to_hl7`] uses `raw` while the fields still
//! match it, so an edited field wins over a stale `raw`.
//!
//! The `paths` shape is one flat object per message for jq and SQL users:
//! `{"MSH-9":"ORU^R01","MSH-9.1":"ORU",...,"PID-5.1":"DOE","OBX[2]-5":"13.9"}`: every non-empty
//! field as text, and every non-empty leaf below a structured field.

use std::fmt;

use base64::Engine;
use serde_json::Value as Json;

use super::envelope::Envelope;
pub use super::json_str::push_str;
use super::json_str::{NEEDS_ESCAPE, push_str_bytes};
use crate::model::charset::Charset;
use crate::model::escape;
use crate::model::message::{Message, Segment, Separators, Value, is_header_id};

/// Which way a message is written as JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Shape {
    #[default]
    Segments,
    Paths,
}

/// What writing a message noticed: paths of values with unknown or malformed escapes.
#[derive(Default, Debug)]
pub struct Notes {
    pub unclean_escapes: Vec<String>,
}

/// Reused buffers, so writing allocates nothing per field.
pub struct Writer {
    scratch: String,
    key: String,
    seg_counts: Vec<([u8; 3], usize)>,
    classes: [u8; 256],
    classes_for: Option<(Separators, Charset)>,
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            scratch: String::new(),
            key: String::new(),
            seg_counts: Vec::new(),
            classes: [0; 256],
            classes_for: None,
        }
    }
}

// Byte classes, so each value is scanned once: which separators it holds, and whether it
// needs escaping or decoding at all.
const C_FIELD: u8 = 1;
const C_REP: u8 = 2;
const C_COMP: u8 = 4;
const C_SUB: u8 = 8;
const C_ESC: u8 = 16;
/// Must be escaped in a JSON string.
const C_JSON: u8 = 32;
/// A byte >= 0x80 in a message that is not read as UTF-8: needs charset decoding.
const C_HIGH: u8 = 64;

fn classes(sep: &Separators, charset: Charset) -> [u8; 256] {
    let mut t = [0u8; 256];
    for (b, c) in t.iter_mut().enumerate() {
        if NEEDS_ESCAPE[b] {
            *c |= C_JSON;
        }
        if b >= 0x80 && charset != Charset::Utf8 {
            *c |= C_HIGH;
        }
    }
    t[sep.field as usize] |= C_FIELD;
    if sep.repetition != 0 {
        t[sep.repetition as usize] |= C_REP;
    }
    t[sep.component as usize] |= C_COMP;
    if let Some(s) = sep.subcomponent {
        t[s as usize] |= C_SUB;
    }
    if let Some(e) = sep.escape {
        t[e as usize] |= C_ESC;
    }
    t
}

struct Ctx<'w> {
    sep: Separators,
    charset: Charset,
    cls: &'w [u8; 256],
    scratch: &'w mut String,
    needs_raw: bool,
    /// The field (number) of the first unknown or malformed escape in the segment.
    unclean: Option<usize>,
    /// The field being written.
    field_no: usize,
}

impl<'w> Ctx<'w> {
    /// Writes one leaf value; `mask` holds the classes of its bytes.
    #[inline]
    fn leaf(&mut self, out: &mut Vec<u8>, raw: &[u8], mask: u8) {
        if raw.is_empty() {
            out.extend_from_slice(b"\"\"");
            return;
        }
        if raw == b"\"\"" {
            out.extend_from_slice(b"null");
            return;
        }
        if mask & (C_ESC | C_HIGH) == 0 {
            // the common case: plain text that JSON can hold as it is
            if mask & C_JSON == 0 {
                out.push(b'"');
                out.extend_from_slice(raw);
                out.push(b'"');
            } else {
                push_str_bytes(out, raw);
            }
            return;
        }
        self.scratch.clear();
        if mask & C_ESC == 0 {
            if !self.charset.decode_into(raw, self.scratch) {
                self.needs_raw = true;
            }
            push_str_bytes(out, self.scratch.as_bytes());
            return;
        }
        let d = escape::decode_into(raw, &self.sep, self.charset, self.scratch);
        push_str_bytes(out, self.scratch.as_bytes());
        if !d.clean && self.unclean.is_none() {
            self.unclean = Some(self.field_no);
        }
        if !self.needs_raw {
            let mut back = Vec::with_capacity(raw.len());
            let same = escape::encode_into(self.scratch, &self.sep, self.charset, &mut back)
                .is_ok()
                && back == raw;
            self.needs_raw = !same || !d.lossless;
        }
    }

    /// Writes the fields of `area` (a segment's text after its id and first separator, or
    /// after MSH-2), comma-separated, in one pass over the bytes. Plain bytes are copied as
    /// they come; a value becomes an array only when a separator of a lower level shows up in
    /// it, by inserting the `[` at its start (the few bytes written since move once). Leaves
    /// that need escaping or decoding are written again by [`Ctx::leaf`].
    fn fields(&mut self, out: &mut Vec<u8>, area: &[u8], first_no: usize) {
        const STRUCT: u8 = C_FIELD | C_REP | C_COMP | C_SUB;
        let cls = self.cls;
        self.field_no = first_no;
        // Where the current field, repetition and component start in `out`, and how many of
        // them, outermost first, are arrays so far (a level is an array only if the one
        // around it is).
        let mut fstart = out.len();
        let mut rstart = fstart;
        let mut cstart = fstart;
        let mut depth = 0;
        // the current leaf: its first byte in `area`, its opening quote in `out`, its classes
        let mut leaf_in = 0;
        let mut leaf_out = out.len();
        let mut mask = 0u8;
        // An empty field (`|`) is three bytes of JSON (`"",`), most bytes one: reserve once.
        out.reserve(area.len() * 2 + 16);
        out.push(b'"');
        for (i, &b) in area.iter().enumerate() {
            let c = cls[b as usize];
            if c & STRUCT == 0 {
                mask |= c;
                out.push(b);
                continue;
            }
            if mask == 0 {
                out.push(b'"');
            } else {
                out.truncate(leaf_out);
                self.leaf(out, &area[leaf_in..i], mask);
            }
            if c & C_FIELD != 0 {
                close_to(out, &mut depth, 0);
                self.field_no += 1;
            } else if c & C_REP != 0 {
                close_to(out, &mut depth, 1);
                open_to(out, &mut depth, 1, fstart);
            } else if c & C_COMP != 0 {
                close_to(out, &mut depth, 2);
                open_to(out, &mut depth, 2, rstart);
            } else {
                open_to(out, &mut depth, 3, cstart);
            }
            out.push(b',');
            // the next value starts here, and with it the levels this separator ended
            let next = out.len();
            if c & C_FIELD != 0 {
                fstart = next;
            }
            if c & (C_FIELD | C_REP) != 0 {
                rstart = next;
            }
            if c & (C_FIELD | C_REP | C_COMP) != 0 {
                cstart = next;
            }
            leaf_in = i + 1;
            leaf_out = next;
            mask = 0;
            out.push(b'"');
        }
        // The last leaf ends as those in the loop do. (Written out twice on purpose: as a
        // helper method it cost 4% more instructions in callgrind, `inline(always)` or not.)
        if mask == 0 {
            out.push(b'"');
        } else {
            out.truncate(leaf_out);
            self.leaf(out, &area[leaf_in..], mask);
        }
        close_to(out, &mut depth, 0);
    }
}

/// Makes the first `to` levels arrays, inserting the missing `[`s at `at`: the start of the
/// innermost of them, which is where each of the others that is not an array yet starts too
/// (an outer level stays a plain value only while this one is all it holds).
#[inline]
fn open_to(out: &mut Vec<u8>, depth: &mut u8, to: u8, at: usize) {
    if *depth < to {
        let missing = (to - *depth) as usize;
        let len = out.len();
        out.extend_from_slice(&b"[[["[..missing]);
        out.copy_within(at..len, at + missing);
        out[at..at + missing].fill(b'[');
        *depth = to;
    }
}

/// Closes the arrays above level `to`.
#[inline]
fn close_to(out: &mut Vec<u8>, depth: &mut u8, to: u8) {
    while *depth > to {
        out.push(b']');
        *depth -= 1;
    }
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one message as a JSON object (no newline). The message's charset should already
    /// be resolved ([`Message::resolve_charset`]).
    pub fn write(&mut self, out: &mut Vec<u8>, msg: &Message<'_>, shape: Shape, notes: &mut Notes) {
        match shape {
            Shape::Segments => self.write_segments(out, msg, notes),
            Shape::Paths => self.write_paths(out, msg),
        }
    }

    fn ctx(&mut self, msg: &Message<'_>) -> Ctx<'_> {
        let charset = msg.charset();
        let sep = *msg.separators();
        if self.classes_for != Some((sep, charset)) {
            self.classes = classes(&sep, charset);
            self.classes_for = Some((sep, charset));
        }
        Ctx {
            sep,
            charset,
            cls: &self.classes,
            scratch: &mut self.scratch,
            needs_raw: false,
            unclean: None,
            field_no: 0,
        }
    }

    fn write_segments(&mut self, out: &mut Vec<u8>, msg: &Message<'_>, notes: &mut Notes) {
        let mut seg_counts = std::mem::take(&mut self.seg_counts);
        seg_counts.clear();
        let mut ctx = self.ctx(msg);
        out.extend_from_slice(b"{\"type\":");
        header_text(out, msg, ctx.cls, 9, false);
        out.extend_from_slice(b",\"control_id\":");
        header_text(out, msg, ctx.cls, 10, false);
        out.extend_from_slice(b",\"version\":");
        header_text(out, msg, ctx.cls, 12, true);
        out.extend_from_slice(b",\"charset\":");
        push_str(out, msg.charset().name());
        out.extend_from_slice(b",\"segments\":[");
        for (i, seg) in msg.segments().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            ctx.needs_raw = false;
            ctx.unclean = None;
            write_segment(out, &seg, &mut ctx);
            let n = bump(&mut seg_counts, seg.id());
            if let Some(field) = ctx.unclean {
                let id = String::from_utf8_lossy(seg.id());
                notes.unclean_escapes.push(format!("{id}[{n}]-{field}"));
            }
        }
        out.extend_from_slice(b"]}");
        self.seg_counts = seg_counts;
    }

    fn write_paths(&mut self, out: &mut Vec<u8>, msg: &Message<'_>) {
        out.push(b'{');
        let mut first = true;
        let mut key = std::mem::take(&mut self.key);
        walk_paths(msg, &mut key, &mut self.seg_counts, |k, v| {
            if !first {
                out.push(b',');
            }
            first = false;
            push_str(out, k);
            out.push(b':');
            if v.is_null() {
                out.extend_from_slice(b"null");
            } else {
                push_str(out, &v.text());
            }
        });
        self.key = key;
        out.push(b'}');
    }
}

/// Calls `f` with each non-empty value of a message and its path, in message order: every
/// field (as HL7 text when it has structure), then the leaves below a structured field. Keys
/// follow the path grammar: `PID-3.1` is component 1 of the first repetition, `PID-3[2].1` of
/// the second, `PID-4[1]` and `PID-4[2]` the repetitions of a field without components, and
/// `OBX[2]-5` the second OBX. `key` and `counts` are scratch space.
pub fn walk_paths<'a>(
    msg: &Message<'a>,
    key: &mut String,
    counts: &mut Vec<([u8; 3], usize)>,
    mut f: impl FnMut(&str, Value<'a>),
) {
    use std::fmt::Write as _;
    counts.clear();
    for seg in msg.segments() {
        let id = seg.id();
        let n = bump(counts, id);
        let header = is_header_id(id);
        for (fi, field) in seg.fields().enumerate() {
            if field.is_empty() {
                continue;
            }
            key.clear();
            key.push_str(&String::from_utf8_lossy(id));
            if n > 1 {
                let _ = write!(key, "[{n}]");
            }
            let _ = write!(key, "-{}", fi + 1);
            f(key, field);
            if (header && fi < 2) || field.is_leaf() {
                continue;
            }
            let field_len = key.len();
            let many = field.parts().nth(1).is_some();
            for (ri, rep) in field.parts().enumerate() {
                key.truncate(field_len);
                if ri > 0 || (many && rep.is_leaf()) {
                    let _ = write!(key, "[{}]", ri + 1);
                }
                if rep.is_leaf() {
                    if many && !rep.is_empty() {
                        f(key, rep);
                    }
                    continue;
                }
                let rep_len = key.len();
                for (ci, comp) in rep.parts().enumerate() {
                    key.truncate(rep_len);
                    let _ = write!(key, ".{}", ci + 1);
                    if comp.is_leaf() {
                        if !comp.is_empty() {
                            f(key, comp);
                        }
                        continue;
                    }
                    let comp_len = key.len();
                    for (si, sub) in comp.parts().enumerate() {
                        if !sub.is_empty() {
                            key.truncate(comp_len);
                            let _ = write!(key, ".{}", si + 1);
                            f(key, sub);
                        }
                    }
                }
            }
        }
    }
}

/// Writes the text of MSH-`n` (its first repetition; with `first_component`, the first
/// component of that) as [`Value::text`] gives it, without building it when it is plain ASCII
/// (as these fields nearly always are).
fn header_text(
    out: &mut Vec<u8>,
    msg: &Message<'_>,
    cls: &[u8; 256],
    n: usize,
    first_component: bool,
) {
    let Some(field) = msg.header_field(n) else {
        return out.extend_from_slice(b"\"\"");
    };
    // The first repetition, and its first component. A `^` inside is fine for the whole
    // repetition (its text is the HL7 as written); anything else takes the long way.
    let stop = C_REP | C_ESC | C_SUB | if first_component { C_COMP } else { 0 };
    let raw = field.raw;
    let end = raw
        .iter()
        .position(|&b| b >= 0x80 || cls[b as usize] & stop != 0);
    match end {
        Some(e) if cls[raw[e] as usize] & C_COMP != 0 => {
            push_str_bytes(out, &raw[..e]);
        }
        None => push_str_bytes(out, raw),
        Some(_) => {
            let v = field.repetition(1);
            let v = if first_component { v.component(1) } else { v };
            push_str(out, &v.text());
        }
    }
}

fn bump(counts: &mut Vec<([u8; 3], usize)>, id: &[u8]) -> usize {
    let mut k = [0u8; 3];
    k[..id.len().min(3)].copy_from_slice(&id[..id.len().min(3)]);
    if let Some(e) = counts.iter_mut().find(|e| e.0 == k) {
        e.1 += 1;
        e.1
    } else {
        counts.push((k, 1));
        1
    }
}

fn write_segment(out: &mut Vec<u8>, seg: &Segment<'_>, ctx: &mut Ctx<'_>) {
    out.extend_from_slice(b"{\"id\":");
    let id = seg.id();
    if id.iter().all(u8::is_ascii_alphanumeric) {
        out.push(b'"');
        out.extend_from_slice(id);
        out.push(b'"');
    } else {
        push_str(out, &ctx.charset.decode(id).0);
    }
    out.extend_from_slice(b",\"fields\":[");
    let bytes = seg.bytes();
    if is_header_id(seg.id()) {
        // MSH-1 and MSH-2 are never split or unescaped.
        for (i, f) in seg.fields().take(2).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let (t, lossless) = ctx.charset.decode(f.raw);
            ctx.needs_raw |= !lossless;
            push_str(out, &t);
        }
        // the ordinary fields start after MSH-2's closing separator
        let rest = bytes.get(4..).unwrap_or_default();
        if let Some(p) = memchr::memchr(ctx.sep.field, rest) {
            out.push(b',');
            ctx.fields(out, &rest[p + 1..], 3);
        }
    } else if bytes.len() > 3 && bytes[3] != ctx.sep.field {
        // Not a segment (no field separator after the id): no fields; the text goes to raw.
        ctx.needs_raw = true;
    } else if let Some(area) = bytes.get(4..) {
        ctx.fields(out, area, 1);
    }
    out.push(b']');
    if ctx.needs_raw || seg.bytes().len() < 3 {
        let (text, lossless) = ctx.charset.decode(seg.bytes());
        if lossless {
            out.extend_from_slice(b",\"raw\":");
            push_str(out, &text);
        } else {
            out.extend_from_slice(b",\"raw_base64\":\"");
            out.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(seg.bytes())
                    .as_bytes(),
            );
            out.push(b'"');
        }
    }
    out.push(b'}');
}

/// True when a JSON document is an HL7 message: the `segments` shape of `hl7 parse` (first
/// segment MSH) or a `raw` message of `hl7 listen --meta`.
pub fn is_message(doc: &Json) -> bool {
    let first_msh = doc
        .get("segments")
        .and_then(Json::as_array)
        .and_then(|s| s.first())
        .and_then(|s| s.get("id"))
        .and_then(Json::as_str)
        == Some("MSH");
    let raw_msh = doc
        .get("raw")
        .and_then(Json::as_str)
        .is_some_and(|r| r.trim_start().starts_with("MSH"));
    first_msh || raw_msh
}

/// A JSON document and the byte offset it starts at, or why the text at an offset is not one.
pub type Found = Result<(Json, u64), (String, u64)>;

/// Reads JSON documents from lines: one a line (NDJSON), or one spanning lines (a
/// pretty-printed file), gathered until it parses.
#[derive(Debug, Default)]
pub struct Documents {
    /// The lines of a document so far, and its offset.
    pending: Option<(Vec<u8>, u64)>,
}

impl Documents {
    /// Reads one line (without its line end) that starts at `offset`, adding what it completes
    /// to `found`.
    pub fn line(&mut self, line: &[u8], offset: u64, found: &mut Vec<Found>) {
        if let Some((mut buf, start)) = self.pending.take() {
            buf.push(b'\n');
            buf.extend_from_slice(line);
            match serde_json::from_slice::<Json>(&buf) {
                Ok(doc) => return found.push(Ok((doc, start))),
                Err(e) if e.is_eof() => {
                    self.pending = Some((buf, start));
                    return;
                }
                // the gathered lines do not make a document: report them, and read this line
                // on its own
                Err(e) => found.push(Err((format!("invalid JSON: {e}"), start))),
            }
        }
        match serde_json::from_slice::<Json>(line) {
            Ok(doc) => found.push(Ok((doc, offset))),
            Err(e) if e.is_eof() && line.trim_ascii_start().starts_with(b"{") => {
                self.pending = Some((line.to_vec(), offset));
            }
            Err(e) => found.push(Err((format!("invalid JSON: {e}"), offset))),
        }
    }

    /// At the end of an input: the offset of a document that never completed, if any.
    pub fn finish(&mut self) -> Option<u64> {
        self.pending.take().map(|(_, offset)| offset)
    }
}

/// Why JSON could not be turned into HL7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(pub String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JsonError {}

fn err<T>(s: impl Into<String>) -> Result<T, JsonError> {
    Err(JsonError(s.into()))
}

/// Turns one JSON document back into HL7: the `segments` shape written by [`Writer`], or an
/// envelope with a `raw` message (`hl7 listen --meta`). Segments are terminated by `\r`.
pub fn to_hl7(doc: &Json, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let Some(obj) = doc.as_object() else {
        return err("expected a JSON object");
    };
    if let Some(segments) = obj.get("segments") {
        let Some(segments) = segments.as_array() else {
            return err("\"segments\" must be an array");
        };
        return segments_to_hl7(obj, segments, out);
    }
    if Envelope::read(obj, out) {
        return Ok(());
    }
    if obj.keys().any(|k| k.contains('-')) {
        return err(
            "this looks like the 'paths' shape, which cannot be turned back into HL7; use the default 'segments' shape",
        );
    }
    err("expected an object with \"segments\" (hl7 parse) or \"raw\" (hl7 listen --meta)")
}

/// One NDJSON line (from `hl7 parse` or `hl7 listen --meta`) turned back into HL7; returns the
/// document too, for callers that read more of it (a replay reads `received`).
pub fn line_to_hl7(line: &[u8], out: &mut Vec<u8>) -> Result<Json, JsonError> {
    let doc: Json =
        serde_json::from_slice(line).map_err(|e| JsonError(format!("invalid JSON: {e}")))?;
    to_hl7(&doc, out)?;
    Ok(doc)
}

fn segments_to_hl7(
    obj: &serde_json::Map<String, Json>,
    segments: &[Json],
    out: &mut Vec<u8>,
) -> Result<(), JsonError> {
    let Some(first) = segments.first() else {
        return err("\"segments\" is empty");
    };
    let fields_of = |s: &Json, i: usize| -> Result<(String, Vec<Json>), JsonError> {
        let id = s
            .get("id")
            .and_then(Json::as_str)
            .ok_or_else(|| JsonError(format!("segment {}: missing \"id\"", i + 1)))?;
        let fields = match s.get("fields") {
            Some(Json::Array(a)) => a.clone(),
            None => Vec::new(),
            Some(_) => {
                return err(format!(
                    "segment {} ({id}): \"fields\" must be an array",
                    i + 1
                ));
            }
        };
        Ok((id.to_string(), fields))
    };
    let (id, f) = fields_of(first, 0)?;
    if id != "MSH" {
        return err(format!("the first segment must be MSH, found {id}"));
    }
    let fs = f.first().and_then(Json::as_str).unwrap_or("");
    let enc = f.get(1).and_then(Json::as_str).unwrap_or("");
    let header = format!("MSH{fs}{enc}");
    let sep =
        Separators::from_msh(header.as_bytes()).map_err(|e| JsonError(format!("MSH: {e}")))?;
    let charset = obj
        .get("charset")
        .and_then(Json::as_str)
        .and_then(|c| Charset::from_msh18(c.as_bytes()))
        .or_else(|| {
            f.get(17).and_then(|v| match v {
                Json::String(s) => Charset::from_msh18(s.as_bytes()),
                Json::Array(reps) => reps
                    .first()
                    .and_then(Json::as_str)
                    .and_then(|s| Charset::from_msh18(s.as_bytes())),
                _ => None,
            })
        })
        .unwrap_or(Charset::Utf8);
    let mut writer = Writer::new();
    for (i, s) in segments.iter().enumerate() {
        let (id, fields) = fields_of(s, i)?;
        let start = out.len();
        if let Some(raw) = raw_of(s)? {
            let mut bytes = match raw {
                Raw::Text(t) => charset
                    .encode(t)
                    .map_err(|c| {
                        JsonError(format!(
                            "segment {} ({id}): '{c}' has no byte in {}",
                            i + 1,
                            charset.name()
                        ))
                    })?
                    .into_owned(),
                Raw::Bytes(b) => b,
            };
            // Use raw only while the fields still say the same thing.
            if fields_match(&bytes, &fields, sep, charset, &mut writer) {
                out.append(&mut bytes);
                out.push(b'\r');
                continue;
            }
        }
        if id.len() != 3 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return err(format!(
                "segment {}: id '{id}' is not 3 letters or digits",
                i + 1
            ));
        }
        out.extend_from_slice(id.as_bytes());
        let header = is_header_id(id.as_bytes());
        for (fi, field) in fields.iter().enumerate() {
            if header && fi == 0 {
                out.push(sep.field);
                continue;
            }
            if header && fi == 1 {
                out.extend_from_slice(field.as_str().unwrap_or("").as_bytes());
                continue;
            }
            out.push(sep.field);
            encode_value(field, 0, &sep, charset, out).map_err(|e| {
                out.truncate(start);
                JsonError(format!("{id}-{}: {}", fi + 1, e.0))
            })?;
        }
        out.push(b'\r');
    }
    Ok(())
}

enum Raw<'a> {
    Text(&'a str),
    Bytes(Vec<u8>),
}

fn raw_of(s: &Json) -> Result<Option<Raw<'_>>, JsonError> {
    if let Some(t) = s.get("raw").and_then(Json::as_str) {
        return Ok(Some(Raw::Text(t)));
    }
    if let Some(b) = s.get("raw_base64").and_then(Json::as_str) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| JsonError(format!("raw_base64: {e}")))?;
        return Ok(Some(Raw::Bytes(bytes)));
    }
    Ok(None)
}

fn fields_match(
    bytes: &[u8],
    fields: &[Json],
    sep: Separators,
    charset: Charset,
    w: &mut Writer,
) -> bool {
    let msg = Message::with(bytes, sep, charset);
    let Some(seg) = msg.segments().next() else {
        return fields.is_empty();
    };
    let mut out = Vec::new();
    let mut ctx = w.ctx(&msg);
    write_segment(&mut out, &seg, &mut ctx);
    match serde_json::from_slice::<Json>(&out) {
        Ok(v) => v
            .get("fields")
            .and_then(Json::as_array)
            .is_some_and(|f| f.as_slice() == fields),
        Err(_) => false,
    }
}

/// Encodes a field (depth 0), repetition (1), component (2) or subcomponent (3).
fn encode_value(
    v: &Json,
    depth: usize,
    sep: &Separators,
    charset: Charset,
    out: &mut Vec<u8>,
) -> Result<(), JsonError> {
    match v {
        Json::Null => out.extend_from_slice(b"\"\""),
        Json::String(s) => escape::encode_into(s, sep, charset, out)
            .map_err(|c| JsonError(format!("'{c}' has no byte in {}", charset.name())))?,
        Json::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Json::Bool(b) => out.extend_from_slice(if *b { b"Y" } else { b"N" }),
        Json::Array(items) => {
            let joiner = match depth {
                0 => sep.repetition,
                1 => sep.component,
                2 => match sep.subcomponent {
                    Some(s) => s,
                    None => {
                        return err("subcomponents, but MSH-2 declares no subcomponent separator");
                    }
                },
                _ => return err("nested deeper than subcomponents"),
            };
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(joiner);
                }
                encode_value(item, depth + 1, sep, charset, out)?;
            }
        }
        Json::Object(_) => return err("an object where a value was expected"),
    }
    Ok(())
}

/// The writer as it was before [`Ctx::fields`]: one level at a time, a scan per level. Kept as
/// the reference the one-pass writer is checked against.
#[cfg(test)]
mod reference {
    use super::*;

    /// The pieces of `raw` between bytes of class `bit`, each with the classes it holds.
    struct Pieces<'a, 't> {
        raw: &'a [u8],
        pos: usize,
        done: bool,
        cls: &'t [u8; 256],
        bit: u8,
    }

    impl<'a> Iterator for Pieces<'a, '_> {
        type Item = (&'a [u8], u8);

        #[inline]
        fn next(&mut self) -> Option<(&'a [u8], u8)> {
            if self.done {
                return None;
            }
            let start = self.pos;
            let mut mask = 0;
            for (i, &b) in self.raw[start..].iter().enumerate() {
                let c = self.cls[b as usize];
                if c & self.bit != 0 {
                    self.pos = start + i + 1;
                    return Some((&self.raw[start..start + i], mask));
                }
                mask |= c;
            }
            self.done = true;
            Some((&self.raw[start..], mask))
        }
    }

    impl<'w> Ctx<'w> {
        fn pieces<'a>(&self, raw: &'a [u8], bit: u8) -> Pieces<'a, 'w> {
            Pieces {
                raw,
                pos: 0,
                done: false,
                cls: self.cls,
                bit,
            }
        }

        /// A value whose parts are split by `levels` (outermost first): a leaf when it holds
        /// none of them, else an array of the parts below.
        fn level(&mut self, out: &mut Vec<u8>, raw: &[u8], mask: u8, levels: &[u8]) {
            let all = levels.iter().fold(0, |a, b| a | b);
            let Some((&bit, below)) = levels.split_first().filter(|_| mask & all != 0) else {
                return self.leaf(out, raw, mask);
            };
            out.push(b'[');
            if mask & bit != 0 {
                for (i, (p, m)) in self.pieces(raw, bit).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.level(out, p, m, below);
                }
            } else {
                self.level(out, raw, mask, below);
            }
            out.push(b']');
        }

        /// The fields of `area` the old way.
        pub(super) fn fields_by_level(&mut self, out: &mut Vec<u8>, area: &[u8], first_no: usize) {
            for (i, (f, m)) in self.pieces(area, C_FIELD).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                self.field_no = i + first_no;
                self.level(out, f, m, &[C_REP, C_COMP, C_SUB]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(raw: &[u8], shape: Shape) -> String {
        let mut m = Message::parse(raw).unwrap();
        m.resolve_charset();
        let mut out = Vec::new();
        Writer::new().write(&mut out, &m, shape, &mut Notes::default());
        String::from_utf8(out).unwrap()
    }

    fn round_trip(raw: &[u8]) -> Vec<u8> {
        let doc: Json = serde_json::from_str(&json(raw, Shape::Segments)).unwrap();
        let mut out = Vec::new();
        to_hl7(&doc, &mut out).unwrap();
        out
    }

    const MSG: &[u8] = b"MSH|^~\\&|LAB|H|||20240101||ORU^R01|C1|P|2.5\rPID|1||123^^^HOSP^MR~456||DOE^JOHN^^^^|\"\"|\rOBX|1|ST|X||a\\S\\b||||||F\r";

    /// The one-pass field writer writes what the level-by-level one wrote, byte for byte,
    /// and notices the same (raw needed, first unclean field), on random segments made of
    /// separators, escapes, quotes, control and high bytes, under full and partial separator
    /// sets and both kinds of charset.
    #[test]
    fn one_pass_fields_match_the_level_by_level_writer() {
        use rand::rngs::StdRng;
        use rand::{RngExt, SeedableRng};
        let full = Separators::default();
        let partial = Separators {
            field: b'$',
            component: b'#',
            repetition: b'!',
            escape: None,
            subcomponent: None,
            truncation: None,
            declared: 2,
        };
        let two = Separators {
            repetition: 0,
            declared: 1,
            ..partial
        };
        let alphabet: &[&[u8]] = &[
            b"|",
            b"^",
            b"~",
            b"\\",
            b"&",
            b"$",
            b"#",
            b"!",
            b"\"\"",
            b"\"",
            b"\\T\\",
            b"\\X41\\",
            b"\\.br\\",
            b"\\Q\\",
            b"\t",
            b"\x01",
            b"\xe9",
            b"\xc3\xa9",
            b"A",
            b"BC",
            b"123",
            b" ",
        ];
        let mut rng = StdRng::seed_from_u64(7);
        for round in 0..20_000 {
            let sep = [full, partial, two][round % 3];
            let charset = if round % 2 == 0 {
                Charset::Utf8
            } else {
                Charset::Iso8859(1)
            };
            let mut area = Vec::new();
            for _ in 0..rng.random_range(0..12) {
                area.extend_from_slice(
                    alphabet[rng.random_range(0..alphabet.len() as u64) as usize],
                );
            }
            let cls = classes(&sep, charset);
            let (mut s1, mut s2) = (String::new(), String::new());
            let ctx = |scratch| Ctx {
                sep,
                charset,
                cls: &cls,
                scratch,
                needs_raw: false,
                unclean: None,
                field_no: 0,
            };
            let (mut new, mut old) = (b"x".to_vec(), b"x".to_vec());
            let mut a = ctx(&mut s1);
            a.fields(&mut new, &area, 3);
            let mut b = ctx(&mut s2);
            b.fields_by_level(&mut old, &area, 3);
            let show = String::from_utf8_lossy(&area);
            assert_eq!(
                String::from_utf8_lossy(&new),
                String::from_utf8_lossy(&old),
                "{show:?} {sep:?}"
            );
            assert_eq!(
                (a.needs_raw, a.unclean),
                (b.needs_raw, b.unclean),
                "{show:?}"
            );
        }
    }

    /// The header's type, control id and version are written as `Value::text` gives them,
    /// whether they take the short way (plain ASCII) or not: random MSH-9, MSH-10 and MSH-12.
    #[test]
    fn header_texts_match_value_text() {
        use rand::rngs::StdRng;
        use rand::{RngExt, SeedableRng};
        let pieces: &[&[u8]] = &[
            b"^",
            b"~",
            b"&",
            b"\\T\\",
            b"\\",
            b"\"",
            b"\"\"",
            b"\xe9",
            b"\xc3\xa9",
            b"\t",
            b"ADT",
            b"2.5",
            b"A01",
            b"x",
        ];
        let mut rng = StdRng::seed_from_u64(11);
        for round in 0..5_000 {
            let mut field = || {
                let mut f = Vec::new();
                for _ in 0..rng.random_range(0..5) {
                    f.extend_from_slice(pieces[rng.random_range(0..pieces.len() as u64) as usize]);
                }
                f
            };
            let (t, c, v) = (field(), field(), field());
            let charset = if round % 2 == 0 { &b""[..] } else { b"8859/1" };
            let mut raw = b"MSH|^~\\&|A|B|C|D|20240101||".to_vec();
            for (i, f) in [&t[..], &c, b"P", &v, b"", b"", b"", b"", b""]
                .iter()
                .enumerate()
            {
                if i > 0 {
                    raw.push(b'|');
                }
                raw.extend_from_slice(f);
            }
            raw.extend_from_slice(charset);
            raw.extend_from_slice(b"\rPID|1\r");
            let Ok(mut msg) = Message::parse(&raw) else {
                continue;
            };
            msg.resolve_charset();
            let mut w = Writer::new();
            let ctx = w.ctx(&msg);
            for (n, first) in [(9, false), (10, false), (12, true)] {
                let mut fast = Vec::new();
                header_text(&mut fast, &msg, ctx.cls, n, first);
                let mut slow = Vec::new();
                let text = msg.header_field(n).map(|f| {
                    let r = f.repetition(1);
                    if first {
                        r.component(1).text()
                    } else {
                        r.text()
                    }
                });
                push_str(&mut slow, &text.unwrap_or_default());
                assert_eq!(
                    String::from_utf8_lossy(&fast),
                    String::from_utf8_lossy(&slow),
                    "MSH-{n} of {:?}",
                    String::from_utf8_lossy(&raw)
                );
            }
        }
    }

    #[test]
    fn segments_shape() {
        let j = json(MSG, Shape::Segments);
        assert!(j.starts_with(r#"{"type":"ORU^R01","control_id":"C1","version":"2.5","charset":"UTF-8","segments":[{"id":"MSH","fields":["|","^~\\&","LAB","H","","","20240101","",[["ORU","R01"]],"C1","P","2.5"]}"#), "{j}");
        assert!(j.contains(r#"{"id":"PID","fields":["1","",[["123","","","HOSP","MR"],"456"],"",[["DOE","JOHN","","","",""]],null,""]}"#), "{j}");
        assert!(j.contains(r#""a^b""#), "{j}");
        assert!(!j.contains("\"raw\""), "canonical escapes need no raw: {j}");
    }

    #[test]
    fn round_trip_is_byte_exact() {
        assert_eq!(round_trip(MSG), MSG);
        let odd = b"MSH|^~\\&|A||||1||ORU^R01|C|P|2.5\rNTE|1||Line1\\.br\\Line2 \\X0D0A\\ \\Q\\ lone\\x\rZZZ|\rZZ1\r";
        let j = json(odd, Shape::Segments);
        assert!(j.contains(r#""raw":"NTE|1||Line1\\.br\\Line2"#), "{j}");
        assert_eq!(round_trip(odd), odd.to_vec());
        let latin = b"MSH|^~\\&|A||||1||ADT^A08|C|P|2.5||||||8859/1\rPID|1||||Lef\xe8vre\r";
        assert!(json(latin, Shape::Segments).contains("Lefèvre"));
        assert_eq!(round_trip(latin), latin.to_vec());
        let undeclared = b"MSH|^~\\&|A||||1||ADT^A08|C|P|2.5\rPID|1||||\xff\xfe\r";
        assert_eq!(round_trip(undeclared), undeclared.to_vec());
        let custom = b"MSH!@%$?!A!!!!1!!ADT@A01!C!P!2.5\rPID!1!!X1%X2!D$F$@J?r\r";
        assert_eq!(round_trip(custom), custom.to_vec());
        let trunc = b"MSH|^~\\&#|A||||1||ORU^R01|C|P|2.7\rOBX|1|ST|X||fi#|Room \\L\\12\r";
        assert_eq!(round_trip(trunc), trunc.to_vec());
    }

    #[test]
    fn edited_fields_win_over_stale_raw() {
        let odd = b"MSH|^~\\&|A||||1||ORU^R01|C|P|2.5\rNTE|1||a\\.br\\b|\\Q\\\r";
        let mut doc: Json = serde_json::from_str(&json(odd, Shape::Segments)).unwrap();
        assert!(
            doc["segments"][1]["raw"].is_string(),
            "the unknown escape needs raw"
        );
        doc["segments"][1]["fields"][0] = Json::String("2".into());
        let mut out = Vec::new();
        to_hl7(&doc, &mut out).unwrap();
        // the edit wins; the formatting escape survives; the unknown one is now literal text
        let want = b"NTE|2||a\\.br\\b|\\E\\Q\\E\\\r";
        assert!(out.ends_with(want), "{}", String::from_utf8_lossy(&out));
    }

    #[test]
    fn paths_shape() {
        let j = json(MSG, Shape::Paths);
        let v: Json = serde_json::from_str(&j).unwrap();
        assert_eq!(v["MSH-9"], "ORU^R01");
        assert_eq!(v["MSH-9.2"], "R01");
        assert_eq!(v["MSH-2"], "^~\\&");
        assert_eq!(
            v["PID-3.1"], "123",
            "components of the first repetition read as PID-3.1"
        );
        assert_eq!(v["PID-3.4"], "HOSP");
        assert_eq!(v["PID-3[2]"], "456");
        assert_eq!(v["PID-5.1"], "DOE");
        assert_eq!(v["PID-6"], Json::Null);
        assert_eq!(v["OBX-5"], "a^b");
        assert!(v.get("PID-2").is_none(), "empty values are left out");
    }

    #[test]
    fn envelope_and_errors() {
        let doc: Json = serde_json::from_str(r#"{"raw":"MSH|^~\\&|A\nPID|1\n"}"#).unwrap();
        let mut out = Vec::new();
        to_hl7(&doc, &mut out).unwrap();
        assert_eq!(out, b"MSH|^~\\&|A\rPID|1\r");
        for bad in [
            r#"[]"#,
            r#"{"segments":[]}"#,
            r#"{"MSH-9":"x"}"#,
            r#"{"segments":[{"id":"PID"}]}"#,
            r#"{"segments":[{"id":"MSH","fields":["|","^^"]}]}"#,
        ] {
            let doc: Json = serde_json::from_str(bad).unwrap();
            assert!(to_hl7(&doc, &mut Vec::new()).is_err(), "{bad}");
        }
    }
}
