//! The compactor: one round maintains every configured table in turn — retention, rewrite,
//! manifest merge, snapshot expiry, orphan collection — and `run` repeats rounds.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use iceberg::spec::{DataFile, Operation};
use icegate_committer::{Lake, LakeConfig, open_lake};
use icegate_writer::ParquetConfig;
use tokio::sync::watch;

use crate::config::CompactorConfig;
use crate::error::{Error, Result};
use crate::expire::{Expired, expire};
use crate::live::{ManifestCache, TableState};
use crate::orphans::{Lister, Orphans, collect};
use crate::plan::{PartitionRewrite, Skip, partition_end, partition_label, plan_rewrites};
use crate::replace::{Change, Committed, ManifestPolicy, TableHandle, commit_change};
use crate::rewrite::rewrite_bin;
use crate::stats::CompactorStats;
use crate::swap::{MetadataSwap, swap_for};

/// What one round did to one table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TableReport {
    pub table: String,
    /// Partitions rewritten (or, dry run, that would be).
    pub partitions_rewritten: usize,
    pub files_rewritten: usize,
    pub bytes_rewritten: u64,
    pub files_written: usize,
    pub bytes_written: u64,
    pub manifests_merged: bool,
    pub retention_files_dropped: usize,
    pub expired: Expired,
    pub orphans: Orphans,
    /// Live data files and manifests of the current snapshot after the round.
    pub data_files: usize,
    pub manifests: usize,
    /// Steps that failed, with the reason (retried next round).
    pub failures: Vec<String>,
}

/// Input bytes rewritten before a commit: bounds the work a crash or an abandoned commit
/// throws away, while a day of small files still lands in one commit.
const COMMIT_GROUP_BYTES: u64 = 1 << 30;

/// Rewritten partitions not yet committed.
#[derive(Debug, Default)]
struct RewriteGroup {
    partitions: usize,
    rows: u64,
    input_bytes: u64,
    written_bytes: u64,
    removed: HashSet<String>,
    added: Vec<DataFile>,
}

/// A table's planned work, for `plan`.
#[derive(Debug, Clone)]
pub struct TablePlan {
    pub table: String,
    pub data_files: usize,
    pub manifests: usize,
    pub snapshots: usize,
    pub rewrites: Vec<PartitionRewrite>,
    pub skipped: Option<String>,
    pub expirable_snapshots: usize,
    pub retention_partitions: Vec<String>,
}

/// The compactor over one lake.
pub struct Compactor {
    lake: Lake,
    config: CompactorConfig,
    parquet: ParquetConfig,
    swap: Arc<dyn MetadataSwap>,
    lister: Lister,
    stats: Arc<CompactorStats>,
    dry_run: bool,
}

impl Compactor {
    /// Opens the lake `lake_config` names (the same file `icegate` reads). Rewritten files
    /// take `parquet`'s settings except the size and zstd level, which are the compactor's.
    pub async fn open(
        lake_config: &LakeConfig,
        data_dir: &Path,
        parquet: &ParquetConfig,
        config: CompactorConfig,
        dry_run: bool,
    ) -> Result<Self> {
        config.validate().map_err(Error::Config)?;
        let lake = open_lake(lake_config, data_dir).await?;
        let swap = swap_for(&lake, data_dir)?;
        let lister = Lister::new(&lake_config.storage)?;
        let parquet = ParquetConfig {
            zstd_level: config.zstd_level,
            target_file_size: config.target_file_size as usize,
            ..parquet.clone()
        };
        Ok(Self {
            lake,
            config,
            parquet,
            swap,
            lister,
            stats: Arc::new(CompactorStats::default()),
            dry_run,
        })
    }

    /// Counts into `stats` (e.g. counters an embedding server already exposes).
    pub fn with_stats(mut self, stats: Arc<CompactorStats>) -> Self {
        self.stats = stats;
        self
    }

    pub fn stats(&self) -> Arc<CompactorStats> {
        self.stats.clone()
    }

    pub fn config(&self) -> &CompactorConfig {
        &self.config
    }

    /// The tables a round maintains.
    pub fn tables(&self) -> Vec<String> {
        if !self.config.tables.is_empty() {
            return self.config.tables.clone();
        }
        let names = &self.lake.config().tables;
        vec![
            names.logs.clone(),
            names.traces.clone(),
            names.metrics.clone(),
        ]
    }

    fn handle(&self, table: &str) -> TableHandle {
        TableHandle {
            catalog: self.lake.catalog().clone(),
            ident: self.lake.table_ident(table),
            swap: self.swap.clone(),
            manifests: ManifestCache::default(),
        }
    }

    fn policy(&self) -> ManifestPolicy {
        ManifestPolicy {
            max_manifests: self.config.max_manifests,
            target_size: self.config.manifest_target_size,
        }
    }

    /// Commits `change`, counting conflicts as they happen and the commit when it lands.
    async fn commit(&self, handle: &TableHandle, change: &Change) -> Result<Option<Committed>> {
        let stats = self.stats.clone();
        let on_conflict = move || CompactorStats::add(&stats.conflicts, 1);
        let committed = commit_change(handle, change, self.policy(), &on_conflict).await?;
        if committed.is_some() {
            CompactorStats::add(&self.stats.commits, 1);
        }
        Ok(committed)
    }

    async fn exists(&self, table: &str) -> Result<bool> {
        let ident = self.lake.table_ident(table);
        self.lake
            .catalog()
            .table_exists(&ident)
            .await
            .map_err(Error::iceberg(&ident, "check table"))
    }

    /// What a round would do to each table, changing nothing.
    pub async fn plan(&self, now: SystemTime) -> Result<Vec<TablePlan>> {
        let mut plans = Vec::new();
        for table in self.tables() {
            if !self.exists(&table).await? {
                continue;
            }
            let handle = self.handle(&table);
            let state = handle.state().await?;
            let (rewrites, skipped) = match plan_rewrites(&state, &self.config, now) {
                Ok(rewrites) => (rewrites, None),
                Err(Skip::DeleteFiles) => (Vec::new(), Some("live delete files".to_string())),
            };
            plans.push(TablePlan {
                table: table.clone(),
                data_files: state.data_files().count(),
                manifests: state.manifests.len(),
                snapshots: state.table.metadata().snapshots().len(),
                rewrites,
                skipped,
                expirable_snapshots: crate::expire::expirable(
                    state.table.metadata(),
                    &self.config,
                    now,
                )
                .len(),
                retention_partitions: self
                    .retention_victims(&table, &state, now)
                    .into_iter()
                    .map(|(label, _)| label)
                    .collect(),
            });
        }
        Ok(plans)
    }

    /// One round over every table. Failures are logged, counted and reported; the other
    /// steps and tables go on.
    pub async fn round(&self, now: SystemTime) -> Vec<TableReport> {
        let mut reports = Vec::new();
        for table in self.tables() {
            let report = self.maintain(&table, now).await;
            if !report.failures.is_empty() {
                CompactorStats::add(&self.stats.failures, report.failures.len() as u64);
            }
            reports.push(report);
        }
        CompactorStats::add(&self.stats.rounds, 1);
        if reports.iter().any(|report| !report.failures.is_empty()) {
            CompactorStats::add(&self.stats.round_failures, 1);
        }
        reports
    }

    /// Repeats rounds every `interval` until `shutdown` turns true (a round in progress
    /// finishes its current step first: every step is safe to stop between).
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let round = self.round(SystemTime::now());
            tokio::select! {
                reports = round => {
                    for report in reports {
                        log_report(&report);
                    }
                }
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.interval) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Every step for one table.
    pub async fn maintain(&self, table: &str, now: SystemTime) -> TableReport {
        let mut report = TableReport {
            table: table.to_string(),
            ..TableReport::default()
        };
        match self.exists(table).await {
            Ok(true) => {}
            Ok(false) => return report,
            Err(err) => {
                report.failures.push(format!("check table: {err}"));
                return report;
            }
        }
        let handle = self.handle(table);
        if let Err(err) = self.retention(table, &handle, now, &mut report).await {
            report.failures.push(format!("retention: {err}"));
        }
        if let Err(err) = self.rewrite(&handle, now, &mut report).await {
            report.failures.push(format!("rewrite: {err}"));
        }
        if let Err(err) = self.merge_manifests(&handle, &mut report).await {
            report.failures.push(format!("merge manifests: {err}"));
        }
        match expire(&handle, &self.config, now, self.dry_run).await {
            Ok(expired) => {
                if !self.dry_run {
                    CompactorStats::add(&self.stats.snapshots_expired, expired.snapshots as u64);
                    CompactorStats::add(
                        &self.stats.expired_files_deleted,
                        expired.deleted_files as u64,
                    );
                }
                report.expired = expired;
            }
            Err(err) => report.failures.push(format!("expire snapshots: {err}")),
        }
        match collect(
            &handle,
            &self.lister,
            self.config.orphan_grace,
            now,
            self.dry_run,
        )
        .await
        {
            Ok(orphans) => {
                if !self.dry_run {
                    CompactorStats::add(&self.stats.orphans_deleted, orphans.deleted as u64);
                }
                report.orphans = orphans;
            }
            Err(err) => report.failures.push(format!("orphan files: {err}")),
        }
        match handle.state().await {
            Ok(state) => {
                report.data_files = state.data_files().count();
                report.manifests = state.manifests.len();
            }
            Err(err) => report.failures.push(format!("read the result: {err}")),
        }
        report
    }

    /// Day (or coarser) partitions entirely older than the table's retention.
    fn retention_victims(
        &self,
        table: &str,
        state: &TableState,
        now: SystemTime,
    ) -> Vec<(String, Vec<String>)> {
        let Some(retention) = self.config.retention.get(table) else {
            return Vec::new();
        };
        let Some(cutoff) = now.checked_sub(*retention) else {
            return Vec::new();
        };
        let metadata = state.table.metadata();
        let mut victims: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (spec_id, entry) in state.data_files_with_spec() {
            let file = entry.data_file();
            let Some(spec) = metadata.partition_spec_by_id(spec_id) else {
                continue;
            };
            if partition_end(spec, file.partition()).is_some_and(|end| end <= cutoff) {
                victims
                    .entry(partition_label(spec, file.partition()))
                    .or_default()
                    .push(file.file_path().to_string());
            }
        }
        victims.into_iter().collect()
    }

    async fn retention(
        &self,
        table: &str,
        handle: &TableHandle,
        now: SystemTime,
        report: &mut TableReport,
    ) -> Result<()> {
        if !self.config.retention.contains_key(table) {
            return Ok(());
        }
        let state = handle.state().await?;
        let victims = self.retention_victims(table, &state, now);
        let removed: HashSet<String> = victims.into_iter().flat_map(|(_, files)| files).collect();
        if removed.is_empty() {
            return Ok(());
        }
        report.retention_files_dropped = removed.len();
        if self.dry_run {
            return Ok(());
        }
        let change = Change {
            operation: Operation::Delete,
            reason: "retention",
            removed,
            added: Vec::new(),
            partition_spec_id: None,
            allow_missing: true,
        };
        if let Some(committed) = self.commit(handle, &change).await? {
            CompactorStats::add(
                &self.stats.retention_files_dropped,
                committed.removed_files as u64,
            );
            report.retention_files_dropped = committed.removed_files;
            tracing::info!(table = %handle.ident, files = committed.removed_files, "retention dropped old partitions");
        }
        Ok(())
    }

    async fn rewrite(
        &self,
        handle: &TableHandle,
        now: SystemTime,
        report: &mut TableReport,
    ) -> Result<()> {
        let state = handle.state().await?;
        let rewrites = match plan_rewrites(&state, &self.config, now) {
            Ok(rewrites) => rewrites,
            Err(Skip::DeleteFiles) => {
                tracing::warn!(table = %handle.ident, "live delete files: data files are not rewritten");
                return Ok(());
            }
        };
        let mut group = RewriteGroup::default();
        for rewrite in rewrites {
            report.partitions_rewritten += 1;
            report.files_rewritten += rewrite.input_files();
            report.bytes_rewritten += rewrite.input_bytes();
            if self.dry_run {
                continue;
            }
            let mut added = Vec::new();
            let mut rows = 0;
            for bin in &rewrite.bins {
                let output =
                    rewrite_bin(&state.table, &rewrite.partition, bin, &self.parquet).await?;
                rows += output.rows;
                added.extend(output.files);
            }
            let expected: u64 = rewrite.inputs().map(|e| e.data_file().record_count()).sum();
            if rows != expected {
                // Never commit a rewrite that lost or invented rows (a reader bug, a file that
                // is not what its manifest says): the outputs are orphans for the collector.
                return Err(Error::Commit {
                    table: handle.ident.to_string(),
                    message: format!(
                        "partition {}: rewrite read {rows} rows, the manifests list {expected}",
                        rewrite.label
                    ),
                    retryable: false,
                });
            }
            tracing::debug!(table = %handle.ident, partition = %rewrite.label, files = added.len(), "rewrite outputs written");
            group.partitions += 1;
            group.rows += rows;
            group.input_bytes += rewrite.input_bytes();
            group.written_bytes += added.iter().map(|f| f.file_size_in_bytes()).sum::<u64>();
            group.removed.extend(
                rewrite
                    .inputs()
                    .map(|e| e.data_file().file_path().to_string()),
            );
            group.added.extend(added);
            if group.input_bytes >= COMMIT_GROUP_BYTES {
                let full = std::mem::take(&mut group);
                self.commit_group(handle, &state, full, report).await?;
            }
        }
        if group.partitions > 0 {
            self.commit_group(handle, &state, group, report).await?;
        }
        Ok(())
    }

    /// Commits rewritten partitions as one `replace` snapshot: every manifest listing an
    /// input is rewritten once per commit, so one commit per partition would rewrite a
    /// day's manifests once per partition.
    async fn commit_group(
        &self,
        handle: &TableHandle,
        state: &TableState,
        group: RewriteGroup,
        report: &mut TableReport,
    ) -> Result<()> {
        let change = Change {
            operation: Operation::Replace,
            reason: "rewrite",
            removed: group.removed,
            added: group.added,
            partition_spec_id: Some(state.table.metadata().default_partition_spec_id()),
            allow_missing: false,
        };
        match self.commit(handle, &change).await {
            Ok(Some(committed)) => {
                let stats = &self.stats;
                CompactorStats::add(&stats.files_rewritten, committed.removed_files as u64);
                CompactorStats::add(&stats.bytes_rewritten, group.input_bytes);
                CompactorStats::add(&stats.files_written, committed.added_files as u64);
                CompactorStats::add(&stats.bytes_written, group.written_bytes);
                CompactorStats::add(&stats.rows_rewritten, group.rows);
                report.files_written += committed.added_files;
                report.bytes_written += group.written_bytes;
                tracing::info!(
                    table = %handle.ident,
                    partitions = group.partitions,
                    inputs = committed.removed_files,
                    outputs = committed.added_files,
                    input_bytes = group.input_bytes,
                    output_bytes = group.written_bytes,
                    attempts = committed.attempts,
                    "rewrote partitions"
                );
            }
            Ok(None) => {}
            // Another job replaced an input first: this rewrite is obsolete; its outputs
            // are left to the orphan collector (deleting them here could race a commit
            // whose outcome was unknown).
            Err(Error::InputGone { path, .. }) => {
                CompactorStats::add(&self.stats.aborted, 1);
                tracing::info!(table = %handle.ident, partitions = group.partitions, path, "rewrite abandoned: an input is gone");
            }
            Err(err) => return Err(err),
        }
        Ok(())
    }

    async fn merge_manifests(&self, handle: &TableHandle, report: &mut TableReport) -> Result<()> {
        let state = handle.state().await?;
        if state.manifests.len() <= self.config.max_manifests {
            return Ok(());
        }
        report.manifests_merged = true;
        if self.dry_run {
            return Ok(());
        }
        let change = Change {
            operation: Operation::Replace,
            reason: "merge-manifests",
            removed: HashSet::new(),
            added: Vec::new(),
            partition_spec_id: None,
            allow_missing: true,
        };
        if let Some(committed) = self.commit(handle, &change).await? {
            CompactorStats::add(&self.stats.manifest_merges, 1);
            tracing::info!(table = %handle.ident, before = state.manifests.len(), after = committed.manifests, "merged manifests");
        }
        Ok(())
    }
}

/// One structured log line per table and round.
pub fn log_report(report: &TableReport) {
    if report.failures.is_empty() {
        tracing::info!(
            table = %report.table,
            partitions = report.partitions_rewritten,
            files_in = report.files_rewritten,
            files_out = report.files_written,
            bytes_in = report.bytes_rewritten,
            bytes_out = report.bytes_written,
            retention_files = report.retention_files_dropped,
            expired_snapshots = report.expired.snapshots,
            expired_files = report.expired.deleted_files,
            orphans = report.orphans.deleted,
            data_files = report.data_files,
            manifests = report.manifests,
            "compaction round"
        );
    } else {
        tracing::warn!(table = %report.table, failures = ?report.failures, "compaction round had failures; retrying next round");
    }
}
