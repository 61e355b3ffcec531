//! The send loop: `concurrency` workers, each with a request in flight, sharing
//! `connections`, paced open-loop when a rate is set.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::payload::{self, Payload, request_id_text};
use crate::report::{Counts, Latency, Report};
use crate::sender::{Outcome, Sender};
use crate::spec::LoadSpec;

/// What happened to each request, for verification.
#[derive(Debug, Default, Clone)]
pub struct RequestLog {
    /// Acknowledged requests and the records each carried (minus partial-success rejects).
    pub acked: HashMap<u64, u64>,
    /// Requests whose fate is unknown (transport errors, timeouts): the receiver may or may
    /// not have kept them.
    pub unknown: HashSet<u64>,
    /// Requests the receiver refused (an error status after the last retry).
    pub refused: HashSet<u64>,
}

/// A finished run.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: Report,
    pub log: RequestLog,
}

/// Counters the workers bump and the progress line reads.
#[derive(Default)]
struct Live {
    next_request: AtomicU64,
    records_acked: AtomicU64,
    errors: AtomicU64,
    latency_sum_us: AtomicU64,
    latency_count: AtomicU64,
    stop: AtomicBool,
}

struct WorkerResult {
    histogram: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    requests: Counts,
    records: Counts,
    bytes: Counts,
    rejected: u64,
    retries: u64,
    log: RequestLog,
}

/// Runs `spec` against its endpoint. `progress` draws a live line on stderr.
pub async fn run(spec: &LoadSpec, progress: bool) -> anyhow::Result<RunOutcome> {
    spec.validate().map_err(|err| anyhow::anyhow!(err))?;
    // A record count below one request's worth sends exactly that many.
    let spec = &LoadSpec {
        records_per_request: match spec.records {
            0 => spec.records_per_request,
            records => spec.records_per_request.min(records as usize),
        },
        ..spec.clone()
    };
    let now_nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
    let payloads = Arc::new(payload::generate(spec, now_nanos)?);
    let bytes_per_record = payloads.iter().map(|p| p.body.len() as f64).sum::<f64>()
        / payloads.iter().map(|p| p.records as f64).sum::<f64>();
    // A run id from the clock and the pid: distinct across runs into the same table.
    let run_id = ((now_nanos / 1000) as u32 ^ std::process::id().rotate_left(16)) as u64;

    let connections = match spec.connections {
        0 => spec.concurrency,
        n => n.min(spec.concurrency),
    };
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        senders.push(Sender::connect(spec).await?);
    }

    let live = Arc::new(Live::default());
    let bar = progress_bar(progress);
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let started_unix_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
    let ticker = tokio::spawn(tick(bar.clone(), live.clone(), started));
    let mut workers = Vec::with_capacity(spec.concurrency);
    for worker in 0..spec.concurrency {
        workers.push(tokio::spawn(work(
            spec.clone(),
            worker,
            senders[worker % connections].clone(),
            payloads.clone(),
            run_id,
            live.clone(),
            started,
        )));
    }
    let mut histogram = new_histogram();
    let mut errors = BTreeMap::new();
    let (mut requests, mut records, mut bytes) =
        (Counts::default(), Counts::default(), Counts::default());
    let (mut rejected, mut retries) = (0, 0);
    let mut log = RequestLog::default();
    for worker in workers {
        let result = worker.await?;
        histogram.add(&result.histogram)?;
        for (status, count) in result.errors {
            *errors.entry(status).or_insert(0) += count;
        }
        for (total, part) in [
            (&mut requests, result.requests),
            (&mut records, result.records),
            (&mut bytes, result.bytes),
        ] {
            total.sent += part.sent;
            total.acked += part.acked;
        }
        rejected += result.rejected;
        retries += result.retries;
        log.acked.extend(result.log.acked);
        log.unknown.extend(result.log.unknown);
        log.refused.extend(result.log.refused);
    }
    let elapsed = started.elapsed().as_secs_f64();
    live.stop.store(true, Ordering::Relaxed);
    ticker.abort();
    bar.finish_and_clear();
    let cpu = cpu_seconds() - cpu_before;
    let report = Report {
        spec: spec.clone(),
        endpoint: spec.endpoint(),
        run_id: format!("{run_id:08x}"),
        started_unix_ms,
        elapsed_secs: elapsed,
        requests,
        records,
        bytes,
        records_rejected: rejected,
        errors,
        retries,
        latency_us: Latency::from_histogram(&histogram),
        acked_records_per_sec: records.acked as f64 / elapsed.max(1e-9),
        acked_bytes_per_sec: bytes.acked as f64 / elapsed.max(1e-9),
        bytes_per_record,
        loadgen_cpu_secs: cpu,
        loadgen_records_per_cpu_sec: records.sent as f64 / cpu.max(1e-9),
        verify: None,
    };
    Ok(RunOutcome { report, log })
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 10 min at 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

async fn work(
    spec: LoadSpec,
    worker: usize,
    sender: Sender,
    payloads: Arc<Vec<Payload>>,
    run_id: u64,
    live: Arc<Live>,
    started: Instant,
) -> WorkerResult {
    let mut result = WorkerResult {
        histogram: new_histogram(),
        errors: BTreeMap::new(),
        requests: Counts::default(),
        records: Counts::default(),
        bytes: Counts::default(),
        rejected: 0,
        retries: 0,
        log: RequestLog::default(),
    };
    let per_request = spec.records_per_request as u64;
    // Open-loop pacing: each worker owns every `concurrency`-th slot of the global schedule.
    let interval = (spec.rate > 0).then(|| {
        Duration::from_secs_f64(spec.concurrency as f64 * per_request as f64 / spec.rate as f64)
    });
    let mut due = interval.map(|i| started + i.mul_f64(worker as f64 / spec.concurrency as f64));
    let deadline = (spec.duration_secs > 0.0).then(|| started + spec.duration());
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) || live.stop.load(Ordering::Relaxed) {
            break;
        }
        let number = live.next_request.fetch_add(1, Ordering::Relaxed);
        if spec.records > 0 && number * per_request >= spec.records {
            break;
        }
        let intended = match (&mut due, interval) {
            (Some(due), Some(interval)) => {
                let at = *due;
                *due += interval;
                if deadline.is_some_and(|d| at >= d) {
                    break;
                }
                tokio::time::sleep_until(at.into()).await;
                at
            }
            _ => Instant::now(),
        };
        let payload = &payloads[number as usize % payloads.len()];
        let request_id = (run_id << 32) | (number & 0xffff_ffff);
        let id_text = request_id_text(request_id);
        let body = payload.body_for(request_id);
        result.requests.sent += 1;
        result.records.sent += payload.records;
        result.bytes.sent += body.len() as u64;
        let mut attempt = 0;
        loop {
            match sender.send(body.clone(), &id_text).await {
                Outcome::Acked { rejected } => {
                    let micros = intended.elapsed().as_micros() as u64;
                    result.histogram.saturating_record(micros.max(1));
                    live.latency_sum_us.fetch_add(micros, Ordering::Relaxed);
                    live.latency_count.fetch_add(1, Ordering::Relaxed);
                    live.records_acked
                        .fetch_add(payload.records - rejected, Ordering::Relaxed);
                    result.requests.acked += 1;
                    result.records.acked += payload.records - rejected;
                    result.bytes.acked += body.len() as u64;
                    result.rejected += rejected;
                    result
                        .log
                        .acked
                        .insert(request_id, payload.records - rejected);
                    break;
                }
                Outcome::Backpressure {
                    status,
                    retry_after,
                } => {
                    *result.errors.entry(status).or_insert(0) += 1;
                    live.errors.fetch_add(1, Ordering::Relaxed);
                    if attempt >= spec.max_retries
                        || deadline.is_some_and(|d| Instant::now() >= d + spec.timeout())
                    {
                        result.log.refused.insert(request_id);
                        break;
                    }
                    attempt += 1;
                    result.retries += 1;
                    let backoff = Duration::from_millis(100 << attempt.min(4));
                    tokio::time::sleep(retry_after.unwrap_or(backoff).min(Duration::from_secs(5)))
                        .await;
                }
                Outcome::Failed { status } => {
                    live.errors.fetch_add(1, Ordering::Relaxed);
                    if status.starts_with("transport") {
                        result.log.unknown.insert(request_id);
                    } else {
                        result.log.refused.insert(request_id);
                    }
                    *result.errors.entry(status).or_insert(0) += 1;
                    break;
                }
            }
        }
    }
    result
}

fn progress_bar(visible: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        None,
        if visible {
            ProgressDrawTarget::stderr_with_hz(4)
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").expect("valid template"),
    );
    bar
}

async fn tick(bar: ProgressBar, live: Arc<Live>, started: Instant) {
    let mut last = (Instant::now(), 0u64);
    let mut last_latency = (0u64, 0u64);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let acked = live.records_acked.load(Ordering::Relaxed);
        let now = Instant::now();
        let rate = (acked - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
        last = (now, acked);
        let (sum, count) = (
            live.latency_sum_us.load(Ordering::Relaxed),
            live.latency_count.load(Ordering::Relaxed),
        );
        let window = count - last_latency.1;
        let mean_ms = if window > 0 {
            (sum - last_latency.0) as f64 / window as f64 / 1000.0
        } else {
            0.0
        };
        last_latency = (sum, count);
        bar.set_message(format!(
            "{:>10.0} rec/s | acked {:>11} | errors {:>6} | latency {:>7.2} ms | {:.0}s",
            rate,
            acked,
            live.errors.load(Ordering::Relaxed),
            mean_ms,
            started.elapsed().as_secs_f64()
        ));
        bar.tick();
    }
}

/// User + system CPU seconds of this process so far.
pub fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole `rusage` into the pointer it is given; the memory is
    // ours and zeroed, and we read it only when the call reports success.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0;
    if !ok {
        return 0.0;
    }
    // SAFETY: initialised by the successful call above.
    let usage = unsafe { usage.assume_init() };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
