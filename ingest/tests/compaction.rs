//! The compactor against a live `icegate` on the embedded default (SQLite catalog, local
//! warehouse), read back by PyIceberg and DuckDB: exact rows before and after a rewrite that
//! races ongoing appends, old snapshots still readable, expiry deleting only unreferenced
//! files, orphans collected only after their grace, and no duplicate after a SIGKILL and a
//! restart on top of compaction and expiry.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{Icegate, free_port, http, metric_value, python, wait_until};

const SERVICES: [&str; 4] = ["api", "billing", "search", "web"];
const RECORDS_PER_SERVICE_AND_DAY: u64 = 40;

fn compactor_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_icegate")).with_file_name("icegate-compactor");
    assert!(
        path.exists(),
        "{} is missing: build the workspace's binaries (cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// One OTLP/JSON request: for every service, records on each of `days` (days before
/// today; 0 is today, an open partition), bodies unique per (request, service, day, i).
fn request(request: u64, days: &[u64]) -> (Vec<u8>, u64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let today = now.as_secs() / 86_400 * 86_400;
    let mut resources = Vec::new();
    let mut count = 0;
    for service in SERVICES {
        let mut records = Vec::new();
        for &day in days {
            let base = if day == 0 {
                now.as_secs() - 60
            } else {
                today - day * 86_400 + 3600
            };
            for i in 0..RECORDS_PER_SERVICE_AND_DAY {
                // Later requests carry later times: consecutive files hardly overlap.
                let nanos = (base * 1_000_000_000) + request * 1_000_000_000 + i * 1_000;
                records.push(format!(
                    r#"{{"timeUnixNano":"{nanos}","body":{{"stringValue":"r{request}-{service}-{day}-{i}"}}}}"#
                ));
                count += 1;
            }
        }
        resources.push(format!(
            r#"{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"{service}"}}}}]}},"scopeLogs":[{{"logRecords":[{}]}}]}}"#,
            records.join(",")
        ));
    }
    (
        format!(r#"{{"resourceLogs":[{}]}}"#, resources.join(",")).into_bytes(),
        count,
    )
}

/// Sends request `n` and returns the records acknowledged (0 if refused).
fn send(port: u16, n: u64, days: &[u64]) -> u64 {
    let (body, count) = request(n, days);
    match http(port, "POST", "/v1/logs", "application/json", &body) {
        Some((200, _)) => count,
        _ => 0,
    }
}

fn report(python: &Path, data_dir: &Path, snapshot: Option<i64>) -> serde_json::Value {
    let mut command = Command::new(python);
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/table_report.py"))
        .arg(data_dir.join("catalog.db"))
        .arg(data_dir.join("warehouse"))
        .arg("logs");
    if let Some(snapshot) = snapshot {
        command.arg(snapshot.to_string());
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "table_report.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn duckdb_count(python: &Path, metadata_location: &str) -> u64 {
    let output = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/duckdb_read.py"))
        .arg(metadata_location)
        .arg("SELECT count(*), count(DISTINCT body) FROM t")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let (count, distinct) = (rows[0][0].as_u64().unwrap(), rows[0][1].as_u64().unwrap());
    assert_eq!(count, distinct, "DuckDB sees duplicate bodies");
    count
}

/// Runs `icegate-compactor once` with `config` and returns its stdout.
fn compact_once(data_dir: &Path, config: &Path) -> String {
    run_compactor(data_dir, config, &["once"])
}

/// Runs `icegate-compactor <args>` with `config`; fails unless it succeeds.
fn run_compactor(data_dir: &Path, config: &Path, args: &[&str]) -> String {
    let output = Command::new(compactor_binary())
        .args(["--config", config.to_str().unwrap()])
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    eprintln!(
        "icegate-compactor {args:?}:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "icegate-compactor {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Files per partition among `files` whose partition is not today's.
fn closed_partition_files(files: &serde_json::Value, today: &str) -> Vec<(String, u64)> {
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for file in files.as_array().unwrap() {
        let partition = file["partition"].as_str().unwrap().to_string();
        if !partition.contains(today) {
            *counts.entry(partition).or_default() += 1;
        }
    }
    counts.into_iter().collect()
}

/// How PyIceberg prints today's day partition: `Record[<days since 1970>, <service>]`.
fn today_marker() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    format!("[{days},")
}

/// Sends `requests` requests with records on `days`, each committed before the next: one
/// small file per request and partition. Returns the records acknowledged.
fn small_files(port: u16, requests: u64, days: &[u64]) -> u64 {
    let mut acknowledged = 0;
    for n in 0..requests {
        let commits = metric_value(port, "icegate_commits_total");
        let sent = send(port, n, days);
        assert!(sent > 0, "request {n} refused");
        acknowledged += sent;
        wait_until("the request's commit", Duration::from_secs(30), || {
            metric_value(port, "icegate_commits_total") > commits
        });
    }
    acknowledged
}

/// Runs `icegate-compactor once` and SIGKILLs it as soon as its debug log says `moment`.
/// Returns whether the moment came (the run may also finish first).
fn kill_compactor_at(data_dir: &Path, config: &Path, moment: &str) -> bool {
    use std::io::BufRead as _;
    let mut child = Command::new(compactor_binary())
        .args(["--config", config.to_str().unwrap()])
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .arg("once")
        .env("RUST_LOG", "icegate_compactor=debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = false;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains(moment) {
            child.kill().unwrap();
            seen = true;
            break;
        }
    }
    child.wait().unwrap();
    seen
}

/// Every file of the table directory aged by two days (past any grace period).
fn age_table_files(table_dir: &Path) {
    let status = Command::new("find")
        .arg(table_dir)
        .args([
            "-type",
            "f",
            "-exec",
            "touch",
            "-d",
            "2 days ago",
            "{}",
            "+",
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sigkill_at_every_step_of_a_rewrite_leaves_the_same_rows_and_a_rerun_finishes() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let server = Icegate::start(&data_dir, port);
    let acknowledged = small_files(port, 12, &[3, 4]);
    server.stop();
    let config = dir.path().join("compactor.toml");
    std::fs::write(&config, "[compactor]\nmax-manifests = 4\n").unwrap();
    let check = |when: &str| {
        let now = report(&python, &data_dir, None);
        assert_eq!(
            now["rows"].as_u64().unwrap(),
            acknowledged,
            "rows after {when}"
        );
        assert_eq!(
            now["distinct_bodies"].as_u64().unwrap(),
            acknowledged,
            "after {when}"
        );
        assert_eq!(
            now["missing"].as_u64().unwrap(),
            0,
            "missing files after {when}"
        );
        now
    };
    let before = check("ingest");
    for moment in [
        "rewrite outputs written",
        "manifest list written",
        "metadata written; swapping",
    ] {
        assert!(
            kill_compactor_at(&data_dir, &config, moment),
            "the compactor never reached {moment:?}"
        );
        check(moment);
    }
    // The killed runs left files no snapshot references; inside the grace period they stay.
    let output = compact_once(&data_dir, &config);
    let after = check("the rerun");
    let closed = closed_partition_files(&after["files"], &today_marker());
    assert!(
        closed.iter().all(|(_, files)| *files == 1),
        "{closed:?}: {output}"
    );
    assert!(
        after["snapshots"].as_u64() > before["snapshots"].as_u64(),
        "the rerun committed nothing"
    );
    let table_dir = data_dir.join("warehouse/default/logs");
    let files_before_gc = count_files(&table_dir);
    let output = compact_once(&data_dir, &config);
    assert!(
        logs_line(&output).contains(" 0 orphans deleted"),
        "{output}"
    );
    assert_eq!(count_files(&table_dir), files_before_gc);
    // Two days later every leftover is past the grace period: collected, and nothing live
    // goes with them.
    age_table_files(&table_dir);
    let output = compact_once(&data_dir, &config);
    assert!(
        !logs_line(&output).contains(" 0 orphans deleted"),
        "{output}"
    );
    check("orphan collection");
    assert!(count_files(&table_dir) < files_before_gc);
}

/// The `once` summary line of the logs table.
fn logs_line(output: &str) -> &str {
    output
        .lines()
        .find(|line| line.starts_with("table logs:"))
        .unwrap_or_else(|| panic!("no logs line in {output}"))
}

fn count_files(dir: &Path) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            count += count_files(&entry.path());
        } else {
            count += 1;
        }
    }
    count
}

#[test]
fn retention_drops_only_partitions_older_than_the_table_keeps() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let server = Icegate::start(&data_dir, port);
    let acknowledged = small_files(port, 3, &[40, 3]);
    server.stop();
    let config = dir.path().join("compactor.toml");
    std::fs::write(
        &config,
        "[compactor]\nmin-input-files = 100\nretention = { logs = \"30d\" }\n",
    )
    .unwrap();
    // `plan` and `--dry-run` say what would go and change nothing.
    let plan = run_compactor(&data_dir, &config, &["plan"]);
    assert_eq!(plan.matches("drop (retention)").count(), 4, "{plan}");
    let dry = run_compactor(&data_dir, &config, &["once", "--dry-run"]);
    assert!(logs_line(&dry).contains("dropped 12 by retention"), "{dry}");
    assert_eq!(
        report(&python, &data_dir, None)["rows"].as_u64().unwrap(),
        acknowledged
    );
    let output = compact_once(&data_dir, &config);
    assert!(
        logs_line(&output).contains("dropped 12 by retention"),
        "{output}"
    );
    let after = report(&python, &data_dir, None);
    assert_eq!(after["rows"].as_u64().unwrap(), acknowledged / 2);
    assert_eq!(after["missing"].as_u64().unwrap(), 0);
    let days_kept: std::collections::BTreeSet<String> = after["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            file["partition"]
                .as_str()
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    let three_days_ago = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400
        - 3;
    assert_eq!(
        days_kept.into_iter().collect::<Vec<_>>(),
        vec![format!("Record[{three_days_ago}")]
    );
    // Again: nothing more to drop.
    let output = compact_once(&data_dir, &config);
    assert!(
        logs_line(&output).contains("dropped 0 by retention"),
        "{output}"
    );
}

#[test]
fn compaction_while_ingesting_keeps_every_row_and_expiry_keeps_exactly_once() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let today = today_marker();

    // Many small files: one commit per request, in 8 closed partitions and 4 open ones.
    let server = Icegate::start(&data_dir, port);
    let mut acknowledged = small_files(port, 24, &[3, 4, 0]);
    let before = report(&python, &data_dir, None);
    assert_eq!(before["rows"].as_u64().unwrap(), acknowledged);
    let closed_before = closed_partition_files(&before["files"], &today);
    assert_eq!(closed_before.len(), 8, "{closed_before:?}");
    assert!(
        closed_before.iter().all(|(_, files)| *files >= 10),
        "expected many small files per closed partition: {closed_before:?}"
    );
    let first_snapshot = before["snapshot_id"].as_i64().unwrap();

    // The compactor runs while appends keep landing in the same partitions.
    let stop = Arc::new(AtomicBool::new(false));
    let during = Arc::new(AtomicU64::new(0));
    let sender = {
        let (stop, during) = (stop.clone(), during.clone());
        std::thread::spawn(move || {
            let mut n = 1_000;
            while !stop.load(Ordering::Relaxed) {
                during.fetch_add(send(port, n, &[3, 4, 0]), Ordering::Relaxed);
                n += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let config = dir.path().join("compactor.toml");
    std::fs::write(
        &config,
        "[compactor]\nclosed-after = \"1h\"\nmax-manifests = 8\n",
    )
    .unwrap();
    let output = compact_once(&data_dir, &config);
    assert!(logs_line(&output).contains("rewrote"), "{output}");
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    acknowledged += during.load(Ordering::Relaxed);
    assert!(
        during.load(Ordering::Relaxed) > 0,
        "nothing was sent during compaction"
    );
    // Everything acknowledged is committed at a graceful stop... but a SIGKILL keeps some of
    // it in the WAL only, for the restart after expiry below.
    server.kill();

    // A second round, with nothing appending: every closed partition is one sorted file.
    compact_once(&data_dir, &config);
    let compacted = report(&python, &data_dir, None);
    let closed_after = closed_partition_files(&compacted["files"], &today);
    assert_eq!(closed_after.len(), 8, "{closed_after:?}");
    assert!(
        closed_after.iter().all(|(_, files)| *files == 1),
        "closed partitions not compacted to one file: {closed_after:?}"
    );
    assert!(
        compacted["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|file| file["sorted"].as_bool().unwrap()),
        "a file is not sorted by timestamp"
    );
    let open_files = compacted["files"].as_array().unwrap().len() - 8;
    assert!(open_files >= 8, "today's partitions must not be rewritten");
    assert!(compacted["manifests"].as_u64().unwrap() <= 8 + 1);
    assert_eq!(
        compacted["rows"], compacted["distinct_bodies"],
        "duplicates after compaction"
    );
    // An old snapshot still reads its own files.
    let old = report(&python, &data_dir, Some(first_snapshot));
    assert_eq!(old["rows"], before["rows"]);
    assert_eq!(old["distinct_bodies"], before["distinct_bodies"]);

    // Expiry: every snapshot but the newest goes, with the files only they referenced; an
    // old orphan goes, a young one stays.
    let table_dir = data_dir.join("warehouse/default/logs");
    let old_orphan = table_dir.join("data/orphan-old.parquet");
    let young_orphan = table_dir.join("data/orphan-young.parquet");
    std::fs::write(&old_orphan, b"left by a failed commit").unwrap();
    std::fs::write(&young_orphan, b"a commit in flight").unwrap();
    let touched = Command::new("touch")
        .args(["-d", "2 days ago"])
        .arg(&old_orphan)
        .status()
        .unwrap();
    assert!(touched.success());
    let expiring = dir.path().join("expire.toml");
    std::fs::write(
        &expiring,
        "[compactor]\nsnapshot-max-age = \"0s\"\nmin-snapshots = 1\n",
    )
    .unwrap();
    let output = compact_once(&data_dir, &expiring);
    assert!(logs_line(&output).contains("expired"), "{output}");
    let expired = report(&python, &data_dir, None);
    assert_eq!(expired["snapshots"].as_u64().unwrap(), 1, "{output}");
    assert_eq!(
        expired["missing"].as_u64().unwrap(),
        0,
        "a live file was deleted"
    );
    assert_eq!(expired["rows"], compacted["rows"]);
    let input = before["files"][0]["path"].as_str().unwrap();
    assert!(
        !Path::new(input).exists(),
        "an input only expired snapshots referenced is still there: {input}"
    );
    assert!(!old_orphan.exists(), "the old orphan was not collected");
    assert!(
        young_orphan.exists(),
        "a file inside its grace period was deleted"
    );

    // The restart replays the WAL on top of compaction and expiry: nothing twice.
    let server = Icegate::start(&data_dir, port);
    acknowledged += send(port, 5_000, &[3, 0]);
    server.stop();
    let last = report(&python, &data_dir, None);
    assert_eq!(last["rows"].as_u64().unwrap(), acknowledged);
    assert_eq!(last["distinct_bodies"].as_u64().unwrap(), acknowledged);
    let metadata = last["metadata_location"].as_str().unwrap();
    assert_eq!(duckdb_count(&python, metadata), acknowledged);
}

/// PyIceberg over `catalog` (a Python expression): rows and distinct bodies of the table, and
/// how many files its kept snapshots reference that the store no longer has.
fn shared_table_report(python: &Path, catalog: &str, table: &str) -> serde_json::Value {
    support::run_python(
        python,
        &format!(
            r#"
import json
catalog = {catalog}
table = catalog.load_table("{table}")
bodies = table.scan(selected_fields=("body",)).to_arrow()["body"].to_pylist()
referenced = set()
for snapshot in table.metadata.snapshots:
    referenced.add(snapshot.manifest_list)
    for manifest in snapshot.manifests(table.io):
        referenced.add(manifest.manifest_path)
    for task in table.scan(snapshot_id=snapshot.snapshot_id).plan_files():
        referenced.add(task.file.file_path)
current = table.current_snapshot()
files = list(table.scan().plan_files())
print(json.dumps({{
    "rows": len(bodies),
    "distinct_bodies": len(set(bodies)),
    "missing": sum(1 for path in referenced if not table.io.new_input(path).exists()),
    "data_files": len(files),
    "snapshots": len(table.metadata.snapshots),
    "replace_snapshots": sum(1 for s in table.metadata.snapshots if s.summary.operation.value == "replace"),
}}))
"#
        ),
    )
}

/// Four `icegate` nodes (own WALs and writer ids) append to one table under load while the
/// compactor embedded in the first one rewrites, merges and expires aggressively; every node
/// is SIGKILLed and restarted; the table holds every acknowledged record exactly once and
/// every file its snapshots reference.
fn four_nodes_and_the_compactor(lake_toml: &str, catalog: &str, namespace: &str) {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let nodes = 4;
    let mut configs = Vec::new();
    for node in 0..nodes {
        let compactor = if node == 0 {
            "[compactor]\nenabled = true\ninterval = \"1s\"\nclosed-after = \"0s\"\nmax-manifests = 8\nsnapshot-max-age = \"0s\"\nmin-snapshots = 5\n"
        } else {
            ""
        };
        let path = dir.path().join(format!("node{node}.toml"));
        std::fs::write(
            &path,
            format!("lake-timeout-ms = 10000\n[batcher]\nflush-interval-ms = 250\n{lake_toml}{compactor}"),
        )
        .unwrap();
        configs.push(path);
    }
    let ports: Vec<u16> = (0..nodes).map(|_| free_port()).collect();
    let start = |node: usize| {
        Icegate::start_with(
            &dir.path().join(format!("data{node}")),
            ports[node],
            free_port(),
            &["--config", configs[node].to_str().unwrap()],
        )
    };
    let acknowledged = Arc::new(AtomicU64::new(0));
    let mut servers: Vec<Icegate> = (0..nodes).map(start).collect();
    let load = |seconds: u64, round: u64| {
        let stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..nodes)
            .map(|node| {
                let (stop, acknowledged, port) = (stop.clone(), acknowledged.clone(), ports[node]);
                std::thread::spawn(move || {
                    // Request numbers are unique per node and round: bodies never collide.
                    let mut n = (round * 10 + node as u64) * 1_000_000;
                    while !stop.load(Ordering::Relaxed) {
                        acknowledged.fetch_add(send(port, n, &[3, 0]), Ordering::Relaxed);
                        n += 1;
                        std::thread::sleep(Duration::from_millis(15));
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(seconds)); // the load's duration, not a wait
        stop.store(true, Ordering::Relaxed);
        for sender in senders {
            sender.join().unwrap();
        }
    };
    load(12, 0);
    wait_until("a compaction commit", Duration::from_secs(120), || {
        metric_value(ports[0], "icegate_compactor_files_rewritten_total") > 0
            && metric_value(ports[0], "icegate_compactor_snapshots_expired_total") > 0
    });
    // Every node killed (its WAL keeps what it acknowledged) and restarted under load.
    for server in servers.drain(..) {
        server.kill();
    }
    servers = (0..nodes).map(start).collect();
    load(6, 1);
    for name in ["commits", "conflicts", "aborted", "orphans_deleted"] {
        let metric = format!("icegate_compactor_{name}_total");
        eprintln!("{metric} {}", metric_value(ports[0], &metric));
    }
    // Every step of every round worked (orphan listing included), races notwithstanding.
    assert_eq!(
        metric_value(ports[0], "icegate_compactor_failures_total"),
        0
    );
    for server in servers {
        server.stop();
    }
    let report = shared_table_report(&python, catalog, &format!("{namespace}.logs"));
    let acknowledged = acknowledged.load(Ordering::Relaxed);
    assert!(acknowledged > 0);
    assert_eq!(report["rows"].as_u64().unwrap(), acknowledged, "{report}");
    assert_eq!(
        report["distinct_bodies"].as_u64().unwrap(),
        acknowledged,
        "{report}"
    );
    assert_eq!(report["missing"].as_u64().unwrap(), 0, "{report}");
}

#[test]
fn four_nodes_and_the_compactor_on_postgres_and_s3() {
    let namespace = support::unique("compact_pg");
    let Some((lake, catalog)) = support::postgres_s3_lake(&namespace) else {
        return;
    };
    four_nodes_and_the_compactor(&lake, &catalog, &namespace);
}

#[test]
fn four_nodes_and_the_compactor_on_the_rest_catalog() {
    let (Some(rest), Some(s3)) = (
        support::service("ICEGATE_TEST_REST_URI"),
        support::service("ICEGATE_TEST_S3_ENDPOINT"),
    ) else {
        return;
    };
    let bucket = std::env::var("ICEGATE_TEST_S3_BUCKET").unwrap();
    let key = std::env::var("ICEGATE_TEST_S3_ACCESS_KEY").unwrap();
    let secret = std::env::var("ICEGATE_TEST_S3_SECRET_KEY").unwrap();
    let namespace = support::unique("compact_rest");
    let lake = format!(
        "[lake]\nnamespace = \"{namespace}\"\n[lake.catalog]\ntype = \"rest\"\nuri = \"{rest}\"\nwarehouse = \"s3://warehouse\"\ncredential = \"{key}:{secret}\"\n[lake.storage]\ntype = \"s3\"\nbucket = \"{bucket}\"\nprefix = \"{namespace}\"\nendpoint = \"{s3}\"\npath-style-access = true\naccess-key-id = \"{key}\"\nsecret-access-key = \"{secret}\"\n"
    );
    let catalog = format!(
        "__import__('pyiceberg.catalog', fromlist=['load_catalog']).load_catalog('icegate', type='rest', uri='{rest}', warehouse='s3://warehouse', credential='{key}:{secret}', **{{'s3.endpoint': '{s3}', 's3.access-key-id': '{key}', 's3.secret-access-key': '{secret}', 's3.region': 'us-east-1', 's3.path-style-access': 'true'}})"
    );
    four_nodes_and_the_compactor(&lake, &catalog, &namespace);
}
