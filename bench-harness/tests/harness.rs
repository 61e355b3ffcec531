//! A short run of real cases through the harness, on the debug binaries this test build
//! produced: the server, loadgen, rotel and the Go collector all start, are measured, and
//! the table holds what was acknowledged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use icegate_bench_harness::case::Case;
use icegate_bench_harness::runner::Runner;
use icegate_bench_harness::targets::Tools;

fn bin_dir() -> PathBuf {
    // target/debug/deps/harness-… → target/debug
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

#[test]
fn short_cases_measure_the_server_and_the_baselines() {
    let tools = Tools::discover(Some(bin_dir()));
    assert!(tools.icegate().exists(), "{}", tools.icegate().display());
    let in_ci = std::env::var_os("CI").is_some();
    if in_ci {
        assert!(
            tools.rotel.is_some() && tools.otelcol.is_some(),
            "CI installs the peers"
        );
    }
    let out = tempfile::tempdir().unwrap();
    let mut runner = Runner {
        tools: tools.clone(),
        out_dir: out.path().join("e2e"),
        work_root: out.path().join("work"),
        duration_scale: 0.05,
        pin: std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2,
        achieved: HashMap::new(),
    };
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let max = Case::load(&cases.join("01-logs-grpc-max")).unwrap();
    let result = runner.run(&max).unwrap();
    assert!(result.records_acked > 0, "{result:?}");
    assert_eq!(result.records_in_table, result.records_acked, "{result:?}");
    assert!(result.server_cpu_secs > 0.0 && result.records_per_cpu_second > 0.0);
    assert!(result.compression_ratio > 1.0, "{result:?}");
    assert!(result.ready_ms > 0.0 && result.peak_rss_mb > 1.0);
    assert!(result.p99_ms >= result.p50_ms && result.p50_ms > 0.0);
    if tools.rotel.is_some() {
        let rotel = &result.baselines[0];
        assert_eq!(rotel.name, "rotel-blackhole");
        assert!(rotel.records > 0 && rotel.cpu_secs > 0.0, "{rotel:?}");
    }
    assert!(out.path().join("e2e/01-logs-grpc-max-icegate.csv").exists());

    // rate-of paces at a fraction of what the previous case achieved.
    let half = Case::load(&cases.join("02-logs-grpc-half")).unwrap();
    let paced = runner.run(&half).unwrap();
    assert!(paced.target_rate > 0 && (paced.target_rate as f64) <= result.achieved_records_per_sec);

    if tools.otelcol.is_some() {
        let filelog = Case::load(&cases.join("07-filelog-otelcol")).unwrap();
        let shipped = runner.run(&filelog).unwrap();
        assert_eq!(
            shipped.records_in_table, shipped.records_acked,
            "{shipped:?}"
        );
        assert_eq!(shipped.baselines[0].name, "otelcol-filelog");
    }
}
