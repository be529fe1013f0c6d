//! How accepted messages are written to the output, one after another.

use std::io::{self, Write};

use crate::model::message::Message;
use crate::transform::envelope::Envelope;
use crate::transform::json::{self, Notes, Shape};
use crate::wire::mllp;

/// What the output holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Each message as received (segments joined by `\r`), then `\n`.
    Hl7,
    /// Each message framed in MLLP, as a capture.
    Mllp,
    /// Each message in the `hl7 parse` JSON shape, one line each.
    Ndjson,
    /// Each message in its `--meta` envelope ([`Envelope`]), one line each.
    Envelope,
}

/// The writer of one format, with the buffers it reuses from message to message.
pub(super) struct Output {
    format: Format,
    json: json::Writer,
    line: Vec<u8>,
}

impl Output {
    pub(super) fn new(format: Format) -> Output {
        Output {
            format,
            json: json::Writer::new(),
            line: Vec::new(),
        }
    }

    /// Writes one message (`e.raw`, with what is known of it) to `out`.
    pub(super) fn write(&mut self, out: &mut impl Write, e: &Envelope<'_>) -> io::Result<()> {
        match self.format {
            Format::Hl7 => {
                out.write_all(e.raw)?;
                return out.write_all(b"\n");
            }
            Format::Mllp => {
                self.line.clear();
                mllp::encode(e.raw, &mut self.line);
            }
            Format::Envelope => {
                self.line.clear();
                e.write(&mut self.line);
                self.line.push(b'\n');
            }
            Format::Ndjson => {
                self.line.clear();
                if let Ok(mut m) = Message::parse(e.raw) {
                    m.resolve_charset();
                    self.json
                        .write(&mut self.line, &m, Shape::Segments, &mut Notes::default());
                }
                self.line.push(b'\n');
            }
        }
        out.write_all(&self.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn each_format() {
        let raw = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|M1|P|2.5\rPID|1\r";
        let e = Envelope {
            received: SystemTime::UNIX_EPOCH + Duration::from_secs(1_710_504_000),
            peer: "127.0.0.1:4000".parse().unwrap(),
            channel: "icu",
            control_id: "M1",
            ack: "AA",
            raw,
        };
        let written = |format| {
            let mut out = Vec::new();
            let mut o = Output::new(format);
            // twice: the buffers it reuses must not carry one message into the next
            o.write(&mut out, &e).unwrap();
            o.write(&mut out, &e).unwrap();
            let half = out.len() / 2;
            assert_eq!(out[..half], out[half..], "{format:?}");
            out.truncate(half);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(written(Format::Hl7).as_bytes(), [&raw[..], b"\n"].concat());
        assert_eq!(
            written(Format::Mllp).as_bytes(),
            [&b"\x0b"[..], raw, b"\x1c\r"].concat()
        );
        let line = written(Format::Envelope);
        assert!(
            line.starts_with(r#"{"received":"2024-03-15T12:00:00.000Z","peer":"127.0.0.1:4000","channel":"icu","control_id":"M1","ack":"AA","raw":"MSH|"#),
            "{line}"
        );
        assert!(line.ends_with("}\n"), "{line}");
        let line = written(Format::Ndjson);
        assert!(
            line.starts_with(r#"{"type":"ADT^A01","control_id":"M1""#),
            "{line}"
        );
        assert!(line.ends_with("}\n"), "{line}");
    }
}
