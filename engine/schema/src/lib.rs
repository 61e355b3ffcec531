//! IceGate's three tables — `logs`, `traces`, `metrics` — defined once.
//!
//! Each table is an Arrow schema whose every field (nested ones included) carries its Iceberg
//! field id in the `PARQUET:field_id` metadata key. That one definition serves the whole
//! pipeline: the decoders build record batches of exactly this schema, the Parquet writer
//! writes the ids into the files, and the lake writer derives the Iceberg schema from it
//! (iceberg-rust's `arrow_schema_to_schema` reads the same key). Field ids are stable forever:
//! new columns get new ids, removed columns never give theirs back.
//!
//! The ids are numbered the way Iceberg numbers a new table's schema (top-level fields
//! 1…n first, then the nested fields of each container in order, breadth first), so creating
//! a table from these schemas keeps every id as written here: files, tables and this crate
//! all agree.
//!
//! Types are the ones every Iceberg reader handles (Spark, Trino, DuckDB, PyIceberg):
//! `timestamptz` (microseconds; Arrow `Timestamp(µs, "+00:00")`), `long`, `int`, `string`,
//! `map<string,string>`, `list`, `struct`; format version 2. Because `timestamptz` stops at
//! microseconds, OTLP's nanosecond times are also kept whole in `long` columns.
//!
//! # `logs` — one row per OTLP LogRecord or JSON log line
//!
//! | id | column | type | from |
//! |---|---|---|---|
//! | 1 | `timestamp` | timestamptz, required | `time_unix_nano`; when 0, `observed_time_unix_nano`; when also 0, the time IceGate received it |
//! | 2 | `time_unix_nano` | long | event time in ns as sent (null when absent) |
//! | 3 | `observed_time_unix_nano` | long | observed time in ns as sent (null when absent) |
//! | 4 | `severity_number` | int | 0–24 (null when unspecified) |
//! | 5 | `severity_text` | string | |
//! | 6 | `body` | string | string bodies as-is; other bodies rendered as JSON text (see below) |
//! | 7 | `trace_id` | string | 32 lowercase hex digits (null when absent) |
//! | 8 | `span_id` | string | 16 lowercase hex digits (null when absent) |
//! | 9 | `flags` | long | W3C trace flags as sent (0 when absent) |
//! | 10 | `event_name` | string | |
//! | 11 | `service_name` | string, required | resource attribute `service.name`, else `unknown_service` |
//! | 12 | `resource_attributes` | `map<string,string> (key 22, value 23)` | |
//! | 13 | `resource_dropped_attributes_count` | int | |
//! | 14 | `resource_schema_url` | string | |
//! | 15 | `scope_name` | string | |
//! | 16 | `scope_version` | string | |
//! | 17 | `scope_attributes` | `map<string,string> (key 24, value 25)` | |
//! | 18 | `scope_dropped_attributes_count` | int | |
//! | 19 | `scope_schema_url` | string | |
//! | 20 | `attributes` | `map<string,string> (key 26, value 27)` | the record's attributes |
//! | 21 | `dropped_attributes_count` | int | |
//!
//! Attribute values: strings as-is; booleans, integers and doubles as their JSON literal
//! (`true`, `42`, `1.5`; non-finite doubles as `NaN`, `inf`, `-inf`); bytes as standard base64;
//! arrays and key-value lists as JSON text (nested strings JSON-quoted, nested bytes as quoted
//! base64). An attribute whose value is empty has a null value. Bodies follow the same rule.
//!
//! Default partition spec `day(timestamp), identity(service_name)`; sort order
//! `service_name, timestamp` (see [`TableLayout`]).
//!
//! # `traces` — one row per OTLP span
//!
//! | id | column | type | from |
//! |---|---|---|---|
//! | 1 | `timestamp` | timestamptz, required | start time; when 0, the time IceGate received it |
//! | 2, 3 | `start_time_unix_nano`, `end_time_unix_nano` | long | as sent (null when absent) |
//! | 4 | `duration_nanos` | long | end − start when both are present and end ≥ start |
//! | 5, 6, 7 | `trace_id`, `span_id`, `parent_span_id` | string | lowercase hex (null when absent) |
//! | 8 | `trace_state` | string | W3C tracestate |
//! | 9 | `name` | string | |
//! | 10 | `kind` | int | OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer |
//! | 11, 12 | `status_code`, `status_message` | int, string | 0 unset, 1 ok, 2 error |
//! | 13 | `flags` | long | W3C trace flags as sent (0 when absent) |
//! | 14–22 | `service_name` … `scope_schema_url` | | as in `logs` (map ids 29–32) |
//! | 23, 24 | `attributes`, `dropped_attributes_count` | map (33, 34), int | the span's |
//! | 25 | `events` | list (element 35) of struct<`time_unix_nano` long 36, `name` string 37, `attributes` map 38 (40, 41), `dropped_attributes_count` int 39> | |
//! | 26 | `dropped_events_count` | int | |
//! | 27 | `links` | list (element 42) of struct<`trace_id` 43, `span_id` 44, `trace_state` 45, `attributes` map 46 (49, 50), `dropped_attributes_count` 47, `flags` long 48> | |
//! | 28 | `dropped_links_count` | int | |
//!
//! Default partition spec `day(timestamp), identity(service_name)`; sort order
//! `service_name, timestamp`.
//!
//! # `metrics` — one row per OTLP data point
//!
//! | id | column | type | from |
//! |---|---|---|---|
//! | 1 | `timestamp` | timestamptz, required | the point's time; when 0, the time IceGate received it |
//! | 2, 3 | `time_unix_nano`, `start_time_unix_nano` | long | as sent (null when absent) |
//! | 4, 5, 6 | `metric_name`, `metric_description`, `metric_unit` | string | |
//! | 7 | `metric_type` | string, required | `gauge`, `sum`, `histogram`, `exponential_histogram`, `summary` |
//! | 8 | `aggregation_temporality` | int | 1 delta, 2 cumulative (sum and histograms) |
//! | 9 | `is_monotonic` | boolean | sums only |
//! | 10–18 | `service_name` … `scope_schema_url` | | as in `logs` (map ids 38–41) |
//! | 19, 20 | `attributes` (42, 43), `flags` | map, long | the point's |
//! | 21, 22 | `value_double`, `value_int` | double, long | gauge and sum points (whichever was sent) |
//! | 23–26 | `count`, `sum`, `min`, `max` | long, double ×3 | histogram, exponential histogram and summary points (as sent) |
//! | 27, 28 | `bucket_counts` (element 44), `explicit_bounds` (45) | `list<long>, list<double>` | histograms |
//! | 29–35 | `scale`, `zero_count`, `zero_threshold`, `positive_offset`, `positive_bucket_counts` (46), `negative_offset`, `negative_bucket_counts` (47) | | exponential histograms |
//! | 36 | `quantile_values` | list (48) of struct<`quantile` double 49, `value` double 50> | summaries |
//! | 37 | `metric_metadata` | map (51, 52) | the metric's metadata key-values |
//!
//! Columns that do not apply to a point's type are null. Counts are unsigned 64-bit on the
//! wire and stored in `long` bit for bit. Exemplars are not stored yet (they are read past).
//!
//! Default partition spec `day(timestamp), identity(service_name)`; sort order
//! `service_name, timestamp`.

mod layout;
mod logs;
mod metrics;
mod traces;

pub use layout::{PartitionTransform, SortField, TableLayout};
pub use logs::{LOGS_TABLE, LogsColumn, logs_schema};
pub use metrics::{METRICS_TABLE, metrics_schema};
pub use traces::{TRACES_TABLE, traces_schema};

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef, Fields, TimeUnit};

/// The Arrow field metadata key that holds an Iceberg field id (the Parquet convention).
pub const FIELD_ID_KEY: &str = "PARQUET:field_id";

/// The timezone string of `timestamptz` columns, as iceberg-rust's Arrow conversion writes it.
pub const UTC: &str = "+00:00";

/// `service_name` when the resource has no `service.name` (the OTLP semantic convention).
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// A field with its Iceberg id attached.
pub fn field(name: &str, data_type: DataType, nullable: bool, id: i32) -> Field {
    Field::new(name, data_type, nullable)
        .with_metadata(HashMap::from([(FIELD_ID_KEY.to_string(), id.to_string())]))
}

/// `timestamptz` (microseconds, UTC).
pub fn timestamptz() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
}

/// `map<string,string>` with the given key and value field ids, laid out as Iceberg's Arrow
/// conversion lays it out (`key_value` entries, non-null keys, nullable values).
pub fn string_map(key_id: i32, value_id: i32) -> DataType {
    let entries = Fields::from(vec![
        field("key", DataType::Utf8, false, key_id),
        field("value", DataType::Utf8, true, value_id),
    ]);
    DataType::Map(
        Arc::new(Field::new("key_value", DataType::Struct(entries), false)),
        false,
    )
}

/// `list<struct<…>>` whose element field has id `element_id` (named `element`, required,
/// as Iceberg's Arrow conversion names it).
pub fn list_of(element_id: i32, fields: Fields) -> DataType {
    DataType::List(Arc::new(field(
        "element",
        DataType::Struct(fields),
        false,
        element_id,
    )))
}

/// The `key_value` entries field of a map column (needed to assemble a `MapArray`).
pub fn map_entries(map_type: &DataType) -> Option<FieldRef> {
    match map_type {
        DataType::Map(entries, _) => Some(entries.clone()),
        _ => None,
    }
}

/// The Iceberg field id stored on an Arrow field, if any.
pub fn field_id(field: &Field) -> Option<i32> {
    field.metadata().get(FIELD_ID_KEY)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use arrow::datatypes::{DataType, Field};

    use super::*;

    fn collect_ids(field: &Field, ids: &mut Vec<i32>) {
        ids.push(field_id(field).unwrap_or_else(|| panic!("{} has no field id", field.name())));
        match field.data_type() {
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(children) => children.iter().for_each(|c| collect_ids(c, ids)),
                other => panic!("map entries must be a struct, got {other}"),
            },
            DataType::Struct(children) => children.iter().for_each(|c| collect_ids(c, ids)),
            DataType::List(item) => collect_ids(item, ids),
            _ => {}
        }
    }

    #[test]
    fn every_logs_field_has_a_unique_id() {
        let schema = logs_schema();
        let mut ids = Vec::new();
        for field in schema.fields() {
            collect_ids(field, &mut ids);
        }
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "duplicate field ids: {ids:?}");
        assert_eq!(ids.len(), 21 + 6);
        assert_eq!(*ids.iter().max().unwrap(), 27);
    }

    #[test]
    fn every_traces_field_has_a_unique_id() {
        let mut ids = Vec::new();
        for field in traces_schema().fields() {
            collect_ids(field, &mut ids);
        }
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "duplicate field ids: {ids:?}");
        TableLayout::default().validate(&traces_schema()).unwrap();
    }

    #[test]
    fn every_metrics_field_has_a_unique_id() {
        let mut ids = Vec::new();
        for field in metrics_schema().fields() {
            collect_ids(field, &mut ids);
        }
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "duplicate field ids: {ids:?}");
        TableLayout::default().validate(&metrics_schema()).unwrap();
    }

    /// Iceberg's fresh-id order: a level's fields first, then each container's children.
    fn fresh_ids(
        fields: &[arrow::datatypes::FieldRef],
        next: &mut i32,
        out: &mut Vec<(String, i32)>,
    ) {
        for field in fields {
            out.push((field.name().clone(), *next));
            *next += 1;
        }
        for field in fields {
            nested_fresh_ids(field.data_type(), next, out);
        }
    }

    fn nested_fresh_ids(data_type: &DataType, next: &mut i32, out: &mut Vec<(String, i32)>) {
        match data_type {
            DataType::Struct(children) => fresh_ids(children, next, out),
            DataType::List(element) => {
                out.push((element.name().clone(), *next));
                *next += 1;
                nested_fresh_ids(element.data_type(), next, out);
            }
            DataType::Map(entries, _) => {
                let DataType::Struct(kv) = entries.data_type() else {
                    unreachable!()
                };
                for child in kv.iter() {
                    out.push((child.name().clone(), *next));
                    *next += 1;
                    nested_fresh_ids(child.data_type(), next, out);
                }
            }
            _ => {}
        }
    }

    fn declared_ids(fields: &[arrow::datatypes::FieldRef], out: &mut Vec<(String, i32)>) {
        for field in fields {
            out.push((field.name().clone(), field_id(field).unwrap()));
        }
        for field in fields {
            nested_declared(field.data_type(), out);
        }
    }

    fn nested_declared(data_type: &DataType, out: &mut Vec<(String, i32)>) {
        match data_type {
            DataType::Struct(children) => declared_ids(children, out),
            DataType::List(element) => {
                out.push((element.name().clone(), field_id(element).unwrap()));
                nested_declared(element.data_type(), out);
            }
            DataType::Map(entries, _) => {
                let DataType::Struct(kv) = entries.data_type() else {
                    unreachable!()
                };
                for child in kv.iter() {
                    out.push((child.name().clone(), field_id(child).unwrap()));
                    nested_declared(child.data_type(), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn ids_follow_icebergs_fresh_id_order() {
        for schema in [logs_schema(), traces_schema(), metrics_schema()] {
            let (mut fresh, mut declared) = (Vec::new(), Vec::new());
            fresh_ids(schema.fields(), &mut 1, &mut fresh);
            declared_ids(schema.fields(), &mut declared);
            assert_eq!(declared, fresh);
        }
    }

    #[test]
    fn column_enum_matches_schema_positions() {
        let schema = logs_schema();
        for column in LogsColumn::ALL {
            assert_eq!(schema.field(column as usize).name(), column.name());
        }
        assert_eq!(LogsColumn::ALL.len(), schema.fields().len());
    }
}
