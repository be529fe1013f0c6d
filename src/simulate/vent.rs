//! `vent`: Löwenstein elisa 800 ventilators exported by a Capsule DataCaptor gateway, in the
//! exact format of the real capture in `samples/oru_r01_vent.hl7` (see
//! `samples/elisa800/README.md`): HL7 2.3, MSH-3 `DATACAPTOR`, MSH-18 `8859/1`, PID and PV1 of
//! the bound patient, OBR-7 the time and OBR-10 `{device GUID}^Elisa 800`, then the capture's
//! OBX rows in its order (numeric Capsule variable ids, unit codes in OBX-6, `SETTING` in
//! OBX-13 (where the capture has it), alarm-limit variants, coded strings, text, dates, the serial in `1913`, the status
//! words 801-804), plus the turbine filter's remaining hours. Times carry no zone offset: they
//! are the device's local time.
//!
//! Each device has its own GUID, serial, patient, settings and trend. Settings change rarely;
//! measurements follow their settings with a slow drift and breath-to-breath noise; alarm
//! limits scale with what they guard; now and then an alarm fires for a while, and the alarm
//! variable, the bits of the status words and the affected measurements change with it.

use super::{Config, Generator, Patient, Rng, Time, push_control_id, push_fixed, push_u64};

/// The real capture the format is copied from.
const CAPTURE: &str = include_str!("../../samples/oru_r01_vent.hl7");
/// Variable labels, for telling alarms from measurements.
const VARIABLES: &str = include_str!("../../samples/elisa800/variables.tsv");

/// A row of the OBX template.
#[derive(Clone, Debug)]
struct Row {
    /// `OBX|n|NM|id||`
    pre: Vec<u8>,
    /// From the field after OBX-5 up to OBX-14 (`|139|||||F|||`), or to the end when the row
    /// has no time.
    mid: Vec<u8>,
    /// Whether OBX-14 is the time.
    timed: bool,
    /// After OBX-14 (`|`), with the segment terminator.
    end: Vec<u8>,
    kind: Kind,
    /// Decimal places of the capture's value.
    decimals: u32,
    /// The capture's value.
    base: f64,
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    /// Text or a code that stays as captured.
    Fixed(String),
    /// A numeric setting (`SETTING`): the device's value, changing rarely.
    Setting(usize),
    /// A measurement following the setting at this index (with the capture's ratio), or its own
    /// baseline.
    Measured {
        follows: Option<usize>,
        ratio: f64,
    },
    /// An alarm limit of a measured variable: scales with that variable's setting.
    Limit {
        follows: Option<usize>,
        ratio: f64,
    },
    /// 0 or 1: the alarm variable with this id (its effects, if any, are in [`COUPLED`]).
    Alarm(u32),
    /// Status word 801-804.
    Status(u16),
    Serial,
    DeviceTime,
    CheckDate,
    FilterHours,
    BatteryMinutes,
    SilenceStatus,
    /// The patient's body weight (757), which the tidal volume is set from.
    Weight,
    /// The patient category setting (1410): `n`, `p` or `a` by weight.
    Category,
}

/// Alarms with effects beyond their own flag: (variable id, status word, bit, measurement to push,
/// factor).
const COUPLED: &[(u32, u16, u8, u16, f64)] = &[
    (92611, 801, 1, 2097, 0.55), // Air Supply Alarm: Gas Supplies OK cleared, air pressure drops
    (8626, 801, 1, 2097, 0.6),   // Air Supply Pressure Alarm
    (92612, 801, 1, 2098, 0.55), // O2 Supply Alarm
    (955, 801, 2, 0, 1.0),       // Battery Running Alarm: AC Mains Power OK cleared
    (8606, 801, 3, 0, 1.0),      // Battery Failure Alarm: Battery Charge OK cleared
    (9891, 801, 5, 7540, 6.0),   // Leakage Valve Alarm: Vent Circuit Leak OK cleared, leak rises
    (8582, 802, 1, 1414, 1.45),  // Circuit Occlusion Alarm: Vent Delivery OK cleared, Ppeak rises
    (8596, 803, 4, 635, 0.8),    // Low FiO2 Alarm: O2 Conc. Sensor OK cleared, FiO2 falls
    (8597, 803, 4, 635, 1.25),   // High FiO2 Alarm
    (8581, 803, 3, 1762, 0.6),   // PEEP Not Achieved: Exhalation Valve OK cleared, PEEP falls
    (8598, 0, 0, 5945, 0.5),     // Low Respiration Rate Alarm
    (8599, 0, 0, 5945, 1.6),     // High Respiration Rate Alarm
    (8589, 0, 0, 2325, 1.5),     // High Expired Tidal Volume Alarm
    (9584, 0, 0, 2326, 1.6),     // High Expired Minute Volume Alarm
];

/// The template, built once from the capture.
struct Template {
    rows: Vec<Row>,
    /// Index of the first row of each setting, by setting number.
    settings: Vec<usize>,
    /// Row index by variable id (first occurrence), for coupled effects.
    by_id: Vec<(String, usize)>,
    alarms: Vec<usize>,
}

fn labels() -> Vec<(String, String)> {
    VARIABLES
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect()
}

fn is_alarm_label(label: &str) -> bool {
    (label.contains("Alarm") || label.contains("Failure") || label.contains("Error"))
        && !label.contains("Status")
        && !label.contains("State")
        && !label.contains("Volume")
        && !label.contains("Limit")
}

impl Template {
    fn build() -> Template {
        let labels = labels();
        let label_of = |id: &str| {
            labels
                .iter()
                .find(|(v, _)| v == id)
                .map(|(_, l)| l.as_str())
                .unwrap_or("")
        };
        let mut rows = Vec::new();
        let mut setting_ids: Vec<(String, usize)> = Vec::new();
        let mut by_id: Vec<(String, usize)> = Vec::new();
        let mut alarms = Vec::new();
        let mut lines: Vec<&str> = CAPTURE
            .split(['\r', '\n'])
            .filter(|l| l.starts_with("OBX|"))
            .collect();
        // The turbine filter's remaining time, a counter that runs down with operating hours,
        // is in the variable table though not in the one capture: it goes after the turbine rows.
        let extra = "OBX|0|NM|1131101||2989|2|||||F|||20240814114636|";
        let at = lines
            .iter()
            .position(|l| l.contains("|1131208|"))
            .map_or(8, |p| p + 1);
        lines.insert(at, extra);
        for (n, line) in lines.iter().enumerate() {
            let f: Vec<&str> = line.split('|').collect();
            let ty = f.get(2).copied().unwrap_or("ST");
            let id = f.get(3).copied().unwrap_or("");
            let value = f.get(5).copied().unwrap_or("");
            // `SETTING` stands in OBX-13 of the capture (the elisa800 README says OBX-17, but
            // the bytes say 13: `OBX|122|NM|1320||26|1|||||F||SETTING|20240814114636|`).
            let setting = f.get(13).copied() == Some("SETTING");
            let timed = f.get(14).is_some_and(|t| !t.is_empty());
            let mut pre = format!("OBX|{}|{ty}|{id}||", n + 1).into_bytes();
            let (mid, end) = if timed {
                (
                    format!("|{}|", f[6..14].join("|")).into_bytes(),
                    format!("|{}\r", f[15..].join("|")).into_bytes(),
                )
            } else {
                (format!("|{}\r", f[6..].join("|")).into_bytes(), Vec::new())
            };
            if id == "Tag" {
                pre = format!("OBX|{}|ST|Tag||", n + 1).into_bytes();
            }
            let base_id = id.split('-').next().unwrap_or(id);
            let label = label_of(base_id);
            let decimals = value.split_once('.').map_or(0, |(_, d)| d.len() as u32);
            let base: f64 = value.parse().unwrap_or(0.0);
            let kind = if ty == "ST" {
                match id {
                    "1913" => Kind::Serial,
                    "1410" => Kind::Category,
                    "2255" => Kind::DeviceTime,
                    "8631" => Kind::CheckDate,
                    _ => Kind::Fixed(value.to_string()),
                }
            } else if let Some(word) = ["801", "802", "803", "804"].iter().position(|w| *w == id) {
                Kind::Status(801 + word as u16)
            } else if id == "1131101" {
                Kind::FilterHours
            } else if id == "3981" {
                Kind::BatteryMinutes
            } else if id == "4390" {
                Kind::SilenceStatus
            } else if id == "757" {
                Kind::Weight
            } else if id == "1410" {
                Kind::Category
            } else if setting {
                setting_ids.push((id.to_string(), rows.len()));
                Kind::Setting(setting_ids.len() - 1)
            } else if is_alarm_label(label) && base == 0.0 {
                alarms.push(rows.len());
                Kind::Alarm(base_id.parse().unwrap_or(0))
            } else if id.contains("AlarmLimit") {
                Kind::Limit {
                    follows: None,
                    ratio: 1.0,
                }
            } else {
                Kind::Measured {
                    follows: None,
                    ratio: 1.0,
                }
            };
            by_id.push((id.to_string(), rows.len()));
            rows.push(Row {
                pre,
                mid,
                timed,
                end,
                kind,
                decimals,
                base,
            });
        }
        // Measurements that follow a setting, with the capture's ratio between the two.
        const FOLLOWS: &[(&str, &str)] = &[
            ("1414", "8382"),
            ("1415", "2104"),
            ("1569", "2104"),
            ("1762", "2104"),
            ("2776", "2104"),
            ("1764", "2104"),
            ("1763", "8382"),
            ("2968", "8382"),
            ("2324", "1321"),
            ("2325", "1321"),
            ("52253", "1321"),
            ("52252", "1321"),
            ("2092", "1321"),
            ("2326", "1321"),
            ("52112", "1320"),
            ("5945", "1320"),
            ("635", "2782"),
            ("1347", "2102"),
        ];
        let setting_index = |sid: &str| setting_ids.iter().position(|(s, _)| s == sid);
        let rows_snapshot = rows.clone();
        for row in rows.iter_mut() {
            let id = std::str::from_utf8(&row.pre)
                .unwrap_or("")
                .split('|')
                .nth(3)
                .unwrap_or("")
                .to_string();
            let base_id = id.split('-').next().unwrap_or("").to_string();
            if let Some((_, sid)) = FOLLOWS.iter().find(|(m, _)| *m == base_id)
                && let Some(si) = setting_index(sid)
            {
                let sbase = rows_snapshot[setting_ids[si].1].base;
                let ratio = if sbase != 0.0 { row.base / sbase } else { 1.0 };
                match row.kind {
                    Kind::Measured { .. } => {
                        row.kind = Kind::Measured {
                            follows: Some(si),
                            ratio,
                        }
                    }
                    Kind::Limit { .. } => {
                        row.kind = Kind::Limit {
                            follows: Some(si),
                            ratio,
                        }
                    }
                    _ => {}
                }
            }
        }
        let settings = setting_ids.iter().map(|(_, r)| *r).collect();
        Template {
            rows,
            settings,
            by_id,
            alarms,
        }
    }

    fn row_of(&self, id: u16) -> Option<usize> {
        let id = id.to_string();
        self.by_id.iter().find(|(v, _)| *v == id).map(|(_, r)| *r)
    }
}

/// One simulated ventilator.
struct Device {
    rng: Rng,
    guid: String,
    serial: String,
    patient: Patient,
    bed: String,
    /// Current value of each setting, by setting number.
    settings: Vec<f64>,
    /// Slow drift of each row (relative), for measurements.
    drift: Vec<f64>,
    /// The active alarm: (row, messages left).
    alarm: Option<(usize, u32)>,
    silenced: bool,
    /// Seconds the device clock is ahead of the gateway.
    clock_skew: i64,
    check_date: Time,
    filter_hours: f64,
    battery_minutes: f64,
    /// The patient's weight, kg.
    weight: u64,
}

pub struct Vent {
    template: Template,
    devices: Vec<Device>,
    seed: u64,
    start: Time,
    version: String,
    n: u64,
    value: Vec<u8>,
}

/// Ratios of the main settings to pick a device's own values from (relative to the capture).
const SETTING_SPREAD: &[(&str, f64, f64, f64)] = &[
    // (variable id, lowest, highest, step); tidal volume and rate are set from the weight
    ("2104", 5.0, 10.0, 1.0),  // PEEP, cmH2O
    ("2782", 25.0, 60.0, 5.0), // FiO2, %
    ("8382", 24.0, 36.0, 1.0), // peak inspiratory pressure, cmH2O
];

impl Vent {
    pub fn new(cfg: &Config) -> Self {
        let template = Template::build();
        let devices = (0..cfg.devices)
            .map(|d| Device::new(&template, cfg, d as u64))
            .collect();
        Vent {
            template,
            devices,
            seed: cfg.seed ^ 0x7665_6e74,
            start: cfg.start.without_offset(),
            version: cfg.version.clone().unwrap_or_else(|| "2.3".into()),
            n: 0,
            value: Vec::with_capacity(32),
        }
    }
}

impl Device {
    fn new(t: &Template, cfg: &Config, d: u64) -> Device {
        let mut rng = Rng::new(cfg.seed, 0x5645_4e54_0000 + d);
        let g = |r: &mut Rng, n: usize| -> String {
            (0..n)
                .map(|_| b"0123456789ABCDEF"[r.below(16) as usize] as char)
                .collect()
        };
        let guid = format!(
            "{{{}-{}-4{}-{}{}-{}}}",
            g(&mut rng, 8),
            g(&mut rng, 4),
            g(&mut rng, 3),
            ["8", "9", "A", "B"][rng.below(4) as usize],
            g(&mut rng, 3),
            g(&mut rng, 12)
        );
        let serial = format!("{:015}", 8_200_000 + super::mix64(cfg.seed ^ d) % 800_000);
        let mut settings: Vec<f64> = t.settings.iter().map(|&r| t.rows[r].base).collect();
        for (id, lo, hi, step) in SETTING_SPREAD {
            if let Some(si) = t.settings.iter().position(|&r| row_id(&t.rows[r]) == *id) {
                let steps = ((hi - lo) / step) as i64;
                settings[si] = lo + step * rng.range(0, steps) as f64;
            }
        }
        // Tidal volume 6-8 mL/kg of the patient's weight, rate by age group.
        let weight = rng.range(8, 95) as u64;
        let per_kg = rng.range(6, 8) as f64;
        let set = |settings: &mut Vec<f64>, id: &str, v: f64| {
            if let Some(si) = t.settings.iter().position(|&r| row_id(&t.rows[r]) == id) {
                settings[si] = v;
            }
        };
        set(&mut settings, "7669", per_kg);
        set(
            &mut settings,
            "1321",
            ((weight as f64 * per_kg / 10.0).round() * 10.0).max(40.0),
        );
        let rate = if weight < 40 {
            rng.range(20, 30)
        } else {
            rng.range(12, 20)
        };
        set(&mut settings, "1320", rate as f64);
        let drift = vec![0.0; t.rows.len()];
        let check_date = cfg
            .start
            .without_offset()
            .plus(-86_400 * rng.range(30, 330));
        Device {
            guid,
            serial,
            patient: Patient::nth(cfg.seed, d % cfg.patients as u64),
            bed: format!("2M-HST^^{}.1", d + 2),
            settings,
            drift,
            alarm: None,
            silenced: false,
            clock_skew: rng.range(-300, 300),
            check_date,
            filter_hours: rng.range(200, 3000) as f64,
            battery_minutes: 104.0,
            weight,
            rng,
        }
    }

    /// Advances the device's state by one message.
    fn step(&mut self, t: &Template, seconds: f64) {
        let r = &mut self.rng;
        // settings change rarely: a clinician adjusts one main setting by a step
        if r.chance(1.0 / 1500.0) {
            let (id, lo, hi, step) = SETTING_SPREAD[r.below(SETTING_SPREAD.len() as u64) as usize];
            if let Some(si) = t
                .settings
                .iter()
                .position(|&row| row_id(&t.rows[row]) == id)
            {
                let dir = if r.chance(0.5) { 1.0 } else { -1.0 };
                self.settings[si] = (self.settings[si] + dir * step).clamp(lo, hi);
            }
        }
        for d in self.drift.iter_mut() {
            *d = 0.98 * *d + 0.006 * noise(r);
        }
        match &mut self.alarm {
            Some((_, left)) if *left > 1 => *left -= 1,
            Some(_) => {
                self.alarm = None;
                self.silenced = false;
            }
            None if !t.alarms.is_empty() && r.chance(1.0 / 400.0) => {
                let row = t.alarms[r.below(t.alarms.len() as u64) as usize];
                self.alarm = Some((row, r.range(5, 90) as u32));
            }
            None => {}
        }
        if self.alarm.is_some() && !self.silenced && r.chance(0.1) {
            self.silenced = true;
        }
        self.filter_hours = (self.filter_hours - seconds / 3600.0).max(0.0);
        let on_battery = self.alarm_id(t) == Some(955);
        self.battery_minutes = if on_battery {
            (self.battery_minutes - seconds / 60.0).max(0.0)
        } else {
            (self.battery_minutes + seconds / 120.0).min(104.0)
        };
    }

    fn alarm_id(&self, t: &Template) -> Option<u32> {
        match self.alarm {
            Some((row, _)) => match t.rows[row].kind {
                Kind::Alarm(id) => Some(id),
                _ => None,
            },
            None => None,
        }
    }

    /// The coupled effect of the active alarm, if any.
    fn effect(&self, t: &Template) -> Option<&'static (u32, u16, u8, u16, f64)> {
        let id = self.alarm_id(t)?;
        COUPLED.iter().find(|c| c.0 == id)
    }
}

fn row_id(row: &Row) -> &str {
    std::str::from_utf8(&row.pre)
        .unwrap_or("")
        .split('|')
        .nth(3)
        .unwrap_or("")
}

/// A cheap approximately normal deviate (sum of four uniforms, unit variance, bounded at ±3.5).
fn noise(r: &mut Rng) -> f64 {
    (r.unit() + r.unit() + r.unit() + r.unit() - 2.0) * 1.732_050_8
}

impl Generator for Vent {
    fn next(&mut self, out: &mut Vec<u8>) {
        let count = self.devices.len() as u64;
        let d = (self.n % count) as usize;
        let round = self.n / count;
        let time = self.start.plus(round as i64);
        let t = &self.template;
        let dev = &mut self.devices[d];
        if round > 0 {
            dev.step(t, 1.0);
        }
        // MSH|^~\&|DATACAPTOR||||20240814114636||ORU^R01|48141146362990a1|P|2.3||||||8859/1|
        out.extend_from_slice(b"MSH|^~\\&|DATACAPTOR||||");
        time.write_ts(out);
        out.extend_from_slice(b"||ORU^R01|");
        push_control_id(out, self.seed, self.n);
        out.extend_from_slice(b"|P|");
        out.extend_from_slice(self.version.as_bytes());
        out.extend_from_slice(b"||||||8859/1|\r");
        let p = &dev.patient;
        out.extend_from_slice(b"PID|1||");
        out.extend_from_slice(p.id.as_bytes());
        out.extend_from_slice(b"^^^Hospital^MR||");
        p.write_name(out);
        out.extend_from_slice(b"||");
        p.write_birth(out);
        out.push(b'|');
        out.push(p.sex as u8);
        out.extend_from_slice(b"\rPV1||I|");
        out.extend_from_slice(dev.bed.as_bytes());
        out.extend_from_slice(b"|\rOBR|||||||");
        time.write_ts(out);
        out.extend_from_slice(b"|||");
        out.extend_from_slice(dev.guid.as_bytes());
        out.extend_from_slice(b"^Elisa 800|||");
        out.extend_from_slice(dev.bed.as_bytes());
        out.extend_from_slice(b"|\r");
        let mut ts = [0u8; 14];
        let mut tsv = Vec::with_capacity(14);
        time.write_ts(&mut tsv);
        ts.copy_from_slice(&tsv[..14]);
        let effect = dev.effect(t);
        // The measurement the active alarm pushes, found once per message, not per row.
        let pushed = effect.and_then(|&(_, _, _, target, factor)| {
            (target != 0)
                .then(|| t.row_of(target))
                .flatten()
                .map(|row| (row, factor))
        });
        let alarm_row = dev.alarm.map(|(r, _)| r);
        for (i, row) in t.rows.iter().enumerate() {
            out.extend_from_slice(&row.pre);
            let v = &mut self.value;
            v.clear();
            match &row.kind {
                Kind::Fixed(s) => v.extend_from_slice(s.as_bytes()),
                Kind::Serial => v.extend_from_slice(dev.serial.as_bytes()),
                Kind::DeviceTime => time.plus(dev.clock_skew + 260).write_ts(v),
                Kind::CheckDate => dev.check_date.write_date(v),
                Kind::FilterHours => push_u64(v, dev.filter_hours as u64),
                Kind::BatteryMinutes => push_u64(v, dev.battery_minutes as u64),
                Kind::SilenceStatus => v.push(if dev.silenced { b'1' } else { b'0' }),
                Kind::Weight => push_u64(v, dev.weight),
                Kind::Category => v.push(match dev.weight {
                    0..5 => b'n',
                    5..40 => b'p',
                    _ => b'a',
                }),
                Kind::Alarm(_) => v.push(if alarm_row == Some(i) { b'1' } else { b'0' }),
                Kind::Status(word) => {
                    let mut w = row.base as u64;
                    if let Some(&(_, sw, bit, _, _)) = effect
                        && sw == *word
                    {
                        w &= !(1u64 << bit);
                    }
                    push_u64(v, w);
                }
                Kind::Setting(si) => push_fixed(v, dev.settings[*si], row.decimals),
                Kind::Limit { follows, ratio } => {
                    let x = match follows {
                        Some(si) => dev.settings[*si] * ratio,
                        None => row.base,
                    };
                    push_fixed(v, x, row.decimals);
                }
                Kind::Measured { follows, ratio } => {
                    let base = match follows {
                        Some(si) => dev.settings[*si] * ratio,
                        None => row.base,
                    };
                    let mut x = if base == 0.0 {
                        0.0
                    } else {
                        base * (1.0 + dev.drift[i] + 0.01 * noise(&mut dev.rng))
                    };
                    if let Some((_, factor)) = pushed.filter(|&(row, _)| row == i) {
                        x = if base == 0.0 {
                            factor * 10.0
                        } else {
                            x * factor
                        };
                    }
                    push_fixed(v, x.max(0.0), row.decimals);
                }
            }
            out.extend_from_slice(v);
            out.extend_from_slice(&row.mid);
            if row.timed {
                out.extend_from_slice(&ts);
                out.extend_from_slice(&row.end);
            }
        }
        self.n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::super::adt::tests::{run as take, text};
    use super::*;
    use crate::model::message::Message;

    fn cfg(devices: u32) -> Config {
        let mut c = Config::new(
            super::super::Profile::Vent,
            7,
            Time::parse("2024-08-14T11:46:36").unwrap(),
        );
        c.devices = devices;
        c
    }

    fn messages(c: &Config, n: usize) -> Vec<Vec<u8>> {
        take(&mut Vent::new(c), n)
    }

    fn obx_ids(raw: &[u8]) -> Vec<String> {
        let m = Message::parse(raw).unwrap();
        m.segments()
            .filter(|s| s.id() == b"OBX")
            .map(|s| s.field(3).unwrap().text().into_owned())
            .collect()
    }

    #[test]
    fn same_structure_as_the_capture() {
        let msgs = messages(&cfg(1), 3);
        let m = Message::parse(&msgs[0]).unwrap();
        m.validate().unwrap();
        assert_eq!(text(&m, "MSH-3"), "DATACAPTOR");
        assert_eq!(text(&m, "MSH-9"), "ORU^R01");
        assert_eq!(text(&m, "MSH-12"), "2.3");
        assert_eq!(text(&m, "MSH-18"), "8859/1");
        assert_eq!(
            text(&m, "MSH-7"),
            "20240814114636",
            "device local time, no offset"
        );
        assert_eq!(text(&m, "OBR-10.2"), "Elisa 800");
        assert!(text(&m, "OBR-10.1").starts_with('{'));
        let ids: Vec<String> = m.segments().map(|s| s.id_str().into_owned()).collect();
        assert_eq!(&ids[..4], ["MSH", "PID", "PV1", "OBR"]);
        // the capture's OBX ids in its order, plus the turbine filter hours
        let capture = Message::parse(CAPTURE.as_bytes()).unwrap();
        let mut want: Vec<String> = capture
            .segments()
            .filter(|s| s.id() == b"OBX")
            .map(|s| s.field(3).unwrap().text().into_owned())
            .collect();
        want.insert(8, "1131101".into());
        assert_eq!(obx_ids(&msgs[0]), want);
        assert_eq!(want.len(), 196);
        // unit codes and SETTING rows as in the capture
        for seg in m.segments().filter(|s| s.id() == b"OBX") {
            let id = seg.field(3).unwrap().text().into_owned();
            if let Some(c) = capture
                .segments()
                .find(|s| s.id() == b"OBX" && s.field(3).unwrap().text() == id)
            {
                assert_eq!(
                    seg.field(6).map(|f| f.raw),
                    c.field(6).map(|f| f.raw),
                    "{id} OBX-6"
                );
                assert_eq!(
                    seg.field(13).map(|f| f.raw),
                    c.field(13).map(|f| f.raw),
                    "{id} OBX-13"
                );
                assert_eq!(
                    seg.field(2).map(|f| f.raw),
                    c.field(2).map(|f| f.raw),
                    "{id} OBX-2"
                );
            }
        }
        let settings = m
            .segments()
            .filter(|s| s.field(13).is_some_and(|f| f.raw == b"SETTING"))
            .count();
        assert_eq!(settings, 22);
    }

    #[test]
    fn deterministic_and_devices_differ() {
        let a = messages(&cfg(3), 30);
        assert_eq!(a, messages(&cfg(3), 30));
        let mut other = cfg(3);
        other.seed = 8;
        assert_ne!(a, messages(&other, 30));
        let serial = |raw: &[u8]| {
            let m = Message::parse(raw).unwrap();
            let s = m
                .segments()
                .find(|s| s.id() == b"OBX" && s.field(3).unwrap().raw == b"1913")
                .unwrap();
            (
                s.field(5).unwrap().text().into_owned(),
                text(&m, "OBR-10.1"),
            )
        };
        // devices interleave: 0,1,2,0,1,2...
        assert_eq!(serial(&a[0]), serial(&a[3]));
        assert_ne!(serial(&a[0]), serial(&a[1]));
        assert_ne!(serial(&a[1]), serial(&a[2]));
        assert_eq!(serial(&a[0]).0.len(), 15);
        // control ids unique
        let ids: std::collections::HashSet<String> = a
            .iter()
            .map(|r| text(&Message::parse(r).unwrap(), "MSH-10"))
            .collect();
        assert_eq!(ids.len(), 30);
        // adding a device does not change device 0
        let b = messages(&cfg(4), 8);
        let body = |raw: &[u8]| raw[raw.iter().position(|&c| c == b'\r').unwrap()..].to_vec();
        assert_eq!(body(&a[3]), body(&b[4]));
    }

    #[test]
    fn values_behave_over_time() {
        let msgs = messages(&cfg(1), 3000);
        let value = |raw: &[u8], id: &str| -> String {
            let m = Message::parse(raw).unwrap();
            m.segments()
                .find(|s| s.id() == b"OBX" && s.field(3).unwrap().raw == id.as_bytes())
                .unwrap()
                .field(5)
                .unwrap()
                .text()
                .into_owned()
        };
        let num = |raw: &[u8], id: &str| value(raw, id).parse::<f64>().unwrap();
        // measurements follow their setting with noise
        let vt_set = num(&msgs[0], "1321");
        let vts: Vec<f64> = msgs.iter().take(200).map(|m| num(m, "2325")).collect();
        assert!(
            vts.iter().all(|v| (v / vt_set - 1.0).abs() < 0.3),
            "{vt_set} {vts:?}"
        );
        assert!(vts.windows(2).any(|w| w[0] != w[1]), "measurements vary");
        // settings change rarely
        let changes = msgs
            .windows(2)
            .filter(|w| value(&w[0], "2104") != value(&w[1], "2104"))
            .count();
        assert!(changes < 10, "{changes}");
        // alarms fire now and then, with their status bits
        let alarmed =
            msgs.iter()
                .filter(|m| {
                    let m = Message::parse(m).unwrap();
                    m.segments().any(|s| {
                        s.id() == b"OBX"
                            && s.field(6).unwrap().raw == b"139"
                            && s.field(5).unwrap().raw == b"1"
                            && s.field(3).unwrap().text().parse::<u32>().is_ok_and(|id| {
                                id != 5005 && id != 3907 && id != 4390 && id != 2994
                            })
                    })
                })
                .count();
        assert!(alarmed > 0 && alarmed < 3000, "{alarmed}");
        let words: std::collections::HashSet<String> =
            msgs.iter().map(|m| value(m, "801")).collect();
        assert!(words.contains("46"), "{words:?}");
        // the device clock and the filter hours move on
        assert_ne!(value(&msgs[0], "2255"), value(&msgs[2999], "2255"));
        assert!(num(&msgs[0], "1131101") >= num(&msgs[2999], "1131101"));
        assert_eq!(
            text(&Message::parse(&msgs[2999]).unwrap(), "MSH-7"),
            "20240814123635"
        );
    }
}
