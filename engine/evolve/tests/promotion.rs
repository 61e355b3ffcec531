//! Promotion end to end within the crate: NDJSON lines decoded by IceGate's own decoder,
//! observed, promoted, and every entry accounted for.

use std::collections::{BTreeMap, HashSet};

use arrow::array::{Array, AsArray, MapArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use icegate_evolve::{
    ColumnType, KeyObserver, PromotedColumn, PromotionPolicy, Promotions, RESCUED_COLUMN,
    new_columns, promote,
};
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use proptest::prelude::*;

fn decode(lines: &[String]) -> RecordBatch {
    NdjsonDecoder::new().decode(
        lines.join("\n").as_bytes(),
        &NdjsonContext::default(),
        1_764_000_000_000_000_000,
    )
}

fn policy() -> PromotionPolicy {
    PromotionPolicy {
        promote: true,
        min_window_rows: 100,
        ..PromotionPolicy::default()
    }
}

/// The table's promotions once `columns` are in it (ids after the base schema's).
fn table_with(columns: Vec<PromotedColumn>) -> Promotions {
    let mut names: HashSet<String> = icegate_schema::logs_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let columns: Vec<PromotedColumn> = columns
        .into_iter()
        .zip(100..)
        .map(|(column, id)| PromotedColumn {
            field_id: Some(id),
            ..column
        })
        .collect();
    names.extend(columns.iter().map(|c| c.name.clone()));
    names.insert(RESCUED_COLUMN.into());
    Promotions {
        columns,
        rescued_field_id: Some(99),
        names,
    }
}

/// Every (key, value text) of one row's `attributes` map.
fn map_entries(batch: &RecordBatch, row: usize) -> BTreeMap<String, Option<String>> {
    let map: &MapArray = batch.column_by_name("attributes").unwrap().as_map();
    let entries = map.value(row);
    let keys = entries.column(0).as_string::<i32>();
    let values = entries.column(1).as_string::<i32>();
    (0..entries.len())
        .map(|i| {
            (
                keys.value(i).to_string(),
                values.is_valid(i).then(|| values.value(i).to_string()),
            )
        })
        .collect()
}

#[test]
fn common_keys_become_typed_columns_and_misfits_are_rescued() {
    let lines: Vec<String> = (0..200)
        .map(|i| {
            let status = if i == 7 { "\"oops\"".to_string() } else { (200 + i % 3).to_string() };
            let rare = if i % 10 == 0 { format!(",\"rare\":{i}") } else { String::new() };
            format!(
                r#"{{"msg":"req {i}","status":{status},"latency":{}.5,"ok":{},"user":"u{i}","req_{i}":1{rare}}}"#,
                i,
                i % 2 == 0
            )
        })
        .collect();
    let batch = decode(&lines);
    let mut observer = KeyObserver::new(policy());
    observer.observe(&batch);
    let empty = table_with(Vec::new());
    let candidates = observer.candidates(&empty);
    let keys: Vec<(&str, ColumnType)> = candidates
        .iter()
        .map(|c| (c.key.as_str(), c.kind.column_type()))
        .collect();
    // `status` saw one string among its numbers: a string column would hold them all.
    assert_eq!(
        keys,
        [
            ("latency", ColumnType::Double),
            ("ok", ColumnType::Boolean),
            ("status", ColumnType::String),
            ("user", ColumnType::String),
        ]
    );
    assert!(candidates.iter().all(|c| c.share == 1.0));

    // A table where `status` was promoted as long earlier: "oops" is rescued.
    let status = PromotedColumn {
        name: "attr_status".into(),
        source: "attributes".into(),
        key: "status".into(),
        column_type: ColumnType::Long,
        field_id: None,
    };
    let mut columns = new_columns(&candidates[..2], &empty);
    columns.push(status);
    let table = table_with(columns);
    let promoted = promote("logs", &batch, &table).unwrap();
    assert_eq!(promoted.rescued_values, 1);
    let out = &promoted.batch;
    assert_eq!(out.num_rows(), 200);
    let latency = out
        .column_by_name("attr_latency")
        .unwrap()
        .as_primitive::<Float64Type>();
    let status = out
        .column_by_name("attr_status")
        .unwrap()
        .as_primitive::<Int64Type>();
    let rescued = out
        .column_by_name(RESCUED_COLUMN)
        .unwrap()
        .as_string::<i32>();
    for row in 0..200 {
        assert_eq!(latency.value(row), row as f64 + 0.5);
        let entries = map_entries(out, row);
        assert!(!entries.contains_key("latency") && !entries.contains_key("ok"));
        assert!(
            !entries.contains_key("status"),
            "a rescued value leaves the map too"
        );
        assert!(entries.contains_key("user") && entries.contains_key(&format!("req_{row}")));
        if row == 7 {
            assert!(status.is_null(row));
            assert_eq!(rescued.value(row), r#"{"attr_status":"oops"}"#);
        } else {
            assert_eq!(status.value(row), 200 + row as i64 % 3);
            assert!(rescued.is_null(row));
        }
    }
    let ids: Vec<Option<String>> = out
        .schema()
        .fields()
        .iter()
        .skip(batch.num_columns())
        .map(|f| f.metadata().get("PARQUET:field_id").cloned())
        .collect();
    assert_eq!(
        ids.iter().map(|id| id.as_deref()).collect::<Vec<_>>(),
        [Some("100"), Some("101"), Some("102"), Some("99")]
    );
}

#[test]
fn high_churn_keys_never_promote_and_counting_is_bounded() {
    let mut observer = KeyObserver::new(PromotionPolicy {
        max_tracked_keys: 64,
        ..policy()
    });
    for batch in 0..20 {
        let lines: Vec<String> = (0..500)
            .map(|i| format!(r#"{{"msg":"x","id_{batch}_{i}":1,"svc":"a"}}"#))
            .collect();
        observer.observe(&decode(&lines));
    }
    let candidates = observer.candidates(&table_with(Vec::new()));
    assert_eq!(
        candidates
            .iter()
            .map(|c| c.key.as_str())
            .collect::<Vec<_>>(),
        ["svc"]
    );
    assert!(observer.untracked_keys > 0);
}

/// A quiet table (a few rows per flush) reaches `min-window-rows` too: small batches share a
/// window entry, and the window still forgets what it saw long ago.
#[test]
fn small_batches_are_counted_together_and_old_ones_are_forgotten() {
    let mut observer = KeyObserver::new(PromotionPolicy {
        min_window_rows: 1000,
        window_batches: 8,
        ..policy()
    });
    let empty = table_with(Vec::new());
    // 5 rows a flush: 8 such batches are 40 rows; it takes 200 flushes to see 1000.
    for flush in 0..199 {
        let lines: Vec<String> = (0..5)
            .map(|i| format!(r#"{{"msg":"m{flush}-{i}","old":{i}}}"#))
            .collect();
        observer.observe(&decode(&lines));
        assert!(
            observer.candidates(&empty).is_empty(),
            "after flush {flush}"
        );
    }
    let lines: Vec<String> = (0..5)
        .map(|i| format!(r#"{{"msg":"last-{i}","old":1}}"#))
        .collect();
    observer.observe(&decode(&lines));
    let keys = |observer: &KeyObserver| {
        observer
            .candidates(&empty)
            .iter()
            .map(|c| c.key.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&observer), ["old"]);
    // The key stops; another takes over. Once the window is all new rows, only it is there.
    for flush in 0..250 {
        let lines: Vec<String> = (0..5)
            .map(|i| format!(r#"{{"msg":"n{flush}-{i}","new":"v{i}"}}"#))
            .collect();
        observer.observe(&decode(&lines));
    }
    assert_eq!(keys(&observer), ["new"]);
}

#[test]
fn the_cap_allow_and_deny_lists_decide_what_is_promoted() {
    let lines: Vec<String> = (0..300)
        .map(|i| {
            format!(
                r#"{{"msg":"x","a":1,"b":2,"c":3,"d":4,"pinned":{}}}"#,
                if i == 0 { "1" } else { "null" }
            )
        })
        .collect();
    let batch = decode(&lines);
    let mut observer = KeyObserver::new(PromotionPolicy {
        max_columns: 3,
        allow: vec!["pin*".into()],
        deny: vec!["b".into()],
        ..policy()
    });
    observer.observe(&batch);
    let existing = table_with(vec![PromotedColumn {
        name: "attr_a".into(),
        source: "attributes".into(),
        key: "a".into(),
        column_type: ColumnType::Long,
        field_id: None,
    }]);
    let keys: Vec<String> = observer
        .candidates(&existing)
        .into_iter()
        .map(|c| c.key)
        .collect();
    // Room for two more: c and d by share (1.0); `pinned` is allowed but rarer.
    assert_eq!(keys, ["c", "d"]);
    let keys: Vec<String> = KeyObserver::new(PromotionPolicy {
        max_columns: 10,
        ..observer.policy().clone()
    })
    .candidates(&existing)
    .into_iter()
    .map(|c| c.key)
    .collect();
    assert!(
        keys.is_empty(),
        "an observer that saw nothing promotes nothing"
    );
}

#[test]
fn timestamp_keys_become_timestamptz() {
    let lines: Vec<String> = (0..100)
        .map(|i| {
            format!(
                r#"{{"msg":"x","started":"2026-12-03T10:00:{:02}.5Z"}}"#,
                i % 60
            )
        })
        .collect();
    let batch = decode(&lines);
    let mut observer = KeyObserver::new(PromotionPolicy {
        timestamp_keys: vec!["started".into()],
        ..policy()
    });
    observer.observe(&batch);
    let empty = table_with(Vec::new());
    let columns = new_columns(&observer.candidates(&empty), &empty);
    assert_eq!(columns[0].column_type, ColumnType::Timestamp);
    let promoted = promote("logs", &batch, &table_with(columns)).unwrap();
    let started = promoted
        .batch
        .column_by_name("attr_started")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    assert_eq!(started.value(1), 1_796_292_001_500_000);
}

proptest! {
    /// Every entry of the input ends in the map, its column or `_rescued`, whatever the
    /// values and whatever types the columns were given.
    #[test]
    fn nothing_is_lost(
        rows in proptest::collection::vec(
            proptest::collection::btree_map(0..6usize, prop_oneof![
                Just("1".to_string()), Just("2.5".to_string()), Just("true".to_string()),
                Just("\"text\"".to_string()), Just("null".to_string()), Just("[1,2]".to_string()),
            ], 0..6),
            1..40),
        types in proptest::collection::vec(prop_oneof![
            Just(ColumnType::Long), Just(ColumnType::Double), Just(ColumnType::Boolean),
            Just(ColumnType::String), Just(ColumnType::Timestamp),
        ], 3),
    ) {
        let lines: Vec<String> = rows
            .iter()
            .map(|entries| {
                let fields: Vec<String> =
                    entries.iter().map(|(k, v)| format!(r#""k{k}":{v}"#)).collect();
                format!(r#"{{"msg":"m",{}}}"#, fields.join(","))
                    .replace(",}", "}")
            })
            .collect();
        let batch = decode(&lines);
        let columns: Vec<PromotedColumn> = types
            .iter()
            .enumerate()
            .map(|(k, t)| PromotedColumn {
                name: format!("attr_k{k}"),
                source: "attributes".into(),
                key: format!("k{k}"),
                column_type: *t,
                field_id: None,
            })
            .collect();
        let table = table_with(columns);
        let out = promote("logs", &batch, &table).unwrap().batch;
        prop_assert_eq!(out.num_rows(), batch.num_rows());
        let rescued = out.column_by_name(RESCUED_COLUMN).unwrap().as_string::<i32>();
        for row in 0..batch.num_rows() {
            let before = map_entries(&batch, row);
            let mut after = map_entries(&out, row);
            let rescued: serde_json::Map<String, serde_json::Value> = if rescued.is_null(row) {
                serde_json::Map::new()
            } else {
                serde_json::from_str(rescued.value(row)).unwrap()
            };
            for (k, column) in table.columns.iter().enumerate() {
                let array = out.column_by_name(&column.name).unwrap();
                if let Some(value) = before.get(&column.key) {
                    prop_assert!(!after.contains_key(&column.key));
                    let text = match rescued.get(&column.name) {
                        Some(text) => {
                            prop_assert!(array.is_null(row));
                            Some(text.as_str().unwrap().to_string())
                        }
                        None => value_text(array.as_ref(), row, column.column_type),
                    };
                    let expected = value.clone();
                    match column.column_type {
                        ColumnType::Double => prop_assert_eq!(
                            text.as_deref().and_then(|t| t.parse::<f64>().ok()),
                            expected.as_deref().and_then(|t| t.parse::<f64>().ok()),
                        ),
                        _ => prop_assert_eq!(text, expected, "k{}", k),
                    }
                    after.insert(column.key.clone(), value.clone());
                }
            }
            prop_assert_eq!(after, before);
        }
    }
}

fn value_text(array: &dyn Array, row: usize, column_type: ColumnType) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    Some(match column_type {
        ColumnType::Long => array.as_primitive::<Int64Type>().value(row).to_string(),
        ColumnType::Double => array.as_primitive::<Float64Type>().value(row).to_string(),
        ColumnType::Boolean => array.as_boolean().value(row).to_string(),
        ColumnType::String => array.as_string::<i32>().value(row).to_string(),
        ColumnType::Timestamp => unreachable!("no timestamp text in these rows"),
    })
}
