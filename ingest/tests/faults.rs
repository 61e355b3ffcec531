//! Process-level faults with real servers, through a TCP proxy for one dependency at a time:
//! a PostgreSQL catalog cut and black-holed across restarts and SIGTERM, a COMMIT lost on the
//! wire; a REST catalog that applies commits and loses the answers; snapshot expiry and a
//! foreign commit by PyIceberg before a restart; SIGTERM with stalled clients; several tables
//! with one failing permanently, then SIGTERM and SIGKILL. The oracle everywhere: PyIceberg
//! finds every acknowledged record exactly once.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use support::*;

/// A test service from `ci/services.sh start`; `None` (skip) outside CI when not running.
fn ndjson(from: u64, to: u64, tag: &str) -> Vec<u8> {
    (from..to)
        .map(|n| {
            format!(
                "{{\"msg\":\"{tag}record-{n}\",\"time\":{}}}\n",
                1_764_000_000 + n
            )
        })
        .collect::<String>()
        .into_bytes()
}

/// Sends records `from..to` as NDJSON for `service`, 100 per request; returns the
/// acknowledged ones.
fn send(port: u16, service: &str, from: u64, to: u64, tag: &str) -> Vec<u64> {
    let mut acknowledged = Vec::new();
    for start in (from..to).step_by(100) {
        let end = (start + 100).min(to);
        let path = format!("/v1/ndjson?service={service}");
        if let Some((200, _)) = http(
            port,
            "POST",
            &path,
            "application/x-ndjson",
            &ndjson(start, end, tag),
        ) {
            acknowledged.extend(start..end);
        }
    }
    acknowledged
}

/// PyIceberg's count per body of `table` in `catalog` (a Python expression).
fn bodies(python: &Path, catalog: &str, table: &str) -> serde_json::Map<String, serde_json::Value> {
    let report = run_python(
        python,
        &format!(
            r#"
import json, collections
catalog = {catalog}
rows = catalog.load_table("{table}").scan(selected_fields=("body",)).to_arrow()["body"].to_pylist()
print(json.dumps(collections.Counter(rows)))
"#
        ),
    );
    report.as_object().unwrap().clone()
}

fn assert_exactly_once(
    counts: &serde_json::Map<String, serde_json::Value>,
    tag: &str,
    acknowledged: &[u64],
) {
    for n in acknowledged {
        assert_eq!(
            counts
                .get(&format!("{tag}record-{n}"))
                .and_then(|c| c.as_u64()),
            Some(1),
            "{tag}record-{n}"
        );
    }
    let prefix = format!("{tag}record-");
    let ours = counts.keys().filter(|k| k.starts_with(&prefix)).count();
    assert_eq!(ours, acknowledged.len(), "records nobody acknowledged");
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("icegate.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_postgres_catalog_cut_and_black_holed_across_restarts_loses_and_duplicates_nothing() {
    let Some(python) = python() else { return };
    let Some(postgres) = service("ICEGATE_TEST_POSTGRES_URL") else {
        return;
    };
    let target: SocketAddr = postgres
        .trim_start_matches("postgres://")
        .split_once('@')
        .unwrap()
        .1
        .split_once('/')
        .unwrap()
        .0
        .parse()
        .unwrap();
    let proxy = FaultProxy::start(target);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let namespace = unique("pgcut");
    let proxied = postgres.replace(&target.to_string(), &format!("127.0.0.1:{}", proxy.port));
    let config = write_config(
        dir.path(),
        &format!(
            "lake-timeout-ms = 1500\nshutdown-timeout-ms = 3000\n[batcher]\nflush-interval-ms = 200\n[wal]\nsegment-size = \"256KiB\"\n[lake]\nnamespace = \"{namespace}\"\n[lake.catalog]\ntype = \"postgres\"\nurl = \"{proxied}\"\n"
        ),
    );
    let args = ["--config", config.as_str()];
    let port = free_port();
    let start = || Icegate::start_with(&data_dir, port, free_port(), &args);
    let failures = || metric_value(port, "icegate_commit_failures_total");
    let minute = Duration::from_secs(60);

    let server = start();
    let mut acknowledged = send(port, "pg", 0, 500, "");
    wait_until("a commit", minute, || {
        metric_value(port, "icegate_commits_total") >= 1
    });

    // The catalog is cut: ingest goes on into the WAL, the lane retries, the node stays ready.
    proxy.set(Fault::Cut);
    acknowledged.extend(send(port, "pg", 500, 1_500, ""));
    wait_until("failed attempts", minute, || failures() >= 1);
    assert_eq!(http(port, "GET", "/readyz", "", b"").unwrap().0, 200);
    server.kill();

    // Restarted during the outage: it listens and acknowledges at once.
    let server = start();
    acknowledged.extend(send(port, "pg", 1_500, 2_000, ""));
    // Black-holed: connections are accepted and never answered; attempts time out.
    proxy.set(Fault::BlackHole);
    acknowledged.extend(send(port, "pg", 2_000, 2_500, ""));
    let before = failures();
    wait_until("timed-out attempts", minute, || failures() >= before + 2);
    // SIGTERM while the catalog hangs: bounded, and what is not committed stays in the WAL.
    let stopping = Instant::now();
    server.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(20),
        "SIGTERM took {:?} with a black-holed catalog",
        stopping.elapsed()
    );

    // The catalog is back, but the first COMMIT is lost on the wire: the SQL catalog reports
    // success for a transaction PostgreSQL rolled back. The commit is checked and retried.
    proxy.set(Fault::None);
    proxy.arm(b"COMMIT\0", OnMatch::DropRequest, 1);
    let server = start();
    acknowledged.extend(send(port, "pg", 2_500, 3_000, ""));
    wait_until("the lost COMMIT", minute, || proxy.fired() == 1);
    acknowledged.extend(send(port, "pg", 3_000, 3_200, ""));
    server.stop();
    assert_eq!(acknowledged.len(), 3_200, "every request was acknowledged");

    let catalog = format!(
        "__import__('pyiceberg.catalog.sql', fromlist=['SqlCatalog']).SqlCatalog('icegate', uri='{}', warehouse='file://{}')",
        postgres.replace("postgres://", "postgresql+psycopg2://"),
        data_dir.join("warehouse").display()
    );
    let counts = bodies(&python, &catalog, &format!("{namespace}.logs"));
    assert_exactly_once(&counts, "", &acknowledged);
}

#[test]
fn a_rest_catalog_that_applies_commits_and_loses_the_answers_gets_each_batch_once() {
    let Some(python) = python() else { return };
    let (Some(rest), Some(s3)) = (
        service("ICEGATE_TEST_REST_URI"),
        service("ICEGATE_TEST_S3_ENDPOINT"),
    ) else {
        return;
    };
    let bucket = std::env::var("ICEGATE_TEST_S3_BUCKET").unwrap();
    let key = std::env::var("ICEGATE_TEST_S3_ACCESS_KEY").unwrap();
    let secret = std::env::var("ICEGATE_TEST_S3_SECRET_KEY").unwrap();
    let target: SocketAddr = rest.trim_start_matches("http://").parse().unwrap();
    let proxy = FaultProxy::start(target);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let namespace = unique("restlost");
    let config = write_config(
        dir.path(),
        &format!(
            r#"lake-timeout-ms = 5000
[batcher]
flush-interval-ms = 200
[lake]
namespace = "{namespace}"
[lake.catalog]
type = "rest"
uri = "http://127.0.0.1:{}"
warehouse = "s3://warehouse"
credential = "{key}:{secret}"
[lake.storage]
type = "s3"
bucket = "{bucket}"
prefix = "{namespace}"
endpoint = "{s3}"
path-style-access = true
access-key-id = "{key}"
secret-access-key = "{secret}"
"#,
            proxy.port
        ),
    );
    let port = free_port();
    let server = Icegate::start_with(&data_dir, port, free_port(), &["--config", &config]);
    let mut acknowledged = send(port, "rest", 0, 300, "");
    wait_until("a commit", Duration::from_secs(60), || {
        metric_value(port, "icegate_commits_total") >= 1
    });
    // Two commits are applied by the catalog and their answers never arrive.
    let commit_request = format!("POST /v1/warehouse/namespaces/{namespace}/tables/logs HTTP/1.1");
    for round in 0..2u64 {
        proxy.arm(commit_request.as_bytes(), OnMatch::DropAnswer, 1);
        let from = 300 + round * 150;
        acknowledged.extend(send(port, "rest", from, from + 150, ""));
        wait_until("a lost answer", Duration::from_secs(60), || {
            proxy.fired() == round as u32 + 1
        });
    }
    acknowledged.extend(send(port, "rest", 600, 800, ""));
    wait_until(
        "the batches found committed",
        Duration::from_secs(60),
        || metric_value(port, "icegate_already_committed_records_total") > 0,
    );
    server.stop();

    let catalog = format!(
        "__import__('pyiceberg.catalog', fromlist=['load_catalog']).load_catalog('icegate', type='rest', uri='{rest}', warehouse='s3://warehouse', credential='{key}:{secret}', **{{'s3.endpoint': '{s3}', 's3.access-key-id': '{key}', 's3.secret-access-key': '{secret}', 's3.region': 'us-east-1', 's3.path-style-access': 'true'}})"
    );
    let counts = bodies(&python, &catalog, &format!("{namespace}.logs"));
    assert_exactly_once(&counts, "", &acknowledged);
}

#[test]
fn snapshot_expiry_and_a_foreign_commit_before_a_restart_duplicate_nothing() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let server = Icegate::start(&data_dir, port);
    let mut acknowledged = send(port, "expiry", 0, 2_000, "");
    wait_until("the commits", Duration::from_secs(60), || {
        let (_, body) = http(port, "GET", "/readyz", "", b"").unwrap();
        let readiness: serde_json::Value = serde_json::from_slice(&body).unwrap();
        readiness["lanes"][0]["committed-records"].as_u64() == Some(2_000)
    });
    // SIGKILL: the WAL still holds committed records (its active segment is never deleted).
    server.kill();

    // Another engine appends a row and expires every snapshot but its own: no IceGate
    // snapshot (and no snapshot summary IceGate wrote) is left.
    let catalog = catalog_expression(&data_dir);
    let expired = run_python(
        &python,
        &format!(
            r#"
import json, pyarrow as pa
catalog = {catalog}
table = catalog.load_table("default.logs")
row = {{f.name: [None] for f in table.schema().as_arrow()}}
row["body"] = ["foreign-row"]
row["timestamp"] = [pa.scalar(1764000000000000, pa.timestamp("us", tz="UTC")).as_py()]
row["service_name"] = ["expiry"]
table.append(pa.Table.from_pydict(row, schema=table.schema().as_arrow()))
table = catalog.load_table("default.logs")
current = table.metadata.current_snapshot_id
old = [s.snapshot_id for s in table.metadata.snapshots if s.snapshot_id != current]
table.maintenance.expire_snapshots().by_ids(old).commit()
table = catalog.load_table("default.logs")
print(json.dumps({{"expired": len(old), "left": len(table.metadata.snapshots)}}))
"#
        ),
    );
    assert!(expired["expired"].as_u64().unwrap() >= 1, "{expired}");
    assert_eq!(expired["left"], 1, "{expired}");

    let server = Icegate::start(&data_dir, port);
    acknowledged.extend(send(port, "expiry", 2_000, 2_500, ""));
    // The WAL's committed records were recognized by the watermark, not committed again.
    wait_until("the replay", Duration::from_secs(60), || {
        metric_value(port, "icegate_already_committed_records_total") > 0
    });
    server.stop();
    let counts = bodies(&python, &catalog, "default.logs");
    assert_eq!(counts.get("foreign-row").and_then(|c| c.as_u64()), Some(1));
    assert_exactly_once(&counts, "", &acknowledged);
}

#[test]
fn sigterm_with_stalled_clients_is_bounded_and_commits_what_was_acknowledged() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let config = write_config(dir.path(), "shutdown-timeout-ms = 3000\n");
    let port = free_port();
    let server = Icegate::start_with(&data_dir, port, free_port(), &["--config", &config]);
    let acknowledged = send(port, "stall", 0, 1_000, "");
    // One client declares a large body and sends a little of it; another never finishes
    // its headers. Neither ever completes.
    let mut stalled_body = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stalled_body
        .write_all(b"POST /v1/ndjson?service=stall HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000000\r\n\r\n{\"msg\":")
        .unwrap();
    let mut stalled_head = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stalled_head
        .write_all(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200)); // let the server read what was sent
    let stopping = Instant::now();
    server.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(15),
        "SIGTERM took {:?} with stalled clients",
        stopping.elapsed()
    );
    drop((stalled_body, stalled_head));
    let counts = bodies(&python, &catalog_expression(&data_dir), "default.logs");
    assert_exactly_once(&counts, "", &acknowledged);
}

fn spans(from: u64, to: u64) -> Vec<u8> {
    let spans: Vec<String> = (from..to)
        .map(|n| {
            format!(
                r#"{{"traceId":"{n:032x}","spanId":"{n:016x}","name":"span-{n}","kind":2,"startTimeUnixNano":"{}","endTimeUnixNano":"{}"}}"#,
                1_764_000_000_000_000_000u64 + n,
                1_764_000_000_000_100_000u64 + n
            )
        })
        .collect();
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"tracer"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    )
    .into_bytes()
}

#[test]
fn a_table_changed_incompatibly_is_quarantined_while_others_commit_across_sigterm_and_sigkill() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let send_spans = |from: u64, to: u64, acknowledged: &mut Vec<u64>| {
        for start in (from..to).step_by(50) {
            let end = (start + 50).min(to);
            let (status, _) = http(
                port,
                "POST",
                "/v1/traces",
                "application/json",
                &spans(start, end),
            )
            .unwrap();
            assert_eq!(status, 200);
            acknowledged.extend(start..end);
        }
    };
    let quarantined = || metric_value(port, "icegate_quarantined_records_total");
    let minute = Duration::from_secs(60);
    let catalog = catalog_expression(&data_dir);

    let server = Icegate::start(&data_dir, port);
    let mut logs = send(port, "good", 0, 300, "");
    let mut traces = Vec::new();
    send_spans(0, 200, &mut traces);
    wait_until("the first commits", minute, || {
        metric_value(port, "icegate_commits_total") >= 2
    });
    // Another engine adds a required column IceGate cannot fill (an incompatible change):
    // no logs batch fits the table any more. Each is moved to the quarantine; the traces
    // table keeps committing.
    run_python(
        &python,
        &format!(
            r#"
from pyiceberg.types import StringType
catalog = {catalog}
with catalog.load_table("default.logs").update_schema(allow_incompatible_changes=True) as update:
    update.add_column("tenant", StringType(), required=True)
print("{{}}")
"#
        ),
    );
    let mut next = 300;
    wait_until("the quarantine", minute, || {
        logs.extend(send(port, "good", next, next + 100, ""));
        next += 100;
        quarantined() > 0
    });
    send_spans(200, 400, &mut traces);
    let ready = http(port, "GET", "/readyz", "", b"").unwrap();
    assert_eq!(ready.0, 200);
    let readiness: serde_json::Value = serde_json::from_slice(&ready.1).unwrap();
    let lane = readiness["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["table"] == "default.logs")
        .unwrap()
        .clone();
    assert!(
        lane["quarantined-records"].as_u64().unwrap() > 0,
        "{readiness}"
    );
    assert!(
        lane["last-quarantine"].as_str().unwrap().contains("tenant"),
        "{lane}"
    );
    server.stop();

    // After a restart the table is still incompatible; a crash loses nothing either.
    let server = Icegate::start(&data_dir, port);
    logs.extend(send(port, "good", next, next + 100, ""));
    send_spans(400, 500, &mut traces);
    server.kill();
    let server = Icegate::start(&data_dir, port);
    server.stop();

    // Every acknowledged log is in the table or, whole, in the quarantine — exactly once.
    let mut counts = bodies(&python, &catalog, "default.logs");
    let kept = run_python(
        &python,
        &format!(
            r#"
import json, glob, pyarrow.ipc as ipc
files = glob.glob("{}/quarantine/default/logs/*.arrow")
print(json.dumps([b for f in files for b in ipc.open_file(f).read_all()["body"].to_pylist()]))
"#,
            data_dir.display()
        ),
    );
    let kept = kept.as_array().unwrap();
    assert!(!kept.is_empty());
    for body in kept {
        let entry = counts
            .entry(body.as_str().unwrap().to_string())
            .or_insert(serde_json::json!(0));
        *entry = serde_json::json!(entry.as_u64().unwrap() + 1);
    }
    assert_exactly_once(&counts, "", &logs);
    let names = run_python(
        &python,
        &format!(
            r#"
import json, collections
catalog = {catalog}
names = catalog.load_table("default.traces").scan(selected_fields=("name",)).to_arrow()["name"].to_pylist()
print(json.dumps(collections.Counter(names)))
"#
        ),
    );
    for n in &traces {
        assert_eq!(names[format!("span-{n}")], 1, "span-{n}");
    }
    assert_eq!(names.as_object().unwrap().len(), traces.len());
}
