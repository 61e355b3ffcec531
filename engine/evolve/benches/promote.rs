//! What promotion costs per record, against decoding the same records: a sealed batch of
//! 10,000 mixed log records (the datasets crate's `mixed` shape over OTLP, decoded by
//! IceGate's decoder) counted by the observer and rewritten onto its promoted columns.
//!
//! `cargo bench -p icegate-evolve --bench promote`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use icegate_datasets::{DatasetConfig, LogGenerator, LogShape, otlp};
use icegate_evolve::{KeyObserver, PromotionPolicy, Promotions, new_columns, promote};
use prost::Message;

fn promotion(c: &mut Criterion) {
    let mut generator = LogGenerator::new(LogShape::Mixed, &DatasetConfig::default());
    let records = generator.take(10_000);
    let request = otlp::logs_request(&records, generator.services(), &[]).encode_to_vec();
    let mut decoder = icegate_parser::OtlpLogsDecoder::new();
    let batch = decoder.decode(&request, 0).unwrap();
    let policy = PromotionPolicy {
        promote: true,
        ..PromotionPolicy::default()
    };
    // The table as promotion leaves it: every common key a column, with ids.
    let mut observer = KeyObserver::new(policy.clone());
    observer.observe(&batch);
    let mut table = Promotions {
        names: icegate_schema::logs_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
        ..Promotions::default()
    };
    table.columns = new_columns(&observer.candidates(&table), &table)
        .into_iter()
        .zip(100..)
        .map(|(column, id)| icegate_evolve::PromotedColumn {
            field_id: Some(id),
            ..column
        })
        .collect();
    table.rescued_field_id = Some(99);
    eprintln!(
        "promoted: {:?}",
        table.columns.iter().map(|c| &c.key).collect::<Vec<_>>()
    );

    let mut group = c.benchmark_group("promotion");
    group.throughput(Throughput::Elements(batch.num_rows() as u64));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("decode_otlp_10k", |b| {
        b.iter(|| black_box(decoder.decode(&request, 0).unwrap()))
    });
    group.bench_function("observe_10k", |b| {
        b.iter(|| {
            let mut observer = KeyObserver::new(policy.clone());
            observer.observe(black_box(&batch));
            black_box(observer.candidates(&table))
        })
    });
    group.bench_function("promote_10k", |b| {
        b.iter(|| black_box(promote("logs", &batch, &table).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, promotion);
criterion_main!(benches);
