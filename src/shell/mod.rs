//! What every subcommand adapter shares, and nothing else: errors and exit codes ([`exit`]),
//! reporting on stderr and `--stats` ([`report`]), progress bars ([`progress`]), and reading
//! the inputs, live stdin included ([`input`]).
//!
//! It imports the library only; the adapters in `cmd` import it.

pub mod exit;
pub mod input;
pub mod progress;
pub mod report;

pub use exit::{Error, Exit, Result};
pub use input::{FromFormat, open_inputs, splitter};
pub use progress::{Counting, progress_bar};
pub use report::{Loc, Reporter, Stats};

/// Options every subcommand takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Global {
    /// Print no warnings (errors are still printed)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Show a progress bar on stderr even when stderr is not a terminal
    #[arg(long, global = true)]
    pub progress: bool,
    /// Print counters to stderr every second and at the end
    #[arg(long, global = true)]
    pub stats: bool,
}
