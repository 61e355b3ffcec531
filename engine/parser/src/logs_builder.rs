//! Rows of the `logs` table, appended column by column into Arrow builders. Every logs
//! decoder (OTLP protobuf, OTLP/JSON, NDJSON) ends here, so they produce identical batches.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use icegate_schema::{LogsColumn, UTC, logs_schema};

use crate::fields::{Attribute, ResourceFields, ResourceScopeColumns, ScopeFields};
use crate::map_column::{MapColumn, string_bytes};

/// One row of `logs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogRow<'a> {
    /// Event time, else observed time, else receive time, in ns since the epoch.
    pub timestamp_nanos: i64,
    pub time_unix_nano: Option<i64>,
    pub observed_time_unix_nano: Option<i64>,
    pub severity_number: Option<i32>,
    pub severity_text: Option<&'a str>,
    pub body: Option<&'a str>,
    pub trace_id: Option<&'a str>,
    pub span_id: Option<&'a str>,
    pub flags: u32,
    pub event_name: Option<&'a str>,
    pub attributes: &'a [Attribute<'a>],
    pub dropped_attributes_count: u32,
}

/// Accumulates `logs` rows; [`LogsBuilder::finish`] turns them into a record batch.
pub struct LogsBuilder {
    schema: SchemaRef,
    timestamp: TimestampMicrosecondBuilder,
    time_unix_nano: Int64Builder,
    observed_time_unix_nano: Int64Builder,
    severity_number: Int32Builder,
    severity_text: StringBuilder,
    body: StringBuilder,
    trace_id: StringBuilder,
    span_id: StringBuilder,
    flags: Int64Builder,
    event_name: StringBuilder,
    resource_scope: ResourceScopeColumns,
    attributes: MapColumn,
    dropped_attributes_count: Int32Builder,
}

impl Default for LogsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl LogsBuilder {
    pub fn new() -> Self {
        Self {
            schema: logs_schema(),
            timestamp: TimestampMicrosecondBuilder::new(),
            time_unix_nano: Int64Builder::new(),
            observed_time_unix_nano: Int64Builder::new(),
            severity_number: Int32Builder::new(),
            severity_text: StringBuilder::new(),
            body: StringBuilder::new(),
            trace_id: StringBuilder::new(),
            span_id: StringBuilder::new(),
            flags: Int64Builder::new(),
            event_name: StringBuilder::new(),
            resource_scope: ResourceScopeColumns::new(),
            attributes: MapColumn::new(),
            dropped_attributes_count: Int32Builder::new(),
        }
    }

    /// Rows appended since the last `finish`.
    pub fn len(&self) -> usize {
        self.timestamp.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held (values and offsets, not spare capacity), for the decode budget.
    pub fn bytes(&self) -> u64 {
        // timestamp, time, observed time, flags (8 each); severity, dropped count (4 each).
        const FIXED: u64 = 4 * 8 + 2 * 4;
        FIXED * self.len() as u64
            + string_bytes(&self.severity_text)
            + string_bytes(&self.body)
            + string_bytes(&self.trace_id)
            + string_bytes(&self.span_id)
            + string_bytes(&self.event_name)
            + self.resource_scope.bytes()
            + self.attributes.bytes()
    }

    /// Appends one row.
    pub fn append(
        &mut self,
        resource: &ResourceFields<'_>,
        scope: &ScopeFields<'_>,
        row: &LogRow<'_>,
    ) {
        self.timestamp
            .append_value(row.timestamp_nanos.div_euclid(1000));
        self.time_unix_nano.append_option(row.time_unix_nano);
        self.observed_time_unix_nano
            .append_option(row.observed_time_unix_nano);
        self.severity_number.append_option(row.severity_number);
        self.severity_text.append_option(row.severity_text);
        self.body.append_option(row.body);
        self.trace_id.append_option(row.trace_id);
        self.span_id.append_option(row.span_id);
        self.flags.append_value(i64::from(row.flags));
        self.event_name.append_option(row.event_name);
        self.resource_scope.append(resource, scope);
        self.attributes.append(row.attributes);
        self.dropped_attributes_count
            .append_value(row.dropped_attributes_count as i32);
    }

    /// The rows appended so far as one batch of the `logs` schema; the builder starts over.
    pub fn finish(&mut self) -> RecordBatch {
        let schema = self.schema.clone();
        let map_type = |column: LogsColumn| schema.field(column as usize).data_type().clone();
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.timestamp.finish().with_timezone(UTC)),
            Arc::new(self.time_unix_nano.finish()),
            Arc::new(self.observed_time_unix_nano.finish()),
            Arc::new(self.severity_number.finish()),
            Arc::new(self.severity_text.finish()),
            Arc::new(self.body.finish()),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.flags.finish()),
            Arc::new(self.event_name.finish()),
        ];
        self.resource_scope.finish_into(
            &mut columns,
            &map_type(LogsColumn::ResourceAttributes),
            &map_type(LogsColumn::ScopeAttributes),
        );
        columns.push(self.attributes.finish(&map_type(LogsColumn::Attributes)));
        columns.push(Arc::new(self.dropped_attributes_count.finish()));
        RecordBatch::try_new(schema, columns).expect("columns follow the logs schema")
    }
}
