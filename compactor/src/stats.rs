//! What the compactor has done, as counters for `/metrics` and the logs.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters since start.
#[derive(Debug, Default)]
pub struct CompactorStats {
    pub rounds: AtomicU64,
    pub round_failures: AtomicU64,
    pub files_rewritten: AtomicU64,
    pub bytes_rewritten: AtomicU64,
    pub files_written: AtomicU64,
    pub bytes_written: AtomicU64,
    pub rows_rewritten: AtomicU64,
    pub commits: AtomicU64,
    pub conflicts: AtomicU64,
    pub aborted: AtomicU64,
    pub manifest_merges: AtomicU64,
    pub snapshots_expired: AtomicU64,
    pub expired_files_deleted: AtomicU64,
    pub orphans_deleted: AtomicU64,
    pub retention_files_dropped: AtomicU64,
    pub failures: AtomicU64,
}

impl CompactorStats {
    pub fn add(counter: &AtomicU64, value: u64) {
        counter.fetch_add(value, Ordering::Relaxed);
    }

    /// Prometheus text exposition of every counter.
    pub fn render(&self, out: &mut String) {
        let counters: [(&str, &str, &AtomicU64); 16] = [
            ("rounds", "Compaction rounds finished.", &self.rounds),
            (
                "round_failures",
                "Rounds in which some table failed.",
                &self.round_failures,
            ),
            (
                "files_rewritten",
                "Input data files replaced by rewrites.",
                &self.files_rewritten,
            ),
            (
                "bytes_rewritten",
                "Bytes of input data files replaced by rewrites.",
                &self.bytes_rewritten,
            ),
            (
                "files_written",
                "Data files written by rewrites.",
                &self.files_written,
            ),
            (
                "bytes_written",
                "Bytes of data files written by rewrites.",
                &self.bytes_written,
            ),
            ("rows_rewritten", "Rows rewritten.", &self.rows_rewritten),
            (
                "commits",
                "Snapshots the compactor committed.",
                &self.commits,
            ),
            (
                "conflicts",
                "Commit attempts that lost a race and were retried.",
                &self.conflicts,
            ),
            (
                "aborted",
                "Rewrites abandoned because an input was no longer live.",
                &self.aborted,
            ),
            (
                "manifest_merges",
                "Commits that merged manifests.",
                &self.manifest_merges,
            ),
            (
                "snapshots_expired",
                "Snapshots expired.",
                &self.snapshots_expired,
            ),
            (
                "expired_files_deleted",
                "Files deleted because only expired snapshots referenced them.",
                &self.expired_files_deleted,
            ),
            (
                "orphans_deleted",
                "Unreferenced files deleted after the grace period.",
                &self.orphans_deleted,
            ),
            (
                "retention_files_dropped",
                "Data files dropped by retention.",
                &self.retention_files_dropped,
            ),
            (
                "failures",
                "Table operations that failed (retried next round).",
                &self.failures,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP icegate_compactor_{name}_total {help}");
            let _ = writeln!(out, "# TYPE icegate_compactor_{name}_total counter");
            let _ = writeln!(
                out,
                "icegate_compactor_{name}_total {}",
                value.load(Ordering::Relaxed)
            );
        }
    }
}
