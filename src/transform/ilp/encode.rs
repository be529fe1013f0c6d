//! Encoding rows into ILP through questdb-rs's [`Buffer`], one QuestDB type per column.

use std::borrow::Cow;
use std::collections::HashMap;

use questdb::Error as QdbError;
use questdb::ingress::{Buffer, ColumnName, TableName, TimestampNanos};

use super::rows::scan_number;
use super::{ColumnType, Config, Value, recycle, sanitize_column};

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
                _ => self.column_at(pos, name)?,
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
                ColumnType::Timestamp => ts = Some(self.timestamp(name, value)?),
                ColumnType::Symbol => symbols.push((i, one_line(value))),
                ColumnType::String => cells.push((i, Cell::Str(one_line(value)))),
                ColumnType::Bool => cells.push((i, Cell::Bool(to_bool(value).map_err(bad)?))),
                ColumnType::Float => {
                    cells.push((i, Cell::Double(number(value, to_double).map_err(bad)?)))
                }
                ColumnType::Int => {
                    cells.push((i, Cell::Long(number(value, to_long).map_err(bad)?)))
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

    /// The column of the field at `pos` named `name`, found (or made) by name and remembered
    /// for that position.
    fn column_at(&mut self, pos: usize, name: &str) -> Result<usize, String> {
        let i = self.column(name)?;
        if pos < self.by_position.len() {
            self.by_position[pos] = (name.into(), i);
        } else if pos == self.by_position.len() {
            self.by_position.push((name.into(), i));
        }
        Ok(i)
    }

    /// A timestamp cell: RFC 3339 text, or epoch nanoseconds as a number or CSV text.
    fn timestamp(&mut self, name: &str, value: &Value) -> Result<i64, String> {
        match value {
            Value::Str(s) => crate::time::parse_rfc3339_cached(s, &mut self.date),
            Value::Text(s) => {
                crate::time::parse_rfc3339_cached(s, &mut self.date).or_else(|| epoch_nanos(s))
            }
            Value::Number(n) => epoch_nanos(n),
            _ => None,
        }
        .ok_or_else(|| {
            format!("column {name:?}: not an RFC 3339 time or epoch nanoseconds since 1970")
        })
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
        Value::Bool(_) => ColumnType::Bool,
        Value::Number(_) => ColumnType::Float,
        Value::Str(_) | Value::Null => ColumnType::String,
        Value::Text(t) if parse_bool(t).is_some() => ColumnType::Bool,
        Value::Text(t) if is_number(t) => ColumnType::Float,
        Value::Text(_) => ColumnType::String,
    }
}

fn to_bool(value: &Value) -> Result<bool, &'static str> {
    match value {
        Value::Bool(v) => Ok(*v),
        Value::Text(t) => parse_bool(t).ok_or("not true or false"),
        _ => Err("not true or false"),
    }
}

/// A JSON number, or CSV text that reads as one, converted by `read`.
fn number<T>(value: &Value, read: fn(&str) -> Result<T, &'static str>) -> Result<T, &'static str> {
    match value {
        Value::Number(n) => read(n),
        Value::Text(t) if is_number(t) => read(t),
        _ => Err("not a number"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::ilp::rows::tests::row;
    use crate::transform::ilp::{Event, ProtocolVersion, read_rows};

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
                types: vec![("n".into(), ColumnType::Int)],
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
                Event::Idle | Event::Read | Event::Mark(_) => {}
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
}
