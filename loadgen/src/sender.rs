//! One connection's way of sending a request and reading the receiver's verdict.

use std::time::Duration;

use bytes::Bytes;
use icegate_ingest::grpc::RawCodec;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

use crate::payload::REQUEST_ATTRIBUTE;
use crate::spec::{LoadSpec, Protocol, Signal};

/// What the receiver said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; `rejected` records were refused inside an otherwise accepted request (OTLP
    /// partial success).
    Acked { rejected: u64 },
    /// Refused for now (429/503, RESOURCE_EXHAUSTED/UNAVAILABLE): worth retrying after
    /// `retry_after`.
    Backpressure {
        status: String,
        retry_after: Option<Duration>,
    },
    /// Refused for good (other statuses) or failed in transport.
    Failed { status: String },
}

/// Sends one request on one connection.
#[derive(Clone)]
pub enum Sender {
    Grpc {
        channel: Channel,
        path: &'static str,
        signal: Signal,
        gzip: bool,
    },
    Http {
        client: reqwest::Client,
        url: String,
        content_type: &'static str,
        gzip: bool,
        signal: Signal,
        protocol: Protocol,
    },
}

impl Sender {
    /// Opens a connection as the spec says.
    pub async fn connect(spec: &LoadSpec) -> anyhow::Result<Self> {
        let endpoint = spec.endpoint();
        Ok(match spec.protocol {
            Protocol::Grpc => {
                let channel = Endpoint::from_shared(endpoint.clone())?
                    .timeout(spec.timeout())
                    .tcp_nodelay(true)
                    .connect()
                    .await
                    .map_err(|err| anyhow::anyhow!("connecting to {endpoint}: {err}"))?;
                let path = match spec.signal {
                    Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
                    Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                    Signal::Metrics => {
                        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
                    }
                };
                Sender::Grpc {
                    channel,
                    path,
                    signal: spec.signal,
                    gzip: spec.gzip,
                }
            }
            protocol => {
                let client = reqwest::Client::builder()
                    .timeout(spec.timeout())
                    .tcp_nodelay(true)
                    .pool_max_idle_per_host(1)
                    .build()?;
                let path = match (protocol, spec.signal) {
                    (Protocol::Ndjson, _) => "/v1/ndjson",
                    (_, Signal::Logs) => "/v1/logs",
                    (_, Signal::Traces) => "/v1/traces",
                    (_, Signal::Metrics) => "/v1/metrics",
                };
                Sender::Http {
                    client,
                    url: format!("{endpoint}{path}"),
                    content_type: match protocol {
                        Protocol::HttpJson => "application/json",
                        Protocol::Ndjson => "application/x-ndjson",
                        _ => "application/x-protobuf",
                    },
                    gzip: spec.gzip,
                    signal: spec.signal,
                    protocol,
                }
            }
        })
    }

    /// Sends `body` (named `request_id`) and classifies the answer.
    pub async fn send(&self, body: Bytes, request_id: &str) -> Outcome {
        match self {
            Sender::Grpc {
                channel,
                path,
                signal,
                gzip,
            } => {
                let mut grpc = tonic::client::Grpc::new(channel.clone());
                if *gzip {
                    // gRPC compresses per message, flagged in the frame: tonic does it.
                    grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
                }
                if let Err(err) = grpc.ready().await {
                    return Outcome::Failed {
                        status: format!("transport: {err}"),
                    };
                }
                let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
                match grpc.unary(tonic::Request::new(body), path, RawCodec).await {
                    Ok(response) => Outcome::Acked {
                        rejected: rejected_in(*signal, response.get_ref()),
                    },
                    Err(status) => match status.code() {
                        Code::ResourceExhausted | Code::Unavailable => Outcome::Backpressure {
                            status: format!("grpc {:?}", status.code()),
                            retry_after: None,
                        },
                        code => Outcome::Failed {
                            status: format!("grpc {code:?}"),
                        },
                    },
                }
            }
            Sender::Http {
                client,
                url,
                content_type,
                gzip,
                signal,
                protocol,
            } => {
                let mut request = client
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, *content_type)
                    .body(body);
                if *gzip {
                    request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
                }
                if *protocol == Protocol::Ndjson {
                    request = request.header(
                        format!("x-icegate-attribute-{REQUEST_ATTRIBUTE}"),
                        request_id,
                    );
                }
                let response = match request.send().await {
                    Ok(response) => response,
                    Err(err) => {
                        return Outcome::Failed {
                            status: format!("transport: {}", without_url(&err)),
                        };
                    }
                };
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .map(Duration::from_secs);
                if status.is_success() {
                    let body = response.bytes().await.unwrap_or_default();
                    let rejected = if *content_type == "application/x-protobuf" {
                        rejected_in(*signal, &body)
                    } else {
                        0
                    };
                    Outcome::Acked { rejected }
                } else if status.as_u16() == 429 || status.as_u16() == 503 {
                    Outcome::Backpressure {
                        status: format!("http {}", status.as_u16()),
                        retry_after,
                    }
                } else {
                    Outcome::Failed {
                        status: format!("http {}", status.as_u16()),
                    }
                }
            }
        }
    }
}

fn without_url(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect"
    } else {
        "request"
    };
    kind.to_string()
}

/// The rejected count of an OTLP export response's partial success (protobuf), or 0.
fn rejected_in(signal: Signal, response: &[u8]) -> u64 {
    use opentelemetry_proto::tonic::collector::{logs, metrics, trace};
    use prost::Message;
    match signal {
        Signal::Logs => logs::v1::ExportLogsServiceResponse::decode(response)
            .ok()
            .and_then(|r| r.partial_success)
            .map_or(0, |p| p.rejected_log_records as u64),
        Signal::Traces => trace::v1::ExportTraceServiceResponse::decode(response)
            .ok()
            .and_then(|r| r.partial_success)
            .map_or(0, |p| p.rejected_spans as u64),
        Signal::Metrics => metrics::v1::ExportMetricsServiceResponse::decode(response)
            .ok()
            .and_then(|r| r.partial_success)
            .map_or(0, |p| p.rejected_data_points as u64),
    }
}
