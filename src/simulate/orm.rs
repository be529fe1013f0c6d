//! `orm`: ORM^O01 radiology orders (HL7 2.3) exactly as the PACS broker of
//! a PACS broker reads them: MSH, PID, PV1, ORC, OBR, ZDS, one of each, with the
//! broker's field positions (accession number OBR-2, procedure step OBR-4, station OBR-18,
//! AE title OBR-21, modality OBR-24, start OBR-36, study instance UID ZDS-1, ...).
//!
//! ORC-1 is NW for a new accession number, NW again for an open order (an update: new time,
//! station or priority), CA (cancel) or CM (complete) for an open order; a cancelled or
//! completed order gets no later message. The order book here is shared with `pacs`.

use std::collections::VecDeque;

use super::adt::{Population, Seg, write_pid};
use super::{Config, Generator, PHYSICIANS, Patient, Rng, Time, mix64, push_u64, write_msh};

const STREAM: u64 = 0x4f52_4d00_0000_0001;
const CONTROL: u64 = 0x4f52_4d00_0000_00c1;

/// The UID root study instance UIDs are made under.
pub(super) const UID_PREFIX: &[u8] = b"1.2.826.0.1.3680043.10.1234.";
/// Open orders kept (the oldest are forgotten beyond this).
pub(super) const MAX_OPEN: usize = 2000;
/// Open orders beyond which a completion is sent rather than a new order.
pub(super) const BACKLOG: usize = 100;

/// A requested procedure: code and description of the procedure step (OBR-4), requested
/// procedure description (OBR-15), modality (OBR-24), reasons (OBR-31, ICD-10 code^text).
pub(super) struct Procedure {
    pub code: &'static str,
    pub step: &'static str,
    pub requested: &'static str,
    pub modality: &'static str,
    pub reasons: &'static [(&'static str, &'static str)],
}

const fn proc_(
    code: &'static str,
    step: &'static str,
    requested: &'static str,
    modality: &'static str,
    reasons: &'static [(&'static str, &'static str)],
) -> Procedure {
    Procedure {
        code,
        step,
        requested,
        modality,
        reasons,
    }
}

/// The procedures ordered.
pub(super) const PROCEDURES: &[Procedure] = &[
    proc_(
        "CRCHEST",
        "CR CHEST PA AND LATERAL",
        "CR CHEST",
        "CR",
        &[
            ("R05", "Cough"),
            ("R06.0", "Dyspnoea"),
            ("J18.9", "Suspected pneumonia"),
            ("Z01.818", "Preoperative examination"),
            ("R07.4", "Chest pain"),
        ],
    ),
    proc_(
        "CRHAND",
        "CR HAND RIGHT 2 VIEWS",
        "CR HAND",
        "CR",
        &[("S62.9", "Hand injury")],
    ),
    proc_(
        "DXKNEE",
        "DX KNEE LEFT STANDING",
        "DX KNEE",
        "DX",
        &[
            ("M17.12", "Knee osteoarthritis"),
            ("M25.562", "Pain in left knee"),
        ],
    ),
    proc_(
        "CTHEAD",
        "CT HEAD WITHOUT CONTRAST",
        "CT HEAD",
        "CT",
        &[
            ("R51", "Headache"),
            ("S06.9", "Head injury"),
            ("I63.9", "Suspected stroke"),
            ("R42", "Dizziness"),
        ],
    ),
    proc_(
        "CTCHEST",
        "CT CHEST WITH CONTRAST",
        "CT CHEST",
        "CT",
        &[
            ("R91.8", "Lung nodule follow-up"),
            ("C34.90", "Lung cancer staging"),
            ("I26.99", "Suspected pulmonary embolism"),
        ],
    ),
    proc_(
        "CTABDPEL",
        "CT ABDOMEN AND PELVIS WITH CONTRAST",
        "CT ABDOMEN PELVIS",
        "CT",
        &[
            ("R10.9", "Abdominal pain"),
            ("K35.80", "Suspected appendicitis"),
        ],
    ),
    proc_(
        "MRBRAIN",
        "MR BRAIN WITH AND WITHOUT CONTRAST",
        "MR BRAIN",
        "MR",
        &[
            ("G35", "Multiple sclerosis follow-up"),
            ("G40.909", "Seizure"),
            ("R51", "Headache"),
        ],
    ),
    proc_(
        "MRKNEE",
        "MR KNEE LEFT WITHOUT CONTRAST",
        "MR KNEE",
        "MR",
        &[
            ("M25.562", "Pain in left knee"),
            ("S83.209A", "Suspected meniscus tear"),
        ],
    ),
    proc_(
        "MRLSPINE",
        "MR LUMBAR SPINE WITHOUT CONTRAST",
        "MR LUMBAR SPINE",
        "MR",
        &[
            ("M54.5", "Low back pain"),
            ("M51.26", "Suspected disc herniation"),
        ],
    ),
    proc_(
        "USABD",
        "US ABDOMEN COMPLETE",
        "US ABDOMEN",
        "US",
        &[
            ("R10.11", "Right upper quadrant pain"),
            ("K80.20", "Suspected gallstones"),
        ],
    ),
    proc_(
        "USTHYR",
        "US THYROID",
        "US THYROID",
        "US",
        &[("E04.1", "Thyroid nodule")],
    ),
    proc_(
        "USLEGV",
        "US VENOUS DOPPLER LEFT LEG",
        "US DOPPLER LEG VEINS",
        "US",
        &[
            ("R22.42", "Swelling of left leg"),
            ("I82.402", "Suspected deep vein thrombosis"),
        ],
    ),
    proc_(
        "MGSCREEN",
        "MG SCREENING BILATERAL",
        "MAMMOGRAPHY SCREENING",
        "MG",
        &[("Z12.31", "Screening mammogram")],
    ),
    proc_(
        "NMBONE",
        "NM BONE SCAN WHOLE BODY",
        "NM BONE SCAN",
        "NM",
        &[("C79.51", "Bone metastases staging")],
    ),
    proc_(
        "PTCTWB",
        "PET-CT WHOLE BODY FDG",
        "PET CT WHOLE BODY",
        "PT",
        &[
            ("C34.90", "Lung cancer staging"),
            ("C83.30", "Lymphoma response assessment"),
        ],
    ),
    proc_(
        "XACOR",
        "CORONARY ANGIOGRAPHY",
        "CORONARY ANGIOGRAPHY",
        "XA",
        &[("I20.9", "Angina pectoris")],
    ),
    proc_(
        "RFSWALLOW",
        "FLUORO BARIUM SWALLOW",
        "BARIUM SWALLOW",
        "RF",
        &[("R13.10", "Dysphagia")],
    ),
];

/// Modality, station name (OBR-18), AE title (OBR-21), location (OBR-20).
pub(super) const STATIONS: &[(&str, &str, &str, &str)] = &[
    ("CR", "XRAY ROOM 1", "SIMCR1", "RAD XRAY 1"),
    ("CR", "XRAY ROOM 2", "SIMCR2", "RAD XRAY 2"),
    ("DX", "DR ROOM 3", "SIMDX3", "RAD XRAY 3"),
    ("CT", "CT SCANNER 1", "SIMCT1", "RAD CT 1"),
    ("CT", "CT SCANNER 2", "SIMCT2", "RAD CT 2"),
    ("MR", "MR 1.5T", "SIMMR1", "RAD MR 1"),
    ("MR", "MR 3T", "SIMMR2", "RAD MR 2"),
    ("US", "US ROOM 1", "SIMUS1", "RAD US 1"),
    ("US", "US ROOM 2", "SIMUS2", "RAD US 2"),
    ("MG", "MAMMO 1", "SIMMG1", "BREAST CENTRE"),
    ("NM", "GAMMA CAMERA 1", "SIMNM1", "NUCLEAR MEDICINE"),
    ("PT", "PET CT 1", "SIMPT1", "NUCLEAR MEDICINE"),
    ("XA", "CATH LAB 1", "SIMXA1", "CARDIOLOGY CATH LAB"),
    ("RF", "FLUORO ROOM 1", "SIMRF1", "RAD FLUORO 1"),
];

/// OBR-5 priorities as the broker takes them (DICOM Requested Procedure Priority).
pub(super) const PRIORITIES: &[&str] = &["ROUTINE", "HIGH", "STAT"];

/// Radiologists and radiographers who perform (OBR-34) and read (OBX-16) studies.
pub(super) const RADIOLOGISTS: &[&str] = &[
    "2001^TESTRAD^ROSA^^^DR",
    "2002^EXAMPLAR^NILS^^^DR",
    "2003^SAMPLEWOOD^INGRID^^^DR",
    "2004^DEMOSCAN^PER^^^DR",
];

/// PV1-2 patient classes (I inpatient, O outpatient, E emergency).
const CLASSES: &[u8] = b"IOE";

/// One order (one accession number) and what has been sent about it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Order {
    /// The order's number in the run (1, 2, ...).
    pub serial: u64,
    /// The accession number's digits (`ACC` + these).
    pub acc: u64,
    /// The study instance UID's digits after the prefix (`root.serial`).
    pub uid_root: u64,
    pub slot: usize,
    /// Scheduled start, local seconds.
    pub sched: i64,
    /// Index into PROCEDURES, STATIONS.
    pub procedure: u8,
    pub station: u8,
    pub reason: u8,
    pub priority: u8,
    /// `I`, `O` or `E`.
    pub class: u8,
    /// kg
    pub weight: u8,
    /// Indexes into PHYSICIANS (referring, requesting) and RADIOLOGISTS (performing, reading).
    pub referring: u8,
    pub requesting: u8,
    pub performing: u8,
    pub reader: u8,
    /// pacs: the next report status to send (0 I, 1 R, 2 F, 3 F with text after an F
    /// without).
    pub report: u8,
}

impl Order {
    pub(super) fn procedure(&self) -> &'static Procedure {
        &PROCEDURES[self.procedure as usize % PROCEDURES.len()]
    }

    fn station(&self) -> (&'static str, &'static str, &'static str, &'static str) {
        STATIONS[self.station as usize % STATIONS.len()]
    }

    /// OBR-2: `ACC` and digits.
    pub(super) fn write_accession(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"ACC");
        push_u64(out, self.acc);
    }

    /// OBR-19 (and the study id of a report): `RP` and the accession digits.
    pub(super) fn write_requested_id(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"RP");
        push_u64(out, self.acc);
    }

    /// ZDS-1.1: the study instance UID.
    pub(super) fn write_uid(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(UID_PREFIX);
        push_u64(out, self.uid_root);
        out.push(b'.');
        push_u64(out, self.serial);
    }
}

/// The orders of a run: the open ones (NW sent, no CA or CM yet), oldest first.
pub(super) struct Orders {
    pub open: VecDeque<Order>,
    serial: u64,
    acc_base: u64,
    uid_root: u64,
}

/// A station for a modality.
fn station_for(rng: &mut Rng, modality: &str) -> u8 {
    let n = STATIONS.iter().filter(|s| s.0 == modality).count() as u64;
    let k = rng.below(n.max(1)) as usize;
    STATIONS
        .iter()
        .enumerate()
        .filter(|s| s.1.0 == modality)
        .nth(k)
        .map_or(0, |s| s.0 as u8)
}

/// A scheduled start for a priority: STAT within minutes, HIGH within the hour, ROUTINE
/// within hours, on the 5-minute grid.
fn schedule(rng: &mut Rng, now: i64, priority: u8) -> i64 {
    let delay = match priority {
        2 => rng.below(10 * 60) as i64,
        1 => 15 * 60 + rng.below(45 * 60) as i64,
        _ => 30 * 60 + rng.below(6 * 3600) as i64,
    };
    (now + delay).div_euclid(300) * 300 + 300
}

/// A weight in kg plausible for the patient's age and sex, stable for a patient.
pub(super) fn weight(seed: u64, slot: usize, p: &Patient, now: Time) -> u8 {
    let age = (now.local.div_euclid(86_400) - p.birth_days).max(0) / 365;
    let r = mix64(seed ^ 0x5747_5400_0000_0000 ^ slot as u64) % 1000;
    let kg = match age {
        0 => 4 + r % 7,
        1..=13 => 8 + age as u64 * 3 + r % 8,
        _ if p.sex == 'F' => 50 + r % 45,
        _ => 60 + r % 50,
    };
    kg.min(250) as u8
}

impl Orders {
    pub(super) fn new(seed: u64) -> Self {
        Orders {
            open: VecDeque::new(),
            serial: 0,
            acc_base: 10_000_000 + mix64(seed ^ 0x4143_4300_0000_0000) % 80_000_000,
            uid_root: 100_000_000_000 + mix64(seed ^ 0x5549_4400_0000_0000) % 900_000_000_000,
        }
    }

    /// A new order for a patient (new or met before), kept open.
    pub(super) fn create(
        &mut self,
        rng: &mut Rng,
        pop: &mut Population,
        seed: u64,
        now: Time,
    ) -> Order {
        self.serial += 1;
        let (slot, _) = pop.choose(rng, 0.6);
        let procedure = rng.below(PROCEDURES.len() as u64) as u8;
        let pr = &PROCEDURES[procedure as usize];
        let roll = rng.below(100);
        let priority = if roll < 80 {
            0
        } else if roll < 92 {
            1
        } else {
            2
        };
        let class = if priority == 2 {
            if rng.chance(0.7) { b'E' } else { b'I' }
        } else {
            CLASSES[rng.below(2) as usize]
        };
        let order = Order {
            serial: self.serial,
            acc: self.acc_base + self.serial,
            uid_root: self.uid_root,
            slot,
            sched: schedule(rng, now.local, priority),
            procedure,
            station: station_for(rng, pr.modality),
            reason: rng.below(pr.reasons.len() as u64) as u8,
            priority,
            class,
            weight: weight(seed, slot, &pop.patient(slot), now),
            referring: rng.below(PHYSICIANS.len() as u64) as u8,
            requesting: rng.below(PHYSICIANS.len() as u64) as u8,
            performing: rng.below(RADIOLOGISTS.len() as u64) as u8,
            reader: rng.below(RADIOLOGISTS.len() as u64) as u8,
            report: 0,
        };
        if self.open.len() >= MAX_OPEN {
            self.open.pop_front();
        }
        self.open.push_back(order);
        order
    }

    /// An open order not started yet, changed (new time, station or priority): the order to
    /// send again with NW.
    pub(super) fn update(&mut self, rng: &mut Rng, now: Time) -> Option<Order> {
        let n = self.open.len();
        let i = n.checked_sub(1 + rng.below(n.min(16) as u64) as usize)?;
        let o = &mut self.open[i];
        if o.sched <= now.local {
            return None;
        }
        match rng.below(100) {
            0..60 => o.sched = schedule(rng, now.local, o.priority) + 3600,
            60..85 => o.station = station_for(rng, o.procedure().modality),
            _ => {
                o.priority = (o.priority + 1).min(2);
                o.sched = o.sched.min(schedule(rng, now.local, o.priority));
            }
        }
        Some(*o)
    }

    /// An open order taken out to cancel (any one).
    pub(super) fn cancel(&mut self, rng: &mut Rng) -> Option<Order> {
        let i = rng.below(self.open.len() as u64) as usize;
        self.open.remove(i)
    }

    /// An open order whose scheduled start has passed, taken out to complete (one of the
    /// oldest).
    pub(super) fn complete(&mut self, rng: &mut Rng, now: Time) -> Option<Order> {
        let k = self.open.len().min(32);
        let start = rng.below(k.max(1) as u64) as usize;
        let i = (0..k)
            .map(|j| (start + j) % k)
            .find(|&i| self.open[i].sched <= now.local)?;
        self.open.remove(i)
    }
}

/// Appends PID, PV1, ORC and OBR of an order in the broker's layout. `orc1` is NW, CA, CM
/// (orders) or RE (reports); `status` is OBR-25 for reports.
pub(super) fn write_order(
    out: &mut Vec<u8>,
    o: &Order,
    p: &Patient,
    orc1: &[u8],
    status: Option<u8>,
    offset: Option<i32>,
) {
    let pr = o.procedure();
    let (_, station, ae, location) = o.station();
    write_pid(out, p, false);

    let mut pv1 = Seg::new(out, b"PV1");
    pv1.put(1, b"1");
    pv1.at(2).push(o.class);
    pv1.put(
        8,
        PHYSICIANS[o.referring as usize % PHYSICIANS.len()].as_bytes(),
    );
    push_u64(pv1.at(20), o.weight as u64);
    pv1.end();

    let mut orc = Seg::new(out, b"ORC");
    orc.put(1, orc1);
    orc.put(
        12,
        PHYSICIANS[o.requesting as usize % PHYSICIANS.len()].as_bytes(),
    );
    orc.put(17, b"SIMHOSP^SIMULATED GENERAL HOSPITAL");
    orc.end();

    let mut obr = Seg::new(out, b"OBR");
    obr.put(1, b"1");
    o.write_accession(obr.at(2));
    let b = obr.at(4);
    b.extend_from_slice(pr.code.as_bytes());
    b.push(b'^');
    b.extend_from_slice(pr.step.as_bytes());
    obr.put(
        5,
        PRIORITIES[o.priority as usize % PRIORITIES.len()].as_bytes(),
    );
    obr.put(15, pr.requested.as_bytes());
    obr.put(18, station.as_bytes());
    o.write_requested_id(obr.at(19));
    obr.put(20, location.as_bytes());
    obr.put(21, ae.as_bytes());
    obr.put(24, pr.modality.as_bytes());
    if let Some(s) = status {
        obr.at(25).push(s);
    }
    let (code, text) = pr.reasons[o.reason as usize % pr.reasons.len()];
    let b = obr.at(31);
    b.extend_from_slice(code.as_bytes());
    b.push(b'^');
    b.extend_from_slice(text.as_bytes());
    // OBR-34.1: the name as one value (family, given), as the broker reads it
    let phys = RADIOLOGISTS[o.performing as usize % RADIOLOGISTS.len()];
    let mut parts = phys.split('^').skip(1);
    let b = obr.at(34);
    b.extend_from_slice(parts.next().unwrap_or("").as_bytes());
    b.push(b' ');
    b.extend_from_slice(parts.next().unwrap_or("").as_bytes());
    Time {
        local: o.sched,
        offset_min: offset,
    }
    .write_ts(obr.at(36));
    obr.end();
}

/// Appends the ZDS segment: ZDS-1 study instance UID^application^Application^DICOM.
pub(super) fn write_zds(out: &mut Vec<u8>, o: &Order) {
    let mut zds = Seg::new(out, b"ZDS");
    o.write_uid(zds.at(1));
    out.extend_from_slice(b"^SIMRIS^Application^DICOM\r");
}

pub struct Orm {
    seed: u64,
    version: String,
    rng: Rng,
    now: Time,
    n: u64,
    pop: Population,
    orders: Orders,
}

impl Orm {
    pub fn new(cfg: &Config) -> Self {
        Orm {
            seed: cfg.seed,
            version: cfg.version.clone().unwrap_or_else(|| "2.3".into()),
            rng: Rng::new(cfg.seed, STREAM),
            now: cfg.start,
            n: 0,
            pop: Population::new(cfg.seed, cfg.patients),
            orders: Orders::new(cfg.seed),
        }
    }
}

impl Generator for Orm {
    fn next(&mut self, out: &mut Vec<u8>) {
        if self.n > 0 {
            let gap = 10 + self.rng.below(230) as i64;
            self.now = self.now.plus(gap);
        }
        self.n += 1;
        let now = self.now;
        let rng = &mut self.rng;
        let roll = rng.below(100);
        let picked = match roll {
            0..40 => None,
            40..50 => self.orders.update(rng, now).map(|o| (o, b"NW")),
            50..56 => self.orders.cancel(rng).map(|o| (o, b"CA")),
            _ => self.orders.complete(rng, now).map(|o| (o, b"CM")),
        };
        // keep the open orders near a working backlog: complete rather than add
        let picked = picked.or_else(|| {
            (self.orders.open.len() > BACKLOG)
                .then(|| self.orders.complete(rng, now).map(|o| (o, b"CM")))
                .flatten()
        });
        let (order, control) = match picked {
            Some(p) => p,
            None => (
                self.orders.create(rng, &mut self.pop, self.seed, now),
                b"NW",
            ),
        };
        write_msh(
            out,
            "SIMRIS|SIMHOSP",
            "PACSBROKER|SIMHOSP",
            now,
            "ORM^O01",
            self.seed ^ CONTROL,
            self.n,
            &self.version,
        );
        let p = self.pop.patient(order.slot);
        write_order(out, &order, &p, control, None, now.offset_min);
        write_zds(out, &order);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::Profile;
    use super::super::adt::tests::{check_profile, run, text};
    use super::*;
    use crate::model::message::Message;
    use std::collections::{HashMap, HashSet};

    fn config(seed: u64) -> Config {
        let mut cfg = Config::new(
            Profile::Orm,
            seed,
            Time::parse("2024-08-14T11:46:36+02:00").unwrap(),
        );
        cfg.patients = 80;
        cfg
    }

    /// The broker's fields of one order message, checked for shape.
    pub(crate) fn check_order_fields(m: &Message) {
        let acc = text(m, "OBR-2.1");
        assert!(acc.starts_with("ACC") && acc[3..].bytes().all(|b| b.is_ascii_digit()));
        assert!(acc.len() <= 16);
        let pid = text(m, "PID-3.1");
        assert!(pid.len() >= 6 && pid.bytes().all(|b| b.is_ascii_digit()));
        assert!(!text(m, "PID-5.1").is_empty());
        assert_eq!(text(m, "PID-7.1").len(), 8);
        assert!(["F", "M"].contains(&text(m, "PID-8.1").as_str()));
        assert!(text(m, "PID-18.1").starts_with('V'));
        assert!(["I", "O", "E"].contains(&text(m, "PV1-2").as_str()));
        assert!(
            PHYSICIANS
                .iter()
                .any(|p| p.split('^').nth(1).unwrap() == text(m, "PV1-8.2"))
        );
        let kg: u32 = text(m, "PV1-20.1").parse().unwrap();
        assert!((2..=250).contains(&kg));
        assert!(
            PHYSICIANS
                .iter()
                .any(|p| p.split('^').nth(1).unwrap() == text(m, "ORC-12.2"))
        );
        assert_eq!(text(m, "ORC-17.2"), "SIMULATED GENERAL HOSPITAL");
        let code = text(m, "OBR-4.1");
        let pr = PROCEDURES
            .iter()
            .find(|p| p.code == code)
            .expect("a procedure");
        assert_eq!(text(m, "OBR-4.2"), pr.step);
        assert!(PRIORITIES.contains(&text(m, "OBR-5.1").as_str()));
        assert_eq!(text(m, "OBR-15.1"), pr.requested);
        let modality = text(m, "OBR-24.1");
        assert_eq!(modality, pr.modality);
        let st = STATIONS
            .iter()
            .find(|s| s.1 == text(m, "OBR-18.1"))
            .expect("a station");
        assert_eq!(st.0, modality, "the station fits the modality");
        assert_eq!(text(m, "OBR-21.1"), st.2);
        assert_eq!(text(m, "OBR-20.1"), st.3);
        assert_eq!(text(m, "OBR-19.1"), format!("RP{}", &acc[3..]));
        assert!(
            pr.reasons
                .iter()
                .any(|r| r.0 == text(m, "OBR-31.1") && r.1 == text(m, "OBR-31.2"))
        );
        let phys = text(m, "OBR-34.1");
        assert!(
            RADIOLOGISTS
                .iter()
                .any(|r| r.contains(phys.split(' ').next().unwrap()))
        );
        let start = text(m, "OBR-36.1");
        assert_eq!(start.len(), 19);
        assert!(start.ends_with("+0200") && start[12..14] == *"00");
    }

    #[test]
    fn exact_broker_layout() {
        let msgs = run(&mut Orm::new(&config(11)), 1);
        let m = Message::parse(&msgs[0]).unwrap();
        let segs: Vec<_> = m.segments().map(|s| s.id_str().into_owned()).collect();
        assert_eq!(segs, ["MSH", "PID", "PV1", "ORC", "OBR", "ZDS"]);
        assert_eq!(m.message_type(), "ORM^O01");
        assert_eq!(text(&m, "MSH-12"), "2.3");
        assert_eq!(text(&m, "ORC-1"), "NW");
        check_order_fields(&m);
        // the broker's example, position by position
        let s = String::from_utf8(msgs[0].clone()).unwrap();
        let obr = s.split('\r').find(|l| l.starts_with("OBR|")).unwrap();
        let f: Vec<&str> = obr.split('|').collect();
        assert_eq!(f.len(), 37);
        assert_eq!(f[1], "1");
        assert!(f[2].starts_with("ACC"));
        assert_eq!(f[24], text(&m, "OBR-24"));
        assert!(f[36].starts_with("20240814"));
        let uid = text(&m, "ZDS-1.1");
        assert!(uid.starts_with("1.2.826.0.1.3680043.10.1234."));
        assert!(uid.len() <= 64);
        assert!(
            uid.split('.')
                .all(|c| !c.is_empty() && (c == "0" || !c.starts_with('0')))
        );
        assert!(uid.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
        assert_eq!(text(&m, "ZDS-1.4"), "DICOM");
    }

    #[test]
    fn deterministic_and_valid() {
        check_profile(Orm::new, config(5), "2.3", "2.5.1");
    }

    #[test]
    fn order_life_cycle() {
        let msgs = run(&mut Orm::new(&config(9)), 3000);
        // accession -> (study uid, patient id, closed)
        let mut orders: HashMap<String, (String, String, bool)> = HashMap::new();
        let mut uids = HashSet::new();
        let mut kinds: HashMap<&str, usize> = HashMap::new();
        for raw in &msgs {
            let m = Message::parse(raw).unwrap();
            check_order_fields(&m);
            let acc = text(&m, "OBR-2.1");
            let uid = text(&m, "ZDS-1.1");
            let pid = text(&m, "PID-3.1");
            let kind = match (text(&m, "ORC-1").as_str(), orders.get(&acc)) {
                ("NW", None) => {
                    assert!(uids.insert(uid.clone()), "study UIDs are unique");
                    orders.insert(acc.clone(), (uid, pid, false));
                    "new"
                }
                (control, Some((u, p, closed))) => {
                    assert!(!closed, "{acc}: a message after CA or CM");
                    assert_eq!((u, p), (&uid, &pid), "{acc}: same study and patient");
                    match control {
                        "NW" => "update",
                        "CA" | "CM" => {
                            if control == "CM" {
                                assert!(text(&m, "OBR-36.1") <= text(&m, "MSH-7"));
                            }
                            orders.get_mut(&acc).unwrap().2 = true;
                            if control == "CA" {
                                "cancel"
                            } else {
                                "complete"
                            }
                        }
                        other => panic!("ORC-1 {other}"),
                    }
                }
                (other, None) => panic!("{other} for an unknown order {acc}"),
            };
            *kinds.entry(kind).or_default() += 1;
        }
        let (new, upd, ca, cm) = (
            kinds["new"],
            kinds["update"],
            kinds["cancel"],
            kinds["complete"],
        );
        assert!(new > 1000 && cm > 500 && upd > 100 && ca > 100, "{kinds:?}");
        assert!(new > cm && cm > upd, "{kinds:?}");
    }
}
