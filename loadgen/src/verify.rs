//! `--verify`: after a run, read the table back through the catalog and check that it holds
//! exactly the acknowledged records — every acknowledged request's records once, nothing of
//! the requests the receiver refused. Requests whose fate is unknown (transport errors) may
//! be present in full or absent, not partly or twice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, MapArray, StringArray};
use futures::TryStreamExt;
use icegate_ingest::IngestConfig;
use serde::{Deserialize, Serialize};

use crate::payload::REQUEST_ATTRIBUTE;
use crate::run::RequestLog;
use crate::spec::Signal;

/// What the table held.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct VerifyReport {
    pub table: String,
    pub ok: bool,
    /// Acknowledged records (of this run) the table should hold.
    pub expected_records: u64,
    /// This run's records the table holds.
    pub found_records: u64,
    pub acked_requests: u64,
    /// Acknowledged requests with fewer records in the table than acknowledged.
    pub missing_requests: u64,
    /// Requests with more records in the table than they carried (duplicates).
    pub duplicated_requests: u64,
    /// Refused requests whose records are in the table anyway.
    pub refused_present: u64,
    /// Requests of unknown fate that are in the table (allowed).
    pub unknown_present: u64,
    /// How long verification waited for the last commit.
    pub waited_secs: f64,
}

impl VerifyReport {
    pub fn summary(&self) -> String {
        format!(
            "verify {}: {} — {} of {} acknowledged records found; {} requests missing records, {} duplicated, {} refused but present, {} of unknown fate present",
            self.table,
            if self.ok { "OK" } else { "FAILED" },
            self.found_records,
            self.expected_records,
            self.missing_requests,
            self.duplicated_requests,
            self.refused_present,
            self.unknown_present,
        )
    }
}

/// Reads `signal`'s table of the lake `config` describes until it holds every acknowledged
/// record of `run_id` (or `timeout` passes: the server commits on its flush interval).
pub async fn verify(
    config: &IngestConfig,
    signal: Signal,
    run_id: u64,
    log: &RequestLog,
    timeout: Duration,
) -> anyhow::Result<VerifyReport> {
    let lake = icegate_committer::open_lake(&config.lake, &config.data_dir).await?;
    let table_name = match signal {
        Signal::Logs => &config.lake.tables.logs,
        Signal::Traces => &config.lake.tables.traces,
        Signal::Metrics => &config.lake.tables.metrics,
    };
    let ident = lake.table_ident(table_name);
    let started = Instant::now();
    loop {
        let counts = match lake.catalog().load_table(&ident).await {
            Ok(table) => count_by_request(&table, run_id).await?,
            // Not created yet: the server has not committed anything.
            Err(_) if started.elapsed() < timeout => HashMap::new(),
            Err(err) => return Err(anyhow::anyhow!("loading table {ident}: {err}")),
        };
        let report = judge(table_name, &counts, log, started.elapsed());
        let complete = report.missing_requests == 0;
        if (complete && report.found_records >= report.expected_records)
            || report.duplicated_requests > 0
            || started.elapsed() >= timeout
        {
            return Ok(report);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn judge(
    table: &str,
    counts: &HashMap<u64, u64>,
    log: &RequestLog,
    waited: Duration,
) -> VerifyReport {
    let mut report = VerifyReport {
        table: table.to_string(),
        acked_requests: log.acked.len() as u64,
        found_records: counts.values().sum(),
        waited_secs: waited.as_secs_f64(),
        ..VerifyReport::default()
    };
    for (id, &records) in &log.acked {
        report.expected_records += records;
        let found = counts.get(id).copied().unwrap_or(0);
        if found < records {
            report.missing_requests += 1;
        } else if found > records {
            report.duplicated_requests += 1;
        }
    }
    for id in &log.refused {
        if counts.get(id).is_some_and(|&n| n > 0) {
            report.refused_present += 1;
        }
    }
    for id in &log.unknown {
        if counts.contains_key(id) {
            report.unknown_present += 1;
        }
    }
    // Rows of this run that belong to no request the log knows were written twice or by
    // someone else: count them as duplicates.
    let known = |id: &u64| {
        log.acked.contains_key(id) || log.refused.contains(id) || log.unknown.contains(id)
    };
    report.duplicated_requests += counts.keys().filter(|id| !known(id)).count() as u64;
    report.ok = report.missing_requests == 0
        && report.duplicated_requests == 0
        && report.refused_present == 0;
    report
}

/// Rows per `loadgen.request` value of this run.
async fn count_by_request(
    table: &iceberg::table::Table,
    run_id: u64,
) -> anyhow::Result<HashMap<u64, u64>> {
    let mut counts = HashMap::new();
    if table.metadata().current_snapshot().is_none() {
        return Ok(counts);
    }
    let prefix = crate::payload::request_id_text(run_id << 32)[..8].to_string();
    let mut stream = table
        .scan()
        .select(["resource_attributes"])
        .build()?
        .to_arrow()
        .await?;
    while let Some(batch) = stream.try_next().await? {
        let column = batch.column(0);
        let map: &MapArray = column.as_map_opt().ok_or_else(|| {
            anyhow::anyhow!("resource_attributes is {:?}, not a map", column.data_type())
        })?;
        let keys = map.keys().as_string::<i32>();
        let values: &StringArray = map.values().as_string::<i32>();
        let offsets = map.value_offsets();
        for row in 0..map.len() {
            if map.is_null(row) {
                continue;
            }
            for entry in offsets[row] as usize..offsets[row + 1] as usize {
                if keys.value(entry) == REQUEST_ATTRIBUTE && values.is_valid(entry) {
                    let value = values.value(entry);
                    if value.starts_with(&prefix)
                        && let Some(id) = crate::payload::parse_request_id(value)
                    {
                        *counts.entry(id).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judging_counts_against_the_request_log() {
        let mut log = RequestLog::default();
        log.acked.insert(1, 10);
        log.acked.insert(2, 10);
        log.refused.insert(3);
        log.unknown.insert(4);
        let exact: HashMap<u64, u64> = [(1, 10), (2, 10), (4, 10)].into();
        let report = judge("logs", &exact, &log, Duration::ZERO);
        assert!(report.ok, "{report:?}");
        assert_eq!((report.expected_records, report.found_records), (20, 30));
        assert_eq!(report.unknown_present, 1);

        let short: HashMap<u64, u64> = [(1, 10), (2, 9)].into();
        assert_eq!(
            judge("logs", &short, &log, Duration::ZERO).missing_requests,
            1
        );
        let twice: HashMap<u64, u64> = [(1, 20), (2, 10)].into();
        assert_eq!(
            judge("logs", &twice, &log, Duration::ZERO).duplicated_requests,
            1
        );
        let refused: HashMap<u64, u64> = [(1, 10), (2, 10), (3, 10)].into();
        let report = judge("logs", &refused, &log, Duration::ZERO);
        assert!(!report.ok && report.refused_present == 1);
        let stranger: HashMap<u64, u64> = [(1, 10), (2, 10), (99, 1)].into();
        assert!(!judge("logs", &stranger, &log, Duration::ZERO).ok);
    }
}
