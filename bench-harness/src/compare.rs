//! `compare`: a new run against a stored baseline run, metric by metric, case by case.

use crate::results::{CaseResult, RunSummary};

/// Whether bigger is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
}

/// A metric: its name, its direction and how to read it from a case.
type Metric = (&'static str, Better, fn(&CaseResult) -> f64);

const METRICS: [Metric; 7] = [
    ("records/CPU-s", Better::Higher, |c| {
        c.records_per_cpu_second
    }),
    ("achieved rec/s", Better::Higher, |c| {
        c.achieved_records_per_sec
    }),
    ("p50 ms", Better::Lower, |c| c.p50_ms),
    ("p99 ms", Better::Lower, |c| c.p99_ms),
    ("peak RSS MB", Better::Lower, |c| c.peak_rss_mb),
    ("ready ms", Better::Lower, |c| c.ready_ms),
    ("compression", Better::Higher, |c| c.compression_ratio),
];

/// One metric's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub case: String,
    pub metric: &'static str,
    pub baseline: f64,
    pub new: f64,
    /// "1.12x slower", "1.05x better", "no change".
    pub text: String,
    pub regressed: bool,
}

/// Compares every metric of every case both runs have. Changes within `tolerance` (a
/// fraction, e.g. 0.05) are "no change".
pub fn compare(baseline: &RunSummary, new: &RunSummary, tolerance: f64) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for case in &new.cases {
        let Some(old) = baseline.cases.iter().find(|c| c.case == case.case) else {
            continue;
        };
        for (metric, better, value) in METRICS {
            let (before, after) = (value(old), value(case));
            if before <= 0.0 || after <= 0.0 {
                continue;
            }
            // Always ≥ 1: how many times worse or better.
            let (factor, worse) = match better {
                Better::Higher => (before.max(after) / before.min(after), after < before),
                Better::Lower => (before.max(after) / before.min(after), after > before),
            };
            let changed = factor > 1.0 + tolerance;
            let text = if !changed {
                "no change".to_string()
            } else if worse {
                format!(
                    "{factor:.2}x {}",
                    if metric.contains("ms") {
                        "slower"
                    } else {
                        "worse"
                    }
                )
            } else {
                format!(
                    "{factor:.2}x {}",
                    if metric.contains("ms") {
                        "faster"
                    } else {
                        "better"
                    }
                )
            };
            verdicts.push(Verdict {
                case: case.case.clone(),
                metric,
                baseline: before,
                new: after,
                text,
                regressed: changed && worse,
            });
        }
    }
    verdicts
}

/// A table of verdicts.
pub fn render(verdicts: &[Verdict]) -> String {
    let mut text = format!(
        "{:<24} {:<16} {:>14} {:>14}  {}\n",
        "case", "metric", "baseline", "new", "verdict"
    );
    for v in verdicts {
        text.push_str(&format!(
            "{:<24} {:<16} {:>14.2} {:>14.2}  {}\n",
            v.case, v.metric, v.baseline, v.new, v.text
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Machine;

    fn run(records_per_cpu: f64, p99: f64) -> RunSummary {
        let case: CaseResult = serde_json::from_value(serde_json::json!({
            "case": "a", "description": "", "protocol": "grpc", "storage": "local",
            "target-rate": 0, "records-acked": 1, "records-in-table": 1, "elapsed-secs": 1.0,
            "achieved-records-per-sec": 1000.0, "achieved-mb-per-sec": 1.0,
            "server-cpu-secs": 1.0, "records-per-cpu-second": records_per_cpu,
            "peak-rss-mb": 50.0, "p50-ms": 1.0, "p99-ms": p99, "p999-ms": 0.0, "errors": 0,
            "bytes-per-record": 300.0, "stored-bytes": 1, "data-files": 1,
            "compression-ratio": 10.0, "ready-ms": 5.0,
            "loadgen-records-per-cpu-second": 1.0, "baselines": []
        }))
        .unwrap();
        RunSummary {
            date: "2026-11-26".into(),
            machine: Machine::read(),
            placement: String::new(),
            cases: vec![case],
        }
    }

    #[test]
    fn verdicts_name_direction_and_size() {
        let verdicts = compare(&run(1_000_000.0, 2.0), &run(800_000.0, 2.02), 0.05);
        let per_cpu = verdicts
            .iter()
            .find(|v| v.metric == "records/CPU-s")
            .unwrap();
        assert_eq!(per_cpu.text, "1.25x worse");
        assert!(per_cpu.regressed);
        let p99 = verdicts.iter().find(|v| v.metric == "p99 ms").unwrap();
        assert_eq!(p99.text, "no change");
        let faster = compare(&run(1.0, 4.0), &run(1.0, 2.0), 0.05);
        let p99 = faster.iter().find(|v| v.metric == "p99 ms").unwrap();
        assert_eq!((p99.text.as_str(), p99.regressed), ("2.00x faster", false));
        assert!(render(&faster).contains("2.00x faster"));
    }
}
