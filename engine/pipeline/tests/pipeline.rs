//! The pipeline in process on the in-memory lake (milliseconds each): order, restarts with a
//! multi-segment backlog, outages, lost commit answers, poison isolation, routing by
//! namespace, a regressed WAL, a second writer with the same id. The oracle everywhere: every
//! acknowledged record in the lake exactly once.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arrow::array::{Array, AsArray};
use common::{Run, RunOptions, logs_key, wait_for, wal_config, wal_segments};
use icegate_batcher::TableKey;
use icegate_pipeline::MemoryLake;
use icegate_pipeline::status::LaneState;
use icegate_wal::{ByteSize, Wal, WalConfig};

/// How often each body is in the lake's table.
fn bodies(lake: &MemoryLake, key: &TableKey) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for batch in lake.table(key).map(|t| t.batches).unwrap_or_default() {
        let body = batch.column_by_name("body").unwrap().as_string::<i32>();
        for i in 0..body.len() {
            *counts.entry(body.value(i).to_string()).or_default() += 1;
        }
    }
    counts
}

fn assert_exactly_once(lake: &MemoryLake, key: &TableKey, tag: &str, acknowledged: &[u64]) {
    let counts = bodies(lake, key);
    for n in acknowledged {
        assert_eq!(
            counts.get(&format!("{tag}record-{n}")),
            Some(&1),
            "{tag}record-{n} in {key}"
        );
    }
    assert!(
        counts.values().all(|c| *c == 1),
        "a record of {key} is there twice"
    );
}

#[test]
fn a_restart_with_a_multi_segment_backlog_commits_every_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(MemoryLake::new());
    // The lake is down: the backlog builds up over many WAL segments.
    lake.set_down(true);
    let run = Run::start(dir.path(), &lake, 256 << 10);
    let mut acknowledged = run.send(&logs_key(), 0..20_000, 50, "");
    assert_eq!(acknowledged.len(), 20_000);
    assert!(
        wal_segments(dir.path()) > 10,
        "the backlog spans {} segments",
        wal_segments(dir.path())
    );
    run.crash();

    // The next run replays it in several flushes, while new records arrive.
    lake.set_down(false);
    let run = Run::start(dir.path(), &lake, 256 << 10);
    // (While the replayed backlog holds the table's share of memory, some are refused.)
    acknowledged.extend(run.send(&logs_key(), 20_000..25_000, 50, ""));
    wait_for("every record", || {
        lake.rows(&logs_key()) >= acknowledged.len()
    });
    let table = lake.table(&logs_key()).unwrap();
    // Several flushes, each of many WAL records: a replayed record is sized as it was
    // written (when its size counted the IPC body once per array, each of the 400 replayed
    // records was a flush of its own: 445 snapshots with the 100 live requests).
    assert!(
        (4..=150).contains(&table.snapshots),
        "replay flushed {} times",
        table.snapshots
    );
    assert!(run.metrics.replayed_records.load(Ordering::Relaxed) >= 20_000);
    run.stop();
    assert_exactly_once(&lake, &logs_key(), "", &acknowledged);
    assert!(
        wal_segments(dir.path()) <= 2,
        "the WAL was truncated: {} segments left",
        wal_segments(dir.path())
    );

    // And once more: nothing is committed twice after a clean restart.
    let run = Run::start(dir.path(), &lake, 256 << 10);
    run.stop();
    assert_exactly_once(&lake, &logs_key(), "", &acknowledged);
}

#[test]
fn a_graceful_stop_right_after_start_still_commits_the_replayed_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(MemoryLake::new());
    lake.set_down(true);
    let run = Run::start(dir.path(), &lake, 64 << 10);
    let acknowledged = run.send(&logs_key(), 0..10_000, 50, "");
    run.crash();
    // The next start replays into a small memory budget while the lake is slow to answer:
    // replay waits for the lanes to commit. SIGTERM comes at once; the stop lets replay
    // finish (bounded), then commits everything.
    lake.set_down(false);
    lake.set_silent(true);
    let waking = {
        let lake = lake.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            lake.set_silent(false);
        })
    };
    let options = RunOptions {
        max_memory: 2 << 20,
        ..RunOptions::flush_size(64 << 10)
    };
    Run::start_with(dir.path(), &lake, options).stop();
    waking.join().unwrap();
    assert_exactly_once(&lake, &logs_key(), "", &acknowledged);
}

#[test]
fn a_failed_fsync_leaves_a_hole_that_is_never_acknowledged_or_duplicated() {
    use icegate_wal::fault::{FaultPlan, FaultyIo};
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(MemoryLake::new());
    let plan = Arc::new(FaultPlan::default());
    plan.fail_sync.store(40, Ordering::SeqCst);
    let io = Arc::new(FaultyIo::new(
        Arc::new(icegate_wal::io::StdIo),
        plan.clone(),
    ));
    let run = Run::start_with(
        dir.path(),
        &lake,
        RunOptions {
            wal_io: Some(io),
            ..RunOptions::flush_size(64 << 10)
        },
    );
    // The 40th fsync fails: its records are holes, answered with an error; the log stops.
    let mut acknowledged = run.send(&logs_key(), 0..5_000, 10, "");
    assert!(
        acknowledged.len() < 5_000,
        "the fsync failure stopped nothing"
    );
    wait_for("the hole", || {
        run.metrics.wal_holes.load(Ordering::Relaxed) >= 1
    });
    assert!(
        !run.pipeline.readiness().ready,
        "a failed WAL makes the node unready"
    );
    wait_for("what was acknowledged", || {
        lake.rows(&logs_key()) >= acknowledged.len()
    });
    run.crash();
    // After a restart (the operator's answer to a failed disk) everything acknowledged is
    // there once; the hole's records may come back from the file (never acknowledged, so
    // at most once each), and new records commit.
    let run = Run::start(dir.path(), &lake, 64 << 10);
    acknowledged.extend(run.send(&logs_key(), 5_000..6_000, 10, ""));
    run.stop();
    assert_exactly_once(&lake, &logs_key(), "", &acknowledged);
}

#[test]
fn crashes_between_commits_never_lose_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(MemoryLake::new());
    let mut acknowledged = Vec::new();
    for round in 0..5u64 {
        let run = Run::start(dir.path(), &lake, 32 << 10);
        acknowledged.extend(run.send(&logs_key(), round * 3000..(round + 1) * 3000, 30, ""));
        // Crash after some commits landed, with more sealed or pending.
        wait_for("a commit", || lake.rows(&logs_key()) > 0);
        run.crash();
    }
    Run::start(dir.path(), &lake, 32 << 10).stop();
    assert_exactly_once(&lake, &logs_key(), "", &acknowledged);
    assert_eq!(lake.rows(&logs_key()), acknowledged.len());
}

#[test]
fn an_outage_is_retried_and_a_lost_commit_answer_is_not_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(MemoryLake::new());
    lake.set_down(true);
    let run = Run::start(dir.path(), &lake, 1 << 20);
    let acknowledged = run.send(&logs_key(), 0..500, 10, "");
    wait_for("retries", || {
        lake.outage_failures.load(Ordering::Relaxed) > 3
    });
    let readiness = run.pipeline.readiness();
    assert!(
        readiness.ready,
        "an outage alone does not make the node unready: {:?}",
        readiness.reasons
    );
    assert!(matches!(
        readiness.lanes[0].state,
        LaneState::Opening | LaneState::Retrying(_)
    ));
    lake.lose_commit_answers(1);
    lake.set_down(false);
    wait_for("the backlog", || lake.rows(&logs_key()) >= 500);
    // A commit that lands and then reports a permanent failure is not quarantined (its
    // files are in the table).
    lake.fail_after_commits(1);
    let later = run.send(&logs_key(), 500..600, 10, "");
    wait_for("the later records", || lake.rows(&logs_key()) >= 600);
    assert_eq!(run.metrics.quarantined_batches.load(Ordering::Relaxed), 0);
    let acknowledged = [acknowledged, later].concat();
    run.stop();
    assert_exactly_once(&lake, &logs_key(), "", &acknowledged);
    assert_eq!(
        lake.orphaned_files(),
        0,
        "files of the lost answer are the committed ones"
    );
}

#[test]
fn a_lake_that_never_answers_times_out_and_a_swallowed_commit_lands_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(MemoryLake::new());
    let run = Run::start(dir.path(), &lake, 1 << 20);
    let mut acknowledged = run.send(&logs_key(), 0..100, 10, "");
    wait_for("the first commit", || lake.rows(&logs_key()) >= 100);
    // Connections that are accepted and never answered: every attempt times out.
    lake.set_silent(true);
    acknowledged.extend(run.send(&logs_key(), 100..300, 10, ""));
    wait_for("timed-out attempts", || {
        run.metrics.commit_failures.load(Ordering::Relaxed) >= 2
    });
    assert_eq!(lake.rows(&logs_key()), 100);
    // The lake answers again, except for one commit it applies and never confirms.
    lake.swallow_commit_answers(1);
    lake.set_silent(false);
    acknowledged.extend(run.send(&logs_key(), 300..400, 10, ""));
    wait_for("the backlog", || lake.rows(&logs_key()) >= 400);
    run.stop();
    assert_exactly_once(&lake, &logs_key(), "", &acknowledged);
    assert_eq!(lake.rows(&logs_key()), 400);
}

#[test]
fn one_table_whose_lake_fails_cannot_take_the_memory_the_others_need() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(MemoryLake::new());
    let broken = TableKey::new("team-a", "logs");
    let healthy = TableKey::new("team-b", "logs");
    lake.set_table_down(&broken, true);
    let run = Run::start_with(
        dir.path(),
        &lake,
        RunOptions {
            max_memory: 4 << 20,
            ..RunOptions::flush_size(256 << 10)
        },
    );
    // The broken table's records pile up in memory until its share is used: then only its
    // own requests are refused.
    let mut broken_acked = Vec::new();
    let mut next = 0;
    loop {
        let sent = run.send(&broken, next..next + 100, 100, "");
        next += 100;
        if sent.is_empty() {
            break;
        }
        assert!(next < 1_000_000, "the broken table was never refused");
        broken_acked.extend(sent);
    }
    let share = run
        .pipeline
        .readiness()
        .lanes
        .iter()
        .find(|l| l.table == "team-a.logs")
        .unwrap()
        .memory_bytes;
    assert!(share >= 2 << 20, "refused at {share} bytes");
    // Meanwhile the healthy table takes far more than the whole budget and commits it.
    let healthy_acked = run.send(&healthy, 0..20_000, 100, "");
    assert_eq!(healthy_acked.len(), 20_000);
    wait_for("the healthy table", || lake.rows(&healthy) >= 20_000);
    // The broken table recovers: its backlog commits and it takes requests again.
    lake.set_table_down(&broken, false);
    wait_for("the backlog", || lake.rows(&broken) >= broken_acked.len());
    broken_acked.extend(run.send(&broken, next..next + 100, 100, ""));
    run.stop();
    assert_exactly_once(&lake, &broken, "", &broken_acked);
    assert_exactly_once(&lake, &healthy, "", &healthy_acked);
}

#[test]
fn a_request_larger_than_one_wal_record_is_stored_as_several_and_acknowledged_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(MemoryLake::new());
    let run = Run::start_with(
        dir.path(),
        &lake,
        RunOptions {
            wal: WalConfig {
                max_record_size: ByteSize(32 << 10),
                ..wal_config()
            },
            ..RunOptions::flush_size(1 << 20)
        },
    );
    // One request of 3,000 records encodes to several times the WAL's record limit.
    let acknowledged = run.send(&logs_key(), 0..3_000, 3_000, "");
    assert_eq!(acknowledged.len(), 3_000);
    assert_eq!(run.metrics.split_requests.load(Ordering::Relaxed), 1);
    let records = run.wal.stats().next_seq;
    assert!(records > 3, "stored as {records} WAL records");
    run.crash();
    // The parts replay like any records.
    let run = Run::start(dir.path(), &lake, 1 << 20);
    run.stop();
    assert_exactly_once(&lake, &logs_key(), "", &acknowledged);
}

#[test]
fn a_poison_batch_is_quarantined_and_other_tables_keep_committing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(MemoryLake::new());
    lake.set_poison(Some("POISON"));
    let run = Run::start(dir.path(), &lake, 1 << 20);
    let team_a = TableKey::new("team-a", "logs");
    let team_b = TableKey::new("team-b", "logs");
    let bad = run.send(&team_a, 0..10, 10, "POISON");
    let good_b = run.send(&team_b, 0..300, 10, "");
    wait_for("team-b", || lake.rows(&team_b) >= 300);
    wait_for("the quarantine", || {
        run.metrics.quarantined_batches.load(Ordering::Relaxed) >= 1
    });
    // The lane goes on: later records of team-a commit.
    let good_a = run.send(&team_a, 100..200, 10, "");
    wait_for("team-a", || lake.rows(&team_a) >= 100);
    let readiness = run.pipeline.readiness();
    assert!(readiness.ready, "{:?}", readiness.reasons);
    let lane_a = readiness
        .lanes
        .iter()
        .find(|l| l.table == "team-a.logs")
        .unwrap();
    assert_eq!(lane_a.quarantined_batches, 1);
    assert_eq!(lane_a.quarantined_records, 10);
    run.stop();
    assert_exactly_once(&lake, &team_a, "", &good_a);
    assert_exactly_once(&lake, &team_b, "", &good_b);
    assert!(bodies(&lake, &team_a).keys().all(|b| !b.contains("POISON")));

    // The poison batch is kept whole and readable, with its reason.
    let kept: Vec<_> = std::fs::read_dir(dir.path().join("quarantine/team-a/logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let arrow_file = kept
        .iter()
        .find(|p| p.extension().unwrap() == "arrow")
        .unwrap();
    let reader =
        arrow::ipc::reader::FileReader::try_new(std::fs::File::open(arrow_file).unwrap(), None)
            .unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, bad.len());
    let reason = std::fs::read_to_string(arrow_file.with_extension("json")).unwrap();
    assert!(reason.contains("File name too long"), "{reason}");

    // The WAL still holds the poison records; a restart knows they are in the quarantine.
    lake.set_poison(None);
    let run = Run::start(dir.path(), &lake, 1 << 20);
    let more = run.send(&team_a, 200..300, 10, "");
    wait_for("team-a", || lake.rows(&team_a) >= 200);
    assert_eq!(run.metrics.quarantined_batches.load(Ordering::Relaxed), 0);
    run.stop();
    assert_exactly_once(&lake, &team_a, "", &[good_a, more].concat());
    assert!(bodies(&lake, &team_a).keys().all(|b| !b.contains("POISON")));
    let arrow_files = std::fs::read_dir(dir.path().join("quarantine/team-a/logs"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "arrow")
        .count();
    assert_eq!(arrow_files, 1, "quarantined once");
}

#[test]
fn a_regressed_wal_is_detected_and_new_records_are_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(MemoryLake::new());
    let run = Run::start(dir.path(), &lake, 1 << 20);
    let mut acknowledged = run.send(&logs_key(), 0..1000, 10, "");
    run.stop();
    // A backup of the WAL taken now...
    let backup = dir.path().join("wal-backup");
    copy_dir(&dir.path().join("wal"), &backup);
    let run = Run::start(dir.path(), &lake, 1 << 20);
    acknowledged.extend(run.send(&logs_key(), 1000..3000, 10, ""));
    run.stop();
    // ...is restored: its next sequence number is below the lake's watermark.
    std::fs::remove_dir_all(dir.path().join("wal")).unwrap();
    copy_dir(&backup, &dir.path().join("wal"));
    let run = Run::start(dir.path(), &lake, 1 << 20);
    acknowledged.extend(run.send(&logs_key(), 3000..3500, 10, ""));
    wait_for("the new records", || lake.rows(&logs_key()) >= 3500);
    assert_eq!(run.metrics.wal_regressions.load(Ordering::Relaxed), 1);
    run.stop();
    assert_exactly_once(&lake, &logs_key(), "", &acknowledged);
    // And the restart after that is consistent again.
    Run::start(dir.path(), &lake, 1 << 20).stop();
    assert_exactly_once(&lake, &logs_key(), "", &acknowledged);
}

#[test]
fn another_process_with_the_same_writer_id_stops_only_that_table() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(MemoryLake::new());
    let run = Run::start(dir.path(), &lake, 1 << 20);
    let other = TableKey::new("default", "other");
    run.send(&logs_key(), 0..100, 10, "");
    run.send(&other, 0..100, 10, "");
    wait_for("both tables", || {
        lake.rows(&logs_key()) >= 100 && lake.rows(&other) >= 100
    });
    // A copy of this node's data directory commits as the same writer.
    lake.set_property(
        &logs_key(),
        "icegate.watermark.writer-1",
        "1:someone:else:999999",
    );
    run.send(&logs_key(), 100..200, 10, "");
    let good = run.send(&other, 100..200, 10, "");
    wait_for("the other table", || lake.rows(&other) >= 200);
    wait_for("the block", || {
        run.pipeline
            .readiness()
            .lanes
            .iter()
            .any(|l| matches!(l.state, LaneState::Blocked(_)))
    });
    // The blocked table refuses new records (they would only grow the WAL); others go on.
    assert!(run.send(&logs_key(), 200..300, 10, "").is_empty());
    let good = [good, run.send(&other, 200..300, 10, "")].concat();
    assert_eq!(
        lake.rows(&logs_key()),
        100,
        "nothing more is committed to the contested table"
    );
    run.stop();
    assert_exactly_once(&lake, &other, "", &good);
    // The WAL kept the blocked table's records.
    let wal = Wal::open(dir.path().join("wal"), wal_config()).unwrap().0;
    let kept = wal.read_from(wal.stats().first_seq).unwrap().count();
    assert!(kept >= 10, "the WAL kept {kept} records");
}

#[test]
fn the_memory_lake_and_lanes_route_by_full_table_key() {
    // Same table name, two namespaces: two tables, never mixed.
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(MemoryLake::new());
    let run = Run::start(dir.path(), &lake, 1 << 20);
    let a = TableKey::new("a", "logs");
    let b = TableKey::new("b", "logs");
    let sent_a = run.send(&a, 0..50, 5, "a-");
    let sent_b = run.send(&b, 0..70, 7, "b-");
    run.stop();
    assert_exactly_once(&lake, &a, "a-", &sent_a);
    assert_exactly_once(&lake, &b, "b-", &sent_b);
    assert_eq!((lake.rows(&a), lake.rows(&b)), (50, 70));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// NDJSON records `prom-record-{n}` whose `status` is a number, except every tenth from
/// record 20,000 on (text, which a long column rescues), and whose `user` is text.
fn attributed(ns: std::ops::Range<u64>) -> arrow::array::RecordBatch {
    let body: String = ns
        .map(|n| {
            let status = if is_text_status(n) {
                format!("\"s{n}\"")
            } else {
                (200 + n % 5).to_string()
            };
            format!(
                "{{\"service\":\"svc\",\"time\":{},\"msg\":\"prom-record-{n}\",\"status\":{status},\"user\":\"u{}\"}}\n",
                1_764_000_000 + n,
                n % 50
            )
        })
        .collect();
    icegate_parser::NdjsonDecoder::new().decode(
        body.as_bytes(),
        &icegate_parser::NdjsonContext::default(),
        0,
    )
}

fn is_text_status(n: u64) -> bool {
    n >= 20_000 && n % 10 == 7
}

/// Where each record's `status` landed: `(map, column, rescued)` text, one of them set.
fn status_places(lake: &MemoryLake, key: &TableKey) -> HashMap<String, (usize, String)> {
    let mut places = HashMap::new();
    for batch in lake.table(key).unwrap().batches {
        let body = batch.column_by_name("body").unwrap().as_string::<i32>();
        let map = batch.column_by_name("attributes").unwrap().as_map();
        let column = batch
            .column_by_name("attr_status")
            .map(|c| c.as_primitive::<arrow::datatypes::Int64Type>().clone());
        let rescued = batch
            .column_by_name("_rescued")
            .map(|c| c.as_string::<i32>().clone());
        for row in 0..batch.num_rows() {
            let mut found = Vec::new();
            let entries = map.value(row);
            let (keys, values) = (
                entries.column(0).as_string::<i32>(),
                entries.column(1).as_string::<i32>(),
            );
            for i in 0..keys.len() {
                if keys.value(i) == "status" {
                    found.push((0, values.value(i).to_string()));
                }
            }
            if let Some(column) = &column
                && column.is_valid(row)
            {
                found.push((1, column.value(row).to_string()));
            }
            if let Some(rescued) = &rescued
                && rescued.is_valid(row)
            {
                let object: serde_json::Value = serde_json::from_str(rescued.value(row)).unwrap();
                found.push((2, object["attr_status"].as_str().unwrap().to_string()));
            }
            assert_eq!(found.len(), 1, "{}: status in {found:?}", body.value(row));
            places.insert(body.value(row).to_string(), found.remove(0));
        }
    }
    places
}

#[test]
fn promotion_across_an_outage_and_a_restart_places_every_value_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(MemoryLake::new());
    let options = || RunOptions {
        schema: icegate_evolve::SchemaConfig {
            promote: true,
            min_window_rows: 2_000,
            window_batches: 4,
            ..Default::default()
        },
        ..RunOptions::flush_size(256 << 10)
    };
    // A backlog over many segments while the lake is down; then a crash.
    lake.set_down(true);
    let run = Run::start_with(dir.path(), &lake, options());
    let mut acknowledged = run.send_with(&logs_key(), 0..40_000, 100, attributed);
    assert_eq!(acknowledged.len(), 40_000);
    assert!(wal_segments(dir.path()) > 10);
    run.crash();

    // The next run replays it with the lake up, while uploads of batches with rescued values
    // fail (each attempt promotes the batch again) and new records arrive.
    lake.set_down(false);
    let run = Run::start_with(dir.path(), &lake, options());
    wait_for("the replay past the first text values", || {
        lake.rows(&logs_key()) >= 21_000
    });
    assert!(
        !lake
            .table(&logs_key())
            .unwrap()
            .promotions
            .columns
            .is_empty()
    );
    lake.fail_writes(5);
    acknowledged.extend(run.send_with(&logs_key(), 40_000..100_000, 100, attributed));
    wait_for("every record", || {
        lake.rows(&logs_key()) >= acknowledged.len()
    });
    let rescued_counted = run.metrics.rescued_values.load(Ordering::Relaxed);
    let columns_counted = run.metrics.promoted_columns.load(Ordering::Relaxed);
    run.stop();

    let table = lake.table(&logs_key()).unwrap();
    let names: Vec<&str> = table
        .promotions
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["attr_status", "attr_user"], "{names:?}");
    assert_eq!(columns_counted, 2);
    assert_eq!(table.schema_updates, 1, "one schema update added both");
    let places = status_places(&lake, &logs_key());
    assert_eq!(
        places.len(),
        lake.rows(&logs_key()),
        "a record is there twice"
    );
    let mut rescued = 0;
    for n in &acknowledged {
        let (place, text) = &places[&format!("prom-record-{n}")];
        let sent = if is_text_status(*n) {
            format!("s{n}")
        } else {
            (200 + n % 5).to_string()
        };
        assert_eq!(text, &sent, "record {n}");
        if *place == 2 {
            rescued += 1;
            assert!(is_text_status(*n), "record {n}: a number was rescued");
        }
        if *place == 1 {
            assert!(!is_text_status(*n), "record {n}: text in the long column");
        }
    }
    // Promotion came early (within the first 20,000 records): every text value is rescued.
    let texts = acknowledged.iter().filter(|n| is_text_status(**n)).count() as u64;
    assert!(texts > 5_000);
    assert_eq!(rescued, texts, "{rescued} of {texts} text values rescued");
    assert_eq!(rescued_counted, rescued, "each rescued value counted once");
}
