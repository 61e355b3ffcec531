//! OTLP/JSON `ExportMetricsServiceRequest` into a `metrics` batch (encoding rules as for logs;
//! counts and bucket counts as numbers or decimal strings, doubles as numbers or `"NaN"`,
//! `"Infinity"`, `"-Infinity"`).

use bumpalo::Bump;
use bumpalo::collections::Vec as BumpVec;
use simd_json::BorrowedValue as Json;

use crate::budget::{DecodeBudget, Decoded, OnInvalid, Sink, metered};
use crate::error::Result;
use crate::fields::{ResourceFields, ScopeFields};
use crate::metrics_builder::{ExponentialBuckets, MetricFields, MetricsBuilder, PointRow};
use crate::otlp_json::{
    JsonParser, METRICS, array, attributes, double_value, enum_value, json_error, member, nanos,
    object, signed, string, unsigned, walk_envelope, within,
};

const TEMPORALITIES: [&str; 3] = [
    "AGGREGATION_TEMPORALITY_UNSPECIFIED",
    "AGGREGATION_TEMPORALITY_DELTA",
    "AGGREGATION_TEMPORALITY_CUMULATIVE",
];

/// Decodes OTLP/JSON metrics requests; keep one per thread and reuse it.
#[derive(Default)]
pub struct OtlpJsonMetricsDecoder {
    arena: Bump,
    builder: MetricsBuilder,
    parser: JsonParser,
}

impl OtlpJsonMetricsDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    crate::budget::entry_points!(
        "data points (all of a metric's points when the metric itself does not decode)"
    );

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
            walk_envelope(arena, &root, &METRICS, &mut |resource, scope, item| {
                decode_metric(arena, item, received, resource, scope, builder, sink)
            })
        });
        let batch = self.builder.finish();
        outcome.map(|rejects| rejects.into_decoded(batch))
    }
}

/// The metric types by JSON key, lowerCamelCase and snake_case.
const KINDS: [(&str, &str, &str); 5] = [
    ("gauge", "gauge", "gauge"),
    ("sum", "sum", "sum"),
    ("histogram", "histogram", "histogram"),
    (
        "exponentialHistogram",
        "exponential_histogram",
        "exponential_histogram",
    ),
    ("summary", "summary", "summary"),
];

/// A metric's shared fields, the key and kind of its data and the data's points.
type MetricHead<'a> = (MetricFields<'a>, &'static str, &'static str, &'a [Json<'a>]);

#[allow(clippy::too_many_arguments)]
fn decode_metric<'a>(
    arena: &'a Bump,
    value: &'a Json<'a>,
    received: i64,
    resource: &ResourceFields<'a>,
    scope: &ScopeFields<'a>,
    out: &mut MetricsBuilder,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let head = metric_head(arena, value);
    let rejected = if head.is_err() {
        count_points(value)
    } else {
        0
    };
    let Some(Some((metric, key, kind, points))) = sink.judge(head, rejected)? else {
        return Ok(());
    };
    for (i, point_value) in points.iter().enumerate() {
        let path = || format!("{key}.dataPoints[{i}]");
        let point = object(point_value, "dataPoint")
            .and_then(|_| match kind {
                "gauge" | "sum" => number_point(point_value),
                "histogram" => histogram_point(arena, point_value),
                "exponential_histogram" => exponential_point(arena, point_value),
                _ => summary_point(arena, point_value),
            })
            .and_then(|point| {
                Ok(PointRow {
                    time_unix_nano: nanos(point_value, "timeUnixNano", "time_unix_nano")?,
                    start_time_unix_nano: nanos(
                        point_value,
                        "startTimeUnixNano",
                        "start_time_unix_nano",
                    )?,
                    attributes: attributes(arena, point_value)?,
                    flags: unsigned(point_value, "flags", "flags", u32::MAX.into())? as u32,
                    ..point
                })
            })
            .map_err(within(path));
        let point = match point {
            Ok(point) => point,
            Err(err) => {
                sink.reject(err, 1)?;
                continue;
            }
        };
        let point = PointRow {
            timestamp_nanos: point.time_unix_nano.unwrap_or(received),
            ..point
        };
        out.append(resource, scope, &metric, &point);
        sink.check(out.bytes() + arena.allocated_bytes() as u64)?;
    }
    Ok(())
}

/// How many points a metric that does not decode holds, as far as it says (at least one).
fn count_points(value: &Json<'_>) -> u64 {
    let points: usize = KINDS
        .iter()
        .filter_map(|(camel, snake, _)| member(value, camel, snake))
        .filter_map(|data| member(data, "dataPoints", "data_points"))
        .map(|points| match points {
            Json::Array(points) => points.len(),
            _ => 0,
        })
        .sum();
    (points as u64).max(1)
}

fn metric_head<'a>(arena: &'a Bump, value: &'a Json<'a>) -> Result<Option<MetricHead<'a>>> {
    object(value, "metric")?;
    let mut metric = MetricFields {
        name: string(value, "name", "name")?.filter(|s| !s.is_empty()),
        description: string(value, "description", "description")?.filter(|s| !s.is_empty()),
        unit: string(value, "unit", "unit")?.filter(|s| !s.is_empty()),
        metadata: crate::otlp_json::attributes_named(arena, value, "metadata")?,
        ..MetricFields::default()
    };
    let mut found = None;
    for (camel, snake, name) in KINDS {
        if let Some(data) = member(value, camel, snake) {
            if found.is_some() {
                return Err(json_error(
                    "metric".into(),
                    "more than one of gauge, sum, histogram, exponentialHistogram, summary",
                ));
            }
            found = Some((camel, name, data));
        }
    }
    let Some((key, kind, data)) = found else {
        return Ok(None);
    };
    object(data, key)?;
    metric.metric_type = kind;
    let inside = || key.to_string();
    if matches!(kind, "sum" | "histogram" | "exponential_histogram") {
        metric.aggregation_temporality = Some(
            enum_value(
                data,
                "aggregationTemporality",
                "aggregation_temporality",
                &TEMPORALITIES,
            )
            .map_err(within(inside))?,
        );
    }
    if kind == "sum" {
        metric.is_monotonic = Some(match member(data, "isMonotonic", "is_monotonic") {
            None => false,
            Some(Json::Static(simd_json::StaticNode::Bool(b))) => *b,
            Some(_) => {
                return Err(json_error(
                    format!("{key}.isMonotonic"),
                    "expected a boolean",
                ));
            }
        });
    }
    let points = array(data, "dataPoints", "data_points").map_err(within(inside))?;
    Ok(Some((metric, key, kind, points)))
}

fn optional_double(value: &Json<'_>, camel: &str, snake: &str) -> Result<Option<f64>> {
    member(value, camel, snake)
        .map(|v| double_value(v, camel))
        .transpose()
}

fn u64_member(value: &Json<'_>, camel: &str, snake: &str) -> Result<u64> {
    unsigned(value, camel, snake, u64::MAX)
}

fn counts<'a>(arena: &'a Bump, value: &Json<'_>, camel: &str, snake: &str) -> Result<&'a [u64]> {
    let items = array(value, camel, snake)?;
    let mut out = BumpVec::with_capacity_in(items.len(), arena);
    for (i, item) in items.iter().enumerate() {
        let count = match item {
            Json::Static(simd_json::StaticNode::U64(n)) => Some(*n),
            Json::Static(simd_json::StaticNode::I64(n)) => u64::try_from(*n).ok(),
            Json::String(text) => text.parse().ok(),
            _ => None,
        };
        out.push(count.ok_or_else(|| {
            json_error(
                format!("{camel}[{i}]"),
                "expected an unsigned 64-bit integer",
            )
        })?);
    }
    Ok(out.into_bump_slice())
}

fn number_point<'a>(value: &'a Json<'a>) -> Result<PointRow<'a>> {
    let double = member(value, "asDouble", "as_double");
    let int = member(value, "asInt", "as_int");
    Ok(match (double, int) {
        (Some(_), Some(_)) => {
            return Err(json_error(
                "dataPoint".into(),
                "both asDouble and asInt are set",
            ));
        }
        (Some(d), None) => PointRow {
            value_double: Some(double_value(d, "asDouble")?),
            ..PointRow::default()
        },
        (None, Some(i)) => PointRow {
            value_int: Some(signed(i, "asInt")?),
            ..PointRow::default()
        },
        (None, None) => PointRow::default(),
    })
}

fn histogram_point<'a>(arena: &'a Bump, value: &'a Json<'a>) -> Result<PointRow<'a>> {
    let bounds = array(value, "explicitBounds", "explicit_bounds")?;
    let mut explicit_bounds = BumpVec::with_capacity_in(bounds.len(), arena);
    for (i, bound) in bounds.iter().enumerate() {
        explicit_bounds.push(
            double_value(bound, "explicitBounds")
                .map_err(within(|| format!("explicitBounds[{i}]")))?,
        );
    }
    Ok(PointRow {
        count: Some(u64_member(value, "count", "count")?),
        sum: optional_double(value, "sum", "sum")?,
        min: optional_double(value, "min", "min")?,
        max: optional_double(value, "max", "max")?,
        bucket_counts: Some(counts(arena, value, "bucketCounts", "bucket_counts")?),
        explicit_bounds: Some(explicit_bounds.into_bump_slice()),
        ..PointRow::default()
    })
}

fn buckets<'a>(
    arena: &'a Bump,
    value: &Json<'_>,
    camel: &str,
    snake: &str,
) -> Result<ExponentialBuckets<'a>> {
    let Some(side) = member(value, camel, snake) else {
        return Ok(ExponentialBuckets::default());
    };
    object(side, camel)?;
    let offset = match member(side, "offset", "offset") {
        None => 0,
        Some(n) => i32::try_from(signed(n, "offset")?)
            .map_err(|_| json_error(format!("{camel}.offset"), "out of the int32 range"))?,
    };
    Ok(ExponentialBuckets {
        offset,
        bucket_counts: counts(arena, side, "bucketCounts", "bucket_counts")
            .map_err(within(|| camel.to_string()))?,
    })
}

fn exponential_point<'a>(arena: &'a Bump, value: &'a Json<'a>) -> Result<PointRow<'a>> {
    let scale = match member(value, "scale", "scale") {
        None => 0,
        Some(n) => i32::try_from(signed(n, "scale")?)
            .map_err(|_| json_error("scale".into(), "out of the int32 range"))?,
    };
    Ok(PointRow {
        count: Some(u64_member(value, "count", "count")?),
        sum: optional_double(value, "sum", "sum")?,
        min: optional_double(value, "min", "min")?,
        max: optional_double(value, "max", "max")?,
        scale: Some(scale),
        zero_count: Some(u64_member(value, "zeroCount", "zero_count")?),
        zero_threshold: Some(
            optional_double(value, "zeroThreshold", "zero_threshold")?.unwrap_or(0.0),
        ),
        positive: Some(buckets(arena, value, "positive", "positive")?),
        negative: Some(buckets(arena, value, "negative", "negative")?),
        ..PointRow::default()
    })
}

fn summary_point<'a>(arena: &'a Bump, value: &'a Json<'a>) -> Result<PointRow<'a>> {
    let items = array(value, "quantileValues", "quantile_values")?;
    let mut quantiles = BumpVec::with_capacity_in(items.len(), arena);
    for (i, item) in items.iter().enumerate() {
        let path = || format!("quantileValues[{i}]");
        object(item, "quantileValue").map_err(within(path))?;
        let quantile = optional_double(item, "quantile", "quantile")
            .map_err(within(path))?
            .unwrap_or(0.0);
        let value = optional_double(item, "value", "value")
            .map_err(within(path))?
            .unwrap_or(0.0);
        quantiles.push((quantile, value));
    }
    Ok(PointRow {
        count: Some(u64_member(value, "count", "count")?),
        sum: Some(optional_double(value, "sum", "sum")?.unwrap_or(0.0)),
        quantile_values: Some(quantiles.into_bump_slice()),
        ..PointRow::default()
    })
}
