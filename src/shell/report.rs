//! Lines on stderr: [`Reporter`] (errors and warnings as `hl7 <cmd>: <where>: <what>`, with
//! [`Loc`] for the where) and [`Stats`] (`--stats` counters).

use std::fmt;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use super::Global;

/// Where in the input something is, for messages on stderr.
#[derive(Clone, Debug, Default)]
pub struct Loc {
    pub file: Option<String>,
    pub message: Option<u64>,
    pub byte: Option<u64>,
    pub path: Option<String>,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(file) = &self.file {
            parts.push(file.clone());
        }
        match (self.message, self.byte) {
            (Some(m), Some(b)) => parts.push(format!("message {m} (byte {b})")),
            (Some(m), None) => parts.push(format!("message {m}")),
            (None, Some(b)) => parts.push(format!("byte {b}")),
            (None, None) => {}
        }
        if let Some(p) = &self.path {
            parts.push(p.clone());
        }
        f.write_str(&parts.join(": "))
    }
}

/// Reports errors and warnings on stderr as `hl7 <cmd>: <where>: <what>`, and counts them.
/// Never prints message contents: only positions, paths, control ids and counts.
pub struct Reporter {
    cmd: &'static str,
    quiet: bool,
    pub errors: u64,
    pub warnings: u64,
    /// How often each warning text was seen, so a stream of the same warning does not drown
    /// the errors: each is shown [`Reporter::REPEATS`] times, then counted.
    repeats: std::collections::HashMap<String, u64>,
}

impl Reporter {
    pub fn new(cmd: &'static str, global: &Global) -> Self {
        Reporter {
            cmd,
            quiet: global.quiet,
            errors: 0,
            warnings: 0,
            repeats: Default::default(),
        }
    }

    fn line(&self, loc: &Loc, kind: &str, what: &dyn fmt::Display) {
        let loc = loc.to_string();
        let mut err = io::stderr().lock();
        let _ = if loc.is_empty() {
            writeln!(err, "hl7 {}: {kind}{what}", self.cmd)
        } else {
            writeln!(err, "hl7 {}: {kind}{loc}: {what}", self.cmd)
        };
    }

    pub fn error(&mut self, loc: &Loc, what: &dyn fmt::Display) {
        self.errors += 1;
        self.line(loc, "", what);
    }

    pub const REPEATS: u64 = 5;

    pub fn warn(&mut self, loc: &Loc, what: &dyn fmt::Display) {
        self.warnings += 1;
        if self.quiet {
            return;
        }
        let text = what.to_string();
        let seen = self.repeats.entry(text).or_insert(0);
        *seen += 1;
        if *seen <= Self::REPEATS {
            self.line(loc, "warning: ", what);
        }
    }

    /// Says how many repeated warnings were not shown. Call once at the end.
    pub fn finish(&self) {
        let mut hidden: Vec<_> = self
            .repeats
            .iter()
            .filter(|(_, n)| **n > Self::REPEATS)
            .collect();
        hidden.sort();
        for (what, n) in hidden {
            self.info(&format!(
                "warning: {} more like this not shown: {what}",
                n - Self::REPEATS
            ));
        }
    }

    pub fn info(&self, what: &dyn fmt::Display) {
        let _ = writeln!(io::stderr().lock(), "hl7 {}: {what}", self.cmd);
    }
}

/// Periodic counters on stderr (`--stats`).
pub struct Stats {
    enabled: bool,
    start: Instant,
    last: Instant,
}

impl Stats {
    pub fn new(global: &Global) -> Self {
        let now = Instant::now();
        Stats {
            enabled: global.stats,
            start: now,
            last: now,
        }
    }

    /// Prints `line()` when a second has passed since the last print (`None`: nothing to say).
    pub fn tick<L: Into<Option<String>>>(&mut self, report: &Reporter, line: impl FnOnce() -> L) {
        if self.enabled && self.last.elapsed() >= Duration::from_secs(1) {
            self.last = Instant::now();
            if let Some(line) = line().into() {
                report.info(&line);
            }
        }
    }

    /// Prints the final counters, given the seconds since the start.
    pub fn finish<L: Into<Option<String>>>(&self, report: &Reporter, line: impl FnOnce(f64) -> L) {
        if self.enabled
            && let Some(line) = line(self.start.elapsed().as_secs_f64()).into()
        {
            report.info(&line);
        }
    }
}
