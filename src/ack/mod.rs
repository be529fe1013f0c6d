//! ACKs (HL7 v2.5 §2.9, docs/conformance.md "ACKs"): what to answer to a frame, and the bytes
//! of the answer, with the clock and the control id passed in.
//!
//! - Mode: original (AA/AE/AR) when MSH-15 and MSH-16 are both empty; enhanced otherwise: a
//!   commit ACK (CA/CE/CR) when MSH-15 asks for one (AL; ER on error; SU on success), else an
//!   application ACK (AA/AE/AR) when MSH-16 asks for one; nothing when neither does (NE/NE).
//!   Never an ACK of an ACK.
//! - [`respond`]: the one decision every receiver makes for a frame (`hl7 listen`, `hl7 ack`,
//!   the benchmark's ACK peer): a NAK for what does not parse, AE/CE for what does not
//!   validate, and for a valid message the answer to what the receiver did with it.
//! - [`build`] and [`nak`]: the bytes. The ACK copies the inbound delimiters (MSH-1, MSH-2
//!   verbatim), swaps sender and receiver, has MSH-9 `ACK^<trigger>^ACK` (`ACK^<trigger>`
//!   before 2.3.1, which has no MSG.3), a new MSH-10, MSH-11, MSH-12 and MSH-18 echoed, and
//!   MSA-2 = the inbound MSH-10 as written. ERR follows the version: ERR-1
//!   (`seg^seq^field^code&text&HL70357`) up to 2.4; ERR-2 location, ERR-3 code, ERR-4 severity
//!   from 2.5; MSA-3 only before 2.7. For bytes that do not parse, [`nak`] salvages what it
//!   can of the header (delimiters, MSH-10, MSH-11, MSH-12) by plain splitting, as HAPI's
//!   `getCriticalResponseData` does.

mod build;
mod respond;

pub use build::{build, nak};
pub use respond::{Fate, Response, Verdict, respond, to_invalid, to_unreadable, to_valid};

use crate::model::message::Message;

/// An acknowledgment code (HL7 table 0008).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    AA,
    AE,
    AR,
    CA,
    CE,
    CR,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::AA => "AA",
            Code::AE => "AE",
            Code::AR => "AR",
            Code::CA => "CA",
            Code::CE => "CE",
            Code::CR => "CR",
        }
    }

    /// Parses `AA`, `ae`, ...
    pub fn parse(s: &str) -> Option<Code> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "AA" => Code::AA,
            "AE" => Code::AE,
            "AR" => Code::AR,
            "CA" => Code::CA,
            "CE" => Code::CE,
            "CR" => Code::CR,
            _ => return None,
        })
    }

    /// True for AA and CA.
    pub fn is_accept(self) -> bool {
        matches!(self, Code::AA | Code::CA)
    }

    /// What the code says happened: accept, error or reject.
    pub fn outcome(self) -> Outcome {
        match self {
            Code::AA | Code::CA => Outcome::Accept,
            Code::AE | Code::CE => Outcome::Error,
            Code::AR | Code::CR => Outcome::Reject,
        }
    }
}

/// What happened to the message, before a mode turns it into a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accept,
    /// Understood but failed validation (AE/CE).
    Error,
    /// Not accepted at all: unsupported, or the receiver cannot process it (AR/CR).
    Reject,
}

/// Which acknowledgment mode to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Follow MSH-15 and MSH-16.
    #[default]
    Auto,
    Original,
    Enhanced,
    /// Never acknowledge.
    None,
}

/// An error to report in ERR (and MSA-3 where the version has it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// HL7 table 0357: 100 segment sequence, 101 required field missing, 102 data type,
    /// 103 table value, 200-203 unsupported type/event/processing id/version, 207 internal.
    pub code: u32,
    /// Where: `MSH-10` or `PID-3.1` (our path grammar); written as an ERL / ELD location.
    pub location: Option<String>,
    /// A reason a human can act on.
    pub text: String,
}

/// Everything about the ACK that does not come from the inbound message.
#[derive(Clone, Debug)]
pub struct Options<'a> {
    /// MSH-7 of the ACK, an HL7 TS.
    pub now: &'a str,
    /// MSH-10 of the ACK.
    pub control_id: &'a str,
    /// MSH-3 of the ACK (default: the inbound MSH-5).
    pub app: Option<&'a str>,
    /// MSH-4 of the ACK (default: the inbound MSH-6).
    pub facility: Option<&'a str>,
    pub mode: Mode,
    /// A code to send whatever the outcome and mode (still never for an ACK).
    pub code: Option<Code>,
    /// MSA-3 text for an accept (errors bring their own).
    pub text: Option<&'a str>,
}

/// The version used when a message does not say.
pub const DEFAULT_VERSION: &str = "2.5";

/// The code to send for `outcome` under `mode`, or `None` when no ACK is due.
pub fn choose(msg: &Message<'_>, mode: Mode, outcome: Outcome) -> Option<Code> {
    // The header's index, not a scan of the line: this runs for every message received.
    let field = |n: usize| msg.header_field(n).map(|f| f.raw).unwrap_or_default();
    let (accept, app) = (field(15), field(16));
    let wanted = |t: &[u8]| {
        if t.eq_ignore_ascii_case(b"AL") {
            true
        } else if t.eq_ignore_ascii_case(b"ER") {
            outcome != Outcome::Accept
        } else if t.eq_ignore_ascii_case(b"SU") {
            outcome == Outcome::Accept
        } else {
            false
        }
    };
    let original = match outcome {
        Outcome::Accept => Code::AA,
        Outcome::Error => Code::AE,
        Outcome::Reject => Code::AR,
    };
    let enhanced = match outcome {
        Outcome::Accept => Code::CA,
        Outcome::Error => Code::CE,
        Outcome::Reject => Code::CR,
    };
    match mode {
        Mode::None => None,
        Mode::Original => Some(original),
        Mode::Enhanced => Some(enhanced),
        Mode::Auto if accept.is_empty() && app.is_empty() => Some(original),
        // A commit ACK when MSH-15 asks for one; else an application ACK when MSH-16 does (one
        // reply per message: with AL/AL the commit ACK is the one sent).
        Mode::Auto if wanted(accept) => Some(enhanced),
        Mode::Auto => wanted(app).then_some(original),
    }
}

/// The code [`build`] sends for `outcome` under `opts`: `opts.code` when one is forced (and
/// the mode is not none), else what [`choose`] says; `None` for an ACK, which is never answered.
pub fn code_for(msg: &Message<'_>, outcome: Outcome, opts: &Options<'_>) -> Option<Code> {
    if is_ack(msg) {
        return None;
    }
    match opts.code {
        Some(c) if opts.mode != Mode::None => Some(c),
        _ => choose(msg, opts.mode, outcome),
    }
}

/// True when the message is itself an acknowledgment (MSH-9.1 `ACK`), which is never answered.
pub fn is_ack(msg: &Message<'_>) -> bool {
    // MSH-9.1 can only be ACK when the field starts so: most messages are decided by that.
    msg.header_field(9)
        .is_some_and(|f| f.raw.starts_with(b"ACK") && f.component(1).raw == b"ACK")
}

/// The ERR problem for a message that parsed but failed [`Message::validate`]: 101 for a
/// missing required field, 203 for a version that is not one, 100 for a line that is not a
/// segment.
pub fn problem_for(e: &crate::model::message::MessageError) -> Problem {
    let code = match e.path.as_deref() {
        Some(_) if e.what.contains("missing") => 101,
        Some("MSH-12") => 203,
        Some(_) => 102,
        None => 100,
    };
    Problem {
        code,
        location: e.path.clone(),
        text: e.to_string(),
    }
}

/// The text of an HL7 table 0357 code.
pub fn error_text(code: u32) -> &'static str {
    match code {
        0 => "Message accepted",
        100 => "Segment sequence error",
        101 => "Required field missing",
        102 => "Data type error",
        103 => "Table value not found",
        104 => "Value too long",
        200 => "Unsupported message type",
        201 => "Unsupported event code",
        202 => "Unsupported processing id",
        203 => "Unsupported version id",
        204 => "Unknown key identifier",
        205 => "Duplicate key identifier",
        206 => "Application record locked",
        _ => "Application internal error",
    }
}

#[cfg(test)]
mod tests {
    use super::{Mode, Options};

    /// The options of the tests' ACKs: a fixed time and control id, the mode from MSH-15/16.
    pub(super) fn opts() -> Options<'static> {
        Options {
            now: "20240315120000",
            control_id: "ACK1",
            app: None,
            facility: None,
            mode: Mode::Auto,
            code: None,
            text: None,
        }
    }
}
