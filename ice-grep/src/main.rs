//! `ice-grep`: grep and SQL over IceGate's Iceberg tables. Reads the same configuration as
//! `icegate` (`--config`, `--data-dir`, `ICEGATE_*`), so on the embedded default
//! `ice-grep ERROR` works right after `icegate` ran. Exit codes as grep: 0 when something
//! matched, 1 when nothing did, 2 on errors.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use icegate_pipeline::IngestConfig;
use icegate_query::explain::scan_stats;
use icegate_query::grep::parse_severity;
use icegate_query::time::{format_micros, now_micros, parse_time};
use icegate_query::{GrepOptions, LakeSession, QueryError, TableKind, snapshots};

#[derive(Debug, Parser)]
#[command(
    name = "ice-grep",
    version,
    about = "grep and SQL over IceGate's Iceberg tables"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    lake: LakeArgs,
    #[command(flatten)]
    grep: GrepArgs,
}

#[derive(Debug, clap::Args)]
struct LakeArgs {
    /// The server's TOML configuration.
    #[arg(long, env = "ICEGATE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// The server's data directory (embedded catalog and warehouse). Default: ./icegate-data.
    #[arg(long, env = "ICEGATE_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Query the table as of a snapshot id or a time (1h, 2025-11-26T10:00:00Z).
    #[arg(long, global = true)]
    as_of: Option<String>,
}

#[derive(Debug, clap::Args)]
struct GrepArgs {
    /// Regex over log bodies (span names for traces, metric names for metrics).
    pattern: Option<String>,
    /// The pattern, when it starts with '-' or is a subcommand's name.
    #[arg(short = 'e', long = "regexp", conflicts_with = "pattern")]
    regexp: Option<String>,
    /// Ignore case.
    #[arg(short = 'i', long)]
    ignore_case: bool,
    /// Print what does not match.
    #[arg(short = 'v', long)]
    invert_match: bool,
    /// The pattern is a fixed string.
    #[arg(short = 'F', long)]
    fixed_strings: bool,
    /// Stop after this many lines.
    #[arg(short = 'm', long)]
    max_count: Option<usize>,
    /// Also search attribute values.
    #[arg(short = 'a', long)]
    attributes: bool,
    /// Only records at or after this time (1h, 30m, 2d, 2025-11-26T10:00:00Z, 2025-11-26).
    #[arg(long)]
    since: Option<String>,
    /// Only records before this time.
    #[arg(long)]
    until: Option<String>,
    /// Only these services (repeatable).
    #[arg(long)]
    service: Vec<String>,
    /// Only this severity or worse (TRACE, DEBUG, INFO, WARN, ERROR, FATAL; logs).
    #[arg(long)]
    severity: Option<String>,
    /// Only this trace (hex id).
    #[arg(long)]
    trace_id: Option<String>,
    /// Only records whose attribute KEY has VALUE (repeatable): searches the attributes map
    /// and, when the key was promoted to a typed column, that column.
    #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    attr: Vec<(String, String)>,
    /// An extra SQL predicate, e.g. "attributes['http.response.status_code'] = '500'".
    #[arg(long = "where")]
    where_sql: Option<String>,
    /// Output NDJSON.
    #[arg(long, conflicts_with = "table")]
    json: bool,
    /// Output a table.
    #[arg(long)]
    table: bool,
    /// logs, traces or metrics.
    #[arg(long, default_value = "logs")]
    table_name: String,
    /// Print the query, its plan and what it scanned and pruned, without the rows.
    #[arg(long)]
    explain: bool,
    /// Print the rows, then what was scanned and pruned (on stderr).
    #[arg(long)]
    stats: bool,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run SQL over the tables (`logs`, `traces`, `metrics` of the namespace).
    Sql {
        query: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List a table's snapshots, oldest first.
    Snapshots {
        #[arg(long, default_value = "logs")]
        table_name: String,
        #[arg(long)]
        json: bool,
    },
}

fn server_config(args: &LakeArgs) -> anyhow::Result<IngestConfig> {
    let config = IngestConfig::load(args.config.as_deref(), args.data_dir.as_deref())?;
    anyhow::ensure!(
        config.data_dir.exists()
            || !matches!(
                config.lake.catalog,
                icegate_committer::CatalogConfig::Sqlite { .. }
            ),
        "no data directory at {} (run icegate first, or pass --data-dir)",
        config.data_dir.display()
    );
    Ok(config)
}

async fn open(args: &LakeArgs) -> anyhow::Result<(LakeSession, IngestConfig)> {
    let config = server_config(args)?;
    let lake = icegate_committer::open_lake(&config.lake, &config.data_dir).await?;
    Ok((LakeSession::new(lake), config))
}

fn table_name(config: &IngestConfig, kind: TableKind) -> String {
    match kind {
        TableKind::Logs => config.lake.tables.logs.clone(),
        TableKind::Traces => config.lake.tables.traces.clone(),
        TableKind::Metrics => config.lake.tables.metrics.clone(),
    }
}

fn grep_options(args: &GrepArgs) -> anyhow::Result<GrepOptions> {
    let now = now_micros();
    Ok(GrepOptions {
        pattern: args.regexp.clone().or_else(|| args.pattern.clone()),
        ignore_case: args.ignore_case,
        invert: args.invert_match,
        fixed: args.fixed_strings,
        attributes: args.attributes,
        max_count: args.max_count,
        since: args
            .since
            .as_deref()
            .map(|t| parse_time(t, now))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| parse_time(t, now))
            .transpose()?,
        services: args.service.clone(),
        min_severity: args.severity.as_deref().map(parse_severity).transpose()?,
        trace_id: args.trace_id.clone(),
        where_sql: args.where_sql.clone(),
        attribute_equals: args.attr.clone(),
        promoted: Vec::new(),
    })
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .filter(|(key, _)| !key.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

async fn grep(cli: &Cli) -> anyhow::Result<bool> {
    let args = &cli.grep;
    let kind = TableKind::parse(&args.table_name)?;
    let mut options = grep_options(args)?;
    options.validate(kind)?;
    let (session, config) = open(&cli.lake).await?;
    let name = table_name(&config, kind);
    let table = session.table(&name).await?;
    let snapshot = cli
        .lake
        .as_of
        .as_deref()
        .map(|as_of| snapshots::resolve(&table, as_of))
        .transpose()?;
    // The promoted columns of the schema the query reads (an older snapshot's, with --as-of).
    let metadata = table.metadata();
    let schema = snapshot
        .and_then(|id| metadata.snapshot_by_id(id)?.schema(metadata).ok())
        .unwrap_or_else(|| metadata.current_schema().clone());
    options.promoted = icegate_evolve::table::promotions_of(&schema).columns;
    // Loaded and resolved once, for the query and for the stats.
    let context = session.context_for(&name, table.clone(), snapshot).await?;
    let sql = options.sql(kind, &name);
    let started = Instant::now();
    let frame = context.sql(&sql).await?;
    if args.explain {
        println!("query: {sql}");
        let plan = frame.clone().create_physical_plan().await?;
        println!(
            "plan:\n{}",
            datafusion::physical_plan::displayable(plan.as_ref()).indent(true)
        );
    }
    let batches = if args.explain {
        Vec::new()
    } else {
        frame.collect().await?
    };
    let matched: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if !args.explain {
        print_rows(args, &batches, options.pattern.as_deref())?;
    }
    if args.explain || args.stats {
        let mut stats = scan_stats(
            &table,
            snapshot,
            options.iceberg_predicate(),
            started.elapsed(),
        )
        .await?;
        stats.rows_matched = matched as u64;
        let text = stats.render();
        if args.explain {
            println!("{text}");
        } else {
            eprintln!("{text}");
        }
        return Ok(true);
    }
    Ok(matched > 0)
}

fn use_color(choice: Color) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// Column `index` of `batch` as strings (timestamps as RFC 3339 UTC).
fn column_text(batch: &RecordBatch, index: usize) -> anyhow::Result<Vec<Option<String>>> {
    let column = batch.column(index);
    if let DataType::Timestamp(TimeUnit::Microsecond, _) = column.data_type() {
        let times = column.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
        return Ok((0..times.len())
            .map(|row| times.is_valid(row).then(|| format_micros(times.value(row))))
            .collect());
    }
    let text = cast(column, &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    Ok((0..text.len())
        .map(|row| text.is_valid(row).then(|| text.value(row).to_string()))
        .collect())
}

fn print_rows(
    args: &GrepArgs,
    batches: &[RecordBatch],
    pattern: Option<&str>,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut out);
        for batch in batches {
            writer.write(batch)?;
        }
        writer.finish()?;
        return Ok(());
    }
    if args.table {
        writeln!(
            out,
            "{}",
            datafusion::arrow::util::pretty::pretty_format_batches(batches)?
        )?;
        return Ok(());
    }
    let color = use_color(args.color);
    let highlight = match (color, pattern, args.invert_match) {
        (true, Some(pattern), false) => {
            let source = if args.fixed_strings {
                regex::escape(pattern)
            } else {
                pattern.to_string()
            };
            regex::RegexBuilder::new(&source)
                .case_insensitive(args.ignore_case)
                .build()
                .ok()
        }
        _ => None,
    };
    for batch in batches {
        let [times, services, levels, texts] = [0, 1, 2, 3].map(|index| column_text(batch, index));
        let rows = times?.into_iter().zip(services?).zip(levels?).zip(texts?);
        for (((time, service), level), text) in rows {
            // One record per line: multi-line bodies (stack traces) keep their breaks as \n.
            let text = text.map(|t| t.replace('\r', "\\r").replace('\n', "\\n"));
            let field = |value: &Option<String>| value.as_deref().unwrap_or("-").to_string();
            let (time, service, level, text) =
                (field(&time), field(&service), field(&level), field(&text));
            let (time, service, level, text) = (
                time.as_str(),
                service.as_str(),
                level.as_str(),
                text.as_str(),
            );
            if color {
                let level_color = match level {
                    "ERROR" | "FATAL" | "2" => "31",
                    "WARN" => "33",
                    "INFO" => "32",
                    _ => "34",
                };
                let text = match &highlight {
                    Some(regex) => regex.replace_all(text, "\x1b[1;31m$0\x1b[0m").into_owned(),
                    None => text.to_string(),
                };
                writeln!(
                    out,
                    "\x1b[2m{time}\x1b[0m \x1b[36m{service}\x1b[0m \x1b[{level_color}m{level}\x1b[0m {text}"
                )?;
            } else {
                writeln!(out, "{time} {service} {level} {text}")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

async fn sql(cli: &Cli, query: &str, format: Format) -> anyhow::Result<bool> {
    let (session, config) = open(&cli.lake).await?;
    let names = [
        config.lake.tables.logs.clone(),
        config.lake.tables.traces.clone(),
        config.lake.tables.metrics.clone(),
    ];
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let context = session.context(&names, cli.lake.as_of.as_deref()).await?;
    let batches = context.sql(query).await?.collect().await?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        Format::Table => writeln!(
            out,
            "{}",
            datafusion::arrow::util::pretty::pretty_format_batches(&batches)?
        )?,
        Format::Csv => {
            let mut writer = datafusion::arrow::csv::Writer::new(&mut out);
            for batch in &batches {
                writer.write(batch)?;
            }
        }
        Format::Json => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut out);
            for batch in &batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
    }
    out.flush()?;
    Ok(rows > 0)
}

async fn list_snapshots(cli: &Cli, table_name: &str, json: bool) -> anyhow::Result<bool> {
    let (session, _) = open(&cli.lake).await?;
    let table = session.table(table_name).await?;
    let list = snapshots::list(&table);
    for snapshot in &list {
        if json {
            println!("{}", serde_json::to_string(snapshot)?);
        } else {
            println!(
                "{} {} {:<8} +{} records (total {}), +{} files (total {})",
                snapshot.snapshot_id,
                format_micros(snapshot.timestamp_ms * 1000),
                snapshot.operation,
                snapshot.added_records,
                snapshot.total_records,
                snapshot.added_files,
                snapshot.total_files
            );
        }
    }
    Ok(!list.is_empty())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new().context("starting the runtime") {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("ice-grep: {err:#}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            None => grep(&cli).await,
            Some(Command::Sql { query, format }) => sql(&cli, query, *format).await,
            Some(Command::Snapshots { table_name, json }) => {
                list_snapshots(&cli, table_name, *json).await
            }
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            match err.downcast_ref::<QueryError>() {
                Some(query) => eprintln!("ice-grep: {query}"),
                None => eprintln!("ice-grep: {err:#}"),
            }
            ExitCode::from(2)
        }
    }
}
