//! Random OTLP requests (prost structs) and a batch comparison that names the differing column.
#![allow(dead_code)]

use arrow::array::RecordBatch;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use proptest::prelude::*;

pub const RECEIVED: i64 = 1_764_000_000_123_456_789;

/// Equal batches, or a failure naming the first column that differs.
pub fn same(actual: &RecordBatch, expected: &RecordBatch) -> Result<(), TestCaseError> {
    prop_assert_eq!(actual.schema(), expected.schema());
    prop_assert_eq!(actual.num_rows(), expected.num_rows());
    for (index, field) in expected.schema().fields().iter().enumerate() {
        prop_assert!(
            actual.column(index) == expected.column(index),
            "column {} differs:\n actual: {:?}\n expected: {:?}",
            field.name(),
            actual.column(index),
            expected.column(index)
        );
    }
    Ok(())
}

pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ._-]{0,16}",
        1 => any::<String>(),
        1 => Just("quote\" backslash\\ newline\n tab\t nul\u{0} bell\u{7} del\u{7f} é 🦀".to_string()),
    ]
}

/// Doubles: every bit pattern when `finite_only` is false, else only finite ones (JSON
/// encoders write non-finite doubles as `null`).
pub fn double(finite_only: bool) -> BoxedStrategy<f64> {
    if finite_only {
        prop_oneof![
            any::<f64>().prop_filter("finite", |d| d.is_finite()),
            Just(-0.0),
            Just(1e21),
            Just(1.5)
        ]
        .boxed()
    } else {
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            Just(1e21)
        ]
        .boxed()
    }
}

pub fn any_value(finite_only: bool) -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        text().prop_map(Value::StringValue),
        any::<bool>().prop_map(Value::BoolValue),
        any::<i64>().prop_map(Value::IntValue),
        double(finite_only).prop_map(Value::DoubleValue),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::BytesValue),
    ]
    .prop_map(|value| AnyValue { value: Some(value) });
    let leaf = prop_oneof![8 => leaf, 1 => Just(AnyValue { value: None })];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(|values| AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values }))
            }),
            proptest::collection::vec((text(), proptest::option::of(inner)), 0..5).prop_map(
                |pairs| AnyValue {
                    value: Some(Value::KvlistValue(KeyValueList {
                        values: pairs
                            .into_iter()
                            .map(|(key, value)| KeyValue {
                                key,
                                value,
                                ..KeyValue::default()
                            })
                            .collect(),
                    })),
                }
            ),
        ]
    })
}

pub fn attributes(finite_only: bool) -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::vec(
        (
            prop_oneof![3 => text(), 1 => Just("service.name".to_string())],
            proptest::option::of(any_value(finite_only)),
        ),
        0..5,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(key, value)| KeyValue {
                key,
                value,
                ..KeyValue::default()
            })
            .collect()
    })
}

fn nanos() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        1u64..=i64::MAX as u64,
        Just(1_764_000_000_000_000_000u64)
    ]
}

fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), len..=len)
    ]
}

fn log_record(finite_only: bool) -> impl Strategy<Value = LogRecord> {
    (
        (
            nanos(),
            nanos(),
            -2i32..26,
            text(),
            proptest::option::of(any_value(finite_only)),
        ),
        (
            attributes(finite_only),
            any::<u32>(),
            any::<u32>(),
            id(16),
            id(8),
            text(),
        ),
    )
        .prop_map(
            |(
                (time, observed, severity, severity_text, body),
                (attributes, dropped, flags, trace_id, span_id, event_name),
            )| {
                LogRecord {
                    time_unix_nano: time,
                    observed_time_unix_nano: observed,
                    severity_number: severity,
                    severity_text,
                    body,
                    attributes,
                    dropped_attributes_count: dropped,
                    flags,
                    trace_id,
                    span_id,
                    event_name,
                }
            },
        )
}

/// A random logs request; `finite_only` keeps doubles JSON-encodable.
pub fn logs_request(finite_only: bool) -> impl Strategy<Value = ExportLogsServiceRequest> {
    let scope = (text(), text(), attributes(finite_only), any::<u32>()).prop_map(
        |(name, version, attributes, dropped)| InstrumentationScope {
            name,
            version,
            attributes,
            dropped_attributes_count: dropped,
        },
    );
    let scope_logs = (
        proptest::option::of(scope),
        proptest::collection::vec(log_record(finite_only), 0..5),
        text(),
    )
        .prop_map(|(scope, log_records, schema_url)| ScopeLogs {
            scope,
            log_records,
            schema_url,
        });
    let resource =
        (attributes(finite_only), any::<u32>()).prop_map(|(attributes, dropped)| Resource {
            attributes,
            dropped_attributes_count: dropped,
            ..Resource::default()
        });
    let resource_logs = (
        proptest::option::of(resource),
        proptest::collection::vec(scope_logs, 0..3),
        text(),
    )
        .prop_map(|(resource, scope_logs, schema_url)| ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        });
    proptest::collection::vec(resource_logs, 0..3)
        .prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
}

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

fn event(finite_only: bool) -> impl Strategy<Value = Event> {
    (nanos(), text(), attributes(finite_only), any::<u32>()).prop_map(
        |(time_unix_nano, name, attributes, dropped)| Event {
            time_unix_nano,
            name,
            attributes,
            dropped_attributes_count: dropped,
        },
    )
}

fn link(finite_only: bool) -> impl Strategy<Value = Link> {
    (
        id(16),
        id(8),
        text(),
        attributes(finite_only),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(trace_id, span_id, trace_state, attributes, dropped, flags)| Link {
                trace_id,
                span_id,
                trace_state,
                attributes,
                dropped_attributes_count: dropped,
                flags,
            },
        )
}

fn span(finite_only: bool) -> impl Strategy<Value = Span> {
    (
        (
            id(16),
            id(8),
            text(),
            id(8),
            any::<u32>(),
            text(),
            0i32..6,
            nanos(),
            nanos(),
        ),
        (
            attributes(finite_only),
            any::<u32>(),
            proptest::collection::vec(event(finite_only), 0..3),
            any::<u32>(),
        ),
        (
            proptest::collection::vec(link(finite_only), 0..3),
            any::<u32>(),
            proptest::option::of((text(), 0i32..3)),
        ),
    )
        .prop_map(
            |(
                (trace_id, span_id, trace_state, parent_span_id, flags, name, kind, start, end),
                (attributes, dropped_attributes_count, events, dropped_events_count),
                (links, dropped_links_count, status),
            )| Span {
                trace_id,
                span_id,
                trace_state,
                parent_span_id,
                flags,
                name,
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                dropped_attributes_count,
                events,
                dropped_events_count,
                links,
                dropped_links_count,
                status: status.map(|(message, code)| Status { message, code }),
            },
        )
}

/// A random traces request; `finite_only` keeps doubles JSON-encodable.
pub fn traces_request(finite_only: bool) -> impl Strategy<Value = ExportTraceServiceRequest> {
    let scope = (text(), text(), attributes(finite_only), any::<u32>()).prop_map(
        |(name, version, attributes, dropped)| InstrumentationScope {
            name,
            version,
            attributes,
            dropped_attributes_count: dropped,
        },
    );
    let scope_spans = (
        proptest::option::of(scope),
        proptest::collection::vec(span(finite_only), 0..4),
        text(),
    )
        .prop_map(|(scope, spans, schema_url)| ScopeSpans {
            scope,
            spans,
            schema_url,
        });
    let resource =
        (attributes(finite_only), any::<u32>()).prop_map(|(attributes, dropped)| Resource {
            attributes,
            dropped_attributes_count: dropped,
            ..Resource::default()
        });
    let resource_spans = (
        proptest::option::of(resource),
        proptest::collection::vec(scope_spans, 0..3),
        text(),
    )
        .prop_map(|(resource, scope_spans, schema_url)| ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        });
    proptest::collection::vec(resource_spans, 0..3)
        .prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
}

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint, metric,
    number_data_point,
};

fn number_points(finite_only: bool) -> impl Strategy<Value = Vec<NumberDataPoint>> {
    let value = prop_oneof![
        Just(None),
        double(finite_only).prop_map(|d| Some(number_data_point::Value::AsDouble(d))),
        any::<i64>().prop_map(|i| Some(number_data_point::Value::AsInt(i))),
    ];
    proptest::collection::vec(
        (
            attributes(finite_only),
            nanos(),
            nanos(),
            value,
            any::<u32>(),
        )
            .prop_map(|(attributes, start, time, value, flags)| NumberDataPoint {
                attributes,
                start_time_unix_nano: start,
                time_unix_nano: time,
                value,
                exemplars: vec![],
                flags,
            }),
        0..3,
    )
}

fn optional_double(finite_only: bool) -> impl Strategy<Value = Option<f64>> {
    proptest::option::of(double(finite_only))
}

fn histogram_points(finite_only: bool) -> impl Strategy<Value = Vec<HistogramDataPoint>> {
    proptest::collection::vec(
        (
            (
                attributes(finite_only),
                nanos(),
                nanos(),
                any::<u64>(),
                any::<u32>(),
            ),
            (
                optional_double(finite_only),
                optional_double(finite_only),
                optional_double(finite_only),
            ),
            (
                proptest::collection::vec(any::<u64>(), 0..5),
                proptest::collection::vec(double(finite_only), 0..4),
            ),
        )
            .prop_map(
                |(
                    (attributes, start, time, count, flags),
                    (sum, min, max),
                    (bucket_counts, explicit_bounds),
                )| {
                    HistogramDataPoint {
                        attributes,
                        start_time_unix_nano: start,
                        time_unix_nano: time,
                        count,
                        sum,
                        bucket_counts,
                        explicit_bounds,
                        exemplars: vec![],
                        flags,
                        min,
                        max,
                    }
                },
            ),
        0..3,
    )
}

fn buckets() -> impl Strategy<Value = Option<Buckets>> {
    proptest::option::of(
        (any::<i32>(), proptest::collection::vec(any::<u64>(), 0..5)).prop_map(
            |(offset, bucket_counts)| Buckets {
                offset,
                bucket_counts,
            },
        ),
    )
}

fn exponential_points(
    finite_only: bool,
) -> impl Strategy<Value = Vec<ExponentialHistogramDataPoint>> {
    proptest::collection::vec(
        (
            (
                attributes(finite_only),
                nanos(),
                nanos(),
                any::<u64>(),
                any::<u32>(),
            ),
            (
                optional_double(finite_only),
                optional_double(finite_only),
                optional_double(finite_only),
            ),
            (
                any::<i32>(),
                any::<u64>(),
                double(finite_only),
                buckets(),
                buckets(),
            ),
        )
            .prop_map(
                |(
                    (attributes, start, time, count, flags),
                    (sum, min, max),
                    (scale, zero_count, zero_threshold, positive, negative),
                )| {
                    ExponentialHistogramDataPoint {
                        attributes,
                        start_time_unix_nano: start,
                        time_unix_nano: time,
                        count,
                        sum,
                        scale,
                        zero_count,
                        positive,
                        negative,
                        flags,
                        exemplars: vec![],
                        min,
                        max,
                        zero_threshold,
                    }
                },
            ),
        0..3,
    )
}

fn summary_points(finite_only: bool) -> impl Strategy<Value = Vec<SummaryDataPoint>> {
    proptest::collection::vec(
        (
            attributes(finite_only),
            nanos(),
            nanos(),
            any::<u64>(),
            double(finite_only),
            proptest::collection::vec((double(finite_only), double(finite_only)), 0..4),
            any::<u32>(),
        )
            .prop_map(|(attributes, start, time, count, sum, quantiles, flags)| {
                SummaryDataPoint {
                    attributes,
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    count,
                    sum,
                    quantile_values: quantiles
                        .into_iter()
                        .map(|(quantile, value)| ValueAtQuantile { quantile, value })
                        .collect(),
                    flags,
                }
            }),
        0..3,
    )
}

fn metric(finite_only: bool) -> impl Strategy<Value = Metric> {
    let data = prop_oneof![
        Just(None),
        number_points(finite_only)
            .prop_map(|data_points| Some(metric::Data::Gauge(Gauge { data_points }))),
        (number_points(finite_only), 0i32..3, any::<bool>()).prop_map(
            |(data_points, temporality, monotonic)| {
                Some(metric::Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: temporality,
                    is_monotonic: monotonic,
                }))
            }
        ),
        (histogram_points(finite_only), 0i32..3).prop_map(|(data_points, temporality)| {
            Some(metric::Data::Histogram(Histogram {
                data_points,
                aggregation_temporality: temporality,
            }))
        }),
        (exponential_points(finite_only), 0i32..3).prop_map(|(data_points, temporality)| {
            Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points,
                aggregation_temporality: temporality,
            }))
        }),
        summary_points(finite_only)
            .prop_map(|data_points| Some(metric::Data::Summary(Summary { data_points }))),
    ];
    (text(), text(), text(), data, attributes(finite_only)).prop_map(
        |(name, description, unit, data, metadata)| Metric {
            name,
            description,
            unit,
            data,
            metadata,
        },
    )
}

/// A random metrics request; `finite_only` keeps doubles JSON-encodable.
pub fn metrics_request(finite_only: bool) -> impl Strategy<Value = ExportMetricsServiceRequest> {
    let scope = (text(), text(), attributes(finite_only), any::<u32>()).prop_map(
        |(name, version, attributes, dropped)| InstrumentationScope {
            name,
            version,
            attributes,
            dropped_attributes_count: dropped,
        },
    );
    let scope_metrics = (
        proptest::option::of(scope),
        proptest::collection::vec(metric(finite_only), 0..4),
        text(),
    )
        .prop_map(|(scope, metrics, schema_url)| ScopeMetrics {
            scope,
            metrics,
            schema_url,
        });
    let resource =
        (attributes(finite_only), any::<u32>()).prop_map(|(attributes, dropped)| Resource {
            attributes,
            dropped_attributes_count: dropped,
            ..Resource::default()
        });
    let resource_metrics = (
        proptest::option::of(resource),
        proptest::collection::vec(scope_metrics, 0..3),
        text(),
    )
        .prop_map(|(resource, scope_metrics, schema_url)| ResourceMetrics {
            resource,
            scope_metrics,
            schema_url,
        });
    proptest::collection::vec(resource_metrics, 0..3)
        .prop_map(|resource_metrics| ExportMetricsServiceRequest { resource_metrics })
}
