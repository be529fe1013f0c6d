//! `adt`: ADT^A01 admissions, ADT^A08 updates and ADT^A40 merges (HL7 2.5) of one consistent
//! patient population: updates and merges only name patients admitted earlier in the run, and
//! an id merged away is never written again.
//!
//! This file also holds what the order profiles (`orm`, `pacs`) share with it: the patient
//! state of a run ([`Population`]) and a segment writer that places fields by number ([`Seg`]).

use super::{
    Config, FAMILY_NAMES, GIVEN_NAMES_F, GIVEN_NAMES_M, Generator, PHYSICIANS, Patient, Rng, Time,
    mix64, push_u64, write_msh,
};

const STREAM: u64 = 0x4144_5400_0000_0001;
const CONTROL: u64 = 0x4144_5400_0000_00c1;

// ---------------------------------------------------------------------------------------------
// A segment written field by field

/// Writes one segment with fields placed by number: [`Seg::at`] adds the `|` up to field `n`,
/// so positions are written as the specification numbers them instead of counted by hand.
/// Not for MSH, whose numbering is shifted by the field separator.
pub(super) struct Seg<'a> {
    out: &'a mut Vec<u8>,
    field: usize,
}

impl<'a> Seg<'a> {
    /// Starts a segment (`PID`, `OBR`, ...).
    #[inline]
    pub(super) fn new(out: &'a mut Vec<u8>, id: &[u8]) -> Self {
        out.extend_from_slice(id);
        Seg { out, field: 0 }
    }

    /// The buffer, positioned at the start of field `n` (fields are written in increasing order).
    #[inline]
    pub(super) fn at(&mut self, n: usize) -> &mut Vec<u8> {
        debug_assert!(n >= self.field, "fields must be written in order");
        while self.field < n {
            self.out.push(b'|');
            self.field += 1;
        }
        self.out
    }

    /// Writes `bytes` as (the start of) field `n`.
    #[inline]
    pub(super) fn put(&mut self, n: usize, bytes: &[u8]) {
        self.at(n).extend_from_slice(bytes);
    }

    /// Ends the segment with `\r`.
    #[inline]
    pub(super) fn end(self) {
        self.out.push(b'\r');
    }
}

/// Appends a PID segment: PID-3 id with assigning authority, PID-5 name, PID-7 birth date,
/// PID-8 sex, PID-11 address (when `address`), PID-18 visit (admission) number.
/// (`Patient::write_pid` puts the visit number in PID-19.)
pub(super) fn write_pid(out: &mut Vec<u8>, p: &Patient, address: bool) {
    let mut pid = Seg::new(out, b"PID");
    pid.put(1, b"1");
    let o = pid.at(3);
    o.extend_from_slice(p.id.as_bytes());
    o.extend_from_slice(b"^^^SIMHOSP^MR");
    p.write_name(pid.at(5));
    p.write_birth(pid.at(7));
    pid.at(8).push(p.sex as u8);
    if address {
        let o = pid.at(11);
        o.extend_from_slice(p.street.as_bytes());
        o.extend_from_slice(b"^^");
        o.extend_from_slice(p.city.as_bytes());
        o.extend_from_slice(b"^^");
        o.extend_from_slice(p.zip.as_bytes());
    }
    pid.put(18, p.visit.as_bytes());
    pid.end();
}

// ---------------------------------------------------------------------------------------------
// The patients of a run

/// The largest population a run keeps state for (about 32 bytes a patient); a larger
/// `--patients` is reduced to it.
pub(super) const MAX_SLOTS: u32 = 1 << 20;

/// Wards: code, hospital service (PV1-10), first room number.
pub(super) const WARDS: &[(&str, &str, u16)] = &[
    ("MED1", "MED", 101),
    ("MED2", "MED", 121),
    ("SURG", "SUR", 201),
    ("CARD", "CAR", 301),
    ("PULM", "PUL", 321),
    ("URO", "URO", 401),
];
/// PV1-4 admission types (HL7 table 0007): emergency, elective, urgent.
const ADMISSION_TYPES: &[u8] = b"EEECCU";

/// What a run has changed about one patient of the population (`Patient::nth` gives the rest).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Slot {
    /// PV1-44, local seconds.
    pub admit: i64,
    /// 0: the population id; else the id the patient survives under after a merge.
    pub id: u64,
    /// 0: the population visit number; else the sequence number of a later visit.
    pub visit: u32,
    pub room: u16,
    /// 0: as born; else an index + 1 into FAMILY_NAMES / the given-name list of `sex`.
    pub family: u8,
    pub given: u8,
    /// 0: as born; else `F` or `M`.
    pub sex: u8,
    pub ward: u8,
    pub bed: u8,
    pub attending: u8,
    pub adm_type: u8,
}

/// The patient population of a run: patients are met in population order (so "seen before"
/// is a prefix of it) and carry the updates and merges sent about them.
pub(super) struct Population {
    seed: u64,
    size: usize,
    pub slots: Vec<Slot>,
    merges: u64,
    visits: u32,
    /// Ids given by merges start here, above every population id.
    new_id_base: u64,
}

/// What an A08 changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Change {
    Name,
    Sex,
    Visit,
    Attending,
    Bed,
}

impl Population {
    pub(super) fn new(seed: u64, patients: u32) -> Self {
        let top = 100_000 + 7 * patients as u64 + 7;
        Population {
            seed,
            size: patients.clamp(1, MAX_SLOTS) as usize,
            slots: Vec::new(),
            merges: 0,
            visits: 0,
            new_id_base: top.div_ceil(100_000) * 100_000,
        }
    }

    /// A patient for a new encounter: one not met before with probability `p_new` (while any
    /// are left; always for the first), else one met before. Returns the slot and whether it is
    /// new.
    pub(super) fn choose(&mut self, rng: &mut Rng, p_new: f64) -> (usize, bool) {
        let n = self.slots.len();
        if n == 0 || (n < self.size && rng.chance(p_new)) {
            self.slots.push(Slot::default());
            (n, true)
        } else {
            (rng.below(n as u64) as usize, false)
        }
    }

    /// A patient met before, if any.
    pub(super) fn pick_seen(&self, rng: &mut Rng) -> Option<usize> {
        let n = self.slots.len();
        (n > 0).then(|| rng.below(n as u64) as usize)
    }

    /// The patient in `slot` as the run has left them.
    pub(super) fn patient(&self, slot: usize) -> Patient {
        let s = self.slots[slot];
        let mut p = Patient::nth(self.seed, slot as u64);
        if s.id != 0 {
            p.id = s.id.to_string();
        }
        if s.family != 0 {
            p.family = FAMILY_NAMES[(s.family - 1) as usize % FAMILY_NAMES.len()];
        }
        if s.sex != 0 {
            p.sex = s.sex as char;
            let names = if s.sex == b'F' {
                GIVEN_NAMES_F
            } else {
                GIVEN_NAMES_M
            };
            p.given = names[(s.given.max(1) - 1) as usize % names.len()];
        }
        if s.visit != 0 {
            let v = mix64(self.seed ^ 0x5649_5349_5400_0000 ^ s.visit as u64) % 100_000_000;
            p.visit = format!("V{v:08}");
        }
        p
    }

    /// Gives `slot` a new visit (admission) number.
    pub(super) fn new_visit(&mut self, slot: usize) {
        self.visits = self.visits.wrapping_add(1).max(1);
        self.slots[slot].visit = self.visits;
    }

    /// Merges the patient's record into a new surviving id; returns the id merged away, which
    /// is never written again.
    pub(super) fn merge(&mut self, slot: usize) -> String {
        let old = self.patient(slot).id;
        self.merges += 1;
        let jitter = mix64(self.seed ^ 0x4d52_4700_0000_0000 ^ self.merges) % 7;
        self.slots[slot].id = self.new_id_base + self.merges * 7 + jitter;
        old
    }

    /// Applies one of `kinds` to the patient (what an A08 sends) and returns it.
    pub(super) fn update(&mut self, slot: usize, rng: &mut Rng, kinds: &[(Change, u32)]) -> Change {
        let total: u32 = kinds.iter().map(|k| k.1).sum();
        let mut roll = rng.below(total.max(1) as u64) as u32;
        let mut change = kinds.first().map_or(Change::Name, |k| k.0);
        for &(k, w) in kinds {
            if roll < w {
                change = k;
                break;
            }
            roll -= w;
        }
        if change == Change::Visit {
            self.new_visit(slot);
            return change;
        }
        let current = self.patient(slot);
        let s = &mut self.slots[slot];
        match change {
            Change::Name => {
                // a new family name (marriage, a corrected spelling)
                let mut i = rng.below(FAMILY_NAMES.len() as u64) as usize;
                if FAMILY_NAMES[i] == current.family {
                    i = (i + 1) % FAMILY_NAMES.len();
                }
                s.family = i as u8 + 1;
            }
            Change::Sex => {
                // a registration error corrected: sex and given name
                let (sex, names) = if current.sex == 'F' {
                    (b'M', GIVEN_NAMES_M)
                } else {
                    (b'F', GIVEN_NAMES_F)
                };
                s.sex = sex;
                s.given = rng.below(names.len() as u64) as u8 + 1;
            }
            Change::Visit => {}
            Change::Attending => {
                let n = PHYSICIANS.len() as u64;
                s.attending = ((s.attending as u64 + 1 + rng.below(n - 1)) % n) as u8;
            }
            Change::Bed => place(s, rng),
        }
        change
    }
}

/// A ward, room and bed.
fn place(s: &mut Slot, rng: &mut Rng) {
    s.ward = rng.below(WARDS.len() as u64) as u8;
    s.room = WARDS[s.ward as usize].2 + rng.below(20) as u16;
    s.bed = rng.below(4) as u8;
}

// ---------------------------------------------------------------------------------------------
// The profile

/// What an A08 of this profile changes.
const ADT_CHANGES: &[(Change, u32)] = &[
    (Change::Name, 25),
    (Change::Sex, 10),
    (Change::Visit, 15),
    (Change::Attending, 25),
    (Change::Bed, 25),
];

pub struct Adt {
    seed: u64,
    version: String,
    rng: Rng,
    now: Time,
    n: u64,
    pop: Population,
}

impl Adt {
    pub fn new(cfg: &Config) -> Self {
        Adt {
            seed: cfg.seed,
            version: cfg.version.clone().unwrap_or_else(|| "2.5".into()),
            rng: Rng::new(cfg.seed, STREAM),
            now: cfg.start,
            n: 0,
            pop: Population::new(cfg.seed, cfg.patients),
        }
    }

    fn header(&self, out: &mut Vec<u8>, kind: &str, event: &[u8]) {
        write_msh(
            out,
            "SIMADT|SIMHOSP",
            "SIMEHR|SIMHOSP",
            self.now,
            kind,
            self.seed ^ CONTROL,
            self.n,
            &self.version,
        );
        let mut evn = Seg::new(out, b"EVN");
        evn.put(1, event);
        self.now.write_ts(evn.at(2));
        evn.end();
    }

    fn a01(&mut self, out: &mut Vec<u8>) {
        let (slot, new) = self.pop.choose(&mut self.rng, 0.85);
        if !new {
            self.pop.new_visit(slot);
        }
        let admit = self.now.local - self.rng.below(1800) as i64;
        let s = &mut self.pop.slots[slot];
        place(s, &mut self.rng);
        s.attending = self.rng.below(PHYSICIANS.len() as u64) as u8;
        s.adm_type = *self.rng.pick(ADMISSION_TYPES);
        s.admit = admit;
        self.header(out, "ADT^A01^ADT_A01", b"A01");
        let p = self.pop.patient(slot);
        write_pid(out, &p, true);
        self.pv1(out, slot, &p);
    }

    fn a08(&mut self, out: &mut Vec<u8>, slot: usize) {
        self.pop.update(slot, &mut self.rng, ADT_CHANGES);
        self.header(out, "ADT^A08^ADT_A01", b"A08");
        let p = self.pop.patient(slot);
        write_pid(out, &p, true);
        self.pv1(out, slot, &p);
    }

    fn a40(&mut self, out: &mut Vec<u8>, slot: usize) {
        let old = self.pop.merge(slot);
        self.header(out, "ADT^A40^ADT_A39", b"A40");
        write_pid(out, &self.pop.patient(slot), true);
        let mut mrg = Seg::new(out, b"MRG");
        let o = mrg.at(1);
        o.extend_from_slice(old.as_bytes());
        o.extend_from_slice(b"^^^SIMHOSP^MR");
        mrg.end();
    }

    /// PV1: class, ward^room^bed^facility, admission type, attending doctor, service, visit
    /// number, admit time.
    fn pv1(&self, out: &mut Vec<u8>, slot: usize, p: &Patient) {
        let s = self.pop.slots[slot];
        let (ward, service, _) = WARDS[s.ward as usize % WARDS.len()];
        let mut pv1 = Seg::new(out, b"PV1");
        pv1.put(1, b"1");
        pv1.put(2, b"I");
        let o = pv1.at(3);
        o.extend_from_slice(ward.as_bytes());
        o.push(b'^');
        push_u64(o, s.room as u64);
        o.push(b'^');
        o.push(b'A' + s.bed);
        o.extend_from_slice(b"^SIMHOSP");
        pv1.at(4)
            .push(if s.adm_type == 0 { b'E' } else { s.adm_type });
        pv1.put(
            7,
            PHYSICIANS[s.attending as usize % PHYSICIANS.len()].as_bytes(),
        );
        pv1.put(10, service.as_bytes());
        pv1.put(19, p.visit.as_bytes());
        Time {
            local: s.admit,
            offset_min: self.now.offset_min,
        }
        .write_ts(pv1.at(44));
        pv1.end();
    }
}

impl Generator for Adt {
    fn next(&mut self, out: &mut Vec<u8>) {
        if self.n > 0 {
            let gap = 5 + self.rng.below(295) as i64;
            self.now = self.now.plus(gap);
        }
        self.n += 1;
        let roll = self.rng.below(100);
        match self.pop.pick_seen(&mut self.rng) {
            Some(slot) if roll >= 96 => self.a40(out, slot),
            Some(slot) if roll >= 76 => self.a08(out, slot),
            _ => self.a01(out),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::Profile;
    use super::*;
    use crate::model::message::Message;
    use std::collections::{HashMap, HashSet};

    pub(crate) fn config(seed: u64) -> Config {
        let mut cfg = Config::new(
            Profile::Adt,
            seed,
            Time::parse("2024-08-14T11:46:36+02:00").unwrap(),
        );
        cfg.patients = 50;
        cfg
    }

    pub(crate) fn run(g: &mut dyn Generator, n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| {
                let mut out = Vec::new();
                g.next(&mut out);
                out
            })
            .collect()
    }

    pub(crate) fn text(m: &Message, path: &str) -> String {
        m.text(&path.parse().unwrap())
            .unwrap_or_default()
            .into_owned()
    }

    /// Every message parses and validates, segments end with CR, control ids are unique and
    /// times never go backwards.
    pub(crate) fn check_stream(msgs: &[Vec<u8>], version: &str) {
        let mut ids = HashSet::new();
        let mut last = String::new();
        for raw in msgs {
            assert!(raw.ends_with(b"\r") && !raw.contains(&b'\n'));
            let m = Message::parse(raw).unwrap();
            m.validate().unwrap();
            assert!(ids.insert(m.control_id()), "duplicate MSH-10");
            assert_eq!(m.version(), version);
            let t = text(&m, "MSH-7");
            assert!(t[..14] >= last[..last.len().min(14)], "time went backwards");
            last = t;
        }
    }

    /// What every profile promises: the same seed gives the same messages, another seed
    /// others; every stream is valid in the profile's own `version` and in `other` (given by
    /// `--version`), also with a population of one patient and of `u32::MAX`.
    pub(crate) fn check_profile<G: Generator>(
        make: impl Fn(&Config) -> G,
        cfg: Config,
        version: &str,
        other: &str,
    ) {
        let a = run(&mut make(&cfg), 500);
        assert_eq!(a, run(&mut make(&cfg), 500));
        let mut reseeded = cfg.clone();
        reseeded.seed += 1;
        assert_ne!(a, run(&mut make(&reseeded), 500));
        check_stream(&a, version);
        let mut cfg = cfg;
        cfg.version = Some(other.into());
        check_stream(&run(&mut make(&cfg), 100), other);
        for patients in [1, u32::MAX] {
            cfg.patients = patients;
            check_stream(&run(&mut make(&cfg), 300), other);
        }
    }

    #[test]
    fn deterministic_and_valid() {
        check_profile(Adt::new, config(7), "2.5", "2.3.1");
        let first = run(&mut Adt::new(&config(7)), 1).remove(0);
        let first = Message::parse(&first).unwrap();
        assert_eq!(text(&first, "MSH-7"), "20240814114636+0200");
    }

    #[test]
    fn mix_and_consistency() {
        let msgs = run(&mut Adt::new(&config(3)), 2000);
        let mut seen: HashSet<String> = HashSet::new();
        let mut merged: HashSet<String> = HashSet::new();
        let mut kinds: HashMap<String, usize> = HashMap::new();
        let mut names: HashMap<String, String> = HashMap::new();
        for raw in &msgs {
            let m = Message::parse(raw).unwrap();
            let kind = m.message_type();
            *kinds.entry(kind.clone()).or_default() += 1;
            let id = text(&m, "PID-3.1");
            assert_eq!(text(&m, "PID-3.4"), "SIMHOSP");
            assert!(!merged.contains(&id), "a merged-away id was used again");
            assert!(!text(&m, "PID-5.1").is_empty() && !text(&m, "PID-7").is_empty());
            assert_eq!(text(&m, "EVN-1"), kind[4..7]);
            match kind.as_str() {
                "ADT^A01^ADT_A01" | "ADT^A08^ADT_A01" => {
                    if kind.contains("A08") {
                        assert!(seen.contains(&id), "A08 of a patient not admitted: {id}");
                    }
                    seen.insert(id.clone());
                    assert_eq!(text(&m, "PV1-2"), "I");
                    assert_eq!(text(&m, "PV1-3.4"), "SIMHOSP");
                    assert!(!text(&m, "PV1-3.3").is_empty());
                    assert!(PHYSICIANS.iter().any(|p| *p == text(&m, "PV1-7")));
                    assert_eq!(text(&m, "PV1-19"), text(&m, "PID-18"));
                    let admit = text(&m, "PV1-44");
                    assert!(admit.len() == 19 && admit <= text(&m, "MSH-7"));
                    let segs: Vec<_> = m.segments().map(|s| s.id_str().into_owned()).collect();
                    assert_eq!(segs, ["MSH", "EVN", "PID", "PV1"]);
                }
                "ADT^A40^ADT_A39" => {
                    let old = text(&m, "MRG-1.1");
                    assert!(seen.contains(&old), "A40 of a patient not admitted");
                    assert!(!seen.contains(&id), "the surviving id is new");
                    assert_eq!(text(&m, "MRG-1.4"), "SIMHOSP");
                    assert_eq!(names.get(&old), Some(&text(&m, "PID-5")));
                    merged.insert(old.clone());
                    seen.remove(&old);
                    seen.insert(id.clone());
                }
                other => panic!("unexpected {other}"),
            }
            names.insert(id, text(&m, "PID-5"));
        }
        let a01 = kinds["ADT^A01^ADT_A01"];
        let a08 = kinds["ADT^A08^ADT_A01"];
        let a40 = kinds["ADT^A40^ADT_A39"];
        assert!(a01 > a08 && a08 > a40 && a40 > 20, "{kinds:?}");
    }

    #[test]
    fn tiny_and_huge_populations() {
        for patients in [1, u32::MAX] {
            let mut cfg = config(1);
            cfg.patients = patients;
            let msgs = run(&mut Adt::new(&cfg), 300);
            check_stream(&msgs, "2.5");
        }
    }
}
