//! NDJSON log lines: well-known keys, flattening, and lines that are not JSON.

use arrow::array::{Array, AsArray, MapArray, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type, TimestampMicrosecondType};
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use proptest::prelude::*;

const RECEIVED: i64 = 1_764_000_000_000_000_000;

fn decode(body: &str, context: &NdjsonContext) -> RecordBatch {
    NdjsonDecoder::new().decode(body.as_bytes(), context, RECEIVED)
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let array = batch.column_by_name(column).unwrap().as_string::<i32>();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| array.value(i).to_string()))
        .collect()
}

fn attributes(batch: &RecordBatch, row: usize) -> Vec<(String, Option<String>)> {
    let map = batch.column_by_name("attributes").unwrap();
    let map = map.as_any().downcast_ref::<MapArray>().unwrap();
    let entries = map.value(row);
    let keys = entries.column(0).as_string::<i32>();
    let values = entries.column(1).as_string::<i32>();
    (0..keys.len())
        .map(|i| {
            (
                keys.value(i).to_string(),
                values.is_valid(i).then(|| values.value(i).to_string()),
            )
        })
        .collect()
}

#[test]
fn well_known_keys_fill_their_columns_and_the_rest_are_attributes() {
    let body = r#"{"ts":"2024-05-01T12:00:00.5Z","level":"WARN","msg":"disk almost full","service":"storage","trace_id":"5B8EFFF798038103D269B633813FC60C","span_id":"eee19b7ec3c1b174","http":{"status":507,"path":"/v1"},"tags":["a","b"],"ratio":0.97,"ok":false,"none":null}"#;
    let batch = decode(body, &NdjsonContext::default());
    assert_eq!(batch.num_rows(), 1);
    assert_eq!(strings(&batch, "body"), [Some("disk almost full".into())]);
    assert_eq!(strings(&batch, "severity_text"), [Some("WARN".into())]);
    assert_eq!(
        batch
            .column_by_name("severity_number")
            .unwrap()
            .as_primitive::<Int32Type>()
            .value(0),
        13
    );
    assert_eq!(strings(&batch, "service_name"), [Some("storage".into())]);
    assert_eq!(
        strings(&batch, "trace_id"),
        [Some("5b8efff798038103d269b633813fc60c".into())]
    );
    assert_eq!(
        strings(&batch, "span_id"),
        [Some("eee19b7ec3c1b174".into())]
    );
    let time = batch
        .column_by_name("time_unix_nano")
        .unwrap()
        .as_primitive::<Int64Type>()
        .value(0);
    assert_eq!(time, 1_714_564_800_500_000_000);
    let ts = batch
        .column_by_name("timestamp")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>()
        .value(0);
    assert_eq!(ts, 1_714_564_800_500_000);
    let observed = batch
        .column_by_name("observed_time_unix_nano")
        .unwrap()
        .as_primitive::<Int64Type>()
        .value(0);
    assert_eq!(observed, RECEIVED);
    let mut attrs = attributes(&batch, 0);
    attrs.sort();
    assert_eq!(
        attrs,
        vec![
            ("http.path".into(), Some("/v1".into())),
            ("http.status".into(), Some("507".into())),
            ("none".into(), None),
            ("ok".into(), Some("false".into())),
            ("ratio".into(), Some("0.97".into())),
            ("tags".into(), Some(r#"["a","b"]"#.into())),
        ]
    );
}

#[test]
fn lines_that_are_not_json_objects_are_kept_as_text() {
    let body = "plain text line\r\n\n{\"broken\": \n[1,2,3]\n\u{0}binary\n   \n{\"msg\":\"ok\"}\n";
    let batch = decode(
        body,
        &NdjsonContext {
            service_name: Some("edge".into()),
            ..NdjsonContext::default()
        },
    );
    assert_eq!(
        strings(&batch, "body"),
        [
            Some("plain text line".into()),
            Some("{\"broken\": ".into()),
            Some("[1,2,3]".into()),
            Some("\u{0}binary".into()),
            Some("ok".into())
        ]
    );
    assert!(
        strings(&batch, "service_name")
            .iter()
            .all(|s| s.as_deref() == Some("edge"))
    );
    // Rows without a time are filed under the receive time.
    let ts = batch
        .column_by_name("timestamp")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    assert!((0..ts.len()).all(|i| ts.value(i) == RECEIVED / 1000));
}

#[test]
fn unparseable_well_known_values_stay_attributes_and_objects_without_message_keep_the_line() {
    let line = r#"{"time":"last tuesday","level":42,"trace_id":"nothex","user":"ann"}"#;
    let batch = decode(line, &NdjsonContext::default());
    assert_eq!(strings(&batch, "body"), [Some(line.into())]);
    assert!(batch.column_by_name("time_unix_nano").unwrap().is_null(0));
    assert!(batch.column_by_name("severity_number").unwrap().is_null(0));
    assert!(batch.column_by_name("trace_id").unwrap().is_null(0));
    assert_eq!(
        strings(&batch, "service_name"),
        [Some("unknown_service".into())]
    );
    let mut keys: Vec<_> = attributes(&batch, 0).into_iter().map(|(k, _)| k).collect();
    keys.sort();
    assert_eq!(keys, ["level", "time", "trace_id", "user"]);
}

#[test]
fn epoch_times_and_numeric_levels() {
    let body = "{\"time\":1714564800,\"level\":30}\n{\"time\":1714564800123,\"level\":\"error\"}\n{\"@timestamp\":\"1714564800123456\",\"severity\":17}\n";
    let batch = decode(body, &NdjsonContext::default());
    let time = batch
        .column_by_name("time_unix_nano")
        .unwrap()
        .as_primitive::<Int64Type>()
        .clone();
    assert_eq!(
        time.values().to_vec(),
        vec![
            1_714_564_800_000_000_000,
            1_714_564_800_123_000_000,
            1_714_564_800_123_456_000
        ]
    );
    let severity = batch
        .column_by_name("severity_number")
        .unwrap()
        .as_primitive::<Int32Type>()
        .clone();
    assert_eq!(severity.values().to_vec(), vec![9, 17, 17]);
}

#[test]
fn hostile_lines_do_not_drop_the_batch() {
    let bomb = "[".repeat(100_000);
    let deep_object = format!(
        "{}{}",
        "{\"a\":".repeat(50),
        "1".to_string() + &"}".repeat(50)
    );
    let body = format!("{bomb}\n{deep_object}\n{{\"msg\":\"survivor\"}}\n");
    let batch = decode(&body, &NdjsonContext::default());
    assert_eq!(batch.num_rows(), 3);
    assert_eq!(strings(&batch, "body")[2].as_deref(), Some("survivor"));
}

proptest! {
    #[test]
    fn every_non_blank_line_becomes_exactly_one_row(lines in proptest::collection::vec(any::<Vec<u8>>(), 0..20)) {
        let lines: Vec<Vec<u8>> = lines.into_iter().map(|l| l.into_iter().filter(|b| *b != b'\n').collect()).collect();
        let body = lines.join(&b'\n');
        let expected = lines
            .iter()
            .filter(|l| !l.strip_suffix(b"\r").unwrap_or(l).iter().all(u8::is_ascii_whitespace))
            .count();
        let batch = NdjsonDecoder::new().decode(&body, &NdjsonContext::default(), RECEIVED);
        prop_assert_eq!(batch.num_rows(), expected);
    }
}
