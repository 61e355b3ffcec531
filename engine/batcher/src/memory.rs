//! Memory accounting shared by everything that holds batches.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes held by batches, against a limit. Cloning shares the account.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    used: AtomicU64,
    limit: u64,
}

impl MemoryBudget {
    pub fn new(limit: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                used: AtomicU64::new(0),
                limit,
            }),
        }
    }

    /// Bytes held right now.
    pub fn used(&self) -> u64 {
        self.inner.used.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> u64 {
        self.inner.limit
    }

    /// Whether new work should be refused (the server answers 429 / RESOURCE_EXHAUSTED).
    pub fn is_exhausted(&self) -> bool {
        self.used() >= self.inner.limit
    }

    /// Accounts `bytes` until the returned reservation is dropped. Never fails: admission
    /// control is the caller's check of [`MemoryBudget::is_exhausted`] before accepting work.
    pub fn reserve(&self, bytes: u64) -> Reservation {
        self.inner.used.fetch_add(bytes, Ordering::Relaxed);
        Reservation {
            budget: self.clone(),
            bytes,
        }
    }
}

/// Bytes accounted in a [`MemoryBudget`] until this is dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: MemoryBudget,
    bytes: u64,
}

impl Reservation {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Folds `other` into this reservation.
    pub fn merge(&mut self, mut other: Reservation) {
        self.bytes += std::mem::take(&mut other.bytes);
    }

    /// Grows or shrinks the accounted size to `bytes` only if the budget then stays within
    /// its limit (shrinking always succeeds); returns whether it did. What reserves memory
    /// before allocating it (a decode) uses this, not [`Reservation::resize`].
    pub fn try_resize(&mut self, bytes: u64) -> bool {
        if bytes <= self.bytes {
            self.resize(bytes);
            return true;
        }
        let delta = bytes - self.bytes;
        let used = &self.budget.inner.used;
        let before = used.fetch_add(delta, Ordering::Relaxed);
        if before + delta > self.budget.inner.limit {
            used.fetch_sub(delta, Ordering::Relaxed);
            return false;
        }
        self.bytes = bytes;
        true
    }

    /// Moves `bytes` (at most all) of this reservation into a new one.
    pub fn split_off(&mut self, bytes: u64) -> Reservation {
        let bytes = bytes.min(self.bytes);
        self.bytes -= bytes;
        Reservation {
            budget: self.budget.clone(),
            bytes,
        }
    }

    /// Changes the accounted size (after concatenation or sorting changed the real size).
    pub fn resize(&mut self, bytes: u64) {
        let used = &self.budget.inner.used;
        if bytes > self.bytes {
            used.fetch_add(bytes - self.bytes, Ordering::Relaxed);
        } else {
            used.fetch_sub(self.bytes - bytes, Ordering::Relaxed);
        }
        self.bytes = bytes;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget
            .inner
            .used
            .fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_give_their_bytes_back() {
        let budget = MemoryBudget::new(100);
        let mut a = budget.reserve(60);
        let b = budget.reserve(50);
        assert_eq!(budget.used(), 110);
        assert!(budget.is_exhausted());
        a.merge(b);
        assert_eq!((a.bytes(), budget.used()), (110, 110));
        a.resize(30);
        assert_eq!(budget.used(), 30);
        drop(a);
        assert_eq!(budget.used(), 0);
        assert!(!budget.is_exhausted());
    }

    #[test]
    fn try_resize_stays_within_the_limit() {
        let budget = MemoryBudget::new(100);
        let held = budget.reserve(40);
        let mut request = budget.reserve(0);
        assert!(request.try_resize(60));
        assert!(!request.try_resize(61), "would pass the limit");
        assert_eq!((request.bytes(), budget.used()), (60, 100));
        assert!(request.try_resize(10));
        let part = request.split_off(4);
        assert_eq!((request.bytes(), part.bytes(), budget.used()), (6, 4, 50));
        drop((held, part));
        assert_eq!(budget.used(), 6);
    }
}
