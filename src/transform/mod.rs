//! What turns bytes into messages and messages into other things.
//!
//! - [`split`]: bytes to messages (raw HL7, MLLP captures, NDJSON), with their locations.
//! - [`json`]: messages to NDJSON and back, losslessly.
//! - [`csv`]: the CSV writer of `parse` and `flatten`.
//! - [`pattern`]: file and archive names rendered from a message (`{MSH-9.1}/%Y%m%d.hl7`).
//! - [`template`]: the template language of `convert` and templated ACKs.
//! - [`flatten`]: OBX observations to rows, driven by a map.
//! - [`obx`]: paths read for one observation (the per-OBX rows of `parse` and `flatten`).
//! - [`ilp`]: rows to InfluxDB Line Protocol (the sender that delivers them is
//!   `client::ilp`).

pub mod csv;
pub mod flatten;
pub mod ilp;
pub mod json;
pub mod obx;
pub mod pattern;
pub mod split;
pub mod template;
