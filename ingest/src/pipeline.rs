//! From a decoded batch to an acknowledgement (WAL), and from the WAL to the lake (flusher).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use icegate_batcher::{Batcher, MemoryBudget, SealedBatch, TableKey, record};
use icegate_committer::{CommitOutcome, CommitRequest, IcebergCommitter, Lake, TableCommitter};
use icegate_redact::Redactor;
use icegate_wal::Wal;
use icegate_writer::{ParquetConfig, write_data_files};
use tokio::sync::{mpsc, watch};

use crate::metrics::Metrics;
use crate::signal::Signal;

/// Why a batch was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Over the WAL or memory budget: retry later (429 / RESOURCE_EXHAUSTED).
    #[error("ingest is over its {what} budget; retry later")]
    Backpressure { what: &'static str },
    /// The WAL failed; the server must be restarted (503 / UNAVAILABLE).
    #[error("write-ahead log unavailable: {0}")]
    Unavailable(String),
    /// Redaction could not process the batch (500 / INTERNAL).
    #[error("redaction failed: {0}")]
    Internal(String),
}

/// What the flusher receives, in WAL sequence order after reordering.
enum Accepted {
    Batch {
        seq: u64,
        key: TableKey,
        batch: RecordBatch,
        bytes: u64,
    },
    /// A sequence number that will never arrive as a batch (its WAL write failed).
    Skip { seq: u64 },
}

impl Accepted {
    fn seq(&self) -> u64 {
        match self {
            Accepted::Batch { seq, .. } | Accepted::Skip { seq } => *seq,
        }
    }
}

/// The accepting half, shared by every request handler.
pub struct Pipeline {
    wal: Arc<Wal>,
    redactor: Redactor,
    namespace: String,
    tables: HashMap<Signal, String>,
    to_flusher: mpsc::UnboundedSender<Accepted>,
    /// Bytes sent to the flusher and not yet taken into the batcher.
    in_channel: Arc<AtomicU64>,
    budget: MemoryBudget,
    metrics: Arc<Metrics>,
    healthy: Arc<AtomicBool>,
}

impl Pipeline {
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// The table (in this server's namespace) a signal goes to.
    pub fn table_key(&self, signal: Signal) -> TableKey {
        TableKey::new(self.namespace.clone(), self.tables[&signal].clone())
    }

    fn over_memory(&self) -> bool {
        self.budget.used() + self.in_channel.load(Ordering::Relaxed) >= self.budget.limit()
    }

    /// Redacts `batch`, makes it durable in the WAL and hands it to the flusher. Returns once
    /// the WAL says it is durable: the caller may then acknowledge. The work runs in its own
    /// task, so a client that disconnects mid-request cannot leave a WAL record unaccounted.
    pub async fn accept(
        self: &Arc<Self>,
        key: TableKey,
        batch: RecordBatch,
    ) -> Result<usize, IngestError> {
        if self.over_memory() {
            self.metrics
                .backpressure_events
                .fetch_add(1, Ordering::Relaxed);
            return Err(IngestError::Backpressure { what: "memory" });
        }
        let batch = self
            .redactor
            .redact_batch(&batch)
            .map_err(|err| IngestError::Internal(err.to_string()))?;
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(0);
        }
        let this = Arc::clone(self);
        tokio::spawn(async move { this.append(key, batch).await })
            .await
            .map_err(|err| IngestError::Internal(format!("ingest task failed: {err}")))??;
        Ok(rows)
    }

    async fn append(&self, key: TableKey, batch: RecordBatch) -> Result<(), IngestError> {
        let payload =
            record::encode(&key, &batch).map_err(|err| IngestError::Internal(err.to_string()))?;
        let appended = match self.wal.append(&payload) {
            Ok(appended) => appended,
            Err(err) if err.is_retryable() => {
                self.metrics
                    .backpressure_events
                    .fetch_add(1, Ordering::Relaxed);
                return Err(IngestError::Backpressure { what: "WAL disk" });
            }
            Err(err) => {
                self.healthy.store(false, Ordering::Relaxed);
                return Err(IngestError::Unavailable(err.to_string()));
            }
        };
        let seq = appended.seq();
        match appended.durable().await {
            Ok(_) => {
                let bytes = batch.get_array_memory_size() as u64;
                self.in_channel.fetch_add(bytes, Ordering::Relaxed);
                let _ = self.to_flusher.send(Accepted::Batch {
                    seq,
                    key,
                    batch,
                    bytes,
                });
                Ok(())
            }
            Err(err) => {
                self.healthy.store(false, Ordering::Relaxed);
                let _ = self.to_flusher.send(Accepted::Skip { seq });
                Err(IngestError::Unavailable(err.to_string()))
            }
        }
    }
}

/// The flushing half: one task that batches, writes, commits and truncates the WAL.
pub struct Flusher {
    wal: Arc<Wal>,
    lake: Lake,
    committer: IcebergCommitter,
    writer_id: String,
    parquet: ParquetConfig,
    batcher: Batcher,
    from_pipeline: mpsc::UnboundedReceiver<Accepted>,
    in_channel: Arc<AtomicU64>,
    /// Accepted out of order, waiting for the sequence numbers before them.
    reorder: BTreeMap<u64, Accepted>,
    next_seq: u64,
    tables: HashMap<TableKey, iceberg::table::Table>,
    /// Which signal's schema a table name has.
    signals: HashMap<String, Signal>,
    metrics: Arc<Metrics>,
}

/// Parts the server wires together.
pub struct PipelineParts {
    pub wal: Arc<Wal>,
    pub lake: Lake,
    pub writer_id: String,
    pub redactor: Redactor,
    pub batcher: Batcher,
    pub parquet: ParquetConfig,
    pub metrics: Arc<Metrics>,
}

/// Builds the two halves. Replays the WAL beyond what the lake has committed first, so the
/// flusher starts with exactly the records the tables still miss.
pub async fn build(parts: PipelineParts) -> anyhow::Result<(Arc<Pipeline>, Flusher)> {
    let PipelineParts {
        wal,
        lake,
        writer_id,
        redactor,
        batcher,
        parquet,
        metrics,
    } = parts;
    let (to_flusher, from_pipeline) = mpsc::unbounded_channel();
    let in_channel = Arc::new(AtomicU64::new(0));
    let config = lake.config();
    let tables = HashMap::from([
        (Signal::Logs, config.tables.logs.clone()),
        (Signal::Traces, config.tables.traces.clone()),
        (Signal::Metrics, config.tables.metrics.clone()),
    ]);
    let signals = tables
        .iter()
        .map(|(signal, name)| (name.clone(), *signal))
        .collect();
    let pipeline = Arc::new(Pipeline {
        wal: wal.clone(),
        redactor,
        namespace: config.namespace.clone(),
        tables,
        to_flusher,
        in_channel: in_channel.clone(),
        budget: batcher.budget().clone(),
        metrics: metrics.clone(),
        healthy: Arc::new(AtomicBool::new(true)),
    });
    let committer = IcebergCommitter::new(lake.clone());
    let mut flusher = Flusher {
        next_seq: wal.stats().next_seq,
        wal,
        lake,
        committer,
        writer_id,
        parquet,
        batcher,
        from_pipeline,
        in_channel,
        reorder: BTreeMap::new(),
        tables: HashMap::new(),
        signals,
        metrics,
    };
    flusher.replay().await?;
    Ok((pipeline, flusher))
}

impl Flusher {
    /// Feeds the batcher with every WAL record whose table has not committed it.
    async fn replay(&mut self) -> anyhow::Result<()> {
        let stats = self.wal.stats();
        let mut committed: HashMap<TableKey, Option<u64>> = HashMap::new();
        let (mut replayed, mut skipped) = (0u64, 0u64);
        for record in self.wal.read_from(stats.first_seq)? {
            let record = record?;
            let (key, batch) = record::decode(&record.payload)?;
            if !committed.contains_key(&key) {
                let seq = self
                    .committer
                    .committed_seq(&key.table, &self.writer_id)
                    .await?;
                committed.insert(key.clone(), seq);
            }
            if committed[&key].is_some_and(|done| record.seq <= done) {
                skipped += 1;
                continue;
            }
            replayed += 1;
            if let Some(sealed) = self.batcher.push(key, batch, record.seq, Instant::now())? {
                self.flush(sealed).await;
            }
        }
        if replayed + skipped > 0 {
            tracing::info!(replayed, already_committed = skipped, "replayed the WAL");
        }
        Ok(())
    }

    /// Runs until `shutdown` turns true, then seals and commits everything pending.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let deadline = self.batcher.next_deadline();
            tokio::select! {
                message = self.from_pipeline.recv() => match message {
                    Some(message) => off_workers(self.receive(message)).await,
                    None => break,
                },
                _ = sleep_until(deadline) => off_workers(async {
                    match self.batcher.seal_due(Instant::now()) {
                        Ok(sealed) => for batch in sealed { self.flush(batch).await },
                        Err(err) => tracing::error!(error = %err, "sealing failed"),
                    }
                }).await,
                _ = shutdown.changed() => break,
            }
        }
        // Drain what was acknowledged, then commit everything.
        while let Ok(message) = self.from_pipeline.try_recv() {
            self.receive(message).await;
        }
        match self.batcher.seal_all() {
            Ok(sealed) => {
                for batch in sealed {
                    self.flush(batch).await;
                }
            }
            Err(err) => tracing::error!(error = %err, "sealing failed at shutdown"),
        }
    }

    async fn receive(&mut self, message: Accepted) {
        self.reorder.insert(message.seq(), message);
        while let Some(entry) = self.reorder.first_entry() {
            if *entry.key() != self.next_seq {
                break;
            }
            let message = entry.remove();
            self.next_seq += 1;
            if let Accepted::Batch {
                seq,
                key,
                batch,
                bytes,
            } = message
            {
                self.in_channel.fetch_sub(bytes, Ordering::Relaxed);
                match self.batcher.push(key, batch, seq, Instant::now()) {
                    Ok(Some(sealed)) => self.flush(sealed).await,
                    Ok(None) => {}
                    Err(err) => tracing::error!(error = %err, seq, "batching failed"),
                }
            }
        }
        self.update_gauges();
    }

    fn update_gauges(&self) {
        self.metrics
            .wal_bytes
            .store(self.wal.stats().disk_bytes, Ordering::Relaxed);
        self.metrics
            .batch_memory_bytes
            .store(self.batcher.budget().used(), Ordering::Relaxed);
    }

    /// Writes and commits a sealed batch, retrying until it succeeds: the batch is in the WAL
    /// either way, so a failure delays it and never loses it.
    async fn flush(&mut self, sealed: SealedBatch) {
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.try_flush(&sealed).await {
                Ok(()) => break,
                Err(err) => {
                    self.metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(table = %sealed.key, error = %err, retry_in = ?backoff, "flush failed; the batch stays in the WAL");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    // A table handle may be stale after an outage.
                    self.tables.remove(&sealed.key);
                }
            }
        }
        // Everything below the oldest record still waiting is in the lake (or never will be).
        let keep_from = self
            .batcher
            .oldest_pending_seq()
            .unwrap_or(self.next_seq)
            .min(self.next_seq);
        if let Err(err) = self.wal.truncate_before(keep_from) {
            tracing::warn!(error = %err, "WAL truncation failed; retried after the next commit");
        }
        self.update_gauges();
    }

    async fn try_flush(&mut self, sealed: &SealedBatch) -> anyhow::Result<()> {
        let table = match self.tables.get(&sealed.key) {
            Some(table) => table.clone(),
            None => {
                let signal = *self
                    .signals
                    .get(&sealed.key.table)
                    .ok_or_else(|| anyhow::anyhow!("no signal writes table {}", sealed.key))?;
                let table = self
                    .lake
                    .table(&sealed.key.table, &signal.schema(), &signal.layout())
                    .await?;
                self.tables.insert(sealed.key.clone(), table.clone());
                table
            }
        };
        let started = Instant::now();
        let files = write_data_files(&table, &sealed.batch, &self.parquet).await?;
        self.metrics
            .flush_seconds
            .observe(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let request = CommitRequest {
            writer_id: self.writer_id.clone(),
            first_seq: sealed.first_seq,
            last_seq: sealed.last_seq,
            files,
        };
        let outcome = self.committer.commit(&sealed.key.table, request).await?;
        self.metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        self.metrics.commits.fetch_add(1, Ordering::Relaxed);
        if let CommitOutcome::Committed { attempts, .. } = outcome {
            self.metrics
                .commit_retries
                .fetch_add(u64::from(attempts.saturating_sub(1)), Ordering::Relaxed);
        }
        // The catalog moved on: reload the table next time for fresh metadata.
        self.tables.remove(&sealed.key);
        tracing::debug!(table = %sealed.key, rows = sealed.batch.num_rows(), first_seq = sealed.first_seq, last_seq = sealed.last_seq, "committed");
        Ok(())
    }
}

/// Runs flusher work — sealing sorts a table's batch, flushing encodes Parquet: hundreds of
/// milliseconds of CPU — outside the runtime's worker pool when it has one (the worker hands
/// its other tasks to a fresh worker first), so requests keep being acknowledged meanwhile
/// instead of queueing behind the flush.
async fn off_workers<F: std::future::Future>(work: F) -> F::Output {
    let handle = tokio::runtime::Handle::current();
    if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(|| handle.block_on(work))
    } else {
        work.await
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
