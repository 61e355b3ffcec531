//! `ExportMetricsServiceRequest` protobuf bytes straight into a `metrics` record batch: one
//! row per data point of every gauge, sum, histogram, exponential histogram and summary.
//! Exemplars are read past (not stored yet).

use bumpalo::Bump;
use bumpalo::collections::Vec as BumpVec;

use crate::anyvalue::render_key_value;
use crate::budget::{DecodeBudget, Decoded, ITEM_EXPANSION, OnInvalid, ROW_FIXED, Sink, metered};
use crate::error::Result;
use crate::fields::{ResourceFields, ScopeFields};
use crate::metrics_builder::{ExponentialBuckets, MetricFields, MetricsBuilder, PointRow};
use crate::otlp_common::{METRICS, nanos, non_empty, walk_envelope};
use crate::wire::{FIXED64, LEN, Reader, VARINT, zigzag32};

/// Decodes OTLP metrics requests; keep one per thread and reuse it.
#[derive(Default)]
pub struct OtlpMetricsDecoder {
    arena: Bump,
    builder: MetricsBuilder,
}

impl OtlpMetricsDecoder {
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
        let (arena, builder) = (&self.arena, &mut self.builder);
        let outcome = metered(budget, mode, |sink| {
            walk_envelope(
                arena,
                request,
                &METRICS,
                &mut |resource, scope, shared, bytes, offset| {
                    let item = Item {
                        bytes,
                        offset,
                        shared,
                    };
                    decode_metric(arena, item, received, resource, scope, builder, sink)
                },
            )
        });
        let batch = self.builder.finish();
        outcome.map(|rejects| rejects.into_decoded(batch))
    }
}

/// Which kind of point a metric's data message holds.
#[derive(Clone, Copy)]
enum Kind {
    Gauge,
    Sum,
    Histogram,
    ExponentialHistogram,
    Summary,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Sum => "sum",
            Kind::Histogram => "histogram",
            Kind::ExponentialHistogram => "exponential_histogram",
            Kind::Summary => "summary",
        }
    }
}

/// A metric's shared fields, its kind and its data message's bytes and offset (`None`: no
/// data); the points are read from the data message as they are decoded, not collected.
type MetricHead<'a> = (MetricFields<'a>, Option<(Kind, &'a [u8], usize)>);

/// A metric's bytes, absolute offset, and the bytes its resource and scope add to each row.
struct Item<'a> {
    bytes: &'a [u8],
    offset: usize,
    shared: u64,
}

fn decode_metric<'a>(
    arena: &'a Bump,
    item: Item<'a>,
    received: i64,
    resource: &ResourceFields<'a>,
    scope: &ScopeFields<'a>,
    out: &mut MetricsBuilder,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let head = decode_metric_head(arena, item.bytes, item.offset);
    let rejected = if head.is_err() {
        count_points(item.bytes)
    } else {
        0
    };
    let Some((metric, data)) = sink.judge(head, rejected)? else {
        return Ok(());
    };
    let Some((kind, data, data_offset)) = data else {
        return Ok(());
    };
    // What every point of this metric copies: its resource, scope and descriptor.
    let shared = item.shared + metric.row_bytes();
    let mut reader = Reader::new(data, data_offset);
    while let Some((field, wire_type)) = reader.next_key("Metric.data")? {
        if field != 1 {
            reader.skip(wire_type, "Metric.data")?;
            continue;
        }
        let (bytes, offset) = reader.bytes("data_points")?;
        let point = match kind {
            Kind::Gauge | Kind::Sum => decode_number_point(arena, bytes, offset),
            Kind::Histogram => decode_histogram_point(arena, bytes, offset),
            Kind::ExponentialHistogram => decode_exponential_point(arena, bytes, offset),
            Kind::Summary => decode_summary_point(arena, bytes, offset),
        };
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
        let bound = ROW_FIXED + shared + ITEM_EXPANSION * bytes.len() as u64;
        sink.check_bounded(bound, || out.bytes() + arena.allocated_bytes() as u64)?;
    }
    Ok(())
}

fn decode_metric_head<'a>(arena: &'a Bump, buf: &'a [u8], base: usize) -> Result<MetricHead<'a>> {
    let mut reader = Reader::new(buf, base);
    let mut metric = MetricFields::default();
    let mut data: Option<(Kind, &'a [u8], usize)> = None;
    let mut metadata = BumpVec::new_in(arena);
    while let Some((field, wire_type)) = reader.next_key("Metric")? {
        let kind = match field {
            1 => {
                reader.expect(wire_type, LEN, "Metric.name")?;
                metric.name = non_empty(reader.str("Metric.name")?);
                continue;
            }
            2 => {
                reader.expect(wire_type, LEN, "Metric.description")?;
                metric.description = non_empty(reader.str("Metric.description")?);
                continue;
            }
            3 => {
                reader.expect(wire_type, LEN, "Metric.unit")?;
                metric.unit = non_empty(reader.str("Metric.unit")?);
                continue;
            }
            12 => {
                reader.expect(wire_type, LEN, "Metric.metadata")?;
                let (bytes, offset) = reader.bytes("Metric.metadata")?;
                metadata.push(render_key_value(arena, bytes, offset)?);
                continue;
            }
            5 => Kind::Gauge,
            7 => Kind::Sum,
            9 => Kind::Histogram,
            10 => Kind::ExponentialHistogram,
            11 => Kind::Summary,
            _ => {
                reader.skip(wire_type, "Metric")?;
                continue;
            }
        };
        reader.expect(wire_type, LEN, "Metric.data")?;
        let (bytes, offset) = reader.bytes("Metric.data")?;
        data = Some((kind, bytes, offset));
    }
    metric.metadata = metadata.into_bump_slice();
    let Some((kind, bytes, offset)) = data else {
        return Ok((metric, None));
    };
    metric.metric_type = kind.name();
    // The data message: points (field 1), temporality (2), monotonic (3, sums only).
    let mut reader = Reader::new(bytes, offset);
    while let Some((field, wire_type)) = reader.next_key("Metric.data")? {
        match (field, kind) {
            (1, _) => {
                reader.expect(wire_type, LEN, "data_points")?;
                reader.bytes("data_points")?;
            }
            (2, Kind::Sum | Kind::Histogram | Kind::ExponentialHistogram) => {
                reader.expect(wire_type, VARINT, "aggregation_temporality")?;
                metric.aggregation_temporality =
                    Some(reader.varint("aggregation_temporality")? as i32);
            }
            (3, Kind::Sum) => {
                reader.expect(wire_type, VARINT, "Sum.is_monotonic")?;
                metric.is_monotonic = Some(reader.varint("Sum.is_monotonic")? != 0);
            }
            _ => reader.skip(wire_type, "Metric.data")?,
        }
    }
    if matches!(
        kind,
        Kind::Sum | Kind::Histogram | Kind::ExponentialHistogram
    ) {
        metric.aggregation_temporality.get_or_insert(0);
    }
    if matches!(kind, Kind::Sum) {
        metric.is_monotonic.get_or_insert(false);
    }
    Ok((metric, Some((kind, bytes, offset))))
}

/// How many points a metric that does not decode holds, as far as its bytes say (at least
/// one): what its rejection counts.
fn count_points(buf: &[u8]) -> u64 {
    let mut count = 0;
    let mut reader = Reader::new(buf, 0);
    while let Ok(Some((field, wire_type))) = reader.next_key("Metric") {
        if !matches!(field, 5 | 7 | 9 | 10 | 11) || wire_type != LEN {
            if reader.skip(wire_type, "Metric").is_err() {
                break;
            }
            continue;
        }
        let Ok((data, _)) = reader.bytes("Metric.data") else {
            break;
        };
        let mut data = Reader::new(data, 0);
        while let Ok(Some((field, wire_type))) = data.next_key("Metric.data") {
            if field == 1 {
                count += 1;
            }
            if data.skip(wire_type, "Metric.data").is_err() {
                break;
            }
        }
    }
    count.max(1)
}

/// Fields every point type shares, at their per-type field numbers.
struct CommonFields {
    attributes: u32,
    flags: u32,
}

/// Reads a shared field if `field` is one; returns whether it was.
fn common_field<'a>(
    arena: &'a Bump,
    reader: &mut Reader<'a>,
    numbers: &CommonFields,
    field: u32,
    wire_type: u8,
    point: &mut PointRow<'a>,
    attributes: &mut BumpVec<'a, crate::fields::Attribute<'a>>,
) -> Result<bool> {
    match field {
        2 => {
            reader.expect(wire_type, FIXED64, "DataPoint.start_time_unix_nano")?;
            let value = reader.fixed64("DataPoint.start_time_unix_nano")?;
            point.start_time_unix_nano = nanos(reader, value, "DataPoint.start_time_unix_nano")?;
        }
        3 => {
            reader.expect(wire_type, FIXED64, "DataPoint.time_unix_nano")?;
            let value = reader.fixed64("DataPoint.time_unix_nano")?;
            point.time_unix_nano = nanos(reader, value, "DataPoint.time_unix_nano")?;
        }
        f if f == numbers.attributes => {
            reader.expect(wire_type, LEN, "DataPoint.attributes")?;
            let (bytes, offset) = reader.bytes("DataPoint.attributes")?;
            attributes.push(render_key_value(arena, bytes, offset)?);
        }
        f if f == numbers.flags => {
            reader.expect(wire_type, VARINT, "DataPoint.flags")?;
            point.flags = reader.varint("DataPoint.flags")? as u32;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn double(reader: &mut Reader<'_>, wire_type: u8, field: &'static str) -> Result<f64> {
    reader.expect(wire_type, FIXED64, field)?;
    Ok(f64::from_bits(reader.fixed64(field)?))
}

fn decode_number_point<'a>(arena: &'a Bump, buf: &'a [u8], base: usize) -> Result<PointRow<'a>> {
    let numbers = CommonFields {
        attributes: 7,
        flags: 8,
    };
    let mut reader = Reader::new(buf, base);
    let mut point = PointRow::default();
    let mut attributes = BumpVec::new_in(arena);
    while let Some((field, wire_type)) = reader.next_key("NumberDataPoint")? {
        if common_field(
            arena,
            &mut reader,
            &numbers,
            field,
            wire_type,
            &mut point,
            &mut attributes,
        )? {
            continue;
        }
        match field {
            4 => {
                point.value_double =
                    Some(double(&mut reader, wire_type, "NumberDataPoint.as_double")?);
                point.value_int = None;
            }
            6 => {
                reader.expect(wire_type, FIXED64, "NumberDataPoint.as_int")?;
                point.value_int = Some(reader.fixed64("NumberDataPoint.as_int")? as i64);
                point.value_double = None;
            }
            _ => reader.skip(wire_type, "NumberDataPoint")?,
        }
    }
    point.attributes = attributes.into_bump_slice();
    Ok(point)
}

fn decode_histogram_point<'a>(arena: &'a Bump, buf: &'a [u8], base: usize) -> Result<PointRow<'a>> {
    let numbers = CommonFields {
        attributes: 9,
        flags: 10,
    };
    let mut reader = Reader::new(buf, base);
    let mut point = PointRow::default();
    let mut attributes = BumpVec::new_in(arena);
    let mut bucket_counts = BumpVec::new_in(arena);
    let mut bounds: BumpVec<'a, u64> = BumpVec::new_in(arena);
    while let Some((field, wire_type)) = reader.next_key("HistogramDataPoint")? {
        if common_field(
            arena,
            &mut reader,
            &numbers,
            field,
            wire_type,
            &mut point,
            &mut attributes,
        )? {
            continue;
        }
        match field {
            4 => {
                reader.expect(wire_type, FIXED64, "HistogramDataPoint.count")?;
                point.count = Some(reader.fixed64("HistogramDataPoint.count")?);
            }
            5 => point.sum = Some(double(&mut reader, wire_type, "HistogramDataPoint.sum")?),
            6 => reader.repeated_fixed64(
                wire_type,
                "HistogramDataPoint.bucket_counts",
                &mut bucket_counts,
            )?,
            7 => reader.repeated_fixed64(
                wire_type,
                "HistogramDataPoint.explicit_bounds",
                &mut bounds,
            )?,
            11 => point.min = Some(double(&mut reader, wire_type, "HistogramDataPoint.min")?),
            12 => point.max = Some(double(&mut reader, wire_type, "HistogramDataPoint.max")?),
            _ => reader.skip(wire_type, "HistogramDataPoint")?,
        }
    }
    point.count.get_or_insert(0);
    point.attributes = attributes.into_bump_slice();
    point.bucket_counts = Some(bucket_counts.into_bump_slice());
    let mut explicit_bounds = BumpVec::with_capacity_in(bounds.len(), arena);
    explicit_bounds.extend(bounds.iter().map(|bits| f64::from_bits(*bits)));
    point.explicit_bounds = Some(explicit_bounds.into_bump_slice());
    Ok(point)
}

fn decode_buckets<'a>(
    arena: &'a Bump,
    buf: &'a [u8],
    base: usize,
) -> Result<ExponentialBuckets<'a>> {
    let mut reader = Reader::new(buf, base);
    let mut buckets = ExponentialBuckets::default();
    let mut counts = BumpVec::new_in(arena);
    while let Some((field, wire_type)) = reader.next_key("Buckets")? {
        match field {
            1 => {
                reader.expect(wire_type, VARINT, "Buckets.offset")?;
                buckets.offset = zigzag32(reader.varint("Buckets.offset")?);
            }
            2 => reader.repeated_varint(wire_type, "Buckets.bucket_counts", &mut counts)?,
            _ => reader.skip(wire_type, "Buckets")?,
        }
    }
    buckets.bucket_counts = counts.into_bump_slice();
    Ok(buckets)
}

fn decode_exponential_point<'a>(
    arena: &'a Bump,
    buf: &'a [u8],
    base: usize,
) -> Result<PointRow<'a>> {
    let numbers = CommonFields {
        attributes: 1,
        flags: 10,
    };
    let mut reader = Reader::new(buf, base);
    let mut point = PointRow::default();
    let mut attributes = BumpVec::new_in(arena);
    while let Some((field, wire_type)) = reader.next_key("ExponentialHistogramDataPoint")? {
        if common_field(
            arena,
            &mut reader,
            &numbers,
            field,
            wire_type,
            &mut point,
            &mut attributes,
        )? {
            continue;
        }
        match field {
            4 => {
                reader.expect(wire_type, FIXED64, "ExponentialHistogramDataPoint.count")?;
                point.count = Some(reader.fixed64("ExponentialHistogramDataPoint.count")?);
            }
            5 => {
                point.sum = Some(double(
                    &mut reader,
                    wire_type,
                    "ExponentialHistogramDataPoint.sum",
                )?)
            }
            6 => {
                reader.expect(wire_type, VARINT, "ExponentialHistogramDataPoint.scale")?;
                point.scale = Some(zigzag32(
                    reader.varint("ExponentialHistogramDataPoint.scale")?,
                ));
            }
            7 => {
                reader.expect(
                    wire_type,
                    FIXED64,
                    "ExponentialHistogramDataPoint.zero_count",
                )?;
                point.zero_count =
                    Some(reader.fixed64("ExponentialHistogramDataPoint.zero_count")?);
            }
            8 | 9 => {
                reader.expect(wire_type, LEN, "ExponentialHistogramDataPoint.buckets")?;
                let (bytes, offset) = reader.bytes("ExponentialHistogramDataPoint.buckets")?;
                let buckets = Some(decode_buckets(arena, bytes, offset)?);
                if field == 8 {
                    point.positive = buckets;
                } else {
                    point.negative = buckets;
                }
            }
            12 => {
                point.min = Some(double(
                    &mut reader,
                    wire_type,
                    "ExponentialHistogramDataPoint.min",
                )?)
            }
            13 => {
                point.max = Some(double(
                    &mut reader,
                    wire_type,
                    "ExponentialHistogramDataPoint.max",
                )?)
            }
            14 => {
                point.zero_threshold = Some(double(
                    &mut reader,
                    wire_type,
                    "ExponentialHistogramDataPoint.zero_threshold",
                )?)
            }
            _ => reader.skip(wire_type, "ExponentialHistogramDataPoint")?,
        }
    }
    point.count.get_or_insert(0);
    point.scale.get_or_insert(0);
    point.zero_count.get_or_insert(0);
    point.zero_threshold.get_or_insert(0.0);
    point.positive.get_or_insert_default();
    point.negative.get_or_insert_default();
    point.attributes = attributes.into_bump_slice();
    Ok(point)
}

fn decode_summary_point<'a>(arena: &'a Bump, buf: &'a [u8], base: usize) -> Result<PointRow<'a>> {
    let numbers = CommonFields {
        attributes: 7,
        flags: 8,
    };
    let mut reader = Reader::new(buf, base);
    let mut point = PointRow::default();
    let mut attributes = BumpVec::new_in(arena);
    let mut quantiles = BumpVec::new_in(arena);
    while let Some((field, wire_type)) = reader.next_key("SummaryDataPoint")? {
        if common_field(
            arena,
            &mut reader,
            &numbers,
            field,
            wire_type,
            &mut point,
            &mut attributes,
        )? {
            continue;
        }
        match field {
            4 => {
                reader.expect(wire_type, FIXED64, "SummaryDataPoint.count")?;
                point.count = Some(reader.fixed64("SummaryDataPoint.count")?);
            }
            5 => point.sum = Some(double(&mut reader, wire_type, "SummaryDataPoint.sum")?),
            6 => {
                reader.expect(wire_type, LEN, "SummaryDataPoint.quantile_values")?;
                let (bytes, offset) = reader.bytes("SummaryDataPoint.quantile_values")?;
                let mut inner = Reader::new(bytes, offset);
                let (mut quantile, mut value) = (0.0, 0.0);
                while let Some((field, wire_type)) = inner.next_key("ValueAtQuantile")? {
                    match field {
                        1 => quantile = double(&mut inner, wire_type, "ValueAtQuantile.quantile")?,
                        2 => value = double(&mut inner, wire_type, "ValueAtQuantile.value")?,
                        _ => inner.skip(wire_type, "ValueAtQuantile")?,
                    }
                }
                quantiles.push((quantile, value));
            }
            _ => reader.skip(wire_type, "SummaryDataPoint")?,
        }
    }
    point.count.get_or_insert(0);
    point.sum.get_or_insert(0.0);
    point.attributes = attributes.into_bump_slice();
    point.quantile_values = Some(quantiles.into_bump_slice());
    Ok(point)
}
