//! The regression gate: instruction counts of the hot paths, measured under Callgrind by the
//! gungraun benches in `bench-harness/benches/hot_paths.rs`, against the committed baseline
//! `bench-harness/instructions.json`. Instruction counts do not move with the load of a shared
//! machine, so CI can fail on them; wall-clock figures are reported, never gated.
//!
//! A count above the baseline by more than the tolerance fails the gate; one below it by more
//! than the tolerance passes with a note to record the improvement (`--update`), so the
//! baseline keeps up with the code.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The committed baseline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Baseline {
    /// Where the counts were taken (instruction counts depend on the compiler and on which
    /// SIMD paths the CPU selects).
    pub machine: String,
    pub rustc: String,
    /// Instructions (Callgrind `Ir`) per bench, `function.id`.
    pub instructions: BTreeMap<String, u64>,
}

/// One bench's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub bench: String,
    pub baseline: Option<u64>,
    pub measured: u64,
    pub regressed: bool,
    pub improved: bool,
}

/// Reads gungraun's `--output-format=json` lines: `function_name.id` → `Ir`.
pub fn parse_gungraun(output: &str) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    for line in output.lines().filter(|l| l.trim_start().starts_with('{')) {
        let json: serde_json::Value = serde_json::from_str(line).context("a gungraun JSON line")?;
        let name = format!(
            "{}.{}",
            json["function_name"].as_str().context("function_name")?,
            json["id"].as_str().unwrap_or("default")
        );
        let instructions = json["profiles"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["tool"] == "Callgrind")
            .and_then(|p| p["data"]["total"]["metrics"]["Ir"]["values"]["new"].as_u64())
            .with_context(|| format!("no Callgrind Ir for {name}"))?;
        counts.insert(name, instructions);
    }
    anyhow::ensure!(!counts.is_empty(), "gungraun reported no benchmarks");
    Ok(counts)
}

/// Compares measured counts with the baseline.
pub fn check(baseline: &Baseline, measured: &BTreeMap<String, u64>, tolerance: f64) -> Vec<Check> {
    measured
        .iter()
        .map(|(bench, &count)| {
            let old = baseline.instructions.get(bench).copied();
            let ratio = old.map_or(1.0, |old| count as f64 / old.max(1) as f64);
            Check {
                bench: bench.clone(),
                baseline: old,
                measured: count,
                regressed: old.is_none() || ratio > 1.0 + tolerance,
                improved: ratio < 1.0 - tolerance,
            }
        })
        .collect()
}

/// Runs the benches, prints the comparison, and returns whether the gate passes.
pub fn run(baseline_path: &Path, tolerance: f64, update: bool) -> anyhow::Result<bool> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "bench",
            "--locked",
            "-p",
            "icegate-bench-harness",
            "--bench",
            "hot_paths",
            "--",
            "--output-format=json",
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .context(
            "running cargo bench (needs valgrind and gungraun-runner: bench-harness/setup.sh)",
        )?;
    anyhow::ensure!(
        output.status.success(),
        "cargo bench --bench hot_paths failed ({})",
        output.status
    );
    let measured = parse_gungraun(&String::from_utf8_lossy(&output.stdout))?;
    let baseline: Baseline = match std::fs::read_to_string(baseline_path) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", baseline_path.display()))?,
        Err(_) if update => Baseline::default(),
        Err(err) => {
            return Err(err).with_context(|| format!("reading {}", baseline_path.display()));
        }
    };
    let checks = check(&baseline, &measured, tolerance);
    println!(
        "{:<40} {:>14} {:>14} {:>9}  verdict (tolerance {:.1} %)",
        "bench",
        "baseline Ir",
        "measured Ir",
        "change",
        tolerance * 100.0
    );
    for c in &checks {
        let change = c
            .baseline
            .map(|old| format!("{:+.2}%", (c.measured as f64 / old as f64 - 1.0) * 100.0))
            .unwrap_or_else(|| "new".into());
        let verdict = if c.baseline.is_none() {
            "not in the baseline"
        } else if c.regressed {
            "REGRESSED"
        } else if c.improved {
            "improved: record it with --update"
        } else {
            "ok"
        };
        println!(
            "{:<40} {:>14} {:>14} {:>9}  {verdict}",
            c.bench,
            c.baseline.map(|v| v.to_string()).unwrap_or_default(),
            c.measured,
            change
        );
    }
    if update {
        let machine = crate::results::Machine::read();
        let updated = Baseline {
            machine: format!("{} ({} cores)", machine.cpu_model, machine.cores),
            rustc: machine.rustc,
            instructions: measured,
        };
        std::fs::write(
            baseline_path,
            serde_json::to_string_pretty(&updated)? + "\n",
        )?;
        println!("baseline written to {}", baseline_path.display());
        return Ok(true);
    }
    Ok(checks.iter().all(|c| !c.regressed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gungraun_lines_are_read_and_judged() {
        let line = |name: &str, ir: u64| {
            serde_json::json!({
                "function_name": name, "id": "mixed_1000",
                "profiles": [{"tool": "Callgrind", "data": {"total": {"metrics": {"Ir": {"values": {"new": ir}}}}}}]
            })
            .to_string()
        };
        let output = format!("{}\nnoise\n{}\n", line("decode", 1000), line("sort", 500));
        let measured = parse_gungraun(&output).unwrap();
        assert_eq!(measured["decode.mixed_1000"], 1000);
        let baseline = Baseline {
            instructions: [
                ("decode.mixed_1000".to_string(), 900),
                ("sort.mixed_1000".to_string(), 520),
            ]
            .into(),
            ..Baseline::default()
        };
        let checks = check(&baseline, &measured, 0.02);
        let decode = checks
            .iter()
            .find(|c| c.bench == "decode.mixed_1000")
            .unwrap();
        assert!(decode.regressed, "{decode:?}");
        let sort = checks
            .iter()
            .find(|c| c.bench == "sort.mixed_1000")
            .unwrap();
        assert!(!sort.regressed && sort.improved, "{sort:?}");
        assert!(
            check(&Baseline::default(), &measured, 0.02)
                .iter()
                .all(|c| c.regressed)
        );
        assert!(parse_gungraun("not json\n").is_err());
    }
}
