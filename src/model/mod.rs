//! The ground floor: what an HL7 v2 message is, with no I/O. Everything else builds on this
//! layer, and it imports nothing from the others.
//!
//! - [`separators`]: the delimiters a message declares in MSH-1/MSH-2, and header errors.
//! - [`message`]: a zero-copy view of one message (segments, fields, repetitions, components).
//! - [`escape`]: HL7 escape sequences, both ways.
//! - [`charset`]: the character sets of MSH-18.
//! - [`fields`]: names of segments and fields, for tables and errors.
//! - [`path`]: the one field path grammar (`PID-5.1`, `OBX[2]-5`, `PID-3[2].1`).

pub mod charset;
pub mod escape;
pub mod fields;
pub mod message;
pub mod path;
pub mod separators;
