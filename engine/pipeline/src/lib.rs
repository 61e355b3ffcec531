//! IceGate's middle, between the server's decoders and the lake.
//!
//! ```text
//!  request ─► redact ─► WAL append ─(in WAL order, under the WAL's lock)─► flusher channel
//!                          │ fsync                                            │ waits until durable
//!                          ▼                                                  ▼
//!                     acknowledge                        lane per table (namespace + table)
//!                                                          batch ─► seal ─► Parquet ─► commit
//!                                                                                      │
//!                      WAL truncated below the lowest record still needed ◄────────────┘
//! ```
//!
//! - **Order without reordering.** A record is queued for the flusher while the WAL holds
//!   its lock, so the channel is in sequence order; the flusher waits for each record's
//!   durability before passing it on, and drops records whose write failed (never
//!   acknowledged).
//! - **Lanes.** Each table key has its own task: its own batching, retries and poison
//!   handling. An outage or a bad batch of one table never stops another.
//! - **What the WAL must keep** ([`Tracker`]): every record acknowledged and not yet in the
//!   lake or the quarantine, and everything replay has not read yet.
//! - **Exactly once** ([`lake`]): a per-writer watermark table property set in the same commit
//!   as the data, checked on every attempt.
//! - **Errors are classified** ([`ErrorClass`]): outages back off and retry; a batch that can
//!   never be written is kept whole in the quarantine ([`Quarantine`]), counted, logged and
//!   reported; a writer conflict stops that table only.
//! - **Start-up needs only the WAL**: [`build`] opens nothing remote; lanes reach the lake,
//!   and replay runs, in the background.

mod accept;
pub mod config;
mod error;
mod flusher;
mod iceberg_lake;
pub mod lake;
mod lane;
mod memory_lake;
pub mod quarantine;
pub mod record;
mod request_budget;
mod signal;
pub mod status;
mod table_columns;
mod tracker;

use std::path::Path;

pub use accept::{Pipeline, Readiness};
pub use config::{IngestConfig, ListenConfig};
pub use error::{Error, ErrorClass, Result, error_chain};
pub use flusher::{Flusher, PipelineParts, build};
pub use iceberg_lake::{IcebergLake, ident, watermark_of};
pub use lake::{Commit, CommitOutcome, LakeSink, Watermark};
pub use lane::RetryPolicy;
pub use memory_lake::{MemoryLake, MemoryStaged, MemoryTable};
pub use quarantine::Quarantine;
pub use request_budget::{BODY_STEP, BodyBudget, RequestBudget};
pub use signal::{Signal, Tables};
pub use tracker::Tracker;

/// The WAL's incarnation id, kept in `<wal-dir>/INCARNATION`: created with a fresh WAL, so
/// a wiped or replaced WAL is told apart from the one whose records the lake holds. A WAL
/// that predates incarnations (it has records but no file) is `legacy`, matching the
/// watermarks older builds left in snapshot summaries.
pub fn wal_incarnation(wal_dir: &Path, wal: &icegate_wal::Wal) -> Result<String> {
    let path = wal_dir.join("INCARNATION");
    let io = |source| Error::Config(format!("{}: {source}", path.display()));
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(io(err)),
    }
    let stats = wal.stats();
    let id = if stats.next_seq > 0 {
        Watermark::LEGACY.to_string()
    } else {
        uuid::Uuid::now_v7().to_string()
    };
    let tmp = wal_dir.join("INCARNATION.tmp");
    std::fs::write(&tmp, &id).map_err(io)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    std::fs::File::open(wal_dir)
        .and_then(|d| d.sync_all())
        .map_err(io)?;
    Ok(id)
}
