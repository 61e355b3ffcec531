//! `GET /metrics`: the pipeline's counters and every table lane's, as Prometheus text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use icegate_pipeline::Pipeline;
use icegate_pipeline::status::{BUCKETS, Histogram, LaneState, Metrics, SignalCounters};

fn histogram(out: &mut String, histogram: &Histogram, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (bucket, count) in BUCKETS.iter().zip(histogram.bucket_counts()) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bucket}\"}} {count}");
    }
    let total = histogram.count();
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
    let _ = writeln!(out, "{name}_sum {}", histogram.sum_seconds());
    let _ = writeln!(out, "{name}_count {total}");
}

fn family(out: &mut String, kind: &str, name: &str, help: &str, values: &[(String, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in values {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// A label value in Prometheus' escaping.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus text exposition format.
pub fn render(pipeline: &Pipeline) -> String {
    pipeline.refresh_gauges();
    let metrics: &Metrics = pipeline.metrics();
    let mut out = String::new();
    let per_signal = |pick: fn(&SignalCounters) -> &AtomicU64| -> Vec<(String, u64)> {
        [
            ("logs", &metrics.logs),
            ("traces", &metrics.traces),
            ("metrics", &metrics.metrics),
            ("ndjson", &metrics.ndjson),
        ]
        .into_iter()
        .map(|(signal, counters)| {
            (
                format!("{{signal=\"{signal}\"}}"),
                pick(counters).load(Ordering::Relaxed),
            )
        })
        .collect()
    };
    for (name, help, pick) in [
        (
            "icegate_records_accepted_total",
            "Records durably accepted.",
            (|c| &c.records_accepted) as fn(&SignalCounters) -> &AtomicU64,
        ),
        (
            "icegate_records_rejected_total",
            "Records left out of requests because they do not decode (OTLP partial success).",
            |c| &c.records_rejected,
        ),
        (
            "icegate_bytes_accepted_total",
            "Request bytes accepted.",
            |c| &c.bytes_accepted,
        ),
        (
            "icegate_requests_rejected_total",
            "Requests rejected.",
            |c| &c.requests_rejected,
        ),
        (
            "icegate_bytes_rejected_total",
            "Request bytes rejected.",
            |c| &c.bytes_rejected,
        ),
    ] {
        family(&mut out, "counter", name, help, &per_signal(pick));
    }
    let single = [
        (
            "icegate_backpressure_events_total",
            "Requests answered 429 / RESOURCE_EXHAUSTED.",
            &metrics.backpressure_events,
        ),
        (
            "icegate_commits_total",
            "Iceberg commits.",
            &metrics.commits,
        ),
        (
            "icegate_commit_failures_total",
            "Failed write or commit attempts (retried).",
            &metrics.commit_failures,
        ),
        (
            "icegate_commit_retries_total",
            "Commit attempts lost to concurrent writers.",
            &metrics.commit_retries,
        ),
        (
            "icegate_replayed_records_total",
            "Records replayed from the WAL at start-up.",
            &metrics.replayed_records,
        ),
        (
            "icegate_already_committed_records_total",
            "Records found already in the lake (replay after a crash, a lost commit answer).",
            &metrics.already_committed_records,
        ),
        (
            "icegate_quarantined_batches_total",
            "Batches that can never be written, moved to the quarantine.",
            &metrics.quarantined_batches,
        ),
        (
            "icegate_quarantined_records_total",
            "Records in quarantined batches.",
            &metrics.quarantined_records,
        ),
        (
            "icegate_promoted_columns_total",
            "Attribute keys this node promoted to typed columns (schema updates).",
            &metrics.promoted_columns,
        ),
        (
            "icegate_rescued_values_total",
            "Values that did not fit their promoted column, kept in _rescued.",
            &metrics.rescued_values,
        ),
        (
            "icegate_split_requests_total",
            "Requests that decoded to more than one WAL record takes, stored as several.",
            &metrics.split_requests,
        ),
        (
            "icegate_wal_holes_total",
            "Records whose WAL write failed (never acknowledged).",
            &metrics.wal_holes,
        ),
        (
            "icegate_wal_descriptor_waits_total",
            "Pauses of WAL segment creation for want of a file descriptor (EMFILE, ENFILE).",
            &metrics.wal_descriptor_waits,
        ),
        (
            "icegate_wal_regressions_total",
            "Tables whose watermark was at or past the WAL's start (restored or regressed WAL).",
            &metrics.wal_regressions,
        ),
    ];
    for (name, help, value) in single {
        family(
            &mut out,
            "counter",
            name,
            help,
            &[(String::new(), value.load(Ordering::Relaxed))],
        );
    }
    for (name, help, value) in [
        (
            "icegate_wal_bytes",
            "Bytes in WAL segments.",
            &metrics.wal_bytes,
        ),
        (
            "icegate_batch_memory_bytes",
            "Bytes reserved in memory: request bodies being read, decoded batches, batches waiting for their table.",
            &metrics.batch_memory_bytes,
        ),
    ] {
        family(
            &mut out,
            "gauge",
            name,
            help,
            &[(String::new(), value.load(Ordering::Relaxed))],
        );
    }
    let lanes = pipeline.health().lanes();
    let per_lane = |pick: fn(&icegate_pipeline::status::LaneReport) -> u64| -> Vec<(String, u64)> {
        lanes
            .iter()
            .map(|lane| (format!("{{table=\"{}\"}}", label(&lane.table)), pick(lane)))
            .collect()
    };
    family(
        &mut out,
        "counter",
        "icegate_table_commits_total",
        "Commits per table.",
        &per_lane(|l| l.commits),
    );
    family(
        &mut out,
        "counter",
        "icegate_table_committed_records_total",
        "Records committed per table.",
        &per_lane(|l| l.committed_records),
    );
    family(
        &mut out,
        "counter",
        "icegate_table_quarantined_batches_total",
        "Quarantined batches per table.",
        &per_lane(|l| l.quarantined_batches),
    );
    let states: Vec<(String, u64)> = lanes
        .iter()
        .flat_map(|lane| {
            ["opening", "ok", "retrying", "blocked"].map(|state| {
                let current = match lane.state {
                    LaneState::Opening => "opening",
                    LaneState::Ok => "ok",
                    LaneState::Retrying(_) => "retrying",
                    LaneState::Blocked(_) => "blocked",
                };
                (
                    format!("{{table=\"{}\",state=\"{state}\"}}", label(&lane.table)),
                    u64::from(current == state),
                )
            })
        })
        .collect();
    family(
        &mut out,
        "gauge",
        "icegate_table_state",
        "1 for the state each table's lane is in.",
        &states,
    );
    histogram(
        &mut out,
        &metrics.flush_seconds,
        "icegate_flush_seconds",
        "Writing a sealed batch's Parquet files.",
    );
    histogram(
        &mut out,
        &metrics.commit_seconds,
        "icegate_commit_seconds",
        "Committing a sealed batch.",
    );
    out
}
