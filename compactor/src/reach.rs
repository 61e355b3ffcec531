//! Which files a set of snapshots references: manifest lists, manifests and live data and
//! delete files. Manifests are shared between snapshots, so each is read once.

use std::collections::{HashMap, HashSet};

use iceberg::spec::{ManifestFile, SnapshotRef};
use iceberg::table::Table;

use crate::error::{Error, Result};
use crate::live::ManifestCache;

/// Reads manifest lists on demand and remembers them; manifests come from the round's cache.
pub struct Reach<'a> {
    table: &'a Table,
    cache: &'a ManifestCache,
    lists: HashMap<String, Vec<ManifestFile>>,
}

impl<'a> Reach<'a> {
    pub fn new(table: &'a Table, cache: &'a ManifestCache) -> Self {
        Self {
            table,
            cache,
            lists: HashMap::new(),
        }
    }

    /// Every file `snapshots` reference, by full path.
    pub async fn files_of(&mut self, snapshots: &[SnapshotRef]) -> Result<HashSet<String>> {
        let name = self.table.identifier().to_string();
        let mut files = HashSet::new();
        let mut manifests: Vec<ManifestFile> = Vec::new();
        for snapshot in snapshots {
            files.insert(snapshot.manifest_list().to_string());
            if !self.lists.contains_key(snapshot.manifest_list()) {
                let list = self
                    .table
                    .manifest_list_reader(snapshot)
                    .load()
                    .await
                    .map_err(Error::iceberg(&name, "read a manifest list"))?;
                self.lists.insert(
                    snapshot.manifest_list().to_string(),
                    list.consume_entries().into_iter().collect(),
                );
            }
            manifests.extend(self.lists[snapshot.manifest_list()].iter().cloned());
        }
        manifests.sort_by(|a, b| a.manifest_path.cmp(&b.manifest_path));
        manifests.dedup_by(|a, b| a.manifest_path == b.manifest_path);
        let entries = self.cache.entries_of(self.table, &manifests).await?;
        for (manifest, entries) in manifests.iter().zip(entries) {
            files.insert(manifest.manifest_path.clone());
            files.extend(
                entries
                    .iter()
                    .filter(|entry| entry.is_alive())
                    .map(|entry| entry.data_file().file_path().to_string()),
            );
        }
        Ok(files)
    }
}
