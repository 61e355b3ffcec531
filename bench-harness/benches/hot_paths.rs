//! Instruction counts of the ingest hot paths under Callgrind (gungraun): deterministic
//! figures CI can gate on where wall-clock time is noise. Inputs come from
//! `icegate-datasets` (seeded), are built in each bench's setup (not counted), and hold
//! 1000 mixed-shape log records.
//!
//! `cargo bench -p icegate-bench-harness --bench hot_paths` (needs valgrind and
//! `gungraun-runner` 0.20: `bench-harness/setup.sh` installs both);
//! `bench-harness gate` compares the counts with `bench-harness/instructions.json`.

use std::hint::black_box;

use arrow::array::RecordBatch;
use gungraun::{library_benchmark, library_benchmark_group, main};
use icegate_batcher::{TableKey, sort_batch};
use icegate_datasets::{DatasetConfig, LogGenerator, LogShape, otlp};
use icegate_parser::{Limit, NdjsonContext, NdjsonDecoder, OtlpJsonLogsDecoder, OtlpLogsDecoder};
use icegate_pipeline::record;
use icegate_redact::{RedactConfig, Redactor};
use icegate_schema::TableLayout;
use prost::Message;

const RECORDS: usize = 1000;

fn records() -> (Vec<icegate_datasets::LogRecord>, Vec<String>) {
    let mut generator = LogGenerator::new(LogShape::Mixed, &DatasetConfig::default());
    (generator.take(RECORDS), generator.services().to_vec())
}

fn protobuf_request() -> (OtlpLogsDecoder, Vec<u8>) {
    let (records, services) = records();
    let body = otlp::logs_request(&records, &services, &[]).encode_to_vec();
    (OtlpLogsDecoder::new(), body)
}

fn json_request() -> (OtlpJsonLogsDecoder, Vec<u8>) {
    let (records, services) = records();
    let body = serde_json::to_vec(&otlp::logs_request(&records, &services, &[])).unwrap();
    (OtlpJsonLogsDecoder::new(), body)
}

fn ndjson_body() -> (NdjsonDecoder, Vec<u8>) {
    let (records, services) = records();
    (
        NdjsonDecoder::new(),
        otlp::ndjson_lines(&records, &services),
    )
}

fn logs_batch() -> RecordBatch {
    let (mut decoder, body) = protobuf_request();
    decoder.decode(&body, 0).unwrap()
}

fn redactor_and_batch() -> (Redactor, RecordBatch) {
    (
        Redactor::new(&RedactConfig::default()).unwrap(),
        logs_batch(),
    )
}

/// What the server decodes within (a fixed limit stands in for the pipeline's budget).
fn budget() -> Limit {
    Limit(64 << 20)
}

#[library_benchmark]
#[bench::mixed_1000(setup = protobuf_request)]
fn decode_otlp_protobuf((mut decoder, body): (OtlpLogsDecoder, Vec<u8>)) -> usize {
    let decoded = decoder.decode_within(black_box(&body), 0, &mut budget());
    black_box(decoded.unwrap().batch.num_rows())
}

#[library_benchmark]
#[bench::mixed_1000(setup = json_request)]
fn decode_otlp_json((mut decoder, body): (OtlpJsonLogsDecoder, Vec<u8>)) -> usize {
    let decoded = decoder.decode_within(black_box(&body), 0, &mut budget());
    black_box(decoded.unwrap().batch.num_rows())
}

#[library_benchmark]
#[bench::mixed_1000(setup = ndjson_body)]
fn decode_ndjson((mut decoder, body): (NdjsonDecoder, Vec<u8>)) -> usize {
    let context = NdjsonContext::default();
    let batch = decoder.decode_within(black_box(&body), &context, 0, &mut budget());
    black_box(batch.unwrap().num_rows())
}

#[library_benchmark]
#[bench::mixed_1000(setup = redactor_and_batch)]
fn redact((redactor, batch): (Redactor, RecordBatch)) -> usize {
    black_box(redactor.redact_batch(black_box(&batch)).unwrap().num_rows())
}

#[library_benchmark]
#[bench::mixed_1000(setup = logs_batch)]
fn wal_record_encode(batch: RecordBatch) -> usize {
    let key = TableKey::new("default", "logs");
    black_box(record::encode(&key, black_box(&batch)).unwrap().len())
}

#[library_benchmark]
#[bench::mixed_1000(setup = logs_batch)]
fn sort_for_layout(batch: RecordBatch) -> usize {
    let layout = TableLayout::default();
    black_box(
        sort_batch("logs", black_box(&batch), &layout.sort_by)
            .unwrap()
            .num_rows(),
    )
}

library_benchmark_group!(
    name = ingest;
    benchmarks = decode_otlp_protobuf, decode_otlp_json, decode_ndjson, redact, wal_record_encode, sort_for_layout
);

main!(library_benchmark_groups = ingest);
