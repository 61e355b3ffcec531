//! Sealing by size and age, sorting, WAL ranges, memory accounting.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::TimestampMicrosecondType;
use icegate_batcher::{Batcher, BatcherConfig, MemoryBudget, TableKey};
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use icegate_schema::TableLayout;

fn logs(lines: &[(&str, i64)]) -> RecordBatch {
    let body: String = lines
        .iter()
        .map(|(service, seconds)| format!("{{\"service\":\"{service}\",\"time\":{seconds},\"msg\":\"{service} at {seconds}\"}}\n"))
        .collect();
    NdjsonDecoder::new().decode(body.as_bytes(), &NdjsonContext::default(), 0)
}

fn batcher(flush_size: u64, budget: &MemoryBudget) -> Batcher {
    let config = BatcherConfig {
        flush_size,
        flush_interval_ms: 1000,
    };
    let orders = HashMap::from([("logs".to_string(), TableLayout::default().sort_by)]);
    Batcher::new(config, budget.clone(), orders)
}

fn rows(batch: &RecordBatch) -> Vec<(String, i64)> {
    let services = batch
        .column_by_name("service_name")
        .unwrap()
        .as_string::<i32>();
    let times = batch
        .column_by_name("timestamp")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    (0..batch.num_rows())
        .map(|i| (services.value(i).to_string(), times.value(i) / 1_000_000))
        .collect()
}

#[test]
fn a_full_table_seals_sorted_with_its_wal_range() {
    let budget = MemoryBudget::new(1 << 30);
    let key = TableKey::new("default", "logs");
    let first = logs(&[("web", 1_700_000_003), ("api", 1_700_000_002)]);
    let size = first.get_array_memory_size() as u64;
    let mut batcher = batcher(size * 2 + 1, &budget);
    let now = Instant::now();
    assert!(batcher.push(key.clone(), first, 7, now).unwrap().is_none());
    assert!(
        batcher
            .push(key.clone(), logs(&[("api", 1_700_000_001)]), 9, now)
            .unwrap()
            .is_none()
    );
    assert_eq!(batcher.oldest_pending_seq(), Some(7));
    assert!(budget.used() > 0);
    let sealed = batcher
        .push(
            key.clone(),
            logs(&[("web", 1_700_000_000), ("api", 1_700_000_002)]),
            12,
            now,
        )
        .unwrap()
        .expect("over flush-size");
    assert_eq!(
        (sealed.first_seq, sealed.last_seq, sealed.mini_batches),
        (7, 12, 3)
    );
    assert_eq!(
        rows(&sealed.batch),
        vec![
            ("api".into(), 1_700_000_001),
            ("api".into(), 1_700_000_002),
            ("api".into(), 1_700_000_002),
            ("web".into(), 1_700_000_000),
            ("web".into(), 1_700_000_003),
        ]
    );
    // Equal keys keep arrival order (the first api@…002 arrived in seq 7).
    let bodies = sealed
        .batch
        .column_by_name("body")
        .unwrap()
        .as_string::<i32>();
    assert_eq!(bodies.value(1), "api at 1700000002");
    assert_eq!(batcher.oldest_pending_seq(), None);
    assert_eq!(budget.used(), sealed.reservation.bytes());
    drop(sealed);
    assert_eq!(
        budget.used(),
        0,
        "memory comes back when the sealed batch is dropped"
    );
}

#[test]
fn tables_seal_by_age_independently() {
    let budget = MemoryBudget::new(1 << 30);
    let mut batcher = batcher(u64::MAX, &budget);
    let start = Instant::now();
    batcher
        .push(
            TableKey::new("default", "logs"),
            logs(&[("a", 1)]),
            1,
            start,
        )
        .unwrap();
    batcher
        .push(
            TableKey::new("tenant2", "logs"),
            logs(&[("b", 2)]),
            2,
            start + Duration::from_millis(600),
        )
        .unwrap();
    assert_eq!(
        batcher.next_deadline(),
        Some(start + Duration::from_millis(1000))
    );
    assert!(
        batcher
            .seal_due(start + Duration::from_millis(999))
            .unwrap()
            .is_empty()
    );
    let sealed = batcher
        .seal_due(start + Duration::from_millis(1000))
        .unwrap();
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].key, TableKey::new("default", "logs"));
    let rest = batcher.seal_all().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].key.namespace, "tenant2");
    assert!(batcher.next_deadline().is_none());
}

#[test]
fn empty_mini_batches_are_ignored() {
    let budget = MemoryBudget::new(1 << 30);
    let mut batcher = batcher(1, &budget);
    let empty = logs(&[]);
    assert!(
        batcher
            .push(TableKey::new("default", "logs"), empty, 3, Instant::now())
            .unwrap()
            .is_none()
    );
    assert_eq!(batcher.oldest_pending_seq(), None);
}
