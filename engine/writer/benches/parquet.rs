//! Parquet writing: rows/s and raw-log MB/s per core at zstd levels 1, 3 and 6 into a local
//! Iceberg table, the compression ratio against the raw NDJSON text (printed per level),
//! and write + commit latency per batch on the local file system + SQLite.
//!
//! `cargo bench -p icegate-writer --bench parquet`.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use icegate_committer::{CommitRequest, IcebergCommitter, LakeConfig, TableCommitter, open_lake};
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use icegate_schema::{TableLayout, logs_schema};
use icegate_writer::{ParquetConfig, write_data_files};
use tokio::runtime::Runtime;

/// `rows` application log lines over 8 services and 4 hours of one day, as NDJSON text.
fn raw_logs(rows: usize) -> Vec<u8> {
    let paths = [
        "/api/v1/orders",
        "/api/v1/users",
        "/healthz",
        "/api/v2/cart/checkout",
        "/static/app.js",
    ];
    let mut text = Vec::new();
    for i in 0..rows {
        let status = [200, 200, 200, 201, 404, 500][i * 7 % 6];
        let level = if status >= 500 { "error" } else { "info" };
        text.extend_from_slice(
            format!(
                "{{\"time\":\"2026-11-26T{:02}:{:02}:{:02}.{:03}Z\",\"level\":\"{level}\",\"service\":\"svc-{}\",\"msg\":\"request completed method=GET path={} status={status} duration_ms={}\",\"trace_id\":\"{:032x}\",\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64)\",\"client\":\"10.0.{}.{}\"}}\n",
                10 + i / 100_000 % 4,
                i / 1000 % 60,
                i / 17 % 60,
                i % 1000,
                i % 8,
                paths[i * 13 % 5],
                i * 31 % 2000,
                (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                i % 7,
                i * 11 % 250
            )
            .as_bytes(),
        );
    }
    text
}

fn parquet(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let rows = 100_000;
    let text = raw_logs(rows);
    let unsorted = NdjsonDecoder::new().decode(&text, &NdjsonContext::default(), 0);
    // As the pipeline hands it over: sorted by the table's sort order.
    let batch =
        icegate_batcher::sort_batch("logs", &unsorted, &TableLayout::default().sort_by).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (lake, table) = runtime.block_on(async {
        let lake = open_lake(&LakeConfig::default(), dir.path()).await.unwrap();
        let table = lake
            .table("logs", &logs_schema(), &TableLayout::default())
            .await
            .unwrap();
        (lake, table)
    });

    let mut group = c.benchmark_group("parquet_write_100k_logs");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(6));
    group.throughput(Throughput::ElementsAndBytes {
        elements: rows as u64,
        bytes: text.len() as u64,
    });
    for level in [1, 3, 6] {
        let config = ParquetConfig {
            zstd_level: level,
            ..ParquetConfig::default()
        };
        let files = runtime
            .block_on(write_data_files(&table, &batch, &config))
            .unwrap();
        let stored: u64 = files.iter().map(|f| f.file_size_in_bytes()).sum();
        eprintln!(
            "zstd level {level}: {} raw NDJSON bytes -> {stored} Parquet bytes in {} files: compression ratio {:.1}x",
            text.len(),
            files.len(),
            text.len() as f64 / stored as f64
        );
        group.bench_function(BenchmarkId::new("zstd", level), |b| {
            b.to_async(&runtime)
                .iter(|| write_data_files(&table, &batch, &config))
        });
    }
    // Unsorted input takes the fallback path (one reorder by partition).
    let config = ParquetConfig::default();
    group.bench_function("unsorted_zstd_3", |b| {
        b.to_async(&runtime)
            .iter(|| write_data_files(&table, &unsorted, &config))
    });
    // The same rows into an unpartitioned table: the cost of splitting by partition.
    let unpartitioned = runtime.block_on(async {
        let layout = TableLayout {
            partition_by: Vec::new(),
            ..TableLayout::default()
        };
        lake.table("logs_unpartitioned", &logs_schema(), &layout)
            .await
            .unwrap()
    });
    let config = ParquetConfig::default();
    group.bench_function("unpartitioned_zstd_3", |b| {
        b.to_async(&runtime)
            .iter(|| write_data_files(&unpartitioned, &batch, &config))
    });
    group.finish();

    let mut group = c.benchmark_group("write_and_commit_10k_logs");
    group.sample_size(10);
    let small = batch.slice(0, 10_000);
    let committer = IcebergCommitter::new(lake);
    let mut seq = 0u64;
    group.throughput(Throughput::Elements(small.num_rows() as u64));
    group.bench_function("local_fs_sqlite", |b| {
        b.to_async(&runtime).iter(|| {
            seq += 1;
            let (committer, table, small) = (&committer, &table, &small);
            let this = seq;
            async move {
                let files = write_data_files(table, small, &ParquetConfig::default())
                    .await
                    .unwrap();
                let request = CommitRequest {
                    writer_id: "bench".into(),
                    first_seq: this,
                    last_seq: this,
                    files,
                };
                committer.commit("logs", request).await.unwrap()
            }
        })
    });
    // The same against SeaweedFS S3 (with a SQLite catalog) when the test services run
    // (`eval "$(ci/services.sh start)"`).
    if let (Ok(endpoint), Ok(bucket)) = (
        std::env::var("ICEGATE_TEST_S3_ENDPOINT"),
        std::env::var("ICEGATE_TEST_S3_BUCKET"),
    ) {
        let s3_dir = tempfile::tempdir().unwrap();
        let config = LakeConfig {
            storage: icegate_committer::StorageConfig::S3 {
                bucket,
                prefix: format!("bench-{}", std::process::id()),
                endpoint: Some(endpoint),
                region: "us-east-1".into(),
                path_style_access: true,
                access_key_id: std::env::var("ICEGATE_TEST_S3_ACCESS_KEY").ok(),
                secret_access_key: std::env::var("ICEGATE_TEST_S3_SECRET_KEY").ok(),
            },
            ..LakeConfig::default()
        };
        let (s3_committer, s3_table) = runtime.block_on(async {
            let lake = open_lake(&config, s3_dir.path()).await.unwrap();
            let table = lake
                .table("logs", &logs_schema(), &TableLayout::default())
                .await
                .unwrap();
            (IcebergCommitter::new(lake), table)
        });
        group.bench_function("seaweedfs_s3_sqlite", |b| {
            b.to_async(&runtime).iter(|| {
                seq += 1;
                let (committer, table, small) = (&s3_committer, &s3_table, &small);
                let this = seq;
                async move {
                    let files = write_data_files(table, small, &ParquetConfig::default())
                        .await
                        .unwrap();
                    let request = CommitRequest {
                        writer_id: "bench".into(),
                        first_seq: this,
                        last_seq: this,
                        files,
                    };
                    committer.commit("logs", request).await.unwrap()
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parquet);
criterion_main!(benches);
