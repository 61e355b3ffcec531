//! `[schema]`: which attribute keys become typed columns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The `[schema]` section of `icegate`'s configuration: the policy of every table, and
/// per-table policies that replace it whole. In TOML (defaults shown):
///
/// ```toml
/// [schema]
/// promote = false                # turn attribute keys into typed columns
/// sources = ["attributes"]       # map columns keys are promoted from (also resource_attributes, scope_attributes)
/// min-share = 0.5                # a key must be in at least this share of the window's rows…
/// window-batches = 8             # …over this many sealed batches of the table (small ones together)…
/// min-window-rows = 1000         # …holding at least this many rows
/// max-columns = 32               # promoted columns per table, at most (the schema stops growing there)
/// max-tracked-keys = 1024        # distinct keys counted per batch and source; more are not candidates
/// allow = []                     # keys promoted whenever seen (still within max-columns)
/// deny = []                      # keys never promoted
/// timestamp-keys = []            # keys whose RFC 3339 values make a timestamptz column
///
/// [schema.tables.traces]         # a table's own policy (every key, defaults as above)
/// promote = false
/// ```
///
/// Keys in `allow`, `deny` and `timestamp-keys` are exact, or a prefix ending in `*`
/// (`"http.*"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct PromotionPolicy {
    /// Promote keys at all. Default: false.
    pub promote: bool,
    /// The `map<string,string>` columns keys are promoted from. Default: `["attributes"]`.
    pub sources: Vec<String>,
    /// Share of the window's rows a key must appear in. Default: 0.5.
    pub min_share: f64,
    /// Sealed batches the share is measured over; batches smaller than
    /// `min-window-rows / window-batches` rows are counted together as one. Default: 8.
    pub window_batches: usize,
    /// Rows the window must hold before anything is promoted. Default: 1000.
    pub min_window_rows: u64,
    /// Promoted columns a table may have in all; none are added beyond it. Default: 32.
    pub max_columns: usize,
    /// Distinct keys counted per batch and source (bounds the counting's memory on
    /// high-churn keys). Default: 1024.
    pub max_tracked_keys: usize,
    /// Keys promoted as soon as they are seen. Default: none.
    pub allow: Vec<String>,
    /// Keys never promoted. Default: none.
    pub deny: Vec<String>,
    /// Keys whose values are RFC 3339 timestamps (a `timestamptz` column). Default: none.
    pub timestamp_keys: Vec<String>,
    /// Per table name, a policy replacing this one for that table (only in `[schema]`
    /// itself). Default: none.
    pub tables: BTreeMap<String, PromotionPolicy>,
}

/// `[schema]` is the default policy with its per-table ones.
pub type SchemaConfig = PromotionPolicy;

impl Default for PromotionPolicy {
    fn default() -> Self {
        Self {
            promote: false,
            sources: vec!["attributes".into()],
            min_share: 0.5,
            window_batches: 8,
            min_window_rows: 1000,
            max_columns: 32,
            max_tracked_keys: 1024,
            allow: Vec::new(),
            deny: Vec::new(),
            timestamp_keys: Vec::new(),
            tables: BTreeMap::new(),
        }
    }
}

impl PromotionPolicy {
    /// The policy of `table`.
    pub fn policy(&self, table: &str) -> &PromotionPolicy {
        self.tables.get(table).unwrap_or(self)
    }

    /// Checks this policy and every table's.
    pub fn validate(&self) -> Result<()> {
        self.validate_one("every table")?;
        for (table, policy) in &self.tables {
            if !policy.tables.is_empty() {
                return Err(Error::Config {
                    table: table.clone(),
                    problem: "a table's policy cannot have tables of its own".into(),
                });
            }
            policy.validate_one(table)?;
        }
        Ok(())
    }

    fn validate_one(&self, table: &str) -> Result<()> {
        let problem = |problem: String| {
            Err(Error::Config {
                table: table.to_string(),
                problem,
            })
        };
        if !(self.min_share > 0.0 && self.min_share <= 1.0) {
            return problem(format!("min-share {} is not in (0, 1]", self.min_share));
        }
        if self.window_batches == 0 {
            return problem("window-batches must be at least 1".into());
        }
        if self.max_tracked_keys == 0 {
            return problem("max-tracked-keys must be at least 1".into());
        }
        if let Some(source) = self.sources.iter().find(|s| !SOURCES.contains(&s.as_str())) {
            return problem(format!(
                "source {source:?} is not one of {}",
                SOURCES.join(", ")
            ));
        }
        Ok(())
    }

    pub fn is_denied(&self, key: &str) -> bool {
        self.deny.iter().any(|pattern| matches(pattern, key))
    }

    pub fn is_allowed(&self, key: &str) -> bool {
        self.allow.iter().any(|pattern| matches(pattern, key))
    }

    pub fn is_timestamp(&self, key: &str) -> bool {
        self.timestamp_keys
            .iter()
            .any(|pattern| matches(pattern, key))
    }
}

/// The map columns promotion reads, with the column-name prefix of each.
pub const SOURCES: [&str; 3] = ["attributes", "resource_attributes", "scope_attributes"];

/// `pattern` is exact, or a prefix when it ends in `*`.
fn matches(pattern: &str, key: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => pattern == key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_tables_override_whole() {
        let config: SchemaConfig = toml::from_str(
            "promote = true\nmin-share = 0.3\n[tables.traces]\ndeny = [\"http.*\"]\n",
        )
        .unwrap();
        config.validate().unwrap();
        assert!(config.policy("logs").promote);
        assert_eq!(config.policy("logs").min_share, 0.3);
        let traces = config.policy("traces");
        assert!(
            !traces.promote,
            "a table's policy replaces the default whole"
        );
        assert!(traces.is_denied("http.route") && !traces.is_denied("db.system"));
        let text = toml::to_string(&SchemaConfig::default()).unwrap();
        assert_eq!(
            toml::from_str::<SchemaConfig>(&text).unwrap(),
            SchemaConfig::default()
        );
    }

    #[test]
    fn unknown_keys_and_impossible_policies_are_errors() {
        assert!(toml::from_str::<SchemaConfig>("promotee = true").is_err());
        for bad in [
            "min-share = 0.0",
            "window-batches = 0",
            "sources = [\"body\"]",
        ] {
            let config: SchemaConfig = toml::from_str(bad).unwrap();
            assert!(config.validate().is_err(), "{bad}");
        }
    }
}
