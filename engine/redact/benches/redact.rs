//! Redaction throughput in records/s and MB/s of body text: batches where no value matches
//! (the prefilter's fast path) and batches where every record carries PII.
//!
//! `cargo bench -p icegate-redact --bench redact`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use icegate_redact::{RedactConfig, Redactor};

fn batch(with_pii: bool) -> (arrow::array::RecordBatch, usize) {
    let body: String = (0..1000)
        .map(|i| {
            let message = if with_pii {
                format!("user ann.{i}@example.com paid with 4111 1111 1111 1111 using token Bearer abcdefghijklmnop{i}")
            } else {
                format!("request {i} completed method=GET path=/api/v1/orders/{i} status=200 duration_ms={}", i % 500)
            };
            format!("{{\"msg\":\"{message}\",\"user\":\"u{i}\",\"region\":\"eu-west-1\"}}\n")
        })
        .collect();
    let batch = NdjsonDecoder::new().decode(body.as_bytes(), &NdjsonContext::default(), 0);
    let text_bytes = batch.column_by_name("body").unwrap().to_data().buffers()[1].len();
    (batch, text_bytes)
}

fn redact(c: &mut Criterion) {
    let redactor = Redactor::new(&RedactConfig::default()).unwrap();
    let mut group = c.benchmark_group("redact_batch");
    for (name, with_pii) in [("no_matches", false), ("every_record_matches", true)] {
        let (batch, bytes) = batch(with_pii);
        group.throughput(Throughput::ElementsAndBytes {
            elements: batch.num_rows() as u64,
            bytes: bytes as u64,
        });
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| redactor.redact_batch(black_box(&batch)).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(20);
    targets = redact
}
criterion_main!(benches);
