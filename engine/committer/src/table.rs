//! Tables are created on first use from IceGate's schemas and a layout.

use std::collections::HashMap;

use arrow::datatypes::Schema as ArrowSchema;
use iceberg::spec::{
    NullOrder, Schema, SortDirection, SortField as IcebergSortField, SortOrder, Transform,
    UnboundPartitionSpec,
};
use iceberg::table::Table;
use iceberg::{TableCreation, TableIdent};
use icegate_schema::{PartitionTransform, TableLayout};

use crate::catalog::Lake;
use crate::error::{Error, Result};

/// Table properties IceGate sets on the tables it creates.
fn table_properties() -> HashMap<String, String> {
    HashMap::from(
        [
            ("write.format.default", "parquet"),
            ("write.parquet.compression-codec", "zstd"),
            ("write.parquet.compression-level", "3"),
            ("write.target-file-size-bytes", "134217728"),
            ("write.metadata.delete-after-commit.enabled", "true"),
            ("write.metadata.previous-versions-max", "100"),
            ("write.parquet.bloom-filter-enabled.column.trace_id", "true"),
            ("created-by", "icegate"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

impl Lake {
    /// The identifier of table `name` in this lake's namespace.
    pub fn table_ident(&self, name: &str) -> TableIdent {
        TableIdent::new(self.namespace.clone(), name.to_string())
    }

    /// Loads table `name`, creating it from `schema` and `layout` if it does not exist yet.
    /// Safe against a concurrent creator: whoever loses the race loads the winner's table.
    pub async fn table(
        &self,
        name: &str,
        schema: &ArrowSchema,
        layout: &TableLayout,
    ) -> Result<Table> {
        self.table_at(&self.table_ident(name), schema, layout).await
    }

    /// Loads table `ident` (any namespace), creating its namespace and the table from
    /// `schema` and `layout` if they do not exist yet. Safe against concurrent creators.
    pub async fn table_at(
        &self,
        ident: &TableIdent,
        schema: &ArrowSchema,
        layout: &TableLayout,
    ) -> Result<Table> {
        let name = ident.name();
        let ident = ident.clone();
        let exists = self
            .catalog
            .table_exists(&ident)
            .await
            .map_err(self.catalog_error("check table", ident.to_string()))?;
        if !exists {
            if ident.namespace() != &self.namespace {
                self.ensure_namespace(ident.namespace()).await?;
            }
            // Storage or catalog hiccups during creation are retried a few times; losing the
            // creation race to another writer is not an error.
            let mut attempt = 0;
            loop {
                attempt += 1;
                let creation = table_creation(name, schema, layout)?;
                match self.catalog.create_table(ident.namespace(), creation).await {
                    Ok(table) => {
                        tracing::info!(table = %ident, "created table");
                        return Ok(table);
                    }
                    Err(err) if err.kind() == iceberg::ErrorKind::TableAlreadyExists => break,
                    Err(err) => {
                        let err = self.catalog_error("create table", ident.to_string())(err);
                        if attempt >= 4 || !err.is_retryable() {
                            return Err(err);
                        }
                        tracing::warn!(error = %err, attempt, "creating the table failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
                        if self.catalog.table_exists(&ident).await.unwrap_or(false) {
                            break;
                        }
                    }
                }
            }
        }
        self.catalog
            .load_table(&ident)
            .await
            .map_err(self.catalog_error("load table", ident.to_string()))
    }
}

/// The creation request for a table of `schema` laid out as `layout` (format v2).
pub fn table_creation(
    name: &str,
    schema: &ArrowSchema,
    layout: &TableLayout,
) -> Result<TableCreation> {
    let schema_error = |problem: String| Error::Schema {
        table: name.to_string(),
        problem,
    };
    layout.validate(schema).map_err(schema_error)?;
    let iceberg_schema = iceberg::arrow::arrow_schema_to_schema(schema)
        .map_err(|err| schema_error(format!("schema not expressible in Iceberg: {err}")))?;
    let spec = partition_spec(&iceberg_schema, layout).map_err(schema_error)?;
    let sort_order = sort_order(&iceberg_schema, layout).map_err(schema_error)?;
    Ok(TableCreation::builder()
        .name(name.to_string())
        .schema(iceberg_schema)
        .partition_spec(spec)
        .sort_order(sort_order)
        .properties(table_properties())
        .build())
}

fn source_id(schema: &Schema, column: &str) -> Result<i32, String> {
    schema
        .field_by_name(column)
        .map(|field| field.id)
        .ok_or_else(|| format!("no column {column:?}"))
}

fn partition_spec(schema: &Schema, layout: &TableLayout) -> Result<UnboundPartitionSpec, String> {
    let mut builder = UnboundPartitionSpec::builder();
    for transform in &layout.partition_by {
        let column = transform.source();
        let (iceberg_transform, suffix) = match transform {
            PartitionTransform::Identity(_) => (Transform::Identity, String::new()),
            PartitionTransform::Year(_) => (Transform::Year, "_year".into()),
            PartitionTransform::Month(_) => (Transform::Month, "_month".into()),
            PartitionTransform::Day(_) => (Transform::Day, "_day".into()),
            PartitionTransform::Hour(_) => (Transform::Hour, "_hour".into()),
            PartitionTransform::Bucket(n, _) => (Transform::Bucket(*n), format!("_bucket_{n}")),
            PartitionTransform::Truncate(n, _) => (Transform::Truncate(*n), format!("_trunc_{n}")),
        };
        builder = builder
            .add_partition_field(
                source_id(schema, column)?,
                format!("{column}{suffix}"),
                iceberg_transform,
            )
            .map_err(|err| format!("partition {transform}: {err}"))?;
    }
    Ok(builder.build())
}

fn sort_order(schema: &Schema, layout: &TableLayout) -> Result<SortOrder, String> {
    let mut builder = SortOrder::builder();
    for field in &layout.sort_by {
        builder.with_sort_field(IcebergSortField {
            source_id: source_id(schema, &field.column)?,
            transform: Transform::Identity,
            direction: if field.descending {
                SortDirection::Descending
            } else {
                SortDirection::Ascending
            },
            null_order: NullOrder::First,
        });
    }
    // Iceberg reserves order id 0 for "unsorted" and requires it then.
    builder
        .with_order_id(if layout.sort_by.is_empty() { 0 } else { 1 })
        .build(schema)
        .map_err(|err| format!("sort order: {err}"))
}
