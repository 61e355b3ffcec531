//! Sealed, sorted Arrow batches into Parquet data files of an Iceberg table.
//!
//! [`write_data_files`] splits a batch by the table's partition spec (e.g. one file per
//! `(day, service)`), writes each part through iceberg-rust's Parquet writer into the table's
//! storage, and returns [`DataFile`]s carrying what readers prune with: record count, file
//! size, partition values, and per-column value/null counts and lower/upper bounds.
//!
//! Parquet settings ([`ParquetConfig`]): zstd (level configurable), dictionary encoding
//! (Parquet's default, which pays on low-cardinality columns like `service_name` and
//! `severity_text` and falls back by itself on high-cardinality ones), column statistics and
//! the page index on every column, a bloom filter on `trace_id`, row groups and target file
//! size by configuration. Rows keep the batch's order, so files are written in the table's
//! sort order. File names are UUIDv7s: a retried write never overwrites another file, and a
//! file whose commit never happened is only an orphan for the compactor to delete. Partition
//! values are percent-encoded (and long ones shortened with a hash) in paths
//! ([`SafeLocationGenerator`]): no value can leave the table's directory or break a store.

use std::sync::Arc;

use arrow::array::RecordBatch;
use iceberg::spec::{DataFile, DataFileFormat};
use iceberg::table::Table;
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::DefaultFileNameGenerator;
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};

mod location;
pub use location::{MAX_ENCODED_VALUE, SHORTENED_PREFIX, SafeLocationGenerator, path_segment};

/// Parquet file settings. In TOML (defaults shown):
///
/// ```toml
/// zstd-level = 3
/// row-group-rows = 1048576
/// target-file-size = 134217728
/// bloom-filter-columns = ["trace_id"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ParquetConfig {
    /// zstd level, 1 (fast) to 22 (small). Default: 3.
    pub zstd_level: i32,
    /// Rows per row group. Default: 1 Mi.
    pub row_group_rows: usize,
    /// A file rolls over to the next once it reaches this many bytes. Default: 128 MiB.
    pub target_file_size: usize,
    /// Columns with a bloom filter (point lookups such as one trace id). Default: `trace_id`.
    pub bloom_filter_columns: Vec<String>,
}

impl Default for ParquetConfig {
    fn default() -> Self {
        Self {
            zstd_level: 3,
            row_group_rows: 1 << 20,
            target_file_size: 128 << 20,
            bloom_filter_columns: vec!["trace_id".into()],
        }
    }
}

/// What can go wrong writing data files; names the table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("table {table}: invalid Parquet settings: {problem}")]
    Config { table: String, problem: String },
    #[error("table {table}: {operation}: {source}")]
    Iceberg {
        table: String,
        operation: &'static str,
        #[source]
        source: iceberg::Error,
    },
}

impl Error {
    /// Storage failures are worth retrying; bad settings or data are not.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Iceberg { source, .. } if !matches!(source.kind(), iceberg::ErrorKind::DataInvalid | iceberg::ErrorKind::FeatureUnsupported))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Parquet writer properties for `config`.
pub fn writer_properties(config: &ParquetConfig) -> Result<WriterProperties, String> {
    let level = ZstdLevel::try_new(config.zstd_level)
        .map_err(|err| format!("zstd-level {}: {err}", config.zstd_level))?;
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(config.row_group_rows.max(1)))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(true);
    for column in &config.bloom_filter_columns {
        builder = builder.set_column_bloom_filter_enabled(ColumnPath::from(column.as_str()), true);
    }
    Ok(builder.build())
}

/// `batch` re-labelled with `table_schema`'s field ids, columns matched by name.
///
/// A catalog may number a new table's fields its own way (iceberg-rust and Java keep the
/// order IceGate's schemas are written in; other REST catalogs do not), and partitioning and
/// Parquet field ids follow the table's numbering, so the batch takes the table's ids before
/// it is written. Column data is shared, not copied. A table column the batch lacks (added by
/// schema evolution) is filled with nulls; a batch column the table lacks is an error.
pub fn align_to_table(
    batch: &RecordBatch,
    table_schema: &iceberg::spec::Schema,
) -> Result<RecordBatch, String> {
    let target =
        iceberg::arrow::schema_to_arrow_schema(table_schema).map_err(|err| err.to_string())?;
    if let Some(extra) = batch
        .schema()
        .fields()
        .iter()
        .find(|field| target.field_with_name(field.name()).is_err())
    {
        return Err(format!(
            "column {:?} is not in the table (schema evolution needed)",
            extra.name()
        ));
    }
    let mut columns = Vec::with_capacity(target.fields().len());
    for field in target.fields() {
        let column = match batch.column_by_name(field.name()) {
            Some(column) => retype(column, field.data_type())
                .map_err(|err| format!("column {:?}: {err}", field.name()))?,
            None => arrow::array::new_null_array(field.data_type(), batch.num_rows()),
        };
        columns.push(column);
    }
    RecordBatch::try_new(Arc::new(target), columns).map_err(|err| err.to_string())
}

/// `array` under `data_type`, which must have the same physical layout (only names and
/// metadata of nested fields differ) or be its Iceberg widening.
fn retype(
    array: &arrow::array::ArrayRef,
    data_type: &arrow::datatypes::DataType,
) -> Result<arrow::array::ArrayRef, arrow::error::ArrowError> {
    use arrow::datatypes::DataType;
    if array.data_type() == data_type {
        return Ok(array.clone());
    }
    // A column another engine widened as Iceberg allows (int → long, float → double).
    if matches!(
        (array.data_type(), data_type),
        (DataType::Int32, DataType::Int64) | (DataType::Float32, DataType::Float64)
    ) {
        return arrow::compute::cast(array, data_type);
    }
    Ok(arrow::array::make_array(retype_data(
        array.to_data(),
        data_type,
    )?))
}

fn retype_data(
    data: arrow::array::ArrayData,
    data_type: &arrow::datatypes::DataType,
) -> Result<arrow::array::ArrayData, arrow::error::ArrowError> {
    use arrow::datatypes::DataType;
    let child_types: Vec<DataType> = match data_type {
        DataType::List(element) | DataType::LargeList(element) | DataType::Map(element, _) => {
            vec![element.data_type().clone()]
        }
        DataType::Struct(fields) => fields.iter().map(|f| f.data_type().clone()).collect(),
        _ => Vec::new(),
    };
    if child_types.len() != data.child_data().len() {
        return Err(arrow::error::ArrowError::SchemaError(format!(
            "cannot relabel {} as {data_type}",
            data.data_type()
        )));
    }
    let children = data
        .child_data()
        .iter()
        .zip(&child_types)
        .map(|(child, child_type)| retype_data(child.clone(), child_type))
        .collect::<Result<Vec<_>, _>>()?;
    data.into_builder()
        .data_type(data_type.clone())
        .child_data(children)
        .build()
}

/// Splits `batch` into partitions without copying rows: partition values are computed for the
/// whole batch at once (vectorised), runs of equal values become zero-copy slices, and each
/// partition's slices are grouped in arrival order. A batch sorted by the table's sort order
/// (which starts with the partition source columns) has one run per partition; an unsorted
/// batch is reordered by partition once first.
///
/// (iceberg-rust's `RecordBatchPartitionSplitter` converts every row's partition value to a
/// `Literal` and filters a copy per partition; measured here at half the write throughput.)
pub fn split_by_partition(
    batch: &RecordBatch,
    schema: &iceberg::spec::SchemaRef,
    spec: &iceberg::spec::PartitionSpecRef,
) -> iceberg::Result<Vec<(iceberg::spec::PartitionKey, Vec<RecordBatch>)>> {
    use iceberg::arrow::{PartitionValueCalculator, arrow_struct_to_literal};
    use iceberg::spec::{Literal, PartitionKey, Struct};

    let partition_type = spec.partition_type(schema)?;
    let values = PartitionValueCalculator::try_new(spec, schema)?.calculate(batch)?;
    let columns: Vec<arrow::array::ArrayRef> =
        match values.as_any().downcast_ref::<arrow::array::StructArray>() {
            Some(structs) => structs.columns().to_vec(),
            None => vec![values.clone()],
        };
    let arrow_error = |what: &str, err: arrow::error::ArrowError| {
        iceberg::Error::new(iceberg::ErrorKind::DataInvalid, format!("{what}: {err}"))
    };
    let mut batch = batch.clone();
    let mut values = values;
    let mut columns = columns;
    let mut runs = arrow::compute::partition(&columns)
        .map_err(|err| arrow_error("finding partition runs", err))?
        .ranges();
    // Unsorted input has short runs: reorder it by partition once (one copy), so each
    // partition becomes one run again instead of thousands of tiny writes.
    if runs.len() > 64 && batch.num_rows() / runs.len() < 256 {
        let sort_columns: Vec<arrow::compute::SortColumn> = columns
            .iter()
            .map(|values| arrow::compute::SortColumn {
                values: values.clone(),
                options: None,
            })
            .collect();
        let indices = arrow::compute::lexsort_to_indices(&sort_columns, None)
            .map_err(|err| arrow_error("sorting by partition", err))?;
        batch = arrow::compute::take_record_batch(&batch, &indices)
            .map_err(|err| arrow_error("sorting by partition", err))?;
        values = arrow::compute::take(&values, &indices, None)
            .map_err(|err| arrow_error("sorting by partition", err))?;
        columns = match values.as_any().downcast_ref::<arrow::array::StructArray>() {
            Some(structs) => structs.columns().to_vec(),
            None => vec![values.clone()],
        };
        runs = arrow::compute::partition(&columns)
            .map_err(|err| arrow_error("finding partition runs", err))?
            .ranges();
    }
    let mut order: Vec<Struct> = Vec::new();
    let mut groups: std::collections::HashMap<Struct, Vec<RecordBatch>> =
        std::collections::HashMap::new();
    for run in runs {
        let first = values.slice(run.start, 1);
        let data = match arrow_struct_to_literal(&first, &partition_type)?
            .pop()
            .flatten()
        {
            Some(Literal::Struct(data)) => data,
            _ => {
                return Err(iceberg::Error::new(
                    iceberg::ErrorKind::DataInvalid,
                    "partition value is not a struct",
                ));
            }
        };
        let slice = batch.slice(run.start, run.end - run.start);
        match groups.get_mut(&data) {
            Some(slices) => slices.push(slice),
            None => {
                order.push(data.clone());
                groups.insert(data, vec![slice]);
            }
        }
    }
    Ok(order
        .into_iter()
        .map(|data| {
            let slices = groups.remove(&data).expect("grouped above");
            (
                PartitionKey::new(spec.as_ref().clone(), schema.clone(), data),
                slices,
            )
        })
        .collect())
}

/// Writes `batch` (already in the table's sort order) as data files of `table`, one or more
/// per partition. Nothing is committed: hand the files to the committer.
pub async fn write_data_files(
    table: &Table,
    batch: &RecordBatch,
    config: &ParquetConfig,
) -> Result<Vec<DataFile>> {
    let name = table.identifier().to_string();
    let iceberg = |operation: &'static str| {
        let table = name.clone();
        move |source| Error::Iceberg {
            table,
            operation,
            source,
        }
    };
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let metadata = table.metadata();
    let schema = metadata.current_schema().clone();
    let properties = writer_properties(config).map_err(|problem| Error::Config {
        table: name.clone(),
        problem,
    })?;
    let batch = &align_to_table(batch, &schema).map_err(|problem| Error::Config {
        table: name.clone(),
        problem,
    })?;
    let parquet = ParquetWriterBuilder::new(properties, schema.clone());
    let locations =
        SafeLocationGenerator::new(metadata).map_err(iceberg("choose file locations"))?;
    // A fresh UUIDv7 per batch: unique names, and sorted by creation time in listings.
    let names = DefaultFileNameGenerator::new(
        uuid::Uuid::now_v7().to_string(),
        None,
        DataFileFormat::Parquet,
    );
    let rolling = RollingFileWriterBuilder::new(
        parquet,
        config.target_file_size,
        table.file_io().clone(),
        locations,
        names,
    );
    let builder = DataFileWriterBuilder::new(rolling);
    let spec = metadata.default_partition_spec().clone();
    let parts = if spec.is_unpartitioned() {
        vec![(None, vec![batch.clone()])]
    } else {
        split_by_partition(batch, &schema, &spec)
            .map_err(iceberg("partition the batch"))?
            .into_iter()
            .map(|(key, slices)| (Some(key), slices))
            .collect()
    };
    let mut files = Vec::new();
    for (key, slices) in parts {
        let mut writer = builder
            .build(key)
            .await
            .map_err(iceberg("open a data file"))?;
        for slice in slices {
            writer
                .write(slice)
                .await
                .map_err(iceberg("write a data file"))?;
        }
        files.extend(
            writer
                .close()
                .await
                .map_err(iceberg("finish a data file"))?,
        );
    }
    Ok(files)
}

/// A writer of one partition's data files, fed batch by batch (the compactor's output): rolls
/// over to a new file at `target-file-size`, so memory holds one row group, not the files.
pub struct PartitionWriter {
    table: String,
    schema: iceberg::spec::SchemaRef,
    inner: iceberg::writer::base_writer::data_file_writer::DataFileWriter<
        ParquetWriterBuilder,
        SafeLocationGenerator,
        DefaultFileNameGenerator,
    >,
}

impl PartitionWriter {
    /// Opens a writer for `partition` (values in the table's default spec; `None` for an
    /// unpartitioned table).
    pub async fn open(
        table: &Table,
        partition: Option<iceberg::spec::Struct>,
        config: &ParquetConfig,
    ) -> Result<Self> {
        let name = table.identifier().to_string();
        let metadata = table.metadata();
        let schema = metadata.current_schema().clone();
        let properties = writer_properties(config).map_err(|problem| Error::Config {
            table: name.clone(),
            problem,
        })?;
        let iceberg = |operation: &'static str| {
            let table = name.clone();
            move |source| Error::Iceberg {
                table,
                operation,
                source,
            }
        };
        let locations =
            SafeLocationGenerator::new(metadata).map_err(iceberg("choose file locations"))?;
        let names = DefaultFileNameGenerator::new(
            uuid::Uuid::now_v7().to_string(),
            None,
            DataFileFormat::Parquet,
        );
        let rolling = RollingFileWriterBuilder::new(
            ParquetWriterBuilder::new(properties, schema.clone()),
            config.target_file_size,
            table.file_io().clone(),
            locations,
            names,
        );
        let key = partition.map(|data| {
            iceberg::spec::PartitionKey::new(
                metadata.default_partition_spec().as_ref().clone(),
                schema.clone(),
                data,
            )
        });
        let inner = DataFileWriterBuilder::new(rolling)
            .build(key)
            .await
            .map_err(iceberg("open a data file"))?;
        Ok(Self {
            table: name,
            schema,
            inner,
        })
    }

    /// Appends `batch` (columns matched to the table's by name).
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let batch = align_to_table(batch, &self.schema).map_err(|problem| Error::Config {
            table: self.table.clone(),
            problem,
        })?;
        self.inner
            .write(batch)
            .await
            .map_err(|source| Error::Iceberg {
                table: self.table.clone(),
                operation: "write a data file",
                source,
            })
    }

    /// Finishes the last file; returns every file written.
    pub async fn close(mut self) -> Result<Vec<DataFile>> {
        self.inner.close().await.map_err(|source| Error::Iceberg {
            table: self.table.clone(),
            operation: "finish a data file",
            source,
        })
    }
}
