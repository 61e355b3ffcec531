//! Sorting a batch by a table's sort order.

use arrow::array::RecordBatch;
use arrow::compute::{SortColumn, SortOptions, lexsort_to_indices, take_record_batch};
use icegate_schema::SortField;

use crate::error::{Error, Result, arrow};

/// `batch` sorted by `sort_by` (nulls first, as Iceberg's default sort order puts them).
/// Stable: rows with equal keys keep their arrival order.
pub fn sort_batch(table: &str, batch: &RecordBatch, sort_by: &[SortField]) -> Result<RecordBatch> {
    if sort_by.is_empty() || batch.num_rows() < 2 {
        return Ok(batch.clone());
    }
    let mut columns = Vec::with_capacity(sort_by.len() + 1);
    for field in sort_by {
        let values = batch
            .column_by_name(&field.column)
            .ok_or_else(|| Error::UnknownSortColumn {
                table: table.into(),
                column: field.column.clone(),
            })?
            .clone();
        columns.push(SortColumn {
            values,
            options: Some(SortOptions {
                descending: field.descending,
                nulls_first: true,
            }),
        });
    }
    // Arrival order as the last key makes the sort stable.
    let arrival: arrow::array::ArrayRef = std::sync::Arc::new(
        arrow::array::UInt32Array::from_iter_values(0..batch.num_rows() as u32),
    );
    columns.push(SortColumn {
        values: arrival,
        options: None,
    });
    let indices =
        lexsort_to_indices(&columns, None).map_err(arrow(format!("sorting the {table} batch")))?;
    take_record_batch(batch, &indices).map_err(arrow(format!("reordering the {table} batch")))
}
