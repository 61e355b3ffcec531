//! The compactor: keeps IceGate's Iceberg tables fast to query and cheap to commit to, on
//! live tables that many `icegate` nodes keep appending to.
//!
//! Every flush of every table adds a data file per partition and a snapshot. A round, per
//! table ([`Compactor::round`]):
//! 1. **Retention** drops day partitions older than the table's retention (a `delete`
//!    snapshot).
//! 2. **Rewrite**: small files of closed time partitions are merged, in the table's sort
//!    order, into files of about `target-file-size` at a higher zstd level
//!    ([`rewrite`]), committed as a `replace` snapshot that validates its inputs are still
//!    live and requires `main` unchanged since it was built ([`replace`]).
//! 3. **Manifest merge** once a snapshot has more than `max-manifests`.
//! 4. **Snapshot expiry** by age and count, deleting the files only expired snapshots
//!    referenced ([`expire`]); the writers' exactly-once watermarks are table properties and
//!    survive it.
//! 5. **Orphan collection** of unreferenced files older than `orphan-grace` ([`orphans`]).
//!
//! iceberg-rust 0.10 has no rewrite action and exposes no way to hand a catalog arbitrary
//! updates, so the snapshots are assembled from its public manifest and snapshot writers
//! and committed through each catalog's own protocol ([`swap`]). Every step is idempotent
//! and safe to kill at any point: a commit either landed whole or not at all, and files
//! written by an attempt that did not land are orphans the collector removes.

pub mod config;
mod error;
pub mod expire;
pub mod live;
pub mod orphans;
pub mod plan;
mod reach;
pub mod replace;
pub mod rewrite;
mod service;
mod stats;
pub mod swap;

pub use config::CompactorConfig;
pub use error::{Error, Result};
pub use service::{Compactor, TablePlan, TableReport, log_report};
pub use stats::CompactorStats;
