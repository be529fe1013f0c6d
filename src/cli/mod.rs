//! The top of the binary: the clap tree, dispatch, and what is generated from the tree (the
//! `man` and `completions` subcommands). `argv[0]` = `hl7-<cmd>` (a symlink or copy) runs
//! `hl7 <cmd>`: a multi-call binary.
//!
//! This module imports the adapters in `cmd`; nothing imports it but `main`.

pub mod completions;
pub mod man;

use std::ffi::OsString;

use clap::{CommandFactory, Parser, Subcommand};

use crate::cmd;
use crate::shell::{self, Exit, Global};

/// A fast, scriptable HL7 v2 toolkit: Unix filters that read and write HL7, NDJSON or CSV
///
/// Subcommands read files or stdin and write stdout, so they pipe into one another, as in
/// `hl7 listen :2575 | hl7 flatten --map elisa.toml | hl7 ilp --map elisa.toml http://localhost:9000`.
///
/// The input format (raw HL7, MLLP-framed capture, NDJSON) is detected per stream; --from
/// overrides it. stdout carries data only; diagnostics, progress and stats go to stderr, and
/// never message contents.
///
/// Invoked as hl7-<command> (a symlink or copy), the binary runs that subcommand.
#[derive(Parser, Debug)]
#[command(name = "hl7", version, propagate_version = true, max_term_width = 100)]
#[command(after_help = shell::exit::codes_help())]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Listen(cmd::listen::Args),
    Send(cmd::send::Args),
    // simulate has a --version of its own: the HL7 version it writes.
    #[command(disable_version_flag = true)]
    Simulate(cmd::simulate::Args),
    Parse(cmd::parse::Args),
    Ack(cmd::ack::Args),
    Convert(cmd::convert::Args),
    Flatten(cmd::flatten::Args),
    Ilp(cmd::ilp::Args),
    Completions(completions::Args),
    Man(man::Args),
}

/// The subcommand names, for multi-call dispatch.
pub const SUBCOMMANDS: [&str; 10] = [
    "listen",
    "send",
    "simulate",
    "parse",
    "ack",
    "convert",
    "flatten",
    "ilp",
    "completions",
    "man",
];

/// The clap command tree.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Rewrites argv for multi-call use: `hl7-parse x` becomes `hl7 parse x`.
pub fn multicall_args(args: Vec<OsString>) -> Vec<OsString> {
    let Some(argv0) = args.first() else {
        return args;
    };
    let base = std::path::Path::new(argv0)
        .file_name()
        .map(|f| f.to_string_lossy().trim_end_matches(".exe").to_string())
        .unwrap_or_default();
    match base.strip_prefix("hl7-") {
        Some(sub) if SUBCOMMANDS.contains(&sub) => {
            let mut v = vec![OsString::from("hl7"), OsString::from(sub)];
            v.extend(args.into_iter().skip(1));
            v
        }
        _ => args,
    }
}

/// The name of the subcommand, for error messages.
pub fn name(c: &Command) -> &'static str {
    match c {
        Command::Listen(_) => "listen",
        Command::Send(_) => "send",
        Command::Simulate(_) => "simulate",
        Command::Parse(_) => "parse",
        Command::Ack(_) => "ack",
        Command::Convert(_) => "convert",
        Command::Flatten(_) => "flatten",
        Command::Ilp(_) => "ilp",
        Command::Completions(_) => "completions",
        Command::Man(_) => "man",
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> shell::Result<Exit> {
    let g = &cli.global;
    match cli.command {
        Command::Listen(a) => cmd::listen::run(a, g),
        Command::Send(a) => cmd::send::run(a, g),
        Command::Simulate(a) => cmd::simulate::run(a, g),
        Command::Parse(a) => cmd::parse::run(a, g),
        Command::Ack(a) => cmd::ack::run(a, g),
        Command::Convert(a) => cmd::convert::run(a, g),
        Command::Flatten(a) => cmd::flatten::run(a, g),
        Command::Ilp(a) => cmd::ilp::run(a, g),
        Command::Completions(a) => completions::run(a, g),
        Command::Man(a) => man::run(a, g),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_tree_is_consistent() {
        super::command().debug_assert();
    }

    #[test]
    fn multicall() {
        let v = super::multicall_args(vec!["/usr/bin/hl7-parse".into(), "-q".into()]);
        assert_eq!(v, ["hl7", "parse", "-q"]);
        let v = super::multicall_args(vec!["hl7".into(), "parse".into()]);
        assert_eq!(v, ["hl7", "parse"]);
        let v = super::multicall_args(vec!["hl7-nope".into()]);
        assert_eq!(v, ["hl7-nope"]);
    }
}
