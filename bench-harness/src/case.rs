//! A benchmark case: a folder `bench-harness/cases/<case>/` holding `case.toml` (what the
//! harness does), `loadgen.toml` (an `icegate_loadgen::LoadSpec`) and `icegate.toml` (the
//! server's configuration) side by side.
//!
//! ```toml
//! # case.toml
//! description = "~300 B logs over gRPC, as fast as the server acknowledges"
//! kind = "load"                 # load: loadgen → server | filelog: otelcol tails a file → icegate
//! storage = "local"             # local | seaweedfs (a fresh `weed mini` per case)
//! baselines = ["rotel"]         # peers that receive the same load in the same run
//! rate-of = "logs-grpc-max"     # optional: pace at a fraction of that case's achieved rate…
//! rate-fraction = 0.5
//! target-mb-per-sec = 100.0     # …or at this many MB/s of request bytes
//! file-records = 200000         # filelog: lines in the shipped file
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use icegate_ingest::IngestConfig;
use icegate_loadgen::LoadSpec;
use serde::{Deserialize, Serialize};

/// How load reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseKind {
    /// `icegate-loadgen` sends the `loadgen.toml` load.
    Load,
    /// The Go OpenTelemetry Collector tails a generated log file (filelog receiver) and ships
    /// it over OTLP/HTTP to IceGate.
    Filelog,
}

/// Where the server's tables live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Storage {
    Local,
    Seaweedfs,
}

/// A peer that receives the same load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Baseline {
    /// rotel (Rust OTLP collector) into its blackhole exporter: the floor cost of receiving
    /// OTLP in Rust.
    Rotel,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CaseFile {
    pub description: String,
    #[serde(default = "default_kind")]
    pub kind: CaseKind,
    #[serde(default = "default_storage")]
    pub storage: Storage,
    #[serde(default)]
    pub baselines: Vec<Baseline>,
    #[serde(default)]
    pub rate_of: Option<String>,
    #[serde(default = "default_fraction")]
    pub rate_fraction: f64,
    #[serde(default)]
    pub target_mb_per_sec: Option<f64>,
    #[serde(default = "default_file_records")]
    pub file_records: u64,
}

fn default_kind() -> CaseKind {
    CaseKind::Load
}
fn default_storage() -> Storage {
    Storage::Local
}
fn default_fraction() -> f64 {
    1.0
}
fn default_file_records() -> u64 {
    200_000
}

/// A case folder, read.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub file: CaseFile,
    pub load: LoadSpec,
    pub server: IngestConfig,
}

impl Case {
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let name = dir
            .file_name()
            .context("a case folder has a name")?
            .to_string_lossy()
            .into_owned();
        let read = |file: &str| {
            let path = dir.join(file);
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
        };
        let file: CaseFile =
            toml::from_str(&read("case.toml")?).with_context(|| format!("{name}/case.toml"))?;
        let load: LoadSpec = match file.kind {
            CaseKind::Load => toml::from_str(&read("loadgen.toml")?)
                .with_context(|| format!("{name}/loadgen.toml"))?,
            CaseKind::Filelog => LoadSpec::default(),
        };
        load.validate()
            .map_err(|err| anyhow::anyhow!("{name}/loadgen.toml: {err}"))?;
        let server = IngestConfig::from_file(&dir.join("icegate.toml"))?;
        Ok(Self {
            name,
            dir: dir.to_path_buf(),
            file,
            load,
            server,
        })
    }

    /// Every case under `root`, by name.
    pub fn load_all(root: &Path) -> anyhow::Result<Vec<Self>> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
            .with_context(|| format!("reading {}", root.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.join("case.toml").exists())
            .collect();
        dirs.sort();
        dirs.iter().map(|dir| Self::load(dir)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped case parses, and `rate-of` names a case that runs before it.
    #[test]
    fn shipped_cases_are_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
        let cases = Case::load_all(&root).unwrap();
        assert!(cases.len() >= 4, "{} cases", cases.len());
        for (index, case) in cases.iter().enumerate() {
            if let Some(other) = &case.file.rate_of {
                let position = cases.iter().position(|c| &c.name == other);
                assert!(
                    position.is_some_and(|p| p < index),
                    "{}: rate-of {other} must name an earlier case",
                    case.name
                );
            }
        }
    }
}
