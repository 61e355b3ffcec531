//! Rows of the `traces` table (one per span), including its nested events and links.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, Int32Builder, Int64Builder, ListArray, RecordBatch, StringBuilder,
    StructArray, TimestampMicrosecondBuilder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, SchemaRef};
use icegate_schema::{UTC, traces_schema};

use crate::fields::{Attribute, ResourceFields, ResourceScopeColumns, ScopeFields};
use crate::map_column::{MapColumn, string_bytes};

/// One span event.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventRow<'a> {
    pub time_unix_nano: Option<i64>,
    pub name: Option<&'a str>,
    pub attributes: &'a [Attribute<'a>],
    pub dropped_attributes_count: u32,
}

/// One span link.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkRow<'a> {
    pub trace_id: Option<&'a str>,
    pub span_id: Option<&'a str>,
    pub trace_state: Option<&'a str>,
    pub attributes: &'a [Attribute<'a>],
    pub dropped_attributes_count: u32,
    pub flags: u32,
}

/// One row of `traces`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanRow<'a> {
    /// Start time, else receive time, in ns since the epoch.
    pub timestamp_nanos: i64,
    pub start_time_unix_nano: Option<i64>,
    pub end_time_unix_nano: Option<i64>,
    pub trace_id: Option<&'a str>,
    pub span_id: Option<&'a str>,
    pub parent_span_id: Option<&'a str>,
    pub trace_state: Option<&'a str>,
    pub name: Option<&'a str>,
    pub kind: i32,
    pub status_code: i32,
    pub status_message: Option<&'a str>,
    pub flags: u32,
    pub attributes: &'a [Attribute<'a>],
    pub dropped_attributes_count: u32,
    pub events: &'a [EventRow<'a>],
    pub dropped_events_count: u32,
    pub links: &'a [LinkRow<'a>],
    pub dropped_links_count: u32,
}

/// `end − start` when both are known and ordered.
pub fn duration(start: Option<i64>, end: Option<i64>) -> Option<i64> {
    match (start, end) {
        (Some(start), Some(end)) if end >= start => Some(end - start),
        _ => None,
    }
}

/// Accumulates `traces` rows; [`TracesBuilder::finish`] turns them into a record batch.
pub struct TracesBuilder {
    schema: SchemaRef,
    timestamp: TimestampMicrosecondBuilder,
    start_time_unix_nano: Int64Builder,
    end_time_unix_nano: Int64Builder,
    duration_nanos: Int64Builder,
    trace_id: StringBuilder,
    span_id: StringBuilder,
    parent_span_id: StringBuilder,
    trace_state: StringBuilder,
    name: StringBuilder,
    kind: Int32Builder,
    status_code: Int32Builder,
    status_message: StringBuilder,
    flags: Int64Builder,
    resource_scope: ResourceScopeColumns,
    attributes: MapColumn,
    dropped_attributes_count: Int32Builder,
    events: EventsColumn,
    dropped_events_count: Int32Builder,
    links: LinksColumn,
    dropped_links_count: Int32Builder,
}

impl Default for TracesBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TracesBuilder {
    pub fn new() -> Self {
        Self {
            schema: traces_schema(),
            timestamp: TimestampMicrosecondBuilder::new(),
            start_time_unix_nano: Int64Builder::new(),
            end_time_unix_nano: Int64Builder::new(),
            duration_nanos: Int64Builder::new(),
            trace_id: StringBuilder::new(),
            span_id: StringBuilder::new(),
            parent_span_id: StringBuilder::new(),
            trace_state: StringBuilder::new(),
            name: StringBuilder::new(),
            kind: Int32Builder::new(),
            status_code: Int32Builder::new(),
            status_message: StringBuilder::new(),
            flags: Int64Builder::new(),
            resource_scope: ResourceScopeColumns::new(),
            attributes: MapColumn::new(),
            dropped_attributes_count: Int32Builder::new(),
            events: EventsColumn::default(),
            dropped_events_count: Int32Builder::new(),
            links: LinksColumn::default(),
            dropped_links_count: Int32Builder::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.timestamp.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held (values and offsets, not spare capacity), for the decode budget.
    pub fn bytes(&self) -> u64 {
        // timestamp, start, end, duration, flags (8 each); kind, status and three dropped
        // counts (4 each).
        const FIXED: u64 = 5 * 8 + 5 * 4;
        FIXED * self.len() as u64
            + string_bytes(&self.trace_id)
            + string_bytes(&self.span_id)
            + string_bytes(&self.parent_span_id)
            + string_bytes(&self.trace_state)
            + string_bytes(&self.name)
            + string_bytes(&self.status_message)
            + self.resource_scope.bytes()
            + self.attributes.bytes()
            + self.events.bytes()
            + self.links.bytes()
    }

    pub fn append(
        &mut self,
        resource: &ResourceFields<'_>,
        scope: &ScopeFields<'_>,
        span: &SpanRow<'_>,
    ) {
        self.timestamp
            .append_value(span.timestamp_nanos.div_euclid(1000));
        self.start_time_unix_nano
            .append_option(span.start_time_unix_nano);
        self.end_time_unix_nano
            .append_option(span.end_time_unix_nano);
        self.duration_nanos
            .append_option(duration(span.start_time_unix_nano, span.end_time_unix_nano));
        self.trace_id.append_option(span.trace_id);
        self.span_id.append_option(span.span_id);
        self.parent_span_id.append_option(span.parent_span_id);
        self.trace_state.append_option(span.trace_state);
        self.name.append_option(span.name);
        self.kind.append_value(span.kind);
        self.status_code.append_value(span.status_code);
        self.status_message.append_option(span.status_message);
        self.flags.append_value(i64::from(span.flags));
        self.resource_scope.append(resource, scope);
        self.attributes.append(span.attributes);
        self.dropped_attributes_count
            .append_value(span.dropped_attributes_count as i32);
        self.events.append(span.events);
        self.dropped_events_count
            .append_value(span.dropped_events_count as i32);
        self.links.append(span.links);
        self.dropped_links_count
            .append_value(span.dropped_links_count as i32);
    }

    /// The rows appended so far as one batch of the `traces` schema; the builder starts over.
    pub fn finish(&mut self) -> RecordBatch {
        let schema = self.schema.clone();
        let data_type = |name: &str| {
            schema
                .field_with_name(name)
                .expect("traces column")
                .data_type()
                .clone()
        };
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.timestamp.finish().with_timezone(UTC)),
            Arc::new(self.start_time_unix_nano.finish()),
            Arc::new(self.end_time_unix_nano.finish()),
            Arc::new(self.duration_nanos.finish()),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.parent_span_id.finish()),
            Arc::new(self.trace_state.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.status_code.finish()),
            Arc::new(self.status_message.finish()),
            Arc::new(self.flags.finish()),
        ];
        self.resource_scope.finish_into(
            &mut columns,
            &data_type("resource_attributes"),
            &data_type("scope_attributes"),
        );
        columns.push(self.attributes.finish(&data_type("attributes")));
        columns.push(Arc::new(self.dropped_attributes_count.finish()));
        columns.push(self.events.finish(&data_type("events")));
        columns.push(Arc::new(self.dropped_events_count.finish()));
        columns.push(self.links.finish(&data_type("links")));
        columns.push(Arc::new(self.dropped_links_count.finish()));
        RecordBatch::try_new(schema, columns).expect("columns follow the traces schema")
    }
}

/// The element struct's fields and a list field of `list_type`.
fn element_fields(list_type: &DataType) -> (arrow::datatypes::FieldRef, arrow::datatypes::Fields) {
    let DataType::List(element) = list_type else {
        unreachable!("schema declares a list")
    };
    let DataType::Struct(fields) = element.data_type() else {
        unreachable!("list of structs")
    };
    (element.clone(), fields.clone())
}

fn finish_list(list_type: &DataType, offsets: &mut Vec<i32>, children: Vec<ArrayRef>) -> ArrayRef {
    let (element, fields) = element_fields(list_type);
    let values = StructArray::new(fields, children, None);
    let offsets = OffsetBuffer::new(std::mem::replace(offsets, vec![0]).into());
    Arc::new(ListArray::new(element, offsets, Arc::new(values), None))
}

struct EventsColumn {
    offsets: Vec<i32>,
    time_unix_nano: Int64Builder,
    name: StringBuilder,
    attributes: MapColumn,
    dropped_attributes_count: Int32Builder,
}

impl Default for EventsColumn {
    fn default() -> Self {
        Self {
            offsets: vec![0],
            time_unix_nano: Int64Builder::new(),
            name: StringBuilder::new(),
            attributes: MapColumn::new(),
            dropped_attributes_count: Int32Builder::new(),
        }
    }
}

impl EventsColumn {
    fn bytes(&self) -> u64 {
        // time (8), dropped count (4) per event; an offset per span.
        12 * self.name.len() as u64
            + string_bytes(&self.name)
            + self.attributes.bytes()
            + 4 * self.offsets.len() as u64
    }

    fn append(&mut self, events: &[EventRow<'_>]) {
        for event in events {
            self.time_unix_nano.append_option(event.time_unix_nano);
            self.name.append_option(event.name);
            self.attributes.append(event.attributes);
            self.dropped_attributes_count
                .append_value(event.dropped_attributes_count as i32);
        }
        self.offsets.push(self.name.len() as i32);
    }

    fn finish(&mut self, list_type: &DataType) -> ArrayRef {
        let (_, fields) = element_fields(list_type);
        let children: Vec<ArrayRef> = vec![
            Arc::new(self.time_unix_nano.finish()),
            Arc::new(self.name.finish()),
            self.attributes.finish(fields[2].data_type()),
            Arc::new(self.dropped_attributes_count.finish()),
        ];
        finish_list(list_type, &mut self.offsets, children)
    }
}

struct LinksColumn {
    offsets: Vec<i32>,
    trace_id: StringBuilder,
    span_id: StringBuilder,
    trace_state: StringBuilder,
    attributes: MapColumn,
    dropped_attributes_count: Int32Builder,
    flags: Int64Builder,
}

impl Default for LinksColumn {
    fn default() -> Self {
        Self {
            offsets: vec![0],
            trace_id: StringBuilder::new(),
            span_id: StringBuilder::new(),
            trace_state: StringBuilder::new(),
            attributes: MapColumn::new(),
            dropped_attributes_count: Int32Builder::new(),
            flags: Int64Builder::new(),
        }
    }
}

impl LinksColumn {
    fn bytes(&self) -> u64 {
        // flags (8), dropped count (4) per link; an offset per span.
        12 * self.trace_id.len() as u64
            + string_bytes(&self.trace_id)
            + string_bytes(&self.span_id)
            + string_bytes(&self.trace_state)
            + self.attributes.bytes()
            + 4 * self.offsets.len() as u64
    }

    fn append(&mut self, links: &[LinkRow<'_>]) {
        for link in links {
            self.trace_id.append_option(link.trace_id);
            self.span_id.append_option(link.span_id);
            self.trace_state.append_option(link.trace_state);
            self.attributes.append(link.attributes);
            self.dropped_attributes_count
                .append_value(link.dropped_attributes_count as i32);
            self.flags.append_value(i64::from(link.flags));
        }
        self.offsets.push(self.trace_id.len() as i32);
    }

    fn finish(&mut self, list_type: &DataType) -> ArrayRef {
        let (_, fields) = element_fields(list_type);
        let children: Vec<ArrayRef> = vec![
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.trace_state.finish()),
            self.attributes.finish(fields[3].data_type()),
            Arc::new(self.dropped_attributes_count.finish()),
            Arc::new(self.flags.finish()),
        ];
        finish_list(list_type, &mut self.offsets, children)
    }
}
