//! The accepting half: redact, append to the WAL, wait for durability, acknowledge.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::RecordBatch;
use icegate_batcher::{MemoryBudget, Reservation, TableKey};
use icegate_redact::Redactor;
use icegate_wal::Wal;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::record;
use crate::request_budget::{BodyBudget, RequestBudget};
use crate::signal::{Signal, Tables};
use crate::status::{Health, Metrics, ReplayState};
use crate::tracker::Tracker;

/// A record on its way to its lane: queued in WAL order (under the WAL's lock), so the
/// flusher needs no reorder buffer; it waits for durability before using it.
pub(crate) struct Accepted {
    pub seq: u64,
    pub key: TableKey,
    pub batch: RecordBatch,
    pub reservation: Reservation,
}

/// Whether the node should receive traffic, and why not.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Readiness {
    pub ready: bool,
    /// What keeps the node from being ready (empty when ready).
    pub reasons: Vec<String>,
    pub replay: ReplayState,
    pub memory_used_bytes: u64,
    pub memory_limit_bytes: u64,
    pub wal_bytes: u64,
    pub wal_limit_bytes: u64,
    pub lanes: Vec<crate::status::LaneReport>,
}

/// The accepting half, shared by every request handler.
pub struct Pipeline {
    pub(crate) wal: Arc<Wal>,
    pub(crate) redactor: Redactor,
    pub(crate) tables: Tables,
    pub(crate) to_flusher: mpsc::UnboundedSender<Accepted>,
    pub(crate) tracker: Arc<Tracker>,
    pub(crate) budget: MemoryBudget,
    /// Most bytes one table may hold in memory before its requests get 429.
    pub(crate) table_memory_share: u64,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) health: Arc<Health>,
    pub(crate) closed: AtomicBool,
}

impl Pipeline {
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// The table a signal goes to.
    pub fn table_key(&self, signal: Signal) -> TableKey {
        self.tables.key(signal).clone()
    }

    /// Refuses new requests from now on (shutdown); acknowledged ones are unaffected.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Updates the gauges (WAL bytes, batch memory) from their sources.
    pub fn refresh_gauges(&self) {
        let wal = self.wal.stats();
        self.metrics
            .wal_bytes
            .store(wal.disk_bytes, Ordering::Relaxed);
        self.metrics
            .wal_descriptor_waits
            .store(wal.descriptor_waits, Ordering::Relaxed);
        self.metrics
            .batch_memory_bytes
            .store(self.budget.used(), Ordering::Relaxed);
    }

    /// Ready when requests can be made durable: the WAL works, replay did not fail, and
    /// neither the memory nor the WAL disk budget is (nearly) used up. A table that cannot
    /// commit does not make the node unready by itself — its records wait in the WAL, and
    /// `lanes` says why — until the WAL budget fills.
    pub fn readiness(&self) -> Readiness {
        let mut reasons = Vec::new();
        if self.closed.load(Ordering::Relaxed) {
            reasons.push("shutting down".to_string());
        }
        if let Some(failure) = self.health.wal_failure() {
            reasons.push(format!("WAL failed: {failure}"));
        }
        let replay = self.health.replay();
        if let ReplayState::Failed(reason) = &replay {
            reasons.push(format!("WAL replay failed: {reason}"));
        }
        let (used, limit) = (self.budget.used(), self.budget.limit());
        if used >= limit {
            reasons.push(format!("memory budget used up ({used} of {limit} bytes)"));
        }
        let stats = self.wal.stats();
        let wal_limit = self.wal.config().max_disk_size.0;
        if stats.disk_bytes.saturating_mul(100) >= wal_limit.saturating_mul(95) {
            reasons.push(format!(
                "WAL disk budget {}% used ({} of {wal_limit} bytes)",
                stats.disk_bytes.saturating_mul(100) / wal_limit.max(1),
                stats.disk_bytes
            ));
        }
        Readiness {
            ready: reasons.is_empty(),
            reasons,
            replay,
            memory_used_bytes: used,
            memory_limit_bytes: limit,
            wal_bytes: stats.disk_bytes,
            wal_limit_bytes: wal_limit,
            lanes: self.health.lanes(),
        }
    }

    /// A budget for decoding one request: memory is reserved from the pipeline's budget
    /// before the decoder allocates it, up to what one table may hold.
    pub fn request_budget(&self) -> RequestBudget {
        RequestBudget::new(self.budget.reserve(0), self.table_memory_share)
    }

    /// A budget for one request's bytes as they are received and inflated.
    pub fn body_budget(&self) -> BodyBudget {
        BodyBudget::new(self.budget.reserve(0))
    }

    /// [`Pipeline::accept_decoded`] for a batch decoded without a request budget.
    pub async fn accept(self: &Arc<Self>, key: TableKey, batch: RecordBatch) -> Result<usize> {
        let budget = self.request_budget();
        self.accept_decoded(key, batch, budget).await
    }

    /// Redacts `batch`, makes it durable in the WAL and queues it for its table's lane;
    /// `budget` is what its decode reserved (it then accounts the batch until its table has
    /// it). Returns once the WAL says it is durable: the caller may then acknowledge. The
    /// work runs in its own task, so a client that disconnects mid-request cannot leave a
    /// WAL record unaccounted.
    pub async fn accept_decoded(
        self: &Arc<Self>,
        key: TableKey,
        batch: RecordBatch,
        budget: RequestBudget,
    ) -> Result<usize> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(Error::Unavailable("shutting down".into()));
        }
        // The request's own reservation is not somebody else's memory.
        if self.budget.used().saturating_sub(budget.reserved()) >= self.budget.limit() {
            self.metrics
                .backpressure_events
                .fetch_add(1, Ordering::Relaxed);
            return Err(Error::Backpressure {
                what: "memory".into(),
            });
        }
        if let Err(refused) = self.health.admit(&key, self.table_memory_share) {
            self.metrics
                .backpressure_events
                .fetch_add(1, Ordering::Relaxed);
            return Err(refused);
        }
        let batch = self
            .redactor
            .redact_batch(&batch)
            .map_err(|err| Error::Internal(format!("redaction failed: {err}")))?;
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(0);
        }
        let this = Arc::clone(self);
        let reservation = budget.reservation;
        tokio::spawn(async move { this.append(key, batch, reservation).await })
            .await
            .map_err(|err| Error::Internal(format!("ingest task failed: {err}")))??;
        Ok(rows)
    }

    async fn append(
        &self,
        key: TableKey,
        batch: RecordBatch,
        mut reservation: Reservation,
    ) -> Result<()> {
        // From here the batch is accounted at its real size (it is allocated already).
        let bytes = batch.get_array_memory_size() as u64;
        reservation.resize(bytes);
        let mut parts = self.encode_parts(&key, batch)?;
        // The encoded records live until they are durable.
        let _encoded = self
            .budget
            .reserve(parts.iter().map(|(_, payload)| payload.len() as u64).sum());
        let appended = if parts.len() == 1 {
            let (batch, payload) = parts.pop().expect("one part");
            let mut message = Some((key, batch, reservation));
            self.wal.append_then(&payload, |seq| {
                let (key, batch, reservation) = message.take().expect("called once");
                self.queue(seq, key, batch, reservation);
            })
        } else {
            // Parts share the request's buffers: account the request once, spread over them.
            let share = bytes / parts.len() as u64;
            let (batches, payloads): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
            let mut batches: Vec<Option<RecordBatch>> = batches.into_iter().map(Some).collect();
            let last = batches.len() - 1;
            self.metrics.split_requests.fetch_add(1, Ordering::Relaxed);
            self.wal.append_all_then(&payloads, |i, seq| {
                let batch = batches[i].take().expect("called once per part");
                let part = if i == last {
                    reservation.split_off(u64::MAX)
                } else {
                    reservation.split_off(share)
                };
                self.queue(seq, key.clone(), batch, part);
            })
        };
        let appended = match appended {
            Ok(appended) => appended,
            Err(icegate_wal::Error::RecordTooLarge { len, max }) => {
                return Err(Error::TooLarge { bytes: len, max });
            }
            Err(err) if err.is_retryable() => {
                self.metrics
                    .backpressure_events
                    .fetch_add(1, Ordering::Relaxed);
                return Err(Error::Backpressure {
                    what: "WAL disk".into(),
                });
            }
            Err(err) => {
                self.health.set_wal_failure(err.to_string());
                return Err(Error::Unavailable(format!("write-ahead log: {err}")));
            }
        };
        appended.durable().await.map(|_| ()).map_err(|err| {
            self.health.set_wal_failure(err.to_string());
            Error::Unavailable(format!("write-ahead log: {err}"))
        })
    }

    /// Under the WAL's lock: the record is needed until its table has it, and goes to the
    /// flusher in WAL order. A closed channel (the flusher stopped at shutdown) leaves it to
    /// the next start's replay: it is in the WAL and nothing truncates it.
    fn queue(&self, seq: u64, key: TableKey, batch: RecordBatch, reservation: Reservation) {
        self.tracker.insert(seq);
        let _ = self.to_flusher.send(Accepted {
            seq,
            key,
            batch,
            reservation,
        });
    }

    /// `batch` as WAL records: one, or — when it encodes to more than the WAL takes in one
    /// record (a collector's batch sharing kilobytes of resource attributes decodes to many
    /// times its request size) — contiguous row ranges that each fit, in order.
    fn encode_parts(
        &self,
        key: &TableKey,
        batch: RecordBatch,
    ) -> Result<Vec<(RecordBatch, Vec<u8>)>> {
        let max = self.wal.config().max_record_size.0;
        let payload = record::encode(key, &batch)?;
        let len = payload.len() as u64;
        if len <= max {
            return Ok(vec![(batch, payload)]);
        }
        let rows = batch.num_rows();
        if rows <= 1 {
            return Err(Error::TooLarge { bytes: len, max });
        }
        // Aim a little below the limit; a part that still does not fit is halved again.
        let parts = (len.div_ceil((max * 9 / 10).max(1)) as usize).clamp(2, rows);
        let per_part = rows.div_ceil(parts);
        let mut encoded = Vec::with_capacity(parts);
        for start in (0..rows).step_by(per_part) {
            let slice = batch.slice(start, per_part.min(rows - start));
            encoded.extend(self.encode_parts(key, slice)?);
        }
        Ok(encoded)
    }
}
