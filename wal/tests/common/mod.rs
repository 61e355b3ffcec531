//! Helpers shared by the WAL's integration tests.
#![allow(dead_code)]

use icegate_wal::{ByteSize, Record, SyncPolicy, Wal, WalConfig};

/// Tiny segments so every test crosses segment boundaries.
pub fn tiny_config(sync: SyncPolicy) -> WalConfig {
    WalConfig {
        sync,
        segment_size: ByteSize(512),
        max_record_size: ByteSize(4096),
        max_disk_size: ByteSize(1 << 20),
        ..WalConfig::default()
    }
}

/// A payload whose length and bytes follow from its sequence number, so a reader can tell
/// an intact record from a damaged or misplaced one.
pub fn payload_for(seq: u64) -> Vec<u8> {
    let len = (seq.wrapping_mul(2_654_435_761) % 200) as usize + 1;
    (0..len)
        .map(|i| (seq as usize).wrapping_mul(31).wrapping_add(i) as u8)
        .collect()
}

/// Everything from `from`, panicking on any error.
pub fn read_all(wal: &Wal, from: u64) -> Vec<Record> {
    wal.read_from(from)
        .expect("reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("intact records")
}

pub fn segment_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wal"))
        .collect();
    files.sort();
    files
}
