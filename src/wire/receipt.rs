//! Delivery receipts: how `hl7 listen --ack-after delivered` learns that the end of its
//! pipeline (`hl7 ilp`) has committed every row made from a message, so that its AA can mean
//! "stored in the database" (docs/delivery.md).
//!
//! Two lines, one going down the pipeline and one coming back:
//!
//! - A **mark** is a line `listen` writes into its output after each message, in delivered mode
//!   only: `\x1E` `hl7-mark <session> <seq> <receipts address>` `\n`. `<session>` is 16 hex
//!   digits drawn when `listen` starts, `<seq>` the message's number in that run's output (from
//!   1, in output order), the address the loopback port where `listen` takes receipts. The
//!   filters in the middle (`parse`, `flatten`, `convert`) copy each mark to their output after
//!   whatever they made of the messages before it, so the marks keep their place among the rows
//!   whatever each filter does; a message that makes no rows is still followed by its mark.
//!   The leading record separator (0x1E) keeps a mark from being taken for a segment, a JSON
//!   document or a CSV row, and `listen` refuses a message with a line that starts with it, so
//!   that a sender cannot forge one.
//! - A **receipt** is a line `hl7 ilp` writes back to that address over TCP: `hl7-receipt
//!   <session> <seq>` `\n`, meaning "every row made from messages 1 to `<seq>` of `<session>` is
//!   committed". Order is kept from end to end, so receipts are cumulative: the latest one says
//!   everything. `ilp` sends one when the database has confirmed a flush that holds every row
//!   read before a mark (or at once for a mark with no rows waiting before it).
//!
//! A receipt for another session (a stale `ilp`, a replayed capture) is ignored by `listen`.

use std::io;

/// What every mark line starts with.
pub const MARK: &[u8] = b"\x1Ehl7-mark ";

/// The first byte of a mark: a line that starts with it is never data.
pub const MARK_BYTE: u8 = 0x1E;

/// What every receipt line starts with.
pub const RECEIPT: &[u8] = b"hl7-receipt ";

/// The longest line of either kind that is read (a longer one is not a mark or a receipt).
pub const MAX_LINE: usize = 200;

/// One mark: message `seq` of `session` ends here; receipts go to `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub session: u64,
    pub seq: u64,
    /// The address `listen` takes receipts on (`HOST:PORT`).
    pub to: String,
}

impl Mark {
    /// Appends the mark line, `\n` included.
    pub fn write(&self, out: &mut Vec<u8>) {
        // writing to a Vec cannot fail
        let _ = write_mark(out, self.session, self.seq, &self.to);
    }

    /// Reads a mark line (with or without its line end). `None`: not a mark.
    pub fn parse(line: &[u8]) -> Option<Mark> {
        let rest = line.strip_prefix(MARK)?;
        if line.len() > MAX_LINE {
            return None;
        }
        let rest = std::str::from_utf8(rest)
            .ok()?
            .trim_end_matches(['\r', '\n']);
        let mut parts = rest.split(' ');
        let session = session(parts.next()?)?;
        let seq = parts.next()?.parse().ok()?;
        let to = parts.next()?;
        if to.is_empty() || parts.next().is_some() {
            return None;
        }
        Some(Mark {
            session,
            seq,
            to: to.to_string(),
        })
    }
}

/// Writes the mark line of message `seq` of `session`, receipts to `to`, `\n` included.
pub fn write_mark(out: &mut impl io::Write, session: u64, seq: u64, to: &str) -> io::Result<()> {
    out.write_all(MARK)?;
    writeln!(out, "{session:016x} {seq} {to}")
}

/// True when `line` starts like a mark (whether or not the rest reads as one).
pub fn is_mark(line: &[u8]) -> bool {
    line.first() == Some(&MARK_BYTE)
}

/// True when a line of `message` (the first, or one after a `\r` or `\n`) starts with
/// [`MARK_BYTE`]: such a message would forge a mark in delivered mode.
pub fn has_mark_line(message: &[u8]) -> bool {
    if is_mark(message) {
        return true;
    }
    memchr::memchr_iter(MARK_BYTE, message)
        .any(|i| i > 0 && matches!(message[i - 1], b'\r' | b'\n'))
}

/// One receipt: every row made from messages 1 to `seq` of `session` is committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub session: u64,
    pub seq: u64,
}

impl Receipt {
    /// The receipt line, `\n` included.
    pub fn line(&self) -> String {
        format!("hl7-receipt {:016x} {}\n", self.session, self.seq)
    }

    /// Reads a receipt line (with or without its line end). `None`: not a receipt.
    pub fn parse(line: &[u8]) -> Option<Receipt> {
        if line.len() > MAX_LINE {
            return None;
        }
        let rest = line.strip_prefix(RECEIPT)?;
        let rest = std::str::from_utf8(rest)
            .ok()?
            .trim_end_matches(['\r', '\n']);
        let (s, n) = rest.split_once(' ')?;
        Some(Receipt {
            session: session(s)?,
            seq: n.parse().ok()?,
        })
    }
}

/// A session id: exactly 16 hex digits.
fn session(s: &str) -> Option<u64> {
    if s.len() != 16 {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_reads_back_as_written() {
        let m = Mark {
            session: 0x00ab_cdef_0123_4567,
            seq: 42,
            to: "127.0.0.1:40123".into(),
        };
        let mut out = Vec::new();
        m.write(&mut out);
        assert_eq!(out, b"\x1Ehl7-mark 00abcdef01234567 42 127.0.0.1:40123\n");
        assert_eq!(Mark::parse(&out), Some(m.clone()));
        assert_eq!(Mark::parse(&out[..out.len() - 1]), Some(m));
        assert!(is_mark(&out));
    }

    #[test]
    fn what_is_not_a_mark() {
        for bad in [
            &b"hl7-mark 00abcdef01234567 42 a:1"[..],
            b"\x1Ehl7-mark abc 42 a:1",
            b"\x1Ehl7-mark 00abcdef01234567 x a:1",
            b"\x1Ehl7-mark 00abcdef01234567 42",
            b"\x1Ehl7-mark 00abcdef01234567 42 a:1 extra",
            b"\x1Ehl7-mark 00abcdef0123456g 42 a:1",
            b"\x1E\xff",
        ] {
            assert_eq!(Mark::parse(bad), None, "{bad:?}");
        }
        let long = [MARK, &[b'1'; 300][..]].concat();
        assert_eq!(Mark::parse(&long), None);
    }

    #[test]
    fn a_receipt_reads_back_as_written() {
        let r = Receipt {
            session: u64::MAX,
            seq: 7,
        };
        assert_eq!(r.line(), "hl7-receipt ffffffffffffffff 7\n");
        assert_eq!(Receipt::parse(r.line().as_bytes()), Some(r));
        assert_eq!(Receipt::parse(b"hl7-receipt ffffffffffffffff"), None);
        assert_eq!(Receipt::parse(b"hl7-receipt ffff 7"), None);
        assert_eq!(Receipt::parse(b"receipt ffffffffffffffff 7"), None);
    }

    #[test]
    fn a_message_with_a_mark_line_is_found_out() {
        assert!(!has_mark_line(b"MSH|^~\\&|A\rPID|1|x\x1Ey"));
        assert!(has_mark_line(b"MSH|^~\\&|A\r\x1Ehl7-mark 1"));
        assert!(has_mark_line(b"MSH|^~\\&|A\n\x1E"));
        assert!(has_mark_line(b"\x1EMSH"));
    }
}
