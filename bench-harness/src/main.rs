//! `bench-harness run|compare|gate`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use icegate_bench_harness::case::Case;
use icegate_bench_harness::results::{Machine, RunSummary, write_cases_csv};
use icegate_bench_harness::runner::Runner;
use icegate_bench_harness::targets::Tools;
use icegate_bench_harness::{compaction_bench, compare, gate, plot, query_bench};

#[derive(Debug, Parser)]
#[command(
    name = "bench-harness",
    version,
    about = "IceGate's end-to-end benchmarks and regression gates"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run cases (all of them by default) and record the results.
    Run {
        /// Case names (folders under --cases).
        cases: Vec<String>,
        #[arg(long, default_value = "bench-harness/cases")]
        cases_dir: PathBuf,
        /// Results folder. Default: results/DATE-MACHINE/e2e.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Directory with the release icegate and icegate-loadgen.
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// Multiply case durations (e.g. 0.1 for a smoke run).
        #[arg(long, default_value_t = 1.0)]
        duration_scale: f64,
        /// Do not pin processes to CPUs.
        #[arg(long)]
        no_pin: bool,
        /// Machine name for the default results folder.
        #[arg(long, default_value = "rust-2c")]
        machine: String,
    },
    /// Compare a run's summary.json against a stored one.
    Compare {
        baseline: PathBuf,
        new: PathBuf,
        /// Changes within this fraction are "no change".
        #[arg(long, default_value_t = 0.05)]
        tolerance: f64,
    },
    /// ice-grep against DuckDB's iceberg extension on one generated logs table.
    Query {
        #[arg(long, default_value_t = 10_000_032)]
        rows: u64,
        #[arg(long, default_value_t = 48)]
        hours: u64,
        #[arg(long, default_value_t = 16)]
        services: u32,
        /// Where the generated table lives (kept between runs).
        #[arg(long, default_value = "/var/tmp/icegate-query-bench")]
        data_dir: PathBuf,
        #[command(flatten)]
        results: ResultsArgs,
    },
    /// A day of 30-second flushes, compacted by icegate-compactor and by Spark.
    Compaction {
        #[arg(long, default_value_t = 2880)]
        commits: u64,
        #[arg(long, default_value_t = 16)]
        services: u32,
        #[arg(long, default_value_t = 1600)]
        rows_per_commit: u64,
        /// Also write a second day with the compactor's round every this many commits
        /// (0: skip).
        #[arg(long, default_value_t = 10)]
        compact_every: u64,
        /// zstd level both engines rewrite at (default: the compactor's).
        #[arg(long, default_value_t = icegate_compactor::CompactorConfig::default().zstd_level)]
        zstd_level: i32,
        /// Skip Spark's rewrite_data_files.
        #[arg(long)]
        no_spark: bool,
        /// Write the day, then stop with an error naming its folder.
        #[arg(long)]
        write_only: bool,
        /// Scratch space for the tables (emptied first).
        #[arg(long, default_value = "/var/tmp/icegate-compaction-bench")]
        data_dir: PathBuf,
        #[command(flatten)]
        results: ResultsArgs,
    },
    /// Instruction counts of the hot paths against bench-harness/instructions.json.
    Gate {
        /// Write the measured counts as the new baseline.
        #[arg(long)]
        update: bool,
        /// Allowed increase, as a fraction.
        #[arg(long, default_value_t = 0.02)]
        tolerance: f64,
        #[arg(long, default_value = "bench-harness/instructions.json")]
        baseline: PathBuf,
    },
}

/// Where a bench's results go and which binaries it runs.
#[derive(Debug, clap::Args)]
struct ResultsArgs {
    /// Results folder. Default: results/DATE-MACHINE/BENCH (query, compactor).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Directory with the release binaries (ice-grep, icegate-compactor).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Machine name for the default results folder.
    #[arg(long, default_value = "rust-2c")]
    machine: String,
}

impl ResultsArgs {
    /// The results folder for `bench` run on `date`.
    fn folder(&self, date: &str, bench: &str) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("results/{date}-{}/{bench}", self.machine)))
    }
}

fn today() -> String {
    std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "unknown-date".into())
}

fn run(
    names: Vec<String>,
    cases_dir: PathBuf,
    out: Option<PathBuf>,
    bin_dir: Option<PathBuf>,
    duration_scale: f64,
    pin: bool,
    machine: String,
) -> anyhow::Result<bool> {
    let date = today();
    let out = out.unwrap_or_else(|| PathBuf::from(format!("results/{date}-{machine}/e2e")));
    let mut cases = Case::load_all(&cases_dir)?;
    if !names.is_empty() {
        cases.retain(|c| names.contains(&c.name));
        anyhow::ensure!(
            !cases.is_empty(),
            "no case named {names:?} under {}",
            cases_dir.display()
        );
    }
    let tools = Tools::discover(bin_dir);
    anyhow::ensure!(
        tools.icegate().exists() && tools.loadgen().exists(),
        "no release icegate/icegate-loadgen in {} (bench-harness/run.sh builds them)",
        tools.bin_dir.display()
    );
    let mut runner = Runner {
        tools,
        out_dir: out.clone(),
        work_root: std::env::temp_dir().join("icegate-bench"),
        duration_scale,
        pin,
        achieved: HashMap::new(),
    };
    let mut summary = RunSummary {
        date,
        machine: Machine::read(),
        placement: if pin {
            "icegate (and each baseline) pinned to CPU 0, load generator to CPU 1".into()
        } else {
            "unpinned".into()
        },
        cases: Vec::new(),
    };
    let mut ok = true;
    for case in &cases {
        eprintln!("== {}: {}", case.name, case.file.description);
        match runner.run(case) {
            Ok(result) => {
                eprintln!(
                    "   {:.0} records/CPU-s, {:.0} rec/s, p50 {:.2} ms, p99 {:.2} ms, RSS {:.0} MB, ready {:.1} ms, {:.1}x compression{}",
                    result.records_per_cpu_second,
                    result.achieved_records_per_sec,
                    result.p50_ms,
                    result.p99_ms,
                    result.peak_rss_mb,
                    result.ready_ms,
                    result.compression_ratio,
                    result
                        .baselines
                        .iter()
                        .map(|b| format!(
                            "; {} {:.0} records/CPU-s (icegate {:.2}x)",
                            b.name, b.records_per_cpu_second, b.icegate_ratio
                        ))
                        .collect::<String>()
                );
                summary.cases.push(result);
            }
            Err(err) => {
                eprintln!("   FAILED: {err:#}");
                ok = false;
            }
        }
    }
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    write_cases_csv(&out.join("cases.csv"), &summary)?;
    plot::throughput_latency(&summary, &out.join("throughput-latency.svg"))
        .map_err(|err| anyhow::anyhow!("plotting: {err}"))?;
    for case in &summary.cases {
        let mut series = Vec::new();
        for process in ["icegate", "rotel", "otelcol"] {
            let path = out.join(format!("{}-{process}.csv", case.case));
            if let Ok(samples) = read_samples(&path) {
                series.push((process, samples));
            }
        }
        let borrowed: Vec<(&str, &[_])> = series.iter().map(|(n, s)| (*n, s.as_slice())).collect();
        plot::rss_over_time(
            &case.case,
            &borrowed,
            &out.join(format!("rss-{}.svg", case.case)),
        )
        .map_err(|err| anyhow::anyhow!("plotting: {err}"))?;
    }
    eprintln!("results in {}", out.display());
    Ok(ok)
}

fn compaction(settings: &compaction_bench::Settings, results: ResultsArgs) -> anyhow::Result<bool> {
    let tools = Tools::discover(results.bin_dir.clone());
    let spark_python = std::env::var_os("ICEGATE_SPARK_PYTHON").map(PathBuf::from);
    let date = today();
    let out = results.folder(&date, "compactor");
    std::fs::create_dir_all(&out)?;
    let report = compaction_bench::run(settings, &tools.bin_dir, spark_python.as_deref())?;
    let summary = serde_json::json!({
        "date": date,
        "machine": Machine::read(),
        "report": report,
    });
    let path = out.join("bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)?)?;
    eprintln!("== wrote {}", path.display());
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(true)
}

fn query(
    shape: query_bench::TableShape,
    data_dir: &std::path::Path,
    results: ResultsArgs,
) -> anyhow::Result<bool> {
    use query_bench::{PATTERN, Timing, median, run_duckdb, run_ice_grep};
    let tools = Tools::discover(results.bin_dir.clone());
    let ice_grep = tools.bin_dir.join("ice-grep");
    anyhow::ensure!(
        ice_grep.exists(),
        "no release ice-grep in {}",
        tools.bin_dir.display()
    );
    let python = tools
        .bench_python
        .clone()
        .context("no bench venv python (bench-harness/setup.sh installs DuckDB)")?;
    let date = today();
    let out = results.folder(&date, "query");
    std::fs::create_dir_all(&out)?;
    eprintln!(
        "== table: {} rows, {} hours x {} services",
        shape.rows, shape.hours, shape.services
    );
    query_bench::ensure_table(data_dir, shape)?;
    let metadata = query_bench::current_metadata(data_dir)?;
    // One service, one hour in the middle of the table.
    let hour = 1_763_942_400 + (shape.hours / 2) as i64 * 3600;
    let time = |secs: i64| icegate_query::time::format_micros(secs * 1_000_000);
    let (since, until) = (time(hour), time(hour + 3600));
    let service = "checkout";
    let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let selective = strings(&[
        "--service",
        service,
        "--since",
        &since,
        "--until",
        &until,
        PATTERN,
    ]);
    let full_sql = format!("SELECT count(*) AS n FROM logs WHERE regexp_like(body, '{PATTERN}')");
    let full = strings(&["sql", &full_sql, "--format", "csv"]);
    let count_of = |csv: &str| {
        csv.lines()
            .nth(1)
            .and_then(|l| l.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let sum_sql = |filter: &str| {
        strings(&[
            "sql",
            &format!("SELECT sum(length(body)) AS n FROM logs {filter}"),
            "--format",
            "csv",
        ])
    };
    let (total_text, _, _) = run_ice_grep(&ice_grep, data_dir, &sum_sql(""))?;
    let selective_filter = format!(
        "WHERE service_name = '{service}' AND timestamp >= CAST('{since}' AS TIMESTAMP) AND timestamp < CAST('{until}' AS TIMESTAMP)"
    );
    let (selective_text, _, _) = run_ice_grep(&ice_grep, data_dir, &sum_sql(&selective_filter))?;
    let (explain, _, _) = run_ice_grep(
        &ice_grep,
        data_dir,
        &[vec!["--explain".to_string()], selective.clone()].concat(),
    )?;
    let files_line = explain
        .lines()
        .find(|l| l.starts_with("files:"))
        .unwrap_or("")
        .to_string();
    let duck_selective = format!(
        "SELECT count(*) FROM logs WHERE service_name = '{service}' AND timestamp >= TIMESTAMPTZ '{since}' AND timestamp < TIMESTAMPTZ '{until}' AND regexp_matches(body, '{PATTERN}')"
    );
    let duck_full = format!("SELECT count(*) FROM logs WHERE regexp_matches(body, '{PATTERN}')");
    let mut timings = Vec::new();
    for (query, ice_args, duck_sql) in [
        ("selective", &selective, &duck_selective),
        ("full-scan", &full, &duck_full),
    ] {
        let (mut walls, mut cpus, mut result) = (Vec::new(), Vec::new(), 0);
        for _ in 0..3 {
            let (stdout, wall, usage) = run_ice_grep(&ice_grep, data_dir, ice_args)?;
            result = if query == "selective" {
                stdout.lines().count() as u64
            } else {
                count_of(&stdout)
            };
            walls.push(wall.as_secs_f64() * 1000.0);
            cpus.push(usage.cpu_secs * 1000.0);
        }
        timings.push(Timing {
            engine: "ice-grep".into(),
            query: query.into(),
            wall_ms: median(walls),
            cpu_ms: median(cpus),
            result,
        });
        let (mut walls, mut cpus, mut result) = (Vec::new(), Vec::new(), 0);
        for _ in 0..3 {
            let (count, wall, cpu) = run_duckdb(&python, &metadata, duck_sql)?;
            result = count;
            walls.push(wall);
            cpus.push(cpu);
        }
        timings.push(Timing {
            engine: "duckdb-1.5.5".into(),
            query: query.into(),
            wall_ms: median(walls),
            cpu_ms: median(cpus),
            result,
        });
    }
    let summary = serde_json::json!({
        "date": date,
        "machine": Machine::read(),
        "table": shape,
        "pattern": PATTERN,
        "selective": {"service": service, "since": since, "until": until, "body-bytes": count_of(&selective_text), "ice-grep-explain": files_line},
        "full-scan": {"body-bytes": count_of(&total_text)},
        "timings": timings,
        "note": "ice-grep is timed end to end as a process (start-up and catalog open included); DuckDB inside its Python process after loading extensions. CPU is process user+system time, all threads.",
    });
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    println!("{files_line}");
    for t in &timings {
        let bytes = if t.query == "selective" {
            count_of(&selective_text)
        } else {
            count_of(&total_text)
        } as f64;
        println!(
            "{:<10} {:<13} result {:>8}  wall {:>9.1} ms  cpu {:>9.1} ms  {:>7.1} MB/s of log text per CPU-second",
            t.query,
            t.engine,
            t.result,
            t.wall_ms,
            t.cpu_ms,
            bytes / (t.cpu_ms / 1000.0) / 1e6
        );
    }
    Ok(true)
}

fn read_samples(
    path: &std::path::Path,
) -> anyhow::Result<Vec<icegate_bench_harness::process::Sample>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .skip(1)
        .map(|line| {
            let mut fields = line.split(',');
            let mut next = || fields.next().context("short CSV line");
            Ok(icegate_bench_harness::process::Sample {
                secs: next()?.parse()?,
                cpu_secs: next()?.parse()?,
                rss_kb: next()?.parse()?,
            })
        })
        .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            cases,
            cases_dir,
            out,
            bin_dir,
            duration_scale,
            no_pin,
            machine,
        } => run(
            cases,
            cases_dir,
            out,
            bin_dir,
            duration_scale,
            !no_pin,
            machine,
        ),
        Command::Compare {
            baseline,
            new,
            tolerance,
        } => (|| {
            let read = |path: &PathBuf| -> anyhow::Result<RunSummary> {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                Ok(serde_json::from_str(&text)?)
            };
            let verdicts = compare::compare(&read(&baseline)?, &read(&new)?, tolerance);
            print!("{}", compare::render(&verdicts));
            Ok(true)
        })(),
        Command::Query {
            rows,
            hours,
            services,
            data_dir,
            results,
        } => query(
            query_bench::TableShape {
                rows,
                hours,
                services,
            },
            &data_dir,
            results,
        ),
        Command::Compaction {
            commits,
            services,
            rows_per_commit,
            compact_every,
            zstd_level,
            no_spark,
            write_only,
            data_dir,
            results,
        } => compaction(
            &compaction_bench::Settings {
                commits,
                services,
                rows_per_commit,
                data_dir,
                compact_every,
                spark: !no_spark,
                write_only,
                zstd_level,
            },
            results,
        ),
        Command::Gate {
            update,
            tolerance,
            baseline,
        } => gate::run(&baseline, tolerance, update),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("bench-harness: {err:#}");
            ExitCode::from(2)
        }
    }
}
