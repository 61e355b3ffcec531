//! Grep mode: flags → one SQL query over a registered table.
//!
//! The pattern is validated with the `regex` crate first (a clear error, not a planner one),
//! then matched by DataFusion's `regexp_like`, which uses the same crate. `-F` matches a fixed
//! string with `strpos`, `-i` ignores case, `-v` inverts (a row without text counts as not
//! matching, so `-v` prints it), `--attributes` also searches attribute values. Rows come out
//! in time order (then by service); `-m N` keeps the first N.

use iceberg::expr::{Predicate, Reference};
use iceberg::spec::Datum;
use icegate_evolve::{ColumnType, PromotedColumn};

use crate::error::{QueryError, Result};
use crate::time::format_micros;

/// Which table grep searches, and what its lines show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Logs,
    Traces,
    Metrics,
}

impl TableKind {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "logs" => Ok(Self::Logs),
            "traces" => Ok(Self::Traces),
            "metrics" => Ok(Self::Metrics),
            other => Err(QueryError::Usage(format!(
                "--table-name must be logs, traces or metrics, not {other:?}"
            ))),
        }
    }

    /// The text column the pattern searches.
    pub fn text_column(self) -> &'static str {
        match self {
            Self::Logs => "body",
            Self::Traces => "name",
            Self::Metrics => "metric_name",
        }
    }

    /// The columns of an output line: time, service, a level-like column, the text.
    pub fn line_columns(self) -> [&'static str; 4] {
        match self {
            Self::Logs => ["timestamp", "service_name", "severity_text", "body"],
            Self::Traces => ["timestamp", "service_name", "status_code", "name"],
            Self::Metrics => ["timestamp", "service_name", "metric_type", "metric_name"],
        }
    }
}

/// Everything grep mode was asked.
#[derive(Debug, Clone, Default)]
pub struct GrepOptions {
    /// Regex (or fixed string with `fixed`); `None` matches every row.
    pub pattern: Option<String>,
    pub ignore_case: bool,
    pub invert: bool,
    pub fixed: bool,
    /// Also search attribute values.
    pub attributes: bool,
    pub max_count: Option<usize>,
    /// Inclusive lower and exclusive upper time bounds, Unix microseconds.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Any of these services.
    pub services: Vec<String>,
    /// At least this OTLP severity number (logs).
    pub min_severity: Option<i32>,
    /// Lowercase hex trace id.
    pub trace_id: Option<String>,
    /// An extra SQL predicate.
    pub where_sql: Option<String>,
    /// Record attributes that must have these values (`--attr key=value`), wherever the
    /// table keeps the key: the `attributes` map, or the column it was promoted to.
    pub attribute_equals: Vec<(String, String)>,
    /// The table's promoted columns ([`icegate_evolve::table::promotions_of`]); filled in
    /// from the loaded table.
    pub promoted: Vec<PromotedColumn>,
}

/// `TRACE`…`FATAL` (any case) or a number → the lowest OTLP severity number of that level.
pub fn parse_severity(text: &str) -> Result<i32> {
    if let Ok(number) = text.parse::<i32>() {
        return Ok(number);
    }
    Ok(match text.to_ascii_uppercase().as_str() {
        "TRACE" => 1,
        "DEBUG" => 5,
        "INFO" => 9,
        "WARN" | "WARNING" => 13,
        "ERROR" => 17,
        "FATAL" => 21,
        other => {
            return Err(QueryError::Usage(format!(
                "--severity must be TRACE, DEBUG, INFO, WARN, ERROR, FATAL or a number, not {other:?}"
            )));
        }
    })
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A column name as a SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` as a SQL literal of `column_type`, if it is one (as promotion reads text).
fn typed_literal(column_type: ColumnType, value: &str) -> Option<String> {
    use icegate_evolve::infer::{parse_boolean, parse_double, parse_long, parse_timestamp_micros};
    match column_type {
        ColumnType::String => Some(quote(value)),
        ColumnType::Long => parse_long(value).map(|v| v.to_string()),
        ColumnType::Double => parse_double(value)
            .filter(|v| v.is_finite())
            .map(|v| format!("CAST({v:?} AS DOUBLE)")),
        ColumnType::Boolean => parse_boolean(value).map(|v| v.to_string()),
        ColumnType::Timestamp => parse_timestamp_micros(value).map(timestamp_literal),
    }
}

fn timestamp_literal(micros: i64) -> String {
    // A `timestamptz` literal: DataFusion folds it to a microsecond constant, which the
    // Iceberg scan binds to the column's bounds and partition (hour/day) values.
    format!("CAST({} AS TIMESTAMP)", quote(&format_micros(micros)))
}

impl GrepOptions {
    /// Checks the pattern; the regex error names the problem.
    pub fn validate(&self, table: TableKind) -> Result<()> {
        if let Some(pattern) = &self.pattern
            && !self.fixed
        {
            regex::RegexBuilder::new(pattern)
                .case_insensitive(self.ignore_case)
                .build()
                .map_err(|err| QueryError::BadRegex {
                    pattern: pattern.clone(),
                    reason: err.to_string(),
                })?;
        }
        if self.min_severity.is_some() && table != TableKind::Logs {
            return Err(QueryError::Usage(
                "--severity applies to logs only".to_string(),
            ));
        }
        Ok(())
    }

    /// The `WHERE` conditions (without the pattern) that the Iceberg scan can prune with.
    fn pruning_conditions(&self) -> Vec<String> {
        let mut conditions = Vec::new();
        if let Some(since) = self.since {
            conditions.push(format!("timestamp >= {}", timestamp_literal(since)));
        }
        if let Some(until) = self.until {
            conditions.push(format!("timestamp < {}", timestamp_literal(until)));
        }
        match self.services.as_slice() {
            [] => {}
            [one] => conditions.push(format!("service_name = {}", quote(one))),
            many => conditions.push(format!(
                "service_name IN ({})",
                many.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")
            )),
        }
        if let Some(severity) = self.min_severity {
            conditions.push(format!("severity_number >= {severity}"));
        }
        if let Some(trace) = &self.trace_id {
            conditions.push(format!("trace_id = {}", quote(&trace.to_ascii_lowercase())));
        }
        conditions
    }

    /// The same pruning conditions as an Iceberg predicate (for `--explain`).
    pub fn iceberg_predicate(&self) -> Option<Predicate> {
        let mut parts = Vec::new();
        if let Some(since) = self.since {
            parts.push(
                Reference::new("timestamp")
                    .greater_than_or_equal_to(Datum::timestamptz_micros(since)),
            );
        }
        if let Some(until) = self.until {
            parts.push(Reference::new("timestamp").less_than(Datum::timestamptz_micros(until)));
        }
        if !self.services.is_empty() {
            parts.push(
                Reference::new("service_name").is_in(self.services.iter().map(Datum::string)),
            );
        }
        if let Some(severity) = self.min_severity {
            parts.push(
                Reference::new("severity_number").greater_than_or_equal_to(Datum::int(severity)),
            );
        }
        if let Some(trace) = &self.trace_id {
            parts.push(
                Reference::new("trace_id").equal_to(Datum::string(trace.to_ascii_lowercase())),
            );
        }
        parts.into_iter().reduce(Predicate::and)
    }

    /// The match condition on one text expression.
    fn match_condition(&self, text: &str) -> Option<String> {
        let pattern = self.pattern.as_ref()?;
        Some(if self.fixed {
            if self.ignore_case {
                format!("strpos(lower({text}), lower({})) > 0", quote(pattern))
            } else {
                format!("strpos({text}, {}) > 0", quote(pattern))
            }
        } else if self.ignore_case {
            format!("regexp_like({text}, {}, 'i')", quote(pattern))
        } else {
            format!("regexp_like({text}, {})", quote(pattern))
        })
    }

    /// `attributes[key] = value`, or the same on the key's promoted column when the value
    /// fits the column's type (a typed comparison the scan can prune with).
    fn attribute_condition(&self, key: &str, value: &str) -> String {
        let mut alternatives = vec![format!(
            "coalesce(attributes[{}] = {}, false)",
            quote(key),
            quote(value)
        )];
        let promoted = self
            .promoted
            .iter()
            .find(|c| c.source == "attributes" && c.key == key);
        if let Some(column) = promoted
            && let Some(literal) = typed_literal(column.column_type, value)
        {
            alternatives.push(format!(
                "coalesce({} = {literal}, false)",
                quote_ident(&column.name)
            ));
        }
        format!("({})", alternatives.join(" OR "))
    }

    /// The text `--attributes` searches: the map's values and every promoted string column.
    fn attribute_text(&self) -> String {
        let mut parts = vec!["array_to_string(map_values(attributes), '\n')".to_string()];
        parts.extend(
            self.promoted
                .iter()
                .filter(|c| c.source == "attributes" && c.column_type == ColumnType::String)
                .map(|c| quote_ident(&c.name)),
        );
        if parts.len() == 1 {
            return parts.remove(0);
        }
        format!("concat_ws('\n', {})", parts.join(", "))
    }

    /// The SQL grep runs against `table_name`.
    pub fn sql(&self, table: TableKind, table_name: &str) -> String {
        let columns = table.line_columns().join(", ");
        let mut conditions = self.pruning_conditions();
        let text = table.text_column();
        let matched = match (self.match_condition(text), self.attributes) {
            (Some(on_text), true) => {
                let values = self.attribute_text();
                let on_attributes = self.match_condition(&values).expect("a pattern");
                Some(format!(
                    "(coalesce({on_text}, false) OR coalesce({on_attributes}, false))"
                ))
            }
            (Some(on_text), false) => Some(format!("coalesce({on_text}, false)")),
            (None, _) => None,
        };
        if let Some(matched) = matched {
            conditions.push(if self.invert {
                format!("NOT {matched}")
            } else {
                matched
            });
        }
        for (key, value) in &self.attribute_equals {
            conditions.push(self.attribute_condition(key, value));
        }
        if let Some(extra) = &self.where_sql {
            conditions.push(format!("({extra})"));
        }
        let mut sql = format!("SELECT {columns} FROM {table_name}");
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        // Ties broken by service: the same query prints the same lines in the same order.
        sql.push_str(" ORDER BY timestamp, service_name");
        if let Some(limit) = self.max_count {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_filters_search_the_map_and_the_promoted_column() {
        let promoted = |key: &str, name: &str, column_type| PromotedColumn {
            name: name.into(),
            source: "attributes".into(),
            key: key.into(),
            column_type,
            field_id: Some(40),
        };
        let options = GrepOptions {
            pattern: Some("x".into()),
            attributes: true,
            attribute_equals: vec![
                ("http.status".into(), "500".into()),
                ("http.status".into(), "oops".into()),
                ("user's".into(), "ann".into()),
            ],
            promoted: vec![
                promoted("http.status", "attr_http_status", ColumnType::Long),
                promoted("user's", "attr_user_s", ColumnType::String),
            ],
            ..GrepOptions::default()
        };
        let sql = options.sql(TableKind::Logs, "logs");
        assert!(
            sql.contains("(coalesce(attributes['http.status'] = '500', false) OR coalesce(\"attr_http_status\" = 500, false))"),
            "{sql}"
        );
        // Text that is no long can only be in the map (or in _rescued).
        assert!(
            sql.contains("(coalesce(attributes['http.status'] = 'oops', false)) AND"),
            "{sql}"
        );
        assert!(sql.contains("\"attr_user_s\" = 'ann'"), "{sql}");
        assert!(
            sql.contains(
                "concat_ws('\n', array_to_string(map_values(attributes), '\n'), \"attr_user_s\")"
            ),
            "{sql}"
        );
    }

    #[test]
    fn flags_become_sql() {
        let options = GrepOptions {
            pattern: Some("time(d )?out".into()),
            ignore_case: true,
            since: Some(1_764_151_445_000_000),
            services: vec!["checkout".into(), "o'brien".into()],
            min_severity: Some(parse_severity("warn").unwrap()),
            max_count: Some(5),
            ..GrepOptions::default()
        };
        let sql = options.sql(TableKind::Logs, "logs");
        assert!(
            sql.contains("timestamp >= CAST('2025-11-26T10:04:05.000000Z' AS TIMESTAMP)"),
            "{sql}"
        );
        assert!(
            sql.contains("service_name IN ('checkout', 'o''brien')"),
            "{sql}"
        );
        assert!(sql.contains("severity_number >= 13"), "{sql}");
        assert!(
            sql.contains("regexp_like(body, 'time(d )?out', 'i')"),
            "{sql}"
        );
        assert!(
            sql.ends_with("ORDER BY timestamp, service_name LIMIT 5"),
            "{sql}"
        );
        let fixed = GrepOptions {
            pattern: Some("a.b".into()),
            fixed: true,
            invert: true,
            ..GrepOptions::default()
        };
        let sql = fixed.sql(TableKind::Traces, "traces");
        assert!(
            sql.contains("NOT coalesce(strpos(name, 'a.b') > 0, false)"),
            "{sql}"
        );
        assert!(options.iceberg_predicate().is_some());
    }

    #[test]
    fn bad_input_is_named() {
        let bad = GrepOptions {
            pattern: Some("(unclosed".into()),
            ..GrepOptions::default()
        };
        let err = bad.validate(TableKind::Logs).unwrap_err().to_string();
        assert!(err.contains("invalid regex \"(unclosed\""), "{err}");
        assert!(parse_severity("loud").is_err());
        let severity_on_traces = GrepOptions {
            min_severity: Some(9),
            ..GrepOptions::default()
        };
        assert!(severity_on_traces.validate(TableKind::Traces).is_err());
    }
}
