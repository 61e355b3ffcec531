//! Crashes and power loss against the real Iceberg lake (SQLite catalog, local Parquet),
//! read back by PyIceberg: a crash-point sweep (the process dies right after a batch's files
//! are written, or right after its commit landed and before the WAL is truncated, at the
//! n-th flush of two tables), and a simulated power loss (unsynced WAL writes dropped) with
//! `sync = always` and `sync = interval`. The oracle: every acknowledged record in its table
//! exactly once (for `interval`: every record the lake had before the power loss, and every
//! record acknowledged after it).

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use arrow::array::RecordBatch;
use async_trait::async_trait;
use common::{Run, RunOptions, logs_key, pyiceberg_bodies, python, wait_for};
use icegate_batcher::TableKey;
use icegate_committer::LakeConfig;
use icegate_pipeline::{Commit, CommitOutcome, IcebergLake, LakeSink, Result, Signal, Watermark};
use icegate_wal::fault::PowerLossIo;
use icegate_wal::{SyncPolicy, WalConfig};
use icegate_writer::ParquetConfig;

/// Bytes of batches per flush: a commit every few 100-record requests.
const FLUSH_SIZE: u64 = 256 << 10;

/// Where the process dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CrashPoint {
    /// A batch's data files are written; nothing references them yet.
    AfterWrite,
    /// The commit landed in the catalog; the WAL still holds the batch.
    AfterCommit,
}

/// The Iceberg lake, with a process that stops answering at the n-th `point`: from then on
/// every call hangs (the test then drops the run — the process is gone).
struct Failpoint<L> {
    inner: L,
    point: CrashPoint,
    countdown: AtomicU32,
    fired: AtomicBool,
}

impl<L> Failpoint<L> {
    fn new(inner: L, point: CrashPoint, nth: u32) -> Self {
        Self {
            inner,
            point,
            countdown: AtomicU32::new(nth),
            fired: AtomicBool::new(false),
        }
    }

    async fn alive(&self) {
        if self.fired.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }

    async fn reached(&self, point: CrashPoint) {
        if point == self.point && self.countdown.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.fired.store(true, Ordering::SeqCst);
        }
        self.alive().await;
    }
}

#[async_trait]
impl<L: LakeSink> LakeSink for Failpoint<L> {
    type Staged = L::Staged;

    async fn ensure_table(&self, key: &TableKey, signal: Signal) -> Result<()> {
        self.alive().await;
        self.inner.ensure_table(key, signal).await
    }

    async fn write_files(&self, key: &TableKey, batch: &RecordBatch) -> Result<L::Staged> {
        self.alive().await;
        let staged = self.inner.write_files(key, batch).await?;
        self.reached(CrashPoint::AfterWrite).await;
        Ok(staged)
    }

    async fn commit(
        &self,
        key: &TableKey,
        commit: &Commit,
        files: &L::Staged,
    ) -> Result<CommitOutcome> {
        self.alive().await;
        let outcome = self.inner.commit(key, commit, files).await?;
        self.reached(CrashPoint::AfterCommit).await;
        Ok(outcome)
    }

    async fn discard(&self, key: &TableKey, files: L::Staged) -> Result<()> {
        self.alive().await;
        self.inner.discard(key, files).await
    }

    async fn watermark(&self, key: &TableKey, writer_id: &str) -> Result<Option<Watermark>> {
        self.alive().await;
        self.inner.watermark(key, writer_id).await
    }

    async fn promotions(&self, key: &TableKey) -> Result<icegate_evolve::Promotions> {
        self.alive().await;
        self.inner.promotions(key).await
    }

    async fn add_columns(
        &self,
        key: &TableKey,
        columns: &[icegate_evolve::PromotedColumn],
        max_columns: usize,
    ) -> Result<icegate_evolve::Promotions> {
        self.alive().await;
        self.inner.add_columns(key, columns, max_columns).await
    }
}

fn iceberg_lake(dir: &Path) -> IcebergLake {
    IcebergLake::new(
        LakeConfig::default(),
        dir.to_path_buf(),
        ParquetConfig::default(),
    )
}

fn team_key() -> TableKey {
    TableKey::new("team-b", "logs")
}

/// Asserts PyIceberg finds each of `expected[table]` exactly once and nothing else.
fn assert_lake_holds(python: &Path, dir: &Path, expected: &HashMap<TableKey, Vec<u64>>) {
    let keys: Vec<&TableKey> = expected.keys().collect();
    let found = pyiceberg_bodies(python, dir, &keys);
    for (key, records) in expected {
        let counts = found[key.to_string()].as_object().unwrap();
        for n in records {
            assert_eq!(
                counts.get(&format!("record-{n}")).and_then(|c| c.as_u64()),
                Some(1),
                "{}: record-{n} in {key}",
                dir.display()
            );
        }
        assert_eq!(
            counts.len(),
            records.len(),
            "{}: {key} holds records nobody acknowledged",
            dir.display()
        );
        assert!(counts.values().all(|c| c == 1), "{key}: a duplicate");
    }
}

#[test]
fn a_crash_at_any_point_between_write_commit_and_truncate_loses_and_duplicates_nothing() {
    let Some(python) = python() else { return };
    let base = tempfile::tempdir().unwrap();
    for point in [CrashPoint::AfterWrite, CrashPoint::AfterCommit] {
        for nth in [1, 2, 4, 7] {
            let dir = base.path().join(format!("{point:?}-{nth}"));
            let lake = Arc::new(Failpoint::new(iceberg_lake(&dir), point, nth));
            let run = Run::start(&dir, &lake, FLUSH_SIZE);
            let mut acknowledged: HashMap<TableKey, Vec<u64>> = HashMap::new();
            let mut next = 0;
            // Both tables flush every few requests until the crash point is reached.
            while !lake.fired.load(Ordering::SeqCst) {
                assert!(next < 20_000, "{point:?} #{nth} never reached");
                for key in [logs_key(), team_key()] {
                    let sent = run.send(&key, next..next + 100, 100, "");
                    acknowledged.entry(key).or_default().extend(sent);
                }
                next += 100;
                std::thread::sleep(Duration::from_millis(5));
            }
            // Acknowledged after the point: in the WAL only.
            for key in [logs_key(), team_key()] {
                let sent = run.send(&key, next..next + 100, 100, "");
                acknowledged.entry(key).or_default().extend(sent);
            }
            next += 100;
            run.crash();

            let lake = Arc::new(iceberg_lake(&dir));
            let run = Run::start(&dir, &lake, FLUSH_SIZE);
            for key in [logs_key(), team_key()] {
                let sent = run.send(&key, next..next + 300, 100, "");
                acknowledged.entry(key).or_default().extend(sent);
            }
            run.stop();
            assert_lake_holds(&python, &dir, &acknowledged);
        }
    }
}

fn power_loss_options(io: Option<Arc<PowerLossIo>>, sync: SyncPolicy) -> RunOptions {
    RunOptions {
        wal: WalConfig {
            sync,
            // Never within the test: everything since the last segment rotation is unsynced.
            sync_interval: Duration::from_secs(3600),
            ..common::wal_config()
        },
        wal_io: io.map(|io| io as _),
        ..RunOptions::flush_size(FLUSH_SIZE)
    }
}

#[test]
fn a_power_loss_with_sync_always_keeps_every_acknowledged_record() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let io = Arc::new(PowerLossIo::new());
    let lake = Arc::new(iceberg_lake(dir));
    let run = Run::start_with(
        dir,
        &lake,
        power_loss_options(Some(io.clone()), SyncPolicy::Always),
    );
    // The power goes out while records are being acknowledged and committed.
    let mut acknowledged = run.send(&logs_key(), 0..1_500, 100, "");
    let metrics = run.metrics.clone();
    wait_for("two commits", || {
        metrics.commits.load(Ordering::Relaxed) >= 2
    });
    let cut = {
        let io = io.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            io.power_loss().unwrap()
        })
    };
    let mut next = 1_500;
    loop {
        let sent = run.send(&logs_key(), next..next + 100, 100, "");
        next += 100;
        if sent.is_empty() {
            break;
        }
        assert!(next < 100_000, "the power loss never came");
        acknowledged.extend(sent);
    }
    let report = cut.join().unwrap();
    run.crash();

    let lake = Arc::new(iceberg_lake(dir));
    let run = Run::start_with(dir, &lake, power_loss_options(None, SyncPolicy::Always));
    acknowledged.extend(run.send(&logs_key(), next..next + 500, 100, ""));
    let regressions = run.metrics.wal_regressions.load(Ordering::Relaxed);
    run.stop();
    assert_eq!(regressions, 0, "sync = always never regresses ({report:?})");
    assert_lake_holds(&python, dir, &HashMap::from([(logs_key(), acknowledged)]));
}

#[test]
fn a_power_loss_with_sync_interval_regresses_the_wal_and_no_new_record_is_dropped() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let io = Arc::new(PowerLossIo::new());
    let lake = Arc::new(iceberg_lake(dir));
    let options = power_loss_options(Some(io.clone()), SyncPolicy::Interval);
    let run = Run::start_with(dir, &lake, options);
    let mut committed = run.send(&logs_key(), 0..3_000, 100, "");
    assert_eq!(committed.len(), 3_000);
    // Everything is in the lake, but the newest WAL records were never fsynced.
    let key = logs_key();
    wait_for("the commits", || {
        run.metrics.commits.load(Ordering::Relaxed) >= 3
            && run
                .pipeline
                .readiness()
                .lanes
                .iter()
                .any(|l| l.table == key.to_string() && l.committed_records >= 3_000)
    });
    let report = io.power_loss().unwrap();
    assert!(report.bytes_dropped > 0, "{report:?}");
    run.crash();

    // The rebooted WAL hands out sequence numbers the lake's watermark already covers:
    // they must be committed as new, not skipped as "already committed".
    let lake = Arc::new(iceberg_lake(dir));
    let run = Run::start_with(dir, &lake, power_loss_options(None, SyncPolicy::Interval));
    let after = run.send(&logs_key(), 3_000..4_000, 100, "");
    assert_eq!(after.len(), 1_000);
    wait_for("the lane's start", || {
        run.metrics.wal_regressions.load(Ordering::Relaxed) >= 1
    });
    run.stop();
    committed.extend(after);
    assert_lake_holds(&python, dir, &HashMap::from([(logs_key(), committed)]));
}
