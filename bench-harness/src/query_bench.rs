//! `bench-harness query`: ice-grep against DuckDB (1.5.5, iceberg extension) on the same
//! generated logs table, in the same run.
//!
//! The table is written once through IceGate's own write path (OTLP request → direct decoder
//! → sort → zstd Parquet → Iceberg commit, SQLite catalog, local warehouse): mixed-shape log
//! records spread evenly over `hours` hours and `services` services, one commit per hour, so
//! it has `hours × services` data files. Two queries run on both engines, three times each
//! (the median is reported), each engine as its own process:
//! - selective: one service, one hour, a regex over the body;
//! - full scan: the regex over every body, counted.
//!
//! Reported per query: wall time, process CPU time, rows and log-text bytes per CPU-second,
//! and for ice-grep the files scanned and pruned (its `--explain`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use icegate_committer::{CommitRequest, IcebergCommitter, TableCommitter};
use icegate_datasets::{DatasetConfig, LogGenerator, LogShape, otlp};
use icegate_ingest::IngestConfig;
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::process::{self, Usage};

/// 2025-11-24T00:00:00Z: the table's first hour.
const START_NANOS: u64 = 1_763_942_400_000_000_000;
/// The regex both engines run.
pub const PATTERN: &str = "timed out|refused";

/// The generated table's shape.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TableShape {
    pub rows: u64,
    pub hours: u64,
    pub services: u32,
}

/// Writes the table into `data_dir` unless it is already there with that many rows.
pub fn ensure_table(data_dir: &Path, shape: TableShape) -> anyhow::Result<IngestConfig> {
    let config = IngestConfig::load(None, Some(data_dir))?;
    let stamp = data_dir.join("query-bench.json");
    if std::fs::read_to_string(&stamp)
        .is_ok_and(|text| text == serde_json::to_string(&shape).unwrap_or_default())
    {
        return Ok(config);
    }
    if data_dir.exists() {
        std::fs::remove_dir_all(data_dir)?;
    }
    std::fs::create_dir_all(data_dir)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(write_table(&config, shape))?;
    std::fs::write(&stamp, serde_json::to_string(&shape)?)?;
    Ok(config)
}

async fn write_table(config: &IngestConfig, shape: TableShape) -> anyhow::Result<()> {
    let lake = icegate_committer::open_lake(&config.lake, &config.data_dir).await?;
    let schema = icegate_schema::logs_schema();
    let layout = icegate_schema::TableLayout::default();
    let table = lake.table("logs", &schema, &layout).await?;
    let committer = IcebergCommitter::new(lake);
    let per_hour = shape.rows / shape.hours;
    let mut decoder = icegate_parser::OtlpLogsDecoder::new();
    for hour in 0..shape.hours {
        let mut generator = LogGenerator::new(
            LogShape::Mixed,
            &DatasetConfig {
                seed: hour,
                services: shape.services,
                start_unix_nano: START_NANOS + hour * 3_600_000_000_000,
                records_per_second: per_hour as f64 / 3600.0,
                ..DatasetConfig::default()
            },
        );
        let mut batches = Vec::new();
        let mut left = per_hour;
        while left > 0 {
            let count = left.min(50_000);
            left -= count;
            let records = generator.take(count as usize);
            let request = otlp::logs_request(&records, generator.services(), &[]).encode_to_vec();
            batches.push(decoder.decode(&request, 0)?);
        }
        let merged = arrow::compute::concat_batches(&batches[0].schema(), &batches)?;
        let sorted = icegate_batcher::sort_batch("logs", &merged, &layout.sort_by)?;
        let files = icegate_writer::write_data_files(&table, &sorted, &config.parquet).await?;
        committer
            .commit(
                "logs",
                CommitRequest {
                    writer_id: "query-bench".into(),
                    first_seq: hour,
                    last_seq: hour,
                    files,
                },
            )
            .await?;
        eprintln!("   hour {}/{}: {} rows", hour + 1, shape.hours, per_hour);
    }
    Ok(())
}

/// One engine's timing of one query.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Timing {
    pub engine: String,
    pub query: String,
    pub wall_ms: f64,
    pub cpu_ms: f64,
    /// What the query returned (matches).
    pub result: u64,
}

/// Runs ice-grep with `args` on `data_dir`; returns stdout, wall time and the process usage.
pub fn run_ice_grep(
    bin: &Path,
    data_dir: &Path,
    args: &[String],
) -> anyhow::Result<(String, Duration, Usage)> {
    let out = data_dir.with_extension("out");
    let mut command = Command::new(bin);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdout(std::fs::File::create(&out)?)
        .stderr(Stdio::inherit());
    let started = Instant::now();
    let child = process::spawn("ice-grep", command, None, Duration::from_millis(50))?;
    let (_, usage) = child.wait()?;
    let wall = started.elapsed();
    anyhow::ensure!(
        usage.exit_code <= 1,
        "ice-grep {args:?} exited with {}",
        usage.exit_code
    );
    Ok((std::fs::read_to_string(&out)?, wall, usage))
}

/// Runs `sql` in DuckDB over the table's current metadata file; (count, wall, cpu).
pub fn run_duckdb(python: &Path, metadata: &Path, sql: &str) -> anyhow::Result<(u64, f64, f64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("duckdb_query.py");
    let output = Command::new(python)
        .arg(script)
        .arg(metadata)
        .arg(sql)
        .output()
        .context("running DuckDB")?;
    anyhow::ensure!(
        output.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    Ok((
        json["count"].as_u64().unwrap_or(0),
        json["wall_ms"].as_f64().unwrap_or(0.0),
        json["cpu_ms"].as_f64().unwrap_or(0.0),
    ))
}

/// The newest `*.metadata.json` of the logs table.
pub fn current_metadata(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = data_dir.join("warehouse/default/logs/metadata");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".metadata.json"))
        .collect();
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    files.pop().context("no metadata file")
}

/// Median of three.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
