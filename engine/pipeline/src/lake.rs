//! The seam between the pipeline and the lake: one trait, [`LakeSink`], implemented over
//! Iceberg ([`crate::IcebergLake`]) and in memory ([`crate::MemoryLake`]), held to one
//! conformance suite (`tests/conformance.rs`).
//!
//! ## The exactly-once watermark
//! Every commit a writer makes sets, in the same Iceberg commit as its data files, the table
//! property `icegate.watermark.<writer-id>` = `1:<incarnation>:<run>:<seq>` ([`Watermark`]):
//! the writer's WAL incarnation, the process run that committed, and the highest WAL sequence
//! number now in the table. Table properties survive snapshot expiry, compaction and other
//! engines' commits, which snapshot summaries do not (the summaries still carry
//! `icegate.writer-id` / `icegate.wal-first-seq` / `icegate.wal-last-seq` for forensics, and
//! tables written before the property existed are read from them).
//!
//! A commit is decided against the current watermark ([`decide`]) on every attempt, from
//! freshly loaded metadata: the same incarnation and run at or past `seq` means an earlier
//! attempt landed (its response was lost) — nothing is added; a watermark other than the one
//! the lane last saw means another process commits as this writer — refused; otherwise the
//! files and the new watermark are committed together. iceberg-rust's own conflict retry is
//! switched off for these commits: only this checked loop retries.

use arrow::array::RecordBatch;
use async_trait::async_trait;
use icegate_batcher::TableKey;
use icegate_evolve::{PromotedColumn, Promotions};

use crate::error::Result;
use crate::signal::Signal;

/// Table property prefix of the per-writer watermark.
pub const WATERMARK_PROPERTY_PREFIX: &str = "icegate.watermark.";

/// The table property holding `writer_id`'s watermark.
pub fn watermark_property(writer_id: &str) -> String {
    format!("{WATERMARK_PROPERTY_PREFIX}{writer_id}")
}

/// How far one writer's WAL has reached a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    /// The WAL's incarnation: created with the WAL directory, so a wiped or replaced WAL is
    /// never mistaken for the one that committed. `legacy` for tables written before it.
    pub incarnation: String,
    /// The process run that committed (a new id every start).
    pub run: String,
    /// Every record of this table up to this WAL sequence number is in the table.
    pub seq: u64,
}

impl Watermark {
    /// The incarnation of watermarks recovered from snapshot summaries of older builds.
    pub const LEGACY: &'static str = "legacy";

    /// The property value: `1:<incarnation>:<run>:<seq>`.
    pub fn encode(&self) -> String {
        format!("1:{}:{}:{}", self.incarnation, self.run, self.seq)
    }

    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        if parts.next()? != "1" {
            return None;
        }
        let incarnation = parts.next()?.to_string();
        let run = parts.next()?.to_string();
        let seq = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Self {
            incarnation,
            run,
            seq,
        })
    }
}

/// One commit: the files of WAL records `first_seq..=next.seq` of one writer.
#[derive(Debug, Clone)]
pub struct Commit {
    pub writer_id: String,
    pub first_seq: u64,
    /// The watermark this commit sets (its `seq` is the range's last sequence number).
    pub next: Watermark,
    /// The watermark the lane believes the table has now.
    pub expected: Option<Watermark>,
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// A new snapshot holds the files.
    Committed { attempts: u32 },
    /// An earlier attempt of this run already landed the range (its response was lost);
    /// nothing was added and the staged files are the ones committed then.
    AlreadyCommitted { current: Watermark },
}

/// What [`decide`] says about a commit attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Apply,
    AlreadyCommitted,
    /// Someone else moved this writer's watermark.
    Conflict {
        found: Option<Watermark>,
    },
}

/// The exactly-once rule every [`LakeSink`] applies, on every attempt, to the watermark it
/// just read.
pub fn decide(current: Option<&Watermark>, commit: &Commit) -> Decision {
    if let Some(current) = current
        && current.incarnation == commit.next.incarnation
        && current.run == commit.next.run
        && current.seq >= commit.next.seq
    {
        return Decision::AlreadyCommitted;
    }
    if current != commit.expected.as_ref() {
        return Decision::Conflict {
            found: current.cloned(),
        };
    }
    Decision::Apply
}

/// [`decide`] as an implementation acts on it: `Ok(Some(..))` ends the attempt (an earlier
/// one landed), a writer conflict is an error, `Ok(None)` means apply the commit.
pub fn check_commit(
    key: &TableKey,
    current: Option<Watermark>,
    commit: &Commit,
) -> Result<Option<CommitOutcome>> {
    match decide(current.as_ref(), commit) {
        Decision::AlreadyCommitted => Ok(Some(CommitOutcome::AlreadyCommitted {
            current: current.expect("decided on a watermark"),
        })),
        Decision::Conflict { found } => Err(crate::Error::Lake {
            table: key.to_string(),
            operation: "commit",
            class: crate::ErrorClass::WriterConflict,
            message: format!(
                "writer {}'s watermark is {found:?}, expected {:?}: another process commits \
                 as this writer (a copied data directory?)",
                commit.writer_id, commit.expected
            ),
        }),
        Decision::Apply => Ok(None),
    }
}

/// Where sealed batches go. Errors carry an [`crate::ErrorClass`] the lanes act on.
#[async_trait]
pub trait LakeSink: Send + Sync + 'static {
    /// Files written for one batch, reused across its commit attempts.
    type Staged: Send + Sync + 'static;

    /// Creates the table (and its namespace) for `signal` if it does not exist.
    async fn ensure_table(&self, key: &TableKey, signal: Signal) -> Result<()>;

    /// Writes `batch` (sorted) as data files of the table; commits nothing.
    async fn write_files(&self, key: &TableKey, batch: &RecordBatch) -> Result<Self::Staged>;

    /// Commits `files` for `commit`'s WAL range exactly once (see [`decide`]).
    async fn commit(
        &self,
        key: &TableKey,
        commit: &Commit,
        files: &Self::Staged,
    ) -> Result<CommitOutcome>;

    /// Deletes files no commit will reference (their batch went to the quarantine).
    async fn discard(&self, key: &TableKey, files: Self::Staged) -> Result<()>;

    /// `writer_id`'s watermark on the table, `None` if it never committed there.
    async fn watermark(&self, key: &TableKey, writer_id: &str) -> Result<Option<Watermark>>;

    /// The table's promoted columns, as its current schema records them (see
    /// `icegate_evolve::columns`).
    async fn promotions(&self, key: &TableKey) -> Result<Promotions>;

    /// Adds `columns` (and the `_rescued` column, once) to the table's schema as one schema
    /// update, conflict-safe: keys another writer promoted first are skipped, names are
    /// chosen again against the fresh schema, and no more than `max_columns` promoted
    /// columns end up in the table. Returns the table's promotions afterwards.
    async fn add_columns(
        &self,
        key: &TableKey,
        columns: &[PromotedColumn],
        max_columns: usize,
    ) -> Result<Promotions>;
}

/// The additions [`LakeSink::add_columns`] makes on a table whose promotions are `current`:
/// new keys only, renamed clear of the table's names, within `max_columns`; and whether the
/// `_rescued` column is still to be added.
pub fn columns_to_add(
    current: &Promotions,
    columns: &[PromotedColumn],
    max_columns: usize,
) -> (Vec<PromotedColumn>, bool) {
    let room = max_columns.saturating_sub(current.columns.len());
    let mut taken = current.names.clone();
    let mut seen = std::collections::HashSet::new();
    let additions: Vec<PromotedColumn> = columns
        .iter()
        .filter(|c| !current.has(&c.source, &c.key) && seen.insert((&c.source, &c.key)))
        .take(room)
        .map(|c| {
            let name = icegate_evolve::column_name(&c.source, &c.key, &taken);
            taken.insert(name.clone());
            PromotedColumn {
                name,
                field_id: None,
                ..c.clone()
            }
        })
        .collect();
    let rescued = current.rescued_field_id.is_none()
        && (!additions.is_empty() || !current.columns.is_empty());
    (additions, rescued)
}
