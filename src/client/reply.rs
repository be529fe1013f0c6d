//! Reading a reply block and judging what it means for the message sent: an MLLP R2 commit
//! block, or an HL7 ACK whose MSA-2 must be the MSH-10 sent (HL7 v2.5 §2.9, §2.15.8 MSA).
//! Bytes in, values out: no sockets.

use std::borrow::Cow;
use std::time::Duration;

use super::{Job, Outcome, Status, retry};
use crate::ack::{self, Code};
use crate::model::message::Message;
use crate::wire::mllp;

/// A reply block, read and owned.
#[derive(Debug)]
pub enum Reply {
    /// An MLLP R2 commit block: ACK (true) or NAK (false).
    Commit(bool),
    Ack {
        code: Option<Code>,
        code_text: String,
        msa2: Vec<u8>,
        /// ERR-3 (or ERR-1) code and location, for the error text.
        reason: Option<String>,
        /// MSA-3, the peer's own words.
        text: Option<String>,
        /// The ACK's segments each ended by `\r`, when asked to keep them.
        bytes: Option<Vec<u8>>,
    },
    /// Not an ACK, and why.
    Bad(String),
}

/// Reads a reply frame's payload; `keep`: keep the ACK's bytes in the reply.
pub fn classify(payload: &[u8], keep: bool) -> Reply {
    if let Some(ok) = mllp::is_commit_ack(payload) {
        return Reply::Commit(ok);
    }
    let Ok(mut msg) = Message::parse(payload) else {
        return Reply::Bad(format!(
            "the reply ({} bytes) is not an HL7 message",
            payload.len()
        ));
    };
    msg.resolve_charset();
    let Some(msa) = msg.segment("MSA", 1) else {
        return Reply::Bad("the reply has no MSA segment: it is not an ACK".into());
    };
    let raw = |n: usize| msa.field(n).map(|f| f.raw).unwrap_or_default().trim_ascii();
    let code_text = String::from_utf8_lossy(raw(1)).into_owned();
    let text = msa
        .field(3)
        .map(|f| f.text().trim().to_string())
        .filter(|t| !t.is_empty());
    let bytes = keep.then(|| {
        let mut v = Vec::with_capacity(payload.len() + 1);
        for seg in msg.segments() {
            v.extend_from_slice(seg.bytes());
            v.push(b'\r');
        }
        v
    });
    Reply::Ack {
        code: Code::parse(&code_text),
        code_text,
        msa2: raw(2).to_vec(),
        reason: err_summary(&msg),
        text,
        bytes,
    }
}

/// The error code and location of an ACK's ERR segment, in either shape: ERR-3 and ERR-2
/// (2.5 and later) or ERR-1 (`seg^seq^field^code&text`, up to 2.4).
fn err_summary(msg: &Message<'_>) -> Option<String> {
    let err = msg.segment("ERR", 1)?;
    let nonempty = |s: Cow<'_, str>| {
        let s = s.trim().to_string();
        (!s.is_empty()).then_some(s)
    };
    let (code, place) = match err.field(3).and_then(|f| nonempty(f.component(1).text())) {
        Some(code) => (Some(code), err.field(2).map(|f| f.repetition(1))),
        None => {
            let eld = err.field(1).map(|f| f.repetition(1));
            (
                eld.and_then(|f| nonempty(f.component(4).subcomponent(1).text())),
                eld,
            )
        }
    };
    let place = place.and_then(|p| {
        let seg = nonempty(p.component(1).text())?;
        Some(match nonempty(p.component(3).text()) {
            Some(field) => format!("{seg}-{field}"),
            None => seg,
        })
    });
    let code = code.map(|c| match c.parse::<u32>() {
        Ok(n) => format!("error {n} ({})", ack::error_text(n)),
        Err(_) => format!("error {c}"),
    });
    match (code, place) {
        (Some(c), Some(p)) => Some(format!("{c} at {p}")),
        (Some(c), None) => Some(c),
        (None, Some(p)) => Some(format!("error at {p}")),
        (None, None) => None,
    }
}

/// True for a second ACK of the message answered before on the connection (`prev`, its
/// MSH-10), such as the application ACK after a commit ACK in enhanced mode: it is not the
/// reply to the message just sent (`sent`), and is skipped.
pub fn is_late(reply: &Reply, prev: &[u8], sent: &[u8]) -> bool {
    matches!(reply, Reply::Ack { msa2, .. } if !prev.is_empty() && msa2 == prev && msa2 != sent)
}

/// Why a reply belongs to no message in flight on a connection with a window, where replies
/// are matched by MSA-2 alone: its MSA-2 names no message there, or it names none at all (a
/// commit block, a NAK with an empty MSA-2, a reply that is not an ACK).
pub fn unmatched(reply: &Reply) -> String {
    match reply {
        Reply::Ack {
            msa2, code_text, ..
        } if msa2.is_empty() => format!(
            "ACK mismatch: MSA-2 is empty, so the reply names no message in flight (MSA-1 {code_text})"
        ),
        Reply::Ack {
            msa2, code_text, ..
        } => format!(
            "ACK mismatch: MSA-2 is '{}', the MSH-10 of no message in flight (MSA-1 {code_text})",
            String::from_utf8_lossy(msa2)
        ),
        Reply::Commit(ack) => format!(
            "an MLLP commit {} names no message: with several in flight, replies are matched by MSA-2",
            if *ack { "ACK" } else { "NAK" }
        ),
        Reply::Bad(why) => why.clone(),
    }
}

/// What a reply means for the message sent.
#[derive(Debug)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The outcome may be retried.
    pub retry: bool,
    /// The stream may be out of step (a reply that is not an ACK, or not for this message):
    /// the next message goes on a new connection.
    pub resync: bool,
}

/// Judges the reply to `job`, received after `latency`.
pub fn judge(job: &Job, reply: Reply, latency: Duration, retry_rejected: bool) -> Verdict {
    let mut v = Verdict {
        outcome: Outcome::accepted(Some(latency)),
        retry: false,
        resync: false,
    };
    let o = &mut v.outcome;
    match reply {
        Reply::Commit(true) => o.ack = Some("ACK".into()),
        Reply::Commit(false) => {
            o.ack = Some("NAK".into());
            o.status = Status::Rejected;
            o.error = Some("rejected with an MLLP commit NAK".into());
            v.retry = retry::retry_rejection(None, retry_rejected);
        }
        Reply::Bad(why) => {
            o.status = Status::Failed;
            o.error = Some(why);
            v.resync = true;
        }
        Reply::Ack {
            code,
            code_text,
            msa2,
            reason,
            text,
            bytes,
        } => {
            o.ack = Some(code_text.clone());
            o.reply = bytes;
            let matches = msa2 == job.raw_id.trim_ascii()
                // A NAK for bytes the peer could not read has an empty MSA-2
                // (HL7 v2.5 §2.15.8, MSA): it is about our message all the same.
                || (msa2.is_empty() && code.is_some_and(|c| !c.is_accept()));
            if !matches {
                o.status = Status::Failed;
                o.error = Some(format!(
                    "ACK mismatch: MSA-2 is '{}', expected '{}' (MSA-1 {code_text})",
                    String::from_utf8_lossy(&msa2),
                    job.control_id
                ));
                v.resync = true;
                return v;
            }
            match code {
                Some(c) if c.is_accept() => {}
                Some(c) => {
                    o.status = Status::Rejected;
                    o.peer_text = text;
                    o.error = Some(match reason {
                        Some(r) => format!("rejected with {code_text}: {r}"),
                        None => format!("rejected with {code_text}"),
                    });
                    v.retry = retry::retry_rejection(Some(c), retry_rejected);
                }
                None => {
                    o.status = Status::Failed;
                    o.error = Some(format!(
                        "'{code_text}' in MSA-1 is not an acknowledgment code"
                    ));
                }
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(raw_id: &[u8]) -> Job {
        Job {
            seq: 0,
            control_id: String::from_utf8_lossy(raw_id).trim().to_string(),
            raw_id: raw_id.to_vec(),
            frame: Vec::new(),
            file: None,
            msg_no: 1,
            byte: 0,
        }
    }

    fn ack(code: &str, msa2: &str) -> Vec<u8> {
        format!("MSH|^~\\&|R|F|S|F|20240101||ACK|A1|P|2.5\rMSA|{code}|{msa2}\r").into_bytes()
    }

    fn verdict(reply: &[u8], sent: &[u8], retry_rejected: bool) -> Verdict {
        judge(
            &job(sent),
            classify(reply, false),
            Duration::from_millis(2),
            retry_rejected,
        )
    }

    #[test]
    fn replies_are_classified() {
        let ack = b"MSH|^~\\&|R|F|S|F|20240101||ACK^A01^ACK|A1|P|2.5\rMSA|AE|C1|bad\rERR||PID^1^3|101^Required field missing^HL70357|E\r";
        match classify(ack, true) {
            Reply::Ack {
                code,
                msa2,
                reason,
                text,
                bytes,
                ..
            } => {
                assert_eq!(code, Some(Code::AE));
                assert_eq!(msa2, b"C1");
                assert_eq!(
                    reason.as_deref(),
                    Some("error 101 (Required field missing) at PID-3")
                );
                assert_eq!(text.as_deref(), Some("bad"));
                assert_eq!(bytes.as_deref(), Some(&ack[..]));
            }
            _ => panic!("not an ACK"),
        }
        let old = b"MSH|^~\\&|R|F|S|F|20240101||ACK|A1|P|2.3\nMSA|AR|C1\nERR|PID^1^3^101&Required&HL70357\n";
        match classify(old, false) {
            Reply::Ack { reason, .. } => assert_eq!(
                reason.as_deref(),
                Some("error 101 (Required field missing) at PID-3")
            ),
            _ => panic!("not an ACK"),
        }
        assert!(matches!(classify(&[0x06], false), Reply::Commit(true)));
        assert!(matches!(classify(&[0x15], false), Reply::Commit(false)));
        assert!(matches!(classify(b"hello", false), Reply::Bad(_)));
        assert!(matches!(
            classify(b"MSH|^~\\&|R|F|S|F|1||ORU^R01|X|P|2.5\r", false),
            Reply::Bad(_)
        ));
    }

    #[test]
    fn msa2_must_be_the_msh10_sent() {
        let v = verdict(&ack("AA", "C1"), b"C1", false);
        assert_eq!(v.outcome.status, Status::Accepted);
        assert_eq!(v.outcome.ack.as_deref(), Some("AA"));
        assert_eq!(v.outcome.latency, Some(Duration::from_millis(2)));
        assert!(!v.retry && !v.resync && v.outcome.error.is_none());

        // MSH-10 is compared as written, but for the blanks around it.
        assert_eq!(
            verdict(&ack("CA", "C1"), b" C1 ", false).outcome.status,
            Status::Accepted
        );

        let v = verdict(&ack("AA", "C2"), b"C1", true);
        assert_eq!(v.outcome.status, Status::Failed);
        assert_eq!(
            v.outcome.error.as_deref(),
            Some("ACK mismatch: MSA-2 is 'C2', expected 'C1' (MSA-1 AA)")
        );
        assert!(!v.retry && v.resync);

        // An accept with no MSA-2 is not an accept of this message...
        assert_eq!(
            verdict(&ack("AA", ""), b"C1", false).outcome.status,
            Status::Failed
        );
        // ... but a NAK of bytes the peer could not read is.
        let v = verdict(&ack("AR", ""), b"C1", false);
        assert_eq!(v.outcome.status, Status::Rejected);
        assert_eq!(v.outcome.error.as_deref(), Some("rejected with AR"));
        assert!(!v.resync);
    }

    #[test]
    fn rejections_are_retried_only_when_asked_and_never_ae() {
        for (code, asked, retry) in [
            ("AR", false, false),
            ("AR", true, true),
            ("CR", true, true),
            ("AE", true, false),
            ("CE", true, false),
        ] {
            let v = verdict(&ack(code, "C1"), b"C1", asked);
            assert_eq!(v.outcome.status, Status::Rejected, "{code}");
            assert_eq!(v.retry, retry, "{code} {asked}");
        }
        let v = verdict(&[0x15], b"C1", true);
        assert_eq!(v.outcome.status, Status::Rejected);
        assert_eq!(v.outcome.ack.as_deref(), Some("NAK"));
        assert!(v.retry);
        assert!(!verdict(&[0x15], b"C1", false).retry);
        assert_eq!(
            verdict(&[0x06], b"C1", false).outcome.ack.as_deref(),
            Some("ACK")
        );
    }

    #[test]
    fn rejections_keep_the_peer_words_apart_from_the_error() {
        let reply = b"MSH|^~\\&|R|F|S|F|20240101||ACK|A1|P|2.5\rMSA|AE|C1|PID-3 is empty\rERR||PID^1^3|101|E\r";
        let v = verdict(reply, b"C1", false);
        assert_eq!(
            v.outcome.error.as_deref(),
            Some("rejected with AE: error 101 (Required field missing) at PID-3")
        );
        assert_eq!(v.outcome.peer_text.as_deref(), Some("PID-3 is empty"));
    }

    #[test]
    fn what_is_not_an_ack_fails_and_resyncs() {
        let v = verdict(b"hello", b"C1", true);
        assert_eq!(v.outcome.status, Status::Failed);
        assert_eq!(
            v.outcome.error.as_deref(),
            Some("the reply (5 bytes) is not an HL7 message")
        );
        assert!(v.resync && !v.retry);
        let v = verdict(&ack("XX", "C1"), b"C1", true);
        assert_eq!(v.outcome.status, Status::Failed);
        assert_eq!(
            v.outcome.error.as_deref(),
            Some("'XX' in MSA-1 is not an acknowledgment code")
        );
        assert!(!v.resync && !v.retry);
    }

    #[test]
    fn unmatched_replies_say_why() {
        let why = |r: &[u8]| unmatched(&classify(r, false));
        assert_eq!(
            why(&ack("AA", "C9")),
            "ACK mismatch: MSA-2 is 'C9', the MSH-10 of no message in flight (MSA-1 AA)"
        );
        assert_eq!(
            why(&ack("AR", "")),
            "ACK mismatch: MSA-2 is empty, so the reply names no message in flight (MSA-1 AR)"
        );
        assert!(why(&[0x15]).starts_with("an MLLP commit NAK names no message"));
        assert_eq!(why(b"hello"), "the reply (5 bytes) is not an HL7 message");
    }

    #[test]
    fn a_second_ack_for_the_message_before_is_late() {
        let r = classify(&ack("AA", "C1"), false);
        assert!(is_late(&r, b"C1", b"C2"));
        assert!(!is_late(&r, b"", b"C2"), "no message before");
        assert!(!is_late(&r, b"C1", b"C1"), "the same id again");
        assert!(!is_late(&classify(&ack("AA", "C2"), false), b"C1", b"C2"));
        assert!(!is_late(&Reply::Commit(true), b"C1", b"C2"));
    }
}
