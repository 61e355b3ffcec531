//! What the pipeline counts and how each table's lane is doing: read by the server for
//! `/metrics` and `/readyz`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use icegate_batcher::TableKey;

use crate::signal::Signal;

/// Latency buckets in seconds for flush and commit histograms.
pub const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A fixed-bucket histogram (cumulative counts per bucket of [`BUCKETS`]).
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, seconds: f64) {
        for (bucket, count) in BUCKETS.iter().zip(&self.counts) {
            if seconds <= *bucket {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Cumulative count per bucket of [`BUCKETS`].
    pub fn bucket_counts(&self) -> Vec<u64> {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    pub fn sum_seconds(&self) -> f64 {
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// Per-signal request counters (the server's handlers count into them).
#[derive(Debug, Default)]
pub struct SignalCounters {
    pub records_accepted: AtomicU64,
    /// Records left out of accepted requests because they do not decode (partial success).
    pub records_rejected: AtomicU64,
    pub bytes_accepted: AtomicU64,
    pub requests_rejected: AtomicU64,
    pub bytes_rejected: AtomicU64,
}

/// Everything the pipeline and the server count.
#[derive(Debug, Default)]
pub struct Metrics {
    pub logs: SignalCounters,
    pub traces: SignalCounters,
    pub metrics: SignalCounters,
    pub ndjson: SignalCounters,
    pub backpressure_events: AtomicU64,
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
    pub commit_retries: AtomicU64,
    /// Records replayed from the WAL at start-up into lanes.
    pub replayed_records: AtomicU64,
    /// Records found already in the lake (replay after a crash, or a lost commit answer).
    pub already_committed_records: AtomicU64,
    pub quarantined_batches: AtomicU64,
    pub quarantined_records: AtomicU64,
    /// Records whose WAL write failed (answered 503, never acknowledged).
    pub wal_holes: AtomicU64,
    /// Requests that decoded to more than one WAL record takes, stored as several records.
    pub split_requests: AtomicU64,
    /// Tables whose watermark was at or past this WAL's start (a regressed or restored WAL).
    pub wal_regressions: AtomicU64,
    pub wal_bytes: AtomicU64,
    /// Pauses of WAL segment creation for want of a file descriptor (from the WAL's stats).
    pub wal_descriptor_waits: AtomicU64,
    pub batch_memory_bytes: AtomicU64,
    /// Attribute keys promoted to columns by this node's schema updates.
    pub promoted_columns: AtomicU64,
    /// Values that did not fit their promoted column, kept in `_rescued`.
    pub rescued_values: AtomicU64,
    pub flush_seconds: Histogram,
    pub commit_seconds: Histogram,
}

impl Metrics {
    pub fn signal(&self, signal: Signal) -> &SignalCounters {
        match signal {
            Signal::Logs => &self.logs,
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
        }
    }
}

/// How a table's lane is doing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "reason")]
pub enum LaneState {
    /// Waiting for the lake to read the table's watermark.
    Opening,
    Ok,
    /// The last attempt failed and is being retried (an outage).
    Retrying(String),
    /// Committing stopped; the WAL keeps the records (another process writes as this writer).
    Blocked(String),
}

/// One lane's state and counters.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LaneReport {
    pub table: String,
    #[serde(flatten)]
    pub state: LaneState,
    pub commits: u64,
    pub committed_records: u64,
    pub already_committed_records: u64,
    pub quarantined_batches: u64,
    pub quarantined_records: u64,
    pub last_quarantine: Option<String>,
    /// Bytes of this table's records in memory: queued for the lane and in its pending batch.
    pub memory_bytes: u64,
}

/// How replay of the WAL at start-up is going.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "reason")]
pub enum ReplayState {
    Running,
    Done,
    /// The WAL could not be read past some point: nothing after it is committed or deleted.
    Failed(String),
}

/// The pipeline's health, shared by its tasks.
#[derive(Debug)]
pub struct Health {
    lanes: Mutex<BTreeMap<TableKey, LaneReport>>,
    replay: Mutex<ReplayState>,
    wal_failure: Mutex<Option<String>>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            lanes: Mutex::new(BTreeMap::new()),
            replay: Mutex::new(ReplayState::Running),
            wal_failure: Mutex::new(None),
        }
    }
}

impl Health {
    pub fn lanes(&self) -> Vec<LaneReport> {
        self.lanes
            .lock()
            .expect("not poisoned")
            .values()
            .cloned()
            .collect()
    }

    pub fn replay(&self) -> ReplayState {
        self.replay.lock().expect("not poisoned").clone()
    }

    pub fn wal_failure(&self) -> Option<String> {
        self.wal_failure.lock().expect("not poisoned").clone()
    }

    pub(crate) fn set_replay(&self, state: ReplayState) {
        *self.replay.lock().expect("not poisoned") = state;
    }

    pub(crate) fn set_wal_failure(&self, reason: String) {
        self.wal_failure
            .lock()
            .expect("not poisoned")
            .get_or_insert(reason);
    }

    /// Changes `key`'s report (creating it).
    pub(crate) fn update(&self, key: &TableKey, change: impl FnOnce(&mut LaneReport)) {
        let mut lanes = self.lanes.lock().expect("not poisoned");
        let report = lanes.entry(key.clone()).or_insert_with(|| LaneReport {
            table: key.to_string(),
            state: LaneState::Opening,
            commits: 0,
            committed_records: 0,
            already_committed_records: 0,
            quarantined_batches: 0,
            quarantined_records: 0,
            last_quarantine: None,
            memory_bytes: 0,
        });
        change(report);
    }

    /// Whether `key` may take another request. A blocked table commits nothing until an
    /// operator acts, and no table may hold more than `share` bytes of memory: one table
    /// whose lake fails must not fill the memory (and with it the WAL) the others need.
    pub(crate) fn admit(&self, key: &TableKey, share: u64) -> crate::Result<()> {
        let lanes = self.lanes.lock().expect("not poisoned");
        let Some(report) = lanes.get(key) else {
            return Ok(());
        };
        if let LaneState::Blocked(reason) = &report.state {
            return Err(crate::Error::Unavailable(format!(
                "table {key} does not commit ({reason}); its records stay in the WAL"
            )));
        }
        if report.memory_bytes >= share {
            return Err(crate::Error::Backpressure {
                what: format!("table {key}'s share of the memory"),
            });
        }
        Ok(())
    }

    /// Adds (or with a negative `delta` releases) `key`'s bytes in memory.
    pub(crate) fn add_memory(&self, key: &TableKey, delta: i64) {
        self.update(key, |r| {
            r.memory_bytes = r.memory_bytes.saturating_add_signed(delta);
        });
    }
}

/// Shared by the accept path, the flusher and the server.
pub type SharedHealth = Arc<Health>;
