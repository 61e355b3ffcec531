//! OTLP `AnyValue` straight from protobuf bytes to the text the tables store (the rendering
//! rules are in `icegate_schema`'s docs): strings are borrowed from the request, everything
//! else is rendered once into the per-request arena.

use base64::Engine as _;
use bumpalo::Bump;
use bumpalo::collections::String as BumpString;

use crate::error::{DecodeError, Result};
use crate::wire::{FIXED64, LEN, Reader, VARINT};

/// How deep arrays and key-value lists may nest inside one value.
pub const MAX_DEPTH: usize = 32;

/// One decoded `AnyValue` (the last oneof member present wins, as protobuf specifies).
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Empty,
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(&'a [u8]),
    /// An `ArrayValue` or `KeyValueList` message, not decoded yet, and its offset.
    Array(&'a [u8], usize),
    KvList(&'a [u8], usize),
}

fn parse(buf: &[u8], base: usize) -> Result<Value<'_>> {
    let mut reader = Reader::new(buf, base);
    let mut value = Value::Empty;
    while let Some((field, wire_type)) = reader.next_key("AnyValue")? {
        value = match field {
            1 => {
                reader.expect(wire_type, LEN, "AnyValue.string_value")?;
                Value::Str(reader.str("AnyValue.string_value")?)
            }
            2 => {
                reader.expect(wire_type, VARINT, "AnyValue.bool_value")?;
                Value::Bool(reader.varint("AnyValue.bool_value")? != 0)
            }
            3 => {
                reader.expect(wire_type, VARINT, "AnyValue.int_value")?;
                Value::Int(reader.varint("AnyValue.int_value")? as i64)
            }
            4 => {
                reader.expect(wire_type, FIXED64, "AnyValue.double_value")?;
                Value::Double(f64::from_bits(reader.fixed64("AnyValue.double_value")?))
            }
            5 => {
                reader.expect(wire_type, LEN, "AnyValue.array_value")?;
                let (bytes, offset) = reader.bytes("AnyValue.array_value")?;
                Value::Array(bytes, offset)
            }
            6 => {
                reader.expect(wire_type, LEN, "AnyValue.kvlist_value")?;
                let (bytes, offset) = reader.bytes("AnyValue.kvlist_value")?;
                Value::KvList(bytes, offset)
            }
            7 => {
                reader.expect(wire_type, LEN, "AnyValue.bytes_value")?;
                Value::Bytes(reader.bytes("AnyValue.bytes_value")?.0)
            }
            // `string_value_strindex` points into a profiles string table; outside profiles
            // it means nothing, and as the last member set it leaves the value empty.
            8 => {
                reader.skip(wire_type, "AnyValue")?;
                Value::Empty
            }
            _ => {
                reader.skip(wire_type, "AnyValue")?;
                value
            }
        };
    }
    Ok(value)
}

/// Renders the `AnyValue` in `buf` (at absolute offset `base`) as a column value; `None` when
/// no value is set.
pub(crate) fn render<'a>(arena: &'a Bump, buf: &'a [u8], base: usize) -> Result<Option<&'a str>> {
    let value = parse(buf, base)?;
    Ok(Some(match value {
        Value::Empty => return Ok(None),
        Value::Str(text) => text,
        Value::Bool(true) => "true",
        Value::Bool(false) => "false",
        Value::Int(int) => arena.alloc_str(itoa::Buffer::new().format(int)),
        Value::Double(double) => arena.alloc_str(&top_level_double(double)),
        Value::Bytes(bytes) => {
            let mut out = BumpString::with_capacity_in(bytes.len().div_ceil(3) * 4, arena);
            push_base64(&mut out, bytes);
            out.into_bump_str()
        }
        Value::Array(..) | Value::KvList(..) => {
            let mut out = BumpString::with_capacity_in(buf.len() + 16, arena);
            write_json(&mut out, value, 0)?;
            out.into_bump_str()
        }
    }))
}

/// A top-level double: its JSON literal, or `NaN` / `inf` / `-inf`.
pub(crate) fn top_level_double(double: f64) -> JsonDouble {
    let mut text = JsonDouble::default();
    if double.is_finite() {
        text.format_finite(double);
    } else {
        let name = if double.is_nan() {
            "NaN"
        } else if double > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        text.push(name);
    }
    text
}

/// A finite double's shortest round-trip text, spelled as JSON writers (serde_json, Python)
/// spell it: `1.5`, `1.0`, `1e-7`, `1.3e+120`. Lives on the stack.
#[derive(Default)]
pub(crate) struct JsonDouble {
    bytes: [u8; 32],
    len: usize,
}

impl JsonDouble {
    fn push(&mut self, text: &str) {
        self.bytes[self.len..self.len + text.len()].copy_from_slice(text.as_bytes());
        self.len += text.len();
    }

    fn format_finite(&mut self, double: f64) {
        let mut buffer = ryu::Buffer::new();
        let text = buffer.format_finite(double);
        match text.split_once('e') {
            Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                self.push(mantissa);
                self.push("e+");
                self.push(exponent);
            }
            _ => self.push(text),
        }
    }

    pub(crate) fn finite(double: f64) -> Self {
        let mut text = Self::default();
        text.format_finite(double);
        text
    }
}

impl std::ops::Deref for JsonDouble {
    type Target = str;

    fn deref(&self) -> &str {
        // Only ASCII from ryu and literals was pushed.
        std::str::from_utf8(&self.bytes[..self.len]).expect("ASCII")
    }
}

fn write_json(out: &mut BumpString<'_>, value: Value<'_>, depth: usize) -> Result<()> {
    if depth >= MAX_DEPTH {
        return Err(DecodeError::TooDeep {
            field: "AnyValue",
            limit: MAX_DEPTH,
        });
    }
    match value {
        Value::Empty => out.push_str("null"),
        Value::Str(text) => push_json_string(out, text),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(int) => out.push_str(itoa::Buffer::new().format(int)),
        Value::Double(double) if double.is_finite() => out.push_str(&JsonDouble::finite(double)),
        Value::Double(_) => out.push_str("null"),
        Value::Bytes(bytes) => {
            out.push('"');
            push_base64(out, bytes);
            out.push('"');
        }
        Value::Array(bytes, base) => {
            out.push('[');
            let mut reader = Reader::new(bytes, base);
            let mut first = true;
            while let Some((field, wire_type)) = reader.next_key("ArrayValue")? {
                if field != 1 {
                    reader.skip(wire_type, "ArrayValue")?;
                    continue;
                }
                reader.expect(wire_type, LEN, "ArrayValue.values")?;
                let (item, offset) = reader.bytes("ArrayValue.values")?;
                if !first {
                    out.push(',');
                }
                first = false;
                write_json(out, parse(item, offset)?, depth + 1)?;
            }
            out.push(']');
        }
        Value::KvList(bytes, base) => {
            out.push('{');
            let mut reader = Reader::new(bytes, base);
            let mut first = true;
            while let Some((field, wire_type)) = reader.next_key("KeyValueList")? {
                if field != 1 {
                    reader.skip(wire_type, "KeyValueList")?;
                    continue;
                }
                reader.expect(wire_type, LEN, "KeyValueList.values")?;
                let (pair, offset) = reader.bytes("KeyValueList.values")?;
                let (key, value) = parse_key_value(pair, offset)?;
                if !first {
                    out.push(',');
                }
                first = false;
                push_json_string(out, key);
                out.push(':');
                match value {
                    Some((bytes, offset)) => write_json(out, parse(bytes, offset)?, depth + 1)?,
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
    Ok(())
}

/// A length-delimited field not decoded yet, with its absolute offset.
pub(crate) type Undecoded<'a> = (&'a [u8], usize);

/// A `KeyValue`: its key and its value's bytes (not yet decoded).
pub(crate) fn parse_key_value(buf: &[u8], base: usize) -> Result<(&str, Option<Undecoded<'_>>)> {
    let mut reader = Reader::new(buf, base);
    let mut key = "";
    let mut value = None;
    while let Some((field, wire_type)) = reader.next_key("KeyValue")? {
        match field {
            1 => {
                reader.expect(wire_type, LEN, "KeyValue.key")?;
                key = reader.str("KeyValue.key")?;
            }
            2 => {
                reader.expect(wire_type, LEN, "KeyValue.value")?;
                value = Some(reader.bytes("KeyValue.value")?);
            }
            _ => reader.skip(wire_type, "KeyValue")?,
        }
    }
    Ok((key, value))
}

/// Decodes a `KeyValue` into (key, rendered value).
pub(crate) fn render_key_value<'a>(
    arena: &'a Bump,
    buf: &'a [u8],
    base: usize,
) -> Result<(&'a str, Option<&'a str>)> {
    let (key, value) = parse_key_value(buf, base)?;
    let value = match value {
        Some((bytes, offset)) => render(arena, bytes, offset)?,
        None => None,
    };
    Ok((key, value))
}

/// Appends `text` as a JSON string literal, escaping exactly as `serde_json` does.
pub(crate) fn push_json_string(out: &mut BumpString<'_>, text: &str) {
    out.push('"');
    let mut start = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escape: &str = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[start..index]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(byte >> 4) as usize] as char);
            out.push(HEX[(byte & 0xf) as usize] as char);
        } else {
            out.push_str(escape);
        }
        start = index + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

pub(crate) fn push_base64(out: &mut BumpString<'_>, bytes: &[u8]) {
    let mut chunk = [0u8; 1024];
    for piece in bytes.chunks(768) {
        let written = base64::engine::general_purpose::STANDARD
            .encode_slice(piece, &mut chunk)
            .expect("768 bytes encode into 1024");
        // base64 output is ASCII.
        out.push_str(std::str::from_utf8(&chunk[..written]).expect("ASCII"));
    }
}

/// Lowercase hex of an id (at most 16 bytes), into the arena.
pub(crate) fn hex<'a>(arena: &'a Bump, bytes: &[u8]) -> &'a str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 32];
    for (pair, byte) in text.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[(byte >> 4) as usize];
        pair[1] = HEX[(byte & 0xf) as usize];
    }
    let text = &text[..bytes.len().min(16) * 2];
    arena.alloc_str(std::str::from_utf8(text).expect("hex digits are ASCII"))
}
