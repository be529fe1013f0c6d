//! What every subcommand adapter shares, and nothing else: errors and exit codes, reporting on
//! stderr, progress and stats, opening inputs and reading a live stdin.
//!
//! It imports the library only; the adapters in `cmd` import it.

use std::fmt;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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

/// One input: a file or stdin.
pub struct Input {
    /// `None` for stdin.
    pub name: Option<String>,
    pub reader: Box<dyn Read>,
    /// Size in bytes when known (files).
    pub size: Option<u64>,
    /// For stdin: set when the writer paused; a command that buffers its output flushes then,
    /// so a live pipeline moves message by message (see [`Input::paused`]).
    pub pause: Option<Arc<AtomicBool>>,
}

impl Input {
    /// True (once) when the input's writer paused since the last call.
    pub fn paused(pause: &Option<Arc<AtomicBool>>) -> bool {
        pause
            .as_ref()
            .is_some_and(|p| p.swap(false, Ordering::Relaxed))
    }
}

/// Opens the inputs named on the command line; none or `-` is stdin. A file that cannot be
/// opened is reported and skipped, and counts as an error.
pub fn open_inputs(files: &[PathBuf], report: &mut Reporter) -> Vec<Input> {
    if files.is_empty() {
        return vec![stdin_input()];
    }
    let mut out = Vec::new();
    for f in files {
        if f.as_os_str() == "-" {
            out.push(stdin_input());
            continue;
        }
        match File::open(f) {
            Ok(file) => {
                let size = file
                    .metadata()
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len());
                out.push(Input {
                    name: Some(f.display().to_string()),
                    reader: Box::new(file),
                    size,
                    pause: None,
                });
            }
            Err(e) => report.error(
                &Loc {
                    file: Some(f.display().to_string()),
                    ..Loc::default()
                },
                &format!("cannot open: {e}"),
            ),
        }
    }
    out
}

fn stdin_input() -> Input {
    let stdin = LiveStdin::new();
    let pause = Arc::clone(&stdin.paused);
    Input {
        name: None,
        reader: Box::new(stdin),
        size: None,
        pause: Some(pause),
    }
}

/// How long stdin may stay silent before a reader is told the writer paused.
const PAUSE: Duration = Duration::from_millis(100);

/// stdin read on a thread of its own, so that a pause of the writer shows as a `TimedOut`
/// read instead of a blocked one. Raw HL7 has no end-of-message mark, so this is how the
/// splitter learns that a live pipe's message is complete (`hl7 listen | hl7 parse`,
/// `hl7 simulate --rate 1/s | hl7 send`) instead of waiting for the next `MSH`.
struct LiveStdin {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
    paused: Arc<AtomicBool>,
}

impl LiveStdin {
    fn new() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        std::thread::spawn(move || {
            let mut stdin = io::stdin().lock();
            loop {
                let mut buf = vec![0u8; 64 * 1024];
                match stdin.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.send(Ok(buf)).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        LiveStdin {
            rx,
            chunk: Vec::new(),
            pos: 0,
            paused: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Read for LiveStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.chunk.len() {
            match self.rx.recv_timeout(PAUSE) {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    self.paused.store(true, Ordering::Relaxed);
                    return Err(io::ErrorKind::TimedOut.into());
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A progress bar on stderr: shown when stderr is a terminal and the size is known, or when
/// forced with `--progress`; hidden otherwise.
pub fn progress_bar(global: &Global, total: Option<u64>) -> ProgressBar {
    let show = global.progress || (io::stderr().is_terminal() && total.is_some());
    if !show || global.quiet {
        return ProgressBar::hidden();
    }
    let target = if io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        // --progress when stderr is not a terminal: indicatif would hide the bar, so draw it
        // ourselves, a line redrawn in place.
        ProgressDrawTarget::term_like_with_hz(Box::new(PlainStderr), 2)
    };
    let bar = ProgressBar::with_draw_target(total, target);
    let style = if total.is_some() {
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}")
    } else {
        ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec} {msg}")
    };
    if let Ok(s) = style {
        bar.set_style(s);
    }
    bar
}

/// Moves the cursor `n` places (`A` up, `B` down, `C` right, `D` left); 0 is no move, where
/// ANSI would read it as 1.
fn cursor(n: usize, dir: char) -> io::Result<()> {
    if n == 0 {
        return Ok(());
    }
    write!(io::stderr(), "\x1b[{n}{dir}")
}

/// stderr as indicatif's terminal, when it is not one: fixed width, cursor moves as ANSI codes.
#[derive(Debug)]
struct PlainStderr;

impl indicatif::TermLike for PlainStderr {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        cursor(n, 'A')
    }
    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        cursor(n, 'B')
    }
    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        cursor(n, 'C')
    }
    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        cursor(n, 'D')
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        writeln!(io::stderr(), "{s}")
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        write!(io::stderr(), "{s}")
    }
    fn clear_line(&self) -> io::Result<()> {
        write!(io::stderr(), "\r\x1b[2K")
    }
    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// A reader that advances a progress bar.
pub struct Counting<R> {
    pub inner: R,
    pub bar: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
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

    /// Prints `line()` when a second has passed since the last print.
    pub fn tick(&mut self, report: &Reporter, line: impl FnOnce() -> String) {
        if self.enabled && self.last.elapsed() >= Duration::from_secs(1) {
            self.last = Instant::now();
            report.info(&line());
        }
    }

    /// Prints the final counters.
    pub fn finish(&self, report: &Reporter, line: impl FnOnce(f64) -> String) {
        if self.enabled {
            report.info(&line(self.start.elapsed().as_secs_f64()));
        }
    }
}

/// The input formats of `--from`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FromFormat {
    /// Raw HL7: segments ended by \r, \n or \r\n; several messages; FHS/BHS batches
    Hl7,
    /// MLLP-framed capture: 0x0B message 0x1C 0x0D
    Mllp,
    /// One JSON document a line, as written by `hl7 parse` or `hl7 listen --meta`
    Ndjson,
}

/// A splitter for a `--from` choice (`None`: detect the format).
/// The next item of an input: `None` at its end, or after a read error, which is reported
/// with the input's name (the rest of that input is given up; the next input is read).
pub fn next_item<'s, R: Read>(
    splitter: &'s mut hl7::transform::split::Splitter<R>,
    report: &mut Reporter,
    file: &Option<String>,
) -> Option<hl7::transform::split::Item<'s>> {
    match splitter.next_item() {
        Ok(item) => item,
        Err(e) => {
            report.error(
                &Loc {
                    file: file.clone(),
                    ..Loc::default()
                },
                &format!("read error: {e}"),
            );
            None
        }
    }
}

pub fn splitter<R: Read>(
    reader: R,
    from: Option<FromFormat>,
) -> hl7::transform::split::Splitter<R> {
    match from {
        Some(f) => hl7::transform::split::Splitter::with_format(reader, f.format()),
        None => hl7::transform::split::Splitter::new(reader),
    }
}

impl FromFormat {
    pub fn format(self) -> hl7::transform::split::Format {
        match self {
            FromFormat::Hl7 => hl7::transform::split::Format::Hl7,
            FromFormat::Mllp => hl7::transform::split::Format::Mllp,
            FromFormat::Ndjson => hl7::transform::split::Format::Ndjson,
        }
    }
}
