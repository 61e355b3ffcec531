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
//! - The middle — WAL order, per-table lanes, exactly-once commits, poison quarantine,
//!   replay — is `icegate-pipeline`; this crate is the HTTP and gRPC edge, `/metrics`
//!   rendering, start-up and shutdown.
//! - Backpressure instead of collapse: a full WAL budget or memory budget answers 429 with
//!   `Retry-After`; when storage or the catalog is down, flushes retry with backoff while
//!   ingest keeps filling the WAL up to its budget.

pub mod body;
pub mod grpc;
pub mod http;
pub mod listen;
pub mod metrics;
pub mod server;
pub mod signal;

/// The configuration lives in `icegate-pipeline`, so tools read it without this crate.
pub use icegate_pipeline::{IngestConfig, config};
pub use server::{Server, run, start};
