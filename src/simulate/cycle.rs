//! `cycle`: a fixed set of messages sent round-robin (the messages of `--from-file`, or a
//! built-in ADT^A01, ORU^R01 and ORM^O01), each time with a fresh MSH-10 control id and the
//! simulated time in MSH-7, one message per simulated second from the start time (it replaces
//! the "cycle three sample messages every second" scripts).
//!
//! The messages keep their own separators: MSH-7 and MSH-10 (and MSH-12 with `--version`) are
//! replaced by field position in the header the message declares. Each message is cut once, in
//! [`Cycle::new`], into the bytes before MSH-7, between MSH-7 and MSH-10, and after MSH-10, so
//! sending one is three copies, a timestamp and a control id. Segments are written ended by
//! `\r` whatever the input used.

use super::{Config, Generator, SimError, Time, push_control_id};
use crate::model::message::Message;

/// The built-in set: fictitious patients and staff from the shared lists. MSH-7 and MSH-10 are
/// placeholders, replaced at each sending.
pub const BUILTIN: [&[u8]; 3] = [
    b"MSH|^~\\&|SIM_ADT|SIMHOSP|SIM_EMR|SIMHOSP|20240101000000||ADT^A01^ADT_A01|PLACEHOLDER|P|2.5.1\r\
EVN|A01|20240101000000\r\
PID|1||100007^^^SIMHOSP^MR||TESTPERSON^KARI^^^^^L||19800214|F|||1 TEST STREET^^TESTVILLE^^0001|||||||V00000001\r\
NK1|1|TESTPERSON^OLA|SPO^Spouse^HL70063|1 TEST STREET^^TESTVILLE^^0001\r\
PV1|1|I|MED^101^1^SIMHOSP|R|||1001^WELBY^MARCUS^^^DR|||MED|||||||||V00000001\r",
    b"MSH|^~\\&|SIM_LAB|SIMHOSP|SIM_EMR|SIMHOSP|20240101000000||ORU^R01^ORU_R01|PLACEHOLDER|P|2.5.1\r\
PID|1||100014^^^SIMHOSP^MR||EXAMPLE^OLA^^^^^L||19650930|M|||22 EXAMPLE ROAD^^SAMPLEBY^^0002\r\
PV1|1|O|LAB^^^SIMHOSP\r\
OBR|1|ORD1001^SIM_EMR|LAB2001^SIM_LAB|24331-1^Lipid panel^LN|||20231231083000|||||||||1002^KILDARE^JAMES^^^DR||||||20231231120000|||F\r\
OBX|1|NM|2093-3^Cholesterol [Mass/volume] in Serum or Plasma^LN||212|mg/dL|<200|H|||F|||20231231083000\r\
OBX|2|NM|2571-8^Triglyceride [Mass/volume] in Serum or Plasma^LN||130|mg/dL|<150|N|||F|||20231231083000\r\
OBX|3|NM|2085-9^Cholesterol in HDL [Mass/volume] in Serum or Plasma^LN||52|mg/dL|>40|N|||F|||20231231083000\r\
OBX|4|NM|13457-7^Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation^LN||134|mg/dL|<130|H|||F|||20231231083000\r",
    b"MSH|^~\\&|SIM_EMR|SIMHOSP|SIM_RIS|SIMHOSP|20240101000000||ORM^O01|PLACEHOLDER|P|2.3\r\
PID|1||100021^^^SIMHOSP^MR||SAMPLE^ANNA||19921103|F|||7 SAMPLE LANE^^DEMOSTAD^^0003\r\
PV1|1|O|RAD^^^SIMHOSP||||1003^QUINN^MICHAELA^^^DR\r\
ORC|NW|ORD2002^SIM_EMR|||||^^^20240101090000^^R||20240101000000|||1003^QUINN^MICHAELA^^^DR\r\
OBR|1|ORD2002^SIM_EMR||RAD0071^XR CHEST PA AND LATERAL^L|||20240101000000|||||||||1003^QUINN^MICHAELA^^^DR||||||||CR\r",
];

/// One message, cut around the fields that change.
#[derive(Clone, Debug)]
struct Template {
    /// `MSH|^~\&|...|` up to MSH-7.
    before_time: Vec<u8>,
    /// `|MSH-8|MSH-9|` between MSH-7 and MSH-10.
    before_id: Vec<u8>,
    /// After MSH-10: the rest of the header (MSH-12 replaced when asked) and the other
    /// segments, each ended by `\r`.
    rest: Vec<u8>,
    /// The message's separators include `+` or `-`: MSH-7 is written without its UTC offset.
    plain_time: bool,
}

impl Template {
    fn new(raw: &[u8], version: Option<&str>, number: usize) -> Result<Template, SimError> {
        let m = Message::parse(raw)
            .map_err(|e| SimError(format!("message {number} of the cycle does not parse: {e}")))?;
        let sep = *m.separators();
        let f = sep.field;
        let header = m.header().bytes();
        // fields[0] is MSH-2, fields[k] is MSH-(k+2); Message::parse saw MSH, MSH-1 and MSH-2
        let mut fields: Vec<&[u8]> = header[4..].split(|&b| b == f).collect();
        let wanted = if version.is_some() { 11 } else { 9 };
        if fields.len() < wanted {
            fields.resize(wanted, b"");
        }
        if let Some(v) = version {
            fields[10] = v.as_bytes();
        }
        let join = |out: &mut Vec<u8>, parts: &[&[u8]]| {
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(f);
                }
                out.extend_from_slice(p);
            }
        };
        let mut before_time = b"MSH".to_vec();
        before_time.push(f);
        join(&mut before_time, &fields[..5]);
        before_time.push(f);
        let mut before_id = vec![f];
        join(&mut before_id, &fields[6..8]);
        before_id.push(f);
        let mut rest = Vec::with_capacity(raw.len());
        for p in &fields[9..] {
            rest.push(f);
            rest.extend_from_slice(p);
        }
        rest.push(b'\r');
        for seg in m.segments().skip(1) {
            rest.extend_from_slice(seg.bytes());
            rest.push(b'\r');
        }
        let delimiters = [
            Some(f),
            Some(sep.component),
            Some(sep.repetition),
            sep.escape,
            sep.subcomponent,
            sep.truncation,
        ];
        let plain_time = delimiters.iter().any(|d| matches!(d, Some(b'+' | b'-')));
        Ok(Template {
            before_time,
            before_id,
            rest,
            plain_time,
        })
    }

    fn write(&self, out: &mut Vec<u8>, time: Time, seed: u64, n: u64) {
        out.extend_from_slice(&self.before_time);
        if self.plain_time {
            time.without_offset().write_ts(out);
        } else {
            time.write_ts(out);
        }
        out.extend_from_slice(&self.before_id);
        push_control_id(out, seed, n);
        out.extend_from_slice(&self.rest);
    }
}

/// The `cycle` profile.
pub struct Cycle {
    seed: u64,
    start: Time,
    templates: Vec<Template>,
    /// Messages written so far.
    n: u64,
}

impl Cycle {
    /// Fails when one of `cfg.cycle_messages` is not an HL7 message, or would not be a valid one
    /// once MSH-7 and MSH-10 are filled in (MSH-9 or MSH-12 missing, a line that is no segment);
    /// the error names the message by its number, from 1.
    pub fn new(cfg: &Config) -> Result<Self, SimError> {
        let sources: Vec<&[u8]> = if cfg.cycle_messages.is_empty() {
            BUILTIN.to_vec()
        } else {
            cfg.cycle_messages.iter().map(Vec::as_slice).collect()
        };
        let mut templates = Vec::with_capacity(sources.len());
        for (i, raw) in sources.iter().enumerate() {
            let t = Template::new(raw, cfg.version.as_deref(), i + 1)?;
            let mut sample = Vec::with_capacity(raw.len() + 32);
            t.write(&mut sample, cfg.start, cfg.seed, 0);
            Message::parse(&sample)
                .and_then(|m| m.validate())
                .map_err(|e| {
                    SimError(format!(
                        "message {} of the cycle is not valid HL7: {e}",
                        i + 1
                    ))
                })?;
            templates.push(t);
        }
        Ok(Cycle {
            seed: cfg.seed,
            start: cfg.start,
            templates,
            n: 0,
        })
    }
}

impl Generator for Cycle {
    fn next(&mut self, out: &mut Vec<u8>) {
        let n = self.n;
        self.n += 1;
        let t = &self.templates[(n % self.templates.len() as u64) as usize];
        let secs = n.min(i64::MAX as u64 / 4) as i64;
        t.write(out, self.start.plus(secs), self.seed, n);
    }
}

#[cfg(test)]
mod tests {
    use super::super::adt::tests::run as take;
    use super::*;
    use crate::simulate::Profile;
    use std::collections::HashSet;

    fn config(seed: u64, messages: &[&[u8]]) -> Config {
        let mut cfg = Config::new(
            Profile::Cycle,
            seed,
            Time::parse("2024-03-15T10:15:00+01:00").unwrap(),
        );
        cfg.cycle_messages = messages.iter().map(|m| m.to_vec()).collect();
        cfg
    }

    fn run(cfg: &Config, count: usize) -> Vec<Vec<u8>> {
        take(&mut Cycle::new(cfg).unwrap(), count)
    }

    fn field(raw: &[u8], n: usize) -> Vec<u8> {
        let m = Message::parse(raw).unwrap();
        m.header()
            .field(n)
            .map(|v| v.raw.to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn builtin_set_cycles_in_order_with_fresh_ids_and_times() {
        let msgs = run(&config(7, &[]), 300);
        let mut ids = HashSet::new();
        let start = Time::parse("2024-03-15T10:15:00+01:00").unwrap();
        for (n, raw) in msgs.iter().enumerate() {
            assert!(raw.ends_with(b"\r") && !raw.contains(&b'\n'));
            let m = Message::parse(raw).unwrap();
            m.validate().unwrap();
            assert!(ids.insert(m.control_id()));
            assert_eq!(
                m.message_type(),
                ["ADT^A01^ADT_A01", "ORU^R01^ORU_R01", "ORM^O01"][n % 3]
            );
            let mut ts = Vec::new();
            start.plus(n as i64).write_ts(&mut ts);
            assert_eq!(field(raw, 7), ts);
            // everything but MSH-7 and MSH-10 is the built-in message
            let orig = Message::parse(BUILTIN[n % 3]).unwrap();
            let (a, b): (Vec<_>, Vec<_>) = (m.segments().collect(), orig.segments().collect());
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b).skip(1) {
                assert_eq!(x.bytes(), y.bytes());
            }
            for k in (1..=12).filter(|k| ![7, 10].contains(k)) {
                assert_eq!(field(raw, k), field(BUILTIN[n % 3], k), "MSH-{k}");
            }
        }
        assert_eq!(ids.len(), 300);
        assert_eq!(Message::parse(&msgs[0]).unwrap().version(), "2.5.1");
        assert_eq!(Message::parse(&msgs[2]).unwrap().version(), "2.3");
    }

    #[test]
    fn same_seed_same_bytes() {
        assert_eq!(run(&config(3, &[]), 30), run(&config(3, &[]), 30));
        assert_ne!(run(&config(3, &[]), 30), run(&config(4, &[]), 30));
    }

    #[test]
    fn custom_separators_are_respected() {
        let raw: &[u8] = b"MSH!@%$?!APP!FAC!RCV!RFAC!19990101!SEC!ADT@A08!OLDID!P!2.4!!!AL\rPID!1!!123@@@X!!DOE@JANE\r";
        let mut cfg = config(9, &[raw]);
        let msgs = run(&cfg, 3);
        let mut ids = HashSet::new();
        for (n, out) in msgs.iter().enumerate() {
            let m = Message::parse(out).unwrap();
            m.validate().unwrap();
            assert!(out.starts_with(b"MSH!@%$?!APP!FAC!RCV!RFAC!2024031510150"));
            assert_eq!(field(out, 7), format!("2024031510150{n}+0100").as_bytes());
            assert_eq!(field(out, 8), b"SEC");
            assert_eq!(field(out, 9), b"ADT@A08");
            assert_eq!(field(out, 10).len(), 16);
            assert!(ids.insert(field(out, 10)));
            assert_eq!(field(out, 12), b"2.4");
            assert_eq!(field(out, 15), b"AL");
            assert!(out.ends_with(b"!2.4!!!AL\rPID!1!!123@@@X!!DOE@JANE\r"));
        }
        cfg.version = Some("2.5.1".into());
        let out = &run(&cfg, 1)[0];
        assert_eq!(field(out, 12), b"2.5.1");
        assert_eq!(field(out, 15), b"AL");
        assert!(out.ends_with(b"!P!2.5.1!!!AL\rPID!1!!123@@@X!!DOE@JANE\r"));
    }

    #[test]
    fn short_headers_are_padded_and_line_ends_normalised() {
        let short: &[u8] = b"MSH|^~\\&|APP\r\nPID|1||42\n\nOBX|1|ST|X||a\r\n";
        // no MSH-9 and MSH-12: not valid, even once MSH-7 and MSH-10 are filled
        let err = Cycle::new(&config(1, &[short])).err().unwrap();
        assert!(
            err.0.contains("message 1") && err.0.contains("MSH-9"),
            "{err}"
        );
        let typed: &[u8] = b"MSH|^~\\&|APP||||||ADT^A01\r\nPID|1||42\n\nOBX|1|ST|X||a\r\n";
        let err = Cycle::new(&config(1, &[typed])).err().unwrap();
        assert!(err.0.contains("MSH-12"), "{err}");
        let mut cfg = config(1, &[typed]);
        cfg.version = Some("2.5".into());
        let out = &run(&cfg, 1)[0];
        Message::parse(out).unwrap().validate().unwrap();
        let mut want = b"MSH|^~\\&|APP||||20240315101500+0100||ADT^A01|".to_vec();
        push_control_id(&mut want, 1, 0);
        want.extend_from_slice(b"||2.5\rPID|1||42\rOBX|1|ST|X||a\r");
        assert_eq!(out, &want);
    }

    #[test]
    fn a_bad_message_is_named() {
        let good = BUILTIN[0];
        for (bad, what) in [
            (&b"PID|1||42\r"[..], "does not parse"),
            (b"", "does not parse"),
            (b"MSH|^~\\&|A\rthis is not a segment\r", "not valid"),
        ] {
            let err = Cycle::new(&config(1, &[good, good, bad])).err().unwrap();
            assert!(
                err.0.starts_with("message 3 of the cycle") && err.0.contains(what),
                "{err}"
            );
        }
    }

    #[test]
    fn offsets_are_dropped_when_a_separator_is_a_sign() {
        let raw: &[u8] = b"MSH+^~\\&+APP+FAC+++20000101++ADT^A01+X+P+2.5\rPID+1++42\r";
        let out = &run(&config(2, &[raw]), 2)[1];
        Message::parse(out).unwrap().validate().unwrap();
        assert_eq!(field(out, 7), b"20240315101501");
        assert_eq!(field(out, 9), b"ADT^A01");
    }
}
