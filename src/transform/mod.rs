//! What turns bytes into messages and messages into other things.
//!
//! - [`split`]: bytes to messages (raw HL7, MLLP captures, NDJSON), with their locations.
//! - [`json`]: messages to NDJSON and back, losslessly.
//! - [`envelope`]: the `--meta` envelope of a received message, written and read.
//! - [`csv`]: the CSV writer of `parse` and `flatten`.
//! - [`pattern`]: file and archive names rendered from a message (`{MSH-9.1}/%Y%m%d.hl7`).
//! - [`select`]: `--select` paths turned into rows, one per message or per OBX.
//! - [`files`]: renderings written to files named by a pattern (`convert --output`).
//! - [`template`]: the template language of `convert` and templated ACKs.
//! - [`flatten`]: OBX observations to rows, driven by a map.
//! - [`obx`]: paths read for one observation (the per-OBX rows of `parse` and `flatten`).
//! - [`ilp`]: rows to InfluxDB Line Protocol (the sender that delivers them is
//!   `client::ilp`).

pub mod csv;
pub mod envelope;
pub mod files;
pub mod flatten;
pub mod ilp;
pub mod json;
mod json_str;
pub mod obx;
pub mod pattern;
pub mod select;
pub mod split;
pub mod template;
