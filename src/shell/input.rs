//! Reading the inputs: files and stdin ([`open_inputs`]), stdin as a live pipe
//! ([`LiveStdin`]), and [`Reading::run`], the loop every message filter (parse, flatten,
//! convert, ack) reads through, so that each of them says only what it does with a message.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::Duration;

use hl7::model::message::{Message, MessageError};
use hl7::transform::json;
use hl7::transform::split::{self, Item, Splitter};
use indicatif::ProgressBar;

use super::{Counting, Exit, Global, Loc, Reporter, Result, Stats, progress_bar};

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

impl FromFormat {
    pub fn format(self) -> split::Format {
        match self {
            FromFormat::Hl7 => split::Format::Hl7,
            FromFormat::Mllp => split::Format::Mllp,
            FromFormat::Ndjson => split::Format::Ndjson,
        }
    }
}

/// A splitter for a `--from` choice (`None`: detect the format).
pub fn splitter<R: Read>(reader: R, from: Option<FromFormat>) -> Splitter<R> {
    match from {
        Some(f) => Splitter::with_format(reader, f.format()),
        None => Splitter::new(reader),
    }
}

/// One input: a file or stdin.
pub struct Input {
    /// `None` for stdin.
    pub name: Option<String>,
    pub reader: Box<dyn Read>,
    /// Size in bytes when known (files).
    pub size: Option<u64>,
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
    Input {
        name: None,
        reader: Box::new(LiveStdin::new()),
        size: None,
    }
}

/// Opens the inputs with one progress bar over them all (hidden unless `progress`), each
/// input's reader moving it.
pub fn open_counted(
    files: &[PathBuf],
    global: &Global,
    progress: bool,
    report: &mut Reporter,
) -> (Vec<Input>, ProgressBar) {
    let mut inputs = open_inputs(files, report);
    let total = inputs.iter().map(|i| i.size).sum::<Option<u64>>();
    let bar = match progress {
        true => progress_bar(global, total),
        false => ProgressBar::hidden(),
    };
    for input in &mut inputs {
        let inner = std::mem::replace(&mut input.reader, Box::new(io::empty()));
        input.reader = Box::new(Counting {
            inner,
            bar: bar.clone(),
        });
    }
    (inputs, bar)
}

/// Reports a read error of an input; the rest of that input is given up.
pub fn read_error(report: &mut Reporter, file: Option<&str>, e: &io::Error) {
    report.error(
        &Loc {
            file: file.map(str::to_string),
            ..Loc::default()
        },
        &format!("read error: {e}"),
    );
}

/// The next item of an input: `None` at its end, or after a read error, which is reported
/// with the input's name (the rest of that input is given up; the next input is read).
fn next_item<'s, R: Read>(
    splitter: &'s mut Splitter<R>,
    report: &mut Reporter,
    file: &Option<String>,
) -> Option<Item<'s>> {
    match splitter.next_item() {
        Ok(item) => item,
        Err(e) => {
            read_error(report, file.as_deref(), &e);
            None
        }
    }
}

/// How long stdin may stay silent before a reader is told the writer paused.
const PAUSE: Duration = Duration::from_millis(100);

/// stdin as a live pipe. Two things a reader of a live pipe must learn, and how it learns them:
///
/// - **Nothing more is ready now**: a read fails with `WouldBlock` (once; the next read waits).
///   The splitter then gives [`Item::Idle`] and the filter writes out what it has, as a
///   line-buffered `grep` does: under a steady stream of small messages the rows flow at once
///   instead of waiting for a quiet moment, and a busy input (always ready) still goes out in
///   big writes. `hl7 ilp` flushes its batch then.
/// - **The writer paused** ([`PAUSE`] with nothing new): the read fails with `TimedOut`. Raw
///   HL7 has no end-of-message mark, so this is how the splitter learns that a live pipe's
///   last message is complete (`hl7 simulate --rate 1/s | hl7 send`) instead of waiting for
///   the next `MSH`. It is not taken from "nothing ready", because a writer may be between two
///   writes of one message.
///
/// After a `TimedOut` the next read asks again whether anything is ready, so a quiet input
/// gives an `Idle` every [`PAUSE`] (cheap: there is nothing to flush). Files never wait, and
/// read as before.
pub struct LiveStdin {
    /// `WouldBlock` was said since the last data or pause: the next read waits.
    told: bool,
    #[cfg(not(unix))]
    thread: threaded::Threaded,
}

impl LiveStdin {
    fn new() -> Self {
        LiveStdin {
            told: false,
            #[cfg(not(unix))]
            thread: threaded::Threaded::spawn(io::stdin()),
        }
    }

    /// On Unix: `poll(2)`, then a read straight into the caller's buffer, in this thread (no
    /// copy, no second thread: it matters at millions of `hl7 ilp` rows a second).
    #[cfg(unix)]
    fn read_or_time_out(&mut self, buf: &mut [u8], wait: Duration) -> io::Result<usize> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        use rustix::io::Errno;
        use std::os::fd::AsFd;
        let stdin = io::stdin();
        let fd = stdin.as_fd();
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let timeout = Timespec::try_from(wait).ok();
        match poll(&mut fds, timeout.as_ref()) {
            Ok(0) if wait.is_zero() => return Err(io::ErrorKind::WouldBlock.into()),
            Ok(0) => return Err(io::ErrorKind::TimedOut.into()),
            Ok(_) => {}
            Err(Errno::INTR) => return Err(io::ErrorKind::Interrupted.into()),
            Err(e) => return Err(e.into()),
        }
        match rustix::io::read(fd, buf) {
            Ok(n) => Ok(n),
            Err(Errno::AGAIN) => Err(io::ErrorKind::WouldBlock.into()),
            // a closed stdin reads as empty, as std's stdin has it
            Err(Errno::BADF) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// Elsewhere stdin has no portable wait with a timeout: a thread reads it.
    #[cfg(not(unix))]
    fn read_or_time_out(&mut self, buf: &mut [u8], wait: Duration) -> io::Result<usize> {
        self.thread.read_within(buf, wait)
    }
}

impl Read for LiveStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let wait = if self.told { PAUSE } else { Duration::ZERO };
        let read = self.read_or_time_out(buf, wait);
        self.told = matches!(&read, Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        read
    }
}

/// The live-stdin reader where `poll(2)` is not available; built in Unix tests too, so that it
/// is tested where the project is.
#[cfg(any(not(unix), test))]
mod threaded {
    use std::io::{self, Read};
    use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError, sync_channel};
    use std::time::Duration;

    /// A reader whose reads happen on a thread of its own, so that a read can give up at once
    /// (`WouldBlock`) or after a while (`TimedOut`) while the thread goes on waiting.
    pub struct Threaded {
        rx: Receiver<io::Result<Vec<u8>>>,
        chunk: Vec<u8>,
        pos: usize,
    }

    impl Threaded {
        pub fn spawn(mut source: impl Read + Send + 'static) -> Self {
            let (tx, rx) = sync_channel(4);
            std::thread::spawn(move || {
                loop {
                    let mut buf = vec![0u8; 64 * 1024];
                    match source.read(&mut buf) {
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
            Threaded {
                rx,
                chunk: Vec::new(),
                pos: 0,
            }
        }
    }

    impl Threaded {
        /// Reads what the thread has; waits at most `wait` for it (zero: `WouldBlock` when
        /// nothing is ready).
        pub fn read_within(&mut self, buf: &mut [u8], wait: Duration) -> io::Result<usize> {
            if self.pos == self.chunk.len() {
                let got = if wait.is_zero() {
                    self.rx.try_recv().map_err(|e| match e {
                        TryRecvError::Empty => Some(io::ErrorKind::WouldBlock),
                        TryRecvError::Disconnected => None,
                    })
                } else {
                    self.rx.recv_timeout(wait).map_err(|e| match e {
                        RecvTimeoutError::Timeout => Some(io::ErrorKind::TimedOut),
                        RecvTimeoutError::Disconnected => None,
                    })
                };
                match got {
                    Ok(Ok(chunk)) => {
                        self.chunk = chunk;
                        self.pos = 0;
                    }
                    Ok(Err(e)) => return Err(e),
                    Err(Some(kind)) => return Err(kind.into()),
                    Err(None) => return Ok(0),
                }
            }
            let n = buf.len().min(self.chunk.len() - self.pos);
            buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    impl Read for Threaded {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.read_within(buf, super::PAUSE)
        }
    }
}

// ---- the driver ----

/// Where a message is: its input, its number in that input (from 1), its byte offset. Made
/// for every message without an allocation; a [`Loc`] is made from it only for a report.
#[derive(Clone, Copy, Debug)]
pub struct At<'a> {
    pub file: Option<&'a str>,
    /// For [`Bad::NotMessage`]: the number of the message before it.
    pub message: u64,
    pub byte: u64,
    /// The message was read from an NDJSON line (and rebuilt from its JSON).
    pub json: bool,
}

impl At<'_> {
    pub fn loc(&self) -> Loc {
        self.loc_path(None)
    }

    /// The location of a field path of the message.
    pub fn loc_path(&self, path: Option<String>) -> Loc {
        Loc {
            file: self.file.map(str::to_string),
            message: Some(self.message),
            byte: Some(self.byte),
            path,
        }
    }

    /// `bytes` further on.
    pub fn plus(self, bytes: u64) -> Self {
        At {
            byte: self.byte + bytes,
            ..self
        }
    }
}

/// Why something on the input is not handed to a filter as a message. It has been reported
/// (as an error) by then.
#[derive(Debug)]
pub enum Bad<'a> {
    /// Bytes that are not part of any message (junk between messages, segments with no MSH
    /// before them), and why.
    NotMessage(&'a [u8], String),
    /// An NDJSON line that is not a message in JSON, and why.
    Json(String),
    /// Bytes that do not parse as a message.
    Unparsable(&'a [u8], MessageError),
    /// A message that parses but does not validate (its charset resolved all the same).
    Invalid(Message<'a>, MessageError),
}

/// A message as the driver hands it over: parsed, validated and its MSH-18 charset resolved,
/// or why not.
pub type Checked<'a> = std::result::Result<Message<'a>, Bad<'a>>;

/// Which messages get a warning when their bytes do not match MSH-18 (or it names an unknown
/// charset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CharsetWarnings {
    /// None: an ACK answers a message whatever its charset.
    Never,
    /// Messages read as HL7, not those rebuilt from NDJSON (whose charset was warned about
    /// when the NDJSON was written).
    Hl7,
    Always,
}

/// What a filter says after a message: read on, or stop reading (its `--strict`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Go,
    Stop,
}

/// What a filter does with the messages of its inputs; [`Reading::run`] does the reading.
pub trait Filter {
    /// See [`CharsetWarnings`].
    const CHARSET_WARNINGS: CharsetWarnings = CharsetWarnings::Hl7;
    /// Errors in a message rebuilt from NDJSON are reported at the line's offset plus the
    /// error's offset in the rebuilt HL7, as for raw HL7 (flatten and ack have always said
    /// so), instead of at the line's offset.
    const JSON_ERROR_OFFSET: bool = false;
    /// NDJSON lines go to [`Filter::json_line`] as they are, instead of each being read as a
    /// message in JSON and handed to [`Filter::message`].
    const JSON_LINES: bool = false;
    /// A progress bar on stderr (see [`progress_bar`]).
    const PROGRESS: bool = true;

    /// One message, or why there is none at this place of the input.
    fn message(&mut self, msg: Checked<'_>, at: At<'_>, report: &mut Reporter) -> Result<Flow>;

    /// One NDJSON line, with [`Filter::JSON_LINES`].
    fn json_line(&mut self, _line: &[u8], _at: At<'_>, _report: &mut Reporter) -> Result<Flow> {
        Ok(Flow::Go)
    }

    /// A delivery mark line (`listen --ack-after delivered`), without its line end: write it
    /// (and a `\n`) to the output after what was made of the messages before it, so that
    /// `hl7 ilp` at the end of the pipeline learns which messages its rows came from. An
    /// output with no place for it (a human table, ACKs) leaves it out.
    fn mark(&mut self, line: &[u8]) -> Result<()>;

    /// An input ended (its end, or a read error); not called once reading has stopped.
    fn end_of_input(&mut self, _file: Option<&str>, _report: &mut Reporter) {}

    /// The input has nothing more ready now (a live pipe, [`Item::Idle`]): pass on what is
    /// buffered.
    fn flush(&mut self) -> Result<()>;

    /// All inputs are read: write what is left and flush.
    fn finish(&mut self) -> Result<()>;

    /// The `--stats` line, given the bytes of the messages and NDJSON lines read, and at the
    /// end the seconds taken. `None`: the filter keeps no counters.
    fn counters(&self, _bytes: u64, _secs: Option<f64>) -> Option<String> {
        None
    }
}

/// The inputs of a filter and how to read them.
pub struct Reading<'a> {
    /// Files; stdin when empty or `-`.
    pub files: &'a [PathBuf],
    pub from: Option<FromFormat>,
    /// Stop at the first thing that is not a valid message (`--strict`).
    pub strict: bool,
}

impl<'a> Reading<'a> {
    pub fn new(files: &'a [PathBuf], from: Option<FromFormat>) -> Self {
        Reading {
            files,
            from,
            strict: false,
        }
    }

    /// Stops at the first thing that is not a valid message when `strict`.
    pub fn strict(self, strict: bool) -> Self {
        Reading { strict, ..self }
    }

    /// Reads every input through `filter`, reporting read errors, split problems and messages
    /// that do not parse or validate. Exit 1 when any error was reported.
    pub fn run<F: Filter>(
        &self,
        global: &Global,
        report: &mut Reporter,
        filter: &mut F,
    ) -> Result<Exit> {
        let (inputs, bar) = open_counted(self.files, global, F::PROGRESS, report);
        let mut stats = Stats::new(global);
        let mut bytes = 0u64;
        // messages rebuilt from NDJSON, one at a time
        let mut rebuilt = Vec::new();
        'inputs: for input in inputs {
            let file = input.name.as_deref();
            let mut splitter = splitter(input.reader, self.from);
            let mut at = At {
                file,
                message: 0,
                byte: 0,
                json: false,
            };
            // to the end of this input, or a read error (reported): then on to the next input
            while let Some(item) = next_item(&mut splitter, report, &input.name) {
                let (checked, at) = match item {
                    Item::Warning { offset, what } => {
                        report.warn(&not_message(file, offset), &what);
                        (None, at)
                    }
                    Item::Invalid(chunk, why) => {
                        report.error(&not_message(file, chunk.offset), &why);
                        let bad = Bad::NotMessage(chunk.bytes, why);
                        let at = At {
                            byte: chunk.offset,
                            ..at
                        };
                        (Some(Err(bad)), at)
                    }
                    Item::Message(chunk) => {
                        bytes += chunk.bytes.len() as u64;
                        at = next(at, chunk.offset, false);
                        let checked = check::<F>(chunk.bytes, chunk.lines_checked, at, report);
                        (Some(checked), at)
                    }
                    Item::Mark(chunk) => {
                        filter.mark(chunk.bytes)?;
                        (None, at)
                    }
                    Item::Idle => {
                        filter.flush()?;
                        (None, at)
                    }
                    Item::Json(chunk) if F::JSON_LINES => {
                        bytes += chunk.bytes.len() as u64;
                        at = next(at, chunk.offset, true);
                        if filter.json_line(chunk.bytes, at, report)? == Flow::Stop {
                            break 'inputs;
                        }
                        (None, at)
                    }
                    Item::Json(chunk) => {
                        bytes += chunk.bytes.len() as u64;
                        at = next(at, chunk.offset, true);
                        rebuilt.clear();
                        let checked = match json::line_to_hl7(chunk.bytes, &mut rebuilt) {
                            Ok(_) => check::<F>(&rebuilt, false, at, report),
                            Err(e) => {
                                let e = e.to_string();
                                report.error(&at.loc(), &e);
                                Err(Bad::Json(e))
                            }
                        };
                        (Some(checked), at)
                    }
                };
                if let Some(checked) = checked {
                    let bad = checked.is_err();
                    if filter.message(checked, at, report)? == Flow::Stop || (bad && self.strict) {
                        break 'inputs;
                    }
                }
                stats.tick(report, || filter.counters(bytes, None));
            }
            filter.end_of_input(file, report);
        }
        filter.finish()?;
        bar.finish_and_clear();
        report.finish();
        stats.finish(report, |secs| filter.counters(bytes, Some(secs)));
        Ok(if report.errors > 0 {
            Exit::Failure
        } else {
            Exit::Ok
        })
    }
}

/// The next message of an input.
fn next(at: At<'_>, byte: u64, json: bool) -> At<'_> {
    At {
        message: at.message + 1,
        byte,
        json,
        ..at
    }
}

/// Where something that is not a message is: no message number.
fn not_message(file: Option<&str>, byte: u64) -> Loc {
    Loc {
        file: file.map(str::to_string),
        message: None,
        byte: Some(byte),
        path: None,
    }
}

/// Parses and validates a message, reporting why not, and resolves its charset.
#[allow(
    clippy::result_large_err,
    reason = "the Ok side, a Message, is as large: boxing the Err would only add an allocation"
)]
#[inline(always)]
fn check<'m, F: Filter>(
    bytes: &'m [u8],
    lines_checked: bool,
    at: At<'_>,
    report: &mut Reporter,
) -> Checked<'m> {
    let error = |report: &mut Reporter, e: &MessageError| {
        let offset = match !at.json || F::JSON_ERROR_OFFSET {
            true => e.offset as u64,
            false => 0,
        };
        report.error(&at.plus(offset).loc_path(e.path.clone()), &e.what);
    };
    let mut msg = match Message::parse(bytes) {
        Ok(msg) => msg,
        Err(e) => {
            error(report, &e);
            return Err(Bad::Unparsable(bytes, e));
        }
    };
    // The splitter may have checked every line already (it looks at each).
    let valid = match lines_checked {
        true => msg.validate_header(),
        false => msg.validate(),
    };
    let warning = msg.resolve_charset();
    if let Err(e) = valid {
        error(report, &e);
        return Err(Bad::Invalid(msg, e));
    }
    let warn = match F::CHARSET_WARNINGS {
        CharsetWarnings::Never => false,
        CharsetWarnings::Hl7 => !at.json,
        CharsetWarnings::Always => true,
    };
    if let Some(w) = warning.filter(|_| warn) {
        report.warn(&at.loc_path(Some("MSH-18".into())), &w);
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::threaded::Threaded;
    use std::io::{self, Read};
    use std::time::Duration;

    /// Gives "A", then waits three pauses' time, then gives "B", then ends.
    struct Slow(u8);

    impl Read for Slow {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0 += 1;
            match self.0 {
                1 => buf[0] = b'A',
                2 => {
                    std::thread::sleep(super::PAUSE * 3);
                    buf[0] = b'B';
                }
                _ => return Ok(0),
            }
            Ok(1)
        }
    }

    #[test]
    fn the_threaded_reader_tells_a_pause() {
        let mut r = Threaded::spawn(Slow(0));
        let mut buf = [0u8; 8];
        let mut got = Vec::new();
        let mut pauses = 0;
        let start = std::time::Instant::now();
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => pauses += 1,
                Err(e) => panic!("{e}"),
            }
            assert!(start.elapsed() < Duration::from_secs(10));
        }
        assert_eq!(got, b"AB");
        assert!(pauses >= 1, "{pauses}");
    }
}
