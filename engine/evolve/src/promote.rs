//! A batch of a table's base schema rewritten onto its promoted columns.
//!
//! For every promoted key, a row's value leaves the map and goes to the typed column; a value
//! that does not fit the type (text where the column is `long`) goes, as its original text,
//! to the row's `_rescued` JSON object under the column's name, and the typed column is null
//! there. Nothing is dropped: every entry ends in the map, its column or `_rescued`. A key
//! repeated within one row's map fills the column once; the repeats stay in the map.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, MapArray, RecordBatch,
    StringArray, StringBuilder, StructArray, TimestampMicrosecondBuilder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Schema};
use icegate_schema::{FIELD_ID_KEY, UTC, timestamptz};

use crate::columns::{PromotedColumn, Promotions, RESCUED_COLUMN};
use crate::error::{Error, Result};
use crate::infer::{ColumnType, parse_boolean, parse_double, parse_long, parse_timestamp_micros};

/// A rewritten batch.
#[derive(Debug)]
pub struct Promoted {
    pub batch: RecordBatch,
    /// Values that did not fit their column and went to `_rescued`.
    pub rescued_values: u64,
}

/// `array` as a `map<string,string>`, if it is one.
pub(crate) fn string_map(array: &dyn Array) -> Option<&MapArray> {
    let map = array.as_any().downcast_ref::<MapArray>()?;
    (map.key_type() == &DataType::Utf8 && map.value_type() == &DataType::Utf8).then_some(map)
}

/// The Arrow field of a promoted column (optional, field id attached when known).
pub fn arrow_field(column: &PromotedColumn) -> Field {
    let data_type = match column.column_type {
        ColumnType::String => DataType::Utf8,
        ColumnType::Long => DataType::Int64,
        ColumnType::Double => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Timestamp => timestamptz(),
    };
    with_id(Field::new(&column.name, data_type, true), column.field_id)
}

fn with_id(field: Field, id: Option<i32>) -> Field {
    match id {
        Some(id) => {
            field.with_metadata(HashMap::from([(FIELD_ID_KEY.to_string(), id.to_string())]))
        }
        None => field,
    }
}

/// A typed column being filled, one slot per row.
enum Slots {
    String(StringBuilder),
    Long(Int64Builder),
    Double(Float64Builder),
    Boolean(BooleanBuilder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl Slots {
    fn new(column_type: ColumnType, rows: usize) -> Self {
        match column_type {
            ColumnType::String => Slots::String(StringBuilder::with_capacity(rows, rows * 8)),
            ColumnType::Long => Slots::Long(Int64Builder::with_capacity(rows)),
            ColumnType::Double => Slots::Double(Float64Builder::with_capacity(rows)),
            ColumnType::Boolean => Slots::Boolean(BooleanBuilder::with_capacity(rows)),
            ColumnType::Timestamp => Slots::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(rows).with_timezone(UTC),
            ),
        }
    }

    /// Appends `text` converted; `false` (and a null) when it does not fit.
    fn push(&mut self, text: Option<&str>) -> bool {
        let Some(text) = text else {
            self.push_null();
            return true;
        };
        let fits = match self {
            Slots::String(b) => {
                b.append_value(text);
                return true;
            }
            Slots::Long(b) => parse_long(text).map(|v| b.append_value(v)),
            Slots::Double(b) => parse_double(text).map(|v| b.append_value(v)),
            Slots::Boolean(b) => parse_boolean(text).map(|v| b.append_value(v)),
            Slots::Timestamp(b) => parse_timestamp_micros(text).map(|v| b.append_value(v)),
        };
        if fits.is_none() {
            self.push_null();
        }
        fits.is_some()
    }

    fn push_null(&mut self) {
        match self {
            Slots::String(b) => b.append_null(),
            Slots::Long(b) => b.append_null(),
            Slots::Double(b) => b.append_null(),
            Slots::Boolean(b) => b.append_null(),
            Slots::Timestamp(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Slots::String(b) => Arc::new(b.finish()),
            Slots::Long(b) => Arc::new(b.finish()),
            Slots::Double(b) => Arc::new(b.finish()),
            Slots::Boolean(b) => Arc::new(b.finish()),
            Slots::Timestamp(b) => Arc::new(b.finish()),
        }
    }
}

/// `batch` (the table's base schema) with `promotions`' keys moved into their columns and
/// a `_rescued` column; unchanged when the table has no promoted columns.
pub fn promote(table: &str, batch: &RecordBatch, promotions: &Promotions) -> Result<Promoted> {
    if promotions.columns.is_empty() {
        return Ok(Promoted {
            batch: batch.clone(),
            rescued_values: 0,
        });
    }
    let rows = batch.num_rows();
    let mut slots: Vec<Slots> = promotions
        .columns
        .iter()
        .map(|column| Slots::new(column.column_type, rows))
        .collect();
    let mut rescued: Vec<Vec<(usize, String)>> = vec![Vec::new(); rows];
    let mut rescued_values = 0u64;
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();

    let mut sources: Vec<&str> = promotions
        .columns
        .iter()
        .map(|c| c.source.as_str())
        .collect();
    sources.sort_unstable();
    sources.dedup();
    for source in sources {
        // Key → index of its column (the first one listed, should a key appear twice).
        let mut wanted: HashMap<&str, usize> = HashMap::new();
        for (index, column) in promotions.columns.iter().enumerate() {
            if column.source == source {
                wanted.entry(column.key.as_str()).or_insert(index);
            }
        }
        let Some(position) = batch.schema().index_of(source).ok() else {
            continue; // the whole source is absent: its columns are null (below)
        };
        let map =
            string_map(batch.column(position).as_ref()).ok_or_else(|| Error::NotAStringMap {
                table: table.to_string(),
                column: source.to_string(),
            })?;
        let kept = split_map(map, &wanted, |row, index, text| {
            let slot = &mut slots[index];
            // Rows before this one that had no value for the key get their null now.
            let missing = row - slot_len(slot);
            for _ in 0..missing {
                slot.push_null();
            }
            if !slot.push(text) {
                rescued_values += 1;
                rescued[row].push((index, text.unwrap_or_default().to_string()));
            }
        })
        .map_err(|source| Error::Arrow {
            table: table.to_string(),
            source,
        })?;
        columns[position] = Arc::new(kept);
    }

    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for (column, slot) in promotions.columns.iter().zip(&mut slots) {
        while slot_len(slot) < rows {
            slot.push_null();
        }
        fields.push(arrow_field(column));
        columns.push(slot.finish());
    }
    let mut text = StringBuilder::with_capacity(rows, 0);
    for row in &rescued {
        if row.is_empty() {
            text.append_null();
        } else {
            let object: serde_json::Map<String, serde_json::Value> = row
                .iter()
                .map(|(index, value)| {
                    (
                        promotions.columns[*index].name.clone(),
                        serde_json::Value::String(value.clone()),
                    )
                })
                .collect();
            text.append_value(serde_json::Value::Object(object).to_string());
        }
    }
    fields.push(with_id(
        Field::new(RESCUED_COLUMN, DataType::Utf8, true),
        promotions.rescued_field_id,
    ));
    columns.push(Arc::new(text.finish()));
    let schema = Arc::new(Schema::new_with_metadata(
        fields,
        batch.schema().metadata().clone(),
    ));
    let batch = RecordBatch::try_new(schema, columns).map_err(|source| Error::Arrow {
        table: table.to_string(),
        source,
    })?;
    Ok(Promoted {
        batch,
        rescued_values,
    })
}

fn slot_len(slot: &Slots) -> usize {
    use arrow::array::ArrayBuilder;
    match slot {
        Slots::String(b) => b.len(),
        Slots::Long(b) => b.len(),
        Slots::Double(b) => b.len(),
        Slots::Boolean(b) => b.len(),
        Slots::Timestamp(b) => b.len(),
    }
}

/// `map` without the first entry of each wanted key per row; `take(row, column, value)`
/// receives those entries in row order.
fn split_map(
    map: &MapArray,
    wanted: &HashMap<&str, usize>,
    mut take: impl FnMut(usize, usize, Option<&str>),
) -> Result<MapArray, arrow::error::ArrowError> {
    let entries = map.entries();
    let mut keys = StringBuilder::with_capacity(entries.len(), 0);
    let mut values = StringBuilder::with_capacity(entries.len(), 0);
    let mut offsets: Vec<i32> = Vec::with_capacity(map.len() + 1);
    offsets.push(0);
    let mut seen: Vec<usize> = Vec::new();
    let mut row = 0;
    let offsets_in = map.value_offsets();
    let names = map.keys().as_any().downcast_ref::<StringArray>();
    let texts = map.values().as_any().downcast_ref::<StringArray>();
    let (Some(names), Some(texts)) = (names, texts) else {
        return Err(arrow::error::ArrowError::SchemaError(
            "map entries are not strings".into(),
        ));
    };
    while row < map.len() {
        seen.clear();
        if map.is_valid(row) {
            for i in offsets_in[row] as usize..offsets_in[row + 1] as usize {
                let key = names.value(i);
                let value = texts.is_valid(i).then(|| texts.value(i));
                match wanted.get(key) {
                    Some(&index) if !seen.contains(&index) => {
                        seen.push(index);
                        take(row, index, value);
                    }
                    _ => {
                        keys.append_value(key);
                        values.append_option(value);
                    }
                }
            }
        }
        offsets.push(arrow::array::ArrayBuilder::len(&keys) as i32);
        row += 1;
    }
    let (fields, _, _) = entries.clone().into_parts();
    let struct_array = StructArray::try_new(
        fields,
        vec![Arc::new(keys.finish()), Arc::new(values.finish())],
        None,
    )?;
    let DataType::Map(entries_field, ordered) = map.data_type() else {
        unreachable!("a MapArray has a map type")
    };
    MapArray::try_new(
        entries_field.clone(),
        OffsetBuffer::new(offsets.into()),
        struct_array,
        map.nulls().cloned(),
        *ordered,
    )
}
