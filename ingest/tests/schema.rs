//! Schema infer and evolve through real processes: NDJSON and OTLP (the OTel Python SDK)
//! into `icegate`, read back by PyIceberg, DuckDB and Spark. The oracle: every acknowledged
//! record is in the table once, and every key's value is where the schema says — its promoted column, the attribute map, or
//! `_rescued` — with the text it was sent as.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use support::{
    Icegate, catalog_expression, free_port, http, metric_value, python, run_python, wait_until,
};

/// The keys every line may carry.
const KEYS: [&str; 5] = ["status", "user", "latency", "ok", "region"];

/// Line `i` of phase `phase`, and the text each key's value has in the attribute map.
fn line(i: u64, phase: u8) -> (String, BTreeMap<String, String>) {
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let status = match phase {
        1 => format!("\"s{i}\""), // the column is long by now: these are rescued
        _ => (200 + i % 5).to_string(),
    };
    fields.insert("status".into(), status);
    fields.insert("user".into(), format!("\"u{}\"", i % 50));
    if phase != 1 {
        fields.insert("latency".into(), format!("{i}.5")); // gone in phase 1
    }
    fields.insert("ok".into(), i.is_multiple_of(2).to_string());
    if phase >= 1 {
        fields.insert("region".into(), "\"eu\"".into()); // new in phase 1
    }
    fields.insert(format!("req_{i}"), "1".into()); // high churn: never promoted
    let json: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    let expected = fields
        .into_iter()
        .filter(|(k, _)| KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k, v.trim_matches('"').to_string()))
        .collect();
    (
        format!("{{\"msg\":\"line {i}\",{}}}", json.join(",")),
        expected,
    )
}

/// Posts lines `from..to` of `phase` in requests of 100; returns how many were acknowledged.
fn send(
    port: u16,
    from: u64,
    to: u64,
    phase: u8,
    expected: &mut BTreeMap<String, BTreeMap<String, String>>,
) -> u64 {
    let mut acknowledged = 0;
    for start in (from..to).step_by(100) {
        let lines: Vec<(String, BTreeMap<String, String>)> = (start..(start + 100).min(to))
            .map(|i| line(i, phase))
            .collect();
        let body: String = lines.iter().map(|(l, _)| format!("{l}\n")).collect();
        let answer = http(
            port,
            "POST",
            "/v1/ndjson?service=schema",
            "application/x-ndjson",
            body.as_bytes(),
        );
        if matches!(answer, Some((200, _))) {
            acknowledged += lines.len() as u64;
            for (offset, (_, values)) in lines.into_iter().enumerate() {
                expected.insert(format!("line {}", start + offset as u64), values);
            }
        }
    }
    acknowledged
}

fn config(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const PROMOTE: &str = "[schema]\npromote = true\nmin-window-rows = 200\nwindow-batches = 4\n";

fn report(python: &Path, catalog: &str, table: &str) -> serde_json::Value {
    let output = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/promoted_report.py"))
        .arg(catalog)
        .arg(table)
        .args(KEYS)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "promoted_report.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Every acknowledged line once, every key's value where the schema says.
fn assert_every_value_placed(
    report: &serde_json::Value,
    expected: &BTreeMap<String, BTreeMap<String, String>>,
) {
    assert_eq!(report["rows"].as_u64().unwrap(), expected.len() as u64);
    assert_eq!(
        report["distinct_bodies"].as_u64().unwrap(),
        expected.len() as u64
    );
    let values = report["values"].as_object().unwrap();
    for (body, keys) in expected {
        let found: BTreeMap<String, String> = values[body]
            .as_object()
            .unwrap_or_else(|| panic!("{body} is not in the table"))
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        assert_eq!(&found, keys, "{body}");
    }
}

/// What every phased stream ends with: the four keys typed as their values were, `more`
/// columns there, no churning key promoted, every value placed; `status` in its column and
/// in `_rescued`. Returns `status`'s placement counts.
fn assert_phases_placed(
    report: &serde_json::Value,
    expected: &BTreeMap<String, BTreeMap<String, String>>,
    more: &[(&str, &str)],
) -> serde_json::Value {
    let typed = [
        ("attr_status", "long"),
        ("attr_user", "string"),
        ("attr_latency", "double"),
        ("attr_ok", "boolean"),
    ];
    for (name, kind) in typed.iter().chain(more) {
        let column = column(report, name).unwrap_or_else(|| panic!("no {name}: {report}"));
        assert_eq!(column[1], *kind, "{name}");
    }
    assert!(
        report["columns"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c[0].as_str().unwrap().starts_with("attr_req")),
        "a churning key was promoted"
    );
    assert_every_value_placed(report, expected);
    let placed = report["placed"]["status"].clone();
    assert!(placed[0].as_u64().unwrap() > 0, "{placed}");
    assert!(placed[2].as_u64().unwrap() > 0, "{placed}");
    placed
}

fn column<'a>(report: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c[0] == name)
}

fn duckdb_counts(python: &Path, data_dir: &Path) -> serde_json::Value {
    let metadata = run_python(
        python,
        &format!(
            "import json\nprint(json.dumps({}.load_table('default.logs').metadata_location))",
            catalog_expression(data_dir)
        ),
    );
    let output = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/duckdb_read.py"))
        .arg(metadata.as_str().unwrap())
        .arg("SELECT count(*), count(attr_status), count(_rescued), count(DISTINCT body) FROM t")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn fields_that_appear_change_type_and_disappear_land_in_columns_maps_and_rescued() {
    let Some(python) = python() else { return };
    let spark = support::spark_python();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let toml = config(dir.path(), "icegate.toml", PROMOTE);
    let port = free_port();
    let server = Icegate::start_with(
        &data_dir,
        port,
        free_port(),
        &["--config", toml.to_str().unwrap()],
    );
    let mut expected = BTreeMap::new();

    // Phase 0: status long, user string, latency double, ok boolean; one churning key a line.
    let mut acknowledged = send(port, 0, 3000, 0, &mut expected);
    wait_until("four promoted columns", Duration::from_secs(60), || {
        metric_value(port, "icegate_promoted_columns_total") >= 4
    });
    // Phase 1: status turns to text (rescued), latency disappears, region appears.
    acknowledged += send(port, 3000, 4000, 1, &mut expected);
    wait_until("a rescued value", Duration::from_secs(60), || {
        metric_value(port, "icegate_rescued_values_total") > 0
    });
    // Another engine adds a column while icegate writes.
    run_python(
        &python,
        &format!(
            // A commit racing icegate's may lose (PyIceberg does not retry schema updates).
            "import json\nfrom pyiceberg.exceptions import CommitFailedException\nfrom pyiceberg.types import StringType\ncatalog = {}\nfor attempt in range(10):\n    try:\n        with catalog.load_table('default.logs').update_schema() as u:\n            u.add_column('note', StringType())\n        break\n    except CommitFailedException:\n        if attempt == 9:\n            raise\nprint(json.dumps(True))",
            catalog_expression(&data_dir)
        ),
    );
    // Phase 2: status is a number again.
    acknowledged += send(port, 4000, 4500, 2, &mut expected);
    assert_eq!(metric_value(port, "icegate_quarantined_batches_total"), 0);
    server.stop();
    assert_eq!(acknowledged, 4500);

    let report = report(&python, &catalog_expression(&data_dir), "default.logs");
    let placed = assert_phases_placed(
        &report,
        &expected,
        &[("_rescued", "string"), ("note", "string")],
    );
    let rescued = report["rescued"].as_u64().unwrap();

    // DuckDB and Spark read the same table: old files (before the columns existed) and new.
    let duckdb = duckdb_counts(&python, &data_dir);
    assert_eq!(duckdb[0][0].as_u64(), Some(4500), "{duckdb}");
    assert_eq!(duckdb[0][1].as_u64(), placed[0].as_u64(), "{duckdb}");
    assert_eq!(duckdb[0][2].as_u64(), Some(rescued), "{duckdb}");
    assert_eq!(duckdb[0][3].as_u64(), Some(4500), "{duckdb}");
    // ice-grep --attr finds the key in its column and, in files from before, in the map.
    let wanted = expected
        .values()
        .filter(|v| v.get("status").map(String::as_str) == Some("201"))
        .count();
    let ice_grep = Path::new(env!("CARGO_BIN_EXE_icegate")).with_file_name("ice-grep");
    let output = Command::new(&ice_grep)
        .args([
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--attr",
            "status=201",
            "--json",
        ])
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "{}: {err} (cargo build --workspace --bins)",
                ice_grep.display()
            )
        });
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(wanted > 0);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().count(),
        wanted
    );
    if let Some(spark) = spark {
        let rows = support::spark_rows(
            &spark,
            &data_dir,
            "default.logs",
            "body,attr_status,_rescued,note",
        );
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 4500);
        let with_status = rows.iter().filter(|r| !r[1].is_null()).count() as u64;
        assert_eq!(Some(with_status), placed[0].as_u64());
        assert_eq!(
            rows.iter().filter(|r| !r[2].is_null()).count() as u64,
            rescued
        );
        assert!(rows.iter().all(|r| r[3].is_null()));
    }
}

#[test]
fn high_churn_keys_stop_growing_the_schema_at_the_cap() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let toml = config(
        dir.path(),
        "icegate.toml",
        "[schema]\npromote = true\nmin-share = 0.0001\nmin-window-rows = 1\nwindow-batches = 2\nmax-columns = 8\n",
    );
    let port = free_port();
    let server = Icegate::start_with(
        &data_dir,
        port,
        free_port(),
        &["--config", toml.to_str().unwrap()],
    );
    // 1,000 lines of 10 keys each: 10,000 distinct keys.
    let mut acknowledged = 0;
    for request in 0..10 {
        let body: String = (0..100)
            .map(|l| {
                let n = request * 100 + l;
                let keys: Vec<String> = (0..10).map(|k| format!("\"key_{n}_{k}\":{k}")).collect();
                format!("{{\"msg\":\"churn {n}\",{}}}\n", keys.join(","))
            })
            .collect();
        if let Some((200, _)) = http(
            port,
            "POST",
            "/v1/ndjson?service=churn",
            "application/x-ndjson",
            body.as_bytes(),
        ) {
            acknowledged += 100;
        }
    }
    server.stop();
    assert_eq!(acknowledged, 1000);
    let summary = run_python(
        &python,
        &format!(
            "import json\nt = {}.load_table('default.logs')\nfields = [f.name for f in t.schema().fields]\nrows = t.scan().to_arrow().to_pylist()\nprint(json.dumps({{'promoted': [n for n in fields if n.startswith('attr_')], 'rescued': '_rescued' in fields, 'rows': len(rows), 'keys': sum(len(r['attributes'] or []) for r in rows) + sum(1 for r in rows for n in fields if n.startswith('attr_') and r[n] is not None)}}))",
            catalog_expression(&data_dir)
        ),
    );
    assert_eq!(
        summary["promoted"].as_array().unwrap().len(),
        8,
        "{summary}"
    );
    assert_eq!(summary["rescued"], true);
    assert_eq!(summary["rows"], 1000);
    assert_eq!(summary["keys"], 10_000, "every key is in a column or a map");
}

#[test]
fn a_wal_written_before_promotion_replays_after_it() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    // The first run never flushes (an hour's interval, a huge flush size) and is killed:
    // everything it acknowledged is only in its WAL, written without promotion.
    let before = config(
        dir.path(),
        "before.toml",
        "[batcher]\nflush-size = 1073741824\n",
    );
    let server = Icegate::start_with(
        &data_dir,
        port,
        free_port(),
        &[
            "--config",
            before.to_str().unwrap(),
            "--flush-interval",
            "60m",
        ],
    );
    let mut expected = BTreeMap::new();
    let acknowledged = send(port, 0, 2000, 0, &mut expected);
    assert_eq!(acknowledged, 2000);
    assert_eq!(metric_value(port, "icegate_commits_total"), 0);
    server.kill();

    let after = config(dir.path(), "after.toml", PROMOTE);
    let server = Icegate::start_with(
        &data_dir,
        port,
        free_port(),
        &["--config", after.to_str().unwrap()],
    );
    wait_until("the replay committed", Duration::from_secs(60), || {
        metric_value(port, "icegate_commits_total") > 0
    });
    server.stop();
    let report = report(&python, &catalog_expression(&data_dir), "default.logs");
    assert!(
        column(&report, "attr_status").is_some(),
        "{}",
        report["columns"]
    );
    assert_every_value_placed(&report, &expected);
}

/// Two nodes promoting the same keys at once on one table (PostgreSQL catalog, SeaweedFS
/// S3): one column per key, no failed batch, every acknowledged line once.
#[test]
fn two_nodes_promoting_the_same_keys_make_one_column_each() {
    let Some(python) = python() else { return };
    let namespace = support::unique("schema_pg");
    let Some((lake, catalog)) = support::postgres_s3_lake(&namespace) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let toml = config(dir.path(), "node.toml", &format!("{PROMOTE}{lake}"));
    let ports = [free_port(), free_port()];
    let servers: Vec<Icegate> = (0..2)
        .map(|node| {
            Icegate::start_with(
                &dir.path().join(format!("data{node}")),
                ports[node],
                free_port(),
                &["--config", toml.to_str().unwrap()],
            )
        })
        .collect();
    let acknowledged = Arc::new(AtomicU64::new(0));
    let expected = Arc::new(std::sync::Mutex::new(BTreeMap::new()));
    let senders: Vec<_> = (0..2u64)
        .map(|node| {
            let (acknowledged, expected, port) =
                (acknowledged.clone(), expected.clone(), ports[node as usize]);
            std::thread::spawn(move || {
                let mut mine = BTreeMap::new();
                let from = node * 100_000;
                let sent = send(port, from, from + 3000, 0, &mut mine);
                acknowledged.fetch_add(sent, Ordering::Relaxed);
                expected.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    for port in ports {
        wait_until("a commit by each node", Duration::from_secs(60), || {
            metric_value(port, "icegate_commits_total") > 0
        });
        assert_eq!(metric_value(port, "icegate_quarantined_batches_total"), 0);
        assert_eq!(metric_value(port, "icegate_rescued_values_total"), 0);
    }
    for server in servers {
        server.stop();
    }
    let report = report(&python, &catalog, &format!("{namespace}.logs"));
    let names: Vec<&str> = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[0].as_str().unwrap())
        .filter(|n| n.starts_with("attr_"))
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        ["attr_latency", "attr_ok", "attr_status", "attr_user"],
        "{names:?}"
    );
    let expected = expected.lock().unwrap();
    assert_eq!(acknowledged.load(Ordering::Relaxed), 6000);
    assert_every_value_placed(&report, &expected);
}

/// Sends OTLP log records `from..to` of `phase` with the OTel Python SDK (`grpc` or `http`);
/// adds what the server acknowledged to `expected` and returns how many that was.
fn send_otlp(
    python: &Path,
    transport: &str,
    endpoint: &str,
    (from, to, phase): (u64, u64, u8),
    expected: &mut BTreeMap<String, BTreeMap<String, String>>,
) -> u64 {
    let output = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/otel_attributes_send.py"))
        .args([transport, endpoint])
        .args([from.to_string(), to.to_string(), phase.to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "otel_attributes_send.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sent: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for (body, keys) in sent["expected"].as_object().unwrap() {
        let keys = keys
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        expected.insert(body.clone(), keys);
    }
    let acknowledged = sent["acknowledged"].as_u64().unwrap();
    assert_eq!(
        acknowledged,
        to - from,
        "exports failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    acknowledged
}

/// The same phases from the OTel Python SDK over gRPC and OTLP/HTTP: typed OTLP attribute
/// values (int, double, bool, string) become columns, a resource attribute too, and a value
/// of another type is rescued.
#[test]
fn otlp_attributes_that_appear_change_type_and_disappear_land_in_columns_maps_and_rescued() {
    let Some(python) = python() else { return };
    let spark = support::spark_python();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let toml = config(
        dir.path(),
        "icegate.toml",
        &format!("{PROMOTE}sources = [\"attributes\", \"resource_attributes\"]\n"),
    );
    let (port, grpc_port) = (free_port(), free_port());
    let server = Icegate::start_with(
        &data_dir,
        port,
        grpc_port,
        &["--config", toml.to_str().unwrap()],
    );
    let grpc = format!("127.0.0.1:{grpc_port}");
    let http = format!("http://127.0.0.1:{port}/v1/logs");
    let mut expected = BTreeMap::new();

    // Phase 0 over gRPC: status int, user string, latency double, ok bool.
    let mut acknowledged = send_otlp(&python, "grpc", &grpc, (0, 3000, 0), &mut expected);
    wait_until("promoted columns", Duration::from_secs(60), || {
        metric_value(port, "icegate_promoted_columns_total") >= 5
    });
    // Phase 1 over HTTP: status turns to text (rescued), latency disappears, region appears.
    acknowledged += send_otlp(&python, "http", &http, (3000, 4000, 1), &mut expected);
    wait_until("a rescued value", Duration::from_secs(60), || {
        metric_value(port, "icegate_rescued_values_total") > 0
    });
    // Phase 2 over gRPC: status is a number again.
    acknowledged += send_otlp(&python, "grpc", &grpc, (4000, 4500, 2), &mut expected);
    assert_eq!(metric_value(port, "icegate_quarantined_batches_total"), 0);
    server.stop();
    assert_eq!(acknowledged, 4500);

    let catalog = catalog_expression(&data_dir);
    let report = report(&python, &catalog, "default.logs");
    let placed = assert_phases_placed(
        &report,
        &expected,
        &[
            ("resource_deployment_environment", "string"),
            ("_rescued", "string"),
        ],
    );
    // The resource attribute is in its column, or (in files from before) in the map.
    let environment = run_python(
        &python,
        &format!(
            "import json\nrows = {catalog}.load_table('default.logs').scan(selected_fields=('resource_attributes', 'resource_deployment_environment')).to_arrow().to_pylist()\nprint(json.dumps([sum(1 for r in rows if r['resource_deployment_environment'] == 'prod'), sum(1 for r in rows if dict(r['resource_attributes'] or []).get('deployment.environment') == 'prod')]))"
        ),
    );
    let (in_column, in_map) = (
        environment[0].as_u64().unwrap(),
        environment[1].as_u64().unwrap(),
    );
    assert!(in_column > 0, "{environment}");
    assert_eq!(in_column + in_map, 4500, "{environment}");

    let duckdb = duckdb_counts(&python, &data_dir);
    assert_eq!(duckdb[0][0].as_u64(), Some(4500), "{duckdb}");
    assert_eq!(duckdb[0][1].as_u64(), placed[0].as_u64(), "{duckdb}");
    assert_eq!(
        duckdb[0][2].as_u64(),
        report["rescued"].as_u64(),
        "{duckdb}"
    );
    assert_eq!(duckdb[0][3].as_u64(), Some(4500), "{duckdb}");
    if let Some(spark) = spark {
        let rows = support::spark_rows(&spark, &data_dir, "default.logs", "body,attr_status");
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 4500);
        let with_status = rows.iter().filter(|r| !r[1].is_null()).count() as u64;
        assert_eq!(Some(with_status), placed[0].as_u64());
    }
}

/// The table's schema lacks a column the binary writes by name: one PyIceberg renamed while
/// `icegate` runs (its values go to it by field id), one it dropped (its values are left
/// out), and one a table never had because it was created without it, as by an older build
/// (`icegate` adds it). Ingest goes on, nothing is
/// quarantined, every acknowledged line is read back.
#[test]
fn renamed_and_dropped_columns_and_a_table_without_a_new_column_keep_ingesting() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let catalog = catalog_expression(&data_dir);
    let port = free_port();
    let server = Icegate::start(&data_dir, port);
    let mut expected = BTreeMap::new();
    let mut acknowledged = send(port, 0, 500, 0, &mut expected);
    wait_until("a commit", Duration::from_secs(60), || {
        metric_value(port, "icegate_commits_total") > 0
    });
    run_python(
        &python,
        &format!(
            "import json\nfrom pyiceberg.exceptions import CommitFailedException\nfrom pyiceberg.types import LongType\ncatalog = {catalog}\nfor attempt in range(10):\n    try:\n        with catalog.load_table('default.logs').update_schema() as u:\n            u.delete_column('scope_name')\n            u.rename_column('flags', 'trace_flags')\n            u.update_column('severity_number', field_type=LongType())\n        break\n    except CommitFailedException:\n        if attempt == 9:\n            raise\nprint(json.dumps(True))"
        ),
    );
    acknowledged += send(port, 500, 1000, 0, &mut expected);
    assert_eq!(metric_value(port, "icegate_quarantined_batches_total"), 0);
    server.stop();
    assert_eq!(acknowledged, 1000);

    // A table like logs but without scope_version, created by another engine.
    let created = run_python(
        &python,
        &format!(
            "import json\nfrom pyiceberg.schema import Schema\nfrom pyiceberg.types import NestedField\ncatalog = {catalog}\nt = catalog.load_table('default.logs')\nrows = t.scan().to_arrow()\nfields = [NestedField(f.field_id, 'flags' if f.name == 'trace_flags' else f.name, f.field_type, required=f.required) for f in t.schema().fields if f.name != 'scope_version']\ncatalog.create_table('default.older', schema=Schema(*fields), partition_spec=t.spec(), sort_order=t.sort_order())\nprint(json.dumps({{'rows': rows.num_rows, 'bodies': len(set(rows['body'].to_pylist())), 'flags': sum(1 for v in rows['trace_flags'].to_pylist() if v is not None), 'fields': [f.name for f in t.schema().fields]}}))"
        ),
    );
    assert_eq!(created["rows"], 1000, "{created}");
    // The renamed column kept being written: its values by field id, not by name.
    assert_eq!(created["flags"], 1000, "{created}");
    assert_eq!(created["bodies"], 1000, "{created}");
    assert!(
        !created["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "scope_name"),
        "{created}"
    );
    let toml = config(
        dir.path(),
        "older.toml",
        "[lake]\ntables = { logs = \"older\", traces = \"traces\", metrics = \"metrics\" }\n",
    );
    let server = Icegate::start_with(
        &data_dir,
        port,
        free_port(),
        &["--config", toml.to_str().unwrap()],
    );
    let sent = send(port, 1000, 1500, 0, &mut BTreeMap::new());
    assert_eq!(sent, 500);
    wait_until("a commit", Duration::from_secs(60), || {
        metric_value(port, "icegate_commits_total") > 0
    });
    assert_eq!(metric_value(port, "icegate_quarantined_batches_total"), 0);
    server.stop();
    let older = run_python(
        &python,
        &format!(
            "import json\nt = {catalog}.load_table('default.older')\nrows = t.scan().to_arrow()\nprint(json.dumps({{'rows': rows.num_rows, 'fields': [f.name for f in t.schema().fields]}}))"
        ),
    );
    assert_eq!(older["rows"], 500, "{older}");
    assert!(
        older["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "scope_version"),
        "icegate added the column: {older}"
    );
}
