//! The conformance suite every storage + catalog combination runs, and the PyIceberg check.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use arrow::array::RecordBatch;
use futures::TryStreamExt;
use icegate_committer::{
    CommitOutcome, CommitRequest, IcebergCommitter, Lake, LakeConfig, TableCommitter, open_lake,
};
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use icegate_schema::{TableLayout, logs_schema};
use icegate_writer::{ParquetConfig, write_data_files};

/// Log lines over three services and two days (2024-05-01 and 2024-05-02).
pub fn sample_logs(start: usize, count: usize) -> RecordBatch {
    let services = ["api", "web", "worker"];
    let body: String = (start..start + count)
        .map(|i| {
            let day = 1 + i % 2;
            format!(
                "{{\"time\":\"2024-05-0{day}T{:02}:{:02}:00Z\",\"service\":\"{}\",\"level\":\"info\",\"msg\":\"line {i}\",\"trace_id\":\"{:032x}\"}}\n",
                i % 24,
                i % 60,
                services[i % 3],
                i
            )
        })
        .collect();
    NdjsonDecoder::new().decode(
        body.as_bytes(),
        &NdjsonContext::default(),
        1_714_521_600_000_000_000,
    )
}

/// Rows in the table's current snapshot, read with iceberg-rust's own scan.
pub async fn count_rows(lake: &Lake, table: &str) -> usize {
    let table = lake
        .catalog()
        .load_table(&lake.table_ident(table))
        .await
        .unwrap();
    if table.metadata().current_snapshot().is_none() {
        return 0;
    }
    let batches: Vec<RecordBatch> = table
        .scan()
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// Writes and commits one batch as WAL range `first..=last` of `writer`.
pub async fn write_and_commit(
    committer: &IcebergCommitter,
    writer: &str,
    batch: &RecordBatch,
    first: u64,
    last: u64,
) -> CommitOutcome {
    let lake = committer.lake();
    let table = lake
        .table("logs", &logs_schema(), &TableLayout::default())
        .await
        .unwrap();
    let files = write_data_files(&table, batch, &ParquetConfig::default())
        .await
        .unwrap();
    let request = CommitRequest {
        writer_id: writer.into(),
        first_seq: first,
        last_seq: last,
        files,
    };
    committer.commit("logs", request).await.unwrap()
}

/// The suite: table creation keeps our schema, files carry partition values and metrics,
/// commits are exactly-once, and an outside reader (PyIceberg) sees the rows.
pub async fn conformance(
    config: LakeConfig,
    data_dir: &Path,
    pyiceberg_catalog: &str,
    ids_kept: bool,
) {
    let lake = open_lake(&config, data_dir).await.unwrap();
    let table = lake
        .table("logs", &logs_schema(), &TableLayout::default())
        .await
        .unwrap();

    // The table has our columns. Catalogs built on iceberg-rust keep every field id as well
    // (`ids_kept`); a REST catalog may renumber, and the writer aligns batches to its ids.
    let table_schema =
        iceberg::arrow::schema_to_arrow_schema(table.metadata().current_schema()).unwrap();
    assert_eq!(table_schema.fields().len(), logs_schema().fields().len());
    for (ours, theirs) in logs_schema().fields().iter().zip(table_schema.fields()) {
        assert_eq!(ours.name(), theirs.name());
        if ids_kept {
            assert_eq!(
                ours.metadata().get("PARQUET:field_id"),
                theirs.metadata().get("PARQUET:field_id"),
                "field id of {}",
                ours.name()
            );
        }
    }
    assert_eq!(table.metadata().default_partition_spec().fields().len(), 2);
    assert_eq!(table.metadata().default_sort_order().fields.len(), 2);

    // One file per (day, service) partition, with full metrics.
    let batch = sample_logs(0, 600);
    let files = write_data_files(&table, &batch, &ParquetConfig::default())
        .await
        .unwrap();
    assert_eq!(files.len(), 6, "3 services x 2 days");
    for file in &files {
        assert_eq!(file.partition().fields().len(), 2);
        assert!(file.record_count() > 0 && file.file_size_in_bytes() > 0);
        assert!(!file.lower_bounds().is_empty() && !file.upper_bounds().is_empty());
        assert!(!file.null_value_counts().is_empty() && !file.value_counts().is_empty());
    }
    assert_eq!(files.iter().map(|f| f.record_count()).sum::<u64>(), 600);

    // Exactly once: the same WAL range twice adds nothing; the position reads back.
    let committer = IcebergCommitter::new(lake.clone());
    let request = CommitRequest {
        writer_id: "node-a".into(),
        first_seq: 0,
        last_seq: 9,
        files,
    };
    assert!(matches!(
        committer.commit("logs", request.clone()).await.unwrap(),
        CommitOutcome::Committed { .. }
    ));
    assert_eq!(
        committer.commit("logs", request).await.unwrap(),
        CommitOutcome::AlreadyCommitted { committed_seq: 9 }
    );
    assert_eq!(
        committer.committed_seq("logs", "node-a").await.unwrap(),
        Some(9)
    );
    assert_eq!(
        committer.committed_seq("logs", "node-b").await.unwrap(),
        None
    );
    write_and_commit(&committer, "node-a", &sample_logs(600, 60), 10, 12).await;
    assert_eq!(count_rows(&lake, "logs").await, 660);

    // A fresh process (new catalog connection) reads the position back.
    let reopened = IcebergCommitter::new(open_lake(&config, data_dir).await.unwrap());
    assert_eq!(
        reopened.committed_seq("logs", "node-a").await.unwrap(),
        Some(12)
    );

    pyiceberg_reads(pyiceberg_catalog, &config.namespace, 660);
}

/// Runs PyIceberg against the table: total rows, one service, and one service on one day
/// (pruned by partition and metrics).
pub fn pyiceberg_reads(catalog_expression: &str, namespace: &str, expected_rows: usize) {
    let Some(python) = python() else { return };
    let script = format!(
        r#"
import json
from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThan
catalog = {catalog_expression}
table = catalog.load_table("{namespace}.logs")
everything = table.scan().to_arrow()
api = table.scan(row_filter=EqualTo("service_name", "api")).to_arrow()
api_day = table.scan(row_filter=And(EqualTo("service_name", "api"),
    And(GreaterThanOrEqual("timestamp", "2024-05-02T00:00:00+00:00"), LessThan("timestamp", "2024-05-03T00:00:00+00:00")))).to_arrow()
files = table.inspect.files()
print(json.dumps({{"rows": everything.num_rows, "api": api.num_rows, "api_day": api_day.num_rows,
    "services": sorted(set(everything["service_name"].to_pylist())), "files": files.num_rows,
    "bodies_ok": all(b.startswith("line ") for b in everything["body"].to_pylist())}}))
"#
    );
    let output = Command::new(&python)
        .arg("-c")
        .arg(&script)
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "PyIceberg failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("PyIceberg report");
    assert_eq!(report["rows"], expected_rows, "{report}");
    assert_eq!(
        report["services"],
        serde_json::json!(["api", "web", "worker"]),
        "{report}"
    );
    assert!(report["api"].as_u64().unwrap() > 0, "{report}");
    assert!(
        report["api_day"].as_u64().unwrap() < report["api"].as_u64().unwrap(),
        "{report}"
    );
    assert_eq!(report["bodies_ok"], true, "{report}");
}

/// The Python with PyIceberg (`ICEGATE_PYTHON`, installed by ci/setup.sh). Under CI its
/// absence is a failure; elsewhere the outside-reader checks are skipped with a note.
pub fn python() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("ICEGATE_PYTHON").map(std::path::PathBuf::from);
    match path.filter(|p| p.exists()) {
        Some(path) => Some(path),
        None if std::env::var_os("CI").is_some() => {
            panic!("ICEGATE_PYTHON is not set up; run ci/setup.sh")
        }
        None => {
            eprintln!("skipping the PyIceberg check: ICEGATE_PYTHON is not set (run ci/setup.sh)");
            None
        }
    }
}

/// Four committers (each with its own catalog connection) append to one table at once.
pub async fn concurrent_committers(config: LakeConfig, data_dir: &Path) {
    let lake = open_lake(&config, data_dir).await.unwrap();
    lake.table("logs", &logs_schema(), &TableLayout::default())
        .await
        .unwrap();
    let before = count_rows(&lake, "logs").await;
    let mut tasks = Vec::new();
    for writer in 0..4 {
        let config = config.clone();
        let data_dir = data_dir.to_path_buf();
        tasks.push(tokio::spawn(async move {
            let committer = Arc::new(IcebergCommitter::new(
                open_lake(&config, &data_dir).await.unwrap(),
            ));
            for round in 0..5u64 {
                let batch = sample_logs(writer * 1000 + round as usize * 10, 10);
                let outcome = write_and_commit(
                    &committer,
                    &format!("writer-{writer}"),
                    &batch,
                    round,
                    round,
                )
                .await;
                assert!(
                    matches!(outcome, CommitOutcome::Committed { .. }),
                    "{outcome:?}"
                );
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(count_rows(&lake, "logs").await, before + 4 * 5 * 10);
    let committer = IcebergCommitter::new(lake);
    for writer in 0..4 {
        assert_eq!(
            committer
                .committed_seq("logs", &format!("writer-{writer}"))
                .await
                .unwrap(),
            Some(4)
        );
    }
}

/// The S3-compatible server (SeaweedFS) and PostgreSQL that `ci/services.sh start` runs.
pub struct Services {
    pub s3_endpoint: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    pub rest_uri: String,
    pub postgres_url: String,
}

/// The running services, from the environment `ci/services.sh start` prints. Under CI their
/// absence is a failure; elsewhere the test is skipped with a note.
pub fn services() -> Option<Services> {
    let var = |name: &str| std::env::var(name).ok();
    match (
        var("ICEGATE_TEST_S3_ENDPOINT"),
        var("ICEGATE_TEST_S3_BUCKET"),
        var("ICEGATE_TEST_S3_ACCESS_KEY"),
        var("ICEGATE_TEST_S3_SECRET_KEY"),
        var("ICEGATE_TEST_REST_URI"),
        var("ICEGATE_TEST_POSTGRES_URL"),
    ) {
        (
            Some(s3_endpoint),
            Some(bucket),
            Some(access_key),
            Some(secret_key),
            Some(rest_uri),
            Some(postgres_url),
        ) => Some(Services {
            s3_endpoint,
            bucket,
            access_key,
            secret_key,
            rest_uri,
            postgres_url,
        }),
        _ if std::env::var_os("CI").is_some() => {
            panic!("test services are not running: eval \"$(ci/services.sh start)\"")
        }
        _ => {
            eprintln!("skipping: start the test services with eval \"$(ci/services.sh start)\"");
            None
        }
    }
}

/// A name no other test run uses (tests share one S3 server and one database).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}
