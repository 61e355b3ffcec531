//! The WAL record codec, in records/s: `cargo bench -p icegate-pipeline --bench record`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use icegate_batcher::TableKey;
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use icegate_pipeline::record;

fn codec(c: &mut Criterion) {
    let body: String = (0..1000)
        .map(|n| {
            format!(
                "{{\"time\":{},\"service\":\"svc-{}\",\"level\":\"info\",\"msg\":\"request {n} done\",\"status\":200}}\n",
                1_764_000_000 + (n * 7919 % 3600),
                n % 8
            )
        })
        .collect();
    let batch = NdjsonDecoder::new().decode(body.as_bytes(), &NdjsonContext::default(), 0);
    let key = TableKey::new("default", "logs");
    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Elements(batch.num_rows() as u64));
    group.bench_function("wal_record_encode_1000", |b| {
        b.iter(|| record::encode(&key, black_box(&batch)).unwrap())
    });
    let encoded = record::encode(&key, &batch).unwrap();
    group.bench_function("wal_record_decode_1000", |b| {
        b.iter(|| record::decode(black_box(&encoded)).unwrap())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(20);
    targets = codec
}
criterion_main!(benches);
