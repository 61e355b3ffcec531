//! `[compactor]`: what the compactor does to every table, and how often.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The compactor's settings, the `[compactor]` section of `icegate`'s configuration file (the
/// standalone `icegate-compactor` reads the same file). In TOML (defaults shown):
///
/// ```toml
/// [compactor]
/// enabled = false                # run inside this `icegate` (turn it on for one node)
/// interval = "5m"                # pause between rounds of `run`
/// tables = []                    # table names in the lake's namespace; empty: logs, traces, metrics
/// target-file-size = 134217728   # bytes of Parquet per rewritten file
/// min-input-files = 2            # small files a partition needs before it is rewritten
/// max-input-files = 512          # files one rewrite reads at most (the rest wait for the next)
/// zstd-level = 9                 # compression of rewritten files
/// closed-after = "1h"            # a time partition is rewritten this long after its end
/// manifest-target-size = 8388608 # bytes of manifest after merging
/// max-manifests = 16             # a snapshot with more manifests gets them merged
/// snapshot-max-age = "6h"        # older snapshots are expired…
/// min-snapshots = 20             # …except the newest this many
/// orphan-grace = "1d"            # files no snapshot references are deleted this long after they were written
/// retention = { }                # per table: drop day partitions older than this, e.g. { logs = "30d" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct CompactorConfig {
    /// Run the compactor inside `icegate`. Default: false. One node per table set: several
    /// compactors on one table are safe (their commits validate their inputs) but waste work.
    pub enabled: bool,
    /// Pause between two rounds of `run`. Default: 5 minutes.
    #[serde(with = "human_duration")]
    pub interval: Duration,
    /// Tables (in the lake's namespace) to maintain. Default: the lake's logs, traces and
    /// metrics tables.
    pub tables: Vec<String>,
    /// Size a rewrite aims for; files below three quarters of it are candidates. Default:
    /// 128 MiB.
    pub target_file_size: u64,
    /// A partition is rewritten once it holds at least this many small files. Default: 2.
    pub min_input_files: usize,
    /// Files one rewrite reads at most; a partition with more is finished by later rounds.
    /// Default: 512.
    pub max_input_files: usize,
    /// zstd level of rewritten files: higher than ingest's, because it is paid once per file
    /// instead of once per flush. Default: 9.
    pub zstd_level: i32,
    /// A time partition (day, hour, …) is rewritten only this long after its end, so live
    /// appends rarely race a rewrite. Partitions without a time field are always eligible.
    /// Default: 1 hour.
    #[serde(with = "human_duration")]
    pub closed_after: Duration,
    /// Manifests smaller than this are merged into ones of about this size. Default: 8 MiB.
    pub manifest_target_size: u64,
    /// A snapshot with more manifests than this gets its small manifests merged. Default: 16.
    pub max_manifests: usize,
    /// Snapshots older than this are expired (the current one never is). Default: 6 hours.
    #[serde(with = "human_duration")]
    pub snapshot_max_age: Duration,
    /// The newest this many snapshots are kept whatever their age. Default: 20.
    pub min_snapshots: usize,
    /// Files under a table's location that no snapshot references are deleted once they are
    /// older than this. It must exceed the longest query and the longest commit attempt (a
    /// writer's files exist before its commit references them). Default: 1 day.
    #[serde(with = "human_duration")]
    pub orphan_grace: Duration,
    /// Per table: day partitions whose whole time range is older than this are dropped.
    /// Default: none (keep everything).
    #[serde(with = "human_duration_map")]
    pub retention: BTreeMap<String, Duration>,
}

impl Default for CompactorConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: Duration::from_secs(300),
            tables: Vec::new(),
            target_file_size: 128 << 20,
            min_input_files: 2,
            max_input_files: 512,
            zstd_level: 9,
            closed_after: Duration::from_secs(3600),
            manifest_target_size: 8 << 20,
            max_manifests: 16,
            snapshot_max_age: Duration::from_secs(6 * 3600),
            min_snapshots: 20,
            orphan_grace: Duration::from_secs(24 * 3600),
            retention: BTreeMap::new(),
        }
    }
}

impl CompactorConfig {
    /// Rejects settings that contradict themselves.
    pub fn validate(&self) -> Result<(), String> {
        if self.target_file_size < 1 << 20 {
            return Err(format!(
                "target-file-size {} is below 1 MiB",
                self.target_file_size
            ));
        }
        if self.min_input_files < 2 {
            return Err("min-input-files must be at least 2".into());
        }
        if self.max_input_files < self.min_input_files {
            return Err("max-input-files must be at least min-input-files".into());
        }
        if !(1..=22).contains(&self.zstd_level) {
            return Err(format!("zstd-level {} is not in 1..=22", self.zstd_level));
        }
        if self.max_manifests < 2 {
            return Err("max-manifests must be at least 2".into());
        }
        if self.orphan_grace < Duration::from_secs(3600) {
            return Err(format!(
                "orphan-grace {} is below one hour: files of commits in flight would be deleted",
                humantime::format_duration(self.orphan_grace)
            ));
        }
        if self.min_snapshots < 1 {
            return Err("min-snapshots must be at least 1".into());
        }
        Ok(())
    }
}

/// Durations written as humans do: `"30s"`, `"5m"`, `"1h 30m"`, `"30d"`.
pub mod human_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text)
            .map_err(|err| serde::de::Error::custom(format!("duration {text:?}: {err}")))
    }
}

mod human_duration_map {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &BTreeMap<String, Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(value.len()))?;
        for (key, duration) in value {
            map.serialize_entry(key, &humantime::format_duration(*duration).to_string())?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, Duration>, D::Error> {
        BTreeMap::<String, String>::deserialize(deserializer)?
            .into_iter()
            .map(|(key, text)| {
                humantime::parse_duration(&text)
                    .map(|duration| (key.clone(), duration))
                    .map_err(|err| {
                        serde::de::Error::custom(format!("retention of {key}: {text:?}: {err}"))
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_durations_read_as_humans_write_them() {
        let text = toml::to_string(&CompactorConfig::default()).unwrap();
        let back: CompactorConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, CompactorConfig::default());
        let config: CompactorConfig = toml::from_str(
            "interval = \"90s\"\nretention = { logs = \"30d\" }\nclosed-after = \"1h 30m\"",
        )
        .unwrap();
        assert_eq!(config.interval, Duration::from_secs(90));
        assert_eq!(config.closed_after, Duration::from_secs(5400));
        assert_eq!(config.retention["logs"], Duration::from_secs(30 * 86_400));
        config.validate().unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<CompactorConfig>("intervall = \"5m\"").is_err());
        assert!(toml::from_str::<CompactorConfig>("interval = \"soon\"").is_err());
        let config: CompactorConfig = toml::from_str("orphan-grace = \"5m\"").unwrap();
        assert!(config.validate().unwrap_err().contains("orphan-grace"));
    }
}
