//! Rows to QuestDB over InfluxDB Line Protocol (ILP).
//!
//! Input rows are flat records, one per line of NDJSON (as `hl7 flatten` writes them: typed
//! numbers, booleans and strings; `null` means absent) or CSV with a header line. This module
//! reads them (`rows`: [`read_rows`], [`parse_object`]), gives every column one QuestDB type for
//! the whole stream and encodes each row into a questdb-rs [`Buffer`] (`encode`: [`Encoder`]),
//! and generates the matching `CREATE TABLE` ([`ddl`]). Sending the buffer, in batches with
//! retries, is the client's part: `client::ilp`.
//!
//! Rules, in one place (docs/ilp.md repeats them):
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

use questdb::ingress::TableName;
pub use questdb::ingress::{Buffer, ProtocolVersion};

/// The one column-type enum: the flatten map declares the types the encoder sends.
pub use crate::transform::flatten::ColumnType;

mod encode;
mod rows;

pub use encode::Encoder;
pub use rows::{Event, Format, parse_object, read_rows};

/// The longest table or column name QuestDB accepts by default (`cairo.max.file.name.length`).
pub const MAX_NAME_LEN: usize = 127;

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
        cols.push(format!("{} {}", sql_ident(&name), ty.questdb()));
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

/// Empties a vector and gives back its allocation for another element type of the same
/// layout (the same type with other lifetimes): the standard library collects an emptied
/// `into_iter` in place.
fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| unreachable!()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn ddl_names_keys() {
        let config = Config {
            table: "pdm_medical_device".into(),
            symbols: vec!["device_serial".into(), "variable-id".into()],
            timestamp: "ts".into(),
            types: vec![
                ("value".into(), ColumnType::Float),
                ("1414-UpperAlarmLimit".into(), ColumnType::Int),
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
}
