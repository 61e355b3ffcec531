//! OTLP/JSON pieces every signal shares: member lookup under both key spellings, numbers as
//! numbers or strings, hex ids, attributes, and `AnyValue` rendering by the same rules as the
//! protobuf path.

use base64::Engine as _;
use bumpalo::Bump;
use bumpalo::collections::String as BumpString;
use bumpalo::collections::Vec as BumpVec;
use simd_json::{BorrowedValue as Json, StaticNode};

use crate::anyvalue::{JsonDouble, MAX_DEPTH, push_base64, push_json_string, top_level_double};
use crate::budget::Sink;
use crate::error::{DecodeError, Result};
use icegate_schema::UNKNOWN_SERVICE;

use crate::fields::{Attribute, ResourceFields, ScopeFields};

pub(crate) fn json_error(path: String, problem: impl Into<String>) -> DecodeError {
    DecodeError::Json {
        path,
        problem: problem.into(),
    }
}

/// Prefixes the path of an error from a nested element.
pub(crate) fn within(prefix: impl FnOnce() -> String) -> impl FnOnce(DecodeError) -> DecodeError {
    move |err| match err {
        DecodeError::Json { path, problem } => DecodeError::Json {
            path: format!("{}.{path}", prefix()),
            problem,
        },
        other => other,
    }
}

/// A member by its lowerCamelCase or snake_case name; `null` counts as absent.
pub(crate) fn member<'v, 'a>(
    object: &'v Json<'a>,
    camel: &str,
    snake: &str,
) -> Option<&'v Json<'a>> {
    let Json::Object(map) = object else {
        return None;
    };
    map.get(camel)
        .or_else(|| map.get(snake))
        .filter(|value| !matches!(value, Json::Static(StaticNode::Null)))
}

pub(crate) fn object<'v, 'a>(value: &'v Json<'a>, name: &str) -> Result<&'v Json<'a>> {
    match value {
        Json::Object(_) => Ok(value),
        other => Err(json_error(
            name.into(),
            format!("expected an object, got {}", kind(other)),
        )),
    }
}

pub(crate) fn array<'v, 'a>(
    parent: &'v Json<'a>,
    camel: &str,
    snake: &str,
) -> Result<&'v [Json<'a>]> {
    match member(parent, camel, snake) {
        None => Ok(&[]),
        Some(Json::Array(items)) => Ok(items),
        Some(other) => Err(json_error(
            camel.into(),
            format!("expected an array, got {}", kind(other)),
        )),
    }
}

pub(crate) fn string<'v, 'a>(
    parent: &'v Json<'a>,
    camel: &str,
    snake: &str,
) -> Result<Option<&'v str>> {
    match member(parent, camel, snake) {
        None => Ok(None),
        Some(Json::String(text)) => Ok(Some(text)),
        Some(other) => Err(json_error(
            camel.into(),
            format!("expected a string, got {}", kind(other)),
        )),
    }
}

pub(crate) fn kind(value: &Json<'_>) -> &'static str {
    match value {
        Json::Static(StaticNode::Null) => "null",
        Json::Static(StaticNode::Bool(_)) => "a boolean",
        Json::Static(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// An unsigned integer given as a number or a decimal string.
pub(crate) fn unsigned(parent: &Json<'_>, camel: &str, snake: &str, max: u64) -> Result<u64> {
    let value = match member(parent, camel, snake) {
        None => return Ok(0),
        Some(Json::Static(StaticNode::U64(n))) => Some(*n),
        Some(Json::Static(StaticNode::I64(n))) => u64::try_from(*n).ok(),
        Some(Json::String(text)) => text.parse::<u64>().ok(),
        Some(_) => None,
    };
    value
        .filter(|n| *n <= max)
        .ok_or_else(|| json_error(camel.into(), format!("expected an integer from 0 to {max}")))
}

pub(crate) fn signed(value: &Json<'_>, name: &str) -> Result<i64> {
    match value {
        Json::Static(StaticNode::I64(n)) => Some(*n),
        Json::Static(StaticNode::U64(n)) => i64::try_from(*n).ok(),
        Json::String(text) => text.parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        json_error(
            name.into(),
            "expected a 64-bit integer (number or decimal string)",
        )
    })
}

pub(crate) fn nanos(value: &Json<'_>, camel: &str, snake: &str) -> Result<Option<i64>> {
    let nanos = unsigned(value, camel, snake, i64::MAX as u64)?;
    Ok((nanos != 0).then_some(nanos as i64))
}

/// A hex id of exactly `len` bytes (either case), stored lowercase; empty means absent.
pub(crate) fn hex_id<'a>(
    arena: &'a Bump,
    value: &Json<'_>,
    camel: &str,
    snake: &str,
    len: usize,
) -> Result<Option<&'a str>> {
    let Some(text) = string(value, camel, snake)? else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() != len * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(json_error(
            camel.into(),
            format!("expected {} hex digits, got {text:?}", len * 2),
        ));
    }
    Ok(Some(arena.alloc_str(&text.to_ascii_lowercase())))
}

pub(crate) fn attributes<'a>(arena: &'a Bump, parent: &'a Json<'a>) -> Result<&'a [Attribute<'a>]> {
    attributes_named(arena, parent, "attributes")
}

/// A list of `KeyValue`s under `key` (the same in both spellings), rendered.
pub(crate) fn attributes_named<'a>(
    arena: &'a Bump,
    parent: &'a Json<'a>,
    key: &str,
) -> Result<&'a [Attribute<'a>]> {
    let items = array(parent, key, key)?;
    let mut out = BumpVec::with_capacity_in(items.len(), arena);
    for (i, item) in items.iter().enumerate() {
        out.push(key_value(arena, item).map_err(within(|| format!("{key}[{i}]")))?);
    }
    Ok(out.into_bump_slice())
}

pub(crate) fn key_value<'a>(arena: &'a Bump, item: &'a Json<'a>) -> Result<Attribute<'a>> {
    object(item, "KeyValue")?;
    let key = string(item, "key", "key")?.unwrap_or("");
    let value = match member(item, "value", "value") {
        Some(value) => render(arena, value, 0).map_err(within(|| "value".into()))?,
        None => None,
    };
    Ok((key, value))
}

/// The one member of an `AnyValue` object.
pub(crate) enum Any<'v, 'a> {
    Empty,
    Str(&'v str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(&'v [Json<'a>]),
    KvList(&'v [Json<'a>]),
}

pub(crate) fn parse_any<'v, 'a>(value: &'v Json<'a>) -> Result<Any<'v, 'a>> {
    let Json::Object(map) = value else {
        return Err(json_error(
            "AnyValue".into(),
            format!("expected an object, got {}", kind(value)),
        ));
    };
    let mut found = Any::Empty;
    let mut members = 0;
    for (key, member) in map.iter() {
        if matches!(member, Json::Static(StaticNode::Null)) {
            continue;
        }
        let parsed = match key.as_ref() {
            "stringValue" | "string_value" => match member {
                Json::String(text) => Any::Str(text),
                other => {
                    return Err(json_error(
                        key.to_string(),
                        format!("expected a string, got {}", kind(other)),
                    ));
                }
            },
            "boolValue" | "bool_value" => match member {
                Json::Static(StaticNode::Bool(b)) => Any::Bool(*b),
                other => {
                    return Err(json_error(
                        key.to_string(),
                        format!("expected a boolean, got {}", kind(other)),
                    ));
                }
            },
            "intValue" | "int_value" => Any::Int(signed(member, key)?),
            "doubleValue" | "double_value" => Any::Double(double_value(member, key)?),
            "bytesValue" | "bytes_value" => match member {
                Json::String(text) => {
                    Any::Bytes(BASE64_ANY_PADDING.decode(text.as_bytes()).map_err(|err| {
                        json_error(key.to_string(), format!("invalid base64: {err}"))
                    })?)
                }
                other => {
                    return Err(json_error(
                        key.to_string(),
                        format!("expected a base64 string, got {}", kind(other)),
                    ));
                }
            },
            "arrayValue" | "array_value" => {
                Any::Array(array(member, "values", "values").map_err(within(|| key.to_string()))?)
            }
            "kvlistValue" | "kvlist_value" => {
                Any::KvList(array(member, "values", "values").map_err(within(|| key.to_string()))?)
            }
            _ => continue,
        };
        members += 1;
        found = parsed;
    }
    if members > 1 {
        return Err(json_error(
            "AnyValue".into(),
            "more than one value member set",
        ));
    }
    Ok(found)
}

pub(crate) const BASE64_ANY_PADDING: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );

pub(crate) fn double_value(value: &Json<'_>, name: &str) -> Result<f64> {
    match value {
        Json::Static(StaticNode::F64(f)) => Ok(*f),
        Json::Static(StaticNode::I64(i)) => Ok(*i as f64),
        Json::Static(StaticNode::U64(u)) => Ok(*u as f64),
        Json::String(text) => match text.as_ref() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .parse()
                .map_err(|_| json_error(name.into(), format!("expected a number, got {other:?}"))),
        },
        other => Err(json_error(
            name.into(),
            format!("expected a number, got {}", kind(other)),
        )),
    }
}

/// Renders an `AnyValue` by the same rules as the protobuf path.
pub(crate) fn render<'a>(
    arena: &'a Bump,
    value: &'a Json<'a>,
    depth: usize,
) -> Result<Option<&'a str>> {
    Ok(Some(match parse_any(value)? {
        Any::Empty => return Ok(None),
        Any::Str(text) => text,
        Any::Bool(true) => "true",
        Any::Bool(false) => "false",
        Any::Int(int) => arena.alloc_str(itoa::Buffer::new().format(int)),
        Any::Double(double) => arena.alloc_str(&top_level_double(double)),
        Any::Bytes(bytes) => {
            let mut out = BumpString::new_in(arena);
            push_base64(&mut out, &bytes);
            out.into_bump_str()
        }
        nested @ (Any::Array(_) | Any::KvList(_)) => {
            let mut out = BumpString::new_in(arena);
            write_json(&mut out, nested, depth)?;
            out.into_bump_str()
        }
    }))
}

pub(crate) fn write_json(out: &mut BumpString<'_>, value: Any<'_, '_>, depth: usize) -> Result<()> {
    if depth >= MAX_DEPTH {
        return Err(DecodeError::TooDeep {
            field: "AnyValue",
            limit: MAX_DEPTH,
        });
    }
    match value {
        Any::Empty => out.push_str("null"),
        Any::Str(text) => push_json_string(out, text),
        Any::Bool(true) => out.push_str("true"),
        Any::Bool(false) => out.push_str("false"),
        Any::Int(int) => out.push_str(itoa::Buffer::new().format(int)),
        Any::Double(double) if double.is_finite() => out.push_str(&JsonDouble::finite(double)),
        Any::Double(_) => out.push_str("null"),
        Any::Bytes(bytes) => {
            out.push('"');
            push_base64(out, &bytes);
            out.push('"');
        }
        Any::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, parse_any(item)?, depth + 1)?;
            }
            out.push(']');
        }
        Any::KvList(pairs) => {
            out.push('{');
            for (i, pair) in pairs.iter().enumerate() {
                object(pair, "KeyValue")?;
                if i > 0 {
                    out.push(',');
                }
                push_json_string(out, string(pair, "key", "key")?.unwrap_or(""));
                out.push(':');
                match member(pair, "value", "value") {
                    Some(value) => write_json(out, parse_any(value)?, depth + 1)?,
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
    Ok(())
}

/// The JSON keys of one signal's envelope: (lowerCamelCase, snake_case) pairs.
pub(crate) struct JsonEnvelope {
    pub resource_items: (&'static str, &'static str),
    pub scope_items: (&'static str, &'static str),
    pub items: (&'static str, &'static str),
}

pub(crate) const TRACES: JsonEnvelope = JsonEnvelope {
    resource_items: ("resourceSpans", "resource_spans"),
    scope_items: ("scopeSpans", "scope_spans"),
    items: ("spans", "spans"),
};

pub(crate) const METRICS: JsonEnvelope = JsonEnvelope {
    resource_items: ("resourceMetrics", "resource_metrics"),
    scope_items: ("scopeMetrics", "scope_metrics"),
    items: ("metrics", "metrics"),
};

pub(crate) const LOGS: JsonEnvelope = JsonEnvelope {
    resource_items: ("resourceLogs", "resource_logs"),
    scope_items: ("scopeLogs", "scope_logs"),
    items: ("logRecords", "log_records"),
};

/// Called for every item with its resource and scope.
pub(crate) type JsonItemVisitor<'a, 'f> =
    dyn FnMut(&ResourceFields<'a>, &ScopeFields<'a>, &'a Json<'a>) -> Result<()> + 'f;

/// Walks a request's envelope and calls `visit` with the resource, the scope and every item;
/// errors carry the JSON path of the element they concern.
pub(crate) fn walk_envelope<'a>(
    arena: &'a Bump,
    root: &'a Json<'a>,
    names: &JsonEnvelope,
    visit: &mut JsonItemVisitor<'a, '_>,
) -> Result<()> {
    object(root, "$")?;
    let (resources_key, resources_snake) = names.resource_items;
    for (r, resource_value) in array(root, resources_key, resources_snake)?
        .iter()
        .enumerate()
    {
        walk_resource(arena, resource_value, names, visit)
            .map_err(within(|| format!("{resources_key}[{r}]")))?;
    }
    Ok(())
}

fn walk_resource<'a>(
    arena: &'a Bump,
    value: &'a Json<'a>,
    names: &JsonEnvelope,
    visit: &mut JsonItemVisitor<'a, '_>,
) -> Result<()> {
    object(value, names.resource_items.0)?;
    let mut resource = ResourceFields {
        service_name: UNKNOWN_SERVICE,
        schema_url: string(value, "schemaUrl", "schema_url")?.filter(|s| !s.is_empty()),
        ..ResourceFields::default()
    };
    if let Some(res) = member(value, "resource", "resource") {
        object(res, "resource")?;
        let inside = || "resource".to_string();
        let attributes = attributes(arena, res).map_err(within(inside))?;
        if let Some((_, Some(name))) = attributes
            .iter()
            .rev()
            .find(|(k, v)| *k == "service.name" && v.is_some())
        {
            resource.service_name = name;
        }
        resource.attributes = attributes;
        resource.dropped_attributes_count = unsigned(
            res,
            "droppedAttributesCount",
            "dropped_attributes_count",
            u32::MAX.into(),
        )
        .map_err(within(inside))? as u32;
    }
    let (scopes_key, scopes_snake) = names.scope_items;
    for (s, scope_value) in array(value, scopes_key, scopes_snake)?.iter().enumerate() {
        walk_scope(arena, scope_value, names, &resource, visit)
            .map_err(within(|| format!("{scopes_key}[{s}]")))?;
    }
    Ok(())
}

fn walk_scope<'a>(
    arena: &'a Bump,
    value: &'a Json<'a>,
    names: &JsonEnvelope,
    resource: &ResourceFields<'a>,
    visit: &mut JsonItemVisitor<'a, '_>,
) -> Result<()> {
    object(value, names.scope_items.0)?;
    let mut scope = ScopeFields {
        schema_url: string(value, "schemaUrl", "schema_url")?.filter(|s| !s.is_empty()),
        ..ScopeFields::default()
    };
    if let Some(sc) = member(value, "scope", "scope") {
        object(sc, "scope")?;
        let inside = || "scope".to_string();
        scope.name = string(sc, "name", "name")
            .map_err(within(inside))?
            .filter(|s| !s.is_empty());
        scope.version = string(sc, "version", "version")
            .map_err(within(inside))?
            .filter(|s| !s.is_empty());
        scope.attributes = attributes(arena, sc).map_err(within(inside))?;
        scope.dropped_attributes_count = unsigned(
            sc,
            "droppedAttributesCount",
            "dropped_attributes_count",
            u32::MAX.into(),
        )
        .map_err(within(inside))? as u32;
    }
    let (items_key, items_snake) = names.items;
    for (i, item) in array(value, items_key, items_snake)?.iter().enumerate() {
        visit(resource, &scope, item).map_err(within(|| format!("{items_key}[{i}]")))?;
    }
    Ok(())
}

/// Nesting allowed in a whole OTLP/JSON request: the envelope (about 10 levels) plus values.
pub(crate) const MAX_REQUEST_DEPTH: usize = 2 * MAX_DEPTH + 16;

/// simd-json parses in place; this owns the copy of the request and the parser's scratch.
pub(crate) struct JsonParser {
    scratch: Vec<u8>,
    /// simd-json's buffers carry the nesting limit: a `[[[[…` bomb stops in the parser's
    /// own iterative stage, before any tree is built.
    buffers: simd_json::Buffers,
}

impl Default for JsonParser {
    fn default() -> Self {
        Self {
            scratch: Vec::new(),
            buffers: simd_json::Buffers::with_max_depth(0, MAX_REQUEST_DEPTH),
        }
    }
}

impl JsonParser {
    /// Parses `request` after charging `sink` what its tree can take: the copy, and one
    /// value (node, tape entry, map slot) per element, bounded by the commas and opening
    /// brackets that separate or open elements.
    pub fn parse(&mut self, request: &[u8], sink: &mut Sink<'_>) -> Result<Json<'_>> {
        sink.charge_base(tree_bound(request))?;
        self.scratch.clear();
        self.scratch.extend_from_slice(request);
        simd_json::to_borrowed_value_with_buffers(&mut self.scratch, &mut self.buffers).map_err(
            |err| match err.error() {
                simd_json::ErrorType::DepthLimitExceeded => json_error(
                    format!("byte {}", err.index()),
                    format!("nested deeper than {MAX_REQUEST_DEPTH} levels"),
                ),
                _ => json_error("$".into(), err.to_string()),
            },
        )
    }
}

/// Bytes a parsed tree of `request` can take at most: the in-place copy, plus
/// [`BYTES_PER_ELEMENT`] per element.
pub(crate) fn tree_bound(request: &[u8]) -> u64 {
    // Every element is the first in its container (after `[` or `{`) or follows a comma.
    // Counted in 32 byte lanes, at most 255 rounds before the lanes are summed: a shape
    // the compiler turns into vector compares and adds.
    let is_separator = |b: u8| u8::from(b == b',' || b == b'[' || b == b'{');
    let mut separators = 0u64;
    for block in request.chunks(32 * 255) {
        let mut lanes = [0u8; 32];
        let mut rounds = block.chunks_exact(32);
        for round in &mut rounds {
            for (lane, &byte) in lanes.iter_mut().zip(round) {
                *lane += is_separator(byte);
            }
        }
        separators += lanes.iter().map(|&lane| u64::from(lane)).sum::<u64>();
        separators += rounds
            .remainder()
            .iter()
            .map(|&byte| u64::from(is_separator(byte)))
            .sum::<u64>();
    }
    request.len() as u64 + (separators + 1) * BYTES_PER_ELEMENT
}

/// A simd-json borrowed value (32 bytes), its tape entry (16) and its share of an object's
/// hash map slot (key and value, 48, at most every other element): 96 rounded up.
const BYTES_PER_ELEMENT: u64 = 96;

/// An enum given as its number or its name (`names[n]` is the name of `n`).
pub(crate) fn enum_value(
    parent: &Json<'_>,
    camel: &str,
    snake: &str,
    names: &[&str],
) -> Result<i32> {
    match member(parent, camel, snake) {
        None => Ok(0),
        Some(Json::String(name)) if name.chars().next().is_some_and(|c| c.is_ascii_uppercase()) => {
            names
                .iter()
                .position(|candidate| candidate == name)
                .map(|n| n as i32)
                .ok_or_else(|| json_error(camel.into(), format!("unknown value {name:?}")))
        }
        Some(number) => i32::try_from(signed(number, camel)?)
            .map_err(|_| json_error(camel.into(), "out of the int32 range")),
    }
}

#[cfg(test)]
mod tests {
    use super::{BYTES_PER_ELEMENT, tree_bound};

    #[test]
    fn the_tree_bound_counts_every_separator_across_lane_and_block_edges() {
        for len in [
            0,
            1,
            31,
            32,
            33,
            32 * 255 - 1,
            32 * 255,
            32 * 255 + 1,
            20_000,
        ] {
            let request: Vec<u8> = (0..len).map(|i| b",[{x:"[i % 5]).collect();
            let separators = request.iter().filter(|b| b",[{".contains(b)).count() as u64;
            assert_eq!(
                tree_bound(&request),
                len as u64 + (separators + 1) * BYTES_PER_ELEMENT,
                "{len} bytes"
            );
        }
    }
}
