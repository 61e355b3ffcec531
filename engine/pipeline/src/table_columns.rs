//! A batch's columns against its table's current schema, when they differ in the direction
//! the writer cannot fill with nulls: a batch column the table does not have.
//!
//! Either the table never had it — it was created by an older build (or by another engine)
//! before the built-in schema gained the column — and the lake adds it as an optional column;
//! or someone dropped it (Spark `ALTER TABLE … DROP COLUMN`, PyIceberg `delete_column`): an
//! earlier schema of the table has it, so it was removed on purpose, and its values are left
//! out rather than the column brought back against its owner's wish. Either way ingest goes
//! on; before, every batch failed as "not in the table" and was quarantined.

use arrow::array::RecordBatch;
use arrow::datatypes::FieldRef;
use iceberg::spec::TableMetadata;

/// The batch columns `metadata`'s current schema lacks: `(never in the table, dropped)`.
pub(crate) fn missing_columns(
    batch: &RecordBatch,
    metadata: &TableMetadata,
) -> (Vec<FieldRef>, Vec<String>) {
    let current = metadata.current_schema();
    let (mut new, mut dropped) = (Vec::new(), Vec::new());
    for field in batch.schema().fields() {
        if current.field_by_name(field.name()).is_some() {
            continue;
        }
        let had_it = metadata
            .schemas_iter()
            .any(|schema| schema.field_by_name(field.name()).is_some());
        if had_it {
            dropped.push(field.name().clone());
        } else {
            new.push(field.clone());
        }
    }
    (new, dropped)
}

/// `batch` without the columns named in `names`.
pub(crate) fn without(batch: &RecordBatch, names: &[String]) -> RecordBatch {
    let keep: Vec<usize> = batch
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, field)| !names.contains(field.name()))
        .map(|(index, _)| index)
        .collect();
    batch
        .project(&keep)
        .expect("indices of the batch's own columns")
}
