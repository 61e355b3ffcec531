//! Injected write, fsync and creation failures: they surface as errors and never cost an
//! acknowledged record.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::{payload_for, read_all, tiny_config};
use icegate_wal::fault::{FaultPlan, FaultyIo};
use icegate_wal::io::StdIo;
use icegate_wal::{Error, SyncPolicy, Wal};

#[derive(Debug, Clone, Copy)]
enum Fault {
    Sync,
    Append,
    TornAppend,
    Create,
}

/// Appends from 4 concurrent tasks until the armed fault fires; returns acknowledged seqs.
async fn run_until_failure(dir: &std::path::Path, fault: Fault, nth: u64) -> Vec<u64> {
    let plan = Arc::new(FaultPlan::default());
    let io = Arc::new(FaultyIo::new(Arc::new(StdIo), plan.clone()));
    let (wal, _) = Wal::open_with_io(dir, tiny_config(SyncPolicy::Always), io).unwrap();
    // Arm after open so the count starts with appends.
    let (appends, syncs, creates, _) = plan.calls();
    match fault {
        Fault::Sync => plan.fail_sync.store(syncs + nth, Ordering::SeqCst),
        Fault::Append => plan.fail_append.store(appends + nth, Ordering::SeqCst),
        Fault::TornAppend => {
            plan.torn_append.store(true, Ordering::SeqCst);
            plan.fail_append.store(appends + nth, Ordering::SeqCst);
        }
        Fault::Create => plan.fail_create.store(creates + nth, Ordering::SeqCst),
    }
    let wal = Arc::new(wal);
    let mut tasks = Vec::new();
    for task in 0..4u64 {
        let wal = wal.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for _ in 0..400 {
                // Sizes differ across tasks, so half a group rarely ends on a frame boundary.
                let pending = match wal.append(&payload_for(task * 1000 + acked.len() as u64)) {
                    Ok(pending) => pending,
                    Err(err) => {
                        assert!(matches!(err, Error::Failed { .. }), "{err}");
                        break;
                    }
                };
                let seq = pending.seq();
                match pending.durable().await {
                    Ok(_) => acked.push(seq),
                    Err(err) => {
                        assert!(matches!(err, Error::Failed { .. }), "{err}");
                        break;
                    }
                }
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    let err = wal.close().expect_err("the failure is reported on close");
    assert!(err.to_string().contains("injected failure"), "{err}");
    acked.sort_unstable();
    acked
}

/// Runs the fault at several points; returns the repairs recovery made across the reopens
/// (torn-tail bytes cut plus half-created segments removed).
async fn check(fault: Fault) -> u64 {
    let mut truncated = 0;
    for nth in [1, 2, 3, 7, 20] {
        let dir = tempfile::tempdir().unwrap();
        let acked = run_until_failure(dir.path(), fault, nth).await;
        assert!((acked.len() as u64) < 1600, "{fault:?} #{nth} never fired");
        let (wal, report) = Wal::open(dir.path(), tiny_config(SyncPolicy::Always)).unwrap();
        let records = read_all(&wal, 0);
        let on_disk: Vec<u64> = records.iter().map(|r| r.seq).collect();
        for seq in &acked {
            assert!(
                on_disk.contains(seq),
                "{fault:?} #{nth}: acknowledged seq {seq} lost"
            );
        }
        assert_eq!(report.next_seq, on_disk.len() as u64);
        // A torn record is cut from the tail; a torn segment header (the failing append can be
        // a rotation's) removes the half-created segment.
        truncated += report.truncated_bytes + report.removed_empty_segments as u64;
        // The reopened log works normally.
        let seq = wal.append_durable(b"after the fault").await.unwrap();
        assert_eq!(seq, report.next_seq);
    }
    truncated
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_fsync_loses_no_acknowledged_record() {
    check(Fault::Sync).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_write_loses_no_acknowledged_record() {
    check(Fault::Append).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_write_is_cut_on_reopen_and_loses_no_acknowledged_record() {
    // Half a group can end on a frame boundary, so not every torn write leaves a torn frame.
    assert!(
        check(Fault::TornAppend).await > 0,
        "torn writes are cut on reopen"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_segment_creation_loses_no_acknowledged_record() {
    check(Fault::Create).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_descriptor_shortage_at_rotation_is_waited_out_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Arc::new(FaultPlan::default());
    let io = Arc::new(FaultyIo::new(Arc::new(StdIo), plan.clone()));
    let (wal, _) = Wal::open_with_io(dir.path(), tiny_config(SyncPolicy::Always), io).unwrap();
    plan.emfile_creates.store(3, Ordering::SeqCst);
    for seq in 0..40 {
        wal.append_durable(&payload_for(seq)).await.unwrap();
    }
    let stats = wal.stats();
    assert!(stats.segments > 1, "the appends rotated: {stats:?}");
    assert_eq!(plan.emfile_creates.load(Ordering::SeqCst), 0);
    assert_eq!(stats.descriptor_waits, 3, "{stats:?}");
    drop(wal);
    let (reopened, _) = Wal::open(dir.path(), tiny_config(SyncPolicy::Always)).unwrap();
    assert_eq!(reopened.stats().next_seq, 40, "every record is on disk");
}

#[tokio::test]
async fn failed_directory_sync_during_truncation_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Arc::new(FaultPlan::default());
    let io = Arc::new(FaultyIo::new(Arc::new(StdIo), plan.clone()));
    let (wal, _) = Wal::open_with_io(dir.path(), tiny_config(SyncPolicy::Always), io).unwrap();
    for seq in 0..40 {
        wal.append_durable(&payload_for(seq)).await.unwrap();
    }
    let (_, _, _, dir_syncs) = plan.calls();
    plan.fail_sync_dir.store(dir_syncs + 1, Ordering::SeqCst);
    let err = wal.truncate_before(30).expect_err("reported");
    assert!(
        matches!(&err, Error::Io { path, .. } if path == dir.path()),
        "{err}"
    );
}
