//! `bench-harness`: IceGate's end-to-end benchmarks and regression gates.
//!
//! - [`case`]: a case is a folder `bench-harness/cases/<case>/` with `case.toml`, the
//!   loadgen spec and the IceGate config side by side.
//! - [`runner`]: each case starts fresh storage (local or a fresh SeaweedFS), the release
//!   `icegate` pinned to CPU 0 and `icegate-loadgen` pinned to CPU 1, then the same load
//!   against the baselines (rotel into its blackhole exporter; the Go collector tailing a
//!   file for `filelog` cases). [`process`] measures each process from /proc and `wait4`.
//! - [`results`]: `results/<date>-<machine>/e2e/` gets per-process sample CSVs, the loadgen
//!   reports, `cases.csv`, `summary.json` (machine, commit, every figure) and [`plot`]s.
//! - [`compare`]: a run against a stored one, "1.12x slower / no change" per metric.
//! - [`query_bench`]: ice-grep against DuckDB's iceberg extension on one generated table.
//! - [`compaction_bench`]: a day of 30-second flushes compacted by `icegate-compactor` and
//!   by Spark's `rewrite_data_files`; throughput, queries and append latency before and after.
//! - [`gate`]: instruction counts of the hot paths (Callgrind via gungraun) against the
//!   committed `bench-harness/instructions.json`, with a tolerance: what CI gates on.

pub mod case;
pub mod compaction_bench;
pub mod compare;
pub mod gate;
pub mod plot;
pub mod process;
pub mod query_bench;
pub mod results;
pub mod runner;
pub mod targets;
