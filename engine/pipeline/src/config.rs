//! The configuration `icegate` and every tool reads: one TOML file, `ICEGATE_*` environment
//! variables and flags (applied by the binaries), in that order of precedence (flags win).
//! Unknown keys are errors. It lives here, not in the server crate, so tools read it without
//! linking the server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use icegate_batcher::BatcherConfig;
use icegate_committer::LakeConfig;
use icegate_compactor::CompactorConfig;
use icegate_evolve::SchemaConfig;
use icegate_redact::RedactConfig;
use icegate_wal::WalConfig;
use icegate_writer::ParquetConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Everything `icegate` reads at start-up. In TOML, every key optional (defaults shown):
///
/// ```toml
/// data-dir = "./icegate-data"      # WAL, warehouse and SQLite catalog live here by default
/// grpc-addr = "127.0.0.1:4317"
/// http-addr = "127.0.0.1:4318"
/// max-request-size = 16777216       # bytes, compressed or decompressed
/// max-memory = 1073741824           # bytes of batches in memory before 429s
/// shutdown-timeout-ms = 30000
/// lake-timeout-ms = 60000           # longest one catalog or storage operation may take
/// [listen]    # max-connections, timeouts, streams (ListenConfig)
/// [batcher]   # flush-size, flush-interval-ms      (icegate_batcher::BatcherConfig)
/// [wal]       # sync, segment-size, max-disk-size…  (icegate_wal::WalConfig)
/// [lake]      # catalog, storage, namespace…        (icegate_committer::LakeConfig)
/// [parquet]   # zstd-level, row-group-rows…         (icegate_writer::ParquetConfig)
/// [redact]    # detectors, mode, drop-keys…         (icegate_redact::RedactConfig)
/// [compactor] # enabled, interval, retention…       (icegate_compactor::CompactorConfig)
/// [schema]    # promote, min-share, max-columns…    (icegate_evolve::SchemaConfig)
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Root of the embedded defaults. Default: `./icegate-data`.
    pub data_dir: PathBuf,
    /// OTLP/gRPC listen address. Default: `127.0.0.1:4317`.
    pub grpc_addr: SocketAddr,
    /// OTLP/HTTP (and NDJSON, health, metrics) listen address. Default: `127.0.0.1:4318`.
    pub http_addr: SocketAddr,
    /// Largest request body, compressed or after decompression. Default: 16 MiB.
    pub max_request_size: u64,
    /// Batches held in memory before ingest answers 429. Default: 1 GiB.
    pub max_memory: u64,
    /// How long SIGTERM waits for the final flush and commit. Default: 30 000 ms.
    pub shutdown_timeout_ms: u64,
    /// Longest one lake operation (create a table, write a batch's files, commit, read the
    /// watermark) may take before it counts as failed and is retried with backoff: a
    /// catalog or store that accepts connections and never answers must not stall a table.
    /// Default: 60 000 ms.
    pub lake_timeout_ms: u64,
    pub listen: ListenConfig,
    pub batcher: BatcherConfig,
    pub wal: WalConfig,
    pub lake: LakeConfig,
    pub parquet: ParquetConfig,
    pub redact: RedactConfig,
    pub compactor: CompactorConfig,
    pub schema: SchemaConfig,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./icegate-data"),
            grpc_addr: "127.0.0.1:4317".parse().expect("valid address"),
            http_addr: "127.0.0.1:4318".parse().expect("valid address"),
            max_request_size: 16 << 20,
            max_memory: 1 << 30,
            shutdown_timeout_ms: 30_000,
            lake_timeout_ms: 60_000,
            listen: ListenConfig::default(),
            batcher: BatcherConfig::default(),
            wal: WalConfig::default(),
            lake: LakeConfig::default(),
            parquet: ParquetConfig::default(),
            redact: RedactConfig::default(),
            compactor: CompactorConfig::default(),
            schema: SchemaConfig::default(),
        }
    }
}

/// Limits on both listeners, so slow, idle or flooding clients cannot exhaust connections,
/// descriptors or memory. In TOML (defaults shown):
///
/// ```toml
/// [listen]
/// max-connections = 4096          # per listener; more wait in the kernel's backlog
/// header-read-timeout-ms = 10000  # HTTP/1 headers, a first byte, gRPC's HTTP/2 preface
/// request-timeout-ms = 60000      # a whole request, body included (HTTP 408, gRPC deadline)
/// max-concurrent-streams = 128    # per HTTP/2 (and gRPC) connection
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ListenConfig {
    /// Connections served at once per listener. Default: 4096.
    pub max_connections: usize,
    /// Time a client has to send all request headers (HTTP/1), a new connection its first
    /// byte, and a gRPC connection the whole HTTP/2 preface; else it is closed.
    /// Default: 10 000 ms.
    pub header_read_timeout_ms: u64,
    /// Time for a whole request, body included. Default: 60 000 ms.
    pub request_timeout_ms: u64,
    /// Concurrent streams per HTTP/2 connection. Default: 128.
    pub max_concurrent_streams: u32,
}

impl Default for ListenConfig {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            header_read_timeout_ms: 10_000,
            request_timeout_ms: 60_000,
            max_concurrent_streams: 128,
        }
    }
}

impl IngestConfig {
    /// Reads a TOML file (unknown keys are errors).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| Error::Config(format!("reading {}: {err}", path.display())))?;
        let config: Self = toml::from_str(&text)
            .map_err(|err| Error::Config(format!("{}: {err}", path.display())))?;
        config
            .schema
            .validate()
            .map_err(|err| Error::Config(format!("{}: {err}", path.display())))?;
        Ok(config)
    }

    /// The file at `path` (defaults without one), with `data_dir` in place of the file's when
    /// given: what every tool reading the server's configuration starts from.
    pub fn load(path: Option<&Path>, data_dir: Option<&Path>) -> Result<Self> {
        let mut config = match path {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        if let Some(dir) = data_dir {
            config.data_dir = dir.to_path_buf();
        }
        Ok(config)
    }

    /// This configuration with every secret replaced by `***` (S3 secret key, database
    /// password, REST credential, redaction hash key): the only form that is printed.
    pub fn without_secrets(&self) -> Self {
        Self {
            lake: self.lake.without_secrets(),
            redact: self.redact.without_secrets(),
            ..self.clone()
        }
    }

    /// The WAL directory.
    pub fn wal_dir(&self) -> PathBuf {
        self.data_dir.join("wal")
    }

    /// Where batches that can never be written are kept (Arrow IPC files + a reason each).
    pub fn quarantine_dir(&self) -> PathBuf {
        self.data_dir.join("quarantine")
    }
}
