//! The decoders of the three OTLP signals.

use std::cell::RefCell;

use arrow::array::RecordBatch;
use icegate_parser::{
    DecodeError, OtlpJsonLogsDecoder, OtlpJsonMetricsDecoder, OtlpJsonTracesDecoder,
    OtlpLogsDecoder, OtlpMetricsDecoder, OtlpTracesDecoder,
};
pub use icegate_pipeline::Signal;

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
