//! Which files a set of snapshots references: manifest lists, manifests and live data and
//! delete files. Manifests are shared between snapshots, so each is read once.

use std::collections::{HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};
use iceberg::spec::{ManifestFile, SnapshotRef};
use iceberg::table::Table;

use crate::error::{Error, Result};

const READS: usize = 8;

/// Reads manifests and manifest lists on demand and remembers them.
pub struct Reach<'a> {
    table: &'a Table,
    lists: HashMap<String, Vec<ManifestFile>>,
    /// Live file paths of each manifest.
    manifests: HashMap<String, Vec<String>>,
}

impl<'a> Reach<'a> {
    pub fn new(table: &'a Table) -> Self {
        Self {
            table,
            lists: HashMap::new(),
            manifests: HashMap::new(),
        }
    }

    /// Every file `snapshots` reference, by full path.
    pub async fn files_of(&mut self, snapshots: &[SnapshotRef]) -> Result<HashSet<String>> {
        let name = self.table.identifier().to_string();
        let mut files = HashSet::new();
        let mut wanted: Vec<ManifestFile> = Vec::new();
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
            for manifest in &self.lists[snapshot.manifest_list()] {
                files.insert(manifest.manifest_path.clone());
                if !self.manifests.contains_key(&manifest.manifest_path) {
                    wanted.push(manifest.clone());
                }
            }
        }
        wanted.sort_by(|a, b| a.manifest_path.cmp(&b.manifest_path));
        wanted.dedup_by(|a, b| a.manifest_path == b.manifest_path);
        let file_io = self.table.file_io().clone();
        let loaded: Vec<(String, Vec<String>)> = futures::stream::iter(wanted)
            .map(|manifest| {
                let file_io = file_io.clone();
                let name = name.clone();
                async move {
                    let loaded = manifest
                        .load_manifest(&file_io)
                        .await
                        .map_err(Error::iceberg(&name, "read a manifest"))?;
                    let live = loaded
                        .entries()
                        .iter()
                        .filter(|entry| entry.is_alive())
                        .map(|entry| entry.data_file().file_path().to_string())
                        .collect();
                    Ok::<_, Error>((manifest.manifest_path.clone(), live))
                }
            })
            .buffer_unordered(READS)
            .try_collect()
            .await?;
        self.manifests.extend(loaded);
        for snapshot in snapshots {
            for manifest in &self.lists[snapshot.manifest_list()] {
                files.extend(self.manifests[&manifest.manifest_path].iter().cloned());
            }
        }
        Ok(files)
    }
}
