//! Batches that can never be written are moved aside, whole and readable, instead of being
//! retried forever or dropped: `<data-dir>/quarantine/<namespace>/<table>/` holds one Arrow
//! IPC file per batch (`<first-seq>-<last-seq>.arrow`, readable with `pyarrow.ipc.open_file`)
//! and beside it a `.json` with the reason, the WAL range, the row count and the time. A raw
//! WAL record that no longer decodes is kept as `<seq>.record` the same way.

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
}

impl Quarantine {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
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
        let path = dir.join(format!("{first_seq}-{last_seq}.arrow"));
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
            &format!("{first_seq}-{last_seq}"),
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
            "rows": rows,
            "reason": reason,
            "quarantined-at-unix-seconds": quarantined_at,
        })
        .to_string();
        let io = |source| Error::Quarantine {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::File::create(&path).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| Error::Quarantine {
                path: dir.to_path_buf(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::path_segment;

    #[test]
    fn names_cannot_escape() {
        assert_eq!(path_segment("logs"), "logs");
        assert_eq!(path_segment("../x"), "%2E%2E%2Fx");
        assert_eq!(path_segment(""), "%");
        assert_eq!(path_segment("a\0b"), "a%00b");
    }
}
