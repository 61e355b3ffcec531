//! Rows of the `metrics` table: one per data point, with the columns of its metric type.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, ListArray,
    ListBuilder, RecordBatch, StringBuilder, StructArray, TimestampMicrosecondBuilder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, FieldRef, SchemaRef};
use icegate_schema::{UTC, metrics_schema};

use crate::fields::{Attribute, ResourceFields, ResourceScopeColumns, ScopeFields};
use crate::map_column::{MapColumn, string_bytes};

/// What every point of one metric shares.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricFields<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub unit: Option<&'a str>,
    /// `gauge`, `sum`, `histogram`, `exponential_histogram` or `summary`.
    pub metric_type: &'a str,
    pub aggregation_temporality: Option<i32>,
    pub is_monotonic: Option<bool>,
    pub metadata: &'a [Attribute<'a>],
}

impl MetricFields<'_> {
    /// Bytes these fields add to every point of the metric.
    pub(crate) fn row_bytes(&self) -> u64 {
        [
            self.name,
            self.description,
            self.unit,
            Some(self.metric_type),
        ]
        .iter()
        .map(|text| text.map_or(0, str::len) as u64)
        .sum::<u64>()
            + crate::fields::attributes_bytes(self.metadata)
    }
}

/// Buckets of one side of an exponential histogram.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExponentialBuckets<'a> {
    pub offset: i32,
    pub bucket_counts: &'a [u64],
}

/// One data point; fields that do not apply to its type stay `None`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PointRow<'a> {
    /// The point's time, else receive time, in ns since the epoch.
    pub timestamp_nanos: i64,
    pub time_unix_nano: Option<i64>,
    pub start_time_unix_nano: Option<i64>,
    pub attributes: &'a [Attribute<'a>],
    pub flags: u32,
    pub value_double: Option<f64>,
    pub value_int: Option<i64>,
    pub count: Option<u64>,
    pub sum: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub bucket_counts: Option<&'a [u64]>,
    pub explicit_bounds: Option<&'a [f64]>,
    pub scale: Option<i32>,
    pub zero_count: Option<u64>,
    pub zero_threshold: Option<f64>,
    pub positive: Option<ExponentialBuckets<'a>>,
    pub negative: Option<ExponentialBuckets<'a>>,
    /// (quantile, value) pairs of a summary.
    pub quantile_values: Option<&'a [(f64, f64)]>,
}

/// Accumulates `metrics` rows; [`MetricsBuilder::finish`] turns them into a record batch.
pub struct MetricsBuilder {
    schema: SchemaRef,
    timestamp: TimestampMicrosecondBuilder,
    time_unix_nano: Int64Builder,
    start_time_unix_nano: Int64Builder,
    metric_name: StringBuilder,
    metric_description: StringBuilder,
    metric_unit: StringBuilder,
    metric_type: StringBuilder,
    aggregation_temporality: Int32Builder,
    is_monotonic: BooleanBuilder,
    resource_scope: ResourceScopeColumns,
    attributes: MapColumn,
    flags: Int64Builder,
    value_double: Float64Builder,
    value_int: Int64Builder,
    count: Int64Builder,
    sum: Float64Builder,
    min: Float64Builder,
    max: Float64Builder,
    bucket_counts: ListBuilder<Int64Builder>,
    explicit_bounds: ListBuilder<Float64Builder>,
    scale: Int32Builder,
    zero_count: Int64Builder,
    zero_threshold: Float64Builder,
    positive_offset: Int32Builder,
    positive_bucket_counts: ListBuilder<Int64Builder>,
    negative_offset: Int32Builder,
    negative_bucket_counts: ListBuilder<Int64Builder>,
    quantiles: QuantilesColumn,
    metric_metadata: MapColumn,
}

impl Default for MetricsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// The element field of a list column, so built lists carry the schema's field id.
fn element(schema: &SchemaRef, column: &str) -> FieldRef {
    match schema
        .field_with_name(column)
        .expect("metrics column")
        .data_type()
    {
        DataType::List(element) => element.clone(),
        other => unreachable!("{column} is {other}, not a list"),
    }
}

impl MetricsBuilder {
    pub fn new() -> Self {
        let schema = metrics_schema();
        let longs = |column: &str| {
            ListBuilder::new(Int64Builder::new()).with_field(element(&schema, column))
        };
        Self {
            timestamp: TimestampMicrosecondBuilder::new(),
            time_unix_nano: Int64Builder::new(),
            start_time_unix_nano: Int64Builder::new(),
            metric_name: StringBuilder::new(),
            metric_description: StringBuilder::new(),
            metric_unit: StringBuilder::new(),
            metric_type: StringBuilder::new(),
            aggregation_temporality: Int32Builder::new(),
            is_monotonic: BooleanBuilder::new(),
            resource_scope: ResourceScopeColumns::new(),
            attributes: MapColumn::new(),
            flags: Int64Builder::new(),
            value_double: Float64Builder::new(),
            value_int: Int64Builder::new(),
            count: Int64Builder::new(),
            sum: Float64Builder::new(),
            min: Float64Builder::new(),
            max: Float64Builder::new(),
            bucket_counts: longs("bucket_counts"),
            explicit_bounds: ListBuilder::new(Float64Builder::new())
                .with_field(element(&schema, "explicit_bounds")),
            scale: Int32Builder::new(),
            zero_count: Int64Builder::new(),
            zero_threshold: Float64Builder::new(),
            positive_offset: Int32Builder::new(),
            positive_bucket_counts: longs("positive_bucket_counts"),
            negative_offset: Int32Builder::new(),
            negative_bucket_counts: longs("negative_bucket_counts"),
            quantiles: QuantilesColumn::default(),
            metric_metadata: MapColumn::new(),
            schema,
        }
    }

    pub fn len(&self) -> usize {
        self.timestamp.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held (values and offsets, not spare capacity), for the decode budget.
    pub fn bytes(&self) -> u64 {
        // timestamp, time, start, flags, value (2), count, sum, min, max, zero count and
        // threshold (8 each); temporality, scale, two bucket offsets, five list offsets
        // (4 each); is_monotonic (1).
        const FIXED: u64 = 12 * 8 + 9 * 4 + 1;
        let list = |values: usize| 8 * values as u64;
        FIXED * self.len() as u64
            + string_bytes(&self.metric_name)
            + string_bytes(&self.metric_description)
            + string_bytes(&self.metric_unit)
            + string_bytes(&self.metric_type)
            + self.resource_scope.bytes()
            + self.attributes.bytes()
            + list(self.bucket_counts.values_ref().len())
            + list(self.explicit_bounds.values_ref().len())
            + list(self.positive_bucket_counts.values_ref().len())
            + list(self.negative_bucket_counts.values_ref().len())
            + 2 * list(self.quantiles.quantile.len())
            + self.metric_metadata.bytes()
    }

    pub fn append(
        &mut self,
        resource: &ResourceFields<'_>,
        scope: &ScopeFields<'_>,
        metric: &MetricFields<'_>,
        point: &PointRow<'_>,
    ) {
        self.timestamp
            .append_value(point.timestamp_nanos.div_euclid(1000));
        self.time_unix_nano.append_option(point.time_unix_nano);
        self.start_time_unix_nano
            .append_option(point.start_time_unix_nano);
        self.metric_name.append_option(metric.name);
        self.metric_description.append_option(metric.description);
        self.metric_unit.append_option(metric.unit);
        self.metric_type.append_value(metric.metric_type);
        self.aggregation_temporality
            .append_option(metric.aggregation_temporality);
        self.is_monotonic.append_option(metric.is_monotonic);
        self.resource_scope.append(resource, scope);
        self.attributes.append(point.attributes);
        self.flags.append_value(i64::from(point.flags));
        self.value_double.append_option(point.value_double);
        self.value_int.append_option(point.value_int);
        // Unsigned counts are kept bit for bit in signed columns.
        self.count.append_option(point.count.map(|c| c as i64));
        self.sum.append_option(point.sum);
        self.min.append_option(point.min);
        self.max.append_option(point.max);
        append_counts(&mut self.bucket_counts, point.bucket_counts);
        match point.explicit_bounds {
            Some(bounds) => {
                self.explicit_bounds.values().append_slice(bounds);
                self.explicit_bounds.append(true);
            }
            None => self.explicit_bounds.append_null(),
        }
        self.scale.append_option(point.scale);
        self.zero_count
            .append_option(point.zero_count.map(|c| c as i64));
        self.zero_threshold.append_option(point.zero_threshold);
        self.positive_offset
            .append_option(point.positive.map(|b| b.offset));
        append_counts(
            &mut self.positive_bucket_counts,
            point.positive.map(|b| b.bucket_counts),
        );
        self.negative_offset
            .append_option(point.negative.map(|b| b.offset));
        append_counts(
            &mut self.negative_bucket_counts,
            point.negative.map(|b| b.bucket_counts),
        );
        self.quantiles.append(point.quantile_values);
        self.metric_metadata.append(metric.metadata);
    }

    /// The rows appended so far as one batch of the `metrics` schema; the builder starts over.
    pub fn finish(&mut self) -> RecordBatch {
        let schema = self.schema.clone();
        let data_type = |name: &str| {
            schema
                .field_with_name(name)
                .expect("metrics column")
                .data_type()
                .clone()
        };
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.timestamp.finish().with_timezone(UTC)),
            Arc::new(self.time_unix_nano.finish()),
            Arc::new(self.start_time_unix_nano.finish()),
            Arc::new(self.metric_name.finish()),
            Arc::new(self.metric_description.finish()),
            Arc::new(self.metric_unit.finish()),
            Arc::new(self.metric_type.finish()),
            Arc::new(self.aggregation_temporality.finish()),
            Arc::new(self.is_monotonic.finish()),
        ];
        self.resource_scope.finish_into(
            &mut columns,
            &data_type("resource_attributes"),
            &data_type("scope_attributes"),
        );
        columns.extend([
            self.attributes.finish(&data_type("attributes")),
            Arc::new(self.flags.finish()) as ArrayRef,
            Arc::new(self.value_double.finish()),
            Arc::new(self.value_int.finish()),
            Arc::new(self.count.finish()),
            Arc::new(self.sum.finish()),
            Arc::new(self.min.finish()),
            Arc::new(self.max.finish()),
            Arc::new(self.bucket_counts.finish()),
            Arc::new(self.explicit_bounds.finish()),
            Arc::new(self.scale.finish()),
            Arc::new(self.zero_count.finish()),
            Arc::new(self.zero_threshold.finish()),
            Arc::new(self.positive_offset.finish()),
            Arc::new(self.positive_bucket_counts.finish()),
            Arc::new(self.negative_offset.finish()),
            Arc::new(self.negative_bucket_counts.finish()),
            self.quantiles.finish(&data_type("quantile_values")),
            self.metric_metadata.finish(&data_type("metric_metadata")),
        ]);
        RecordBatch::try_new(schema, columns).expect("columns follow the metrics schema")
    }
}

fn append_counts(builder: &mut ListBuilder<Int64Builder>, counts: Option<&[u64]>) {
    match counts {
        Some(counts) => {
            for count in counts {
                builder.values().append_value(*count as i64);
            }
            builder.append(true);
        }
        None => builder.append_null(),
    }
}

struct QuantilesColumn {
    offsets: Vec<i32>,
    validity: arrow::array::BooleanBufferBuilder,
    quantile: Float64Builder,
    value: Float64Builder,
}

impl Default for QuantilesColumn {
    fn default() -> Self {
        Self {
            offsets: vec![0],
            validity: arrow::array::BooleanBufferBuilder::new(0),
            quantile: Float64Builder::new(),
            value: Float64Builder::new(),
        }
    }
}

impl QuantilesColumn {
    fn append(&mut self, pairs: Option<&[(f64, f64)]>) {
        for (quantile, value) in pairs.unwrap_or(&[]) {
            self.quantile.append_value(*quantile);
            self.value.append_value(*value);
        }
        self.validity.append(pairs.is_some());
        self.offsets.push(self.quantile.len() as i32);
    }

    fn finish(&mut self, list_type: &DataType) -> ArrayRef {
        let DataType::List(element) = list_type else {
            unreachable!("a list")
        };
        let DataType::Struct(fields) = element.data_type() else {
            unreachable!("of structs")
        };
        let children: Vec<ArrayRef> = vec![
            Arc::new(self.quantile.finish()),
            Arc::new(self.value.finish()),
        ];
        let values = StructArray::new(fields.clone(), children, None);
        let offsets = OffsetBuffer::new(std::mem::replace(&mut self.offsets, vec![0]).into());
        let nulls = arrow::buffer::NullBuffer::new(self.validity.finish());
        Arc::new(ListArray::new(
            element.clone(),
            offsets,
            Arc::new(values),
            Some(nulls),
        ))
    }
}
