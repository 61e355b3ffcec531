//! A `map<string,string>` column built from (key, value) pairs, assembled into a `MapArray`
//! whose entry fields carry the schema's field ids.

use std::sync::Arc;

use arrow::array::{ArrayBuilder, ArrayRef, MapArray, StringBuilder, StructArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, FieldRef};

/// A string column's bytes: values and offsets.
#[inline]
pub(crate) fn string_bytes(builder: &StringBuilder) -> u64 {
    (builder.values_slice().len() + 4 * builder.len()) as u64
}

pub(crate) struct MapColumn {
    offsets: Vec<i32>,
    keys: StringBuilder,
    values: StringBuilder,
}

impl MapColumn {
    pub fn new() -> Self {
        Self {
            offsets: vec![0],
            keys: StringBuilder::new(),
            values: StringBuilder::new(),
        }
    }

    /// Appends one row's map.
    pub fn append<'p>(&mut self, pairs: impl IntoIterator<Item = &'p (&'p str, Option<&'p str>)>) {
        for (key, value) in pairs {
            self.keys.append_value(key);
            self.values.append_option(*value);
        }
        self.offsets.push(self.keys.len() as i32);
    }

    /// Bytes held (values and offsets, not spare capacity), for the decode budget.
    pub fn bytes(&self) -> u64 {
        string_bytes(&self.keys) + string_bytes(&self.values) + 4 * self.offsets.len() as u64
    }

    /// Builds the column for a map field of type `map_type` and resets the builder.
    pub fn finish(&mut self, map_type: &DataType) -> ArrayRef {
        let entries_field: FieldRef =
            icegate_schema::map_entries(map_type).expect("schema declares a map");
        let DataType::Struct(entry_fields) = entries_field.data_type() else {
            unreachable!("map entries are a struct");
        };
        let keys = Arc::new(self.keys.finish()) as ArrayRef;
        let values = Arc::new(self.values.finish()) as ArrayRef;
        let entries = StructArray::new(entry_fields.clone(), vec![keys, values], None);
        let offsets = OffsetBuffer::new(std::mem::replace(&mut self.offsets, vec![0]).into());
        Arc::new(
            MapArray::try_new(entries_field, offsets, entries, None, false)
                .expect("offsets and entries built together"),
        )
    }
}
