//! `bench-harness compaction`: a day of 30-second flushes on the embedded default, compacted.
//!
//! The day is written through IceGate's own write path (OTLP request → direct decoder → sort →
//! zstd Parquet → [`IcebergCommitter`], the append `icegate` makes), `commits` flushes of
//! `rows-per-commit` mixed log records over `services` services, event times in yesterday's
//! UTC day (so its partitions are closed when the compactor looks). Then, in one run:
//! - the table before: data files, bytes, manifests, snapshots, metadata.json size; the
//!   append commit latency over the day;
//! - a selective ice-grep query (one service, one hour, a regex), median of three;
//! - Spark 3.5 `rewrite_data_files` (sort strategy, same target size and zstd level) on a copy
//!   of the catalog pointing at the same metadata, so both engines rewrite the same input; its
//!   JVM's CPU time during the call;
//! - `icegate-compactor once` (rewrite, manifest merge, expiry, orphans): process CPU time, so
//!   MB of input per CPU-second;
//! - the table, the query and the append latency after compaction and expiry.
//!
//! With `compact_every` > 0 a second day is written with the compactor's round run in
//! process every that many commits, its partitions live (as on the real day: nothing is
//! rewritten before the day closes) and expiry keeping six hours of 30-second snapshots, to
//! show the append latency over a day the compactor maintains.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use icegate_committer::{CommitRequest, IcebergCommitter, TableCommitter};
use icegate_compactor::live::TableState;
use icegate_compactor::{Compactor, CompactorConfig};
use icegate_datasets::{DatasetConfig, LogGenerator, LogShape, otlp};
use icegate_ingest::IngestConfig;
use prost::Message;
use serde::Serialize;

use crate::process;
use crate::query_bench::{PATTERN, median, run_ice_grep};

/// The bench's knobs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub commits: u64,
    pub services: u32,
    pub rows_per_commit: u64,
    pub data_dir: PathBuf,
    /// Run the compactor in process every this many commits on a second day (0: skip).
    pub compact_every: u64,
    pub spark: bool,
    /// Write the day and stop (for profiling the compactor by hand).
    pub write_only: bool,
    /// zstd level both engines rewrite at.
    pub zstd_level: i32,
}

/// The table at one moment.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TableShape {
    pub data_files: usize,
    pub data_bytes: u64,
    pub manifests: usize,
    pub snapshots: usize,
    pub metadata_bytes: u64,
    pub rows: u64,
}

/// Append commit latency, milliseconds.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Latency {
    pub first_100_p50: f64,
    pub last_100_p50: f64,
    pub last_100_p99: f64,
    /// p50 of each simulated hour (120 commits).
    pub hourly_p50: Vec<f64>,
}

/// One compaction engine's run over the day.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct EngineRun {
    pub engine: String,
    pub wall_secs: f64,
    pub cpu_secs: f64,
    pub input_files: u64,
    pub input_bytes: u64,
    pub output_files: u64,
    /// Input MB (10^6 bytes of Parquet, as listed in the manifests) per CPU-second.
    pub mb_per_cpu_sec: f64,
}

/// A selective ice-grep query, median of three.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct QueryTiming {
    pub wall_ms: f64,
    pub cpu_ms: f64,
    pub matches: u64,
    pub files: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Report {
    pub commits: u64,
    pub services: u32,
    pub rows_per_commit: u64,
    pub zstd_level: i32,
    pub build_secs: f64,
    pub before: TableShape,
    pub append_during_day: Latency,
    pub query_before: QueryTiming,
    pub spark: Option<EngineRun>,
    pub icegate: EngineRun,
    pub after: TableShape,
    pub query_after: QueryTiming,
    /// 50 appends on the compacted, expired table.
    pub append_after_p50: f64,
    /// The second day, maintained by the compactor while it was written.
    pub maintained_day: Option<MaintainedDay>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct MaintainedDay {
    pub compact_every: u64,
    pub append: Latency,
    pub end: TableShape,
    pub rounds_cpu_secs: f64,
}

/// Where the day's partitions are: yesterday, UTC.
fn day_start() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    (now / 86_400 - 1) * 86_400
}

struct Day {
    config: IngestConfig,
    committer: IcebergCommitter,
    table: iceberg::table::Table,
    decoder: icegate_parser::OtlpLogsDecoder,
    settings: Settings,
    start: u64,
}

impl Day {
    async fn open(data_dir: &Path, settings: &Settings) -> anyhow::Result<Self> {
        let config = IngestConfig::load(None, Some(data_dir))?;
        let lake = icegate_committer::open_lake(&config.lake, &config.data_dir).await?;
        let table = lake
            .table(
                "logs",
                &icegate_schema::logs_schema(),
                &icegate_schema::TableLayout::default(),
            )
            .await?;
        Ok(Self {
            config,
            committer: IcebergCommitter::new(lake),
            table,
            decoder: icegate_parser::OtlpLogsDecoder::new(),
            settings: settings.clone(),
            start: day_start(),
        })
    }

    /// Writes and commits flush `n`; returns the commit's milliseconds.
    async fn flush(&mut self, n: u64) -> anyhow::Result<f64> {
        let rows = self.settings.rows_per_commit;
        let mut generator = LogGenerator::new(
            LogShape::Mixed,
            &DatasetConfig {
                seed: n,
                services: self.settings.services,
                start_unix_nano: (self.start + n * 30) * 1_000_000_000,
                records_per_second: rows as f64 / 30.0,
                ..DatasetConfig::default()
            },
        );
        let records = generator.take(rows as usize);
        let request = otlp::logs_request(&records, generator.services(), &[]).encode_to_vec();
        let batch = self.decoder.decode(&request, 0)?;
        let layout = icegate_schema::TableLayout::default();
        let sorted = icegate_batcher::sort_batch("logs", &batch, &layout.sort_by)?;
        let files =
            icegate_writer::write_data_files(&self.table, &sorted, &self.config.parquet).await?;
        let begun = Instant::now();
        self.committer
            .commit(
                "logs",
                CommitRequest {
                    writer_id: "compaction-bench".into(),
                    first_seq: n,
                    last_seq: n,
                    files,
                },
            )
            .await?;
        Ok(begun.elapsed().as_secs_f64() * 1000.0)
    }

    async fn shape(&self) -> anyhow::Result<TableShape> {
        let table = self
            .committer
            .lake()
            .catalog()
            .load_table(&self.committer.lake().table_ident("logs"))
            .await?;
        let metadata_bytes = match table.metadata_location() {
            Some(location) => std::fs::metadata(location.trim_start_matches("file://"))?.len(),
            None => 0,
        };
        let snapshots = table.metadata().snapshots().len();
        let state = TableState::load(table).await?;
        let (mut data_files, mut data_bytes, mut rows) = (0, 0, 0);
        for entry in state.data_files() {
            data_files += 1;
            data_bytes += entry.data_file().file_size_in_bytes();
            rows += entry.data_file().record_count();
        }
        Ok(TableShape {
            data_files,
            data_bytes,
            manifests: state.manifests.len(),
            snapshots,
            metadata_bytes,
            rows,
        })
    }
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn latency(commit_ms: &[f64]) -> Latency {
    let first = &commit_ms[..commit_ms.len().min(100)];
    let last = &commit_ms[commit_ms.len().saturating_sub(100)..];
    Latency {
        first_100_p50: percentile(first, 0.5),
        last_100_p50: percentile(last, 0.5),
        last_100_p99: percentile(last, 0.99),
        hourly_p50: commit_ms
            .chunks(120)
            .map(|hour| percentile(hour, 0.5))
            .collect(),
    }
}

/// The compactor's settings for the day: one round takes every small file of a partition.
fn compactor_toml(data_dir: &Path, zstd_level: i32) -> String {
    format!(
        "data-dir = {:?}\n\n[compactor]\ntables = [\"logs\"]\nmax-input-files = 100000\nsnapshot-max-age = \"0s\"\nzstd-level = {zstd_level}\n",
        data_dir.display().to_string()
    )
}

fn fresh(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// One service, the hour in the middle of the commits' span.
fn selective_query(ice_grep: &Path, data_dir: &Path, day: &Day) -> anyhow::Result<QueryTiming> {
    let middle = day.settings.commits * 30 / 2;
    let hour = (day.start + middle / 3600 * 3600) as i64;
    let time = |secs: i64| icegate_query::time::format_micros(secs * 1_000_000);
    let args: Vec<String> = [
        "--service",
        "checkout",
        "--since",
        &time(hour),
        "--until",
        &time(hour + 3600),
        PATTERN,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (explain, _, _) = run_ice_grep(
        ice_grep,
        data_dir,
        &[vec!["--explain".to_string()], args.clone()].concat(),
    )?;
    let files = explain
        .lines()
        .find(|l| l.starts_with("files:"))
        .unwrap_or("")
        .to_string();
    let (mut walls, mut cpus, mut matches) = (Vec::new(), Vec::new(), 0);
    for _ in 0..3 {
        let (stdout, wall, usage) = run_ice_grep(ice_grep, data_dir, &args)?;
        matches = stdout.lines().count() as u64;
        walls.push(wall.as_secs_f64() * 1000.0);
        cpus.push(usage.cpu_secs * 1000.0);
    }
    Ok(QueryTiming {
        wall_ms: median(walls),
        cpu_ms: median(cpus),
        matches,
        files,
    })
}

/// `icegate-compactor once` on the day; its report line gives the input and output.
fn icegate_compactor(bin: &Path, data_dir: &Path, zstd_level: i32) -> anyhow::Result<EngineRun> {
    let config = data_dir.join("compactor.toml");
    std::fs::write(&config, compactor_toml(data_dir, zstd_level))?;
    let out = data_dir.join("compactor.out");
    let mut command = Command::new(bin);
    command
        .arg("--config")
        .arg(&config)
        .arg("once")
        .env("RUST_LOG", "warn")
        .stdout(std::fs::File::create(&out)?)
        .stderr(Stdio::inherit());
    let started = Instant::now();
    let (_, usage) = process::spawn(
        "icegate-compactor",
        command,
        None,
        Duration::from_millis(100),
    )?
    .wait()?;
    let wall_secs = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&out)?;
    anyhow::ensure!(
        usage.exit_code == 0,
        "icegate-compactor once exited with {}: {text}",
        usage.exit_code
    );
    // "table logs: rewrote N files (B bytes) into M in P partitions; ..."
    let number_after = |word: &str| -> anyhow::Result<u64> {
        let rest = text
            .split_once(word)
            .with_context(|| format!("no {word:?} in the compactor's report: {text}"))?
            .1;
        let digits: String = rest
            .trim_start_matches([' ', '('])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits
            .parse()
            .with_context(|| format!("after {word:?} in {text}"))
    };
    let input_files = number_after("rewrote")?;
    let input_bytes = number_after("files")?;
    let output_files = number_after("into")?;
    Ok(EngineRun {
        engine: "icegate-compactor".into(),
        wall_secs,
        cpu_secs: usage.cpu_secs,
        input_files,
        input_bytes,
        output_files,
        mb_per_cpu_sec: input_bytes as f64 / 1e6 / usage.cpu_secs.max(1e-9),
    })
}

/// Spark's `rewrite_data_files` on a copy of the catalog (same metadata, same files).
fn spark_compactor(
    spark_python: &Path,
    data_dir: &Path,
    zstd_level: i32,
) -> anyhow::Result<EngineRun> {
    let catalog = data_dir.join("spark-catalog.db");
    std::fs::copy(data_dir.join("catalog.db"), &catalog)?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("spark_compact.py");
    let started = Instant::now();
    let output = Command::new(spark_python)
        .arg(script)
        .arg(&catalog)
        .arg(data_dir.join("warehouse"))
        .arg("default.logs")
        .arg(CompactorConfig::default().target_file_size.to_string())
        .arg(zstd_level.to_string())
        .stderr(Stdio::inherit())
        .output()
        .context("running Spark")?;
    let wall_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(output.status.success(), "spark_compact.py failed");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .with_context(|| String::from_utf8_lossy(&output.stdout).to_string())?;
    let cpu_secs = json["cpu_secs"].as_f64().unwrap_or(0.0);
    let input_bytes = json["rewritten_bytes"].as_u64().unwrap_or(0);
    eprintln!(
        "   spark: call {:.1} s wall, {:.1} s JVM CPU; process {wall_secs:.1} s wall",
        json["wall_secs"].as_f64().unwrap_or(0.0),
        cpu_secs
    );
    Ok(EngineRun {
        engine: "spark-3.5.9-iceberg-1.10.2".into(),
        wall_secs: json["wall_secs"].as_f64().unwrap_or(0.0),
        cpu_secs,
        input_files: json["rewritten_files"].as_u64().unwrap_or(0),
        input_bytes,
        output_files: json["added_files"].as_u64().unwrap_or(0),
        mb_per_cpu_sec: input_bytes as f64 / 1e6 / cpu_secs.max(1e-9),
    })
}

/// Writes the day, measures, compacts with Spark (on a copy) and IceGate, measures again.
pub fn run(
    settings: &Settings,
    bin_dir: &Path,
    spark_python: Option<&Path>,
) -> anyhow::Result<Report> {
    let runtime = tokio::runtime::Runtime::new()?;
    let ice_grep = bin_dir.join("ice-grep");
    let compactor_bin = bin_dir.join("icegate-compactor");
    for bin in [&ice_grep, &compactor_bin] {
        anyhow::ensure!(bin.exists(), "no release {}", bin.display());
    }
    let dir = settings.data_dir.join("day");
    fresh(&dir)?;
    let mut day = runtime.block_on(Day::open(&dir, settings))?;
    eprintln!(
        "== a day: {} commits x {} rows over {} services",
        settings.commits, settings.rows_per_commit, settings.services
    );
    let started = Instant::now();
    let mut commit_ms = Vec::new();
    for n in 0..settings.commits {
        commit_ms.push(runtime.block_on(day.flush(n))?);
        report_progress(n + 1, started, &commit_ms);
    }
    let build_secs = started.elapsed().as_secs_f64();
    let before = runtime.block_on(day.shape())?;
    anyhow::ensure!(
        before.rows == settings.commits * settings.rows_per_commit,
        "the day holds {} rows, not {}",
        before.rows,
        settings.commits * settings.rows_per_commit
    );
    eprintln!("   before: {before:?}");
    if settings.write_only {
        anyhow::bail!("--write-only: the day is in {}", dir.display());
    }
    let query_before = selective_query(&ice_grep, &dir, &day)?;
    eprintln!("   query before: {query_before:?}");
    let spark = match (settings.spark, spark_python) {
        (false, _) => None,
        (true, Some(python)) => Some(spark_compactor(python, &dir, settings.zstd_level)?),
        (true, None) => anyhow::bail!("no Spark python (ci/spark-setup.sh installs it)"),
    };
    let icegate = icegate_compactor(&compactor_bin, &dir, settings.zstd_level)?;
    eprintln!("   {icegate:?}");
    let after = runtime.block_on(day.shape())?;
    anyhow::ensure!(
        after.rows == before.rows,
        "compaction changed the row count: {} -> {}",
        before.rows,
        after.rows
    );
    eprintln!("   after: {after:?}");
    let query_after = selective_query(&ice_grep, &dir, &day)?;
    anyhow::ensure!(
        query_after.matches == query_before.matches,
        "the selective query found {} before and {} after",
        query_before.matches,
        query_after.matches
    );
    eprintln!("   query after: {query_after:?}");
    let mut later_ms = Vec::new();
    for n in settings.commits..settings.commits + 50 {
        later_ms.push(runtime.block_on(day.flush(n))?);
    }
    let maintained_day = if settings.compact_every > 0 {
        Some(runtime.block_on(maintained_day(settings))?)
    } else {
        None
    };
    Ok(Report {
        commits: settings.commits,
        services: settings.services,
        rows_per_commit: settings.rows_per_commit,
        zstd_level: settings.zstd_level,
        build_secs,
        before,
        append_during_day: latency(&commit_ms),
        query_before,
        spark,
        icegate,
        after,
        query_after,
        append_after_p50: percentile(&later_ms, 0.5),
        maintained_day,
    })
}

/// The second day: the compactor's round every `compact_every` commits, in process. The
/// day is live (closed-after beyond it: nothing rewritten before it closes); expiry keeps
/// 720 snapshots, six hours of 30-second commits (the default `snapshot-max-age`).
async fn maintained_day(settings: &Settings) -> anyhow::Result<MaintainedDay> {
    let dir = settings.data_dir.join("maintained");
    fresh(&dir)?;
    let mut day = Day::open(&dir, settings).await?;
    let config = CompactorConfig {
        tables: vec!["logs".into()],
        closed_after: Duration::from_secs(3650 * 86_400),
        snapshot_max_age: Duration::ZERO,
        min_snapshots: 720,
        ..CompactorConfig::default()
    };
    let compactor = Compactor::open(
        &day.config.lake,
        &day.config.data_dir,
        &day.config.parquet,
        config,
        false,
    )
    .await?;
    eprintln!(
        "== the same day, the compactor every {} commits",
        settings.compact_every
    );
    let started = Instant::now();
    let mut commit_ms = Vec::new();
    let mut rounds_cpu_secs = 0.0;
    for n in 0..settings.commits {
        commit_ms.push(day.flush(n).await?);
        if (n + 1) % settings.compact_every == 0 {
            let cpu = process::self_cpu_secs();
            let reports = compactor.round(SystemTime::now()).await;
            rounds_cpu_secs += process::self_cpu_secs() - cpu;
            anyhow::ensure!(
                reports.iter().all(|report| report.failures.is_empty()),
                "a round failed: {reports:?}"
            );
        }
        report_progress(n + 1, started, &commit_ms);
    }
    let end = day.shape().await?;
    anyhow::ensure!(
        end.rows == settings.commits * settings.rows_per_commit,
        "the maintained day holds {} rows, not {}",
        end.rows,
        settings.commits * settings.rows_per_commit
    );
    Ok(MaintainedDay {
        compact_every: settings.compact_every,
        append: latency(&commit_ms),
        end,
        rounds_cpu_secs,
    })
}

/// A progress line every 240 commits (two hours of a day).
fn report_progress(done: u64, started: Instant, commit_ms: &[f64]) {
    if done.is_multiple_of(240) {
        eprintln!(
            "   {done} commits, {:.0} s; last commit {:.0} ms",
            started.elapsed().as_secs_f64(),
            commit_ms.last().copied().unwrap_or_default()
        );
    }
}
