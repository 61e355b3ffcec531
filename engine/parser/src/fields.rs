//! What rows of every table share: attributes, the resource and the instrumentation scope,
//! and the builder for the resource and scope columns.

use std::sync::Arc;

use arrow::array::{ArrayBuilder, ArrayRef, Int32Builder, StringBuilder};
use arrow::datatypes::DataType;

use crate::map_column::{MapColumn, string_bytes};

/// An attribute: key and rendered value (`None` when the value was empty).
pub type Attribute<'a> = (&'a str, Option<&'a str>);

/// What every record of one OTLP `Resource` shares.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResourceFields<'a> {
    pub service_name: &'a str,
    pub attributes: &'a [Attribute<'a>],
    pub dropped_attributes_count: u32,
    pub schema_url: Option<&'a str>,
}

/// What every record of one `InstrumentationScope` shares.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScopeFields<'a> {
    pub name: Option<&'a str>,
    pub version: Option<&'a str>,
    pub attributes: &'a [Attribute<'a>],
    pub dropped_attributes_count: u32,
    pub schema_url: Option<&'a str>,
}

/// Bytes a list of attributes adds to every row it is copied into: keys, values, offsets.
pub(crate) fn attributes_bytes(attributes: &[Attribute<'_>]) -> u64 {
    attributes
        .iter()
        .map(|(key, value)| (key.len() + value.map_or(0, str::len) + 8) as u64)
        .sum()
}

impl ResourceFields<'_> {
    /// Bytes these fields add to every row of the resource (strings; offsets included).
    pub(crate) fn row_bytes(&self) -> u64 {
        (self.service_name.len() + self.schema_url.map_or(0, str::len)) as u64
            + attributes_bytes(self.attributes)
    }
}

impl ScopeFields<'_> {
    /// Bytes these fields add to every row of the scope.
    pub(crate) fn row_bytes(&self) -> u64 {
        [self.name, self.version, self.schema_url]
            .iter()
            .map(|text| text.map_or(0, str::len) as u64)
            .sum::<u64>()
            + attributes_bytes(self.attributes)
    }
}

/// The event time a row is filed under: event time, else observed time, else receipt.
pub fn effective_time(time: Option<i64>, observed: Option<i64>, received_at_nanos: i64) -> i64 {
    time.or(observed).unwrap_or(received_at_nanos)
}

/// The nine columns every table has for its resource and scope, in schema order:
/// `service_name`, `resource_attributes`, `resource_dropped_attributes_count`,
/// `resource_schema_url`, `scope_name`, `scope_version`, `scope_attributes`,
/// `scope_dropped_attributes_count`, `scope_schema_url`.
pub(crate) struct ResourceScopeColumns {
    service_name: StringBuilder,
    resource_attributes: MapColumn,
    resource_dropped_attributes_count: Int32Builder,
    resource_schema_url: StringBuilder,
    scope_name: StringBuilder,
    scope_version: StringBuilder,
    scope_attributes: MapColumn,
    scope_dropped_attributes_count: Int32Builder,
    scope_schema_url: StringBuilder,
}

impl ResourceScopeColumns {
    pub fn new() -> Self {
        Self {
            service_name: StringBuilder::new(),
            resource_attributes: MapColumn::new(),
            resource_dropped_attributes_count: Int32Builder::new(),
            resource_schema_url: StringBuilder::new(),
            scope_name: StringBuilder::new(),
            scope_version: StringBuilder::new(),
            scope_attributes: MapColumn::new(),
            scope_dropped_attributes_count: Int32Builder::new(),
            scope_schema_url: StringBuilder::new(),
        }
    }

    pub fn append(&mut self, resource: &ResourceFields<'_>, scope: &ScopeFields<'_>) {
        self.service_name.append_value(resource.service_name);
        self.resource_attributes.append(resource.attributes);
        self.resource_dropped_attributes_count
            .append_value(resource.dropped_attributes_count as i32);
        self.resource_schema_url.append_option(resource.schema_url);
        self.scope_name.append_option(scope.name);
        self.scope_version.append_option(scope.version);
        self.scope_attributes.append(scope.attributes);
        self.scope_dropped_attributes_count
            .append_value(scope.dropped_attributes_count as i32);
        self.scope_schema_url.append_option(scope.schema_url);
    }

    /// Bytes held (values and offsets), for the decode budget.
    pub fn bytes(&self) -> u64 {
        string_bytes(&self.service_name)
            + self.resource_attributes.bytes()
            + 4 * self.resource_dropped_attributes_count.len() as u64
            + string_bytes(&self.resource_schema_url)
            + string_bytes(&self.scope_name)
            + string_bytes(&self.scope_version)
            + self.scope_attributes.bytes()
            + 4 * self.scope_dropped_attributes_count.len() as u64
            + string_bytes(&self.scope_schema_url)
    }

    /// Appends the nine finished columns to `out`; `types` are the two map columns' types
    /// (resource attributes, scope attributes).
    pub fn finish_into(
        &mut self,
        out: &mut Vec<ArrayRef>,
        resource_map: &DataType,
        scope_map: &DataType,
    ) {
        out.push(Arc::new(self.service_name.finish()));
        out.push(self.resource_attributes.finish(resource_map));
        out.push(Arc::new(self.resource_dropped_attributes_count.finish()));
        out.push(Arc::new(self.resource_schema_url.finish()));
        out.push(Arc::new(self.scope_name.finish()));
        out.push(Arc::new(self.scope_version.finish()));
        out.push(self.scope_attributes.finish(scope_map));
        out.push(Arc::new(self.scope_dropped_attributes_count.finish()));
        out.push(Arc::new(self.scope_schema_url.finish()));
    }
}
