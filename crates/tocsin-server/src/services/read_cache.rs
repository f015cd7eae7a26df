//! Reads served from memory while nothing changed.
//!
//! Every change appends to the audit chain, so the chain head's sequence number says
//! whether anything changed at all. A cached read is used while the head it was read at
//! is still the head. This server's own changes mark the head stale at once; changes by
//! other processes on the same database (the CLI, other instances) are seen within
//! [`HEAD_FRESH_FOR`], the longest a head reading is trusted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a reading of the chain head is trusted before it is read again.
pub const HEAD_FRESH_FOR: Duration = Duration::from_millis(200);

/// The last reading of the chain head.
#[derive(Debug, Default)]
pub struct Head(Mutex<Option<(u64, Instant)>>);

impl Head {
    /// The head, if it was read recently enough to trust.
    pub fn fresh_head(&self) -> Option<u64> {
        self.0
            .lock()
            .expect("not poisoned")
            .filter(|(_, at)| at.elapsed() < HEAD_FRESH_FOR)
            .map(|(seq, _)| seq)
    }

    pub fn set_head(&self, seq: u64) {
        *self.0.lock().expect("not poisoned") = Some((seq, Instant::now()));
    }

    /// Something changed here: read the head again before trusting anything.
    pub fn changed(&self) {
        *self.0.lock().expect("not poisoned") = None;
    }
}

/// Values read at a given head; at most `capacity` of them, then the memo starts over.
#[derive(Debug)]
pub struct Memo<K, V> {
    entries: Mutex<HashMap<K, (u64, V)>>,
    capacity: usize,
}

impl<K: std::hash::Hash + Eq, V: Clone> Memo<K, V> {
    pub fn new(capacity: usize) -> Self {
        Memo {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The value read at `head`, if any.
    pub fn get(&self, key: &K, head: u64) -> Option<V> {
        self.entries
            .lock()
            .expect("not poisoned")
            .get(key)
            .filter(|(at, _)| *at == head)
            .map(|(_, value)| value.clone())
    }

    pub fn put(&self, key: K, head: u64, value: V) {
        let mut entries = self.entries.lock().expect("not poisoned");
        if entries.len() >= self.capacity {
            entries.retain(|_, (at, _)| *at == head);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (head, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_served_only_while_the_head_it_was_read_at_is_the_head() {
        let (head, memo) = (Head::default(), Memo::<u32, &str>::new(2));
        assert_eq!(head.fresh_head(), None);
        head.set_head(7);
        assert_eq!(head.fresh_head(), Some(7));
        memo.put(1, 7, "seven");
        assert_eq!(memo.get(&1, 7), Some("seven"));
        assert_eq!(memo.get(&1, 8), None, "something changed since");
        head.changed();
        assert_eq!(head.fresh_head(), None, "a change here distrusts the head at once");
        memo.put(2, 9, "nine");
        memo.put(3, 9, "nine too");
        assert_eq!(memo.get(&1, 7), None, "full: values of an older head went first");
        assert_eq!(memo.get(&2, 9), Some("nine"));
    }
}
