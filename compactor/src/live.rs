//! A table's current snapshot as the compactor sees it: every manifest with its entries.

use std::collections::HashSet;

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

/// Manifests already read, by path.
#[derive(Debug, Default)]
pub struct ManifestCache {
    entries: std::collections::HashMap<String, Vec<ManifestEntryRef>>,
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
        Self::load_with(table, &mut ManifestCache::default()).await
    }

    /// Like [`TableState::load`], reading only manifests `cache` does not hold yet (a
    /// manifest file never changes once written): a retried commit re-reads what appeared
    /// since its last attempt, not the whole table.
    pub async fn load_with(table: Table, cache: &mut ManifestCache) -> Result<Self> {
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
        let file_io = table.file_io().clone();
        let missing: Vec<ManifestFile> = files
            .iter()
            .filter(|file| !cache.entries.contains_key(&file.manifest_path))
            .cloned()
            .collect();
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
            .buffered(MANIFEST_READS)
            .try_collect()
            .await?;
        cache.entries.extend(loaded);
        let manifests = files
            .into_iter()
            .map(|file| LiveManifest {
                entries: cache.entries[&file.manifest_path].clone(),
                file,
            })
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
