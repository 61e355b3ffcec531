//! `--explain` / `--stats`: how much of a table a query touched.
//!
//! Iceberg plans a scan in two steps, and each prunes: the manifest list and manifests drop
//! data files by partition values and per-file column bounds; the Parquet reader then skips
//! row groups and pages by their statistics. This module replays the plan with the query's
//! pruning predicate and reports both steps: data files and bytes in the snapshot vs. kept,
//! and rows in the kept files vs. rows left after row-group and page pruning (counted by
//! reading only the `timestamp` column).

use std::time::Duration;

use futures::TryStreamExt;
use iceberg::expr::Predicate;
use iceberg::table::Table;
use serde::Serialize;

use crate::error::{QueryError, Result};

/// What a scan touched.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScanStats {
    pub snapshot_id: Option<i64>,
    pub files_total: u64,
    pub bytes_total: u64,
    pub rows_total: u64,
    /// Kept after partition and manifest-statistics pruning.
    pub files_scanned: u64,
    pub bytes_scanned: u64,
    pub rows_in_scanned_files: u64,
    /// Left after Parquet row-group and page pruning.
    pub rows_scanned: u64,
    /// Rows the query returned (filled in by the caller).
    pub rows_matched: u64,
    pub elapsed_ms: f64,
}

impl ScanStats {
    pub fn files_pruned(&self) -> u64 {
        self.files_total - self.files_scanned
    }

    /// A few lines for a human.
    pub fn render(&self) -> String {
        let percent = |part: u64, whole: u64| {
            if whole == 0 {
                0.0
            } else {
                100.0 * part as f64 / whole as f64
            }
        };
        format!(
            "snapshot {}\n\
             files: {} in table, {} scanned, {} pruned by partition and manifest statistics ({:.1} %)\n\
             bytes: {} in table, {} scanned\n\
             rows:  {} in table, {} in scanned files, {} after row-group and page pruning, {} matched\n\
             time:  {:.1} ms",
            self.snapshot_id
                .map_or("(none: empty table)".into(), |s| s.to_string()),
            self.files_total,
            self.files_scanned,
            self.files_pruned(),
            percent(self.files_pruned(), self.files_total),
            self.bytes_total,
            self.bytes_scanned,
            self.rows_total,
            self.rows_in_scanned_files,
            self.rows_scanned,
            self.rows_matched,
            self.elapsed_ms,
        )
    }
}

/// Plans `table` at `snapshot` (current if `None`) with and without `predicate`.
pub async fn scan_stats(
    table: &Table,
    snapshot: Option<i64>,
    predicate: Option<Predicate>,
    elapsed: Duration,
) -> Result<ScanStats> {
    let snapshot = snapshot.or_else(|| table.metadata().current_snapshot_id());
    let mut stats = ScanStats {
        snapshot_id: snapshot,
        elapsed_ms: elapsed.as_secs_f64() * 1000.0,
        ..ScanStats::default()
    };
    let Some(snapshot) = snapshot else {
        return Ok(stats);
    };
    let name = table.identifier().to_string();
    let plan = |predicate: Option<Predicate>| {
        let mut scan = table.scan().snapshot_id(snapshot).select(["timestamp"]);
        if let Some(predicate) = predicate {
            scan = scan.with_filter(predicate);
        }
        scan.build()
    };
    let all = plan(None).map_err(QueryError::iceberg(format!("planning a scan of {name}")))?;
    (stats.files_total, stats.bytes_total, stats.rows_total) = planned_files(&all, &name).await?;
    let pruned =
        plan(predicate).map_err(QueryError::iceberg(format!("planning a scan of {name}")))?;
    (
        stats.files_scanned,
        stats.bytes_scanned,
        stats.rows_in_scanned_files,
    ) = planned_files(&pruned, &name).await?;
    let mut batches = pruned
        .to_arrow()
        .await
        .map_err(QueryError::iceberg(format!("reading {name}")))?;
    while let Some(batch) = batches
        .try_next()
        .await
        .map_err(QueryError::iceberg(format!("reading {name}")))?
    {
        stats.rows_scanned += batch.num_rows() as u64;
    }
    Ok(stats)
}

/// (data files, bytes, rows) a planned scan would read.
async fn planned_files(scan: &iceberg::scan::TableScan, name: &str) -> Result<(u64, u64, u64)> {
    let mut tasks = scan
        .plan_files()
        .await
        .map_err(QueryError::iceberg(format!("planning a scan of {name}")))?;
    let (mut files, mut bytes, mut rows) = (0, 0, 0);
    while let Some(task) = tasks
        .try_next()
        .await
        .map_err(QueryError::iceberg(format!("reading manifests of {name}")))?
    {
        files += 1;
        bytes += task.file_size_in_bytes;
        rows += task.record_count.unwrap_or(0);
    }
    Ok((files, bytes, rows))
}
