//! WAL throughput: appends without fsync by record size, group commit under 1/8/64
//! concurrent appenders, and replay; each with the std and io_uring write paths.
//!
//! `cargo bench -p icegate-wal --bench wal`. Numbers and method: results/ and the README.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use icegate_wal::{ByteSize, IoBackend, SyncPolicy, Wal, WalConfig};
use tokio::runtime::Runtime;

fn config(sync: SyncPolicy, io_backend: IoBackend) -> WalConfig {
    WalConfig {
        sync,
        io_backend,
        segment_size: ByteSize(64 << 20),
        max_disk_size: ByteSize(16 << 30),
        ..WalConfig::default()
    }
}

fn backends() -> Vec<IoBackend> {
    let mut backends = vec![IoBackend::Std];
    if icegate_wal::io_uring_available() {
        backends.push(IoBackend::IoUring);
    }
    backends
}

fn name(backend: IoBackend) -> &'static str {
    match backend {
        IoBackend::Std => "std",
        IoBackend::IoUring => "io-uring",
    }
}

/// A fresh directory under `ICEGATE_BENCH_DIR` (default: the system temp dir). Point it at
/// the disk you want measured: fsync on a tmpfs costs nothing.
fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("ICEGATE_BENCH_DIR") {
        Some(base) => {
            std::fs::create_dir_all(&base).unwrap();
            tempfile::tempdir_in(base).unwrap()
        }
        None => tempfile::tempdir().unwrap(),
    }
}

fn append_without_fsync(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let mut group = c.benchmark_group("append_never");
    for size in [256usize, 4096, 65536] {
        group.throughput(Throughput::ElementsAndBytes {
            elements: 1,
            bytes: size as u64,
        });
        for backend in backends() {
            let dir = bench_dir();
            let (wal, _) = Wal::open(dir.path(), config(SyncPolicy::Never, backend)).unwrap();
            let payload = vec![0xa5u8; size];
            group.bench_function(BenchmarkId::new(name(backend), size), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    let mut last = None;
                    for _ in 0..iters {
                        last = Some(wal.append(black_box(&payload)).unwrap());
                    }
                    let seq = runtime.block_on(last.unwrap().durable()).unwrap();
                    let elapsed = start.elapsed();
                    wal.truncate_before(seq).unwrap();
                    elapsed
                });
            });
        }
    }
    group.finish();
}

fn group_commit(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let mut group = c.benchmark_group("append_always_4KiB");
    group.measurement_time(Duration::from_secs(4));
    let size = 4096usize;
    // The disk's ceiling, measured in the same run: one 4 KiB pwrite + fdatasync at a time.
    group.throughput(Throughput::ElementsAndBytes {
        elements: 1,
        bytes: size as u64,
    });
    {
        use std::os::unix::fs::FileExt;
        let dir = bench_dir();
        let file = std::fs::File::create(dir.path().join("raw")).unwrap();
        let block = vec![0x11u8; size];
        let mut offset = 0u64;
        group.bench_function("raw_pwrite_fdatasync", |b| {
            b.iter(|| {
                file.write_all_at(&block, offset).unwrap();
                file.sync_data().unwrap();
                offset += size as u64;
            });
        });
    }
    for appenders in [1u64, 8, 64] {
        group.throughput(Throughput::ElementsAndBytes {
            elements: appenders,
            bytes: appenders * size as u64,
        });
        for backend in backends() {
            let dir = bench_dir();
            let (wal, _) = Wal::open(dir.path(), config(SyncPolicy::Always, backend)).unwrap();
            let wal = Arc::new(wal);
            group.bench_function(
                BenchmarkId::new(name(backend), format!("{appenders}_appenders")),
                |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        runtime.block_on(async {
                            let mut tasks = tokio::task::JoinSet::new();
                            for _ in 0..appenders {
                                let wal = wal.clone();
                                tasks.spawn(async move {
                                    let payload = vec![0x5au8; size];
                                    for _ in 0..iters {
                                        wal.append_durable(&payload).await.unwrap();
                                    }
                                });
                            }
                            tasks.join_all().await;
                        });
                        let elapsed = start.elapsed();
                        wal.truncate_before(wal.stats().durable_next).unwrap();
                        elapsed
                    });
                },
            );
            let stats = wal.stats();
            if stats.next_seq == 0 {
                continue; // filtered out on the command line
            }
            eprintln!(
                "append_always_4KiB/{}/{appenders}_appenders: {} records, {} fsyncs ({:.1} records per fsync)",
                name(backend),
                stats.next_seq,
                stats.fsyncs,
                stats.next_seq as f64 / stats.fsyncs.max(1) as f64
            );
        }
    }
    group.finish();
}

fn replay(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let mut group = c.benchmark_group("replay");
    for size in [256usize, 4096, 65536] {
        let dir = bench_dir();
        let (wal, _) = Wal::open(dir.path(), config(SyncPolicy::Never, IoBackend::Std)).unwrap();
        let total = 256usize << 20;
        let count = total / size;
        let payload = vec![0x3cu8; size];
        let mut last = None;
        for _ in 0..count {
            last = Some(wal.append(&payload).unwrap());
        }
        runtime.block_on(last.unwrap().durable()).unwrap();
        group.throughput(Throughput::ElementsAndBytes {
            elements: count as u64,
            bytes: (count * size) as u64,
        });
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter(|| {
                let mut bytes = 0usize;
                for record in wal.read_from(0).unwrap() {
                    bytes += black_box(record.unwrap().payload.len());
                }
                assert_eq!(bytes, count * size);
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = append_without_fsync, group_commit, replay
}
criterion_main!(benches);
