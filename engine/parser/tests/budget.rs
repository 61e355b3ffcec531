//! Decoding within a memory budget (amplifying requests are refused before they allocate)
//! and partial success (records that do not decode are left out and counted).

use icegate_parser::{
    DecodeBudget, DecodeError, Limit, NdjsonContext, NdjsonDecoder, OtlpJsonLogsDecoder,
    OtlpJsonMetricsDecoder, OtlpJsonTracesDecoder, OtlpLogsDecoder, OtlpMetricsDecoder,
    OtlpTracesDecoder, Refusal,
};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

const RECEIVED: i64 = 1_764_000_000_000_000_000;
const LIMIT: u64 = 64 << 20;

fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
        ..KeyValue::default()
    }
}

/// One resource with `attribute_bytes` of attributes shared by `records` empty log records:
/// the shape that turned a 400 KB request into 2.4 GB.
fn amplifying_logs(attribute_bytes: usize, records: usize) -> ExportLogsServiceRequest {
    let attributes = (0..attribute_bytes / 64)
        .map(|i| string_attribute(&format!("k8s.label.{i:04}"), &"v".repeat(48)))
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes,
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); records],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

fn over_budget(outcome: Result<impl std::fmt::Debug, DecodeError>) -> (u64, bool) {
    match outcome {
        Err(DecodeError::OverBudget {
            bytes, retryable, ..
        }) => (bytes, retryable),
        other => panic!("expected a budget refusal, got {other:?}"),
    }
}

#[test]
fn an_amplifying_protobuf_request_is_refused_at_the_limit() {
    let request = amplifying_logs(4096, 200_000).encode_to_vec();
    assert!(request.len() < 500_000, "{} bytes", request.len());
    let mut decoder = OtlpLogsDecoder::new();
    let (bytes, retryable) =
        over_budget(decoder.decode_within(&request, RECEIVED, &mut Limit(LIMIT)));
    assert!(!retryable);
    // Refused one row past the limit, not gigabytes later.
    assert!(
        bytes > LIMIT && bytes < LIMIT + 16 * 1024,
        "refused at {bytes}"
    );
    // The decoder is usable again, and the same shape at a size that fits decodes.
    let small = amplifying_logs(4096, 1_000).encode_to_vec();
    let decoded = decoder
        .decode_within(&small, RECEIVED, &mut Limit(LIMIT))
        .unwrap();
    assert_eq!((decoded.batch.num_rows(), decoded.rejected), (1_000, 0));
}

/// Records what was asked and grants exactly that: the meter must ask before the batch's
/// real buffers pass the grant (by more than one row).
#[derive(Default)]
struct Recording {
    asked: u64,
}

impl DecodeBudget for Recording {
    fn grant(&mut self, bytes: u64) -> Result<u64, Refusal> {
        self.asked = self.asked.max(bytes);
        Ok(bytes)
    }
}

#[test]
fn the_meter_accounts_what_the_batch_holds() {
    let request = amplifying_logs(4096, 5_000).encode_to_vec();
    let mut budget = Recording::default();
    let decoded = OtlpLogsDecoder::new()
        .decode_within(&request, RECEIVED, &mut budget)
        .unwrap();
    // Values and offsets, without the builders' spare capacity.
    let held: u64 = decoded
        .batch
        .columns()
        .iter()
        .map(|c| c.to_data().get_slice_memory_size().unwrap() as u64)
        .sum();
    assert!(
        budget.asked >= held * 9 / 10 && budget.asked <= held * 11 / 10,
        "metered {} vs held {held}",
        budget.asked
    );
}

#[test]
fn every_decoder_meters_its_batch() {
    let big = "x".repeat(8192);
    // OTLP/JSON logs: one resource attribute of 8 KB over 20,000 empty records.
    let json_logs = format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"a","value":{{"stringValue":"{big}"}}}}]}},"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
        vec!["{}"; 20_000].join(",")
    );
    let (_, retryable) = over_budget(OtlpJsonLogsDecoder::new().decode_within(
        json_logs.as_bytes(),
        RECEIVED,
        &mut Limit(LIMIT),
    ));
    assert!(!retryable);
    // OTLP/JSON traces, the same way.
    let json_traces = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"a","value":{{"stringValue":"{big}"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
        vec!["{}"; 20_000].join(",")
    );
    over_budget(OtlpJsonTracesDecoder::new().decode_within(
        json_traces.as_bytes(),
        RECEIVED,
        &mut Limit(LIMIT),
    ));
    // OTLP/JSON metrics: a metric's description is copied into each of its points.
    let json_metrics = format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"m","description":"{big}","gauge":{{"dataPoints":[{}]}}}}]}}]}}]}}"#,
        vec!["{}"; 20_000].join(",")
    );
    over_budget(OtlpJsonMetricsDecoder::new().decode_within(
        json_metrics.as_bytes(),
        RECEIVED,
        &mut Limit(LIMIT),
    ));
    // Protobuf traces and metrics.
    let traces = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string_attribute("a", &big)],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span::default(); 20_000],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec();
    over_budget(OtlpTracesDecoder::new().decode_within(&traces, RECEIVED, &mut Limit(LIMIT)));
    let metrics = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "m".into(),
                    description: big.clone(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint::default(); 20_000],
                    })),
                    ..Metric::default()
                }],
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
    .encode_to_vec();
    over_budget(OtlpMetricsDecoder::new().decode_within(&metrics, RECEIVED, &mut Limit(LIMIT)));
    // NDJSON: header attributes copied into each of many tiny lines.
    let context = NdjsonContext {
        service_name: Some("svc".into()),
        resource_attributes: (0..64)
            .map(|i| (format!("h{i}"), big[..512].to_string()))
            .collect(),
    };
    let lines = "x\n".repeat(200_000);
    over_budget(NdjsonDecoder::new().decode_within(
        lines.as_bytes(),
        &context,
        RECEIVED,
        &mut Limit(LIMIT),
    ));
    // A parsed JSON tree is charged before it is built: a flat array of zeros.
    let zeros = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{{"arrayValue":{{"values":[{}]}}}}}}]}}]}}]}}"#,
        vec!["0"; 1_000_000].join(",")
    );
    over_budget(OtlpJsonLogsDecoder::new().decode_within(
        zeros.as_bytes(),
        RECEIVED,
        &mut Limit(32 << 20),
    ));
}

/// `request` with every occurrence of `marker` overwritten by invalid UTF-8 of its length.
fn corrupt(mut request: Vec<u8>, marker: &str) -> Vec<u8> {
    let marker = marker.as_bytes();
    let mut found = 0;
    let mut i = 0;
    while i + marker.len() <= request.len() {
        if &request[i..i + marker.len()] == marker {
            request[i..i + marker.len()].fill(0xff);
            found += 1;
            i += marker.len();
        } else {
            i += 1;
        }
    }
    assert!(found > 0, "marker not in the request");
    request
}

fn record(body: &str, attribute: &str) -> LogRecord {
    LogRecord {
        body: Some(AnyValue {
            value: Some(Value::StringValue(body.into())),
        }),
        attributes: vec![string_attribute(attribute, "v")],
        ..LogRecord::default()
    }
}

#[test]
fn protobuf_logs_leave_out_only_the_records_that_do_not_decode() {
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    record("first", "ok"),
                    record("second", "BADKEY"),
                    record("third", "ok"),
                    record("fourth", "BADKEY"),
                ],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    };
    let bytes = corrupt(request.encode_to_vec(), "BADKEY");
    let mut decoder = OtlpLogsDecoder::new();
    assert!(
        decoder.decode(&bytes, RECEIVED).is_err(),
        "strict decode rejects it"
    );
    let decoded = decoder
        .decode_within(&bytes, RECEIVED, &mut Limit(LIMIT))
        .unwrap();
    assert_eq!((decoded.batch.num_rows(), decoded.rejected), (2, 2));
    let message = decoded.first_error.unwrap().to_string();
    assert!(message.contains("UTF-8"), "{message}");
    let bodies = decoded
        .batch
        .column_by_name("body")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .unwrap()
        .iter()
        .map(|b| b.unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(bodies, ["first", "third"]);
    // Damage to the envelope still rejects the whole request.
    let mut truncated = request.encode_to_vec();
    truncated.truncate(truncated.len() - 3);
    assert!(
        decoder
            .decode_within(&truncated, RECEIVED, &mut Limit(LIMIT))
            .is_err()
    );
}

#[test]
fn spans_and_points_are_rejected_one_by_one() {
    let span = |name: &str, span_id: Vec<u8>| Span {
        name: name.into(),
        trace_id: vec![1; 16],
        span_id,
        ..Span::default()
    };
    let traces = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span("good", vec![2; 8]), span("short id", vec![2; 3])],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec();
    let decoded = OtlpTracesDecoder::new()
        .decode_within(&traces, RECEIVED, &mut Limit(LIMIT))
        .unwrap();
    assert_eq!((decoded.batch.num_rows(), decoded.rejected), (1, 1));

    let point = |value: f64, attribute: &str| NumberDataPoint {
        attributes: vec![string_attribute(attribute, "v")],
        value: Some(number_data_point::Value::AsDouble(value)),
        ..NumberDataPoint::default()
    };
    let gauge = |name: &str, points: Vec<NumberDataPoint>| Metric {
        name: name.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Metric::default()
    };
    let metrics = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    gauge("fine", vec![point(1.0, "ok"), point(2.0, "BADKEY")]),
                    // A metric whose own name does not decode takes its three points along.
                    gauge(
                        "BADKEY",
                        vec![point(3.0, "ok"), point(4.0, "ok"), point(5.0, "ok")],
                    ),
                ],
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
    .encode_to_vec();
    let metrics = corrupt(metrics, "BADKEY");
    let decoded = OtlpMetricsDecoder::new()
        .decode_within(&metrics, RECEIVED, &mut Limit(LIMIT))
        .unwrap();
    assert_eq!((decoded.batch.num_rows(), decoded.rejected), (1, 4));
}

#[test]
fn json_records_are_rejected_one_by_one() {
    let logs = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
        {"body":{"stringValue":"kept"}},
        {"traceId":"not hex","body":{"stringValue":"rejected"}},
        {"severityNumber":"SEVERITY_NUMBER_NONSENSE"}
    ]}]}]}"#;
    let decoded = OtlpJsonLogsDecoder::new()
        .decode_within(logs, RECEIVED, &mut Limit(LIMIT))
        .unwrap();
    assert_eq!((decoded.batch.num_rows(), decoded.rejected), (1, 2));
    let metrics = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
        {"name":"a","gauge":{"dataPoints":[{"asDouble":1},{"asDouble":"not a number"}]}},
        {"name":"b","gauge":{"dataPoints":[{"asDouble":1},{"asDouble":2}]},"sum":{"dataPoints":[{"asInt":"3"}]}}
    ]}]}]}"#;
    let decoded = OtlpJsonMetricsDecoder::new()
        .decode_within(metrics, RECEIVED, &mut Limit(LIMIT))
        .unwrap();
    // One bad point of `a`; `b` names two types, so all three of its points go.
    assert_eq!((decoded.batch.num_rows(), decoded.rejected), (1, 4));
}
