//! The `--meta` envelope: one received message as one JSON object, with where and when it came
//! from and what it was answered, written by `hl7 listen --to ndjson --meta` and read back by
//! every `--from ndjson` reader (docs/json.md).
//!
//! ```text
//! {"received":"2024-03-15T12:00:00.123Z","peer":"10.0.0.5:51234","channel":"icu",
//!  "control_id":"MSG1","ack":"AA","raw":"MSH|^~\\&|...\rPID|..."}
//! ```
//!
//! `raw` is the message as received; `raw_base64` takes its place when the bytes are not UTF-8
//! (an 8859 message). `ack` is empty when no answer was due.

use std::net::SocketAddr;
use std::time::SystemTime;

use base64::Engine;
use serde_json::{Map, Value as Json};

use super::json_str::push_str;

/// The key of the message text, which makes a JSON object an envelope to a reader.
const RAW: &str = "raw";

/// One received message and what is known of it.
#[derive(Clone, Copy, Debug)]
pub struct Envelope<'a> {
    pub received: SystemTime,
    pub peer: SocketAddr,
    /// The name of the channel (`--channel NAME=ADDR`), or the address it was received on.
    pub channel: &'a str,
    /// MSH-10, as text.
    pub control_id: &'a str,
    /// The code of the answer sent, or empty.
    pub ack: &'a str,
    /// The message, as received.
    pub raw: &'a [u8],
}

impl Envelope<'_> {
    /// Appends the envelope as one JSON object (no newline).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"received\":");
        push_str(out, &crate::time::rfc3339_utc(self.received));
        out.extend_from_slice(b",\"peer\":");
        push_str(out, &self.peer.to_string());
        out.extend_from_slice(b",\"channel\":");
        push_str(out, self.channel);
        out.extend_from_slice(b",\"control_id\":");
        push_str(out, self.control_id);
        out.extend_from_slice(b",\"ack\":");
        push_str(out, self.ack);
        out.push(b',');
        match std::str::from_utf8(self.raw) {
            Ok(text) => {
                push_str(out, RAW);
                out.push(b':');
                push_str(out, text);
            }
            Err(_) => {
                out.extend_from_slice(b"\"raw_base64\":\"");
                out.extend_from_slice(
                    base64::engine::general_purpose::STANDARD
                        .encode(self.raw)
                        .as_bytes(),
                );
                out.push(b'"');
            }
        }
        out.push(b'}');
    }

    /// The reading side: when `doc` is an envelope (it carries the message as text), appends
    /// that message to `out` as HL7, each segment terminated by `\r` whatever ended it before,
    /// and returns true. A `raw_base64` envelope is not read: false, as for any other object.
    pub fn read(doc: &Map<String, Json>, out: &mut Vec<u8>) -> bool {
        let Some(raw) = doc.get(RAW).and_then(Json::as_str) else {
            return false;
        };
        for line in raw.split(['\r', '\n']).filter(|l| !l.trim().is_empty()) {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\r');
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(raw: &[u8]) -> Envelope<'_> {
        Envelope {
            received: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_710_504_000_123),
            peer: "10.0.0.5:51234".parse().unwrap(),
            channel: "icu",
            control_id: "M\"1",
            ack: "AA",
            raw,
        }
    }

    fn written(e: &Envelope<'_>) -> String {
        let mut out = Vec::new();
        e.write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn written_and_read_back() {
        let raw = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|M\"1|P|2.5\rPID|1\r";
        let line = written(&envelope(raw));
        assert!(
            line.starts_with(
                r#"{"received":"2024-03-15T12:00:00.123Z","peer":"10.0.0.5:51234","channel":"icu","control_id":"M\"1","ack":"AA","raw":"MSH|^~\\&|"#
            ),
            "{line}"
        );
        assert!(line.ends_with(r#"PID|1\r"}"#), "{line}");
        let doc: Json = serde_json::from_str(&line).unwrap();
        let mut back = Vec::new();
        assert!(Envelope::read(doc.as_object().unwrap(), &mut back));
        assert_eq!(back, raw);
    }

    #[test]
    fn bytes_that_are_not_utf8_go_in_base64() {
        let line = written(&envelope(b"MSH|^~\\&|A\xe9\r"));
        assert!(
            line.ends_with(r#""ack":"AA","raw_base64":"TVNIfF5+XCZ8QekN"}"#),
            "{line}"
        );
        let doc: Json = serde_json::from_str(&line).unwrap();
        assert!(!Envelope::read(doc.as_object().unwrap(), &mut Vec::new()));
    }

    #[test]
    fn any_line_ending_comes_back_as_cr() {
        let doc: Json = serde_json::from_str(r#"{"raw":"MSH|^~\\&|A\r\nPID|1\n\n"}"#).unwrap();
        let mut out = Vec::new();
        assert!(Envelope::read(doc.as_object().unwrap(), &mut out));
        assert_eq!(out, b"MSH|^~\\&|A\rPID|1\r");
    }
}
