//! Promotions as an Iceberg table schema holds them (see [`crate::columns`] for the format).

use iceberg::spec::{PrimitiveType, Schema, Type};

use crate::columns::{PromotedColumn, Promotions, RESCUED_COLUMN};
use crate::infer::ColumnType;

/// What `schema` says about promotion: promoted columns by their field docs, the dead-letter
/// column by its name (when it is a string).
pub fn promotions_of(schema: &Schema) -> Promotions {
    let mut promotions = Promotions::default();
    for field in schema.as_struct().fields() {
        promotions.names.insert(field.name.to_lowercase());
        let column_type = match field.field_type.as_ref() {
            Type::Primitive(PrimitiveType::String) => Some(ColumnType::String),
            Type::Primitive(PrimitiveType::Long) => Some(ColumnType::Long),
            Type::Primitive(PrimitiveType::Double) => Some(ColumnType::Double),
            Type::Primitive(PrimitiveType::Boolean) => Some(ColumnType::Boolean),
            Type::Primitive(PrimitiveType::Timestamptz) => Some(ColumnType::Timestamp),
            _ => None,
        };
        if field.name == RESCUED_COLUMN {
            if column_type == Some(ColumnType::String) {
                promotions.rescued_field_id = Some(field.id);
            }
            continue;
        }
        if let Some(column) =
            PromotedColumn::from_field(&field.name, field.doc.as_deref(), column_type, field.id)
        {
            promotions.columns.push(column);
        }
    }
    promotions
}

/// The Iceberg type of a promoted column.
pub fn iceberg_type(column_type: ColumnType) -> Type {
    Type::Primitive(match column_type {
        ColumnType::String => PrimitiveType::String,
        ColumnType::Long => PrimitiveType::Long,
        ColumnType::Double => PrimitiveType::Double,
        ColumnType::Boolean => PrimitiveType::Boolean,
        ColumnType::Timestamp => PrimitiveType::Timestamptz,
    })
}
