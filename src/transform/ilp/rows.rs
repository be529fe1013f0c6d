//! Reading rows: NDJSON lines and CSV records, from a reader that may pause.

use std::borrow::Cow;
use std::io::{self, Read};

use super::{Value, recycle};
use crate::wire::receipt::{MARK_BYTE, Mark};

/// Parses one flat JSON object (`{"name": value, ...}` with string, number, boolean or null
/// values) into `out`, without building a tree: names and values borrow from `line` unless
/// they hold escapes. The error says where and what, never the values.
pub fn parse_object<'a>(
    line: &'a str,
    out: &mut Vec<(Cow<'a, str>, Value<'a>)>,
) -> Result<(), String> {
    out.clear();
    let b = line.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return Err("not a JSON object".into());
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            if b.get(i) != Some(&b'"') {
                return Err(format!("byte {}: expected a quoted column name", i + 1));
            }
            let (key, next) = parse_string(line, i)?;
            i = skip_ws(b, next);
            if b.get(i) != Some(&b':') {
                return Err(format!("byte {}: expected `:`", i + 1));
            }
            i = skip_ws(b, i + 1);
            let (value, next) = match b.get(i) {
                Some(b'"') => {
                    let (s, next) = parse_string(line, i)?;
                    (Value::Str(s), next)
                }
                Some(b't') if b[i..].starts_with(b"true") => (Value::Bool(true), i + 4),
                Some(b'f') if b[i..].starts_with(b"false") => (Value::Bool(false), i + 5),
                Some(b'n') if b[i..].starts_with(b"null") => (Value::Null, i + 4),
                Some(b'-' | b'0'..=b'9') => {
                    let end = scan_number(b, i)
                        .ok_or_else(|| format!("byte {}: {key:?}: invalid number", i + 1))?;
                    (Value::Number(&line[i..end]), end)
                }
                Some(b'{' | b'[') => {
                    return Err(format!(
                        "{key:?}: nested objects and arrays cannot be sent; flatten them first"
                    ));
                }
                _ => return Err(format!("byte {}: {key:?}: expected a value", i + 1)),
            };
            out.push((key, value));
            i = skip_ws(b, next);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return Err(format!("byte {}: expected `,` or `}}`", i + 1)),
            }
        }
    }
    if skip_ws(b, i) != b.len() {
        return Err(format!("byte {}: text after the object", i + 1));
    }
    Ok(())
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// The end of the JSON number starting at `i`, if it is one.
pub(super) fn scan_number(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |b: &[u8], mut i: usize| {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    if b.get(i) == Some(&b'0') {
        i += 1;
    } else {
        i = digits(b, i)?;
    }
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    Some(i)
}

/// The JSON string whose opening quote is at `start`, and the index after its closing quote.
/// A string without escapes borrows from the line; like JSON, raw control characters are
/// refused, so a borrowed string never holds a line break.
fn parse_string(line: &str, start: usize) -> Result<(Cow<'_, str>, usize), String> {
    let b = line.as_bytes();
    let from = start + 1;
    // Names and values are short: eight bytes at a time in a register beat a vectorised
    // search's setup here. The lowest flagged byte is always a true match.
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut at = from;
    while let Some(chunk) = b.get(at..at + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = x ^ (LO * u64::from(b'"'));
        let backslash = x ^ (LO * u64::from(b'\\'));
        let m = (quote.wrapping_sub(LO) & !quote
            | backslash.wrapping_sub(LO) & !backslash
            | x.wrapping_sub(LO * 0x20) & !x)
            & HI;
        if m != 0 {
            at += (m.trailing_zeros() / 8) as usize;
            break;
        }
        at += 8;
    }
    loop {
        match b.get(at) {
            Some(b'"') => return Ok((Cow::Borrowed(&line[from..at]), at + 1)),
            Some(b'\\') => break,
            Some(0..0x20) => return Err(format!("byte {}: control character in a string", at + 1)),
            Some(_) => at += 1,
            None => return Err(format!("byte {}: unterminated string", start + 1)),
        }
    }
    let at = at - from;
    let mut out = String::with_capacity(at + 16);
    let mut i = from;
    loop {
        let Some(at) = memchr::memchr2(b'"', b'\\', &b[i..]) else {
            return Err(format!("byte {}: unterminated string", start + 1));
        };
        if b[i..i + at].iter().any(|c| *c < 0x20) {
            return Err(format!("byte {}: control character in a string", i + 1));
        }
        out.push_str(&line[i..i + at]);
        i += at;
        if b[i] == b'"' {
            return Ok((Cow::Owned(out), i + 1));
        }
        let esc = b.get(i + 1).copied();
        i += 2;
        match esc {
            Some(b'"') => out.push('"'),
            Some(b'\\') => out.push('\\'),
            Some(b'/') => out.push('/'),
            Some(b'b') => out.push('\u{8}'),
            Some(b'f') => out.push('\u{c}'),
            Some(b'n') => out.push('\n'),
            Some(b'r') => out.push('\r'),
            Some(b't') => out.push('\t'),
            Some(b'u') => {
                let hex = |i: usize| {
                    line.get(i..i + 4)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .ok_or_else(|| format!("byte {}: invalid \\u escape", i + 1))
                };
                let hi = hex(i)?;
                i += 4;
                let c = if (0xD800..0xDC00).contains(&hi) && line[i..].starts_with("\\u") {
                    let lo = hex(i + 2)?;
                    if (0xDC00..0xE000).contains(&lo) {
                        i += 6;
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                    } else {
                        None
                    }
                } else {
                    char::from_u32(hi)
                };
                // A lone surrogate has no character: keep the replacement character.
                out.push(c.unwrap_or('\u{fffd}'));
            }
            _ => return Err(format!("byte {}: invalid escape", i - 1)),
        }
    }
}

/// The input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

/// What the row reader hands to its callback.
pub enum Event<'a, 'f> {
    /// A row: its 1-based line number and its fields.
    Row {
        line: u64,
        fields: &'f [(Cow<'a, str>, Value<'a>)],
    },
    /// A line that is not a row: its line number and why.
    Bad { line: u64, error: String },
    /// The reader's source paused (a read timed out): time to flush what waits.
    Idle,
    /// A read returned data: time to look at the clock (rows may be trickling in).
    Read,
    /// A delivery mark (`hl7 listen --ack-after delivered`): every row read before it belongs
    /// to messages up to its `seq`. Marks are lines of their own, anywhere in NDJSON or CSV
    /// input (before the first row and the CSV header too); they are not rows.
    Mark(Mark),
}

/// The error for a line that starts like a mark but does not read as one.
const NOT_A_MARK: &str = "a line starting with byte 0x1E that is not a delivery mark (\\x1Ehl7-mark SESSION SEQ HOST:PORT)";

/// The event for a line that starts with [`MARK_BYTE`]: its mark, or why it is not one.
fn mark_event<'a, 'f>(line: &[u8], line_no: u64) -> Event<'a, 'f> {
    match Mark::parse(line) {
        Some(mark) => Event::Mark(mark),
        None => Event::Bad {
            line: line_no,
            error: NOT_A_MARK.into(),
        },
    }
}

/// Reads rows from `reader` in the given format (detected when `None`: a first `{` is NDJSON,
/// anything else CSV with a header; mark lines and blank lines before it do not count), calling
/// `on` for each row, bad line, mark and pause. A read that fails with `TimedOut` or
/// `WouldBlock` is a pause of a live source: `on` gets [`Event::Idle`] and reading goes on. `on`
/// returns false to stop reading.
///
/// A line that starts with [`MARK_BYTE`] (0x1E) is never a row nor the CSV header: it is an
/// [`Event::Mark`], or an [`Event::Bad`] when it does not read as a mark.
pub fn read_rows<R: Read>(
    mut reader: R,
    format: Option<Format>,
    mut on: impl FnMut(Event) -> bool,
) -> io::Result<()> {
    let mut src = Source {
        reader: &mut reader,
        buf: vec![0u8; 256 * 1024],
        start: 0,
        end: 0,
        eof: false,
        lines: 0,
    };
    match src.format(format, &mut on)? {
        Some(Format::Ndjson) => ndjson_rows(&mut src, &mut on),
        Some(Format::Csv) => csv_rows(&mut src, &mut on),
        None => Ok(()),
    }
}

/// The reader and its buffer: `buf[start..end]` is read and not used yet.
struct Source<'r> {
    /// Behind `dyn`: a read fills much of a 256 KiB buffer, so the call costs nothing next to
    /// it, and the row loops are compiled once.
    reader: &'r mut dyn Read,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Lines used up before the rows start (the marks and blank lines read while the format
    /// was detected), so that the row readers count on from there.
    lines: u64,
}

impl Source<'_> {
    /// Moves what is not used yet to the front and reads more (into a larger buffer when it
    /// is full); sets `eof` at the end. Returns false when `on` says to stop.
    fn fill(&mut self, on: &mut dyn FnMut(Event) -> bool) -> io::Result<bool> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(true);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(on(Event::Read));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) =>
                {
                    if !on(Event::Idle) {
                        return Ok(false);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The format (`given`, else from the first byte that is not white space and not in a
    /// mark line), with a BOM skipped; `None` for an input without rows, or when `on` says to
    /// stop. Marks before the first row are handed to `on` as they arrive (a live source may
    /// send a mark and then nothing for a long time), and their lines are counted in `lines`.
    fn format(
        &mut self,
        given: Option<Format>,
        on: &mut dyn FnMut(Event) -> bool,
    ) -> io::Result<Option<Format>> {
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        // The BOM, once three bytes (or the whole input) are there.
        while self.end < BOM.len() && !self.eof {
            if !self.fill(on)? {
                return Ok(None);
            }
        }
        if self.buf[..self.end].starts_with(BOM) {
            self.start = BOM.len();
        }
        if given.is_some() {
            // The row readers take marks wherever they are.
            return Ok(given);
        }
        loop {
            let rest = &self.buf[self.start..self.end];
            if let Some(first) = rest.iter().position(|c| !c.is_ascii_whitespace()) {
                if rest[first] != MARK_BYTE {
                    return Ok(Some(if rest[first] == b'{' {
                        Format::Ndjson
                    } else {
                        Format::Csv
                    }));
                }
                // A mark line, once it is whole.
                let nl = memchr::memchr(b'\n', &rest[first..]);
                if nl.is_some() || self.eof {
                    let len = nl.unwrap_or(rest.len() - first);
                    let before = memchr::memchr_iter(b'\n', &rest[..first]).count() as u64;
                    self.lines += before + 1;
                    let event = mark_event(&rest[first..first + len], self.lines);
                    self.start += (first + len + 1).min(rest.len());
                    if !on(event) {
                        return Ok(None);
                    }
                    continue;
                }
            }
            if self.eof || !self.fill(on)? {
                return Ok(None);
            }
        }
    }
}

/// Every line of the source as a row.
fn ndjson_rows(src: &mut Source, on: &mut dyn FnMut(Event) -> bool) -> io::Result<()> {
    let mut line_no = src.lines;
    let mut fields = Vec::new();
    loop {
        // Every complete line in the buffer.
        while let Some(nl) = memchr::memchr(b'\n', &src.buf[src.start..src.end]) {
            line_no += 1;
            let line = &src.buf[src.start..src.start + nl];
            src.start += nl + 1;
            if !ndjson_line(line, line_no, &mut fields, on) {
                return Ok(());
            }
        }
        if src.eof {
            if src.start < src.end {
                line_no += 1;
                ndjson_line(&src.buf[src.start..src.end], line_no, &mut fields, on);
            }
            return Ok(());
        }
        if !src.fill(on)? {
            return Ok(());
        }
    }
}

/// Every CSV record of the source after the header as a row.
fn csv_rows(src: &mut Source, on: &mut dyn FnMut(Event) -> bool) -> io::Result<()> {
    let mut csv = csv_core::ReaderBuilder::new().build();
    let mut out = vec![0u8; 64 * 1024];
    let mut ends = vec![0usize; 64];
    let (mut nout, mut nend) = (0, 0);
    let mut header: Option<Vec<String>> = None;
    // The line a record starts on: csv-core counts the `\n` it reads; added to that are the
    // lines used up before it and the line ends skipped here between records (csv-core ends a
    // record at a `\r` and would count the `\n` after it only when the next record is read).
    let mut skipped = src.lines;
    let mut record_line = 1 + skipped;
    // Between records: no byte of the next one read yet.
    let mut between = true;
    let mut fields: Vec<(Cow<str>, Value)> = Vec::new();
    loop {
        if !src.eof {
            if between {
                while let Some(&c @ (b'\r' | b'\n')) = src.buf[src.start..src.end].first() {
                    skipped += u64::from(c == b'\n');
                    src.start += 1;
                }
                record_line = csv.line() + skipped;
            }
            // Empty input would tell csv-core that the input has ended: read more first (a
            // live source may pause between records).
            if src.start == src.end {
                if !src.fill(on)? {
                    return Ok(());
                }
                continue;
            }
        }
        // At the end, empty input tells the reader to finish the last record.
        let input = if src.eof {
            &[][..]
        } else {
            &src.buf[src.start..src.end]
        };
        let (res, nin, o, e) = read_record(&mut csv, input, &mut out[nout..], &mut ends[nend..]);
        src.start += nin;
        nout += o;
        nend += e;
        if nin > 0 {
            between = false;
        }
        match res {
            csv_core::ReadRecordResult::InputEmpty => {
                if !src.eof && !src.fill(on)? {
                    return Ok(());
                }
            }
            csv_core::ReadRecordResult::OutputFull => {
                let n = out.len() * 2;
                out.resize(n, 0);
            }
            csv_core::ReadRecordResult::OutputEndsFull => {
                let n = ends.len() * 2;
                ends.resize(n, 0);
            }
            csv_core::ReadRecordResult::Record => {
                between = true;
                // Field ends are relative to the record's output.
                let go = csv_record(
                    &out[..nout],
                    &ends[..nend],
                    record_line,
                    &mut header,
                    &mut fields,
                    on,
                );
                nout = 0;
                nend = 0;
                if !go {
                    return Ok(());
                }
            }
            csv_core::ReadRecordResult::End => return Ok(()),
        }
    }
}

/// csv-core's `read_record`, kept out of line: inlined into `csv_rows` its loop was compiled
/// into a slower one (callgrind: 6% more instructions in it, 1.2% of all of `ilp` on CSV).
#[inline(never)]
fn read_record(
    csv: &mut csv_core::Reader,
    input: &[u8],
    out: &mut [u8],
    ends: &mut [usize],
) -> (csv_core::ReadRecordResult, usize, usize, usize) {
    csv.read_record(input, out, ends)
}

fn ndjson_line(
    line: &[u8],
    line_no: u64,
    fields: &mut Vec<(Cow<'static, str>, Value<'static>)>,
    on: &mut dyn FnMut(Event) -> bool,
) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.first() == Some(&MARK_BYTE) {
        return on(mark_event(line, line_no));
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return true;
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return on(Event::Bad {
            line: line_no,
            error: "not valid UTF-8".into(),
        });
    };
    // The field vector is reused across rows: borrow it for this line's lifetime only.
    let mut local: Vec<(Cow<str>, Value)> = reuse(std::mem::take(fields));
    let go = match parse_object(text, &mut local) {
        Ok(()) => on(Event::Row {
            line: line_no,
            fields: &local,
        }),
        Err(error) => on(Event::Bad {
            line: line_no,
            error,
        }),
    };
    *fields = reuse(local);
    go
}

/// Empties a vector and gives back its allocation with another lifetime.
fn reuse<'a, 'b>(v: Vec<(Cow<'a, str>, Value<'a>)>) -> Vec<(Cow<'b, str>, Value<'b>)> {
    recycle(v)
}

fn csv_record(
    record: &[u8],
    ends: &[usize],
    line: u64,
    header: &mut Option<Vec<String>>,
    fields: &mut Vec<(Cow<'static, str>, Value<'static>)>,
    on: &mut dyn FnMut(Event) -> bool,
) -> bool {
    if record.first() == Some(&MARK_BYTE) {
        // A mark line: csv-core split it at any comma; put them back.
        let mut whole = Vec::with_capacity(record.len() + ends.len());
        let mut from = 0;
        for (i, &e) in ends.iter().enumerate() {
            if i > 0 {
                whole.push(b',');
            }
            whole.extend_from_slice(&record[from..e]);
            from = e;
        }
        return on(mark_event(&whole, line));
    }
    let Ok(text) = std::str::from_utf8(record) else {
        return on(Event::Bad {
            line,
            error: "not valid UTF-8".into(),
        });
    };
    let mut cells = Vec::with_capacity(ends.len());
    let mut from = 0;
    for &e in ends {
        cells.push(&text[from..e]);
        from = e;
    }
    let Some(names) = header else {
        *header = Some(cells.iter().map(|c| c.trim().to_owned()).collect());
        return true;
    };
    if cells.len() == 1 && cells[0].is_empty() {
        return true;
    }
    if cells.len() != names.len() {
        return on(Event::Bad {
            line,
            error: format!(
                "{} fields where the header has {}",
                cells.len(),
                names.len()
            ),
        });
    }
    let mut local: Vec<(Cow<str>, Value)> = reuse(std::mem::take(fields));
    for (name, cell) in names.iter().zip(cells) {
        local.push((Cow::Borrowed(name.as_str()), Value::Text(cell)));
    }
    let go = on(Event::Row {
        line,
        fields: &local,
    });
    *fields = reuse(local);
    go
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn row(line: &str) -> Vec<(Cow<'_, str>, Value<'_>)> {
        let mut out = Vec::new();
        parse_object(line, &mut out).unwrap();
        out
    }

    #[test]
    fn parses_flat_objects() {
        let r = row(
            r#" {"a":"x\"y\u00e9\ud83d\ude00","b" : -1.5e3,"c":true,"d":null,"e":false,"f":0} "#,
        );
        assert_eq!(r[0], ("a".into(), Value::Str("x\"yé😀".into())));
        assert_eq!(r[1], ("b".into(), Value::Number("-1.5e3")));
        assert_eq!(r[2].1, Value::Bool(true));
        assert_eq!(r[3].1, Value::Null);
        assert_eq!(r[4].1, Value::Bool(false));
        assert_eq!(r[5].1, Value::Number("0"));
        assert!(row("{}").is_empty());
        let mut out = Vec::new();
        for bad in [
            "",
            "[1]",
            "{\"a\":1",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":[1]}",
            "{\"a\":{}}",
            "{a:1}",
            "{\"a\":1} x",
            "{\"a\":\"\\q\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\" 1}",
            "{\"a\":tru}",
            "{\"a\":1,}",
            "{\"a\":\"x\ty\"}",
            "{\"a\":\"\\n\ry\"}",
        ] {
            assert!(parse_object(bad, &mut out).is_err(), "{bad}");
        }
    }

    #[test]
    fn strings_agree_with_serde_json_at_every_length() {
        for len in 0..40 {
            for special in ["\\\"", "\\n", "é", "\\u00e9", "x", "\\\\"] {
                for at in [0, len / 2, len] {
                    let mut body = "a".repeat(len);
                    body.insert_str(at, special);
                    let line = format!("{{\"k{body}\":\"{body}\"}}");
                    let want: serde_json::Value = serde_json::from_str(&line).unwrap();
                    let (k, v) = want.as_object().unwrap().iter().next().unwrap();
                    let mut out = Vec::new();
                    parse_object(&line, &mut out).unwrap();
                    assert_eq!(out[0].0, k.as_str(), "{line}");
                    assert_eq!(out[0].1, Value::Str(v.as_str().unwrap().into()), "{line}");
                }
            }
            let line = format!("{{\"a\":\"{}\u{1}\"}}", "b".repeat(len));
            assert!(parse_object(&line, &mut Vec::new()).is_err(), "{len}");
        }
    }

    #[test]
    fn reads_ndjson_lines_across_reads() {
        // A reader that hands out three bytes at a time and pauses between reads.
        struct Slow<'a>(&'a [u8], bool);
        impl Read for Slow<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 = !self.1;
                if self.1 {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                let n = buf.len().min(3).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let input = b"{\"a\":1}\r\n\n{\"a\":\"\xff\"}\nnot json\n{\"b\":2}";
        let (mut rows, mut idle, mut bad) = (Vec::new(), 0, Vec::new());
        read_rows(Slow(input, false), Some(Format::Ndjson), |ev| {
            match ev {
                Event::Row { line, fields } => rows.push((line, fields[0].0.to_string())),
                Event::Bad { line, .. } => bad.push(line),
                Event::Idle => idle += 1,
                Event::Read | Event::Mark(_) => {}
            }
            true
        })
        .unwrap();
        assert_eq!(rows, [(1, "a".to_string()), (5, "b".to_string())]);
        assert_eq!(bad, [3, 4]);
        assert!(idle > 5);
    }

    /// What `read_rows` hands out, as text: `row L k`, `bad L`, `mark SEQ`.
    fn events(input: &[u8], format: Option<Format>) -> Vec<String> {
        let mut out = Vec::new();
        read_rows(input, format, |ev| {
            match ev {
                Event::Row { line, fields } => out.push(format!("row {line} {}", fields[0].0)),
                Event::Bad { line, error } => {
                    if error.contains("0x1E") {
                        out.push(format!("bad mark {line}"));
                    } else {
                        out.push(format!("bad {line}"));
                    }
                }
                Event::Mark(m) => out.push(format!("mark {} {}", m.seq, m.to)),
                Event::Idle | Event::Read => {}
            }
            true
        })
        .unwrap();
        out
    }

    const M1: &str = "\x1Ehl7-mark 00000000000000ab 1 127.0.0.1:9\n";
    const M2: &str = "\x1Ehl7-mark 00000000000000ab 2 127.0.0.1:9\r\n";

    #[test]
    fn marks_among_ndjson_rows() {
        // Before the first row (the format is still found), between rows, twice in a row,
        // at the end without a newline; a line that only starts like a mark is bad.
        let input = format!(
            "{M1}\n{{\"a\":1}}\n{M2}{M1}{{\"b\":2}}\n\x1Ehl7-mark x\n{}",
            M1.trim_end()
        );
        assert_eq!(
            events(input.as_bytes(), None),
            [
                "mark 1 127.0.0.1:9",
                "row 3 a",
                "mark 2 127.0.0.1:9",
                "mark 1 127.0.0.1:9",
                "row 6 b",
                "bad mark 7",
                "mark 1 127.0.0.1:9",
            ]
        );
        // Only marks: no rows, no format needed.
        assert_eq!(
            events(format!("{M1}{M2}").as_bytes(), None),
            ["mark 1 127.0.0.1:9", "mark 2 127.0.0.1:9"]
        );
        // A BOM, then a mark, then rows; and with the format given.
        let input = format!("\u{feff}{M1}{{\"a\":1}}\n");
        assert_eq!(
            events(input.as_bytes(), None),
            ["mark 1 127.0.0.1:9", "row 2 a"]
        );
        assert_eq!(
            events(input.as_bytes(), Some(Format::Ndjson)),
            ["mark 1 127.0.0.1:9", "row 2 a"]
        );
    }

    #[test]
    fn marks_among_csv_rows() {
        // Before the header (it stays the header), between records, with a comma in it.
        let input =
            format!("{M1}ts,v\n{M2}1,2\n\n3,4\n{M1}\x1Ehl7-mark 00000000000000ab 3 a,b:1\n5,6\n");
        assert_eq!(
            events(input.as_bytes(), None),
            [
                "mark 1 127.0.0.1:9",
                "mark 2 127.0.0.1:9",
                "row 4 ts",
                "row 6 ts",
                "mark 1 127.0.0.1:9",
                "mark 3 a,b:1",
                "row 9 ts",
            ]
        );
        // The format given: the readers take the leading mark themselves.
        assert_eq!(
            events(format!("{M1}ts\n1\n").as_bytes(), Some(Format::Csv)),
            ["mark 1 127.0.0.1:9", "row 3 ts"]
        );
        assert_eq!(
            events(b"\x1Enot a mark\nts\n1\n", Some(Format::Csv)),
            ["bad mark 1", "row 3 ts"]
        );
    }

    #[test]
    fn a_mark_before_any_row_is_handed_out_while_the_source_is_quiet() {
        // A live source sends a mark and then pauses: the mark must not wait for the first
        // row (the format is not known yet).
        struct Quiet(Vec<u8>);
        impl Read for Quiet {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                let n = self.0.len().min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0.drain(..n);
                Ok(n)
            }
        }
        let mut seen = Vec::new();
        read_rows(Quiet(M1.as_bytes().to_vec()), None, |ev| match ev {
            Event::Mark(m) => {
                seen.push(m.seq);
                true
            }
            // The first pause after the mark: stop.
            Event::Idle => false,
            _ => true,
        })
        .unwrap();
        assert_eq!(seen, [1]);
    }

    #[test]
    fn csv_records_across_pauses_and_crlf_line_numbers() {
        // One line a read, a pause between reads: a read that ends exactly at the end of a
        // record must not be taken for the end of the input.
        struct Lines(Vec<&'static [u8]>, bool);
        impl Read for Lines {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 = !self.1;
                if self.1 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                if self.0.is_empty() {
                    return Ok(0);
                }
                let l = self.0.remove(0);
                buf[..l.len()].copy_from_slice(l);
                Ok(l.len())
            }
        }
        let mut rows = Vec::new();
        let lines = vec![&b"ts,v\r\n"[..], b"1,2\r\n", b"\r\n", b"3,4\r\n", b"5,6"];
        read_rows(Lines(lines, false), None, |ev| {
            if let Event::Row { line, fields } = ev {
                rows.push((line, format!("{:?}", fields[1].1)));
            }
            true
        })
        .unwrap();
        assert_eq!(
            rows,
            [
                (2, "Text(\"2\")".to_string()),
                (4, "Text(\"4\")".to_string()),
                (5, "Text(\"6\")".to_string())
            ]
        );
    }
}
