//! Seeded, deterministic telemetry for IceGate's tests, benchmarks and load generator.
//!
//! - [`logs`]: log records in real shapes — nginx and Apache access lines, Apache error
//!   lines, sshd/auth lines, JSON application logs, Java stack traces, Kubernetes events —
//!   with realistic timestamps, severities and attribute cardinalities.
//! - [`traces`]: spans in parent/child trees that cross services.
//! - [`metrics`]: gauges, cumulative sums and explicit-bucket histograms.
//! - [`samples`]: real log lines that a package ships (Debian's fail2ban test logs), replayed
//!   as records.
//! - [`otlp`]: the records as OTLP requests (protobuf and OTLP/JSON) and as NDJSON lines.
//!
//! The same [`DatasetConfig`] (and seed) always yields the same records, byte for byte, on
//! every machine: generators use a seeded `StdRng` and never read the clock. Callers that
//! want "now" pass it as `start-unix-nano`.

pub mod logs;
pub mod metrics;
pub mod otlp;
pub mod samples;
mod text;
pub mod traces;

use serde::{Deserialize, Serialize};

pub use logs::{LogGenerator, LogRecord, LogShape};
pub use metrics::{MetricGenerator, MetricPoint};
pub use samples::{SampleLine, SampleLogs};
pub use traces::{SpanRecord, TraceGenerator};

/// What every generator is told. In TOML (all keys optional, defaults shown):
///
/// ```toml
/// seed = 42
/// services = 8
/// record-size = 0                        # 0: each shape's natural size
/// attributes = 2                         # extra attributes per record
/// attribute-cardinality = 100            # distinct values of each extra attribute
/// start-unix-nano = 1764115200000000000  # 2025-11-26T00:00:00Z
/// records-per-second = 1000.0            # how densely timestamps advance
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct DatasetConfig {
    /// Seed of every random choice. Default: 42.
    pub seed: u64,
    /// Distinct `service.name`s records spread over (a Zipf-like skew: a few services emit
    /// most records, as in real fleets). Default: 8.
    pub services: u32,
    /// Approximate body bytes per log record; shorter bodies are padded with key=value text,
    /// longer ones kept. 0 keeps each shape's natural size. Default: 0.
    pub record_size: usize,
    /// Extra attributes on each record beyond the shape's own. Default: 2.
    pub attributes: u32,
    /// Distinct values of each extra attribute. Default: 100.
    pub attribute_cardinality: u32,
    /// Time of the first record, Unix nanoseconds. Default: 2025-11-26T00:00:00Z.
    pub start_unix_nano: u64,
    /// Records per second of event time (inter-arrival times are exponential around this
    /// rate). Default: 1000.
    pub records_per_second: f64,
}

impl Default for DatasetConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            services: 8,
            record_size: 0,
            attributes: 2,
            attribute_cardinality: 100,
            start_unix_nano: 1_764_115_200_000_000_000,
            records_per_second: 1000.0,
        }
    }
}

/// Why a dataset could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// A sample directory or file could not be read.
    #[error("reading samples at {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No sample lines were found where they were looked for.
    #[error(
        "no sample log lines under {path} (run datasets/fetch-fail2ban.sh, or set ICEGATE_FAIL2BAN_DIR)"
    )]
    NoSamples { path: std::path::PathBuf },
    /// A name that is not a dataset.
    #[error("unknown dataset {0:?}; one of: {list}", list = logs::LogShape::NAMES.join(", "))]
    UnknownShape(String),
}

/// The service names records are spread over: real-looking names first, numbered after.
pub fn service_names(count: u32) -> Vec<String> {
    const NAMES: [&str; 16] = [
        "frontend",
        "checkout",
        "cart",
        "payment",
        "auth",
        "product-catalog",
        "inventory",
        "shipping",
        "search",
        "recommendation",
        "email",
        "currency",
        "quote",
        "fraud-detection",
        "accounting",
        "ad",
    ];
    (0..count.max(1) as usize)
        .map(|index| match NAMES.get(index) {
            Some(name) => (*name).to_string(),
            None => format!("{}-{}", NAMES[index % NAMES.len()], index / NAMES.len()),
        })
        .collect()
}
