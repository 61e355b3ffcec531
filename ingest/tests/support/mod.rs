//! What the server's process-level tests share: starting `icegate`, a minimal HTTP client,
//! PyIceberg through the venv's Python, and a TCP proxy that injects network faults.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn python() -> Option<PathBuf> {
    let path = std::env::var_os("ICEGATE_PYTHON")
        .map(PathBuf::from)
        .filter(|p| p.exists());
    if path.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "ICEGATE_PYTHON is not set up; run ci/setup.sh"
        );
        eprintln!("skipping: ICEGATE_PYTHON is not set (run ci/setup.sh)");
    }
    path
}

/// The Python of the Spark install (`ci/spark-setup.sh`), like [`python`]: required under CI.
pub fn spark_python() -> Option<PathBuf> {
    let path = std::env::var_os("ICEGATE_SPARK_PYTHON")
        .map(PathBuf::from)
        .filter(|p| p.exists());
    if path.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "ICEGATE_SPARK_PYTHON is not set up; run ci/setup.sh"
        );
        eprintln!("skipping the Spark read: ICEGATE_SPARK_PYTHON is not set (run ci/setup.sh)");
    }
    path
}

/// Rows of `columns` of `table` as Apache Spark 3.5 reads them through a JDBC Iceberg
/// catalog over the server's SQLite catalog (`support/spark_read.py`).
pub fn spark_rows(
    spark_python: &Path,
    data_dir: &Path,
    table: &str,
    columns: &str,
) -> serde_json::Value {
    let output = Command::new(spark_python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/spark_read.py"))
        .arg(data_dir.join("catalog.db"))
        .arg(data_dir.join("warehouse"))
        .arg(table)
        .arg(columns)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "Spark failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A process's peak resident memory (VmHWM), in bytes.
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Rows in `default.logs`, as PyIceberg counts them.
pub fn logs_rows(python: &Path, data_dir: &Path) -> u64 {
    let report = run_python(
        python,
        &format!(
            "import json\ncatalog = {}\nprint(json.dumps({{'rows': catalog.load_table('default.logs').scan().to_arrow().num_rows}}))",
            catalog_expression(data_dir)
        ),
    );
    report["rows"].as_u64().unwrap()
}

/// A test service's address from `ci/services.sh` (required under CI).
pub fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) => Some(value),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "test services are not running ({var})"
            );
            eprintln!("skipping: start the test services with eval \"$(ci/services.sh start)\"");
            None
        }
    }
}

/// `[lake]` on the test PostgreSQL catalog and SeaweedFS S3 under `namespace`, and the
/// PyIceberg catalog expression reading it; `None` (skipped) without the services.
pub fn postgres_s3_lake(namespace: &str) -> Option<(String, String)> {
    let (postgres, s3) = (
        service("ICEGATE_TEST_POSTGRES_URL")?,
        service("ICEGATE_TEST_S3_ENDPOINT")?,
    );
    let bucket = std::env::var("ICEGATE_TEST_S3_BUCKET").unwrap();
    let key = std::env::var("ICEGATE_TEST_S3_ACCESS_KEY").unwrap();
    let secret = std::env::var("ICEGATE_TEST_S3_SECRET_KEY").unwrap();
    let lake = format!(
        "[lake]\nnamespace = \"{namespace}\"\n[lake.catalog]\ntype = \"postgres\"\nurl = \"{postgres}\"\n[lake.storage]\ntype = \"s3\"\nbucket = \"{bucket}\"\nprefix = \"{namespace}\"\nendpoint = \"{s3}\"\npath-style-access = true\naccess-key-id = \"{key}\"\nsecret-access-key = \"{secret}\"\n"
    );
    let catalog = format!(
        "__import__('pyiceberg.catalog.sql', fromlist=['SqlCatalog']).SqlCatalog('icegate', uri='{}', warehouse='s3://{bucket}/{namespace}', **{{'s3.endpoint': '{s3}', 's3.access-key-id': '{key}', 's3.secret-access-key': '{secret}', 's3.region': 'us-east-1', 's3.path-style-access': 'true'}})",
        postgres.replace("postgres://", "postgresql+psycopg2://"),
    );
    Some((lake, catalog))
}

/// A name no other test run uses (the catalogs are shared).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), free_port())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `icegate` on a data directory.
pub struct Icegate {
    pub child: Child,
    /// The server's log (stdout and stderr), shown when a test fails.
    pub log: PathBuf,
}

impl Icegate {
    pub fn start(data_dir: &Path, port: u16) -> Self {
        Self::start_with_grpc(data_dir, port, free_port())
    }

    pub fn start_with_grpc(data_dir: &Path, port: u16, grpc_port: u16) -> Self {
        Self::start_with(data_dir, port, grpc_port, &[])
    }

    pub fn start_with(data_dir: &Path, port: u16, grpc_port: u16, extra_args: &[&str]) -> Self {
        Self::start_via(&[], data_dir, port, grpc_port, extra_args)
    }

    /// Like [`Icegate::start_with`], run through `wrapper` (e.g. `prlimit --nofile=…`).
    pub fn start_via(
        wrapper: &[&str],
        data_dir: &Path,
        port: u16,
        grpc_port: u16,
        extra_args: &[&str],
    ) -> Self {
        let log_path = data_dir.with_extension("log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let binary = env!("CARGO_BIN_EXE_icegate");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        // A test's own --flush-interval replaces the default.
        let flush_interval: &[&str] = if extra_args.contains(&"--flush-interval") {
            &[]
        } else {
            &["--flush-interval", "300ms"]
        };
        let child = command
            .args(extra_args)
            .args(["--data-dir", data_dir.to_str().unwrap()])
            .args(["--http-addr", &format!("127.0.0.1:{port}")])
            .args(["--grpc-addr", &format!("127.0.0.1:{grpc_port}")])
            .args(flush_interval)
            .env("ICEGATE_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let server = Icegate {
            child,
            log: log_path,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http(port, "GET", "/readyz", "", b"").map(|(status, _)| status) != Some(200) {
            assert!(Instant::now() < deadline, "icegate did not become ready");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// SIGTERM and wait: the final flush commits everything acknowledged.
    pub fn stop(mut self) {
        sigterm(self.child.id());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "icegate exited with {status}");
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Icegate {
    /// A failing test must not leave a server behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            show_log(&self.log);
        }
    }
}

/// The last lines of a server log that are not debug noise (every run of the data dir).
pub fn show_log(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.contains("DEBUG")).collect();
    eprintln!("--- {} (last 40 lines) ---", path.display());
    for line in &lines[lines.len().saturating_sub(40)..] {
        eprintln!("{line}");
    }
}

pub fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A minimal HTTP/1.1 request; `None` when the server is unreachable or hangs up.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    http_with(port, method, path, &[("Content-Type", content_type)], body)
}

/// [`http`] with any headers.
pub fn http_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).ok()?;
    // A server may answer (413) and close before the body is sent: read what it said.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body_start = response.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    Some((status, response[body_start..].to_vec()))
}

/// Runs a Python snippet and returns its stdout parsed as JSON.
pub fn run_python(python: &Path, script: &str) -> serde_json::Value {
    let output = Command::new(python).arg("-c").arg(script).output().unwrap();
    assert!(
        output.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&output.stdout)))
}

pub fn catalog_expression(data_dir: &Path) -> String {
    format!(
        "__import__('pyiceberg.catalog.sql', fromlist=['SqlCatalog']).SqlCatalog('icegate', uri='sqlite:///{}', warehouse='file://{}')",
        data_dir.join("catalog.db").display(),
        data_dir.join("warehouse").display()
    )
}

/// The value of a counter or gauge (first series whose line starts with `name`), 0 if absent.
pub fn metric_value(port: u16, name: &str) -> u64 {
    let (_, body) = http(port, "GET", "/metrics", "", b"").unwrap();
    String::from_utf8(body)
        .unwrap()
        .lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// Waits for `condition`, failing after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a [`FaultProxy`] does to the traffic through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    None,
    /// The server is unreachable: new connections are closed at once, open ones reset.
    Cut,
    /// Connections are accepted and never answered (a partition, a hung server); open ones
    /// go silent too. When it ends, the silent connections are reset, as TCP keepalive would.
    BlackHole,
}

/// What an armed trigger does to the request it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMatch {
    /// The request never reaches the server; the connection is reset.
    DropRequest,
    /// The request reaches the server (and is applied); its answer is lost with the
    /// connection.
    DropAnswer,
}

struct Trigger {
    pattern: Vec<u8>,
    on_match: OnMatch,
    remaining: u32,
}

#[derive(Default)]
struct ProxyState {
    fault: Mutex<Option<Fault>>,
    /// Open connections (client side, server side if connected).
    open: Mutex<Vec<(TcpStream, Option<TcpStream>)>>,
    trigger: Mutex<Option<Trigger>>,
    fired: AtomicU32,
    connections: AtomicU64,
}

impl ProxyState {
    fn fault(&self) -> Fault {
        self.fault.lock().unwrap().unwrap_or(Fault::None)
    }

    fn reset_open(&self) {
        for (client, server) in self.open.lock().unwrap().drain(..) {
            let _ = client.shutdown(Shutdown::Both);
            if let Some(server) = server {
                let _ = server.shutdown(Shutdown::Both);
            }
        }
    }

    /// Whether a client chunk fires the armed trigger, and how.
    fn matches(&self, chunk: &[u8]) -> Option<OnMatch> {
        let mut trigger = self.trigger.lock().unwrap();
        let armed = trigger.as_mut()?;
        if armed.remaining == 0
            || !chunk
                .windows(armed.pattern.len())
                .any(|w| w == armed.pattern.as_slice())
        {
            return None;
        }
        armed.remaining -= 1;
        self.fired.fetch_add(1, Ordering::SeqCst);
        Some(armed.on_match)
    }
}

/// A TCP proxy on 127.0.0.1 in front of one server (S3, PostgreSQL, a REST catalog) that
/// cuts, black-holes, or drops one matching request or its answer — faults for one
/// dependency, without touching the shared server other tests use.
pub struct FaultProxy {
    pub port: u16,
    state: Arc<ProxyState>,
}

impl FaultProxy {
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ProxyState::default());
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                shared.connections.fetch_add(1, Ordering::Relaxed);
                match shared.fault() {
                    Fault::Cut => drop(client),
                    Fault::BlackHole => {
                        shared
                            .open
                            .lock()
                            .unwrap()
                            .push((client.try_clone().unwrap(), None));
                        std::thread::spawn(move || discard(client));
                    }
                    Fault::None => {
                        let Ok(server) = TcpStream::connect(target) else {
                            continue;
                        };
                        serve(shared.clone(), client, server);
                    }
                }
            }
        });
        Self { port, state }
    }

    /// Switches the fault; open connections are reset when a cut starts or a black hole ends.
    pub fn set(&self, fault: Fault) {
        let before = self.state.fault.lock().unwrap().replace(fault);
        if fault == Fault::Cut || before == Some(Fault::BlackHole) {
            self.state.reset_open();
        }
    }

    /// Arms a trigger: the next `times` client chunks containing `pattern` get `on_match`.
    pub fn arm(&self, pattern: &[u8], on_match: OnMatch, times: u32) {
        *self.state.trigger.lock().unwrap() = Some(Trigger {
            pattern: pattern.to_vec(),
            on_match,
            remaining: times,
        });
    }

    /// How often an armed trigger fired.
    pub fn fired(&self) -> u32 {
        self.state.fired.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::Relaxed)
    }
}

fn discard(mut stream: TcpStream) {
    let mut buf = [0u8; 16 << 10];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

fn serve(state: Arc<ProxyState>, client: TcpStream, server: TcpStream) {
    state.open.lock().unwrap().push((
        client.try_clone().unwrap(),
        Some(server.try_clone().unwrap()),
    ));
    let doomed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (mut from_client, mut to_server) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut from_server, mut to_client) = (server, client);
    {
        let (state, doomed) = (state.clone(), doomed.clone());
        let to_client = to_client.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = match from_client.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if state.fault() == Fault::BlackHole {
                    continue;
                }
                match state.matches(&buf[..n]) {
                    Some(OnMatch::DropRequest) => {
                        let _ = to_client.shutdown(Shutdown::Both);
                        break;
                    }
                    Some(OnMatch::DropAnswer) => doomed.store(true, Ordering::SeqCst),
                    None => {}
                }
                if to_server.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to_server.shutdown(Shutdown::Both);
        });
    }
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match from_server.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if state.fault() == Fault::BlackHole {
                continue;
            }
            if doomed.load(Ordering::SeqCst) {
                // The server answered (it applied the request); the answer is lost.
                break;
            }
            if to_client.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to_client.shutdown(Shutdown::Both);
        let _ = from_server.shutdown(Shutdown::Both);
    });
}
