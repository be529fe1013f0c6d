//! `hl7`: a fast HL7 v2 toolkit library.
//!
//! The library knows nothing of command lines, terminals or exit codes; the `hl7` binary's
//! subcommands are thin layers over it. Its folders are its layers (docs/architecture.md):
//!
//! - [`model`]: the ground floor. Separators, the zero-copy [`Message`], escapes, charsets,
//!   field names and the [`Path`] grammar.
//! - [`time`] and [`id`]: the one clock and time module and the one control-id module.
//! - [`wire`]: framing and transport without a command line: MLLP, TLS, addresses.
//! - [`ack`]: ACK/NAK building and the decision of what to answer to a frame.
//! - [`transform`]: bytes to messages ([`transform::split`]), JSON both ways, CSV, `--select`
//!   rows, templates, OBX flattening, ILP rows.
//! - [`client`]: the MLLP client of `hl7 send` (MSA-2 matching, retries, pacing, the connection
//!   pool) and the QuestDB sender of `hl7 ilp`.
//! - [`server`]: the MLLP server of `hl7 listen` (connections, group commit, the archive).
//! - [`simulate`]: seeded generators of realistic traffic.
//!
//! Data flows one way: bytes are cut into messages by [`transform::split`], each message is a
//! zero-copy [`Message`] over its bytes, values are found with a [`Path`] and decoded only when
//! asked for, and writers turn them into JSON, CSV, HL7 or ILP.
//!
//! ```
//! use hl7::Message;
//! let raw = b"MSH|^~\\&|LAB|HOSP|||20240101||ORU^R01|MSG1|P|2.5\rPID|1||123^^^HOSP^MR||O\\T\\Brien^Mary\r";
//! let msg = Message::parse(raw).unwrap();
//! assert_eq!(msg.text(&"MSH-9.2".parse().unwrap()).unwrap(), "R01");
//! assert_eq!(msg.text(&"PID-5.1".parse().unwrap()).unwrap(), "O&Brien");
//! assert_eq!(msg.text(&"PID-3.4".parse().unwrap()).unwrap(), "HOSP");
//! ```

pub mod ack;
pub mod client;
pub mod id;
pub mod model;
pub mod server;
pub mod simulate;
pub mod time;
pub mod transform;
pub mod wire;

pub use model::message::{Message, MessageError, Separators};
pub use model::path::Path;
