//! What `hl7 send` writes: a result for each message in input order (an NDJSON line, the ACK,
//! or the accepted message itself), failures on stderr, and the counters.

use std::io::{self, BufWriter, Write};

use hl7::client::pool::Sink;
use hl7::client::tally::Tally;
use hl7::client::{Job, Outcome, Status};
use hl7::transform::json;

use crate::shell::{Global, Loc, Reporter, Stats};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Output {
    Ndjson,
    Acks,
    Pass,
    None,
}

/// Writes results, counts them, reports failures.
pub(super) struct Results {
    w: BufWriter<io::Stdout>,
    output: Output,
    line: Vec<u8>,
    dirty: bool,
    /// An output error seen while flushing in passing, returned by the next `record`.
    err: Option<io::Error>,
    pub(super) tally: Tally,
    pub(super) report: Reporter,
    stats: Stats,
    no_ack: bool,
}

impl Results {
    pub(super) fn new(output: Output, global: &Global, no_ack: bool) -> Self {
        Results {
            w: BufWriter::with_capacity(256 * 1024, io::stdout()),
            output,
            line: Vec::with_capacity(256),
            dirty: false,
            err: None,
            tally: Tally::default(),
            report: Reporter::new("send", global),
            stats: Stats::new(global),
            no_ack,
        }
    }

    /// Flushes the output and prints the final counters (`--stats`).
    pub(super) fn finish(mut self) -> io::Result<Results> {
        if let Some(e) = self.err.take() {
            return Err(e);
        }
        self.w.flush()?;
        let (tally, no_ack) = (&self.tally, self.no_ack);
        self.stats.finish(&self.report, |_| tally.progress(no_ack));
        Ok(self)
    }
}

impl Sink for Results {
    fn record(&mut self, job: &Job, o: &Outcome) -> io::Result<()> {
        if let Some(e) = self.err.take() {
            return Err(e);
        }
        self.tally.add(o);
        if let (Some(e), Status::Failed | Status::Rejected | Status::Unsent) = (&o.error, o.status)
        {
            self.report.error(&loc(job), e);
        }
        match self.output {
            Output::None => {}
            Output::Ndjson => {
                let l = &mut self.line;
                l.clear();
                l.extend_from_slice(b"{\"n\":");
                l.extend_from_slice((job.seq + 1).to_string().as_bytes());
                l.extend_from_slice(b",\"control_id\":");
                json::push_str(l, &job.control_id);
                l.extend_from_slice(b",\"ack\":");
                match &o.ack {
                    Some(a) => json::push_str(l, a),
                    None => l.extend_from_slice(b"null"),
                }
                l.extend_from_slice(b",\"latency_ms\":");
                match o.latency {
                    Some(d) => {
                        l.extend_from_slice(format!("{:.3}", d.as_secs_f64() * 1000.0).as_bytes())
                    }
                    None => l.extend_from_slice(b"null"),
                }
                l.extend_from_slice(b",\"error\":");
                match (&o.error, &o.peer_text) {
                    (Some(e), Some(t)) => json::push_str(l, &format!("{e}: {t}")),
                    (Some(e), None) => json::push_str(l, e),
                    (None, _) => l.extend_from_slice(b"null"),
                }
                l.extend_from_slice(b"}\n");
                self.w.write_all(l)?;
                self.dirty = true;
            }
            Output::Acks => {
                if let Some(r) = &o.reply {
                    self.w.write_all(r)?;
                    self.w.write_all(b"\n")?;
                    self.dirty = true;
                }
            }
            Output::Pass => {
                if o.status == Status::Accepted {
                    self.w.write_all(job.message())?;
                    self.w.write_all(b"\n")?;
                    self.dirty = true;
                }
            }
        }
        let (tally, no_ack) = (&self.tally, self.no_ack);
        self.stats.tick(&self.report, || tally.progress(no_ack));
        Ok(())
    }

    fn unmatched(&mut self, why: &str) {
        self.tally.unmatched += 1;
        self.report.error(&Loc::default(), &why);
    }

    /// Flushes what has been written; an error is kept for the next `record`.
    fn flush(&mut self) {
        if self.dirty && self.err.is_none() {
            self.dirty = false;
            if let Err(e) = self.w.flush() {
                self.err = Some(e);
            }
        }
    }
}

/// Where a message was in the input, and its control id.
fn loc(job: &Job) -> Loc {
    Loc {
        file: job.file.as_deref().map(str::to_string),
        message: Some(job.msg_no),
        byte: Some(job.byte),
        path: Some(format!("MSH-10 '{}'", job.control_id)),
    }
}
