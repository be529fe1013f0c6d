//! The filters' text work: dates and time zones (jiff), escapes.
//!
//! | filter | does |
//! |---|---|
//! | `default(V)` | V when the value is missing or empty (V: a "string" or another path) |
//! | `upper`, `lower`, `trim` | as named |
//! | `replace("a", "b")` | every `a` becomes `b` |
//! | `re_replace("re", "b")` | every match of the regular expression becomes `b` (`$1` is group 1) |
//! | `date("fmt")`, `date("fmt", "Zone/Name")` | an HL7 timestamp (or ISO 8601) formatted with strftime |
//! | `hl7`, `json` | escaped for HL7 or for a JSON string, and not escaped again for that output |
//! | `raw` | inserted as it is, not escaped on output |
//! | `base64decode`, `base64encode` | as named; decoded bytes go out as bytes (`--escape none`) |
//! | `first`, `last` | the first or last repetition (of a field), item (of a list or array) |
//! | `join(", ")` | the repetitions, occurrences (`OBX[*]-5`) or array items joined |

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// Checks a strftime format by formatting a fixed time with it.
pub(super) fn check_format(fmt: &str) -> Result<(), String> {
    let z = DateTime::new(2024, 1, 2, 3, 4, 5, 0)
        .and_then(|d| d.to_zoned(TimeZone::UTC))
        .map_err(|e| e.to_string())?;
    jiff::fmt::strtime::format(fmt, &z)
        .map(|_| ())
        .map_err(|e| format!("bad date format '{fmt}': {e}"))
}

/// Reads a timestamp: HL7 `YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+-ZZZZ]`, or ISO 8601
/// (`2024-05-14T13:20:30+02:00`, `2024-05-14T13:20:30`, `2024-05-14`). Without an offset it is
/// local time in `local`.
pub(super) fn read_time(s: &str, local: &TimeZone) -> Result<Zoned, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("no timestamp".into());
    }
    if s.as_bytes()[0].is_ascii_digit() && s.bytes().take(5).all(|b| b.is_ascii_digit())
        || s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit())
    {
        return read_hl7(s, local);
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        // keep the offset it was written with
        let off = s
            .rfind(['+', '-'])
            .filter(|&i| i > 10)
            .and_then(|i| crate::time::zoned::read_offset(s[i..].replace(':', "").as_bytes()).ok());
        let tz = off.map_or(TimeZone::UTC, TimeZone::fixed);
        return Ok(ts.to_zoned(tz));
    }
    if let Ok(z) = s.parse::<Zoned>() {
        return Ok(z);
    }
    if let Ok(dt) = s.parse::<DateTime>() {
        return dt.to_zoned(local.clone()).map_err(|e| e.to_string());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d.to_zoned(local.clone()).map_err(|e| e.to_string());
    }
    Err("not an HL7 timestamp (YYYYMMDDHHMMSS) or ISO 8601 time".into())
}

/// An HL7 time, read by the one HL7 time reader ([`crate::time::zoned::read`]), keeping the
/// offset it was written with (or `local` without one).
fn read_hl7(s: &str, local: &TimeZone) -> Result<Zoned, String> {
    use crate::time::zoned::{self, TimeError};
    let bad = |e: TimeError| match e {
        TimeError::Syntax => format!(
            "not an HL7 timestamp (YYYYMMDDHHMMSS[.SSSS][+ZZZZ]): {} characters",
            s.len()
        ),
        TimeError::Range => format!("not a valid time: {e}"),
    };
    let t = zoned::read(s.as_bytes()).map_err(bad)?;
    let tz = t.offset.map_or_else(|| local.clone(), TimeZone::fixed);
    let ts = t.instant(&tz).map_err(bad)?;
    Ok(ts.to_zoned(tz))
}

/// `date(fmt[, zone])`.
pub(super) fn date(
    value: &str,
    fmt: &str,
    zone: Option<&TimeZone>,
    local: &TimeZone,
) -> Result<String, String> {
    let mut z = read_time(value, local)?;
    if let Some(tz) = zone {
        z = z.with_time_zone(tz.clone());
    }
    jiff::fmt::strtime::format(fmt, &z).map_err(|e| e.to_string())
}

/// `now` as HL7 writes times: local time with its offset (`20240514132030+0200`).
pub(super) fn hl7_time(z: &Zoned) -> String {
    jiff::fmt::strtime::format("%Y%m%d%H%M%S%z", z).unwrap_or_default()
}

/// JSON string escapes, without the quotes.
pub(super) fn json_escape(s: &str, out: &mut Vec<u8>) {
    let start = out.len();
    crate::transform::json::push_str(out, s);
    // drop the quotes push_str wrote
    out.remove(start);
    out.pop();
}

/// Removes the whitespace between JSON tokens (not inside strings), so a rendering is one line.
pub(super) fn minify_json(src: &[u8], out: &mut Vec<u8>) {
    let mut in_str = false;
    let mut esc = false;
    for &c in src {
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
        } else if !matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            if c == b'"' {
                in_str = true;
            }
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let utc = TimeZone::UTC;
        assert_eq!(
            date("20240514", "%Y-%m-%d", None, &utc).unwrap(),
            "2024-05-14"
        );
        assert_eq!(
            date("202405141320", "%Y-%m-%dT%H:%M:%S%:z", None, &berlin).unwrap(),
            "2024-05-14T13:20:00+02:00"
        );
        assert_eq!(
            date("20240514132030+0000", "%H:%M %Z", Some(&berlin), &utc).unwrap(),
            "15:20 CEST"
        );
        assert_eq!(
            date("20240514132030.25-0500", "%H:%M:%S%.f %z", None, &utc).unwrap(),
            "13:20:30.25 -0500"
        );
        assert_eq!(
            date("2024-05-14T13:20:30+02:00", "%Y%m%d%H%M%S%z", None, &utc).unwrap(),
            "20240514132030+0200"
        );
        assert_eq!(
            date("2024-05-14", "%Y%m%d", None, &utc).unwrap(),
            "20240514"
        );
        assert!(date("2024131", "%Y", None, &utc).is_err());
        assert!(date("20241341", "%Y", None, &utc).is_err());
        assert!(date("hello", "%Y", None, &utc).is_err());
        assert!(check_format("%Y-%m-%d").is_ok());
    }

    #[test]
    fn minify() {
        let mut o = Vec::new();
        minify_json(b"{\n  \"a b\": [1, 2],\n  \"c\": \"x \\\" y\"\n}\n", &mut o);
        assert_eq!(o, b"{\"a b\":[1,2],\"c\":\"x \\\" y\"}");
        let mut o = Vec::new();
        json_escape("a\"b\n", &mut o);
        assert_eq!(o, b"a\\\"b\\n");
    }
}
