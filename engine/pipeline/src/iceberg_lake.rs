//! [`LakeSink`] over Apache Iceberg: the configured catalog and storage, opened on first use
//! (and retried while they are down), so start-up never waits for the lake.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::FieldRef;
use async_trait::async_trait;
use iceberg::spec::{DataFile, PrimitiveType, TableMetadata, Type};
use iceberg::table::Table;
use iceberg::transaction::{AddColumn, ApplyTransactionAction, Transaction};
use iceberg::{NamespaceIdent, TableIdent};
use icegate_batcher::TableKey;
use icegate_committer::{
    CatalogConfig, Lake, LakeConfig, WAL_FIRST_SEQ_PROPERTY, WAL_LAST_SEQ_PROPERTY,
    WRITER_ID_PROPERTY, committed_seq_of, open_lake,
};
use icegate_evolve::table::{iceberg_type, promotions_of};
use icegate_evolve::{PromotedColumn, Promotions, RESCUED_COLUMN, rescued_doc};
use icegate_writer::{ParquetConfig, write_data_files};
use tokio::sync::OnceCell;

use crate::error::{Error, ErrorClass, Result, error_chain};
use crate::lake::{
    Commit, CommitOutcome, LakeSink, Watermark, check_commit, columns_to_add, watermark_property,
};
use crate::signal::Signal;
use crate::table_columns::{ColumnPlan, apply, plan_columns};

/// Tables in the configured Iceberg catalog.
pub struct IcebergLake {
    config: LakeConfig,
    data_dir: PathBuf,
    parquet: ParquetConfig,
    lake: OnceCell<Lake>,
    /// Loaded tables, dropped after every commit (the catalog moved on) and on errors.
    tables: Mutex<HashMap<TableKey, Table>>,
    /// Dropped or renamed columns already logged (once per table and column per process).
    warned_columns: Mutex<HashSet<(TableKey, String)>>,
}

impl IcebergLake {
    /// The SQL catalog (iceberg-catalog-sql 0.10) ignores the result of the transaction's
    /// COMMIT: a connection lost at that moment reports success for a commit the database
    /// rolled back. After a reported success, a SQL catalog is read again; a watermark that
    /// is not this commit's is a retryable failure (the next attempt applies it or finds
    /// it), never a silent loss. A REST catalog's answer is the commit's own result.
    async fn verify_landed(&self, key: &TableKey, commit: &Commit) -> Result<()> {
        if matches!(self.config.catalog, CatalogConfig::Rest { .. }) {
            return Ok(());
        }
        let table = self.load(key).await?;
        let now = watermark_of(table.metadata(), &commit.writer_id);
        if now.as_ref() == Some(&commit.next) {
            return Ok(());
        }
        self.forget(key);
        Err(Error::Lake {
            table: key.to_string(),
            operation: "verify commit",
            class: ErrorClass::Retryable,
            message: format!(
                "the catalog reported the commit done, but the table's watermark is {now:?}, \
                 not {:?}: its transaction did not land",
                commit.next
            ),
        })
    }

    pub fn new(config: LakeConfig, data_dir: PathBuf, parquet: ParquetConfig) -> Self {
        Self {
            config,
            data_dir,
            parquet,
            lake: OnceCell::new(),
            tables: Mutex::new(HashMap::new()),
            warned_columns: Mutex::new(HashSet::new()),
        }
    }

    /// The open catalog, opening it now if this is the first use (or earlier opens failed).
    pub async fn lake(&self) -> Result<&Lake> {
        self.lake
            .get_or_try_init(|| open_lake(&self.config, &self.data_dir))
            .await
            .map_err(|err| committer_error(&self.config.catalog_name, "open the catalog", &err))
    }

    fn cached(&self, key: &TableKey) -> Option<Table> {
        self.tables.lock().expect("not poisoned").get(key).cloned()
    }

    fn forget(&self, key: &TableKey) {
        self.tables.lock().expect("not poisoned").remove(key);
    }

    async fn load(&self, key: &TableKey) -> Result<Table> {
        if let Some(table) = self.cached(key) {
            return Ok(table);
        }
        let lake = self.lake().await?;
        let table = lake
            .catalog()
            .load_table(&ident(key))
            .await
            .map_err(|err| iceberg_error(key, "load table", err))?;
        self.tables
            .lock()
            .expect("not poisoned")
            .insert(key.clone(), table.clone());
        Ok(table)
    }

    fn warn_changed(&self, key: &TableKey, plan: &ColumnPlan) {
        let mut warned = self.warned_columns.lock().expect("not poisoned");
        for column in &plan.dropped {
            if warned.insert((key.clone(), column.clone())) {
                tracing::warn!(table = %key, column, "the table's schema no longer has this column (it was dropped): its values are not written");
            }
        }
        for (column, now) in &plan.renamed {
            if warned.insert((key.clone(), column.clone())) {
                tracing::info!(table = %key, column, renamed_to = %now, "the column was renamed: its values go to it under the new name");
            }
        }
    }

    /// Adds built-in columns the table never had (it predates them) as optional columns,
    /// retrying conflicts on fresh metadata; returns the table with them.
    async fn add_base_columns(&self, key: &TableKey, fields: &[FieldRef]) -> Result<Table> {
        let lake = self.lake().await?;
        let max_attempts = self.config.commit.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.forget(key);
            let table = self.load(key).await?;
            let current = table.metadata().current_schema();
            let missing: Vec<&FieldRef> = fields
                .iter()
                .filter(|field| current.field_by_name(field.name()).is_none())
                .collect();
            if missing.is_empty() {
                return Ok(table);
            }
            if attempt > max_attempts {
                return Err(Error::Lake {
                    table: key.to_string(),
                    operation: "add built-in columns",
                    class: ErrorClass::Retryable,
                    message: "the schema update did not land".into(),
                });
            }
            let prepare = |err| iceberg_error(key, "prepare schema update", err);
            let base = without_internal_retries(&table).map_err(prepare)?;
            let transaction = Transaction::new(&base);
            let mut update = transaction.update_schema();
            for field in &missing {
                let field_type = iceberg::arrow::arrow_type_to_type(field.data_type())
                    .map_err(|err| iceberg_error(key, "add built-in columns", err))?;
                update = update.add_column(
                    AddColumn::builder()
                        .name(field.name().clone())
                        .field_type(field_type)
                        .build(),
                );
            }
            let transaction = update.apply(transaction).map_err(prepare)?;
            // A reported success is read back on the next pass (the SQL catalog may report a
            // rolled-back commit as done).
            match transaction.commit(lake.catalog().as_ref()).await {
                Ok(_) => {
                    tracing::info!(table = %key, columns = ?missing.iter().map(|f| f.name()).collect::<Vec<_>>(), "added built-in columns the table did not have");
                }
                Err(err)
                    if err.kind() == iceberg::ErrorKind::CatalogCommitConflicts
                        && attempt < max_attempts =>
                {
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
                Err(err) => return Err(iceberg_error(key, "add built-in columns", err)),
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let config = &self.config.commit;
        let base = config
            .initial_backoff_ms
            .saturating_mul(1u64 << attempt.min(20))
            .min(config.max_backoff_ms);
        // Jitter spreads writers that conflicted on the same snapshot apart.
        let jitter = u64::from(uuid::Uuid::new_v4().as_u128() as u32) % (base / 2 + 1);
        Duration::from_millis(base / 2 + jitter)
    }
}

/// The Iceberg identifier of a table key.
pub fn ident(key: &TableKey) -> TableIdent {
    TableIdent::new(
        NamespaceIdent::new(key.namespace.clone()),
        key.table.clone(),
    )
}

/// `writer_id`'s watermark in `metadata`: the table property, or for tables written before it
/// existed, the highest range in the snapshot summaries still there.
pub fn watermark_of(metadata: &TableMetadata, writer_id: &str) -> Option<Watermark> {
    if let Some(value) = metadata.properties().get(&watermark_property(writer_id)) {
        return Watermark::parse(value);
    }
    committed_seq_of(metadata, writer_id).map(|seq| Watermark {
        incarnation: Watermark::LEGACY.into(),
        run: Watermark::LEGACY.into(),
        seq,
    })
}

/// Failures that depend on the data (a partition value the storage cannot name), however the
/// storage layer classifies them: retrying the same batch can never succeed.
fn data_dependent(message: &str) -> bool {
    [
        "File name too long",
        "os error 36",
        "nul byte",
        "InvalidFilename",
        "Invalid argument (os error 22)",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

fn class_of(kind: iceberg::ErrorKind, message: &str) -> ErrorClass {
    if data_dependent(message) {
        return ErrorClass::Permanent;
    }
    match kind {
        iceberg::ErrorKind::DataInvalid | iceberg::ErrorKind::FeatureUnsupported => {
            ErrorClass::Permanent
        }
        _ => ErrorClass::Retryable,
    }
}

/// A committer error, classified as the committer does.
fn committer_error(
    target: impl ToString,
    operation: &'static str,
    err: &icegate_committer::Error,
) -> Error {
    let class = if err.is_retryable() {
        ErrorClass::Retryable
    } else {
        ErrorClass::Permanent
    };
    Error::lake(target, operation, class, err)
}

fn iceberg_error(key: &TableKey, operation: &'static str, err: iceberg::Error) -> Error {
    let message = error_chain(&err);
    Error::Lake {
        table: key.to_string(),
        operation,
        class: class_of(err.kind(), &message),
        message,
    }
}

/// `table` as a transaction base with iceberg-rust's own commit retry switched off: it would
/// re-apply the append on fresh metadata without our exactly-once check. The transaction
/// reloads the table before committing, so this in-memory property is never written.
fn without_internal_retries(table: &Table) -> iceberg::Result<Table> {
    let mut properties = table.metadata().properties().clone();
    properties.insert("commit.retry.num-retries".into(), "0".into());
    let metadata = table
        .metadata()
        .clone()
        .into_builder(None)
        .set_properties(properties)?
        .build()?
        .metadata;
    let mut builder = Table::builder()
        .metadata(metadata)
        .identifier(table.identifier().clone())
        .file_io(table.file_io().clone())
        .runtime(iceberg::Runtime::try_current()?);
    if let Some(location) = table.metadata_location() {
        builder = builder.metadata_location(location);
    }
    builder.build()
}

#[async_trait]
impl LakeSink for IcebergLake {
    type Staged = Vec<DataFile>;

    async fn ensure_table(&self, key: &TableKey, signal: Signal) -> Result<()> {
        if self.cached(key).is_some() {
            return Ok(());
        }
        let lake = self.lake().await?;
        let table = lake
            .table_at(&ident(key), &signal.schema(), &signal.layout())
            .await
            .map_err(|err| committer_error(key, "create or load table", &err))?;
        self.tables
            .lock()
            .expect("not poisoned")
            .insert(key.clone(), table);
        Ok(())
    }

    async fn write_files(&self, key: &TableKey, batch: &RecordBatch) -> Result<Vec<DataFile>> {
        let mut table = self.load(key).await?;
        let plan = plan_columns(batch, table.metadata());
        if !plan.new.is_empty() {
            table = self.add_base_columns(key, &plan.new).await?;
        }
        let conformed;
        let mut batch = batch;
        if !plan.renamed.is_empty() || !plan.dropped.is_empty() {
            self.warn_changed(key, &plan);
            conformed = apply(batch, &plan);
            batch = &conformed;
        }
        write_data_files(&table, batch, &self.parquet)
            .await
            .map_err(|err| {
                let message = error_chain(&err);
                let class = if err.is_retryable() && !data_dependent(&message) {
                    ErrorClass::Retryable
                } else {
                    ErrorClass::Permanent
                };
                self.forget(key);
                Error::Lake {
                    table: key.to_string(),
                    operation: "write data files",
                    class,
                    message,
                }
            })
    }

    async fn commit(
        &self,
        key: &TableKey,
        commit: &Commit,
        files: &Vec<DataFile>,
    ) -> Result<CommitOutcome> {
        let lake = self.lake().await?;
        let ident = ident(key);
        let max_attempts = self.config.commit.max_attempts.max(1);
        let summary = HashMap::from([
            (WRITER_ID_PROPERTY.to_string(), commit.writer_id.clone()),
            (
                WAL_FIRST_SEQ_PROPERTY.to_string(),
                commit.first_seq.to_string(),
            ),
            (
                WAL_LAST_SEQ_PROPERTY.to_string(),
                commit.next.seq.to_string(),
            ),
        ]);
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Fresh metadata every attempt: it tells whether an earlier attempt landed, and it
            // is what this attempt commits on top of.
            self.forget(key);
            let table = self.load(key).await?;
            let current = watermark_of(table.metadata(), &commit.writer_id);
            if let Some(outcome) = check_commit(key, current, commit)? {
                return Ok(outcome);
            }
            let prepare = |err| iceberg_error(key, "prepare commit", err);
            let base = without_internal_retries(&table).map_err(prepare)?;
            let transaction = Transaction::new(&base);
            let transaction = transaction
                .fast_append()
                // File names are fresh UUIDv7s; the check would read every manifest.
                .with_check_duplicate(false)
                .add_data_files(files.iter().cloned())
                .set_snapshot_properties(summary.clone())
                .apply(transaction)
                .map_err(prepare)?;
            let transaction = transaction
                .update_table_properties()
                .set(watermark_property(&commit.writer_id), commit.next.encode())
                .apply(transaction)
                .map_err(prepare)?;
            match transaction.commit(lake.catalog().as_ref()).await {
                Ok(_) => {
                    self.forget(key);
                    self.verify_landed(key, commit).await?;
                    tracing::debug!(table = %ident, attempt, files = files.len(), "committed");
                    return Ok(CommitOutcome::Committed { attempts: attempt });
                }
                Err(err)
                    if err.kind() == iceberg::ErrorKind::CatalogCommitConflicts
                        && attempt < max_attempts =>
                {
                    let wait = self.backoff(attempt);
                    tracing::debug!(table = %ident, attempt, ?wait, "commit conflict; retrying on fresh metadata");
                    tokio::time::sleep(wait).await;
                }
                // Anything else, including an answer that never came (the commit may have
                // landed): the lane retries later, and the next attempt's check tells.
                Err(err) => return Err(iceberg_error(key, "commit", err)),
            }
        }
    }

    async fn discard(&self, key: &TableKey, files: Vec<DataFile>) -> Result<()> {
        let table = self.load(key).await?;
        for file in files {
            table
                .file_io()
                .delete(file.file_path())
                .await
                .map_err(|err| iceberg_error(key, "delete a staged file", err))?;
        }
        Ok(())
    }

    async fn watermark(&self, key: &TableKey, writer_id: &str) -> Result<Option<Watermark>> {
        self.forget(key);
        let table = self.load(key).await?;
        Ok(watermark_of(table.metadata(), writer_id))
    }

    async fn promotions(&self, key: &TableKey) -> Result<Promotions> {
        let table = self.load(key).await?;
        Ok(promotions_of(table.metadata().current_schema()))
    }

    async fn add_columns(
        &self,
        key: &TableKey,
        columns: &[PromotedColumn],
        max_columns: usize,
    ) -> Result<Promotions> {
        let lake = self.lake().await?;
        let max_attempts = self.config.commit.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Fresh metadata every attempt: another node may have promoted the same keys.
            self.forget(key);
            let table = self.load(key).await?;
            let current = promotions_of(table.metadata().current_schema());
            let (additions, rescued) = columns_to_add(&current, columns, max_columns);
            if additions.is_empty() && !rescued {
                return Ok(current);
            }
            if rescued && current.names.contains(RESCUED_COLUMN) {
                return Err(Error::Lake {
                    table: key.to_string(),
                    operation: "add columns",
                    class: ErrorClass::Permanent,
                    message: format!(
                        "the table has a column {RESCUED_COLUMN:?} that is not a string: \
                         promotion needs it for values that do not fit their column"
                    ),
                });
            }
            let prepare = |err| iceberg_error(key, "prepare schema update", err);
            let base = without_internal_retries(&table).map_err(prepare)?;
            let transaction = Transaction::new(&base);
            let mut update = transaction.update_schema();
            for column in &additions {
                update = update.add_column(
                    AddColumn::builder()
                        .name(column.name.clone())
                        .field_type(iceberg_type(column.column_type))
                        .doc(column.doc())
                        .build(),
                );
            }
            if rescued {
                update = update.add_column(
                    AddColumn::builder()
                        .name(RESCUED_COLUMN)
                        .field_type(Type::Primitive(PrimitiveType::String))
                        .doc(rescued_doc())
                        .build(),
                );
            }
            let transaction = update.apply(transaction).map_err(prepare)?;
            match transaction.commit(lake.catalog().as_ref()).await {
                Ok(_) => {
                    // Read back (the SQL catalog may report a rolled-back commit as done).
                    self.forget(key);
                    let table = self.load(key).await?;
                    let after = promotions_of(table.metadata().current_schema());
                    if additions.iter().all(|c| after.has(&c.source, &c.key)) {
                        tracing::info!(
                            table = %key,
                            columns = ?additions.iter().map(|c| format!("{}[{:?}] -> {} {}", c.source, c.key, c.name, c.column_type.iceberg_name())).collect::<Vec<_>>(),
                            "promoted attribute keys to columns"
                        );
                        return Ok(after);
                    }
                    tracing::debug!(table = %key, attempt, "schema update reported done but not in the table; retrying");
                }
                Err(err)
                    if err.kind() == iceberg::ErrorKind::CatalogCommitConflicts
                        && attempt < max_attempts =>
                {
                    let wait = self.backoff(attempt);
                    tracing::debug!(table = %key, attempt, ?wait, "schema update conflict; retrying on fresh metadata");
                    tokio::time::sleep(wait).await;
                }
                Err(err) => return Err(iceberg_error(key, "add columns", err)),
            }
            if attempt >= max_attempts {
                return Err(Error::Lake {
                    table: key.to_string(),
                    operation: "add columns",
                    class: ErrorClass::Retryable,
                    message: "the schema update did not land".into(),
                });
            }
        }
    }
}
