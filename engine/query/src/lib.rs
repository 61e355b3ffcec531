//! Querying IceGate's Iceberg tables: the library behind `ice-grep`.
//!
//! - [`grep`]: a grep-style search — a regex (or fixed string) over log bodies, span names or
//!   metric names, optionally over attribute values — with time, service, severity, trace-id
//!   and SQL filters, turned into one DataFusion query.
//! - [`session`]: a DataFusion `SessionContext` with the lake's tables registered by name
//!   (`logs`, `traces`, `metrics`) through iceberg-datafusion's table provider, at the current
//!   snapshot or at a past one (time travel).
//! - [`snapshots`]: listing snapshots and resolving `--as-of` (a snapshot id or a time).
//! - [`explain`]: how much of a table a query touches — data files and bytes in the snapshot,
//!   kept after partition and manifest-statistics pruning, and rows left after Parquet
//!   row-group and page pruning.
//! - [`time`]: `--since 1h` / `--until 2025-11-26T10:00:00Z` expressions.
//!
//! Filters on `timestamp`, `service_name`, `severity_number` and `trace_id` are plain column
//! comparisons with literals, which iceberg-datafusion pushes into the Iceberg scan: manifests
//! are pruned by partition values and column bounds, Parquet row groups and pages by their
//! statistics. The regex runs in DataFusion (`regexp_like`, the `regex` crate, which extracts
//! literal prefilters from the pattern itself).

pub mod error;
pub mod explain;
pub mod grep;
pub mod session;
pub mod snapshots;
pub mod time;

pub use error::{QueryError, Result};
pub use grep::{GrepOptions, TableKind};
pub use session::LakeSession;
