//! Reading the inputs: files and stdin ([`open_inputs`]), stdin as a live pipe
//! ([`LiveStdin`]), the splitter for `--from`.

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

/// stdin as a live pipe: a read that has waited [`PAUSE`] with nothing new fails with
/// `TimedOut` (and sets `paused`) instead of blocking on. Raw HL7 has no end-of-message mark,
/// so this is how the splitter learns that a live pipe's message is complete (`hl7 listen |
/// hl7 parse`, `hl7 simulate --rate 1/s | hl7 send`) instead of waiting for the next `MSH`,
/// how a filter learns to flush its output, and how `hl7 ilp` learns to flush a waiting batch.
/// Files and busy pipes never wait, so they read as before.
pub struct LiveStdin {
    paused: Arc<AtomicBool>,
    #[cfg(not(unix))]
    thread: threaded::Threaded,
}

impl LiveStdin {
    fn new() -> Self {
        LiveStdin {
            paused: Arc::new(AtomicBool::new(false)),
            #[cfg(not(unix))]
            thread: threaded::Threaded::spawn(io::stdin()),
        }
    }

    /// On Unix: `poll(2)`, then a read straight into the caller's buffer, in this thread (no
    /// copy, no second thread: it matters at millions of `hl7 ilp` rows a second).
    #[cfg(unix)]
    fn read_or_time_out(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        use rustix::io::Errno;
        use std::os::fd::AsFd;
        let stdin = io::stdin();
        let fd = stdin.as_fd();
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let timeout = Timespec::try_from(PAUSE).ok();
        match poll(&mut fds, timeout.as_ref()) {
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
    fn read_or_time_out(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.thread.read(buf)
    }
}

impl Read for LiveStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.read_or_time_out(buf);
        if let Err(e) = &read
            && e.kind() == io::ErrorKind::TimedOut
        {
            self.paused.store(true, Ordering::Relaxed);
        }
        read
    }
}

/// The live-stdin reader where `poll(2)` is not available; built in Unix tests too, so that it
/// is tested where the project is.
#[cfg(any(not(unix), test))]
mod threaded {
    use std::io::{self, Read};
    use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};

    /// A reader whose reads happen on a thread of its own, so that a read can give up after
    /// [`super::PAUSE`] (as `TimedOut`) while the thread goes on waiting.
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

    impl Read for Threaded {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.chunk.len() {
                match self.rx.recv_timeout(super::PAUSE) {
                    Ok(Ok(chunk)) => {
                        self.chunk = chunk;
                        self.pos = 0;
                    }
                    Ok(Err(e)) => return Err(e),
                    Err(RecvTimeoutError::Timeout) => return Err(io::ErrorKind::TimedOut.into()),
                    Err(RecvTimeoutError::Disconnected) => return Ok(0),
                }
            }
            let n = buf.len().min(self.chunk.len() - self.pos);
            buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
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
