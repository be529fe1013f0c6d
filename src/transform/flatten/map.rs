//! The TOML map of `hl7 flatten --map`: loading and validation. Every error names the line and
//! column of the TOML file it comes from, and is found before any input is read.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use regex::Regex;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use toml::Spanned;

use crate::model::path::{DotStyle, Path};
use crate::time::zoned as time;

/// A map error: where in the TOML file and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapError {
    /// The file name as given (or `<map>`).
    pub file: String,
    /// 1-based line and column, when the error has a place in the file.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub what: String,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.what),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.what),
            _ => write!(f, "{}: {}", self.file, self.what),
        }
    }
}

impl std::error::Error for MapError {}

/// The declared type of a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarType {
    Float,
    Int,
    Bool,
    String,
}

impl VarType {
    fn parse(s: &str) -> Option<VarType> {
        Some(match s {
            "float" | "double" | "number" => VarType::Float,
            "int" | "integer" | "long" => VarType::Int,
            "bool" | "boolean" => VarType::Bool,
            "string" | "text" => VarType::String,
            _ => return None,
        })
    }
}

/// What to do with an OBX the map does not name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Unmapped {
    /// Write it anyway (long: a row with its code as the variable; wide: a column named by the
    /// sanitising rule).
    #[default]
    Keep,
    /// Leave it out silently.
    Drop,
    /// Leave it out and say so on stderr.
    Warn,
}

// ---------------------------------------------------------------------------------------------
// The TOML as written (serde), before validation.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    table: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    unmapped: Option<Spanned<String>>,
    dot_style: Option<Spanned<String>>,
    variant_separator: Option<Spanned<String>>,
    timestamp: Option<Spanned<RawTimestamp>>,
    setting: Option<Spanned<RawSetting>>,
    #[serde(default)]
    filter: Vec<Spanned<RawFilter>>,
    #[serde(default)]
    tags: Ordered<Spanned<RawDerived>>,
    #[serde(default)]
    columns: Ordered<Spanned<RawDerived>>,
    #[serde(default)]
    units: Ordered<Spanned<String>>,
    #[serde(default)]
    codes: Ordered<Spanned<Ordered<Spanned<String>>>>,
    #[serde(default)]
    variants: Ordered<Spanned<String>>,
    long: Option<Spanned<RawLong>>,
    #[serde(default)]
    variable: Vec<Spanned<RawVariable>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimestamp {
    column: Option<Spanned<String>>,
    paths: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSetting {
    path: Spanned<String>,
    #[serde(default = "setting_word")]
    equals: String,
}

fn setting_word() -> String {
    "SETTING".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilter {
    path: Spanned<String>,
    equals: Option<String>,
    #[serde(rename = "in")]
    one_of: Option<Vec<String>>,
    matches: Option<Spanned<String>>,
    #[serde(default)]
    not: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLong {
    columns: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDerivedFull {
    path: Option<Spanned<String>>,
    paths: Option<Vec<Spanned<String>>>,
    separator: Option<String>,
    observation: Option<Spanned<String>>,
    regex: Option<Spanned<String>>,
    replace: Option<String>,
    default: Option<String>,
}

/// A derived column: a path, or a table.
struct RawDerived(RawDerivedFull);

impl<'de> Deserialize<'de> for RawDerived {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDerived;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field path like \"PID-3.1\", or a table with path, paths, observation, separator, regex, replace, default")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDerived, E> {
                Ok(RawDerived(RawDerivedFull {
                    path: Some(Spanned::new(0..0, v.to_string())),
                    ..Default::default()
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<RawDerived, A::Error> {
                RawDerivedFull::deserialize(de::value::MapAccessDeserializer::new(m))
                    .map(RawDerived)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    code: Spanned<String>,
    sub_id: Option<String>,
    app: Option<String>,
    name: Spanned<String>,
    label: Option<String>,
    #[serde(rename = "type")]
    ty: Option<Spanned<String>>,
    scale: Option<f64>,
    offset: Option<f64>,
    unit: Option<String>,
    codes: Option<Spanned<CodesRef>>,
    #[serde(default)]
    variants: Vec<Spanned<String>>,
    #[serde(default)]
    bits: Ordered<Spanned<BitSpec>>,
    raw: Option<bool>,
}

enum CodesRef {
    Named(String),
    Inline(Ordered<Spanned<String>>),
}

impl<'de> Deserialize<'de> for CodesRef {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CodesRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "the name of a [codes.NAME] table, or an inline table of code = meaning",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CodesRef, E> {
                Ok(CodesRef::Named(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<CodesRef, A::Error> {
                Ordered::deserialize(de::value::MapAccessDeserializer::new(m)).map(CodesRef::Inline)
            }
        }
        d.deserialize_any(V)
    }
}

/// A bit (`3`) or an inclusive bit range (`"4-6"`).
enum BitSpec {
    Bit(i64),
    Range(String),
}

impl<'de> Deserialize<'de> for BitSpec {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BitSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a bit number (0 is the least significant) or a range like \"4-6\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<BitSpec, E> {
                Ok(BitSpec::Bit(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<BitSpec, E> {
                Ok(BitSpec::Bit(v.min(i64::MAX as u64) as i64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BitSpec, E> {
                Ok(BitSpec::Range(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A TOML table read in document order (serde's maps would sort or hash it).
struct Ordered<T>(Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered<T>, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, T>()? {
                    v.push((k, val));
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

// ---------------------------------------------------------------------------------------------
// The validated map.

/// A value taken from the message: one path, several concatenated, or the value of a named
/// observation; then a regex replace and a default.
#[derive(Clone, Debug)]
pub(crate) struct Derived {
    pub name: String,
    pub source: Source,
    pub separator: String,
    pub regex: Option<(Regex, String)>,
    pub default: Option<String>,
    /// True when a path names the observation itself (bare `OBX-n`): a per-observation column.
    pub per_obx: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Source {
    Paths(Vec<Path>),
    /// OBX-5 of the first OBX whose OBX-3.1 is this code.
    Observation(String),
}

#[derive(Clone, Debug)]
pub(crate) struct Filter {
    pub path: Path,
    pub test: FilterTest,
    pub not: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum FilterTest {
    Equals(Vec<String>),
    Matches(Regex),
}

#[derive(Clone, Debug)]
pub(crate) struct Bit {
    pub name: String,
    pub lo: u32,
    pub hi: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct Variable {
    pub sub_id: Option<String>,
    pub app: Option<String>,
    pub ty: VarType,
    pub scale: f64,
    pub offset: f64,
    pub unit: Option<String>,
    /// Index into `Map::code_tables`.
    pub codes: Option<usize>,
    pub bits: Vec<Bit>,
    pub raw: bool,
}

/// One thing an OBX can be: a variable, or one of its variants (`1414-UpperAlarmLimit`).
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub var: usize,
    /// The variant suffix as written in OBX-3 (`UpperAlarmLimit`), if this is a variant.
    pub variant: Option<String>,
    /// The column name (wide) and variable name (long).
    pub name: String,
    pub label: String,
    /// OBX-3.1 as it appears: `1414` or `1414-UpperAlarmLimit`.
    pub id: String,
}

/// The long shape's columns about the observation, in order; `[long] columns` picks some.
pub const LONG_BUILTINS: [&str; 10] = [
    "variable",
    "variable_id",
    "label",
    "setting",
    "value",
    "text",
    "meaning",
    "unit",
    "unit_code",
    "sub_id",
];

/// A column of the output, with its type: what `CREATE TABLE` needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
}

/// Column types, as QuestDB stores them: what a map declares and what `ilp` sends (the one
/// column-type enum of the library; `transform::ilp` re-exports it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// The designated timestamp (RFC 3339 UTC text in the rows).
    Timestamp,
    /// A tag: a QuestDB SYMBOL (an ILP tag).
    Symbol,
    String,
    Float,
    Int,
    Bool,
}

impl ColumnType {
    /// The QuestDB type name: TIMESTAMP, SYMBOL, VARCHAR, DOUBLE, LONG, BOOLEAN.
    pub fn questdb(self) -> &'static str {
        match self {
            ColumnType::Timestamp => "TIMESTAMP",
            ColumnType::Symbol => "SYMBOL",
            ColumnType::String => "VARCHAR",
            ColumnType::Float => "DOUBLE",
            ColumnType::Int => "LONG",
            ColumnType::Bool => "BOOLEAN",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.questdb())
    }
}

impl From<VarType> for ColumnType {
    fn from(t: VarType) -> ColumnType {
        match t {
            VarType::Float => ColumnType::Float,
            VarType::Int => ColumnType::Int,
            VarType::Bool => ColumnType::Bool,
            VarType::String => ColumnType::String,
        }
    }
}

/// The two shapes of rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One row per observation (the default).
    Long,
    /// One row per message, one column per variable.
    Wide,
}

/// A loaded and checked `flatten` map.
///
/// What `hl7 ilp` (or any consumer of the rows) needs is here:
/// - [`Map::table`]: the QuestDB table name;
/// - [`Map::tags`]: the tag columns (QuestDB `SYMBOL`s; ILP tags) the map defines; the long
///   shape adds `variable` and `variable_id` ([`Map::symbols`] gives both lists);
/// - [`Map::timestamp_column`]: the designated timestamp column (RFC 3339 UTC text in rows);
/// - [`Map::dedup_keys`]: the columns that identify a row, for `DEDUP UPSERT KEYS`:
///   wide = timestamp + tags; long = timestamp + tags + `variable`;
/// - [`Map::columns`]: every output column of a shape with its [`ColumnType`], in output order,
///   for `CREATE TABLE`.
///
/// ```
/// use hl7::transform::flatten::{ColumnType, Map, Shape};
/// let map = Map::parse(r#"
/// table = "vent"
/// [tags]
/// serial = { observation = "1913" }
/// [[variable]]
/// code = "1414"
/// name = "ppeak"
/// variants = ["UpperAlarmLimit"]
/// "#, "example.toml").unwrap();
/// assert_eq!(map.table(), "vent");
/// assert_eq!(map.timestamp_column(), "ts");
/// assert_eq!(map.symbols(Shape::Wide), ["serial"]);
/// assert_eq!(map.dedup_keys(Shape::Wide), ["ts", "serial"]);
/// assert_eq!(map.dedup_keys(Shape::Long), ["ts", "serial", "variable"]);
/// let wide: Vec<(String, ColumnType)> =
///     map.columns(Shape::Wide).into_iter().map(|c| (c.name, c.ty)).collect();
/// assert_eq!(wide[2], ("ppeak".to_string(), ColumnType::Float));
/// assert_eq!(wide[3], ("ppeak_upper_alarm_limit".to_string(), ColumnType::Float));
/// let e = Map::parse("[tags]\nx = \"PID-0\"\n", "bad.toml").unwrap_err();
/// assert_eq!((e.line, e.to_string().starts_with("bad.toml:2:")), (Some(2), true));
/// ```
#[derive(Clone, Debug)]
pub struct Map {
    pub(crate) table: String,
    pub(crate) timezone: Option<String>,
    pub(crate) unmapped: Unmapped,
    pub(crate) ts_column: String,
    pub(crate) ts_paths: Vec<Path>,
    pub(crate) setting: Option<(Path, String)>,
    pub(crate) filters: Vec<Filter>,
    pub(crate) tags: Vec<Derived>,
    pub(crate) columns: Vec<Derived>,
    pub(crate) units: HashMap<String, String>,
    pub(crate) code_tables: Vec<HashMap<String, String>>,
    pub(crate) variables: Vec<Variable>,
    pub(crate) entries: Vec<Entry>,
    /// OBX-3.1 -> candidate entries (more than one when OBX-4 or MSH-3 tell them apart).
    pub(crate) by_id: HashMap<Vec<u8>, Vec<usize>, FastHash>,
    pub(crate) long_builtins: Vec<&'static str>,
}

/// FNV-1a: observation ids are short and come from a map the user wrote, so a fast hash
/// without flooding protection is fine (one lookup per observation is the hot path).
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub(crate) type FastHash = std::hash::BuildHasherDefault<Fnv>;

/// The default name of the timestamp column.
pub const TS_COLUMN: &str = "ts";

/// The default timestamp rule: the observation's time, else the request's, else the message's.
pub const TS_PATHS: [&str; 3] = ["OBX-14", "OBR-7", "MSH-7"];

/// What every check needs: the file (for errors and their lines) and how dot paths read.
struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    dot: DotStyle,
}

impl Ctx<'_> {
    fn at(&self, span: Range<usize>, what: impl Into<String>) -> MapError {
        if span.start == 0 && span.end == 0 {
            return MapError {
                file: self.file.to_string(),
                line: None,
                column: None,
                what: what.into(),
            };
        }
        self.pos(span.start, what)
    }
    fn pos(&self, offset: usize, what: impl Into<String>) -> MapError {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        MapError {
            file: self.file.to_string(),
            line: Some(before.matches('\n').count() + 1),
            column: Some(before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1),
            what: what.into(),
        }
    }
    fn err<T>(&self, s: &Spanned<T>, what: impl Into<String>) -> MapError {
        self.at(s.span(), what)
    }
    /// A field path of the map, read with its `dot_style`.
    fn path(&self, s: &Spanned<String>) -> Result<Path, MapError> {
        Path::parse_with(s.get_ref(), self.dot).map_err(|e| self.err(s, e.to_string()))
    }
    fn regex(&self, s: &Spanned<String>) -> Result<Regex, MapError> {
        Regex::new(s.get_ref()).map_err(|e| {
            // The regex crate's message draws the pattern over several lines; the last says what.
            let msg = e
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string();
            self.err(s, format!("bad regex: {msg}"))
        })
    }
}

/// Column names must be usable in QuestDB and SQL without quoting.
pub fn valid_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && s.len() <= 127
}

/// The column name `hl7 flatten` makes from an observation id it has no name for (unmapped
/// observations in wide rows): `obx_` then the id with every character other than an ASCII
/// letter, digit or `_` replaced by `_`: `1414-UpperAlarmLimit` -> `obx_1414_UpperAlarmLimit`.
pub fn sanitize(id: &str) -> String {
    let mut s = String::with_capacity(id.len() + 4);
    s.push_str("obx_");
    s.extend(id.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    s
}

/// `UpperAlarmLimit` -> `Upper Alarm Limit`.
fn words(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() && !out.ends_with(' ') {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// `UpperAlarmLimit` -> `upper_alarm_limit`.
fn snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out
}

impl Map {
    /// Reads and checks a map file.
    pub fn load(path: &std::path::Path) -> Result<Map, MapError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| MapError {
            file: name.clone(),
            line: None,
            column: None,
            what: format!("cannot read the map: {e}"),
        })?;
        Map::parse(&text, &name)
    }

    /// Checks a map given as text; `file` names it in errors. The sections are checked in
    /// the order below, and the first error found is the one reported.
    pub fn parse(text: &str, file: &str) -> Result<Map, MapError> {
        let mut cx = Ctx {
            file,
            text,
            dot: DotStyle::Refuse,
        };
        let raw: RawMap = toml::from_str(text).map_err(|e| {
            let what = e.message().trim().to_string();
            match e.span() {
                Some(s) => cx.pos(s.start, what),
                None => cx.at(0..0, what),
            }
        })?;
        cx.dot = dot_style(&cx, &raw)?;
        let settings = settings(&cx, &raw)?;
        let (ts_column, ts_paths) = timestamp(&cx, &raw)?;
        let setting = match &raw.setting {
            Some(s) => Some((cx.path(&s.get_ref().path)?, s.get_ref().equals.clone())),
            None => None,
        };
        let filters = filters(&cx, &raw)?;
        let tags = derived_columns(&cx, &raw.tags)?;
        let columns = derived_columns(&cx, &raw.columns)?;
        let units = raw
            .units
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v.get_ref().clone()))
            .collect();
        let mut vars = Variables::new(&cx, &raw, settings.variant_sep)?;
        vars.names.claim(
            &cx,
            &ts_column,
            raw.timestamp.as_ref().map_or(0..0, |t| t.span()),
        )?;
        for (d, (_, s)) in tags
            .iter()
            .zip(&raw.tags.0)
            .chain(columns.iter().zip(&raw.columns.0))
        {
            vars.names.claim(&cx, &d.name, s.span())?;
        }
        for sv in &raw.variable {
            vars.variable(sv)?;
        }
        vars.check_twins(&raw)?;
        let long_builtins = long_columns(&cx, &raw)?;
        let map = Map {
            table: settings.table,
            timezone: settings.timezone,
            unmapped: settings.unmapped,
            ts_column,
            ts_paths,
            setting,
            filters,
            tags,
            columns,
            units,
            code_tables: vars.code_tables,
            variables: vars.variables,
            entries: vars.entries,
            by_id: vars.by_id,
            long_builtins,
        };
        check_long_clashes(&cx, &raw, &map)?;
        Ok(map)
    }
}

/// `dot_style`: how the map's dot paths with three numbers read.
fn dot_style(cx: &Ctx, raw: &RawMap) -> Result<DotStyle, MapError> {
    let Some(s) = &raw.dot_style else {
        return Ok(DotStyle::Refuse);
    };
    Ok(match s.get_ref().as_str() {
        "refuse" => DotStyle::Refuse,
        "field" => DotStyle::FieldComponent,
        "occurrence" => DotStyle::OccurrenceField,
        "repetition" => DotStyle::FieldRepetition,
        _ => {
            return Err(cx.err(
                s,
                "dot_style must be refuse, field, occurrence or repetition",
            ));
        }
    })
}

/// The top-level settings besides `dot_style`.
struct Settings {
    table: String,
    timezone: Option<String>,
    unmapped: Unmapped,
    variant_sep: String,
}

/// `table`, `timezone`, `unmapped` and `variant_separator`.
fn settings(cx: &Ctx, raw: &RawMap) -> Result<Settings, MapError> {
    let table = match &raw.table {
        Some(t) if !valid_name(t.get_ref()) => {
            return Err(cx.err(
                t,
                "the table name must be letters, digits and _ (not starting with a digit)",
            ));
        }
        Some(t) => t.get_ref().clone(),
        None => "observations".to_string(),
    };
    let timezone = match &raw.timezone {
        Some(z) => {
            if time::zone(z.get_ref()).is_none() {
                return Err(cx.err(
                    z,
                    format!(
                        "unknown time zone '{}' (an IANA name like Europe/Oslo, or UTC)",
                        z.get_ref()
                    ),
                ));
            }
            Some(z.get_ref().clone())
        }
        None => None,
    };
    let unmapped = match &raw.unmapped {
        None => Unmapped::Keep,
        Some(u) => match u.get_ref().as_str() {
            "keep" => Unmapped::Keep,
            "drop" => Unmapped::Drop,
            "warn" => Unmapped::Warn,
            _ => return Err(cx.err(u, "unmapped must be \"keep\", \"drop\" or \"warn\"")),
        },
    };
    let variant_sep = match &raw.variant_separator {
        Some(s) if s.get_ref().is_empty() => {
            return Err(cx.err(s, "variant_separator must not be empty"));
        }
        Some(s) => s.get_ref().clone(),
        None => "-".to_string(),
    };
    Ok(Settings {
        table,
        timezone,
        unmapped,
        variant_sep,
    })
}

/// `[timestamp]`: the column name and the paths tried in turn.
fn timestamp(cx: &Ctx, raw: &RawMap) -> Result<(String, Vec<Path>), MapError> {
    let (mut column, mut paths) = (TS_COLUMN.to_string(), Vec::new());
    if let Some(t) = &raw.timestamp {
        let t = t.get_ref();
        if let Some(c) = &t.column {
            if !valid_name(c.get_ref()) {
                return Err(cx.err(
                    c,
                    "a column name must be letters, digits and _ (not starting with a digit)",
                ));
            }
            column = c.get_ref().clone();
        }
        if let Some(ps) = &t.paths {
            if ps.is_empty() {
                return Err(cx.at(
                    raw.timestamp.as_ref().map_or(0..0, |t| t.span()),
                    "timestamp.paths needs at least one path",
                ));
            }
            for p in ps {
                paths.push(cx.path(p)?);
            }
        }
    }
    if paths.is_empty() {
        paths = TS_PATHS
            .iter()
            .map(|p| p.parse().expect("valid default"))
            .collect();
    }
    Ok((column, paths))
}

/// `[[filter]]`: the tests a message must pass.
fn filters(cx: &Ctx, raw: &RawMap) -> Result<Vec<Filter>, MapError> {
    let mut filters = Vec::new();
    for f in &raw.filter {
        let r = f.get_ref();
        let test = match (&r.equals, &r.one_of, &r.matches) {
            (Some(e), None, None) => FilterTest::Equals(vec![e.clone()]),
            (None, Some(l), None) => FilterTest::Equals(l.clone()),
            (None, None, Some(m)) => FilterTest::Matches(cx.regex(m)?),
            _ => return Err(cx.err(f, "a filter needs exactly one of equals, in, matches")),
        };
        filters.push(Filter {
            path: cx.path(&r.path)?,
            test,
            not: r.not,
        });
    }
    Ok(filters)
}

/// `[tags]` or `[columns]`: values taken from the message.
fn derived_columns(
    cx: &Ctx,
    table: &Ordered<Spanned<RawDerived>>,
) -> Result<Vec<Derived>, MapError> {
    table.0.iter().map(|(k, d)| derived(cx, k, d)).collect()
}

fn derived(cx: &Ctx, name: &str, d: &Spanned<RawDerived>) -> Result<Derived, MapError> {
    let r = &d.get_ref().0;
    if !valid_name(name) {
        return Err(cx.err(
            d,
            format!(
                "column name '{name}' must be letters, digits and _ (not starting with a digit)"
            ),
        ));
    }
    // A column given as a bare path has no span of its own: errors point at the column.
    let spanned = |s: &Spanned<String>| {
        if s.span() == (0..0) {
            Spanned::new(d.span(), s.get_ref().clone())
        } else {
            s.clone()
        }
    };
    let source = match (&r.path, &r.paths, &r.observation) {
        (Some(p), None, None) => Source::Paths(vec![cx.path(&spanned(p))?]),
        (None, Some(ps), None) if !ps.is_empty() => {
            Source::Paths(ps.iter().map(|p| cx.path(p)).collect::<Result<_, _>>()?)
        }
        (None, None, Some(o)) => Source::Observation(o.get_ref().clone()),
        _ => {
            return Err(cx.err(
                d,
                format!(
                    "column '{name}' needs exactly one of path, paths (non-empty), observation"
                ),
            ));
        }
    };
    let per_obx = matches!(&source, Source::Paths(ps) if ps.iter().any(|p| p.is_each(b"OBX")));
    let regex = match &r.regex {
        Some(re) => Some((cx.regex(re)?, r.replace.clone().unwrap_or_default())),
        None if r.replace.is_some() => {
            return Err(cx.err(d, format!("column '{name}': replace needs a regex")));
        }
        None => None,
    };
    Ok(Derived {
        name: name.to_string(),
        source,
        separator: r.separator.clone().unwrap_or_else(|| " ".into()),
        regex,
        default: r.default.clone(),
        per_obx,
    })
}

/// Every column name of either shape, to catch one used twice: name -> where.
#[derive(Default)]
struct Names(HashMap<String, Range<usize>>);

impl Names {
    fn claim(&mut self, cx: &Ctx, name: &str, span: Range<usize>) -> Result<(), MapError> {
        if let Some(prev) = self.0.get(name) {
            let prev_line = cx
                .at(prev.clone(), "")
                .line
                .map_or(String::new(), |l| format!(" (line {l})"));
            return Err(cx.at(
                span,
                format!("column name '{name}' is used twice{prev_line}"),
            ));
        }
        self.0.insert(name.to_string(), span);
        Ok(())
    }
}

/// The `[[variable]]`s, checked one by one, with what they refer to (`[codes]`, `[variants]`)
/// and what they make: entries, the index by observation id, the column names claimed.
struct Variables<'c> {
    cx: &'c Ctx<'c>,
    variant_sep: String,
    code_tables: Vec<HashMap<String, String>>,
    code_names: HashMap<String, usize>,
    /// `[variants]`: OBX-3 suffix -> column suffix.
    variants: HashMap<String, String>,
    names: Names,
    variables: Vec<Variable>,
    entries: Vec<Entry>,
    by_id: HashMap<Vec<u8>, Vec<usize>, FastHash>,
}

impl<'c> Variables<'c> {
    /// Reads `[codes.NAME]` and `[variants]`, which variables refer to.
    fn new(cx: &'c Ctx<'c>, raw: &RawMap, variant_sep: String) -> Result<Self, MapError> {
        let mut code_tables = Vec::new();
        let mut code_names = HashMap::new();
        for (name, t) in &raw.codes.0 {
            code_names.insert(name.clone(), code_tables.len());
            code_tables.push(code_table(t.get_ref()));
        }
        let mut variants = HashMap::new();
        for (k, v) in &raw.variants.0 {
            if !valid_name(&format!("x_{}", v.get_ref())) {
                return Err(cx.err(v, "a variant's column suffix must be letters, digits and _"));
            }
            variants.insert(k.clone(), v.get_ref().clone());
        }
        Ok(Variables {
            cx,
            variant_sep,
            code_tables,
            code_names,
            variants,
            names: Names::default(),
            variables: Vec::new(),
            entries: Vec::new(),
            by_id: HashMap::default(),
        })
    }

    /// Checks one `[[variable]]` and adds it with its entries (itself and its variants).
    fn variable(&mut self, sv: &Spanned<RawVariable>) -> Result<(), MapError> {
        let cx = self.cx;
        let v = sv.get_ref();
        let code = v.code.get_ref().trim().to_string();
        if code.is_empty() {
            return Err(cx.err(&v.code, "code must not be empty"));
        }
        let name = v.name.get_ref().clone();
        if !valid_name(&name) {
            return Err(cx.err(
                &v.name,
                format!(
                    "column name '{name}' must be letters, digits and _ (not starting with a digit)"
                ),
            ));
        }
        let ty = match &v.ty {
            None => VarType::Float,
            Some(t) => VarType::parse(t.get_ref())
                .ok_or_else(|| cx.err(t, "type must be float, int, bool or string"))?,
        };
        if (v.scale.is_some() || v.offset.is_some()) && !matches!(ty, VarType::Float | VarType::Int)
        {
            return Err(cx.err(
                sv,
                format!("variable '{name}': scale and offset need type float or int"),
            ));
        }
        let codes = self.codes(v)?;
        let bits = bits(cx, &name, ty, v)?;
        let var = Variable {
            sub_id: v.sub_id.clone(),
            app: v.app.clone(),
            ty,
            scale: v.scale.unwrap_or(1.0),
            offset: v.offset.unwrap_or(0.0),
            unit: v.unit.clone(),
            codes,
            bits,
            raw: v.raw.unwrap_or(v.bits.0.is_empty()),
        };
        let label = v.label.clone().unwrap_or_else(|| name.clone());
        self.entry(&var, &name, &label, &code, None, sv.span())?;
        for vr in &v.variants {
            let suffix = self
                .variants
                .get(vr.get_ref())
                .cloned()
                .unwrap_or_else(|| snake(vr.get_ref()));
            self.entry(
                &var,
                &name,
                &label,
                &code,
                Some((vr.get_ref(), &suffix)),
                vr.span(),
            )?;
        }
        self.variables.push(var);
        Ok(())
    }

    /// `codes`: the name of a `[codes.NAME]` table, or a table of its own.
    fn codes(&mut self, v: &RawVariable) -> Result<Option<usize>, MapError> {
        let Some(c) = &v.codes else {
            return Ok(None);
        };
        match c.get_ref() {
            CodesRef::Named(n) => match self.code_names.get(n) {
                Some(&i) => Ok(Some(i)),
                None => Err(self.cx.err(c, format!("no [codes.{n}] table in this map"))),
            },
            CodesRef::Inline(t) => {
                self.code_tables.push(code_table(t));
                Ok(Some(self.code_tables.len() - 1))
            }
        }
    }

    /// Adds the entry of variable `var` (about to be pushed), or of one of its variants
    /// (`(suffix in OBX-3, column suffix)`), and claims its column names.
    fn entry(
        &mut self,
        var: &Variable,
        name: &str,
        label: &str,
        code: &str,
        variant: Option<(&str, &str)>,
        span: Range<usize>,
    ) -> Result<(), MapError> {
        let cx = self.cx;
        let (ename, elabel, eid) = match variant {
            None => (name.to_string(), label.to_string(), code.to_string()),
            Some((suffix_in, suffix_out)) => (
                format!("{name}_{suffix_out}"),
                format!("{label} ({})", words(suffix_in)),
                format!("{code}{}{suffix_in}", self.variant_sep),
            ),
        };
        self.names.claim(cx, &ename, span.clone())?;
        if variant.is_none() {
            if var.raw && var.codes.is_some() {
                self.names
                    .claim(cx, &format!("{ename}_meaning"), span.clone())?;
            }
            for b in &var.bits {
                self.names.claim(cx, &b.name, span.clone())?;
            }
        }
        let idx = self.entries.len();
        self.entries.push(Entry {
            var: self.variables.len(),
            variant: variant.map(|(s, _)| s.to_string()),
            name: ename,
            label: elabel,
            id: eid.clone(),
        });
        self.by_id.entry(eid.into_bytes()).or_default().push(idx);
        Ok(())
    }

    /// Two variables for the same observation are told apart by OBX-4 or MSH-3, or are a
    /// mistake.
    fn check_twins(&self, raw: &RawMap) -> Result<(), MapError> {
        let (variables, entries) = (&self.variables, &self.entries);
        for cands in self.by_id.values() {
            for (i, &a) in cands.iter().enumerate() {
                for &b in &cands[i + 1..] {
                    let (va, vb) = (&variables[entries[a].var], &variables[entries[b].var]);
                    if va.sub_id == vb.sub_id && va.app == vb.app {
                        let span = raw.variable[entries[b].var].span();
                        return Err(self.cx.at(span, format!(
                            "observation '{}' is mapped twice (to '{}' and '{}'); tell them apart with sub_id or app",
                            entries[a].id, entries[a].name, entries[b].name
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

fn code_table(t: &Ordered<Spanned<String>>) -> HashMap<String, String> {
    t.0.iter()
        .map(|(k, v)| (k.clone(), v.get_ref().clone()))
        .collect()
}

/// A variable's `bits`: each a bit or an inclusive range, not overlapping, with a name that is
/// not a column of the long rows.
fn bits(cx: &Ctx, name: &str, ty: VarType, v: &RawVariable) -> Result<Vec<Bit>, MapError> {
    let mut bits: Vec<Bit> = Vec::new();
    let mut used: u64 = 0;
    for (bname, spec) in &v.bits.0 {
        if !matches!(ty, VarType::Int | VarType::Float) {
            return Err(cx.err(spec, format!("variable '{name}': bits need type int")));
        }
        let (lo, hi) = bit_range(cx, spec)?;
        let mask = bit_mask(lo, hi);
        if used & mask != 0 {
            let other = bits
                .iter()
                .find(|b| bit_mask(i64::from(b.lo), i64::from(b.hi)) & mask != 0)
                .map_or(String::new(), |b| b.name.clone());
            return Err(cx.err(
                spec,
                format!("bits of '{bname}' overlap those of '{other}' in variable '{name}'"),
            ));
        }
        used |= mask;
        if LONG_BUILTINS.contains(&bname.as_str()) {
            return Err(cx.err(
                spec,
                format!("bit name '{bname}' is a column of the long rows; pick another"),
            ));
        }
        if !valid_name(bname) {
            return Err(cx.err(
                spec,
                format!(
                    "bit name '{bname}' must be letters, digits and _ (not starting with a digit)"
                ),
            ));
        }
        bits.push(Bit {
            name: bname.clone(),
            lo: lo as u32,
            hi: hi as u32,
        });
    }
    Ok(bits)
}

/// A bit (`3`) or a range (`"4-6"`, also `4:6` and `4..6`) as (low, high), both in 0..=63.
fn bit_range(cx: &Ctx, spec: &Spanned<BitSpec>) -> Result<(i64, i64), MapError> {
    let (lo, hi) = match spec.get_ref() {
        BitSpec::Bit(b) => (*b, *b),
        BitSpec::Range(r) => {
            let parsed = r
                .split_once(['-', ':'])
                .or_else(|| r.split_once(".."))
                .and_then(|(a, b)| {
                    Some((
                        a.trim().parse::<i64>().ok()?,
                        b.trim().trim_start_matches('.').parse::<i64>().ok()?,
                    ))
                });
            match parsed {
                Some((a, b)) if a <= b => (a, b),
                _ => {
                    return Err(cx.err(
                        spec,
                        format!("bit range '{r}' must read LOW-HIGH, like \"4-6\""),
                    ));
                }
            }
        }
    };
    if lo < 0 || hi > 63 {
        return Err(cx.err(spec, "bits are numbered 0 (least significant) to 63"));
    }
    Ok((lo, hi))
}

/// The bits `lo..=hi` of a word (`0 <= lo <= hi <= 63`).
fn bit_mask(lo: i64, hi: i64) -> u64 {
    if hi - lo == 63 {
        u64::MAX
    } else {
        ((1u64 << (hi - lo + 1)) - 1) << lo
    }
}

/// `[long] columns`: the observation columns the long rows keep, in their order.
fn long_columns(cx: &Ctx, raw: &RawMap) -> Result<Vec<&'static str>, MapError> {
    let Some(l) = &raw.long else {
        return Ok(LONG_BUILTINS.to_vec());
    };
    let mut v = Vec::new();
    for c in &l.get_ref().columns {
        match LONG_BUILTINS.iter().find(|b| **b == c.get_ref()) {
            Some(b) => v.push(*b),
            None => {
                return Err(cx.err(
                    c,
                    format!(
                        "unknown long column '{}' (known: {})",
                        c.get_ref(),
                        LONG_BUILTINS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(v)
}

/// The long rows' own columns must not clash with the timestamp, tags, derived columns or
/// (for tags and derived columns) bit names.
fn check_long_clashes(cx: &Ctx, raw: &RawMap, map: &Map) -> Result<(), MapError> {
    let ts_column = &map.ts_column;
    if map.long_builtins.contains(&ts_column.as_str()) {
        let span = raw.timestamp.as_ref().map_or(0..0, |t| t.span());
        return Err(cx.at(
            span,
            format!(
                "the timestamp column '{ts_column}' is also a column of the long rows; pick another"
            ),
        ));
    }
    let spans = raw
        .tags
        .0
        .iter()
        .chain(&raw.columns.0)
        .map(|(_, s)| s.span());
    for (d, s) in map.tags.iter().chain(&map.columns).zip(spans) {
        let is_bit = map
            .variables
            .iter()
            .any(|v| v.bits.iter().any(|b| b.name == d.name));
        if map.long_builtins.contains(&d.name.as_str()) || is_bit {
            return Err(cx.at(
                s,
                format!(
                    "column name '{}' is also a column of the long rows; pick another",
                    d.name
                ),
            ));
        }
    }
    Ok(())
}

impl Map {
    /// The QuestDB table name (`table`, default `observations`).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The tag columns the map defines (`[tags]`), in order. In the long shape the rows also
    /// carry the symbols `variable` and `variable_id`: see [`Map::symbols`].
    pub fn tags(&self) -> Vec<&str> {
        self.tags.iter().map(|t| t.name.as_str()).collect()
    }

    /// The symbol (ILP tag) columns of a shape: the map's tags, plus `variable` and
    /// `variable_id` in the long shape (when `[long] columns` keeps them).
    pub fn symbols(&self, shape: Shape) -> Vec<&str> {
        let mut v = self.tags();
        if shape == Shape::Long {
            v.extend(
                self.long_builtins
                    .iter()
                    .copied()
                    .filter(|c| matches!(*c, "variable" | "variable_id")),
            );
        }
        v
    }

    /// The designated timestamp column (`[timestamp] column`, default `ts`).
    pub fn timestamp_column(&self) -> &str {
        &self.ts_column
    }

    /// The IANA zone of the map (`timezone`), if it names one.
    pub fn timezone(&self) -> Option<&str> {
        self.timezone.as_deref()
    }

    /// What to do with observations the map does not name.
    pub fn unmapped(&self) -> Unmapped {
        self.unmapped
    }

    /// The columns that identify a row, for QuestDB's `DEDUP UPSERT KEYS`, so replaying the
    /// same messages twice does not duplicate rows: wide = timestamp and tags; long =
    /// timestamp, tags and `variable` (the column name of the observation, unique per variable
    /// and variant; `variable_id` when `[long] columns` leaves `variable` out).
    pub fn dedup_keys(&self, shape: Shape) -> Vec<&str> {
        let mut v = vec![self.ts_column.as_str()];
        v.extend(self.tags());
        if shape == Shape::Long {
            if self.long_builtins.contains(&"variable") {
                v.push("variable");
            } else if self.long_builtins.contains(&"variable_id") {
                v.push("variable_id");
            }
        }
        v
    }

    /// Every column of a shape, in output order, with its type. Rows (NDJSON) carry a subset:
    /// columns without a value are left out; CSV rows have all of them.
    ///
    /// Long: timestamp, tags (symbols), the map's `[columns]` (strings), then `variable`,
    /// `variable_id` (symbols), `label`, `setting` (bool), `value` (float: every number, bools
    /// as 0/1), `text` (string values), `meaning` (the looked-up meaning of a coded value),
    /// `unit`, `unit_code`, `sub_id`, and one column per bit or bit range of any variable
    /// (bool, or int for ranges), present on the rows of its status word.
    ///
    /// Wide: timestamp, tags, `[columns]`, then per variable in map order: its value column
    /// (its declared type; left out when it has bits and `raw = false`), `<name>_meaning`
    /// when it has `codes`, one column per bit, then its variants (`<name>_upper_alarm_limit`).
    pub fn columns(&self, shape: Shape) -> Vec<Column> {
        let mut out = vec![Column {
            name: self.ts_column.clone(),
            ty: ColumnType::Timestamp,
        }];
        for t in &self.tags {
            out.push(Column {
                name: t.name.clone(),
                ty: ColumnType::Symbol,
            });
        }
        for c in &self.columns {
            out.push(Column {
                name: c.name.clone(),
                ty: ColumnType::String,
            });
        }
        match shape {
            Shape::Long => {
                for b in &self.long_builtins {
                    let ty = match *b {
                        "variable" | "variable_id" => ColumnType::Symbol,
                        "setting" => ColumnType::Bool,
                        "value" => ColumnType::Float,
                        _ => ColumnType::String,
                    };
                    out.push(Column {
                        name: b.to_string(),
                        ty,
                    });
                }
                for (name, ty) in self.long_bit_columns() {
                    out.push(Column {
                        name: name.to_string(),
                        ty,
                    });
                }
            }
            Shape::Wide => {
                for e in &self.entries {
                    let v = &self.variables[e.var];
                    if e.variant.is_some() {
                        out.push(Column {
                            name: e.name.clone(),
                            ty: v.ty.into(),
                        });
                        continue;
                    }
                    if v.raw {
                        out.push(Column {
                            name: e.name.clone(),
                            ty: v.ty.into(),
                        });
                        if v.codes.is_some() {
                            out.push(Column {
                                name: format!("{}_meaning", e.name),
                                ty: ColumnType::String,
                            });
                        }
                    }
                    for b in &v.bits {
                        out.push(Column {
                            name: b.name.clone(),
                            ty: bit_type(b),
                        });
                    }
                }
            }
        }
        out
    }

    /// The bit columns of the long shape (each name once, in map order).
    pub(crate) fn long_bit_columns(&self) -> Vec<(&str, ColumnType)> {
        let mut v: Vec<(&str, ColumnType)> = Vec::new();
        for var in &self.variables {
            for b in &var.bits {
                if !v.iter().any(|(n, _)| *n == b.name) {
                    v.push((&b.name, bit_type(b)));
                }
            }
        }
        v
    }
}

fn bit_type(b: &Bit) -> ColumnType {
    if b.lo == b.hi {
        ColumnType::Bool
    } else {
        ColumnType::Int
    }
}
