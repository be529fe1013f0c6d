//! Reading the inputs: files and stdin ([`open_inputs`]), stdin as a live pipe, the
//! splitter for `--from`.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Loc, Reporter};

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
