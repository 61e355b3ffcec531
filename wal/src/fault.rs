//! Failure injection for tests of the write path: a [`WalIo`] wrapper that fails a chosen
//! call (the n-th append, sync, segment creation or directory sync), optionally after writing
//! only part of the buffer, the way a full disk does.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::io::{SegmentWriter, WalIo};

/// Which call fails. Counters start at 1 and count calls across all segments;
/// `u64::MAX` (the default) never fails.
#[derive(Debug)]
pub struct FaultPlan {
    /// Fail the n-th `append`.
    pub fail_append: AtomicU64,
    /// Fail the n-th `sync`.
    pub fail_sync: AtomicU64,
    /// Fail the n-th segment creation.
    pub fail_create: AtomicU64,
    /// Fail the n-th directory sync.
    pub fail_sync_dir: AtomicU64,
    /// A failing append first writes half its buffer (a torn write).
    pub torn_append: AtomicBool,
    appends: AtomicU64,
    syncs: AtomicU64,
    creates: AtomicU64,
    dir_syncs: AtomicU64,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            fail_append: AtomicU64::new(u64::MAX),
            fail_sync: AtomicU64::new(u64::MAX),
            fail_create: AtomicU64::new(u64::MAX),
            fail_sync_dir: AtomicU64::new(u64::MAX),
            torn_append: AtomicBool::new(false),
            appends: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            creates: AtomicU64::new(0),
            dir_syncs: AtomicU64::new(0),
        }
    }
}

impl FaultPlan {
    /// Calls of each kind so far: (appends, syncs, creations, directory syncs).
    pub fn calls(&self) -> (u64, u64, u64, u64) {
        (
            self.appends.load(Ordering::SeqCst),
            self.syncs.load(Ordering::SeqCst),
            self.creates.load(Ordering::SeqCst),
            self.dir_syncs.load(Ordering::SeqCst),
        )
    }
}

fn hit(counter: &AtomicU64, fail_at: &AtomicU64) -> bool {
    counter.fetch_add(1, Ordering::SeqCst) + 1 == fail_at.load(Ordering::SeqCst)
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected failure: {what}"))
}

/// Forwards to `inner` except where the [`FaultPlan`] says to fail.
pub struct FaultyIo {
    inner: Arc<dyn WalIo>,
    plan: Arc<FaultPlan>,
}

impl FaultyIo {
    /// Wraps `inner`; the test keeps a clone of `plan` to arm faults while the log runs.
    pub fn new(inner: Arc<dyn WalIo>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }
}

impl WalIo for FaultyIo {
    fn create_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentWriter>> {
        if hit(&self.plan.creates, &self.plan.fail_create) {
            return Err(injected("create segment"));
        }
        let inner = self.inner.create_segment(path)?;
        Ok(Box::new(FaultySegment {
            inner,
            plan: self.plan.clone(),
        }))
    }

    fn open_segment(&self, path: &Path, len: u64) -> io::Result<Box<dyn SegmentWriter>> {
        let inner = self.inner.open_segment(path, len)?;
        Ok(Box::new(FaultySegment {
            inner,
            plan: self.plan.clone(),
        }))
    }

    fn remove_segment(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_segment(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if hit(&self.plan.dir_syncs, &self.plan.fail_sync_dir) {
            return Err(injected("sync directory"));
        }
        self.inner.sync_dir(dir)
    }
}

struct FaultySegment {
    inner: Box<dyn SegmentWriter>,
    plan: Arc<FaultPlan>,
}

impl SegmentWriter for FaultySegment {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        if hit(&self.plan.appends, &self.plan.fail_append) {
            if self.plan.torn_append.load(Ordering::SeqCst) {
                self.inner.append(&buf[..buf.len() / 2])?;
            }
            return Err(injected("append"));
        }
        self.inner.append(buf)
    }

    fn sync(&mut self) -> io::Result<()> {
        if hit(&self.plan.syncs, &self.plan.fail_sync) {
            return Err(injected("sync"));
        }
        self.inner.sync()
    }
}
