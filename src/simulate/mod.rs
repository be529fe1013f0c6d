//! Seeded, realistic HL7 traffic (`hl7 simulate`). No I/O here: the seed, the clock and the
//! counts come in through [`Config`], and each call of [`Generator::next`] appends one message
//! to a buffer. The same configuration always gives the same bytes.
//!
//! The random numbers come from a small xoshiro256++ generator of our own ([`Rng`]) rather than
//! a crate's `StdRng`, whose algorithm may change between releases: "same seed, same bytes" has
//! to hold across upgrades, and it is faster than a cryptographic generator.
//!
//! Profiles live in their own files; this module holds what they share: the random numbers,
//! the clock and HL7 timestamps, unique control ids, fictitious names and places, a patient
//! population, and fast number formatting.

mod adt;
mod cycle;
mod lab;
mod mdm;
mod monitor;
mod orm;
mod pacs;
mod vent;

use std::fmt;

use crate::id::mix64;
pub(crate) use crate::id::push_control_id;
pub(crate) use crate::time::{Time, push_padded};

/// The traffic profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Vent,
    Monitor,
    Lab,
    Adt,
    Orm,
    Pacs,
    Mdm,
    Cycle,
}

/// Everything a generator needs; nothing is read from the environment.
#[derive(Clone, Debug)]
pub struct Config {
    pub profile: Profile,
    pub seed: u64,
    /// The clock of the first message.
    pub start: Time,
    /// Devices (vent, monitor): interleaved streams, each with its own identity and trend.
    pub devices: u32,
    /// Size of the patient population (adt, orm, pacs, lab, mdm, monitor).
    pub patients: u32,
    /// MSH-12 to write instead of the profile's own version.
    pub version: Option<String>,
    /// For `cycle`: the messages to send round-robin (segments ended by `\r`); empty = the
    /// built-in three.
    pub cycle_messages: Vec<Vec<u8>>,
    /// For `mdm`: the size in bytes the PDF attachment is padded to (with an unreferenced
    /// stream of seeded high-entropy bytes, as a scanned image would be); 0 = its natural size.
    pub attachment_size: usize,
}

impl Config {
    pub fn new(profile: Profile, seed: u64, start: Time) -> Self {
        Config {
            profile,
            seed,
            start,
            devices: 1,
            patients: 100,
            version: None,
            cycle_messages: Vec::new(),
            attachment_size: 0,
        }
    }
}

/// Why a generator could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError(pub String);

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SimError {}

/// A source of messages.
pub trait Generator: Send {
    /// Appends the next message to `out`: its segments, each ended by `\r`.
    fn next(&mut self, out: &mut Vec<u8>);
}

/// The generator for a configuration.
pub fn generator(cfg: &Config) -> Result<Box<dyn Generator>, SimError> {
    if cfg.devices == 0 {
        return Err(SimError("--devices must be at least 1".into()));
    }
    if cfg.patients == 0 {
        return Err(SimError("--patients must be at least 1".into()));
    }
    Ok(match cfg.profile {
        Profile::Vent => Box::new(vent::Vent::new(cfg)),
        Profile::Monitor => Box::new(monitor::Monitor::new(cfg)),
        Profile::Lab => Box::new(lab::Lab::new(cfg)),
        Profile::Adt => Box::new(adt::Adt::new(cfg)),
        Profile::Orm => Box::new(orm::Orm::new(cfg)),
        Profile::Pacs => Box::new(pacs::Pacs::new(cfg)),
        Profile::Mdm => Box::new(mdm::Mdm::new(cfg)),
        Profile::Cycle => Box::new(cycle::Cycle::new(cfg)?),
    })
}

// ---------------------------------------------------------------------------------------------
// Random numbers

/// xoshiro256++ (Blackman and Vigna), seeded through splitmix64.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator for `seed`; `stream` separates independent streams of one seed (devices,
    /// patients), so adding a device does not change the others.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut x = seed ^ mix64(stream.wrapping_add(0x9e3779b97f4a7c15));
        let mut s = [0u64; 4];
        for v in &mut s {
            x = x.wrapping_add(0x9e3779b97f4a7c15);
            *v = mix64(x);
        }
        Rng { s }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A number in `0..n` (0 when n is 0).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// A float in [0, 1).
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A float in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// True with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A standard normal deviate (the sum of 12 uniforms minus 6: cheap, and bounded at ±6,
    /// which keeps simulated physiology from absurd outliers).
    pub fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting

/// Appends `v` in decimal.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    // no padding: as many digits as the number has
    push_padded(out, v, 0);
}

/// Appends `v` with `decimals` digits after the point (0 to 6), trailing zeros kept only as
/// far as `decimals` says (`12.5` with 1, `7` with 0), and no `-0`.
pub fn push_fixed(out: &mut Vec<u8>, v: f64, decimals: u32) {
    let scale = 10u64.pow(decimals.min(6));
    let scaled = (v.abs() * scale as f64).round();
    if !scaled.is_finite() || scaled >= 1e18 {
        out.push(b'0');
        return;
    }
    let scaled = scaled as u64;
    if v < 0.0 && scaled != 0 {
        out.push(b'-');
    }
    push_u64(out, scaled / scale);
    if decimals > 0 {
        out.push(b'.');
        push_padded(out, scaled % scale, decimals as usize);
    }
}

// ---------------------------------------------------------------------------------------------
// People and places: a small built-in list, clearly fictitious.

pub const FAMILY_NAMES: &[&str] = &[
    "TESTPERSON",
    "EXAMPLE",
    "SAMPLE",
    "DEMO",
    "FICTION",
    "PLACEHOLDER",
    "MOCKSON",
    "DUMMYSEN",
    "NORDMANN",
    "HANSEN-TEST",
    "SIMULA",
    "FAKEWORTH",
    "TESTDOTTIR",
    "MUSTERMANN",
    "DOE",
    "ROE",
];
pub const GIVEN_NAMES_F: &[&str] = &[
    "KARI", "ANNA", "INGRID", "MARIA", "SOFIE", "EMMA", "NORA", "JANE", "ASTRID", "LIV",
];
pub const GIVEN_NAMES_M: &[&str] = &[
    "OLA", "JOHN", "LARS", "ERIK", "HANS", "JONAS", "PER", "NILS", "MAGNUS", "KNUT",
];
pub const STREETS: &[&str] = &[
    "1 TEST STREET",
    "22 EXAMPLE ROAD",
    "7 SAMPLE LANE",
    "15 DEMO AVENUE",
    "3 FICTION WAY",
];
pub const CITIES: &[(&str, &str)] = &[
    ("TESTVILLE", "0001"),
    ("SAMPLEBY", "0002"),
    ("DEMOSTAD", "0003"),
    ("EXAMPLETON", "0004"),
];
pub const PHYSICIANS: &[&str] = &[
    "1001^WELBY^MARCUS^^^DR",
    "1002^KILDARE^JAMES^^^DR",
    "1003^QUINN^MICHAELA^^^DR",
    "1004^HOUSE^GREGORY^^^DR",
    "1005^GREY^MEREDITH^^^DR",
];

/// A simulated patient.
#[derive(Clone, Debug)]
pub struct Patient {
    /// PID-3.1, unique in the population.
    pub id: String,
    pub family: &'static str,
    pub given: &'static str,
    /// `F` or `M`.
    pub sex: char,
    /// Days since 1970-01-01.
    pub birth_days: i64,
    pub street: &'static str,
    pub city: &'static str,
    pub zip: &'static str,
    /// PV1-19 / PID-18 visit number.
    pub visit: String,
}

impl Patient {
    /// Patient `n` of the population of `seed`: the same n always gives the same patient.
    pub fn nth(seed: u64, n: u64) -> Patient {
        let mut r = Rng::new(seed, 0x5041_5449_454e_5400 ^ n);
        let sex = if r.chance(0.5) { 'F' } else { 'M' };
        let given = if sex == 'F' {
            *r.pick(GIVEN_NAMES_F)
        } else {
            *r.pick(GIVEN_NAMES_M)
        };
        let (city, zip) = *r.pick(CITIES);
        Patient {
            id: format!("{}", 100_000 + n * 7 + r.below(7)),
            family: FAMILY_NAMES[r.below(FAMILY_NAMES.len() as u64) as usize],
            given,
            sex,
            birth_days: crate::time::days_from_civil(
                r.range(1935, 2020),
                r.range(1, 12) as u32,
                r.range(1, 28) as u32,
            ),
            street: STREETS[r.below(STREETS.len() as u64) as usize],
            city,
            zip,
            visit: format!("V{:08}", mix64(seed ^ n) % 100_000_000),
        }
    }

    /// Appends PID-5 (`FAMILY^GIVEN`).
    pub fn write_name(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.family.as_bytes());
        out.push(b'^');
        out.extend_from_slice(self.given.as_bytes());
    }

    /// Appends PID-7 (`YYYYMMDD`).
    pub fn write_birth(&self, out: &mut Vec<u8>) {
        Time {
            local: self.birth_days * 86_400,
            offset_min: None,
        }
        .write_date(out);
    }

    /// Appends a whole PID segment (with `\r`): PID-3 id with assigning authority, name, birth
    /// date, sex, address, PID-18 account/visit number.
    pub fn write_pid(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"PID|1||");
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(b"^^^SIMHOSP^MR||");
        self.write_name(out);
        out.extend_from_slice(b"||");
        self.write_birth(out);
        out.push(b'|');
        out.push(self.sex as u8);
        out.extend_from_slice(b"|||");
        out.extend_from_slice(self.street.as_bytes());
        out.extend_from_slice(b"^^");
        out.extend_from_slice(self.city.as_bytes());
        out.extend_from_slice(b"^^");
        out.extend_from_slice(self.zip.as_bytes());
        // PID-12 to PID-17 empty, PID-18 the account (visit) number
        out.extend_from_slice(b"|||||||");
        out.extend_from_slice(self.visit.as_bytes());
        out.push(b'\r');
    }
}

/// Appends an MSH segment (with `\r`) with the usual fields: `|^~\&`, sending and receiving
/// application and facility, MSH-7 time, MSH-9 type, MSH-10 control id, MSH-11 `P`, MSH-12
/// version.
#[allow(clippy::too_many_arguments)]
pub fn write_msh(
    out: &mut Vec<u8>,
    sending: &str,
    receiving: &str,
    time: Time,
    message_type: &str,
    seed: u64,
    n: u64,
    version: &str,
) {
    out.extend_from_slice(b"MSH|^~\\&|");
    out.extend_from_slice(sending.as_bytes());
    out.push(b'|');
    out.extend_from_slice(receiving.as_bytes());
    out.push(b'|');
    time.write_ts(out);
    out.extend_from_slice(b"||");
    out.extend_from_slice(message_type.as_bytes());
    out.push(b'|');
    push_control_id(out, seed, n);
    out.extend_from_slice(b"|P|");
    out.extend_from_slice(version.as_bytes());
    out.push(b'\r');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let mut out = Vec::new();
        push_fixed(&mut out, 12.345, 1);
        out.push(b' ');
        push_fixed(&mut out, -0.04, 1);
        out.push(b' ');
        push_fixed(&mut out, 7.0, 0);
        out.push(b' ');
        push_fixed(&mut out, -3.25, 2);
        out.push(b' ');
        push_padded(&mut out, 7, 3);
        assert_eq!(String::from_utf8(out).unwrap(), "12.3 0.0 7 -3.25 007");
    }

    #[test]
    fn control_ids_are_unique_and_seeded() {
        let ids: std::collections::HashSet<Vec<u8>> = (0..10_000)
            .map(|n| {
                let mut v = Vec::new();
                push_control_id(&mut v, 42, n);
                v
            })
            .collect();
        assert_eq!(ids.len(), 10_000);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        push_control_id(&mut a, 1, 5);
        push_control_id(&mut b, 2, 5);
        assert_ne!(a, b);
    }

    #[test]
    fn rng_is_deterministic_and_spread() {
        let mut a = Rng::new(7, 1);
        let mut b = Rng::new(7, 1);
        let mut c = Rng::new(7, 2);
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..100).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(xs[0], c.next_u64());
        let mean = (0..10_000).map(|_| a.unit()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02);
        assert!((0..1000).all(|_| a.below(10) < 10));
    }

    #[test]
    fn patients_are_stable() {
        let p = Patient::nth(1, 3);
        let q = Patient::nth(1, 3);
        assert_eq!(p.id, q.id);
        let mut out = Vec::new();
        p.write_pid(&mut out);
        assert!(out.starts_with(b"PID|1||") && out.ends_with(b"\r"));
        let seg = [b"MSH|^~\\&|A||||1||ADT^A01|1|P|2.5\r".as_slice(), &out].concat();
        let m = crate::model::message::Message::parse(&seg).unwrap();
        assert_eq!(m.text(&"PID-18".parse().unwrap()).unwrap(), p.visit);
        assert_ne!(Patient::nth(1, 3).id, Patient::nth(1, 4).id);
    }
}
