//! Damage on disk: torn tails are cut back to the last valid record, anything else is a
//! precise error. Every offset of the last record is tried.

mod common;

use std::path::Path;

use common::{payload_for, read_all, segment_files};
use icegate_wal::{ByteSize, Error, SEGMENT_HEADER_LEN, SyncPolicy, Wal, WalConfig};

/// One big segment, so the damaged record is in the last segment.
fn one_segment_config() -> WalConfig {
    WalConfig {
        segment_size: ByteSize(1 << 20),
        max_record_size: ByteSize(4096),
        max_disk_size: ByteSize(8 << 20),
        ..WalConfig::default()
    }
}

/// Writes records 0..count and returns the byte offset where each record's frame starts.
async fn write_log(dir: &Path, count: u64, config: WalConfig) -> Vec<u64> {
    let (wal, _) = Wal::open(dir, config).unwrap();
    let mut offsets = Vec::new();
    let mut offset = SEGMENT_HEADER_LEN as u64;
    for seq in 0..count {
        offsets.push(offset);
        offset += 16 + payload_for(seq).len() as u64;
        wal.append_durable(&payload_for(seq)).await.unwrap();
    }
    wal.close().unwrap();
    offsets
}

fn assert_intact_prefix(dir: &Path, config: WalConfig, expected: u64) {
    let (wal, report) = Wal::open(dir, config).unwrap();
    assert_eq!(report.next_seq, expected);
    let records = read_all(&wal, 0);
    assert_eq!(records.len() as u64, expected);
    for record in &records {
        assert_eq!(&record.payload[..], &payload_for(record.seq)[..]);
    }
}

#[tokio::test]
async fn cutting_the_last_record_at_every_offset_recovers_the_records_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let offsets = write_log(dir.path(), 6, one_segment_config()).await;
    let path = segment_files(dir.path()).pop().unwrap();
    let original = std::fs::read(&path).unwrap();
    let last_start = *offsets.last().unwrap() as usize;
    for cut in last_start..original.len() {
        std::fs::write(&path, &original[..cut]).unwrap();
        assert_intact_prefix(dir.path(), one_segment_config(), 5);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            last_start as u64,
            "tail truncated"
        );
    }
}

#[tokio::test]
async fn flipping_any_byte_of_the_last_record_recovers_the_records_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let offsets = write_log(dir.path(), 6, one_segment_config()).await;
    let path = segment_files(dir.path()).pop().unwrap();
    let original = std::fs::read(&path).unwrap();
    for at in *offsets.last().unwrap() as usize..original.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut damaged = original.clone();
            damaged[at] ^= flip;
            std::fs::write(&path, &damaged).unwrap();
            assert_intact_prefix(dir.path(), one_segment_config(), 5);
        }
    }
}

#[tokio::test]
async fn damage_before_valid_records_is_a_hard_error_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let offsets = write_log(dir.path(), 6, one_segment_config()).await;
    let path = segment_files(dir.path()).pop().unwrap();
    let original = std::fs::read(&path).unwrap();
    // Every byte of record 2 (records 3..5 follow it intact).
    for at in offsets[2] as usize..offsets[3] as usize {
        let mut damaged = original.clone();
        damaged[at] ^= 0x5a;
        std::fs::write(&path, &damaged).unwrap();
        match Wal::open(dir.path(), one_segment_config()) {
            Err(Error::Corrupt {
                path: p,
                offset,
                reason,
            }) => {
                assert_eq!(p, path);
                assert_eq!(offset, offsets[2], "{reason}");
                assert!(reason.contains("not a torn tail"), "{reason}");
            }
            other => panic!("byte {at}: expected Corrupt, got {:?}", other.map(|_| ())),
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            damaged,
            "a corrupt log is not modified"
        );
    }
}

#[tokio::test]
async fn damage_in_an_older_segment_surfaces_when_replay_reaches_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(SyncPolicy::Always);
    write_log(dir.path(), 40, config.clone()).await;
    let files = segment_files(dir.path());
    assert!(files.len() >= 3);
    let victim = &files[1];
    let mut bytes = std::fs::read(victim).unwrap();
    let at = SEGMENT_HEADER_LEN + 20;
    bytes[at] ^= 0x10;
    std::fs::write(victim, &bytes).unwrap();

    let (wal, _) = Wal::open(dir.path(), config).unwrap();
    let results: Vec<_> = wal.read_from(0).unwrap().collect();
    let err = results.last().unwrap().as_ref().unwrap_err();
    match err {
        Error::Corrupt { path, offset, .. } => {
            assert_eq!(path, victim);
            assert_eq!(*offset, SEGMENT_HEADER_LEN as u64);
        }
        other => panic!("expected Corrupt, got {other}"),
    }
    let first_of_victim: u64 = victim
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        results.len() as u64,
        first_of_victim + 1,
        "records before the damage, then the error"
    );
}

#[tokio::test]
async fn a_missing_middle_segment_is_reported_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(SyncPolicy::Always);
    write_log(dir.path(), 40, config.clone()).await;
    let files = segment_files(dir.path());
    std::fs::remove_file(&files[2]).unwrap();
    let (wal, _) = Wal::open(dir.path(), config).unwrap();
    let err = wal
        .read_from(0)
        .unwrap()
        .find_map(Result::err)
        .expect("an error");
    assert!(
        matches!(&err, Error::Corrupt { path, .. } if path == &files[1]),
        "{err}"
    );
}

#[tokio::test]
async fn a_segment_whose_creation_was_interrupted_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(SyncPolicy::Always);
    write_log(dir.path(), 10, config.clone()).await;
    let torn = dir.path().join(format!("{:020}.wal", 10));
    std::fs::write(&torn, b"ICEGW").unwrap();
    let (wal, report) = Wal::open(dir.path(), config).unwrap();
    assert_eq!(report.removed_empty_segments, 1);
    assert_eq!(report.next_seq, 10);
    assert_eq!(read_all(&wal, 0).len(), 10);
}

#[tokio::test]
async fn a_damaged_header_is_a_hard_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(SyncPolicy::Always);
    write_log(dir.path(), 40, config.clone()).await;
    let files = segment_files(dir.path());
    for victim in [&files[0], files.last().unwrap()] {
        let original = std::fs::read(victim).unwrap();
        let mut bytes = original.clone();
        bytes[3] ^= 0xff;
        std::fs::write(victim, &bytes).unwrap();
        let err = Wal::open(dir.path(), config.clone())
            .err()
            .expect("refused");
        assert!(
            matches!(&err, Error::Corrupt { path, offset: 0, .. } if path == victim),
            "{err}"
        );
        std::fs::write(victim, &original).unwrap();
    }
}
