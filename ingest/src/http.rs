//! OTLP/HTTP (`POST /v1/logs|traces|metrics`, protobuf or JSON, optionally gzip), NDJSON log
//! lines (`POST /v1/ndjson`), and operations (`/healthz`, `/readyz`, `/metrics`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use icegate_parser::{Decoded, NdjsonContext, NdjsonDecoder};

use crate::body::{self as request_body, BodyError};
use crate::signal::{
    Encoding, Refused, Signal, decode, decode_refusal, export_response, now_nanos, push_varint,
};
use icegate_pipeline::{BodyBudget, Error as IngestError, Pipeline};

/// Shared by the handlers.
#[derive(Clone)]
pub struct HttpState {
    pub pipeline: Arc<Pipeline>,
    pub max_request_size: u64,
    pub ready: Arc<std::sync::atomic::AtomicBool>,
    /// The embedded compactor's counters, when `[compactor] enabled`.
    pub compactor: Option<Arc<icegate_compactor::CompactorStats>>,
}

/// The HTTP routes.
pub fn router(state: HttpState) -> Router {
    let limit = state.max_request_size as usize;
    Router::new()
        .route("/v1/logs", post(|s, h, b| export(s, h, b, Signal::Logs)))
        .route(
            "/v1/traces",
            post(|s, h, b| export(s, h, b, Signal::Traces)),
        )
        .route(
            "/v1/metrics",
            post(|s, h, b| export(s, h, b, Signal::Metrics)),
        )
        .route("/v1/ndjson", post(ndjson))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn(move |request, next| {
            refuse_declared_oversize(limit as u64, request, next)
        }))
        .with_state(state)
}

/// A request whose Content-Length is over the limit is answered 413 at once, before its
/// body is waited for (the connection closes: the body is never read).
async fn refuse_declared_oversize(
    limit: u64,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Content-Length {len} is over the {limit}-byte request limit"),
        )
            .into_response(),
        _ => next.run(request).await,
    }
}

/// An error in the request's encoding: `google.rpc.Status` as protobuf or JSON.
fn status_response(status: StatusCode, encoding: Encoding, message: &str) -> Response {
    // gRPC status codes, as OTLP/HTTP bodies carry them.
    let code: u64 = match status {
        StatusCode::BAD_REQUEST => 3,
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => 8,
        StatusCode::SERVICE_UNAVAILABLE => 14,
        _ => 13,
    };
    let mut response = match encoding {
        Encoding::Json => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json_like_status(code, message),
        )
            .into_response(),
        Encoding::Protobuf => {
            let mut body = vec![0x08];
            push_varint(&mut body, code);
            body.push(0x12);
            push_varint(&mut body, message.len() as u64);
            body.extend_from_slice(message.as_bytes());
            (
                status,
                [(header::CONTENT_TYPE, "application/x-protobuf")],
                body,
            )
                .into_response()
        }
    };
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn serde_json_like_status(code: u64, message: &str) -> String {
    let escaped: String = message
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32).chars().collect(),
            c => vec![c],
        })
        .collect();
    format!("{{\"code\":{code},\"message\":\"{escaped}\"}}")
}

fn content_encoding(headers: &HeaderMap) -> Option<Encoding> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media = content_type.split(';').next()?.trim().to_ascii_lowercase();
    match media.as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
        "application/json" => Some(Encoding::Json),
        _ => None,
    }
}

/// The body, received within `max-request-size` and the memory budget, gunzipped if
/// `Content-Encoding: gzip` (inflating at most to the same limit). Returns the body and how
/// many bytes arrived on the wire.
async fn received(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    budget: &mut BodyBudget,
) -> Result<(Bytes, usize), (StatusCode, String)> {
    let coding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let gzip = match coding.as_deref() {
        None | Some("") | Some("identity") => false,
        Some("gzip") => true,
        Some(other) => {
            request_body::discard(body, limit);
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Encoding {other:?}; use gzip or none"),
            ));
        }
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let wire = request_body::read(body, declared, limit, budget)
        .await
        .map_err(body_status)?;
    let size = wire.len();
    if !gzip {
        return Ok((wire, size));
    }
    let inflated = request_body::gunzip(&wire, limit, budget).map_err(body_status)?;
    Ok((inflated, size))
}

fn body_status(err: BodyError) -> (StatusCode, String) {
    let status = match &err {
        BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        BodyError::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
        BodyError::Invalid(_) => StatusCode::BAD_REQUEST,
    };
    (status, err.to_string())
}

fn ingest_error_response(err: &IngestError, encoding: Encoding) -> Response {
    let status = match err {
        IngestError::Backpressure { .. } => StatusCode::TOO_MANY_REQUESTS,
        IngestError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        IngestError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    status_response(status, encoding, &err.to_string())
}

async fn export(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Body,
    signal: Signal,
) -> Response {
    let counters = state.pipeline.metrics().signal(signal);
    let reject = |bytes: usize| {
        counters.requests_rejected.fetch_add(1, Ordering::Relaxed);
        counters
            .bytes_rejected
            .fetch_add(bytes as u64, Ordering::Relaxed);
    };
    let Some(encoding) = content_encoding(&headers) else {
        reject(0);
        request_body::discard(body, state.max_request_size);
        return status_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Encoding::Json,
            "Content-Type must be application/x-protobuf or application/json",
        );
    };
    let mut held = state.pipeline.body_budget();
    let (body, size) = match received(&headers, body, state.max_request_size, &mut held).await {
        Ok(received) => received,
        Err((status, message)) => {
            reject(0);
            return status_response(status, encoding, &message);
        }
    };
    let mut budget = state.pipeline.request_budget();
    let decoded = decode(signal, encoding, &body, now_nanos(), &mut budget);
    // The body's memory is free once decoded: the batch holds copies, reserved in `budget`.
    drop((body, held));
    let Decoded {
        batch,
        rejected,
        first_error,
    } = match decoded {
        Ok(decoded) => decoded,
        Err(err) => {
            reject(size);
            return status_response(refusal_status(&err), encoding, &err.to_string());
        }
    };
    if batch.num_rows() == 0
        && let Some(err) = &first_error
    {
        // Nothing in it decodes: the request is bad as a whole.
        reject(size);
        counters
            .records_rejected
            .fetch_add(rejected, Ordering::Relaxed);
        return status_response(StatusCode::BAD_REQUEST, encoding, &err.to_string());
    }
    let key = state.pipeline.table_key(signal);
    match state.pipeline.accept_decoded(key, batch, budget).await {
        Ok(rows) => {
            counters
                .records_accepted
                .fetch_add(rows as u64, Ordering::Relaxed);
            counters
                .bytes_accepted
                .fetch_add(size as u64, Ordering::Relaxed);
            counters
                .records_rejected
                .fetch_add(rejected, Ordering::Relaxed);
            let content_type = match encoding {
                Encoding::Protobuf => "application/x-protobuf",
                Encoding::Json => "application/json",
            };
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, content_type)],
                export_response(encoding, signal, rejected, first_error.as_ref()),
            )
                .into_response()
        }
        Err(err) => {
            reject(size);
            ingest_error_response(&err, encoding)
        }
    }
}

/// 413 when a decode needs more memory than one request may hold, 429 when the memory is
/// busy now, 400 for anything malformed.
fn refusal_status(err: &icegate_parser::DecodeError) -> StatusCode {
    match decode_refusal(err) {
        Refused::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Refused::Busy => StatusCode::TOO_MANY_REQUESTS,
        Refused::Invalid => StatusCode::BAD_REQUEST,
    }
}

/// Query parameters of `POST /v1/ndjson`.
#[derive(Debug, serde::Deserialize)]
struct NdjsonParams {
    service: Option<String>,
}

/// NDJSON log lines. The service comes from `?service=` or the `X-Icegate-Service` header;
/// `X-Icegate-Attribute-<key>: <value>` headers become resource attributes.
async fn ndjson(
    State(state): State<HttpState>,
    Query(params): Query<NdjsonParams>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let counters = &state.pipeline.metrics().ndjson;
    let mut held = state.pipeline.body_budget();
    let (body, size) = match received(&headers, body, state.max_request_size, &mut held).await {
        Ok(received) => received,
        Err((status, message)) => {
            counters.requests_rejected.fetch_add(1, Ordering::Relaxed);
            return status_response(status, Encoding::Json, &message);
        }
    };
    let service_header = headers
        .get("x-icegate-service")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let mut context = NdjsonContext {
        service_name: params.service.or(service_header),
        resource_attributes: Vec::new(),
    };
    for (name, value) in &headers {
        if let (Some(key), Ok(value)) = (
            name.as_str().strip_prefix("x-icegate-attribute-"),
            value.to_str(),
        ) {
            context
                .resource_attributes
                .push((key.to_string(), value.to_string()));
        }
    }
    if let Some(service) = &context.service_name {
        context
            .resource_attributes
            .push(("service.name".into(), service.clone()));
    }
    let mut budget = state.pipeline.request_budget();
    let decoded = NdjsonDecoder::new().decode_within(&body, &context, now_nanos(), &mut budget);
    drop((body, held));
    let batch = match decoded {
        Ok(batch) => batch,
        Err(err) => {
            counters.requests_rejected.fetch_add(1, Ordering::Relaxed);
            return status_response(refusal_status(&err), Encoding::Json, &err.to_string());
        }
    };
    match state
        .pipeline
        .accept_decoded(state.pipeline.table_key(Signal::Logs), batch, budget)
        .await
    {
        Ok(rows) => {
            counters
                .records_accepted
                .fetch_add(rows as u64, Ordering::Relaxed);
            counters
                .bytes_accepted
                .fetch_add(size as u64, Ordering::Relaxed);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                format!("{{\"accepted\":{rows}}}"),
            )
                .into_response()
        }
        Err(err) => {
            counters.requests_rejected.fetch_add(1, Ordering::Relaxed);
            ingest_error_response(&err, Encoding::Json)
        }
    }
}

/// 200 when the node can make requests durable, else 503; the body (JSON) says why, and
/// how every table's lane is doing (state, commits, quarantined batches).
async fn readyz(State(state): State<HttpState>) -> Response {
    let mut readiness = state.pipeline.readiness();
    if !state.ready.load(Ordering::Relaxed) {
        readiness.ready = false;
        readiness.reasons.insert(0, "not listening yet".into());
    }
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::to_string(&readiness).unwrap_or_else(|_| "{}".into());
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn metrics(State(state): State<HttpState>) -> Response {
    let mut text = crate::metrics::render(&state.pipeline);
    if let Some(compactor) = &state.compactor {
        compactor.render(&mut text);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
        .into_response()
}
