//! Operational counters, rendered as Prometheus text on `GET /metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::signal::Signal;

/// Latency buckets in seconds for flush and commit histograms.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A fixed-bucket histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, seconds: f64) {
        for (bucket, count) in BUCKETS.iter().zip(&self.counts) {
            if seconds <= *bucket {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bucket, count) in BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bucket}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let total = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {total}");
    }
}

/// Per-signal counters.
#[derive(Debug, Default)]
pub struct SignalCounters {
    pub records_accepted: AtomicU64,
    pub bytes_accepted: AtomicU64,
    pub requests_rejected: AtomicU64,
    pub bytes_rejected: AtomicU64,
}

/// Everything the server counts.
#[derive(Debug, Default)]
pub struct Metrics {
    pub logs: SignalCounters,
    pub traces: SignalCounters,
    pub metrics: SignalCounters,
    pub ndjson: SignalCounters,
    pub backpressure_events: AtomicU64,
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
    pub commit_retries: AtomicU64,
    pub wal_bytes: AtomicU64,
    pub batch_memory_bytes: AtomicU64,
    pub flush_seconds: Histogram,
    pub commit_seconds: Histogram,
}

impl Metrics {
    pub fn signal(&self, signal: Signal) -> &SignalCounters {
        match signal {
            Signal::Logs => &self.logs,
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
        }
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, values: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, value) in values {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let per_signal = |pick: fn(&SignalCounters) -> &AtomicU64| -> Vec<(&'static str, u64)> {
            vec![
                (
                    "{signal=\"logs\"}",
                    pick(&self.logs).load(Ordering::Relaxed),
                ),
                (
                    "{signal=\"traces\"}",
                    pick(&self.traces).load(Ordering::Relaxed),
                ),
                (
                    "{signal=\"metrics\"}",
                    pick(&self.metrics).load(Ordering::Relaxed),
                ),
                (
                    "{signal=\"ndjson\"}",
                    pick(&self.ndjson).load(Ordering::Relaxed),
                ),
            ]
        };
        counter(
            &mut out,
            "icegate_records_accepted_total",
            "Records durably accepted.",
            &per_signal(|c| &c.records_accepted),
        );
        counter(
            &mut out,
            "icegate_bytes_accepted_total",
            "Request bytes accepted.",
            &per_signal(|c| &c.bytes_accepted),
        );
        counter(
            &mut out,
            "icegate_requests_rejected_total",
            "Requests rejected.",
            &per_signal(|c| &c.requests_rejected),
        );
        counter(
            &mut out,
            "icegate_bytes_rejected_total",
            "Request bytes rejected.",
            &per_signal(|c| &c.bytes_rejected),
        );
        let single = [
            (
                "icegate_backpressure_events_total",
                "Requests answered 429 / RESOURCE_EXHAUSTED.",
                &self.backpressure_events,
            ),
            ("icegate_commits_total", "Iceberg commits.", &self.commits),
            (
                "icegate_commit_failures_total",
                "Failed flush or commit attempts (retried).",
                &self.commit_failures,
            ),
            (
                "icegate_commit_retries_total",
                "Commit attempts lost to concurrent writers.",
                &self.commit_retries,
            ),
        ];
        for (name, help, value) in single {
            counter(&mut out, name, help, &[("", value.load(Ordering::Relaxed))]);
        }
        for (name, help, value) in [
            (
                "icegate_wal_bytes",
                "Bytes in WAL segments.",
                &self.wal_bytes,
            ),
            (
                "icegate_batch_memory_bytes",
                "Bytes of batches held in memory.",
                &self.batch_memory_bytes,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        self.flush_seconds.render(
            &mut out,
            "icegate_flush_seconds",
            "Writing a sealed batch's Parquet files.",
        );
        self.commit_seconds.render(
            &mut out,
            "icegate_commit_seconds",
            "Committing a sealed batch.",
        );
        out
    }
}
