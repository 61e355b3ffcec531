//! What the pipeline's integration tests share: one simulated process run over any lake, a
//! record generator, waiting for a condition, and PyIceberg as the outside reader.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use icegate_batcher::{BatcherConfig, TableKey};
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use icegate_pipeline::status::Metrics;
use icegate_pipeline::{
    Flusher, LakeSink, Pipeline, PipelineParts, Quarantine, RetryPolicy, Tables, build,
    wal_incarnation,
};
use icegate_redact::{RedactConfig, Redactor};
use icegate_wal::io::WalIo;
use icegate_wal::{ByteSize, Wal, WalConfig};
use tokio::sync::watch;

pub fn logs_key() -> TableKey {
    TableKey::new("default", "logs")
}

/// NDJSON lines `{tag}record-{n}` for `ns`.
pub fn records(ns: impl Iterator<Item = u64>, tag: &str) -> RecordBatch {
    let body: String = ns
        .map(|n| {
            format!(
                "{{\"service\":\"svc-{}\",\"time\":{},\"msg\":\"{tag}record-{n}\"}}\n",
                n % 4,
                1_764_000_000 + n
            )
        })
        .collect();
    NdjsonDecoder::new().decode(body.as_bytes(), &NdjsonContext::default(), 0)
}

pub fn wal_config() -> WalConfig {
    WalConfig {
        segment_size: ByteSize(64 << 10),
        ..WalConfig::default()
    }
}

pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(20),
        attempt_timeout: Duration::from_millis(500),
    }
}

/// How a [`Run`] is set up.
pub struct RunOptions {
    pub wal: WalConfig,
    /// The WAL's write path (a fault-injecting one); the real files when `None`.
    pub wal_io: Option<Arc<dyn WalIo>>,
    pub flush_size: u64,
    pub retry: RetryPolicy,
    pub max_memory: u64,
    pub schema: icegate_evolve::SchemaConfig,
}

impl RunOptions {
    pub fn flush_size(flush_size: u64) -> Self {
        Self {
            wal: wal_config(),
            wal_io: None,
            flush_size,
            retry: fast_retries(),
            max_memory: 256 << 20,
            schema: Default::default(),
        }
    }
}

/// One process run: its own runtime (dropping it is a crash: every task just stops).
pub struct Run {
    pub runtime: tokio::runtime::Runtime,
    pub pipeline: Arc<Pipeline>,
    pub wal: Arc<Wal>,
    shutdown: watch::Sender<bool>,
    flusher: Option<tokio::task::JoinHandle<()>>,
    pub metrics: Arc<Metrics>,
}

impl Run {
    pub fn start<L: LakeSink>(dir: &Path, lake: &Arc<L>, flush_size: u64) -> Self {
        Self::start_with(dir, lake, RunOptions::flush_size(flush_size))
    }

    pub fn start_with<L: LakeSink>(dir: &Path, lake: &Arc<L>, options: RunOptions) -> Self {
        // `ICEGATE_LOG=debug` shows what the lanes do (captured per test).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("ICEGATE_LOG")
                    .unwrap_or_else(|_| "off".into()),
            )
            .with_test_writer()
            .try_init();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let wal_dir = dir.join("wal");
        let (wal, _) = match options.wal_io {
            Some(io) => Wal::open_with_io(&wal_dir, options.wal, io),
            None => Wal::open(&wal_dir, options.wal),
        }
        .unwrap();
        let incarnation = wal_incarnation(&wal_dir, &wal).unwrap();
        let wal = Arc::new(wal);
        let metrics = Arc::new(Metrics::default());
        let (pipeline, flusher): (_, Flusher<L>) = build(PipelineParts {
            wal: wal.clone(),
            lake: lake.clone(),
            writer_id: "writer-1".into(),
            incarnation,
            redactor: Redactor::new(&RedactConfig::default()).unwrap(),
            batcher: BatcherConfig {
                flush_size: options.flush_size,
                flush_interval_ms: 50,
            },
            max_memory: options.max_memory,
            table_memory_share: options.max_memory / 2,
            tables: Tables::from_config(&Default::default()),
            quarantine: Quarantine::new(dir.join("quarantine")),
            retry: options.retry,
            metrics: metrics.clone(),
            schema: options.schema.clone(),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let flusher = runtime.spawn(flusher.run(shutdown_rx, Duration::from_secs(60)));
        Self {
            runtime,
            pipeline,
            wal,
            shutdown,
            flusher: Some(flusher),
            metrics,
        }
    }

    /// Accepts records `ns` (one request per `per_request`); returns the acknowledged ones.
    pub fn send(
        &self,
        key: &TableKey,
        ns: std::ops::Range<u64>,
        per_request: u64,
        tag: &str,
    ) -> Vec<u64> {
        self.send_with(key, ns, per_request, |ns| records(ns, tag))
    }

    /// Like [`Run::send`], with the records of each request made by `make`.
    pub fn send_with(
        &self,
        key: &TableKey,
        ns: std::ops::Range<u64>,
        per_request: u64,
        make: impl Fn(std::ops::Range<u64>) -> RecordBatch,
    ) -> Vec<u64> {
        let mut acknowledged = Vec::new();
        let mut n = ns.start;
        while n < ns.end {
            let end = (n + per_request).min(ns.end);
            let batch = make(n..end);
            let pipeline = self.pipeline.clone();
            let key = key.clone();
            if self
                .runtime
                .block_on(async move { pipeline.accept(key, batch).await })
                .is_ok()
            {
                acknowledged.extend(n..end);
            }
            n = end;
        }
        acknowledged
    }

    /// Graceful shutdown: everything acknowledged is committed (replay included).
    pub fn stop(mut self) {
        self.pipeline.close();
        self.shutdown.send(true).unwrap();
        let flusher = self.flusher.take().unwrap();
        self.runtime.block_on(flusher).unwrap();
        self.wal.close().unwrap();
    }

    /// SIGKILL: nothing more runs.
    pub fn crash(self) {
        drop(self.runtime);
    }
}

pub fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn wal_segments(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".wal")
        })
        .count()
}

/// The Python with PyIceberg (`ci/setup.sh` installs it). Under CI its absence is a failure.
pub fn python() -> Option<PathBuf> {
    let path = std::env::var_os("ICEGATE_PYTHON")
        .map(PathBuf::from)
        .filter(|p| p.exists());
    if path.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "ICEGATE_PYTHON is not set up; run ci/setup.sh"
        );
        eprintln!("skipping: ICEGATE_PYTHON is not set (run ci/setup.sh)");
    }
    path
}

/// PyIceberg's count of every body in each of `tables` of the embedded lake in `data_dir`
/// (SQLite catalog `icegate`, local warehouse): `{"ns.table": {"body": count}}`.
pub fn pyiceberg_bodies(python: &Path, data_dir: &Path, tables: &[&TableKey]) -> serde_json::Value {
    let names: Vec<String> = tables.iter().map(|k| format!("\"{k}\"")).collect();
    let script = format!(
        r#"
import json, collections
from pyiceberg.catalog.sql import SqlCatalog
catalog = SqlCatalog("icegate", uri="sqlite:///{}", warehouse="file://{}")
out = {{}}
for name in [{}]:
    table = catalog.load_table(name)
    out[name] = collections.Counter(table.scan(selected_fields=("body",)).to_arrow()["body"].to_pylist())
print(json.dumps(out))
"#,
        data_dir.join("catalog.db").display(),
        data_dir.join("warehouse").display(),
        names.join(", ")
    );
    let output = std::process::Command::new(python)
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
