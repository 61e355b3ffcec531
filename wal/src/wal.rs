//! The log: appends, group commit on a writer thread, replay, truncation.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::{IoBackend, SyncPolicy, WalConfig};
use crate::error::{Error, Result};
use crate::format::{FRAME_HEADER_LEN, SEGMENT_HEADER_LEN, encode_frame, encode_header};
use crate::io::{SegmentWriter, StdIo, WalIo};
use crate::reader::WalReader;
use crate::recovery::{self, RecoveryReport, SegmentMeta, segment_path};
use crate::uring::UringIo;

/// An open write-ahead log. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Wal {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    dir: PathBuf,
    config: WalConfig,
    io: Arc<dyn WalIo>,
    state: Mutex<State>,
    /// Wakes the writer thread when work is queued or the log closes.
    work: Condvar,
    /// Published by the writer thread after each group; appenders wait on it.
    progress: watch::Sender<Progress>,
    /// Data fsyncs issued by the writer thread (group commits, rotations, interval syncs).
    fsyncs: AtomicU64,
    /// Pauses of segment creation while the process was out of descriptors.
    descriptor_waits: AtomicU64,
    /// Holds the advisory lock on `dir/LOCK` for the log's lifetime.
    _lock: File,
    /// The directory, open for the log's lifetime: syncing it never needs a new descriptor.
    dir_handle: File,
}

#[derive(Debug, Clone)]
struct Progress {
    /// Every record below this is durable under the configured policy.
    durable_next: u64,
    failure: Option<Arc<str>>,
}

struct State {
    next_seq: u64,
    /// Framed records waiting for the writer thread, split where a new segment starts.
    queue: Vec<Chunk>,
    /// Buffers the writer thread handed back, reused to avoid reallocating.
    spare: Vec<Vec<u8>>,
    /// Segments on disk or queued for creation; the last one receives appends. Lengths
    /// include queued bytes, so the budget counts what is about to be written.
    segments: VecDeque<SegmentMeta>,
    disk_bytes: u64,
    /// Every record below this has been handed to the OS (readable from the files).
    written_next: u64,
    failure: Option<Arc<str>>,
    closing: bool,
    /// The writer thread is waiting on `work` (so an append must wake it).
    writer_idle: bool,
}

impl State {
    /// Appends are refused once a write failed or the log is closing.
    fn check_open(&self) -> Result<()> {
        if let Some(reason) = &self.failure {
            return Err(Error::Failed {
                reason: reason.clone(),
            });
        }
        if self.closing {
            return Err(Error::Closed);
        }
        Ok(())
    }
}

struct Chunk {
    /// Set when this chunk's records go into a new segment starting at this seq.
    new_segment: Option<u64>,
    bytes: Vec<u8>,
}

/// A record accepted into the log; await [`Appended::durable`] before acknowledging it.
#[must_use = "a record is not durable until `durable()` resolves"]
pub struct Appended {
    seq: u64,
    progress: watch::Receiver<Progress>,
}

impl Appended {
    /// The record's sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Resolves when the record is durable under the log's policy, or fails if a write or
    /// fsync failed first (then the record may or may not be on disk; it was not acknowledged).
    pub async fn durable(mut self) -> Result<u64> {
        let seq = self.seq;
        let progress = self
            .progress
            .wait_for(|p| p.durable_next > seq || p.failure.is_some())
            .await
            .map_err(|_| Error::Closed)?;
        if progress.durable_next > seq {
            Ok(seq)
        } else {
            Err(Error::Failed {
                reason: progress.failure.clone().expect("checked above"),
            })
        }
    }
}

/// What [`Wal::truncate_before`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TruncateOutcome {
    pub removed_segments: usize,
    pub removed_bytes: u64,
}

/// A snapshot of the log's positions and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalStats {
    /// Oldest record still on disk.
    pub first_seq: u64,
    /// Sequence number the next append gets.
    pub next_seq: u64,
    /// Every record below this is durable.
    pub durable_next: u64,
    /// Bytes in all segments, including records queued for writing.
    pub disk_bytes: u64,
    /// Segment files, including one queued for creation.
    pub segments: usize,
    /// Data fsyncs since the log was opened: with group commit, fewer than appends.
    pub fsyncs: u64,
    /// Times segment creation paused for want of a file descriptor (EMFILE, ENFILE) since
    /// the log was opened.
    pub descriptor_waits: u64,
}

impl Wal {
    /// Opens (creating if needed) the log in `dir`, recovering what a crash left behind.
    pub fn open(dir: impl AsRef<Path>, config: WalConfig) -> Result<(Self, RecoveryReport)> {
        let io: Arc<dyn WalIo> = match config.io_backend {
            IoBackend::Std => Arc::new(StdIo),
            IoBackend::IoUring if crate::uring::io_uring_available() => Arc::new(UringIo),
            IoBackend::IoUring => {
                tracing::warn!(
                    "io_uring is unavailable on this kernel; writing the WAL with std I/O"
                );
                Arc::new(StdIo)
            }
        };
        Self::open_with_io(dir, config, io)
    }

    /// Like [`Wal::open`] with an explicit write-path implementation (tests inject faults).
    pub fn open_with_io(
        dir: impl AsRef<Path>,
        config: WalConfig,
        io: Arc<dyn WalIo>,
    ) -> Result<(Self, RecoveryReport)> {
        config.validate()?;
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|err| Error::io(&dir, err))?;
        let lock = lock_dir(&dir)?;
        let dir_handle = File::open(&dir).map_err(|err| Error::io(&dir, err))?;
        let recovered = recovery::recover(&dir, config.max_record_size.0)?;
        let report = recovered.report;
        let mut segments: VecDeque<SegmentMeta> = recovered.segments.into();

        let descriptor_waits = AtomicU64::new(0);
        let active: Box<dyn SegmentWriter> = match segments.back() {
            Some(last) => {
                let path = segment_path(&dir, last.first_seq);
                io.open_segment(&path, last.len)
                    .map_err(|err| Error::io(&path, err))?
            }
            None => {
                let writer =
                    create_segment(&*io, &dir, &dir_handle, report.next_seq, &descriptor_waits)?;
                segments.push_back(SegmentMeta {
                    first_seq: report.next_seq,
                    len: SEGMENT_HEADER_LEN as u64,
                });
                writer
            }
        };
        let disk_bytes = segments.iter().map(|segment| segment.len).sum();
        let (progress, _) = watch::channel(Progress {
            durable_next: report.next_seq,
            failure: None,
        });
        let shared = Arc::new(Shared {
            dir,
            config,
            io,
            state: Mutex::new(State {
                next_seq: report.next_seq,
                queue: Vec::new(),
                spare: Vec::new(),
                segments,
                disk_bytes,
                written_next: report.next_seq,
                failure: None,
                closing: false,
                writer_idle: false,
            }),
            work: Condvar::new(),
            progress,
            fsyncs: AtomicU64::new(0),
            descriptor_waits,
            _lock: lock,
            dir_handle,
        });
        let writer = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("icegate-wal-writer".into())
                .spawn(move || WriterThread::new(shared, active).run())
                .map_err(|err| Error::io("icegate-wal-writer thread", err))?
        };
        Ok((
            Wal {
                shared,
                writer: Mutex::new(Some(writer)),
            },
            report,
        ))
    }

    /// The directory this log lives in.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The configuration the log runs with.
    pub fn config(&self) -> &WalConfig {
        &self.shared.config
    }

    /// Queues one record and returns at once with its sequence number; await
    /// [`Appended::durable`] before acknowledging. Fails with the retryable [`Error::Full`]
    /// when the disk budget is used up. Cost: a CRC pass over `payload` (outside the lock)
    /// and one copy of it (inside).
    pub fn append(&self, payload: &[u8]) -> Result<Appended> {
        self.append_then(payload, |_| ())
    }

    /// Like [`Wal::append`], and calls `then(seq)` while the log still holds its lock, so
    /// whatever `then` does (e.g. queueing the record for a consumer) happens in sequence
    /// order across concurrent appenders. `then` must be quick and must not touch the log.
    pub fn append_then(&self, payload: &[u8], then: impl FnOnce(u64)) -> Result<Appended> {
        let config = &self.shared.config;
        let len = payload.len() as u64;
        if len > config.max_record_size.0 {
            return Err(Error::RecordTooLarge {
                len,
                max: config.max_record_size.0,
            });
        }
        let payload_crc = crc32c::crc32c(payload);
        let frame_len = (FRAME_HEADER_LEN + payload.len()) as u64;

        let mut state = self.shared.lock_state();
        state.check_open()?;
        let active_len = state.segments.back().expect("always one segment").len;
        let rotate = rotates(active_len, frame_len, config.segment_size.0);
        let needed = frame_len + if rotate { SEGMENT_HEADER_LEN as u64 } else { 0 };
        if state.disk_bytes + needed > config.max_disk_size.0 {
            return Err(Error::Full {
                used: state.disk_bytes,
                budget: config.max_disk_size.0,
                needed,
            });
        }
        let seq = place(&mut state, config, payload, payload_crc);
        then(seq);
        Ok(self.queued(state, seq))
    }

    /// Queues several records at once, all or none: they get consecutive sequence numbers,
    /// and the disk budget is checked for all of them before any is queued, so one request
    /// split into several records is either wholly in the log or not at all (short of an
    /// I/O failure, which stops the log). `then(i, seq)` runs under the lock for each, in
    /// order. The returned [`Appended`] is the last record's: durable means all are.
    pub fn append_all_then(
        &self,
        payloads: &[Vec<u8>],
        mut then: impl FnMut(usize, u64),
    ) -> Result<Appended> {
        let config = &self.shared.config;
        assert!(!payloads.is_empty(), "append_all_then needs a record");
        for payload in payloads {
            let len = payload.len() as u64;
            if len > config.max_record_size.0 {
                return Err(Error::RecordTooLarge {
                    len,
                    max: config.max_record_size.0,
                });
            }
        }
        let crcs: Vec<u32> = payloads.iter().map(|p| crc32c::crc32c(p)).collect();

        let mut state = self.shared.lock_state();
        state.check_open()?;
        // What all of them need, segment rotations included, before anything changes.
        let mut active_len = state.segments.back().expect("always one segment").len;
        let mut needed = 0;
        for payload in payloads {
            let frame_len = (FRAME_HEADER_LEN + payload.len()) as u64;
            let rotate = rotates(active_len, frame_len, config.segment_size.0);
            needed += frame_len + if rotate { SEGMENT_HEADER_LEN as u64 } else { 0 };
            active_len = if rotate {
                SEGMENT_HEADER_LEN as u64
            } else {
                active_len
            } + frame_len;
        }
        if state.disk_bytes + needed > config.max_disk_size.0 {
            return Err(Error::Full {
                used: state.disk_bytes,
                budget: config.max_disk_size.0,
                needed,
            });
        }
        let mut seq = 0;
        for (i, (payload, crc)) in payloads.iter().zip(crcs).enumerate() {
            seq = place(&mut state, config, payload, crc);
            then(i, seq);
        }
        Ok(self.queued(state, seq))
    }

    /// Releases the lock after queueing up to `seq`; wakes the writer if it sleeps.
    fn queued(&self, mut state: MutexGuard<'_, State>, seq: u64) -> Appended {
        // A busy writer takes the queue when it finishes its group; waking it costs a syscall.
        let wake = std::mem::take(&mut state.writer_idle);
        drop(state);
        if wake {
            self.shared.work.notify_one();
        }
        Appended {
            seq,
            progress: self.shared.progress.subscribe(),
        }
    }

    /// Appends and waits until the record is durable; returns its sequence number.
    pub async fn append_durable(&self, payload: &[u8]) -> Result<u64> {
        self.append(payload)?.durable().await
    }

    /// Resolves when record `seq` is durable under the log's policy; fails if a write or
    /// fsync failed before it became durable (the log then refuses every later append too).
    pub async fn durable(&self, seq: u64) -> Result<u64> {
        Appended {
            seq,
            progress: self.shared.progress.subscribe(),
        }
        .durable()
        .await
    }

    /// Reads records from `from` up to everything written when this is called. Fails with
    /// [`Error::Truncated`] if `from` is older than the oldest record kept.
    pub fn read_from(&self, from: u64) -> Result<WalReader> {
        let (segments, end_seq) = {
            let state = self.shared.lock_state();
            let first_seq = state
                .segments
                .front()
                .expect("always one segment")
                .first_seq;
            if from < first_seq {
                return Err(Error::Truncated {
                    requested: from,
                    first_available: first_seq,
                });
            }
            let segments: Vec<_> = state
                .segments
                .iter()
                .filter(|segment| segment.first_seq < state.written_next)
                .map(|segment| {
                    (
                        segment.first_seq,
                        segment_path(&self.shared.dir, segment.first_seq),
                    )
                })
                .collect();
            (segments, state.written_next)
        };
        Ok(WalReader::new(
            segments,
            from,
            end_seq,
            self.shared.config.max_record_size.0,
        ))
    }

    /// Deletes every segment whose records all lie below `seq` and are durable (the Iceberg
    /// commit covers them). The segment receiving appends is never deleted. Whole segments
    /// only: records below `seq` in a kept segment stay readable.
    pub fn truncate_before(&self, seq: u64) -> Result<TruncateOutcome> {
        let bound = seq.min(self.shared.progress.borrow().durable_next);
        let removed: Vec<SegmentMeta> = {
            let mut state = self.shared.lock_state();
            let mut removed = Vec::new();
            while state.segments.len() > 1 && state.segments[1].first_seq <= bound {
                let segment = state.segments.pop_front().expect("len > 1");
                state.disk_bytes -= segment.len;
                removed.push(segment);
            }
            removed
        };
        let mut outcome = TruncateOutcome::default();
        for segment in &removed {
            let path = segment_path(&self.shared.dir, segment.first_seq);
            self.shared
                .io
                .remove_segment(&path)
                .map_err(|err| Error::io(&path, err))?;
            outcome.removed_segments += 1;
            outcome.removed_bytes += segment.len;
        }
        if !removed.is_empty() {
            self.shared
                .io
                .sync_dir(&self.shared.dir, &self.shared.dir_handle)
                .map_err(|err| Error::io(&self.shared.dir, err))?;
        }
        Ok(outcome)
    }

    /// Positions and size right now.
    pub fn stats(&self) -> WalStats {
        let durable_next = self.shared.progress.borrow().durable_next;
        let state = self.shared.lock_state();
        WalStats {
            first_seq: state
                .segments
                .front()
                .expect("always one segment")
                .first_seq,
            next_seq: state.next_seq,
            durable_next,
            disk_bytes: state.disk_bytes,
            segments: state.segments.len(),
            fsyncs: self.shared.fsyncs.load(Ordering::Relaxed),
            descriptor_waits: self.shared.descriptor_waits.load(Ordering::Relaxed),
        }
    }

    /// Writes and syncs everything queued, stops the writer thread, and reports a write
    /// failure if one happened. Dropping the log does the same but cannot report.
    pub fn close(&self) -> Result<()> {
        self.shared.lock_state().closing = true;
        self.shared.work.notify_one();
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        match &self.shared.lock_state().failure {
            Some(reason) => Err(Error::Failed {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl Shared {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        // The lock guards plain data; a panicking holder leaves it consistent enough to
        // report the failure rather than cascade.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join("LOCK");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|err| Error::io(&path, err))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked {
            path: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(err)) => Err(Error::io(&path, err)),
    }
}

/// Whether a frame of `frame_len` bytes opens a new segment after an active one of
/// `active_len` bytes (a segment always takes at least one record).
fn rotates(active_len: u64, frame_len: u64, segment_size: u64) -> bool {
    active_len > SEGMENT_HEADER_LEN as u64 && active_len + frame_len > segment_size
}

/// Queues one record's frame (the caller checked the budget); returns its sequence number.
fn place(state: &mut State, config: &WalConfig, payload: &[u8], payload_crc: u32) -> u64 {
    let frame_len = (FRAME_HEADER_LEN + payload.len()) as u64;
    let active_len = state.segments.back().expect("always one segment").len;
    let rotate = rotates(active_len, frame_len, config.segment_size.0);
    let seq = state.next_seq;
    state.next_seq += 1;
    state.disk_bytes += frame_len + if rotate { SEGMENT_HEADER_LEN as u64 } else { 0 };
    if rotate {
        state.segments.push_back(SegmentMeta {
            first_seq: seq,
            len: SEGMENT_HEADER_LEN as u64,
        });
    }
    state.segments.back_mut().expect("always one segment").len += frame_len;
    if rotate || state.queue.is_empty() {
        let bytes = state.spare.pop().unwrap_or_default();
        state.queue.push(Chunk {
            new_segment: rotate.then_some(seq),
            bytes,
        });
    }
    let chunk = state.queue.last_mut().expect("pushed above");
    encode_frame(&mut chunk.bytes, seq, payload, payload_crc);
    seq
}

/// Creates a segment with its header and makes header and directory entry durable.
fn create_segment(
    io: &dyn WalIo,
    dir: &Path,
    dir_handle: &File,
    first_seq: u64,
    descriptor_waits: &AtomicU64,
) -> Result<Box<dyn SegmentWriter>> {
    let path = segment_path(dir, first_seq);
    let mut writer =
        create_file(io, &path, descriptor_waits).map_err(|err| Error::io(&path, err))?;
    writer
        .append_and_sync(&encode_header(first_seq))
        .map_err(|err| Error::io(&path, err))?;
    io.sync_dir(dir, dir_handle)
        .map_err(|err| Error::io(dir, err))?;
    Ok(writer)
}

/// How long segment creation waits out a descriptor shortage (EMFILE, ENFILE: a connection
/// flood) before the log fails; appends wait meanwhile.
const DESCRIPTOR_WAIT: Duration = Duration::from_secs(10);

/// Creates the segment file, retrying while the process or system is out of descriptors:
/// the shortage passes when connections close, and must not stop the log for good.
fn create_file(
    io: &dyn WalIo,
    path: &Path,
    waits: &AtomicU64,
) -> std::io::Result<Box<dyn SegmentWriter>> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match io.create_segment(path) {
            Err(err)
                if matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
                    && started.elapsed() < DESCRIPTOR_WAIT =>
            {
                waits.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %path.display(), "out of file descriptors creating a WAL segment; retrying");
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            outcome => return outcome,
        }
    }
}

/// The only code that writes segment files.
struct WriterThread {
    shared: Arc<Shared>,
    active: Box<dyn SegmentWriter>,
    active_first_seq: u64,
    /// Whether bytes were written since the last fsync (for `interval`).
    unsynced: bool,
    last_sync: Instant,
}

impl WriterThread {
    fn new(shared: Arc<Shared>, active: Box<dyn SegmentWriter>) -> Self {
        let active_first_seq = shared
            .lock_state()
            .segments
            .back()
            .expect("always one segment")
            .first_seq;
        Self {
            shared,
            active,
            active_first_seq,
            unsynced: false,
            last_sync: Instant::now(),
        }
    }

    fn run(mut self) {
        loop {
            let (chunks, group_end, closing) = self.next_group();
            let outcome = self.write_group(&chunks, closing);
            let mut state = self.shared.lock_state();
            for mut chunk in chunks {
                chunk.bytes.clear();
                if state.spare.len() < 4 {
                    state.spare.push(chunk.bytes);
                }
            }
            match outcome {
                Ok(()) => {
                    state.written_next = group_end;
                    drop(state);
                    self.shared
                        .progress
                        .send_modify(|progress| progress.durable_next = group_end);
                    if closing {
                        return;
                    }
                }
                Err(err) => {
                    let reason: Arc<str> = err.to_string().into();
                    tracing::error!(error = %err, "WAL write failed; the log stops until reopened");
                    state.failure = Some(reason.clone());
                    drop(state);
                    self.shared
                        .progress
                        .send_modify(|progress| progress.failure = Some(reason));
                    return;
                }
            }
        }
    }

    /// Waits for queued records (or the interval fsync deadline, or close) and takes them.
    fn next_group(&mut self) -> (Vec<Chunk>, u64, bool) {
        let config = &self.shared.config;
        let mut state = self.shared.lock_state();
        loop {
            if !state.queue.is_empty() || state.closing {
                break;
            }
            state.writer_idle = true;
            if config.sync == SyncPolicy::Interval && self.unsynced {
                let deadline = self.last_sync + config.sync_interval;
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                state = self
                    .shared
                    .work
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
            } else {
                state = self
                    .shared
                    .work
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }
        state.writer_idle = false;
        let chunks = std::mem::take(&mut state.queue);
        (chunks, state.next_seq, state.closing)
    }

    /// Writes a group and syncs it as the policy says; afterwards the group counts as durable
    /// (`interval` and `never` acknowledge once the OS has the bytes).
    fn write_group(&mut self, chunks: &[Chunk], closing: bool) -> Result<()> {
        let policy = self.shared.config.sync;
        let last = chunks.len().saturating_sub(1);
        for (index, chunk) in chunks.iter().enumerate() {
            if let Some(first_seq) = chunk.new_segment {
                self.rotate(first_seq)?;
            }
            let sync_now = index == last && policy == SyncPolicy::Always;
            let result = if sync_now {
                self.active.append_and_sync(&chunk.bytes)
            } else {
                self.active.append(&chunk.bytes)
            };
            result.map_err(|err| self.io_error(err))?;
            if sync_now {
                self.count_fsync();
            }
            self.unsynced = !sync_now;
        }
        let interval_due = policy == SyncPolicy::Interval
            && self.unsynced
            && self.last_sync.elapsed() >= self.shared.config.sync_interval;
        if self.unsynced && (interval_due || (closing && policy != SyncPolicy::Never)) {
            self.sync_active()?;
        }
        if !self.unsynced {
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Finishes the active segment and starts the next one.
    fn rotate(&mut self, first_seq: u64) -> Result<()> {
        if self.shared.config.sync != SyncPolicy::Never && self.unsynced {
            self.sync_active()?;
        }
        self.active = create_segment(
            &*self.shared.io,
            &self.shared.dir,
            &self.shared.dir_handle,
            first_seq,
            &self.shared.descriptor_waits,
        )?;
        self.active_first_seq = first_seq;
        Ok(())
    }

    fn sync_active(&mut self) -> Result<()> {
        self.active.sync().map_err(|err| self.io_error(err))?;
        self.count_fsync();
        self.unsynced = false;
        Ok(())
    }

    fn count_fsync(&self) {
        self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
    }

    fn io_error(&self, err: std::io::Error) -> Error {
        Error::io(segment_path(&self.shared.dir, self.active_first_seq), err)
    }
}
