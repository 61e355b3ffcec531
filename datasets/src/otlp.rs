//! Generated records as OTLP export requests (encode with [`prost::Message`] for protobuf,
//! `serde_json` for OTLP/JSON) and as NDJSON lines.
//!
//! A request groups records by service into one `Resource*` each (`service.name` plus the
//! caller's extra resource attributes, e.g. a load generator's request marker) with one
//! instrumentation scope.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as OtlpLogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use crate::logs::LogRecord;
use crate::metrics::{MetricPoint, MetricValue};
use crate::text::{hex, rfc3339};
use crate::traces::SpanRecord;

/// The instrumentation scope every generated record carries.
pub const SCOPE_NAME: &str = "icegate-datasets";

fn string_value(value: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(value.to_string())),
    })
}

fn key_values(pairs: &[(String, String)]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|(key, value)| KeyValue {
            key: key.clone(),
            value: string_value(value),
            ..Default::default()
        })
        .collect()
}

fn resource(service: &str, extra: &[(String, String)]) -> Resource {
    let mut attributes = vec![KeyValue {
        key: "service.name".into(),
        value: string_value(service),
        ..Default::default()
    }];
    attributes.extend(key_values(extra));
    Resource {
        attributes,
        ..Default::default()
    }
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: SCOPE_NAME.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    })
}

/// Indexes of `items` grouped by service, services in first-seen order.
fn by_service<T>(items: &[T], service_of: impl Fn(&T) -> usize) -> Vec<(usize, Vec<usize>)> {
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let service = service_of(item);
        match groups.iter_mut().find(|(s, _)| *s == service) {
            Some((_, members)) => members.push(index),
            None => groups.push((service, vec![index])),
        }
    }
    groups
}

/// One logs export request holding `records`.
pub fn logs_request(
    records: &[LogRecord],
    services: &[String],
    extra_resource: &[(String, String)],
) -> ExportLogsServiceRequest {
    let resource_logs = by_service(records, |r| r.service)
        .into_iter()
        .map(|(service, members)| ResourceLogs {
            resource: Some(resource(&services[service], extra_resource)),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: members
                    .into_iter()
                    .map(|index| {
                        let record = &records[index];
                        OtlpLogRecord {
                            time_unix_nano: record.time_unix_nano,
                            observed_time_unix_nano: record.observed_time_unix_nano,
                            severity_number: record.severity_number,
                            severity_text: record.severity_text.into(),
                            body: string_value(&record.body),
                            attributes: key_values(&record.attributes),
                            flags: u32::from(record.trace_id.is_some()),
                            trace_id: record.trace_id.map(Vec::from).unwrap_or_default(),
                            span_id: record.span_id.map(Vec::from).unwrap_or_default(),
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}

/// One traces export request holding `spans`.
pub fn traces_request(
    spans: &[SpanRecord],
    services: &[String],
    extra_resource: &[(String, String)],
) -> ExportTraceServiceRequest {
    let resource_spans = by_service(spans, |s| s.service)
        .into_iter()
        .map(|(service, members)| ResourceSpans {
            resource: Some(resource(&services[service], extra_resource)),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: members
                    .into_iter()
                    .map(|index| {
                        let span = &spans[index];
                        Span {
                            trace_id: span.trace_id.to_vec(),
                            span_id: span.span_id.to_vec(),
                            parent_span_id: span.parent_span_id.map(Vec::from).unwrap_or_default(),
                            name: span.name.clone(),
                            kind: span.kind,
                            start_time_unix_nano: span.start_time_unix_nano,
                            end_time_unix_nano: span.end_time_unix_nano,
                            attributes: key_values(&span.attributes),
                            status: Some(Status {
                                code: span.status_code,
                                message: span.status_message.clone(),
                            }),
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// One metrics export request holding `points`, one `Metric` per point (as SDKs do when
/// each stream has one point per export).
pub fn metrics_request(
    points: &[MetricPoint],
    services: &[String],
    extra_resource: &[(String, String)],
) -> ExportMetricsServiceRequest {
    let resource_metrics = by_service(points, |p| p.service)
        .into_iter()
        .map(|(service, members)| ResourceMetrics {
            resource: Some(resource(&services[service], extra_resource)),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: members
                    .into_iter()
                    .map(|index| metric(&points[index]))
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest { resource_metrics }
}

fn metric(point: &MetricPoint) -> Metric {
    let number = |value: f64| NumberDataPoint {
        attributes: key_values(&point.attributes),
        start_time_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    };
    let data = match &point.value {
        MetricValue::Gauge(value) => metric::Data::Gauge(Gauge {
            data_points: vec![number(*value)],
        }),
        MetricValue::Sum(value) => metric::Data::Sum(Sum {
            data_points: vec![number(*value)],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        }),
        MetricValue::Histogram {
            count,
            sum,
            bounds,
            bucket_counts,
        } => metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: key_values(&point.attributes),
                start_time_unix_nano: point.start_time_unix_nano,
                time_unix_nano: point.time_unix_nano,
                count: *count,
                sum: Some(*sum),
                bucket_counts: bucket_counts.clone(),
                explicit_bounds: bounds.clone(),
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        }),
    };
    Metric {
        name: point.name.into(),
        unit: point.unit.into(),
        data: Some(data),
        ..Default::default()
    }
}

/// Records as NDJSON lines in the shape shippers send (`timestamp`, `level`, `message`,
/// `service`, ids, then attributes as top-level keys).
pub fn ndjson_lines(records: &[LogRecord], services: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() * 256);
    for record in records {
        let mut object = serde_json::Map::new();
        object.insert("timestamp".into(), rfc3339(record.time_unix_nano).into());
        object.insert("level".into(), record.severity_text.into());
        object.insert("message".into(), record.body.clone().into());
        object.insert("service".into(), services[record.service].clone().into());
        if let (Some(trace), Some(span)) = (record.trace_id, record.span_id) {
            object.insert("trace_id".into(), hex(&trace).into());
            object.insert("span_id".into(), hex(&span).into());
        }
        for (key, value) in &record.attributes {
            object.insert(key.clone(), value.clone().into());
        }
        serde_json::to_writer(&mut out, &object).expect("a JSON map serializes");
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DatasetConfig, LogGenerator, LogShape, MetricGenerator, TraceGenerator};
    use prost::Message;

    #[test]
    fn requests_round_trip_through_protobuf_and_json() {
        let config = DatasetConfig::default();
        let mut logs = LogGenerator::new(LogShape::Mixed, &config);
        let records = logs.take(300);
        let marker = [("loadgen.request".to_string(), "x".repeat(16))];
        let request = logs_request(&records, logs.services(), &marker);
        let count: usize = request
            .resource_logs
            .iter()
            .map(|r| r.scope_logs[0].log_records.len())
            .sum();
        assert_eq!(count, 300);
        assert!(request.resource_logs.len() > 1, "grouped by service");
        let bytes = request.encode_to_vec();
        assert_eq!(
            ExportLogsServiceRequest::decode(&bytes[..]).unwrap(),
            request
        );
        let json = serde_json::to_vec(&request).unwrap();
        let back: ExportLogsServiceRequest = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, request);

        let mut traces = TraceGenerator::new(&config);
        let spans = traces.take(100);
        let request = traces_request(&spans, traces.services(), &[]);
        let bytes = request.encode_to_vec();
        assert_eq!(
            ExportTraceServiceRequest::decode(&bytes[..]).unwrap(),
            request
        );

        let mut metrics = MetricGenerator::new(&config);
        let points = metrics.take(100);
        let request = metrics_request(&points, metrics.services(), &[]);
        let metrics_count: usize = request
            .resource_metrics
            .iter()
            .map(|r| r.scope_metrics[0].metrics.len())
            .sum();
        assert_eq!(metrics_count, 100);
    }

    #[test]
    fn ndjson_has_one_object_per_record() {
        let config = DatasetConfig::default();
        let mut logs = LogGenerator::new(LogShape::JavaStack, &config);
        let records = logs.take(50);
        let text = ndjson_lines(&records, logs.services());
        let lines: Vec<&[u8]> = text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            50,
            "multi-line bodies stay escaped in one line"
        );
        let first: serde_json::Value = serde_json::from_slice(lines[0]).unwrap();
        assert_eq!(first["message"], records[0].body.as_str());
        assert_eq!(first["level"], "ERROR");
    }
}
