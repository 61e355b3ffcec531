//! Start-up: check the segments on disk, repair a torn tail, find where appends continue.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::{SEGMENT_HEADER_LEN, decode_header};
use crate::segment;

/// What [`crate::Wal::open`] found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Sequence number of the oldest record kept (equals `next_seq` when the log is empty).
    pub first_seq: u64,
    /// Sequence number the next append gets.
    pub next_seq: u64,
    /// Segment files found.
    pub segments: usize,
    /// Bytes cut from a torn tail (0 after a clean shutdown).
    pub truncated_bytes: u64,
    /// Segment files removed because a crash interrupted their creation.
    pub removed_empty_segments: usize,
}

/// One segment as the writer tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentMeta {
    pub first_seq: u64,
    pub len: u64,
}

/// The recovered log: segments in order (the last is where appends go) and the report.
pub(crate) struct Recovered {
    pub segments: Vec<SegmentMeta>,
    pub report: RecoveryReport,
}

/// Checks every segment header, scans the last segment and truncates a torn tail.
/// An empty directory yields no segments; the caller creates the first one.
pub(crate) fn recover(dir: &Path, max_record: u64) -> Result<Recovered> {
    let mut listed = segment::list(dir)?;
    let mut report = RecoveryReport {
        first_seq: 0,
        next_seq: 0,
        segments: listed.len(),
        truncated_bytes: 0,
        removed_empty_segments: 0,
    };

    // A last segment shorter than its header was being created when the process died: its
    // header is written and fsynced before any record, so it holds nothing. Remove it.
    // Its name still says where the sequence stood, which must never go backwards.
    let mut next_seq_floor = 0;
    if let Some((first_seq, path)) = listed.last() {
        next_seq_floor = *first_seq;
        let len = file_len(path)?;
        if len < SEGMENT_HEADER_LEN as u64 {
            tracing::warn!(path = %path.display(), len, "removing WAL segment whose creation was interrupted");
            std::fs::remove_file(path).map_err(|err| Error::io(path, err))?;
            sync_dir(dir)?;
            listed.pop();
            report.removed_empty_segments += 1;
        }
    }

    let mut segments = Vec::with_capacity(listed.len());
    for (index, (first_seq, path)) in listed.iter().enumerate() {
        let is_last = index + 1 == listed.len();
        let bytes = if is_last {
            std::fs::read(path).map_err(|err| Error::io(path, err))?
        } else {
            read_prefix(path, SEGMENT_HEADER_LEN)?
        };
        let header_seq = decode_header(&bytes).map_err(|reason| corrupt(path, 0, reason))?;
        if header_seq != *first_seq {
            return Err(corrupt(
                path,
                12,
                format!("header says first seq {header_seq}, file name says {first_seq}"),
            ));
        }
        let mut len = if is_last {
            bytes.len() as u64
        } else {
            file_len(path)?
        };
        if is_last {
            let scan = segment::scan(&bytes, *first_seq, max_record);
            if let Some((offset, damage)) = scan.damage {
                if let Some(valid_at) =
                    segment::valid_frame_after(&bytes, offset as usize, scan.next_seq, max_record)
                {
                    return Err(corrupt(
                        path,
                        offset,
                        format!(
                            "{damage}, but a valid frame follows at offset {valid_at}: damage inside the log, not a torn tail"
                        ),
                    ));
                }
                tracing::warn!(
                    path = %path.display(),
                    offset,
                    cut_bytes = len - scan.valid_len,
                    %damage,
                    "truncating torn WAL tail"
                );
                truncate(path, scan.valid_len)?;
                report.truncated_bytes = len - scan.valid_len;
                len = scan.valid_len;
            }
            report.next_seq = scan.next_seq;
        }
        segments.push(SegmentMeta {
            first_seq: *first_seq,
            len,
        });
    }
    report.next_seq = report.next_seq.max(next_seq_floor);
    report.first_seq = segments
        .first()
        .map_or(report.next_seq, |segment| segment.first_seq);
    Ok(Recovered { segments, report })
}

fn corrupt(path: &Path, offset: u64, reason: String) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    }
}

fn file_len(path: &Path) -> Result<u64> {
    std::fs::metadata(path)
        .map(|meta| meta.len())
        .map_err(|err| Error::io(path, err))
}

fn read_prefix(path: &Path, len: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|err| Error::io(path, err))?;
    let mut prefix = Vec::with_capacity(len);
    file.take(len as u64)
        .read_to_end(&mut prefix)
        .map_err(|err| Error::io(path, err))?;
    Ok(prefix)
}

fn truncate(path: &Path, len: u64) -> Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|err| Error::io(path, err))?;
    file.set_len(len).map_err(|err| Error::io(path, err))?;
    file.sync_all().map_err(|err| Error::io(path, err))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|file| file.sync_all())
        .map_err(|err| Error::io(dir, err))
}

pub(crate) fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(segment::file_name(first_seq))
}
