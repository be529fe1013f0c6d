//! What a run has done so far: how many messages ended how, and the latency of the replies, in
//! constant memory however long the run. The lines are the caller's to print.

use std::time::Duration;

use super::{Outcome, Status};

/// Counters, and the latency histogram.
#[derive(Default)]
pub struct Tally {
    pub accepted: u64,
    pub rejected: u64,
    pub failed: u64,
    pub unsent: u64,
    /// Replies that matched no message in flight (with a window); not messages, so not in
    /// [`Tally::total`].
    pub unmatched: u64,
    pub latency: Hist,
}

impl Tally {
    pub fn add(&mut self, o: &Outcome) {
        match o.status {
            Status::Accepted => self.accepted += 1,
            Status::Rejected => self.rejected += 1,
            Status::Failed => self.failed += 1,
            Status::Unsent => self.unsent += 1,
        }
        if let Some(d) = o.latency {
            self.latency.add(d);
        }
    }

    /// Messages counted, whatever became of them.
    pub fn total(&self) -> u64 {
        self.accepted + self.rejected + self.failed + self.unsent
    }

    /// `3 accepted, 1 rejected`: the counts that are not zero (accepted always); `written`
    /// instead of `accepted` when no replies were awaited.
    pub fn counts(&self, no_ack: bool) -> String {
        let mut s = if no_ack {
            format!("{} written", self.accepted)
        } else {
            format!("{} accepted", self.accepted)
        };
        for (n, what) in [
            (self.rejected, "rejected"),
            (self.failed, "failed"),
            (self.unsent, "not sent"),
        ] {
            if n > 0 {
                s.push_str(&format!(", {n} {what}"));
            }
        }
        match self.unmatched {
            0 => {}
            1 => s.push_str(", 1 reply matched no message"),
            n => s.push_str(&format!(", {n} replies matched no message")),
        }
        s
    }

    /// The line of periodic counters.
    pub fn progress(&self, no_ack: bool) -> String {
        format!("{} messages: {}", self.total(), self.counts(no_ack))
    }

    /// The line at the end of a run to `target`, that took `elapsed`.
    pub fn summary(&self, target: &str, elapsed: Duration, no_ack: bool) -> String {
        let secs = elapsed.as_secs_f64();
        let n = self.total();
        let mut s = format!(
            "{n} message{} to {target} in {secs:.3} s ({:.0} msg/s): {}",
            if n == 1 { "" } else { "s" },
            n as f64 / secs.max(1e-9),
            self.counts(no_ack)
        );
        if let Some(l) = self.latency.line() {
            s.push_str("; latency ");
            s.push_str(&l);
        }
        s
    }
}

/// Latencies in microseconds, log-linear buckets (16 per power of two, within 6.25%): constant
/// memory however long the run.
pub struct Hist {
    counts: Vec<u64>,
    n: u64,
    sum_us: u128,
    max_us: u64,
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            counts: vec![0; 16 + 60 * 16],
            n: 0,
            sum_us: 0,
            max_us: 0,
        }
    }
}

impl Hist {
    fn bucket(v: u64) -> usize {
        if v < 16 {
            return v as usize;
        }
        let e = 63 - v.leading_zeros() as usize;
        16 + (e - 4) * 16 + ((v >> (e - 4)) & 15) as usize
    }

    fn lower(b: usize) -> u64 {
        if b < 16 {
            return b as u64;
        }
        let e = (b - 16) / 16 + 4;
        (16 + ((b - 16) % 16) as u64) << (e - 4)
    }

    pub fn add(&mut self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        self.counts[Self::bucket(us)] += 1;
        self.n += 1;
        self.sum_us += us as u128;
        self.max_us = self.max_us.max(us);
    }

    /// The latency (microseconds) below which a share `q` of the replies came, to within a
    /// bucket (6.25%).
    pub fn quantile(&self, q: f64) -> u64 {
        let target = ((q * self.n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Self::lower(b).min(self.max_us);
            }
        }
        self.max_us
    }

    /// `avg .. ms, p50 .. ms, p99 .. ms, max .. ms`; `None` before any reply.
    pub fn line(&self) -> Option<String> {
        if self.n == 0 {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(format!(
            "avg {:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            self.sum_us as f64 / self.n as f64 / 1000.0,
            ms(self.quantile(0.5)),
            ms(self.quantile(0.99)),
            ms(self.max_us)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in [
            0u64,
            1,
            15,
            16,
            17,
            31,
            32,
            33,
            100,
            1000,
            65_535,
            1 << 40,
            u64::MAX,
        ] {
            let b = Hist::bucket(v);
            assert!(b >= last, "{v}");
            last = b;
            let lo = Hist::lower(b);
            assert!(
                lo <= v && (v - lo) as f64 <= v as f64 / 16.0 + 1.0,
                "{v} {lo}"
            );
        }
    }

    #[test]
    fn quantiles_are_within_a_bucket() {
        let mut h = Hist::default();
        assert_eq!(h.line(), None);
        for us in 1..=1000u64 {
            h.add(Duration::from_micros(us));
        }
        let p50 = h.quantile(0.5);
        assert!((470..=500).contains(&p50), "{p50}");
        let p99 = h.quantile(0.99);
        assert!((930..=990).contains(&p99), "{p99}");
        // A quantile is the lower bound of its bucket: 1000 is in 992..1024.
        assert_eq!(h.quantile(1.0), 992);
        assert_eq!(
            h.line().as_deref(),
            Some(&*format!(
                "avg 0.500 ms, p50 {:.3} ms, p99 {:.3} ms, max 1.000 ms",
                p50 as f64 / 1000.0,
                p99 as f64 / 1000.0
            ))
        );
    }

    #[test]
    fn counts_say_what_is_not_zero() {
        let mut t = Tally::default();
        let mut accepted = Outcome::accepted(Some(Duration::from_micros(2048)));
        t.add(&accepted);
        assert_eq!(t.progress(false), "1 messages: 1 accepted");
        assert_eq!(t.counts(true), "1 written");
        accepted.status = Status::Rejected;
        t.add(&accepted);
        t.add(&Outcome::failed("no ACK".into()));
        t.add(&Outcome::unsent());
        t.add(&Outcome::unsent());
        assert_eq!(t.total(), 5);
        assert_eq!(
            t.counts(false),
            "1 accepted, 1 rejected, 1 failed, 2 not sent"
        );
        assert_eq!(
            t.summary("h:1", Duration::from_secs(2), false),
            "5 messages to h:1 in 2.000 s (2 msg/s): 1 accepted, 1 rejected, 1 failed, 2 not sent; \
             latency avg 2.048 ms, p50 2.048 ms, p99 2.048 ms, max 2.048 ms"
        );
        let one = Tally {
            accepted: 1,
            ..Tally::default()
        };
        assert_eq!(
            one.summary("h:1", Duration::ZERO, true),
            "1 message to h:1 in 0.000 s (1000000000 msg/s): 1 written"
        );
        t.unmatched = 1;
        assert_eq!(t.total(), 5, "a reply is not a message");
        assert!(
            t.counts(false)
                .ends_with("2 not sent, 1 reply matched no message")
        );
        t.unmatched = 3;
        assert!(t.counts(false).ends_with(", 3 replies matched no message"));
    }
}
