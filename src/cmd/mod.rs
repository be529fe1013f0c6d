//! The subcommands: one thin adapter each, `Args` (its doc comments are `--help`) and `run()`.
//! What they share lives in `crate::shell`; the work itself lives in the library.

pub mod ack;
pub mod convert;
pub mod flatten;
pub mod ilp;
pub mod listen;
pub mod parse;
pub mod send;
pub mod simulate;
