//! Start-up, serving, and graceful shutdown.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context as _;
use icegate_pipeline::status::Metrics;
use icegate_pipeline::{
    IcebergLake, IngestConfig, PipelineParts, Quarantine, RetryPolicy, Tables, build,
    wal_incarnation,
};
use icegate_redact::Redactor;
use icegate_wal::Wal;
use tokio::sync::watch;

use crate::grpc::{self, GrpcState};
use crate::http::{HttpState, router};

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

/// Starts everything and returns once the server accepts requests. Only the WAL is needed:
/// the catalog and storage are reached, and the WAL replayed, in the background, so a node
/// restarted during a lake outage listens and absorbs writes into the WAL.
pub async fn start(config: IngestConfig) -> anyhow::Result<Server> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let writer_id = writer_id(&config.data_dir)?;
    let (wal, recovery) =
        Wal::open(config.wal_dir(), config.wal.clone()).context("opening the WAL")?;
    let incarnation = wal_incarnation(&config.wal_dir(), &wal)?;
    tracing::info!(
        first_seq = recovery.first_seq,
        next_seq = recovery.next_seq,
        truncated_bytes = recovery.truncated_bytes,
        %incarnation,
        "WAL recovered"
    );
    let wal = Arc::new(wal);
    let lake = Arc::new(IcebergLake::new(
        config.lake.clone(),
        config.data_dir.clone(),
        config.parquet.clone(),
    ));
    let redactor = Redactor::new(&config.redact)?;
    let metrics = Arc::new(Metrics::default());
    let (pipeline, flusher) = build(PipelineParts {
        wal: wal.clone(),
        lake,
        writer_id,
        incarnation,
        redactor,
        batcher: config.batcher.clone(),
        max_memory: config.max_memory,
        table_memory_share: config.max_memory / 2,
        tables: Tables::from_config(&config.lake),
        quarantine: Quarantine::new(config.quarantine_dir()),
        retry: RetryPolicy {
            attempt_timeout: Duration::from_millis(config.lake_timeout_ms),
            ..RetryPolicy::default()
        },
        metrics,
        schema: config.schema.clone(),
    });

    let timeout = Duration::from_millis(config.shutdown_timeout_ms);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (flusher_shutdown, flusher_shutdown_rx) = watch::channel(false);
    let flusher = tokio::spawn(flusher.run(flusher_shutdown_rx, timeout));
    let ready = Arc::new(AtomicBool::new(false));
    let compactor_stats = config
        .compactor
        .enabled
        .then(|| Arc::new(icegate_compactor::CompactorStats::default()));
    let state = HttpState {
        pipeline: pipeline.clone(),
        max_request_size: config.max_request_size,
        ready: ready.clone(),
        compactor: compactor_stats.clone(),
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
        pipeline: pipeline.clone(),
        max_request_size: config.max_request_size as usize,
    };
    let limits = crate::listen::within_descriptor_limit(&config.listen);
    let grpc_limits = limits.clone();
    let mut grpc_shutdown = shutdown_rx.clone();
    let grpc = tokio::spawn(grpc::serve(
        grpc_state,
        grpc_listener,
        grpc_limits,
        async move {
            let _ = grpc_shutdown.changed().await;
        },
    ));
    let mut http_shutdown = shutdown_rx.clone();
    let http = tokio::spawn(async move {
        crate::listen::serve_http(listener, router(state), &limits, async move {
            let _ = http_shutdown.changed().await;
        })
        .await;
        anyhow::Ok(())
    });
    ready.store(true, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(%http_addr, %grpc_addr, "icegate is ready");
    if let Some(stats) = compactor_stats {
        config.compactor.validate().map_err(anyhow::Error::msg)?;
        tokio::spawn(embedded_compactor(
            config.clone(),
            stats,
            shutdown_rx.clone(),
        ));
    }

    let done = tokio::spawn(async move {
        let _ = shutdown_rx.clone().wait_for(|s| *s).await;
        // In-flight requests finish (bounded: a stalled client cannot hold SIGTERM up)...
        let grace = timeout.min(Duration::from_secs(10));
        let http_abort = http.abort_handle();
        match tokio::time::timeout(grace, http).await {
            Ok(joined) => joined??,
            Err(_) => {
                tracing::warn!(
                    ?grace,
                    "HTTP connections still open at shutdown; closing them"
                );
                http_abort.abort();
            }
        }
        let grpc_abort = grpc.abort_handle();
        match tokio::time::timeout(grace, grpc).await {
            Ok(joined) => joined??,
            Err(_) => {
                tracing::warn!(?grace, "gRPC streams still open at shutdown; closing them");
                grpc_abort.abort();
            }
        }
        // ...then the flusher commits everything acknowledged (bounded by its own timeout).
        pipeline.close();
        let _ = flusher_shutdown.send(true);
        flusher.await?;
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

/// The compactor inside this node (`[compactor] enabled`): opened in the background like the
/// lanes (retried while the lake is down), stopped with the server. Stopping it mid-step is
/// safe: every step either commits whole or leaves orphans for the next round.
async fn embedded_compactor(
    config: IngestConfig,
    stats: Arc<icegate_compactor::CompactorStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut wait = Duration::from_secs(1);
    let compactor = loop {
        let opened = icegate_compactor::Compactor::open(
            &config.lake,
            &config.data_dir,
            &config.parquet,
            config.compactor.clone(),
            false,
        )
        .await;
        match opened {
            Ok(compactor) => break compactor.with_stats(stats),
            Err(err) => {
                tracing::warn!(error = %err, ?wait, "the compactor cannot open the lake; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        }
    };
    tracing::info!(tables = ?compactor.tables(), interval = ?config.compactor.interval, "compactor started");
    compactor.run(shutdown).await;
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
