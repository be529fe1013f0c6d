//! OBX observations to flat rows (`hl7 flatten`): one row per observation (long) or per
//! message (wide), as NDJSON or CSV, with or without a TOML [`Map`] of variables, types,
//! scaling, code lookups, bitfields, tags and the table name.
//!
//! The map format is documented in docs/map.md (and hl7-map(5)); `samples/elisa.toml` maps the
//! Löwenstein elisa 800 through Capsule DataCaptor. [`Map`] is also what `hl7 ilp` reads to
//! learn the table, symbols, timestamp, dedup keys and column types.
//!
//! ```
//! use hl7::transform::flatten::{Flattener, Format, Options, Shape};
//! use hl7::model::message::Message;
//! let raw = b"MSH|^~\\&|MON||||20240814114636+0200||ORU^R01|C1|P|2.5\rPID|1||42\rOBX|1|NM|8867-4^Heart rate^LN||72|/min|60-100|N|||F\r";
//! let msg = Message::parse(raw).unwrap();
//! let mut f = Flattener::new(None, Options::default()).unwrap();
//! let (mut out, mut issues) = (Vec::new(), Vec::new());
//! f.message(&msg, &mut out, &mut issues);
//! let row = String::from_utf8(out).unwrap();
//! assert!(row.starts_with(r#"{"ts":"2024-08-14T09:46:36Z","control_id":"C1""#), "{row}");
//! assert!(row.contains(r#""value":72"#) && row.contains(r#""units":"/min""#));
//! ```

mod map;

use crate::time::zoned as time;
use std::collections::HashMap;

pub use map::{
    Column, ColumnType, LONG_BUILTINS, Map, MapError, Shape, TS_COLUMN, TS_PATHS, Unmapped,
    VarType, sanitize, valid_name,
};

use jiff::tz::TimeZone;

use crate::model::charset::Charset;
use crate::model::escape;
use crate::model::message::{Message, Segment, Separators};
use crate::model::path::{Occurrence, Path};
use crate::transform::obx::{Context, Scope};
use crate::transform::{csv, json};
use map::{Derived, FastHash, FilterTest, Source};

/// Output format of the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// One JSON object a line; columns without a value are left out.
    #[default]
    Ndjson,
    /// A header line, then one line per row (RFC 4180 quoting); empty cells where no value.
    Csv,
}

/// How to flatten.
#[derive(Clone, Debug)]
pub struct Options {
    pub shape: Shape,
    pub format: Format,
    /// The zone of HL7 times without an offset; overrides the map's `timezone`. Default UTC.
    pub timezone: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            shape: Shape::Long,
            format: Format::Ndjson,
            timezone: None,
        }
    }
}

/// Something to report about a message: where (a field path such as `OBX[57]-5`) and what.
/// Never quotes message contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub path: String,
    pub what: String,
    /// An error (the run exits 1) or a warning.
    pub error: bool,
}

/// The columns of the long rows without a map.
pub const PLAIN_LONG: [(&str, ColumnType); 17] = [
    ("ts", ColumnType::Timestamp),
    ("control_id", ColumnType::String),
    ("sending_app", ColumnType::Symbol),
    ("patient_id", ColumnType::String),
    ("set_id", ColumnType::Int),
    ("observation_id", ColumnType::Symbol),
    ("observation_text", ColumnType::String),
    ("coding_system", ColumnType::String),
    ("sub_id", ColumnType::String),
    ("value_type", ColumnType::String),
    ("value", ColumnType::Float),
    ("text", ColumnType::String),
    ("units", ColumnType::String),
    ("reference_range", ColumnType::String),
    ("abnormal_flags", ColumnType::String),
    ("status", ColumnType::String),
    ("equipment_id", ColumnType::String),
];

/// The message columns of the wide rows without a map (observations follow as `obx_<id>`).
pub const PLAIN_WIDE: [(&str, ColumnType); 4] = [
    ("ts", ColumnType::Timestamp),
    ("control_id", ColumnType::String),
    ("sending_app", ColumnType::Symbol),
    ("patient_id", ColumnType::String),
];

/// A cell of the row being built. Text lives in one of two buffers: per row or per message.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cell {
    Null,
    /// A JSON number, as text in the row buffer.
    Num(u32, u32),
    Int(i64),
    Bool(bool),
    /// Text in the row buffer.
    Str(u32, u32),
    /// Text in the row buffer that JSON takes as it is (the timestamp).
    Raw(u32, u32),
    /// A message-level value: `Flattener::mvals[i]`, escaped for JSON once per message.
    M(u32),
    /// Text from the map: `Flattener::lits[i]`, escaped for JSON once.
    Lit(u32),
}

/// Column positions of the long shape with a map.
#[derive(Default)]
struct LongIdx {
    variable: Option<usize>,
    variable_id: Option<usize>,
    label: Option<usize>,
    setting: Option<usize>,
    value: Option<usize>,
    text: Option<usize>,
    meaning: Option<usize>,
    unit: Option<usize>,
    unit_code: Option<usize>,
    sub_id: Option<usize>,
}

/// Turns messages into rows. Keeps its buffers between messages, so a stream costs no
/// allocation per observation.
pub struct Flattener<'m> {
    map: Option<&'m Map>,
    shape: Shape,
    format: Format,
    zone: TimeZone,
    /// Output column names and their JSON keys (`"name":`).
    names: Vec<String>,
    keys: Vec<Vec<u8>>,
    /// Columns added by the data (wide: unmapped observations), by name.
    dynamic: HashMap<String, usize>,
    /// Number of columns fixed when the CSV header was written.
    header_len: Option<usize>,
    cells: Vec<Cell>,
    row: String,
    msg: String,
    ts_cache: (Vec<u8>, Result<String, time::TimeError>),
    long: LongIdx,
    /// Long: column of each bit of each variable: `bit_cols[var][bit]`. Wide: per entry.
    bit_cols: Vec<Vec<usize>>,
    /// Wide: per entry, the value column and the meaning column.
    wide_cols: Vec<(Option<usize>, Option<usize>)>,
    /// Wide: the OBX (by number) that set each entry in this message, to catch repeats.
    seen: Vec<u32>,
    /// Index of the first derived (`[columns]`) column.
    first_column: usize,
    /// Columns warned about (not in the CSV header).
    warned: std::collections::HashSet<String>,
    /// Message counter for `seen`.
    generation: u32,
    /// Message-level values: raw text in `msg`, JSON string in `msg_json`.
    mvals: Vec<(u32, u32, u32, u32)>,
    msg_json: Vec<u8>,
    /// The map's strings, raw and as JSON: entry names, ids, labels, units, meanings.
    lits: Vec<(Box<str>, Box<[u8]>)>,
    /// Per entry: the literals of its name, id and label.
    entry_lits: Vec<[u32; 3]>,
    /// Per code table: code -> literal of its meaning.
    code_lits: Vec<HashMap<&'m [u8], u32, FastHash>>,
    /// `[units]`: code -> literal of the unit.
    unit_lits: HashMap<&'m [u8], u32, FastHash>,
    /// Per variable: the literal of its declared unit.
    var_unit: Vec<Option<u32>>,
    /// Long NDJSON rows with a map, when `variable`, `variable_id`, `label` follow the
    /// message-level columns: the index of `variable`. Such rows are written as a per-message
    /// prefix, a per-variable chunk and the rest (fewer, larger copies: the hot path).
    fast_long: Option<usize>,
    /// Per entry: `"variable":...,"variable_id":...,"label":...` as JSON.
    entry_chunk: Vec<Vec<u8>>,
    /// The JSON of columns `0..fast_long` for the current message and timestamp.
    prefix: Vec<u8>,
    prefix_key: (u32, String),
    /// The timestamp rule without a map.
    plain_ts: Vec<Path>,
    csv: csv::Writer,
    /// The message-level cells of the current message, copied into each of its rows.
    mcells: Vec<Cell>,
    /// Long rows with a map: the `[columns]` that name the observation, read per row.
    per_obx: Vec<usize>,
}

fn lit(lits: &mut Vec<(Box<str>, Box<[u8]>)>, s: &str) -> u32 {
    let mut j = Vec::with_capacity(s.len() + 2);
    json::push_str(&mut j, s);
    lits.push((s.into(), j.into_boxed_slice()));
    (lits.len() - 1) as u32
}

fn key(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 3);
    json::push_str(&mut k, name);
    k.push(b':');
    k
}

impl<'m> Flattener<'m> {
    /// A flattener for a map (or none). Fails when the time zone is unknown.
    pub fn new(map: Option<&'m Map>, opts: Options) -> Result<Flattener<'m>, String> {
        let zone_name = opts
            .timezone
            .clone()
            .or_else(|| map.and_then(|m| m.timezone().map(str::to_string)));
        let zone = match &zone_name {
            Some(z) => time::zone(z).ok_or_else(|| {
                format!("unknown time zone '{z}' (an IANA name like Europe/Oslo, or UTC)")
            })?,
            None => TimeZone::UTC,
        };
        let mut f = Flattener::empty(map, &opts, zone);
        let cols: Vec<String> = match map {
            None => match f.shape {
                Shape::Long => PLAIN_LONG.iter().map(|c| c.0.to_string()).collect(),
                Shape::Wide => PLAIN_WIDE.iter().map(|c| c.0.to_string()).collect(),
            },
            Some(m) => {
                f.literals(m);
                m.columns(f.shape).into_iter().map(|c| c.name).collect()
            }
        };
        for c in cols {
            f.keys.push(key(&c));
            f.names.push(c);
        }
        if let Some(m) = map {
            f.first_column = 1 + m.tags.len();
            match f.shape {
                Shape::Long => f.long_columns(m),
                Shape::Wide => f.wide_columns(m),
            }
        }
        Ok(f)
    }

    /// A flattener without columns yet.
    fn empty(map: Option<&'m Map>, opts: &Options, zone: TimeZone) -> Flattener<'m> {
        Flattener {
            map,
            shape: opts.shape,
            format: opts.format,
            zone,
            names: Vec::new(),
            keys: Vec::new(),
            dynamic: HashMap::new(),
            header_len: None,
            cells: Vec::new(),
            row: String::with_capacity(4096),
            msg: String::with_capacity(1024),
            ts_cache: (Vec::new(), Err(time::TimeError::Syntax)),
            long: LongIdx::default(),
            bit_cols: Vec::new(),
            wide_cols: Vec::new(),
            seen: Vec::new(),
            first_column: 0,
            warned: Default::default(),
            generation: 0,
            mvals: Vec::new(),
            msg_json: Vec::with_capacity(1024),
            lits: Vec::new(),
            entry_lits: Vec::new(),
            code_lits: Vec::new(),
            unit_lits: HashMap::default(),
            var_unit: Vec::new(),
            fast_long: None,
            entry_chunk: Vec::new(),
            prefix: Vec::with_capacity(512),
            prefix_key: (0, String::new()),
            plain_ts: plain_ts_paths().to_vec(),
            csv: csv::Writer::new(),
            mcells: Vec::new(),
            per_obx: Vec::new(),
        }
    }

    /// The map's strings, escaped for JSON once: entry names, ids and labels, meanings, units.
    fn literals(&mut self, m: &'m Map) {
        for e in &m.entries {
            let l = [
                lit(&mut self.lits, &e.name),
                lit(&mut self.lits, &e.id),
                lit(&mut self.lits, &e.label),
            ];
            self.entry_lits.push(l);
        }
        for t in &m.code_tables {
            let mut h = HashMap::default();
            for (k, v) in t {
                h.insert(k.as_bytes(), lit(&mut self.lits, v));
            }
            self.code_lits.push(h);
        }
        for (k, v) in &m.units {
            let i = lit(&mut self.lits, v);
            self.unit_lits.insert(k.as_bytes(), i);
        }
        for v in &m.variables {
            let u = v.unit.as_deref().map(|u| lit(&mut self.lits, u));
            self.var_unit.push(u);
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|c| c == name)
    }

    /// Long rows with a map: where the observation columns and the bit columns are, and the
    /// per-entry chunks of the fast path when it applies.
    fn long_columns(&mut self, m: &Map) {
        let builtin = |n: &str| {
            if m.long_builtins.contains(&n) {
                self.position(n)
            } else {
                None
            }
        };
        self.long = LongIdx {
            variable: builtin("variable"),
            variable_id: builtin("variable_id"),
            label: builtin("label"),
            setting: builtin("setting"),
            value: builtin("value"),
            text: builtin("text"),
            meaning: builtin("meaning"),
            unit: builtin("unit"),
            unit_code: builtin("unit_code"),
            sub_id: builtin("sub_id"),
        };
        self.per_obx = (m.columns.iter().enumerate())
            .filter(|(_, d)| d.per_obx)
            .map(|(k, _)| k)
            .collect();
        let v = 1 + m.tags.len() + m.columns.len();
        if self.format == Format::Ndjson
            && m.columns.iter().all(|c| !c.per_obx)
            && m.long_builtins
                .starts_with(&["variable", "variable_id", "label"])
        {
            self.fast_long = Some(v);
            self.entry_chunks(v);
        }
        // bit columns come last, after the builtins
        let start = v + m.long_builtins.len();
        let bits = m.long_bit_columns();
        for var in &m.variables {
            self.bit_cols.push(
                var.bits
                    .iter()
                    .map(|b| start + bits.iter().position(|x| x.0 == b.name).unwrap_or(0))
                    .collect(),
            );
        }
    }

    /// Per entry: `"variable":...,"variable_id":...,"label":...` (the columns from `v` on).
    fn entry_chunks(&mut self, v: usize) {
        for l in &self.entry_lits {
            let mut chunk = Vec::new();
            for (k, lit) in l.iter().enumerate() {
                if k > 0 {
                    chunk.push(b',');
                }
                chunk.extend_from_slice(&self.keys[v + k]);
                chunk.extend_from_slice(&self.lits[*lit as usize].1);
            }
            self.entry_chunk.push(chunk);
        }
    }

    /// Wide rows with a map: per entry, its value, meaning and bit columns.
    fn wide_columns(&mut self, m: &Map) {
        for e in &m.entries {
            let v = &m.variables[e.var];
            let value = (e.variant.is_some() || v.raw)
                .then(|| self.position(&e.name))
                .flatten();
            let meaning = if e.variant.is_none() && v.raw && v.codes.is_some() {
                self.position(&format!("{}_meaning", e.name))
            } else {
                None
            };
            self.wide_cols.push((value, meaning));
            self.bit_cols.push(if e.variant.is_none() {
                v.bits
                    .iter()
                    .filter_map(|b| self.position(&b.name))
                    .collect()
            } else {
                Vec::new()
            });
        }
        self.seen = vec![0; m.entries.len()];
    }

    /// The column names, as the CSV header has them.
    pub fn column_names(&self) -> &[String] {
        &self.names
    }

    /// Call at the end of the stream: writes the CSV header if no row was written (a map
    /// knows its columns even for an empty stream).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.format == Format::Csv && self.header_len.is_none() && self.map.is_some() {
            self.write_header(out);
        }
    }

    /// Flattens one message into `out`; returns the number of rows written. What cannot be
    /// converted is added to `issues` (its row is written without that column).
    pub fn message(
        &mut self,
        msg: &Message<'_>,
        out: &mut Vec<u8>,
        issues: &mut Vec<Issue>,
    ) -> u64 {
        let segs: Vec<Segment<'_>> = msg.segments().collect();
        self.msg.clear();
        self.msg_json.clear();
        self.mvals.clear();
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
        let cx = Context::new(&segs, Scope::Before);
        match self.map {
            None => self.plain(msg, &cx, out, issues),
            Some(map) => {
                if !passes(map, &cx) {
                    return 0;
                }
                self.mapped(map, msg, &cx, out, issues)
            }
        }
    }

    fn reset_cells(&mut self) {
        self.cells.clear();
        self.cells.resize(self.names.len(), Cell::Null);
        self.row.clear();
    }

    fn span(buf: &mut String, f: impl FnOnce(&mut String)) -> (u32, u32) {
        let start = buf.len();
        f(buf);
        (start as u32, buf.len() as u32)
    }

    /// The timestamp text for a raw HL7 time (cached: a message's observations mostly share it).
    fn ts_cell(&mut self, raw: &[u8]) -> Result<Cell, time::TimeError> {
        if self.ts_cache.0 != raw {
            self.ts_cache.0.clear();
            self.ts_cache.0.extend_from_slice(raw);
            let mut s = String::new();
            self.ts_cache.1 = time::to_rfc3339(raw, &self.zone, &mut s).map(|_| s);
        }
        match &self.ts_cache.1 {
            Ok(s) => {
                let (a, b) = Self::span(&mut self.row, |r| r.push_str(s));
                Ok(Cell::Raw(a, b))
            }
            Err(e) => Err(*e),
        }
    }

    /// Starts a row: the message-level cells (`mcells`), and in column 0 the time found by
    /// the rule's paths (for the observation `at`, if any).
    fn start_row(
        &mut self,
        paths: &[Path],
        cx: &Context<'_, '_>,
        at: Option<&At<'_, '_>>,
        issues: &mut Vec<Issue>,
    ) {
        self.reset_cells();
        let n = self.mcells.len();
        self.cells[1..1 + n].copy_from_slice(&self.mcells);
        let segs = cx.segments();
        for p in paths {
            let v = match at {
                Some(at) if p.is_each(b"OBX") => at.obx.get(at.seg, p),
                _ => cx.get(p, at.map(|a| a.i)).map(|v| v.raw),
            };
            let Some(v) = v.filter(|v| !v.is_empty() && *v != b"\"\"") else {
                continue;
            };
            match self.ts_cell(v) {
                Ok(c) => self.cells[0] = c,
                Err(e) => issues.push(Issue {
                    path: where_(p, at.map(|a| a.seg), segs),
                    what: format!("{e}; the row has no timestamp"),
                    error: true,
                }),
            }
            return;
        }
        let tried: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        issues.push(Issue {
            path: at.map_or(String::new(), |a| obx_name(a.seg, segs)),
            what: format!("no time in {}; the row has no timestamp", tried.join(", ")),
            error: true,
        });
    }

    // ---------------------------------------------------------------------------- no map

    fn plain(
        &mut self,
        msg: &Message<'_>,
        cx: &Context<'_, '_>,
        out: &mut Vec<u8>,
        issues: &mut Vec<Issue>,
    ) -> u64 {
        let m = Msg::of(msg, cx);
        self.plain_message_cells(&m, cx);
        // The rule's paths are lent out while the rows borrow `self`.
        let paths = std::mem::take(&mut self.plain_ts);
        let rows = match self.shape {
            Shape::Wide => {
                self.plain_wide(&m, cx, &paths, issues);
                self.emit(out);
                1
            }
            Shape::Long => {
                let mut rows = 0;
                for (i, k, seg) in observations(cx.segments()) {
                    let obx = Obx::new(seg, &m.sep);
                    let at = At::new(i, k, seg, &obx);
                    self.start_row(&paths, cx, Some(&at), issues);
                    self.plain_long(&m, &obx);
                    self.emit(out);
                    rows += 1;
                }
                rows
            }
        };
        self.plain_ts = paths;
        rows
    }

    /// The message columns without a map: control id, sending app, patient id.
    fn plain_message_cells(&mut self, m: &Msg<'_>, cx: &Context<'_, '_>) {
        let segs = cx.segments();
        let control = segs[0]
            .field(10)
            .map(|v| v.repetition(1).raw)
            .unwrap_or(b"");
        let pid = segs
            .iter()
            .find(|s| s.id() == b"PID")
            .and_then(|s| s.field(3))
            .map(|v| v.component(1).raw)
            .unwrap_or(b"");
        self.mcells.clear();
        for raw in [control, m.app, pid] {
            let mut c = Cell::Null;
            if !raw.is_empty() {
                let (a, b) = Self::span(&mut self.msg, |s| push_text(s, raw, &m.sep, m.cs));
                c = self.mval(a, b);
            }
            self.mcells.push(c);
        }
    }

    /// The wide row without a map: one column per observation id (and sub-id).
    fn plain_wide(
        &mut self,
        m: &Msg<'_>,
        cx: &Context<'_, '_>,
        paths: &[Path],
        issues: &mut Vec<Issue>,
    ) {
        self.start_row(paths, cx, None, issues);
        let segs = cx.segments();
        for (i, _, seg) in observations(segs) {
            let id = seg.field(3).map(|v| v.component(1).raw).unwrap_or(b"");
            if id.is_empty() {
                continue;
            }
            let mut name = sanitize(&String::from_utf8_lossy(id));
            if let Some(sub) = seg.field(4).filter(|v| !v.raw.is_empty()) {
                name.push('_');
                name.push_str(&sanitize(&String::from_utf8_lossy(sub.raw))[4..]);
            }
            let Some(col) = self.dynamic_column(&name, segs, i, issues) else {
                continue;
            };
            if self.cells[col] != Cell::Null {
                continue; // the first of repeated observations wins
            }
            let ty = seg.field(2).map(|v| v.raw).unwrap_or(b"");
            let value = seg.field(5).map(|v| v.raw).unwrap_or(b"");
            self.cells[col] = self.plain_value(ty, value, m).0;
        }
    }

    /// The observation columns of a long row without a map (`PLAIN_LONG` from `set_id` on).
    fn plain_long(&mut self, m: &Msg<'_>, obx: &Obx<'_>) {
        let comp = |n: usize, c: usize| obx.comp(n, c);
        let whole = |n: usize| obx.field(n);
        if let Some(n) = std::str::from_utf8(whole(1))
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
        {
            self.cells[4] = Cell::Int(n);
        }
        for (col, raw) in [
            (5, comp(3, 1)),
            (6, comp(3, 2)),
            (7, comp(3, 3)),
            (8, whole(4)),
            (9, whole(2)),
        ] {
            self.text_cell(col, raw, m);
        }
        let (c, text) = self.plain_value(whole(2), whole(5), m);
        self.cells[if text { 11 } else { 10 }] = c;
        for (col, raw) in [
            (12, comp(6, 1)),
            (13, whole(7)),
            (14, whole(8)),
            (15, whole(11)),
            (16, whole(18)),
        ] {
            self.text_cell(col, raw, m);
        }
    }

    fn text_cell(&mut self, col: usize, raw: &[u8], m: &Msg<'_>) {
        if raw.is_empty() || raw == b"\"\"" {
            return;
        }
        let (a, b) = Self::span(&mut self.row, |r| push_text(r, raw, &m.sep, m.cs));
        self.cells[col] = Cell::Str(a, b);
    }

    /// A value without a map: a number when OBX-2 says NM (or SN without a comparator) and it
    /// reads as one; else text. Returns the cell and whether it is text.
    fn plain_value(&mut self, ty: &[u8], raw: &[u8], m: &Msg<'_>) -> (Cell, bool) {
        if raw.is_empty() || raw == b"\"\"" {
            return (Cell::Null, false);
        }
        if ty == b"NM"
            && let Some(c) = self.number(raw, 1.0, 0.0)
        {
            return (c, false);
        }
        let (a, b) = Self::span(&mut self.row, |r| push_text(r, raw, &m.sep, m.cs));
        (Cell::Str(a, b), true)
    }

    /// A JSON number from HL7 text (scaled), or `None` when it is not a finite number.
    fn number(&mut self, raw: &[u8], scale: f64, offset: f64) -> Option<Cell> {
        let t = raw.trim_ascii();
        if scale == 1.0 && offset == 0.0 && is_json_number(t) {
            let (a, b) = Self::span(&mut self.row, |r| {
                r.push_str(std::str::from_utf8(t).unwrap_or("0"))
            });
            return Some(Cell::Num(a, b));
        }
        let x: f64 = std::str::from_utf8(t)
            .ok()?
            .trim_start_matches('+')
            .parse()
            .ok()?;
        let y = x * scale + offset;
        if !y.is_finite() || !x.is_finite() {
            return None;
        }
        let (a, b) = Self::span(&mut self.row, |r| {
            use std::fmt::Write;
            let _ = write!(r, "{y}");
        });
        Some(Cell::Num(a, b))
    }

    /// The column for a data-named observation (wide rows): added to the NDJSON rows as met;
    /// with CSV the header is fixed by the first row, so later names are reported and left out.
    fn dynamic_column(
        &mut self,
        name: &str,
        segs: &[Segment<'_>],
        i: usize,
        issues: &mut Vec<Issue>,
    ) -> Option<usize> {
        if let Some(&c) = self.dynamic.get(name) {
            return Some(c);
        }
        if let Some(c) = self.position(name) {
            if self.map.is_none() {
                self.dynamic.insert(name.to_string(), c);
                return Some(c);
            }
            // the name of a mapped column: the map's meaning wins
            return None;
        }
        if self.header_len.is_some() {
            if self.warned.insert(name.to_string()) {
                issues.push(Issue {
                    path: obx_name(&segs[i], segs),
                    what: format!("column {name} is not in the CSV header (the first row fixed it); left out of CSV rows"),
                    error: false,
                });
            }
            return None;
        }
        let c = self.names.len();
        self.names.push(name.to_string());
        self.keys.push(key(name));
        self.cells.push(Cell::Null);
        self.dynamic.insert(name.to_string(), c);
        Some(c)
    }

    // ---------------------------------------------------------------------------- with a map

    fn derived(
        &mut self,
        d: &Derived,
        cx: &Context<'_, '_>,
        obx: Option<usize>,
        to_msg: bool,
    ) -> Cell {
        let mut text = String::new();
        match &d.source {
            Source::Paths(ps) => {
                for p in ps {
                    let v = cx.get(p, obx);
                    if let Some(v) = v.filter(|v| !v.raw.is_empty() && !v.is_null()) {
                        if !text.is_empty() {
                            text.push_str(&d.separator);
                        }
                        text.push_str(&v.text());
                    }
                }
            }
            Source::Observation(code) => {
                if let Some(s) = find_observation(cx.segments(), code.as_bytes())
                    && let Some(v) = s
                        .field(5)
                        .map(|v| v.repetition(1))
                        .filter(|v| !v.raw.is_empty() && !v.is_null())
                {
                    text.push_str(&v.text());
                }
            }
        }
        if let Some((re, rep)) = &d.regex
            && let std::borrow::Cow::Owned(s) = re.replace_all(&text, rep.as_str())
        {
            text = s;
        }
        let text: &str = match (&d.default, text.is_empty()) {
            (Some(def), true) => def,
            (None, true) => return Cell::Null,
            _ => &text,
        };
        if to_msg {
            let (a, b) = Self::span(&mut self.msg, |m| m.push_str(text));
            self.mval(a, b)
        } else {
            let (a, b) = Self::span(&mut self.row, |m| m.push_str(text));
            Cell::Str(a, b)
        }
    }

    /// A message-level value (its text at `msg[a..b]`), escaped for JSON now, once.
    fn mval(&mut self, a: u32, b: u32) -> Cell {
        let c = self.msg_json.len() as u32;
        json::push_str(&mut self.msg_json, &self.msg[a as usize..b as usize]);
        self.mvals.push((a, b, c, self.msg_json.len() as u32));
        Cell::M((self.mvals.len() - 1) as u32)
    }

    fn mapped(
        &mut self,
        map: &'m Map,
        msg: &Message<'_>,
        cx: &Context<'_, '_>,
        out: &mut Vec<u8>,
        issues: &mut Vec<Issue>,
    ) -> u64 {
        let m = Msg::of(msg, cx);
        self.mapped_message_cells(map, cx);
        let wide = self.shape == Shape::Wide;
        if wide {
            self.start_row(&map.ts_paths, cx, None, issues);
        }
        let mut rows = 0;
        for (i, k, seg) in observations(cx.segments()) {
            let obx = Obx::new(seg, &m.sep);
            let at = At::new(i, k, seg, &obx);
            let entry = find_entry(map, &obx, m.app);
            if entry.is_none() && leaves_out(map, &at, issues) {
                continue;
            }
            if !wide {
                self.start_row(&map.ts_paths, cx, Some(&at), issues);
                for j in 0..self.per_obx.len() {
                    let c = self.per_obx[j];
                    let cell = self.derived(&map.columns[c], cx, Some(i), false);
                    self.cells[self.first_column + c] = cell;
                }
            }
            rows += match entry {
                Some(e) => self.mapped_obx(map, e, &at, &m, out, issues),
                None => self.unmapped_obx(map, cx, &at, &m, out, issues),
            };
        }
        if wide {
            self.emit(out);
            rows = 1;
        }
        rows
    }

    /// The message-level cells with a map: tags and `[columns]` that do not name the
    /// observation (in long rows; wide rows have no observation to name).
    fn mapped_message_cells(&mut self, map: &'m Map, cx: &Context<'_, '_>) {
        self.mcells.clear();
        for d in map.tags.iter().chain(&map.columns) {
            let c = if d.per_obx && self.shape == Shape::Long {
                Cell::Null
            } else {
                self.derived(d, cx, None, true)
            };
            self.mcells.push(c);
        }
    }

    /// A mapped observation: its value typed, its meaning and bits. A long row is written and
    /// counted; a wide row gets the cells (the first of repeated observations wins).
    fn mapped_obx(
        &mut self,
        map: &'m Map,
        e: usize,
        at: &At<'_, '_>,
        m: &Msg<'_>,
        out: &mut Vec<u8>,
        issues: &mut Vec<Issue>,
    ) -> u64 {
        let ent = &map.entries[e];
        let var = &map.variables[ent.var];
        let wide = self.shape == Shape::Wide;
        if wide {
            if self.seen[e] == self.generation {
                return 0;
            }
            self.seen[e] = self.generation;
        }
        let value = at.obx.rep1(5);
        let typed = self.typed(var, ent, value, at.k, m, issues);
        let meaning = match (var.codes, ent.variant.is_none(), typed.empty) {
            (Some(t), true, false) => self.code_lits[t].get(value.trim_ascii()).copied(),
            _ => None,
        };
        let bits: &[map::Bit] = if ent.variant.is_none() {
            &var.bits
        } else {
            &[]
        };
        let word = typed.word.filter(|w| *w >= 0);
        if !bits.is_empty() && !typed.empty && word.is_none() && typed.num.is_some() {
            misfit(
                issues,
                at.k,
                ent,
                "is not a status word (a non-negative integer)",
            );
        }
        // A status word without `raw` is written as its bits only.
        let num = typed.num.filter(|_| var.raw || ent.variant.is_some());
        if wide {
            let (vcol, mcol) = self.wide_cols[e];
            if let (Some(c), Some(n)) = (vcol, num) {
                self.cells[c] = n;
            }
            if let (Some(c), Some(mn)) = (mcol, meaning) {
                self.cells[c] = Cell::Lit(mn);
            }
            if let Some(w) = word {
                for (b, &col) in bits.iter().zip(&self.bit_cols[e]) {
                    self.cells[col] = bit_cell(b, w as u64);
                }
            }
            return 0;
        }
        self.long_cells(map, e, at, m, num.map(|n| (n, typed.is_text)), meaning);
        if let Some(w) = word {
            for (b, &col) in bits.iter().zip(&self.bit_cols[ent.var]) {
                self.cells[col] = bit_cell(b, w as u64);
            }
        }
        match self.fast_long {
            Some(v) => self.emit_long(out, v, e),
            None => self.emit(out),
        }
        1
    }

    /// An observation's value read by its variable's type; what does not fit is reported.
    fn typed(
        &mut self,
        var: &map::Variable,
        ent: &map::Entry,
        value: &[u8],
        k: u32,
        m: &Msg<'_>,
        issues: &mut Vec<Issue>,
    ) -> Typed {
        let mut t = Typed {
            empty: value.is_empty() || value == b"\"\"",
            num: None,
            word: None,
            is_text: false,
        };
        if t.empty {
            return t;
        }
        match var.ty {
            VarType::Float => match self.number(value, var.scale, var.offset) {
                Some(c) => t.num = Some(c),
                None => misfit(issues, k, ent, "is not a number"),
            },
            VarType::Int => match parse_int(value, var.scale, var.offset) {
                Some(n) => {
                    t.num = Some(Cell::Int(n));
                    t.word = Some(n);
                }
                None => misfit(issues, k, ent, "is not an integer"),
            },
            VarType::Bool => match parse_bool(value) {
                Some(b) => t.num = Some(Cell::Bool(b)),
                None => misfit(issues, k, ent, "is not a boolean (0/1, true/false, Y/N)"),
            },
            VarType::String => {
                let (a, b) = Self::span(&mut self.row, |r| push_text(r, value, &m.sep, m.cs));
                t.num = Some(Cell::Str(a, b));
                t.is_text = true;
            }
        }
        if var.ty == VarType::Float && !var.bits.is_empty() {
            t.word = parse_int(value, 1.0, 0.0);
        }
        t
    }

    /// The observation columns of a long row with a map, but the bits. `value`: the typed
    /// value and whether it is text.
    fn long_cells(
        &mut self,
        map: &'m Map,
        e: usize,
        at: &At<'_, '_>,
        m: &Msg<'_>,
        value: Option<(Cell, bool)>,
        meaning: Option<u32>,
    ) {
        let l = &self.long;
        let (lv, lvid, llab, lset, lval, ltxt, lmean, lsub) = (
            l.variable,
            l.variable_id,
            l.label,
            l.setting,
            l.value,
            l.text,
            l.meaning,
            l.sub_id,
        );
        let [l_name, l_id, l_label] = self.entry_lits[e];
        self.set(lv, Cell::Lit(l_name));
        self.set(lvid, Cell::Lit(l_id));
        self.set(llab, Cell::Lit(l_label));
        if let Some((p, word)) = &map.setting {
            let is = at.obx.get(at.seg, p) == Some(word.as_bytes());
            self.set(lset, Cell::Bool(is));
        }
        if let Some((n, is_text)) = value {
            let n = match n {
                Cell::Bool(b) => Cell::Int(i64::from(b)),
                other => other,
            };
            self.set(if is_text { ltxt } else { lval }, n);
        }
        if let Some(mn) = meaning {
            self.set(lmean, Cell::Lit(mn));
        }
        let declared = self.var_unit[map.entries[e].var];
        self.unit_cells(declared, at.obx.first(6), m);
        if let Some(sub) = Some(at.obx.field(4)).filter(|r| !r.is_empty())
            && let Some(c) = lsub
        {
            let (a, b) = Self::span(&mut self.row, |r| push_text(r, sub, &m.sep, m.cs));
            self.cells[c] = Cell::Str(a, b);
        }
    }

    /// Sets the cell of a column the row has.
    #[inline]
    fn set(&mut self, col: Option<usize>, c: Cell) {
        if let Some(col) = col {
            self.cells[col] = c;
        }
    }

    /// An observation the map does not name, kept: a long row of its own (written and
    /// counted), or a column of the wide row named by the sanitising rule.
    fn unmapped_obx(
        &mut self,
        map: &'m Map,
        cx: &Context<'_, '_>,
        at: &At<'_, '_>,
        m: &Msg<'_>,
        out: &mut Vec<u8>,
        issues: &mut Vec<Issue>,
    ) -> u64 {
        let (obx, value) = (at.obx, at.obx.rep1(5));
        if self.shape == Shape::Long {
            self.long_unmapped(map, at, m);
            self.emit(out);
            return 1;
        }
        let name = sanitize(&String::from_utf8_lossy(obx.first(3)));
        if let Some(col) = self.dynamic_column(&name, cx.segments(), at.i, issues)
            && self.cells[col] == Cell::Null
        {
            self.cells[col] = self.plain_value(obx.field(2), value, m).0;
        }
        0
    }

    /// `unit`: the OBX-6 code looked up in `[units]`, else the variable's unit, else OBX-6.1 as
    /// written; `unit_code`: OBX-6.1 as written.
    fn unit_cells(&mut self, declared: Option<u32>, ucode: &[u8], m: &Msg<'_>) {
        let looked = self.unit_lits.get(ucode).copied();
        if let Some(c) = self.long.unit {
            self.cells[c] = match (looked, declared) {
                (Some(u), _) | (None, Some(u)) => Cell::Lit(u),
                (None, None) if !ucode.is_empty() => {
                    let (a, b) = Self::span(&mut self.row, |r| push_text(r, ucode, &m.sep, m.cs));
                    Cell::Str(a, b)
                }
                _ => Cell::Null,
            };
        }
        if let (Some(c), false) = (self.long.unit_code, ucode.is_empty()) {
            let (a, b) = Self::span(&mut self.row, |r| push_text(r, ucode, &m.sep, m.cs));
            self.cells[c] = Cell::Str(a, b);
        }
    }

    fn long_unmapped(&mut self, map: &'m Map, at: &At<'_, '_>, m: &Msg<'_>) {
        let obx = at.obx;
        let (id, value) = (obx.first(3), obx.rep1(5));
        let l = &self.long;
        let (lv, lvid, lval, ltxt, lset) = (l.variable, l.variable_id, l.value, l.text, l.setting);
        if let Some(c) = lv {
            let (a, b) = Self::span(&mut self.row, |r| {
                r.push_str(&sanitize(&String::from_utf8_lossy(id)))
            });
            self.cells[c] = Cell::Str(a, b);
        }
        if let Some(c) = lvid {
            let (a, b) = Self::span(&mut self.row, |r| push_text(r, id, &m.sep, m.cs));
            self.cells[c] = Cell::Str(a, b);
        }
        if let (Some((p, word)), Some(c)) = (&map.setting, lset) {
            self.cells[c] = Cell::Bool(obx.get(at.seg, p) == Some(word.as_bytes()));
        }
        let (cell, text) = self.plain_value(obx.field(2), value, m);
        self.set(if text { ltxt } else { lval }, cell);
        self.unit_cells(None, obx.first(6), m);
    }

    // ---------------------------------------------------------------------------- output

    fn write_header(&mut self, out: &mut Vec<u8>) {
        self.csv
            .record(out, self.names.iter().map(|n| n.as_bytes()));
        self.header_len = Some(self.names.len());
    }

    fn emit(&mut self, out: &mut Vec<u8>) {
        if self.format == Format::Csv && self.header_len.is_none() {
            self.write_header(out);
        }
        let row = self.row.as_bytes();
        match self.format {
            Format::Ndjson => {
                out.push(b'{');
                self.json_cells(out, 0, self.cells.len(), true);
                out.extend_from_slice(b"}\n");
            }
            Format::Csv => {
                let n = self.header_len.unwrap_or(self.cells.len());
                let mut digits = [0u8; 20];
                for (i, c) in self.cells.iter().take(n).enumerate() {
                    if i > 0 {
                        self.csv.delimiter(out);
                    }
                    let field: &[u8] = match *c {
                        Cell::Null => continue,
                        Cell::Int(n) => int_text(&mut digits, n),
                        Cell::Bool(b) => {
                            if b {
                                b"true"
                            } else {
                                b"false"
                            }
                        }
                        Cell::Num(a, b) | Cell::Str(a, b) | Cell::Raw(a, b) => {
                            &row[a as usize..b as usize]
                        }
                        Cell::M(k) => {
                            let (a, b, _, _) = self.mvals[k as usize];
                            &self.msg.as_bytes()[a as usize..b as usize]
                        }
                        Cell::Lit(k) => self.lits[k as usize].0.as_bytes(),
                    };
                    self.csv.field(out, field);
                }
                self.csv.end(out);
            }
        }
    }

    /// A long NDJSON row of entry `e` with a map: the message prefix (rebuilt when the
    /// message or the timestamp changes), the entry's chunk, then the other cells.
    fn emit_long(&mut self, out: &mut Vec<u8>, v: usize, e: usize) {
        let ts = match self.cells[0] {
            Cell::Raw(a, b) => &self.row[a as usize..b as usize],
            _ => "",
        };
        if self.prefix_key.0 != self.generation || self.prefix_key.1 != ts {
            let mut prefix = std::mem::take(&mut self.prefix);
            prefix.clear();
            prefix.push(b'{');
            if !self.json_cells(&mut prefix, 0, v, true) {
                prefix.push(b',');
            }
            self.prefix = prefix;
            self.prefix_key.0 = self.generation;
            self.prefix_key.1.clear();
            self.prefix_key.1.push_str(ts);
        }
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(&self.entry_chunk[e]);
        self.json_cells(out, v + 3, self.cells.len(), false);
        out.extend_from_slice(b"}\n");
    }

    /// Writes cells `from..to` as JSON members; `first`: no comma before the first one.
    /// Returns whether nothing was written and none came before.
    fn json_cells(&self, out: &mut Vec<u8>, from: usize, to: usize, mut first: bool) -> bool {
        let row = self.row.as_bytes();
        for (i, c) in self.cells[from..to].iter().enumerate() {
            if *c == Cell::Null {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(&self.keys[from + i]);
            match *c {
                Cell::Num(a, b) => out.extend_from_slice(&row[a as usize..b as usize]),
                Cell::Int(n) => push_int(out, n),
                Cell::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
                Cell::Str(a, b) => json::push_str(out, &self.row[a as usize..b as usize]),
                Cell::Raw(a, b) => {
                    out.push(b'"');
                    out.extend_from_slice(&row[a as usize..b as usize]);
                    out.push(b'"');
                }
                Cell::M(k) => {
                    let (_, _, a, b) = self.mvals[k as usize];
                    out.extend_from_slice(&self.msg_json[a as usize..b as usize]);
                }
                Cell::Lit(k) => out.extend_from_slice(&self.lits[k as usize].1),
                Cell::Null => {}
            }
        }
        first
    }
}

/// What the rows of one message share.
struct Msg<'a> {
    sep: Separators,
    cs: Charset,
    /// MSH-3.1, which a variable's `app` is compared with.
    app: &'a [u8],
}

impl<'a> Msg<'a> {
    fn of(msg: &Message<'a>, cx: &Context<'_, 'a>) -> Msg<'a> {
        let app = cx.segments()[0].field(3).map(|v| v.component(1).raw);
        Msg {
            sep: *msg.separators(),
            cs: msg.charset(),
            app: app.unwrap_or(b""),
        }
    }
}

/// The OBX a row is made from: its index among the segments, its number among the OBX
/// (`OBX[k]` in reports), the segment and its fields.
struct At<'o, 'a> {
    i: usize,
    k: u32,
    seg: &'o Segment<'a>,
    obx: &'o Obx<'a>,
}

impl<'o, 'a> At<'o, 'a> {
    fn new(i: usize, k: u32, seg: &'o Segment<'a>, obx: &'o Obx<'a>) -> Self {
        At { i, k, seg, obx }
    }
}

/// An observation's value read by its variable's type.
struct Typed {
    /// No value (empty, or HL7's null `""`).
    empty: bool,
    num: Option<Cell>,
    /// The value as an integer, for the bits of a status word.
    word: Option<i64>,
    is_text: bool,
}

/// The OBX segments of a message: their index among the segments, their number among the
/// OBX (`OBX[k]`), the segment.
fn observations<'s, 'a>(
    segs: &'s [Segment<'a>],
) -> impl Iterator<Item = (usize, u32, &'s Segment<'a>)> {
    let obx = segs.iter().enumerate().filter(|(_, s)| s.id() == b"OBX");
    obx.zip(1..).map(|((i, s), k)| (i, k, s))
}

/// The map's entry for an observation: by OBX-3.1, then OBX-4 and MSH-3 when the map tells
/// twins apart by them.
fn find_entry(map: &Map, obx: &Obx<'_>, app: &[u8]) -> Option<usize> {
    let cands = map.by_id.get(obx.first(3))?;
    cands.iter().copied().find(|&e| {
        let v = &map.variables[map.entries[e].var];
        v.sub_id
            .as_ref()
            .is_none_or(|s| obx.field(4) == s.as_bytes())
            && v.app.as_ref().is_none_or(|a| app == a.as_bytes())
    })
}

/// Whether an observation the map does not name is left out (and reported, with `warn`).
fn leaves_out(map: &Map, at: &At<'_, '_>, issues: &mut Vec<Issue>) -> bool {
    match map.unmapped {
        Unmapped::Drop => true,
        Unmapped::Warn => {
            issues.push(Issue {
                path: format!("OBX[{}]-3", at.k),
                what: format!(
                    "observation {} is not in the map; left out",
                    String::from_utf8_lossy(at.obx.first(3))
                ),
                error: false,
            });
            true
        }
        Unmapped::Keep => false,
    }
}

/// Reports a value that does not fit its variable.
fn misfit(issues: &mut Vec<Issue>, k: u32, ent: &map::Entry, what: &str) {
    issues.push(Issue {
        path: format!("OBX[{k}]-5"),
        what: format!(
            "value of {} ({}) {what}; the row is written without it",
            ent.name, ent.id
        ),
        error: true,
    });
}

/// The fields of one OBX, split once (the hot path reads six or seven of them per row).
struct Obx<'a> {
    f: [&'a [u8]; OBX_FIELDS],
    n: usize,
    rep: u8,
    comp: u8,
}

const OBX_FIELDS: usize = 26;

impl<'a> Obx<'a> {
    fn new(seg: &Segment<'a>, sep: &Separators) -> Obx<'a> {
        let mut f: [&'a [u8]; OBX_FIELDS] = [b""; OBX_FIELDS];
        let bytes = seg.bytes();
        let mut n = 0;
        if let Some(rest) = bytes.get(4..) {
            // A plain loop: OBX segments are short, and memchr's setup costs more than it saves.
            let mut start = 0;
            n = 1;
            for (p, &b) in rest.iter().enumerate() {
                if b == sep.field {
                    if n + 1 >= OBX_FIELDS {
                        break;
                    }
                    f[n] = &rest[start..p];
                    start = p + 1;
                    n += 1;
                }
            }
            f[n] = &rest[start..];
            n += 1;
        }
        Obx {
            f,
            n,
            rep: sep.repetition,
            comp: sep.component,
        }
    }

    /// Field `k` (below 25: the last slot holds the rest of a longer segment) as written,
    /// empty when absent.
    #[inline]
    fn field(&self, k: usize) -> &'a [u8] {
        if k < self.n { self.f[k] } else { b"" }
    }

    /// The first repetition of field `k`.
    #[inline]
    fn rep1(&self, k: usize) -> &'a [u8] {
        let f = self.field(k);
        match f.iter().position(|&b| b == self.rep) {
            Some(p) if self.rep != 0 => &f[..p],
            _ => f,
        }
    }

    /// Component 1 of the first repetition of field `k`.
    #[inline]
    fn first(&self, k: usize) -> &'a [u8] {
        let f = self.rep1(k);
        match f.iter().position(|&b| b == self.comp) {
            Some(p) => &f[..p],
            None => f,
        }
    }

    /// Component `c` of the first repetition of field `k`.
    fn comp(&self, k: usize, c: usize) -> &'a [u8] {
        self.rep1(k)
            .split(|&b| b == self.comp)
            .nth(c - 1)
            .unwrap_or(b"")
    }

    /// A path read on this OBX: plain fields from the split, the rest through the segment.
    fn get(&self, seg: &Segment<'a>, p: &Path) -> Option<&'a [u8]> {
        match p.field {
            Some(k)
                if k < OBX_FIELDS - 1
                    && p.repetition.is_none()
                    && p.component.is_none()
                    && p.subcomponent.is_none() =>
            {
                (k < self.n).then(|| self.f[k])
            }
            _ => seg.get(p).map(|v| v.raw),
        }
    }
}

fn plain_ts_paths() -> [Path; 3] {
    TS_PATHS.map(|p| p.parse().expect("valid default path"))
}

fn bit_cell(b: &map::Bit, w: u64) -> Cell {
    let width = b.hi - b.lo + 1;
    let mask = if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    let v = (w >> b.lo) & mask;
    if b.lo == b.hi {
        Cell::Bool(v == 1)
    } else {
        Cell::Int(v as i64)
    }
}

fn push_int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(int_text(&mut [0u8; 20], n));
}

/// `n` in decimal, written at the end of `buf` (19 digits and a sign at the most).
fn int_text(buf: &mut [u8; 20], n: i64) -> &[u8] {
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Appends a leaf value's text: escapes decoded, bytes read in the message charset.
fn push_text(out: &mut String, raw: &[u8], sep: &Separators, cs: Charset) {
    if sep.escape.is_some_and(|e| raw.contains(&e)) {
        escape::decode_into(raw, sep, cs, out);
    } else {
        cs.decode_into(raw, out);
    }
}

/// JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(t: &[u8]) -> bool {
    let mut i = 0;
    let n = t.len();
    if i < n && t[i] == b'-' {
        i += 1;
    }
    let start = i;
    while i < n && t[i].is_ascii_digit() {
        i += 1;
    }
    let int_len = i - start;
    if int_len == 0 || (int_len > 1 && t[start] == b'0') {
        return false;
    }
    if i < n && t[i] == b'.' {
        i += 1;
        let f = i;
        while i < n && t[i].is_ascii_digit() {
            i += 1;
        }
        if i == f {
            return false;
        }
    }
    if i < n && (t[i] == b'e' || t[i] == b'E') {
        i += 1;
        if i < n && (t[i] == b'+' || t[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < n && t[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == n && n > 0
}

fn parse_int(raw: &[u8], scale: f64, offset: f64) -> Option<i64> {
    let t = std::str::from_utf8(raw.trim_ascii()).ok()?;
    let t = t.strip_prefix('+').unwrap_or(t);
    let x: f64 = match t.parse::<i64>() {
        Ok(n) if scale == 1.0 && offset == 0.0 => return Some(n),
        Ok(n) => n as f64,
        Err(_) => t.parse::<f64>().ok()?,
    };
    let y = x * scale + offset;
    (y.is_finite() && y.fract() == 0.0 && y.abs() < 9.0e18).then_some(y as i64)
}

fn parse_bool(raw: &[u8]) -> Option<bool> {
    let t = raw.trim_ascii();
    let eq = |s: &str| t.eq_ignore_ascii_case(s.as_bytes());
    if eq("1") || eq("true") || eq("t") || eq("y") || eq("yes") {
        Some(true)
    } else if eq("0") || eq("false") || eq("f") || eq("n") || eq("no") {
        Some(false)
    } else {
        None
    }
}

fn find_observation<'a>(segs: &[Segment<'a>], code: &[u8]) -> Option<Segment<'a>> {
    let sep = segs.first().map(|s| *s.separators())?;
    segs.iter()
        .find(|s| s.id() == b"OBX" && Obx::new(s, &sep).first(3) == code)
        .copied()
}

/// `OBX[k]` for the OBX segment `seg`.
fn obx_name(seg: &Segment<'_>, segs: &[Segment<'_>]) -> String {
    let k = segs
        .iter()
        .filter(|s| s.id() == b"OBX")
        .position(|s| s.offset() == seg.offset())
        .map_or(0, |k| k + 1);
    format!("OBX[{k}]")
}

/// Where a path was read, for the report: `OBX[k]-14` for the observation's own fields.
fn where_(p: &Path, obx: Option<&Segment<'_>>, segs: &[Segment<'_>]) -> String {
    match obx {
        Some(seg) if p.is_each(b"OBX") => {
            let mut q = p.clone();
            q.occurrence = Occurrence::Nth(
                segs.iter()
                    .filter(|s| s.id() == b"OBX")
                    .position(|s| s.offset() == seg.offset())
                    .map_or(1, |k| k + 1),
            );
            q.to_string()
        }
        _ => p.to_string(),
    }
}

/// Whether a message passes the map's filters (all of them).
fn passes(map: &Map, cx: &Context<'_, '_>) -> bool {
    map.filters.iter().all(|f| {
        let text = cx.get(&f.path, None).map(|v| v.text()).unwrap_or_default();
        let hit = match &f.test {
            FilterTest::Equals(list) => list.iter().any(|s| *s == text),
            FilterTest::Matches(re) => re.is_match(&text),
        };
        hit != f.not
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers() {
        for ok in ["0", "-1", "12.5", "1e5", "-0.25E-3", "26"] {
            assert!(is_json_number(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", "-", "01", ".5", "5.", "1e", "+1", "NaN", "inf", "1,5", " 1",
        ] {
            assert!(!is_json_number(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn integers_and_booleans() {
        assert_eq!(parse_int(b" 46 ", 1.0, 0.0), Some(46));
        assert_eq!(parse_int(b"+7", 1.0, 0.0), Some(7));
        assert_eq!(parse_int(b"46.0", 1.0, 0.0), Some(46));
        assert_eq!(parse_int(b"4.5", 2.0, 1.0), Some(10));
        assert_eq!(parse_int(b"4.5", 1.0, 0.0), None);
        assert_eq!(parse_int(b"1e300", 1.0, 0.0), None);
        assert_eq!(parse_int(b"abc", 1.0, 0.0), None);
        assert_eq!(parse_bool(b"Y"), Some(true));
        assert_eq!(parse_bool(b"false"), Some(false));
        assert_eq!(parse_bool(b"2"), None);
    }

    #[test]
    fn integers_as_text() {
        let mut buf = [0u8; 20];
        for n in [0, 7, -7, 1234567890, i64::MAX, i64::MIN] {
            assert_eq!(int_text(&mut buf, n), n.to_string().as_bytes());
        }
    }

    #[test]
    fn bits_and_ranges() {
        let bit = |lo, hi| map::Bit {
            name: String::new(),
            lo,
            hi,
        };
        // 46 = 0b101110
        assert_eq!(bit_cell(&bit(1, 1), 46), Cell::Bool(true));
        assert_eq!(bit_cell(&bit(0, 0), 46), Cell::Bool(false));
        assert_eq!(bit_cell(&bit(1, 3), 46), Cell::Int(7));
        assert_eq!(bit_cell(&bit(0, 63), u64::MAX), Cell::Int(-1));
    }

    #[test]
    fn obx_split() {
        let raw = b"MSH|^~\\&|A||||1||ORU^R01|1|P|2.5\rOBX|1|CE|3^Text^LN~R2||v|u^unit\rOBX\rOBX|";
        let m = Message::parse(raw).unwrap();
        let segs: Vec<_> = m.segments().collect();
        let sep = *m.separators();
        let o = Obx::new(&segs[1], &sep);
        assert_eq!(o.field(1), b"1");
        assert_eq!(o.first(3), b"3");
        assert_eq!(o.comp(3, 2), b"Text");
        assert_eq!(o.comp(3, 9), b"");
        assert_eq!(o.rep1(3), b"3^Text^LN");
        assert_eq!(o.first(6), b"u");
        assert_eq!(o.field(40), b"");
        assert_eq!(Obx::new(&segs[2], &sep).field(1), b"");
        assert_eq!(Obx::new(&segs[3], &sep).field(1), b"");
    }
}
