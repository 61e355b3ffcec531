//! Newline-delimited JSON log lines (what shippers that do not speak OTLP send) into `logs`.
//!
//! Each line is one record. A JSON object is read for well-known keys — time (`timestamp`,
//! `time`, `@timestamp`, `ts`: RFC 3339 text or epoch s/ms/µs/ns by magnitude), level
//! (`level`, `severity`, `lvl`, `loglevel`, `log.level`, `levelname`), message (`message`,
//! `msg`, `body`, `log`), service (`service.name`, `service`, `service_name`), trace and span
//! ids (`trace_id`/`traceId`/`trace.id`, `span_id`/`spanId`/`span.id`) — and every other
//! member becomes an attribute, nested objects flattened into dotted keys (`{"http":{"status":
//! 200}}` → `http.status = "200"`), arrays kept as JSON text. A key whose value does not parse
//! as its well-known meaning stays an attribute.
//!
//! A line that is not a JSON object (plain text, broken JSON, JSON nested too deep, invalid
//! UTF-8) becomes a record whose body is the line: never an error that drops the batch.
//! An object without a message key keeps the whole line as its body, so grep finds it.

use arrow::array::RecordBatch;
use bumpalo::Bump;
use bumpalo::collections::String as BumpString;
use bumpalo::collections::Vec as BumpVec;
use icegate_schema::UNKNOWN_SERVICE;
use simd_json::{BorrowedValue as Json, StaticNode};

use crate::anyvalue::{JsonDouble, push_json_string};
use crate::budget::{DecodeBudget, Meter, Unlimited};
use crate::error::Result;
use crate::fields::{Attribute, ResourceFields, ScopeFields};
use crate::logs_builder::{LogRow, LogsBuilder};
use crate::timestamp::{epoch_int_to_nanos, epoch_to_nanos, parse_rfc3339};

/// Nesting allowed within one line.
const MAX_LINE_DEPTH: usize = 32;

const TIME_KEYS: [&str; 4] = ["timestamp", "time", "@timestamp", "ts"];
const LEVEL_KEYS: [&str; 6] = [
    "level",
    "severity",
    "lvl",
    "loglevel",
    "log.level",
    "levelname",
];
const MESSAGE_KEYS: [&str; 4] = ["message", "msg", "body", "log"];
const SERVICE_KEYS: [&str; 3] = ["service.name", "service", "service_name"];
const TRACE_KEYS: [&str; 3] = ["trace_id", "traceId", "trace.id"];
const SPAN_KEYS: [&str; 3] = ["span_id", "spanId", "span.id"];

/// What the request says about all its lines (from HTTP headers or query parameters).
#[derive(Debug, Clone, Default)]
pub struct NdjsonContext {
    /// `service_name` for lines that name no service.
    pub service_name: Option<String>,
    /// Resource attributes for every line.
    pub resource_attributes: Vec<(String, String)>,
}

/// Decodes NDJSON bodies; keep one per thread and reuse it.
pub struct NdjsonDecoder {
    arena: Bump,
    builder: LogsBuilder,
    scratch: Vec<u8>,
    /// simd-json's scratch with the per-line nesting limit (checked in the parser's
    /// iterative stage, so a `[[[[…` line costs a scan, not a deep tree).
    buffers: simd_json::Buffers,
}

impl Default for NdjsonDecoder {
    fn default() -> Self {
        Self {
            arena: Bump::new(),
            builder: LogsBuilder::new(),
            scratch: Vec::new(),
            buffers: simd_json::Buffers::with_max_depth(0, MAX_LINE_DEPTH),
        }
    }
}

impl NdjsonDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes every non-empty line of `body`. Infallible by design: what does not parse is
    /// kept as text.
    pub fn decode(
        &mut self,
        body: &[u8],
        context: &NdjsonContext,
        received_at_nanos: i64,
    ) -> RecordBatch {
        self.decode_within(body, context, received_at_nanos, &mut Unlimited)
            .expect("an unlimited budget refuses nothing")
    }

    /// Decodes every non-empty line of `body` within `budget`: the context's resource
    /// attributes are copied into every line's row, so many headers over many tiny lines
    /// would otherwise cost far more than the body. Fails only when `budget` refuses.
    pub fn decode_within(
        &mut self,
        body: &[u8],
        context: &NdjsonContext,
        received_at_nanos: i64,
        budget: &mut dyn DecodeBudget,
    ) -> Result<RecordBatch> {
        let mut meter = Meter::new(budget);
        let outcome = self.decode_lines(body, context, received_at_nanos, &mut meter);
        let batch = self.builder.finish();
        outcome.map(|()| batch)
    }

    fn decode_lines(
        &mut self,
        body: &[u8],
        context: &NdjsonContext,
        received_at_nanos: i64,
        meter: &mut Meter<'_>,
    ) -> Result<()> {
        crate::budget::reuse(&mut self.arena);
        let arena = &self.arena;
        let resource_pairs: Vec<Attribute<'_>> = context
            .resource_attributes
            .iter()
            .map(|(k, v)| (k.as_str(), Some(v.as_str())))
            .collect();
        let default_service = context.service_name.as_deref().unwrap_or(UNKNOWN_SERVICE);
        let scope = ScopeFields::default();
        let mut start = 0;
        while start < body.len() {
            let end = memchr::memchr(b'\n', &body[start..]).map_or(body.len(), |at| start + at);
            let line = &body[start..end];
            start = end + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let mut resource = ResourceFields {
                service_name: default_service,
                attributes: &resource_pairs,
                ..ResourceFields::default()
            };
            let mut row = LogRow {
                observed_time_unix_nano: Some(received_at_nanos),
                timestamp_nanos: received_at_nanos,
                ..LogRow::default()
            };
            let text: &str = match std::str::from_utf8(line) {
                Ok(text) => arena.alloc_str(text),
                Err(_) => arena.alloc_str(&String::from_utf8_lossy(line)),
            };
            let parsed = line_object(&mut self.scratch, &mut self.buffers, line);
            match &parsed {
                Some(object @ Json::Object(_)) => {
                    let mut fields = BumpVec::new_in(arena);
                    flatten(arena, "", object, &mut fields);
                    interpret(arena, &mut fields, &mut row, &mut resource);
                    if row.body.is_none() {
                        row.body = Some(text);
                    }
                    let mut attributes = BumpVec::with_capacity_in(fields.len(), arena);
                    attributes.extend(
                        fields
                            .iter()
                            .filter(|field| !field.consumed)
                            .map(|field| (field.key, field.value)),
                    );
                    row.attributes = attributes.into_bump_slice();
                }
                _ => row.body = Some(text),
            }
            self.builder.append(&resource, &scope, &row);
            meter.check(self.builder.bytes() + arena.allocated_bytes() as u64)?;
        }
        Ok(())
    }
}

/// Parses a line as a JSON object, or `None` when it is anything else.
fn line_object<'s>(
    scratch: &'s mut Vec<u8>,
    buffers: &mut simd_json::Buffers,
    line: &[u8],
) -> Option<Json<'s>> {
    let first = line.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    scratch.clear();
    scratch.extend_from_slice(line);
    simd_json::to_borrowed_value_with_buffers(scratch, buffers).ok()
}

/// One flattened member: dotted key, rendered value, and whether a well-known key took it.
struct Field<'a> {
    key: &'a str,
    value: Option<&'a str>,
    raw: &'a Json<'a>,
    consumed: bool,
}

fn flatten<'a>(
    arena: &'a Bump,
    prefix: &str,
    value: &'a Json<'a>,
    out: &mut BumpVec<'a, Field<'a>>,
) {
    let Json::Object(map) = value else { return };
    for (key, member) in map.iter() {
        let dotted: &'a str = if prefix.is_empty() {
            arena.alloc_str(key)
        } else {
            let mut joined = BumpString::with_capacity_in(prefix.len() + 1 + key.len(), arena);
            joined.push_str(prefix);
            joined.push('.');
            joined.push_str(key);
            joined.into_bump_str()
        };
        match member {
            Json::Object(inner) if !inner.is_empty() => flatten(arena, dotted, member, out),
            _ => out.push(Field {
                key: dotted,
                value: render(arena, member),
                raw: member,
                consumed: false,
            }),
        }
    }
}

/// An attribute value: strings as-is, other scalars as JSON literals, arrays (and empty
/// objects) as JSON text, null as no value.
fn render<'a>(arena: &'a Bump, value: &'a Json<'a>) -> Option<&'a str> {
    match value {
        Json::Static(StaticNode::Null) => None,
        Json::String(text) => Some(text),
        other => {
            let mut out = BumpString::new_in(arena);
            write_json(&mut out, other);
            Some(out.into_bump_str())
        }
    }
}

fn write_json(out: &mut BumpString<'_>, value: &Json<'_>) {
    match value {
        Json::Static(StaticNode::Null) => out.push_str("null"),
        Json::Static(StaticNode::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        Json::Static(StaticNode::I64(i)) => out.push_str(itoa::Buffer::new().format(*i)),
        Json::Static(StaticNode::U64(u)) => out.push_str(itoa::Buffer::new().format(*u)),
        Json::Static(StaticNode::F64(f)) => out.push_str(&JsonDouble::finite(*f)),
        Json::String(text) => push_json_string(out, text),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            for (i, (key, member)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(out, key);
                out.push(':');
                write_json(out, member);
            }
            out.push('}');
        }
    }
}

/// Fills the row from well-known keys (first key of each list that parses wins).
fn interpret<'a>(
    arena: &'a Bump,
    fields: &mut [Field<'a>],
    row: &mut LogRow<'a>,
    resource: &mut ResourceFields<'a>,
) {
    if let Some(nanos) = take(fields, &TIME_KEYS, |field| time(field.raw)) {
        row.time_unix_nano = Some(nanos);
        row.timestamp_nanos = nanos;
    }
    if let Some((text, number)) = take(fields, &LEVEL_KEYS, |field| level(field.raw)) {
        row.severity_text = text;
        row.severity_number = number;
    }
    if let Some(body) = take(fields, &MESSAGE_KEYS, |field| field.value) {
        row.body = Some(body);
    }
    if let Some(service) = take(fields, &SERVICE_KEYS, |field| {
        field.value.filter(|s| !s.is_empty())
    }) {
        resource.service_name = service;
    }
    row.trace_id = take(fields, &TRACE_KEYS, |field| hex_id(arena, field.value?, 16));
    row.span_id = take(fields, &SPAN_KEYS, |field| hex_id(arena, field.value?, 8));
}

fn take<'a, T>(
    fields: &mut [Field<'a>],
    keys: &[&str],
    mut parse: impl FnMut(&Field<'a>) -> Option<T>,
) -> Option<T> {
    for key in keys {
        if let Some(field) = fields.iter_mut().find(|f| !f.consumed && f.key == *key)
            && let Some(value) = parse(field)
        {
            field.consumed = true;
            return Some(value);
        }
    }
    None
}

fn time(value: &Json<'_>) -> Option<i64> {
    match value {
        Json::String(text) => parse_rfc3339(text).or_else(|| {
            let number: f64 = text.parse().ok()?;
            epoch_to_nanos(number)
        }),
        Json::Static(StaticNode::I64(i)) => epoch_int_to_nanos(*i),
        Json::Static(StaticNode::U64(u)) => epoch_int_to_nanos(i64::try_from(*u).ok()?),
        Json::Static(StaticNode::F64(f)) => epoch_to_nanos(*f),
        _ => None,
    }
}

/// Severity text and number from a level: names (case-insensitive), OTLP numbers 1–24, or
/// the pino/bunyan scale (30 info … 60 fatal).
fn level<'a>(value: &'a Json<'a>) -> Option<(Option<&'a str>, Option<i32>)> {
    match value {
        Json::String(text) => Some((Some(text), severity_of_name(text))),
        Json::Static(StaticNode::I64(_) | StaticNode::U64(_)) => {
            let n = match value {
                Json::Static(StaticNode::I64(i)) => *i,
                Json::Static(StaticNode::U64(u)) => i64::try_from(*u).ok()?,
                _ => unreachable!(),
            };
            let number = match n {
                1..=24 => n as i32,
                30 => 9,
                40 => 13,
                50 => 17,
                60 => 21,
                _ => return None,
            };
            Some((None, Some(number)))
        }
        _ => None,
    }
}

fn severity_of_name(name: &str) -> Option<i32> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "trace" | "finest" | "finer" => 1,
        "debug" | "fine" | "dbg" => 5,
        "info" | "information" | "informational" | "notice" | "inf" => 9,
        "warn" | "warning" | "wrn" => 13,
        "error" | "err" | "severe" | "erro" => 17,
        "fatal" | "critical" | "crit" | "alert" | "emerg" | "emergency" | "panic" => 21,
        _ => return None,
    })
}

fn hex_id<'a>(arena: &'a Bump, text: &str, len: usize) -> Option<&'a str> {
    (text.len() == len * 2 && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| arena.alloc_str(&text.to_ascii_lowercase()) as &str)
}
