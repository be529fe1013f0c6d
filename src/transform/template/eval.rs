//! Rendering: one pass over the template tree per message, lookups straight into the
//! zero-copy message view.

use std::borrow::Cow;

use base64::Engine;
use jiff::Zoned;
use jiff::tz::TimeZone;
use serde_json::Value as Json;

use super::filters;
use super::{Cond, Escape, Expr, Filter, Key, LoopOver, LoopVar, Node, Source, Template};
use crate::model::charset::Charset;
use crate::model::message::{Level, Message, Segment, Separators, Value};
use crate::model::path::{Occurrence, Path};

/// What one rendering reads: an HL7 message, a JSON document, or both (an NDJSON line of
/// `hl7 parse` is both: its message, and the document for JSON paths).
#[derive(Clone, Copy, Default)]
pub struct Input<'r> {
    pub message: Option<Message<'r>>,
    pub json: Option<&'r Json>,
}

/// Something a rendering could not do, at a template expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The expression as written (`PID-7 | date("%Y")`), or empty for the whole rendering.
    pub path: String,
    pub what: String,
}

/// What a rendering noticed.
#[derive(Debug, Default)]
pub struct Rendering {
    /// Expressions whose value was missing or empty (without a `default`).
    pub missing: Vec<String>,
    /// Filters that failed (a bad date, bad base64...); their value rendered empty.
    pub problems: Vec<Problem>,
    /// The rendering holds bytes from `base64decode`: written exactly, nothing added.
    pub binary: bool,
    /// Nothing but whitespace was rendered: nothing was written.
    pub empty: bool,
}

/// The clock, time zone and counters of a run; renders templates.
pub struct Env {
    /// Local time zone: for timestamps without an offset, and `now`.
    pub local: TimeZone,
    /// Keys the `control_id` sequence.
    pub id_seed: u64,
    /// Collect missing values (for `--strict`).
    pub collect_missing: bool,
}

/// Renders templates, counting renderings (`counter`, `control_id`).
pub struct Renderer {
    env: Env,
    counter: u64,
    buf: Vec<u8>,
}

impl Renderer {
    pub fn new(env: Env) -> Renderer {
        Renderer {
            env,
            counter: 0,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Renders `t` for one input and appends the finished rendering to `out`: for HL7, each
    /// non-blank line as a segment ended by `\r` and a `\n` after the message; for JSON, the
    /// document on one line and `\n` (nothing, and a problem, when it is not valid JSON); for
    /// other text, as rendered with a `\n` added when it does not end with one; bytes from
    /// `base64decode` exactly. A rendering of only whitespace writes nothing.
    pub fn render(&mut self, t: &Template, input: Input<'_>, out: &mut Vec<u8>) -> Rendering {
        self.counter += 1;
        self.buf.clear();
        let mut ctx = Ctx {
            msg: input.message,
            segs: input
                .message
                .map(|m| m.segments().collect())
                .unwrap_or_default(),
            json: input.json,
            frames: Vec::new(),
            mode: t.escape,
            env: &self.env,
            counter: self.counter,
            control_id: None,
            now: None,
            r: Rendering::default(),
        };
        ctx.nodes(&t.nodes, &mut self.buf);
        let mut r = ctx.r;
        let buf = &self.buf;
        if buf.iter().all(u8::is_ascii_whitespace) {
            r.empty = true;
            return r;
        }
        match t.escape {
            Escape::Hl7 => {
                for line in buf.split(|&b| b == b'\r' || b == b'\n') {
                    if !line.iter().all(u8::is_ascii_whitespace) {
                        out.extend_from_slice(line);
                        out.push(b'\r');
                    }
                }
                out.push(b'\n');
            }
            Escape::Json => {
                let start = out.len();
                filters::minify_json(buf, out);
                if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&out[start..]) {
                    out.truncate(start);
                    r.problems.push(Problem {
                        path: String::new(),
                        what: format!("the rendering is not valid JSON ({e}); nothing written"),
                    });
                    r.empty = true;
                } else {
                    out.push(b'\n');
                }
            }
            Escape::None => {
                out.extend_from_slice(buf);
                if !r.binary && !buf.ends_with(b"\n") {
                    out.push(b'\n');
                }
            }
        }
        r
    }
}

/// How a text value is already encoded, which decides whether output escapes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Plain text: escaped for the output.
    Plain,
    /// HL7 text with its separators (a field with components), or escaped by the `hl7` filter:
    /// as is in HL7 output.
    Hl7,
    /// JSON (an object or array), or escaped by the `json` filter: as is in JSON output.
    Json,
    /// Marked by `raw`: never escaped.
    Done,
}

enum V<'r> {
    Missing,
    Hl7(Value<'r>),
    /// `OBX[*]-5`: one value per segment.
    Hl7s(Vec<Value<'r>>),
    Json(&'r Json),
    Str(Cow<'r, str>, Kind),
    Bytes(Vec<u8>),
}

enum Item<'r> {
    Seg(usize),
    Rep {
        seg: usize,
        field: usize,
        value: Value<'r>,
    },
    Json {
        name: &'r str,
        value: &'r Json,
    },
}

struct Frame<'r> {
    index: usize,
    len: usize,
    item: Item<'r>,
}

struct Ctx<'r, 'e> {
    msg: Option<Message<'r>>,
    segs: Vec<Segment<'r>>,
    json: Option<&'r Json>,
    frames: Vec<Frame<'r>>,
    mode: Escape,
    env: &'e Env,
    counter: u64,
    control_id: Option<String>,
    now: Option<Zoned>,
    r: Rendering,
}

/// Group level of a segment, for "the segments that belong to this one": a segment's block runs
/// to the next segment of its own id or of a higher level (an OBX's NTEs, an OBR's OBXs).
fn rank(id: &[u8]) -> u8 {
    match id {
        b"MSH" | b"FHS" | b"BHS" => 0,
        b"PID" => 1,
        b"ORC" => 2,
        b"OBR" => 3,
        _ => 4,
    }
}

impl<'r> Ctx<'r, '_> {
    fn nodes(&mut self, nodes: &'r [Node], out: &mut Vec<u8>) {
        for n in nodes {
            match n {
                Node::Text(t) => out.extend_from_slice(t),
                Node::Out(e) => {
                    let v = self.eval(e, true);
                    self.emit(v, e, out);
                }
                Node::Legacy { segment, field } => {
                    let v = self.legacy(*segment, *field);
                    if v.is_empty() && self.env.collect_missing {
                        self.r.missing.push(format!("{{{segment}-{field}}}"));
                    }
                    self.emit_text(&v, Kind::Hl7, out);
                }
                Node::If { arms, otherwise } => {
                    let body = arms
                        .iter()
                        .find(|(c, _)| self.cond(c))
                        .map_or(&otherwise[..], |(_, b)| &b[..]);
                    self.nodes(body, out);
                }
                Node::For { over, body } => self.for_loop(over, body, out),
            }
        }
    }

    fn for_loop(&mut self, over: &'r LoopOver, body: &'r [Node], out: &mut Vec<u8>) {
        let items: Vec<Item<'r>> = match over {
            LoopOver::Segments(id) => {
                // within the current segment's block when nested (an OBR's OBXs), else all
                let range = match self.innermost_seg() {
                    Some(i) => i + 1..self.block_end(i),
                    None => 0..self.segs.len(),
                };
                range
                    .filter(|&i| self.segs[i].id() == id)
                    .map(Item::Seg)
                    .collect()
            }
            LoopOver::Repetitions(p) => match self.resolve_segment(p) {
                Some(seg) => {
                    let field = p.field.unwrap_or(1);
                    match self.segs[seg].field(field) {
                        Some(f) if !f.is_empty() => f
                            .parts()
                            .map(|value| Item::Rep { seg, field, value })
                            .collect(),
                        _ => Vec::new(),
                    }
                }
                None => Vec::new(),
            },
            LoopOver::Json { name, path } => match self.json_lookup(path) {
                Some(Json::Array(a)) => a.iter().map(|value| Item::Json { name, value }).collect(),
                Some(Json::Null) | None => Vec::new(),
                Some(other) => vec![Item::Json { name, value: other }],
            },
        };
        let len = items.len();
        for (index, item) in items.into_iter().enumerate() {
            self.frames.push(Frame { index, len, item });
            self.nodes(body, out);
            self.frames.pop();
        }
    }

    fn innermost_seg(&self) -> Option<usize> {
        self.frames.iter().rev().find_map(|f| match f.item {
            Item::Seg(i) => Some(i),
            _ => None,
        })
    }

    fn block_end(&self, i: usize) -> usize {
        let id = self.segs[i].id();
        let r = rank(id);
        (i + 1..self.segs.len())
            .find(|&j| {
                let other = self.segs[j].id();
                other == id || rank(other) < r
            })
            .unwrap_or(self.segs.len())
    }

    /// The segment a path reads: its occurrence when written; else the loop's current segment
    /// of that id, one in the current segment's block (an OBX's NTE), the nearest one before
    /// the current segment (an OBX's OBR), or the first in the message.
    fn resolve_segment(&self, p: &Path) -> Option<usize> {
        let id = &p.segment[..];
        let nth = |k: usize| {
            self.segs
                .iter()
                .enumerate()
                .filter(|(_, s)| s.id() == id)
                .nth(k.checked_sub(1)?)
                .map(|(i, _)| i)
        };
        if let Occurrence::Nth(k) = p.occurrence {
            return nth(k);
        }
        let mut innermost = None;
        for f in self.frames.iter().rev() {
            let i = match f.item {
                Item::Seg(i) => i,
                Item::Rep { seg, .. } => seg,
                Item::Json { .. } => continue,
            };
            if self.segs[i].id() == id {
                return Some(i);
            }
            if let Item::Seg(i) = f.item {
                innermost.get_or_insert(i);
                if let Some(j) = (i + 1..self.block_end(i))
                    .find(|&j| self.segs[j].id() == id && !self.in_sibling_block(j))
                {
                    return Some(j);
                }
            }
        }
        // Outside the loop's own blocks: the nearest before the current segment (an OBX's OBR),
        // else the first in the message, but never one inside the block of another segment the
        // loops go over (the NTE of the previous OBX is not this OBX's).
        let candidates = innermost
            .map(|cur| {
                (0..cur)
                    .rev()
                    .find(|&j| self.segs[j].id() == id && !self.in_sibling_block(j))
            })
            .unwrap_or(None);
        candidates.or_else(|| {
            if innermost.is_none() {
                return nth(1);
            }
            (0..self.segs.len()).find(|&j| self.segs[j].id() == id && !self.in_sibling_block(j))
        })
    }

    /// True when segment `j` belongs to the block of another segment of an id some loop goes
    /// over (not the loop's current one).
    fn in_sibling_block(&self, j: usize) -> bool {
        self.frames.iter().any(|f| {
            let Item::Seg(i) = f.item else {
                return false;
            };
            let loop_id = self.segs[i].id();
            (0..j)
                .rev()
                .find(|&k| self.segs[k].id() == loop_id)
                .is_some_and(|k| k != i && self.block_end(k) > j)
        })
    }

    /// A path in segment `seg`, reading the current repetition of a repetition loop.
    fn get_in(&self, seg: usize, p: &Path) -> Option<Value<'r>> {
        if let (Some(field), None) = (p.field, p.repetition) {
            let rep = self.frames.iter().rev().find_map(|f| match f.item {
                Item::Rep {
                    seg: s,
                    field: fl,
                    value,
                } if s == seg && fl == field => Some(value),
                _ => None,
            });
            if let Some(rep) = rep {
                return Some(match (p.component, p.subcomponent) {
                    (None, _) => rep,
                    (Some(c), None) => rep.component(c),
                    (Some(c), Some(s)) => rep.component(c).subcomponent(s),
                });
            }
        }
        self.segs[seg].get(p)
    }

    fn lookup(&self, p: &Path) -> V<'r> {
        if p.occurrence == Occurrence::All {
            let vals: Vec<Value<'r>> = self
                .segs
                .iter()
                .filter(|s| s.id() == p.segment)
                .filter_map(|s| s.get(p))
                .collect();
            return if vals.is_empty() {
                V::Missing
            } else {
                V::Hl7s(vals)
            };
        }
        match self.resolve_segment(p).and_then(|i| self.get_in(i, p)) {
            Some(v) => V::Hl7(v),
            None => V::Missing,
        }
    }

    fn json_lookup(&self, keys: &[Key]) -> Option<&'r Json> {
        let (mut cur, rest) = match keys.first() {
            Some(Key::Name(n)) => match self.frames.iter().rev().find_map(|f| match f.item {
                Item::Json { name, value } if name == n => Some(value),
                _ => None,
            }) {
                Some(v) => (v, &keys[1..]),
                None => (self.json?, keys),
            },
            _ => (self.json?, keys),
        };
        for k in rest {
            cur = match k {
                Key::Name(n) => cur.get(n.as_str())?,
                Key::Index(i) => cur.get(*i)?,
            };
        }
        Some(cur)
    }

    fn source(&mut self, s: &'r Source) -> V<'r> {
        match s {
            Source::Path(p) => self.lookup(p),
            Source::ShortField(p) => match self.innermost_seg() {
                Some(i) => self.get_in(i, p).map_or(V::Missing, V::Hl7),
                None => V::Missing,
            },
            Source::ShortComponent {
                component,
                subcomponent,
            } => {
                let rep = self.frames.iter().rev().find_map(|f| match f.item {
                    Item::Rep { value, .. } => Some(value),
                    _ => None,
                });
                match (rep, component, subcomponent) {
                    (None, _, _) => V::Missing,
                    (Some(r), None, _) => V::Hl7(r),
                    (Some(r), Some(c), None) => V::Hl7(r.component(*c)),
                    (Some(r), Some(c), Some(s)) => V::Hl7(r.component(*c).subcomponent(*s)),
                }
            }
            Source::Json(keys) => self.json_lookup(keys).map_or(V::Missing, V::Json),
            Source::Str(s) => V::Str(Cow::Borrowed(s), Kind::Plain),
            Source::Now(fmt) => {
                let now = self
                    .now
                    .get_or_insert_with(|| Zoned::now().with_time_zone(self.env.local.clone()));
                let text = match fmt {
                    Some(f) => jiff::fmt::strtime::format(f, &*now).unwrap_or_default(),
                    None => filters::hl7_time(now),
                };
                V::Str(Cow::Owned(text), Kind::Plain)
            }
            Source::ControlId => {
                let (seed, n) = (self.env.id_seed, self.counter);
                let id = self.control_id.get_or_insert_with(|| {
                    let mut v = Vec::with_capacity(16);
                    crate::id::push_control_id(&mut v, seed, n);
                    String::from_utf8(v).unwrap_or_default()
                });
                V::Str(Cow::Owned(id.clone()), Kind::Plain)
            }
            Source::Counter => V::Str(Cow::Owned(self.counter.to_string()), Kind::Plain),
            Source::Loop(var) => {
                let Some(f) = self.frames.last() else {
                    return V::Missing;
                };
                let text = match var {
                    LoopVar::Index => (f.index + 1).to_string(),
                    LoopVar::Index0 => f.index.to_string(),
                    LoopVar::Length => f.len.to_string(),
                    LoopVar::First => bool_text(f.index == 0),
                    LoopVar::Last => bool_text(f.index + 1 == f.len),
                };
                V::Str(Cow::Owned(text), Kind::Plain)
            }
        }
    }

    fn is_empty(v: &V<'_>) -> bool {
        match v {
            V::Missing => true,
            V::Hl7(x) => x.is_empty(),
            V::Hl7s(x) => x.iter().all(|v| v.is_empty()),
            V::Json(j) => matches!(j, Json::Null) || j.as_str() == Some(""),
            V::Str(s, _) => s.is_empty(),
            V::Bytes(b) => b.is_empty(),
        }
    }

    /// Evaluates an expression; `note` records a missing value.
    fn eval(&mut self, e: &'r Expr, note: bool) -> V<'r> {
        let mut v = self.source(&e.src);
        if note && !e.optional && self.env.collect_missing && Self::is_empty(&v) {
            self.r.missing.push(e.label.clone());
        }
        for f in &e.filters {
            v = self.filter(f, v, e);
        }
        v
    }

    /// The text of a value and how it is encoded.
    fn text(&self, v: &V<'r>) -> (Cow<'r, str>, Kind) {
        match v {
            V::Missing => (Cow::Borrowed(""), Kind::Plain),
            V::Hl7(x) if x.level == Level::Atom || x.is_leaf() => (x.text(), Kind::Plain),
            V::Hl7(x) => (self.hl7_text(x), Kind::Hl7),
            V::Hl7s(xs) => {
                let mut out = Vec::new();
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        out.push(b'~');
                    }
                    restructure(x, &mut out);
                }
                (
                    Cow::Owned(String::from_utf8(out).unwrap_or_default()),
                    Kind::Hl7,
                )
            }
            V::Json(j) => match j {
                Json::String(s) => (Cow::Borrowed(s.as_str()), Kind::Plain),
                Json::Null => (Cow::Borrowed(""), Kind::Plain),
                Json::Bool(_) | Json::Number(_) => (Cow::Owned(j.to_string()), Kind::Plain),
                _ => (Cow::Owned(j.to_string()), Kind::Json),
            },
            V::Str(s, k) => (s.clone(), *k),
            V::Bytes(b) => (
                Cow::Owned(String::from_utf8_lossy(b).into_owned()),
                Kind::Plain,
            ),
        }
    }

    /// The HL7 text of a value with structure, in the standard delimiters `|^~\&` the output
    /// uses: as written when the message uses them too, else rebuilt (delimiters swapped, each
    /// leaf escaped again), so a field copied from a `MSH*^~\&*` message keeps its structure.
    fn hl7_text(&self, x: &Value<'r>) -> Cow<'r, str> {
        if self
            .msg
            .is_none_or(|m| *m.separators() == Separators::default())
        {
            return x.text();
        }
        let mut out = Vec::new();
        restructure(x, &mut out);
        Cow::Owned(String::from_utf8(out).unwrap_or_default())
    }

    fn problem(&mut self, e: &Expr, what: String) {
        self.r.problems.push(Problem {
            path: e.label.clone(),
            what,
        });
    }

    fn list(&self, v: V<'r>) -> Vec<V<'r>> {
        match v {
            V::Missing => Vec::new(),
            V::Hl7(x) if x.level == Level::Field => {
                if x.is_empty() {
                    Vec::new()
                } else {
                    x.parts().map(V::Hl7).collect()
                }
            }
            V::Hl7s(xs) => xs.into_iter().map(V::Hl7).collect(),
            V::Json(Json::Array(a)) => a.iter().map(V::Json).collect(),
            other => vec![other],
        }
    }

    fn filter(&mut self, f: &'r Filter, v: V<'r>, e: &'r Expr) -> V<'r> {
        let map = |ctx: &Self, v: &V<'r>, g: &dyn Fn(&str) -> String| {
            let (t, k) = ctx.text(v);
            V::Str(Cow::Owned(g(&t)), k)
        };
        match f {
            Filter::Default(d) => {
                if Self::is_empty(&v) {
                    self.eval(d, false)
                } else {
                    v
                }
            }
            Filter::Upper => map(self, &v, &|s| s.to_uppercase()),
            Filter::Lower => map(self, &v, &|s| s.to_lowercase()),
            Filter::Trim => map(self, &v, &|s| s.trim().to_string()),
            Filter::Replace(a, b) => map(self, &v, &|s| s.replace(a.as_str(), b)),
            Filter::ReReplace(re, b) => {
                map(self, &v, &|s| re.replace_all(s, b.as_str()).into_owned())
            }
            Filter::Date(fmt, zone) => {
                let (t, _) = self.text(&v);
                if t.trim().is_empty() {
                    return V::Missing;
                }
                match filters::date(&t, fmt, zone.as_ref(), &self.env.local) {
                    Ok(s) => V::Str(Cow::Owned(s), Kind::Plain),
                    Err(why) => {
                        self.problem(e, why);
                        V::Missing
                    }
                }
            }
            Filter::Hl7 => {
                let (t, _) = self.text(&v);
                let mut out = Vec::with_capacity(t.len());
                hl7_escape(&t, &mut out);
                V::Str(
                    Cow::Owned(String::from_utf8(out).unwrap_or_default()),
                    Kind::Hl7,
                )
            }
            Filter::Json => {
                let (t, _) = self.text(&v);
                let mut out = Vec::with_capacity(t.len());
                filters::json_escape(&t, &mut out);
                V::Str(
                    Cow::Owned(String::from_utf8(out).unwrap_or_default()),
                    Kind::Json,
                )
            }
            Filter::Raw => match v {
                V::Bytes(b) => V::Bytes(b),
                v => {
                    let (t, _) = self.text(&v);
                    V::Str(t, Kind::Done)
                }
            },
            Filter::Base64Decode => {
                let (t, _) = self.text(&v);
                let clean: Vec<u8> = t.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
                match base64::engine::general_purpose::STANDARD.decode(&clean) {
                    Ok(b) => V::Bytes(b),
                    Err(err) => {
                        self.problem(e, format!("base64decode: not base64 ({err})"));
                        V::Missing
                    }
                }
            }
            Filter::Base64Encode => {
                let enc = match &v {
                    V::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
                    other => base64::engine::general_purpose::STANDARD
                        .encode(self.text(other).0.as_bytes()),
                };
                V::Str(Cow::Owned(enc), Kind::Plain)
            }
            Filter::First => self.list(v).into_iter().next().unwrap_or(V::Missing),
            Filter::Last => self.list(v).into_iter().last().unwrap_or(V::Missing),
            Filter::Join(sep) => {
                let items = self.list(v);
                let mut s = String::new();
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        s.push_str(sep);
                    }
                    s.push_str(&self.text(it).0);
                }
                V::Str(Cow::Owned(s), Kind::Plain)
            }
        }
    }

    fn emit(&mut self, v: V<'r>, e: &Expr, out: &mut Vec<u8>) {
        if let V::Bytes(b) = &v {
            if self.mode == Escape::None {
                out.extend_from_slice(b);
                self.r.binary = true;
                return;
            }
            if let Ok(s) = std::str::from_utf8(b) {
                self.emit_text(s, Kind::Plain, out);
            } else {
                self.problem(
                    e,
                    "base64decode gave binary data, which only --escape none output can hold"
                        .into(),
                );
            }
            return;
        }
        let (t, k) = self.text(&v);
        self.emit_text(&t, k, out);
    }

    fn emit_text(&self, t: &str, k: Kind, out: &mut Vec<u8>) {
        match (self.mode, k) {
            (_, Kind::Done)
            | (Escape::None, _)
            | (Escape::Hl7, Kind::Hl7)
            | (Escape::Json, Kind::Json) => out.extend_from_slice(t.as_bytes()),
            (Escape::Hl7, _) => hl7_escape(t, out),
            (Escape::Json, _) => filters::json_escape(t, out),
        }
    }

    fn legacy(&self, segment: usize, field: usize) -> String {
        let Some(seg) = self.segs.get(segment) else {
            return String::new();
        };
        let (fs, cs) = self.msg.map_or((b'|', Charset::Utf8), |m| {
            (m.separators().field, m.charset())
        });
        seg.bytes()
            .split(|&b| b == fs)
            .nth(field)
            .map(|raw| cs.decode(raw).0.into_owned())
            .unwrap_or_default()
    }

    fn cond(&mut self, c: &'r Cond) -> bool {
        match c {
            Cond::Or(a, b) => self.cond(a) || self.cond(b),
            Cond::And(a, b) => self.cond(a) && self.cond(b),
            Cond::Not(a) => !self.cond(a),
            Cond::Eq(a, b) | Cond::Ne(a, b) => {
                let x = self.eval(a, false);
                let y = self.eval(b, false);
                let same = self.text(&x).0 == self.text(&y).0;
                same == matches!(c, Cond::Eq(..))
            }
            Cond::Truthy(a) => {
                let v = self.eval(a, false);
                match v {
                    V::Json(Json::Bool(b)) => *b,
                    V::Json(Json::Array(a)) => !a.is_empty(),
                    V::Json(Json::Object(o)) => !o.is_empty(),
                    other => !Self::is_empty(&other),
                }
            }
        }
    }
}

fn bool_text(b: bool) -> String {
    if b { "true".into() } else { String::new() }
}

/// Writes a value as HL7 text with the standard delimiters: repetitions joined by `~`,
/// components by `^`, subcomponents by `&`, leaves decoded and escaped again.
fn restructure(v: &Value<'_>, out: &mut Vec<u8>) {
    let sep = match v.level {
        Level::Field => b'~',
        Level::Repetition => b'^',
        Level::Component => b'&',
        Level::Atom | Level::Subcomponent => 0,
    };
    if sep == 0 || v.is_leaf() {
        hl7_escape(&v.text(), out);
        return;
    }
    for (i, p) in v.parts().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        if p.level == v.level {
            // nothing to split at this level (no such delimiter declared)
            hl7_escape(&p.text(), out);
        } else {
            restructure(&p, out);
        }
    }
}

/// HL7 escapes for the standard delimiters `|^~\&`, CR and LF.
fn hl7_escape(t: &str, out: &mut Vec<u8>) {
    if !t
        .bytes()
        .any(|b| matches!(b, b'|' | b'^' | b'~' | b'\\' | b'&' | b'\r' | b'\n'))
    {
        out.extend_from_slice(t.as_bytes());
        return;
    }
    let _ = crate::model::escape::encode_into(t, &Separators::default(), Charset::Utf8, out);
}
