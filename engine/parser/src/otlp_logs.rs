//! `ExportLogsServiceRequest` protobuf bytes straight into a `logs` record batch, without
//! materialising prost messages: strings are borrowed from the request, per-request scratch
//! (attribute lists, rendered values, hex ids) lives in a bump arena that is reset, not freed.

use bumpalo::Bump;
use bumpalo::collections::Vec as BumpVec;

use crate::anyvalue::{render, render_key_value};
use crate::budget::{DecodeBudget, Decoded, ITEM_EXPANSION, OnInvalid, ROW_FIXED, Sink, metered};
use crate::error::Result;
use crate::fields::{Attribute, effective_time};
use crate::logs_builder::{LogRow, LogsBuilder};
use crate::otlp_common::{LOGS, id, nanos, non_empty, walk_envelope};
use crate::wire::{FIXED32, FIXED64, LEN, Reader, VARINT};

/// Decodes OTLP logs requests; keep one per thread and reuse it (its arena and builders keep
/// their capacity between requests).
#[derive(Default)]
pub struct OtlpLogsDecoder {
    arena: Bump,
    builder: LogsBuilder,
}

impl OtlpLogsDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    crate::budget::entry_points!("log records");

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
            decode_request(arena, request, received, builder, sink)
        });
        let batch = self.builder.finish();
        outcome.map(|rejects| rejects.into_decoded(batch))
    }
}

fn decode_request(
    arena: &Bump,
    request: &[u8],
    received: i64,
    out: &mut LogsBuilder,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let mut attributes = BumpVec::new_in(arena);
    walk_envelope(
        arena,
        request,
        &LOGS,
        &mut |resource, scope, shared, bytes, offset| {
            attributes.clear();
            match decode_log_record(arena, bytes, offset, received, &mut attributes) {
                Ok(row) => {
                    out.append(
                        resource,
                        scope,
                        &LogRow {
                            attributes: &attributes,
                            ..row
                        },
                    );
                    let bound = ROW_FIXED + shared + ITEM_EXPANSION * bytes.len() as u64;
                    sink.check_bounded(bound, || out.bytes() + arena.allocated_bytes() as u64)
                }
                Err(err) => sink.reject(err, 1),
            }
        },
    )
}

fn decode_log_record<'a>(
    arena: &'a Bump,
    buf: &'a [u8],
    base: usize,
    received: i64,
    attributes: &mut BumpVec<'a, Attribute<'a>>,
) -> Result<LogRow<'a>> {
    let mut reader = Reader::new(buf, base);
    let mut row = LogRow::default();
    while let Some((field, wire_type)) = reader.next_key("LogRecord")? {
        match field {
            1 => {
                reader.expect(wire_type, FIXED64, "LogRecord.time_unix_nano")?;
                let value = reader.fixed64("LogRecord.time_unix_nano")?;
                row.time_unix_nano = nanos(&reader, value, "LogRecord.time_unix_nano")?;
            }
            11 => {
                reader.expect(wire_type, FIXED64, "LogRecord.observed_time_unix_nano")?;
                let value = reader.fixed64("LogRecord.observed_time_unix_nano")?;
                row.observed_time_unix_nano =
                    nanos(&reader, value, "LogRecord.observed_time_unix_nano")?;
            }
            2 => {
                reader.expect(wire_type, VARINT, "LogRecord.severity_number")?;
                // An enum is an int32 on the wire; negative values arrive sign-extended.
                let number = reader.varint("LogRecord.severity_number")? as i32;
                row.severity_number = (number != 0).then_some(number);
            }
            3 => {
                reader.expect(wire_type, LEN, "LogRecord.severity_text")?;
                row.severity_text = non_empty(reader.str("LogRecord.severity_text")?);
            }
            5 => {
                reader.expect(wire_type, LEN, "LogRecord.body")?;
                let (bytes, offset) = reader.bytes("LogRecord.body")?;
                row.body = render(arena, bytes, offset)?;
            }
            6 => {
                reader.expect(wire_type, LEN, "LogRecord.attributes")?;
                let (bytes, offset) = reader.bytes("LogRecord.attributes")?;
                attributes.push(render_key_value(arena, bytes, offset)?);
            }
            7 => {
                reader.expect(wire_type, VARINT, "LogRecord.dropped_attributes_count")?;
                row.dropped_attributes_count =
                    reader.varint("LogRecord.dropped_attributes_count")? as u32;
            }
            8 => {
                reader.expect(wire_type, FIXED32, "LogRecord.flags")?;
                row.flags = reader.fixed32("LogRecord.flags")?;
            }
            9 => {
                reader.expect(wire_type, LEN, "LogRecord.trace_id")?;
                row.trace_id = id(arena, &mut reader, 16, "LogRecord.trace_id")?;
            }
            10 => {
                reader.expect(wire_type, LEN, "LogRecord.span_id")?;
                row.span_id = id(arena, &mut reader, 8, "LogRecord.span_id")?;
            }
            12 => {
                reader.expect(wire_type, LEN, "LogRecord.event_name")?;
                row.event_name = non_empty(reader.str("LogRecord.event_name")?);
            }
            _ => reader.skip(wire_type, "LogRecord")?,
        }
    }
    row.timestamp_nanos = effective_time(row.time_unix_nano, row.observed_time_unix_nano, received);
    Ok(row)
}
