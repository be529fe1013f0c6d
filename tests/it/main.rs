//! The integration tests: one test binary (one link step), a module per subcommand and one of
//! helpers they share. They run the real `hl7` binary through assert_cmd, over the corpus in
//! `tests/fixtures/`, with real sockets on 127.0.0.1 and the peers of `tests/py/`.

mod ack;
mod architecture;
mod cli;
mod convert;
mod delivery;
mod flatten;
mod ilp;
mod listen;
mod no_panic;
mod parse;
mod pipeline;
mod send;
mod simulate;
mod util;
