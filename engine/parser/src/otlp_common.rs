//! Protobuf pieces every OTLP signal shares: resources, instrumentation scopes, ids, times.

use bumpalo::Bump;
use bumpalo::collections::Vec as BumpVec;

use crate::anyvalue::{hex, render_key_value};
use crate::error::Result;
use crate::fields::{ResourceFields, ScopeFields};
use crate::wire::{LEN, Reader, VARINT};
use icegate_schema::UNKNOWN_SERVICE;

pub(crate) fn decode_resource<'a>(
    arena: &'a Bump,
    buf: &'a [u8],
    base: usize,
    resource: &mut ResourceFields<'a>,
) -> Result<()> {
    let mut reader = Reader::new(buf, base);
    let mut attributes = BumpVec::new_in(arena);
    while let Some((field, wire_type)) = reader.next_key("Resource")? {
        match field {
            1 => {
                reader.expect(wire_type, LEN, "Resource.attributes")?;
                let (bytes, offset) = reader.bytes("Resource.attributes")?;
                let attribute = render_key_value(arena, bytes, offset)?;
                if attribute.0 == "service.name"
                    && let Some(name) = attribute.1
                {
                    resource.service_name = name;
                }
                attributes.push(attribute);
            }
            2 => {
                reader.expect(wire_type, VARINT, "Resource.dropped_attributes_count")?;
                resource.dropped_attributes_count =
                    reader.varint("Resource.dropped_attributes_count")? as u32;
            }
            _ => reader.skip(wire_type, "Resource")?,
        }
    }
    resource.attributes = attributes.into_bump_slice();
    Ok(())
}

pub(crate) fn decode_scope<'a>(
    arena: &'a Bump,
    buf: &'a [u8],
    base: usize,
    scope: &mut ScopeFields<'a>,
) -> Result<()> {
    let mut reader = Reader::new(buf, base);
    let mut attributes = BumpVec::new_in(arena);
    while let Some((field, wire_type)) = reader.next_key("InstrumentationScope")? {
        match field {
            1 => {
                reader.expect(wire_type, LEN, "InstrumentationScope.name")?;
                scope.name = non_empty(reader.str("InstrumentationScope.name")?);
            }
            2 => {
                reader.expect(wire_type, LEN, "InstrumentationScope.version")?;
                scope.version = non_empty(reader.str("InstrumentationScope.version")?);
            }
            3 => {
                reader.expect(wire_type, LEN, "InstrumentationScope.attributes")?;
                let (bytes, offset) = reader.bytes("InstrumentationScope.attributes")?;
                attributes.push(render_key_value(arena, bytes, offset)?);
            }
            4 => {
                reader.expect(
                    wire_type,
                    VARINT,
                    "InstrumentationScope.dropped_attributes_count",
                )?;
                scope.dropped_attributes_count =
                    reader.varint("InstrumentationScope.dropped_attributes_count")? as u32;
            }
            _ => reader.skip(wire_type, "InstrumentationScope")?,
        }
    }
    scope.attributes = attributes.into_bump_slice();
    Ok(())
}

/// A nanosecond timestamp: 0 means absent; beyond `i64` (the year 2262) is an error.
pub(crate) fn nanos(reader: &Reader<'_>, value: u64, field: &'static str) -> Result<Option<i64>> {
    match value {
        0 => Ok(None),
        v if v > i64::MAX as u64 => {
            Err(reader.error(field, format!("{v} ns is beyond the year 2262")))
        }
        v => Ok(Some(v as i64)),
    }
}

/// A trace or span id: empty means absent, otherwise exactly `len` bytes, stored as hex.
pub(crate) fn id<'a>(
    arena: &'a Bump,
    reader: &mut Reader<'a>,
    len: usize,
    field: &'static str,
) -> Result<Option<&'a str>> {
    let (bytes, _) = reader.bytes(field)?;
    match bytes.len() {
        0 => Ok(None),
        n if n == len => Ok(Some(hex(arena, bytes))),
        n => Err(reader.error(field, format!("{n} bytes, expected {len} or none"))),
    }
}

pub(crate) fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

/// The names of one signal's envelope messages and fields (for error messages). Logs,
/// traces and metrics nest identically: request field 1 holds `Resource*` messages, which
/// hold the resource (1), `Scope*` messages (2) and a schema URL (3); each `Scope*` holds the
/// scope (1), the items (2) and a schema URL (3).
pub(crate) struct Envelope {
    pub request: &'static str,
    pub request_items: &'static str,
    pub resource_message: &'static str,
    pub resource: &'static str,
    pub resource_items: &'static str,
    pub resource_schema_url: &'static str,
    pub scope_message: &'static str,
    pub scope: &'static str,
    pub scope_items: &'static str,
    pub scope_schema_url: &'static str,
}

pub(crate) const LOGS: Envelope = Envelope {
    request: "ExportLogsServiceRequest",
    request_items: "ExportLogsServiceRequest.resource_logs",
    resource_message: "ResourceLogs",
    resource: "ResourceLogs.resource",
    resource_items: "ResourceLogs.scope_logs",
    resource_schema_url: "ResourceLogs.schema_url",
    scope_message: "ScopeLogs",
    scope: "ScopeLogs.scope",
    scope_items: "ScopeLogs.log_records",
    scope_schema_url: "ScopeLogs.schema_url",
};

/// Called for every item with its resource, scope, the bytes those two add to each row
/// (for the decode budget), and the item's bytes and absolute offset.
pub(crate) type ItemVisitor<'a, 'f> =
    dyn FnMut(&ResourceFields<'a>, &ScopeFields<'a>, u64, &'a [u8], usize) -> Result<()> + 'f;

pub(crate) const TRACES: Envelope = Envelope {
    request: "ExportTraceServiceRequest",
    request_items: "ExportTraceServiceRequest.resource_spans",
    resource_message: "ResourceSpans",
    resource: "ResourceSpans.resource",
    resource_items: "ResourceSpans.scope_spans",
    resource_schema_url: "ResourceSpans.schema_url",
    scope_message: "ScopeSpans",
    scope: "ScopeSpans.scope",
    scope_items: "ScopeSpans.spans",
    scope_schema_url: "ScopeSpans.schema_url",
};

pub(crate) const METRICS: Envelope = Envelope {
    request: "ExportMetricsServiceRequest",
    request_items: "ExportMetricsServiceRequest.resource_metrics",
    resource_message: "ResourceMetrics",
    resource: "ResourceMetrics.resource",
    resource_items: "ResourceMetrics.scope_metrics",
    resource_schema_url: "ResourceMetrics.schema_url",
    scope_message: "ScopeMetrics",
    scope: "ScopeMetrics.scope",
    scope_items: "ScopeMetrics.metrics",
    scope_schema_url: "ScopeMetrics.schema_url",
};

/// Walks a request's envelope and calls `visit` with the resource, the scope and the bytes
/// (and offset) of every item (log record, span, metric), in order.
pub(crate) fn walk_envelope<'a>(
    arena: &'a Bump,
    request: &'a [u8],
    names: &Envelope,
    visit: &mut ItemVisitor<'a, '_>,
) -> Result<()> {
    let mut parts = Scratch::default();
    let mut reader = Reader::new(request, 0);
    while let Some((field, wire_type)) = reader.next_key(names.request)? {
        if field != 1 {
            reader.skip(wire_type, names.request)?;
            continue;
        }
        reader.expect(wire_type, LEN, names.request_items)?;
        let (bytes, offset) = reader.bytes(names.request_items)?;
        walk_resource(arena, bytes, offset, names, &mut parts, visit)?;
    }
    Ok(())
}

/// Most parts (scopes of a resource, items of a scope) kept for visiting after the fields
/// of their message; a message with more is read a second time instead, so millions of
/// empty parts cost no index.
const KEPT_PARTS: usize = 4096;

/// The parts of one message, found while its other fields are read (they may come in any
/// order, and the parts need them).
#[derive(Default)]
struct Parts<'a> {
    kept: Vec<(&'a [u8], usize)>,
    overflow: bool,
}

impl<'a> Parts<'a> {
    fn start(&mut self) {
        self.kept.clear();
        self.overflow = false;
    }

    fn push(&mut self, part: (&'a [u8], usize)) {
        if self.kept.len() < KEPT_PARTS {
            self.kept.push(part);
        } else {
            self.overflow = true;
        }
    }

    /// Calls `visit` with every part: the kept ones, or (after an overflow) each field
    /// `number` of the message in `buf` read again.
    fn visit(
        &self,
        buf: &'a [u8],
        base: usize,
        number: u32,
        message: &'static str,
        mut visit: impl FnMut(&'a [u8], usize) -> Result<()>,
    ) -> Result<()> {
        if !self.overflow {
            return self
                .kept
                .iter()
                .try_for_each(|&(bytes, offset)| visit(bytes, offset));
        }
        let mut reader = Reader::new(buf, base);
        while let Some((field, wire_type)) = reader.next_key(message)? {
            if field == number {
                let (bytes, offset) = reader.bytes(message)?;
                visit(bytes, offset)?;
            } else {
                reader.skip(wire_type, message)?;
            }
        }
        Ok(())
    }
}

/// Reused part lists: a resource's scopes, and the items of the scope being walked.
#[derive(Default)]
struct Scratch<'a> {
    scopes: Parts<'a>,
    items: Parts<'a>,
}

fn walk_resource<'a>(
    arena: &'a Bump,
    buf: &'a [u8],
    base: usize,
    names: &Envelope,
    scratch: &mut Scratch<'a>,
    visit: &mut ItemVisitor<'a, '_>,
) -> Result<()> {
    // Fields may come in any order: find the resource before visiting the scopes under it.
    let mut reader = Reader::new(buf, base);
    let mut resource = ResourceFields {
        service_name: UNKNOWN_SERVICE,
        ..ResourceFields::default()
    };
    let mut scopes = std::mem::take(&mut scratch.scopes);
    scopes.start();
    while let Some((field, wire_type)) = reader.next_key(names.resource_message)? {
        match field {
            1 => {
                reader.expect(wire_type, LEN, names.resource)?;
                let (bytes, offset) = reader.bytes(names.resource)?;
                decode_resource(arena, bytes, offset, &mut resource)?;
            }
            2 => {
                reader.expect(wire_type, LEN, names.resource_items)?;
                scopes.push(reader.bytes(names.resource_items)?);
            }
            3 => {
                reader.expect(wire_type, LEN, names.resource_schema_url)?;
                resource.schema_url = non_empty(reader.str(names.resource_schema_url)?);
            }
            _ => reader.skip(wire_type, names.resource_message)?,
        }
    }
    let outcome = scopes.visit(buf, base, 2, names.resource_items, |bytes, offset| {
        walk_scope(
            arena,
            bytes,
            offset,
            names,
            &resource,
            &mut scratch.items,
            visit,
        )
    });
    scratch.scopes = scopes;
    outcome
}

fn walk_scope<'a>(
    arena: &'a Bump,
    buf: &'a [u8],
    base: usize,
    names: &Envelope,
    resource: &ResourceFields<'a>,
    items: &mut Parts<'a>,
    visit: &mut ItemVisitor<'a, '_>,
) -> Result<()> {
    let mut reader = Reader::new(buf, base);
    let mut scope = ScopeFields::default();
    items.start();
    while let Some((field, wire_type)) = reader.next_key(names.scope_message)? {
        match field {
            1 => {
                reader.expect(wire_type, LEN, names.scope)?;
                let (bytes, offset) = reader.bytes(names.scope)?;
                decode_scope(arena, bytes, offset, &mut scope)?;
            }
            2 => {
                reader.expect(wire_type, LEN, names.scope_items)?;
                items.push(reader.bytes(names.scope_items)?);
            }
            3 => {
                reader.expect(wire_type, LEN, names.scope_schema_url)?;
                scope.schema_url = non_empty(reader.str(names.scope_schema_url)?);
            }
            _ => reader.skip(wire_type, names.scope_message)?,
        }
    }
    let shared = resource.row_bytes() + scope.row_bytes();
    items.visit(buf, base, 2, names.scope_items, |bytes, offset| {
        visit(resource, &scope, shared, bytes, offset)
    })
}
