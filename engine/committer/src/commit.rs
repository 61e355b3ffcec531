//! "Commit these data files for this WAL range", exactly once, with conflict retries.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use iceberg::spec::{DataFile, TableMetadata};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};

use crate::catalog::Lake;
use crate::error::{Error, Result};
use crate::{WAL_FIRST_SEQ_PROPERTY, WAL_LAST_SEQ_PROPERTY, WRITER_ID_PROPERTY};

/// Data files of one table covering WAL records `first_seq..=last_seq` of one writer.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub writer_id: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub files: Vec<DataFile>,
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// A new snapshot holds the files.
    Committed { snapshot_id: i64, attempts: u32 },
    /// An earlier commit already covers this range (e.g. its acknowledgement was lost before
    /// a crash); nothing was added.
    AlreadyCommitted { committed_seq: u64 },
}

/// The seam between the ingest pipeline and the lake: one trait, an Iceberg implementation
/// ([`IcebergCommitter`]) and an in-memory double ([`crate::MemoryCommitter`]).
#[async_trait]
pub trait TableCommitter: Send + Sync {
    /// Commits `request.files` to `table`, unless `writer_id` already committed up to
    /// `last_seq` there.
    async fn commit(&self, table: &str, request: CommitRequest) -> Result<CommitOutcome>;

    /// The highest WAL sequence number `writer_id` has committed to `table`.
    async fn committed_seq(&self, table: &str, writer_id: &str) -> Result<Option<u64>>;
}

/// Reads the exactly-once position from a table's snapshot summaries.
pub fn committed_seq_of(metadata: &TableMetadata, writer_id: &str) -> Option<u64> {
    metadata
        .snapshots()
        .filter_map(|snapshot| {
            let properties = &snapshot.summary().additional_properties;
            (properties.get(WRITER_ID_PROPERTY).map(String::as_str) == Some(writer_id))
                .then(|| properties.get(WAL_LAST_SEQ_PROPERTY)?.parse::<u64>().ok())
                .flatten()
        })
        .max()
}

/// Commits through the lake's Iceberg catalog.
#[derive(Debug, Clone)]
pub struct IcebergCommitter {
    lake: Lake,
}

impl IcebergCommitter {
    pub fn new(lake: Lake) -> Self {
        Self { lake }
    }

    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    async fn load(&self, table: &str) -> Result<Table> {
        let ident = self.lake.table_ident(table);
        self.lake
            .catalog
            .load_table(&ident)
            .await
            .map_err(self.lake.catalog_error("load table", ident.to_string()))
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let config = &self.lake.config.commit;
        let base = config
            .initial_backoff_ms
            .saturating_mul(1u64 << attempt.min(20))
            .min(config.max_backoff_ms);
        // Jitter spreads writers that conflicted on the same snapshot apart.
        let jitter = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos() as u64)
            % (base / 2 + 1);
        Duration::from_millis(base / 2 + jitter)
    }
}

#[async_trait]
impl TableCommitter for IcebergCommitter {
    async fn commit(&self, table: &str, request: CommitRequest) -> Result<CommitOutcome> {
        let ident = self.lake.table_ident(table);
        let max_attempts = self.lake.config.commit.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Fresh metadata every attempt: it tells whether an earlier attempt (or a run
            // before a crash) already landed this range, and it is what we commit on top of.
            let current = self.load(table).await?;
            if let Some(committed) = committed_seq_of(current.metadata(), &request.writer_id)
                && committed >= request.last_seq
            {
                return Ok(CommitOutcome::AlreadyCommitted {
                    committed_seq: committed,
                });
            }
            let properties = HashMap::from([
                (WRITER_ID_PROPERTY.to_string(), request.writer_id.clone()),
                (
                    WAL_FIRST_SEQ_PROPERTY.to_string(),
                    request.first_seq.to_string(),
                ),
                (
                    WAL_LAST_SEQ_PROPERTY.to_string(),
                    request.last_seq.to_string(),
                ),
            ]);
            let transaction = Transaction::new(&current);
            // No duplicate-file check: it reads every manifest of the table on every commit
            // (seconds per append on a day-long table), and what it guards against cannot
            // happen here — file names are fresh UUIDs and a range lands once by the
            // watermark above. Java's FastAppend does not check either.
            let action = transaction
                .fast_append()
                .with_check_duplicate(false)
                .add_data_files(request.files.clone())
                .set_snapshot_properties(properties);
            let transaction = action.apply(transaction).map_err(
                self.lake
                    .catalog_error("prepare commit to", ident.to_string()),
            )?;
            match transaction.commit(self.lake.catalog.as_ref()).await {
                Ok(committed) => {
                    let snapshot_id = committed
                        .metadata()
                        .current_snapshot()
                        .map(|snapshot| snapshot.snapshot_id())
                        .unwrap_or_default();
                    tracing::debug!(table = %ident, snapshot_id, attempt, files = request.files.len(), "committed");
                    return Ok(CommitOutcome::Committed {
                        snapshot_id,
                        attempts: attempt,
                    });
                }
                Err(err)
                    if err.kind() == iceberg::ErrorKind::CatalogCommitConflicts
                        && attempt < max_attempts =>
                {
                    let wait = self.backoff(attempt);
                    tracing::debug!(table = %ident, attempt, ?wait, "commit conflict; retrying on fresh metadata");
                    tokio::time::sleep(wait).await;
                }
                Err(err) if err.kind() == iceberg::ErrorKind::CatalogCommitConflicts => {
                    return Err(Error::ConflictsExhausted {
                        table: ident.to_string(),
                        attempts: attempt,
                        source: Box::new(err),
                    });
                }
                Err(err) => {
                    return Err(self.lake.catalog_error("commit to", ident.to_string())(err));
                }
            }
        }
    }

    async fn committed_seq(&self, table: &str, writer_id: &str) -> Result<Option<u64>> {
        let ident = self.lake.table_ident(table);
        let exists = self
            .lake
            .catalog
            .table_exists(&ident)
            .await
            .map_err(self.lake.catalog_error("check table", ident.to_string()))?;
        if !exists {
            return Ok(None);
        }
        Ok(committed_seq_of(
            self.load(table).await?.metadata(),
            writer_id,
        ))
    }
}
