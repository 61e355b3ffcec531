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
    /// The next this many segment creations fail with EMFILE (a descriptor shortage that
    /// passes), before `fail_create` is consulted.
    pub emfile_creates: AtomicU64,
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
            emfile_creates: AtomicU64::new(0),
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
        let shortage =
            self.plan
                .emfile_creates
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                });
        if shortage.is_ok() {
            return Err(io::Error::from_raw_os_error(libc::EMFILE));
        }
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

    fn sync_dir(&self, dir: &Path, handle: &std::fs::File) -> io::Result<()> {
        if hit(&self.plan.dir_syncs, &self.plan.fail_sync_dir) {
            return Err(injected("sync directory"));
        }
        self.inner.sync_dir(dir, handle)
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

/// A simulated power loss. Forwards to real files and remembers, per segment, how much was
/// made durable: data by `sync`, a new segment's existence by the next directory sync.
/// [`PowerLossIo::power_loss`] then cuts the power: every later call fails, each segment is
/// cut back to its synced length, and segments whose creation was never synced disappear —
/// what the disk holds after the machine loses power. (Removals are taken as durable at
/// once: undoing an unlink is not possible, and a removed segment only ever held records
/// the lake already has.)
#[derive(Debug, Default)]
pub struct PowerLossIo {
    state: Arc<std::sync::Mutex<PowerState>>,
}

#[derive(Debug, Default)]
struct PowerState {
    off: bool,
    segments: std::collections::HashMap<std::path::PathBuf, SegmentDurability>,
}

#[derive(Debug, Clone, Copy)]
struct SegmentDurability {
    written: u64,
    synced: u64,
    /// The directory entry survives a power loss.
    linked: bool,
}

/// What a power loss took.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PowerLossReport {
    /// Bytes written to segments and never synced.
    pub bytes_dropped: u64,
    /// Segments created and never made durable by a directory sync.
    pub segments_dropped: usize,
}

impl PowerLossIo {
    pub fn new() -> Self {
        Self::default()
    }

    /// Cuts the power: drops every unsynced write (see the type's docs). The WAL using this
    /// I/O fails from here on; drop it and open the directory again to "reboot".
    pub fn power_loss(&self) -> io::Result<PowerLossReport> {
        let mut state = self.lock();
        state.off = true;
        let mut report = PowerLossReport::default();
        for (path, segment) in state.segments.drain() {
            if !segment.linked {
                report.segments_dropped += 1;
                report.bytes_dropped += segment.written;
                match std::fs::remove_file(&path) {
                    Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
                    _ => {}
                }
                continue;
            }
            report.bytes_dropped += segment.written - segment.synced;
            match std::fs::OpenOptions::new().write(true).open(&path) {
                Ok(file) => file.set_len(segment.synced)?,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {} // removed by truncation
                Err(err) => return Err(err),
            }
        }
        Ok(report)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PowerState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn powered_off() -> io::Error {
    io::Error::other("simulated power loss")
}

impl WalIo for PowerLossIo {
    fn create_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentWriter>> {
        let mut state = self.lock();
        if state.off {
            return Err(powered_off());
        }
        let inner = crate::io::StdIo.create_segment(path)?;
        let durability = SegmentDurability {
            written: 0,
            synced: 0,
            linked: false,
        };
        state.segments.insert(path.to_path_buf(), durability);
        Ok(Box::new(PowerLossSegment {
            inner,
            path: path.to_path_buf(),
            state: self.state.clone(),
        }))
    }

    fn open_segment(&self, path: &Path, len: u64) -> io::Result<Box<dyn SegmentWriter>> {
        let mut state = self.lock();
        if state.off {
            return Err(powered_off());
        }
        let inner = crate::io::StdIo.open_segment(path, len)?;
        // What recovery found is on disk already.
        let durability = SegmentDurability {
            written: len,
            synced: len,
            linked: true,
        };
        state.segments.insert(path.to_path_buf(), durability);
        Ok(Box::new(PowerLossSegment {
            inner,
            path: path.to_path_buf(),
            state: self.state.clone(),
        }))
    }

    fn remove_segment(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        if state.off {
            return Err(powered_off());
        }
        std::fs::remove_file(path)?;
        state.segments.remove(path);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path, handle: &std::fs::File) -> io::Result<()> {
        let mut state = self.lock();
        if state.off {
            return Err(powered_off());
        }
        crate::io::StdIo.sync_dir(dir, handle)?;
        for segment in state.segments.values_mut() {
            segment.linked = true;
        }
        Ok(())
    }
}

struct PowerLossSegment {
    inner: Box<dyn SegmentWriter>,
    path: std::path::PathBuf,
    state: Arc<std::sync::Mutex<PowerState>>,
}

impl PowerLossSegment {
    /// Runs `call` unless the power is off, then records its effect — under the lock, so a
    /// power loss never races a write.
    fn powered(
        &mut self,
        call: impl FnOnce(&mut dyn SegmentWriter) -> io::Result<()>,
        effect: impl FnOnce(&mut SegmentDurability),
    ) -> io::Result<()> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.off {
            return Err(powered_off());
        }
        call(&mut *self.inner)?;
        if let Some(segment) = state.segments.get_mut(&self.path) {
            effect(segment);
        }
        Ok(())
    }
}

impl SegmentWriter for PowerLossSegment {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let len = buf.len() as u64;
        self.powered(|inner| inner.append(buf), |s| s.written += len)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.powered(|inner| inner.sync(), |s| s.synced = s.written)
    }
}
