//! `ice-grep` against tables written by a real `icegate` (started in this process on the
//! embedded default, fed over OTLP/HTTP): every flag, exit codes, SQL, time travel, and
//! pruning asserted from `--explain`.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use icegate_datasets::{LogRecord, otlp};
use icegate_ingest::IngestConfig;
use prost::Message;

const SERVICES: [&str; 3] = ["cart", "checkout", "payment"];
const HOURS: [u64; 3] = [10, 11, 12];
/// 2025-11-26T00:00:00Z.
const DAY: u64 = 1_764_115_200_000_000_000;

fn hour_nanos(hour: u64) -> u64 {
    DAY + hour * 3_600_000_000_000
}

/// Five records per (hour, service): three requests, one timeout (ERROR, with a trace id),
/// one retry (WARN).
fn records(hour: u64) -> (Vec<LogRecord>, Vec<String>) {
    let services: Vec<String> = SERVICES.iter().map(|s| s.to_string()).collect();
    let mut records = Vec::new();
    for (index, _) in SERVICES.iter().enumerate() {
        let at = |minute: u64| hour_nanos(hour) + minute * 60_000_000_000 + index as u64;
        let record = |minute, severity_number, text: &'static str, body: String| LogRecord {
            time_unix_nano: at(minute),
            observed_time_unix_nano: at(minute),
            severity_number,
            severity_text: text,
            body,
            service: index,
            attributes: vec![("user.id".into(), format!("u-{hour}"))],
            trace_id: None,
            span_id: None,
        };
        for minute in 0..3 {
            records.push(record(
                minute,
                9,
                "INFO",
                format!("GET /api/v1/cart 200 in {minute}2 ms"),
            ));
        }
        let mut timeout = record(10, 17, "ERROR", "upstream timed out after 5000 ms".into());
        timeout.trace_id = Some([
            hour as u8,
            index as u8,
            0xab,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
        ]);
        timeout.span_id = Some([1; 8]);
        records.push(timeout);
        records.push(record(20, 13, "WARN", "Retrying request a.b.c".into()));
    }
    (records, services)
}

/// The data directory, written once for all tests: three commits, one per hour.
fn lake() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(write_tables(dir.path()));
        dir
    })
    .path()
}

async fn write_tables(dir: &Path) {
    let mut config = IngestConfig {
        data_dir: dir.to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ..IngestConfig::default()
    };
    config.batcher.flush_interval_ms = 100;
    let server = icegate_ingest::start(config.clone()).await.unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/logs", server.http_addr);
    for (commits, hour) in HOURS.iter().enumerate() {
        let (records, services) = records(*hour);
        let body = otlp::logs_request(&records, &services, &[]).encode_to_vec();
        let response = client
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        // One commit per hour, so each file's time bounds cover one hour.
        wait_for_snapshots(&config, commits + 1).await;
    }
    server.shutdown().await.unwrap();
}

async fn wait_for_snapshots(config: &IngestConfig, count: usize) {
    let lake = icegate_committer::open_lake(&config.lake, &config.data_dir)
        .await
        .unwrap();
    let session = icegate_query::LakeSession::new(lake);
    for _ in 0..300 {
        if let Ok(table) = session.table("logs").await
            && icegate_query::snapshots::list(&table).len() >= count
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no snapshot {count} within 15 s");
}

/// Runs ice-grep on the lake: (exit code, stdout lines, stderr).
fn ice_grep(args: &[&str]) -> (i32, Vec<String>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ice-grep"))
        .arg("--data-dir")
        .arg(lake())
        .args(args)
        .env_remove("ICEGATE_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    (
        output.status.code().unwrap_or(-1),
        stdout.lines().map(str::to_string).collect(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn grep_finds_matches_in_time_order_and_exits_like_grep() {
    let (code, lines, err) = ice_grep(&["timed out"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines.len(), 9, "{lines:?}");
    assert!(
        lines[0].starts_with("2025-11-26T10:10:00.000000Z cart ERROR upstream timed out"),
        "{}",
        lines[0]
    );
    assert!(
        lines.windows(2).all(|w| w[0][..27] <= w[1][..27]),
        "time order"
    );
    assert!(
        !lines[0].contains('\x1b'),
        "no colour when stdout is not a terminal"
    );

    let (code, lines, _) = ice_grep(&["nothing like this"]);
    assert_eq!((code, lines.len()), (1, 0));
    let (code, _, err) = ice_grep(&["(unclosed"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid regex"), "{err}");
}

#[test]
fn case_inversion_fixed_strings_and_max_count() {
    let (_, lines, _) = ice_grep(&["-i", "UPSTREAM"]);
    assert_eq!(lines.len(), 9);
    // `a.b.c` as a regex also matches "a-b-c"; as a fixed string only itself.
    let (_, regex, _) = ice_grep(&["a.b"]);
    let (_, fixed, _) = ice_grep(&["-F", "a.b"]);
    assert_eq!((regex.len(), fixed.len()), (9, 9));
    let (_, none, _) = ice_grep(&["-F", "a*b"]);
    assert!(none.is_empty());
    let (_, inverted, _) = ice_grep(&["-v", "timed out|Retrying"]);
    assert_eq!(inverted.len(), 27);
    let (_, first, _) = ice_grep(&["-m", "2", "GET"]);
    assert_eq!(first.len(), 2);
    let (_, colored, _) = ice_grep(&["--color", "always", "timed"]);
    assert!(
        colored[0].contains("\x1b[1;31mtimed\x1b[0m"),
        "{}",
        colored[0]
    );
}

#[test]
fn filters_by_service_severity_time_trace_and_sql() {
    let (_, lines, _) = ice_grep(&["--service", "checkout", ""]);
    assert_eq!(lines.len(), 15);
    assert!(lines.iter().all(|l| l.contains(" checkout ")));
    let (_, lines, _) = ice_grep(&["--service", "cart", "--service", "payment"]);
    assert_eq!(lines.len(), 30);
    let (_, lines, _) = ice_grep(&["--severity", "warn"]);
    assert_eq!(lines.len(), 18);
    let (_, lines, _) = ice_grep(&["--severity", "ERROR"]);
    assert_eq!(lines.len(), 9);
    let (_, lines, _) = ice_grep(&[
        "--since",
        "2025-11-26T11:00:00Z",
        "--until",
        "2025-11-26T12:00:00Z",
    ]);
    assert_eq!(lines.len(), 15);
    assert!(lines.iter().all(|l| l.starts_with("2025-11-26T11:")));
    let (_, lines, _) = ice_grep(&["--trace-id", "0b01ab00000000000000000000000001"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("T11:10:00") && lines[0].contains(" checkout "));
    let (_, lines, _) = ice_grep(&["--where", "attributes['user.id'] = 'u-12'", "Retrying"]);
    assert_eq!(lines.len(), 3);
    let (_, lines, _) = ice_grep(&["-a", "u-10"]);
    assert_eq!(lines.len(), 15, "attribute values are searched with -a");
    let (code, _, err) = ice_grep(&["--since", "yesterday"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid time"), "{err}");
}

#[test]
fn json_and_table_output() {
    let (_, lines, _) = ice_grep(&["--json", "--service", "payment", "timed out"]);
    assert_eq!(lines.len(), 3);
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["service_name"], "payment");
    assert_eq!(first["severity_text"], "ERROR");
    let (_, lines, _) = ice_grep(&["--table", "-m", "1", "timed out"]);
    assert!(lines.iter().any(|l| l.contains("| timestamp")), "{lines:?}");
}

#[test]
fn sql_mode_reads_the_tables_by_name() {
    let (code, lines, err) = ice_grep(&[
        "sql",
        "SELECT service_name, count(*) AS n FROM logs GROUP BY service_name ORDER BY service_name",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        lines,
        ["service_name,n", "cart,15", "checkout,15", "payment,15"]
    );
    let (code, _, err) = ice_grep(&["sql", "SELECT * FROM nowhere"]);
    assert_eq!(code, 2);
    assert!(err.contains("nowhere"), "{err}");
    let (code, lines, _) = ice_grep(&[
        "sql",
        "SELECT body FROM logs WHERE body = 'x'",
        "--format",
        "json",
    ]);
    assert_eq!((code, lines.len()), (1, 0));
}

#[test]
fn snapshots_and_time_travel() {
    let (code, lines, err) = ice_grep(&["snapshots", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines.len(), 3);
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["total_records"], 15);
    let id = first["snapshot_id"].to_string();
    let (_, lines, _) = ice_grep(&["--as-of", &id, "timed out"]);
    assert_eq!(lines.len(), 3, "only the first commit's records");
    let (_, lines, _) = ice_grep(&[
        "sql",
        "SELECT count(*) AS n FROM logs",
        "--format",
        "csv",
        "--as-of",
        &id,
    ]);
    assert_eq!(lines, ["n", "15"]);
    let (code, _, err) = ice_grep(&["--as-of", "123", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("no snapshot"), "{err}");
    let (code, _, err) = ice_grep(&["--as-of", "2020-01-01", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("at or before"), "{err}");
}

#[test]
fn one_service_and_one_hour_scan_one_file() {
    let (code, lines, err) = ice_grep(&[
        "--explain",
        "--service",
        "checkout",
        "--since",
        "2025-11-26T11:00:00Z",
        "--until",
        "2025-11-26T12:00:00Z",
        "timed",
    ]);
    assert_eq!(code, 0, "{err}");
    let text = lines.join("\n");
    assert!(
        text.contains("files: 9 in table, 1 scanned, 8 pruned"),
        "{text}"
    );
    assert!(
        text.contains("rows:  45 in table, 5 in scanned files"),
        "{text}"
    );
    let (_, lines, err) = ice_grep(&["--stats", "--service", "cart", "timed"]);
    assert_eq!(lines.len(), 3);
    assert!(err.contains("files: 9 in table, 3 scanned"), "{err}");
}

#[test]
fn missing_tables_are_named() {
    let (code, _, err) = ice_grep(&["--table-name", "metrics", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("no table metrics"), "{err}");
    let (code, _, err) = ice_grep(&["--table-name", "spans", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("--table-name must be"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ice-grep"))
        .arg("--data-dir")
        .arg(empty.path().join("absent"))
        .arg("x")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no data directory"));
}
