//! The `icegate` server, as a library: the binary in `main.rs` only parses flags.
//!
//! ```text
//!  POST /v1/{logs,traces,metrics}  ─► decode (direct, no prost) ─► redact ─► WAL append ─► fsync ─► 200
//!  POST /v1/ndjson                                                             │
//!                                                                              ▼ (in sequence order)
//!                              Iceberg commit ◄─ Parquet files ◄─ sealed batch ◄─ batcher (size / age)
//!                                    │
//!                                    └─► WAL truncated up to what the lake now covers
//! ```
//!
//! - A request is acknowledged only after its records are durable in the WAL; the WAL holds
//!   the decoded, redacted mini-batch (Arrow IPC), so replay needs no re-validation.
//! - One flusher task receives accepted mini-batches strictly in WAL sequence order, so a
//!   table's commit covering sequence `n` means every earlier record of that table is
//!   committed too: after a crash, start-up replays exactly the records whose table has not
//!   committed them ([`icegate_committer::TableCommitter::committed_seq`]).
//! - Backpressure instead of collapse: a full WAL budget or memory budget answers 429 with
//!   `Retry-After`; when storage or the catalog is down, flushes retry with backoff while
//!   ingest keeps filling the WAL up to its budget.

pub mod config;
pub mod grpc;
pub mod http;
pub mod metrics;
pub mod pipeline;
pub mod server;
pub mod signal;

pub use config::IngestConfig;
pub use server::{Server, run, start};
