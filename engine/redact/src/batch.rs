//! Redacting the configured columns of a record batch; untouched columns are shared, not
//! copied.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, AsArray, MapArray, RecordBatch, StringArray, StringBuilder,
    StructArray,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::DataType;

use crate::error::{Error, Result};
use crate::redactor::Redactor;

impl Redactor {
    /// `batch` with its configured string columns and attribute maps redacted. Columns the
    /// batch does not have are skipped, so one configuration serves every table.
    pub fn redact_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if !self.is_enabled() {
            return Ok(batch.clone());
        }
        let schema = batch.schema();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        let mut changed = false;
        for (index, field) in schema.fields().iter().enumerate() {
            let name = field.name();
            let replacement = match field.data_type() {
                DataType::Utf8 if self.columns.iter().any(|c| c == name) => {
                    self.redact_strings(columns[index].as_string::<i32>())
                }
                DataType::Map(..) if self.attribute_columns.iter().any(|c| c == name) => {
                    let map = columns[index]
                        .as_any()
                        .downcast_ref::<MapArray>()
                        .expect("map type");
                    self.redact_map(map).map_err(|source| Error::Arrow {
                        column: name.clone(),
                        source,
                    })?
                }
                _ => None,
            };
            if let Some(array) = replacement {
                columns[index] = array;
                changed = true;
            }
        }
        if !changed {
            return Ok(batch.clone());
        }
        RecordBatch::try_new(schema, columns).map_err(|source| Error::Arrow {
            column: "(batch)".into(),
            source,
        })
    }

    /// The column redacted, or `None` if no value changed.
    fn redact_strings(&self, strings: &StringArray) -> Option<ArrayRef> {
        let redacted: Vec<Option<std::borrow::Cow<'_, str>>> = strings
            .iter()
            .map(|value| value.map(|text| self.redact_text(text)))
            .collect();
        if redacted
            .iter()
            .flatten()
            .all(|value| matches!(value, std::borrow::Cow::Borrowed(_)))
        {
            return None;
        }
        Some(Arc::new(
            redacted
                .iter()
                .map(|value| value.as_deref())
                .collect::<StringArray>(),
        ))
    }

    /// The map with dropped keys removed and values redacted, or `None` if nothing changed.
    fn redact_map(&self, map: &MapArray) -> Result<Option<ArrayRef>, arrow::error::ArrowError> {
        let keys = map.keys().as_string::<i32>();
        let values = map.values().as_string::<i32>();
        let offsets = map.value_offsets();
        let mut new_keys = StringBuilder::new();
        let mut new_values = StringBuilder::new();
        let mut new_offsets = Vec::with_capacity(offsets.len());
        new_offsets.push(0i32);
        let mut changed = false;
        for row in 0..map.len() {
            for entry in offsets[row] as usize..offsets[row + 1] as usize {
                let key = keys.value(entry);
                if self.drops_key(key) {
                    changed = true;
                    continue;
                }
                new_keys.append_value(key);
                if values.is_null(entry) {
                    new_values.append_null();
                } else {
                    let value = self.redact_text(values.value(entry));
                    changed |= matches!(value, std::borrow::Cow::Owned(_));
                    new_values.append_value(value);
                }
            }
            new_offsets.push(new_keys.len() as i32);
        }
        if !changed {
            return Ok(None);
        }
        let DataType::Map(entries_field, ordered) = map.data_type() else {
            unreachable!("a map array has a map type")
        };
        let DataType::Struct(entry_fields) = entries_field.data_type() else {
            unreachable!("map entries are a struct")
        };
        let entries = StructArray::try_new(
            entry_fields.clone(),
            vec![Arc::new(new_keys.finish()), Arc::new(new_values.finish())],
            None,
        )?;
        let map = MapArray::try_new(
            entries_field.clone(),
            OffsetBuffer::new(new_offsets.into()),
            entries,
            map.nulls().cloned(),
            *ordered,
        )?;
        Ok(Some(Arc::new(map)))
    }
}
