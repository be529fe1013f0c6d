//! What to answer to a frame: the one decision every receiver here makes (`hl7 listen`,
//! `hl7 ack`, the benchmark's ACK peer), so they cannot drift apart.
//!
//! A frame that does not parse gets a NAK. A message that parses but fails validation gets
//! AE/CE with an ERR naming the field and goes no further. A valid message goes to the
//! receiver, and what the receiver did with it (its [`Fate`]) is answered. MSH-15 and MSH-16
//! pick the mode, and whether an answer is due at all (HL7 v2.5 §2.9.2, §2.9.3).

use super::{Code, Options, Outcome, Problem, build, code_for, nak, problem_for};
use crate::model::message::{Message, MessageError};

/// What the receiver did with a valid message, for [`respond`] to answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fate {
    pub outcome: Outcome,
    /// The ERR of an error or a reject (a generic one when `None`).
    pub problem: Option<Problem>,
    /// A code to send whatever MSH-15/MSH-16 ask for (still none to an ACK, or under mode none).
    pub code: Option<Code>,
}

impl Fate {
    /// Accepted: AA or CA, as the message's mode says.
    pub const ACCEPTED: Fate = Fate {
        outcome: Outcome::Accept,
        problem: None,
        code: None,
    };

    /// The receiver could not store the message: AR with ERR 207, sent even where MSH-15 and
    /// MSH-16 ask for no answer, because there silence reads as success and the sender would
    /// drop a message it must send again.
    pub fn unstored() -> Fate {
        Fate {
            outcome: Outcome::Reject,
            problem: Some(Problem {
                code: 207,
                location: None,
                text: "the receiver could not store the message; send it again later".into(),
            }),
            code: Some(Code::AR),
        }
    }
}

/// What [`respond`] made of a frame.
#[derive(Debug)]
pub enum Verdict<'a> {
    /// Not a message: the reply is a NAK, AR (CR in enhanced mode).
    Unreadable(MessageError),
    /// A message that failed validation: the reply, if due, is AE/CE.
    Invalid(Message<'a>, MessageError),
    /// A valid message, handed to the receiver: the outcome it reported.
    Valid(Outcome),
}

/// A frame's answer and how it was reached.
#[derive(Debug)]
pub struct Response<'a> {
    /// The ACK or NAK to send back, unframed; `None` when no answer is due.
    pub reply: Option<Vec<u8>>,
    pub verdict: Verdict<'a>,
}

/// Answers one frame. `receive` is called only for a valid message, with the code an accept
/// will be answered with (`None` when an accept gets no answer), and says what became of it.
pub fn respond<'a>(
    frame: &'a [u8],
    opts: &Options<'_>,
    receive: impl FnOnce(&Message<'a>, Option<Code>) -> Fate,
) -> Response<'a> {
    let mut msg = match Message::parse(frame) {
        Ok(m) => m,
        Err(e) => {
            return Response {
                reply: Some(to_unreadable(frame, &e, opts)),
                verdict: Verdict::Unreadable(e),
            };
        }
    };
    msg.resolve_charset();
    if let Err(e) = msg.validate() {
        return Response {
            reply: to_invalid(&msg, &e, opts),
            verdict: Verdict::Invalid(msg, e),
        };
    }
    let (reply, outcome) = to_valid(&msg, opts, receive);
    Response {
        reply,
        verdict: Verdict::Valid(outcome),
    }
}

/// The answer to bytes that are not a message (no readable header): a NAK naming the problem.
/// For a reader that parsed the frame itself; [`respond`] does all three steps.
pub fn to_unreadable(frame: &[u8], e: &MessageError, opts: &Options<'_>) -> Vec<u8> {
    let problem = Problem {
        code: 100,
        location: e.path.clone(),
        text: e.to_string(),
    };
    nak(frame, &problem, opts)
}

/// The answer, if one is due, to a message that failed validation: AE/CE naming the field.
pub fn to_invalid(msg: &Message<'_>, e: &MessageError, opts: &Options<'_>) -> Option<Vec<u8>> {
    build(msg, Outcome::Error, Some(&problem_for(e)), opts)
}

/// The answer, if one is due, to a valid message, after `receive` said what became of it.
pub fn to_valid<'a>(
    msg: &Message<'a>,
    opts: &Options<'_>,
    receive: impl FnOnce(&Message<'a>, Option<Code>) -> Fate,
) -> (Option<Vec<u8>>, Outcome) {
    let fate = receive(msg, code_for(msg, Outcome::Accept, opts));
    let forced;
    let opts = match fate.code {
        Some(code) => {
            forced = Options {
                code: Some(code),
                ..opts.clone()
            };
            &forced
        }
        None => opts,
    };
    (
        build(msg, fate.outcome, fate.problem.as_ref(), opts),
        fate.outcome,
    )
}

#[cfg(test)]
mod tests {
    use super::super::Mode;
    use super::super::tests::opts;
    use super::*;

    fn header(m15: &str, m16: &str) -> Vec<u8> {
        format!("MSH|^~\\&|A|B|C|D|2024||ORU^R01|C1|P|2.5|||{m15}|{m16}\rPID|1\r").into_bytes()
    }

    /// MSA-1 of the reply, or `None` when there is none.
    fn answer(frame: &[u8], mode: Mode, code: Option<Code>, fate: &Fate) -> Option<String> {
        let opts = Options {
            mode,
            code,
            ..opts()
        };
        let reply = respond(frame, &opts, |_, _| fate.clone()).reply?;
        let reply = String::from_utf8(reply).unwrap();
        let msa = reply.split('\r').find(|s| s.starts_with("MSA|")).unwrap();
        Some(msa[4..6].to_string())
    }

    /// A frame, the mode, a forced code, what the receiver did, and MSA-1 of the answer.
    type Row<'a> = (&'a [u8], Mode, Option<Code>, &'a Fate, Option<&'a str>);

    #[test]
    fn what_each_frame_is_answered_with() {
        use Mode::{Auto, Enhanced, None as Never, Original};
        let ok = Fate::ACCEPTED;
        let lost = Fate::unstored();
        let ack = b"MSH|^~\\&|A|B|C|D|2024||ACK^R01^ACK|X|P|2.5\rMSA|AA|Y\r".to_vec();
        let invalid = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01\rPID|1\r".to_vec();
        let invalid_al = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01||P|2.5|||AL|NE\r".to_vec();
        let invalid_ne = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01||P|2.5|||NE|NE\r".to_vec();
        let garbage = b"hello world\r".to_vec();
        #[rustfmt::skip]
        let table: &[Row] = &[
            // original mode when MSH-15 and MSH-16 are empty
            (&header("", ""), Auto, None, &ok, Some("AA")),
            // a commit ACK when MSH-15 asks for one, an application ACK when MSH-16 does
            (&header("AL", "NE"), Auto, None, &ok, Some("CA")),
            (&header("AL", "AL"), Auto, None, &ok, Some("CA")),
            (&header("NE", "AL"), Auto, None, &ok, Some("AA")),
            (&header("ER", "AL"), Auto, None, &ok, Some("AA")),
            (&header("al", "ne"), Auto, None, &ok, Some("CA")),
            // silence for NE/NE, and for ER or SU when they do not apply
            (&header("NE", "NE"), Auto, None, &ok, None),
            (&header("ER", "NE"), Auto, None, &ok, None),
            (&header("", "SU"), Auto, None, &ok, Some("AA")),
            // the mode forced either way, or never
            (&header("AL", "NE"), Original, None, &ok, Some("AA")),
            (&header("", ""), Enhanced, None, &ok, Some("CA")),
            (&header("", ""), Never, None, &ok, None),
            // a code forced (hl7 ack --code)
            (&header("", ""), Auto, Some(Code::AE), &ok, Some("AE")),
            // not stored: AR, whatever MSH-15/MSH-16 ask for, except under mode none
            (&header("", ""), Auto, None, &lost, Some("AR")),
            (&header("NE", "NE"), Auto, None, &lost, Some("AR")),
            (&header("AL", "AL"), Enhanced, None, &lost, Some("AR")),
            (&header("", ""), Never, None, &lost, None),
            // never an ACK of an ACK
            (&ack, Auto, None, &ok, None),
            (&ack, Auto, None, &lost, None),
            (&ack, Original, Some(Code::AA), &ok, None),
            // invalid: AE, or CE in enhanced mode, or nothing where nothing is asked for
            (&invalid, Auto, None, &ok, Some("AE")),
            (&invalid_al, Auto, None, &ok, Some("CE")),
            (&invalid_ne, Auto, None, &ok, None),
            (&invalid, Enhanced, None, &ok, Some("CE")),
            // not a message: a NAK, even under mode none
            (&garbage, Auto, None, &ok, Some("AR")),
            (&garbage, Enhanced, None, &ok, Some("CR")),
            (&garbage, Never, None, &ok, Some("AR")),
            (b"", Auto, None, &ok, Some("AR")),
            (b"MSH|", Auto, None, &ok, Some("AR")),
        ];
        for (i, (frame, mode, code, fate, want)) in table.iter().enumerate() {
            let got = answer(frame, *mode, *code, fate);
            assert_eq!(
                got.as_deref(),
                *want,
                "row {i}: {:?} {mode:?} {code:?} {:?}",
                String::from_utf8_lossy(frame),
                fate.outcome
            );
        }
    }

    #[test]
    fn the_receiver_sees_only_valid_messages_and_the_code_of_an_accept() {
        let opts = opts();
        let mut seen = Vec::new();
        for frame in [
            header("AL", "NE"),
            header("NE", "NE"),
            b"MSH|^~\\&|A|B|C|D|2024||ADT^A01\r".to_vec(),
            b"nope".to_vec(),
        ] {
            let r = respond(&frame, &opts, |msg, code| {
                seen.push((msg.control_id(), code));
                Fate::ACCEPTED
            });
            match (frame.starts_with(b"MSH|^~\\&|A|B|C|D|2024||ORU"), r.verdict) {
                (true, Verdict::Valid(Outcome::Accept)) => {}
                (false, Verdict::Invalid(..) | Verdict::Unreadable(_)) => {}
                (_, v) => panic!("{v:?}"),
            }
        }
        assert_eq!(
            seen,
            [("C1".to_string(), Some(Code::CA)), ("C1".to_string(), None)]
        );
    }
}
