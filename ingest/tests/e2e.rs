//! End to end, with real processes on 127.0.0.1: the `icegate` binary, the OpenTelemetry
//! Python SDK sending over OTLP/HTTP, PyIceberg reading the tables back; a crash test that
//! SIGKILLs the server under load; hostile input.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::*;

/// The OpenTelemetry Python SDK sends 20 logs, 10 spans and two metrics over `transport`;
/// PyIceberg then reads exactly those records back.
fn python_sdk_roundtrip(transport: &str, on_s3: bool) {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (port, grpc_port) = (free_port(), free_port());
    // On S3: the warehouse in SeaweedFS (catalog still SQLite in the data directory).
    let s3 = on_s3.then(|| s3_storage(dir.path(), &data_dir)).flatten();
    if on_s3 && s3.is_none() {
        return;
    }
    let extra: Vec<&str> = match &s3 {
        Some((config, _)) => vec!["--config", config.to_str().unwrap()],
        None => Vec::new(),
    };
    let server = Icegate::start_with(&data_dir, port, grpc_port, &extra);
    let sender = format!(
        r#"
import logging
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
if "{transport}" == "grpc":
    from grpc import Compression
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    options = dict(endpoint="127.0.0.1:{grpc_port}", insecure=True, compression=Compression.Gzip)
    logs_options = traces_options = metrics_options = options
else:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    base = "http://127.0.0.1:{port}"
    logs_options = dict(endpoint=base + "/v1/logs")
    traces_options = dict(endpoint=base + "/v1/traces")
    metrics_options = dict(endpoint=base + "/v1/metrics")
resource = Resource.create({{"service.name": "e2e-py"}})
logs = LoggerProvider(resource=resource)
logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(**logs_options)))
logger = logging.getLogger("e2e")
logger.propagate = False
logger.addHandler(LoggingHandler(logger_provider=logs))
logger.setLevel(logging.INFO)
for i in range(20):
    logger.warning("py log %d", i, extra={{"iteration": i}})
traces = TracerProvider(resource=resource)
traces.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(**traces_options)))
tracer = traces.get_tracer("e2e")
for i in range(5):
    with tracer.start_as_current_span(f"parent-{{i}}") as span:
        span.set_attribute("i", i)
        with tracer.start_as_current_span("child"):
            pass
reader = PeriodicExportingMetricReader(OTLPMetricExporter(**metrics_options), export_interval_millis=3600000)
meters = MeterProvider(resource=resource, metric_readers=[reader])
meter = meters.get_meter("e2e")
meter.create_counter("requests").add(3, {{"route": "/a"}})
histogram = meter.create_histogram("latency_ms")
histogram.record(12.5)
histogram.record(40.0)

logs.shutdown(); traces.shutdown(); meters.shutdown()
print("{{}}")
"#
    );
    run_python(&python, &sender);
    server.stop();

    let report = run_python(
        &python,
        &format!(
            r#"
import json
catalog = {}
logs = catalog.load_table("default.logs").scan().to_arrow()
traces = catalog.load_table("default.traces").scan().to_arrow()
metrics = catalog.load_table("default.metrics").scan().to_arrow()
bodies = sorted(logs["body"].to_pylist())
print(json.dumps({{
  "logs": logs.num_rows, "log_services": sorted(set(logs["service_name"].to_pylist())),
  "bodies": bodies, "severities": sorted(set(logs["severity_text"].to_pylist())),
  "spans": traces.num_rows, "span_names": sorted(traces["name"].to_pylist()),
  "children_with_parent": sum(1 for n, p in zip(traces["name"].to_pylist(), traces["parent_span_id"].to_pylist()) if n == "child" and p),
  "metric_rows": sorted((n, t) for n, t in zip(metrics["metric_name"].to_pylist(), metrics["metric_type"].to_pylist())),
  "counter_value": [v for n, v in zip(metrics["metric_name"].to_pylist(), metrics["value_int"].to_pylist()) if n == "requests"],
  "histogram_count": [c for n, c in zip(metrics["metric_name"].to_pylist(), metrics["count"].to_pylist()) if n == "latency_ms"],
}}))
"#,
            s3.as_ref().map_or_else(
                || catalog_expression(&data_dir),
                |(_, catalog)| catalog.clone()
            )
        ),
    );
    assert_eq!(report["logs"], 20, "{report}");
    assert_eq!(report["log_services"], serde_json::json!(["e2e-py"]));
    let expected: Vec<String> = {
        let mut bodies: Vec<String> = (0..20).map(|i| format!("py log {i}")).collect();
        bodies.sort();
        bodies
    };
    assert_eq!(report["bodies"], serde_json::json!(expected));
    assert_eq!(report["severities"], serde_json::json!(["WARN"]));
    assert_eq!(report["spans"], 10, "{report}");
    assert_eq!(report["children_with_parent"], 5, "{report}");
    assert_eq!(
        report["metric_rows"],
        serde_json::json!([["latency_ms", "histogram"], ["requests", "sum"]]),
        "{report}"
    );
    assert_eq!(report["counter_value"], serde_json::json!([3]));
    assert_eq!(report["histogram_count"], serde_json::json!([2]));
}

#[test]
fn python_sdk_over_http_lands_in_tables_pyiceberg_reads() {
    python_sdk_roundtrip("http", false);
}

#[test]
fn python_sdk_over_http_into_seaweedfs_s3_lands_in_tables_pyiceberg_reads() {
    python_sdk_roundtrip("http", true);
}

#[test]
fn python_sdk_over_grpc_with_gzip_lands_in_tables_pyiceberg_reads() {
    python_sdk_roundtrip("grpc", false);
}

fn numbered_log(n: u64) -> Vec<u8> {
    format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"crash"}}}}]}},"scopeLogs":[{{"logRecords":[{{"timeUnixNano":"{}","body":{{"stringValue":"record-{n}"}}}}]}}]}}]}}"#,
        1_764_000_000_000_000_000u64 + n
    )
    .into_bytes()
}

#[test]
fn acknowledged_records_survive_sigkill_exactly_once() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let mut acknowledged = Vec::new();
    let mut sent = 0u64;
    let started = Instant::now();
    for round in 0..6u64 {
        let server = Icegate::start(&data_dir, port);
        let until = Instant::now() + Duration::from_millis(300 + round * 170 % 500);
        while Instant::now() < until {
            let n = sent;
            sent += 1;
            if let Some((200, _)) = http(
                port,
                "POST",
                "/v1/logs",
                "application/json",
                &numbered_log(n),
            ) {
                acknowledged.push(n);
            }
        }
        server.kill();
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "crash test over its time budget"
        );
    }
    // A last, clean run replays what the kills left behind and commits it.
    Icegate::start(&data_dir, port).stop();
    assert!(
        acknowledged.len() > 20,
        "only {} acknowledged",
        acknowledged.len()
    );

    let report = run_python(
        &python,
        &format!(
            r#"
import json, collections
catalog = {}
logs = catalog.load_table("default.logs").scan().to_arrow()
print(json.dumps(collections.Counter(logs["body"].to_pylist())))
"#,
            catalog_expression(&data_dir)
        ),
    );
    let counts = report.as_object().unwrap();
    for n in &acknowledged {
        assert_eq!(
            counts.get(&format!("record-{n}")).and_then(|c| c.as_u64()),
            Some(1),
            "record-{n}"
        );
    }
    assert!(
        counts.values().all(|c| c == 1),
        "a record was committed twice"
    );
}

#[test]
fn hostile_input_gets_precise_statuses_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let server = Icegate::start(&data_dir, port);
    let post = |path: &str, content_type: &str, body: &[u8]| {
        http(port, "POST", path, content_type, body).unwrap().0
    };
    // Truncated and garbage protobuf, invalid JSON, wrong content type.
    assert_eq!(
        post("/v1/logs", "application/x-protobuf", &[0x0a, 0x05, 0x01]),
        400
    );
    assert_eq!(
        post("/v1/traces", "application/x-protobuf", b"\xff\xff\xff\xff"),
        400
    );
    assert_eq!(
        post(
            "/v1/metrics",
            "application/json",
            b"{\"resourceMetrics\": [}"
        ),
        400
    );
    assert_eq!(post("/v1/logs", "text/plain", b"hello"), 415);
    // Oversized body (over the 16 MiB default): 413 before the body is read, so the client
    // either reads the 413 or, still sending, finds the connection reset.
    if let Some((status, _)) = http(
        port,
        "POST",
        "/v1/logs",
        "application/json",
        &vec![b' '; 17 << 20],
    ) {
        assert_eq!(status, 413);
    }
    // A declared Content-Length over the limit is refused before any body arrives.
    let mut declared = TcpStream::connect(("127.0.0.1", port)).unwrap();
    declared
        .write_all(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 17825793\r\n\r\n")
        .unwrap();
    declared
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = [0u8; 64];
    let n = declared.read(&mut answer).unwrap();
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    // A gzip bomb: 64 MiB of zeros in well under a megabyte.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![0u8; 64 << 20]).unwrap();
    let bomb = encoder.finish().unwrap();
    let request = format!(
        "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bomb.len()
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(&bomb).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(
        response.starts_with("HTTP/1.1 413"),
        "{}",
        &response[..response.len().min(80)]
    );
    // A slow client that never finishes its body does not block others.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{").unwrap();
    // Still serving.
    assert_eq!(post("/v1/logs", "application/json", &numbered_log(1)), 200);
    let (status, metrics) = http(port, "GET", "/metrics", "", b"").unwrap();
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("icegate_requests_rejected_total{signal=\"logs\"}"),
        "{metrics}"
    );
    drop(slow);
    server.stop();
}

/// A config file putting the warehouse on the test S3 server, and the PyIceberg catalog
/// expression that reads it; `None` (skip) when the services are not running.
fn s3_storage(dir: &Path, data_dir: &Path) -> Option<(PathBuf, String)> {
    let (Ok(endpoint), Ok(bucket)) = (
        std::env::var("ICEGATE_TEST_S3_ENDPOINT"),
        std::env::var("ICEGATE_TEST_S3_BUCKET"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "test services are not running"
        );
        eprintln!("skipping: start the test services with eval \"$(ci/services.sh start)\"");
        return None;
    };
    let key = std::env::var("ICEGATE_TEST_S3_ACCESS_KEY").unwrap();
    let secret = std::env::var("ICEGATE_TEST_S3_SECRET_KEY").unwrap();
    let prefix = format!("sdk-{}-{}", std::process::id(), free_port());
    let config = dir.join("s3.toml");
    std::fs::write(
        &config,
        format!(
            "[lake.storage]\ntype = \"s3\"\nbucket = \"{bucket}\"\nprefix = \"{prefix}\"\nendpoint = \"{endpoint}\"\npath-style-access = true\naccess-key-id = \"{key}\"\nsecret-access-key = \"{secret}\"\n"
        ),
    )
    .unwrap();
    let catalog = format!(
        "__import__('pyiceberg.catalog.sql', fromlist=['SqlCatalog']).SqlCatalog('icegate', uri='sqlite:///{}', warehouse='s3://{bucket}/{prefix}', **{{'s3.endpoint': '{endpoint}', 's3.access-key-id': '{key}', 's3.secret-access-key': '{secret}', 's3.region': 'us-east-1', 's3.path-style-access': 'true'}})",
        data_dir.join("catalog.db").display()
    );
    Some((config, catalog))
}

fn sized_log(n: u64, padding: usize) -> Vec<u8> {
    format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"outage"}}}}]}},"scopeLogs":[{{"logRecords":[{{"timeUnixNano":"{}","body":{{"stringValue":"record-{n}"}},"attributes":[{{"key":"pad","value":{{"stringValue":"{}"}}}}]}}]}}]}}]}}"#,
        1_764_000_000_000_000_000u64 + n,
        "x".repeat(padding)
    )
    .into_bytes()
}

#[test]
fn storage_outage_backpressures_then_commits_the_backlog() {
    let Some(python) = python() else { return };
    let (Ok(endpoint), Ok(bucket)) = (
        std::env::var("ICEGATE_TEST_S3_ENDPOINT"),
        std::env::var("ICEGATE_TEST_S3_BUCKET"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "test services are not running"
        );
        eprintln!("skipping: start the test services with eval \"$(ci/services.sh start)\"");
        return;
    };
    let target: std::net::SocketAddr = endpoint.trim_start_matches("http://").parse().unwrap();
    let outage = FaultProxy::start(target);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let prefix = format!("outage-{}", std::process::id());
    let config = dir.path().join("icegate.toml");
    std::fs::write(
        &config,
        format!(
            r#"
max-memory = 8388608
[batcher]
flush-interval-ms = 200
[wal]
segment-size = "256KiB"
max-disk-size = "3MiB"
max-record-size = "1MiB"
[lake.storage]
type = "s3"
bucket = "{bucket}"
prefix = "{prefix}"
endpoint = "http://127.0.0.1:{}"
path-style-access = true
access-key-id = "{}"
secret-access-key = "{}"
"#,
            outage.port,
            std::env::var("ICEGATE_TEST_S3_ACCESS_KEY").unwrap(),
            std::env::var("ICEGATE_TEST_S3_SECRET_KEY").unwrap()
        ),
    )
    .unwrap();
    let port = free_port();
    let server = Icegate::start_with(
        &data_dir,
        port,
        free_port(),
        &["--config", config.to_str().unwrap()],
    );
    let mut acknowledged = Vec::new();
    let mut n = 0u64;
    let mut send = |padding: usize, acknowledged: &mut Vec<u64>| -> u16 {
        let status = http(
            port,
            "POST",
            "/v1/logs",
            "application/json",
            &sized_log(n, padding),
        )
        .map_or(0, |(s, _)| s);
        if status == 200 {
            acknowledged.push(n);
        }
        n += 1;
        status
    };
    for _ in 0..30 {
        assert_eq!(send(100, &mut acknowledged), 200);
    }
    std::thread::sleep(Duration::from_millis(800)); // committed before the outage

    // Storage goes away: ingest keeps acknowledging into the WAL, then pushes back.
    outage.set(Fault::Cut);
    let started = Instant::now();
    let mut saw_429 = false;
    while started.elapsed() < Duration::from_secs(60) {
        match send(20_000, &mut acknowledged) {
            200 => {}
            429 => {
                saw_429 = true;
                break;
            }
            other => panic!("unexpected status {other} during the outage"),
        }
    }
    assert!(saw_429, "no backpressure after {} requests", n);
    assert!(metric_value(port, "icegate_backpressure_events_total") > 0);
    // The flusher's writes really fail (after the storage client's own retries).
    let waited = Instant::now();
    while metric_value(port, "icegate_commit_failures_total") == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "no failed flush during the outage"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let during_outage = acknowledged.len();

    // Storage comes back: the backlog commits, the WAL empties, and ingest accepts again.
    outage.set(Fault::None);
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "ingest never recovered"
        );
        if send(100, &mut acknowledged) == 200 && acknowledged.len() > during_outage + 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    server.stop();

    let report = run_python(
        &python,
        &format!(
            r#"
import json, collections
from pyiceberg.catalog.sql import SqlCatalog
catalog = SqlCatalog("icegate", uri="sqlite:///{}", warehouse="s3://{bucket}/{prefix}",
    **{{"s3.endpoint": "{endpoint}", "s3.access-key-id": "{}", "s3.secret-access-key": "{}", "s3.region": "us-east-1", "s3.path-style-access": "true"}})
logs = catalog.load_table("default.logs").scan(selected_fields=("body",)).to_arrow()
print(json.dumps(collections.Counter(logs["body"].to_pylist())))
"#,
            data_dir.join("catalog.db").display(),
            std::env::var("ICEGATE_TEST_S3_ACCESS_KEY").unwrap(),
            std::env::var("ICEGATE_TEST_S3_SECRET_KEY").unwrap()
        ),
    );
    let counts = report.as_object().unwrap();
    for n in &acknowledged {
        assert_eq!(
            counts.get(&format!("record-{n}")).and_then(|c| c.as_u64()),
            Some(1),
            "record-{n}"
        );
    }
    assert!(
        counts.values().all(|c| c == 1),
        "a record was committed twice"
    );
}

/// 20,000 acknowledged NDJSON records over many small WAL segments and more than one flush's
/// worth, then SIGKILL: the next start replays the backlog (flushing while it replays) and
/// PyIceberg finds every acknowledged record exactly once, including those sent after the
/// restart. (A flush during replay used to truncate segments replay had not read yet.)
#[test]
fn a_restart_with_a_multi_segment_backlog_loses_nothing() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let settings = "[wal]\nsegment-size = \"256KiB\"\n[batcher]\nflush-size = 1048576\n";
    let config = dir.path().join("icegate.toml");
    std::fs::write(&config, settings).unwrap();
    // The first run cannot reach its catalog: nothing commits, the backlog stays in the WAL,
    // and the node still listens and acknowledges.
    let unreachable = dir.path().join("unreachable.toml");
    std::fs::write(
        &unreachable,
        // Nothing listens on port 1: every connection is refused (an outage, retried).
        format!("{settings}[lake.catalog]\ntype = \"postgres\"\nurl = \"postgres://icegate@127.0.0.1:1/icegate\"\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    let unreachable = unreachable.to_str().unwrap().to_string();
    let port = free_port();
    let args = ["--config", config.as_str()];
    let ndjson = |from: u64, to: u64| -> Vec<u8> {
        (from..to)
            .map(|n| {
                format!(
                    "{{\"msg\":\"record-{n}\",\"time\":{}}}\n",
                    1_764_000_000 + n
                )
            })
            .collect::<String>()
            .into_bytes()
    };
    let send = |from: u64, to: u64, acknowledged: &mut Vec<u64>| {
        for start in (from..to).step_by(100) {
            let end = (start + 100).min(to);
            if let Some((200, _)) = http(
                port,
                "POST",
                "/v1/ndjson?service=backlog",
                "application/x-ndjson",
                &ndjson(start, end),
            ) {
                acknowledged.extend(start..end);
            }
        }
    };
    let mut acknowledged = Vec::new();
    let server = Icegate::start_with(
        &data_dir,
        port,
        free_port(),
        &["--config", unreachable.as_str()],
    );
    send(0, 20_000, &mut acknowledged);
    let segments = std::fs::read_dir(data_dir.join("wal"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".wal")
        })
        .count();
    assert!(
        segments > 8,
        "the backlog spans only {segments} WAL segments"
    );
    server.kill();

    let server = Icegate::start_with(&data_dir, port, free_port(), &args);
    send(20_000, 22_000, &mut acknowledged);
    server.stop();
    assert_eq!(acknowledged.len(), 22_000, "every request was acknowledged");
    // A third start finds nothing left to do and duplicates nothing.
    Icegate::start_with(&data_dir, port, free_port(), &args).stop();

    let report = run_python(
        &python,
        &format!(
            r#"
import json, collections
catalog = {}
logs = catalog.load_table("default.logs").scan().to_arrow()
counts = collections.Counter(logs["body"].to_pylist())
print(json.dumps({{"rows": logs.num_rows, "distinct": len(counts), "max": max(counts.values())}}))
"#,
            catalog_expression(&data_dir)
        ),
    );
    assert_eq!(report["rows"], 22_000, "{report}");
    assert_eq!(report["distinct"], 22_000, "{report}");
    assert_eq!(report["max"], 1, "{report}");
}

/// Service names that are no path segment: traversal, 300 bytes, NUL, URI characters, dots.
/// Every record is committed (nothing quarantined), every file stays two partition
/// directories below the table's `data/`, and PyIceberg, DuckDB and Spark read the
/// original names back.
#[test]
fn hostile_service_names_stay_inside_the_table_and_keep_their_values() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let server = Icegate::start(&data_dir, port);
    let names = [
        "../../../../escaped".to_string(),
        "a/b/../../c".to_string(),
        "p".repeat(300),
        "nul\u{0}byte".to_string(),
        "#?%&= +".to_string(),
        "..".to_string(),
        ".".to_string(),
        "サービス".to_string(),
        "checkout".to_string(),
    ];
    for (i, name) in names.iter().enumerate() {
        let body = serde_json::json!({"resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": name}}]},
            "scopeLogs": [{"logRecords": [{
                "timeUnixNano": (1_764_000_000_000_000_000u64 + i as u64).to_string(),
                "body": {"stringValue": format!("record-{i}")}
            }]}]
        }]});
        let (status, _) = http(
            port,
            "POST",
            "/v1/logs",
            "application/json",
            body.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(status, 200, "{name:?}");
    }
    server.stop();
    let table_data = data_dir.join("warehouse/default/logs/data");
    let mut files = Vec::new();
    let mut stack = vec![data_dir.clone()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    assert!(!files.is_empty());
    for file in &files {
        let relative = file
            .strip_prefix(&table_data)
            .unwrap_or_else(|_| panic!("{} is outside the table's data", file.display()));
        let segments: Vec<_> = relative.components().collect();
        assert_eq!(segments.len(), 3, "{}", relative.display());
        for segment in &segments[..2] {
            let segment = segment.as_os_str().to_str().unwrap();
            assert!(segment.len() <= 160, "{segment}");
            assert!(segment.starts_with("timestamp_day=") || segment.starts_with("service_name="));
        }
    }
    assert!(
        !data_dir.join("quarantine").exists(),
        "nothing was quarantined"
    );
    let report = run_python(
        &python,
        &format!(
            r#"
import json
catalog = {}
table = catalog.load_table("default.logs")
rows = table.scan(selected_fields=("service_name", "body")).to_arrow().to_pylist()
print(json.dumps({{"rows": [[r["service_name"], r["body"]] for r in rows],
                  "metadata": table.metadata_location}}))
"#,
            catalog_expression(&data_dir)
        ),
    );
    let mut expected: Vec<serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| serde_json::json!([name, format!("record-{i}")]))
        .collect();
    expected.sort_by_key(|v| v.to_string());
    let sorted = |rows: &serde_json::Value| {
        let mut rows = rows.as_array().unwrap().clone();
        rows.sort_by_key(|v| v.to_string());
        rows
    };
    assert_eq!(sorted(&report["rows"]), expected, "PyIceberg");
    // DuckDB reads the same table through its own Iceberg and Parquet readers.
    let duckdb = std::process::Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/duckdb_read.py"))
        .arg(report["metadata"].as_str().unwrap())
        .arg("SELECT service_name, body FROM t")
        .output()
        .unwrap();
    assert!(
        duckdb.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&duckdb.stderr)
    );
    let duckdb: serde_json::Value = serde_json::from_slice(&duckdb.stdout).unwrap();
    assert_eq!(sorted(&duckdb), expected, "DuckDB");
    // And Spark, through Iceberg's Java implementation and a JDBC catalog on the same file.
    if let Some(spark) = spark_python() {
        let rows = spark_rows(&spark, &data_dir, "default.logs", "service_name,body");
        assert_eq!(sorted(&rows), expected, "Spark");
    }
}

/// What the OpenTelemetry Collector's batch processor sends with k8sattributes: 8,192 log
/// records sharing 4 KB of resource attributes. Decoded, every row carries them (tens of
/// MB, over one WAL record): the request is stored as several records, acknowledged once,
/// and the node stays ready.
#[test]
fn a_collector_batch_sharing_large_resource_attributes_is_accepted_whole() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let server = Icegate::start(&data_dir, port);
    let attributes: Vec<serde_json::Value> = (0..40)
        .map(|i| {
            serde_json::json!({"key": format!("k8s.label.{i}"), "value": {"stringValue": "v".repeat(100)}})
        })
        .chain([serde_json::json!({"key": "service.name", "value": {"stringValue": "collector"}})])
        .collect();
    let records: Vec<serde_json::Value> = (0..8192u64)
        .map(|n| {
            serde_json::json!({
                "timeUnixNano": (1_764_000_000_000_000_000u64 + n).to_string(),
                "body": {"stringValue": format!("record-{n}")}
            })
        })
        .collect();
    let body = serde_json::json!({"resourceLogs": [{
        "resource": {"attributes": attributes},
        "scopeLogs": [{"logRecords": records}]
    }]})
    .to_string();
    let (status, answer) = http(
        port,
        "POST",
        "/v1/logs",
        "application/json",
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert!(metric_value(port, "icegate_split_requests_total") >= 1);
    assert_eq!(http(port, "GET", "/readyz", "", b"").unwrap().0, 200);
    server.stop();
    let report = run_python(
        &python,
        &format!(
            r#"
import json
catalog = {}
rows = catalog.load_table("default.logs").scan(selected_fields=("body", "resource_attributes")).to_arrow()
attributes = rows["resource_attributes"][0].as_py()
print(json.dumps({{"rows": rows.num_rows, "distinct": len(set(rows["body"].to_pylist())), "attributes": len(attributes)}}))
"#,
            catalog_expression(&data_dir)
        ),
    );
    assert_eq!(report["rows"], 8192, "{report}");
    assert_eq!(report["distinct"], 8192, "{report}");
    assert!(report["attributes"].as_u64().unwrap() >= 40, "{report}");
}

/// 5,000 connections that trickle their headers and never finish them, or never send a
/// byte, and 500 gRPC connections that never finish the HTTP/2 preface, while a normal client
/// keeps sending: every normal request is answered, and the server closes the slow
/// connections once their header deadline passes.
#[test]
fn slow_header_connections_are_closed_and_never_starve_normal_clients() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let config = dir.path().join("icegate.toml");
    std::fs::write(
        &config,
        "[listen]\nmax-connections = 8192\nheader-read-timeout-ms = 1500\n",
    )
    .unwrap();
    let (port, grpc_port) = (free_port(), free_port());
    let server = Icegate::start_with(
        &data_dir,
        port,
        grpc_port,
        &["--config", config.to_str().unwrap()],
    );
    let mut slow = Vec::new();
    for i in 0..5_000 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        // Half trickle a header; half never send a byte.
        if i % 2 == 0 {
            stream.write_all(b"POST /v1/logs HTTP/1.1\r\nHo").unwrap();
        }
        slow.push(stream);
    }
    // And to the gRPC port: half send the start of the HTTP/2 preface, half nothing.
    for i in 0..500 {
        let mut stream = TcpStream::connect(("127.0.0.1", grpc_port)).unwrap();
        if i % 2 == 0 {
            stream.write_all(b"PRI * HTTP/2.0\r\n").unwrap();
        }
        slow.push(stream);
    }
    let started = Instant::now();
    let mut answered = 0;
    while started.elapsed() < Duration::from_secs(3) {
        let (status, _) = http(
            port,
            "POST",
            "/v1/logs",
            "application/json",
            &numbered_log(answered),
        )
        .expect("a normal request is answered during the flood");
        assert_eq!(status, 200);
        answered += 1;
        // One more header byte on a few slow connections: trickling does not extend the deadline.
        for stream in slow.iter_mut().take(50) {
            let _ = stream.write_all(b"s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(answered > 10);
    // By now every slow connection passed its header deadline: the server has closed them.
    // (Every 99th: trickling and silent ones alike.)
    let mut closed = 0;
    for stream in slow.iter_mut().step_by(99) {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 512];
        match stream.read(&mut buf) {
            Ok(_) => closed += 1, // EOF, or a 408 before closing
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            Err(err) => panic!("a slow connection is still open: {err}"),
        }
    }
    assert_eq!(closed, 5_500usize.div_ceil(99));
    server.stop();
}

/// Under a low descriptor limit (`prlimit --nofile=400`), idle connections flood the gRPC
/// port (as many as it and its backlog take) while NDJSON keeps the WAL rotating small
/// segments: the connection limit is
/// lowered to what the descriptors allow, so the WAL always finds a descriptor for its next
/// segment and every record is acknowledged and committed.
#[test]
fn a_connection_flood_under_a_low_descriptor_limit_cannot_stop_the_wal() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let config = dir.path().join("icegate.toml");
    std::fs::write(&config, "[wal]\nsegment-size = \"64KiB\"\n").unwrap();
    let (port, grpc_port) = (free_port(), free_port());
    let server = Icegate::start_via(
        &["prlimit", "--nofile=400:400"],
        &data_dir,
        port,
        grpc_port,
        &["--config", config.to_str().unwrap()],
    );
    // As many as the server and its backlog take in 5 s (then connects stall): without the
    // lowered limit the server would accept them all and run out of descriptors.
    let address: std::net::SocketAddr = format!("127.0.0.1:{grpc_port}").parse().unwrap();
    let started = Instant::now();
    let mut flood = Vec::new();
    while flood.len() < 1_000 && started.elapsed() < Duration::from_secs(5) {
        match TcpStream::connect_timeout(&address, Duration::from_millis(200)) {
            Ok(stream) => flood.push(stream),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    assert!(flood.len() > 150, "{} connections opened", flood.len());
    let mut acknowledged = 0u64;
    for batch in 0..60u64 {
        let body: String = (0..100)
            .map(|i| {
                format!(
                    "{{\"msg\":\"record-{}\",\"pad\":\"{}\"}}\n",
                    batch * 100 + i,
                    "x".repeat(200)
                )
            })
            .collect();
        let (status, answer) = http(
            port,
            "POST",
            "/v1/ndjson?service=flood",
            "application/x-ndjson",
            body.as_bytes(),
        )
        .expect("answered during the flood");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        acknowledged += 100;
    }
    assert_eq!(http(port, "GET", "/readyz", "", b"").unwrap().0, 200);
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        log.contains("serving fewer connections"),
        "the limit was lowered"
    );
    drop(flood);
    server.stop();
    let report = run_python(
        &python,
        &format!(
            r#"
import json
catalog = {}
rows = catalog.load_table("default.logs").scan(selected_fields=("body",)).to_arrow()
print(json.dumps({{"rows": rows.num_rows, "distinct": len(set(rows["body"].to_pylist()))}}))
"#,
            catalog_expression(&data_dir)
        ),
    );
    assert_eq!(report["rows"], acknowledged, "{report}");
    assert_eq!(report["distinct"], acknowledged, "{report}");
}
