//! What a harness run records: one summary JSON per run (machine, commit, every case with
//! its baselines) plus raw CSV (per-case process samples and one row per case).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::process::Sample;

/// The machine and code a run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub memory_gb: f64,
    pub kernel: String,
    pub commit: String,
    /// `git status` had uncommitted changes.
    pub dirty: bool,
    pub rustc: String,
}

impl Machine {
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
            .unwrap_or_default();
        let memory_kb: f64 = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                l.strip_prefix("MemTotal:").map(|v| {
                    v.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse()
                        .unwrap_or(0.0)
                })
            })
            .unwrap_or(0.0);
        let output = |program: &str, args: &[&str]| {
            std::process::Command::new(program)
                .args(args)
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default()
        };
        Self {
            cpu_model,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gb: (memory_kb / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: output("uname", &["-r"]),
            commit: output("git", &["rev-parse", "--short=12", "HEAD"]),
            dirty: !output("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty(),
            rustc: output("rustc", &["--version"]),
        }
    }
}

/// A peer measured under the same load in the same run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BaselineResult {
    /// `rotel-blackhole` or `otelcol-filelog`.
    pub name: String,
    pub records: u64,
    pub cpu_secs: f64,
    pub records_per_cpu_second: f64,
    pub peak_rss_mb: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// IceGate's records per CPU-second over this peer's.
    pub icegate_ratio: f64,
}

/// One case's figures for the `icegate` process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CaseResult {
    pub case: String,
    pub description: String,
    pub protocol: String,
    pub storage: String,
    /// The loadgen's target rate (0: as fast as possible).
    pub target_rate: u64,
    pub records_acked: u64,
    /// Records the table holds afterwards (snapshot summary).
    pub records_in_table: u64,
    pub elapsed_secs: f64,
    pub achieved_records_per_sec: f64,
    /// Acknowledged request bytes per second, MB.
    pub achieved_mb_per_sec: f64,
    /// Server CPU (user + system) from start to exit, including the final flush and commit.
    pub server_cpu_secs: f64,
    /// The headline: records acknowledged and committed per server CPU-second.
    pub records_per_cpu_second: f64,
    pub peak_rss_mb: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub errors: u64,
    /// Request (OTLP protobuf / JSON / NDJSON) bytes per record.
    pub bytes_per_record: f64,
    /// Data file bytes in the table (snapshot summary `total-files-size`).
    pub stored_bytes: u64,
    pub data_files: u64,
    /// Request bytes of the records in the table over their stored bytes.
    pub compression_ratio: f64,
    /// From spawn to the first 200 on /readyz, empty WAL.
    pub ready_ms: f64,
    /// What one loadgen core pushed in this case.
    pub loadgen_records_per_cpu_second: f64,
    pub baselines: Vec<BaselineResult>,
}

/// A whole harness run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunSummary {
    pub date: String,
    pub machine: Machine,
    /// How the processes were placed.
    pub placement: String,
    pub cases: Vec<CaseResult>,
}

/// Writes `samples` as `secs,cpu_secs,rss_kb` CSV.
pub fn write_samples(path: &Path, samples: &[Sample]) -> std::io::Result<()> {
    let mut text = String::from("secs,cpu_secs,rss_kb\n");
    for s in samples {
        text.push_str(&format!("{:.3},{:.3},{}\n", s.secs, s.cpu_secs, s.rss_kb));
    }
    std::fs::write(path, text)
}

/// One CSV row per case (and per baseline) of a run.
pub fn write_cases_csv(path: &Path, summary: &RunSummary) -> std::io::Result<()> {
    let mut text = String::from(
        "case,process,records,cpu_secs,records_per_cpu_second,peak_rss_mb,achieved_records_per_sec,p50_ms,p99_ms,compression_ratio,ready_ms\n",
    );
    for case in &summary.cases {
        text.push_str(&format!(
            "{},icegate,{},{:.3},{:.0},{:.1},{:.0},{:.3},{:.3},{:.2},{:.1}\n",
            case.case,
            case.records_acked,
            case.server_cpu_secs,
            case.records_per_cpu_second,
            case.peak_rss_mb,
            case.achieved_records_per_sec,
            case.p50_ms,
            case.p99_ms,
            case.compression_ratio,
            case.ready_ms
        ));
        for baseline in &case.baselines {
            text.push_str(&format!(
                "{},{},{},{:.3},{:.0},{:.1},,{},{},,\n",
                case.case,
                baseline.name,
                baseline.records,
                baseline.cpu_secs,
                baseline.records_per_cpu_second,
                baseline.peak_rss_mb,
                baseline
                    .p50_ms
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or_default(),
                baseline
                    .p99_ms
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or_default(),
            ));
        }
    }
    std::fs::write(path, text)
}
