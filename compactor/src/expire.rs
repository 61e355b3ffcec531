//! Snapshot expiry, and deletion of the files only expired snapshots referenced.
//!
//! Kept whatever their age: the head of every branch and tag, the newest `min-snapshots`,
//! and for writers whose watermark predates the `icegate.watermark.*` table property, the
//! snapshot whose summary holds their highest WAL position (the watermark itself lives in
//! table properties, which expiry never touches). A file is deleted only if no kept
//! snapshot references it; a crash between the commit and the deletions leaves orphans for
//! the orphan collector.

use std::collections::{BTreeMap, HashSet};
use std::time::SystemTime;

use iceberg::spec::{MAIN_BRANCH, SnapshotRef};
use iceberg::{TableRequirement, TableUpdate};

use crate::config::CompactorConfig;
use crate::error::{Error, Result};
use crate::reach::Reach;
use crate::replace::TableHandle;
use crate::swap::SwapOutcome;

/// Snapshot summary keys of the exactly-once position before it moved to table properties.
const WRITER_ID: &str = "icegate.writer-id";
const WAL_LAST_SEQ: &str = "icegate.wal-last-seq";
/// Table property prefix of the per-writer watermark.
const WATERMARK_PREFIX: &str = "icegate.watermark.";

/// What an expiry did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Expired {
    pub snapshots: usize,
    pub deleted_files: usize,
}

/// The snapshots of `metadata` to expire at `now`.
pub fn expirable(
    metadata: &iceberg::spec::TableMetadata,
    config: &CompactorConfig,
    now: SystemTime,
) -> Vec<SnapshotRef> {
    let cutoff_ms = now
        .checked_sub(config.snapshot_max_age)
        .unwrap_or(SystemTime::UNIX_EPOCH)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    let mut keep = ref_heads(metadata);
    let mut by_time: Vec<&SnapshotRef> = metadata.snapshots().collect();
    by_time.sort_by_key(|snapshot| std::cmp::Reverse(snapshot.timestamp_ms()));
    keep.extend(
        by_time
            .iter()
            .take(config.min_snapshots)
            .map(|snapshot| snapshot.snapshot_id()),
    );
    // Legacy watermarks: writer id → (highest WAL position, its snapshot).
    let mut legacy: BTreeMap<&str, (u64, i64)> = BTreeMap::new();
    for snapshot in metadata.snapshots() {
        let properties = &snapshot.summary().additional_properties;
        let (Some(writer), Some(seq)) = (
            properties.get(WRITER_ID),
            properties
                .get(WAL_LAST_SEQ)
                .and_then(|seq| seq.parse::<u64>().ok()),
        ) else {
            continue;
        };
        if metadata
            .properties()
            .contains_key(&format!("{WATERMARK_PREFIX}{writer}"))
        {
            continue;
        }
        let best = legacy
            .entry(writer)
            .or_insert((seq, snapshot.snapshot_id()));
        if seq > best.0 {
            *best = (seq, snapshot.snapshot_id());
        }
    }
    keep.extend(legacy.values().map(|(_, id)| *id));
    metadata
        .snapshots()
        .filter(|snapshot| {
            !keep.contains(&snapshot.snapshot_id()) && snapshot.timestamp_ms() < cutoff_ms
        })
        .cloned()
        .collect()
}

/// The snapshots branches and tags point at. `TableMetadata` keeps its refs private, so they
/// are read from its serialized form (once per expiry); the current snapshot always counts.
fn ref_heads(metadata: &iceberg::spec::TableMetadata) -> HashSet<i64> {
    let mut heads: HashSet<i64> = metadata.current_snapshot_id().into_iter().collect();
    if let Ok(value) = serde_json::to_value(metadata)
        && let Some(refs) = value.get("refs").and_then(|refs| refs.as_object())
    {
        heads.extend(
            refs.values()
                .filter_map(|reference| reference.get("snapshot-id")?.as_i64()),
        );
    }
    heads
}

/// Expires what [`expirable`] names and deletes the files only those snapshots referenced.
/// `dry_run` reports without changing anything.
pub async fn expire(
    handle: &TableHandle,
    config: &CompactorConfig,
    now: SystemTime,
    dry_run: bool,
) -> Result<Expired> {
    let name = handle.ident.to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let table = handle.load().await?;
        let metadata = table.metadata();
        let expired = expirable(metadata, config, now);
        if expired.is_empty() {
            return Ok(Expired::default());
        }
        let expired_ids: HashSet<i64> = expired.iter().map(|s| s.snapshot_id()).collect();
        let kept: Vec<SnapshotRef> = metadata
            .snapshots()
            .filter(|snapshot| !expired_ids.contains(&snapshot.snapshot_id()))
            .cloned()
            .collect();
        let mut reach = Reach::new(&table, &handle.manifests);
        let kept_files = reach.files_of(&kept).await?;
        let expired_files = reach.files_of(&expired).await?;
        let mut doomed: Vec<String> = expired_files.difference(&kept_files).cloned().collect();
        doomed.sort();
        if dry_run {
            return Ok(Expired {
                snapshots: expired.len(),
                deleted_files: doomed.len(),
            });
        }
        let mut updates = vec![TableUpdate::RemoveSnapshots {
            snapshot_ids: expired_ids.iter().copied().collect(),
        }];
        // Statistics of removed snapshots would dangle (iceberg-rust keeps them).
        for id in &expired_ids {
            if metadata.statistics_for_snapshot(*id).is_some() {
                updates.push(TableUpdate::RemoveStatistics { snapshot_id: *id });
            }
            if metadata.partition_statistics_for_snapshot(*id).is_some() {
                updates.push(TableUpdate::RemovePartitionStatistics { snapshot_id: *id });
            }
        }
        let requirements = vec![
            TableRequirement::UuidMatch {
                uuid: metadata.uuid(),
            },
            TableRequirement::RefSnapshotIdMatch {
                r#ref: MAIN_BRANCH.to_string(),
                snapshot_id: metadata.current_snapshot_id(),
            },
        ];
        let landed = match handle.swap.swap(&table, updates, requirements).await? {
            SwapOutcome::Committed => true,
            SwapOutcome::Conflict => false,
            SwapOutcome::Unknown(reason) => {
                tracing::warn!(table = %name, %reason, "expiry outcome unknown; reading the table to tell");
                let now = handle.load().await?;
                expired_ids
                    .iter()
                    .all(|id| now.metadata().snapshot_by_id(*id).is_none())
            }
        };
        if !landed {
            if attempt >= 8 {
                return Err(Error::ConflictsExhausted {
                    table: name,
                    attempts: attempt,
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(100 << attempt.min(5))).await;
            continue;
        }
        let mut deleted = 0;
        for path in &doomed {
            match table.file_io().delete(path).await {
                Ok(()) => deleted += 1,
                // Left for the orphan collector.
                Err(err) => {
                    tracing::warn!(table = %name, path, error = %err, "could not delete an expired file")
                }
            }
        }
        tracing::info!(table = %name, snapshots = expired.len(), files = deleted, "expired snapshots");
        return Ok(Expired {
            snapshots: expired.len(),
            deleted_files: deleted,
        });
    }
}
