//! Capacity planning: measured records per CPU-second and compression ratio → cores and
//! storage for a daily volume, and what that costs a month beside a SaaS price per GB.
//!
//! ```text
//! records/s       = TB/day × 10¹² / bytes-per-record / 86 400
//! cores           = records/s × peak-factor / records-per-cpu-second
//! stored GB       = TB/day × 1000 / compression-ratio × retention-days
//! monthly compute = cores × 730 h × core-usd-per-hour
//! monthly storage = stored GB × s3-usd-per-gb-month
//! monthly SaaS    = TB/day × 1000 × 30.42 × saas-usd-per-gb
//! ```
//!
//! The defaults are stated list prices (2026, us-east-1, on demand) and can be overridden.

use serde::{Deserialize, Serialize};

/// The inputs; measured ones come from a bench-harness summary or a loadgen report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CapacityInput {
    /// Daily ingest volume in TB of raw (uncompressed OTLP) log data.
    pub tb_per_day: f64,
    /// Measured: server records per CPU-second, end to end into committed tables.
    pub records_per_cpu_second: f64,
    /// Measured: raw bytes per stored byte.
    pub compression_ratio: f64,
    /// Raw bytes per record (as sent). Default: 300.
    pub bytes_per_record: f64,
    /// Days data is kept. Default: 30.
    pub retention_days: f64,
    /// Peak-to-average ratio of the traffic the cores must absorb. Default: 2.
    pub peak_factor: f64,
    /// Object storage price. Default: 0.023 USD per GB-month (S3 Standard).
    pub s3_usd_per_gb_month: f64,
    /// Compute price per core (vCPU) hour. Default: 0.0425 USD (c7i-class on demand, per vCPU).
    pub core_usd_per_hour: f64,
    /// What a log SaaS charges per ingested GB. Default: 0.50 USD.
    pub saas_usd_per_gb: f64,
}

/// The plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CapacityPlan {
    pub input: CapacityInput,
    pub average_records_per_second: f64,
    pub cores: f64,
    pub stored_gb: f64,
    pub monthly_compute_usd: f64,
    pub monthly_storage_usd: f64,
    pub monthly_total_usd: f64,
    pub monthly_saas_usd: f64,
    /// SaaS cost over IceGate cost.
    pub saas_ratio: f64,
}

const HOURS_PER_MONTH: f64 = 730.0;
const DAYS_PER_MONTH: f64 = 30.42;

/// Computes the plan.
pub fn plan(input: &CapacityInput) -> CapacityPlan {
    let records_per_second = input.tb_per_day * 1e12 / input.bytes_per_record / 86_400.0;
    let cores = records_per_second * input.peak_factor / input.records_per_cpu_second;
    let stored_gb = input.tb_per_day * 1000.0 / input.compression_ratio * input.retention_days;
    let monthly_compute_usd = cores.ceil() * HOURS_PER_MONTH * input.core_usd_per_hour;
    let monthly_storage_usd = stored_gb * input.s3_usd_per_gb_month;
    let monthly_total_usd = monthly_compute_usd + monthly_storage_usd;
    let monthly_saas_usd = input.tb_per_day * 1000.0 * DAYS_PER_MONTH * input.saas_usd_per_gb;
    CapacityPlan {
        input: input.clone(),
        average_records_per_second: records_per_second,
        cores,
        stored_gb,
        monthly_compute_usd,
        monthly_storage_usd,
        monthly_total_usd,
        monthly_saas_usd,
        saas_ratio: monthly_saas_usd / monthly_total_usd.max(1e-9),
    }
}

impl CapacityPlan {
    pub fn summary(&self) -> String {
        let i = &self.input;
        format!(
            "{tb} TB/day of {bpr:.0}-byte records = {rps:.0} records/s on average\n\
             cores:   {cores:.1} at {rpc:.0} records per CPU-second with {peak}x peak headroom\n\
             storage: {gb:.0} GB for {days} days at {ratio:.1}x compression\n\
             monthly: compute ${compute:.0} + storage ${storage:.0} = ${total:.0}\n\
             SaaS at ${saas_price}/GB: ${saas:.0}/month ({ratio_saas:.0}x IceGate's cost)",
            tb = i.tb_per_day,
            bpr = i.bytes_per_record,
            rps = self.average_records_per_second,
            cores = self.cores,
            rpc = i.records_per_cpu_second,
            peak = i.peak_factor,
            gb = self.stored_gb,
            days = i.retention_days,
            ratio = i.compression_ratio,
            compute = self.monthly_compute_usd,
            storage = self.monthly_storage_usd,
            total = self.monthly_total_usd,
            saas_price = i.saas_usd_per_gb,
            saas = self.monthly_saas_usd,
            ratio_saas = self.saas_ratio,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_terabyte_a_day() {
        let input = CapacityInput {
            tb_per_day: 1.0,
            records_per_cpu_second: 500_000.0,
            compression_ratio: 10.0,
            bytes_per_record: 250.0,
            retention_days: 30.0,
            peak_factor: 2.0,
            s3_usd_per_gb_month: 0.02,
            core_usd_per_hour: 0.05,
            saas_usd_per_gb: 0.5,
        };
        let plan = plan(&input);
        // 10^12 / 250 / 86400 = 46 296 records/s; ×2 / 500k = 0.185 cores → 1 core billed.
        assert!((plan.average_records_per_second - 46_296.3).abs() < 1.0);
        assert!((plan.cores - 0.185).abs() < 0.001);
        assert!((plan.stored_gb - 3000.0).abs() < 1e-6);
        assert!((plan.monthly_compute_usd - 36.5).abs() < 1e-6);
        assert!((plan.monthly_storage_usd - 60.0).abs() < 1e-6);
        assert!((plan.monthly_saas_usd - 15_210.0).abs() < 1e-6);
        assert!(plan.summary().contains("SaaS at $0.5/GB"));
    }
}
