//! The edge against requests that decode to far more than their size, and exports with
//! some invalid records: real server, raw HTTP and gRPC (Python grpcio), PyIceberg reads.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use support::{
    Icegate, catalog_expression, free_port, http, http_with, logs_rows, metric_value, peak_rss,
    python, run_python, wait_until,
};

/// A protobuf length-delimited field.
fn field(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    let mut key = u64::from(number << 3 | 2);
    let mut len = bytes.len() as u64;
    for value in [&mut key, &mut len] {
        while *value >= 0x80 {
            out.push((*value as u8) | 0x80);
            *value >>= 7;
        }
        out.push(*value as u8);
    }
    out.extend_from_slice(bytes);
}

fn message(fields: impl IntoIterator<Item = (u32, Vec<u8>)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (number, bytes) in fields {
        field(&mut out, number, &bytes);
    }
    out
}

/// `KeyValue { key, value: AnyValue { string_value } }`; `key` may be invalid UTF-8.
fn key_value(key: &[u8], value: &str) -> Vec<u8> {
    message([
        (1, key.to_vec()),
        (2, message([(1, value.as_bytes().to_vec())])),
    ])
}

/// An `ExportLogsServiceRequest` of one resource (`attributes`) and one scope (`records`).
fn logs_request(attributes: &[Vec<u8>], records: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
    let resource = message(attributes.iter().map(|a| (1, a.clone())));
    let scope_logs = message(records.into_iter().map(|r| (2, r)));
    message([(1, message([(1, resource), (2, scope_logs)]))])
}

/// A resource with `bytes` of attributes.
fn big_resource(bytes: usize) -> Vec<Vec<u8>> {
    (0..bytes / 64)
        .map(|i| key_value(format!("k8s.label.{i:04}").as_bytes(), &"v".repeat(48)))
        .chain([key_value(b"service.name", "amplified")])
        .collect()
}

const MAX_MEMORY: u64 = 256 << 20;
/// What the process holds besides batches: runtime, binary, sockets, request bodies and
/// decoder scratch (README: memory).
const MARGIN: u64 = 128 << 20;

fn start(data_dir: &Path, port: u16, grpc_port: u16) -> Icegate {
    std::fs::create_dir_all(data_dir.parent().unwrap()).unwrap();
    let config = data_dir.with_extension("toml");
    std::fs::write(&config, format!("max-memory = {MAX_MEMORY}\n")).unwrap();
    Icegate::start_with(
        data_dir,
        port,
        grpc_port,
        &["--config", config.to_str().unwrap()],
    )
}

fn grpc_export(python: &Path, grpc_port: u16, request: &[u8], dir: &Path) -> serde_json::Value {
    let path = dir.join(format!("request-{}.bin", request.len()));
    std::fs::write(&path, request).unwrap();
    run_python(
        python,
        &format!(
            r#"
import grpc, json
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
channel = grpc.insecure_channel("127.0.0.1:{grpc_port}", options=[("grpc.max_send_message_length", 64 << 20)])
export = channel.unary_unary(
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    request_serializer=lambda b: b,
    response_deserializer=logs_service_pb2.ExportLogsServiceResponse.FromString,
)
try:
    answer = export(open({path:?}, "rb").read(), timeout=60)
    print(json.dumps({{"code": "OK", "rejected": answer.partial_success.rejected_log_records,
                      "message": answer.partial_success.error_message}}))
except grpc.RpcError as err:
    print(json.dumps({{"code": err.code().name, "message": err.details()}}))
"#,
            path = path.display().to_string()
        ),
    )
}

#[test]
fn amplifying_requests_are_refused_within_memory_and_the_node_stays_ready() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (port, grpc_port) = (free_port(), free_port());
    let server = start(&data_dir, port, grpc_port);
    let pid = server.child.id();
    let started_rss = peak_rss(pid);

    // 4 KB of resource attributes over 200,000 empty records: ~400 KB, 800 MB decoded.
    let amplifying = logs_request(&big_resource(4096), (0..200_000).map(|_| Vec::new()));
    assert!(amplifying.len() < 500_000);
    let (status, answer) = http(
        port,
        "POST",
        "/v1/logs",
        "application/x-protobuf",
        &amplifying,
    )
    .expect("answered");
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer.contains("more than one request may hold"),
        "{answer}"
    );
    // The same over gRPC: RESOURCE_EXHAUSTED, and not retryable by its message.
    let grpc = grpc_export(&python, grpc_port, &amplifying, dir.path());
    assert_eq!(grpc["code"], "RESOURCE_EXHAUSTED", "{grpc}");
    // 16 MiB of that shape: 8 million records, 32 GB decoded.
    let huge = logs_request(&big_resource(4096), (0..8_000_000).map(|_| Vec::new()));
    assert!(huge.len() <= 16 << 20, "{} bytes", huge.len());
    let (status, _) = http(port, "POST", "/v1/logs", "application/x-protobuf", &huge).unwrap();
    assert_eq!(status, 413);
    // OTLP/JSON: an 8 KB attribute over 100,000 empty records.
    let json = format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"a","value":{{"stringValue":"{}"}}}}]}},"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
        "x".repeat(8192),
        vec!["{}"; 100_000].join(",")
    );
    let (status, answer) = http(
        port,
        "POST",
        "/v1/logs",
        "application/json",
        json.as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&answer));
    // NDJSON: 64 attribute headers of 512 bytes over 200,000 one-byte lines.
    let value = "h".repeat(512);
    let names: Vec<String> = (0..64)
        .map(|i| format!("X-Icegate-Attribute-h{i}"))
        .collect();
    let mut headers: Vec<(&str, &str)> =
        names.iter().map(|n| (n.as_str(), value.as_str())).collect();
    headers.push(("Content-Type", "application/x-ndjson"));
    let lines = "x\n".repeat(200_000);
    let (status, answer) =
        http_with(port, "POST", "/v1/ndjson", &headers, lines.as_bytes()).unwrap();
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&answer));

    // Memory stayed within the budget plus the margin, and the node serves on.
    let peak = peak_rss(pid);
    eprintln!(
        "peak RSS {} MiB (at start {} MiB, max-memory {} MiB)",
        peak >> 20,
        started_rss >> 20,
        MAX_MEMORY >> 20
    );
    assert!(peak < MAX_MEMORY + MARGIN, "peak RSS {} MiB", peak >> 20);
    assert_eq!(http(port, "GET", "/readyz", "", b"").unwrap().0, 200);
    // A collector's ordinary batch (2 KB of attributes over 8,192 records) still fits.
    let records =
        (0..8192).map(|n| message([(5, message([(1, format!("record-{n}").into_bytes())]))]));
    let batch = logs_request(&big_resource(2048), records);
    let (status, answer) =
        http(port, "POST", "/v1/logs", "application/x-protobuf", &batch).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(
        metric_value(port, "icegate_records_accepted_total{signal=\"logs\"}"),
        8192
    );
    server.stop();
    assert_eq!(logs_rows(&python, &data_dir), 8192);
}

#[test]
fn invalid_records_are_left_out_and_the_rest_of_the_export_is_stored() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (port, grpc_port) = (free_port(), free_port());
    let server = start(&data_dir, port, grpc_port);
    // Records with a body; every third has an attribute key that is not UTF-8.
    let export = |first: u64| {
        let records = (first..first + 30).map(|n| {
            let key: &[u8] = if n % 3 == 0 {
                b"bad\xff\xfekey"
            } else {
                b"good"
            };
            message([
                (5, message([(1, format!("record-{n}").into_bytes())])),
                (6, key_value(key, "v")),
            ])
        });
        logs_request(&[key_value(b"service.name", "partial")], records)
    };
    // OTLP/HTTP protobuf: 200 with partial_success { rejected_log_records: 10 }.
    let (status, answer) = http(
        port,
        "POST",
        "/v1/logs",
        "application/x-protobuf",
        &export(0),
    )
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(answer[0], 0x0a, "partial_success is field 1: {answer:?}");
    // Past the field's length (a varint): rejected_log_records (field 1) = 10.
    let body = answer[1..].iter().position(|b| b & 0x80 == 0).unwrap() + 2;
    assert_eq!(
        answer[body..body + 2],
        [0x08, 10],
        "rejected_log_records: {answer:?}"
    );
    assert!(String::from_utf8_lossy(&answer).contains("UTF-8"));
    // OTLP/gRPC, read by grpcio's generated response class.
    let grpc = grpc_export(&python, grpc_port, &export(30), dir.path());
    assert_eq!(grpc["code"], "OK", "{grpc}");
    assert_eq!(grpc["rejected"], 10, "{grpc}");
    assert!(
        grpc["message"]
            .as_str()
            .unwrap()
            .contains("log records rejected"),
        "{grpc}"
    );
    // OTLP/JSON: one record with an id that is not hex.
    let json = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
        {"body":{"stringValue":"json-kept"}},
        {"traceId":"zz","body":{"stringValue":"json-rejected"}}]}]}]}"#;
    let (status, answer) = http(port, "POST", "/v1/logs", "application/json", json).unwrap();
    assert_eq!(status, 200);
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(
        answer["partialSuccess"]["rejectedLogRecords"], "1",
        "{answer}"
    );
    // An export in which nothing decodes is a bad request.
    let all_bad = logs_request(&[], [message([(6, key_value(b"\xff", "v"))])]);
    let (status, _) = http(port, "POST", "/v1/logs", "application/x-protobuf", &all_bad).unwrap();
    assert_eq!(status, 400);
    assert_eq!(
        metric_value(port, "icegate_records_rejected_total{signal=\"logs\"}"),
        22
    );
    assert_eq!(http(port, "GET", "/readyz", "", b"").unwrap().0, 200);
    server.stop();
    let report = run_python(
        &python,
        &format!(
            "import json\ncatalog = {}\nbodies = catalog.load_table('default.logs').scan().to_arrow()['body'].to_pylist()\nprint(json.dumps(sorted(bodies)))",
            catalog_expression(&data_dir)
        ),
    );
    let mut expected: Vec<String> = (0..60)
        .filter(|n| n % 3 != 0)
        .map(|n| format!("record-{n}"))
        .chain(["json-kept".to_string()])
        .collect();
    expected.sort();
    assert_eq!(report, serde_json::json!(expected));
}

/// 64 clients each declare an 8 MiB body and send 6 MiB of it (384 MiB in flight against a
/// 256 MiB `max-memory`): bodies are reserved before they are read, so the clients that
/// do not fit are answered 429 at once, the server's memory stays within the budget plus
/// the margin, and once the clients go the memory is free and requests succeed again.
#[test]
fn bodies_in_flight_are_reserved_before_they_are_read() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (port, grpc_port) = (free_port(), free_port());
    let server = start(&data_dir, port, grpc_port);
    let pid = server.child.id();
    const DECLARED: usize = 8 << 20;
    const SENT: usize = 6 << 20;
    let chunk = vec![0u8; 64 << 10];
    let (mut refused, mut sending) = (0, Vec::new());
    for _ in 0..64 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let head = format!(
            "POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: {DECLARED}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        // A refusal comes before any body byte is read: look for it first.
        let mut answer = [0u8; 12];
        match stream.read(&mut answer) {
            Ok(n) if n > 0 => {
                let answer = String::from_utf8_lossy(&answer[..n]).to_string();
                assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
                refused += 1;
                continue;
            }
            Ok(_) => panic!("closed without an answer"),
            Err(err) => assert!(
                matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "{err}"
            ),
        }
        // (A refusal slower than the read timeout closes the connection under the writes.)
        if (0..SENT / chunk.len()).all(|_| stream.write_all(&chunk).is_ok()) {
            sending.push(stream);
        } else {
            refused += 1;
        }
    }
    let peak = peak_rss(pid);
    eprintln!(
        "{} bodies in flight, {refused} refused; peak RSS {} MiB",
        sending.len(),
        peak >> 20
    );
    // What fits: max-memory over the declared size, less what the server holds otherwise.
    let fits = (MAX_MEMORY as usize) / DECLARED;
    assert!(sending.len() <= fits, "{} bodies held", sending.len());
    assert!(refused >= 64 - fits, "{refused} refused");
    assert!(peak < MAX_MEMORY + MARGIN, "peak RSS {} MiB", peak >> 20);
    drop(sending);
    wait_until(
        "the bodies' memory is given back",
        Duration::from_secs(10),
        || metric_value(port, "icegate_batch_memory_bytes") == 0,
    );
    assert_eq!(http(port, "GET", "/readyz", "", b"").unwrap().0, 200);
    let records =
        (0..100).map(|n| message([(5, message([(1, format!("after-{n}").into_bytes())]))]));
    let request = logs_request(&big_resource(64), records);
    let (status, answer) =
        http(port, "POST", "/v1/logs", "application/x-protobuf", &request).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    server.stop();
    assert_eq!(logs_rows(&python, &data_dir), 100);
}
