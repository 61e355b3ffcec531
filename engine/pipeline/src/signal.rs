//! The three OTLP signals and the signal → table mapping, once for every crate and tool.

use arrow::datatypes::SchemaRef;
use icegate_batcher::TableKey;
use icegate_committer::LakeConfig;
use icegate_schema::{TableLayout, logs_schema, metrics_schema, traces_schema};

/// An OTLP signal: which schema a table has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    Logs,
    Traces,
    Metrics,
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::Logs, Signal::Traces, Signal::Metrics];

    pub fn name(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }

    /// The Arrow schema (with Iceberg field ids) of this signal's table.
    pub fn schema(self) -> SchemaRef {
        match self {
            Signal::Logs => logs_schema(),
            Signal::Traces => traces_schema(),
            Signal::Metrics => metrics_schema(),
        }
    }

    pub fn layout(self) -> TableLayout {
        TableLayout::default()
    }

    /// The signal whose schema `schema` is, by its columns (records of a renamed table, or
    /// of a table no longer configured, still find their schema).
    pub fn of_schema(schema: &SchemaRef) -> Option<Signal> {
        Signal::ALL
            .into_iter()
            .find(|signal| signal.schema().fields() == schema.fields())
    }
}

/// Which table each signal goes to: the full key (namespace + table), so tenants can route
/// to their own namespaces without changing anything downstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    keys: [TableKey; 3],
}

impl Tables {
    /// The tables `config` names, in its namespace.
    pub fn from_config(config: &LakeConfig) -> Self {
        let key = |table: &str| TableKey::new(config.namespace.clone(), table.to_string());
        Self {
            keys: [
                key(&config.tables.logs),
                key(&config.tables.traces),
                key(&config.tables.metrics),
            ],
        }
    }

    pub fn key(&self, signal: Signal) -> &TableKey {
        &self.keys[signal as usize]
    }

    /// The signal a configured table name holds, in any namespace.
    pub fn signal_of(&self, table: &str) -> Option<Signal> {
        Signal::ALL
            .into_iter()
            .find(|signal| self.key(*signal).table == table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_identify_their_signal() {
        for signal in Signal::ALL {
            assert_eq!(Signal::of_schema(&signal.schema()), Some(signal));
        }
        let tables = Tables::from_config(&LakeConfig::default());
        assert_eq!(tables.key(Signal::Traces).to_string(), "default.traces");
        assert_eq!(tables.signal_of("metrics"), Some(Signal::Metrics));
        assert_eq!(tables.signal_of("other"), None);
    }
}
