//! Which WAL records are still needed: the bound below which the WAL may be truncated.

use std::collections::BTreeSet;
use std::sync::Mutex;

use icegate_wal::Wal;

/// Every WAL record acknowledged (or being replayed) and not yet in the lake or the
/// quarantine, plus the replay position: nothing at or above either may be deleted.
#[derive(Debug)]
pub struct Tracker {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    live: BTreeSet<u64>,
    /// The next record replay has not read yet (`u64::MAX` once replay is done).
    replay_floor: u64,
}

impl Tracker {
    /// A tracker whose replay starts at `replay_from`.
    pub fn new(replay_from: u64) -> Self {
        Self {
            inner: Mutex::new(Inner {
                live: BTreeSet::new(),
                replay_floor: replay_from,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, seq: u64) {
        self.lock().live.insert(seq);
    }

    pub fn remove(&self, seq: u64) {
        self.lock().live.remove(&seq);
    }

    pub fn remove_all(&self, seqs: &[u64]) {
        let mut inner = self.lock();
        for seq in seqs {
            inner.live.remove(seq);
        }
    }

    /// Replay has read everything below `seq` (and registered what it still needs).
    pub fn advance_replay(&self, seq: u64) {
        let mut inner = self.lock();
        inner.replay_floor = inner.replay_floor.max(seq);
    }

    /// Records still needed.
    pub fn len(&self) -> usize {
        self.lock().live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lowest sequence number still needed, given the WAL's next sequence number read
    /// *before* this call (a record appended later has a higher number; one appended
    /// earlier was registered under the WAL's lock before its number was handed out).
    pub fn bound(&self, next_seq_read_first: u64) -> u64 {
        let inner = self.lock();
        let lowest = inner.live.first().copied().unwrap_or(u64::MAX);
        lowest.min(inner.replay_floor).min(next_seq_read_first)
    }

    /// Deletes the WAL segments nothing needs any more.
    pub fn truncate(&self, wal: &Wal) -> icegate_wal::Result<()> {
        let next = wal.stats().next_seq;
        wal.truncate_before(self.bound(next)).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_the_lowest_need() {
        let tracker = Tracker::new(5);
        assert_eq!(tracker.bound(100), 5, "replay has not read past 5");
        tracker.insert(7);
        tracker.insert(9);
        tracker.advance_replay(u64::MAX);
        assert_eq!(tracker.bound(100), 7);
        tracker.remove(7);
        assert_eq!(tracker.bound(100), 9);
        tracker.remove_all(&[9]);
        assert_eq!(tracker.bound(100), 100);
        assert!(tracker.is_empty());
    }
}
