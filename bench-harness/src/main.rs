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
use icegate_bench_harness::{compare, gate, plot};

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
        /// Results folder. Default: results/<date>-<machine>/e2e.
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
