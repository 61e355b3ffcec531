//! Crash test: a child process appends with `sync = "always"` and prints every acknowledged
//! record; the parent SIGKILLs it at random moments, reopens the log, and checks that every
//! acknowledged record is present and intact. The same log goes through every crash.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use icegate_wal::{ByteSize, SyncPolicy, Wal, WalConfig};

const CHILD_DIR_ENV: &str = "ICEGATE_WAL_CRASH_CHILD_DIR";
const ITERATIONS: u32 = 25;
const TIME_BUDGET: Duration = Duration::from_secs(30);

fn config() -> WalConfig {
    WalConfig {
        sync: SyncPolicy::Always,
        segment_size: ByteSize(16 << 10),
        max_record_size: ByteSize(64 << 10),
        max_disk_size: ByteSize(1 << 30),
        ..WalConfig::default()
    }
}

/// The bytes a (writer, counter) pair appends: a header naming it, then filler derived from it.
fn payload(writer: u32, counter: u32) -> Vec<u8> {
    let len = 12 + (counter as usize * 7919 + writer as usize * 104_729) % 3000;
    let mut bytes = Vec::with_capacity(len);
    bytes.extend_from_slice(&writer.to_le_bytes());
    bytes.extend_from_slice(&counter.to_le_bytes());
    bytes.extend_from_slice(&(len as u32).to_le_bytes());
    let mut x = (writer as u64) << 32 | counter as u64;
    while bytes.len() < len {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        bytes.push((x >> 56) as u8);
    }
    bytes
}

/// Runs only as the child the crash test starts (the environment variable says where).
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let (wal, _) = Wal::open(&dir, config()).unwrap();
        let wal = Arc::new(wal);
        // A unique writer id per child life so payloads from different lives differ.
        let life = std::process::id();
        let mut tasks = Vec::new();
        for task in 0..8u32 {
            let wal = wal.clone();
            tasks.push(tokio::spawn(async move {
                let writer = life.wrapping_mul(8).wrapping_add(task);
                for counter in 0.. {
                    let seq = wal.append_durable(&payload(writer, counter)).await.unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {seq} {writer} {counter}").unwrap();
                    out.flush().unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

#[test]
fn acknowledged_records_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    let mut acked: HashMap<u64, (u32, u32)> = HashMap::new();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut crashes = 0;
    while crashes < ITERATIONS && started.elapsed() < TIME_BUDGET {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Some(rest) = line.strip_prefix("ACK ") else {
                    continue;
                };
                let fields: Vec<u64> = rest.split(' ').map(|f| f.parse().unwrap()).collect();
                // A line cut by the kill has fewer fields; it was never fully acknowledged.
                if fields.len() == 3 {
                    acks.push((fields[0], fields[1] as u32, fields[2] as u32));
                }
            }
            acks
        });
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(30 + rng % 250));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for (seq, writer, counter) in reader.join().unwrap() {
            assert!(
                acked.insert(seq, (writer, counter)).is_none(),
                "seq {seq} acknowledged twice"
            );
        }
        crashes += 1;

        let (wal, report) = Wal::open(dir.path(), config()).unwrap();
        let mut present = 0;
        for record in wal.read_from(report.first_seq).unwrap() {
            let record = record.unwrap_or_else(|err| panic!("after crash {crashes}: {err}"));
            if let Some(&(writer, counter)) = acked.get(&record.seq) {
                assert_eq!(
                    &record.payload[..],
                    &payload(writer, counter)[..],
                    "seq {} damaged",
                    record.seq
                );
                present += 1;
            }
        }
        assert_eq!(
            present,
            acked.len(),
            "after crash {crashes}: acknowledged records missing"
        );
        assert!(acked.keys().all(|seq| *seq < report.next_seq));
        wal.close().unwrap();
    }
    assert!(crashes >= 5, "only {crashes} crashes in the time budget");
    assert!(
        acked.len() > 100,
        "children acknowledged only {} records",
        acked.len()
    );
    eprintln!(
        "{crashes} crashes, {} acknowledged records verified",
        acked.len()
    );
}
