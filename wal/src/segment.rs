//! Segment files: names, listing, and scanning frames in a segment's bytes.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::{FRAME_HEADER_LEN, FrameDamage, SEGMENT_HEADER_LEN, decode_frame};

const SUFFIX: &str = ".wal";

/// File name of the segment whose first record is `first_seq`.
pub(crate) fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SUFFIX}")
}

/// The first sequence number a segment file name encodes, if it is one.
pub(crate) fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segments in `dir`, sorted by first sequence number. Other files are ignored.
pub(crate) fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|err| Error::io(dir, err))?;
    for entry in entries {
        let entry = entry.map_err(|err| Error::io(dir, err))?;
        if let Some(first_seq) = entry.file_name().to_str().and_then(parse_file_name) {
            segments.push((first_seq, entry.path()));
        }
    }
    segments.sort_unstable_by_key(|(first_seq, _)| *first_seq);
    Ok(segments)
}

/// Where scanning a segment's frames stopped.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Sequence number after the last valid frame.
    pub next_seq: u64,
    /// Byte offset after the last valid frame.
    pub valid_len: u64,
    /// The first damaged frame, if the bytes did not end cleanly after a valid frame.
    pub damage: Option<(u64, FrameDamage)>,
}

/// Walks the frames of a whole segment (`bytes` includes the header).
pub(crate) fn scan(bytes: &[u8], first_seq: u64, max_record: u64) -> Scan {
    let mut offset = SEGMENT_HEADER_LEN;
    let mut next_seq = first_seq;
    while offset < bytes.len() {
        match decode_frame(&bytes[offset..], next_seq, max_record) {
            Ok(frame) => {
                offset += frame.encoded_len();
                next_seq += 1;
            }
            Err(damage) => {
                return Scan {
                    next_seq,
                    valid_len: offset as u64,
                    damage: Some((offset as u64, damage)),
                };
            }
        }
    }
    Scan {
        next_seq,
        valid_len: offset as u64,
        damage: None,
    }
}

/// Offset of a valid frame anywhere after `damage_offset` whose sequence number could follow
/// the damaged one (`expected_seq` or later). Such a frame proves the damage is not a torn
/// tail. Cheap checks (sequence range, length bound) run before the CRC.
pub(crate) fn valid_frame_after(
    bytes: &[u8],
    damage_offset: usize,
    expected_seq: u64,
    max_record: u64,
) -> Option<usize> {
    let mut offset = damage_offset + 1;
    while offset + FRAME_HEADER_LEN <= bytes.len() {
        let rest = &bytes[offset..];
        let seq = u64::from_le_bytes(rest[8..16].try_into().expect("8 bytes"));
        // Every frame takes at least FRAME_HEADER_LEN bytes, bounding how far seq can have run.
        let max_seq_here =
            expected_seq.saturating_add((offset - damage_offset) as u64 / FRAME_HEADER_LEN as u64);
        if (expected_seq..=max_seq_here).contains(&seq)
            && decode_frame(rest, seq, max_record).is_ok()
        {
            return Some(offset);
        }
        offset += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort() {
        assert_eq!(file_name(1742), "00000000000000001742.wal");
        assert_eq!(parse_file_name(&file_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_file_name("1742.wal"), None);
        assert_eq!(parse_file_name("0000000000000000174x.wal"), None);
        assert_eq!(parse_file_name("LOCK"), None);
        assert!(file_name(9) < file_name(10));
    }
}
