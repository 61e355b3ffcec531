//! One table's lane: batches its records in WAL order, writes and commits them, retries
//! outages with backoff, moves poison aside — independently of every other table.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use icegate_batcher::{Batcher, BatcherConfig, MemoryBudget, Reservation, SealedBatch, TableKey};
use icegate_evolve::{KeyObserver, SchemaConfig};
use icegate_wal::Wal;
use tokio::sync::{mpsc, watch};

use crate::error::{Error, ErrorClass};
use crate::lake::{Commit, CommitOutcome, LakeSink, Watermark};
use crate::quarantine::Quarantine;
use crate::signal::Signal;
use crate::status::{Health, LaneState, Metrics};
use crate::tracker::Tracker;

/// How a lane treats a failing or silent lake.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First wait after a failure; doubles per failure up to `max`.
    pub initial: Duration,
    pub max: Duration,
    /// Longest one lake operation may take before it counts as a retryable failure (a
    /// black-holed catalog or store answers nothing, ever). A commit that timed out may
    /// still land: the next attempt finds it by the watermark and does not apply it twice.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(60),
        }
    }
}

/// What every lane shares.
pub(crate) struct LaneContext<L> {
    pub lake: Arc<L>,
    pub wal: Arc<Wal>,
    pub tracker: Arc<Tracker>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub quarantine: Quarantine,
    pub writer_id: String,
    pub incarnation: String,
    /// This process run's id, in every watermark it commits.
    pub run: String,
    /// The WAL's next sequence number when this run opened it: records below were written
    /// by earlier runs (replay), records from here on by this one.
    pub wal_start: u64,
    pub batcher: BatcherConfig,
    pub budget: MemoryBudget,
    pub retry: RetryPolicy,
    pub schema: SchemaConfig,
    /// Turns true when the lanes must stop at once (the shutdown timeout passed): whatever
    /// is not committed stays in the WAL.
    pub stop: watch::Receiver<bool>,
}

pub(crate) enum LaneMessage {
    Record {
        seq: u64,
        batch: RecordBatch,
        reservation: Reservation,
    },
    /// Seal and commit everything, then end (graceful shutdown).
    Finish,
}

/// The lane does not go on (hard stop or blocked).
struct Stopped;

pub(crate) struct Lane<L> {
    key: TableKey,
    signal: Signal,
    ctx: Arc<LaneContext<L>>,
    rx: mpsc::UnboundedReceiver<LaneMessage>,
    batcher: Batcher,
    /// WAL records in the pending batch.
    seqs: Vec<u64>,
    /// Their bytes, as the accept path reserved them (released once they are done).
    pending_bytes: i64,
    /// The table's watermark for this writer as last seen or set.
    expected: Option<Watermark>,
    /// Records of earlier runs up to here are already in the table.
    committed_through: Option<u64>,
    /// WAL ranges of this table's batches that earlier runs moved to the quarantine.
    quarantined: Vec<(u64, u64)>,
    table_ready: bool,
    blocked: bool,
    backoff: Duration,
    last_warning: Option<String>,
    /// Counts the table's attribute keys for promotion.
    observer: KeyObserver,
}

impl<L: LakeSink> Lane<L> {
    pub fn new(
        key: TableKey,
        signal: Signal,
        ctx: Arc<LaneContext<L>>,
        rx: mpsc::UnboundedReceiver<LaneMessage>,
    ) -> Self {
        let sort_orders = HashMap::from([(key.table.clone(), signal.layout().sort_by)]);
        let batcher = Batcher::new(ctx.batcher.clone(), ctx.budget.clone(), sort_orders);
        let backoff = ctx.retry.initial;
        let observer = KeyObserver::new(ctx.schema.policy(&key.table).clone());
        Self {
            key,
            signal,
            ctx,
            rx,
            batcher,
            seqs: Vec::new(),
            pending_bytes: 0,
            expected: None,
            committed_through: None,
            quarantined: Vec::new(),
            table_ready: false,
            blocked: false,
            backoff,
            last_warning: None,
            observer,
        }
    }

    pub async fn run(mut self) {
        self.ctx.health.update(&self.key, |_| {});
        if self.open().await.is_err() {
            return;
        }
        loop {
            let deadline = self.batcher.next_deadline();
            tokio::select! {
                message = self.rx.recv() => match message {
                    Some(LaneMessage::Record { seq, batch, reservation }) => {
                        if self.receive(seq, batch, reservation).await.is_err() {
                            return;
                        }
                    }
                    Some(LaneMessage::Finish) | None => break,
                },
                _ = sleep_until(deadline) => {
                    let sealed = off_workers_sync(|| self.batcher.seal_due(Instant::now()));
                    if self.flush_all(sealed).await.is_err() {
                        return;
                    }
                }
            }
        }
        let sealed = off_workers_sync(|| self.batcher.seal_all());
        let _ = self.flush_all(sealed).await;
    }

    /// Creates the table if needed and reads this writer's watermark, retrying while the
    /// lake is down; records queue in the channel meanwhile.
    async fn open(&mut self) -> Result<(), Stopped> {
        loop {
            match self.try_open().await {
                Ok(()) => {
                    self.set_state(LaneState::Ok);
                    return Ok(());
                }
                Err(err) if err.class() == ErrorClass::Retryable => self.wait(&err).await?,
                Err(err) => {
                    // Without the watermark nothing can be committed safely.
                    self.block(&err);
                    return Ok(());
                }
            }
        }
    }

    async fn try_open(&mut self) -> Result<(), Error> {
        let wal_start = self.ctx.wal_start;
        self.quarantined = self.ctx.quarantine.ranges(&self.key, wal_start).unwrap_or_else(|err| {
            tracing::warn!(table = %self.key, error = %err, "cannot read the quarantine; batches an earlier run moved there may be quarantined again");
            Vec::new()
        });
        self.ensure_table().await?;
        let ctx = self.ctx.clone();
        let watermark = self
            .bounded(
                "read watermark",
                ctx.lake.watermark(&self.key, &ctx.writer_id),
            )
            .await?;
        match &watermark {
            Some(mark) if mark.incarnation == self.ctx.incarnation => {
                self.committed_through = Some(mark.seq);
                if mark.seq >= self.ctx.wal_start {
                    // The WAL restarted below what the lake has (restored from a backup, or
                    // unsynced writes lost with `sync = interval`): the records it still has
                    // up to its start are in the lake; everything this run appends is new.
                    self.ctx
                        .metrics
                        .wal_regressions
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        table = %self.key,
                        watermark = mark.seq,
                        wal_next_seq = self.ctx.wal_start,
                        "the table's watermark is at or past this WAL's start (a restored or \
                         regressed WAL); records appended from now on are committed as new"
                    );
                }
            }
            Some(mark) => tracing::info!(
                table = %self.key,
                lake_incarnation = %mark.incarnation,
                wal_incarnation = %self.ctx.incarnation,
                "the table's watermark is from another WAL incarnation: none of this WAL's \
                 records are in the table yet"
            ),
            None => {}
        }
        self.expected = watermark;
        Ok(())
    }

    async fn receive(
        &mut self,
        seq: u64,
        batch: RecordBatch,
        reservation: Reservation,
    ) -> Result<(), Stopped> {
        let bytes = reservation.bytes() as i64;
        if self.blocked {
            // The WAL keeps it (the tracker still holds `seq`).
            self.ctx.health.add_memory(&self.key, -bytes);
            return Ok(());
        }
        if seq < self.ctx.wal_start && self.was_quarantined(seq) {
            // An earlier run moved it aside; the WAL had not let it go yet.
            tracing::debug!(table = %self.key, seq, "replayed record is in the quarantine already");
            self.ctx.tracker.remove(seq);
            self.ctx.health.add_memory(&self.key, -bytes);
            return Ok(());
        }
        if seq < self.ctx.wal_start && self.committed_through.is_some_and(|done| seq <= done) {
            let rows = batch.num_rows() as u64;
            self.ctx
                .metrics
                .already_committed_records
                .fetch_add(rows, Ordering::Relaxed);
            self.ctx
                .health
                .update(&self.key, |r| r.already_committed_records += rows);
            self.ctx.tracker.remove(seq);
            self.ctx.health.add_memory(&self.key, -bytes);
            return Ok(());
        }
        drop(reservation); // the batcher accounts the batch from here on
        self.seqs.push(seq);
        self.pending_bytes += bytes;
        let key = self.key.clone();
        let sealed = off_workers_sync(|| self.batcher.push(key, batch, seq, Instant::now()));
        match sealed {
            Ok(Some(sealed)) => self.flush(sealed).await,
            Ok(None) => Ok(()),
            Err(err) => {
                self.seal_failed(err);
                Ok(())
            }
        }
    }

    /// Whether `seq` (of an earlier run) is in a batch already quarantined: a table's batch
    /// holds every record of the table between its first and last WAL sequence number.
    fn was_quarantined(&self, seq: u64) -> bool {
        self.quarantined
            .iter()
            .any(|(first, last)| (*first..=*last).contains(&seq))
    }

    async fn flush_all(
        &mut self,
        sealed: icegate_batcher::Result<Vec<SealedBatch>>,
    ) -> Result<(), Stopped> {
        match sealed {
            Ok(sealed) => {
                for batch in sealed {
                    self.flush(batch).await?;
                }
            }
            Err(err) => self.seal_failed(err),
        }
        Ok(())
    }

    /// Sealing (concatenating and sorting) failed: the batch's records stay in the WAL.
    fn seal_failed(&mut self, err: icegate_batcher::Error) {
        tracing::error!(table = %self.key, error = %err, "sealing a batch failed; its records stay in the WAL");
        self.seqs.clear();
        self.release_pending();
    }

    /// The pending batch left memory (committed, quarantined, or left to the WAL).
    fn release_pending(&mut self) {
        let bytes = std::mem::take(&mut self.pending_bytes);
        self.ctx.health.add_memory(&self.key, -bytes);
    }

    /// Writes and commits `sealed`, exactly once, however long the lake takes; its bytes
    /// count against the table's share of memory until then.
    async fn flush(&mut self, sealed: SealedBatch) -> Result<(), Stopped> {
        let bytes = std::mem::take(&mut self.pending_bytes);
        let flushed = self.write_and_commit(sealed).await;
        self.ctx.health.add_memory(&self.key, -bytes);
        flushed
    }

    async fn write_and_commit(&mut self, sealed: SealedBatch) -> Result<(), Stopped> {
        let seqs = std::mem::take(&mut self.seqs);
        if self.blocked {
            return Ok(());
        }
        let rows = sealed.batch.num_rows() as u64;
        let commit = Commit {
            writer_id: self.ctx.writer_id.clone(),
            first_seq: sealed.first_seq,
            next: Watermark {
                incarnation: self.ctx.incarnation.clone(),
                run: self.ctx.run.clone(),
                seq: sealed.last_seq,
            },
            expected: self.expected.clone(),
        };
        let started = Instant::now();
        if self.observer.policy().promote {
            off_workers_sync(|| self.observer.observe(&sealed.batch));
        }
        let mut rescued = 0;
        let staged = loop {
            let written = match self.ensure_table().await {
                Ok(()) => match self.promoted(&sealed.batch).await {
                    Ok((batch, rescued_values)) => {
                        rescued = rescued_values;
                        let write = self.ctx.lake.write_files(&self.key, &batch);
                        off_workers(self.bounded("write files", write)).await
                    }
                    Err(err) => Err(err),
                },
                Err(err) => Err(err),
            };
            match written {
                Ok(staged) => break staged,
                Err(err) => match err.class() {
                    ErrorClass::Retryable => self.wait(&err).await?,
                    ErrorClass::Permanent => return self.quarantine(&sealed, &seqs, &err).await,
                    ErrorClass::WriterConflict => {
                        self.block(&err);
                        return Ok(());
                    }
                },
            }
        };
        self.ctx
            .metrics
            .flush_seconds
            .observe(started.elapsed().as_secs_f64());
        let started = Instant::now();
        loop {
            let ctx = self.ctx.clone();
            let attempt = ctx.lake.commit(&self.key, &commit, &staged);
            let outcome = match self.bounded("commit", attempt).await {
                Err(err) if err.class() == ErrorClass::Permanent => {
                    self.landed_despite(&commit, err).await
                }
                other => other,
            };
            match outcome {
                Ok(CommitOutcome::Committed { attempts }) => {
                    let metrics = &self.ctx.metrics;
                    metrics.commits.fetch_add(1, Ordering::Relaxed);
                    metrics
                        .commit_retries
                        .fetch_add(u64::from(attempts.saturating_sub(1)), Ordering::Relaxed);
                    metrics
                        .commit_seconds
                        .observe(started.elapsed().as_secs_f64());
                    self.ctx.health.update(&self.key, |r| {
                        r.commits += 1;
                        r.committed_records += rows;
                    });
                    metrics.rescued_values.fetch_add(rescued, Ordering::Relaxed);
                    self.expected = Some(commit.next.clone());
                    tracing::debug!(table = %self.key, rows, first_seq = commit.first_seq, last_seq = commit.next.seq, "committed");
                    break;
                }
                Ok(CommitOutcome::AlreadyCommitted { current }) => {
                    // An earlier attempt landed; its answer was lost.
                    self.ctx
                        .metrics
                        .already_committed_records
                        .fetch_add(rows, Ordering::Relaxed);
                    self.ctx
                        .metrics
                        .rescued_values
                        .fetch_add(rescued, Ordering::Relaxed);
                    self.ctx.health.update(&self.key, |r| {
                        r.already_committed_records += rows;
                        r.commits += 1;
                        r.committed_records += rows;
                    });
                    self.expected = Some(current);
                    break;
                }
                Err(err) => match err.class() {
                    ErrorClass::Retryable => self.wait(&err).await?,
                    ErrorClass::Permanent => {
                        let discard = ctx.lake.discard(&self.key, staged);
                        if let Err(discard) = self.bounded("delete files", discard).await {
                            tracing::warn!(table = %self.key, error = %discard, "could not delete the files of a quarantined batch");
                        }
                        return self.quarantine(&sealed, &seqs, &err).await;
                    }
                    ErrorClass::WriterConflict => {
                        self.block(&err);
                        return Ok(());
                    }
                },
            }
        }
        self.done(&seqs);
        Ok(())
    }

    /// `batch` as the table's schema has it: promoted keys in their columns (whoever promoted
    /// them, so every node writes a key to the same place); the keys the observer found
    /// common are promoted first, by a schema update committed before any data uses it.
    /// Also returns how many values went to `_rescued` (counted once the batch is in the
    /// table: a write retried after an outage promotes the same batch again).
    async fn promoted(&self, batch: &RecordBatch) -> Result<(RecordBatch, u64), Error> {
        let ctx = self.ctx.clone();
        let mut promotions = self
            .bounded("read the schema", ctx.lake.promotions(&self.key))
            .await?;
        let candidates = self.observer.candidates(&promotions);
        if !candidates.is_empty() {
            let columns = icegate_evolve::new_columns(&candidates, &promotions);
            let before = promotions.columns.len();
            let max_columns = self.observer.policy().max_columns;
            promotions = self
                .bounded(
                    "add columns",
                    ctx.lake.add_columns(&self.key, &columns, max_columns),
                )
                .await?;
            let added = promotions.columns.len().saturating_sub(before) as u64;
            ctx.metrics
                .promoted_columns
                .fetch_add(added, Ordering::Relaxed);
        }
        let table = self.key.to_string();
        let promoted = off_workers_sync(|| icegate_evolve::promote(&table, batch, &promotions))
            .map_err(|err| Error::lake(&table, "promote columns", ErrorClass::Permanent, &err))?;
        Ok((promoted.batch, promoted.rescued_values))
    }

    /// A commit failed permanently, but the failure may have come after the catalog took it
    /// (its files would then be referenced, and must not be deleted). The watermark tells:
    /// this commit's watermark means it landed; one that cannot be read means try again.
    async fn landed_despite(&self, commit: &Commit, err: Error) -> Result<CommitOutcome, Error> {
        let ctx = self.ctx.clone();
        let read = ctx.lake.watermark(&self.key, &commit.writer_id);
        match self.bounded("read watermark", read).await {
            Ok(Some(current)) if current == commit.next => {
                tracing::warn!(table = %self.key, error = %err, "the commit reported a permanent failure but landed");
                Ok(CommitOutcome::AlreadyCommitted { current })
            }
            Ok(_) => Err(err),
            Err(read) => Err(Error::Lake {
                table: self.key.to_string(),
                operation: "commit",
                class: ErrorClass::Retryable,
                message: format!("{err}; whether it landed is unknown ({read})"),
            }),
        }
    }

    async fn ensure_table(&mut self) -> Result<(), Error> {
        if !self.table_ready {
            let ctx = self.ctx.clone();
            self.bounded(
                "create table",
                ctx.lake.ensure_table(&self.key, self.signal),
            )
            .await?;
            self.table_ready = true;
        }
        Ok(())
    }

    /// `work`, failed as retryable when the lake does not answer within the attempt timeout.
    async fn bounded<T>(
        &self,
        operation: &'static str,
        work: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let limit = self.ctx.retry.attempt_timeout;
        match tokio::time::timeout(limit, work).await {
            Ok(result) => result,
            Err(_) => Err(Error::Lake {
                table: self.key.to_string(),
                operation,
                class: ErrorClass::Retryable,
                message: format!("no answer within {limit:?}"),
            }),
        }
    }

    /// `seqs` are in the lake or the quarantine: the WAL may let them go.
    fn done(&mut self, seqs: &[u64]) {
        self.ctx.tracker.remove_all(seqs);
        if let Err(err) = self.ctx.tracker.truncate(&self.ctx.wal) {
            tracing::warn!(error = %err, "WAL truncation failed; retried after the next commit");
        }
        self.backoff = self.ctx.retry.initial;
        if self.last_warning.take().is_some() {
            tracing::info!(table = %self.key, "the table commits again");
        }
        self.set_state(LaneState::Ok);
    }

    /// Moves a batch that can never be written aside, whole, and goes on.
    async fn quarantine(
        &mut self,
        sealed: &SealedBatch,
        seqs: &[u64],
        err: &Error,
    ) -> Result<(), Stopped> {
        let reason = err.to_string();
        loop {
            let kept = self.ctx.quarantine.keep_batch(
                &self.key,
                &sealed.batch,
                sealed.first_seq,
                sealed.last_seq,
                &reason,
            );
            match kept {
                Ok(path) => {
                    let rows = sealed.batch.num_rows() as u64;
                    let metrics = &self.ctx.metrics;
                    metrics.quarantined_batches.fetch_add(1, Ordering::Relaxed);
                    metrics
                        .quarantined_records
                        .fetch_add(rows, Ordering::Relaxed);
                    let shown = path.display().to_string();
                    self.ctx.health.update(&self.key, |r| {
                        r.quarantined_batches += 1;
                        r.quarantined_records += rows;
                        r.last_quarantine = Some(format!("{shown}: {reason}"));
                    });
                    tracing::error!(table = %self.key, rows, first_seq = sealed.first_seq, last_seq = sealed.last_seq, path = %shown, reason = %reason, "a batch can never be written; moved to the quarantine");
                    self.done(seqs);
                    return Ok(());
                }
                Err(quarantine_err) => {
                    tracing::error!(table = %self.key, error = %quarantine_err, "cannot write the quarantine; retrying");
                    self.wait(&quarantine_err).await?;
                }
            }
        }
    }

    /// Stops committing this table: another process writes as this writer. Records stay
    /// in the WAL (the tracker keeps them) until an operator resolves it and restarts.
    fn block(&mut self, err: &Error) {
        tracing::error!(table = %self.key, error = %err, "stopped committing this table; its records stay in the WAL");
        self.blocked = true;
        self.seqs.clear();
        self.release_pending();
        self.set_state(LaneState::Blocked(err.to_string()));
    }

    /// Backs off after a retryable failure; `Err` when the lane must stop.
    async fn wait(&mut self, err: &Error) -> Result<(), Stopped> {
        self.ctx
            .metrics
            .commit_failures
            .fetch_add(1, Ordering::Relaxed);
        let message = err.to_string();
        // One line per distinct failure, not one per retry.
        if self.last_warning.as_deref() != Some(message.as_str()) {
            tracing::warn!(table = %self.key, error = %message, retry_in = ?self.backoff, "the lake failed; retrying, the records stay in the WAL");
            self.last_warning = Some(message.clone());
        }
        self.set_state(LaneState::Retrying(message));
        self.table_ready = false;
        let mut stop = self.ctx.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(self.backoff) => {}
            _ = crate::flusher::turned_true(&mut stop) => return Err(Stopped),
        }
        self.backoff = (self.backoff * 2).min(self.ctx.retry.max);
        Ok(())
    }

    fn set_state(&self, state: LaneState) {
        self.ctx.health.update(&self.key, |r| r.state = state);
    }
}

/// Runs flush work — encoding Parquet: hundreds of milliseconds of CPU — outside the
/// runtime's worker pool when it has one (the worker hands its other tasks to a fresh worker
/// first), so requests keep being acknowledged meanwhile.
async fn off_workers<F: std::future::Future>(work: F) -> F::Output {
    let handle = tokio::runtime::Handle::current();
    if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(|| handle.block_on(work))
    } else {
        work.await
    }
}

/// The same for synchronous work (sealing sorts a table's batch).
fn off_workers_sync<T>(work: impl FnOnce() -> T) -> T {
    let handle = tokio::runtime::Handle::current();
    if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
