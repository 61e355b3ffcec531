//! Redacting the configured columns of a record batch; untouched columns are shared, not
//! copied.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, AsArray, ListArray, MapArray, RecordBatch, StringArray,
    StringBuilder, StructArray,
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
            if let Some(array) = self.redact_column(field.name(), &columns[index])? {
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

    /// The column at `path` redacted, or `None` if it is not configured or nothing changed.
    /// A list of structs is entered when a configured path names one of its fields
    /// (`events.attributes`).
    fn redact_column(&self, path: &str, array: &ArrayRef) -> Result<Option<ArrayRef>> {
        let arrow = |source| Error::Arrow {
            column: path.to_string(),
            source,
        };
        match array.data_type() {
            DataType::Utf8 if self.columns.iter().any(|c| c == path) => {
                Ok(self.redact_strings(array.as_string::<i32>()))
            }
            DataType::Map(..) if self.attribute_columns.iter().any(|c| c == path) => {
                let map = array.as_any().downcast_ref::<MapArray>().expect("map type");
                self.redact_map(map).map_err(arrow)
            }
            DataType::List(element) => {
                let prefix = format!("{path}.");
                let wanted = self
                    .columns
                    .iter()
                    .chain(&self.attribute_columns)
                    .any(|c| c.starts_with(&prefix));
                let list = array.as_list::<i32>();
                let Some(structs) = list.values().as_struct_opt().filter(|_| wanted) else {
                    return Ok(None);
                };
                let mut children = structs.columns().to_vec();
                let mut changed = false;
                for (child, field) in children.iter_mut().zip(structs.fields()) {
                    if let Some(redacted) =
                        self.redact_column(&format!("{prefix}{}", field.name()), child)?
                    {
                        *child = redacted;
                        changed = true;
                    }
                }
                if !changed {
                    return Ok(None);
                }
                let structs = StructArray::try_new(
                    structs.fields().clone(),
                    children,
                    structs.nulls().cloned(),
                )
                .map_err(arrow)?;
                let list = ListArray::try_new(
                    element.clone(),
                    list.offsets().clone(),
                    Arc::new(structs),
                    list.nulls().cloned(),
                )
                .map_err(arrow)?;
                Ok(Some(Arc::new(list)))
            }
            _ => Ok(None),
        }
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
        // Resource and scope attributes repeat for every record of their resource: check one
        // row of each run of identical rows.
        let repeats = repeated_rows(map);
        let distinct = ranges_of_distinct(&repeats);
        let dropped = distinct.iter().any(|rows| {
            (offsets[rows.start] as usize..offsets[rows.end] as usize)
                .any(|entry| self.drops_key(keys.value(entry)))
        });
        let redacted = || {
            distinct.iter().any(|rows| {
                let entries = offsets[rows.start] as usize..offsets[rows.end] as usize;
                let changes = |entry: usize| {
                    values.is_valid(entry)
                        && matches!(self.redact_text(values.value(entry)), Cow::Owned(_))
                };
                match self.candidate_rows(
                    values.values(),
                    &values.value_offsets()[entries.start..=entries.end],
                ) {
                    Some(candidates) => candidates
                        .into_iter()
                        .any(|offset| changes(entries.start + offset)),
                    None => entries.clone().any(changes),
                }
            })
        };
        if !dropped && !redacted() {
            return Ok(None);
        }
        let mut new_keys = StringBuilder::new();
        let mut new_values = StringBuilder::new();
        let mut new_offsets = Vec::with_capacity(offsets.len());
        new_offsets.push(0i32);
        // A row that repeats the one before gets that row's result again (not redacted again).
        let mut previous: Vec<(&str, Option<Cow<'_, str>>)> = Vec::new();
        for (row, &repeat) in repeats.iter().enumerate() {
            if !repeat {
                previous.clear();
                for entry in offsets[row] as usize..offsets[row + 1] as usize {
                    let key = keys.value(entry);
                    if self.drops_key(key) {
                        continue;
                    }
                    let value = values
                        .is_valid(entry)
                        .then(|| self.redact_text(values.value(entry)));
                    previous.push((key, value));
                }
            }
            for (key, value) in &previous {
                new_keys.append_value(key);
                new_values.append_option(value.as_deref());
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

/// For every row, whether it has the same entries (keys, values, nulls) as the row before:
/// resource and scope attributes repeat for every record of their resource.
fn repeated_rows(map: &MapArray) -> Vec<bool> {
    let keys = map.keys().as_string::<i32>();
    let values = map.values().as_string::<i32>();
    let offsets = map.value_offsets();
    let same = |a: usize, b: usize| {
        let (a_entries, b_entries) = (
            offsets[a] as usize..offsets[a + 1] as usize,
            offsets[b] as usize..offsets[b + 1] as usize,
        );
        a_entries.len() == b_entries.len()
            && a_entries.zip(b_entries).all(|(x, y)| {
                keys.value(x) == keys.value(y)
                    && values.is_valid(x) == values.is_valid(y)
                    && values.value(x) == values.value(y)
            })
    };
    (0..map.len())
        .map(|row| row > 0 && same(row - 1, row))
        .collect()
}

/// The rows that do not repeat the one before, as ranges of neighbouring rows (so
/// per-record attributes are scanned in one pass over their buffer).
fn ranges_of_distinct(repeats: &[bool]) -> Vec<std::ops::Range<usize>> {
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    for (row, _) in repeats.iter().enumerate().filter(|(_, repeat)| !**repeat) {
        match ranges.last_mut() {
            Some(last) if last.end == row => last.end = row + 1,
            _ => ranges.push(row..row + 1),
        }
    }
    ranges
}
