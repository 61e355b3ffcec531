//! The `traces` table: one row per span (documented in the crate root).

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Fields, Schema, SchemaRef};

use crate::{field, list_of, string_map, timestamptz};

/// Default table name.
pub const TRACES_TABLE: &str = "traces";

static TRACES_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::{Int32, Int64, Utf8};
    let event = Fields::from(vec![
        field("time_unix_nano", Int64, true, 36),
        field("name", Utf8, true, 37),
        field("attributes", string_map(40, 41), true, 38),
        field("dropped_attributes_count", Int32, true, 39),
    ]);
    let link = Fields::from(vec![
        field("trace_id", Utf8, true, 43),
        field("span_id", Utf8, true, 44),
        field("trace_state", Utf8, true, 45),
        field("attributes", string_map(49, 50), true, 46),
        field("dropped_attributes_count", Int32, true, 47),
        field("flags", Int64, true, 48),
    ]);
    Arc::new(Schema::new(vec![
        field("timestamp", timestamptz(), false, 1),
        field("start_time_unix_nano", Int64, true, 2),
        field("end_time_unix_nano", Int64, true, 3),
        field("duration_nanos", Int64, true, 4),
        field("trace_id", Utf8, true, 5),
        field("span_id", Utf8, true, 6),
        field("parent_span_id", Utf8, true, 7),
        field("trace_state", Utf8, true, 8),
        field("name", Utf8, true, 9),
        field("kind", Int32, true, 10),
        field("status_code", Int32, true, 11),
        field("status_message", Utf8, true, 12),
        field("flags", Int64, true, 13),
        field("service_name", Utf8, false, 14),
        field("resource_attributes", string_map(29, 30), true, 15),
        field("resource_dropped_attributes_count", Int32, true, 16),
        field("resource_schema_url", Utf8, true, 17),
        field("scope_name", Utf8, true, 18),
        field("scope_version", Utf8, true, 19),
        field("scope_attributes", string_map(31, 32), true, 20),
        field("scope_dropped_attributes_count", Int32, true, 21),
        field("scope_schema_url", Utf8, true, 22),
        field("attributes", string_map(33, 34), true, 23),
        field("dropped_attributes_count", Int32, true, 24),
        field("events", list_of(35, event), true, 25),
        field("dropped_events_count", Int32, true, 26),
        field("links", list_of(42, link), true, 27),
        field("dropped_links_count", Int32, true, 28),
    ]))
});

/// The Arrow schema of `traces`, field ids attached.
pub fn traces_schema() -> SchemaRef {
    TRACES_SCHEMA.clone()
}
