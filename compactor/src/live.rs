//! A table's current snapshot as the compactor sees it: every manifest with its entries.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};
use iceberg::spec::{
    DataContentType, ManifestContentType, ManifestEntryRef, ManifestFile, SnapshotRef,
};
use iceberg::table::Table;

use crate::error::{Error, Result};

/// How many manifests are read at once.
const MANIFEST_READS: usize = 8;

/// One manifest of the snapshot and everything it lists (live and deleted entries, with
/// sequence numbers inherited from the manifest list).
#[derive(Debug, Clone)]
pub struct LiveManifest {
    pub file: ManifestFile,
    pub entries: Vec<ManifestEntryRef>,
}

impl LiveManifest {
    /// Entries whose file is part of the snapshot (added or existing).
    pub fn live(&self) -> impl Iterator<Item = &ManifestEntryRef> {
        self.entries.iter().filter(|entry| entry.is_alive())
    }
}

/// Manifests already parsed, by path: a manifest never changes once written, so one cache
/// serves every step of a round (rewrite, merge, expiry, orphans) and every commit attempt.
/// Without it expiry alone re-parsed what the rewrite had just parsed (12.8 % of a round's
/// CPU on a table of 7,680 small files; results/2026-12-04-rust-2c/compactor-profile).
#[derive(Debug, Default, Clone)]
pub struct ManifestCache {
    entries: Arc<Mutex<HashMap<String, Vec<ManifestEntryRef>>>>,
}

impl ManifestCache {
    /// The entries of each of `files` (live and deleted), reading those not cached yet.
    pub async fn entries_of(
        &self,
        table: &Table,
        files: &[ManifestFile],
    ) -> Result<Vec<Vec<ManifestEntryRef>>> {
        let name = table.identifier().to_string();
        let mut missing: Vec<ManifestFile> = {
            let cached = self.entries.lock().expect("not poisoned");
            files
                .iter()
                .filter(|file| !cached.contains_key(&file.manifest_path))
                .cloned()
                .collect()
        };
        missing.sort_by(|a, b| a.manifest_path.cmp(&b.manifest_path));
        missing.dedup_by(|a, b| a.manifest_path == b.manifest_path);
        let file_io = table.file_io().clone();
        let loaded: Vec<(String, Vec<ManifestEntryRef>)> = futures::stream::iter(missing)
            .map(|file| {
                let file_io = file_io.clone();
                let name = name.clone();
                async move {
                    let manifest = file
                        .load_manifest(&file_io)
                        .await
                        .map_err(Error::iceberg(&name, "read a manifest"))?;
                    let (entries, _) = manifest.into_parts();
                    Ok::<_, Error>((file.manifest_path.clone(), entries))
                }
            })
            .buffer_unordered(MANIFEST_READS)
            .try_collect()
            .await?;
        let mut cached = self.entries.lock().expect("not poisoned");
        cached.extend(loaded);
        Ok(files
            .iter()
            .map(|file| cached[&file.manifest_path].clone())
            .collect())
    }
}

/// The current snapshot of `main` and its manifests.
#[derive(Debug, Clone)]
pub struct TableState {
    pub table: Table,
    pub snapshot: Option<SnapshotRef>,
    pub manifests: Vec<LiveManifest>,
}

impl TableState {
    /// Reads the manifests of `table`'s current snapshot.
    pub async fn load(table: Table) -> Result<Self> {
        Self::load_with(table, &ManifestCache::default()).await
    }

    /// Like [`TableState::load`], parsing only manifests `cache` does not hold yet: a retried
    /// commit or the round's next step re-reads what appeared since, not the whole table.
    pub async fn load_with(table: Table, cache: &ManifestCache) -> Result<Self> {
        let name = table.identifier().to_string();
        let Some(snapshot) = table.metadata().current_snapshot().cloned() else {
            return Ok(Self {
                table,
                snapshot: None,
                manifests: Vec::new(),
            });
        };
        let list = table
            .manifest_list_reader(&snapshot)
            .load()
            .await
            .map_err(Error::iceberg(&name, "read the manifest list"))?;
        let files: Vec<ManifestFile> = list.consume_entries().into_iter().collect();
        let entries = cache.entries_of(&table, &files).await?;
        let manifests = files
            .into_iter()
            .zip(entries)
            .map(|(file, entries)| LiveManifest { entries, file })
            .collect();
        Ok(Self {
            table,
            snapshot: Some(snapshot),
            manifests,
        })
    }

    /// Live data files (not delete files) of the snapshot.
    pub fn data_files(&self) -> impl Iterator<Item = &ManifestEntryRef> {
        self.data_files_with_spec().map(|(_, entry)| entry)
    }

    /// Live data files with the partition spec id of the manifest listing them.
    pub fn data_files_with_spec(&self) -> impl Iterator<Item = (i32, &ManifestEntryRef)> {
        self.manifests
            .iter()
            .filter(|manifest| manifest.file.content == ManifestContentType::Data)
            .flat_map(|manifest| {
                manifest
                    .live()
                    .map(move |entry| (manifest.file.partition_spec_id, entry))
            })
            .filter(|(_, entry)| entry.data_file().content_type() == DataContentType::Data)
    }

    /// Paths of the live data files.
    pub fn live_paths(&self) -> HashSet<&str> {
        self.data_files()
            .map(|entry| entry.data_file().file_path())
            .collect()
    }

    /// Whether any delete file (position or equality) is live: rewriting data files would
    /// need them applied, which this compactor does not do.
    pub fn has_deletes(&self) -> bool {
        self.manifests
            .iter()
            .filter(|manifest| manifest.file.content == ManifestContentType::Deletes)
            .any(|manifest| manifest.live().next().is_some())
    }
}
