//! `icegate-compactor`: maintains IceGate's tables from outside the ingest nodes, reading the
//! same configuration file as `icegate` (its `data-dir`, `[lake]`, `[parquet]` and
//! `[compactor]`; the other sections belong to `icegate`, which checks them).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use icegate_committer::LakeConfig;
use icegate_compactor::{Compactor, CompactorConfig, log_report};
use icegate_writer::ParquetConfig;
use serde::Deserialize;

/// Rewrites small files into large sorted ones, merges manifests, expires snapshots,
/// collects orphan files and applies retention on IceGate's Iceberg tables.
#[derive(Debug, Parser)]
#[command(name = "icegate-compactor", version)]
struct Args {
    /// The `icegate` TOML configuration file.
    #[arg(long, env = "ICEGATE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Data directory (anchors the embedded SQLite catalog and local warehouse).
    #[arg(long, env = "ICEGATE_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Only these tables (repeatable). Default: `[compactor] tables`, else logs, traces, metrics.
    #[arg(long = "table", global = true)]
    tables: Vec<String>,
    /// Say what would be done; change nothing.
    #[arg(long, global = true)]
    dry_run: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run rounds every `[compactor] interval` until SIGTERM or Ctrl-C.
    Run,
    /// Run one round and exit (status 1 if any step failed).
    Once,
    /// Print what a round would do.
    Plan,
}

/// The sections of `icegate`'s file the compactor uses.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
struct FileView {
    data_dir: Option<PathBuf>,
    lake: LakeConfig,
    parquet: ParquetConfig,
    compactor: CompactorConfig,
    #[serde(flatten)]
    _other: toml::Table,
}

fn read_config(args: &Args) -> anyhow::Result<FileView> {
    let mut view = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("{}", path.display()))?
        }
        None => FileView::default(),
    };
    if let Some(dir) = &args.data_dir {
        view.data_dir = Some(dir.clone());
    }
    if !args.tables.is_empty() {
        view.compactor.tables = args.tables.clone();
    }
    Ok(view)
}

async fn main_async(args: Args) -> anyhow::Result<bool> {
    let view = read_config(&args)?;
    let data_dir = view
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("./icegate-data"));
    let compactor = Compactor::open(
        &view.lake,
        &data_dir,
        &view.parquet,
        view.compactor.clone(),
        args.dry_run || matches!(args.command, Command::Plan),
    )
    .await?;
    match args.command {
        Command::Plan => {
            for plan in compactor.plan(SystemTime::now()).await? {
                println!(
                    "table {}: {} data files, {} manifests, {} snapshots ({} expirable)",
                    plan.table,
                    plan.data_files,
                    plan.manifests,
                    plan.snapshots,
                    plan.expirable_snapshots
                );
                if let Some(reason) = &plan.skipped {
                    println!("  rewrite skipped: {reason}");
                }
                for rewrite in &plan.rewrites {
                    println!(
                        "  rewrite {}: {} files, {} bytes in {} bins",
                        rewrite.label,
                        rewrite.input_files(),
                        rewrite.input_bytes(),
                        rewrite.bins.len()
                    );
                }
                for partition in &plan.retention_partitions {
                    println!("  drop (retention) {partition}");
                }
            }
            Ok(true)
        }
        Command::Once => {
            let reports = compactor.round(SystemTime::now()).await;
            let mut ok = true;
            for report in &reports {
                log_report(report);
                println!(
                    "table {}: rewrote {} files ({} bytes) into {} in {} partitions; dropped {} \
                     by retention; expired {} snapshots ({} files); {} orphans deleted; now {} \
                     data files, {} manifests{}",
                    report.table,
                    report.files_rewritten,
                    report.bytes_rewritten,
                    report.files_written,
                    report.partitions_rewritten,
                    report.retention_files_dropped,
                    report.expired.snapshots,
                    report.expired.deleted_files,
                    report.orphans.deleted,
                    report.data_files,
                    report.manifests,
                    if args.dry_run { " (dry run)" } else { "" }
                );
                for failure in &report.failures {
                    println!("  failed: {failure}");
                    ok = false;
                }
            }
            Ok(ok)
        }
        Command::Run => {
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop.send(true);
            });
            compactor.run(stopped).await;
            Ok(true)
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = ctrl_c => {}
            _ = async {
                match term.as_mut() {
                    Some(term) => { term.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn main() -> ExitCode {
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("icegate-compactor: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main_async(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("icegate-compactor: {err:#}");
            ExitCode::FAILURE
        }
    }
}
