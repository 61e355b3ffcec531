//! OTLP/JSON `ExportLogsServiceRequest` into a `logs` batch, parsed with simd-json.
//!
//! Follows the OTLP/JSON encoding: lowerCamelCase keys (the proto's snake_case names are
//! accepted too, as the protobuf JSON mapping requires), trace and span ids as hex strings,
//! 64-bit integers as numbers or decimal strings, enums as numbers or their names, bytes as
//! base64, `null` as absent, unknown keys ignored.

use bumpalo::Bump;
use simd_json::BorrowedValue as Json;

use crate::budget::{DecodeBudget, Decoded, OnInvalid, metered};
use crate::error::Result;
use crate::fields::effective_time;
use crate::logs_builder::{LogRow, LogsBuilder};
use crate::otlp_json::{
    JsonParser, LOGS, attributes, hex_id, json_error, member, nanos, object, render, signed,
    string, unsigned, walk_envelope, within,
};

/// Decodes OTLP/JSON logs requests; keep one per thread and reuse it.
#[derive(Default)]
pub struct OtlpJsonLogsDecoder {
    arena: Bump,
    builder: LogsBuilder,
    parser: JsonParser,
}

impl OtlpJsonLogsDecoder {
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
        let (arena, builder, parser) = (&self.arena, &mut self.builder, &mut self.parser);
        let outcome =
            metered(budget, mode, |sink| {
                let root = parser.parse(request, sink)?;
                walk_envelope(arena, &root, &LOGS, &mut |resource, scope, item| {
                    match decode_log_record(arena, item, received) {
                        Ok(row) => {
                            builder.append(resource, scope, &row);
                            sink.check(builder.bytes() + arena.allocated_bytes() as u64)
                        }
                        Err(err) => sink.reject(err, 1),
                    }
                })
            });
        let batch = self.builder.finish();
        outcome.map(|rejects| rejects.into_decoded(batch))
    }
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
