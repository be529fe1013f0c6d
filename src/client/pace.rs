//! When each message is due: as fast as the receiver answers, at a steady rate, or with the
//! gaps between the messages' original times replayed. The clock is given, so the schedule can
//! be checked without waiting; [`sleep_until`] does the waiting.

use std::thread;
use std::time::{Duration, Instant};

use super::Stop;
use crate::time::Rate;

/// The pacing of a run.
#[derive(Debug)]
pub struct Pace(Mode);

#[derive(Debug)]
enum Mode {
    None,
    /// Message k (from 0, over the whole run) is due k/rate after the first.
    Rate {
        rate: Rate,
        start: Option<Instant>,
    },
    /// Messages keep their original gaps, divided by `speed`.
    Replay {
        speed: f64,
        /// (when the first message of this pass went, its original time)
        base: Option<(Instant, f64)>,
        /// The last message's due time: never go back in time.
        last: Option<Instant>,
        warned: bool,
    },
}

/// When a message is due.
#[derive(Debug, PartialEq, Eq)]
pub struct Due {
    /// `None`: now.
    pub at: Option<Instant>,
    /// Said once per run: the first message that had no time to replay by.
    pub warning: Option<&'static str>,
}

/// Why a replayed message went right after the one before.
pub const UNTIMED: &str = "no time to replay by (received, MSH-7); sent right after the one before";

impl Pace {
    /// Every message as soon as the one before is done.
    pub fn none() -> Self {
        Pace(Mode::None)
    }

    /// A steady rate, from the first message on; late messages do not shift the ones after.
    pub fn rate(rate: Rate) -> Self {
        Pace(Mode::Rate { rate, start: None })
    }

    /// The original gaps, divided by `speed` (2 is twice as fast).
    pub fn replay(speed: f64) -> Self {
        Pace(Mode::Replay {
            speed,
            base: None,
            last: None,
            warned: false,
        })
    }

    /// False when every message is due at once: no need to read the clock.
    pub fn is_paced(&self) -> bool {
        !matches!(self.0, Mode::None)
    }

    /// A new pass over the input (a loop): the replay timeline starts again.
    pub fn new_pass(&mut self) {
        if let Mode::Replay { base, .. } = &mut self.0 {
            *base = None;
        }
    }

    /// When message `k` (from 0, over the run), whose original time is `t` (seconds), is due,
    /// the clock reading `now`.
    pub fn due(&mut self, k: u64, t: Option<f64>, now: Instant) -> Due {
        let mut warning = None;
        let at = match &mut self.0 {
            Mode::None => None,
            Mode::Rate { rate, start } => Some(*start.get_or_insert(now) + rate.due(k)),
            Mode::Replay {
                speed,
                base,
                last,
                warned,
            } => {
                let due = match (t, *base) {
                    (Some(t), Some((at, t0))) => {
                        let gap = ((t - t0) / *speed).max(0.0);
                        at + Duration::from_secs_f64(gap.min(1e9))
                    }
                    (Some(t), None) => {
                        *base = Some((now, t));
                        now
                    }
                    (None, _) => {
                        if !*warned {
                            *warned = true;
                            warning = Some(UNTIMED);
                        }
                        last.unwrap_or(now)
                    }
                };
                let due = last.map_or(due, |l| due.max(l));
                *last = Some(due);
                Some(due)
            }
        };
        Due { at, warning }
    }
}

/// Sleeps until `due`, or until the run is stopped.
pub fn sleep_until(due: Instant, stop: &Stop) {
    let now = Instant::now();
    if due > now {
        sleep_unless_stopped(due - now, stop);
    }
}

/// Sleeps for `d`, waking at least every 100 ms to see whether the run was stopped.
pub fn sleep_unless_stopped(d: Duration, stop: &Stop) {
    let end = Instant::now() + d;
    loop {
        let now = Instant::now();
        if now >= end || stop.is_set() {
            return;
        }
        thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn no_pace_is_now() {
        let mut p = Pace::none();
        assert!(!p.is_paced());
        let d = p.due(5, Some(1.0), Instant::now());
        assert_eq!(
            d,
            Due {
                at: None,
                warning: None
            }
        );
    }

    #[test]
    fn a_rate_gives_message_k_its_slot_from_the_first() {
        let t0 = Instant::now();
        let mut p = Pace::rate(Rate::parse("10/s").unwrap());
        assert!(p.is_paced());
        assert_eq!(p.due(0, None, t0).at, Some(t0));
        // However late the clock reads, the schedule does not drift.
        assert_eq!(p.due(1, None, t0 + ms(500)).at, Some(t0 + ms(100)));
        assert_eq!(p.due(25, None, t0 + ms(600)).at, Some(t0 + ms(2500)));
        // A new pass keeps the rate's timeline.
        p.new_pass();
        assert_eq!(p.due(26, None, t0 + ms(9000)).at, Some(t0 + ms(2600)));
    }

    #[test]
    fn replay_keeps_the_gaps_divided_by_speed() {
        let t0 = Instant::now();
        let mut p = Pace::replay(2.0);
        assert_eq!(p.due(0, Some(100.0), t0).at, Some(t0));
        assert_eq!(p.due(1, Some(101.0), t0).at, Some(t0 + ms(500)));
        assert_eq!(p.due(2, Some(104.0), t0).at, Some(t0 + ms(2000)));
        // An earlier time never goes back before the message before.
        assert_eq!(p.due(3, Some(100.5), t0).at, Some(t0 + ms(2000)));
        // A new pass starts the timeline again from the clock.
        p.new_pass();
        let t1 = t0 + ms(5000);
        assert_eq!(p.due(4, Some(100.0), t1).at, Some(t1));
        assert_eq!(p.due(5, Some(102.0), t1).at, Some(t1 + ms(1000)));
    }

    #[test]
    fn replay_without_a_time_goes_right_after_and_warns_once() {
        let t0 = Instant::now();
        let mut p = Pace::replay(1.0);
        assert_eq!(
            p.due(0, None, t0),
            Due {
                at: Some(t0),
                warning: Some(UNTIMED)
            }
        );
        assert_eq!(p.due(1, Some(50.0), t0 + ms(10)).at, Some(t0 + ms(10)));
        assert_eq!(
            p.due(2, None, t0 + ms(20)),
            Due {
                at: Some(t0 + ms(10)),
                warning: None
            }
        );
        assert_eq!(p.due(3, Some(51.0), t0 + ms(20)).at, Some(t0 + ms(1010)));
    }

    #[test]
    fn sleeping_ends_when_the_run_stops() {
        let stop = Stop::default();
        stop.set();
        let t = Instant::now();
        sleep_unless_stopped(Duration::from_secs(30), &stop);
        sleep_until(t + Duration::from_secs(30), &stop);
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
