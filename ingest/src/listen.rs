//! Accepting connections within limits ([`ListenConfig`]): at most `max-connections` per
//! listener (more wait in the kernel's backlog, costing no descriptor here), HTTP/1 headers
//! within a deadline (slowloris), whole requests within a deadline, bounded HTTP/2 streams.
//! A failed `accept` (e.g. out of descriptors) is logged and retried, never fatal.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use icegate_pipeline::ListenConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// How long accepting pauses after a failed `accept` (descriptors run out under a flood).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The next connection, once fewer than the limit are open.
async fn next_connection(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
) -> (TcpStream, OwnedSemaphorePermit) {
    let permit = permits
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                return (stream, permit);
            }
            Err(err) => {
                tracing::warn!(error = %err, "accepting a connection failed; retrying");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown`, then lets open connections finish (the
/// caller bounds how long).
pub async fn serve_http(
    listener: TcpListener,
    router: Router,
    limits: &ListenConfig,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let router = router.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        Duration::from_millis(limits.request_timeout_ms),
    ));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let header_deadline = Duration::from_millis(limits.header_read_timeout_ms);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, permit) = tokio::select! {
            next = next_connection(&listener, &permits) => next,
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(
            router
                .clone()
                .map_request(|request: axum::http::Request<Incoming>| request.map(Body::new)),
        );
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            // hyper-util waits for the first bytes to tell HTTP/1 from HTTP/2 without a timer:
            // a connection that sends nothing within the header deadline is closed here.
            let mut first = [0u8; 1];
            match tokio::time::timeout(header_deadline, stream.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let _ = watcher.watch(connection).await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A connection holding one of the listener's permits until it closes; `prefix` holds bytes
/// already read from it (the HTTP/2 preface), handed out before the socket's.
pub struct Limited {
    stream: TcpStream,
    prefix: Vec<u8>,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Limited {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.drain(..n);
            return Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

/// What every HTTP/2 connection starts with (RFC 9113 §3.4).
const HTTP2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

impl AsyncWrite for Limited {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for Limited {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

/// `listener`'s connections for tonic, at most `max_connections` open at once; one that
/// has not sent the whole HTTP/2 preface within `preface_deadline`, or sends something else,
/// is closed before tonic sees it (tonic waits for the preface without a timer, so silent or
/// trickling connections would hold their permits).
pub fn limited_incoming(
    listener: TcpListener,
    max_connections: usize,
    preface_deadline: Duration,
) -> impl futures::Stream<Item = std::io::Result<Limited>> {
    let permits = Arc::new(Semaphore::new(max_connections));
    let (ready, waiting) = tokio::sync::mpsc::channel::<std::io::Result<Limited>>(64);
    tokio::spawn(async move {
        loop {
            let (stream, permit) = tokio::select! {
                next = next_connection(&listener, &permits) => next,
                // tonic dropped the stream: it is shutting down.
                () = ready.closed() => break,
            };
            let ready = ready.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut stream = stream;
                let mut preface = vec![0u8; HTTP2_PREFACE.len()];
                match tokio::time::timeout(preface_deadline, stream.read_exact(&mut preface)).await
                {
                    Ok(Ok(_)) if preface == HTTP2_PREFACE => {}
                    _ => return,
                }
                let connection = Limited {
                    stream,
                    prefix: preface,
                    _permit: permit,
                };
                let _ = ready.send(Ok(connection)).await;
            });
        }
    });
    futures::stream::unfold(waiting, |mut waiting| async move {
        let connection = waiting.recv().await?;
        Some((connection, waiting))
    })
}

/// Descriptors kept free of connections: WAL segments and directory syncs, the SQLite
/// catalog, object-store and catalog clients.
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the soft descriptor limit to the hard one, and returns `limits` with
/// `max-connections` lowered so that both listeners' connections together always leave
/// [`RESERVED_DESCRIPTORS`] free: a connection flood cannot make the WAL's next segment
/// creation fail for want of a descriptor.
pub fn within_descriptor_limit(limits: &ListenConfig) -> ListenConfig {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return limits.clone();
        }
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            raised.rlim_cur
        } else {
            limit.rlim_cur
        }
    };
    let affordable = (soft.saturating_sub(RESERVED_DESCRIPTORS) / 2).max(16) as usize;
    let mut effective = limits.clone();
    if affordable < limits.max_connections {
        tracing::warn!(
            descriptors = soft,
            configured = limits.max_connections,
            max_connections = affordable,
            "the descriptor limit cannot hold max-connections on both listeners; serving \
             fewer connections at once (raise `ulimit -n` to serve more)"
        );
        effective.max_connections = affordable;
    }
    effective
}
