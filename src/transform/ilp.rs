//! Rows to QuestDB over InfluxDB Line Protocol (ILP).
//!
//! Input rows are flat records, one per line of NDJSON (as `hl7 flatten` writes them: typed
//! numbers, booleans and strings; `null` means absent) or CSV with a header line. This module
//! reads them ([`read_rows`], [`parse_object`]), gives every column one QuestDB type for the
//! whole stream and encodes each row into a questdb-rs [`Buffer`] ([`Encoder`]), generates the
//! matching `CREATE TABLE` ([`ddl`]), and sends the buffer in batches with retries
//! ([`Batcher`]).
//!
//! Rules, in one place (README "hl7 ilp" repeats them):
//! - Column names: every character QuestDB forbids in a column name
//!   (`? . , ' " \ / : ( ) + - * % ~`, control characters, the BOM) and whitespace becomes
//!   `_`: `1414-UpperAlarmLimit` is `1414_UpperAlarmLimit`, `PID-3.1` is `PID_3_1`. Two input
//!   names that become the same column are an error for the rows that hold the second one.
//! - Types: a declared type ([`Config::types`]) wins. Otherwise a column's type is set by the
//!   first value it gets and kept for the stream: a number makes a DOUBLE (so `3` and `3.0` are
//!   both sent as `3.0`, as ILP itself reads untyped numbers), `true`/`false` a BOOLEAN, text a
//!   VARCHAR. Only a declared `int` column is sent as LONG (`3i`). In CSV every field is text;
//!   its type is inferred the same way (`true`/`false`, a number, else text). A value that does
//!   not fit its column's type (text in a DOUBLE column, 2.5 in a LONG one) makes the row an
//!   error; a number or boolean in a VARCHAR column is sent as its text.
//! - Symbol columns ([`Config::symbols`]) take any value as text.
//! - The timestamp column holds RFC 3339 text (`2024-08-14T09:46:36Z`, fractional seconds and
//!   offsets allowed, nanosecond precision) or integer epoch nanoseconds. A row without it is
//!   stamped by the server when it arrives.
//! - `\r` and `\n` in string and symbol values become spaces; the client escapes the rest.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

pub use questdb::ingress::{Buffer, ProtocolVersion, Sender};
use questdb::ingress::{ColumnName, TableName, TimestampNanos};
use questdb::{Error as QdbError, ErrorCode};

/// The longest table or column name QuestDB accepts by default (`cairo.max.file.name.length`).
pub const MAX_NAME_LEN: usize = 127;

/// A QuestDB column type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    Symbol,
    Boolean,
    Long,
    Double,
    Varchar,
    Timestamp,
}

impl ColumnType {
    /// The SQL name of the type.
    pub fn sql(self) -> &'static str {
        match self {
            ColumnType::Symbol => "SYMBOL",
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::Long => "LONG",
            ColumnType::Double => "DOUBLE",
            ColumnType::Varchar => "VARCHAR",
            ColumnType::Timestamp => "TIMESTAMP",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql())
    }
}

/// What is written where: filled from command-line flags or from a flatten map.
/// Column names here are the input's names (before sanitising).
#[derive(Clone, Debug)]
pub struct Config {
    /// The table rows go to.
    pub table: String,
    /// Columns sent as symbols (tags), in this order.
    pub symbols: Vec<String>,
    /// The column holding each row's designated timestamp.
    pub timestamp: String,
    /// Declared column types (others are inferred from their first value).
    pub types: Vec<(String, ColumnType)>,
    /// The columns that identify a row, for `DEDUP UPSERT KEYS`; empty means the timestamp
    /// and the symbols. Must hold the timestamp.
    pub dedup_keys: Vec<String>,
}

/// The table name when neither a flag nor a map names one.
pub const DEFAULT_TABLE: &str = "observations";
/// The timestamp column when neither a flag nor a map names one.
pub const DEFAULT_TIMESTAMP: &str = "ts";

impl Default for Config {
    fn default() -> Self {
        Config {
            table: DEFAULT_TABLE.into(),
            symbols: Vec::new(),
            timestamp: DEFAULT_TIMESTAMP.into(),
            types: Vec::new(),
            dedup_keys: Vec::new(),
        }
    }
}

impl Config {
    /// Checks the table name and the named columns; the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if let Err(e) = TableName::new(&self.table) {
            return Err(format!("table name {:?}: {}", self.table, e.msg()));
        }
        if self.table.len() > MAX_NAME_LEN {
            return Err(format!("table name is longer than {MAX_NAME_LEN} bytes"));
        }
        let mut seen: HashMap<String, &str> = HashMap::new();
        let named = std::iter::once(self.timestamp.as_str())
            .chain(self.symbols.iter().map(String::as_str))
            .chain(self.types.iter().map(|(n, _)| n.as_str()));
        for name in named {
            let clean = sanitize_column(name).map_err(|e| format!("column {name:?}: {e}"))?;
            if let Some(other) = seen.get(clean.as_ref())
                && *other != name
            {
                return Err(format!(
                    "columns {other:?} and {name:?} are both `{clean}` in QuestDB"
                ));
            }
            seen.insert(clean.into_owned(), name);
        }
        if self.symbols.contains(&self.timestamp) {
            return Err(format!(
                "column {:?} cannot be both the timestamp and a symbol",
                self.timestamp
            ));
        }
        for (i, s) in self.symbols.iter().enumerate() {
            if self.symbols[..i].contains(s) {
                return Err(format!("symbol column {s:?} is named twice"));
            }
        }
        if !self.dedup_keys.is_empty() && !self.dedup_keys.contains(&self.timestamp) {
            return Err(format!(
                "the deduplication keys must hold the timestamp column {:?}",
                self.timestamp
            ));
        }
        for (name, ty) in &self.types {
            if *name == self.timestamp && *ty != ColumnType::Timestamp {
                return Err(format!(
                    "column {name:?} is the designated timestamp, not {ty}"
                ));
            }
            if self.symbols.contains(name) && *ty != ColumnType::Symbol {
                return Err(format!("column {name:?} is a symbol, not {ty}"));
            }
        }
        Ok(())
    }

    /// The declared type of an input column.
    fn declared(&self, name: &str) -> Option<ColumnType> {
        if name == self.timestamp {
            Some(ColumnType::Timestamp)
        } else if self.symbols.iter().any(|s| s == name) {
            Some(ColumnType::Symbol)
        } else {
            self.types.iter().find(|(n, _)| n == name).map(|(_, t)| *t)
        }
    }
}

/// The QuestDB column name for an input column name (module docs: the rule).
pub fn sanitize_column(name: &str) -> Result<Cow<'_, str>, String> {
    if name.is_empty() {
        return Err("empty column name".into());
    }
    let bad = |c: char| {
        matches!(
            c,
            '?' | '.'
                | ','
                | '\''
                | '"'
                | '\\'
                | '/'
                | ':'
                | ')'
                | '('
                | '+'
                | '-'
                | '*'
                | '%'
                | '~'
                | '\u{feff}'
        ) || c.is_control()
            || c.is_whitespace()
    };
    let out: Cow<str> = if name.chars().any(bad) {
        Cow::Owned(name.chars().map(|c| if bad(c) { '_' } else { c }).collect())
    } else {
        Cow::Borrowed(name)
    };
    if out.len() > MAX_NAME_LEN {
        return Err(format!("longer than {MAX_NAME_LEN} bytes"));
    }
    Ok(out)
}

/// A name as a SQL identifier: quoted when it is not a plain one.
fn sql_ident(name: &str) -> Cow<'_, str> {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("\"{}\"", name.replace('"', "\"\"")))
    }
}

/// The QuestDB `CREATE TABLE` for a configuration: the designated timestamp, the symbols and
/// the declared columns, partitioned by day, WAL, and deduplicated on the timestamp and the
/// symbols, so that sending the same rows twice keeps one copy of each. Columns that are not
/// declared are added by QuestDB when the first row that has them arrives.
pub fn ddl(config: &Config) -> Result<String, String> {
    config.validate()?;
    let ts = sanitize_column(&config.timestamp)?;
    let mut cols = vec![format!("{} TIMESTAMP", sql_ident(&ts))];
    let mut keys = vec![sql_ident(&ts).into_owned()];
    for s in &config.symbols {
        let name = sanitize_column(s)?;
        cols.push(format!("{} SYMBOL", sql_ident(&name)));
        if config.dedup_keys.is_empty() {
            keys.push(sql_ident(&name).into_owned());
        }
    }
    for k in &config.dedup_keys {
        if *k != config.timestamp {
            keys.push(sql_ident(&sanitize_column(k)?).into_owned());
        }
    }
    for (name, ty) in &config.types {
        if *name == config.timestamp || config.symbols.contains(name) {
            continue;
        }
        let name = sanitize_column(name)?;
        cols.push(format!("{} {}", sql_ident(&name), ty.sql()));
    }
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  {}\n) TIMESTAMP({}) PARTITION BY DAY WAL\nDEDUP UPSERT KEYS({});\n",
        sql_ident(&config.table),
        cols.join(",\n  "),
        sql_ident(&ts),
        keys.join(", ")
    ))
}

/// One input value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// JSON `null`: the column is absent from the row.
    Null,
    Bool(bool),
    /// A JSON number, as written (validated).
    Number(&'a str),
    /// A JSON string, unescaped.
    Str(Cow<'a, str>),
    /// A CSV field: untyped text, read by its column's type. Empty means absent.
    Text(&'a str),
}

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
fn scan_number(b: &[u8], mut i: usize) -> Option<usize> {
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

/// Parses an RFC 3339 date-time (`2024-08-14T09:46:36Z`, `2024-08-14T11:46:36.5+02:00`; a
/// space or `t` for `T`, `z` for `Z`) to nanoseconds since 1970-01-01T00:00:00Z.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    parse_rfc3339_cached(s, &mut None)
}

/// [`parse_rfc3339`], remembering the last date's day number: the rows of a stream mostly
/// share their date.
fn parse_rfc3339_cached(s: &str, cache: &mut Option<([u8; 10], i64)>) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        d.iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let days = match cache {
        Some((date, days)) if b[..10] == date[..] => *days,
        _ => {
            let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
            if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
                return None;
            }
            let days = crate::time::days_from_civil(y, mo as u32, d as u32);
            *cache = Some((b[..10].try_into().expect("ten bytes"), days));
            days
        }
    };
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A column of the stream: its QuestDB name and type.
#[derive(Clone, Debug)]
struct Column {
    name: String,
    ty: Option<ColumnType>,
    /// The row in which this column was last seen, to catch a column named twice in one row.
    seen: u64,
}

/// A value ready for the buffer.
enum Cell<'a> {
    Bool(bool),
    Long(i64),
    Double(f64),
    Str(Cow<'a, str>),
}

/// Turns input rows into ILP rows of one table, keeping each column's type for the stream.
pub struct Encoder {
    config: Config,
    columns: Vec<Column>,
    /// Input name -> index in `columns`.
    index: HashMap<String, usize>,
    /// QuestDB name -> the input name that took it.
    taken: HashMap<String, String>,
    row: u64,
    /// The column of each field position in the last rows: rows of one stream mostly name
    /// the same columns in the same order, and comparing a name is cheaper than hashing it.
    by_position: Vec<(Box<str>, usize)>,
    // Per-row scratch, kept for its allocations.
    cells: Vec<(usize, Cell<'static>)>,
    symbols: Vec<(usize, Cow<'static, str>)>,
    fresh: Vec<(usize, ColumnType)>,
    date: Option<([u8; 10], i64)>,
}

impl Encoder {
    pub fn new(config: Config) -> Result<Self, String> {
        config.validate()?;
        Ok(Encoder {
            config,
            columns: Vec::new(),
            index: HashMap::new(),
            taken: HashMap::new(),
            row: 0,
            by_position: Vec::new(),
            cells: Vec::new(),
            symbols: Vec::new(),
            fresh: Vec::new(),
            date: None,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The QuestDB columns seen so far, with their types, in order of first appearance.
    pub fn columns(&self) -> impl Iterator<Item = (&str, Option<ColumnType>)> {
        self.columns.iter().map(|c| (c.name.as_str(), c.ty))
    }

    fn column(&mut self, name: &str) -> Result<usize, String> {
        if let Some(&i) = self.index.get(name) {
            return Ok(i);
        }
        let clean = sanitize_column(name).map_err(|e| format!("column {name:?}: {e}"))?;
        if let Some(other) = self.taken.get(clean.as_ref()) {
            return Err(format!(
                "columns {other:?} and {name:?} are both `{clean}` in QuestDB; rename one"
            ));
        }
        let clean = clean.into_owned();
        self.taken.insert(clean.clone(), name.to_owned());
        self.columns.push(Column {
            name: clean,
            ty: self.config.declared(name),
            seen: 0,
        });
        let i = self.columns.len() - 1;
        self.index.insert(name.to_owned(), i);
        Ok(i)
    }

    /// Appends one row to `buf`. On error nothing is appended and the error names the column
    /// and the problem (never the value).
    pub fn encode(&mut self, fields: &[(Cow<str>, Value)], buf: &mut Buffer) -> Result<(), String> {
        self.row += 1;
        let row = self.row;
        let mut ts: Option<i64> = None;
        let mut cells: Vec<(usize, Cell)> = recycle(std::mem::take(&mut self.cells));
        // Types this row would set, applied only if the row is sent.
        let mut fresh = std::mem::take(&mut self.fresh);
        fresh.clear();
        let mut symbols: Vec<(usize, Cow<str>)> = recycle(std::mem::take(&mut self.symbols));
        for (pos, (name, value)) in fields.iter().enumerate() {
            if matches!(value, Value::Null | Value::Text("")) {
                continue;
            }
            let i = match self.by_position.get(pos) {
                Some((n, i)) if **n == **name => *i,
                _ => {
                    let i = self.column(name)?;
                    if pos < self.by_position.len() {
                        self.by_position[pos] = (name.as_ref().into(), i);
                    } else if pos == self.by_position.len() {
                        self.by_position.push((name.as_ref().into(), i));
                    }
                    i
                }
            };
            let col = &mut self.columns[i];
            if col.seen == row {
                return Err(format!("column {name:?} appears twice"));
            }
            col.seen = row;
            let ty = match col.ty {
                Some(t) => t,
                None => {
                    let t = infer(value);
                    fresh.push((i, t));
                    t
                }
            };
            let bad = |what: &str| format!("column {name:?}: {what} (the column is {ty})");
            match ty {
                ColumnType::Timestamp => {
                    ts = Some(match value {
                        Value::Str(s) => parse_rfc3339_cached(s, &mut self.date),
                        Value::Text(s) => {
                            parse_rfc3339_cached(s, &mut self.date).or_else(|| epoch_nanos(s))
                        }
                        Value::Number(n) => epoch_nanos(n),
                        _ => None,
                    }
                    .ok_or_else(|| {
                        format!(
                            "column {name:?}: not an RFC 3339 time or epoch nanoseconds since 1970"
                        )
                    })?);
                }
                ColumnType::Symbol => symbols.push((i, one_line(value))),
                ColumnType::Varchar => cells.push((i, Cell::Str(one_line(value)))),
                ColumnType::Boolean => {
                    let v = match value {
                        Value::Bool(v) => *v,
                        Value::Text(t) => parse_bool(t).ok_or_else(|| bad("not true or false"))?,
                        _ => return Err(bad("not true or false")),
                    };
                    cells.push((i, Cell::Bool(v)));
                }
                ColumnType::Double => {
                    let v = match value {
                        Value::Number(n) => to_double(n),
                        Value::Text(t) if is_number(t) => to_double(t),
                        _ => Err("not a number"),
                    }
                    .map_err(bad)?;
                    cells.push((i, Cell::Double(v)));
                }
                ColumnType::Long => {
                    let v = match value {
                        Value::Number(n) => to_long(n),
                        Value::Text(t) if is_number(t) => to_long(t),
                        _ => Err("not a number"),
                    }
                    .map_err(bad)?;
                    cells.push((i, Cell::Long(v)));
                }
            }
        }
        if symbols.is_empty() && cells.is_empty() {
            return Err("no values besides the timestamp".into());
        }
        buf.set_marker().map_err(|e| e.msg().to_owned())?;
        let written = self.write(&symbols, &cells, ts, buf);
        if let Err(e) = written {
            let _ = buf.rewind_to_marker();
            return Err(e.msg().to_owned());
        }
        buf.clear_marker();
        for &(i, t) in &fresh {
            self.columns[i].ty = Some(t);
        }
        self.fresh = fresh;
        self.cells = recycle(cells);
        self.symbols = recycle(symbols);
        Ok(())
    }

    fn write(
        &self,
        symbols: &[(usize, Cow<str>)],
        cells: &[(usize, Cell)],
        ts: Option<i64>,
        buf: &mut Buffer,
    ) -> Result<(), QdbError> {
        buf.table(TableName::new_unchecked(&self.config.table))?;
        for (i, v) in symbols {
            buf.symbol(
                ColumnName::new_unchecked(&self.columns[*i].name),
                v.as_ref(),
            )?;
        }
        for (i, cell) in cells {
            let name = ColumnName::new_unchecked(&self.columns[*i].name);
            match cell {
                Cell::Bool(v) => buf.column_bool(name, *v)?,
                Cell::Long(v) => buf.column_i64(name, *v)?,
                Cell::Double(v) => buf.column_f64(name, *v)?,
                Cell::Str(v) => buf.column_str(name, v.as_ref())?,
            };
        }
        match ts {
            Some(ts) => buf.at(TimestampNanos::new(ts)),
            None => buf.at_now(),
        }
    }
}

/// The type a column gets from its first value.
fn infer(value: &Value) -> ColumnType {
    match value {
        Value::Bool(_) => ColumnType::Boolean,
        Value::Number(_) => ColumnType::Double,
        Value::Str(_) | Value::Null => ColumnType::Varchar,
        Value::Text(t) if parse_bool(t).is_some() => ColumnType::Boolean,
        Value::Text(t) if is_number(t) => ColumnType::Double,
        Value::Text(_) => ColumnType::Varchar,
    }
}

fn parse_bool(t: &str) -> Option<bool> {
    match t {
        "true" | "TRUE" | "True" => Some(true),
        "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A CSV field that reads as a number: JSON's number grammar, also with a leading `+`.
fn is_number(t: &str) -> bool {
    let b = t.strip_prefix('+').unwrap_or(t).as_bytes();
    !b.is_empty() && !b.starts_with(b"+") && scan_number(b, 0) == Some(b.len())
}

fn to_double(n: &str) -> Result<f64, &'static str> {
    let v: f64 = n.parse().map_err(|_| "not a number")?;
    if !v.is_finite() {
        return Err("number out of range");
    }
    // An integer with more digits than a double holds exactly would change silently.
    if n.len() > 15 && !n.contains(['.', 'e', 'E']) {
        let exact = n.parse::<i128>().ok().is_some_and(|i| v as i128 == i);
        if !exact {
            return Err("integer too large to be exact as a double; declare the column int");
        }
    }
    Ok(v)
}

fn to_long(n: &str) -> Result<i64, &'static str> {
    if let Ok(v) = n.strip_prefix('+').unwrap_or(n).parse::<i64>() {
        return Ok(v);
    }
    let v: f64 = n.parse().map_err(|_| "not a number")?;
    if v.fract() != 0.0 || !(-9.2e18..9.2e18).contains(&v) {
        return Err("not an integer in range");
    }
    Ok(v as i64)
}

fn epoch_nanos(n: &str) -> Option<i64> {
    n.parse::<i64>().ok().filter(|v| *v >= 0)
}

fn as_text<'a>(value: &Value<'a>) -> Cow<'a, str> {
    match value {
        Value::Str(s) => s.clone(),
        Value::Text(t) => Cow::Borrowed(t),
        Value::Number(n) => Cow::Borrowed(n),
        Value::Bool(true) => Cow::Borrowed("true"),
        Value::Bool(false) => Cow::Borrowed("false"),
        Value::Null => Cow::Borrowed(""),
    }
}

/// The value as text with `\r\n`, `\r` and `\n` as single spaces: ILP is one row a line.
fn one_line<'a>(value: &Value<'a>) -> Cow<'a, str> {
    let s = match value {
        // parse_string refuses raw control characters: only escapes make line breaks.
        Value::Str(Cow::Borrowed(s)) => return Cow::Borrowed(s),
        Value::Number(_) | Value::Bool(_) | Value::Null => return as_text(value),
        _ => as_text(value),
    };
    if memchr::memchr2(b'\r', b'\n', s.as_bytes()).is_none() {
        return s;
    }
    Cow::Owned(s.replace("\r\n", " ").replace(['\r', '\n'], " "))
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
}

/// Reads rows from `reader` in the given format (detected from the first byte when `None`:
/// `{` is NDJSON, anything else CSV with a header), calling `on` for each row, bad line and
/// pause. A read that fails with `TimedOut` or `WouldBlock` is a pause of a live source: `on`
/// gets [`Event::Idle`] and reading goes on. `on` returns false to stop reading.
pub fn read_rows<R: Read>(
    mut reader: R,
    format: Option<Format>,
    mut on: impl FnMut(Event) -> bool,
) -> io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut end = 0;
    let mut eof = false;
    let mut fill = |buf: &mut Vec<u8>, end: &mut usize, on: &mut dyn FnMut(Event) -> bool| {
        if *end == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        loop {
            match reader.read(&mut buf[*end..]) {
                Ok(0) => return Ok(Some(true)),
                Ok(n) => {
                    *end += n;
                    if !on(Event::Read) {
                        return Ok(None);
                    }
                    return Ok(Some(false));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) =>
                {
                    if !on(Event::Idle) {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    };
    // Find the format (and skip a BOM) from the first bytes.
    let mut start;
    let format = loop {
        let body = &buf[..end];
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let bom = end - body.len();
        if let Some(f) = format
            && (end >= 3 || eof)
        {
            start = bom;
            break f;
        }
        if let Some(&c) = body.iter().find(|c| !c.is_ascii_whitespace()) {
            start = bom;
            break if c == b'{' {
                Format::Ndjson
            } else {
                Format::Csv
            };
        }
        if eof {
            return Ok(());
        }
        match fill(&mut buf, &mut end, &mut on)? {
            Some(e) => eof = e,
            None => return Ok(()),
        }
    };
    match format {
        Format::Ndjson => {
            let mut line_no = 0u64;
            let mut fields = Vec::new();
            loop {
                // Every complete line in the buffer.
                while let Some(nl) = memchr::memchr(b'\n', &buf[start..end]) {
                    line_no += 1;
                    let line = &buf[start..start + nl];
                    start += nl + 1;
                    if !ndjson_line(line, line_no, &mut fields, &mut on) {
                        return Ok(());
                    }
                }
                if eof {
                    if start < end {
                        line_no += 1;
                        ndjson_line(&buf[start..end], line_no, &mut fields, &mut on);
                    }
                    return Ok(());
                }
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
                match fill(&mut buf, &mut end, &mut on)? {
                    Some(e) => eof = e,
                    None => return Ok(()),
                }
            }
        }
        Format::Csv => {
            let mut csv = csv_core::ReaderBuilder::new().build();
            let mut out = vec![0u8; 64 * 1024];
            let mut ends = vec![0usize; 64];
            let (mut nout, mut nend) = (0, 0);
            let mut header: Option<Vec<String>> = None;
            let mut record_line = 1u64;
            let mut fields: Vec<(Cow<str>, Value)> = Vec::new();
            loop {
                let input = if eof { &[][..] } else { &buf[start..end] };
                let (res, nin, o, e) = csv.read_record(input, &mut out[nout..], &mut ends[nend..]);
                start += nin;
                nout += o;
                nend += e;
                match res {
                    csv_core::ReadRecordResult::InputEmpty => {
                        if eof {
                            continue;
                        }
                        buf.copy_within(start..end, 0);
                        end -= start;
                        start = 0;
                        match fill(&mut buf, &mut end, &mut on)? {
                            Some(e) => eof = e,
                            None => return Ok(()),
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
                        // Field ends are relative to the record's output.
                        let line = record_line;
                        record_line = csv.line();
                        let record = &out[..nout];
                        let cells = &ends[..nend];
                        let go = csv_record(record, cells, line, &mut header, &mut fields, &mut on);
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
    }
}

fn ndjson_line(
    line: &[u8],
    line_no: u64,
    fields: &mut Vec<(Cow<'static, str>, Value<'static>)>,
    on: &mut dyn FnMut(Event) -> bool,
) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
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

/// Empties a vector and gives back its allocation for another element type of the same
/// layout (the same type with other lifetimes): the standard library collects an emptied
/// `into_iter` in place.
fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| unreachable!()).collect()
}

fn csv_record(
    record: &[u8],
    ends: &[usize],
    line: u64,
    header: &mut Option<Vec<String>>,
    fields: &mut Vec<(Cow<'static, str>, Value<'static>)>,
    on: &mut dyn FnMut(Event) -> bool,
) -> bool {
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

/// Where rows go: ILP text to a writer (`--dry-run`), or a database.
pub enum Destination {
    Text(Box<dyn Write>),
    Db(Box<Db>),
}

/// A database connection and how to make it again.
pub struct Db {
    sender: Option<Sender>,
    conf: String,
    http: bool,
    /// How long an unreachable database is retried.
    retry_for: Duration,
}

/// The questdb-rs configuration string for an ADDR: `HOST:PORT` is ILP over TCP,
/// `http://HOST:PORT` (or `https://`) ILP over HTTP, and anything holding `::` is passed as it
/// is. The short forms use protocol version 1 (text), which every ILP server reads and which is
/// exactly what `--dry-run` prints.
pub fn sender_conf(addr: &str) -> Result<String, String> {
    if addr.contains("::") {
        return Ok(addr.to_owned());
    }
    let (scheme, rest) = if let Some(r) = addr.strip_prefix("http://") {
        ("http", r)
    } else if let Some(r) = addr.strip_prefix("https://") {
        ("https", r)
    } else if addr.contains("://") {
        return Err(format!(
            "{addr:?}: unknown scheme (use HOST:PORT, http://HOST:PORT or a questdb-rs configuration string)"
        ));
    } else {
        ("tcp", addr)
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() || host.contains(['/', ';', '?', '#']) {
        return Err(format!("{addr:?}: expected HOST:PORT"));
    }
    let host = if host.starts_with(':') {
        format!("localhost{host}")
    } else {
        host.to_owned()
    };
    Ok(format!("{scheme}::addr={host};protocol_version=1;"))
}

impl Db {
    /// Connects (TCP) or prepares (HTTP) a sender for a configuration string.
    pub fn connect(conf: &str) -> Result<Box<Db>, QdbError> {
        let http = conf.starts_with("http::") || conf.starts_with("https::");
        let sender = Sender::from_conf(conf)?;
        Ok(Box::new(Db {
            sender: Some(sender),
            conf: conf.to_owned(),
            http,
            retry_for: retry_timeout(conf).unwrap_or(Duration::from_secs(10)),
        }))
    }

    pub fn is_http(&self) -> bool {
        self.http
    }

    pub fn new_buffer(&self) -> Buffer {
        match &self.sender {
            Some(s) => s.new_buffer(),
            None => Buffer::new(ProtocolVersion::V1),
        }
    }

    /// Sends the buffer, over HTTP as one transaction. When the database cannot be reached
    /// (connection refused or broken, name not resolved), tries again with backoff from 50 ms
    /// up to 2 s between tries, for `retry_for` (the configuration's `retry_timeout`, default
    /// 10 s); over TCP with a new connection each time. Over HTTP the client also retries
    /// requests that time out or get a 5xx answer, within the same `retry_timeout`.
    fn send(&mut self, buf: &Buffer) -> Result<(), QdbError> {
        let deadline = Instant::now() + self.retry_for;
        let mut backoff = Duration::from_millis(50);
        loop {
            let http = self.http;
            let flush = |s: &mut Sender| {
                if http {
                    s.flush_and_keep_with_flags(buf, true)
                } else {
                    s.flush_and_keep(buf)
                }
            };
            let result = match self.sender.as_mut() {
                Some(sender) => flush(sender),
                None => Sender::from_conf(&self.conf).and_then(|mut s| {
                    let r = flush(&mut s);
                    self.sender = Some(s);
                    r
                }),
            };
            let Err(e) = result else { return Ok(()) };
            if !self.http {
                // A TCP connection that failed once is not used again.
                self.sender = None;
            }
            let unreachable = matches!(
                e.code(),
                ErrorCode::SocketError | ErrorCode::CouldNotResolveAddr
            );
            if !unreachable || Instant::now() + backoff > deadline {
                return Err(e);
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}

/// The `retry_timeout` (milliseconds) of a configuration string, if it sets one.
fn retry_timeout(conf: &str) -> Option<Duration> {
    let (_, params) = conf.split_once("::")?;
    params.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == "retry_timeout")
            .then(|| v.trim().parse().ok().map(Duration::from_millis))
            .flatten()
    })
}

/// Counters of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Rows the database accepted (HTTP) or that were written to its socket (TCP) or to the
    /// text output.
    pub sent: u64,
    pub flushes: u64,
    /// Rows in batches the database refused.
    pub refused: u64,
    /// Rows that could not be delivered because the database could not be reached.
    pub undelivered: u64,
}

/// Why a flush did not deliver its rows.
#[derive(Debug)]
pub enum FlushError {
    /// The database refused the batch (HTTP): its rows are counted in `refused`; the next
    /// batches may still go through.
    Refused { rows: u64, error: String },
    /// The database could not be reached after the retries: the rows are counted in
    /// `undelivered` and the stream should stop.
    Unreachable { rows: u64, error: String },
    /// Writing the text output failed.
    Io(io::Error),
}

/// Collects rows into a buffer and flushes it every `max_rows` rows or `max_age` after the
/// first waiting row, whichever comes first.
pub struct Batcher {
    dest: Destination,
    pub buf: Buffer,
    rows: u64,
    since: Option<Instant>,
    max_rows: u64,
    max_age: Duration,
    pub counts: Counts,
}

impl Batcher {
    pub fn new(dest: Destination, max_rows: usize, max_age: Duration) -> Self {
        let buf = match &dest {
            Destination::Db(db) => db.new_buffer(),
            Destination::Text(_) => Buffer::new(ProtocolVersion::V1),
        };
        Batcher {
            dest,
            buf,
            rows: 0,
            since: None,
            max_rows: max_rows.max(1) as u64,
            max_age,
            counts: Counts::default(),
        }
    }

    /// Rows waiting in the buffer.
    pub fn waiting(&self) -> u64 {
        self.rows
    }

    /// Notes that one more row was encoded into `buf`, and flushes when the batch is full or
    /// old enough.
    pub fn row_added(&mut self) -> Result<(), FlushError> {
        self.rows += 1;
        if self.rows == 1 {
            self.since = Some(Instant::now());
        }
        if self.rows >= self.max_rows || (self.rows.is_multiple_of(256) && self.old()) {
            self.flush()?;
        }
        Ok(())
    }

    fn old(&self) -> bool {
        self.since.is_some_and(|t| t.elapsed() >= self.max_age)
    }

    /// Flushes when the waiting rows are older than the age limit.
    pub fn flush_if_old(&mut self) -> Result<(), FlushError> {
        if self.old() {
            self.flush()?;
        }
        Ok(())
    }

    /// [`Batcher::flush_if_old`], and for text output also pushes out what the writer holds
    /// (call when the input is idle).
    pub fn tick(&mut self) -> Result<(), FlushError> {
        self.flush_if_old()?;
        if let Destination::Text(w) = &mut self.dest {
            w.flush().map_err(FlushError::Io)?;
        }
        Ok(())
    }

    /// Sends the waiting rows.
    pub fn flush(&mut self) -> Result<(), FlushError> {
        if self.rows == 0 {
            return Ok(());
        }
        let rows = self.rows;
        let result = match &mut self.dest {
            Destination::Text(w) => w
                .write_all(self.buf.as_bytes())
                .and_then(|()| w.flush())
                .map_err(FlushError::Io),
            Destination::Db(db) => db.send(&self.buf).map_err(|e| {
                let error = e.msg().to_owned();
                match e.code() {
                    ErrorCode::ServerFlushError if db.http => FlushError::Refused { rows, error },
                    _ => FlushError::Unreachable { rows, error },
                }
            }),
        };
        self.buf.clear();
        self.rows = 0;
        self.since = None;
        match &result {
            Ok(()) => {
                self.counts.sent += rows;
                self.counts.flushes += 1;
            }
            Err(FlushError::Refused { .. }) => self.counts.refused += rows,
            Err(FlushError::Unreachable { .. }) => self.counts.undelivered += rows,
            Err(FlushError::Io(_)) => {}
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: &str) -> Vec<(Cow<'_, str>, Value<'_>)> {
        let mut out = Vec::new();
        parse_object(line, &mut out).unwrap();
        out
    }

    fn ilp(config: Config, lines: &[&str]) -> (String, Vec<Result<(), String>>) {
        let mut enc = Encoder::new(config).unwrap();
        let mut buf = Buffer::new(ProtocolVersion::V1);
        let results = lines
            .iter()
            .map(|l| enc.encode(&row(l), &mut buf))
            .collect();
        (String::from_utf8(buf.as_bytes().to_vec()).unwrap(), results)
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
    fn rfc3339_with_a_date_cache() {
        let mut cache = None;
        let p = |s: &str, c: &mut Option<([u8; 10], i64)>| parse_rfc3339_cached(s, c);
        assert_eq!(
            p("2024-08-14T09:46:36Z", &mut cache),
            parse_rfc3339("2024-08-14T09:46:36Z")
        );
        assert_eq!(
            p("2024-08-14T23:59:59Z", &mut cache),
            parse_rfc3339("2024-08-14T23:59:59Z")
        );
        assert_eq!(
            p("2024-08-15T00:00:00Z", &mut cache),
            parse_rfc3339("2024-08-15T00:00:00Z")
        );
        assert_eq!(p("2024-02-30T00:00:00Z", &mut cache), None);
        assert_eq!(p("2024-08-15T25:00:00Z", &mut cache), None);
        assert_eq!(
            p("2024-08-15T01:00:00Z", &mut cache),
            parse_rfc3339("2024-08-15T01:00:00Z")
        );
    }

    #[test]
    fn rfc3339() {
        assert_eq!(
            parse_rfc3339("2024-08-14T09:46:36Z"),
            Some(1_723_628_796_000_000_000)
        );
        assert_eq!(
            parse_rfc3339("2024-08-14T11:46:36.123456789+02:00"),
            Some(1_723_628_796_123_456_789)
        );
        assert_eq!(
            parse_rfc3339("2024-08-14 09:46:36.5z"),
            Some(1_723_628_796_500_000_000)
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00-01:30"),
            Some(951_787_800_000_000_000)
        );
        for bad in [
            "2024-08-14T09:46:36",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-08-14T24:00:00Z",
            "2024-08-14T09:46:36.Z",
            "2024-08-14T09:46:36+0200",
            "20240814094636",
            "2024-08-14T09:46:36Z ",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn sanitizes_names() {
        assert_eq!(
            sanitize_column("1414-UpperAlarmLimit").unwrap(),
            "1414_UpperAlarmLimit"
        );
        assert_eq!(sanitize_column("PID-3.1").unwrap(), "PID_3_1");
        assert_eq!(sanitize_column("a b\tc/(d)").unwrap(), "a_b_c__d_");
        assert_eq!(sanitize_column("Frequenz_µ").unwrap(), "Frequenz_µ");
        assert!(sanitize_column("").is_err());
        assert!(sanitize_column(&"x".repeat(128)).is_err());
    }

    #[test]
    fn encodes_the_example_row() {
        let config = Config {
            table: "pdm".into(),
            symbols: vec!["device_serial".into(), "variable_id".into()],
            ..Config::default()
        };
        let (text, res) = ilp(
            config,
            &[
                r#"{"ts":"2024-08-14T09:46:36Z","device_serial":"000000008204526","variable_id":"2104","label":"PEEP","value":5.0,"unit":"cmH2O","setting":true}"#,
            ],
        );
        assert_eq!(res, vec![Ok(())]);
        assert_eq!(
            text,
            "pdm,device_serial=000000008204526,variable_id=2104 label=\"PEEP\",value=5.0,unit=\"cmH2O\",setting=t 1723628796000000000\n"
        );
    }

    #[test]
    fn keeps_one_type_per_column() {
        let (text, res) = ilp(
            Config {
                types: vec![("n".into(), ColumnType::Long)],
                ..Config::default()
            },
            &[
                r#"{"v":3,"n":4,"s":"a","b":true}"#,
                r#"{"v":3.5,"n":5.0,"s":7,"b":false}"#,
                r#"{"v":"x"}"#,
                r#"{"n":2.5}"#,
                r#"{"b":1}"#,
                r#"{"s":"line\r\none\ntwo","ts":1000}"#,
                r#"{"v":12345678901234567891}"#,
                r#"{"ts":"yesterday","v":1}"#,
                r#"{"v":1,"v":2}"#,
                r#"{"ts":5}"#,
                r#"{"a-b":1}"#,
                r#"{"a.b":1}"#,
            ],
        );
        assert_eq!(
            text,
            "observations v=3.0,n=4i,s=\"a\",b=t\n\
             observations v=3.5,n=5i,s=\"7\",b=f\n\
             observations s=\"line one two\" 1000\n\
             observations a_b=1.0\n"
        );
        let errors: Vec<_> = res.iter().map(Result::is_err).collect();
        assert_eq!(
            errors,
            [
                false, false, true, true, true, false, true, true, true, true, false, true
            ]
        );
        assert!(res[2].as_ref().unwrap_err().contains("\"v\""));
        assert!(res[11].as_ref().unwrap_err().contains("a_b"));
    }

    #[test]
    fn a_failed_row_sets_no_type() {
        let (text, res) = ilp(
            Config::default(),
            &[r#"{"x":"a","ts":"bad"}"#, r#"{"x":1}"#],
        );
        assert!(res[0].is_err());
        assert_eq!(text, "observations x=1.0\n");
    }

    #[test]
    fn reads_csv_with_inferred_types() {
        let input = "\u{feff}ts,dev,value,on,label\n\
                     2024-08-14T09:46:36Z,A1,5,true,\"a,b\"\n\
                     1723628796000000001,A1,5.5,false,\"two\nlines\"\n\
                     ,A2,x,true,c\n\
                     1,2\n";
        let mut enc = Encoder::new(Config {
            symbols: vec!["dev".into()],
            ..Config::default()
        })
        .unwrap();
        let mut buf = Buffer::new(ProtocolVersion::V1);
        let mut log = Vec::new();
        read_rows(input.as_bytes(), None, |ev| {
            match ev {
                Event::Row { line, fields } => {
                    log.push(format!("{line}:{:?}", enc.encode(fields, &mut buf).is_ok()))
                }
                Event::Bad { line, .. } => log.push(format!("{line}:bad")),
                Event::Idle | Event::Read => {}
            }
            true
        })
        .unwrap();
        assert_eq!(log, ["2:true", "3:true", "5:false", "6:bad"]);
        assert_eq!(
            String::from_utf8(buf.as_bytes().to_vec()).unwrap(),
            "observations,dev=A1 value=5.0,on=t,label=\"a,b\" 1723628796000000000\n\
             observations,dev=A1 value=5.5,on=f,label=\"two lines\" 1723628796000000001\n"
        );
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
                Event::Read => {}
            }
            true
        })
        .unwrap();
        assert_eq!(rows, [(1, "a".to_string()), (5, "b".to_string())]);
        assert_eq!(bad, [3, 4]);
        assert!(idle > 5);
    }

    #[test]
    fn ddl_names_keys() {
        let config = Config {
            table: "pdm_medical_device".into(),
            symbols: vec!["device_serial".into(), "variable-id".into()],
            timestamp: "ts".into(),
            types: vec![
                ("value".into(), ColumnType::Double),
                ("1414-UpperAlarmLimit".into(), ColumnType::Long),
            ],
            dedup_keys: Vec::new(),
        };
        assert_eq!(
            ddl(&config).unwrap(),
            "CREATE TABLE IF NOT EXISTS pdm_medical_device (\n  ts TIMESTAMP,\n  device_serial SYMBOL,\n  variable_id SYMBOL,\n  value DOUBLE,\n  \"1414_UpperAlarmLimit\" LONG\n) TIMESTAMP(ts) PARTITION BY DAY WAL\nDEDUP UPSERT KEYS(ts, device_serial, variable_id);\n"
        );
        let bad = Config {
            symbols: vec!["a-b".into(), "a.b".into()],
            ..Config::default()
        };
        assert!(ddl(&bad).is_err());
        let keyed = Config {
            dedup_keys: vec!["ts".into(), "variable-id".into()],
            ..config
        };
        assert!(
            ddl(&keyed)
                .unwrap()
                .ends_with("DEDUP UPSERT KEYS(ts, variable_id);\n")
        );
        let bad = Config {
            dedup_keys: vec!["device_serial".into()],
            ..keyed
        };
        assert!(ddl(&bad).is_err());
        let bad = Config {
            table: "a/b".into(),
            ..Config::default()
        };
        assert!(ddl(&bad).is_err());
    }

    #[test]
    fn addresses() {
        assert_eq!(
            sender_conf("localhost:9009").unwrap(),
            "tcp::addr=localhost:9009;protocol_version=1;"
        );
        assert_eq!(
            sender_conf("http://db:9000/").unwrap(),
            "http::addr=db:9000;protocol_version=1;"
        );
        assert_eq!(
            sender_conf(":9009").unwrap(),
            "tcp::addr=localhost:9009;protocol_version=1;"
        );
        assert_eq!(
            sender_conf("http::addr=x:1;retry_timeout=5;").unwrap(),
            "http::addr=x:1;retry_timeout=5;"
        );
        assert_eq!(
            retry_timeout("http::addr=x:1; retry_timeout = 500;"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(retry_timeout("tcp::addr=x:1;"), None);
        assert!(sender_conf("ftp://x").is_err());
        assert!(sender_conf("http://x/write").is_err());
    }
}
