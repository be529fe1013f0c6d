//! Clients: what sends to a peer and reads its answers, without a command line.

pub mod ilp;
