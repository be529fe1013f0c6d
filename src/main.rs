//! The `hl7` binary: parse the arguments, run the subcommand, print the error, pick the exit
//! code. A closed downstream pipe is success (`hl7 parse big.hl7 | head -1` exits 0 quietly).

mod cli;
mod cmd;
mod shell;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::multicall_args(std::env::args_os().collect());
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                shell::Exit::Usage as u8
            } else {
                0
            });
        }
    };
    let name = cli::name(&cli.command);
    match cli::run(cli) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) if e.broken_pipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hl7 {name}: {e}");
            ExitCode::from(e.exit as u8)
        }
    }
}
