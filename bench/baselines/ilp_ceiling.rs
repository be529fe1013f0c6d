//! What questdb-rs alone costs for a stream of rows, the ceiling `hl7 ilp --dry-run` is
//! compared with in bench/run: the rows of an NDJSON file (as `hl7 flatten` writes them) are
//! read and parsed before the clock starts; then only the questdb-rs `Buffer` calls run (string
//! values as VARCHAR, numbers as DOUBLE, booleans as BOOLEAN, the given columns as SYMBOLs, `ts`
//! as the designated timestamp), cleared every 10,000 rows as a sender's flush would. Names
//! are checked once beforehand, as `hl7 ilp` checks its map's once.
//!
//! `cargo run --release --example ilp_ceiling -- ROWS.ndjson SYMBOL,SYMBOL,...` prints rows/s.

use questdb::ingress::{Buffer, ColumnName, ProtocolVersion, TableName, TimestampNanos};
use serde_json::Value;

enum V {
    Str(String),
    Num(f64),
    Bool(bool),
}

/// One row: its symbols, its fields and its timestamp.
struct Row {
    tags: Vec<(String, String)>,
    fields: Vec<(String, V)>,
    ts: i64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: ilp_ceiling ROWS.ndjson SYMBOL,SYMBOL,...");
        std::process::exit(2);
    }
    let symbols: Vec<&str> = args[2].split(',').collect();
    let text = std::fs::read_to_string(&args[1]).expect("read the rows");
    let mut rows: Vec<Row> = Vec::new();
    for line in text.lines() {
        let Ok(Value::Object(o)) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (mut tags, mut fields, mut ts) = (Vec::new(), Vec::new(), 0i64);
        for (k, v) in o {
            if k == "ts" {
                ts = 1_723_628_796_000_000_000 + rows.len() as i64;
            } else if symbols.contains(&k.as_str()) {
                tags.push((k, v.as_str().unwrap_or_default().to_string()));
            } else {
                let v = match v {
                    Value::String(s) => V::Str(s),
                    Value::Number(n) => V::Num(n.as_f64().unwrap_or(0.0)),
                    Value::Bool(b) => V::Bool(b),
                    _ => continue,
                };
                fields.push((k, v));
            }
        }
        rows.push(Row { tags, fields, ts });
    }
    // Names checked once, before the clock starts, as hl7 ilp does (it checks the map's).
    for name in rows.iter().flat_map(|r| {
        r.tags
            .iter()
            .map(|t| &t.0)
            .chain(r.fields.iter().map(|f| &f.0))
    }) {
        ColumnName::new(name).expect("column name");
    }
    let table = "pdm_medical_device";
    TableName::new(table).expect("table name");
    let mut buf = Buffer::new(ProtocolVersion::V1);
    let mut bytes = 0usize;
    let start = std::time::Instant::now();
    for (i, Row { tags, fields, ts }) in rows.iter().enumerate() {
        buf.table(TableName::new_unchecked(table)).expect("table");
        for (k, v) in tags {
            buf.symbol(ColumnName::new_unchecked(k), v.as_str())
                .expect("symbol");
        }
        for (k, v) in fields {
            let k = ColumnName::new_unchecked(k);
            match v {
                V::Str(s) => buf.column_str(k, s.as_str()),
                V::Num(n) => buf.column_f64(k, *n),
                V::Bool(b) => buf.column_bool(k, *b),
            }
            .expect("column");
        }
        buf.at(TimestampNanos::new(*ts)).expect("at");
        if i % 10_000 == 9_999 {
            bytes += buf.len();
            buf.clear();
        }
    }
    bytes += buf.len();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{:.0} rows/s ({} rows, {:.1} MB of ILP, {secs:.3} s)",
        rows.len() as f64 / secs,
        rows.len(),
        bytes as f64 / 1e6
    );
}
