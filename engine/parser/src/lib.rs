//! Decoders from the bytes of a request straight into Arrow record batches of IceGate's
//! tables ([`icegate_schema`]): this is where ingest spends its CPU, so the hot paths avoid
//! per-field allocation.
//!
//! - [`OtlpLogsDecoder`]: OTLP `ExportLogsServiceRequest` protobuf → `logs`, decoding the wire
//!   format directly (no prost structs); strings are borrowed from the request and per-request
//!   scratch lives in a bumpalo arena that is reset between requests.
//! - [`OtlpTracesDecoder`]: OTLP `ExportTraceServiceRequest` protobuf → `traces` (one row per
//!   span, events and links nested), the same way.
//! - [`OtlpMetricsDecoder`]: OTLP `ExportMetricsServiceRequest` protobuf → `metrics` (one row
//!   per data point of gauges, sums, histograms, exponential histograms and summaries).
//! - [`OtlpJsonLogsDecoder`]: OTLP/JSON → `logs` with simd-json (camelCase or snake_case
//!   keys, hex ids, 64-bit integers as numbers or strings, enums as numbers or names).
//! - [`OtlpJsonTracesDecoder`]: OTLP/JSON → `traces`, the same way.
//! - [`OtlpJsonMetricsDecoder`]: OTLP/JSON → `metrics`, the same way.
//! - [`NdjsonDecoder`]: newline-delimited JSON log lines → `logs` (well-known keys for time,
//!   level, message, service and ids; everything else flattened into attributes; a line that
//!   is not JSON is kept as the body, never dropped).
//! - [`reference`](mod@reference): the same conversion through prost and opentelemetry-proto, kept as the
//!   definition of "correct": property tests prove the direct decoder equal to it.
//!
//! Every decoder has a strict `decode` (any error rejects the request) and a
//! `decode_within` for servers: it meters the batch against a [`DecodeBudget`] as it grows
//! (resource and scope attributes are copied into every row, so a small request can decode
//! to gigabytes) and leaves out, and counts, records that do not decode ([`Decoded`]: OTLP
//! partial success).
//!
//! Every decoder rejects malformed input with a [`DecodeError`] that names the field and byte
//! offset (truncated messages, wrong wire types, invalid UTF-8, lengths beyond the message,
//! ids of the wrong size, values nested deeper than [`MAX_DEPTH`]); nothing panics and no
//! allocation is sized from an untrusted length.
//!
//! ```
//! use icegate_parser::OtlpLogsDecoder;
//! let mut decoder = OtlpLogsDecoder::new();
//! let batch = decoder.decode(&[], 0).unwrap(); // an empty request is valid
//! assert_eq!(batch.num_rows(), 0);
//! assert!(decoder.decode(&[0x0a, 0x05], 0).is_err()); // truncated resource_logs
//! ```

mod anyvalue;
mod budget;
mod error;
mod fields;
mod logs_builder;
mod map_column;
mod metrics_builder;
mod ndjson;
mod otlp_common;
mod otlp_json;
mod otlp_json_logs;
mod otlp_json_metrics;
mod otlp_json_traces;
mod otlp_logs;
mod otlp_metrics;
mod otlp_traces;
pub mod reference;
mod timestamp;
mod traces_builder;
mod wire;

pub use anyvalue::MAX_DEPTH;
pub use budget::{DecodeBudget, Decoded, Limit, Refusal, Unlimited};
pub use error::{DecodeError, Result};
pub use fields::{Attribute, ResourceFields, ScopeFields, effective_time};
pub use logs_builder::{LogRow, LogsBuilder};
pub use metrics_builder::{ExponentialBuckets, MetricFields, MetricsBuilder, PointRow};
pub use ndjson::{NdjsonContext, NdjsonDecoder};
pub use otlp_json_logs::OtlpJsonLogsDecoder;
pub use otlp_json_metrics::OtlpJsonMetricsDecoder;
pub use otlp_json_traces::OtlpJsonTracesDecoder;
pub use otlp_logs::OtlpLogsDecoder;
pub use otlp_metrics::OtlpMetricsDecoder;
pub use otlp_traces::OtlpTracesDecoder;
pub use timestamp::{epoch_int_to_nanos, epoch_to_nanos, parse_rfc3339};
pub use traces_builder::{EventRow, LinkRow, SpanRow, TracesBuilder, duration};
