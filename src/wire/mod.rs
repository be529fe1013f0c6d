//! Framing and transport, without a command line: sockets are fine here, argv and stdout are
//! not.
//!
//! - [`mllp`]: the MLLP frame codec (sans-IO: bytes in, events out).
//! - [`tls`]: MLLP over TLS (rustls), one stream type for plain and TLS connections.
//! - [`addr`]: the address forms `listen` and `send` accept.
//! - [`receipt`]: the marks `listen` writes down its pipeline and the receipts `ilp` sends back
//!   (`--ack-after delivered`).

pub mod addr;
pub mod mllp;
pub mod receipt;
pub mod tls;
