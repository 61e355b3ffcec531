//! The commits iceberg-rust 0.10 cannot make: a snapshot that removes data files (`replace`
//! for a rewrite or a manifest merge, `delete` for retention), assembled from its public
//! pieces and swapped in through the catalog's own protocol ([`crate::swap`]).
//!
//! Every attempt starts from freshly loaded metadata and
//! - validates that every file it removes is still live (else another job won: abort) and
//!   that no delete file appeared (a rewrite would lose it);
//! - carries untouched manifests forward as they are, and rewrites only the manifests that
//!   list a removed file (survivors `existing`, removed files `deleted`, sequence numbers
//!   kept) — plus, once the snapshot has more than `max-manifests`, the small ones merged
//!   into manifests of about `manifest-target-size`;
//! - writes the added files' manifest and a manifest list, and a snapshot whose summary is
//!   computed from the new live set and carries every `icegate.*` key of its parent forward
//!   (table properties, where the writers' watermarks live, are kept as they are);
//! - requires the table's uuid and `main` still at the snapshot it built on, so a concurrent
//!   append is never overwritten: it conflicts, and the next attempt includes it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use iceberg::spec::{
    DataFile, FormatVersion, MAIN_BRANCH, ManifestContentType, ManifestFile, ManifestListWriter,
    ManifestWriterBuilder, Operation, Snapshot, SnapshotRef, SnapshotReference, SnapshotRetention,
    Summary,
};
use iceberg::table::Table;
use iceberg::{Catalog, TableIdent, TableRequirement, TableUpdate};

use crate::error::{Error, Result};
use crate::live::{LiveManifest, ManifestCache, TableState};
use crate::swap::{MetadataSwap, SwapOutcome};

/// Summary key marking what the compactor did (`rewrite`, `retention`, `merge-manifests`).
pub const COMPACTOR_PROPERTY: &str = "icegate.compactor";

/// One change to a table's live files.
#[derive(Debug, Clone)]
pub struct Change {
    /// What the snapshot records: `Replace` (same rows) or `Delete` (rows removed).
    pub operation: Operation,
    /// Why, for the summary's [`COMPACTOR_PROPERTY`].
    pub reason: &'static str,
    /// Paths of live data files the change removes.
    pub removed: HashSet<String>,
    /// Data files the change adds.
    pub added: Vec<DataFile>,
    /// The partition spec the added files were written for (`None` when nothing is added);
    /// the commit requires it to still be the table's default.
    pub partition_spec_id: Option<i32>,
    /// Removed files already gone are fine (retention: dropping twice is dropping once);
    /// otherwise they abort the change.
    pub allow_missing: bool,
}

/// Manifest merging policy.
#[derive(Debug, Clone, Copy)]
pub struct ManifestPolicy {
    pub max_manifests: usize,
    pub target_size: u64,
}

/// A landed change.
#[derive(Debug, Clone)]
pub struct Committed {
    pub snapshot_id: i64,
    pub attempts: u32,
    pub manifests: usize,
    pub removed_files: usize,
    pub added_files: usize,
}

/// Where a table lives and how to commit to it, with the manifests parsed so far (a handle
/// lives for one round: every step and commit attempt shares them).
#[derive(Clone)]
pub struct TableHandle {
    pub catalog: Arc<dyn Catalog>,
    pub ident: TableIdent,
    pub swap: Arc<dyn MetadataSwap>,
    pub manifests: ManifestCache,
}

impl TableHandle {
    pub async fn load(&self) -> Result<Table> {
        self.catalog
            .load_table(&self.ident)
            .await
            .map_err(Error::iceberg(&self.ident, "load table"))
    }

    /// The table's current snapshot with its manifests.
    pub async fn state(&self) -> Result<TableState> {
        TableState::load_with(self.load().await?, &self.manifests).await
    }
}

/// Commit attempts before a change gives up for this round.
const MAX_ATTEMPTS: u32 = 8;

/// Applies `change` (or nothing, if it turns out empty), retrying lost races on fresh
/// metadata; `on_conflict` hears about every lost race.
///
/// An attempt must be quick, or appends arriving every flush interval win every race: the
/// manifests it reads and the manifests it writes are kept across attempts (appends only
/// add manifests, so the rewritten ones stay valid until another job rewrites manifests),
/// and an attempt writes only its manifest list and the metadata.
pub async fn commit_change(
    handle: &TableHandle,
    change: &Change,
    policy: ManifestPolicy,
    on_conflict: &(dyn Fn() + Sync),
) -> Result<Option<Committed>> {
    let name = handle.ident.to_string();
    let mut staged: Option<StagedManifests> = None;
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        let state = handle.state().await?;
        let Some(parent) = state.snapshot.clone() else {
            break Ok(None);
        };
        let live = state.live_paths();
        let mut removed: HashSet<&str> = HashSet::new();
        let mut gone = None;
        for path in &change.removed {
            if live.contains(path.as_str()) {
                removed.insert(path.as_str());
            } else if !change.allow_missing {
                gone = Some(path.clone());
            }
        }
        if let Some(path) = gone {
            break Err(Error::InputGone { table: name, path });
        }
        if change.operation == Operation::Replace && state.has_deletes() {
            break Err(Error::Commit {
                table: name,
                message: "delete files appeared since the rewrite was planned".into(),
                retryable: true,
            });
        }
        if removed.is_empty() && change.added.is_empty() && change.reason != "merge-manifests" {
            break Ok(None);
        }
        let table = &state.table;
        if let Some(old) = staged.take() {
            if old.fits(&state, &removed) {
                staged = Some(old);
            } else {
                old.discard(table).await;
            }
        }
        let manifests = match staged.take() {
            Some(manifests) => manifests,
            None => match stage_manifests(&state, change, &removed, policy).await {
                Ok(manifests) => manifests,
                Err(err) => break Err(err),
            },
        };
        let attempt_result = commit_attempt(
            handle, &state, &parent, change, &removed, &manifests, attempt,
        )
        .await;
        match attempt_result {
            Ok(AttemptOutcome::Landed(snapshot_id)) => {
                break Ok(Some(Committed {
                    snapshot_id,
                    attempts: attempt,
                    manifests: manifests.files.len() + state.manifests.len()
                        - manifests.sources.len(),
                    removed_files: removed.len(),
                    added_files: change.added.len(),
                }));
            }
            // The attempt may still land (an answer that never came, on a catalog that
            // commits late): nothing it wrote is reused or deleted; the collector decides.
            Ok(AttemptOutcome::Doubtful) => {}
            Ok(AttemptOutcome::Lost) => staged = Some(manifests),
            // The swap failed before anything could land (catalog busy, connection refused):
            // like a lost race, try again on fresh metadata.
            Err(err) if err.is_retryable() && matches!(err, Error::Commit { .. }) => {
                tracing::debug!(table = %name, error = %err, "commit attempt failed; retrying");
                staged = Some(manifests);
            }
            Err(err) => {
                manifests.discard(table).await;
                break Err(err);
            }
        }
        on_conflict();
        if attempt >= MAX_ATTEMPTS {
            break Err(Error::ConflictsExhausted {
                table: name,
                attempts: attempt,
            });
        }
        let wait = Duration::from_millis(20 << attempt.min(6))
            + Duration::from_millis(u64::from(uuid::Uuid::new_v4().as_u128() as u16) % 50);
        tracing::debug!(table = %name, attempt, ?wait, "commit lost a race; retrying on fresh metadata");
        tokio::time::sleep(wait).await;
    };
    if let Some(manifests) = staged
        && let Ok(table) = handle.load().await
    {
        manifests.discard(&table).await;
    }
    result
}

enum AttemptOutcome {
    Landed(i64),
    Lost,
    Doubtful,
}

/// One attempt: a manifest list over the carried and the staged manifests, a snapshot, the
/// swap. A lost attempt deletes its manifest list.
async fn commit_attempt(
    handle: &TableHandle,
    state: &TableState,
    parent: &SnapshotRef,
    change: &Change,
    removed: &HashSet<&str>,
    staged: &StagedManifests,
    attempt: u32,
) -> Result<AttemptOutcome> {
    let table = &state.table;
    let name = table.identifier().to_string();
    let metadata = table.metadata();
    if metadata.snapshot_by_id(staged.snapshot_id).is_some() {
        // Our id, taken by someone else meanwhile (or our own doubtful attempt landed).
        return Err(Error::Commit {
            table: name,
            message: format!("snapshot id {} already exists", staged.snapshot_id),
            retryable: true,
        });
    }
    let sequence_number = metadata.next_sequence_number();
    let mut manifests: Vec<ManifestFile> = state
        .manifests
        .iter()
        .filter(|manifest| !staged.sources.contains(&manifest.file.manifest_path))
        .map(|manifest| manifest.file.clone())
        .collect();
    manifests.extend(staged.files.iter().cloned());
    let list_path = format!(
        "{}/metadata/snap-{}-{attempt}-{}.avro",
        metadata.location(),
        staged.snapshot_id,
        staged.commit
    );
    let list_output = table
        .file_io()
        .new_output(&list_path)
        .map_err(Error::iceberg(&name, "create the manifest list"))?
        .writer()
        .await
        .map_err(Error::iceberg(&name, "create the manifest list"))?;
    let mut list = ManifestListWriter::v2(
        list_output,
        staged.snapshot_id,
        Some(parent.snapshot_id()),
        sequence_number,
    );
    list.add_manifests(manifests.into_iter())
        .map_err(Error::iceberg(&name, "write the manifest list"))?;
    list.close()
        .await
        .map_err(Error::iceberg(&name, "write the manifest list"))?;
    tracing::debug!(table = %name, attempt, path = %list_path, "manifest list written");
    let timestamp_ms = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64)
        .max(metadata.last_updated_ms());
    let snapshot = Snapshot::builder()
        .with_snapshot_id(staged.snapshot_id)
        .with_parent_snapshot_id(Some(parent.snapshot_id()))
        .with_sequence_number(sequence_number)
        .with_timestamp_ms(timestamp_ms)
        .with_manifest_list(list_path.clone())
        .with_summary(summary(state, parent, change, removed))
        .with_schema_id(metadata.current_schema_id())
        .build();
    if let Some(spec_id) = change.partition_spec_id
        && spec_id != metadata.default_partition_spec_id()
    {
        // The added files' partition tuples belong to the spec they were written for.
        return Err(Error::InputGone {
            table: name,
            path: format!("partition spec {spec_id} (the table's default changed)"),
        });
    }
    let updates = vec![
        TableUpdate::AddSnapshot { snapshot },
        TableUpdate::SetSnapshotRef {
            ref_name: MAIN_BRANCH.to_string(),
            reference: SnapshotReference::new(staged.snapshot_id, main_retention(metadata)),
        },
    ];
    let mut requirements = vec![
        TableRequirement::UuidMatch {
            uuid: metadata.uuid(),
        },
        TableRequirement::RefSnapshotIdMatch {
            r#ref: MAIN_BRANCH.to_string(),
            snapshot_id: Some(parent.snapshot_id()),
        },
    ];
    if let Some(spec_id) = change.partition_spec_id {
        requirements.push(TableRequirement::DefaultSpecIdMatch {
            default_spec_id: spec_id,
        });
    }
    let outcome = match handle.swap.swap(table, updates, requirements).await {
        Ok(outcome) => outcome,
        Err(err) => {
            let _ = table.file_io().delete(&list_path).await;
            return Err(err);
        }
    };
    match outcome {
        SwapOutcome::Committed => Ok(AttemptOutcome::Landed(staged.snapshot_id)),
        SwapOutcome::Conflict => {
            let _ = table.file_io().delete(&list_path).await;
            Ok(AttemptOutcome::Lost)
        }
        SwapOutcome::Unknown(reason) => {
            tracing::warn!(table = %name, %reason, "commit outcome unknown; reading the table to tell");
            // A reload that fails tells nothing: the attempt stays doubtful, and nothing it
            // wrote is deleted (its manifests may be the table's now).
            match handle.load().await {
                Ok(now) if now.metadata().snapshot_by_id(staged.snapshot_id).is_some() => {
                    Ok(AttemptOutcome::Landed(staged.snapshot_id))
                }
                _ => Ok(AttemptOutcome::Doubtful),
            }
        }
    }
}

/// Manifests written for a change, reusable by its later attempts.
struct StagedManifests {
    snapshot_id: i64,
    commit: uuid::Uuid,
    /// Paths of the manifests these replace.
    sources: HashSet<String>,
    files: Vec<ManifestFile>,
    written: Vec<String>,
}

impl StagedManifests {
    /// Whether these manifests still replace exactly what they should in `state`: every
    /// source is still in the snapshot, and no other manifest lists a removed file.
    fn fits(&self, state: &TableState, removed: &HashSet<&str>) -> bool {
        let present: HashSet<&str> = state
            .manifests
            .iter()
            .map(|manifest| manifest.file.manifest_path.as_str())
            .collect();
        self.sources
            .iter()
            .all(|source| present.contains(source.as_str()))
            && state
                .manifests
                .iter()
                .filter(|manifest| !self.sources.contains(&manifest.file.manifest_path))
                .all(|manifest| {
                    !manifest
                        .live()
                        .any(|entry| removed.contains(entry.data_file().file_path()))
                })
    }

    /// Deletes what was written (best effort: leftovers are orphans the collector finds).
    async fn discard(&self, table: &Table) {
        for path in &self.written {
            let _ = table.file_io().delete(path).await;
        }
    }
}

/// Writes the manifests a change needs: the ones listing a removed file rewritten
/// (survivors `existing`, removed files `deleted`), small ones merged once the snapshot has
/// too many, and one for the added files.
async fn stage_manifests(
    state: &TableState,
    change: &Change,
    removed: &HashSet<&str>,
    policy: ManifestPolicy,
) -> Result<StagedManifests> {
    let table = &state.table;
    let name = table.identifier().to_string();
    let metadata = table.metadata();
    if metadata.format_version() != FormatVersion::V2 {
        return Err(Error::Commit {
            table: name,
            message: format!(
                "format {:?}: the compactor writes format 2 manifests only",
                metadata.format_version()
            ),
            retryable: false,
        });
    }
    let schema = metadata.current_schema().clone();
    let snapshot_id = unique_snapshot_id(table);
    let commit = uuid::Uuid::now_v7();
    let meta_dir = format!("{}/metadata", metadata.location());
    let mut written = Vec::new();
    let mut files = Vec::new();
    let mut counter = 0;
    let mut next_manifest_path = |written: &mut Vec<String>| {
        counter += 1;
        let path = format!("{meta_dir}/{commit}-m{counter}.avro");
        written.push(path.clone());
        path
    };
    let touches = |manifest: &LiveManifest| {
        manifest.file.content == ManifestContentType::Data
            && manifest
                .live()
                .any(|entry| removed.contains(entry.data_file().file_path()))
    };
    let new_manifest_count = usize::from(!change.added.is_empty());
    let merging = state.manifests.len() + new_manifest_count > policy.max_manifests;
    let rewrite: Vec<&LiveManifest> = state
        .manifests
        .iter()
        .filter(|manifest| {
            touches(manifest)
                || (merging
                    && manifest.file.content == ManifestContentType::Data
                    && (manifest.file.manifest_length as u64) < policy.target_size)
        })
        .collect();
    let sources: HashSet<String> = rewrite
        .iter()
        .map(|manifest| manifest.file.manifest_path.clone())
        .collect();

    // Rewritten manifests, grouped by spec and packed to the target size.
    let mut by_spec: HashMap<i32, Vec<&LiveManifest>> = HashMap::new();
    for manifest in rewrite {
        by_spec
            .entry(manifest.file.partition_spec_id)
            .or_default()
            .push(manifest);
    }
    let mut specs: Vec<_> = by_spec.into_iter().collect();
    specs.sort_by_key(|(spec_id, _)| *spec_id);
    for (spec_id, group) in specs {
        let spec = metadata
            .partition_spec_by_id(spec_id)
            .ok_or_else(|| Error::Commit {
                table: name.clone(),
                message: format!(
                    "a manifest names partition spec {spec_id}, which the table lacks"
                ),
                retryable: false,
            })?
            .as_ref()
            .clone();
        let mut packs: Vec<Vec<&LiveManifest>> = vec![Vec::new()];
        let mut bytes = 0u64;
        for manifest in group {
            let length = manifest.file.manifest_length as u64;
            if !packs.last().expect("one").is_empty() && bytes + length > policy.target_size {
                packs.push(Vec::new());
                bytes = 0;
            }
            bytes += length;
            packs.last_mut().expect("one").push(manifest);
        }
        for pack in packs {
            let path = next_manifest_path(&mut written);
            let output = table
                .file_io()
                .new_output(&path)
                .map_err(Error::iceberg(&name, "create a manifest"))?;
            let mut writer =
                ManifestWriterBuilder::new(output, Some(snapshot_id), schema.clone(), spec.clone())
                    .build_v2_data();
            let mut entries = 0;
            for manifest in pack {
                for entry in manifest.live() {
                    let file = entry.data_file().clone();
                    let data_sequence = entry
                        .sequence_number()
                        .unwrap_or(manifest.file.sequence_number);
                    let file_sequence = entry.file_sequence_number.or(Some(data_sequence));
                    let result = if removed.contains(file.file_path()) {
                        writer.add_delete_file(file, data_sequence, file_sequence)
                    } else {
                        let added_by = entry
                            .snapshot_id()
                            .unwrap_or(manifest.file.added_snapshot_id);
                        writer.add_existing_file(file, added_by, data_sequence, file_sequence)
                    };
                    result.map_err(Error::iceberg(&name, "write a manifest"))?;
                    entries += 1;
                }
            }
            if entries == 0 {
                written.pop();
                continue;
            }
            files.push(
                writer
                    .write_manifest_file()
                    .await
                    .map_err(Error::iceberg(&name, "write a manifest"))?,
            );
        }
    }

    if !change.added.is_empty() {
        let path = next_manifest_path(&mut written);
        let output = table
            .file_io()
            .new_output(&path)
            .map_err(Error::iceberg(&name, "create a manifest"))?;
        let mut writer = ManifestWriterBuilder::new(
            output,
            Some(snapshot_id),
            schema.clone(),
            metadata.default_partition_spec().as_ref().clone(),
        )
        .build_v2_data();
        for file in &change.added {
            writer
                .add_file(file.clone(), -1)
                .map_err(Error::iceberg(&name, "write a manifest"))?;
        }
        files.push(
            writer
                .write_manifest_file()
                .await
                .map_err(Error::iceberg(&name, "write a manifest"))?,
        );
    }
    Ok(StagedManifests {
        snapshot_id,
        commit,
        sources,
        files,
        written,
    })
}

/// The summary, with totals computed from the new live set (exact even when the parent's
/// totals are missing, e.g. after another engine's commit).
fn summary(
    state: &TableState,
    parent: &SnapshotRef,
    change: &Change,
    removed: &HashSet<&str>,
) -> Summary {
    let mut deleted_records = 0u64;
    let mut removed_bytes = 0u64;
    let mut total_records = 0u64;
    let mut total_bytes = 0u64;
    let mut total_files = 0u64;
    let mut partitions = HashSet::new();
    for entry in state.data_files() {
        let file = entry.data_file();
        if removed.contains(file.file_path()) {
            deleted_records += file.record_count();
            removed_bytes += file.file_size_in_bytes();
            partitions.insert(format!("{:?}", file.partition()));
        } else {
            total_records += file.record_count();
            total_bytes += file.file_size_in_bytes();
            total_files += 1;
        }
    }
    let added_records: u64 = change.added.iter().map(DataFile::record_count).sum();
    let added_bytes: u64 = change.added.iter().map(DataFile::file_size_in_bytes).sum();
    for file in &change.added {
        partitions.insert(format!("{:?}", file.partition()));
    }
    let mut properties: HashMap<String, String> = parent
        .summary()
        .additional_properties
        .iter()
        .filter(|(key, _)| key.starts_with("icegate.") && key.as_str() != COMPACTOR_PROPERTY)
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let counts = [
        ("added-data-files", change.added.len() as u64),
        ("deleted-data-files", removed.len() as u64),
        ("added-records", added_records),
        ("deleted-records", deleted_records),
        ("added-files-size", added_bytes),
        ("removed-files-size", removed_bytes),
        ("changed-partition-count", partitions.len() as u64),
        ("total-records", total_records + added_records),
        ("total-files-size", total_bytes + added_bytes),
        ("total-data-files", total_files + change.added.len() as u64),
        ("total-delete-files", 0),
        ("total-position-deletes", 0),
        ("total-equality-deletes", 0),
    ];
    for (key, value) in counts {
        properties.insert(key.to_string(), value.to_string());
    }
    properties.insert(COMPACTOR_PROPERTY.to_string(), change.reason.to_string());
    Summary {
        operation: change.operation.clone(),
        additional_properties: properties,
    }
}

/// The retention settings of `main` (kept when the branch moves), read from the metadata's
/// serialized refs because `TableMetadata` keeps them private.
fn main_retention(metadata: &iceberg::spec::TableMetadata) -> SnapshotRetention {
    serde_json::to_value(metadata)
        .ok()
        .and_then(|value| value.get("refs")?.get(MAIN_BRANCH).cloned())
        .and_then(|main| serde_json::from_value::<SnapshotReference>(main).ok())
        .map(|reference| reference.retention)
        .unwrap_or_else(|| SnapshotRetention::branch(None, None, None))
}

fn unique_snapshot_id(table: &Table) -> i64 {
    loop {
        let (high, low) = uuid::Uuid::new_v4().as_u64_pair();
        let id = ((high ^ low) >> 1) as i64;
        if id != 0 && table.metadata().snapshot_by_id(id).is_none() {
            return id;
        }
    }
}
