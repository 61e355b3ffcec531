//! Redacting the configured columns of a record batch; untouched columns are shared, not
//! copied.

use std::borrow::Cow;
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

    /// The column redacted, or `None` if no value changed (the common case costs one scan of
    /// the value buffer and no allocation).
    fn redact_strings(&self, strings: &StringArray) -> Option<ArrayRef> {
        let changed: Vec<(usize, String)> = self
            .rows_to_check(strings)
            .filter(|&row| strings.is_valid(row))
            .filter_map(|row| match self.redact_text(strings.value(row)) {
                Cow::Owned(text) => Some((row, text)),
                Cow::Borrowed(_) => None,
            })
            .collect();
        if changed.is_empty() {
            return None;
        }
        let mut builder = StringBuilder::with_capacity(strings.len(), strings.values().len());
        let mut replacements = changed.into_iter().peekable();
        for row in 0..strings.len() {
            if strings.is_null(row) {
                builder.append_null();
            } else if replacements.peek().is_some_and(|(r, _)| *r == row) {
                let (_, text) = replacements.next().expect("peeked");
                builder.append_value(text);
            } else {
                builder.append_value(strings.value(row));
            }
        }
        Some(Arc::new(builder.finish()))
    }

    /// The rows of `strings` that may need redaction, in order.
    fn rows_to_check(&self, strings: &StringArray) -> Box<dyn Iterator<Item = usize>> {
        match self.candidate_rows(strings.values(), strings.value_offsets()) {
            Some(rows) => Box::new(rows.into_iter()),
            None => Box::new(0..strings.len()),
        }
    }

    /// The map with dropped keys removed and values redacted, or `None` if nothing changed
    /// (checked first, so an unchanged map is not copied).
    fn redact_map(&self, map: &MapArray) -> Result<Option<ArrayRef>, arrow::error::ArrowError> {
        let keys = map.keys().as_string::<i32>();
        let values = map.values().as_string::<i32>();
        let offsets = map.value_offsets();
        let entries = offsets[0] as usize..offsets[map.len()] as usize;
        let dropped = entries
            .clone()
            .any(|entry| self.drops_key(keys.value(entry)));
        let redacted = || {
            self.rows_to_check(values).any(|entry| {
                entries.contains(&entry)
                    && values.is_valid(entry)
                    && matches!(self.redact_text(values.value(entry)), Cow::Owned(_))
            })
        };
        if !dropped && !redacted() {
            return Ok(None);
        }
        let mut new_keys = StringBuilder::new();
        let mut new_values = StringBuilder::new();
        let mut new_offsets = Vec::with_capacity(offsets.len());
        new_offsets.push(0i32);
        for row in 0..map.len() {
            for entry in offsets[row] as usize..offsets[row + 1] as usize {
                let key = keys.value(entry);
                if self.drops_key(key) {
                    continue;
                }
                new_keys.append_value(key);
                if values.is_null(entry) {
                    new_values.append_null();
                } else {
                    new_values.append_value(self.redact_text(values.value(entry)));
                }
            }
            new_offsets.push(new_keys.len() as i32);
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
