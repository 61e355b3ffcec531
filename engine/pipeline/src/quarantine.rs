//! Batches that can never be written are moved aside, whole and readable, instead of being
//! retried forever or dropped: `<data-dir>/quarantine/<namespace>/<table>/` holds one Arrow
//! IPC file per batch (`<first-seq>-<last-seq>-<run>.arrow`, readable with
//! `pyarrow.ipc.open_file`) and beside it a `.json` with the reason, the WAL range, its WAL
//! incarnation and run, the row count and the time. A raw WAL record that no longer decodes
//! is kept as `<seq>.record` the same way. The WAL ranges are how a restart knows which of
//! the records it replays were already moved aside (the WAL may still hold them), so a batch
//! is never quarantined twice, nor committed after it was quarantined.

use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::ipc::writer::FileWriter;
use icegate_batcher::TableKey;

use crate::error::{Error, Result};

/// A path segment for any name: bytes other than `[A-Za-z0-9._-]` percent-encoded, so no
/// name can leave the directory or be empty.
pub fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    if out.is_empty() { "%".into() } else { out }
}

/// The quarantine under one directory.
#[derive(Debug, Clone)]
pub struct Quarantine {
    dir: PathBuf,
    /// The WAL incarnation and the process run whose records this instance keeps.
    incarnation: String,
    run: String,
}

impl Quarantine {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            incarnation: String::new(),
            run: String::new(),
        }
    }

    /// This quarantine for the records of `incarnation`'s WAL in process run `run`.
    pub(crate) fn for_wal(mut self, incarnation: &str, run: &str) -> Self {
        self.incarnation = incarnation.to_string();
        self.run = run.to_string();
        self
    }

    /// The WAL ranges of `key`'s batches already quarantined from this WAL incarnation, for
    /// a WAL whose next sequence number at start-up is `wal_start`. A range at or past
    /// `wal_start` names records the WAL lost (it regressed: a power loss under `sync =
    /// interval`, a restored backup), whose sequence numbers now belong to new records: it
    /// is cut back to what survived, durably, so no later run skips a new record for it.
    pub fn ranges(&self, key: &TableKey, wal_start: u64) -> Result<Vec<(u64, u64)>> {
        let dir = self
            .dir
            .join(path_segment(&key.namespace))
            .join(path_segment(&key.table));
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(Error::Quarantine { path: dir, source }),
        };
        let mut ranges = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|source| Error::Quarantine {
                    path: dir.clone(),
                    source,
                })?
                .path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(mut reason) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            if reason["wal-incarnation"].as_str() != Some(self.incarnation.as_str())
                || reason["rows"].as_u64().unwrap_or(0) == 0
                || reason["superseded"].as_bool() == Some(true)
            {
                continue;
            }
            let (Some(first), Some(last)) = (
                reason["wal-first-seq"].as_u64(),
                reason["wal-last-seq"].as_u64(),
            ) else {
                continue;
            };
            if last >= wal_start {
                if first >= wal_start {
                    reason["superseded"] = serde_json::json!(true);
                } else {
                    reason["wal-last-seq"] = serde_json::json!(wal_start - 1);
                }
                reason["note"] = serde_json::json!(format!(
                    "the WAL restarted at {wal_start}: records from there on were lost before \
                     this run, and their sequence numbers name new records"
                ));
                write_durably(&path, reason.to_string().as_bytes())?;
                if first >= wal_start {
                    continue;
                }
            }
            ranges.push((first, last.min(wal_start.saturating_sub(1))));
        }
        ranges.sort_unstable();
        Ok(ranges)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn table_dir(&self, key: &TableKey) -> Result<PathBuf> {
        let dir = self
            .dir
            .join(path_segment(&key.namespace))
            .join(path_segment(&key.table));
        std::fs::create_dir_all(&dir).map_err(|source| Error::Quarantine {
            path: dir.clone(),
            source,
        })?;
        Ok(dir)
    }

    /// Keeps `batch` (WAL records `first_seq..=last_seq` of `key`) with `reason`; returns the
    /// file. Durable (fsynced, directory too) before it returns.
    pub fn keep_batch(
        &self,
        key: &TableKey,
        batch: &RecordBatch,
        first_seq: u64,
        last_seq: u64,
        reason: &str,
    ) -> Result<PathBuf> {
        let dir = self.table_dir(key)?;
        let stem = format!("{first_seq}-{last_seq}-{}", self.run);
        let path = dir.join(format!("{stem}.arrow"));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Quarantine { path, source }
        };
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let mut writer = FileWriter::try_new(file, &batch.schema())
            .map_err(|err| Error::Internal(format!("quarantine {}: {err}", path.display())))?;
        writer
            .write(batch)
            .and_then(|()| writer.finish())
            .map_err(|err| Error::Internal(format!("quarantine {}: {err}", path.display())))?;
        let file = writer
            .into_inner()
            .map_err(|err| Error::Internal(format!("quarantine {}: {err}", path.display())))?;
        file.sync_all().map_err(io(&path))?;
        self.write_reason(
            &dir,
            &stem,
            key,
            first_seq,
            last_seq,
            batch.num_rows(),
            reason,
        )?;
        Ok(path)
    }

    /// Keeps a raw WAL record that does not decode.
    pub fn keep_record(
        &self,
        key: &TableKey,
        seq: u64,
        payload: &[u8],
        reason: &str,
    ) -> Result<PathBuf> {
        let dir = self.table_dir(key)?;
        let path = dir.join(format!("{seq}.record"));
        let mut file = std::fs::File::create(&path).map_err(|source| Error::Quarantine {
            path: path.clone(),
            source,
        })?;
        file.write_all(payload)
            .and_then(|()| file.sync_all())
            .map_err(|source| Error::Quarantine {
                path: path.clone(),
                source,
            })?;
        self.write_reason(&dir, &seq.to_string(), key, seq, seq, 0, reason)?;
        Ok(path)
    }

    #[allow(clippy::too_many_arguments)]
    fn write_reason(
        &self,
        dir: &Path,
        stem: &str,
        key: &TableKey,
        first_seq: u64,
        last_seq: u64,
        rows: usize,
        reason: &str,
    ) -> Result<()> {
        let path = dir.join(format!("{stem}.json"));
        let quarantined_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let text = serde_json::json!({
            "namespace": key.namespace,
            "table": key.table,
            "wal-first-seq": first_seq,
            "wal-last-seq": last_seq,
            "wal-incarnation": self.incarnation,
            "run": self.run,
            "rows": rows,
            "reason": reason,
            "quarantined-at-unix-seconds": quarantined_at,
        })
        .to_string();
        write_durably(&path, text.as_bytes())?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| Error::Quarantine {
                path: dir.to_path_buf(),
                source,
            })
    }
}

/// Replaces `path` with `bytes`, fsynced, whole or not at all (a temporary file renamed).
fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Quarantine {
        path: path.to_path_buf(),
        source,
    };
    let temporary = path.with_extension("json.partial");
    let mut file = std::fs::File::create(&temporary).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> RecordBatch {
        let column: arrow::array::ArrayRef =
            std::sync::Arc::new(arrow::array::Int32Array::from(vec![1, 2]));
        RecordBatch::try_from_iter([("n", column)]).unwrap()
    }

    #[test]
    fn ranges_are_per_incarnation_and_cut_back_after_a_wal_regression() {
        let dir = tempfile::tempdir().unwrap();
        let key = TableKey::new("ns", "logs");
        let run1 = Quarantine::new(dir.path()).for_wal("inc-1", "run-1");
        run1.keep_batch(&key, &batch(), 10, 20, "bad").unwrap();
        run1.keep_batch(&key, &batch(), 30, 40, "bad").unwrap();
        run1.keep_batch(&key, &batch(), 50, 60, "bad").unwrap();
        let other = Quarantine::new(dir.path()).for_wal("inc-2", "run-9");
        assert!(other.ranges(&key, 100).unwrap().is_empty());
        assert_eq!(
            run1.ranges(&key, 100).unwrap(),
            vec![(10, 20), (30, 40), (50, 60)]
        );
        // The WAL restarted at 35: 35.. now name new records.
        let run2 = Quarantine::new(dir.path()).for_wal("inc-1", "run-2");
        assert_eq!(run2.ranges(&key, 35).unwrap(), vec![(10, 20), (30, 34)]);
        // Durably: a later run with a longer WAL does not bring the lost ranges back.
        assert_eq!(run2.ranges(&key, 1000).unwrap(), vec![(10, 20), (30, 34)]);
    }

    #[test]
    fn names_cannot_escape() {
        assert_eq!(path_segment("logs"), "logs");
        assert_eq!(path_segment("../x"), "%2E%2E%2Fx");
        assert_eq!(path_segment(""), "%");
        assert_eq!(path_segment("a\0b"), "a%00b");
    }
}
