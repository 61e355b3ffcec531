//! Convergence: a day of 30-second flushes for 16 services (2,880 commits, one small file per
//! service each) on the embedded default, then compaction rounds. Afterwards every partition
//! holds at most ceil(bytes / target) + 1 files, the current snapshot few manifests, the
//! metadata file is small again, and every row is still there exactly once.
//!
//! `ICEGATE_CONVERGENCE_COMMITS` sets the number of commits: CI runs 240 (two hours of
//! flushes; the debug build takes minutes per thousand), `ICEGATE_CONVERGENCE_COMMITS=2880`
//! the whole day.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow::array::RecordBatch;
use futures::TryStreamExt;
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use icegate_committer::{Lake, LakeConfig, open_lake};
use icegate_compactor::live::TableState;
use icegate_compactor::{Compactor, CompactorConfig};
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use icegate_schema::{TableLayout, logs_schema};
use icegate_writer::{ParquetConfig, write_data_files};

const SERVICES: usize = 16;
const LINES_PER_SERVICE: usize = 5;

/// Flush `n` of the day starting at `day_start` (seconds): 5 lines per service in its 30 s.
fn flush(n: usize, day_start: u64) -> RecordBatch {
    let body: String = (0..SERVICES * LINES_PER_SERVICE)
        .map(|i| {
            let at = day_start + n as u64 * 30 + (i / SERVICES) as u64;
            format!(
                "{{\"time\":{at},\"service\":\"svc-{:02}\",\"level\":\"info\",\"msg\":\"flush {n} line {i} GET /api/v1/items/{} 200\"}}\n",
                i % SERVICES,
                n * 1000 + i
            )
        })
        .collect();
    NdjsonDecoder::new().decode(body.as_bytes(), &NdjsonContext::default(), 0)
}

/// Writes `batch` and fast-appends it (no duplicate check: a day of manifests would be
/// re-read every commit); returns the new table and the commit's milliseconds.
async fn append(lake: &Lake, table: &Table, batch: &RecordBatch) -> (Table, f64) {
    let files = write_data_files(table, batch, &ParquetConfig::default())
        .await
        .unwrap();
    let begun = Instant::now();
    let transaction = Transaction::new(table);
    let transaction = transaction
        .fast_append()
        .with_check_duplicate(false)
        .add_data_files(files)
        .apply(transaction)
        .unwrap();
    let table = transaction.commit(lake.catalog().as_ref()).await.unwrap();
    (table, begun.elapsed().as_secs_f64() * 1000.0)
}

async fn load(lake: &Lake) -> Table {
    lake.catalog()
        .load_table(&lake.table_ident("logs"))
        .await
        .unwrap()
}

async fn rows_and_bodies(table: &Table) -> (usize, usize) {
    let batches: Vec<RecordBatch> = table
        .scan()
        .select(["body"])
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut bodies = std::collections::HashSet::new();
    let mut rows = 0;
    for batch in &batches {
        let column = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap();
        rows += batch.num_rows();
        for value in column.iter() {
            bodies.insert(value.unwrap().to_string());
        }
    }
    (rows, bodies.len())
}

/// One round with the defaults, which must rewrite every service's partition into one file.
async fn compact_every_service(
    lake: &Lake,
    config: &LakeConfig,
    dir: &std::path::Path,
) -> TableState {
    let compactor = Compactor::open(
        config,
        dir,
        &ParquetConfig::default(),
        CompactorConfig::default(),
        false,
    )
    .await
    .unwrap();
    let reports = compactor.round(SystemTime::now()).await;
    assert!(reports[0].failures.is_empty(), "{:?}", reports[0].failures);
    assert_eq!(reports[0].partitions_rewritten, SERVICES);
    let after = TableState::load(load(lake).await).await.unwrap();
    assert_eq!(after.data_files().count(), SERVICES);
    after
}

fn metadata_bytes(table: &Table) -> u64 {
    let location = table.metadata_location().unwrap();
    std::fs::metadata(location.trim_start_matches("file://"))
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_flushes_converges_to_few_files_and_small_metadata() {
    let commits: usize = std::env::var("ICEGATE_CONVERGENCE_COMMITS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(240);
    let dir = tempfile::tempdir().unwrap();
    let config = LakeConfig::default();
    let lake = open_lake(&config, dir.path()).await.unwrap();
    let mut table = lake
        .table("logs", &logs_schema(), &TableLayout::default())
        .await
        .unwrap();
    // Yesterday, so the day is closed when the compactor looks.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let day_start = (now / 86_400 - 1) * 86_400;
    let started = Instant::now();
    let mut append_ms = Vec::new();
    for n in 0..commits {
        let (next, ms) = append(&lake, &table, &flush(n, day_start)).await;
        table = next;
        append_ms.push(ms);
    }
    let before = TableState::load(load(&lake).await).await.unwrap();
    let files_before = before.data_files().count();
    let manifests_before = before.manifests.len();
    let metadata_before = metadata_bytes(&before.table);
    let (rows, distinct) = rows_and_bodies(&before.table).await;
    assert_eq!(rows, commits * SERVICES * LINES_PER_SERVICE);
    assert_eq!(distinct, rows);
    eprintln!(
        "{commits} commits in {:.1?}: {files_before} files, {manifests_before} manifests, metadata {metadata_before} bytes; append p50 {:.1} ms, last 100 mean {:.1} ms",
        started.elapsed(),
        percentile(&append_ms, 0.5),
        append_ms[append_ms.len().saturating_sub(100)..]
            .iter()
            .sum::<f64>()
            / 100f64.min(append_ms.len() as f64)
    );

    let compactor_config = CompactorConfig {
        snapshot_max_age: Duration::ZERO,
        ..CompactorConfig::default()
    };
    let target = compactor_config.target_file_size;
    let compactor = Compactor::open(
        &config,
        dir.path(),
        &ParquetConfig::default(),
        compactor_config,
        false,
    )
    .await
    .unwrap();
    let compacting = Instant::now();
    let mut rounds = 0;
    loop {
        rounds += 1;
        let reports = compactor.round(SystemTime::now()).await;
        let logs = &reports[0];
        assert!(logs.failures.is_empty(), "{:?}", logs.failures);
        if logs.partitions_rewritten == 0 {
            break;
        }
        assert!(rounds < 10, "no convergence after {rounds} rounds");
    }
    let after = TableState::load(load(&lake).await).await.unwrap();
    let mut per_partition: HashMap<String, (usize, u64)> = HashMap::new();
    for entry in after.data_files() {
        let slot = per_partition
            .entry(format!("{:?}", entry.data_file().partition()))
            .or_default();
        slot.0 += 1;
        slot.1 += entry.data_file().file_size_in_bytes();
    }
    for (partition, (files, bytes)) in &per_partition {
        let bound = bytes.div_ceil(target) as usize + 1;
        assert!(
            *files <= bound,
            "{partition}: {files} files for {bytes} bytes"
        );
    }
    let metadata_after = metadata_bytes(&after.table);
    eprintln!(
        "compacted in {:.1?} ({rounds} rounds): {} files, {} manifests, {} snapshots, metadata {metadata_after} bytes",
        compacting.elapsed(),
        after.data_files().count(),
        after.manifests.len(),
        after.table.metadata().snapshots().len(),
    );
    assert_eq!(per_partition.len(), SERVICES);
    assert!(after.manifests.len() <= CompactorConfig::default().max_manifests);
    assert!(after.table.metadata().snapshots().len() <= CompactorConfig::default().min_snapshots);
    assert!(
        metadata_after * 5 < metadata_before.max(1),
        "metadata {metadata_before} -> {metadata_after} bytes"
    );
    let (rows_after, distinct_after) = rows_and_bodies(&after.table).await;
    assert_eq!((rows_after, distinct_after), (rows, distinct));

    // An append on the compacted, expired table: what the next day's commits start from.
    let mut table = after.table.clone();
    let mut later_ms = Vec::new();
    for n in commits..commits + 20 {
        let (next, ms) = append(&lake, &table, &flush(n, day_start)).await;
        table = next;
        later_ms.push(ms);
    }
    eprintln!(
        "append after compaction and expiry: p50 {:.1} ms (before: first 20 p50 {:.1} ms, last 100 mean {:.1} ms)",
        percentile(&later_ms, 0.5),
        percentile(&append_ms[..20.min(append_ms.len())], 0.5),
        append_ms[append_ms.len().saturating_sub(100)..]
            .iter()
            .sum::<f64>()
            / 100f64.min(append_ms.len() as f64)
    );
}

/// A table without a sort order (as Spark and PyIceberg create them): the rewrite copies
/// inputs one after another instead of merging, and loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_without_a_sort_order_is_rewritten_too() {
    let dir = tempfile::tempdir().unwrap();
    let config = LakeConfig::default();
    let lake = open_lake(&config, dir.path()).await.unwrap();
    let layout = TableLayout {
        sort_by: Vec::new(),
        ..TableLayout::default()
    };
    let mut table = lake.table("logs", &logs_schema(), &layout).await.unwrap();
    assert!(table.metadata().default_sort_order().fields.is_empty());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let day_start = (now / 86_400 - 2) * 86_400;
    for n in 0..6 {
        table = append(&lake, &table, &flush(n, day_start)).await.0;
    }
    let after = compact_every_service(&lake, &config, dir.path()).await;
    let (rows, distinct) = rows_and_bodies(&after.table).await;
    assert_eq!((rows, distinct), (6 * SERVICES * LINES_PER_SERVICE, rows));
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

/// Files written before a column was added and after it (schema evolution by promotion or
/// by another engine) are rewritten together: old rows get nulls, new rows keep their values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_from_before_and_after_a_new_column_are_rewritten_together() {
    use arrow::array::{Array, AsArray, Int64Array};
    use arrow::datatypes::Int64Type;
    use iceberg::spec::{PrimitiveType, Type};
    use iceberg::transaction::AddColumn;

    let dir = tempfile::tempdir().unwrap();
    let config = LakeConfig::default();
    let lake = open_lake(&config, dir.path()).await.unwrap();
    let mut table = lake
        .table("logs", &logs_schema(), &TableLayout::default())
        .await
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let day_start = (now / 86_400 - 2) * 86_400;
    for n in 0..3 {
        table = append(&lake, &table, &flush(n, day_start)).await.0;
    }
    let transaction = Transaction::new(&table);
    let transaction = transaction
        .update_schema()
        .add_column(AddColumn::optional(
            "extra",
            Type::Primitive(PrimitiveType::Long),
        ))
        .apply(transaction)
        .unwrap();
    table = transaction.commit(lake.catalog().as_ref()).await.unwrap();
    for n in 3..6 {
        let batch = flush(n, day_start);
        let extra = Int64Array::from_iter_values((0..batch.num_rows() as i64).map(|i| i + 1));
        let mut fields = batch.schema().fields().to_vec();
        fields.push(std::sync::Arc::new(arrow::datatypes::Field::new(
            "extra",
            arrow::datatypes::DataType::Int64,
            true,
        )));
        let mut columns = batch.columns().to_vec();
        columns.push(std::sync::Arc::new(extra));
        let batch = RecordBatch::try_new(
            std::sync::Arc::new(arrow::datatypes::Schema::new(fields)),
            columns,
        )
        .unwrap();
        table = append(&lake, &table, &batch).await.0;
    }
    let after = compact_every_service(&lake, &config, dir.path()).await;
    let batches: Vec<RecordBatch> = after
        .table
        .scan()
        .select(["extra"])
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let (mut rows, mut with_extra, mut sum) = (0, 0, 0);
    for batch in &batches {
        let extra = batch.column(0).as_primitive::<Int64Type>();
        rows += batch.num_rows();
        with_extra += extra.len() - extra.null_count();
        sum += extra.iter().flatten().sum::<i64>();
    }
    let per_flush = SERVICES * LINES_PER_SERVICE;
    assert_eq!(rows, 6 * per_flush);
    assert_eq!(with_extra, 3 * per_flush, "old rows null, new rows kept");
    assert_eq!(sum, 3 * (per_flush * (per_flush + 1) / 2) as i64);
}
