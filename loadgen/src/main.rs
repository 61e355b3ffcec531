//! `icegate-loadgen run …` sends load and writes a JSON report; `icegate-loadgen capacity …`
//! turns measured figures into a capacity and cost plan.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use icegate_ingest::IngestConfig;
use icegate_loadgen::capacity::{self, CapacityInput};
use icegate_loadgen::{LoadSpec, Protocol, Signal, verify};

#[derive(Debug, Parser)]
#[command(
    name = "icegate-loadgen",
    version,
    about = "OTLP load for capacity planning"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send load and report what was acknowledged, how fast and with what latency.
    Run(Box<RunArgs>),
    /// Cores, storage and monthly cost for a daily volume, from measured figures.
    Capacity(CapacityArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// A TOML load spec (the keys of the flags below, kebab-case); flags override it.
    #[arg(long)]
    spec: Option<PathBuf>,
    /// Receiver base URL. Default: http://127.0.0.1:4317 (gRPC) or :4318 (HTTP).
    #[arg(long)]
    endpoint: Option<String>,
    #[arg(long, value_enum)]
    protocol: Option<Protocol>,
    #[arg(long, value_enum)]
    signal: Option<Signal>,
    /// nginx, apache-error, sshd, json-app, java-stack, k8s-event, mixed or fail2ban.
    #[arg(long)]
    dataset: Option<String>,
    #[arg(long)]
    records_per_request: Option<usize>,
    /// Requests in flight.
    #[arg(long, short = 'c')]
    concurrency: Option<usize>,
    /// Connections shared by the requests in flight (0: one each).
    #[arg(long)]
    connections: Option<usize>,
    /// Target records per second (0: as fast as possible).
    #[arg(long)]
    rate: Option<u64>,
    /// Seconds to send for (0: until --records).
    #[arg(long, short = 'd')]
    duration: Option<f64>,
    /// Records to send (0: until --duration).
    #[arg(long, short = 'n')]
    records: Option<u64>,
    #[arg(long)]
    gzip: bool,
    /// Distinct pre-generated requests.
    #[arg(long)]
    payloads: Option<usize>,
    #[arg(long)]
    max_retries: Option<u32>,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long)]
    services: Option<u32>,
    /// Approximate body bytes per log record (0: the shape's own).
    #[arg(long)]
    record_size: Option<usize>,
    /// Write the JSON report here (else it goes to stdout).
    #[arg(long)]
    report: Option<PathBuf>,
    /// No live progress line.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Afterwards, read the table back and check it holds exactly the acknowledged records.
    #[arg(long)]
    verify: bool,
    /// The server's TOML configuration (to find the catalog for --verify).
    #[arg(long, env = "ICEGATE_CONFIG")]
    config: Option<PathBuf>,
    /// The server's data directory (embedded catalog) for --verify.
    #[arg(long, env = "ICEGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// How long --verify waits for the server's commits, seconds.
    #[arg(long, default_value_t = 120.0)]
    verify_timeout: f64,
}

#[derive(Debug, clap::Args)]
struct CapacityArgs {
    /// A bench-harness summary.json supplying the measured figures (of --case).
    #[arg(long)]
    from: Option<PathBuf>,
    /// The case of --from to take figures from. Default: the first.
    #[arg(long)]
    case: Option<String>,
    /// TB of raw data per day.
    #[arg(long, default_value_t = 1.0)]
    tb_per_day: f64,
    /// Measured server records per CPU-second (overrides --from).
    #[arg(long)]
    records_per_cpu_second: Option<f64>,
    /// Measured raw-to-stored ratio (overrides --from).
    #[arg(long)]
    compression_ratio: Option<f64>,
    /// Raw bytes per record (overrides --from). Default: 300.
    #[arg(long)]
    bytes_per_record: Option<f64>,
    #[arg(long, default_value_t = 30.0)]
    retention_days: f64,
    #[arg(long, default_value_t = 2.0)]
    peak_factor: f64,
    /// USD per GB-month of object storage (S3 Standard list price).
    #[arg(long, default_value_t = 0.023)]
    s3_usd_per_gb_month: f64,
    /// USD per vCPU-hour (c7i-class on demand).
    #[arg(long, default_value_t = 0.0425)]
    core_usd_per_hour: f64,
    /// USD per ingested GB at a log SaaS.
    #[arg(long, default_value_t = 0.50)]
    saas_usd_per_gb: f64,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
}

fn spec_of(args: &RunArgs) -> anyhow::Result<LoadSpec> {
    let mut spec = match &args.spec {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("{}", path.display()))?
        }
        None => LoadSpec::default(),
    };
    macro_rules! set {
        ($($field:ident),*) => {$(if let Some(value) = args.$field.clone() { spec.$field = value; })*};
    }
    set!(
        protocol,
        signal,
        dataset,
        records_per_request,
        concurrency,
        connections,
        rate,
        records,
        payloads,
        max_retries,
        seed,
        services,
        record_size
    );
    if args.endpoint.is_some() {
        spec.endpoint = args.endpoint.clone();
    }
    if let Some(duration) = args.duration {
        spec.duration_secs = duration;
    } else if args.records.is_some() && args.spec.is_none() {
        // A record count alone runs until it is sent.
        spec.duration_secs = 0.0;
    }
    spec.gzip |= args.gzip;
    Ok(spec)
}

async fn run(args: RunArgs) -> anyhow::Result<bool> {
    let spec = spec_of(&args)?;
    if args.verify && icegate_loadgen::payload::http_gzip(&spec) {
        anyhow::bail!(
            "--verify needs per-request ids, which pre-compressed HTTP gzip bodies cannot carry; drop --gzip or use gRPC"
        );
    }
    let server = if args.verify {
        Some(IngestConfig::load(
            args.config.as_deref(),
            args.data_dir.as_deref(),
        )?)
    } else {
        None
    };
    let progress = !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let outcome = icegate_loadgen::run(&spec, progress).await?;
    let mut report = outcome.report;
    if let Some(config) = server {
        let run_id = u64::from_str_radix(&report.run_id, 16)?;
        let checked = verify::verify(
            &config,
            spec.signal,
            run_id,
            &outcome.log,
            Duration::from_secs_f64(args.verify_timeout),
        )
        .await?;
        report.verify = Some(checked);
    }
    let json = serde_json::to_string_pretty(&report)?;
    match &args.report {
        Some(path) => {
            std::fs::write(path, json + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
        None => println!("{json}"),
    }
    eprintln!("{}", report.summary());
    Ok(report.verify.as_ref().is_none_or(|v| v.ok))
}

fn capacity(args: CapacityArgs) -> anyhow::Result<()> {
    let measured: serde_json::Value = match &args.from {
        Some(path) => serde_json::from_str(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )?,
        None => serde_json::Value::Null,
    };
    // A bench-harness run summary holds cases; take the one asked for.
    let measured = match measured.get("cases").and_then(serde_json::Value::as_array) {
        Some(cases) => cases
            .iter()
            .find(|c| args.case.as_deref().is_none_or(|name| c["case"] == name))
            .cloned()
            .with_context(|| format!("no case {:?} in --from", args.case))?,
        None => measured,
    };
    let from = |key: &str| measured.get(key).and_then(serde_json::Value::as_f64);
    let input = CapacityInput {
        tb_per_day: args.tb_per_day,
        records_per_cpu_second: args
            .records_per_cpu_second
            .or_else(|| from("records-per-cpu-second"))
            .context("give --records-per-cpu-second or --from a bench-harness summary")?,
        compression_ratio: args
            .compression_ratio
            .or_else(|| from("compression-ratio"))
            .context("give --compression-ratio or --from a bench-harness summary")?,
        bytes_per_record: args
            .bytes_per_record
            .or_else(|| from("bytes-per-record"))
            .unwrap_or(300.0),
        retention_days: args.retention_days,
        peak_factor: args.peak_factor,
        s3_usd_per_gb_month: args.s3_usd_per_gb_month,
        core_usd_per_hour: args.core_usd_per_hour,
        saas_usd_per_gb: args.saas_usd_per_gb,
    };
    let plan = capacity::plan(&input);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        println!("{}", plan.summary());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => tokio::runtime::Runtime::new()
            .context("starting the runtime")
            .and_then(|runtime| runtime.block_on(run(*args))),
        Command::Capacity(args) => capacity(args).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("icegate-loadgen: {err:#}");
            ExitCode::from(2)
        }
    }
}
