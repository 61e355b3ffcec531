//! Promoted columns as the table records them: the table's schema is the only record of
//! which key became which column, so every node (and a restart) reads the same answer.
//!
//! Format (version 1), in the Iceberg field's `doc`:
//!
//! ```text
//! promoted column:  {"icegate-promoted":1,"source":"attributes","key":"http.status_code"}
//! dead-letter:      {"icegate-rescued":1}          (the column `_rescued`, string)
//! ```
//!
//! A promoted column is optional and has one of the types of [`ColumnType`]. Its name is the
//! key sanitised ([`column_name`]); the doc, not the name, says where it came from, so a
//! user may rename the column (Spark, PyIceberg) and promotion keeps filling it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::infer::ColumnType;

/// The dead-letter column: per row, a JSON object of promoted column name → the original
/// text of a value that did not fit that column's type (null when every value fitted).
pub const RESCUED_COLUMN: &str = "_rescued";

/// Longest column name promotion makes (before a collision suffix).
const MAX_NAME: usize = 96;

/// A key that is (or is to become) a typed column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PromotedColumn {
    /// The column's name in the table.
    pub name: String,
    /// The map column the key is read from (`attributes`, `resource_attributes`, …).
    pub source: String,
    /// The map key.
    pub key: String,
    pub column_type: ColumnType,
    /// The Iceberg field id, once the column is in the table.
    pub field_id: Option<i32>,
}

#[derive(Serialize, Deserialize)]
struct PromotedDoc {
    #[serde(rename = "icegate-promoted")]
    version: u32,
    source: String,
    key: String,
}

const DOC_VERSION: u32 = 1;

impl PromotedColumn {
    /// The field doc that records this column's origin.
    pub fn doc(&self) -> String {
        serde_json::to_string(&PromotedDoc {
            version: DOC_VERSION,
            source: self.source.clone(),
            key: self.key.clone(),
        })
        .expect("strings serialise")
    }

    /// The column a table field describes, if its doc says it was promoted (by any version
    /// this build reads).
    pub fn from_field(
        name: &str,
        doc: Option<&str>,
        column_type: Option<ColumnType>,
        field_id: i32,
    ) -> Option<Self> {
        let parsed: PromotedDoc = serde_json::from_str(doc?).ok()?;
        (parsed.version == DOC_VERSION).then_some(())?;
        Some(Self {
            name: name.to_string(),
            source: parsed.source,
            key: parsed.key,
            column_type: column_type?,
            field_id: Some(field_id),
        })
    }
}

/// The doc of the dead-letter column.
pub fn rescued_doc() -> String {
    format!("{{\"icegate-rescued\":{DOC_VERSION}}}")
}

/// What a table's current schema says about promotion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Promotions {
    /// Promoted columns, in schema order.
    pub columns: Vec<PromotedColumn>,
    /// The dead-letter column's field id, when the table has it.
    pub rescued_field_id: Option<i32>,
    /// Every top-level column name of the table (lower-cased: names must not collide in
    /// case-insensitive engines either).
    pub names: HashSet<String>,
}

impl Promotions {
    /// Whether `source`'s `key` already has a column.
    pub fn has(&self, source: &str, key: &str) -> bool {
        self.columns
            .iter()
            .any(|column| column.source == source && column.key == key)
    }
}

/// The column name for `source`'s `key`: a prefix naming the source (`attr_`, `resource_`,
/// `scope_`), then the key lower-cased with every run of characters other than `a-z`, `0-9`
/// turned into one `_`, at most 96 bytes; `_2`, `_3`, … appended while it collides with a
/// name in `taken` (compared lower-cased).
pub fn column_name(source: &str, key: &str, taken: &HashSet<String>) -> String {
    let prefix = match source {
        "attributes" => "attr_",
        "resource_attributes" => "resource_",
        "scope_attributes" => "scope_",
        other => return column_name("attributes", &format!("{other}.{key}"), taken),
    };
    let mut name = String::from(prefix);
    for c in key.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('_') {
            name.push('_');
        }
        if name.len() >= MAX_NAME {
            break;
        }
    }
    while name.len() > prefix.len() && name.ends_with('_') {
        name.pop();
    }
    if name.len() == prefix.len() {
        name.push_str("key");
    }
    if !taken.contains(&name) {
        return name;
    }
    (2..)
        .map(|n| format!("{name}_{n}"))
        .find(|candidate| !taken.contains(candidate))
        .expect("some suffix is free")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn names_are_sanitised_and_collisions_get_a_suffix() {
        let mut taken = HashSet::from(["attr_http_status".to_string()]);
        assert_eq!(
            column_name("attributes", "HTTP.Status", &taken),
            "attr_http_status_2"
        );
        taken.insert("attr_http_status_2".into());
        assert_eq!(
            column_name("attributes", "http status", &taken),
            "attr_http_status_3"
        );
        assert_eq!(
            column_name("resource_attributes", "k8s.pod.name", &taken),
            "resource_k8s_pod_name"
        );
        assert_eq!(column_name("attributes", "..", &taken), "attr_key");
        assert_eq!(column_name("attributes", "ünïcode", &taken), "attr_n_code");
    }

    #[test]
    fn docs_round_trip_and_foreign_docs_are_not_promotions() {
        let column = PromotedColumn {
            name: "attr_user_id".into(),
            source: "attributes".into(),
            key: "user \"id\"".into(),
            column_type: ColumnType::Long,
            field_id: Some(40),
        };
        let read =
            PromotedColumn::from_field("renamed", Some(&column.doc()), Some(ColumnType::Long), 40)
                .unwrap();
        assert_eq!(read.key, column.key);
        assert_eq!(read.name, "renamed");
        assert!(
            PromotedColumn::from_field("x", Some("a comment"), Some(ColumnType::Long), 1).is_none()
        );
        assert!(PromotedColumn::from_field("x", None, Some(ColumnType::Long), 1).is_none());
        let future = r#"{"icegate-promoted":2,"source":"attributes","key":"k"}"#;
        assert!(PromotedColumn::from_field("x", Some(future), Some(ColumnType::Long), 1).is_none());
    }

    proptest! {
        #[test]
        fn names_are_valid_and_never_collide(keys in proptest::collection::vec(".{0,120}", 1..20)) {
            let mut taken = HashSet::new();
            for key in keys {
                let name = column_name("attributes", &key, &taken);
                prop_assert!(name.len() <= MAX_NAME + 4);
                prop_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
                prop_assert!(taken.insert(name));
            }
        }
    }
}
