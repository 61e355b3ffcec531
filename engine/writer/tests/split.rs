//! Splitting by partition: sorted input becomes zero-copy slices, unsorted input is reordered
//! once, and either way every row lands in exactly its partition.

use std::collections::BTreeMap;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::TimestampMicrosecondType;
use icegate_committer::{LakeConfig, open_lake};
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use icegate_schema::{TableLayout, logs_schema};
use icegate_writer::split_by_partition;

fn logs(rows: usize) -> RecordBatch {
    let body: String = (0..rows)
        .map(|i| {
            format!(
                "{{\"time\":{},\"service\":\"s{}\",\"msg\":\"m{i}\"}}\n",
                1_714_521_600 + (i * 7919 % 3) * 86_400,
                i % 5
            )
        })
        .collect();
    NdjsonDecoder::new().decode(body.as_bytes(), &NdjsonContext::default(), 0)
}

/// (service, day) -> sorted bodies, from the rows themselves.
fn expected(batch: &RecordBatch) -> BTreeMap<(String, i64), Vec<String>> {
    let services = batch
        .column_by_name("service_name")
        .unwrap()
        .as_string::<i32>();
    let bodies = batch.column_by_name("body").unwrap().as_string::<i32>();
    let times = batch
        .column_by_name("timestamp")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    let mut out: BTreeMap<(String, i64), Vec<String>> = BTreeMap::new();
    for i in 0..batch.num_rows() {
        let day = times.value(i) / 86_400_000_000;
        out.entry((services.value(i).to_string(), day))
            .or_default()
            .push(bodies.value(i).to_string());
    }
    out.values_mut().for_each(|v| v.sort());
    out
}

#[tokio::test]
async fn every_row_lands_in_its_partition_sorted_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let lake = open_lake(&LakeConfig::default(), dir.path()).await.unwrap();
    let table = lake
        .table("logs", &logs_schema(), &TableLayout::default())
        .await
        .unwrap();
    let schema = table.metadata().current_schema().clone();
    let spec = table.metadata().default_partition_spec().clone();
    let unsorted = logs(3000);
    let sorted =
        icegate_batcher::sort_batch("logs", &unsorted, &TableLayout::default().sort_by).unwrap();
    let want = expected(&unsorted);
    assert_eq!(want.len(), 15, "5 services x 3 days");
    for input in [&unsorted, &sorted] {
        let parts = split_by_partition(input, &schema, &spec).unwrap();
        assert_eq!(parts.len(), 15, "one group per partition");
        let mut got = BTreeMap::new();
        for (_, slices) in &parts {
            let merged = arrow::compute::concat_batches(&input.schema(), slices).unwrap();
            let groups = expected(&merged);
            assert_eq!(groups.len(), 1, "a group holds one partition");
            got.extend(groups);
        }
        assert_eq!(got, want);
    }
    // Sorted input: one zero-copy slice per partition.
    assert!(
        split_by_partition(&sorted, &schema, &spec)
            .unwrap()
            .iter()
            .all(|(_, slices)| slices.len() == 1)
    );
}
