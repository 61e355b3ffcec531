//! Batcher configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// When a table's pending batch is sealed. In TOML (defaults shown):
///
/// ```toml
/// flush-size = 134217728    # bytes of Arrow memory (128 MiB)
/// flush-interval-ms = 30000 # age of the oldest pending row
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct BatcherConfig {
    /// Seal a table's batch once its Arrow buffers reach this many bytes. Default: 128 MiB.
    pub flush_size: u64,
    /// Seal a table's batch once its oldest mini-batch is this old. Default: 30 000 ms.
    pub flush_interval_ms: u64,
}

impl Default for BatcherConfig {
    fn default() -> Self {
        Self {
            flush_size: 128 << 20,
            flush_interval_ms: 30_000,
        }
    }
}

impl BatcherConfig {
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms)
    }
}
