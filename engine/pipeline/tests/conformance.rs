//! One conformance suite for every `LakeSink`: the in-memory lake and the Iceberg lake (SQLite
//! catalog, local storage) must agree on the exactly-once rule, and the Iceberg watermark
//! must survive what snapshot summaries do not (expiry).

use std::sync::Arc;

use arrow::array::RecordBatch;
use icegate_batcher::TableKey;
use icegate_committer::LakeConfig;
use icegate_evolve::{ColumnType, PromotedColumn};
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use icegate_pipeline::{
    Commit, CommitOutcome, ErrorClass, IcebergLake, LakeSink, MemoryLake, Signal, Watermark,
};
use icegate_writer::ParquetConfig;

fn batch(n: usize) -> RecordBatch {
    let body: String = (0..n)
        .map(|i| {
            format!(
                "{{\"service\":\"svc\",\"time\":{},\"msg\":\"m{i}\"}}\n",
                1_764_000_000 + i
            )
        })
        .collect();
    NdjsonDecoder::new().decode(body.as_bytes(), &NdjsonContext::default(), 0)
}

fn mark(run: &str, seq: u64) -> Watermark {
    Watermark {
        incarnation: "inc-1".into(),
        run: run.into(),
        seq,
    }
}

fn commit(first: u64, next: Watermark, expected: Option<Watermark>) -> Commit {
    Commit {
        writer_id: "w1".into(),
        first_seq: first,
        next,
        expected,
    }
}

/// The rules every implementation keeps.
async fn conformance<L: LakeSink>(lake: &L) {
    let key = TableKey::new("conformance", "logs");
    lake.ensure_table(&key, Signal::Logs).await.unwrap();
    lake.ensure_table(&key, Signal::Logs).await.unwrap();
    assert_eq!(lake.watermark(&key, "w1").await.unwrap(), None);

    // A commit lands once, and sets the watermark.
    let files = lake.write_files(&key, &batch(10)).await.unwrap();
    let first = commit(0, mark("run-1", 9), None);
    assert_eq!(
        lake.commit(&key, &first, &files).await.unwrap(),
        CommitOutcome::Committed { attempts: 1 }
    );
    assert_eq!(
        lake.watermark(&key, "w1").await.unwrap(),
        Some(mark("run-1", 9))
    );
    // Retrying it (its answer was lost) adds nothing.
    assert_eq!(
        lake.commit(&key, &first, &files).await.unwrap(),
        CommitOutcome::AlreadyCommitted {
            current: mark("run-1", 9)
        }
    );

    // The next range, based on what the lane saw.
    let files = lake.write_files(&key, &batch(5)).await.unwrap();
    let second = commit(10, mark("run-1", 14), Some(mark("run-1", 9)));
    lake.commit(&key, &second, &files).await.unwrap();

    // A writer whose idea of the watermark is stale is someone else using this writer id.
    let files = lake.write_files(&key, &batch(1)).await.unwrap();
    let stale = commit(15, mark("run-2", 15), Some(mark("run-1", 9)));
    let err = lake.commit(&key, &stale, &files).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::WriterConflict, "{err}");
    lake.discard(&key, files).await.unwrap();

    // A later run at lower sequence numbers (a regressed WAL) commits when it expects the
    // current watermark.
    let files = lake.write_files(&key, &batch(2)).await.unwrap();
    let regressed = commit(3, mark("run-3", 4), Some(mark("run-1", 14)));
    assert!(matches!(
        lake.commit(&key, &regressed, &files).await.unwrap(),
        CommitOutcome::Committed { .. }
    ));
    assert_eq!(
        lake.watermark(&key, "w1").await.unwrap(),
        Some(mark("run-3", 4))
    );
    // Other writers are independent.
    assert_eq!(lake.watermark(&key, "w2").await.unwrap(), None);
}

fn column(key: &str, column_type: ColumnType) -> PromotedColumn {
    PromotedColumn {
        name: icegate_evolve::column_name("attributes", key, &Default::default()),
        source: "attributes".into(),
        key: key.into(),
        column_type,
        field_id: None,
    }
}

/// Schema promotion: each key gets one column however often (and by however many
/// writers) it is promoted, names never collide, the cap holds, and a promoted batch is
/// written and committed.
async fn promotion_conformance<L: LakeSink>(lake: &L) {
    let key = TableKey::new("conformance", "promoted");
    lake.ensure_table(&key, Signal::Logs).await.unwrap();
    let none = lake.promotions(&key).await.unwrap();
    assert!(none.columns.is_empty() && none.rescued_field_id.is_none());
    assert!(none.names.contains("body"));

    let first = [
        column("status", ColumnType::Long),
        column("user", ColumnType::String),
    ];
    let promotions = lake.add_columns(&key, &first, 4).await.unwrap();
    let names: Vec<&str> = promotions.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["attr_status", "attr_user"]);
    assert!(promotions.rescued_field_id.is_some());
    let mut ids: Vec<i32> = promotions
        .columns
        .iter()
        .filter_map(|c| c.field_id)
        .collect();
    ids.extend(promotions.rescued_field_id);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "distinct field ids: {ids:?}");

    // A second writer promoting the same keys (and one more, whose name collides).
    let again = [
        column("status", ColumnType::Long),
        column("Status", ColumnType::Double),
        column("latency", ColumnType::Double),
    ];
    let promotions = lake.add_columns(&key, &again, 4).await.unwrap();
    let columns: Vec<(&str, &str, ColumnType)> = promotions
        .columns
        .iter()
        .map(|c| (c.key.as_str(), c.name.as_str(), c.column_type))
        .collect();
    assert_eq!(
        columns,
        [
            ("status", "attr_status", ColumnType::Long),
            ("user", "attr_user", ColumnType::String),
            ("Status", "attr_status_2", ColumnType::Double),
            ("latency", "attr_latency", ColumnType::Double),
        ]
    );
    // At the cap nothing more is added.
    let capped = lake
        .add_columns(&key, &[column("more", ColumnType::Long)], 4)
        .await
        .unwrap();
    assert_eq!(capped, lake.promotions(&key).await.unwrap());
    assert_eq!(capped.columns.len(), 4);

    // A batch written onto the promoted schema commits.
    let lines: String = (0..20)
        .map(|i| {
            format!(
                "{{\"msg\":\"m{i}\",\"status\":{},\"user\":\"u{i}\"}}\n",
                if i == 3 {
                    "\"x\"".to_string()
                } else {
                    i.to_string()
                }
            )
        })
        .collect();
    let batch = NdjsonDecoder::new().decode(lines.as_bytes(), &NdjsonContext::default(), 0);
    let promoted = icegate_evolve::promote("promoted", &batch, &capped).unwrap();
    assert_eq!(promoted.rescued_values, 1);
    let files = lake.write_files(&key, &promoted.batch).await.unwrap();
    lake.commit(&key, &commit(0, mark("run-1", 0), None), &files)
        .await
        .unwrap();
}

#[tokio::test]
async fn memory_lake_conforms() {
    let lake = MemoryLake::new();
    promotion_conformance(&lake).await;
    conformance(&lake).await;
    assert_eq!(lake.rows(&TableKey::new("conformance", "logs")), 17);
    assert_eq!(lake.orphaned_files(), 0);
}

#[tokio::test]
async fn iceberg_lake_conforms_and_its_watermark_survives_snapshot_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(IcebergLake::new(
        LakeConfig::default(),
        dir.path().to_path_buf(),
        ParquetConfig::default(),
    ));
    conformance(lake.as_ref()).await;
    let key = TableKey::new("conformance", "logs");
    let catalog = lake.lake().await.unwrap().catalog().clone();
    let ident = icegate_pipeline::ident(&key);
    let table = catalog.load_table(&ident).await.unwrap();
    let rows: usize = {
        use futures::TryStreamExt;
        let stream = table.scan().build().unwrap().to_arrow().await.unwrap();
        let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
        batches.iter().map(RecordBatch::num_rows).sum()
    };
    assert_eq!(
        rows, 17,
        "10 + 5 + 2 rows; the stale writer's file is not in the table"
    );
    let data_files = count_files(&dir.path().join("warehouse"));
    assert_eq!(data_files, 3, "the discarded file was deleted");
    promotion_conformance(lake.as_ref()).await;
    promoted_columns_read_back(lake.as_ref()).await;

    // Expire every snapshot but the current one, as another engine's maintenance would.
    use iceberg::transaction::{ApplyTransactionAction, Transaction};
    let current = table.metadata().current_snapshot_id().unwrap();
    let old: Vec<i64> = table
        .metadata()
        .snapshots()
        .map(|s| s.snapshot_id())
        .filter(|id| *id != current)
        .collect();
    assert!(!old.is_empty());
    let transaction = Transaction::new(&table);
    let transaction = transaction
        .expire_snapshots()
        .expire_snapshot_ids(old)
        .apply(transaction)
        .unwrap();
    let expired = transaction.commit(catalog.as_ref()).await.unwrap();
    assert_eq!(expired.metadata().snapshots().count(), 1);
    assert_eq!(
        lake.watermark(&key, "w1").await.unwrap(),
        Some(mark("run-3", 4))
    );
}

fn count_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            count += count_files(&path);
        } else if path.extension().is_some_and(|e| e == "parquet") {
            count += 1;
        }
    }
    count
}

/// The promoted table as Iceberg has it: typed columns with their origin in the field doc,
/// values where they belong, the misfit in `_rescued`.
async fn promoted_columns_read_back(lake: &IcebergLake) {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    use futures::TryStreamExt;
    let key = TableKey::new("conformance", "promoted");
    let catalog = lake.lake().await.unwrap().catalog().clone();
    let table = catalog
        .load_table(&icegate_pipeline::ident(&key))
        .await
        .unwrap();
    let schema = table.metadata().current_schema();
    let status = schema.field_by_name("attr_status").unwrap();
    assert_eq!(
        status.doc.as_deref(),
        Some(r#"{"icegate-promoted":1,"source":"attributes","key":"status"}"#)
    );
    let stream = table.scan().build().unwrap().to_arrow().await.unwrap();
    let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    assert_eq!(batch.num_rows(), 20);
    let status = batch
        .column_by_name("attr_status")
        .unwrap()
        .as_primitive::<Int64Type>();
    let rescued = batch.column_by_name("_rescued").unwrap().as_string::<i32>();
    let bodies = batch.column_by_name("body").unwrap().as_string::<i32>();
    for row in 0..20 {
        let i: i64 = bodies.value(row)[1..].parse().unwrap();
        if i == 3 {
            assert!(status.is_null(row));
            assert_eq!(rescued.value(row), r#"{"attr_status":"x"}"#);
        } else {
            assert_eq!(status.value(row), i);
            assert!(rescued.is_null(row));
        }
    }
}
