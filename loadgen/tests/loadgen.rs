//! The `icegate-loadgen` binary against a real IceGate server on 127.0.0.1 (started in this
//! process on the embedded default), with `--verify` reading the table back.

use std::path::Path;
use std::process::Command;

use icegate_ingest::IngestConfig;
use serde_json::Value;

async fn server(dir: &Path) -> icegate_ingest::Server {
    let mut config = IngestConfig {
        data_dir: dir.to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ..IngestConfig::default()
    };
    config.batcher.flush_interval_ms = 200;
    icegate_ingest::start(config).await.unwrap()
}

/// Runs the binary; returns its exit code and the parsed report.
async fn loadgen(dir: &Path, args: &[String]) -> (i32, Value, String) {
    let report = dir.join(format!("report-{}.json", rand_suffix()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_icegate-loadgen"));
    command
        .arg("run")
        .args(args)
        .args(["--quiet", "--report"])
        .arg(&report)
        .arg("--data-dir")
        .arg(dir)
        .args(["--verify-timeout", "60"]);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = std::fs::read_to_string(&report)
        .ok()
        .map(|text| serde_json::from_str(&text).unwrap())
        .unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), json, stderr)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Whitespace-separated flags, then `--endpoint endpoint`.
fn cmd(flags: &str, endpoint: &str) -> Vec<String> {
    let mut list: Vec<String> = flags.split_whitespace().map(str::to_string).collect();
    list.extend(["--endpoint".to_string(), endpoint.to_string()]);
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_is_acknowledged_and_verified_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let grpc = format!("http://{}", server.grpc_addr);
    let http = format!("http://{}", server.http_addr);
    let mut cases = vec![
        ("grpc", "logs", "mixed", &grpc),
        ("grpc", "logs", "nginx", &grpc),
        ("http-protobuf", "logs", "sshd", &http),
        ("http-json", "logs", "java-stack", &http),
        ("ndjson", "logs", "json-app", &http),
        ("grpc", "traces", "mixed", &grpc),
        ("http-protobuf", "metrics", "mixed", &http),
    ];
    // Real lines from Debian's fail2ban (ci/setup.sh fetches them; the datasets tests insist
    // on them under CI).
    if icegate_datasets::SampleLogs::fail2ban_dir().exists() {
        cases.push(("grpc", "logs", "fail2ban", &grpc));
    }
    for (protocol, signal, dataset, endpoint) in cases {
        let flags = format!(
            "--protocol {protocol} --signal {signal} --dataset {dataset} --records 1500 --records-per-request 100 -c 3 --verify"
        );
        let list = cmd(&flags, endpoint);
        let (code, report, stderr) = loadgen(dir.path(), &list).await;
        let case = format!("{protocol} {signal} {dataset}: {stderr}");
        assert_eq!(code, 0, "{case}");
        assert_eq!(report["records"]["sent"], 1500, "{case}");
        assert_eq!(report["records"]["acked"], 1500, "{case}");
        assert_eq!(report["requests"]["acked"], 15, "{case}");
        assert_eq!(report["verify"]["ok"], true, "{case}");
        assert_eq!(report["verify"]["found-records"], 1500, "{case}");
        assert!(report["latency-us"]["p50"].as_u64().unwrap() > 0, "{case}");
        assert!(report["latency-us"]["count"] == 15, "{case}");
        assert!(
            report["bytes-per-record"].as_f64().unwrap() > 20.0,
            "{case}"
        );
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_duration_and_rate_limits_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let grpc = format!("http://{}", server.grpc_addr);
    // gRPC gzip keeps per-request ids, so it verifies.
    let list = cmd(
        "--gzip --records 600 --records-per-request 50 --verify",
        &grpc,
    );
    let (code, report, stderr) = loadgen(dir.path(), &list).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["verify"]["found-records"], 600, "{stderr}");

    // Pacing can only make a run slower than the schedule, never faster: at 1000 records/s
    // for 1 s, at most 1000 records (plus one request per worker already due) go out.
    let list = cmd(
        "--rate 1000 --duration 1 --records-per-request 50 -c 2",
        &grpc,
    );
    let (code, report, stderr) = loadgen(dir.path(), &list).await;
    assert_eq!(code, 0, "{stderr}");
    let sent = report["records"]["sent"].as_u64().unwrap();
    assert!(sent > 0 && sent <= 1100, "sent {sent} at 1000/s for 1 s");

    // HTTP gzip bodies are compressed ahead of the run: accepted, but not verifiable.
    let http = format!("http://{}", server.http_addr);
    let list = cmd("--protocol http-protobuf --gzip --records 200", &http);
    let (code, report, stderr) = loadgen(dir.path(), &list).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["records"]["acked"], 200);
    let list = cmd(
        "--protocol http-protobuf --gzip --records 200 --verify",
        &http,
    );
    let (code, _, stderr) = loadgen(dir.path(), &list).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--verify needs per-request ids"),
        "{stderr}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_counted_by_status_and_an_absent_server_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    // NDJSON to the OTLP logs path: 415, counted, nothing acknowledged, verify still clean.
    // The fragment swallows the `/v1/ndjson` path loadgen appends.
    let logs_path = format!("http://{}/v1/logs#", server.http_addr);
    let list = cmd(
        "--protocol ndjson --records 300 --records-per-request 100",
        &logs_path,
    );
    let (code, report, stderr) = loadgen(dir.path(), &list).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["records"]["acked"], 0, "{stderr}");
    let errors = report["errors"].as_object().unwrap();
    assert_eq!(
        errors.values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
        3,
        "{errors:?}"
    );
    assert!(errors.keys().all(|k| k.starts_with("http 4")), "{errors:?}");
    server.shutdown().await.unwrap();

    // Nothing listening: a clear error and exit code 2.
    let (code, _, stderr) = loadgen(dir.path(), &cmd("--records 10", "http://127.0.0.1:9")).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("connecting to http://127.0.0.1:9"),
        "{stderr}"
    );
}

#[test]
fn capacity_plans_from_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_icegate-loadgen"))
        .args([
            "capacity",
            "--tb-per-day",
            "2",
            "--records-per-cpu-second",
            "400000",
            "--compression-ratio",
            "12",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    // 2e12 / 300 / 86400 = 77 160 records/s; ×2 / 400k = 0.386 cores.
    let cores = plan["cores"].as_f64().unwrap();
    assert!((cores - 0.3858).abs() < 0.001, "{plan}");
    assert!((plan["stored-gb"].as_f64().unwrap() - 5000.0).abs() < 1e-6);
    let missing = Command::new(env!("CARGO_BIN_EXE_icegate-loadgen"))
        .args(["capacity", "--tb-per-day", "1"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}
