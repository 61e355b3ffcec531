//! IceGate's tables in Apache Iceberg: where they live, how they are created, and how data
//! files are committed to them exactly once.
//!
//! - **One storage stack.** Data files and Iceberg metadata go through the same
//!   [`FileIO`](iceberg::io::FileIO), built on iceberg-rust's OpenDAL storage: the local file
//!   system (the embedded default) or any S3-compatible endpoint, configured once in
//!   [`StorageConfig`]. Large files are uploaded as multipart uploads by OpenDAL's writer.
//! - **Catalogs.** The SQL catalog on SQLite (embedded default: a file, nothing to start) or
//!   PostgreSQL, or an Iceberg REST catalog ([`CatalogConfig`]). Readers must use the same
//!   catalog name (default `icegate`): the SQL catalog stores it in every row.
//! - **Tables** ([`Lake::table`]) are created on first use from the schemas of
//!   [`icegate_schema`] (whose field ids survive creation), with the configured partition spec
//!   and sort order, format v2, zstd Parquet, and metadata clean-up after commit.
//! - **Exactly once** ([`TableCommitter`]): every commit's snapshot summary records the writer
//!   id and the WAL sequence range it covers (`icegate.writer-id`, `icegate.wal-first-seq`,
//!   `icegate.wal-last-seq`). [`TableCommitter::committed_seq`] reads them back after a
//!   crash; a commit whose range is already covered is skipped, so a WAL range is never
//!   committed twice nor skipped.
//! - **Concurrent writers** may commit to one table: a lost compare-and-swap is retried on
//!   fresh metadata with exponential backoff; only conflicts are retried.

mod catalog;
mod commit;
mod config;
mod error;
mod memory;
mod table;

pub use catalog::{Lake, open_lake, sql_catalog_uri, storage_location};
pub use commit::{
    CommitOutcome, CommitRequest, IcebergCommitter, TableCommitter, committed_seq_of,
};
pub use config::{CatalogConfig, CommitConfig, LakeConfig, StorageConfig, TableNames};
pub use error::{Error, Result};
pub use memory::MemoryCommitter;
pub use table::table_creation;

/// Snapshot summary key: which writer made the commit.
pub const WRITER_ID_PROPERTY: &str = "icegate.writer-id";
/// Snapshot summary key: first WAL sequence number the commit covers.
pub const WAL_FIRST_SEQ_PROPERTY: &str = "icegate.wal-first-seq";
/// Snapshot summary key: last WAL sequence number the commit covers.
pub const WAL_LAST_SEQ_PROPERTY: &str = "icegate.wal-last-seq";
