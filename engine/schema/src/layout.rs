//! How a table is partitioned and sorted: plain configuration, turned into Iceberg partition
//! specs and sort orders by the lake writer.

use serde::{Deserialize, Serialize};

/// A partition transform on a source column, written as Iceberg writes it:
/// `"day(timestamp)"`, `"hour(timestamp)"`, `"identity(service_name)"`, `"bucket[16](trace_id)"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionTransform {
    Identity(String),
    Year(String),
    Month(String),
    Day(String),
    Hour(String),
    Bucket(u32, String),
    Truncate(u32, String),
}

impl PartitionTransform {
    /// The column the transform reads.
    pub fn source(&self) -> &str {
        match self {
            PartitionTransform::Identity(c)
            | PartitionTransform::Year(c)
            | PartitionTransform::Month(c)
            | PartitionTransform::Day(c)
            | PartitionTransform::Hour(c)
            | PartitionTransform::Bucket(_, c)
            | PartitionTransform::Truncate(_, c) => c,
        }
    }
}

impl std::str::FromStr for PartitionTransform {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid partition transform {text:?}: expected e.g. day(timestamp), identity(service_name), bucket[16](trace_id)"
            )
        };
        let (head, rest) = text.trim().split_once('(').ok_or_else(bad)?;
        let column = rest.strip_suffix(')').ok_or_else(bad)?.trim().to_string();
        if column.is_empty() {
            return Err(bad());
        }
        let with_width = |name: &str| -> Result<Option<u32>, String> {
            match head.strip_prefix(name) {
                Some(width) => {
                    let width = width
                        .strip_prefix('[')
                        .and_then(|w| w.strip_suffix(']'))
                        .ok_or_else(bad)?;
                    let width: u32 = width.parse().map_err(|_| bad())?;
                    if width == 0 {
                        return Err(bad());
                    }
                    Ok(Some(width))
                }
                None => Ok(None),
            }
        };
        Ok(match head {
            "identity" => PartitionTransform::Identity(column),
            "year" => PartitionTransform::Year(column),
            "month" => PartitionTransform::Month(column),
            "day" => PartitionTransform::Day(column),
            "hour" => PartitionTransform::Hour(column),
            _ => {
                if let Some(width) = with_width("bucket")? {
                    PartitionTransform::Bucket(width, column)
                } else if let Some(width) = with_width("truncate")? {
                    PartitionTransform::Truncate(width, column)
                } else {
                    return Err(bad());
                }
            }
        })
    }
}

impl std::fmt::Display for PartitionTransform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PartitionTransform::Identity(c) => write!(f, "identity({c})"),
            PartitionTransform::Year(c) => write!(f, "year({c})"),
            PartitionTransform::Month(c) => write!(f, "month({c})"),
            PartitionTransform::Day(c) => write!(f, "day({c})"),
            PartitionTransform::Hour(c) => write!(f, "hour({c})"),
            PartitionTransform::Bucket(n, c) => write!(f, "bucket[{n}]({c})"),
            PartitionTransform::Truncate(n, c) => write!(f, "truncate[{n}]({c})"),
        }
    }
}

impl Serialize for PartitionTransform {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PartitionTransform {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One sort key: a column, ascending unless `descending`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SortField {
    pub column: String,
    #[serde(default)]
    pub descending: bool,
}

/// A table's partition spec and sort order.
///
/// ```toml
/// partition-by = ["day(timestamp)", "identity(service_name)"]   # default
/// sort-by = [{ column = "service_name" }, { column = "timestamp" }]  # default
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct TableLayout {
    /// Partition transforms. Default: `day(timestamp)`, `identity(service_name)`.
    pub partition_by: Vec<PartitionTransform>,
    /// Sort order of rows within files. Default: `service_name`, `timestamp`.
    pub sort_by: Vec<SortField>,
}

impl Default for TableLayout {
    fn default() -> Self {
        Self {
            partition_by: vec![
                PartitionTransform::Day("timestamp".into()),
                PartitionTransform::Identity("service_name".into()),
            ],
            sort_by: vec![
                SortField {
                    column: "service_name".into(),
                    descending: false,
                },
                SortField {
                    column: "timestamp".into(),
                    descending: false,
                },
            ],
        }
    }
}

impl TableLayout {
    /// Checks that every column named exists in `schema` and that no column is partitioned by
    /// two time granularities at once (Iceberg rejects `day` + `hour` of one column).
    pub fn validate(&self, schema: &arrow::datatypes::Schema) -> Result<(), String> {
        let mut time_sources = Vec::new();
        for transform in &self.partition_by {
            let source = transform.source();
            if schema.field_with_name(source).is_err() {
                return Err(format!(
                    "partition transform {transform}: no column {source:?}"
                ));
            }
            if matches!(
                transform,
                PartitionTransform::Year(_)
                    | PartitionTransform::Month(_)
                    | PartitionTransform::Day(_)
                    | PartitionTransform::Hour(_)
            ) {
                if time_sources.contains(&source) {
                    return Err(format!(
                        "column {source:?} is partitioned by two time transforms; pick one"
                    ));
                }
                time_sources.push(source);
            }
        }
        for sort in &self.sort_by {
            if schema.field_with_name(&sort.column).is_err() {
                return Err(format!("sort order: no column {:?}", sort.column));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs_schema;

    #[test]
    fn transforms_parse_and_print() {
        for text in [
            "day(timestamp)",
            "hour(timestamp)",
            "identity(service_name)",
            "bucket[16](trace_id)",
            "truncate[4](body)",
        ] {
            let parsed: PartitionTransform = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        for bad in [
            "day",
            "day()",
            "bucket(trace_id)",
            "bucket[0](trace_id)",
            "weekly(timestamp)",
        ] {
            assert!(bad.parse::<PartitionTransform>().is_err(), "{bad}");
        }
    }

    #[test]
    fn layout_reads_toml_and_validates_against_the_schema() {
        let layout: TableLayout = toml::from_str(
            "partition-by = [\"hour(timestamp)\", \"bucket[8](service_name)\"]\nsort-by = [{ column = \"timestamp\", descending = true }]\n",
        )
        .unwrap();
        assert_eq!(
            layout.partition_by[1],
            PartitionTransform::Bucket(8, "service_name".into())
        );
        assert!(layout.sort_by[0].descending);
        layout.validate(&logs_schema()).unwrap();
        TableLayout::default().validate(&logs_schema()).unwrap();

        let redundant: TableLayout =
            toml::from_str("partition-by = [\"day(timestamp)\", \"hour(timestamp)\"]\n").unwrap();
        assert!(
            redundant
                .validate(&logs_schema())
                .unwrap_err()
                .contains("two time transforms")
        );
        let missing: TableLayout = toml::from_str("partition-by = [\"day(ts)\"]\n").unwrap();
        assert!(missing.validate(&logs_schema()).is_err());
        assert!(toml::from_str::<TableLayout>("partition = []\n").is_err());
    }
}
