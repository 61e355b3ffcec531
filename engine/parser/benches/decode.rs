//! Decoder throughput in records/s and bytes/s of request: the direct OTLP logs decoder
//! against the prost reference path, measured in the same run.
//!
//! `cargo bench -p icegate-parser --bench decode`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use icegate_parser::{
    NdjsonContext, NdjsonDecoder, OtlpJsonLogsDecoder, OtlpLogsDecoder, reference,
};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn string(text: &str) -> Value {
    Value::StringValue(text.into())
}

/// A request of `records` application log records of roughly 300 bytes each (body, five
/// attributes, ids), under one resource and scope — the shape of an SDK batch export.
fn logs_request(records: usize) -> Vec<u8> {
    logs_request_message(records).encode_to_vec()
}

fn logs_request_message(records: usize) -> ExportLogsServiceRequest {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let paths = [
        "/api/v1/orders",
        "/api/v1/users/42",
        "/healthz",
        "/api/v2/cart/checkout",
    ];
    let log_records = (0..records)
        .map(|i| {
            let r = next();
            let path = paths[(r % 4) as usize];
            let status = [200, 201, 404, 500][(r >> 8) as usize % 4];
            LogRecord {
                time_unix_nano: 1_764_000_000_000_000_000 + i as u64 * 1_000_000,
                observed_time_unix_nano: 1_764_000_000_000_500_000 + i as u64 * 1_000_000,
                severity_number: if status >= 500 { 17 } else { 9 },
                severity_text: if status >= 500 { "ERROR" } else { "INFO" }.into(),
                body: Some(AnyValue {
                    value: Some(string(&format!(
                        "request completed method=GET path={path} status={status} duration_ms={} user_agent=\"Mozilla/5.0 (X11; Linux x86_64)\"",
                        r % 5000
                    ))),
                }),
                attributes: vec![
                    kv("http.request.method", string("GET")),
                    kv("url.path", string(path)),
                    kv("http.response.status_code", Value::IntValue(status)),
                    kv("client.address", string(&format!("10.0.{}.{}", r % 255, (r >> 16) % 255))),
                    kv("duration_ms", Value::DoubleValue((r % 50_000) as f64 / 10.0)),
                ],
                trace_id: r.to_le_bytes().repeat(2),
                span_id: next().to_le_bytes().to_vec(),
                flags: 1,
                ..LogRecord::default()
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", string("checkout")),
                    kv("service.version", string("1.42.0")),
                    kv("host.name", string("ip-10-0-3-17")),
                    kv("k8s.pod.name", string("checkout-7d9f8b6c5-x2k4p")),
                ],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "io.opentelemetry.logback".into(),
                    version: "2.10.0".into(),
                    ..InstrumentationScope::default()
                }),
                log_records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// `lines` JSON application log lines of roughly 300 bytes (pino/logrus-like).
fn ndjson_body(lines: usize) -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..lines {
        let status = [200, 201, 404, 500][i % 4];
        let level = if status >= 500 { "error" } else { "info" };
        body.extend_from_slice(
            format!(
                r#"{{"time":"2026-11-26T14:{:02}:{:02}.{:03}Z","level":"{level}","msg":"request completed","service":"checkout","http":{{"method":"GET","path":"/api/v1/orders/{i}","status":{status}}},"duration_ms":{},"user_agent":"Mozilla/5.0 (X11; Linux x86_64)","trace_id":"5b8efff798038103d269b633813fc60c"}}"#,
                i / 60 % 60,
                i % 60,
                i % 1000,
                i % 5000
            )
            .as_bytes(),
        );
        body.push(b'\n');
    }
    body
}

fn otlp_logs(c: &mut Criterion) {
    let mut group = c.benchmark_group("otlp_logs_protobuf");
    for records in [100usize, 1000] {
        let request = logs_request(records);
        group.throughput(Throughput::ElementsAndBytes {
            elements: records as u64,
            bytes: request.len() as u64,
        });
        let mut decoder = OtlpLogsDecoder::new();
        group.bench_function(BenchmarkId::new("direct", records), |b| {
            b.iter(|| decoder.decode(black_box(&request), 0).unwrap())
        });
        group.bench_function(BenchmarkId::new("prost_reference", records), |b| {
            b.iter(|| reference::decode_logs(black_box(&request), 0).unwrap())
        });
    }
    group.finish();
}

fn otlp_json_logs(c: &mut Criterion) {
    let mut group = c.benchmark_group("otlp_logs_json");
    for records in [100usize, 1000] {
        let request = serde_json::to_vec(&logs_request_message(records)).unwrap();
        group.throughput(Throughput::ElementsAndBytes {
            elements: records as u64,
            bytes: request.len() as u64,
        });
        let mut decoder = OtlpJsonLogsDecoder::new();
        group.bench_function(BenchmarkId::new("simd_json", records), |b| {
            b.iter(|| decoder.decode(black_box(&request), 0).unwrap())
        });
    }
    group.finish();
}

fn ndjson(c: &mut Criterion) {
    let mut group = c.benchmark_group("ndjson_logs");
    let context = NdjsonContext::default();
    for lines in [100usize, 1000] {
        let body = ndjson_body(lines);
        group.throughput(Throughput::ElementsAndBytes {
            elements: lines as u64,
            bytes: body.len() as u64,
        });
        let mut decoder = NdjsonDecoder::new();
        group.bench_function(BenchmarkId::new("simd_json", lines), |b| {
            b.iter(|| decoder.decode(black_box(&body), &context, 0))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = otlp_logs, otlp_json_logs, ndjson
}
criterion_main!(benches);
