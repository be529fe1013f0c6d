//! The bytes of ACKs and NAKs (see the parent module for what they hold).

use super::{Code, DEFAULT_VERSION, Mode, Options, Outcome, Problem, code_for, error_text};
use crate::model::charset::Charset;
use crate::model::escape;
use crate::model::message::{Message, Separators};

/// Builds the ACK for a message that parsed: `outcome` with `problem` when it is not an
/// accept. `None` when no ACK is due (an ACK, NE/NE, mode none).
pub fn build(
    msg: &Message<'_>,
    outcome: Outcome,
    problem: Option<&Problem>,
    opts: &Options<'_>,
) -> Option<Vec<u8>> {
    let code = code_for(msg, outcome, opts)?;
    let raw = |n: usize| msg.header_field(n).map(|f| f.raw).unwrap_or_default();
    let sep = *msg.separators();
    let header = Header {
        sep,
        encoding: raw(2),
        receiver_app: raw(5),
        receiver_facility: raw(6),
        sender_app: raw(3),
        sender_facility: raw(4),
        trigger: msg
            .header_field(9)
            .map(|f| f.component(2).raw)
            .unwrap_or_default(),
        control_id: raw(10),
        processing: raw(11),
        version: raw(12),
        charset_field: raw(18),
    };
    let problem = match (problem, code.outcome()) {
        (Some(p), _) => Some(p.clone()),
        (None, Outcome::Accept) => None,
        (None, Outcome::Error) => Some(Problem {
            code: 207,
            location: None,
            text: "application error".into(),
        }),
        (None, Outcome::Reject) => Some(Problem {
            code: 207,
            location: None,
            text: "message rejected".into(),
        }),
    };
    Some(write(&header, code, problem.as_ref(), opts, msg.charset()))
}

/// A NAK for bytes that are not a readable message: the header is salvaged by plain splitting
/// (delimiters, MSH-3 to MSH-6, MSH-10, MSH-11, MSH-12, MSH-18) where there is one; otherwise
/// the standard delimiters and [`DEFAULT_VERSION`] are used and MSA-2 stays empty. The code is
/// AR (or CR in enhanced mode) unless `opts.code` says otherwise.
pub fn nak(raw: &[u8], problem: &Problem, opts: &Options<'_>) -> Vec<u8> {
    let line = &raw[..memchr::memchr2(b'\r', b'\n', raw).unwrap_or(raw.len())];
    let salvaged = (line.starts_with(b"MSH") && line.len() > 4)
        .then(|| {
            let fs = line[3];
            if !fs.is_ascii_punctuation() {
                return None;
            }
            let parts: Vec<&[u8]> = line[4..].split(|&b| b == fs).collect();
            let enc = parts.first().copied().unwrap_or_default();
            let sep = Separators::from_msh(line).ok()?;
            Some((sep, enc, parts))
        })
        .flatten();
    let code = opts.code.unwrap_or(if opts.mode == Mode::Enhanced {
        Code::CR
    } else {
        Code::AR
    });
    match salvaged {
        Some((sep, enc, parts)) => {
            // parts[0] is MSH-2, so MSH-n is parts[n - 2]
            let get = |n: usize| parts.get(n - 2).copied().unwrap_or_default();
            let first_component = |v: &'_ [u8]| -> Vec<u8> {
                v.split(|&b| b == sep.component)
                    .next()
                    .unwrap_or_default()
                    .to_vec()
            };
            let processing = first_component(get(11));
            let version = first_component(get(12));
            let trigger = get(9)
                .split(|&b| b == sep.component)
                .nth(1)
                .unwrap_or_default();
            let header = Header {
                sep,
                encoding: enc,
                receiver_app: get(5),
                receiver_facility: get(6),
                sender_app: get(3),
                sender_facility: get(4),
                trigger,
                control_id: get(10),
                processing: &processing,
                version: &version,
                charset_field: get(18),
            };
            write(&header, code, Some(problem), opts, Charset::Utf8)
        }
        None => {
            let header = Header {
                sep: Separators::default(),
                encoding: b"^~\\&",
                receiver_app: b"",
                receiver_facility: b"",
                sender_app: b"",
                sender_facility: b"",
                trigger: b"",
                control_id: b"",
                processing: b"P",
                version: DEFAULT_VERSION.as_bytes(),
                charset_field: b"",
            };
            write(&header, code, Some(problem), opts, Charset::Utf8)
        }
    }
}

/// The parts of the inbound header an ACK needs, as written.
struct Header<'a> {
    sep: Separators,
    encoding: &'a [u8],
    receiver_app: &'a [u8],
    receiver_facility: &'a [u8],
    sender_app: &'a [u8],
    sender_facility: &'a [u8],
    trigger: &'a [u8],
    control_id: &'a [u8],
    processing: &'a [u8],
    version: &'a [u8],
    charset_field: &'a [u8],
}

/// Versions as numbers (2.3.1 -> 231, 2.5 -> 250, 2.7.1 -> 271) for the rules that change.
fn version_number(v: &[u8]) -> u32 {
    let text = std::str::from_utf8(v).unwrap_or("");
    let mut parts = text
        .split('.')
        .map(|p| p.trim().parse::<u32>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(2),
        parts.next().unwrap_or(5),
        parts.next().unwrap_or(0),
    );
    a * 100 + b.min(9) * 10 + c.min(9)
}

fn write(
    h: &Header<'_>,
    code: Code,
    problem: Option<&Problem>,
    opts: &Options<'_>,
    charset: Charset,
) -> Vec<u8> {
    let sep = &h.sep;
    let fs = sep.field;
    let version = if h.version.is_empty() {
        DEFAULT_VERSION.as_bytes()
    } else {
        h.version
    };
    let v = version_number(version);
    let mut out = Vec::with_capacity(256);
    // Our text (names, reasons) in the charset the ACK declares (it mirrors MSH-18); a
    // character the charset lacks becomes '?'.
    let text = |out: &mut Vec<u8>, s: &str| {
        let mark = out.len();
        if escape::encode_into(s, sep, charset, out).is_err() {
            out.truncate(mark);
            let lossy: String = s
                .chars()
                .map(|c| {
                    if charset.encode(&c.to_string()).is_ok() {
                        c
                    } else {
                        '?'
                    }
                })
                .collect();
            let _ = escape::encode_into(&lossy, sep, charset, out);
        }
    };
    out.extend_from_slice(b"MSH");
    out.push(fs);
    out.extend_from_slice(h.encoding);
    let field = |out: &mut Vec<u8>, v: &[u8]| {
        out.push(fs);
        out.extend_from_slice(v);
    };
    // MSH-3/4: ours, else the inbound receiver; MSH-5/6: the inbound sender
    match opts.app {
        Some(a) => {
            out.push(fs);
            text(&mut out, a);
        }
        None => field(&mut out, h.receiver_app),
    }
    match opts.facility {
        Some(f) => {
            out.push(fs);
            text(&mut out, f);
        }
        None => field(&mut out, h.receiver_facility),
    }
    field(&mut out, h.sender_app);
    field(&mut out, h.sender_facility);
    field(&mut out, opts.now.as_bytes());
    field(&mut out, b"");
    out.push(fs);
    out.extend_from_slice(b"ACK");
    out.push(sep.component);
    out.extend_from_slice(h.trigger);
    if v >= 231 {
        out.push(sep.component);
        out.extend_from_slice(b"ACK");
    }
    out.push(fs);
    text(&mut out, opts.control_id);
    field(
        &mut out,
        if h.processing.is_empty() {
            b"P"
        } else {
            h.processing
        },
    );
    field(&mut out, version);
    if !h.charset_field.is_empty() {
        // MSH-13 to MSH-17 empty, MSH-18 mirrored so the ACK declares the same charset
        for _ in 13..18 {
            out.push(fs);
        }
        field(&mut out, h.charset_field);
    }
    out.push(b'\r');
    // MSA|code|inbound MSH-10|text (MSA-3 is withdrawn from 2.7)
    out.extend_from_slice(b"MSA");
    out.push(fs);
    out.extend_from_slice(code.as_str().as_bytes());
    out.push(fs);
    out.extend_from_slice(h.control_id);
    let msa3 = problem.map(|p| p.text.as_str()).or(opts.text);
    if let Some(t) = msa3.filter(|_| v < 270) {
        out.push(fs);
        text(&mut out, t);
    }
    out.push(b'\r');
    if let Some(p) = problem {
        let (seg, seq, field_no, comp) = location(p.location.as_deref());
        let name = error_text(p.code);
        out.extend_from_slice(b"ERR");
        out.push(fs);
        if v < 250 {
            // ERR-1 ELD: segment^sequence^field^code&text&HL70357
            if let Some(sub) = sep.subcomponent {
                out.extend_from_slice(seg.as_bytes());
                out.push(sep.component);
                out.extend_from_slice(seq.as_bytes());
                out.push(sep.component);
                out.extend_from_slice(field_no.as_bytes());
                out.push(sep.component);
                out.extend_from_slice(p.code.to_string().as_bytes());
                out.push(sub);
                text(&mut out, name);
                out.push(sub);
                out.extend_from_slice(b"HL70357");
            }
        } else {
            // ERR-1 empty (withdrawn in 2.7), ERR-2 ERL, ERR-3 CWE, ERR-4 severity,
            // ERR-8 the human-readable reason
            out.push(fs);
            if !seg.is_empty() {
                out.extend_from_slice(seg.as_bytes());
                out.push(sep.component);
                out.extend_from_slice(seq.as_bytes());
                out.push(sep.component);
                out.extend_from_slice(field_no.as_bytes());
                if !comp.is_empty() {
                    out.push(sep.component);
                    out.push(b'1');
                    out.push(sep.component);
                    out.extend_from_slice(comp.as_bytes());
                }
            }
            out.push(fs);
            out.extend_from_slice(p.code.to_string().as_bytes());
            out.push(sep.component);
            text(&mut out, name);
            out.push(sep.component);
            out.extend_from_slice(b"HL70357");
            out.push(fs);
            out.push(b'E');
            for _ in 5..8 {
                out.push(fs);
            }
            out.push(fs);
            text(&mut out, &p.text);
        }
        out.push(b'\r');
    }
    out
}

/// `MSH-10` -> ("MSH", "1", "10", ""), `PID-3.1` -> ("PID", "1", "3", "1").
fn location(loc: Option<&str>) -> (String, String, String, String) {
    let Some(l) = loc else {
        return Default::default();
    };
    match l.parse::<crate::model::path::Path>() {
        Ok(p) => {
            let seq = match p.occurrence {
                crate::model::path::Occurrence::Nth(n) => n,
                _ => 1,
            };
            (
                p.segment_str().to_string(),
                seq.to_string(),
                p.field.map(|f| f.to_string()).unwrap_or_default(),
                p.component.map(|c| c.to_string()).unwrap_or_default(),
            )
        }
        Err(_) => Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::problem_for;
    use super::super::tests::opts;
    use super::*;

    fn ack(
        raw: &[u8],
        outcome: Outcome,
        problem: Option<&Problem>,
        o: &Options<'_>,
    ) -> Option<String> {
        let m = Message::parse(raw).unwrap();
        build(&m, outcome, problem, o).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn original_mode_ack() {
        let raw =
            b"MSH|^~\\&|LAB|HOSP|EHR|CLINIC|20240315||ORU^R01^ORU_R01|MSG00001|P|2.5.1\rPID|1\r";
        let a = ack(raw, Outcome::Accept, None, &opts()).unwrap();
        assert_eq!(
            a,
            "MSH|^~\\&|EHR|CLINIC|LAB|HOSP|20240315120000||ACK^R01^ACK|ACK1|P|2.5.1\rMSA|AA|MSG00001\r"
        );
    }

    #[test]
    fn delimiters_version_and_charset_are_mirrored() {
        let raw = b"MSH*^~\\&*S*SF*R*RF*2024**ADT^A01*STAR-1*P^T*2.4******8859/1\r";
        let a = ack(raw, Outcome::Accept, None, &opts()).unwrap();
        assert_eq!(
            a,
            "MSH*^~\\&*R*RF*S*SF*20240315120000**ACK^A01^ACK*ACK1*P^T*2.4******8859/1\rMSA*AA*STAR-1\r"
        );
        let v27 = b"MSH|^~\\&#|A|F|B|G|2024||ORU^R01|TR-27|P|2.7\r";
        assert!(
            ack(v27, Outcome::Accept, None, &opts())
                .unwrap()
                .starts_with("MSH|^~\\&#|B|G|A|F|")
        );
        // 2.3 has no MSG.3
        let v23 = b"MSH|^~\\&|HIS|H|PACS|P|2024||ORM^O01|X|P|2.3\r";
        assert!(
            ack(v23, Outcome::Accept, None, &opts())
                .unwrap()
                .contains("|ACK^O01|ACK1|P|2.3\rMSA|AA|X\r")
        );
        // our own app and facility
        let o = Options {
            app: Some("HL7CLI"),
            facility: Some("LAB|2"),
            ..opts()
        };
        assert!(
            ack(v23, Outcome::Accept, None, &o)
                .unwrap()
                .starts_with("MSH|^~\\&|HL7CLI|LAB\\F\\2|HIS|H|")
        );
    }

    #[test]
    fn modes_follow_msh15_and_msh16() {
        let with = |m15: &str, m16: &str| {
            format!("MSH|^~\\&|A|B|C|D|2024||ORU^R01|C1|P|2.5|||{m15}|{m16}\r").into_bytes()
        };
        let code = |raw: &[u8], outcome| {
            ack(raw, outcome, None, &opts())
                .map(|a| a.split('\r').nth(1).unwrap()[4..6].to_string())
        };
        use Outcome::{Accept, Error, Reject};
        #[rustfmt::skip]
        let table = [
            ("", "", Accept, Some("AA")),
            ("NE", "NE", Accept, None),
            ("AL", "NE", Accept, Some("CA")),
            ("AL", "AL", Error, Some("CE")),
            // no commit ACK on success, but MSH-16 asks for an application ACK
            ("ER", "AL", Accept, Some("AA")),
            // ER: only on error
            ("ER", "NE", Accept, None),
            ("ER", "", Reject, Some("CR")),
            ("NE", "AL", Accept, Some("AA")),
            ("", "SU", Error, None),
            // the codes in any case, as senders write them
            ("al", "ne", Accept, Some("CA")),
            ("Ne", "ne", Accept, None),
            ("er", "su", Error, Some("CE")),
        ];
        for (m15, m16, outcome, want) in table {
            let got = code(&with(m15, m16), outcome);
            assert_eq!(got.as_deref(), want, "{m15}/{m16} {outcome:?}");
        }
        let forced = Options {
            mode: Mode::Original,
            ..opts()
        };
        assert!(
            ack(&with("NE", "NE"), Outcome::Accept, None, &forced)
                .unwrap()
                .contains("MSA|AA|C1")
        );
        let none = Options {
            mode: Mode::None,
            ..opts()
        };
        assert_eq!(ack(&with("", ""), Outcome::Accept, None, &none), None);
    }

    #[test]
    fn text_is_written_in_the_declared_charset() {
        let raw = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|C1|P|2.5||||||8859/1\r";
        let mut m = Message::parse(raw).unwrap();
        m.resolve_charset();
        let o = Options {
            text: Some("Müller ✓"),
            code: Some(Code::AA),
            ..opts()
        };
        let a = build(&m, Outcome::Accept, None, &o).unwrap();
        assert!(
            a.ends_with(b"MSA|AA|C1|M\xfcller ?\r"),
            "{}",
            String::from_utf8_lossy(&a)
        );
    }

    #[test]
    fn never_an_ack_of_an_ack() {
        let raw = b"MSH|^~\\&|A|B|C|D|2024||ACK^R01^ACK|X|P|2.5\rMSA|AA|Y\r";
        assert_eq!(ack(raw, Outcome::Accept, None, &opts()), None);
        let o = Options {
            code: Some(Code::AA),
            ..opts()
        };
        assert_eq!(ack(raw, Outcome::Accept, None, &o), None);
    }

    #[test]
    fn err_by_version() {
        let p = Problem {
            code: 101,
            location: Some("PID-3".into()),
            text: "PID-3 is empty".into(),
        };
        let v251 = b"MSH|^~\\&|SND|FAC|RCV|FAC|2024||ADT^A01|MSG00001|P|2.5.1\r";
        let a = ack(v251, Outcome::Error, Some(&p), &opts()).unwrap();
        assert!(a.ends_with("MSA|AE|MSG00001|PID-3 is empty\rERR||PID^1^3|101^Required field missing^HL70357|E||||PID-3 is empty\r"), "{a}");
        let v23 = b"MSH|^~\\&|SND|FAC|RCV|FAC|2024||ADT^A01|MSG00001|P|2.3\r";
        let a = ack(v23, Outcome::Error, Some(&p), &opts()).unwrap();
        assert!(
            a.ends_with(
                "MSA|AE|MSG00001|PID-3 is empty\rERR|PID^1^3^101&Required field missing&HL70357\r"
            ),
            "{a}"
        );
        let v27 = b"MSH|^~\\&|SND|FAC|RCV|FAC|2024||ADT^A01|MSG00001|P|2.7\r";
        let a = ack(v27, Outcome::Error, Some(&p), &opts()).unwrap();
        assert!(a.ends_with("MSA|AE|MSG00001\rERR||PID^1^3|101^Required field missing^HL70357|E||||PID-3 is empty\r"), "no MSA-3 in 2.7: {a}");
    }

    #[test]
    fn validation_errors_become_err_segments() {
        // bad__msh_missing_control_id_and_version.hl7: MSA-2 empty, ERR 101 at MSH^1^10
        let raw = b"MSH|^~\\&|APP|FAC|RCV|RFAC|20240101||ADT^A01\rPID|1\r";
        let m = Message::parse(raw).unwrap();
        let p = problem_for(&m.validate().unwrap_err());
        assert_eq!((p.code, p.location.as_deref()), (101, Some("MSH-10")));
        let a = String::from_utf8(build(&m, Outcome::Error, Some(&p), &opts()).unwrap()).unwrap();
        assert!(a.contains("\rMSA|AE||"), "{a}");
        assert!(
            a.contains("\rERR||MSH^1^10|101^Required field missing^HL70357|E||||"),
            "{a}"
        );
        let glued = Message::parse(b"MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.3 PID|1\r").unwrap();
        assert_eq!(problem_for(&glued.validate().unwrap_err()).code, 203);
    }

    #[test]
    fn naks_for_unreadable_input() {
        let p = Problem {
            code: 100,
            location: None,
            text: "not an HL7 message".into(),
        };
        let a = String::from_utf8(nak(b"hello world\r", &p, &opts())).unwrap();
        assert_eq!(
            a,
            "MSH|^~\\&|||||20240315120000||ACK^^ACK|ACK1|P|2.5\rMSA|AR||not an HL7 message\rERR|||100^Segment sequence error^HL70357|E||||not an HL7 message\r"
        );
        // MSH present but cut short: delimiters and MSH-10 salvaged
        let p = Problem {
            code: 101,
            location: Some("MSH-12".into()),
            text: "the version ID is missing".into(),
        };
        let a =
            String::from_utf8(nak(b"MSH^~|\\&^S^SF^R^RF^2024^^ADT~A24^C7\r", &p, &opts())).unwrap();
        assert!(
            a.starts_with("MSH^~|\\&^R^RF^S^SF^20240315120000^^ACK~A24~ACK^ACK1^P^2.5\rMSA^AR^C7^"),
            "{a}"
        );
        // enhanced mode asks for CR
        let o = Options {
            mode: Mode::Enhanced,
            ..opts()
        };
        assert!(
            String::from_utf8(nak(b"x", &p, &o))
                .unwrap()
                .contains("MSA|CR||")
        );
        // the result always parses
        for raw in [&b"MSH|"[..], b"MSH|^^|", b"\x00\xff", b""] {
            let v = nak(raw, &p, &opts());
            Message::parse(&v).unwrap().validate().unwrap();
        }
    }
}
