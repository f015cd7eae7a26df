//! Puts events back in time order. A parser may date an event before lines it has
//! already read (sshd's unanswered `Invalid user` probe is known only when its connection
//! ends), but detectors read events in time order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use jiff::{SignedDuration, Timestamp};

/// Holds each event until the log has moved `slack` past it, then lets events go oldest
/// first; events of the same time keep the order they came in.
#[derive(Debug)]
pub struct Reorder<T> {
    held: BinaryHeap<Reverse<Held<T>>>,
    slack: SignedDuration,
    latest: Option<Timestamp>,
    next: u64,
}

#[derive(Debug)]
struct Held<T> {
    at: Timestamp,
    order: u64,
    item: T,
}

impl<T> PartialEq for Held<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl<T> Eq for Held<T> {}
impl<T> PartialOrd for Held<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Held<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

impl<T> Reorder<T> {
    pub fn new(slack: SignedDuration) -> Self {
        Reorder {
            held: BinaryHeap::new(),
            slack,
            latest: None,
            next: 0,
        }
    }

    /// Takes an event dated `at`, moving `out` the events now old enough.
    pub fn push(&mut self, at: Timestamp, item: T, out: &mut Vec<T>) {
        self.held.push(Reverse(Held {
            at,
            order: self.next,
            item,
        }));
        self.next += 1;
        let latest = *self.latest.get_or_insert(at);
        if at > latest {
            self.latest = Some(at);
        }
        let cutoff = self.latest.map(|l| l - self.slack);
        while let Some(Reverse(oldest)) = self.held.peek() {
            if cutoff.is_some_and(|c| oldest.at > c) {
                break;
            }
            out.extend(self.held.pop().map(|Reverse(h)| h.item));
        }
    }

    /// Lets every held event go, oldest first.
    pub fn finish(&mut self, out: &mut Vec<T>) {
        while let Some(Reverse(held)) = self.held.pop() {
            out.push(held.item);
        }
    }

    /// Events held now.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_events_are_put_back_in_order_and_ties_keep_their_order() {
        let t = |s: i64| Timestamp::from_second(1_767_571_200 + s).unwrap();
        let mut reorder = Reorder::new(SignedDuration::from_secs(60));
        let mut out = Vec::new();
        for (at, name) in [(10, "a"), (20, "b"), (5, "late"), (20, "c"), (75, "d")] {
            reorder.push(t(at), name, &mut out);
        }
        assert_eq!(out, ["late", "a"], "held until a minute of log time passed");
        reorder.push(t(200), "e", &mut out);
        assert_eq!(out, ["late", "a", "b", "c", "d"]);
        reorder.finish(&mut out);
        assert_eq!(out, ["late", "a", "b", "c", "d", "e"]);
        assert!(reorder.is_empty());
    }
}
