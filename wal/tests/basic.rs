//! Appends, replay, rotation, reopen, truncation, budget and limits.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{payload_for, read_all, segment_files, tiny_config};
use icegate_wal::{ByteSize, Error, SyncPolicy, Wal, WalConfig};

#[tokio::test]
async fn appended_records_replay_in_order_across_rotations_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, report) = Wal::open(dir.path(), tiny_config(SyncPolicy::Always)).unwrap();
    assert_eq!((report.first_seq, report.next_seq), (0, 0));
    for seq in 0..100 {
        assert_eq!(wal.append_durable(&payload_for(seq)).await.unwrap(), seq);
    }
    assert!(segment_files(dir.path()).len() > 10, "tiny segments rotate");
    let records = read_all(&wal, 0);
    assert_eq!(records.len(), 100);
    for (seq, record) in records.iter().enumerate() {
        assert_eq!(record.seq, seq as u64);
        assert_eq!(&record.payload[..], &payload_for(seq as u64)[..]);
    }
    assert_eq!(read_all(&wal, 57)[0].seq, 57);
    assert!(read_all(&wal, 100).is_empty());
    wal.close().unwrap();
    drop(wal);

    let (wal, report) = Wal::open(dir.path(), tiny_config(SyncPolicy::Always)).unwrap();
    assert_eq!(
        (report.first_seq, report.next_seq, report.truncated_bytes),
        (0, 100, 0)
    );
    assert_eq!(wal.append_durable(b"after reopen").await.unwrap(), 100);
    let records = read_all(&wal, 95);
    assert_eq!(
        records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![95, 96, 97, 98, 99, 100]
    );
    assert_eq!(&records[5].payload[..], b"after reopen");
}

#[tokio::test]
async fn concurrent_appenders_share_fsyncs_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), tiny_config(SyncPolicy::Always)).unwrap();
    let wal = Arc::new(wal);
    let mut tasks = Vec::new();
    for task in 0..16u8 {
        let wal = wal.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..25u8 {
                seqs.push(wal.append_durable(&[task, i]).await.unwrap());
            }
            seqs
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    acked.sort_unstable();
    assert_eq!(acked, (0..400).collect::<Vec<_>>());
    let fsyncs = wal.stats().fsyncs;
    assert!(
        fsyncs > 0 && fsyncs < 400,
        "16 appenders share fsyncs: {fsyncs} for 400 records"
    );
    let records = read_all(&wal, 0);
    assert_eq!(records.len(), 400);
    let mut seen: Vec<_> = records
        .iter()
        .map(|r| (r.payload[0], r.payload[1]))
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 400, "every (task, i) pair exactly once");
}

#[tokio::test]
async fn truncate_deletes_only_whole_durable_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), tiny_config(SyncPolicy::Always)).unwrap();
    for seq in 0..60 {
        wal.append_durable(&payload_for(seq)).await.unwrap();
    }
    let before = wal.stats();
    let outcome = wal.truncate_before(30).unwrap();
    assert!(outcome.removed_segments > 0);
    let after = wal.stats();
    assert_eq!(after.disk_bytes, before.disk_bytes - outcome.removed_bytes);
    assert!(after.first_seq <= 30 && after.first_seq > 0, "{after:?}");
    match wal.read_from(0) {
        Err(Error::Truncated {
            requested: 0,
            first_available,
        }) => {
            assert_eq!(first_available, after.first_seq)
        }
        other => panic!("expected Truncated, got {:?}", other.map(|_| ())),
    }
    let kept = read_all(&wal, after.first_seq);
    assert_eq!(kept.first().unwrap().seq, after.first_seq);
    assert_eq!(kept.last().unwrap().seq, 59);

    // Truncating everything keeps the active segment, so the sequence continues.
    wal.truncate_before(u64::MAX).unwrap();
    assert_eq!(wal.stats().segments, 1);
    wal.close().unwrap();
    drop(wal);
    let (wal, report) = Wal::open(dir.path(), tiny_config(SyncPolicy::Always)).unwrap();
    assert_eq!(report.next_seq, 60);
    assert_eq!(wal.append_durable(b"x").await.unwrap(), 60);
}

#[tokio::test]
async fn full_budget_is_a_retryable_error_until_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let config = WalConfig {
        max_disk_size: ByteSize(8 << 10),
        ..tiny_config(SyncPolicy::Always)
    };
    let (wal, _) = Wal::open(dir.path(), config).unwrap();
    let mut appended = 0u64;
    let err = loop {
        match wal.append(&[7u8; 100]) {
            Ok(pending) => {
                pending.durable().await.unwrap();
                appended += 1;
            }
            Err(err) => break err,
        }
    };
    assert!(matches!(err, Error::Full { budget: 8192, .. }), "{err}");
    assert!(err.is_retryable());
    assert!(wal.stats().disk_bytes <= 8 << 10);
    wal.truncate_before(appended).unwrap();
    wal.append_durable(&[7u8; 100])
        .await
        .expect("space after truncation");
}

#[tokio::test]
async fn oversized_records_and_second_writers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), tiny_config(SyncPolicy::Always)).unwrap();
    let err = wal.append(&vec![0u8; 4097]).err().unwrap();
    assert!(
        matches!(
            err,
            Error::RecordTooLarge {
                len: 4097,
                max: 4096
            }
        ),
        "{err}"
    );
    assert!(!err.is_retryable());
    let err = Wal::open(dir.path(), tiny_config(SyncPolicy::Always))
        .err()
        .unwrap();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    wal.close().unwrap();
    assert!(matches!(wal.append(b"late"), Err(Error::Closed)));
}

#[tokio::test]
async fn interval_and_never_policies_acknowledge_and_persist_on_close() {
    for sync in [SyncPolicy::Interval, SyncPolicy::Never] {
        let dir = tempfile::tempdir().unwrap();
        let config = WalConfig {
            sync_interval: Duration::from_millis(5),
            ..tiny_config(sync)
        };
        let (wal, _) = Wal::open(dir.path(), config.clone()).unwrap();
        for seq in 0..50 {
            wal.append_durable(&payload_for(seq)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        wal.close().unwrap();
        drop(wal);
        let (wal, report) = Wal::open(dir.path(), config).unwrap();
        assert_eq!(report.next_seq, 50, "{sync:?}");
        assert_eq!(read_all(&wal, 0).len(), 50);
    }
}

#[tokio::test]
async fn io_uring_backend_writes_the_same_log() {
    if !icegate_wal::io_uring_available() {
        eprintln!("io_uring unavailable; the std fallback is covered elsewhere");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = WalConfig {
        io_backend: icegate_wal::IoBackend::IoUring,
        ..tiny_config(SyncPolicy::Always)
    };
    let (wal, _) = Wal::open(dir.path(), config.clone()).unwrap();
    for seq in 0..40 {
        wal.append_durable(&payload_for(seq)).await.unwrap();
    }
    wal.close().unwrap();
    drop(wal);
    let (wal, report) = Wal::open(
        dir.path(),
        WalConfig {
            io_backend: icegate_wal::IoBackend::Std,
            ..config
        },
    )
    .unwrap();
    assert_eq!(report.next_seq, 40);
    for record in read_all(&wal, 0) {
        assert_eq!(&record.payload[..], &payload_for(record.seq)[..]);
    }
}

#[tokio::test]
async fn several_records_are_appended_all_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let config = WalConfig {
        max_disk_size: ByteSize(8 << 10),
        ..tiny_config(SyncPolicy::Always)
    };
    let (wal, _) = Wal::open(dir.path(), config).unwrap();
    wal.append_durable(b"first").await.unwrap();
    // Seven records crossing several 512-byte segments: consecutive, in order, `then` for
    // each under the lock.
    let parts: Vec<Vec<u8>> = (1..8u8).map(|i| vec![i; 300]).collect();
    let mut seen = Vec::new();
    let last = wal
        .append_all_then(&parts, |i, seq| seen.push((i, seq)))
        .unwrap();
    assert_eq!(last.durable().await.unwrap(), 7);
    assert_eq!(seen, (0..7).map(|i| (i, i as u64 + 1)).collect::<Vec<_>>());
    let records = read_all(&wal, 1);
    assert_eq!(records.len(), 7);
    for (record, part) in records.iter().zip(&parts) {
        assert_eq!(&record.payload[..], &part[..]);
    }
    assert!(segment_files(dir.path()).len() > 2);
    // More than the budget has left (about 5 KiB): refused whole, nothing queued.
    let before = wal.stats();
    let too_many: Vec<Vec<u8>> = (0..40).map(|_| vec![1u8; 300]).collect();
    let Err(err) = wal.append_all_then(&too_many, |_, _| panic!("nothing is queued")) else {
        panic!("over the budget");
    };
    assert!(matches!(err, Error::Full { .. }), "{err}");
    assert_eq!(wal.stats().next_seq, before.next_seq);
    assert_eq!(wal.stats().disk_bytes, before.disk_bytes);
    // One oversized part refuses them all.
    let oversized = vec![vec![1u8; 10], vec![2u8; 5000]];
    let Err(err) = wal.append_all_then(&oversized, |_, _| panic!("nothing is queued")) else {
        panic!("over the record limit");
    };
    assert!(matches!(err, Error::RecordTooLarge { .. }), "{err}");
    assert_eq!(wal.append_durable(b"after").await.unwrap(), before.next_seq);
}
