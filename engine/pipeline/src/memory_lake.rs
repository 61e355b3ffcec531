//! [`LakeSink`] in memory, for tests of code above the seam: the same exactly-once rule as
//! the Iceberg implementation (the conformance suite holds both to it), plus fault switches.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::RecordBatch;
use async_trait::async_trait;
use icegate_batcher::TableKey;
use icegate_evolve::{PromotedColumn, Promotions, RESCUED_COLUMN};

use crate::error::{Error, ErrorClass, Result};
use crate::lake::{
    Commit, CommitOutcome, LakeSink, Watermark, check_commit, columns_to_add, watermark_property,
};
use crate::signal::Signal;

/// Files staged in memory: an id and the rows.
#[derive(Debug)]
pub struct MemoryStaged {
    pub id: u64,
    pub batch: RecordBatch,
}

/// A table in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryTable {
    pub signal: Option<Signal>,
    /// Committed batches, in commit order.
    pub batches: Vec<RecordBatch>,
    pub properties: HashMap<String, String>,
    pub snapshots: u64,
    /// Promoted columns (field ids from `MEMORY_FIRST_FIELD_ID` on: not Iceberg's).
    pub promotions: Promotions,
    /// Schema updates that added columns.
    pub schema_updates: u64,
}

/// The first field id the memory lake gives a promoted column.
pub const MEMORY_FIRST_FIELD_ID: i32 = 10_000;

/// What the next calls should do instead of succeeding.
#[derive(Debug, Default)]
struct Faults {
    /// Every operation fails with a retryable error (an outage).
    down: bool,
    /// Every operation on these tables fails with a retryable error.
    down_tables: std::collections::HashSet<TableKey>,
    /// Writes of batches containing this text in any string column fail permanently.
    poison: Option<String>,
    /// The next N commits land but report a retryable error (the answer was lost).
    ambiguous_commits: u32,
    /// Every operation hangs, never answering (a black-holed lake).
    silent: bool,
    /// The next N commits land and then never answer.
    silent_commits: u32,
    /// The next N commits land and then report a permanent failure.
    failing_after_commit: u32,
    /// The next N writes of data files fail with a retryable error (a store that drops the
    /// upload after the catalog answered).
    failing_writes: u32,
}

/// An in-memory lake.
#[derive(Debug, Default)]
pub struct MemoryLake {
    tables: Mutex<HashMap<TableKey, MemoryTable>>,
    faults: Mutex<Faults>,
    next_file: AtomicU64,
    staged: Mutex<Vec<u64>>,
    /// Calls that failed because the lake was down.
    pub outage_failures: AtomicU64,
}

impl MemoryLake {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn table(&self, key: &TableKey) -> Option<MemoryTable> {
        self.tables.lock().expect("not poisoned").get(key).cloned()
    }

    /// Rows committed to `key`.
    pub fn rows(&self, key: &TableKey) -> usize {
        self.table(key)
            .map_or(0, |t| t.batches.iter().map(RecordBatch::num_rows).sum())
    }

    pub fn set_down(&self, down: bool) {
        self.faults.lock().expect("not poisoned").down = down;
    }

    /// Only `key`'s operations fail (retryably) while `down`.
    pub fn set_table_down(&self, key: &TableKey, down: bool) {
        let mut faults = self.faults.lock().expect("not poisoned");
        if down {
            faults.down_tables.insert(key.clone());
        } else {
            faults.down_tables.remove(key);
        }
    }

    /// Batches containing `needle` can never be written.
    pub fn set_poison(&self, needle: Option<&str>) {
        self.faults.lock().expect("not poisoned").poison = needle.map(String::from);
    }

    /// The next `n` commits land but report failure.
    pub fn lose_commit_answers(&self, n: u32) {
        self.faults.lock().expect("not poisoned").ambiguous_commits = n;
    }

    /// Every operation from now on hangs until `false` (connections that never answer).
    pub fn set_silent(&self, silent: bool) {
        self.faults.lock().expect("not poisoned").silent = silent;
    }

    /// The next `n` commits land and then never answer.
    pub fn swallow_commit_answers(&self, n: u32) {
        self.faults.lock().expect("not poisoned").silent_commits = n;
    }

    /// The next `n` commits land and then report a permanent failure.
    pub fn fail_after_commits(&self, n: u32) {
        self.faults
            .lock()
            .expect("not poisoned")
            .failing_after_commit = n;
    }

    /// The next `n` writes of data files fail retryably; the catalog keeps answering.
    pub fn fail_writes(&self, n: u32) {
        self.faults.lock().expect("not poisoned").failing_writes = n;
    }

    /// Files staged and neither committed nor discarded.
    pub fn orphaned_files(&self) -> usize {
        self.staged.lock().expect("not poisoned").len()
    }

    /// Sets a property as another engine or an operator would.
    pub fn set_property(&self, key: &TableKey, name: &str, value: &str) {
        self.tables
            .lock()
            .expect("not poisoned")
            .entry(key.clone())
            .or_default()
            .properties
            .insert(name.into(), value.into());
    }

    async fn check_up(&self, key: &TableKey, operation: &'static str) -> Result<()> {
        let silent = self.faults.lock().expect("not poisoned").silent;
        if silent {
            self.outage_failures.fetch_add(1, Ordering::Relaxed);
            std::future::pending::<()>().await;
        }
        let down = {
            let faults = self.faults.lock().expect("not poisoned");
            faults.down || faults.down_tables.contains(key)
        };
        if down {
            self.outage_failures.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Lake {
                table: key.to_string(),
                operation,
                class: ErrorClass::Retryable,
                message: "the lake is down".into(),
            });
        }
        Ok(())
    }

    /// The commit's effect on the table, or the outcome that ends it early.
    fn apply(
        &self,
        key: &TableKey,
        commit: &Commit,
        files: &MemoryStaged,
    ) -> Result<Option<CommitOutcome>> {
        let mut tables = self.tables.lock().expect("not poisoned");
        let table = tables.entry(key.clone()).or_default();
        let property = watermark_property(&commit.writer_id);
        let current = table
            .properties
            .get(&property)
            .and_then(|v| Watermark::parse(v));
        if let Some(outcome) = check_commit(key, current, commit)? {
            return Ok(Some(outcome));
        }
        table.batches.push(files.batch.clone());
        table.properties.insert(property, commit.next.encode());
        table.snapshots += 1;
        self.staged
            .lock()
            .expect("not poisoned")
            .retain(|id| *id != files.id);
        Ok(None)
    }
}

fn contains_text(batch: &RecordBatch, needle: &str) -> bool {
    use arrow::array::{Array, AsArray};
    batch.columns().iter().any(|column| {
        column
            .as_string_opt::<i32>()
            .is_some_and(|strings| strings.iter().flatten().any(|s| s.contains(needle)))
            || column.as_map_opt().is_some_and(|map| {
                map.values()
                    .as_string_opt::<i32>()
                    .is_some_and(|v| v.iter().flatten().any(|s| s.contains(needle)))
                    && map.len() > 0
            })
    })
}

#[async_trait]
impl LakeSink for MemoryLake {
    type Staged = MemoryStaged;

    async fn ensure_table(&self, key: &TableKey, signal: Signal) -> Result<()> {
        self.check_up(key, "create or load table").await?;
        self.tables
            .lock()
            .expect("not poisoned")
            .entry(key.clone())
            .or_insert_with(|| MemoryTable {
                promotions: Promotions {
                    names: signal
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().to_lowercase())
                        .collect(),
                    ..Promotions::default()
                },
                ..MemoryTable::default()
            })
            .signal = Some(signal);
        Ok(())
    }

    async fn write_files(&self, key: &TableKey, batch: &RecordBatch) -> Result<MemoryStaged> {
        self.check_up(key, "write data files").await?;
        let poison = {
            let mut faults = self.faults.lock().expect("not poisoned");
            if faults.failing_writes > 0 {
                faults.failing_writes -= 1;
                return Err(Error::Lake {
                    table: key.to_string(),
                    operation: "write data files",
                    class: ErrorClass::Retryable,
                    message: "the upload was reset".into(),
                });
            }
            faults.poison.clone()
        };
        if let Some(needle) = poison
            && contains_text(batch, &needle)
        {
            return Err(Error::Lake {
                table: key.to_string(),
                operation: "write data files",
                class: ErrorClass::Permanent,
                message: format!("File name too long (a value contains {needle:?})"),
            });
        }
        let id = self.next_file.fetch_add(1, Ordering::Relaxed);
        self.staged.lock().expect("not poisoned").push(id);
        Ok(MemoryStaged {
            id,
            batch: batch.clone(),
        })
    }

    async fn commit(
        &self,
        key: &TableKey,
        commit: &Commit,
        files: &MemoryStaged,
    ) -> Result<CommitOutcome> {
        self.check_up(key, "commit").await?;
        if let Some(outcome) = self.apply(key, commit, files)? {
            return Ok(outcome);
        }
        let swallowed = {
            let mut faults = self.faults.lock().expect("not poisoned");
            if faults.ambiguous_commits > 0 {
                faults.ambiguous_commits -= 1;
                return Err(Error::Lake {
                    table: key.to_string(),
                    operation: "commit",
                    class: ErrorClass::Retryable,
                    message: "connection reset before the answer".into(),
                });
            }
            if faults.failing_after_commit > 0 {
                faults.failing_after_commit -= 1;
                return Err(Error::Lake {
                    table: key.to_string(),
                    operation: "commit",
                    class: ErrorClass::Permanent,
                    message: "post-commit cleanup failed".into(),
                });
            }
            let swallowed = faults.silent_commits > 0;
            faults.silent_commits = faults.silent_commits.saturating_sub(1);
            swallowed
        };
        if swallowed {
            std::future::pending::<()>().await;
        }
        Ok(CommitOutcome::Committed { attempts: 1 })
    }

    async fn discard(&self, key: &TableKey, files: MemoryStaged) -> Result<()> {
        self.check_up(key, "delete a staged file").await?;
        self.staged
            .lock()
            .expect("not poisoned")
            .retain(|id| *id != files.id);
        Ok(())
    }

    async fn watermark(&self, key: &TableKey, writer_id: &str) -> Result<Option<Watermark>> {
        self.check_up(key, "load table").await?;
        Ok(self.table(key).and_then(|table| {
            table
                .properties
                .get(&watermark_property(writer_id))
                .and_then(|v| Watermark::parse(v))
        }))
    }

    async fn promotions(&self, key: &TableKey) -> Result<Promotions> {
        self.check_up(key, "load table").await?;
        Ok(self.table(key).map(|t| t.promotions).unwrap_or_default())
    }

    async fn add_columns(
        &self,
        key: &TableKey,
        columns: &[PromotedColumn],
        max_columns: usize,
    ) -> Result<Promotions> {
        self.check_up(key, "add columns").await?;
        let mut tables = self.tables.lock().expect("not poisoned");
        let table = tables.entry(key.clone()).or_default();
        let current = &mut table.promotions;
        let (additions, rescued) = columns_to_add(current, columns, max_columns);
        if additions.is_empty() && !rescued {
            return Ok(current.clone());
        }
        let mut next_id = MEMORY_FIRST_FIELD_ID
            + current.columns.len() as i32
            + i32::from(current.rescued_field_id.is_some());
        for column in additions {
            current.names.insert(column.name.clone());
            current.columns.push(PromotedColumn {
                field_id: Some(next_id),
                ..column
            });
            next_id += 1;
        }
        if rescued {
            current.names.insert(RESCUED_COLUMN.into());
            current.rescued_field_id = Some(next_id);
        }
        table.schema_updates += 1;
        Ok(table.promotions.clone())
    }
}
