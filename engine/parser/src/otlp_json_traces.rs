//! OTLP/JSON `ExportTraceServiceRequest` into a `traces` batch (encoding rules as for logs).

use bumpalo::Bump;
use bumpalo::collections::Vec as BumpVec;
use simd_json::BorrowedValue as Json;

use crate::budget::{DecodeBudget, Decoded, OnInvalid, metered};
use crate::error::Result;
use crate::otlp_json::{
    JsonParser, TRACES, array, attributes, enum_value, hex_id, member, nanos, object, string,
    unsigned, walk_envelope, within,
};
use crate::traces_builder::{EventRow, LinkRow, SpanRow, TracesBuilder};

const SPAN_KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
const STATUS_CODES: [&str; 3] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

/// Decodes OTLP/JSON traces requests; keep one per thread and reuse it.
#[derive(Default)]
pub struct OtlpJsonTracesDecoder {
    arena: Bump,
    builder: TracesBuilder,
    parser: JsonParser,
}

impl OtlpJsonTracesDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    crate::budget::entry_points!("spans");

    fn run(
        &mut self,
        request: &[u8],
        received: i64,
        budget: &mut dyn DecodeBudget,
        mode: OnInvalid,
    ) -> Result<Decoded> {
        crate::budget::reuse(&mut self.arena);
        let (arena, builder, parser) = (&self.arena, &mut self.builder, &mut self.parser);
        let outcome = metered(budget, mode, |sink| {
            let root = parser.parse(request, sink)?;
            walk_envelope(
                arena,
                &root,
                &TRACES,
                &mut |resource, scope, item| match decode_span(arena, item, received) {
                    Ok(span) => {
                        builder.append(resource, scope, &span);
                        sink.check(builder.bytes() + arena.allocated_bytes() as u64)
                    }
                    Err(err) => sink.reject(err, 1),
                },
            )
        });
        let batch = self.builder.finish();
        outcome.map(|rejects| rejects.into_decoded(batch))
    }
}

fn u32_member(value: &Json<'_>, camel: &str, snake: &str) -> Result<u32> {
    Ok(unsigned(value, camel, snake, u32::MAX.into())? as u32)
}

fn decode_span<'a>(arena: &'a Bump, value: &'a Json<'a>, received: i64) -> Result<SpanRow<'a>> {
    object(value, "span")?;
    let start = nanos(value, "startTimeUnixNano", "start_time_unix_nano")?;
    let mut events = BumpVec::new_in(arena);
    for (i, event) in array(value, "events", "events")?.iter().enumerate() {
        events.push(decode_event(arena, event).map_err(within(|| format!("events[{i}]")))?);
    }
    let mut links = BumpVec::new_in(arena);
    for (i, link) in array(value, "links", "links")?.iter().enumerate() {
        links.push(decode_link(arena, link).map_err(within(|| format!("links[{i}]")))?);
    }
    let (status_code, status_message) = match member(value, "status", "status") {
        Some(status) => {
            object(status, "status")?;
            let inside = || "status".to_string();
            (
                enum_value(status, "code", "code", &STATUS_CODES).map_err(within(inside))?,
                string(status, "message", "message")
                    .map_err(within(inside))?
                    .filter(|s| !s.is_empty()),
            )
        }
        None => (0, None),
    };
    Ok(SpanRow {
        timestamp_nanos: start.unwrap_or(received),
        start_time_unix_nano: start,
        end_time_unix_nano: nanos(value, "endTimeUnixNano", "end_time_unix_nano")?,
        trace_id: hex_id(arena, value, "traceId", "trace_id", 16)?,
        span_id: hex_id(arena, value, "spanId", "span_id", 8)?,
        parent_span_id: hex_id(arena, value, "parentSpanId", "parent_span_id", 8)?,
        trace_state: string(value, "traceState", "trace_state")?.filter(|s| !s.is_empty()),
        name: string(value, "name", "name")?.filter(|s| !s.is_empty()),
        kind: enum_value(value, "kind", "kind", &SPAN_KINDS)?,
        status_code,
        status_message,
        flags: u32_member(value, "flags", "flags")?,
        attributes: attributes(arena, value)?,
        dropped_attributes_count: u32_member(
            value,
            "droppedAttributesCount",
            "dropped_attributes_count",
        )?,
        events: events.into_bump_slice(),
        dropped_events_count: u32_member(value, "droppedEventsCount", "dropped_events_count")?,
        links: links.into_bump_slice(),
        dropped_links_count: u32_member(value, "droppedLinksCount", "dropped_links_count")?,
    })
}

fn decode_event<'a>(arena: &'a Bump, value: &'a Json<'a>) -> Result<EventRow<'a>> {
    object(value, "event")?;
    Ok(EventRow {
        time_unix_nano: nanos(value, "timeUnixNano", "time_unix_nano")?,
        name: string(value, "name", "name")?.filter(|s| !s.is_empty()),
        attributes: attributes(arena, value)?,
        dropped_attributes_count: u32_member(
            value,
            "droppedAttributesCount",
            "dropped_attributes_count",
        )?,
    })
}

fn decode_link<'a>(arena: &'a Bump, value: &'a Json<'a>) -> Result<LinkRow<'a>> {
    object(value, "link")?;
    Ok(LinkRow {
        trace_id: hex_id(arena, value, "traceId", "trace_id", 16)?,
        span_id: hex_id(arena, value, "spanId", "span_id", 8)?,
        trace_state: string(value, "traceState", "trace_state")?.filter(|s| !s.is_empty()),
        attributes: attributes(arena, value)?,
        dropped_attributes_count: u32_member(
            value,
            "droppedAttributesCount",
            "dropped_attributes_count",
        )?,
        flags: u32_member(value, "flags", "flags")?,
    })
}
