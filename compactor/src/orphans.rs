//! Orphan-file collection: files under a table's location that no snapshot references.
//!
//! Orphans come from commits that failed or lost their race after writing (data files,
//! manifests, manifest lists, metadata files), from crashes between an expiry's commit and
//! its deletions, and from metadata files the metadata log no longer lists (iceberg-rust
//! trims the log at `write.metadata.previous-versions-max` but deletes nothing).
//!
//! **Invariant** (why a grace period makes this safe): a writer's files exist before the
//! commit that references them, so a file written less than `orphan-grace` ago may belong
//! to a commit in flight, and is kept. `orphan-grace` must exceed the longest time from a
//! file's write to its commit (bounded by `lake-timeout` per attempt and the commit retries)
//! plus the longest query (a reader planning against an older snapshot). Metadata files
//! (`*.metadata.json`) are never read again once their commit is decided, so they go after
//! [`METADATA_GRACE`].
//!
//! iceberg-rust's FileIO cannot list, so listing goes through OpenDAL directly (the library
//! FileIO itself runs on, configured from the same `[lake.storage]`); deletion goes through
//! the table's FileIO.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use futures::TryStreamExt;
use icegate_committer::StorageConfig;
use opendal::{Operator, services};

use crate::error::{Error, Result};
use crate::reach::Reach;
use crate::replace::TableHandle;

/// Age after which an unreferenced metadata file is deleted: far longer than one commit
/// attempt (a metadata file is written just before its compare-and-swap).
pub const METADATA_GRACE: Duration = Duration::from_secs(15 * 60);

/// What a collection found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Orphans {
    /// Files under the table's location.
    pub listed: usize,
    /// Unreferenced files old enough to delete (deleted unless dry run).
    pub deleted: usize,
    /// Unreferenced files still inside their grace period.
    pub young: usize,
}

/// Lists the store `[lake.storage]` describes: the file system, or S3-compatible buckets
/// with its endpoint and credentials (a REST catalog may place tables in a bucket of its own
/// warehouse, so the bucket is taken from each table's location).
pub struct Lister {
    storage: StorageConfig,
    operators: std::sync::Mutex<std::collections::HashMap<String, Operator>>,
}

impl Lister {
    pub fn new(storage: &StorageConfig) -> Result<Self> {
        Ok(Self {
            storage: storage.clone(),
            operators: Default::default(),
        })
    }

    fn operator(&self, location: &str) -> Result<Operator> {
        let error = |err: opendal::Error| Error::Storage {
            location: location.to_string(),
            operation: "open",
            message: err.to_string(),
        };
        let bucket = location
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default())
            .unwrap_or_default()
            .to_string();
        let mut operators = self.operators.lock().expect("not poisoned");
        if let Some(operator) = operators.get(&bucket) {
            return Ok(operator.clone());
        }
        let operator = match &self.storage {
            StorageConfig::Local { .. } => Operator::new(services::Fs::default().root("/"))
                .map_err(error)?
                .finish(),
            StorageConfig::S3 {
                endpoint,
                region,
                path_style_access,
                access_key_id,
                secret_access_key,
                ..
            } => {
                let mut builder = services::S3::default()
                    .root("/")
                    .bucket(&bucket)
                    .region(region)
                    .disable_ec2_metadata();
                if let Some(endpoint) = endpoint {
                    builder = builder.endpoint(endpoint);
                }
                if !path_style_access {
                    builder = builder.enable_virtual_host_style();
                }
                let key = access_key_id
                    .clone()
                    .or_else(|| std::env::var("AWS_ACCESS_KEY_ID").ok());
                let secret = secret_access_key
                    .clone()
                    .or_else(|| std::env::var("AWS_SECRET_ACCESS_KEY").ok());
                if let (Some(key), Some(secret)) = (key, secret) {
                    builder = builder.access_key_id(&key).secret_access_key(&secret);
                }
                Operator::new(builder).map_err(error)?.finish()
            }
        };
        operators.insert(bucket, operator.clone());
        Ok(operator)
    }

    /// Every file under `location`, by full location, with its modification time.
    async fn list(&self, location: &str) -> Result<Vec<(String, Option<SystemTime>)>> {
        let (prefix, path) = split_location(location);
        let error = |operation: &'static str| {
            let location = location.to_string();
            move |err: opendal::Error| Error::Storage {
                location,
                operation,
                message: err.to_string(),
            }
        };
        let dir = format!("{}/", path.trim_end_matches('/'));
        let operator = self.operator(location)?;
        let mut lister = operator
            .lister_with(&dir)
            .recursive(true)
            .await
            .map_err(error("list"))?;
        let mut files = Vec::new();
        while let Some(entry) = lister.try_next().await.map_err(error("list"))? {
            if !entry.metadata().is_file() {
                continue;
            }
            let mut modified = entry.metadata().last_modified().map(SystemTime::from);
            if modified.is_none() {
                modified = operator
                    .stat(entry.path())
                    .await
                    .ok()
                    .and_then(|meta| meta.last_modified().map(SystemTime::from));
            }
            files.push((format!("{prefix}{}", entry.path()), modified));
        }
        Ok(files)
    }
}

/// `s3://bucket/a/b` → (`s3://bucket/`, `a/b`); `file:///a/b` → (`file:///`, `a/b`).
fn split_location(location: &str) -> (String, &str) {
    match location.find("://") {
        Some(scheme_end) => {
            let rest = &location[scheme_end + 3..];
            let slash = rest.find('/').unwrap_or(rest.len());
            let prefix_len = scheme_end + 3 + slash + 1;
            let prefix = location[..prefix_len.min(location.len())].to_string();
            let prefix = if prefix.ends_with('/') {
                prefix
            } else {
                format!("{prefix}/")
            };
            (prefix, location.get(prefix_len..).unwrap_or(""))
        }
        None => ("/".to_string(), location.trim_start_matches('/')),
    }
}

/// One form for comparing locations: the scheme's aliases (`s3a`, `s3n`) and repeated
/// slashes do not make a referenced file look unreferenced.
fn normalize(location: &str) -> String {
    // Local files are written `file:///abs`, `file:/abs` (Hadoop) or `/abs`: one form.
    if let Some(rest) = location
        .strip_prefix("file:")
        .or_else(|| location.starts_with('/').then_some(location))
    {
        let mut path = rest.trim_start_matches('/').to_string();
        while path.contains("//") {
            path = path.replace("//", "/");
        }
        return format!("file:///{path}");
    }
    let (prefix, path) = split_location(location);
    let prefix = prefix
        .replacen("s3a://", "s3://", 1)
        .replacen("s3n://", "s3://", 1);
    let mut path = path.to_string();
    while path.contains("//") {
        path = path.replace("//", "/");
    }
    format!("{prefix}{path}")
}

/// Deletes files under the table's location that no snapshot, metadata-log entry or
/// statistics file references and that are older than `grace`.
pub async fn collect(
    handle: &TableHandle,
    lister: &Lister,
    grace: Duration,
    now: SystemTime,
    dry_run: bool,
) -> Result<Orphans> {
    let name = handle.ident.to_string();
    // Listing first, then the metadata: a file committed between the two is referenced by
    // the metadata read second.
    let listed = lister
        .list(handle.load().await?.metadata().location())
        .await?;
    let table = handle.load().await?;
    let metadata = table.metadata();
    let snapshots: Vec<_> = metadata.snapshots().cloned().collect();
    let mut referenced: HashSet<String> = Reach::new(&table, &handle.manifests)
        .files_of(&snapshots)
        .await?
        .iter()
        .map(|path| normalize(path))
        .collect();
    if let Some(location) = table.metadata_location() {
        referenced.insert(normalize(location));
    }
    for entry in metadata.metadata_log() {
        referenced.insert(normalize(&entry.metadata_file));
    }
    for statistics in metadata.statistics_iter() {
        referenced.insert(normalize(&statistics.statistics_path));
    }
    for statistics in metadata.partition_statistics_iter() {
        referenced.insert(normalize(&statistics.statistics_path));
    }
    let current_version = table.metadata_location().and_then(metadata_version);
    let mut report = Orphans {
        listed: listed.len(),
        ..Orphans::default()
    };
    for (path, modified) in listed {
        if referenced.contains(&normalize(&path)) {
            continue;
        }
        // A metadata file of a version not below the current one may be a writer's commit
        // still before its swap: it gets the full grace; older versions never become current.
        let grace = match metadata_version(&path) {
            Some(version) if current_version.is_some_and(|current| version < current) => {
                METADATA_GRACE.min(grace)
            }
            _ => grace,
        };
        // A file without a modification time is treated as new: never deleted by guess.
        let old = modified.is_some_and(|at| at + grace <= now);
        if !old {
            report.young += 1;
            continue;
        }
        report.deleted += 1;
        if dry_run {
            continue;
        }
        if let Err(err) = table.file_io().delete(&path).await {
            report.deleted -= 1;
            tracing::warn!(table = %name, path, error = %err, "could not delete an orphan file");
        }
    }
    if report.deleted > 0 {
        tracing::info!(table = %name, deleted = report.deleted, young = report.young, dry_run, "collected orphan files");
    }
    Ok(report)
}

/// The version of a metadata file (`…/metadata/00042-<uuid>.metadata.json` → 42).
fn metadata_version(path: &str) -> Option<u64> {
    let name = path.rsplit('/').next()?;
    let stem = name
        .strip_suffix(".metadata.json")
        .or_else(|| name.strip_suffix(".gz.metadata.json"))?;
    stem.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_split_into_store_and_path() {
        assert_eq!(
            split_location("s3://bucket/a/b.parquet"),
            ("s3://bucket/".to_string(), "a/b.parquet")
        );
        assert_eq!(
            split_location("file:///tmp/w/t"),
            ("file:///".to_string(), "tmp/w/t")
        );
        assert_eq!(normalize("s3a://bucket/a//b"), normalize("s3://bucket/a/b"));
        assert_eq!(normalize("file:/tmp/w/t"), "file:///tmp/w/t");
        assert_eq!(normalize("/tmp/w//t"), "file:///tmp/w/t");
        assert_eq!(normalize("file:///tmp/w/t"), "file:///tmp/w/t");
        assert_eq!(
            metadata_version("file:///w/t/metadata/00042-0b1c.metadata.json"),
            Some(42)
        );
        assert_eq!(metadata_version("file:///w/t/metadata/snap-1.avro"), None);
    }
}
