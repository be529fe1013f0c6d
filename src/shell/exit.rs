//! How a subcommand ends: [`Error`], and [`Exit`], the table of exit codes.

use std::fmt;
use std::io;

/// The exit codes, in one place; `--help` and the manual print [`EXIT_CODES_HELP`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success, also when the downstream pipe closed.
    Ok = 0,
    /// Runtime failure: I/O, network, or invalid input seen.
    Failure = 1,
    /// Usage error: bad flag, path, map or template, found before any I/O.
    Usage = 2,
    /// A peer or the database rejected something (used by send and ilp).
    #[allow(dead_code)]
    Rejected = 3,
}

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (also when the downstream pipe closed)
  1  runtime failure: I/O, network, or invalid input seen (after finishing the stream unless --strict)
  2  usage error: bad flag, path, map or template, found before any I/O
  3  a peer or database rejected something (AE/AR/CE/CR, refused rows)";

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
