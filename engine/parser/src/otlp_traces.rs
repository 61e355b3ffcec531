//! `ExportTraceServiceRequest` protobuf bytes straight into a `traces` record batch (same
//! approach as the logs decoder: borrowed strings, arena scratch, no prost structs).

use bumpalo::Bump;
use bumpalo::collections::Vec as BumpVec;

use crate::anyvalue::render_key_value;
use crate::budget::{DecodeBudget, Decoded, ITEM_EXPANSION, OnInvalid, ROW_FIXED, metered};
use crate::error::Result;
use crate::otlp_common::{TRACES, id, nanos, non_empty, walk_envelope};
use crate::traces_builder::{EventRow, LinkRow, SpanRow, TracesBuilder};
use crate::wire::{FIXED32, FIXED64, LEN, Reader, VARINT};

/// Decodes OTLP traces requests; keep one per thread and reuse it.
#[derive(Default)]
pub struct OtlpTracesDecoder {
    arena: Bump,
    builder: TracesBuilder,
}

impl OtlpTracesDecoder {
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
        let (arena, builder) = (&self.arena, &mut self.builder);
        let outcome = metered(budget, mode, |sink| {
            walk_envelope(
                arena,
                request,
                &TRACES,
                &mut |resource, scope, shared, bytes, offset| match decode_span(
                    arena, bytes, offset, received,
                ) {
                    Ok(span) => {
                        builder.append(resource, scope, &span);
                        let bound = ROW_FIXED + shared + ITEM_EXPANSION * bytes.len() as u64;
                        sink.check_bounded(bound, || {
                            builder.bytes() + arena.allocated_bytes() as u64
                        })
                    }
                    Err(err) => sink.reject(err, 1),
                },
            )
        });
        let batch = self.builder.finish();
        outcome.map(|rejects| rejects.into_decoded(batch))
    }
}

fn decode_span<'a>(
    arena: &'a Bump,
    buf: &'a [u8],
    base: usize,
    received: i64,
) -> Result<SpanRow<'a>> {
    let mut reader = Reader::new(buf, base);
    let mut span = SpanRow::default();
    let mut attributes = BumpVec::new_in(arena);
    let mut events = BumpVec::new_in(arena);
    let mut links = BumpVec::new_in(arena);
    while let Some((field, wire_type)) = reader.next_key("Span")? {
        match field {
            1 => {
                reader.expect(wire_type, LEN, "Span.trace_id")?;
                span.trace_id = id(arena, &mut reader, 16, "Span.trace_id")?;
            }
            2 => {
                reader.expect(wire_type, LEN, "Span.span_id")?;
                span.span_id = id(arena, &mut reader, 8, "Span.span_id")?;
            }
            3 => {
                reader.expect(wire_type, LEN, "Span.trace_state")?;
                span.trace_state = non_empty(reader.str("Span.trace_state")?);
            }
            4 => {
                reader.expect(wire_type, LEN, "Span.parent_span_id")?;
                span.parent_span_id = id(arena, &mut reader, 8, "Span.parent_span_id")?;
            }
            5 => {
                reader.expect(wire_type, LEN, "Span.name")?;
                span.name = non_empty(reader.str("Span.name")?);
            }
            6 => {
                reader.expect(wire_type, VARINT, "Span.kind")?;
                span.kind = reader.varint("Span.kind")? as i32;
            }
            7 => {
                reader.expect(wire_type, FIXED64, "Span.start_time_unix_nano")?;
                let value = reader.fixed64("Span.start_time_unix_nano")?;
                span.start_time_unix_nano = nanos(&reader, value, "Span.start_time_unix_nano")?;
            }
            8 => {
                reader.expect(wire_type, FIXED64, "Span.end_time_unix_nano")?;
                let value = reader.fixed64("Span.end_time_unix_nano")?;
                span.end_time_unix_nano = nanos(&reader, value, "Span.end_time_unix_nano")?;
            }
            9 => {
                reader.expect(wire_type, LEN, "Span.attributes")?;
                let (bytes, offset) = reader.bytes("Span.attributes")?;
                attributes.push(render_key_value(arena, bytes, offset)?);
            }
            10 => {
                reader.expect(wire_type, VARINT, "Span.dropped_attributes_count")?;
                span.dropped_attributes_count =
                    reader.varint("Span.dropped_attributes_count")? as u32;
            }
            11 => {
                reader.expect(wire_type, LEN, "Span.events")?;
                let (bytes, offset) = reader.bytes("Span.events")?;
                events.push(decode_event(arena, bytes, offset)?);
            }
            12 => {
                reader.expect(wire_type, VARINT, "Span.dropped_events_count")?;
                span.dropped_events_count = reader.varint("Span.dropped_events_count")? as u32;
            }
            13 => {
                reader.expect(wire_type, LEN, "Span.links")?;
                let (bytes, offset) = reader.bytes("Span.links")?;
                links.push(decode_link(arena, bytes, offset)?);
            }
            14 => {
                reader.expect(wire_type, VARINT, "Span.dropped_links_count")?;
                span.dropped_links_count = reader.varint("Span.dropped_links_count")? as u32;
            }
            15 => {
                reader.expect(wire_type, LEN, "Span.status")?;
                let (bytes, offset) = reader.bytes("Span.status")?;
                decode_status(bytes, offset, &mut span)?;
            }
            16 => {
                reader.expect(wire_type, FIXED32, "Span.flags")?;
                span.flags = reader.fixed32("Span.flags")?;
            }
            _ => reader.skip(wire_type, "Span")?,
        }
    }
    span.timestamp_nanos = span.start_time_unix_nano.unwrap_or(received);
    span.attributes = attributes.into_bump_slice();
    span.events = events.into_bump_slice();
    span.links = links.into_bump_slice();
    Ok(span)
}

fn decode_status<'a>(buf: &'a [u8], base: usize, span: &mut SpanRow<'a>) -> Result<()> {
    let mut reader = Reader::new(buf, base);
    while let Some((field, wire_type)) = reader.next_key("Status")? {
        match field {
            2 => {
                reader.expect(wire_type, LEN, "Status.message")?;
                span.status_message = non_empty(reader.str("Status.message")?);
            }
            3 => {
                reader.expect(wire_type, VARINT, "Status.code")?;
                span.status_code = reader.varint("Status.code")? as i32;
            }
            _ => reader.skip(wire_type, "Status")?,
        }
    }
    Ok(())
}

fn decode_event<'a>(arena: &'a Bump, buf: &'a [u8], base: usize) -> Result<EventRow<'a>> {
    let mut reader = Reader::new(buf, base);
    let mut event = EventRow::default();
    let mut attributes = BumpVec::new_in(arena);
    while let Some((field, wire_type)) = reader.next_key("Span.Event")? {
        match field {
            1 => {
                reader.expect(wire_type, FIXED64, "Span.Event.time_unix_nano")?;
                let value = reader.fixed64("Span.Event.time_unix_nano")?;
                event.time_unix_nano = nanos(&reader, value, "Span.Event.time_unix_nano")?;
            }
            2 => {
                reader.expect(wire_type, LEN, "Span.Event.name")?;
                event.name = non_empty(reader.str("Span.Event.name")?);
            }
            3 => {
                reader.expect(wire_type, LEN, "Span.Event.attributes")?;
                let (bytes, offset) = reader.bytes("Span.Event.attributes")?;
                attributes.push(render_key_value(arena, bytes, offset)?);
            }
            4 => {
                reader.expect(wire_type, VARINT, "Span.Event.dropped_attributes_count")?;
                event.dropped_attributes_count =
                    reader.varint("Span.Event.dropped_attributes_count")? as u32;
            }
            _ => reader.skip(wire_type, "Span.Event")?,
        }
    }
    event.attributes = attributes.into_bump_slice();
    Ok(event)
}

fn decode_link<'a>(arena: &'a Bump, buf: &'a [u8], base: usize) -> Result<LinkRow<'a>> {
    let mut reader = Reader::new(buf, base);
    let mut link = LinkRow::default();
    let mut attributes = BumpVec::new_in(arena);
    while let Some((field, wire_type)) = reader.next_key("Span.Link")? {
        match field {
            1 => {
                reader.expect(wire_type, LEN, "Span.Link.trace_id")?;
                link.trace_id = id(arena, &mut reader, 16, "Span.Link.trace_id")?;
            }
            2 => {
                reader.expect(wire_type, LEN, "Span.Link.span_id")?;
                link.span_id = id(arena, &mut reader, 8, "Span.Link.span_id")?;
            }
            3 => {
                reader.expect(wire_type, LEN, "Span.Link.trace_state")?;
                link.trace_state = non_empty(reader.str("Span.Link.trace_state")?);
            }
            4 => {
                reader.expect(wire_type, LEN, "Span.Link.attributes")?;
                let (bytes, offset) = reader.bytes("Span.Link.attributes")?;
                attributes.push(render_key_value(arena, bytes, offset)?);
            }
            5 => {
                reader.expect(wire_type, VARINT, "Span.Link.dropped_attributes_count")?;
                link.dropped_attributes_count =
                    reader.varint("Span.Link.dropped_attributes_count")? as u32;
            }
            6 => {
                reader.expect(wire_type, FIXED32, "Span.Link.flags")?;
                link.flags = reader.fixed32("Span.Link.flags")?;
            }
            _ => reader.skip(wire_type, "Span.Link")?,
        }
    }
    link.attributes = attributes.into_bump_slice();
    Ok(link)
}
