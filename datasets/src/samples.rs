//! Real log lines that a package ships: Debian's `fail2ban` carries about 90 sample logs
//! (sshd, Apache, nginx, postfix, dovecot, …; GPL-2+) under
//! `fail2ban/tests/files/logs/`. `datasets/fetch-fail2ban.sh` downloads and unpacks the
//! package (apt-get download + dpkg -x; nothing is installed) into the cache.
//!
//! In those files, lines starting with `#` are the test suite's annotations
//! (`# failJSON: {"time": …}` describes the next line; `# filterOptions`, comments); they are
//! skipped, and a failJSON `time` is kept as the next line's original time.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::logs::{LogRecord, severity};
use crate::{DatasetConfig, DatasetError};

/// One real log line and the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleLine {
    /// The sample file's path below the root, e.g. `sshd` or `bsd/syslog-v.txt`.
    pub source: String,
    pub line: String,
    /// The original time from the preceding `# failJSON` annotation, if any.
    pub original_time: Option<String>,
}

/// All sample lines under one directory.
#[derive(Debug, Clone)]
pub struct SampleLogs {
    root: PathBuf,
    lines: Vec<SampleLine>,
}

impl SampleLogs {
    /// Where the fail2ban samples are: `$ICEGATE_FAIL2BAN_DIR`, else the unpacked package
    /// under `$ICEGATE_CACHE/fail2ban` (default cache `~/.cache/icegate`).
    pub fn fail2ban_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("ICEGATE_FAIL2BAN_DIR") {
            return PathBuf::from(dir);
        }
        let cache = std::env::var_os("ICEGATE_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
                Path::new(&home).join(".cache/icegate")
            });
        cache.join("fail2ban/usr/lib/python3/dist-packages/fail2ban/tests/files/logs")
    }

    /// Loads [`SampleLogs::fail2ban_dir`].
    pub fn fail2ban() -> Result<Self, DatasetError> {
        Self::load_dir(&Self::fail2ban_dir())
    }

    /// Every line of every file below `root`, in path order.
    pub fn load_dir(root: &Path) -> Result<Self, DatasetError> {
        let mut files = Vec::new();
        collect_files(root, &mut files)?;
        files.sort();
        let mut lines = Vec::new();
        for path in files {
            let bytes = std::fs::read(&path).map_err(|source| DatasetError::Io {
                path: path.clone(),
                source,
            })?;
            let source = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let mut original_time = None;
            for line in String::from_utf8_lossy(&bytes).lines() {
                if let Some(annotation) = line.strip_prefix("# failJSON:") {
                    original_time = serde_json::from_str::<serde_json::Value>(annotation)
                        .ok()
                        .and_then(|json| json.get("time")?.as_str().map(str::to_string));
                    continue;
                }
                if line.starts_with('#') || line.trim().is_empty() {
                    continue;
                }
                lines.push(SampleLine {
                    source: source.clone(),
                    line: line.to_string(),
                    original_time: original_time.take(),
                });
            }
        }
        if lines.is_empty() {
            return Err(DatasetError::NoSamples {
                path: root.to_path_buf(),
            });
        }
        Ok(Self {
            root: root.to_path_buf(),
            lines,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn lines(&self) -> &[SampleLine] {
        &self.lines
    }

    /// A record source that replays the lines in a seeded random order, forever, stamped
    /// with event times from the config (the files' own times are years old).
    pub fn generator(&self, config: &DatasetConfig) -> SampleGenerator {
        let mut services: Vec<String> = self.lines.iter().map(|l| service_of(&l.source)).collect();
        services.sort();
        services.dedup();
        let mut rng = StdRng::seed_from_u64(config.seed ^ 0x6661_696c);
        let mut order: Vec<usize> = (0..self.lines.len()).collect();
        order.shuffle(&mut rng);
        let entries = order
            .into_iter()
            .map(|index| {
                let line = &self.lines[index];
                let service = services
                    .binary_search(&service_of(&line.source))
                    .expect("every source has a service");
                (line.line.clone(), service, severity_of(&line.line))
            })
            .collect();
        SampleGenerator {
            entries,
            services,
            next: 0,
            rng,
            now: config.start_unix_nano,
            rate: config.records_per_second,
        }
    }
}

/// Replays sample lines as [`LogRecord`]s.
pub struct SampleGenerator {
    entries: Vec<(String, usize, i32)>,
    services: Vec<String>,
    next: usize,
    rng: StdRng,
    now: u64,
    rate: f64,
}

impl SampleGenerator {
    /// One service per sample file (its name without extension), e.g. `sshd`.
    pub fn services(&self) -> &[String] {
        &self.services
    }

    pub fn next_record(&mut self) -> LogRecord {
        let (line, service, level) = &self.entries[self.next % self.entries.len()];
        self.next += 1;
        let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
        self.now += (-u.ln() / self.rate.max(1e-9) * 1e9) as u64;
        LogRecord {
            time_unix_nano: self.now,
            observed_time_unix_nano: self.now + 5_000_000,
            severity_number: *level,
            severity_text: severity::text(*level),
            body: line.clone(),
            service: *service,
            attributes: vec![("log.file.name".into(), self.services[*service].clone())],
            trace_id: None,
            span_id: None,
        }
    }

    pub fn take(&mut self, count: usize) -> Vec<LogRecord> {
        (0..count).map(|_| self.next_record()).collect()
    }
}

fn service_of(source: &str) -> String {
    let name = source.rsplit('/').next().unwrap_or(source);
    name.split('.').next().unwrap_or(name).to_string()
}

/// Sample files carry no levels; words in the line give a fair guess.
fn severity_of(line: &str) -> i32 {
    let lower = line.to_ascii_lowercase();
    if lower.contains("error") || lower.contains("fatal") || lower.contains("critical") {
        severity::ERROR
    } else if ["fail", "denied", "invalid", "refused", "warn", "not found"]
        .iter()
        .any(|word| lower.contains(word))
    {
        severity::WARN
    } else {
        severity::INFO
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DatasetError> {
    let io = |source| DatasetError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        if entry.file_type().map_err(io)?.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_are_skipped_and_times_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bsd")).unwrap();
        std::fs::write(
            dir.path().join("sshd"),
            "# filterOptions: [{}]\n\n#1\n# failJSON: { \"time\": \"2005-06-21T16:47:48\", \"match\": true }\nJun 21 16:47:48 host sshd[1]: error: PAM: Authentication failure\nJun 21 16:47:49 host sshd[1]: Accepted publickey for git\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("bsd/syslog.txt"),
            b"Nov 1 x: Invalid user \xff\n",
        )
        .unwrap();
        let samples = SampleLogs::load_dir(dir.path()).unwrap();
        let lines = samples.lines();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].source, "bsd/syslog.txt");
        assert!(lines[0].line.starts_with("Nov 1 x: Invalid user "));
        assert_eq!(
            lines[1].original_time.as_deref(),
            Some("2005-06-21T16:47:48")
        );
        assert_eq!(lines[2].original_time, None);
        let mut generator = samples.generator(&DatasetConfig::default());
        assert_eq!(generator.services(), ["sshd", "syslog"]);
        let records = generator.take(6);
        let bodies: std::collections::HashSet<_> = records.iter().map(|r| &r.body).collect();
        assert_eq!(bodies.len(), 3, "cycles over every line");
        let error = records.iter().find(|r| r.body.contains("PAM")).unwrap();
        assert_eq!(error.severity_text, "ERROR");
    }

    #[test]
    fn an_empty_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = SampleLogs::load_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("fetch-fail2ban.sh"), "{err}");
    }

    /// The real package, when `datasets/fetch-fail2ban.sh` has run (CI runs it).
    #[test]
    fn fail2ban_samples_load_when_fetched() {
        let dir = SampleLogs::fail2ban_dir();
        if !dir.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must fetch the fail2ban samples into {}",
                dir.display()
            );
            eprintln!("skipping: no fail2ban samples at {}", dir.display());
            return;
        }
        let samples = SampleLogs::fail2ban().unwrap();
        assert!(samples.lines().len() > 1000, "{}", samples.lines().len());
        let generator = samples.generator(&DatasetConfig::default());
        assert!(generator.services().iter().any(|s| s == "sshd"));
        assert!(generator.services().len() > 50);
    }
}
