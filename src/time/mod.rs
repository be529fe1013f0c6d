//! The one clock and time module: every command and library part that reads, writes or
//! converts a time does it here.
//!
//! - [`Time`]: wall-clock seconds with an optional UTC offset, as HL7 systems write them
//!   (`20240814114636+0200`), parsed from RFC 3339 or HL7 TS and written as HL7 TS.
//! - [`civil_from_days`] / [`days_from_civil`]: the calendar arithmetic of the hot paths
//!   (a generator writing 200k timestamps a second, a row reader converting RFC 3339 times),
//!   done with integer arithmetic because it is measurably cheaper there than a round trip
//!   through a zoned date-time.
//! - [`zoned`]: HL7 times read in a named time zone (jiff with its bundled tz database), for
//!   device times written without an offset.
//! - [`rfc3339_utc`], [`seconds_of`], [`Stamp`]: what `listen`, `send` and archives need.
//! - [`parse_rfc3339`]: RFC 3339 to nanoseconds, fast, for the timestamps of `ilp`'s rows.
//! - [`Rate`]: pacing (`20/s`, `30/min`) for generated and replayed traffic.

pub mod zoned;

use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time as the simulated systems write it: local wall-clock seconds plus the UTC
/// offset they are at (`None` when the source writes times without an offset, like the
/// ventilator gateway).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time {
    /// Seconds since 1970-01-01T00:00:00 in local wall-clock time.
    pub local: i64,
    /// Offset from UTC in minutes, when the time carries one.
    pub offset_min: Option<i32>,
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

/// (year, month, day) to days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Time {
    /// UTC now, from the system clock.
    pub fn now_utc() -> Time {
        Time {
            local: unix_now(),
            offset_min: Some(0),
        }
    }

    /// Parses RFC 3339 (`2024-08-14T11:46:36+02:00`, `...Z`, or without an offset) or an HL7 TS
    /// (`20240814114636`, `202408141146`, `20240814`, with an optional `+0200`).
    pub fn parse(s: &str) -> Result<Time, String> {
        let bad = || {
            format!(
                "'{s}' is not a time: use RFC 3339 (2024-08-14T11:46:36+02:00) or HL7 (20240814114636)"
            )
        };
        let t = s.trim();
        let (body, offset) = split_offset(t).ok_or_else(bad)?;
        let digits: String = body.chars().filter(|c| c.is_ascii_digit()).collect();
        let rfc = body.contains('-');
        if rfc && !(body.len() >= 10 && body.as_bytes()[4] == b'-' && body.as_bytes()[7] == b'-') {
            return Err(bad());
        }
        if !body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | 'T' | 't' | ' ' | '.'))
        {
            return Err(bad());
        }
        let n = |a: usize, b: usize| -> Option<i64> { digits.get(a..b)?.parse().ok() };
        if !(matches!(digits.len(), 8 | 10 | 12 | 14) || (rfc && digits.len() > 14)) {
            return Err(bad());
        }
        let (y, mo, d) = (
            n(0, 4).ok_or_else(bad)?,
            n(4, 6).ok_or_else(bad)?,
            n(6, 8).ok_or_else(bad)?,
        );
        let h = n(8, 10).unwrap_or(0);
        let mi = n(10, 12).unwrap_or(0);
        let sec = n(12, 14).unwrap_or(0);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
            return Err(bad());
        }
        let local = days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + sec;
        Ok(Time {
            local,
            offset_min: offset,
        })
    }

    /// The same instant `secs` later.
    pub fn plus(self, secs: i64) -> Time {
        Time {
            local: self.local + secs,
            ..self
        }
    }

    /// The same wall-clock time without the offset (as a device writes it).
    pub fn without_offset(self) -> Time {
        Time {
            offset_min: None,
            ..self
        }
    }

    /// (year, month, day, hour, minute, second).
    pub fn parts(self) -> (i64, u32, u32, u32, u32, u32) {
        let days = self.local.div_euclid(86_400);
        let s = self.local.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        (y, m, d, s / 3600, s / 60 % 60, s % 60)
    }

    /// Appends `YYYYMMDDHHMMSS` and the offset (`+0100`) when there is one.
    pub fn write_ts(self, out: &mut Vec<u8>) {
        let (y, m, d, h, mi, s) = self.parts();
        push_padded(out, y.max(0) as u64, 4);
        for v in [m, d, h, mi, s] {
            push_padded(out, v as u64, 2);
        }
        if let Some(off) = self.offset_min {
            out.push(if off < 0 { b'-' } else { b'+' });
            let a = off.unsigned_abs();
            push_padded(out, (a / 60) as u64, 2);
            push_padded(out, (a % 60) as u64, 2);
        }
    }

    /// Appends `YYYYMMDD`.
    pub fn write_date(self, out: &mut Vec<u8>) {
        let (y, m, d, ..) = self.parts();
        push_padded(out, y.max(0) as u64, 4);
        push_padded(out, m as u64, 2);
        push_padded(out, d as u64, 2);
    }
}

/// Splits a trailing `Z`, `+HH:MM`, `+HHMM` or `-HHMM` off a time.
fn split_offset(t: &str) -> Option<(&str, Option<i32>)> {
    if let Some(body) = t.strip_suffix(['Z', 'z']) {
        return Some((body, Some(0)));
    }
    // an offset sign after the time part (the date's own '-' are at 4 and 7)
    if let Some(pos) = t.rfind(['+', '-']).filter(|&p| p >= 8) {
        let (body, off) = t.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let h: i32 = digits[..2].parse().ok()?;
        let m: i32 = digits[2..].parse().ok()?;
        return Some((body, Some(sign * (h * 60 + m))));
    }
    Some((t, None))
}

/// Appends `v` in decimal, zero-padded to `width` digits.
#[inline]
pub fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let start = (buf.len() - width.min(20)).min(i);
    out.extend_from_slice(&buf[start..]);
}

/// Seconds since 1970 now, from the system clock (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    unix_seconds(SystemTime::now())
}

/// Seconds since 1970 of a system time (0 before 1970).
pub fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Nanoseconds since 1970 now: a seed that differs from run to run.
pub fn unix_nanos_now() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A UTC time split into calendar fields, for names rendered from a time (archive layouts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stamp {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Stamp {
    /// The machine's wall-clock time now, in its own time zone (jiff reads the zone from the
    /// system, or the bundled database for `TZ`).
    pub fn local_now() -> Stamp {
        let now = jiff::Zoned::now();
        Stamp {
            year: i64::from(now.year()),
            month: now.month() as u32,
            day: now.day() as u32,
            hour: now.hour() as u32,
            minute: now.minute() as u32,
            second: now.second() as u32,
        }
    }

    /// The UTC calendar fields of `secs` since 1970.
    pub fn utc(secs: i64) -> Stamp {
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let s = secs.rem_euclid(86_400) as u32;
        Stamp {
            year,
            month,
            day,
            hour: s / 3600,
            minute: s / 60 % 60,
            second: s % 60,
        }
    }
}

/// `2024-08-14T09:46:36.123Z`: a system time in RFC 3339, UTC, to the millisecond.
pub fn rfc3339_utc(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let s = Stamp::utc(d.as_secs() as i64);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        s.year,
        s.month,
        s.day,
        s.hour,
        s.minute,
        s.second,
        d.subsec_millis()
    )
}

/// Seconds since 1970 of an RFC 3339 time or an HL7 TS, fractions kept (UTC when an offset is
/// given, else the wall-clock time as written: for gaps between times, which is what replay
/// timing needs, the zone does not matter).
pub fn seconds_of(s: &str) -> Option<f64> {
    let s = s.trim();
    let (mut main, mut frac) = (s.to_string(), 0.0);
    if let Some(dot) = s.find(['.', ',']) {
        let digits: String = s[dot + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !digits.is_empty() {
            frac = format!("0.{digits}").parse().unwrap_or(0.0);
        }
        main = format!("{}{}", &s[..dot], &s[dot + 1 + digits.len()..]);
    }
    let t = Time::parse(&main).ok()?;
    let offset = t.offset_min.unwrap_or(0) as i64 * 60;
    Some((t.local - offset) as f64 + frac)
}

/// A pacing rate. Message `n` is due `n / rate` seconds after the start, so a long run never
/// drifts however late single messages were.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    per_second: f64,
}

impl Rate {
    /// Parses `20/s`, `0.5/s`, `20` (per second), `30/min` (or `/m`), `2/h`.
    pub fn parse(s: &str) -> Result<Rate, String> {
        let t = s.trim();
        let (num, unit) = t.split_once('/').unwrap_or((t, "s"));
        let per = match unit.trim() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            other => {
                return Err(format!("'{other}' is not a unit: use /s, /min or /h"));
            }
        };
        let n: f64 = num
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not a rate like 20/s or 0.5/s"))?;
        if !n.is_finite() || n <= 0.0 {
            return Err(format!("'{s}': the rate must be above 0"));
        }
        Ok(Rate {
            per_second: n / per,
        })
    }

    pub fn per_second(self) -> f64 {
        self.per_second
    }

    /// When message `n` (from 0) is due, counted from the start of the run.
    pub fn due(self, n: u64) -> std::time::Duration {
        std::time::Duration::from_secs_f64(n as f64 / self.per_second)
    }
}

/// Parses an RFC 3339 date-time (`2024-08-14T09:46:36Z`, `2024-08-14T11:46:36.5+02:00`; a
/// space or `t` for `T`, `z` for `Z`) to nanoseconds since 1970-01-01T00:00:00Z.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    parse_rfc3339_cached(s, &mut None)
}

/// [`parse_rfc3339`], remembering the last date's day number in `cache` (start with `None`):
/// the rows of a stream mostly share their date.
pub fn parse_rfc3339_cached(s: &str, cache: &mut Option<([u8; 10], i64)>) -> Option<i64> {
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
            let days = days_from_civil(y, mo as u32, d as u32);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + Duration::from_millis(1_723_628_796_123);
        assert_eq!(rfc3339_utc(t), "2024-08-14T09:46:36.123Z");
    }

    #[test]
    fn times_with_fractions_and_offsets() {
        let a = seconds_of("2024-08-14T11:46:36.250+02:00").unwrap();
        let b = seconds_of("20240814094636.75Z").unwrap();
        let c = seconds_of("20240814114637+0200").unwrap();
        assert_eq!(c - a, 0.75);
        assert_eq!(b - a, 0.5);
        assert_eq!(
            seconds_of("20240814114636").unwrap() + 1.0,
            seconds_of("20240814114637").unwrap()
        );
        assert!(seconds_of("not a time").is_none());
    }

    #[test]
    fn rates() {
        let r = Rate::parse("20/s").unwrap();
        assert_eq!(r.due(0), Duration::ZERO);
        assert_eq!(r.due(10), Duration::from_millis(500));
        assert_eq!(Rate::parse("0.5/s").unwrap().due(3), Duration::from_secs(6));
        assert_eq!(Rate::parse("30/min").unwrap().per_second(), 0.5);
        assert_eq!(
            Rate::parse("2/h").unwrap().due(1),
            Duration::from_secs(1800)
        );
        assert_eq!(Rate::parse("4").unwrap().per_second(), 4.0);
        // a million messages later there is still no drift: the slot is computed, not summed
        assert_eq!(
            Rate::parse("3/s").unwrap().due(3_000_000),
            Duration::from_secs(1_000_000)
        );
        for bad in ["", "0/s", "-1/s", "fast", "5/day", "inf/s", "NaN/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn calendar_round_trips() {
        for days in [-800_000i64, -1, 0, 1, 19_000, 19_950, 60_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_949), (2024, 8, 14));
    }

    #[test]
    fn times_parse_and_print() {
        let mut out = Vec::new();
        Time::parse("2024-08-14T11:46:36+02:00")
            .unwrap()
            .write_ts(&mut out);
        assert_eq!(out, b"20240814114636+0200");
        out.clear();
        Time::parse("20240814114636").unwrap().write_ts(&mut out);
        assert_eq!(out, b"20240814114636");
        out.clear();
        Time::parse("2024-08-14T09:46:36Z")
            .unwrap()
            .plus(3600 * 24)
            .write_ts(&mut out);
        assert_eq!(out, b"20240815094636+0000");
        out.clear();
        Time::parse("20240814-0500").unwrap().write_ts(&mut out);
        assert_eq!(out, b"20240814000000-0500");
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "202408",
            "2024-08-14T25:00:00",
            "20240814+02",
        ] {
            assert!(Time::parse(bad).is_err(), "{bad}");
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
}
