//! How a subcommand ends: [`Error`], and [`Exit`], the one table of exit codes. `hl7 --help`,
//! each subcommand's `--help` and the man pages (rendered from the same clap tree) print the
//! text made here from it, so the codes are described in one place.

use std::fmt;
use std::io;

/// The exit codes. What each means, as users read it, is [`Exit::meaning`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Failure = 1,
    Usage = 2,
    Rejected = 3,
}

impl Exit {
    /// Every code, in order.
    pub const ALL: [Exit; 4] = [Exit::Ok, Exit::Failure, Exit::Usage, Exit::Rejected];
    /// The codes of a subcommand that has no peer or database to reject anything.
    pub const BASIC: [Exit; 3] = [Exit::Ok, Exit::Failure, Exit::Usage];

    /// What the code means, for every subcommand; a subcommand that means more by it says so
    /// in a note of its own (see [`after_help`]).
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "success (also when the downstream pipe closed)",
            // short enough for one line of `--help` (100 columns)
            Exit::Failure => {
                "runtime failure: I/O, network, or invalid input seen (after the whole input unless --strict)"
            }
            Exit::Usage => "usage error: bad flag, path, map or template, found before any I/O",
            Exit::Rejected => "a peer or database rejected something (AE/AR/CE/CR, refused rows)",
        }
    }
}

/// The exit-code table of `hl7 --help`: every code.
pub fn codes_help() -> String {
    table(&Exit::ALL, &[])
}

/// A subcommand's `after_long_help`: its own text, then the table of the codes it can end
/// with, each note (what the code also means for it) on a line under its code.
pub fn after_help(text: &str, codes: &[Exit], notes: &[(Exit, &str)]) -> String {
    format!("{text}\n\n{}", table(codes, notes))
}

fn table(codes: &[Exit], notes: &[(Exit, &str)]) -> String {
    let mut s = String::from("Exit codes:");
    for &code in codes {
        s.push_str(&format!("\n  {}  {}", code as u8, code.meaning()));
        for (_, note) in notes.iter().filter(|(c, _)| *c == code) {
            s.push_str(&format!("\n     {note}"));
        }
    }
    s
}

/// An error that ends a subcommand, with the exit code it means.
#[derive(Debug)]
pub struct Error {
    pub exit: Exit,
    pub msg: String,
    /// Set when the error is a closed downstream pipe, which is success.
    pub broken_pipe: bool,
}

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Error {
            exit: Exit::Usage,
            msg: msg.into(),
            broken_pipe: false,
        }
    }
    pub fn failure(msg: impl Into<String>) -> Self {
        Error {
            exit: Exit::Failure,
            msg: msg.into(),
            broken_pipe: false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error {
            exit: Exit::Failure,
            broken_pipe: e.kind() == io::ErrorKind::BrokenPipe,
            msg: e.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_the_codes_with_their_notes() {
        assert_eq!(
            after_help(
                "Examples:\n  x",
                &[Exit::Ok, Exit::Failure],
                &[(Exit::Failure, "also y")]
            ),
            format!(
                "Examples:\n  x\n\nExit codes:\n  0  {}\n  1  {}\n     also y",
                Exit::Ok.meaning(),
                Exit::Failure.meaning()
            )
        );
        assert_eq!(codes_help().lines().count(), 1 + Exit::ALL.len());
    }
}
