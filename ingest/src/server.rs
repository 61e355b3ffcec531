//! Start-up, serving, and graceful shutdown.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context as _;
use icegate_batcher::{Batcher, MemoryBudget};
use icegate_committer::open_lake;
use icegate_redact::Redactor;
use icegate_wal::Wal;
use tokio::sync::watch;

use crate::config::IngestConfig;
use crate::grpc::{self, GrpcState};
use crate::http::{HttpState, router};
use crate::metrics::Metrics;
use crate::pipeline::{PipelineParts, build};
use crate::signal::Signal;

/// A started server: where it listens, and how to stop it.
pub struct Server {
    pub http_addr: std::net::SocketAddr,
    pub grpc_addr: std::net::SocketAddr,
    shutdown: watch::Sender<bool>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Stops accepting, flushes and commits everything acknowledged, and waits for it.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.done.await?
    }
}

/// This node's writer id: created once, kept in the data directory, so commits made before a
/// restart are recognised after it.
fn writer_id(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("writer-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        _ => {
            let id = uuid::Uuid::now_v7().to_string();
            let tmp = data_dir.join("writer-id.tmp");
            std::fs::write(&tmp, &id).with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(data_dir)?.sync_all()?;
            Ok(id)
        }
    }
}

/// Starts everything and returns once the server accepts requests.
pub async fn start(config: IngestConfig) -> anyhow::Result<Server> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let writer_id = writer_id(&config.data_dir)?;
    let (wal, recovery) =
        Wal::open(config.wal_dir(), config.wal.clone()).context("opening the WAL")?;
    tracing::info!(
        first_seq = recovery.first_seq,
        next_seq = recovery.next_seq,
        truncated_bytes = recovery.truncated_bytes,
        "WAL recovered"
    );
    let wal = Arc::new(wal);
    let lake = open_lake(&config.lake, &config.data_dir)
        .await
        .context("opening the catalog")?;
    let redactor = Redactor::new(&config.redact)?;
    let sort_orders: HashMap<String, _> = [
        (config.lake.tables.logs.clone(), Signal::Logs),
        (config.lake.tables.traces.clone(), Signal::Traces),
        (config.lake.tables.metrics.clone(), Signal::Metrics),
    ]
    .into_iter()
    .map(|(table, signal)| (table, signal.layout().sort_by))
    .collect();
    let batcher = Batcher::new(
        config.batcher.clone(),
        MemoryBudget::new(config.max_memory),
        sort_orders,
    );
    let metrics = Arc::new(Metrics::default());
    let (pipeline, flusher) = build(PipelineParts {
        wal: wal.clone(),
        lake,
        writer_id,
        redactor,
        batcher,
        parquet: config.parquet.clone(),
        metrics,
    })
    .await?;

    let (shutdown, shutdown_rx) = watch::channel(false);
    let flusher = tokio::spawn(flusher.run(shutdown_rx.clone()));
    let ready = Arc::new(AtomicBool::new(false));
    let state = HttpState {
        pipeline,
        max_request_size: config.max_request_size,
        ready: ready.clone(),
    };
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding {}", config.http_addr))?;
    let http_addr = listener.local_addr()?;
    let grpc_listener = tokio::net::TcpListener::bind(config.grpc_addr)
        .await
        .with_context(|| format!("binding {}", config.grpc_addr))?;
    let grpc_addr = grpc_listener.local_addr()?;
    let grpc_state = GrpcState {
        pipeline: state.pipeline.clone(),
        max_request_size: config.max_request_size as usize,
    };
    let mut grpc_shutdown = shutdown_rx.clone();
    let grpc = tokio::spawn(grpc::serve(grpc_state, grpc_listener, async move {
        let _ = grpc_shutdown.changed().await;
    }));
    let mut http_shutdown = shutdown_rx.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async move {
                let _ = http_shutdown.changed().await;
            })
            .await
    });
    ready.store(true, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(%http_addr, %grpc_addr, "icegate is ready");

    let timeout = Duration::from_millis(config.shutdown_timeout_ms);
    let done = tokio::spawn(async move {
        http.await??;
        grpc.await??;
        // The HTTP server stopped accepting; the flusher drains what was acknowledged.
        match tokio::time::timeout(timeout, flusher).await {
            Ok(joined) => joined?,
            Err(_) => tracing::warn!(
                ?timeout,
                "final flush did not finish in time; the WAL keeps the rest for the next start"
            ),
        }
        wal.close()?;
        Ok(())
    });
    Ok(Server {
        http_addr,
        grpc_addr,
        shutdown,
        done,
    })
}

/// Runs until SIGTERM or SIGINT, then shuts down gracefully.
pub async fn run(config: IngestConfig) -> anyhow::Result<()> {
    let server = start(config).await?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
    }
    server.shutdown().await
}
