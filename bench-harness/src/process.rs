//! A measured child process: pinned to one CPU, sampled from /proc while it runs, and
//! reaped with `wait4` so its total CPU time and peak RSS include its very last work (the
//! final flush and commit after SIGTERM).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// One /proc sample.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the process started.
    pub secs: f64,
    /// User + system CPU seconds so far.
    pub cpu_secs: f64,
    pub rss_kb: u64,
}

/// What `wait4` reported at exit.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Usage {
    pub cpu_secs: f64,
    pub max_rss_kb: u64,
    /// The exit code, or 128 + signal.
    pub exit_code: i32,
}

/// A running, sampled child.
pub struct Measured {
    pub name: String,
    child: Child,
    started: Instant,
    stop: Arc<AtomicBool>,
    sampler: Option<JoinHandle<Vec<Sample>>>,
}

/// Starts `command` pinned to `cpu` (when given) and samples it every `every`.
pub fn spawn(
    name: &str,
    mut command: Command,
    cpu: Option<usize>,
    every: Duration,
) -> anyhow::Result<Measured> {
    if let Some(cpu) = cpu {
        // SAFETY: runs in the forked child before exec; it only calls the async-signal-safe
        // sched_setaffinity on a stack-local CPU set and touches no locks or allocations.
        unsafe {
            command.pre_exec(move || {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut set);
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let child = command
        .spawn()
        .with_context(|| format!("starting {name}: {command:?}"))?;
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let pid = child.id();
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match read_proc(pid) {
                    Some((cpu_secs, rss_kb)) => samples.push(Sample {
                        secs: started.elapsed().as_secs_f64(),
                        cpu_secs,
                        rss_kb,
                    }),
                    None => break,
                }
                // Short naps, so stopping (and so a caller's timing) never waits a whole period.
                let next = Instant::now() + every;
                while !stop.load(Ordering::Relaxed) && Instant::now() < next {
                    std::thread::sleep(every.min(Duration::from_millis(2)));
                }
            }
            samples
        })
    };
    Ok(Measured {
        name: name.to_string(),
        child,
        started,
        stop,
        sampler: Some(sampler),
    })
}

impl Measured {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// Whether the process has exited already (it should not have, while measured).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// CPU seconds so far, from /proc.
    pub fn cpu_secs(&self) -> f64 {
        read_proc(self.pid()).map_or(0.0, |(cpu, _)| cpu)
    }

    /// Waits for the process to exit on its own.
    pub fn wait(mut self) -> anyhow::Result<(Vec<Sample>, Usage)> {
        let usage = wait4(self.child.id() as libc::pid_t, 0)?.context("waiting for a child")?;
        Ok((self.samples(), usage))
    }

    /// SIGTERM, then waits up to `grace` before SIGKILL; returns the samples and the usage.
    pub fn stop(mut self, grace: Duration) -> anyhow::Result<(Vec<Sample>, Usage)> {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child by pid; it has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        let usage = loop {
            if let Some(usage) = wait4(pid, libc::WNOHANG)? {
                break usage;
            }
            if Instant::now() >= deadline {
                // SAFETY: as above.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                break wait4(pid, 0)?.context("waiting for a killed child")?;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Ok((self.samples(), usage))
    }

    /// Stops the sampler (the process has exited) and takes what it recorded.
    fn samples(&mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        self.sampler
            .take()
            .map(|s| s.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Measured {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn wait4(pid: libc::pid_t, flags: libc::c_int) -> anyhow::Result<Option<Usage>> {
    let mut status = 0;
    let mut rusage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: pid is our unreaped child; status and rusage point at valid, writable memory.
    let reaped = unsafe { libc::wait4(pid, &mut status, flags, rusage.as_mut_ptr()) };
    if reaped < 0 {
        return Err(std::io::Error::last_os_error()).context("wait4");
    }
    if reaped == 0 {
        return Ok(None);
    }
    // SAFETY: wait4 filled rusage for the reaped child.
    let rusage = unsafe { rusage.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let exit_code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok(Some(Usage {
        cpu_secs: secs(rusage.ru_utime) + secs(rusage.ru_stime),
        max_rss_kb: rusage.ru_maxrss as u64,
        exit_code,
    }))
}

/// CPU seconds (user + system, every thread) this process has used so far.
pub fn self_cpu_secs() -> f64 {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage; RUSAGE_SELF needs nothing else.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// (CPU seconds, RSS KiB) of `pid` from /proc, or `None` once it has exited.
pub fn read_proc(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name, which may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let status = std::fs::File::open(format!("/proc/{pid}/status")).ok()?;
    let rss_kb = BufReader::new(status)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("VmRSS:")
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })?;
    // A zombie (exited, not yet reaped) has no VmRSS line: it is gone for our purposes.
    Some((ticks / hz.max(1.0), rss_kb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_child_is_measured_and_reaped() {
        let mut command = Command::new("sh");
        command.args(["-c", "trap 'exit 0' TERM; while :; do :; done"]);
        let child = spawn("busy", command, Some(0), Duration::from_millis(20)).unwrap();
        std::thread::sleep(Duration::from_millis(400));
        assert!(child.cpu_secs() > 0.05, "{}", child.cpu_secs());
        let (samples, usage) = child.stop(Duration::from_secs(5)).unwrap();
        assert!(samples.len() >= 5, "{samples:?}");
        assert!(samples.iter().all(|s| s.rss_kb > 0));
        assert!(usage.cpu_secs >= samples.last().unwrap().cpu_secs);
        assert!(usage.max_rss_kb > 0);
        assert_eq!(usage.exit_code, 0);
    }
}
