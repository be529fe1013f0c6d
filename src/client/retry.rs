//! The retry policy: which outcomes are tried again, how often, and how long to wait first.
//!
//! A timeout, a refused or dropped connection is retried, after 0.5 s, 1 s, 2 s, ... (at most
//! 30 s), on a new connection. AR/CR (and an MLLP R2 commit NAK) are retried only when asked:
//! the peer may accept later. AE/CE never: the data must be fixed first.

use std::time::Duration;

use crate::ack::Code;

/// The wait before the first retry; it doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Whether a rejection may be tried again: `code` is MSA-1, `None` for an R2 commit NAK.
pub fn retry_rejection(code: Option<Code>, retry_rejected: bool) -> bool {
    retry_rejected && code.is_none_or(|c| matches!(c, Code::AR | Code::CR))
}

/// The tries of one message: counts them and gives the wait before each retry.
#[derive(Debug)]
pub struct Tries {
    retries: u32,
    tries: u32,
    backoff: Duration,
}

impl Tries {
    /// The first try is under way; `retries` more may follow.
    pub fn new(retries: u32) -> Self {
        Tries {
            retries,
            tries: 1,
            backoff: FIRST_BACKOFF,
        }
    }

    /// Tries made so far.
    pub fn count(&self) -> u32 {
        self.tries
    }

    /// After a try whose outcome may be retried (`retryable`): the wait before the next try,
    /// which is then counted; `None` when the outcome stands (not retryable, no retries left,
    /// or the run is stopping).
    pub fn again(&mut self, retryable: bool, stopping: bool) -> Option<Duration> {
        if !retryable || self.tries > self.retries || stopping {
            return None;
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.tries += 1;
        Some(wait)
    }

    /// Adds the count of tries to a final error, when there was more than one.
    pub fn note(&self, error: &mut String) {
        if self.tries > 1 {
            error.push_str(&format!(" ({} tries)", self.tries));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(retries: u32) -> Vec<f64> {
        let mut t = Tries::new(retries);
        std::iter::from_fn(|| t.again(true, false))
            .map(|d| d.as_secs_f64())
            .collect()
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(schedule(0), Vec::<f64>::new());
        assert_eq!(schedule(3), [0.5, 1.0, 2.0]);
        assert_eq!(
            schedule(9),
            [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
        );
    }

    #[test]
    fn tries_are_counted_and_noted() {
        let mut t = Tries::new(3);
        let mut e = String::from("no ACK within 1 s");
        t.note(&mut e);
        assert_eq!(e, "no ACK within 1 s");
        assert!(t.again(true, false).is_some());
        assert!(t.again(true, false).is_some());
        assert_eq!(t.count(), 3);
        t.note(&mut e);
        assert_eq!(e, "no ACK within 1 s (3 tries)");
    }

    #[test]
    fn an_outcome_stands_when_not_retryable_or_stopping() {
        let mut t = Tries::new(3);
        assert_eq!(t.again(false, false), None);
        assert_eq!(t.again(true, true), None);
        assert_eq!(t.count(), 1);
        assert_eq!(t.again(true, false), Some(FIRST_BACKOFF));
    }

    #[test]
    fn only_ar_cr_and_commit_naks_are_retried_and_only_when_asked() {
        assert!(retry_rejection(Some(Code::AR), true));
        assert!(retry_rejection(Some(Code::CR), true));
        assert!(retry_rejection(None, true));
        assert!(!retry_rejection(Some(Code::AE), true));
        assert!(!retry_rejection(Some(Code::CE), true));
        for c in [Some(Code::AR), Some(Code::CR), None] {
            assert!(!retry_rejection(c, false));
        }
    }
}
