//! The final JSON report of a run.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::spec::LoadSpec;
use crate::verify::VerifyReport;

/// Everything a run measured. Latencies are microseconds from a request's *intended* send
/// time (so a receiver that stalls is not hidden by the sender waiting: no coordinated
/// omission) to its acknowledgement, retries included.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Report {
    pub spec: LoadSpec,
    pub endpoint: String,
    /// Names this run's requests (`loadgen.request` values start with it).
    pub run_id: String,
    pub started_unix_ms: u64,
    /// From the first send to the last answer.
    pub elapsed_secs: f64,
    pub requests: Counts,
    pub records: Counts,
    /// Request body bytes as sent (compressed if gzip).
    pub bytes: Counts,
    /// Records refused by OTLP partial success inside acknowledged requests.
    pub records_rejected: u64,
    /// Failed attempts by status, e.g. `http 429`, `grpc ResourceExhausted`, `transport:
    /// connect`; a retried request counts once per failed attempt.
    pub errors: BTreeMap<String, u64>,
    pub retries: u64,
    pub latency_us: Latency,
    /// Acknowledged records per second of elapsed time.
    pub acked_records_per_sec: f64,
    /// Acknowledged body bytes per second of elapsed time.
    pub acked_bytes_per_sec: f64,
    /// Uncompressed-or-not body bytes per record, averaged over the payloads.
    pub bytes_per_record: f64,
    /// CPU seconds the loadgen process used while sending, and what that means per core.
    pub loadgen_cpu_secs: f64,
    pub loadgen_records_per_cpu_sec: f64,
    /// Filled by `--verify`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyReport>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Counts {
    pub sent: u64,
    pub acked: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Latency {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Latency {
    pub fn from_histogram(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            count: histogram.len(),
            min: histogram.min(),
            mean: histogram.mean(),
            p50: histogram.value_at_quantile(0.5),
            p90: histogram.value_at_quantile(0.9),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
        }
    }
}

impl Report {
    /// A one-screen human summary.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} records acked of {} sent in {:.1}s ({:.0} rec/s, {:.1} MB/s), {} errors, {} retries\nlatency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms; loadgen {:.0} rec per CPU-second",
            self.records.acked,
            self.records.sent,
            self.elapsed_secs,
            self.acked_records_per_sec,
            self.acked_bytes_per_sec / 1e6,
            self.errors.values().sum::<u64>(),
            self.retries,
            self.latency_us.p50 as f64 / 1000.0,
            self.latency_us.p99 as f64 / 1000.0,
            self.latency_us.p999 as f64 / 1000.0,
            self.latency_us.max as f64 / 1000.0,
            self.loadgen_records_per_cpu_sec,
        );
        for (status, count) in &self.errors {
            text.push_str(&format!("\n  {status}: {count}"));
        }
        if let Some(verify) = &self.verify {
            text.push('\n');
            text.push_str(&verify.summary());
        }
        text
    }
}
