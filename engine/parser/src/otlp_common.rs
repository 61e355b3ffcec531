//! Protobuf pieces every OTLP signal shares: resources, instrumentation scopes, ids, times.

use bumpalo::Bump;
use bumpalo::collections::Vec as BumpVec;

use crate::anyvalue::{hex, render_key_value};
use crate::error::Result;
use crate::fields::{ResourceFields, ScopeFields};
use crate::wire::{LEN, Reader, VARINT};

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
