//! `monitor`: bedside patient monitors reporting vital signs through a gateway, in the IHE PCD-01
//! style (ORU^R01 from a device observation reporter, HL7 2.6, MDC codes, the containment tree
//! MDS / VMD / channel / metric in OBX-4, the device's EUI-64 in OBX-18).
//!
//! Every device reports once per round of [`ROUND_SECS`] seconds, the devices of a round
//! interleaved and spread over the interval. Each device has its own random stream (so adding a
//! device does not change the others), a fixed identity (EUI-64, bed), a bound patient
//! (device index modulo the population), and its own trend: a baseline per vital sign, a slow
//! mean-reverting random walk, a little noise per reading, occasional episodes (tachycardia,
//! desaturation) that last several rounds, and a non-invasive blood pressure cuff measured only
//! every few rounds (the other rounds carry no NIBP rows, as real monitors do).
//!
//! Devices are created lazily, as their first message comes up: `--devices` costs nothing until
//! the devices report.

use super::{Config, Generator, Patient, Rng, Time, mix64, push_control_id, push_fixed, push_u64};

/// Seconds between two reports of one device.
pub const ROUND_SECS: u64 = 10;

/// Sending application of the gateway (MSH-3.1, OBR-2.2, OBR-3.2).
const GATEWAY: &[u8] = b"SIM_PCD_GW";

/// Care units the monitors are placed in (PV1-3.1).
const UNITS: &[&[u8]] = &[b"ICU", b"CCU", b"SDU", b"PACU"];
/// Rooms per unit and beds per room (PV1-3.2, PV1-3.3).
const ROOMS_PER_UNIT: u64 = 12;
const BEDS_PER_ROOM: u64 = 2;

/// Sub-ids (OBX-4 `1.1.1.n`) of the metrics: stable, so a metric keeps its id on rounds where
/// others (NIBP) are absent.
const SUB_HR: u64 = 1;
const SUB_SPO2: u64 = 2;
const SUB_PR: u64 = 3;
const SUB_NIBP_SYS: u64 = 4;
const SUB_NIBP_DIA: u64 = 5;
const SUB_NIBP_MEAN: u64 = 6;
const SUB_TEMP: u64 = 7;
const SUB_RESP: u64 = 8;

const HR: &[u8] = b"147842^MDC_ECG_HEART_RATE^MDC";
const SPO2: &[u8] = b"150456^MDC_PULS_OXIM_SAT_O2^MDC";
const PR: &[u8] = b"149530^MDC_PULS_OXIM_PULS_RATE^MDC";
const NIBP_SYS: &[u8] = b"150021^MDC_PRESS_BLD_NONINV_SYS^MDC";
const NIBP_DIA: &[u8] = b"150022^MDC_PRESS_BLD_NONINV_DIA^MDC";
const NIBP_MEAN: &[u8] = b"150023^MDC_PRESS_BLD_NONINV_MEAN^MDC";
const TEMP: &[u8] = b"150344^MDC_TEMP^MDC";
const RESP: &[u8] = b"151562^MDC_RESP_RATE^MDC";
const BPM: &[u8] = b"264864^MDC_DIM_BEAT_PER_MIN^MDC";
const PERCENT: &[u8] = b"262688^MDC_DIM_PERCENT^MDC";
const MMHG: &[u8] = b"266016^MDC_DIM_MMHG^MDC";
const DEGC: &[u8] = b"268192^MDC_DIM_DEGC^MDC";
const RPM: &[u8] = b"264928^MDC_DIM_RESP_PER_MIN^MDC";

/// The containment tree: (OBX-3, OBX-4) of the MDS, VMD and channel rows.
const TREE: &[(&[u8], &[u8])] = &[
    (b"69837^MDC_DEV_METER_PHYSIO_MULTI_PARAM_MDS^MDC", b"1"),
    (b"69838^MDC_DEV_METER_PHYSIO_MULTI_PARAM_VMD^MDC", b"1.1"),
    (b"69839^MDC_DEV_METER_PHYSIO_MULTI_PARAM_CHAN^MDC", b"1.1.1"),
];

/// Physiological bounds of the simulated values (inclusive).
pub const HR_BOUNDS: (f64, f64) = (35.0, 190.0);
pub const SPO2_BOUNDS: (f64, f64) = (72.0, 100.0);
pub const SYS_BOUNDS: (f64, f64) = (75.0, 210.0);
pub const DIA_BOUNDS: (f64, f64) = (40.0, 125.0);
pub const TEMP_BOUNDS: (f64, f64) = (35.0, 40.5);
pub const RESP_BOUNDS: (f64, f64) = (6.0, 40.0);

/// A device's EUI-64 (16 upper-case hex digits): a locally administered prefix and 40 bits that
/// are a bijection of the device index keyed by the seed, so devices never share one.
fn eui64(seed: u64, index: u64) -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    const MASK: u64 = (1 << 40) - 1;
    // multiplying by an odd number and adding are bijections modulo 2^40
    let low = index
        .wrapping_mul(0x9E37_79B9_7F4B)
        .wrapping_add(mix64(seed ^ 0x0045_5549_3634))
        & MASK;
    let v = (0x02_5E1A_u64 << 40) | low;
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = HEX[((v >> ((15 - i) * 4)) & 15) as usize];
    }
    out
}

/// An episode in progress.
#[derive(Clone, Copy, Debug)]
enum Episode {
    None,
    /// Heart rate raised by `amount` bpm at full strength.
    Tachycardia {
        amount: f64,
        elapsed: u32,
        length: u32,
    },
    /// SpO2 lowered by `amount` points at full strength.
    Desaturation {
        amount: f64,
        elapsed: u32,
        length: u32,
    },
}

/// One monitor: identity, bound patient and trend.
struct Device {
    eui: [u8; 16],
    /// `PID` and `PV1` segments, written once.
    pid_pv1: Vec<u8>,
    rng: Rng,
    rounds: u64,
    hr_base: f64,
    hr_walk: f64,
    spo2_base: f64,
    spo2_walk: f64,
    sys_base: f64,
    dia_base: f64,
    bp_walk: f64,
    temp_base: f64,
    temp_walk: f64,
    resp_base: f64,
    resp_walk: f64,
    /// NIBP is measured on rounds where `rounds % nibp_every == nibp_phase`.
    nibp_every: u64,
    nibp_phase: u64,
    episode: Episode,
}

/// One round's readings of a device.
struct Readings {
    hr: f64,
    spo2: f64,
    pr: f64,
    /// (systolic, diastolic, mean) when the cuff measured this round.
    nibp: Option<(f64, f64, f64)>,
    temp: f64,
    resp: f64,
}

impl Device {
    fn new(seed: u64, index: u64, patients: u64) -> Device {
        let mut rng = Rng::new(seed, 0x4d4f_4e49_544f_5200 ^ index);
        let patient = Patient::nth(seed, index % patients.max(1));
        let mut pid_pv1 = Vec::with_capacity(192);
        patient.write_pid(&mut pid_pv1);
        // PV1-3: unit^room^bed^facility, one bed per device index
        let beds_per_unit = ROOMS_PER_UNIT * BEDS_PER_ROOM;
        let floor = 1 + index / (beds_per_unit * UNITS.len() as u64);
        let unit = UNITS[((index / beds_per_unit) % UNITS.len() as u64) as usize];
        let room = floor * 100 + 1 + (index % beds_per_unit) / BEDS_PER_ROOM;
        let bed = 1 + index % BEDS_PER_ROOM;
        pid_pv1.extend_from_slice(b"PV1||I|");
        pid_pv1.extend_from_slice(unit);
        pid_pv1.push(b'^');
        push_u64(&mut pid_pv1, room);
        pid_pv1.push(b'^');
        push_u64(&mut pid_pv1, bed);
        pid_pv1.extend_from_slice(b"^SIMHOSP||||||||||||||||");
        pid_pv1.extend_from_slice(patient.visit.as_bytes());
        pid_pv1.push(b'\r');

        let hr_base = rng.uniform(55.0, 100.0);
        let spo2_base = rng.uniform(93.0, 99.0);
        let sys_base = rng.uniform(100.0, 150.0);
        let dia_base = (sys_base * rng.uniform(0.55, 0.68)).clamp(55.0, 95.0);
        let temp_base = rng.uniform(36.3, 37.4);
        let resp_base = rng.uniform(12.0, 20.0);
        let nibp_every = rng.range(3, 6) as u64;
        let nibp_phase = rng.below(nibp_every);
        Device {
            eui: eui64(seed, index),
            pid_pv1,
            rng,
            rounds: 0,
            hr_base,
            hr_walk: 0.0,
            spo2_base,
            spo2_walk: 0.0,
            sys_base,
            dia_base,
            bp_walk: 0.0,
            temp_base,
            temp_walk: 0.0,
            resp_base,
            resp_walk: 0.0,
            nibp_every,
            nibp_phase,
            episode: Episode::None,
        }
    }

    /// Advances the trend by one round and reads the values.
    fn step(&mut self) -> Readings {
        let r = &mut self.rng;
        // slow mean-reverting random walks
        self.hr_walk = self.hr_walk * 0.97 + r.normal() * 0.8;
        self.spo2_walk = self.spo2_walk * 0.95 + r.normal() * 0.25;
        self.bp_walk = self.bp_walk * 0.97 + r.normal() * 1.2;
        self.temp_walk = self.temp_walk * 0.995 + r.normal() * 0.01;
        self.resp_walk = self.resp_walk * 0.96 + r.normal() * 0.3;

        // episodes: ramp up over 3 rounds, hold, ramp down over 3 rounds
        let ramp = |elapsed: u32, length: u32| -> f64 {
            let up = (elapsed + 1) as f64 / 3.0;
            let down = (length - elapsed) as f64 / 3.0;
            up.min(down).min(1.0)
        };
        let (mut hr_add, mut spo2_sub, mut resp_add) = (0.0, 0.0, 0.0);
        self.episode = match self.episode {
            Episode::None => {
                let p = r.unit();
                if p < 0.006 {
                    Episode::Tachycardia {
                        amount: r.uniform(25.0, 50.0),
                        elapsed: 0,
                        length: r.range(6, 30) as u32,
                    }
                } else if p < 0.010 {
                    Episode::Desaturation {
                        amount: r.uniform(5.0, 12.0),
                        elapsed: 0,
                        length: r.range(4, 18) as u32,
                    }
                } else {
                    Episode::None
                }
            }
            e => e,
        };
        self.episode = match self.episode {
            Episode::None => Episode::None,
            Episode::Tachycardia {
                amount,
                elapsed,
                length,
            } => {
                let k = ramp(elapsed, length);
                hr_add = amount * k;
                resp_add = 3.0 * k;
                if elapsed + 1 >= length {
                    Episode::None
                } else {
                    Episode::Tachycardia {
                        amount,
                        elapsed: elapsed + 1,
                        length,
                    }
                }
            }
            Episode::Desaturation {
                amount,
                elapsed,
                length,
            } => {
                let k = ramp(elapsed, length);
                spo2_sub = amount * k;
                hr_add = 8.0 * k;
                resp_add = 6.0 * k;
                if elapsed + 1 >= length {
                    Episode::None
                } else {
                    Episode::Desaturation {
                        amount,
                        elapsed: elapsed + 1,
                        length,
                    }
                }
            }
        };

        let clamp = |v: f64, (lo, hi): (f64, f64)| v.clamp(lo, hi);
        let hr = clamp(
            self.hr_base + self.hr_walk + hr_add + r.normal() * 1.2,
            HR_BOUNDS,
        )
        .round();
        let pr = clamp(hr + r.normal() * 1.0, HR_BOUNDS).round();
        let spo2 = clamp(
            (self.spo2_base + self.spo2_walk - spo2_sub + r.normal() * 0.4).min(100.0),
            SPO2_BOUNDS,
        )
        .round();
        let temp = clamp(
            self.temp_base + self.temp_walk + r.normal() * 0.03,
            TEMP_BOUNDS,
        );
        let resp = clamp(
            self.resp_base + self.resp_walk + resp_add + r.normal() * 0.8,
            RESP_BOUNDS,
        )
        .round();
        let nibp = if self.rounds % self.nibp_every == self.nibp_phase {
            let sys = clamp(
                self.sys_base + self.bp_walk + hr_add * 0.3 + r.normal() * 3.0,
                SYS_BOUNDS,
            )
            .round();
            let dia = clamp(
                self.dia_base + self.bp_walk * 0.6 + hr_add * 0.15 + r.normal() * 2.0,
                DIA_BOUNDS,
            )
            .min(sys - 20.0)
            .round();
            let mean = (dia + (sys - dia) / 3.0).round();
            Some((sys, dia, mean))
        } else {
            None
        };
        self.rounds += 1;
        Readings {
            hr,
            spo2,
            pr,
            nibp,
            temp,
            resp,
        }
    }
}

/// The `monitor` profile.
pub struct Monitor {
    seed: u64,
    start: Time,
    device_count: u64,
    patients: u64,
    version: Vec<u8>,
    gateway_eui: [u8; 16],
    devices: Vec<Device>,
    /// Messages written so far.
    n: u64,
    /// The current message's timestamp, written once and copied into each row.
    ts: Vec<u8>,
}

impl Monitor {
    pub fn new(cfg: &Config) -> Self {
        Monitor {
            seed: cfg.seed,
            start: cfg.start,
            device_count: u64::from(cfg.devices.max(1)),
            patients: u64::from(cfg.patients.max(1)),
            version: cfg.version.as_deref().unwrap_or("2.6").as_bytes().to_vec(),
            // an index no device has (they are below 2^32)
            gateway_eui: eui64(cfg.seed, (1 << 40) - 1),
            devices: Vec::new(),
            n: 0,
            ts: Vec::with_capacity(24),
        }
    }

    /// `^GATEWAY^EUI^EUI-64` after an entity id.
    fn push_gateway_ei(&self, out: &mut Vec<u8>) {
        out.push(b'^');
        out.extend_from_slice(GATEWAY);
        out.push(b'^');
        out.extend_from_slice(&self.gateway_eui);
        out.extend_from_slice(b"^EUI-64");
    }
}

/// An OBX-18 equipment instance identifier: `EUI^^EUI^EUI-64`.
fn push_equipment(out: &mut Vec<u8>, eui: &[u8; 16]) {
    out.extend_from_slice(eui);
    out.extend_from_slice(b"^^");
    out.extend_from_slice(eui);
    out.extend_from_slice(b"^EUI-64");
}

/// Appends an OBX row (with `\r`). `value` is `None` for a containment (hierarchy) row.
#[allow(clippy::too_many_arguments)]
fn push_obx(
    out: &mut Vec<u8>,
    set_id: &mut u64,
    id: &[u8],
    sub_id: &[u8],
    metric: Option<(u64, f64, u32, &[u8])>,
    ts: &[u8],
    eui: &[u8; 16],
) {
    *set_id += 1;
    out.extend_from_slice(b"OBX|");
    push_u64(out, *set_id);
    match metric {
        None => {
            out.extend_from_slice(b"||");
            out.extend_from_slice(id);
            out.push(b'|');
            out.extend_from_slice(sub_id);
            out.extend_from_slice(b"|||||||X|||");
        }
        Some((n, value, decimals, units)) => {
            out.extend_from_slice(b"|NM|");
            out.extend_from_slice(id);
            out.push(b'|');
            out.extend_from_slice(sub_id);
            out.push(b'.');
            push_u64(out, n);
            out.push(b'|');
            push_fixed(out, value, decimals);
            out.push(b'|');
            out.extend_from_slice(units);
            out.extend_from_slice(b"|||||R|||");
        }
    }
    out.extend_from_slice(ts);
    out.extend_from_slice(b"||||");
    push_equipment(out, eui);
    out.push(b'\r');
}

impl Generator for Monitor {
    fn next(&mut self, out: &mut Vec<u8>) {
        let n = self.n;
        self.n += 1;
        let d = n % self.device_count;
        let round = n / self.device_count;
        // the devices of a round spread over its interval, in order: time never goes back
        let secs = round
            .saturating_mul(ROUND_SECS)
            .saturating_add(d * ROUND_SECS / self.device_count);
        let time = self.start.plus(secs.min(i64::MAX as u64 / 4) as i64);
        self.ts.clear();
        time.write_ts(&mut self.ts);
        if d as usize == self.devices.len() {
            self.devices.push(Device::new(self.seed, d, self.patients));
        }

        // MSH
        out.extend_from_slice(b"MSH|^~\\&|");
        out.extend_from_slice(GATEWAY);
        out.push(b'^');
        out.extend_from_slice(&self.gateway_eui);
        out.extend_from_slice(b"^EUI-64|SIMHOSP|CIS|SIMHOSP|");
        out.extend_from_slice(&self.ts);
        out.extend_from_slice(b"||ORU^R01^ORU_R01|");
        push_control_id(out, self.seed, n);
        out.extend_from_slice(b"|P|");
        out.extend_from_slice(&self.version);
        out.extend_from_slice(
            b"|||NE|AL||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO\r",
        );

        out.extend_from_slice(&self.devices[d as usize].pid_pv1);

        // OBR: placer and filler order numbers from the message counter
        out.extend_from_slice(b"OBR|1|");
        push_u64(out, n + 1);
        self.push_gateway_ei(out);
        out.push(b'|');
        push_u64(out, n + 1);
        self.push_gateway_ei(out);
        out.extend_from_slice(b"|182777000^monitoring of patient^SNOMED-CT|||");
        out.extend_from_slice(&self.ts);
        out.push(b'\r');

        let ts = &self.ts;
        let dev = &mut self.devices[d as usize];
        let v = dev.step();
        let eui = &dev.eui;
        let mut set_id = 0;
        for (id, sub) in TREE {
            push_obx(out, &mut set_id, id, sub, None, ts, eui);
        }
        let chan = TREE[2].1;
        let mut metric =
            |out: &mut Vec<u8>, id: &[u8], sub: u64, value: f64, decimals: u32, units: &[u8]| {
                push_obx(
                    out,
                    &mut set_id,
                    id,
                    chan,
                    Some((sub, value, decimals, units)),
                    ts,
                    eui,
                );
            };
        metric(out, HR, SUB_HR, v.hr, 0, BPM);
        metric(out, SPO2, SUB_SPO2, v.spo2, 0, PERCENT);
        metric(out, PR, SUB_PR, v.pr, 0, BPM);
        if let Some((sys, dia, mean)) = v.nibp {
            metric(out, NIBP_SYS, SUB_NIBP_SYS, sys, 0, MMHG);
            metric(out, NIBP_DIA, SUB_NIBP_DIA, dia, 0, MMHG);
            metric(out, NIBP_MEAN, SUB_NIBP_MEAN, mean, 0, MMHG);
        }
        metric(out, TEMP, SUB_TEMP, v.temp, 1, DEGC);
        metric(out, RESP, SUB_RESP, v.resp, 0, RPM);
    }
}

#[cfg(test)]
mod tests {
    use super::super::adt::tests::{run as take, text};
    use super::*;
    use crate::model::message::Message;
    use crate::simulate::Profile;
    use std::collections::{HashMap, HashSet};

    fn config(seed: u64, devices: u32, patients: u32) -> Config {
        let mut cfg = Config::new(
            Profile::Monitor,
            seed,
            Time::parse("2024-03-15T10:15:00+01:00").unwrap(),
        );
        cfg.devices = devices;
        cfg.patients = patients;
        cfg
    }

    fn run(cfg: &Config, count: usize) -> Vec<Vec<u8>> {
        take(&mut Monitor::new(cfg), count)
    }

    /// (OBX-3.1, OBX-4, OBX-5) of each row.
    fn rows(m: &Message) -> Vec<(String, String, String)> {
        m.segments()
            .filter(|s| s.id() == b"OBX")
            .map(|s| {
                let f = |n| {
                    s.field(n)
                        .map(|v| v.text().into_owned())
                        .unwrap_or_default()
                };
                let code = f(3).split('^').next().unwrap_or("").to_string();
                (code, f(4), f(5))
            })
            .collect()
    }

    #[test]
    fn messages_are_valid_pcd01() {
        let msgs = run(&config(7, 3, 2), 300);
        let mut ids = HashSet::new();
        for raw in &msgs {
            assert!(raw.ends_with(b"\r") && !raw.contains(&b'\n'));
            let m = Message::parse(raw).unwrap();
            m.validate().unwrap();
            assert!(ids.insert(m.control_id()));
            assert_eq!(m.message_type(), "ORU^R01^ORU_R01");
            assert_eq!(m.version(), "2.6");
            assert_eq!(text(&m, "MSH-21.1"), "IHE_PCD_001");
            assert_eq!(text(&m, "MSH-21.3"), "1.3.6.1.4.1.19376.1.6.1.1.1");
            assert_eq!(text(&m, "OBR-4.1"), "182777000");
            assert_eq!(text(&m, "OBR-7"), text(&m, "MSH-7"));
            let order: Vec<_> = m
                .segments()
                .map(|s| s.id_str().into_owned())
                .take(5)
                .collect();
            assert_eq!(order, ["MSH", "PID", "PV1", "OBR", "OBX"]);
            for (i, s) in m.segments().filter(|s| s.id() == b"OBX").enumerate() {
                let f = |n| {
                    s.field(n)
                        .map(|v| v.text().into_owned())
                        .unwrap_or_default()
                };
                assert_eq!(f(1), (i + 1).to_string());
                if i < 3 {
                    assert_eq!((f(2).as_str(), f(11).as_str()), ("", "X"));
                    assert_eq!(f(4), ["1", "1.1", "1.1.1"][i]);
                } else {
                    assert_eq!((f(2).as_str(), f(11).as_str()), ("NM", "R"));
                    assert!(f(4).starts_with("1.1.1."));
                    assert!(f(5).parse::<f64>().is_ok());
                }
                assert_eq!(f(14), text(&m, "MSH-7"));
                assert!(f(18).ends_with("^EUI-64"));
            }
        }
        assert_eq!(ids.len(), 300);
    }

    #[test]
    fn same_seed_same_bytes() {
        assert_eq!(run(&config(11, 4, 10), 100), run(&config(11, 4, 10), 100));
        assert_ne!(run(&config(11, 4, 10), 100), run(&config(12, 4, 10), 100));
    }

    #[test]
    fn devices_keep_their_identity_and_rounds_advance_the_clock() {
        let devices = 5;
        let msgs = run(&config(3, devices, 3), 200);
        let mut identity: HashMap<usize, (String, String, String)> = HashMap::new();
        let mut last = String::new();
        for (n, raw) in msgs.iter().enumerate() {
            let m = Message::parse(raw).unwrap();
            let id = (text(&m, "OBX-18.1"), text(&m, "PV1-3"), text(&m, "PID-3.1"));
            assert_eq!(id.0.len(), 16);
            assert!(id.0.bytes().all(|b| b.is_ascii_hexdigit()));
            assert_eq!(
                &*identity
                    .entry(n % devices as usize)
                    .or_insert_with(|| id.clone()),
                &id
            );
            let ts = text(&m, "MSH-7");
            assert!(ts >= last, "time went back at {n}");
            last = ts;
        }
        let euis: HashSet<_> = identity.values().map(|v| &v.0).collect();
        let beds: HashSet<_> = identity.values().map(|v| &v.1).collect();
        assert_eq!((euis.len(), beds.len()), (5, 5));
        // patient k = device index mod patients
        assert_eq!(identity[&0].2, identity[&3].2);
        assert_ne!(identity[&0].2, identity[&1].2);
        let first = Message::parse(&msgs[0]).unwrap();
        assert_eq!(text(&first, "MSH-7"), "20240315101500+0100");
        let next_round = Message::parse(&msgs[devices as usize]).unwrap();
        assert_eq!(text(&next_round, "MSH-7"), "20240315101510+0100");
        let mid = Message::parse(&msgs[3]).unwrap();
        assert_eq!(text(&mid, "MSH-7"), "20240315101506+0100");
    }

    #[test]
    fn adding_devices_leaves_the_others_alone() {
        let alone = run(&config(5, 1, 4), 30);
        let crowd = run(&config(5, 3, 4), 90);
        for (i, raw) in alone.iter().enumerate() {
            let a = Message::parse(raw).unwrap();
            let b = Message::parse(&crowd[i * 3]).unwrap();
            assert_eq!(rows(&a), rows(&b));
            assert_eq!(text(&a, "OBX-18"), text(&b, "OBX-18"));
            assert_eq!(text(&a, "PID-3"), text(&b, "PID-3"));
        }
    }

    #[test]
    fn values_stay_plausible_and_nibp_comes_every_few_rounds() {
        let devices = 4;
        let msgs = run(&config(99, devices, 4), 4000);
        let mut with_nibp = vec![0usize; devices as usize];
        for (n, raw) in msgs.iter().enumerate() {
            let m = Message::parse(raw).unwrap();
            let mut seen = HashMap::new();
            for (code, sub, value) in rows(&m).into_iter().skip(3) {
                let v: f64 = value.parse().unwrap();
                let bounds = match code.as_str() {
                    "147842" | "149530" => HR_BOUNDS,
                    "150456" => SPO2_BOUNDS,
                    "150021" => SYS_BOUNDS,
                    "150022" => DIA_BOUNDS,
                    "150023" => (DIA_BOUNDS.0, SYS_BOUNDS.1),
                    "150344" => TEMP_BOUNDS,
                    "151562" => RESP_BOUNDS,
                    other => panic!("unexpected code {other}"),
                };
                assert!(bounds.0 <= v && v <= bounds.1, "{code} = {v}");
                seen.insert(code, (sub, v));
            }
            let nibp = ["150021", "150022", "150023"].map(|c| seen.get(c).map(|x| x.1));
            match nibp {
                [Some(sys), Some(dia), Some(mean)] => {
                    assert!(
                        dia < sys && dia <= mean && mean <= sys,
                        "{sys}/{dia} ({mean})"
                    );
                    with_nibp[n % devices as usize] += 1;
                }
                [None, None, None] => {}
                _ => panic!("partial NIBP"),
            }
            assert_eq!(seen["150344"].0, "1.1.1.7");
            assert_eq!(seen.len(), if nibp[0].is_some() { 8 } else { 5 });
        }
        let rounds = msgs.len() / devices as usize;
        for count in with_nibp {
            assert!(
                count >= rounds / 6 && count <= rounds / 3,
                "{count} of {rounds}"
            );
        }
    }

    #[test]
    fn episodes_happen_and_end() {
        let mut dev = Device::new(1, 0, 1);
        let (mut tachy, mut desat, mut quiet) = (0, 0, 0);
        for _ in 0..20_000 {
            dev.step();
            match dev.episode {
                Episode::Tachycardia { .. } => tachy += 1,
                Episode::Desaturation { .. } => desat += 1,
                Episode::None => quiet += 1,
            }
        }
        assert!(
            tachy > 0 && desat > 0 && quiet > 10_000,
            "{tachy} {desat} {quiet}"
        );
    }

    #[test]
    fn version_override_and_huge_device_counts() {
        let mut cfg = config(1, u32::MAX, u32::MAX);
        cfg.version = Some("2.5".into());
        for raw in run(&cfg, 50) {
            let m = Message::parse(&raw).unwrap();
            m.validate().unwrap();
            assert_eq!(m.version(), "2.5");
            assert_eq!(text(&m, "MSH-7"), "20240315101500+0100");
        }
    }
}
