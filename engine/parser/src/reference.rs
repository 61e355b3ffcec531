//! The reference path: prost decodes the request into opentelemetry-proto's message structs,
//! and a straightforward conversion turns them into the same `logs` rows. It allocates freely
//! and is written for obviousness, not speed: the property tests prove the direct decoder
//! ([`crate::OtlpLogsDecoder`]) equal to it, and the benchmarks report the speed ratio.

use arrow::array::RecordBatch;
use base64::Engine as _;
use icegate_schema::UNKNOWN_SERVICE;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use crate::anyvalue::MAX_DEPTH;
use crate::error::{DecodeError, Result};
use crate::fields::{ResourceFields, ScopeFields, effective_time};
use crate::logs_builder::{LogRow, LogsBuilder};
use crate::metrics_builder::{ExponentialBuckets, MetricFields, MetricsBuilder, PointRow};
use crate::traces_builder::{EventRow, LinkRow, SpanRow, TracesBuilder};

/// Decodes a logs request with prost and converts it row by row.
pub fn decode_logs(request: &[u8], received_at_nanos: i64) -> Result<RecordBatch> {
    convert_logs(
        &prost_decode::<ExportLogsServiceRequest>(request, "ExportLogsServiceRequest")?,
        received_at_nanos,
    )
}

/// Converts decoded messages into a `logs` batch.
pub fn convert_logs(
    request: &ExportLogsServiceRequest,
    received_at_nanos: i64,
) -> Result<RecordBatch> {
    let mut builder = LogsBuilder::new();
    for resource_logs in &request.resource_logs {
        with_resource(
            &resource_logs.resource,
            &resource_logs.schema_url,
            |resource_fields| {
                for scope_logs in &resource_logs.scope_logs {
                    with_scope(&scope_logs.scope, &scope_logs.schema_url, |scope_fields| {
                        for record in &scope_logs.log_records {
                            let record_attributes = attributes(&record.attributes)?;
                            let record_pairs = borrow_pairs(&record_attributes);
                            let body = match &record.body {
                                Some(body) => render(body)?,
                                None => None,
                            };
                            let trace_id = id(&record.trace_id, 16, "LogRecord.trace_id")?;
                            let span_id = id(&record.span_id, 8, "LogRecord.span_id")?;
                            let time = nanos(record.time_unix_nano, "LogRecord.time_unix_nano")?;
                            let observed = nanos(
                                record.observed_time_unix_nano,
                                "LogRecord.observed_time_unix_nano",
                            )?;
                            let row = LogRow {
                                timestamp_nanos: effective_time(time, observed, received_at_nanos),
                                time_unix_nano: time,
                                observed_time_unix_nano: observed,
                                severity_number: (record.severity_number != 0)
                                    .then_some(record.severity_number),
                                severity_text: non_empty(&record.severity_text),
                                body: body.as_deref(),
                                trace_id: trace_id.as_deref(),
                                span_id: span_id.as_deref(),
                                flags: record.flags,
                                event_name: non_empty(&record.event_name),
                                attributes: &record_pairs,
                                dropped_attributes_count: record.dropped_attributes_count,
                            };
                            builder.append(resource_fields, scope_fields, &row);
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            },
        )?;
    }
    Ok(builder.finish())
}

/// Decodes a traces request with prost and converts it row by row.
pub fn decode_traces(request: &[u8], received_at_nanos: i64) -> Result<RecordBatch> {
    convert_traces(
        &prost_decode::<ExportTraceServiceRequest>(request, "ExportTraceServiceRequest")?,
        received_at_nanos,
    )
}

/// Converts decoded trace messages into a `traces` batch.
pub fn convert_traces(
    request: &ExportTraceServiceRequest,
    received_at_nanos: i64,
) -> Result<RecordBatch> {
    let mut builder = TracesBuilder::new();
    for resource_spans in &request.resource_spans {
        with_resource(
            &resource_spans.resource,
            &resource_spans.schema_url,
            |resource_fields| {
                for scope_spans in &resource_spans.scope_spans {
                    with_scope(
                        &scope_spans.scope,
                        &scope_spans.schema_url,
                        |scope_fields| {
                            for span in &scope_spans.spans {
                                let span_attributes = attributes(&span.attributes)?;
                                let span_pairs = borrow_pairs(&span_attributes);
                                let mut event_texts = Vec::new();
                                for event in &span.events {
                                    event_texts.push((
                                        nanos(event.time_unix_nano, "Span.Event.time_unix_nano")?,
                                        attributes(&event.attributes)?,
                                    ));
                                }
                                let event_pairs: Vec<_> =
                                    event_texts.iter().map(|(_, a)| borrow_pairs(a)).collect();
                                let events: Vec<EventRow<'_>> = span
                                    .events
                                    .iter()
                                    .zip(&event_texts)
                                    .zip(&event_pairs)
                                    .map(|((event, (time, _)), pairs)| EventRow {
                                        time_unix_nano: *time,
                                        name: non_empty(&event.name),
                                        attributes: pairs,
                                        dropped_attributes_count: event.dropped_attributes_count,
                                    })
                                    .collect();
                                let mut link_texts = Vec::new();
                                for link in &span.links {
                                    link_texts.push((
                                        id(&link.trace_id, 16, "Span.Link.trace_id")?,
                                        id(&link.span_id, 8, "Span.Link.span_id")?,
                                        attributes(&link.attributes)?,
                                    ));
                                }
                                let link_pairs: Vec<_> =
                                    link_texts.iter().map(|(_, _, a)| borrow_pairs(a)).collect();
                                let links: Vec<LinkRow<'_>> = span
                                    .links
                                    .iter()
                                    .zip(&link_texts)
                                    .zip(&link_pairs)
                                    .map(|((link, (trace_id, span_id, _)), pairs)| LinkRow {
                                        trace_id: trace_id.as_deref(),
                                        span_id: span_id.as_deref(),
                                        trace_state: non_empty(&link.trace_state),
                                        attributes: pairs,
                                        dropped_attributes_count: link.dropped_attributes_count,
                                        flags: link.flags,
                                    })
                                    .collect();
                                let trace_id = id(&span.trace_id, 16, "Span.trace_id")?;
                                let span_id = id(&span.span_id, 8, "Span.span_id")?;
                                let parent_span_id =
                                    id(&span.parent_span_id, 8, "Span.parent_span_id")?;
                                let start =
                                    nanos(span.start_time_unix_nano, "Span.start_time_unix_nano")?;
                                let end =
                                    nanos(span.end_time_unix_nano, "Span.end_time_unix_nano")?;
                                let status = span.status.clone().unwrap_or_default();
                                let row = SpanRow {
                                    timestamp_nanos: start.unwrap_or(received_at_nanos),
                                    start_time_unix_nano: start,
                                    end_time_unix_nano: end,
                                    trace_id: trace_id.as_deref(),
                                    span_id: span_id.as_deref(),
                                    parent_span_id: parent_span_id.as_deref(),
                                    trace_state: non_empty(&span.trace_state),
                                    name: non_empty(&span.name),
                                    kind: span.kind,
                                    status_code: status.code,
                                    status_message: non_empty(&status.message),
                                    flags: span.flags,
                                    attributes: &span_pairs,
                                    dropped_attributes_count: span.dropped_attributes_count,
                                    events: &events,
                                    dropped_events_count: span.dropped_events_count,
                                    links: &links,
                                    dropped_links_count: span.dropped_links_count,
                                };
                                builder.append(resource_fields, scope_fields, &row);
                            }
                            Ok(())
                        },
                    )?;
                }
                Ok(())
            },
        )?;
    }
    Ok(builder.finish())
}

/// Decodes a metrics request with prost and converts it row by row.
pub fn decode_metrics(request: &[u8], received_at_nanos: i64) -> Result<RecordBatch> {
    convert_metrics(
        &prost_decode::<ExportMetricsServiceRequest>(request, "ExportMetricsServiceRequest")?,
        received_at_nanos,
    )
}

/// Converts decoded metric messages into a `metrics` batch: one row per data point.
pub fn convert_metrics(
    request: &ExportMetricsServiceRequest,
    received_at_nanos: i64,
) -> Result<RecordBatch> {
    let mut builder = MetricsBuilder::new();
    for resource_metrics in &request.resource_metrics {
        with_resource(
            &resource_metrics.resource,
            &resource_metrics.schema_url,
            |resource_fields| {
                for scope_metrics in &resource_metrics.scope_metrics {
                    with_scope(
                        &scope_metrics.scope,
                        &scope_metrics.schema_url,
                        |scope_fields| {
                            for metric in &scope_metrics.metrics {
                                let metadata = attributes(&metric.metadata)?;
                                let metadata_pairs = borrow_pairs(&metadata);
                                let mut fields = MetricFields {
                                    name: non_empty(&metric.name),
                                    description: non_empty(&metric.description),
                                    unit: non_empty(&metric.unit),
                                    metric_type: "",
                                    aggregation_temporality: None,
                                    is_monotonic: None,
                                    metadata: &metadata_pairs,
                                };
                                // The points, with what each owns, before they become rows.
                                let mut points: Vec<OwnedPoint<'_>> = Vec::new();
                                match &metric.data {
                                    None => continue,
                                    Some(Data::Gauge(gauge)) => {
                                        fields.metric_type = "gauge";
                                        for p in &gauge.data_points {
                                            points.push(OwnedPoint::new(
                                                p.time_unix_nano,
                                                p.start_time_unix_nano,
                                                &p.attributes,
                                                number_point(p),
                                            )?);
                                        }
                                    }
                                    Some(Data::Sum(sum)) => {
                                        fields.metric_type = "sum";
                                        fields.aggregation_temporality =
                                            Some(sum.aggregation_temporality);
                                        fields.is_monotonic = Some(sum.is_monotonic);
                                        for p in &sum.data_points {
                                            points.push(OwnedPoint::new(
                                                p.time_unix_nano,
                                                p.start_time_unix_nano,
                                                &p.attributes,
                                                number_point(p),
                                            )?);
                                        }
                                    }
                                    Some(Data::Histogram(histogram)) => {
                                        fields.metric_type = "histogram";
                                        fields.aggregation_temporality =
                                            Some(histogram.aggregation_temporality);
                                        for p in &histogram.data_points {
                                            let row = PointRow {
                                                flags: p.flags,
                                                count: Some(p.count),
                                                sum: p.sum,
                                                min: p.min,
                                                max: p.max,
                                                bucket_counts: Some(&p.bucket_counts),
                                                explicit_bounds: Some(&p.explicit_bounds),
                                                ..PointRow::default()
                                            };
                                            points.push(OwnedPoint::new(
                                                p.time_unix_nano,
                                                p.start_time_unix_nano,
                                                &p.attributes,
                                                row,
                                            )?);
                                        }
                                    }
                                    Some(Data::ExponentialHistogram(histogram)) => {
                                        fields.metric_type = "exponential_histogram";
                                        fields.aggregation_temporality =
                                            Some(histogram.aggregation_temporality);
                                        for p in &histogram.data_points {
                                            let row = PointRow {
                                                flags: p.flags,
                                                count: Some(p.count),
                                                sum: p.sum,
                                                min: p.min,
                                                max: p.max,
                                                scale: Some(p.scale),
                                                zero_count: Some(p.zero_count),
                                                zero_threshold: Some(p.zero_threshold),
                                                positive: Some(buckets(&p.positive)),
                                                negative: Some(buckets(&p.negative)),
                                                ..PointRow::default()
                                            };
                                            points.push(OwnedPoint::new(
                                                p.time_unix_nano,
                                                p.start_time_unix_nano,
                                                &p.attributes,
                                                row,
                                            )?);
                                        }
                                    }
                                    Some(Data::Summary(summary)) => {
                                        fields.metric_type = "summary";
                                        for p in &summary.data_points {
                                            let row = PointRow {
                                                flags: p.flags,
                                                count: Some(p.count),
                                                sum: Some(p.sum),
                                                ..PointRow::default()
                                            };
                                            let mut point = OwnedPoint::new(
                                                p.time_unix_nano,
                                                p.start_time_unix_nano,
                                                &p.attributes,
                                                row,
                                            )?;
                                            point.quantiles = Some(
                                                p.quantile_values
                                                    .iter()
                                                    .map(|q| (q.quantile, q.value))
                                                    .collect(),
                                            );
                                            points.push(point);
                                        }
                                    }
                                }
                                for point in &points {
                                    let pairs = borrow_pairs(&point.attributes);
                                    let row = PointRow {
                                        timestamp_nanos: point.time.unwrap_or(received_at_nanos),
                                        time_unix_nano: point.time,
                                        start_time_unix_nano: point.start,
                                        attributes: &pairs,
                                        quantile_values: point.quantiles.as_deref(),
                                        ..point.row
                                    };
                                    builder.append(resource_fields, scope_fields, &fields, &row);
                                }
                            }
                            Ok(())
                        },
                    )?;
                }
                Ok(())
            },
        )?;
    }
    Ok(builder.finish())
}

/// A data point's parts that the reference owns, until it becomes a row.
struct OwnedPoint<'p> {
    time: Option<i64>,
    start: Option<i64>,
    attributes: Vec<(String, Option<String>)>,
    quantiles: Option<Vec<(f64, f64)>>,
    row: PointRow<'p>,
}

impl<'p> OwnedPoint<'p> {
    fn new(time: u64, start: u64, pairs: &[KeyValue], row: PointRow<'p>) -> Result<Self> {
        Ok(Self {
            time: nanos(time, "DataPoint.time_unix_nano")?,
            start: nanos(start, "DataPoint.start_time_unix_nano")?,
            attributes: attributes(pairs)?,
            quantiles: None,
            row,
        })
    }
}

fn buckets(
    buckets: &Option<
        opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets,
    >,
) -> ExponentialBuckets<'_> {
    buckets
        .as_ref()
        .map_or(ExponentialBuckets::default(), |b| ExponentialBuckets {
            offset: b.offset,
            bucket_counts: &b.bucket_counts,
        })
}

fn number_point(
    point: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint,
) -> PointRow<'static> {
    let (value_double, value_int) = match point.value {
        Some(number_data_point::Value::AsDouble(d)) => (Some(d), None),
        Some(number_data_point::Value::AsInt(i)) => (None, Some(i)),
        None => (None, None),
    };
    PointRow {
        flags: point.flags,
        value_double,
        value_int,
        ..PointRow::default()
    }
}

/// Runs `convert` with the fields of a resource (a missing resource is an empty one).
fn with_resource<T>(
    resource: &Option<Resource>,
    schema_url: &str,
    convert: impl FnOnce(&ResourceFields<'_>) -> Result<T>,
) -> Result<T> {
    let resource = resource.clone().unwrap_or_default();
    let resource_attributes = attributes(&resource.attributes)?;
    let service_name = service_name(&resource_attributes);
    let pairs = borrow_pairs(&resource_attributes);
    convert(&ResourceFields {
        service_name: &service_name,
        attributes: &pairs,
        dropped_attributes_count: resource.dropped_attributes_count,
        schema_url: non_empty(schema_url),
    })
}

/// Runs `convert` with the fields of an instrumentation scope (missing is empty).
fn with_scope<T>(
    scope: &Option<InstrumentationScope>,
    schema_url: &str,
    convert: impl FnOnce(&ScopeFields<'_>) -> Result<T>,
) -> Result<T> {
    let scope = scope.clone().unwrap_or_default();
    let scope_attributes = attributes(&scope.attributes)?;
    let pairs = borrow_pairs(&scope_attributes);
    convert(&ScopeFields {
        name: non_empty(&scope.name),
        version: non_empty(&scope.version),
        attributes: &pairs,
        dropped_attributes_count: scope.dropped_attributes_count,
        schema_url: non_empty(schema_url),
    })
}

/// Decodes a request message with prost.
fn prost_decode<M: Message + Default>(request: &[u8], message: &'static str) -> Result<M> {
    M::decode(request).map_err(|err| DecodeError::Protobuf {
        offset: 0,
        field: message,
        problem: err.to_string(),
    })
}

fn service_name(resource_attributes: &[(String, Option<String>)]) -> String {
    resource_attributes
        .iter()
        .rev()
        .find(|(key, value)| key == "service.name" && value.is_some())
        .and_then(|(_, value)| value.clone())
        .unwrap_or_else(|| UNKNOWN_SERVICE.to_string())
}

fn attributes(pairs: &[KeyValue]) -> Result<Vec<(String, Option<String>)>> {
    pairs
        .iter()
        .map(|pair| {
            let value = match &pair.value {
                Some(value) => render(value)?,
                None => None,
            };
            Ok((pair.key.clone(), value))
        })
        .collect()
}

fn borrow_pairs(pairs: &[(String, Option<String>)]) -> Vec<(&str, Option<&str>)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect()
}

/// A top-level value as column text (rules in `icegate_schema`'s docs).
fn render(value: &AnyValue) -> Result<Option<String>> {
    Ok(match &value.value {
        // A profiles string-table index means nothing outside profiles.
        None | Some(Value::StringValueStrindex(_)) => None,
        Some(Value::StringValue(text)) => Some(text.clone()),
        Some(Value::BoolValue(b)) => Some(b.to_string()),
        Some(Value::IntValue(i)) => Some(i.to_string()),
        Some(Value::DoubleValue(d)) => Some(match serde_json::Number::from_f64(*d) {
            Some(number) => number.to_string(),
            None if d.is_nan() => "NaN".to_string(),
            None if *d > 0.0 => "inf".to_string(),
            None => "-inf".to_string(),
        }),
        Some(Value::BytesValue(bytes)) => {
            Some(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        Some(Value::ArrayValue(_)) | Some(Value::KvlistValue(_)) => Some(to_json(value, 0)?),
    })
}

/// JSON text of a nested value; `serde_json` escapes strings and formats numbers.
fn to_json(value: &AnyValue, depth: usize) -> Result<String> {
    use serde_json::Value as Json;
    if depth >= MAX_DEPTH {
        return Err(DecodeError::TooDeep {
            field: "AnyValue",
            limit: MAX_DEPTH,
        });
    }
    Ok(match &value.value {
        None | Some(Value::StringValueStrindex(_)) => "null".to_string(),
        Some(Value::StringValue(text)) => Json::String(text.clone()).to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map_or(Json::Null, Json::Number)
            .to_string(),
        Some(Value::BytesValue(bytes)) => {
            Json::String(base64::engine::general_purpose::STANDARD.encode(bytes)).to_string()
        }
        Some(Value::ArrayValue(array)) => {
            let items = array
                .values
                .iter()
                .map(|item| to_json(item, depth + 1))
                .collect::<Result<Vec<_>>>()?;
            format!("[{}]", items.join(","))
        }
        Some(Value::KvlistValue(list)) => {
            // Keys stay in the order sent, duplicates included (a serde_json map would not).
            let mut members = Vec::new();
            for pair in &list.values {
                let value = match &pair.value {
                    Some(value) => to_json(value, depth + 1)?,
                    None => "null".to_string(),
                };
                members.push(format!("{}:{value}", Json::String(pair.key.clone())));
            }
            format!("{{{}}}", members.join(","))
        }
    })
}

fn id(bytes: &[u8], len: usize, field: &'static str) -> Result<Option<String>> {
    match bytes.len() {
        0 => Ok(None),
        n if n == len => Ok(Some(bytes.iter().map(|b| format!("{b:02x}")).collect())),
        n => Err(DecodeError::Protobuf {
            offset: 0,
            field,
            problem: format!("{n} bytes, expected {len} or none"),
        }),
    }
}

fn nanos(value: u64, field: &'static str) -> Result<Option<i64>> {
    match value {
        0 => Ok(None),
        v if v > i64::MAX as u64 => Err(DecodeError::Protobuf {
            offset: 0,
            field,
            problem: format!("{v} ns is beyond the year 2262"),
        }),
        v => Ok(Some(v as i64)),
    }
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}
