//! `lab`: ORU^R01 laboratory results (HL7 2.5): PID, PV1, ORC, OBR with the panel's LOINC code
//! (comprehensive and basic metabolic panel, CBC, lipid, hepatic function, electrolytes), then
//! 4 to 12 OBX, one per analyte: LOINC code and name, value, UCUM unit, reference range and an
//! abnormal flag that agrees with the value and the range (N, H, L; HH and LL past the
//! critical limits), status F and the collection time.
//!
//! Values are drawn around the middle of the reference range (most normal, some abnormal,
//! a few critical), and the derived ones are computed as an analyser does: LDL by the
//! Friedewald formula, haematocrit, red cell count and MCH from haemoglobin, MCV and MCHC.

use super::adt::{Seg, WARDS, write_pid};
use super::{Config, Generator, PHYSICIANS, Patient, Rng, Time, push_fixed, push_u64, write_msh};

const STREAM: u64 = 0x4c41_4200_0000_0001;
const CONTROL: u64 = 0x4c41_4200_0000_00c1;

/// How a reference range reads.
#[derive(Clone, Copy, PartialEq)]
enum Range {
    /// `lo-hi`
    Between,
    /// `<hi`: normal below.
    Below,
    /// `>lo`: normal above.
    Above,
}

/// One analyte: LOINC code and long common name, UCUM unit, decimals, reference range (male,
/// female), critical limits, and for open ranges the mean and spread of the values.
struct Analyte {
    code: &'static str,
    name: &'static str,
    unit: &'static str,
    decimals: u32,
    range: Range,
    male: (f64, f64),
    female: (f64, f64),
    critical: (f64, f64),
    /// Mean and standard deviation (0: from the range), and whether abnormal values lean high.
    mean: f64,
    sd: f64,
    up: bool,
}

const NONE: (f64, f64) = (f64::NEG_INFINITY, f64::INFINITY);

#[allow(clippy::too_many_arguments)]
const fn between(
    code: &'static str,
    name: &'static str,
    unit: &'static str,
    decimals: u32,
    male: (f64, f64),
    female: (f64, f64),
    critical: (f64, f64),
    up: bool,
) -> Analyte {
    Analyte {
        code,
        name,
        unit,
        decimals,
        range: Range::Between,
        male,
        female,
        critical,
        mean: 0.0,
        sd: 0.0,
        up,
    }
}

const fn open(
    code: &'static str,
    name: &'static str,
    range: Range,
    limit: f64,
    mean: f64,
    sd: f64,
    up: bool,
) -> Analyte {
    Analyte {
        code,
        name,
        unit: "mg/dL",
        decimals: 0,
        range,
        male: (limit, limit),
        female: (limit, limit),
        critical: NONE,
        mean,
        sd,
        up,
    }
}

// Indexes into ANALYTES.
const GLU: usize = 0;
const BUN: usize = 1;
const CREA: usize = 2;
const NA: usize = 3;
const K: usize = 4;
const CL: usize = 5;
const CO2: usize = 6;
const CA: usize = 7;
const ALT: usize = 8;
const AST: usize = 9;
const ALP: usize = 10;
const TBIL: usize = 11;
const DBIL: usize = 12;
const PROT: usize = 13;
const ALB: usize = 14;
const WBC: usize = 15;
const RBC: usize = 16;
const HGB: usize = 17;
const HCT: usize = 18;
const MCV: usize = 19;
const MCH: usize = 20;
const MCHC: usize = 21;
const RDW: usize = 22;
const PLT: usize = 23;
const CHOL: usize = 24;
const TRIG: usize = 25;
const HDL: usize = 26;
const LDL: usize = 27;

const ANALYTES: &[Analyte] = &[
    between(
        "2345-7",
        "Glucose [Mass/volume] in Serum or Plasma",
        "mg/dL",
        0,
        (70.0, 99.0),
        (70.0, 99.0),
        (50.0, 400.0),
        true,
    ),
    between(
        "3094-0",
        "Urea nitrogen [Mass/volume] in Serum or Plasma",
        "mg/dL",
        0,
        (7.0, 20.0),
        (7.0, 20.0),
        NONE,
        true,
    ),
    between(
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        "mg/dL",
        2,
        (0.74, 1.35),
        (0.59, 1.04),
        NONE,
        true,
    ),
    between(
        "2951-2",
        "Sodium [Moles/volume] in Serum or Plasma",
        "mmol/L",
        0,
        (135.0, 145.0),
        (135.0, 145.0),
        (120.0, 160.0),
        false,
    ),
    between(
        "2823-3",
        "Potassium [Moles/volume] in Serum or Plasma",
        "mmol/L",
        1,
        (3.5, 5.1),
        (3.5, 5.1),
        (2.8, 6.2),
        false,
    ),
    between(
        "2075-0",
        "Chloride [Moles/volume] in Serum or Plasma",
        "mmol/L",
        0,
        (98.0, 107.0),
        (98.0, 107.0),
        NONE,
        false,
    ),
    between(
        "2028-9",
        "Carbon dioxide, total [Moles/volume] in Serum or Plasma",
        "mmol/L",
        0,
        (22.0, 29.0),
        (22.0, 29.0),
        NONE,
        false,
    ),
    between(
        "17861-6",
        "Calcium [Mass/volume] in Serum or Plasma",
        "mg/dL",
        1,
        (8.6, 10.3),
        (8.6, 10.3),
        (6.5, 13.0),
        false,
    ),
    between(
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        0,
        (7.0, 56.0),
        (7.0, 56.0),
        NONE,
        true,
    ),
    between(
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        0,
        (10.0, 40.0),
        (10.0, 40.0),
        NONE,
        true,
    ),
    between(
        "6768-6",
        "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        0,
        (44.0, 147.0),
        (44.0, 147.0),
        NONE,
        true,
    ),
    between(
        "1975-2",
        "Bilirubin.total [Mass/volume] in Serum or Plasma",
        "mg/dL",
        1,
        (0.1, 1.2),
        (0.1, 1.2),
        NONE,
        true,
    ),
    between(
        "1968-7",
        "Bilirubin.direct [Mass/volume] in Serum or Plasma",
        "mg/dL",
        1,
        (0.0, 0.3),
        (0.0, 0.3),
        NONE,
        true,
    ),
    between(
        "2885-2",
        "Protein [Mass/volume] in Serum or Plasma",
        "g/dL",
        1,
        (6.0, 8.3),
        (6.0, 8.3),
        NONE,
        false,
    ),
    between(
        "1751-7",
        "Albumin [Mass/volume] in Serum or Plasma",
        "g/dL",
        1,
        (3.5, 5.0),
        (3.5, 5.0),
        NONE,
        false,
    ),
    between(
        "6690-2",
        "Leukocytes [#/volume] in Blood by Automated count",
        "10*3/uL",
        1,
        (4.5, 11.0),
        (4.5, 11.0),
        (1.0, 30.0),
        true,
    ),
    between(
        "789-8",
        "Erythrocytes [#/volume] in Blood by Automated count",
        "10*6/uL",
        2,
        (4.5, 5.9),
        (4.1, 5.1),
        NONE,
        false,
    ),
    between(
        "718-7",
        "Hemoglobin [Mass/volume] in Blood",
        "g/dL",
        1,
        (13.5, 17.5),
        (12.0, 15.5),
        (7.0, 20.0),
        false,
    ),
    between(
        "4544-3",
        "Hematocrit [Volume Fraction] of Blood by Automated count",
        "%",
        1,
        (41.0, 53.0),
        (36.0, 46.0),
        NONE,
        false,
    ),
    between(
        "787-2",
        "MCV [Entitic volume] by Automated count",
        "fL",
        1,
        (80.0, 100.0),
        (80.0, 100.0),
        NONE,
        false,
    ),
    between(
        "785-6",
        "MCH [Entitic mass] by Automated count",
        "pg",
        1,
        (27.0, 33.0),
        (27.0, 33.0),
        NONE,
        false,
    ),
    between(
        "786-4",
        "MCHC [Mass/volume] by Automated count",
        "g/dL",
        1,
        (32.0, 36.0),
        (32.0, 36.0),
        NONE,
        false,
    ),
    between(
        "788-0",
        "Erythrocyte distribution width [Ratio] by Automated count",
        "%",
        1,
        (11.5, 14.5),
        (11.5, 14.5),
        NONE,
        true,
    ),
    between(
        "777-3",
        "Platelets [#/volume] in Blood by Automated count",
        "10*3/uL",
        0,
        (150.0, 400.0),
        (150.0, 400.0),
        (20.0, 1000.0),
        false,
    ),
    open(
        "2093-3",
        "Cholesterol [Mass/volume] in Serum or Plasma",
        Range::Below,
        200.0,
        190.0,
        38.0,
        true,
    ),
    open(
        "2571-8",
        "Triglyceride [Mass/volume] in Serum or Plasma",
        Range::Below,
        150.0,
        130.0,
        55.0,
        true,
    ),
    open(
        "2085-9",
        "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
        Range::Above,
        40.0,
        52.0,
        13.0,
        false,
    ),
    open(
        "13457-7",
        "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
        Range::Below,
        100.0,
        110.0,
        30.0,
        true,
    ),
];

/// A panel: LOINC code and name (OBR-4), diagnostic service section (OBR-24), analytes.
struct Panel {
    code: &'static str,
    name: &'static str,
    section: &'static str,
    analytes: &'static [usize],
    /// How often it is ordered (relative).
    weight: u32,
}

const PANELS: &[Panel] = &[
    Panel {
        code: "24323-8",
        name: "Comprehensive metabolic 2000 panel - Serum or Plasma",
        section: "CH",
        analytes: &[GLU, BUN, CREA, NA, K, CL, CO2, CA, ALT, AST, ALP, TBIL],
        weight: 25,
    },
    Panel {
        code: "51990-0",
        name: "Basic metabolic panel - Blood",
        section: "CH",
        analytes: &[GLU, BUN, CREA, NA, K, CL, CO2, CA],
        weight: 15,
    },
    Panel {
        code: "58410-2",
        name: "CBC panel - Blood by Automated count",
        section: "HM",
        analytes: &[WBC, RBC, HGB, HCT, MCV, MCH, MCHC, RDW, PLT],
        weight: 30,
    },
    Panel {
        code: "24331-1",
        name: "Lipid 1996 panel - Serum or Plasma",
        section: "CH",
        analytes: &[CHOL, TRIG, HDL, LDL],
        weight: 15,
    },
    Panel {
        code: "24325-3",
        name: "Hepatic function 2000 panel - Serum or Plasma",
        section: "CH",
        analytes: &[ALB, TBIL, DBIL, ALP, ALT, AST, PROT],
        weight: 10,
    },
    Panel {
        code: "24326-1",
        name: "Electrolytes 1998 panel - Serum or Plasma",
        section: "CH",
        analytes: &[NA, K, CL, CO2],
        weight: 5,
    },
];

impl Analyte {
    fn limits(&self, sex: char) -> (f64, f64) {
        if sex == 'F' { self.female } else { self.male }
    }

    /// A value: around the middle of the range, one in six drawn from a three times wider
    /// spread (abnormal ones lean high for analytes that rise in disease).
    fn draw(&self, rng: &mut Rng, sex: char) -> f64 {
        let (lo, hi) = self.limits(sex);
        let (mean, sd) = if self.sd > 0.0 {
            (self.mean, self.sd)
        } else {
            ((lo + hi) / 2.0, (hi - lo) / 4.0)
        };
        let mut z = rng.normal();
        if rng.chance(1.0 / 6.0) {
            z *= 3.0;
            if self.up {
                z = z.abs();
            }
        }
        let floor = if self.range == Range::Between {
            lo * 0.3
        } else {
            mean * 0.2
        };
        let floor = floor.max(1.0 / 10f64.powi(self.decimals as i32));
        (mean + sd * z).max(floor)
    }

    /// OBX-8 for a value already rounded as written.
    fn flag(&self, v: f64, sex: char) -> &'static [u8] {
        let (lo, hi) = self.limits(sex);
        match self.range {
            Range::Between if v < self.critical.0 => b"LL",
            Range::Between if v > self.critical.1 => b"HH",
            Range::Between if v < lo => b"L",
            Range::Between if v > hi => b"H",
            Range::Below if v >= hi => b"H",
            Range::Above if v <= lo => b"L",
            _ => b"N",
        }
    }

    /// OBX-7.
    fn write_range(&self, out: &mut Vec<u8>, sex: char) {
        let (lo, hi) = self.limits(sex);
        match self.range {
            Range::Between => {
                push_fixed(out, lo, self.decimals);
                out.push(b'-');
                push_fixed(out, hi, self.decimals);
            }
            Range::Below => {
                out.push(b'<');
                push_fixed(out, hi, self.decimals);
            }
            Range::Above => {
                out.push(b'>');
                push_fixed(out, lo, self.decimals);
            }
        }
    }
}

/// `v` rounded to `decimals` places.
fn round(v: f64, decimals: u32) -> f64 {
    let scale = 10f64.powi(decimals as i32);
    (v * scale).round() / scale
}

pub struct Lab {
    seed: u64,
    version: String,
    patients: u32,
    rng: Rng,
    now: Time,
    n: u64,
    order_base: u64,
}

impl Lab {
    pub fn new(cfg: &Config) -> Self {
        let mut rng = Rng::new(cfg.seed, STREAM);
        let order_base = 10_000_000 + rng.below(80_000_000);
        Lab {
            seed: cfg.seed,
            version: cfg.version.clone().unwrap_or_else(|| "2.5".into()),
            patients: cfg.patients.max(1),
            rng,
            now: cfg.start,
            n: 0,
            order_base,
        }
    }

    fn pv1(&mut self, out: &mut Vec<u8>, p: &Patient) {
        let rng = &mut self.rng;
        let mut pv1 = Seg::new(out, b"PV1");
        pv1.put(1, b"1");
        match rng.below(10) {
            0..4 => {
                pv1.put(2, b"I");
                let (ward, _, room) = *rng.pick(WARDS);
                let b = pv1.at(3);
                b.extend_from_slice(ward.as_bytes());
                b.push(b'^');
                push_u64(b, room as u64 + rng.below(20));
                b.push(b'^');
                b.push(b'A' + rng.below(4) as u8);
                b.extend_from_slice(b"^SIMHOSP");
            }
            4 => pv1.put(2, b"E"),
            _ => {
                pv1.put(2, b"O");
                pv1.put(3, b"OPD^^^SIMHOSP");
            }
        }
        pv1.put(7, rng.pick(PHYSICIANS).as_bytes());
        pv1.put(19, p.visit.as_bytes());
        pv1.end();
    }
}

/// Appends `ORD<digits>^SIMEHR` (placer) or `LAB<digits>^SIMLIS` (filler).
fn write_order_number(out: &mut Vec<u8>, filler: bool, n: u64) {
    out.extend_from_slice(if filler { b"LAB" } else { b"ORD" });
    push_u64(out, n);
    out.extend_from_slice(if filler { b"^SIMLIS" } else { b"^SIMEHR" });
}

impl Generator for Lab {
    fn next(&mut self, out: &mut Vec<u8>) {
        if self.n > 0 {
            let gap = 2 + self.rng.below(119) as i64;
            self.now = self.now.plus(gap);
        }
        self.n += 1;
        let now = self.now;
        let collected = now.plus(-(20 * 60 + self.rng.below(220 * 60) as i64));
        let slot = self.rng.below(self.patients as u64);
        let p = Patient::nth(self.seed, slot);

        write_msh(
            out,
            "SIMLIS|SIMHOSP",
            "SIMEHR|SIMHOSP",
            now,
            "ORU^R01^ORU_R01",
            self.seed ^ CONTROL,
            self.n,
            &self.version,
        );
        write_pid(out, &p, true);
        self.pv1(out, &p);

        let rng = &mut self.rng;
        let total: u32 = PANELS.iter().map(|p| p.weight).sum();
        let mut roll = rng.below(total as u64) as u32;
        let panel = PANELS
            .iter()
            .find(|p| {
                let hit = roll < p.weight;
                roll = roll.saturating_sub(p.weight);
                hit
            })
            .unwrap_or(&PANELS[0]);
        let ordering = *rng.pick(PHYSICIANS);
        let number = self.order_base + self.n;

        let mut orc = Seg::new(out, b"ORC");
        orc.put(1, b"RE");
        write_order_number(orc.at(2), false, number);
        write_order_number(orc.at(3), true, number);
        orc.put(5, b"CM");
        now.write_ts(orc.at(9));
        orc.put(12, ordering.as_bytes());
        orc.end();

        let mut obr = Seg::new(out, b"OBR");
        obr.put(1, b"1");
        write_order_number(obr.at(2), false, number);
        write_order_number(obr.at(3), true, number);
        let b = obr.at(4);
        b.extend_from_slice(panel.code.as_bytes());
        b.push(b'^');
        b.extend_from_slice(panel.name.as_bytes());
        b.extend_from_slice(b"^LN");
        collected.write_ts(obr.at(7));
        obr.put(16, ordering.as_bytes());
        now.write_ts(obr.at(22));
        obr.put(24, panel.section.as_bytes());
        obr.put(25, b"F");
        obr.end();

        // values, then the derived ones as the analyser computes them
        let mut v = [0f64; 28];
        for &a in panel.analytes {
            v[a] = ANALYTES[a].draw(rng, p.sex);
        }
        v[LDL] = (v[CHOL] - v[HDL] - v[TRIG] / 5.0).max(15.0);
        v[HCT] = v[HGB] * 100.0 / v[MCHC].max(1.0);
        v[RBC] = v[HCT] * 10.0 / v[MCV].max(1.0);
        v[MCH] = v[HGB] * 10.0 / v[RBC].max(0.01);

        for (i, &a) in panel.analytes.iter().enumerate() {
            let an = &ANALYTES[a];
            let value = round(v[a], an.decimals);
            let mut obx = Seg::new(out, b"OBX");
            push_u64(obx.at(1), i as u64 + 1);
            obx.put(2, b"NM");
            let b = obx.at(3);
            b.extend_from_slice(an.code.as_bytes());
            b.push(b'^');
            b.extend_from_slice(an.name.as_bytes());
            b.extend_from_slice(b"^LN");
            push_fixed(obx.at(5), value, an.decimals);
            let b = obx.at(6);
            b.extend_from_slice(an.unit.as_bytes());
            b.push(b'^');
            b.extend_from_slice(an.unit.as_bytes());
            b.extend_from_slice(b"^UCUM");
            an.write_range(obx.at(7), p.sex);
            obx.put(8, an.flag(value, p.sex));
            obx.put(11, b"F");
            collected.write_ts(obx.at(14));
            obx.end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Profile;
    use super::super::adt::tests::{check_profile, run, text};
    use super::*;
    use crate::model::message::Message;
    use std::collections::HashMap;

    fn config(seed: u64) -> Config {
        Config::new(
            Profile::Lab,
            seed,
            Time::parse("2024-08-14T11:46:36+02:00").unwrap(),
        )
    }

    #[test]
    fn deterministic_and_valid() {
        check_profile(Lab::new, config(2), "2.5", "2.6");
    }

    /// Does the flag fit the value and the range as written?
    fn flag_fits(value: f64, range: &str, flag: &str) -> bool {
        let normal = if let Some(hi) = range.strip_prefix('<') {
            let hi: f64 = hi.parse().unwrap();
            return if value < hi { flag == "N" } else { flag == "H" };
        } else if let Some(lo) = range.strip_prefix('>') {
            let lo: f64 = lo.parse().unwrap();
            return if value > lo { flag == "N" } else { flag == "L" };
        } else {
            let (lo, hi) = range.split_once('-').unwrap();
            let (lo, hi): (f64, f64) = (lo.parse().unwrap(), hi.parse().unwrap());
            if value < lo {
                Some(["L", "LL"])
            } else if value > hi {
                Some(["H", "HH"])
            } else {
                None
            }
        };
        match normal {
            None => flag == "N",
            Some(ok) => ok.contains(&flag),
        }
    }

    #[test]
    fn results_are_plausible_and_flags_fit() {
        let msgs = run(&mut Lab::new(&config(8)), 2000);
        let mut flags: HashMap<String, usize> = HashMap::new();
        let mut panels: HashMap<String, usize> = HashMap::new();
        for raw in &msgs {
            let m = Message::parse(raw).unwrap();
            assert_eq!(m.message_type(), "ORU^R01^ORU_R01");
            let segs: Vec<_> = m.segments().map(|s| s.id_str().into_owned()).collect();
            assert_eq!(segs[..5], ["MSH", "PID", "PV1", "ORC", "OBR"]);
            let obx = segs.len() - 5;
            assert!((4..=12).contains(&obx) && segs[5..].iter().all(|s| s == "OBX"));
            let code = text(&m, "OBR-4.1");
            let panel = PANELS.iter().find(|p| p.code == code).unwrap();
            assert_eq!(panel.analytes.len(), obx);
            assert_eq!(text(&m, "OBR-4.3"), "LN");
            assert_eq!(text(&m, "OBR-25"), "F");
            assert_eq!(text(&m, "ORC-2"), text(&m, "OBR-2"));
            assert!(text(&m, "OBR-7") < text(&m, "OBR-22"));
            assert_eq!(text(&m, "OBR-22"), text(&m, "MSH-7"));
            assert_eq!(text(&m, "PV1-19"), text(&m, "PID-18"));
            *panels.entry(code).or_default() += 1;
            let sex = text(&m, "PID-8");
            for i in 1..=obx {
                let f = |n: &str| text(&m, &format!("OBX[{i}]-{n}"));
                assert_eq!(f("1"), i.to_string());
                assert_eq!(f("2"), "NM");
                let an = &ANALYTES[panel.analytes[i - 1]];
                assert_eq!(
                    (f("3.1"), f("3.2"), f("3.3")),
                    (an.code.into(), an.name.into(), "LN".into())
                );
                assert_eq!(f("6"), format!("{0}^{0}^UCUM", an.unit));
                let value: f64 = f("5").parse().unwrap();
                assert!(value > 0.0 && value < 2000.0, "{} {value}", an.code);
                let range = f("7");
                let (lo, hi) = an.limits(sex.chars().next().unwrap());
                assert!(range.contains(&format!(
                    "{}",
                    if an.range == Range::Above { lo } else { hi }
                )));
                let flag = f("8");
                assert!(
                    flag_fits(value, &range, &flag),
                    "{} {value} {range} {flag}",
                    an.code
                );
                *flags.entry(flag).or_default() += 1;
                assert_eq!(f("11"), "F");
                assert_eq!(f("14"), text(&m, "OBR-7"));
            }
            // the derived values agree with their inputs (within rounding)
            let get = |code: &str| -> Option<f64> {
                (1..=obx)
                    .find(|&i| text(&m, &format!("OBX[{i}]-3.1")) == code)
                    .map(|i| text(&m, &format!("OBX[{i}]-5")).parse().unwrap())
            };
            if let (Some(tc), Some(hdl), Some(tg), Some(ldl)) =
                (get("2093-3"), get("2085-9"), get("2571-8"), get("13457-7"))
            {
                assert!(ldl == 15.0 || (tc - hdl - tg / 5.0 - ldl).abs() <= 1.5);
            }
            if let (Some(hb), Some(hct), Some(mchc)) = (get("718-7"), get("4544-3"), get("786-4")) {
                assert!((hb * 100.0 / hct - mchc).abs() < 0.6);
            }
        }
        let n: usize = flags.values().sum();
        assert!(flags["N"] * 10 > n * 7, "mostly normal: {flags:?}");
        assert!(flags["H"] > 100 && flags["L"] > 100, "{flags:?}");
        let critical = flags.get("HH").unwrap_or(&0) + flags.get("LL").unwrap_or(&0);
        assert!(
            critical > 0 && critical * 100 < n,
            "critical values are rare: {flags:?}"
        );
        assert_eq!(panels.len(), PANELS.len());
    }
}
