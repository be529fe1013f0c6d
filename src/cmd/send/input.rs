//! Reading `hl7 send`'s inputs: each message is checked, framed and paced, then handed to the
//! engine; stdin is kept in memory for the next passes of `--loop`. Input problems are reported
//! on stderr with their location, on the first pass only.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::Instant;

use hl7::client::pace::{Pace, sleep_until};
use hl7::client::pool::{Engine, Hook};
use hl7::client::{self, Job, Settings};
use hl7::model::message::Message;
use hl7::transform::split::Item;

use super::Args;
use super::output::Results;
use crate::shell::{Global, Loc, Reporter};

/// Flushes the output before each read of the input: a read may block on a slow producer, and
/// results must not wait for the next message (inline engine only).
struct FlushFirst<R> {
    inner: R,
    hook: Hook<Results>,
}

impl<R: Read> Read for FlushFirst<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.hook.fire();
        self.inner.read(buf)
    }
}

/// A stdin message kept for the next passes of --loop.
struct Cached {
    frame: Vec<u8>,
    control_id: String,
    raw_id: Vec<u8>,
    time: Option<f64>,
    msg_no: u64,
    byte: u64,
}

/// A message read and ready.
struct Ready {
    control_id: String,
    raw_id: Vec<u8>,
    time: Option<f64>,
}

/// Reads the inputs and feeds the engine, one message at a time.
pub(super) struct Producer<'a> {
    args: &'a Args,
    cfg: Arc<Settings>,
    report: Reporter,
    engine: Engine<Results>,
    pace: Pace,
    /// Messages handed to the engine.
    seq: u64,
    /// The frame buffer, reused from message to message (inline engine).
    frame: Vec<u8>,
    /// With --loop, stdin's messages.
    cache: Option<Vec<Cached>>,
    pass: u64,
    pass_sent: u64,
    /// No more messages: --count reached, --strict tripped, or the run stopped.
    done: bool,
    failed_output: Option<io::Error>,
}

impl<'a> Producer<'a> {
    pub(super) fn new(
        args: &'a Args,
        cfg: Arc<Settings>,
        report: Reporter,
        engine: Engine<Results>,
        pace: Pace,
    ) -> Self {
        Producer {
            args,
            cfg,
            report,
            engine,
            pace,
            seq: 0,
            frame: Vec::new(),
            cache: None,
            pass: 0,
            pass_sent: 0,
            done: false,
            failed_output: None,
        }
    }

    /// The reporter of input problems, the engine to finish, and the output error that stopped
    /// the run, if any.
    pub(super) fn into_parts(self) -> (Reporter, Engine<Results>, Option<io::Error>) {
        (self.report, self.engine, self.failed_output)
    }

    pub(super) fn produce(&mut self, global: &Global) -> io::Result<()> {
        let inputs = crate::shell::open_inputs(&self.args.files, &mut self.report);
        let total = inputs.iter().map(|i| i.size).sum::<Option<u64>>();
        let bar = crate::shell::progress_bar(global, total);
        let names: Vec<Option<String>> = inputs.iter().map(|i| i.name.clone()).collect();
        for input in inputs {
            if self.done {
                break;
            }
            let reader = crate::shell::Counting {
                inner: input.reader,
                bar: bar.clone(),
            };
            self.read(reader, input.name.as_deref())?;
        }
        bar.finish_and_clear();
        while self.args.loop_ && !self.done {
            if self.pass_sent == 0 {
                self.report.error(
                    &Loc::default(),
                    &"--loop: the input holds no message that can be sent",
                );
                break;
            }
            self.pass += 1;
            self.pass_sent = 0;
            self.pace.new_pass();
            for name in &names {
                if self.done {
                    break;
                }
                match name {
                    None => self.replay_cache()?,
                    Some(path) => match File::open(path) {
                        Ok(f) => self.read(f, Some(path))?,
                        Err(e) => {
                            self.report.error(
                                &Loc {
                                    file: Some(path.clone()),
                                    ..Loc::default()
                                },
                                &format!("cannot open: {e}"),
                            );
                            self.done = true;
                        }
                    },
                }
            }
        }
        Ok(())
    }

    /// Sends the messages of one input.
    fn read(&mut self, reader: impl Read, name: Option<&str>) -> io::Result<()> {
        let reader = FlushFirst {
            inner: reader,
            hook: self.engine.hook(),
        };
        let mut splitter = crate::shell::splitter(reader, self.args.from);
        let file: Option<Arc<str>> = name.map(Arc::from);
        let caching = name.is_none() && self.args.loop_;
        if caching && self.cache.is_none() {
            self.cache = Some(Vec::new());
        }
        // Input problems are reported on the first pass only.
        let first = self.pass == 0;
        let mut n = 0u64;
        while !self.done {
            let item = match splitter.next_item() {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => {
                    self.report.error(
                        &Loc {
                            file: name.map(str::to_string),
                            ..Loc::default()
                        },
                        &format!("read error: {e}"),
                    );
                    break;
                }
            };
            let loc = |message: Option<u64>, byte: u64, path: Option<String>| Loc {
                file: name.map(str::to_string),
                message,
                byte: Some(byte),
                path,
            };
            let (ready, offset) = match item {
                Item::Warning { offset, what } => {
                    if first {
                        self.report.warn(&loc(None, offset, None), &what);
                    }
                    continue;
                }
                // a delivery mark says nothing to a sender
                Item::Mark(_) | Item::Idle => continue,
                Item::Invalid(chunk, why) => {
                    if first {
                        self.report.error(&loc(None, chunk.offset, None), &why);
                    }
                    if self.args.strict {
                        self.done = true;
                    }
                    continue;
                }
                Item::Message(chunk) => {
                    n += 1;
                    let r = self.prepare(chunk.bytes, None, chunk.lines_checked);
                    (r, chunk.offset)
                }
                Item::Json(chunk) => {
                    n += 1;
                    let mut bytes = Vec::new();
                    let mut meta_time = None;
                    let built = hl7::transform::json::line_to_hl7(chunk.bytes, &mut bytes)
                        .map(|doc| {
                            if self.args.replay {
                                meta_time = match doc.get("received") {
                                    Some(serde_json::Value::String(s)) => hl7::time::seconds_of(s),
                                    Some(serde_json::Value::Number(x)) => x.as_f64(),
                                    _ => None,
                                };
                            }
                        })
                        .map_err(|e| e.to_string());
                    let r = match built {
                        Ok(()) => self.prepare(&bytes, meta_time, false),
                        Err(e) => Err((0, None, e)),
                    };
                    (r, chunk.offset)
                }
            };
            let ready = match ready {
                Ok(r) => r,
                Err((at, path, what)) => {
                    if first {
                        self.report
                            .error(&loc(Some(n), offset + at as u64, path), &what);
                    }
                    if self.args.strict {
                        self.done = true;
                    }
                    continue;
                }
            };
            if caching && let Some(c) = &mut self.cache {
                c.push(Cached {
                    frame: self.frame.clone(),
                    control_id: ready.control_id.clone(),
                    raw_id: ready.raw_id.clone(),
                    time: ready.time,
                    msg_no: n,
                    byte: offset,
                });
            }
            self.send(ready, file.clone(), n, offset)?;
        }
        Ok(())
    }

    /// Sends stdin's messages again (--loop).
    fn replay_cache(&mut self) -> io::Result<()> {
        let Some(cache) = self.cache.take() else {
            return Ok(());
        };
        for c in &cache {
            if self.done {
                break;
            }
            self.frame.clear();
            self.frame.extend_from_slice(&c.frame);
            let ready = Ready {
                control_id: c.control_id.clone(),
                raw_id: c.raw_id.clone(),
                time: c.time,
            };
            self.send(ready, None, c.msg_no, c.byte)?;
        }
        self.cache = Some(cache);
        Ok(())
    }

    /// Checks one message, normalizes it to \r-terminated segments and frames it into
    /// `self.frame`. `lines_checked`: the splitter has checked that every line starts with a
    /// segment id, so only the header is left to validate. The error is (offset in the
    /// message, field path, what).
    fn prepare(
        &mut self,
        bytes: &[u8],
        meta_time: Option<f64>,
        lines_checked: bool,
    ) -> std::result::Result<Ready, (usize, Option<String>, String)> {
        let mut msg = Message::parse(bytes)
            .and_then(|m| {
                if lines_checked {
                    m.validate_header()
                } else {
                    m.validate()
                }
                .map(|_| m)
            })
            .map_err(|e| (e.offset, e.path.clone(), e.what.clone()))?;
        let raw_id = msg
            .header_field(10)
            .map(|f| f.raw.trim_ascii().to_vec())
            .unwrap_or_default();
        // Only the control id (and with --replay MSH-7) is decoded here: the charset matters
        // when it is not ASCII (it scans the whole message: 4% of send's instructions).
        if !raw_id.is_ascii() || self.args.replay {
            msg.resolve_charset();
        }
        client::frame(&msg, &mut self.frame).map_err(|e| (e.offset, None, e.to_string()))?;
        let time = if self.args.replay {
            meta_time.or_else(|| {
                msg.header_field(7)
                    .and_then(|f| hl7::time::seconds_of(&f.component(1).text()))
            })
        } else {
            None
        };
        Ok(Ready {
            control_id: msg.control_id(),
            raw_id,
            time,
        })
    }

    /// Paces, then hands the framed message in `self.frame` to the engine.
    fn send(&mut self, r: Ready, file: Option<Arc<str>>, msg_no: u64, byte: u64) -> io::Result<()> {
        if self.cfg.stop.is_set() {
            self.done = true;
            return Ok(());
        }
        let loc = || Loc {
            file: file.as_deref().map(str::to_string),
            message: Some(msg_no),
            byte: Some(byte),
            path: None,
        };
        let due = if self.pace.is_paced() {
            let due = self.pace.due(self.seq, r.time, Instant::now());
            if let Some(w) = due.warning {
                self.report.warn(&loc(), &w);
            }
            due.at
        } else {
            None
        };
        if let Some(due) = due
            && due > Instant::now()
        {
            self.engine.hook().fire();
            sleep_until(due, &self.cfg.stop);
        }
        // Inline, the buffer comes back from the engine for the next message; the pool keeps
        // each message until its result is written, and the next one gets a new buffer of its
        // own size (see `prepare`).
        let frame = std::mem::take(&mut self.frame);
        let job = Job {
            seq: self.seq,
            control_id: r.control_id,
            raw_id: r.raw_id,
            frame,
            file,
            msg_no,
            byte,
        };
        self.seq += 1;
        self.pass_sent += 1;
        match self.engine.submit(job) {
            Ok(Some(frame)) => self.frame = frame,
            Ok(None) => {}
            Err(e) => {
                self.done = true;
                self.cfg.stop.set();
                self.failed_output = Some(e);
                return Ok(());
            }
        }
        if self.args.count.is_some_and(|c| self.seq >= c) || self.cfg.stop.is_set() {
            self.done = true;
        }
        Ok(())
    }
}
