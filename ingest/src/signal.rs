//! The three OTLP signals and their decoders.

use std::cell::RefCell;

use arrow::array::RecordBatch;
use icegate_parser::{
    DecodeError, OtlpJsonLogsDecoder, OtlpJsonMetricsDecoder, OtlpJsonTracesDecoder,
    OtlpLogsDecoder, OtlpMetricsDecoder, OtlpTracesDecoder,
};
use icegate_schema::{TableLayout, logs_schema, metrics_schema, traces_schema};

/// An OTLP signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    Logs,
    Traces,
    Metrics,
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::Logs, Signal::Traces, Signal::Metrics];

    pub fn name(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }

    pub fn schema(self) -> arrow::datatypes::SchemaRef {
        match self {
            Signal::Logs => logs_schema(),
            Signal::Traces => traces_schema(),
            Signal::Metrics => metrics_schema(),
        }
    }

    pub fn layout(self) -> TableLayout {
        TableLayout::default()
    }
}

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

thread_local! {
    static DECODERS: RefCell<Decoders> = RefCell::new(Decoders::default());
}

/// One decoder of each kind per thread: they keep their arenas and builders warm.
#[derive(Default)]
struct Decoders {
    logs: OtlpLogsDecoder,
    traces: OtlpTracesDecoder,
    metrics: OtlpMetricsDecoder,
    json_logs: OtlpJsonLogsDecoder,
    json_traces: OtlpJsonTracesDecoder,
    json_metrics: OtlpJsonMetricsDecoder,
}

/// Decodes an OTLP request body with this thread's decoders.
pub fn decode(
    signal: Signal,
    encoding: Encoding,
    body: &[u8],
    received_at_nanos: i64,
) -> Result<RecordBatch, DecodeError> {
    DECODERS.with_borrow_mut(|d| match (signal, encoding) {
        (Signal::Logs, Encoding::Protobuf) => d.logs.decode(body, received_at_nanos),
        (Signal::Traces, Encoding::Protobuf) => d.traces.decode(body, received_at_nanos),
        (Signal::Metrics, Encoding::Protobuf) => d.metrics.decode(body, received_at_nanos),
        (Signal::Logs, Encoding::Json) => d.json_logs.decode(body, received_at_nanos),
        (Signal::Traces, Encoding::Json) => d.json_traces.decode(body, received_at_nanos),
        (Signal::Metrics, Encoding::Json) => d.json_metrics.decode(body, received_at_nanos),
    })
}

/// Nanoseconds since the epoch, now.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}
