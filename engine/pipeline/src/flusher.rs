//! The flushing half: replays the WAL, then hands every durable record to its table's lane,
//! in WAL order; at shutdown, lets every lane commit what it holds.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use icegate_batcher::{BatcherConfig, MemoryBudget, TableKey};
use icegate_evolve::SchemaConfig;
use icegate_redact::Redactor;
use icegate_wal::Wal;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::accept::{Accepted, Pipeline};
use crate::lake::LakeSink;
use crate::lane::{Lane, LaneContext, LaneMessage, RetryPolicy};
use crate::quarantine::Quarantine;
use crate::record;
use crate::signal::{Signal, Tables};
use crate::status::{Health, Metrics, ReplayState};
use crate::tracker::Tracker;

/// What [`build`] wires together.
pub struct PipelineParts<L> {
    pub wal: Arc<Wal>,
    pub lake: Arc<L>,
    /// This node's writer id (kept in the data directory).
    pub writer_id: String,
    /// The WAL's incarnation ([`crate::wal_incarnation`]).
    pub incarnation: String,
    pub redactor: Redactor,
    pub batcher: BatcherConfig,
    /// Bytes of batches in memory (queued, pending, sealed) before requests get 429.
    pub max_memory: u64,
    /// Bytes one table may hold of that before its own requests get 429 (others go on).
    /// Usually half of `max_memory`.
    pub table_memory_share: u64,
    pub tables: Tables,
    pub quarantine: Quarantine,
    pub retry: RetryPolicy,
    pub metrics: Arc<Metrics>,
    /// Which attribute keys become columns, per table.
    pub schema: SchemaConfig,
}

/// The flushing half; run it with [`Flusher::run`].
pub struct Flusher<L> {
    ctx: Arc<LaneContext<L>>,
    tables: Tables,
    from_pipeline: mpsc::UnboundedReceiver<Accepted>,
    lanes: HashMap<TableKey, (mpsc::UnboundedSender<LaneMessage>, JoinHandle<()>)>,
    replay_from: u64,
    stop: watch::Sender<bool>,
}

/// Builds both halves. Nothing here touches the lake: replay and the lake catch up in the
/// background once [`Flusher::run`] runs, while the accepting half already takes requests.
pub fn build<L: LakeSink>(parts: PipelineParts<L>) -> (Arc<Pipeline>, Flusher<L>) {
    let stats = parts.wal.stats();
    let tracker = Arc::new(Tracker::new(stats.first_seq));
    let budget = MemoryBudget::new(parts.max_memory);
    let health = Arc::new(Health::default());
    let (to_flusher, from_pipeline) = mpsc::unbounded_channel();
    let (stop, stop_rx) = watch::channel(false);
    let pipeline = Arc::new(Pipeline {
        wal: parts.wal.clone(),
        redactor: parts.redactor,
        tables: parts.tables.clone(),
        to_flusher,
        tracker: tracker.clone(),
        budget: budget.clone(),
        table_memory_share: parts.table_memory_share,
        metrics: parts.metrics.clone(),
        health: health.clone(),
        closed: AtomicBool::new(false),
    });
    let run = uuid::Uuid::now_v7().to_string();
    let ctx = Arc::new(LaneContext {
        lake: parts.lake,
        wal: parts.wal,
        tracker,
        metrics: parts.metrics,
        health,
        quarantine: parts.quarantine.for_wal(&parts.incarnation, &run),
        writer_id: parts.writer_id,
        incarnation: parts.incarnation,
        run,
        wal_start: stats.next_seq,
        batcher: parts.batcher,
        budget,
        retry: parts.retry,
        schema: parts.schema,
        stop: stop_rx,
    });
    let flusher = Flusher {
        ctx,
        tables: parts.tables,
        from_pipeline,
        lanes: HashMap::new(),
        replay_from: stats.first_seq,
        stop,
    };
    (pipeline, flusher)
}

impl<L: LakeSink> Flusher<L> {
    /// Replays, then dispatches until `shutdown` turns true; then every lane seals and
    /// commits what it holds, for at most `finish_timeout` — after that, what is not
    /// committed stays in the WAL for the next start.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>, finish_timeout: Duration) {
        let mut deadline = None;
        let replayed = {
            let replay = self.replay();
            tokio::pin!(replay);
            tokio::select! {
                replayed = &mut replay => replayed,
                _ = turned_true(&mut shutdown) => {
                    // A graceful stop lets replay finish too (it reads the local WAL; it only
                    // waits when the lanes cannot commit), within the finish timeout.
                    let until = tokio::time::Instant::now() + finish_timeout;
                    deadline = Some(until);
                    tokio::time::timeout_at(until, &mut replay).await.unwrap_or(false)
                }
            }
        };
        if replayed {
            loop {
                tokio::select! {
                    biased;
                    message = self.from_pipeline.recv() => match message {
                        Some(message) => self.dispatch(message).await,
                        None => break,
                    },
                    _ = turned_true(&mut shutdown) => break,
                }
            }
            // What was acknowledged before the listeners stopped.
            while let Ok(message) = self.from_pipeline.try_recv() {
                self.dispatch(message).await;
            }
        }
        let lanes: Vec<_> = self
            .lanes
            .drain()
            .map(|(_, (tx, handle))| {
                let _ = tx.send(LaneMessage::Finish);
                handle
            })
            .collect();
        let all = futures_join(lanes);
        let deadline = deadline.unwrap_or_else(|| tokio::time::Instant::now() + finish_timeout);
        if tokio::time::timeout_at(deadline, all).await.is_err() {
            tracing::warn!(
                ?finish_timeout,
                "the final commits did not finish in time; the WAL keeps the rest for the next start"
            );
            let _ = self.stop.send(true);
        }
    }

    /// Feeds every lane the WAL records earlier runs left (the lanes skip what their table
    /// already has). `false` when the WAL cannot be read: nothing after the damage is
    /// committed or deleted, and the node reports it.
    async fn replay(&mut self) -> bool {
        let end = self.ctx.wal_start;
        if self.replay_from >= end {
            self.ctx.tracker.advance_replay(u64::MAX);
            self.ctx.health.set_replay(ReplayState::Done);
            return true;
        }
        let reader = match self.ctx.wal.read_from(self.replay_from) {
            Ok(reader) => reader,
            Err(err) => return self.replay_failed(err.to_string()),
        };
        let (mut records, mut rows) = (0u64, 0u64);
        for record in reader {
            let record = match record {
                Ok(record) => record,
                Err(err) => return self.replay_failed(err.to_string()),
            };
            if record.seq >= end {
                break;
            }
            // Replay never holds more than the memory budget: lanes commit and release.
            while self.ctx.budget.is_exhausted() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            self.ctx.tracker.insert(record.seq);
            self.ctx.tracker.advance_replay(record.seq + 1);
            match record::decode(&record.payload) {
                Ok((key, batch)) => {
                    records += 1;
                    rows += batch.num_rows() as u64;
                    let reservation = self
                        .ctx
                        .budget
                        .reserve(batch.get_array_memory_size() as u64);
                    let signal = self.signal_of(&key, &batch);
                    self.send_record(&key, signal, record.seq, batch, reservation);
                }
                Err(err) => self.keep_undecodable(record.seq, &record.payload, &err),
            }
        }
        self.ctx.tracker.advance_replay(u64::MAX);
        self.ctx
            .metrics
            .replayed_records
            .fetch_add(rows, Ordering::Relaxed);
        self.ctx.health.set_replay(ReplayState::Done);
        tracing::info!(
            records,
            rows,
            from = self.replay_from,
            to = end,
            "replayed the WAL into the lanes"
        );
        true
    }

    fn replay_failed(&self, reason: String) -> bool {
        tracing::error!(error = %reason, "WAL replay failed: nothing past this point is committed or deleted");
        self.ctx.health.set_replay(ReplayState::Failed(reason));
        false
    }

    fn keep_undecodable(&self, seq: u64, payload: &[u8], err: &crate::Error) {
        let key = TableKey::new("_unknown", "_records");
        match self
            .ctx
            .quarantine
            .keep_record(&key, seq, payload, &err.to_string())
        {
            Ok(path) => {
                tracing::error!(seq, error = %err, path = %path.display(), "a WAL record does not decode; moved to the quarantine");
                self.ctx
                    .metrics
                    .quarantined_batches
                    .fetch_add(1, Ordering::Relaxed);
                self.ctx.tracker.remove(seq);
            }
            Err(quarantine) => {
                tracing::error!(seq, error = %err, %quarantine, "a WAL record does not decode and cannot be quarantined; the WAL keeps it")
            }
        }
    }

    /// Waits until the record is durable, then hands it to its lane. A record whose WAL
    /// write failed was never acknowledged: it is a hole, not data.
    async fn dispatch(&mut self, message: Accepted) {
        let Accepted {
            seq,
            key,
            batch,
            reservation,
        } = message;
        if let Err(err) = self.ctx.wal.durable(seq).await {
            self.ctx.metrics.wal_holes.fetch_add(1, Ordering::Relaxed);
            self.ctx.health.set_wal_failure(err.to_string());
            self.ctx.tracker.remove(seq);
            return;
        }
        let signal = self.signal_of(&key, &batch);
        self.send_record(&key, signal, seq, batch, reservation);
    }

    /// Hands a record to its lane; the lane releases the bytes once the record is done.
    fn send_record(
        &mut self,
        key: &TableKey,
        signal: Signal,
        seq: u64,
        batch: arrow::array::RecordBatch,
        reservation: icegate_batcher::Reservation,
    ) {
        self.ctx.health.add_memory(key, reservation.bytes() as i64);
        self.lane(key, signal).send(LaneMessage::Record {
            seq,
            batch,
            reservation,
        });
    }

    fn signal_of(&self, key: &TableKey, batch: &arrow::array::RecordBatch) -> Signal {
        self.tables
            .signal_of(&key.table)
            .or_else(|| Signal::of_schema(&batch.schema()))
            .unwrap_or(Signal::Logs)
    }

    fn lane(&mut self, key: &TableKey, signal: Signal) -> LaneSender<'_> {
        let ctx = &self.ctx;
        let (tx, _) = self.lanes.entry(key.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let lane = Lane::new(key.clone(), signal, ctx.clone(), rx);
            (tx, tokio::spawn(lane.run()))
        });
        LaneSender { tx }
    }
}

struct LaneSender<'a> {
    tx: &'a mpsc::UnboundedSender<LaneMessage>,
}

impl LaneSender<'_> {
    /// A lane that ended (stopped) leaves the record to the WAL.
    fn send(self, message: LaneMessage) {
        let _ = self.tx.send(message);
    }
}

async fn futures_join(handles: Vec<JoinHandle<()>>) {
    for handle in handles {
        if let Err(err) = handle.await {
            tracing::error!(error = %err, "a lane task failed");
        }
    }
}

/// Resolves once `flag` is (or turns) true, or its sender is gone.
pub(crate) async fn turned_true(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|value| *value).await;
}
