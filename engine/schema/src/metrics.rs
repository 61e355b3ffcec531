//! The `metrics` table: one row per data point (documented in the crate root).

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Fields, Schema, SchemaRef};

use crate::{field, list_of, string_map, timestamptz};

/// Default table name.
pub const METRICS_TABLE: &str = "metrics";

/// `list<T>` of a primitive with the element's field id.
fn list(element_id: i32, element: DataType) -> DataType {
    DataType::List(Arc::new(field("element", element, false, element_id)))
}

static METRICS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::{Boolean, Float64, Int32, Int64, Utf8};
    let quantile = Fields::from(vec![
        field("quantile", Float64, true, 49),
        field("value", Float64, true, 50),
    ]);
    Arc::new(Schema::new(vec![
        field("timestamp", timestamptz(), false, 1),
        field("time_unix_nano", Int64, true, 2),
        field("start_time_unix_nano", Int64, true, 3),
        field("metric_name", Utf8, true, 4),
        field("metric_description", Utf8, true, 5),
        field("metric_unit", Utf8, true, 6),
        field("metric_type", Utf8, false, 7),
        field("aggregation_temporality", Int32, true, 8),
        field("is_monotonic", Boolean, true, 9),
        field("service_name", Utf8, false, 10),
        field("resource_attributes", string_map(38, 39), true, 11),
        field("resource_dropped_attributes_count", Int32, true, 12),
        field("resource_schema_url", Utf8, true, 13),
        field("scope_name", Utf8, true, 14),
        field("scope_version", Utf8, true, 15),
        field("scope_attributes", string_map(40, 41), true, 16),
        field("scope_dropped_attributes_count", Int32, true, 17),
        field("scope_schema_url", Utf8, true, 18),
        field("attributes", string_map(42, 43), true, 19),
        field("flags", Int64, true, 20),
        field("value_double", Float64, true, 21),
        field("value_int", Int64, true, 22),
        field("count", Int64, true, 23),
        field("sum", Float64, true, 24),
        field("min", Float64, true, 25),
        field("max", Float64, true, 26),
        field("bucket_counts", list(44, Int64), true, 27),
        field("explicit_bounds", list(45, Float64), true, 28),
        field("scale", Int32, true, 29),
        field("zero_count", Int64, true, 30),
        field("zero_threshold", Float64, true, 31),
        field("positive_offset", Int32, true, 32),
        field("positive_bucket_counts", list(46, Int64), true, 33),
        field("negative_offset", Int32, true, 34),
        field("negative_bucket_counts", list(47, Int64), true, 35),
        field("quantile_values", list_of(48, quantile), true, 36),
        field("metric_metadata", string_map(51, 52), true, 37),
    ]))
});

/// The Arrow schema of `metrics`, field ids attached.
pub fn metrics_schema() -> SchemaRef {
    METRICS_SCHEMA.clone()
}
