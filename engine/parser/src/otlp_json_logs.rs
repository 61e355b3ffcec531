//! OTLP/JSON `ExportLogsServiceRequest` into a `logs` batch, parsed with simd-json.
//!
//! Follows the OTLP/JSON encoding: lowerCamelCase keys (the proto's snake_case names are
//! accepted too, as the protobuf JSON mapping requires), trace and span ids as hex strings,
//! 64-bit integers as numbers or decimal strings, enums as numbers or their names, bytes as
//! base64, `null` as absent, unknown keys ignored.

use arrow::array::RecordBatch;
use base64::Engine as _;
use bumpalo::Bump;
use bumpalo::collections::String as BumpString;
use bumpalo::collections::Vec as BumpVec;
use icegate_schema::UNKNOWN_SERVICE;
use simd_json::{BorrowedValue as Json, StaticNode};

use crate::anyvalue::{JsonDouble, MAX_DEPTH, push_base64, push_json_string, top_level_double};
use crate::error::{DecodeError, Result};
use crate::fields::{Attribute, ResourceFields, ScopeFields, effective_time};
use crate::logs_builder::{LogRow, LogsBuilder};

/// Nesting allowed in a whole request: the OTLP envelope (about 8 levels) plus values.
const MAX_REQUEST_DEPTH: usize = 2 * MAX_DEPTH + 16;

/// Decodes OTLP/JSON logs requests; keep one per thread and reuse it.
pub struct OtlpJsonLogsDecoder {
    arena: Bump,
    builder: LogsBuilder,
    /// simd-json parses in place, so the request is copied here first.
    scratch: Vec<u8>,
    /// simd-json's scratch, with its nesting limit: a `[[[[…` bomb stops at the limit in
    /// the parser's own (iterative) stage, before any tree is built.
    buffers: simd_json::Buffers,
}

impl Default for OtlpJsonLogsDecoder {
    fn default() -> Self {
        Self {
            arena: Bump::new(),
            builder: LogsBuilder::new(),
            scratch: Vec::new(),
            buffers: simd_json::Buffers::with_max_depth(0, MAX_REQUEST_DEPTH),
        }
    }
}

impl OtlpJsonLogsDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one request; on error nothing from it is kept.
    pub fn decode(&mut self, request: &[u8], received_at_nanos: i64) -> Result<RecordBatch> {
        self.arena.reset();
        self.scratch.clear();
        self.scratch.extend_from_slice(request);
        let outcome =
            simd_json::to_borrowed_value_with_buffers(&mut self.scratch, &mut self.buffers)
                .map_err(|err| match err.error() {
                    simd_json::ErrorType::DepthLimitExceeded => json_error(
                        format!("byte {}", err.index()),
                        format!("nested deeper than {MAX_REQUEST_DEPTH} levels"),
                    ),
                    _ => json_error("$".into(), err.to_string()),
                })
                .and_then(|root| {
                    decode_request(&self.arena, &root, received_at_nanos, &mut self.builder)
                });
        let batch = self.builder.finish();
        outcome.map(|()| batch)
    }
}

fn json_error(path: String, problem: impl Into<String>) -> DecodeError {
    DecodeError::Json {
        path,
        problem: problem.into(),
    }
}

/// Prefixes the path of an error from a nested element.
fn within(prefix: impl FnOnce() -> String) -> impl FnOnce(DecodeError) -> DecodeError {
    move |err| match err {
        DecodeError::Json { path, problem } => DecodeError::Json {
            path: format!("{}.{path}", prefix()),
            problem,
        },
        other => other,
    }
}

/// A member by its lowerCamelCase or snake_case name; `null` counts as absent.
fn member<'v, 'a>(object: &'v Json<'a>, camel: &str, snake: &str) -> Option<&'v Json<'a>> {
    let Json::Object(map) = object else {
        return None;
    };
    map.get(camel)
        .or_else(|| map.get(snake))
        .filter(|value| !matches!(value, Json::Static(StaticNode::Null)))
}

fn object<'v, 'a>(value: &'v Json<'a>, name: &str) -> Result<&'v Json<'a>> {
    match value {
        Json::Object(_) => Ok(value),
        other => Err(json_error(
            name.into(),
            format!("expected an object, got {}", kind(other)),
        )),
    }
}

fn array<'v, 'a>(parent: &'v Json<'a>, camel: &str, snake: &str) -> Result<&'v [Json<'a>]> {
    match member(parent, camel, snake) {
        None => Ok(&[]),
        Some(Json::Array(items)) => Ok(items),
        Some(other) => Err(json_error(
            camel.into(),
            format!("expected an array, got {}", kind(other)),
        )),
    }
}

fn string<'v, 'a>(parent: &'v Json<'a>, camel: &str, snake: &str) -> Result<Option<&'v str>> {
    match member(parent, camel, snake) {
        None => Ok(None),
        Some(Json::String(text)) => Ok(Some(text)),
        Some(other) => Err(json_error(
            camel.into(),
            format!("expected a string, got {}", kind(other)),
        )),
    }
}

fn kind(value: &Json<'_>) -> &'static str {
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
fn unsigned(parent: &Json<'_>, camel: &str, snake: &str, max: u64) -> Result<u64> {
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

fn signed(value: &Json<'_>, name: &str) -> Result<i64> {
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

fn decode_request(
    arena: &Bump,
    root: &Json<'_>,
    received: i64,
    out: &mut LogsBuilder,
) -> Result<()> {
    object(root, "$")?;
    for (r, resource_logs) in array(root, "resourceLogs", "resource_logs")?
        .iter()
        .enumerate()
    {
        decode_resource_logs(arena, resource_logs, received, out)
            .map_err(within(|| format!("resourceLogs[{r}]")))?;
    }
    Ok(())
}

fn decode_resource_logs<'a>(
    arena: &'a Bump,
    value: &'a Json<'a>,
    received: i64,
    out: &mut LogsBuilder,
) -> Result<()> {
    object(value, "resourceLogs")?;
    let mut resource = ResourceFields {
        service_name: UNKNOWN_SERVICE,
        schema_url: string(value, "schemaUrl", "schema_url")?.filter(|s| !s.is_empty()),
        ..ResourceFields::default()
    };
    if let Some(res) = member(value, "resource", "resource") {
        object(res, "resource")?;
        let attributes = attributes(arena, res).map_err(within(|| "resource".into()))?;
        if let Some(name) = attributes
            .iter()
            .rev()
            .find(|(k, v)| *k == "service.name" && v.is_some())
        {
            resource.service_name = name.1.expect("filtered");
        }
        resource.attributes = attributes;
        resource.dropped_attributes_count = unsigned(
            res,
            "droppedAttributesCount",
            "dropped_attributes_count",
            u32::MAX.into(),
        )
        .map_err(within(|| "resource".into()))? as u32;
    }
    for (s, scope_logs) in array(value, "scopeLogs", "scope_logs")?.iter().enumerate() {
        decode_scope_logs(arena, scope_logs, received, &resource, out)
            .map_err(within(|| format!("scopeLogs[{s}]")))?;
    }
    Ok(())
}

fn decode_scope_logs<'a>(
    arena: &'a Bump,
    value: &'a Json<'a>,
    received: i64,
    resource: &ResourceFields<'a>,
    out: &mut LogsBuilder,
) -> Result<()> {
    object(value, "scopeLogs")?;
    let mut scope = ScopeFields {
        schema_url: string(value, "schemaUrl", "schema_url")?.filter(|s| !s.is_empty()),
        ..ScopeFields::default()
    };
    if let Some(sc) = member(value, "scope", "scope") {
        object(sc, "scope")?;
        scope.name = string(sc, "name", "name")
            .map_err(within(|| "scope".into()))?
            .filter(|s| !s.is_empty());
        scope.version = string(sc, "version", "version")
            .map_err(within(|| "scope".into()))?
            .filter(|s| !s.is_empty());
        scope.attributes = attributes(arena, sc).map_err(within(|| "scope".into()))?;
        scope.dropped_attributes_count = unsigned(
            sc,
            "droppedAttributesCount",
            "dropped_attributes_count",
            u32::MAX.into(),
        )
        .map_err(within(|| "scope".into()))? as u32;
    }
    for (l, record) in array(value, "logRecords", "log_records")?
        .iter()
        .enumerate()
    {
        let row = decode_log_record(arena, record, received)
            .map_err(within(|| format!("logRecords[{l}]")))?;
        out.append(resource, &scope, &row);
    }
    Ok(())
}

fn decode_log_record<'a>(
    arena: &'a Bump,
    value: &'a Json<'a>,
    received: i64,
) -> Result<LogRow<'a>> {
    object(value, "logRecord")?;
    let time = nanos(value, "timeUnixNano", "time_unix_nano")?;
    let observed = nanos(value, "observedTimeUnixNano", "observed_time_unix_nano")?;
    let severity = match member(value, "severityNumber", "severity_number") {
        None => 0,
        Some(Json::String(name)) if name.starts_with("SEVERITY_NUMBER_") => severity_by_name(name)
            .ok_or_else(|| {
                json_error(
                    "severityNumber".into(),
                    format!("unknown severity {name:?}"),
                )
            })?,
        Some(number) => i32::try_from(signed(number, "severityNumber")?)
            .map_err(|_| json_error("severityNumber".into(), "out of the int32 range"))?,
    };
    Ok(LogRow {
        timestamp_nanos: effective_time(time, observed, received),
        time_unix_nano: time,
        observed_time_unix_nano: observed,
        severity_number: (severity != 0).then_some(severity),
        severity_text: string(value, "severityText", "severity_text")?.filter(|s| !s.is_empty()),
        body: match member(value, "body", "body") {
            Some(body) => render(arena, body, 0).map_err(within(|| "body".into()))?,
            None => None,
        },
        trace_id: hex_id(arena, value, "traceId", "trace_id", 16)?,
        span_id: hex_id(arena, value, "spanId", "span_id", 8)?,
        flags: unsigned(value, "flags", "flags", u32::MAX.into())? as u32,
        event_name: string(value, "eventName", "event_name")?.filter(|s| !s.is_empty()),
        attributes: attributes(arena, value)?,
        dropped_attributes_count: unsigned(
            value,
            "droppedAttributesCount",
            "dropped_attributes_count",
            u32::MAX.into(),
        )? as u32,
    })
}

fn nanos(value: &Json<'_>, camel: &str, snake: &str) -> Result<Option<i64>> {
    let nanos = unsigned(value, camel, snake, i64::MAX as u64)?;
    Ok((nanos != 0).then_some(nanos as i64))
}

fn severity_by_name(name: &str) -> Option<i32> {
    const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
    if rest == "UNSPECIFIED" {
        return Some(0);
    }
    let split = rest
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (level, step) = rest.split_at(split);
    let base = LEVELS.iter().position(|l| *l == level)? as i32 * 4 + 1;
    let step: i32 = if step.is_empty() {
        1
    } else {
        step.parse().ok()?
    };
    (1..=4).contains(&step).then_some(base + step - 1)
}

/// A hex id of exactly `len` bytes (either case), stored lowercase; empty means absent.
fn hex_id<'a>(
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

fn attributes<'a>(arena: &'a Bump, parent: &'a Json<'a>) -> Result<&'a [Attribute<'a>]> {
    let items = array(parent, "attributes", "attributes")?;
    let mut out = BumpVec::with_capacity_in(items.len(), arena);
    for (i, item) in items.iter().enumerate() {
        out.push(key_value(arena, item).map_err(within(|| format!("attributes[{i}]")))?);
    }
    Ok(out.into_bump_slice())
}

fn key_value<'a>(arena: &'a Bump, item: &'a Json<'a>) -> Result<Attribute<'a>> {
    object(item, "KeyValue")?;
    let key = string(item, "key", "key")?.unwrap_or("");
    let value = match member(item, "value", "value") {
        Some(value) => render(arena, value, 0).map_err(within(|| "value".into()))?,
        None => None,
    };
    Ok((key, value))
}

/// The one member of an `AnyValue` object.
enum Any<'v, 'a> {
    Empty,
    Str(&'v str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(&'v [Json<'a>]),
    KvList(&'v [Json<'a>]),
}

fn parse_any<'v, 'a>(value: &'v Json<'a>) -> Result<Any<'v, 'a>> {
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
            "doubleValue" | "double_value" => Any::Double(double(member, key)?),
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

const BASE64_ANY_PADDING: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn double(value: &Json<'_>, name: &str) -> Result<f64> {
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
fn render<'a>(arena: &'a Bump, value: &'a Json<'a>, depth: usize) -> Result<Option<&'a str>> {
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

fn write_json(out: &mut BumpString<'_>, value: Any<'_, '_>, depth: usize) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::severity_by_name;

    #[test]
    fn severity_names_map_to_numbers() {
        assert_eq!(severity_by_name("SEVERITY_NUMBER_UNSPECIFIED"), Some(0));
        assert_eq!(severity_by_name("SEVERITY_NUMBER_TRACE"), Some(1));
        assert_eq!(severity_by_name("SEVERITY_NUMBER_INFO"), Some(9));
        assert_eq!(severity_by_name("SEVERITY_NUMBER_INFO4"), Some(12));
        assert_eq!(severity_by_name("SEVERITY_NUMBER_FATAL4"), Some(24));
        assert_eq!(severity_by_name("SEVERITY_NUMBER_INFO5"), None);
        assert_eq!(severity_by_name("SEVERITY_NUMBER_LOUD"), None);
    }
}
