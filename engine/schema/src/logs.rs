//! The `logs` table (documented in the crate root).

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Schema, SchemaRef};

use crate::{field, string_map, timestamptz};

/// Default table name.
pub const LOGS_TABLE: &str = "logs";

/// The columns of `logs`, in schema order (`column as usize` is the column index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum LogsColumn {
    Timestamp,
    TimeUnixNano,
    ObservedTimeUnixNano,
    SeverityNumber,
    SeverityText,
    Body,
    TraceId,
    SpanId,
    Flags,
    EventName,
    ServiceName,
    ResourceAttributes,
    ResourceDroppedAttributesCount,
    ResourceSchemaUrl,
    ScopeName,
    ScopeVersion,
    ScopeAttributes,
    ScopeDroppedAttributesCount,
    ScopeSchemaUrl,
    Attributes,
    DroppedAttributesCount,
}

impl LogsColumn {
    /// Every column in schema order.
    pub const ALL: [LogsColumn; 21] = [
        LogsColumn::Timestamp,
        LogsColumn::TimeUnixNano,
        LogsColumn::ObservedTimeUnixNano,
        LogsColumn::SeverityNumber,
        LogsColumn::SeverityText,
        LogsColumn::Body,
        LogsColumn::TraceId,
        LogsColumn::SpanId,
        LogsColumn::Flags,
        LogsColumn::EventName,
        LogsColumn::ServiceName,
        LogsColumn::ResourceAttributes,
        LogsColumn::ResourceDroppedAttributesCount,
        LogsColumn::ResourceSchemaUrl,
        LogsColumn::ScopeName,
        LogsColumn::ScopeVersion,
        LogsColumn::ScopeAttributes,
        LogsColumn::ScopeDroppedAttributesCount,
        LogsColumn::ScopeSchemaUrl,
        LogsColumn::Attributes,
        LogsColumn::DroppedAttributesCount,
    ];

    /// The column's name in the table.
    pub fn name(self) -> &'static str {
        match self {
            LogsColumn::Timestamp => "timestamp",
            LogsColumn::TimeUnixNano => "time_unix_nano",
            LogsColumn::ObservedTimeUnixNano => "observed_time_unix_nano",
            LogsColumn::SeverityNumber => "severity_number",
            LogsColumn::SeverityText => "severity_text",
            LogsColumn::Body => "body",
            LogsColumn::TraceId => "trace_id",
            LogsColumn::SpanId => "span_id",
            LogsColumn::Flags => "flags",
            LogsColumn::EventName => "event_name",
            LogsColumn::ServiceName => "service_name",
            LogsColumn::ResourceAttributes => "resource_attributes",
            LogsColumn::ResourceDroppedAttributesCount => "resource_dropped_attributes_count",
            LogsColumn::ResourceSchemaUrl => "resource_schema_url",
            LogsColumn::ScopeName => "scope_name",
            LogsColumn::ScopeVersion => "scope_version",
            LogsColumn::ScopeAttributes => "scope_attributes",
            LogsColumn::ScopeDroppedAttributesCount => "scope_dropped_attributes_count",
            LogsColumn::ScopeSchemaUrl => "scope_schema_url",
            LogsColumn::Attributes => "attributes",
            LogsColumn::DroppedAttributesCount => "dropped_attributes_count",
        }
    }
}

static LOGS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::{Int32, Int64, Utf8};
    Arc::new(Schema::new(vec![
        field("timestamp", timestamptz(), false, 1),
        field("time_unix_nano", Int64, true, 2),
        field("observed_time_unix_nano", Int64, true, 3),
        field("severity_number", Int32, true, 4),
        field("severity_text", Utf8, true, 5),
        field("body", Utf8, true, 6),
        field("trace_id", Utf8, true, 7),
        field("span_id", Utf8, true, 8),
        field("flags", Int64, true, 9),
        field("event_name", Utf8, true, 10),
        field("service_name", Utf8, false, 11),
        field("resource_attributes", string_map(22, 23), true, 12),
        field("resource_dropped_attributes_count", Int32, true, 13),
        field("resource_schema_url", Utf8, true, 14),
        field("scope_name", Utf8, true, 15),
        field("scope_version", Utf8, true, 16),
        field("scope_attributes", string_map(24, 25), true, 17),
        field("scope_dropped_attributes_count", Int32, true, 18),
        field("scope_schema_url", Utf8, true, 19),
        field("attributes", string_map(26, 27), true, 20),
        field("dropped_attributes_count", Int32, true, 21),
    ]))
});

/// The Arrow schema of `logs`, field ids attached. Built once; cloning is an `Arc` clone.
pub fn logs_schema() -> SchemaRef {
    LOGS_SCHEMA.clone()
}
