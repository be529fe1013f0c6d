//! HL7 times (DTM/TS: `YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]`, HL7 v2.5 §2.A.22) read in a
//! time zone, on jiff and its bundled tz database: [`read`] for the parts as written (the
//! template filters), [`to_rfc3339`] for RFC 3339 UTC (flatten). A time without an offset is
//! read in the given zone (the map's, `--tz`, the machine's); the digits of a fraction are kept
//! as written, so no precision is invented or lost.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

/// Why a time could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeError {
    /// Not of the DTM form.
    Syntax,
    /// Of the form, but no such time (month 13, 30 February, a time zone gap it cannot place).
    Range,
}

impl std::fmt::Display for TimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeError::Syntax => "not an HL7 time (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ])",
            TimeError::Range => "not a valid date and time",
        })
    }
}

fn digits(b: &[u8]) -> Option<i32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i32, |n, d| n * 10 + i32::from(d - b'0')))
}

/// An HL7 time as written: its civil date and time (fraction included), the fraction's digits
/// as written, and the offset when it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hl7Time<'a> {
    pub civil: DateTime,
    /// The digits after the point, as written (so no precision is invented or lost).
    pub fraction: Option<&'a [u8]>,
    /// How many digits the date and time had (4, 6, 8, 10, 12 or 14): its precision.
    pub precision: usize,
    pub offset: Option<Offset>,
}

impl Hl7Time<'_> {
    /// The instant, reading a time without an offset in `zone` (in a zone's gap or overlap,
    /// the earlier reading, as most systems do).
    pub fn instant(&self, zone: &TimeZone) -> Result<Timestamp, TimeError> {
        match self.offset {
            Some(off) => off.to_timestamp(self.civil).map_err(|_| TimeError::Range),
            None => zone
                .to_ambiguous_timestamp(self.civil)
                .compatible()
                .map_err(|_| TimeError::Range),
        }
    }
}

/// Reads an HL7 time `YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]`. Missing parts are the
/// start of their period (a date alone is midnight).
pub fn read(raw: &[u8]) -> Result<Hl7Time<'_>, TimeError> {
    let raw = raw.trim_ascii();
    // Split off an offset: a '+' or '-' after the year.
    let (body, offset) = match raw.iter().rposition(|&b| b == b'+' || b == b'-') {
        Some(p) if p >= 4 => (&raw[..p], Some(&raw[p..])),
        Some(_) => return Err(TimeError::Syntax),
        None => (raw, None),
    };
    let (whole, fraction) = match body.iter().position(|&b| b == b'.') {
        Some(p) => (&body[..p], Some(&body[p + 1..])),
        None => (body, None),
    };
    if !matches!(whole.len(), 4 | 6 | 8 | 10 | 12 | 14) {
        return Err(TimeError::Syntax);
    }
    if let Some(f) = fraction
        && (f.is_empty() || f.len() > 9 || !f.iter().all(u8::is_ascii_digit))
    {
        return Err(TimeError::Syntax);
    }
    let part = |from: usize, to: usize, default: i32| -> Option<i32> {
        if whole.len() >= to {
            digits(&whole[from..to])
        } else {
            Some(default)
        }
    };
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) = (
        part(0, 4, 0),
        part(4, 6, 1),
        part(6, 8, 1),
        part(8, 10, 0),
        part(10, 12, 0),
        part(12, 14, 0),
    ) else {
        return Err(TimeError::Syntax);
    };
    let nanos = fraction.map_or(0, |f| {
        digits(f).unwrap_or(0) * 10i32.pow(9 - f.len() as u32)
    });
    let civil = DateTime::new(
        y as i16, mo as i8, d as i8, h as i8, mi as i8, s as i8, nanos,
    )
    .map_err(|_| TimeError::Range)?;
    let offset = match offset {
        Some(o) => Some(read_offset(o)?),
        None => None,
    };
    Ok(Hl7Time {
        civil,
        fraction,
        precision: whole.len(),
        offset,
    })
}

/// Reads a UTC offset `+HHMM` or `-HHMM`.
pub fn read_offset(o: &[u8]) -> Result<Offset, TimeError> {
    let (sign, hhmm) = match o.split_first() {
        Some((b'+', rest)) => (1, rest),
        Some((b'-', rest)) => (-1, rest),
        _ => return Err(TimeError::Syntax),
    };
    if hhmm.len() != 4 {
        return Err(TimeError::Syntax);
    }
    let (Some(oh), Some(om)) = (digits(&hhmm[..2]), digits(&hhmm[2..])) else {
        return Err(TimeError::Syntax);
    };
    if oh > 23 || om > 59 {
        return Err(TimeError::Range);
    }
    Offset::from_seconds(sign * (oh * 3600 + om * 60)).map_err(|_| TimeError::Range)
}

/// Appends the RFC 3339 UTC form of the HL7 time `raw` to `out`, e.g.
/// `20240814114636` in `Europe/Oslo` -> `2024-08-14T09:46:36Z`, `20240814114636.25+0000`
/// -> `2024-08-14T11:46:36.25Z`. Missing parts (a date without a time) are zero; a fraction
/// needs all 14 digits before it.
pub fn to_rfc3339(raw: &[u8], zone: &TimeZone, out: &mut String) -> Result<(), TimeError> {
    let t = read(raw)?;
    if t.fraction.is_some() && t.precision != 14 {
        return Err(TimeError::Syntax);
    }
    let u = Offset::UTC.to_datetime(t.instant(zone)?);
    push_num(out, i32::from(u.year()), 4);
    out.push('-');
    push_num(out, i32::from(u.month()), 2);
    out.push('-');
    push_num(out, i32::from(u.day()), 2);
    out.push('T');
    push_num(out, i32::from(u.hour()), 2);
    out.push(':');
    push_num(out, i32::from(u.minute()), 2);
    out.push(':');
    push_num(out, i32::from(u.second()), 2);
    if let Some(f) = t.fraction {
        out.push('.');
        // checked to be ASCII digits by read()
        out.push_str(std::str::from_utf8(f).unwrap_or("0"));
    }
    out.push('Z');
    Ok(())
}

fn push_num(out: &mut String, n: i32, width: usize) {
    let s = n.unsigned_abs().to_string();
    if n < 0 {
        out.push('-');
    }
    for _ in s.len()..width {
        out.push('0');
    }
    out.push_str(&s);
}

/// Looks up an IANA time zone in the bundled database (works without /usr/share/zoneinfo).
/// `UTC` and `Z` are always known.
pub fn zone(name: &str) -> Option<TimeZone> {
    match name {
        "UTC" | "Z" | "utc" | "Etc/UTC" => Some(TimeZone::UTC),
        _ => TimeZone::get(name).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(raw: &str, tz: &str) -> Result<String, TimeError> {
        let mut s = String::new();
        to_rfc3339(raw.as_bytes(), &zone(tz).unwrap(), &mut s).map(|_| s)
    }

    #[test]
    fn oslo_summer_time() {
        assert_eq!(
            conv("20240814114636", "Europe/Oslo").unwrap(),
            "2024-08-14T09:46:36Z"
        );
        assert_eq!(
            conv("20240114114636", "Europe/Oslo").unwrap(),
            "2024-01-14T10:46:36Z"
        );
    }

    #[test]
    fn precision_and_offsets() {
        assert_eq!(
            conv("20240814114636.1234", "UTC").unwrap(),
            "2024-08-14T11:46:36.1234Z"
        );
        assert_eq!(conv("202408141146", "UTC").unwrap(), "2024-08-14T11:46:00Z");
        assert_eq!(conv("20240814", "UTC").unwrap(), "2024-08-14T00:00:00Z");
        assert_eq!(
            conv("20240814114636-0500", "Europe/Oslo").unwrap(),
            "2024-08-14T16:46:36Z"
        );
        assert_eq!(
            conv("20240814114636.5+0200", "UTC").unwrap(),
            "2024-08-14T09:46:36.5Z"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "2024081",
            "20241314",
            "20240230",
            "abcd",
            "20240814114636.",
            "2024-08-14",
            "20240814+02",
            "-",
            "+0000",
            "20240814114699",
        ] {
            assert!(conv(bad, "UTC").is_err(), "{bad}");
        }
    }

    #[test]
    fn read_keeps_what_was_written() {
        let t = read(b"202408141146.25-0130").unwrap();
        assert_eq!(t.precision, 12);
        assert_eq!(t.fraction, Some(&b"25"[..]));
        assert_eq!(t.civil.subsec_nanosecond(), 250_000_000);
        assert_eq!(t.offset, Some(Offset::from_seconds(-5400).unwrap()));
        // a fraction without seconds is read, but flatten's RFC 3339 form refuses it
        assert!(conv("202408141146.25", "UTC").is_err());
        assert_eq!(read(b"20240814+2400"), Err(TimeError::Range));
        assert_eq!(read_offset(b"0200"), Err(TimeError::Syntax));
    }
}
