//! The window of one connection (`send --window N`): the messages written ahead and not yet
//! answered, and which of them a reply belongs to. Bookkeeping only: no sockets, and no clock
//! of its own (every time is given), so that it is tested on its own.
//!
//! A message in the window is either written (since when: its timeout counts from there) or
//! due (to be written, now or once a retry's backoff is over). A reply is matched to the
//! written message whose MSH-10 its MSA-2 is (HL7 v2.5 §2.9: by id, never by order). When two
//! messages in the window share a control id, the one that entered first takes the first
//! reply. A reply naming a message answered lately (a second ACK, such as the application
//! ACK after a commit ACK) or one waiting to be written again is late: ignored. Any other reply
//! is unmatched: it answers no message of the window, and is never taken for another's.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Instant;

/// The largest window: messages in flight on one connection.
pub const MAX: usize = 4096;

/// The fewest answered ids remembered to recognize late replies.
const MIN_ANSWERED: usize = 16;

/// The messages of one connection that are not answered yet, each with its payload `P`.
pub struct Window<P> {
    cap: usize,
    slots: BTreeMap<u64, Slot<P>>,
    /// MSH-10 -> the messages that have it, in the order they entered.
    by_id: HashMap<Vec<u8>, VecDeque<u64>>,
    /// The written messages, by write time.
    written: BTreeSet<(Instant, u64)>,
    /// The messages to write, by the time they may be written.
    due: BTreeSet<(Instant, u64)>,
    /// The ids of the messages that left the window lately, oldest first (at most twice the
    /// window, at least [`MIN_ANSWERED`]).
    answered: VecDeque<Vec<u8>>,
}

struct Slot<P> {
    id: Vec<u8>,
    state: State,
    payload: P,
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// To be written, not before then.
    Due(Instant),
    /// Written then.
    Written(Instant),
}

/// What a reply's MSA-2 names.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// The written message (its `seq`) with this MSH-10.
    Message(u64),
    /// A message answered lately, or waiting to be written again: a reply to an earlier try.
    Late,
    /// No message of the window.
    Unmatched,
}

impl<P> Window<P> {
    /// An empty window that holds up to `cap` messages (at least one).
    pub fn new(cap: usize) -> Self {
        Window {
            cap: cap.max(1),
            slots: BTreeMap::new(),
            by_id: HashMap::new(),
            written: BTreeSet::new(),
            due: BTreeSet::new(),
            answered: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.slots.len() >= self.cap
    }

    /// Takes message `seq`, whose MSH-10 is `id`, into the window, due at `now`. The caller
    /// keeps to the capacity ([`Window::is_full`]).
    pub fn admit(&mut self, seq: u64, id: Vec<u8>, payload: P, now: Instant) {
        self.by_id.entry(id.clone()).or_default().push_back(seq);
        self.due.insert((now, seq));
        let state = State::Due(now);
        self.slots.insert(seq, Slot { id, state, payload });
    }

    pub fn get(&self, seq: u64) -> Option<&P> {
        self.slots.get(&seq).map(|s| &s.payload)
    }

    pub fn get_mut(&mut self, seq: u64) -> Option<&mut P> {
        self.slots.get_mut(&seq).map(|s| &mut s.payload)
    }

    /// The messages due by `now`, the earliest due first (in input order among equals).
    pub fn due_by(&self, now: Instant) -> Vec<u64> {
        self.due
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|&(_, seq)| seq)
            .collect()
    }

    /// Every message to be written, the earliest due first.
    pub fn due(&self) -> Vec<u64> {
        self.due.iter().map(|&(_, seq)| seq).collect()
    }

    /// When message `seq` is due, if it is to be written.
    pub fn due_at(&self, seq: u64) -> Option<Instant> {
        match self.slots.get(&seq)?.state {
            State::Due(t) => Some(t),
            State::Written(_) => None,
        }
    }

    /// When the next message that waits is due (`None`: none waits).
    pub fn next_due(&self) -> Option<Instant> {
        self.due.first().map(|&(t, _)| t)
    }

    /// The written messages, in input order.
    pub fn written(&self) -> Vec<u64> {
        self.slots
            .iter()
            .filter(|(_, s)| matches!(s.state, State::Written(_)))
            .map(|(&seq, _)| seq)
            .collect()
    }

    /// The message written longest ago, and when: the first whose timeout runs out.
    pub fn oldest_written(&self) -> Option<(Instant, u64)> {
        self.written.first().copied()
    }

    /// When message `seq` was last written, if it is written.
    pub fn written_at(&self, seq: u64) -> Option<Instant> {
        match self.slots.get(&seq)?.state {
            State::Written(t) => Some(t),
            State::Due(_) => None,
        }
    }

    /// Message `seq` was written at `at` (again, when it was written before).
    pub fn mark_written(&mut self, seq: u64, at: Instant) {
        self.set_state(seq, State::Written(at));
    }

    /// Message `seq` is to be written again, not before `at` (a retry).
    pub fn again_at(&mut self, seq: u64, at: Instant) {
        self.set_state(seq, State::Due(at));
    }

    fn set_state(&mut self, seq: u64, state: State) {
        let Some(slot) = self.slots.get_mut(&seq) else {
            return;
        };
        match slot.state {
            State::Due(t) => self.due.remove(&(t, seq)),
            State::Written(t) => self.written.remove(&(t, seq)),
        };
        match state {
            State::Due(t) => self.due.insert((t, seq)),
            State::Written(t) => self.written.insert((t, seq)),
        };
        slot.state = state;
    }

    /// The message a reply whose MSA-2 is `msa2` belongs to.
    pub fn find(&self, msa2: &[u8]) -> Found {
        if msa2.is_empty() {
            return Found::Unmatched;
        }
        if let Some(seqs) = self.by_id.get(msa2) {
            let written = seqs.iter().find(|seq| {
                self.slots
                    .get(seq)
                    .is_some_and(|s| matches!(s.state, State::Written(_)))
            });
            return written.map_or(Found::Late, |&seq| Found::Message(seq));
        }
        if self.answered.iter().any(|id| id == msa2) {
            Found::Late
        } else {
            Found::Unmatched
        }
    }

    /// Takes message `seq` out of the window (answered, or given up): its payload, and when it
    /// was last written if it is written. Later replies naming it are late.
    pub fn remove(&mut self, seq: u64) -> Option<(P, Option<Instant>)> {
        let slot = self.slots.remove(&seq)?;
        let written = match slot.state {
            State::Due(t) => {
                self.due.remove(&(t, seq));
                None
            }
            State::Written(t) => {
                self.written.remove(&(t, seq));
                Some(t)
            }
        };
        if let Some(seqs) = self.by_id.get_mut(&slot.id) {
            seqs.retain(|&s| s != seq);
            if seqs.is_empty() {
                self.by_id.remove(&slot.id);
            }
        }
        if self.answered.len() >= (2 * self.cap).max(MIN_ANSWERED) {
            self.answered.pop_front();
        }
        self.answered.push_back(slot.id);
        Some((slot.payload, written))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    /// A window of `cap` holding messages 0.. with these ids, all written at t0.
    fn written(cap: usize, ids: &[&str]) -> (Window<&'static str>, Instant) {
        let t0 = Instant::now();
        let mut w = Window::new(cap);
        for (seq, id) in ids.iter().enumerate() {
            w.admit(seq as u64, id.as_bytes().to_vec(), "payload", t0);
        }
        for seq in w.due_by(t0) {
            w.mark_written(seq, t0);
        }
        (w, t0)
    }

    #[test]
    fn replies_are_matched_by_msa2_in_any_order() {
        let (mut w, _) = written(4, &["A", "B", "C", "D"]);
        assert!(w.is_full());
        for (id, seq) in [("C", 2), ("A", 0), ("D", 3), ("B", 1)] {
            assert_eq!(w.find(id.as_bytes()), Found::Message(seq), "{id}");
            assert!(w.remove(seq).is_some());
            assert!(!w.is_full());
        }
        assert!(w.is_empty());
        assert_eq!(w.oldest_written(), None);
    }

    #[test]
    fn an_unknown_or_empty_msa2_matches_nothing() {
        let (w, _) = written(4, &["A", "B"]);
        assert_eq!(w.find(b"Z"), Found::Unmatched);
        assert_eq!(w.find(b""), Found::Unmatched);
        // Not a prefix match, nor one without case.
        assert_eq!(w.find(b"a"), Found::Unmatched);
        assert_eq!(w.find(b"AB"), Found::Unmatched);
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn a_second_reply_for_an_answered_message_is_late() {
        let (mut w, _) = written(2, &["A", "B"]);
        assert_eq!(w.find(b"A"), Found::Message(0));
        w.remove(0);
        assert_eq!(w.find(b"A"), Found::Late);
        // The answered are remembered for a while, then forgotten.
        let t = Instant::now();
        for seq in 2..40 {
            w.admit(seq, format!("X{seq}").into_bytes(), "payload", t);
            w.mark_written(seq, t);
            w.remove(seq);
        }
        assert_eq!(w.find(b"X39"), Found::Late);
        assert_eq!(w.find(b"A"), Found::Unmatched);
        assert_eq!(w.find(b"B"), Found::Message(1));
    }

    #[test]
    fn messages_sharing_an_id_take_the_replies_in_turn() {
        let (mut w, _) = written(4, &["A", "B", "A"]);
        assert_eq!(w.find(b"A"), Found::Message(0));
        w.remove(0);
        assert_eq!(w.find(b"A"), Found::Message(2));
        w.remove(2);
        assert_eq!(w.find(b"A"), Found::Late);
    }

    #[test]
    fn a_message_waiting_to_be_written_again_takes_no_reply() {
        let (mut w, t0) = written(4, &["A", "B"]);
        w.again_at(0, at(t0, 500));
        assert_eq!(w.find(b"A"), Found::Late);
        assert_eq!(w.written(), [1]);
        assert_eq!(w.due_by(at(t0, 499)), Vec::<u64>::new());
        assert_eq!(w.next_due(), Some(at(t0, 500)));
        assert_eq!(w.due_by(at(t0, 500)), [0]);
        w.mark_written(0, at(t0, 501));
        assert_eq!(w.find(b"A"), Found::Message(0));
        assert_eq!(w.written_at(0), Some(at(t0, 501)));
        assert_eq!(w.next_due(), None);
    }

    #[test]
    fn timeouts_count_from_each_write() {
        let t0 = Instant::now();
        let mut w = Window::new(8);
        for seq in 0..3 {
            w.admit(seq, vec![b'a' + seq as u8], (), t0);
        }
        for seq in 0..3 {
            w.mark_written(seq, at(t0, 10 * seq));
        }
        assert_eq!(w.oldest_written(), Some((t0, 0)));
        // Message 0 is written again: message 1 is now the oldest.
        w.mark_written(0, at(t0, 100));
        assert_eq!(w.oldest_written(), Some((at(t0, 10), 1)));
        let (_, when) = w.remove(1).unwrap();
        assert_eq!(when, Some(at(t0, 10)));
        assert_eq!(w.oldest_written(), Some((at(t0, 20), 2)));
        assert_eq!(w.written(), [0, 2]);
    }

    #[test]
    fn resends_go_in_input_order() {
        let (mut w, t0) = written(8, &["A", "B", "C"]);
        let again = at(t0, 500);
        for seq in w.written().into_iter().rev() {
            w.again_at(seq, again);
        }
        assert_eq!(w.due_by(again), [0, 1, 2]);
        assert!(w.written().is_empty());
        assert_eq!(w.oldest_written(), None);
    }
}
