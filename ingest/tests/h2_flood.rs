//! HTTP/2 stream floods against both listeners, written as raw frames (a hostile client
//! does not honour the server's settings): streams opened and reset at once ("rapid
//! reset", CVE-2023-44487) and streams opened past `max-concurrent-streams` and never
//! finished. A normal client keeps being answered, memory stays bounded, and afterwards a
//! normal request succeeds and is committed.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::*;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const END_HEADERS: u8 = 0x4;
const CANCEL: u32 = 0x8;

fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// HPACK: every header a literal without indexing, new name (no Huffman).
fn header_block(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in headers {
        block.push(0x00);
        block.push(name.len() as u8);
        block.extend_from_slice(name.as_bytes());
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    block
}

/// What one flooding client saw.
#[derive(Default)]
struct Flood {
    streams: AtomicU64,
    /// Connections the server ended (GOAWAY or close) while the flood went on.
    ended_by_server: AtomicU64,
}

/// Opens connections to `port` and floods each with streams until `stop`: `reset` cancels
/// every stream right after opening it; otherwise streams stay open (no body) — far more
/// than the server allows at once. A connection the server ends is replaced.
fn flood(port: u16, path: &'static str, reset: bool, stop: Arc<AtomicBool>, seen: Arc<Flood>) {
    let block = header_block(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "127.0.0.1"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]);
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        stream
            .set_write_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        // Drain what the server says so its writes never block; note when it hangs up.
        let mut reader = stream.try_clone().unwrap();
        let drained = std::thread::spawn(move || {
            let mut buf = [0u8; 16 << 10];
            while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
        });
        let mut out = PREFACE.to_vec();
        frame(&mut out, SETTINGS, 0, 0, &[]);
        let mut id = 1u32;
        let mut alive = stream.write_all(&out).is_ok();
        while alive && !stop.load(Ordering::Relaxed) && id < (1 << 30) {
            out.clear();
            for _ in 0..64 {
                frame(&mut out, HEADERS, END_HEADERS, id, &block);
                if reset {
                    frame(&mut out, RST_STREAM, 0, id, &CANCEL.to_be_bytes());
                }
                id += 2;
            }
            alive = stream.write_all(&out).is_ok();
            if alive {
                seen.streams.fetch_add(64, Ordering::Relaxed);
            }
            if !reset && id > 4096 {
                // Thousands of open streams on this connection: hold them.
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if !alive {
            seen.ended_by_server.fetch_add(1, Ordering::Relaxed);
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
        let _ = drained.join();
    }
}

fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

fn log_request(n: u64) -> Vec<u8> {
    format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"normal"}}}}]}},"scopeLogs":[{{"logRecords":[{{"timeUnixNano":"{}","body":{{"stringValue":"record-{n}"}}}}]}}]}}]}}"#,
        1_764_000_000_000_000_000u64 + n
    )
    .into_bytes()
}

/// Latencies of normal OTLP/HTTP requests sent one after another for `window`.
fn normal_client(port: u16, window: Duration, first: u64) -> Vec<Duration> {
    let started = Instant::now();
    let mut latencies = Vec::new();
    while started.elapsed() < window {
        let n = first + latencies.len() as u64;
        let sent = Instant::now();
        let (status, answer) = http(
            port,
            "POST",
            "/v1/logs",
            "application/json",
            &log_request(n),
        )
        .expect("a normal request is answered during the flood");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        latencies.push(sent.elapsed());
        std::thread::sleep(Duration::from_millis(10));
    }
    latencies
}

fn p99(latencies: &mut [Duration]) -> Duration {
    latencies.sort();
    latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]
}

#[test]
fn http2_stream_floods_are_bounded_and_never_starve_normal_clients() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let config = dir.path().join("icegate.toml");
    std::fs::write(
        &config,
        "max-memory = 268435456\n[listen]\nrequest-timeout-ms = 3000\n",
    )
    .unwrap();
    let (port, grpc_port) = (free_port(), free_port());
    let server = Icegate::start_with(
        &data_dir,
        port,
        grpc_port,
        &["--config", config.to_str().unwrap()],
    );
    let pid = server.child.id();
    let mut before = normal_client(port, Duration::from_secs(2), 0);

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Flood::default());
    let grpc_path = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    let floods: Vec<_> = [
        (grpc_port, grpc_path, true),
        (grpc_port, grpc_path, false),
        (grpc_port, grpc_path, false),
        (port, "/v1/logs", true),
        (port, "/v1/logs", false),
    ]
    .into_iter()
    .map(|(port, path, reset)| {
        let (stop, seen) = (stop.clone(), seen.clone());
        std::thread::spawn(move || flood(port, path, reset, stop, seen))
    })
    .collect();
    let mut during = normal_client(port, Duration::from_secs(5), before.len() as u64);
    stop.store(true, Ordering::Relaxed);
    for flood in floods {
        flood.join().unwrap();
    }
    let (before_p99, during_p99) = (p99(&mut before), p99(&mut during));
    let peak = peak_rss(pid);
    eprintln!(
        "{} flood streams, {} connections ended by the server; normal p99 {before_p99:?} \
         before, {during_p99:?} during ({} requests); peak RSS {} MiB",
        seen.streams.load(Ordering::Relaxed),
        seen.ended_by_server.load(Ordering::Relaxed),
        during.len(),
        peak >> 20
    );
    assert!(
        seen.streams.load(Ordering::Relaxed) > 10_000,
        "the flood ran"
    );
    // Answered, and not starved: a generous bound on a shared 2-core machine (the flood's
    // five threads compete with the server for the same cores).
    assert!(during.len() > 20, "{} normal requests in 5 s", during.len());
    assert!(
        during_p99 < Duration::from_secs(1),
        "p99 {during_p99:?} during the flood"
    );
    assert!(peak < 512 << 20, "peak RSS {} MiB", peak >> 20);
    let (status, _) = http(port, "GET", "/readyz", "", b"").unwrap();
    assert_eq!(status, 200);
    let total = (before.len() + during.len()) as u64;
    server.stop();
    let report = run_python(
        &python,
        &format!(
            "import json\ncatalog = {}\nrows = catalog.load_table('default.logs').scan(selected_fields=('body',)).to_arrow()\nprint(json.dumps({{'rows': rows.num_rows, 'distinct': len(set(rows['body'].to_pylist()))}}))",
            catalog_expression(&data_dir)
        ),
    );
    assert_eq!(report["rows"], total, "{report}");
    assert_eq!(report["distinct"], total, "{report}");
}
