//! `pacs`: what a PACS broker sees from a RIS over time (HL7 2.3):
//! ORM^O01 orders (new, updated, cancelled, completed, as in `orm`), ORU^R01 reports for
//! completed orders (OBX-11 I when the study is done, then R when read, then F: final with the
//! text, sometimes announced by an F without text first), ADT^A08 updates (name, sex,
//! admission id) and ADT^A40 merges of patients met before. A cancelled order gets no report,
//! a finally reported order no later message, and an id merged away is never written again.

use std::collections::VecDeque;

use super::adt::{Change, Population, Seg, write_pid};
use super::orm::{BACKLOG, Order, Orders, RADIOLOGISTS, write_order, write_zds};
use super::{Config, Generator, Rng, Time, push_fixed, push_padded, push_u64, write_msh};

const STREAM: u64 = 0x5041_4353_0000_0001;
const CONTROL: u64 = 0x5041_4353_0000_00c1;
/// Completed orders waiting for reports (the oldest are forgotten beyond this).
const MAX_REPORTING: usize = 2000;
/// What an A08 changes here: what the broker updates on the patient's orders.
const PACS_CHANGES: &[(Change, u32)] =
    &[(Change::Name, 45), (Change::Sex, 20), (Change::Visit, 35)];

/// A line break in report text, as the broker wants it.
const BREAK: &[u8] = b"\\X0D\\\\X0A\\";

/// Appends text as an HL7 value: the delimiters and the escape character escaped.
fn push_escaped(out: &mut Vec<u8>, text: &str) {
    for &b in text.as_bytes() {
        match b {
            b'|' => out.extend_from_slice(b"\\F\\"),
            b'^' => out.extend_from_slice(b"\\S\\"),
            b'&' => out.extend_from_slice(b"\\T\\"),
            b'~' => out.extend_from_slice(b"\\R\\"),
            b'\\' => out.extend_from_slice(b"\\E\\"),
            b'\r' => out.extend_from_slice(b"\\X0D\\"),
            b'\n' => out.extend_from_slice(b"\\X0A\\"),
            _ => out.push(b),
        }
    }
}

/// How a modality group's studies are done: technique, and a dose (or time) line: label,
/// range and unit.
struct Technique {
    modalities: &'static [&'static str],
    text: &'static str,
    dose: (&'static str, u64, u64, &'static str),
}

const TECHNIQUES: &[Technique] = &[
    Technique {
        modalities: &["CR", "DX"],
        text: "Standard projections (PA/AP & lateral).",
        dose: ("DAP", 5, 60, " cGy*cm^2"),
    },
    Technique {
        modalities: &["CT"],
        text: "Helical acquisition, 1 mm & 5 mm reconstructions, multiplanar reformats.",
        dose: ("DLP", 150, 1200, " mGy*cm"),
    },
    Technique {
        modalities: &["MR"],
        text: "Sagittal T1 & T2, axial T2/FLAIR and diffusion-weighted sequences.",
        dose: ("Acquisition time", 12, 40, " min"),
    },
    Technique {
        modalities: &["US"],
        text: "Grey-scale & colour Doppler examination.",
        dose: ("Examination time", 8, 30, " min"),
    },
    Technique {
        modalities: &["MG"],
        text: "Bilateral CC & MLO views.",
        dose: ("AGD", 1, 3, " mGy"),
    },
    Technique {
        modalities: &["NM", "PT"],
        text: "Whole body imaging after intravenous tracer injection.",
        dose: ("Activity", 180, 740, " MBq"),
    },
    Technique {
        modalities: &["XA", "RF"],
        text: "Fluoroscopic examination.",
        dose: ("DAP", 1, 90, " Gy*cm^2"),
    },
];

/// Findings and the impression that goes with them, for each procedure code.
const FINDINGS: &[(&str, &[(&str, &str)])] = &[
    (
        "CRCHEST",
        &[
            (
                "Heart size normal & lungs clear. No pneumothorax.",
                "No acute cardiopulmonary abnormality.",
            ),
            (
                "Patchy consolidation in the right lower zone. Heart size normal.",
                "Right lower lobe pneumonia.",
            ),
            (
                "Small left pleural effusion, depth ~2 cm. Lungs otherwise clear.",
                "Small left pleural effusion.",
            ),
        ],
    ),
    (
        "CRHAND",
        &[
            (
                "No fracture or dislocation. Soft tissues unremarkable.",
                "No bony injury.",
            ),
            (
                "Undisplaced fracture of the 5th metacarpal neck, angulation ~15 degrees.",
                "Fracture of the 5th metacarpal neck.",
            ),
        ],
    ),
    (
        "DXKNEE",
        &[
            (
                "Medial joint space narrowing & marginal osteophytes. No effusion.",
                "Moderate medial compartment osteoarthritis.",
            ),
            (
                "Joint spaces preserved. No fracture.",
                "Normal knee radiographs.",
            ),
        ],
    ),
    (
        "CTHEAD",
        &[
            (
                "No intracranial haemorrhage, mass effect or midline shift. Grey/white differentiation preserved.",
                "No acute intracranial abnormality.",
            ),
            (
                "Hypodensity in the left MCA territory | no haemorrhage.",
                "Early left MCA infarct; stroke team informed.",
            ),
            (
                "Small chronic lacunar infarcts in the basal ganglia. No acute findings.",
                "No acute abnormality; chronic small vessel disease.",
            ),
        ],
    ),
    (
        "CTCHEST",
        &[
            (
                "Nodule in the right upper lobe ~6 mm, unchanged. No lymphadenopathy.",
                "Stable 6 mm nodule; no further follow-up needed.",
            ),
            (
                "No filling defect in the pulmonary arteries. Lungs clear.",
                "No evidence of pulmonary embolism.",
            ),
            (
                "Filling defects in the right lower lobe segmental arteries. RV/LV ratio 0.9.",
                "Right-sided segmental pulmonary emboli.",
            ),
        ],
    ),
    (
        "CTABDPEL",
        &[
            (
                "Appendix dilated (11 mm) with periappendiceal fat stranding. No free air.",
                "Acute appendicitis.",
            ),
            (
                "Liver, spleen & pancreas unremarkable. Appendix normal.",
                "No acute abdominal abnormality.",
            ),
        ],
    ),
    (
        "MRBRAIN",
        &[
            (
                "Few periventricular T2/FLAIR lesions ~3-4 mm, no enhancement & no new lesion.",
                "Stable demyelinating disease.",
            ),
            (
                "Normal signal of the brain parenchyma on T1 & T2. No enhancing lesion.",
                "Normal MR brain.",
            ),
        ],
    ),
    (
        "MRKNEE",
        &[
            (
                "Horizontal tear of the posterior horn of the medial meniscus. Cruciate ligaments intact.",
                "Medial meniscus tear.",
            ),
            (
                "Menisci & ligaments intact. Small joint effusion.",
                "No internal derangement.",
            ),
        ],
    ),
    (
        "MRLSPINE",
        &[
            (
                "Disc protrusion L4/L5 contacting the left L5 root. No canal stenosis.",
                "L4/L5 disc protrusion | correlate with left L5 symptoms.",
            ),
            (
                "Mild degenerative disc disease L3-S1 without neural compromise.",
                "Degenerative changes only.",
            ),
        ],
    ),
    (
        "USABD",
        &[
            (
                "Gallbladder contains several stones, largest ~12 mm. Wall not thickened.",
                "Cholelithiasis without cholecystitis.",
            ),
            (
                "Liver normal in size & echotexture. No biliary dilatation.",
                "Normal abdominal ultrasound.",
            ),
        ],
    ),
    (
        "USTHYR",
        &[
            (
                "Right lobe nodule 9 x 7 mm, solid, isoechoic (TI-RADS 3).",
                "TI-RADS 3 nodule; no biopsy needed.",
            ),
            (
                "Both lobes normal in size & echotexture.",
                "Normal thyroid ultrasound.",
            ),
        ],
    ),
    (
        "USLEGV",
        &[
            (
                "Deep veins fully compressible with normal flow & augmentation.",
                "No evidence of deep vein thrombosis.",
            ),
            (
                "Non-compressible left popliteal vein with echogenic thrombus.",
                "Left popliteal deep vein thrombosis.",
            ),
        ],
    ),
    (
        "MGSCREEN",
        &[
            (
                "Scattered fibroglandular density (ACR B). No suspicious mass, calcification or distortion.",
                "BI-RADS 1: negative.",
            ),
            (
                "Stable benign calcifications on the left. No suspicious mass.",
                "BI-RADS 2: benign finding.",
            ),
        ],
    ),
    (
        "NMBONE",
        &[
            (
                "Physiological tracer distribution. Degenerative uptake in both knees.",
                "No scintigraphic evidence of skeletal metastases.",
            ),
            (
                "Multiple foci of increased uptake in the spine & ribs.",
                "Findings consistent with skeletal metastases.",
            ),
        ],
    ),
    (
        "PTCTWB",
        &[
            (
                "Hypermetabolic mediastinal nodes (SUVmax 8.2 | previously 11.5).",
                "Partial metabolic response.",
            ),
            (
                "No FDG-avid disease.",
                "Complete metabolic response (Deauville 2).",
            ),
        ],
    ),
    (
        "XACOR",
        &[
            (
                "Left main & LAD without significant stenosis. 70% stenosis of the proximal RCA.",
                "Single vessel coronary artery disease.",
            ),
            (
                "Smooth coronary arteries without stenosis.",
                "No significant coronary artery disease.",
            ),
        ],
    ),
    (
        "RFSWALLOW",
        &[
            (
                "Normal swallow; no hold-up of contrast.",
                "Normal barium swallow.",
            ),
            (
                "Small sliding hiatus hernia with free reflux to the mid oesophagus.",
                "Hiatus hernia with reflux.",
            ),
        ],
    ),
];

/// The fallback when a procedure has no findings of its own.
const NO_FINDINGS: &[(&str, &str)] = &[("No abnormality detected.", "Normal examination.")];

/// Appends a date as `YYYY-MM-DD`.
fn push_date(out: &mut Vec<u8>, t: Time) {
    let (y, m, d, ..) = t.parts();
    push_padded(out, y.max(0) as u64, 4);
    out.push(b'-');
    push_padded(out, m as u64, 2);
    out.push(b'-');
    push_padded(out, d as u64, 2);
}

/// Appends the report text of an order (OBX-5): lines separated by `\X0D\\X0A\`, delimiters
/// in the text escaped.
fn write_report(out: &mut Vec<u8>, rng: &mut Rng, o: &Order, now: Time) {
    let pr = o.procedure();
    push_escaped(out, pr.requested);
    out.extend_from_slice(BREAK);
    out.extend_from_slice(BREAK);
    push_escaped(out, "Clinical information: ");
    push_escaped(out, pr.reasons[o.reason as usize % pr.reasons.len()].1);
    out.push(b'.');
    if rng.chance(0.25) {
        push_escaped(out, " CRP ");
        push_u64(out, 5 + rng.below(200));
        push_escaped(out, " mg/L, WBC ");
        push_fixed(out, rng.uniform(3.0, 20.0), 1);
        push_escaped(out, " x10^9/L.");
    }
    out.extend_from_slice(BREAK);
    push_escaped(out, "Technique: ");
    let tech = TECHNIQUES
        .iter()
        .find(|t| t.modalities.contains(&pr.modality))
        .unwrap_or(&TECHNIQUES[0]);
    push_escaped(out, tech.text);
    out.push(b' ');
    let (label, lo, hi, unit) = tech.dose;
    push_escaped(out, label);
    out.push(b' ');
    push_u64(out, lo + rng.below(hi - lo + 1));
    push_escaped(out, unit);
    out.push(b'.');
    out.extend_from_slice(BREAK);
    push_escaped(out, "Comparison: ");
    match rng.below(3) {
        0 => push_escaped(out, "None."),
        1 => push_escaped(out, "Outside study | report not available."),
        _ => {
            push_escaped(out, "Previous examination of ");
            push_date(out, now.plus(-86_400 * (30 + rng.below(900) as i64)));
            out.push(b'.');
        }
    }
    out.extend_from_slice(BREAK);
    let findings = FINDINGS
        .iter()
        .find(|f| f.0 == pr.code)
        .map_or(NO_FINDINGS, |f| f.1);
    let (finding, impression) = findings[rng.below(findings.len() as u64) as usize];
    push_escaped(out, "Findings: ");
    push_escaped(out, finding);
    out.extend_from_slice(BREAK);
    push_escaped(out, "Impression: ");
    push_escaped(out, impression);
    out.extend_from_slice(BREAK);
    out.extend_from_slice(BREAK);
    let reader = RADIOLOGISTS[o.reader as usize % RADIOLOGISTS.len()];
    let mut name = reader.split('^').skip(1);
    let family = name.next().unwrap_or("");
    push_escaped(out, "Electronically signed: Dr ");
    push_escaped(out, name.next().unwrap_or(""));
    out.push(b' ');
    push_escaped(out, family);
}

pub struct Pacs {
    seed: u64,
    version: String,
    rng: Rng,
    now: Time,
    n: u64,
    pop: Population,
    orders: Orders,
    /// Completed orders whose reports are not final yet, oldest first.
    reporting: VecDeque<Order>,
}

impl Pacs {
    pub fn new(cfg: &Config) -> Self {
        Pacs {
            seed: cfg.seed,
            version: cfg.version.clone().unwrap_or_else(|| "2.3".into()),
            rng: Rng::new(cfg.seed, STREAM),
            now: cfg.start,
            n: 0,
            pop: Population::new(cfg.seed, cfg.patients),
            orders: Orders::new(cfg.seed),
            reporting: VecDeque::new(),
        }
    }

    fn header(&self, out: &mut Vec<u8>, kind: &str) {
        write_msh(
            out,
            "SIMRIS|SIMHOSP",
            "PACSBROKER|SIMHOSP",
            self.now,
            kind,
            self.seed ^ CONTROL,
            self.n,
            &self.version,
        );
    }

    fn orm(&mut self, out: &mut Vec<u8>, o: &Order, control: &[u8]) {
        self.header(out, "ORM^O01");
        let p = self.pop.patient(o.slot);
        write_order(out, o, &p, control, None, self.now.offset_min);
        write_zds(out, o);
    }

    /// Completes an order whose start has passed, if any, and queues it for reports.
    fn complete(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(o) = self.orders.complete(&mut self.rng, self.now) else {
            return false;
        };
        if self.reporting.len() >= MAX_REPORTING {
            self.reporting.pop_front();
        }
        self.reporting.push_back(o);
        self.orm(out, &o, b"CM");
        true
    }

    /// The next report of one of the oldest completed orders; false when none is waiting.
    fn oru(&mut self, out: &mut Vec<u8>) -> bool {
        let k = self.reporting.len().min(16);
        if k == 0 {
            return false;
        }
        let i = self.rng.below(k as u64) as usize;
        let o = self.reporting[i];
        let (status, text) = match o.report {
            0 => (b'I', false),
            1 => (b'R', false),
            2 if self.rng.chance(0.3) => (b'F', false),
            _ => (b'F', true),
        };
        if text {
            self.reporting.remove(i);
        } else {
            self.reporting[i].report = if o.report == 2 { 3 } else { o.report + 1 };
        }
        self.header(out, "ORU^R01");
        let p = self.pop.patient(o.slot);
        write_order(out, &o, &p, b"RE", Some(status), self.now.offset_min);
        let mut obx = Seg::new(out, b"OBX");
        obx.put(1, b"1");
        obx.put(2, b"TX");
        let b = obx.at(3);
        o.write_requested_id(b);
        b.push(b'^');
        b.extend_from_slice(o.procedure().requested.as_bytes());
        if text {
            write_report(obx.at(5), &mut self.rng, &o, self.now);
        }
        obx.at(11).push(status);
        self.now.write_ts(obx.at(14));
        if status != b'I' {
            obx.put(
                16,
                RADIOLOGISTS[o.reader as usize % RADIOLOGISTS.len()].as_bytes(),
            );
        }
        obx.end();
        true
    }

    /// ADT^A08 (an update) or ADT^A40 (a merge) of a patient met before.
    fn adt(&mut self, out: &mut Vec<u8>, slot: usize, merge: bool) {
        let old = if merge {
            Some(self.pop.merge(slot))
        } else {
            self.pop.update(slot, &mut self.rng, PACS_CHANGES);
            None
        };
        let (kind, event): (&str, &[u8]) = if merge {
            ("ADT^A40", b"A40")
        } else {
            ("ADT^A08", b"A08")
        };
        self.header(out, kind);
        let mut evn = Seg::new(out, b"EVN");
        evn.put(1, event);
        self.now.write_ts(evn.at(2));
        evn.end();
        write_pid(out, &self.pop.patient(slot), false);
        if let Some(old) = old {
            let mut mrg = Seg::new(out, b"MRG");
            let b = mrg.at(1);
            b.extend_from_slice(old.as_bytes());
            b.extend_from_slice(b"^^^SIMHOSP^MR");
            mrg.end();
        }
    }
}

impl Generator for Pacs {
    fn next(&mut self, out: &mut Vec<u8>) {
        if self.n > 0 {
            let gap = 5 + self.rng.below(175) as i64;
            self.now = self.now.plus(gap);
        }
        self.n += 1;
        let now = self.now;
        let roll = self.rng.below(100);
        let done = match roll {
            17..20 => self
                .orders
                .update(&mut self.rng, now)
                .map(|o| self.orm(out, &o, b"NW"))
                .is_some(),
            20..22 => self
                .orders
                .cancel(&mut self.rng)
                .map(|o| self.orm(out, &o, b"CA"))
                .is_some(),
            22..39 => self.complete(out),
            39..91 => self.oru(out),
            91.. => self
                .pop
                .pick_seen(&mut self.rng)
                .map(|slot| self.adt(out, slot, roll >= 97))
                .is_some(),
            _ => false,
        };
        if done {
            return;
        }
        // keep the work near a working backlog: report or complete rather than add
        if self.reporting.len() > BACKLOG && self.oru(out) {
            return;
        }
        if self.orders.open.len() > BACKLOG && self.complete(out) {
            return;
        }
        let o = self
            .orders
            .create(&mut self.rng, &mut self.pop, self.seed, now);
        self.orm(out, &o, b"NW");
    }
}

#[cfg(test)]
mod tests {
    use super::super::Profile;
    use super::super::adt::tests::{check_profile, run, text};
    use super::super::orm::tests::check_order_fields;
    use super::*;
    use crate::model::message::Message;
    use std::collections::{HashMap, HashSet};

    fn config(seed: u64) -> Config {
        let mut cfg = Config::new(
            Profile::Pacs,
            seed,
            Time::parse("2024-08-14T11:46:36+02:00").unwrap(),
        );
        cfg.patients = 60;
        cfg
    }

    #[test]
    fn deterministic_and_valid() {
        check_profile(Pacs::new, config(21), "2.3", "2.4");
    }

    #[test]
    fn escaping() {
        let mut out = Vec::new();
        push_escaped(&mut out, "a|b^c&d~e\\f\r\n");
        assert_eq!(out, b"a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X0D\\\\X0A\\");
    }

    #[test]
    fn every_procedure_has_its_findings_and_technique() {
        for p in super::super::orm::PROCEDURES {
            assert!(FINDINGS.iter().any(|f| f.0 == p.code), "{}", p.code);
            assert!(
                TECHNIQUES
                    .iter()
                    .any(|t| t.modalities.contains(&p.modality))
            );
        }
    }

    /// What the broker knows of a patient id: name, sex, admission id.
    type Demographics = (String, String, String);

    #[test]
    fn consistent_over_time() {
        let msgs = run(&mut Pacs::new(&config(4)), 4000);
        // accession -> (patient id, state: open / completed / last report status / cancelled)
        let mut orders: HashMap<String, (String, &str)> = HashMap::new();
        let mut patients: HashMap<String, Demographics> = HashMap::new();
        let mut merged: HashSet<String> = HashSet::new();
        let mut kinds: HashMap<String, usize> = HashMap::new();
        let mut escapes: HashSet<&str> = HashSet::new();
        for raw in &msgs {
            let m = Message::parse(raw).unwrap();
            let segs: Vec<_> = m.segments().map(|s| s.id_str().into_owned()).collect();
            let pid = text(&m, "PID-3.1");
            assert!(!merged.contains(&pid), "merged-away id {pid} used again");
            let demo = (text(&m, "PID-5"), text(&m, "PID-8"), text(&m, "PID-18"));
            let acc = text(&m, "OBR-2.1");
            let kind = match m.message_type().as_str() {
                "ORM^O01" => {
                    assert_eq!(segs, ["MSH", "PID", "PV1", "ORC", "OBR", "ZDS"]);
                    check_order_fields(&m);
                    let control = text(&m, "ORC-1");
                    let state = orders.get(&acc).map(|o| o.1);
                    let next = match (control.as_str(), state) {
                        ("NW", None) => "open",
                        ("NW", Some("open")) => "open",
                        ("CA", Some("open")) => "cancelled",
                        ("CM", Some("open")) => "completed",
                        other => panic!("{acc}: {other:?}"),
                    };
                    if let Some(o) = orders.get(&acc) {
                        assert_eq!(o.0, pid, "{acc}: the order's patient");
                    }
                    orders.insert(acc.clone(), (pid.clone(), next));
                    match (control.as_str(), state) {
                        ("NW", None) => "ORM NW new".to_string(),
                        ("NW", _) => "ORM NW update".to_string(),
                        (c, _) => format!("ORM {c}"),
                    }
                }
                "ORU^R01" => {
                    assert_eq!(segs, ["MSH", "PID", "PV1", "ORC", "OBR", "OBX"]);
                    check_order_fields(&m);
                    assert_eq!(text(&m, "ORC-1"), "RE");
                    let status = text(&m, "OBX-11");
                    let body = text(&m, "OBX-5");
                    let (opid, state) = orders
                        .get(&acc)
                        .cloned()
                        .expect("a report for a known order");
                    assert_eq!(opid, pid);
                    let next = match (state, status.as_str(), body.is_empty()) {
                        ("completed", "I", true) => "I",
                        ("I", "R", true) => "R",
                        ("R", "F", true) => "F-notification",
                        ("R" | "F-notification", "F", false) => "F",
                        other => panic!("{acc}: report out of order {other:?}"),
                    };
                    orders.get_mut(&acc).unwrap().1 = next;
                    assert_eq!(text(&m, "OBR-25"), status);
                    assert_eq!(text(&m, "OBX-2"), "TX");
                    assert_eq!(text(&m, "OBX-3.1"), text(&m, "OBR-19.1"));
                    assert_eq!(text(&m, "OBX-3.2"), text(&m, "OBR-15.1"));
                    assert_eq!(text(&m, "OBX-14").len(), 19);
                    if status == "I" {
                        assert!(text(&m, "OBX-16").is_empty());
                    } else {
                        let reader = format!("{}^{}", text(&m, "OBX-16.1"), text(&m, "OBX-16.2"));
                        assert!(RADIOLOGISTS.iter().any(|r| r.starts_with(&reader)));
                    }
                    if !body.is_empty() {
                        let raw_obx = m.segment("OBX", 1).unwrap().field(5).unwrap().raw;
                        let raw_obx = String::from_utf8_lossy(raw_obx);
                        assert!(raw_obx.contains("\\X0D\\\\X0A\\"));
                        assert!(body.contains("\r\n") && body.contains("Impression: "));
                        for (e, c) in [
                            ("\\F\\", '|'),
                            ("\\S\\", '^'),
                            ("\\T\\", '&'),
                            ("\\R\\", '~'),
                        ] {
                            if raw_obx.contains(e) {
                                assert!(body.contains(c));
                                escapes.insert(e);
                            }
                        }
                    }
                    format!("ORU {next}")
                }
                "ADT^A08" | "ADT^A40" => {
                    let a40 = m.message_type() == "ADT^A40";
                    let want: &[&str] = if a40 {
                        &["MSH", "EVN", "PID", "MRG"]
                    } else {
                        &["MSH", "EVN", "PID"]
                    };
                    assert_eq!(segs, want);
                    assert_eq!(text(&m, "EVN-1"), &m.message_type()[4..]);
                    if a40 {
                        let old = text(&m, "MRG-1.1");
                        assert_eq!(text(&m, "MRG-1.4"), "SIMHOSP");
                        let before = patients.remove(&old).expect("a merge of a known patient");
                        assert_eq!(before, demo, "the merge keeps the demographics");
                        assert!(!patients.contains_key(&pid), "the surviving id is new");
                        for o in orders.values_mut() {
                            if o.0 == old {
                                o.0 = pid.clone();
                            }
                        }
                        merged.insert(old);
                    } else {
                        let before = patients.get(&pid).expect("an update of a known patient");
                        assert_ne!(before, &demo, "an A08 changes something");
                    }
                    patients.insert(pid.clone(), demo.clone());
                    m.message_type()
                }
                other => panic!("unexpected {other}"),
            };
            // every order message shows what the last A08 said
            if let Some(d) = patients.get(&pid) {
                assert_eq!(d, &demo, "{kind} shows stale demographics of {pid}");
            }
            patients.insert(pid, demo);
            *kinds.entry(kind).or_default() += 1;
        }
        for k in [
            "ORM NW new",
            "ORM NW update",
            "ORM CA",
            "ORM CM",
            "ORU I",
            "ORU R",
            "ORU F-notification",
            "ORU F",
            "ADT^A08",
            "ADT^A40",
        ] {
            assert!(kinds.get(k).copied().unwrap_or(0) >= 20, "{k}: {kinds:?}");
        }
        assert_eq!(escapes.len(), 4, "{escapes:?}");
    }
}
