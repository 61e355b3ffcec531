//! Rewriting a bin of sorted files into one sorted run: a k-way merge in the table's sort
//! order that opens an input only when the merge reaches its lower bound.
//!
//! Every input file is sorted (ingest sorts each batch before it writes it), and files of one
//! partition written one flush after another barely overlap. So the merge takes whole runs —
//! as many rows of the smallest input as sort before both the next input's head and the next
//! unopened file's lower bound (from the manifest's column bounds) — and at any time holds
//! only the files whose ranges overlap: memory is a batch per overlapping file, not the bin.
//! A file that is not sorted (written by another engine) still has every row written once;
//! the output is then only as sorted as its inputs.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, new_null_array,
};
use arrow::compute::{SortOptions, cast, concat_batches};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::row::{OwnedRow, RowConverter, Rows, SortField};
use futures::StreamExt;
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::scan::{ArrowRecordBatchStream, FileScanTask};
use iceberg::spec::{
    DataFile, DataFileFormat, Datum, ManifestEntryRef, NullOrder, PrimitiveLiteral, SortDirection,
    Struct, Transform,
};
use iceberg::table::Table;
use icegate_writer::{ParquetConfig, PartitionWriter};

use crate::error::{Error, Result};

/// Rows read per batch from each input.
const READ_BATCH_ROWS: usize = 4096;
/// Rows gathered before they are handed to the Parquet writer.
const WRITE_BATCH_ROWS: usize = 65_536;

/// What a rewrite produced.
#[derive(Debug)]
pub struct Rewritten {
    pub files: Vec<DataFile>,
    pub rows: u64,
}

/// One sort key column: where it is in the batch and how it sorts.
struct KeyColumn {
    field_id: i32,
    index: usize,
    data_type: DataType,
    options: SortOptions,
}

/// Merges `inputs` (live files of one partition) into new files of `partition`.
pub async fn rewrite_bin(
    table: &Table,
    partition: &Struct,
    inputs: &[ManifestEntryRef],
    parquet: &ParquetConfig,
) -> Result<Rewritten> {
    let name = table.identifier().to_string();
    let metadata = table.metadata();
    let schema = metadata.current_schema().clone();
    let arrow_schema: SchemaRef = Arc::new(
        schema_to_arrow_schema(&schema).map_err(Error::iceberg(&name, "convert the schema"))?,
    );
    let keys = key_columns(table, &arrow_schema);
    let converter = RowConverter::new(
        keys.iter()
            .map(|key| SortField::new_with_options(key.data_type.clone(), key.options))
            .collect(),
    )
    .map_err(|err| arrow_error(&name, "sort keys", err))?;

    // Inputs in the order of their lower bounds; a file without one opens first.
    let mut pending: Vec<(Option<OwnedRow>, &ManifestEntryRef)> = inputs
        .iter()
        .map(|entry| (lower_bound(&converter, &keys, entry.data_file()), entry))
        .collect();
    pending.sort_by(|(a, _), (b, _)| match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(a), Some(b)) => a.row().cmp(&b.row()),
    });
    let mut pending = pending.into_iter().peekable();

    let mut writer = PartitionWriter::open(table, Some(partition.clone()), parquet)
        .await
        .map_err(|source| Error::Write {
            table: name.clone(),
            source: Box::new(source),
        })?;
    let mut open: Vec<Cursor> = Vec::new();
    let mut out: Vec<RecordBatch> = Vec::new();
    let mut out_rows = 0usize;
    let mut rows = 0u64;
    if keys.is_empty() {
        // No sort order (or one starting with a transform): inputs one after another, in
        // commit order.
        for entry in inputs {
            let Some(mut cursor) = Cursor::open(table, entry, &arrow_schema, &keys, &converter)
                .await
                .map_err(|err| err.context(&name))?
            else {
                continue;
            };
            loop {
                rows += cursor.batch.num_rows() as u64;
                out_rows += cursor.batch.num_rows();
                out.push(cursor.batch.clone());
                if out_rows >= WRITE_BATCH_ROWS {
                    write(&mut writer, &arrow_schema, &mut out, &name).await?;
                    out_rows = 0;
                }
                if !cursor
                    .advance(&arrow_schema, &keys, &converter)
                    .await
                    .map_err(|err| err.context(&name))?
                {
                    break;
                }
            }
        }
        pending.by_ref().for_each(drop);
    }
    loop {
        // Open every input that may hold the next row: all whose lower bound is not above
        // the smallest head (or the next input when nothing is open).
        while let Some((bound, _)) = pending.peek() {
            let due = match (open.iter().map(Cursor::head).min(), bound) {
                (None, _) | (_, None) => true,
                (Some(head), Some(bound)) => bound.row() <= head,
            };
            if !due {
                break;
            }
            let (_, entry) = pending.next().expect("peeked");
            if let Some(cursor) = Cursor::open(table, entry, &arrow_schema, &keys, &converter)
                .await
                .map_err(|err| err.context(&name))?
            {
                open.push(cursor);
            }
        }
        if open.is_empty() {
            if pending.peek().is_none() {
                break;
            }
            continue;
        }
        // The smallest head, and how far it may run: up to the second-smallest head and the
        // next unopened lower bound.
        let smallest = (0..open.len())
            .min_by(|&a, &b| open[a].head().cmp(&open[b].head()))
            .expect("not empty");
        let end = {
            let second = (0..open.len())
                .filter(|&index| index != smallest)
                .map(|index| open[index].head())
                .min();
            let next_bound = pending
                .peek()
                .and_then(|(bound, _)| bound.as_ref().map(OwnedRow::row));
            let limit = match (second, next_bound) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            open[smallest].run_end(limit)
        };
        let cursor = &mut open[smallest];
        let run = cursor.batch.slice(cursor.position, end - cursor.position);
        out_rows += run.num_rows();
        rows += run.num_rows() as u64;
        out.push(run);
        cursor.position = end;
        if cursor.position == cursor.batch.num_rows()
            && !cursor
                .advance(&arrow_schema, &keys, &converter)
                .await
                .map_err(|err| err.context(&name))?
        {
            open.swap_remove(smallest);
        }
        if out_rows >= WRITE_BATCH_ROWS {
            write(&mut writer, &arrow_schema, &mut out, &name).await?;
            out_rows = 0;
        }
    }
    write(&mut writer, &arrow_schema, &mut out, &name).await?;
    let files = writer.close().await.map_err(|source| Error::Write {
        table: name.clone(),
        source: Box::new(source),
    })?;
    Ok(Rewritten { files, rows })
}

async fn write(
    writer: &mut PartitionWriter,
    schema: &SchemaRef,
    out: &mut Vec<RecordBatch>,
    table: &str,
) -> Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let batch =
        concat_batches(schema, out.iter()).map_err(|err| arrow_error(table, "gather rows", err))?;
    out.clear();
    writer.write(&batch).await.map_err(|source| Error::Write {
        table: table.to_string(),
        source: Box::new(source),
    })
}

fn arrow_error(table: &str, operation: &'static str, err: arrow::error::ArrowError) -> Error {
    Error::Iceberg {
        table: table.to_string(),
        operation,
        source: Box::new(iceberg::Error::new(
            iceberg::ErrorKind::DataInvalid,
            err.to_string(),
        )),
    }
}

/// Failures while reading an input, named by the table afterwards.
enum ReadError {
    Iceberg(&'static str, iceberg::Error),
    Arrow(&'static str, arrow::error::ArrowError),
}

impl ReadError {
    fn context(self, table: &str) -> Error {
        match self {
            ReadError::Iceberg(operation, source) => Error::Iceberg {
                table: table.to_string(),
                operation,
                source: Box::new(source),
            },
            ReadError::Arrow(operation, err) => arrow_error(table, operation, err),
        }
    }
}

/// An open input: its stream, its current batch and that batch's sort keys.
struct Cursor {
    stream: ArrowRecordBatchStream,
    batch: RecordBatch,
    keys: Rows,
    position: usize,
}

impl Cursor {
    async fn open(
        table: &Table,
        entry: &ManifestEntryRef,
        schema: &SchemaRef,
        keys: &[KeyColumn],
        converter: &RowConverter,
    ) -> Result<Option<Self>, ReadError> {
        let file = entry.data_file();
        let metadata = table.metadata();
        let iceberg_schema = metadata.current_schema().clone();
        let task = FileScanTask::builder()
            .with_file_size_in_bytes(file.file_size_in_bytes())
            .with_start(0)
            .with_length(file.file_size_in_bytes())
            .with_record_count(Some(file.record_count()))
            .with_data_file_path(file.file_path().to_string())
            .with_data_file_format(DataFileFormat::Parquet)
            .with_project_field_ids(
                iceberg_schema
                    .as_struct()
                    .fields()
                    .iter()
                    .map(|field| field.id)
                    .collect(),
            )
            .with_schema(iceberg_schema)
            .with_case_sensitive(true)
            .build();
        let stream = table
            .reader_builder()
            .with_batch_size(READ_BATCH_ROWS)
            .with_data_file_concurrency_limit(1)
            .build()
            .read(Box::pin(futures::stream::iter([Ok(task)])))
            .map_err(|err| ReadError::Iceberg("read an input file", err))?
            .stream();
        let mut cursor = Self {
            stream,
            batch: RecordBatch::new_empty(schema.clone()),
            keys: converter.empty_rows(0, 0),
            position: 0,
        };
        Ok(cursor
            .advance(schema, keys, converter)
            .await?
            .then_some(cursor))
    }

    /// Moves to the next non-empty batch; false at the end of the file.
    async fn advance(
        &mut self,
        schema: &SchemaRef,
        keys: &[KeyColumn],
        converter: &RowConverter,
    ) -> Result<bool, ReadError> {
        while let Some(batch) = self.stream.next().await {
            let batch = batch.map_err(|err| ReadError::Iceberg("read an input file", err))?;
            if batch.num_rows() == 0 {
                continue;
            }
            let batch = conform(batch, schema)
                .map_err(|err| ReadError::Arrow("read an input file", err))?;
            let columns: Vec<ArrayRef> = keys
                .iter()
                .map(|key| batch.column(key.index).clone())
                .collect();
            if !keys.is_empty() {
                self.keys = converter
                    .convert_columns(&columns)
                    .map_err(|err| ReadError::Arrow("sort keys", err))?;
            }
            self.batch = batch;
            self.position = 0;
            return Ok(true);
        }
        Ok(false)
    }

    fn head(&self) -> arrow::row::Row<'_> {
        self.keys.row(self.position)
    }

    /// The end of the run from the head: the first row after `limit` (at least one row: the
    /// head is the smallest row, so it never sorts after the limit).
    fn run_end(&self, limit: Option<arrow::row::Row<'_>>) -> usize {
        let len = self.batch.num_rows();
        let Some(limit) = limit else {
            return len;
        };
        let (mut low, mut high) = (self.position + 1, len);
        while low < high {
            let middle = low + (high - low) / 2;
            if self.keys.row(middle) <= limit {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }
}

/// `batch` with exactly `schema`'s fields (the reader's metadata may differ in field-level
/// details such as metadata keys), so runs of different files concatenate.
fn conform(
    batch: RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch);
    }
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.schema().index_of(field.name()) {
            Ok(index) => {
                let column = batch.column(index);
                if column.data_type() == field.data_type() {
                    Ok(column.clone())
                } else {
                    cast(column, field.data_type())
                }
            }
            Err(_) => Ok(new_null_array(field.data_type(), batch.num_rows())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

/// The table's sort order as key columns: its identity fields up to the first one that is
/// not (a transform's order is not the column's order, so the key stops there).
fn key_columns(table: &Table, schema: &SchemaRef) -> Vec<KeyColumn> {
    let metadata = table.metadata();
    let iceberg_schema = metadata.current_schema();
    let mut keys = Vec::new();
    for field in &metadata.default_sort_order().fields {
        if field.transform != Transform::Identity {
            break;
        }
        let Some(column) = iceberg_schema.field_by_id(field.source_id) else {
            break;
        };
        let Ok(index) = schema.index_of(&column.name) else {
            break;
        };
        keys.push(KeyColumn {
            field_id: field.source_id,
            index,
            data_type: schema.field(index).data_type().clone(),
            options: SortOptions {
                descending: field.direction == SortDirection::Descending,
                nulls_first: field.null_order == NullOrder::First,
            },
        });
    }
    keys
}

/// A lexicographic lower bound (in sort order) of every row of `file`, from its column
/// bounds and null counts; `None` when a bound is unknown.
fn lower_bound(converter: &RowConverter, keys: &[KeyColumn], file: &DataFile) -> Option<OwnedRow> {
    let mut columns = Vec::with_capacity(keys.len());
    for key in keys {
        let nulls = file
            .null_value_counts()
            .get(&key.field_id)
            .copied()
            .unwrap_or(0);
        let all_null = nulls == file.record_count();
        let column = if (nulls > 0 && key.options.nulls_first) || all_null {
            new_null_array(&key.data_type, 1)
        } else if key.options.descending {
            // Upper bounds of strings are truncated (not bounds at all once cut): only exact
            // types may stand in for the largest value.
            let datum = file.upper_bounds().get(&key.field_id)?;
            if matches!(datum.literal(), PrimitiveLiteral::String(_)) {
                return None;
            }
            datum_array(datum, &key.data_type)?
        } else {
            datum_array(file.lower_bounds().get(&key.field_id)?, &key.data_type)?
        };
        columns.push(column);
    }
    if columns.is_empty() {
        return None;
    }
    let rows = converter.convert_columns(&columns).ok()?;
    Some(rows.row(0).owned())
}

/// A one-row array of `data_type` holding `datum` (a prefix for truncated strings, which
/// still bounds from below).
fn datum_array(datum: &Datum, data_type: &DataType) -> Option<ArrayRef> {
    let raw: ArrayRef = match datum.literal() {
        PrimitiveLiteral::Boolean(value) => Arc::new(BooleanArray::from(vec![*value])),
        PrimitiveLiteral::Int(value) => Arc::new(Int32Array::from(vec![*value])),
        PrimitiveLiteral::Long(value) => Arc::new(Int64Array::from(vec![*value])),
        PrimitiveLiteral::Float(value) => Arc::new(Float32Array::from(vec![value.0])),
        PrimitiveLiteral::Double(value) => Arc::new(Float64Array::from(vec![value.0])),
        PrimitiveLiteral::String(value) => Arc::new(StringArray::from(vec![value.as_str()])),
        _ => return None,
    };
    if raw.data_type() == data_type {
        return Some(raw);
    }
    cast(&raw, data_type)
        .ok()
        .filter(|array| array.null_count() == 0)
}
