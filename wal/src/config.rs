//! WAL configuration: one serde struct, kebab-case keys, unknown keys rejected.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::format::{FRAME_HEADER_LEN, SEGMENT_HEADER_LEN};

/// How the WAL configures itself. Every field has a default; in TOML:
///
/// ```toml
/// sync = "always"          # always | interval | never
/// sync-interval = "100ms"  # only for sync = "interval"
/// segment-size = "64MiB"
/// max-disk-size = "4GiB"
/// max-record-size = "16MiB"
/// io-backend = "std"       # std | io-uring
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct WalConfig {
    /// When an append counts as durable. Default: `always` (fsync per group commit).
    pub sync: SyncPolicy,
    /// Longest delay between writing a record and fsyncing it under `sync = "interval"`.
    /// Default: `100ms`.
    #[serde(with = "duration_text")]
    pub sync_interval: Duration,
    /// A segment rotates before a record would take it past this size. Default: `64MiB`.
    pub segment_size: ByteSize,
    /// Disk budget for all segments; an append that would exceed it fails with the retryable
    /// [`Error::Full`] until truncation frees space. Default: `4GiB`.
    pub max_disk_size: ByteSize,
    /// Largest accepted record payload; larger frames found on disk count as damage.
    /// Default: `16MiB`.
    pub max_record_size: ByteSize,
    /// Which system calls write segments. Default: `std` (see the README's WAL measurements:
    /// io_uring was not measurably faster for this write pattern).
    pub io_backend: IoBackend,
}

impl Default for WalConfig {
    fn default() -> Self {
        Self {
            sync: SyncPolicy::Always,
            sync_interval: Duration::from_millis(100),
            segment_size: ByteSize(64 << 20),
            max_disk_size: ByteSize(4 << 30),
            max_record_size: ByteSize(16 << 20),
            io_backend: IoBackend::Std,
        }
    }
}

impl WalConfig {
    /// Checks the sizes against each other so no valid record can be unappendable.
    pub fn validate(&self) -> Result<()> {
        let header = SEGMENT_HEADER_LEN as u64;
        let largest_frame = FRAME_HEADER_LEN as u64 + self.max_record_size.0;
        if self.max_record_size.0 == 0 || self.max_record_size.0 > u64::from(u32::MAX) {
            return Err(Error::Config(format!(
                "max-record-size must be between 1 byte and 4GiB, got {}",
                self.max_record_size
            )));
        }
        if self.segment_size.0 <= header {
            return Err(Error::Config(format!(
                "segment-size {} must be larger than the {header}-byte segment header",
                self.segment_size
            )));
        }
        if self.max_disk_size.0 < 2 * header + largest_frame {
            return Err(Error::Config(format!(
                "max-disk-size {} cannot hold one record of max-record-size {}",
                self.max_disk_size, self.max_record_size
            )));
        }
        if self.sync == SyncPolicy::Interval && self.sync_interval.is_zero() {
            return Err(Error::Config(
                "sync-interval must be positive with sync = \"interval\"".into(),
            ));
        }
        Ok(())
    }
}

/// When an append counts as durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncPolicy {
    /// Acknowledge after the group's `fdatasync`: survives power loss.
    Always,
    /// Acknowledge once written to the OS (survives a process crash); fsync within
    /// `sync-interval` (bounds what a power loss can take).
    Interval,
    /// Acknowledge once written to the OS; never fsync. For benchmarks.
    Never,
}

/// Which system calls write and fsync segment files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IoBackend {
    /// `pwrite` + `fdatasync`.
    Std,
    /// io_uring: write and fsync linked in one submission. Falls back to `std`, with a
    /// warning, where the kernel refuses io_uring.
    IoUring,
}

/// A byte count that reads human sizes: `4096`, `"64KiB"`, `"64MB"`, `"4GiB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let number: u64 = digits
            .parse()
            .map_err(|_| format!("invalid size {text:?}: expected e.g. 4096, 64KiB, 128MB"))?;
        let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1_000,
            "kib" | "k" => 1 << 10,
            "mb" => 1_000_000,
            "mib" | "m" => 1 << 20,
            "gb" => 1_000_000_000,
            "gib" | "g" => 1 << 30,
            "tb" => 1_000_000_000_000,
            "tib" | "t" => 1 << 40,
            other => return Err(format!("invalid size unit {other:?} in {text:?}")),
        };
        number
            .checked_mul(multiplier)
            .map(ByteSize)
            .ok_or_else(|| format!("size {text:?} overflows 64 bits"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u64); 4] = [
            ("TiB", 1 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ];
        for (unit, size) in UNITS {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Durations as text: `"250ms"`, `"1s"`, `"2m"`, `"1h"`.
pub(crate) mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let number: u64 = digits
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: expected e.g. 250ms, 30s, 5m"))?;
        match unit.trim() {
            "ms" => Ok(Duration::from_millis(number)),
            "s" => Ok(Duration::from_secs(number)),
            "m" => Ok(Duration::from_secs(number * 60)),
            "h" => Ok(Duration::from_secs(number * 3600)),
            other => Err(format!("invalid duration unit {other:?} in {text:?}")),
        }
    }

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}ms", value.as_millis()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!("4096".parse::<ByteSize>().unwrap(), ByteSize(4096));
        assert_eq!("64KiB".parse::<ByteSize>().unwrap(), ByteSize(65536));
        assert_eq!("128MB".parse::<ByteSize>().unwrap(), ByteSize(128_000_000));
        assert_eq!("4 GiB".parse::<ByteSize>().unwrap(), ByteSize(4 << 30));
        assert!("12 parsecs".parse::<ByteSize>().is_err());
        assert!("99999999999TiB".parse::<ByteSize>().is_err());
        assert_eq!(ByteSize(64 << 20).to_string(), "64MiB");
        assert_eq!(ByteSize(1000).to_string(), "1000B");
    }

    #[test]
    fn toml_round_trips_and_rejects_unknown_keys() {
        let config: WalConfig = toml::from_str(
            "sync = \"interval\"\nsync-interval = \"250ms\"\nsegment-size = \"1MiB\"\nmax-disk-size = 1048576000\n",
        )
        .unwrap();
        assert_eq!(config.sync, SyncPolicy::Interval);
        assert_eq!(config.sync_interval, Duration::from_millis(250));
        assert_eq!(config.segment_size, ByteSize(1 << 20));
        assert_eq!(config.max_disk_size, ByteSize(1_048_576_000));
        assert_eq!(config.max_record_size, WalConfig::default().max_record_size);
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<WalConfig>(&text).unwrap(), config);

        let err = toml::from_str::<WalConfig>("segment-bytes = 5\n").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `segment-bytes`"),
            "{err}"
        );
    }

    #[test]
    fn validation_rejects_inconsistent_sizes() {
        assert!(WalConfig::default().validate().is_ok());
        let tiny_segment = WalConfig {
            segment_size: ByteSize(10),
            ..WalConfig::default()
        };
        assert!(tiny_segment.validate().is_err());
        let budget_below_record = WalConfig {
            max_disk_size: ByteSize(1 << 20),
            ..WalConfig::default()
        };
        assert!(budget_below_record.validate().is_err());
    }
}
