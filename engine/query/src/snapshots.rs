//! Snapshots: what `ice-grep snapshots` lists and what `--as-of` resolves.

use iceberg::table::Table;

use crate::error::{QueryError, Result};
use crate::time::{now_micros, parse_time};

/// One snapshot, newest last.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotInfo {
    pub snapshot_id: i64,
    pub parent_id: Option<i64>,
    pub timestamp_ms: i64,
    pub operation: String,
    pub added_records: u64,
    pub total_records: u64,
    pub added_files: u64,
    pub total_files: u64,
}

/// Every snapshot of `table`, oldest first.
pub fn list(table: &Table) -> Vec<SnapshotInfo> {
    let mut snapshots: Vec<SnapshotInfo> = table
        .metadata()
        .snapshots()
        .map(|snapshot| {
            let summary = snapshot.summary();
            let get = |key: &str| {
                summary
                    .additional_properties
                    .get(key)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            SnapshotInfo {
                snapshot_id: snapshot.snapshot_id(),
                parent_id: snapshot.parent_snapshot_id(),
                timestamp_ms: snapshot.timestamp_ms(),
                operation: format!("{:?}", summary.operation).to_lowercase(),
                added_records: get("added-records"),
                total_records: get("total-records"),
                added_files: get("added-data-files"),
                total_files: get("total-data-files"),
            }
        })
        .collect();
    snapshots.sort_by_key(|s| (s.timestamp_ms, s.snapshot_id));
    snapshots
}

/// `--as-of`: a snapshot id of `table`, or a time (then the newest snapshot committed at or
/// before it).
pub fn resolve(table: &Table, as_of: &str) -> Result<i64> {
    let name = table.identifier().name().to_string();
    let snapshots = list(table);
    if let Ok(id) = as_of.trim().parse::<i64>() {
        return snapshots
            .iter()
            .find(|s| s.snapshot_id == id)
            .map(|s| s.snapshot_id)
            .ok_or(QueryError::NoSnapshot {
                table: name,
                what: format!("with id {id}"),
            });
    }
    let at_micros = parse_time(as_of, now_micros())?;
    snapshots
        .iter()
        .rev()
        .find(|s| s.timestamp_ms * 1000 <= at_micros)
        .map(|s| s.snapshot_id)
        .ok_or(QueryError::NoSnapshot {
            table: name,
            what: format!("at or before {as_of}"),
        })
}
