//! A simulated power loss (every write after the last fsync dropped, unsynced segment
//! creations undone) through the WAL's I/O seam: with `sync = always` no acknowledged record
//! is lost; with `sync = interval` what survives is an intact prefix of the log.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{payload_for, read_all, tiny_config};
use icegate_wal::fault::{PowerLossIo, PowerLossReport};
use icegate_wal::{SyncPolicy, Wal, WalConfig};

/// Appends from 4 tasks; cuts the power once `cut_after` appends were acknowledged. Returns
/// the acknowledged seqs and what the power loss took.
async fn run_until_power_loss(
    dir: &std::path::Path,
    config: WalConfig,
    cut_after: u64,
) -> (Vec<u64>, PowerLossReport) {
    let io = Arc::new(PowerLossIo::new());
    let (wal, _) = Wal::open_with_io(dir, config, io.clone()).unwrap();
    let wal = Arc::new(wal);
    let acked_count = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for task in 0..4u64 {
        let (wal, acked_count) = (wal.clone(), acked_count.clone());
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..2_000u64 {
                let Ok(pending) = wal.append(&payload_for(task * 10_000 + i)) else {
                    break;
                };
                let seq = pending.seq();
                if pending.durable().await.is_err() {
                    break;
                }
                acked.push(seq);
                acked_count.fetch_add(1, Ordering::SeqCst);
            }
            acked
        }));
    }
    let mut waited = 0;
    while acked_count.load(Ordering::SeqCst) < cut_after {
        tokio::time::sleep(Duration::from_millis(1)).await;
        waited += 1;
        assert!(waited < 20_000, "the appends never got to {cut_after}");
    }
    let report = io.power_loss().unwrap();
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    let _ = wal.close(); // fails: the power is off
    acked.sort_unstable();
    (acked, report)
}

fn config(sync: SyncPolicy) -> WalConfig {
    WalConfig {
        segment_size: icegate_wal::ByteSize(4096),
        sync_interval: Duration::from_millis(20),
        ..tiny_config(sync)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sync_always_a_power_loss_keeps_every_acknowledged_record() {
    for cut_after in [1, 10, 100, 700, 3_000] {
        let dir = tempfile::tempdir().unwrap();
        let (acked, report) =
            run_until_power_loss(dir.path(), config(SyncPolicy::Always), cut_after).await;
        assert!(acked.len() < 8_000, "the power loss stopped nothing");
        let (wal, recovery) = Wal::open(dir.path(), config(SyncPolicy::Always)).unwrap();
        let on_disk: Vec<u64> = read_all(&wal, 0).iter().map(|r| r.seq).collect();
        assert_eq!(
            on_disk,
            (0..recovery.next_seq).collect::<Vec<_>>(),
            "cut after {cut_after}: the survivors are not a gap-free prefix"
        );
        for seq in &acked {
            assert!(
                *seq < recovery.next_seq,
                "cut after {cut_after}: acknowledged seq {seq} lost ({report:?})"
            );
        }
        // The rebooted log works.
        let seq = wal.append_durable(b"after the power loss").await.unwrap();
        assert_eq!(seq, recovery.next_seq);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sync_interval_a_power_loss_keeps_an_intact_prefix() {
    let mut lost_acknowledged = 0;
    for cut_after in [10, 300, 3_000] {
        let dir = tempfile::tempdir().unwrap();
        let (acked, _) =
            run_until_power_loss(dir.path(), config(SyncPolicy::Interval), cut_after).await;
        let (wal, recovery) = Wal::open(dir.path(), config(SyncPolicy::Interval)).unwrap();
        let records = read_all(&wal, 0);
        // Whatever survived is whole and in order; nothing past a lost record survived.
        for (i, record) in records.iter().enumerate() {
            assert_eq!(record.seq, i as u64);
        }
        assert_eq!(records.len() as u64, recovery.next_seq);
        lost_acknowledged += acked.iter().filter(|s| **s >= recovery.next_seq).count();
    }
    // Acknowledged-before-fsync is what `interval` trades: a power loss can take some.
    assert!(
        lost_acknowledged > 0,
        "the simulation never dropped an acknowledged, unsynced record"
    );
}
