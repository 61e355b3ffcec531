//! A batch's columns against its table's current schema, when they differ in the direction
//! the writer cannot fill with nulls: a batch column the table does not have by that name.
//!
//! The table's schema history says why. An earlier schema had a field of that name whose
//! id the current schema still has: someone renamed the column (Spark `RENAME COLUMN`,
//! PyIceberg `rename_column`) and its values go to it under its new name — field ids, not
//! names, are a column's identity. An earlier schema had it and the id is gone: someone
//! dropped it, on purpose, and its values are left out rather than the column brought back
//! against its owner's wish. No schema ever had it: the table predates the built-in column
//! (created by an older build or by another engine) and the lake adds it as an optional
//! column. Either way ingest goes on; before, every batch failed as "not in the table" and
//! was quarantined.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, FieldRef, Schema};
use iceberg::spec::TableMetadata;

/// What to do with the batch columns the table's current schema does not have by name.
#[derive(Debug, Default)]
pub(crate) struct ColumnPlan {
    /// Never in the table: add them.
    pub new: Vec<FieldRef>,
    /// Renamed: (batch name, the table's name now).
    pub renamed: Vec<(String, String)>,
    /// Dropped by someone: leave their values out.
    pub dropped: Vec<String>,
}

/// The plan for `batch`'s columns against `metadata`'s current schema.
pub(crate) fn plan_columns(batch: &RecordBatch, metadata: &TableMetadata) -> ColumnPlan {
    let current = metadata.current_schema();
    let mut plan = ColumnPlan::default();
    for field in batch.schema().fields() {
        if current.field_by_name(field.name()).is_some() {
            continue;
        }
        // The newest earlier schema holding the name says what the column was.
        let mut schemas: Vec<_> = metadata.schemas_iter().collect();
        schemas.sort_by_key(|schema| std::cmp::Reverse(schema.schema_id()));
        let earlier = schemas
            .iter()
            .find_map(|schema| schema.field_by_name(field.name()));
        match earlier {
            None => plan.new.push(field.clone()),
            Some(earlier) => match current.field_by_id(earlier.id) {
                Some(now) => plan.renamed.push((field.name().clone(), now.name.clone())),
                None => plan.dropped.push(field.name().clone()),
            },
        }
    }
    plan
}

/// `batch` with `plan`'s renames applied and its dropped columns left out.
pub(crate) fn apply(batch: &RecordBatch, plan: &ColumnPlan) -> RecordBatch {
    let mut fields: Vec<FieldRef> = Vec::new();
    let mut columns = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if plan.dropped.contains(field.name()) {
            continue;
        }
        let renamed = plan
            .renamed
            .iter()
            .find(|(from, _)| from == field.name())
            .map(|(_, to)| Arc::new(Field::clone(field).with_name(to.clone())));
        fields.push(renamed.unwrap_or_else(|| field.clone()));
        columns.push(column.clone());
    }
    let schema = Schema::new_with_metadata(fields, batch.schema().metadata().clone());
    RecordBatch::try_new(Arc::new(schema), columns)
        .expect("the batch's own columns under new names")
}
