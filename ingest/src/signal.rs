//! The decoders of the three OTLP signals.

use std::cell::RefCell;

use icegate_parser::{
    DecodeBudget, DecodeError, Decoded, OtlpJsonLogsDecoder, OtlpJsonMetricsDecoder,
    OtlpJsonTracesDecoder, OtlpLogsDecoder, OtlpMetricsDecoder, OtlpTracesDecoder,
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

/// Decodes an OTLP request body with this thread's decoders, within `budget`, leaving out
/// the records that do not decode (partial success).
pub fn decode(
    signal: Signal,
    encoding: Encoding,
    body: &[u8],
    received_at_nanos: i64,
    budget: &mut dyn DecodeBudget,
) -> Result<Decoded, DecodeError> {
    let at = received_at_nanos;
    DECODERS.with_borrow_mut(|d| match (signal, encoding) {
        (Signal::Logs, Encoding::Protobuf) => d.logs.decode_within(body, at, budget),
        (Signal::Traces, Encoding::Protobuf) => d.traces.decode_within(body, at, budget),
        (Signal::Metrics, Encoding::Protobuf) => d.metrics.decode_within(body, at, budget),
        (Signal::Logs, Encoding::Json) => d.json_logs.decode_within(body, at, budget),
        (Signal::Traces, Encoding::Json) => d.json_traces.decode_within(body, at, budget),
        (Signal::Metrics, Encoding::Json) => d.json_metrics.decode_within(body, at, budget),
    })
}

/// How a request that does not decode is answered: 413 / 429 when its decode ran out of
/// memory (for good / for now), else 400.
pub fn decode_refusal(err: &DecodeError) -> Refused {
    match err {
        DecodeError::OverBudget {
            retryable: true, ..
        } => Refused::Busy,
        DecodeError::OverBudget { .. } => Refused::TooLarge,
        _ => Refused::Invalid,
    }
}

/// Why a request was not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Invalid,
    TooLarge,
    Busy,
}

/// An `Export*ServiceResponse`: empty for full success, else `partial_success` (field 1)
/// with the rejected count (1) and message (2) — the same numbers for all three signals.
pub fn export_response(
    encoding: Encoding,
    signal: Signal,
    rejected: u64,
    first_error: Option<&DecodeError>,
) -> Vec<u8> {
    let Some(error) = first_error.filter(|_| rejected > 0) else {
        return match encoding {
            Encoding::Protobuf => Vec::new(),
            Encoding::Json => b"{}".to_vec(),
        };
    };
    let message = format!("{} rejected: {error}", rejected_what(signal));
    match encoding {
        Encoding::Protobuf => {
            let mut partial = vec![0x08];
            push_varint(&mut partial, rejected);
            partial.push(0x12);
            push_varint(&mut partial, message.len() as u64);
            partial.extend_from_slice(message.as_bytes());
            let mut out = vec![0x0a];
            push_varint(&mut out, partial.len() as u64);
            out.extend_from_slice(&partial);
            out
        }
        Encoding::Json => {
            let field = match signal {
                Signal::Logs => "rejectedLogRecords",
                Signal::Traces => "rejectedSpans",
                Signal::Metrics => "rejectedDataPoints",
            };
            let body = serde_json::json!({
                "partialSuccess": { field: rejected.to_string(), "errorMessage": message }
            });
            body.to_string().into_bytes()
        }
    }
}

fn rejected_what(signal: Signal) -> &'static str {
    match signal {
        Signal::Logs => "log records",
        Signal::Traces => "spans",
        Signal::Metrics => "data points",
    }
}

pub fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Nanoseconds since the epoch, now.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}
