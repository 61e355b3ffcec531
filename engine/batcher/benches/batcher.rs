//! Sealing throughput: merging mini-batches and sorting by (service_name, timestamp), in
//! records/s. (The WAL record codec's bench is in `icegate-pipeline`.)
//!
//! `cargo bench -p icegate-batcher --bench batcher`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use icegate_batcher::{Batcher, BatcherConfig, MemoryBudget, TableKey};
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use icegate_schema::TableLayout;

/// `count` mini-batches of 1000 rows over 8 services, times interleaved as many clients send.
fn mini_batches(count: usize) -> Vec<arrow::array::RecordBatch> {
    let mut decoder = NdjsonDecoder::new();
    (0..count)
        .map(|b| {
            let body: String = (0..1000)
                .map(|i| {
                    let n = b * 1000 + i;
                    format!(
                        "{{\"time\":{},\"service\":\"svc-{}\",\"level\":\"info\",\"msg\":\"request {n} done\",\"status\":200}}\n",
                        1_764_000_000 + (n * 7919 % 3600),
                        n % 8
                    )
                })
                .collect();
            decoder.decode(body.as_bytes(), &NdjsonContext::default(), 0)
        })
        .collect()
}

fn seal(c: &mut Criterion) {
    let batches = mini_batches(100);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut group = c.benchmark_group("batcher");
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function("merge_and_sort_100x1000", |b| {
        b.iter(|| {
            let orders = HashMap::from([("logs".to_string(), TableLayout::default().sort_by)]);
            let config = BatcherConfig {
                flush_size: u64::MAX,
                flush_interval_ms: 1000,
            };
            let mut batcher = Batcher::new(config, MemoryBudget::new(u64::MAX), orders);
            let now = Instant::now();
            for (seq, batch) in batches.iter().enumerate() {
                batcher
                    .push(
                        TableKey::new("default", "logs"),
                        batch.clone(),
                        seq as u64,
                        now,
                    )
                    .unwrap();
            }
            black_box(batcher.seal_all().unwrap())
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(20);
    targets = seal
}
criterion_main!(benches);
