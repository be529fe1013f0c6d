//! `hl7`: a fast HL7 v2 toolkit library.
//!
//! The library knows nothing of command lines, terminals or exit codes; the `hl7` binary's
//! subcommands are thin layers over it. Data flows one way: bytes are cut into messages by
//! [`split`], each message is a zero-copy [`message::Message`] over its bytes, values are found
//! with [`path::Path`] and decoded only when asked for ([`escape`], [`charset`]), and
//! [`json`] turns messages into JSON and back.
//!
//! ```
//! use hl7::message::Message;
//! let raw = b"MSH|^~\\&|LAB|HOSP|||20240101||ORU^R01|MSG1|P|2.5\rPID|1||123^^^HOSP^MR||O\\T\\Brien^Mary\r";
//! let msg = Message::parse(raw).unwrap();
//! assert_eq!(msg.text(&"MSH-9.2".parse().unwrap()).unwrap(), "R01");
//! assert_eq!(msg.text(&"PID-5.1".parse().unwrap()).unwrap(), "O&Brien");
//! assert_eq!(msg.text(&"PID-3.4".parse().unwrap()).unwrap(), "HOSP");
//! ```

pub mod ack;
pub mod charset;
pub mod escape;
pub mod fields;
pub mod flatten;
pub mod ilp;
pub mod json;
pub mod message;
pub mod mllp;
pub mod path;
pub mod pattern;
pub mod simulate;
pub mod split;
pub mod template;
pub mod tls;

pub use message::{Message, MessageError, Separators};
pub use path::Path;
