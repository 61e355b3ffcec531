//! Running one case: fresh storage, the server on one core, the load (or the Go collector) on
//! the other, then the same load against each baseline.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use icegate_datasets::{DatasetConfig, LogGenerator, LogShape};
use icegate_ingest::IngestConfig;
use icegate_loadgen::{LoadSpec, Protocol, Report};

use crate::case::{Baseline, Case, CaseKind, Storage};
use crate::process::{self, Usage};
use crate::results::{BaselineResult, CaseResult, write_samples};
use crate::targets::{self, Tools};

/// Where processes go: the server alone on one core, the load on the other.
pub const SERVER_CPU: usize = 0;
pub const LOAD_CPU: usize = 1;

/// What all cases of one run share.
pub struct Runner {
    pub tools: Tools,
    /// Raw per-case files go here.
    pub out_dir: PathBuf,
    /// Scratch (data dirs, logs); emptied per case.
    pub work_root: PathBuf,
    /// Multiplies every case's duration (short smoke runs in tests).
    pub duration_scale: f64,
    /// Pin processes to [`SERVER_CPU`]/[`LOAD_CPU`] (needs two cores).
    pub pin: bool,
    /// Achieved records/s of the cases run so far, for `rate-of`.
    pub achieved: HashMap<String, f64>,
}

impl Runner {
    fn cpu(&self, cpu: usize) -> Option<usize> {
        self.pin.then_some(cpu)
    }

    /// Runs `case`; its samples land in `out_dir/<case>-*.csv`.
    pub fn run(&mut self, case: &Case) -> anyhow::Result<CaseResult> {
        let work = self.work_root.join(&case.name);
        if work.exists() {
            std::fs::remove_dir_all(&work)?;
        }
        std::fs::create_dir_all(&work)?;
        std::fs::create_dir_all(&self.out_dir)?;
        let seaweed = match case.file.storage {
            Storage::Seaweedfs => Some(targets::start_seaweedfs(&self.tools, &work)?),
            Storage::Local => None,
        };
        let result = match case.file.kind {
            CaseKind::Load => self.run_load(case, &work),
            CaseKind::Filelog => self.run_filelog(case, &work),
        };
        if let Some(seaweed) = seaweed {
            seaweed.stop(Duration::from_secs(10))?;
        }
        let result = result?;
        self.achieved
            .insert(case.name.clone(), result.achieved_records_per_sec);
        Ok(result)
    }

    fn spec_for(&self, case: &Case) -> anyhow::Result<LoadSpec> {
        let mut spec = case.load.clone();
        spec.duration_secs *= self.duration_scale;
        if let Some(other) = &case.file.rate_of {
            let achieved = self
                .achieved
                .get(other)
                .with_context(|| format!("{}: rate-of {other}, which has not run", case.name))?;
            spec.rate = (achieved * case.file.rate_fraction).max(1.0) as u64;
        }
        if let Some(mb) = case.file.target_mb_per_sec {
            let payloads = icegate_loadgen::payload::generate(
                &LoadSpec {
                    payloads: 2,
                    ..spec.clone()
                },
                0,
            )?;
            let bytes: usize = payloads.iter().map(|p| p.body.len()).sum();
            let records: u64 = payloads.iter().map(|p| p.records).sum();
            spec.rate = (mb * 1e6 / (bytes as f64 / records as f64)) as u64;
        }
        Ok(spec)
    }

    fn run_load(&self, case: &Case, work: &Path) -> anyhow::Result<CaseResult> {
        let mut spec = self.spec_for(case)?;
        let icegate =
            targets::start_icegate(&self.tools, case.server.clone(), work, self.cpu(SERVER_CPU))?;
        spec.endpoint = Some(match spec.protocol {
            Protocol::Grpc => format!("http://{}", icegate.config.grpc_addr),
            _ => format!("http://{}", icegate.config.http_addr),
        });
        let report = self.loadgen(&spec, work, "icegate")?;
        let (samples, usage) = icegate.process.stop(Duration::from_secs(120))?;
        anyhow::ensure!(
            usage.exit_code == 0,
            "icegate exited with {}; see {}",
            usage.exit_code,
            work.join("icegate.log").display()
        );
        write_samples(
            &self.out_dir.join(format!("{}-icegate.csv", case.name)),
            &samples,
        )?;
        let table = table_stats(&icegate.config)?;
        let mut result = case_result(case, &spec, &report, &usage, &table, icegate.ready);

        for baseline in &case.file.baselines {
            match baseline {
                Baseline::Rotel if self.tools.rotel.is_some() => {
                    let (rotel, grpc, http) =
                        targets::start_rotel(&self.tools, work, self.cpu(SERVER_CPU))?;
                    let mut peer = spec.clone();
                    peer.endpoint = Some(if spec.protocol == Protocol::Grpc {
                        grpc
                    } else {
                        http
                    });
                    let report = self.loadgen(&peer, work, "rotel")?;
                    let (samples, usage) = rotel.stop(Duration::from_secs(30))?;
                    write_samples(
                        &self.out_dir.join(format!("{}-rotel.csv", case.name)),
                        &samples,
                    )?;
                    result.baselines.push(baseline_result(
                        "rotel-blackhole",
                        report.records.acked,
                        &usage,
                        Some(&report),
                        result.records_per_cpu_second,
                    ));
                }
                Baseline::Rotel => {
                    eprintln!(
                        "{}: rotel is not installed (bench-harness/setup.sh); baseline skipped",
                        case.name
                    );
                }
            }
        }
        Ok(result)
    }

    /// Runs the release loadgen on the load core and reads its report.
    fn loadgen(&self, spec: &LoadSpec, work: &Path, target: &str) -> anyhow::Result<Report> {
        let spec_path = work.join(format!("loadgen-{target}.toml"));
        std::fs::write(&spec_path, toml::to_string(spec)?)?;
        let report_path = self.out_dir.join(format!(
            "{}-{target}-loadgen.json",
            work.file_name().unwrap_or_default().to_string_lossy()
        ));
        let mut command = Command::new(self.tools.loadgen());
        command
            .args(["run", "--quiet", "--spec"])
            .arg(&spec_path)
            .arg("--report")
            .arg(&report_path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(
                work.join(format!("loadgen-{target}.log")),
            )?);
        let loadgen = process::spawn(
            "loadgen",
            command,
            self.cpu(LOAD_CPU),
            Duration::from_secs(1),
        )?;
        let (_, usage) = loadgen.wait()?;
        anyhow::ensure!(
            usage.exit_code == 0,
            "loadgen exited with {}; see {}",
            usage.exit_code,
            work.join(format!("loadgen-{target}.log")).display()
        );
        let text = std::fs::read_to_string(&report_path)?;
        Ok(serde_json::from_str(&text)?)
    }

    fn run_filelog(&self, case: &Case, work: &Path) -> anyhow::Result<CaseResult> {
        anyhow::ensure!(
            self.tools.otelcol.is_some(),
            "otelcol is not installed (bench-harness/setup.sh)"
        );
        let records =
            (case.file.file_records as f64 * self.duration_scale.min(1.0)).max(100.0) as u64;
        let log_file = work.join("access.log");
        let bytes = write_log_file(&log_file, records)?;
        let icegate =
            targets::start_icegate(&self.tools, case.server.clone(), work, self.cpu(SERVER_CPU))?;
        let started = Instant::now();
        let otelcol = targets::start_otelcol(
            &self.tools,
            work,
            &log_file,
            &format!("http://{}", icegate.config.http_addr),
            self.cpu(LOAD_CPU),
        )?;
        let deadline = started + Duration::from_secs(600);
        while targets::accepted_logs(icegate.config.http_addr).unwrap_or(0) < records {
            anyhow::ensure!(
                Instant::now() < deadline,
                "otelcol shipped too little within 10 min; see {}",
                work.join("otelcol.log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let elapsed = started.elapsed().as_secs_f64();
        let (otel_samples, otel_usage) = otelcol.stop(Duration::from_secs(30))?;
        let (samples, usage) = icegate.process.stop(Duration::from_secs(120))?;
        write_samples(
            &self.out_dir.join(format!("{}-icegate.csv", case.name)),
            &samples,
        )?;
        write_samples(
            &self.out_dir.join(format!("{}-otelcol.csv", case.name)),
            &otel_samples,
        )?;
        let table = table_stats(&icegate.config)?;
        let rate = records as f64 / elapsed;
        let mut result = CaseResult {
            case: case.name.clone(),
            description: case.file.description.clone(),
            protocol: "otlp-http from otelcol".into(),
            storage: format!("{:?}", case.file.storage).to_lowercase(),
            target_rate: 0,
            records_acked: records,
            records_in_table: table.records,
            elapsed_secs: elapsed,
            achieved_records_per_sec: rate,
            achieved_mb_per_sec: bytes as f64 / elapsed / 1e6,
            server_cpu_secs: usage.cpu_secs,
            records_per_cpu_second: records as f64 / usage.cpu_secs.max(1e-9),
            peak_rss_mb: usage.max_rss_kb as f64 / 1024.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
            p999_ms: 0.0,
            errors: 0,
            bytes_per_record: bytes as f64 / records as f64,
            stored_bytes: table.files_size,
            data_files: table.data_files,
            compression_ratio: bytes as f64 / table.files_size.max(1) as f64,
            ready_ms: icegate.ready.as_secs_f64() * 1000.0,
            loadgen_records_per_cpu_second: 0.0,
            baselines: Vec::new(),
        };
        result.baselines.push(baseline_result(
            "otelcol-filelog",
            records,
            &otel_usage,
            None,
            result.records_per_cpu_second,
        ));
        Ok(result)
    }
}

/// Writes `records` nginx access lines; returns the file's size.
fn write_log_file(path: &Path, records: u64) -> anyhow::Result<u64> {
    let mut generator = LogGenerator::new(LogShape::Nginx, &DatasetConfig::default());
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut bytes = 0;
    for _ in 0..records {
        let line = generator.next_record().body;
        bytes += line.len() as u64 + 1;
        writeln!(file, "{line}")?;
    }
    file.flush()?;
    Ok(bytes)
}

/// The logs table's size from its current snapshot's summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct TableStats {
    pub records: u64,
    pub files_size: u64,
    pub data_files: u64,
}

fn table_stats(config: &IngestConfig) -> anyhow::Result<TableStats> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let lake = icegate_committer::open_lake(&config.lake, &config.data_dir).await?;
        let mut stats = TableStats::default();
        for table in [
            &config.lake.tables.logs,
            &config.lake.tables.traces,
            &config.lake.tables.metrics,
        ] {
            let Ok(table) = lake.catalog().load_table(&lake.table_ident(table)).await else {
                continue;
            };
            let Some(snapshot) = table.metadata().current_snapshot() else {
                continue;
            };
            let get = |key: &str| -> u64 {
                snapshot
                    .summary()
                    .additional_properties
                    .get(key)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            stats.records += get("total-records");
            stats.files_size += get("total-files-size");
            stats.data_files += get("total-data-files");
        }
        Ok(stats)
    })
}

fn case_result(
    case: &Case,
    spec: &LoadSpec,
    report: &Report,
    usage: &Usage,
    table: &TableStats,
    ready: Duration,
) -> CaseResult {
    CaseResult {
        case: case.name.clone(),
        description: case.file.description.clone(),
        protocol: format!("{:?}", spec.protocol).to_lowercase(),
        storage: format!("{:?}", case.file.storage).to_lowercase(),
        target_rate: spec.rate,
        records_acked: report.records.acked,
        records_in_table: table.records,
        elapsed_secs: report.elapsed_secs,
        achieved_records_per_sec: report.acked_records_per_sec,
        achieved_mb_per_sec: report.acked_bytes_per_sec / 1e6,
        server_cpu_secs: usage.cpu_secs,
        records_per_cpu_second: report.records.acked as f64 / usage.cpu_secs.max(1e-9),
        peak_rss_mb: usage.max_rss_kb as f64 / 1024.0,
        p50_ms: report.latency_us.p50 as f64 / 1000.0,
        p99_ms: report.latency_us.p99 as f64 / 1000.0,
        p999_ms: report.latency_us.p999 as f64 / 1000.0,
        errors: report.errors.values().sum(),
        bytes_per_record: report.bytes_per_record,
        stored_bytes: table.files_size,
        data_files: table.data_files,
        compression_ratio: report.bytes_per_record * table.records as f64
            / table.files_size.max(1) as f64,
        ready_ms: ready.as_secs_f64() * 1000.0,
        loadgen_records_per_cpu_second: report.loadgen_records_per_cpu_sec,
        baselines: Vec::new(),
    }
}

fn baseline_result(
    name: &str,
    records: u64,
    usage: &Usage,
    report: Option<&Report>,
    icegate_records_per_cpu_second: f64,
) -> BaselineResult {
    let per_cpu = records as f64 / usage.cpu_secs.max(1e-9);
    BaselineResult {
        name: name.to_string(),
        records,
        cpu_secs: usage.cpu_secs,
        records_per_cpu_second: per_cpu,
        peak_rss_mb: usage.max_rss_kb as f64 / 1024.0,
        p50_ms: report.map(|r| r.latency_us.p50 as f64 / 1000.0),
        p99_ms: report.map(|r| r.latency_us.p99 as f64 / 1000.0),
        icegate_ratio: icegate_records_per_cpu_second / per_cpu.max(1e-9),
    }
}
