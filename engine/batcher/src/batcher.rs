//! Grouping mini-batches per table and sealing them by size or age.

use std::collections::HashMap;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use icegate_schema::SortField;

use crate::config::BatcherConfig;
use crate::error::{Result, arrow};
use crate::memory::{MemoryBudget, Reservation};
use crate::sort::sort_batch;

/// Which table a batch belongs to: the tenant's namespace and the table name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableKey {
    pub namespace: String,
    pub table: String,
}

impl TableKey {
    pub fn new(namespace: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            table: table.into(),
        }
    }
}

impl std::fmt::Display for TableKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.namespace, self.table)
    }
}

/// A table's rows ready for a Parquet file: one batch, sorted, with the WAL records it holds.
#[derive(Debug)]
pub struct SealedBatch {
    pub key: TableKey,
    pub batch: RecordBatch,
    /// Lowest and highest WAL sequence number of the mini-batches in it. Mini-batches of one
    /// table are sealed in sequence order, so once this batch is committed every record of
    /// this table up to `last_seq` is in the lake.
    pub first_seq: u64,
    pub last_seq: u64,
    /// How many mini-batches were merged.
    pub mini_batches: usize,
    /// The batch's bytes in the memory budget, released when this is dropped.
    pub reservation: Reservation,
}

struct Pending {
    batches: Vec<RecordBatch>,
    bytes: u64,
    first_seq: u64,
    last_seq: u64,
    since: Instant,
    reservation: Reservation,
}

/// Accumulates mini-batches per table. Not thread-safe by itself: one task owns it.
pub struct Batcher {
    config: BatcherConfig,
    budget: MemoryBudget,
    sort_orders: HashMap<String, Vec<SortField>>,
    pending: HashMap<TableKey, Pending>,
}

impl Batcher {
    /// `sort_orders` maps a table name to its sort order (tables not listed stay unsorted).
    pub fn new(
        config: BatcherConfig,
        budget: MemoryBudget,
        sort_orders: HashMap<String, Vec<SortField>>,
    ) -> Self {
        Self {
            config,
            budget,
            sort_orders,
            pending: HashMap::new(),
        }
    }

    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// Adds the mini-batch decoded from WAL record `seq`; returns the table's sealed batch
    /// if this push took it to `flush-size`. Empty batches are ignored.
    pub fn push(
        &mut self,
        key: TableKey,
        batch: RecordBatch,
        seq: u64,
        now: Instant,
    ) -> Result<Option<SealedBatch>> {
        if batch.num_rows() == 0 {
            return Ok(None);
        }
        let bytes = batch.get_array_memory_size() as u64;
        let reservation = self.budget.reserve(bytes);
        let pending = self.pending.entry(key.clone()).or_insert_with(|| Pending {
            batches: Vec::new(),
            bytes: 0,
            first_seq: seq,
            last_seq: seq,
            since: now,
            reservation: self.budget.reserve(0),
        });
        pending.batches.push(batch);
        pending.bytes += bytes;
        pending.last_seq = pending.last_seq.max(seq);
        pending.first_seq = pending.first_seq.min(seq);
        pending.reservation.merge(reservation);
        if pending.bytes >= self.config.flush_size {
            return self.seal(&key).map(Some);
        }
        Ok(None)
    }

    /// Seals every table whose oldest pending mini-batch has reached `flush-interval`.
    pub fn seal_due(&mut self, now: Instant) -> Result<Vec<SealedBatch>> {
        let interval = self.config.flush_interval();
        let mut due: Vec<TableKey> = self
            .pending
            .iter()
            .filter(|(_, pending)| now.saturating_duration_since(pending.since) >= interval)
            .map(|(key, _)| key.clone())
            .collect();
        due.sort();
        due.iter().map(|key| self.seal(key)).collect()
    }

    /// Seals everything pending (shutdown).
    pub fn seal_all(&mut self) -> Result<Vec<SealedBatch>> {
        let mut keys: Vec<TableKey> = self.pending.keys().cloned().collect();
        keys.sort();
        keys.iter().map(|key| self.seal(key)).collect()
    }

    /// When the next table becomes due, if any is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        let interval = self.config.flush_interval();
        self.pending
            .values()
            .map(|pending| pending.since + interval)
            .min()
    }

    /// Lowest WAL sequence number still waiting in a pending batch.
    pub fn oldest_pending_seq(&self) -> Option<u64> {
        self.pending.values().map(|pending| pending.first_seq).min()
    }

    /// Bytes pending across all tables.
    pub fn pending_bytes(&self) -> u64 {
        self.pending.values().map(|pending| pending.bytes).sum()
    }

    fn seal(&mut self, key: &TableKey) -> Result<SealedBatch> {
        let pending = self.pending.remove(key).expect("sealing a pending table");
        let Pending {
            batches,
            first_seq,
            last_seq,
            mut reservation,
            ..
        } = pending;
        let schema = batches[0].schema();
        let merged = concat_batches(&schema, &batches)
            .map_err(arrow(format!("merging {key} mini-batches")))?;
        let sorted = match self.sort_orders.get(&key.table) {
            Some(order) => sort_batch(&key.table, &merged, order)?,
            None => merged,
        };
        reservation.resize(sorted.get_array_memory_size() as u64);
        Ok(SealedBatch {
            key: key.clone(),
            batch: sorted,
            first_seq,
            last_seq,
            mini_batches: batches.len(),
            reservation,
        })
    }
}
