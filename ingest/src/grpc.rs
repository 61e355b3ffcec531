//! OTLP/gRPC: the logs, traces and metrics `Export` methods. Request messages reach the
//! engine's direct decoders as raw bytes (a pass-through codec): no prost structs on the hot
//! path. gzip request compression is accepted.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use tonic::codec::{
    Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder,
};
use tonic::codegen::{BoxFuture, Service, StdError, http};
use tonic::{Code, Status};

use crate::body::{HeldBody, ReservedBody};
use crate::signal::{
    Encoding, Refused, Signal, decode, decode_refusal, export_response, now_nanos,
};
use icegate_parser::Decoded;
use icegate_pipeline::{Error as IngestError, Pipeline};

/// Bytes in, bytes out: the message is decoded by the engine, not by prost. Clients of
/// already-encoded messages (the load generator) use it too.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

#[derive(Debug)]
pub struct RawEncoder;

#[derive(Debug)]
pub struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// What every signal's service shares.
#[derive(Clone)]
pub struct GrpcState {
    pub pipeline: Arc<Pipeline>,
    pub max_request_size: usize,
}

impl GrpcState {
    async fn export(
        &self,
        signal: Signal,
        body: Bytes,
        held: Option<HeldBody>,
    ) -> Result<tonic::Response<Bytes>, Status> {
        let counters = self.pipeline.metrics().signal(signal);
        let size = body.len() as u64;
        let reject = |status: Status| {
            counters
                .requests_rejected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            counters
                .bytes_rejected
                .fetch_add(size, std::sync::atomic::Ordering::Relaxed);
            status
        };
        // The frames were reserved as they arrived; the message, once inflated, may be larger.
        if let Some(held) = &held {
            held.hold(size, self.max_request_size as u64)
                .map_err(|refusal| reject(retry_later(refusal.reason)))?;
        }
        let mut budget = self.pipeline.request_budget();
        let decoded = decode(signal, Encoding::Protobuf, &body, now_nanos(), &mut budget);
        // The body's memory is free once decoded: the batch holds copies, reserved in `budget`.
        drop((body, held));
        let Decoded {
            batch,
            rejected,
            first_error,
        } = decoded.map_err(|err| reject(decode_status(&err)))?;
        if batch.num_rows() == 0
            && let Some(err) = &first_error
        {
            // Nothing in it decodes: the request is bad as a whole.
            counters
                .records_rejected
                .fetch_add(rejected, std::sync::atomic::Ordering::Relaxed);
            return Err(reject(Status::invalid_argument(err.to_string())));
        }
        match self
            .pipeline
            .accept_decoded(self.pipeline.table_key(signal), batch, budget)
            .await
        {
            Ok(rows) => {
                counters
                    .records_accepted
                    .fetch_add(rows as u64, std::sync::atomic::Ordering::Relaxed);
                counters
                    .bytes_accepted
                    .fetch_add(size, std::sync::atomic::Ordering::Relaxed);
                counters
                    .records_rejected
                    .fetch_add(rejected, std::sync::atomic::Ordering::Relaxed);
                // Empty for full success, else `partial_success`.
                Ok(tonic::Response::new(Bytes::from(export_response(
                    Encoding::Protobuf,
                    signal,
                    rejected,
                    first_error.as_ref(),
                ))))
            }
            Err(err) => Err(reject(ingest_status(&err))),
        }
    }
}

/// RESOURCE_EXHAUSTED for a decode that ran out of memory (with RetryInfo when the memory
/// is busy now, without when the request alone is too large), INVALID_ARGUMENT otherwise.
fn decode_status(err: &icegate_parser::DecodeError) -> Status {
    let message = err.to_string();
    match decode_refusal(err) {
        Refused::Busy => retry_later(message),
        Refused::TooLarge => Status::resource_exhausted(message),
        Refused::Invalid => Status::invalid_argument(message),
    }
}

/// RESOURCE_EXHAUSTED carries a `google.rpc.RetryInfo` (retry in 1 s), as OTLP asks.
fn ingest_status(err: &IngestError) -> Status {
    match err {
        IngestError::Backpressure { .. } => retry_later(err.to_string()),
        // Too large for one record: retrying the same request cannot succeed (no RetryInfo).
        IngestError::TooLarge { .. } => Status::resource_exhausted(err.to_string()),
        IngestError::Unavailable(_) => Status::unavailable(err.to_string()),
        _ => Status::internal(err.to_string()),
    }
}

/// RESOURCE_EXHAUSTED with `RetryInfo`: the same request may succeed in a second.
fn retry_later(message: String) -> Status {
    let details = Bytes::from(retry_status(&message));
    Status::with_details(Code::ResourceExhausted, message, details)
}

/// A `google.rpc.Status` with one `google.rpc.RetryInfo { retry_delay: 1s }` detail.
fn retry_status(message: &str) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
        out.push(tag);
        let mut len = bytes.len();
        while len >= 0x80 {
            out.push((len as u8) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(bytes);
    }
    let duration = [0x08, 0x01]; // seconds = 1
    let mut retry_info = Vec::new();
    field(&mut retry_info, 0x0a, &duration);
    let mut any = Vec::new();
    field(&mut any, 0x0a, b"type.googleapis.com/google.rpc.RetryInfo");
    field(&mut any, 0x12, &retry_info);
    let mut status = vec![0x08, Code::ResourceExhausted as u8];
    field(&mut status, 0x12, message.as_bytes());
    field(&mut status, 0x1a, &any);
    status
}

struct Export {
    state: GrpcState,
    signal: Signal,
}

impl tonic::server::UnaryService<Bytes> for Export {
    type Response = Bytes;
    type Future = BoxFuture<tonic::Response<Bytes>, Status>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let state = self.state.clone();
        let signal = self.signal;
        let held = request.extensions().get::<HeldBody>().cloned();
        Box::pin(async move { state.export(signal, request.into_inner(), held).await })
    }
}

fn call<B>(
    state: GrpcState,
    signal: Signal,
    path: &'static str,
    req: http::Request<B>,
) -> BoxFuture<http::Response<tonic::body::Body>, Infallible>
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    if req.uri().path() != path {
        return Box::pin(async move {
            let mut response = http::Response::new(tonic::body::Body::default());
            let headers = response.headers_mut();
            headers.insert(Status::GRPC_STATUS, (Code::Unimplemented as i32).into());
            headers.insert(
                http::header::CONTENT_TYPE,
                tonic::metadata::GRPC_CONTENT_TYPE,
            );
            Ok(response)
        });
    }
    // Every frame of the body is reserved before tonic buffers it.
    let held = HeldBody::new(state.pipeline.body_budget());
    let cap = state.max_request_size as u64;
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(held.clone());
    let req = http::Request::from_parts(
        parts,
        ReservedBody::new(Box::pin(body), held, cap, retry_later),
    );
    Box::pin(async move {
        let mut accept = EnabledCompressionEncodings::default();
        accept.enable(CompressionEncoding::Gzip);
        let max = state.max_request_size;
        let mut grpc = tonic::server::Grpc::new(RawCodec)
            .apply_compression_config(accept, EnabledCompressionEncodings::default())
            .apply_max_message_size_config(Some(max), None);
        Ok(grpc.unary(Export { state, signal }, req).await)
    })
}

macro_rules! otlp_service {
    ($name:ident, $signal:expr, $service:literal) => {
        /// The OTLP service of one signal.
        #[derive(Clone)]
        pub struct $name(pub GrpcState);

        impl<B> Service<http::Request<B>> for $name
        where
            B: tonic::codegen::Body + Send + 'static,
            B::Error: Into<StdError> + Send + 'static,
        {
            type Response = http::Response<tonic::body::Body>;
            type Error = Infallible;
            type Future = BoxFuture<Self::Response, Self::Error>;

            fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
                Poll::Ready(Ok(()))
            }

            fn call(&mut self, req: http::Request<B>) -> Self::Future {
                call(
                    self.0.clone(),
                    $signal,
                    concat!("/", $service, "/Export"),
                    req,
                )
            }
        }

        impl tonic::server::NamedService for $name {
            const NAME: &'static str = $service;
        }
    };
}

otlp_service!(
    LogsService,
    Signal::Logs,
    "opentelemetry.proto.collector.logs.v1.LogsService"
);
otlp_service!(
    TracesService,
    Signal::Traces,
    "opentelemetry.proto.collector.trace.v1.TraceService"
);
otlp_service!(
    MetricsService,
    Signal::Metrics,
    "opentelemetry.proto.collector.metrics.v1.MetricsService"
);

/// Serves the three services on `listener` until `shutdown` resolves.
pub async fn serve(
    state: GrpcState,
    listener: tokio::net::TcpListener,
    limits: icegate_pipeline::ListenConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .max_concurrent_streams(limits.max_concurrent_streams)
        .timeout(Duration::from_millis(limits.request_timeout_ms))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .add_service(LogsService(state.clone()))
        .add_service(TracesService(state.clone()))
        .add_service(MetricsService(state))
        .serve_with_incoming_shutdown(
            crate::listen::limited_incoming(
                listener,
                limits.max_connections,
                Duration::from_millis(limits.header_read_timeout_ms),
            ),
            shutdown,
        )
        .await
}
