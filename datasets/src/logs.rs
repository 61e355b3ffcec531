//! Log records in the shapes real systems write.

use std::fmt::Write;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::text::{
    apache_error_time, clf_time, client_ip, hex, pad_to, pick, rfc3339, skewed, syslog_time,
};
use crate::{DatasetConfig, DatasetError, service_names};

/// One shape of log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogShape {
    /// nginx "combined" access lines.
    Nginx,
    /// Apache error-log lines (`[core:error] [pid …] AH…`).
    ApacheError,
    /// sshd authentication lines in syslog format.
    Sshd,
    /// Structured JSON application logs (one JSON object as the body).
    JsonApp,
    /// Java exceptions with multi-line stack traces.
    JavaStack,
    /// Kubernetes event-like records.
    K8sEvent,
    /// A weighted mix of all of the above, as a shared log pipeline sees.
    Mixed,
}

impl LogShape {
    /// Names accepted by [`LogShape::parse`].
    pub const NAMES: [&'static str; 7] = [
        "nginx",
        "apache-error",
        "sshd",
        "json-app",
        "java-stack",
        "k8s-event",
        "mixed",
    ];

    /// Parses a name from [`LogShape::NAMES`].
    pub fn parse(name: &str) -> Result<Self, DatasetError> {
        Ok(match name {
            "nginx" => Self::Nginx,
            "apache-error" => Self::ApacheError,
            "sshd" => Self::Sshd,
            "json-app" => Self::JsonApp,
            "java-stack" => Self::JavaStack,
            "k8s-event" => Self::K8sEvent,
            "mixed" => Self::Mixed,
            other => return Err(DatasetError::UnknownShape(other.to_string())),
        })
    }

    /// The name [`LogShape::parse`] reads.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// OTLP severity numbers of the levels generators use.
pub mod severity {
    pub const DEBUG: i32 = 5;
    pub const INFO: i32 = 9;
    pub const WARN: i32 = 13;
    pub const ERROR: i32 = 17;
    pub const FATAL: i32 = 21;

    /// The OTLP short name of a severity number.
    pub fn text(number: i32) -> &'static str {
        match number {
            ..=4 => "TRACE",
            5..=8 => "DEBUG",
            9..=12 => "INFO",
            13..=16 => "WARN",
            17..=20 => "ERROR",
            _ => "FATAL",
        }
    }
}

/// One generated log record, independent of any wire format.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub time_unix_nano: u64,
    pub observed_time_unix_nano: u64,
    pub severity_number: i32,
    pub severity_text: &'static str,
    pub body: String,
    /// Index into the generator's [`LogGenerator::services`].
    pub service: usize,
    pub attributes: Vec<(String, String)>,
    pub trace_id: Option<[u8; 16]>,
    pub span_id: Option<[u8; 8]>,
}

/// Generates [`LogRecord`]s of one shape, deterministically from the config's seed.
pub struct LogGenerator {
    shape: LogShape,
    config: DatasetConfig,
    services: Vec<String>,
    rng: StdRng,
    now: u64,
    attribute_keys: Vec<String>,
}

const PATHS: [&str; 12] = [
    "/",
    "/api/v1/products",
    "/api/v1/cart",
    "/api/v1/checkout",
    "/api/v1/users/me",
    "/static/app.js",
    "/static/style.css",
    "/healthz",
    "/api/v1/search",
    "/login",
    "/api/v1/orders",
    "/favicon.ico",
];
const METHODS: [&str; 5] = ["GET", "GET", "GET", "POST", "PUT"];
const USER_AGENTS: [&str; 5] = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "curl/8.5.0",
    "kube-probe/1.31",
    "Go-http-client/2.0",
];
const USERS: [&str; 8] = [
    "root", "admin", "deploy", "ubuntu", "git", "test", "oracle", "postgres",
];
const EXTRA_KEYS: [&str; 8] = [
    "tenant.id",
    "user.id",
    "cloud.region",
    "deployment.environment",
    "host.name",
    "session.id",
    "feature.flag",
    "customer.tier",
];

impl LogGenerator {
    /// A generator of `shape` records.
    pub fn new(shape: LogShape, config: &DatasetConfig) -> Self {
        let attribute_keys = (0..config.attributes as usize)
            .map(|index| match EXTRA_KEYS.get(index) {
                Some(key) => (*key).to_string(),
                None => format!("custom.attr{index}"),
            })
            .collect();
        Self {
            shape,
            services: service_names(config.services),
            rng: StdRng::seed_from_u64(config.seed ^ (shape as u64).wrapping_mul(0x9e37_79b9)),
            now: config.start_unix_nano,
            config: config.clone(),
            attribute_keys,
        }
    }

    /// The service names records refer to by index.
    pub fn services(&self) -> &[String] {
        &self.services
    }

    /// The next `count` records.
    pub fn take(&mut self, count: usize) -> Vec<LogRecord> {
        (0..count).map(|_| self.next_record()).collect()
    }

    /// The next record.
    pub fn next_record(&mut self) -> LogRecord {
        // Exponential inter-arrival times around the configured rate.
        let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let gap = -u.ln() / self.config.records_per_second.max(1e-9) * 1e9;
        self.now += gap as u64;
        let shape = match self.shape {
            LogShape::Mixed => match self.rng.random_range(0..100) {
                0..40 => LogShape::JsonApp,
                40..65 => LogShape::Nginx,
                65..78 => LogShape::Sshd,
                78..88 => LogShape::K8sEvent,
                88..95 => LogShape::ApacheError,
                _ => LogShape::JavaStack,
            },
            shape => shape,
        };
        let service = skewed(&mut self.rng, self.services.len());
        let mut record = LogRecord {
            time_unix_nano: self.now,
            // Collectors see records a few milliseconds after they happen.
            observed_time_unix_nano: self.now + self.rng.random_range(1_000_000..50_000_000),
            severity_number: severity::INFO,
            severity_text: "INFO",
            body: String::new(),
            service,
            attributes: Vec::new(),
            trace_id: None,
            span_id: None,
        };
        match shape {
            LogShape::Nginx => self.nginx(&mut record),
            LogShape::ApacheError => self.apache_error(&mut record),
            LogShape::Sshd => self.sshd(&mut record),
            LogShape::JsonApp => self.json_app(&mut record),
            LogShape::JavaStack => self.java_stack(&mut record),
            LogShape::K8sEvent => self.k8s_event(&mut record),
            LogShape::Mixed => unreachable!("mixed picks a concrete shape"),
        }
        record.severity_text = severity::text(record.severity_number);
        for key in &self.attribute_keys {
            let value = skewed(&mut self.rng, self.config.attribute_cardinality as usize);
            record
                .attributes
                .push((key.clone(), format!("{}-{value}", key_stem(key))));
        }
        if self.config.record_size > 0 {
            pad_to(&mut record.body, self.config.record_size, &mut self.rng);
        }
        record
    }

    fn level(&mut self) -> i32 {
        match self.rng.random_range(0..1000) {
            0..80 => severity::DEBUG,
            80..880 => severity::INFO,
            880..960 => severity::WARN,
            960..995 => severity::ERROR,
            _ => severity::FATAL,
        }
    }

    fn trace_context(&mut self, record: &mut LogRecord) {
        record.trace_id = Some(self.rng.random());
        record.span_id = Some(self.rng.random());
    }

    fn nginx(&mut self, record: &mut LogRecord) {
        let rng = &mut self.rng;
        let ip = client_ip(rng);
        let method = pick(rng, &METHODS);
        let path = PATHS[skewed(rng, PATHS.len())];
        let status = match rng.random_range(0..1000) {
            0..900 => 200,
            900..930 => 304,
            930..950 => 301,
            950..980 => 404,
            980..992 => 400,
            992..997 => 500,
            _ => 503,
        };
        let bytes = if status == 304 {
            0
        } else {
            rng.random_range(120..60_000)
        };
        let agent = pick(rng, &USER_AGENTS);
        record.body = format!(
            "{ip} - - [{}] \"{method} {path} HTTP/1.1\" {status} {bytes} \"-\" \"{agent}\"",
            clf_time(record.time_unix_nano)
        );
        record.severity_number = match status {
            500.. => severity::ERROR,
            400.. => severity::WARN,
            _ => severity::INFO,
        };
        record.attributes.extend([
            ("http.request.method".into(), method.into()),
            ("url.path".into(), path.into()),
            ("http.response.status_code".into(), status.to_string()),
            ("client.address".into(), ip),
        ]);
    }

    fn apache_error(&mut self, record: &mut LogRecord) {
        const ERRORS: [(&str, &str, i32); 5] = [
            (
                "core:error",
                "AH00126: Invalid URI in request GET /../../etc/passwd HTTP/1.1",
                severity::ERROR,
            ),
            (
                "authz_core:error",
                "AH01630: client denied by server configuration: /var/www/html/.git",
                severity::ERROR,
            ),
            (
                "proxy:warn",
                "AH01144: No protocol handler was valid for the URL /api. If you are using a DSO version of mod_proxy, make sure the proxy submodules are included in the configuration using LoadModule.",
                severity::WARN,
            ),
            (
                "ssl:info",
                "AH01964: Connection to child 3 established (server example.com:443)",
                severity::INFO,
            ),
            (
                "mpm_event:notice",
                "AH00489: Apache/2.4.62 (Debian) OpenSSL/3.0.15 configured -- resuming normal operations",
                severity::INFO,
            ),
        ];
        let rng = &mut self.rng;
        let (module, message, level) = ERRORS[skewed(rng, ERRORS.len())];
        let ip = client_ip(rng);
        record.body = format!(
            "[{}] [{module}] [pid {}:tid {}] [client {ip}:{}] {message}",
            apache_error_time(record.time_unix_nano),
            rng.random_range(1000..40_000),
            rng.random_range(100_000_000_000u64..140_000_000_000_000),
            rng.random_range(1024..65_535)
        );
        record.severity_number = level;
        record.attributes.extend([
            ("client.address".into(), ip),
            ("apache.module".into(), module.into()),
        ]);
    }

    fn sshd(&mut self, record: &mut LogRecord) {
        let rng = &mut self.rng;
        let ip = client_ip(rng);
        let user = USERS[skewed(rng, USERS.len())];
        let port = rng.random_range(1024..65_535);
        let pid = rng.random_range(1000..99_999);
        let host = format!("bastion-{}", skewed(rng, 4));
        let (message, level) = match rng.random_range(0..100) {
            0..45 => (
                format!("Failed password for invalid user {user} from {ip} port {port} ssh2"),
                severity::WARN,
            ),
            45..60 => (
                format!("Failed password for {user} from {ip} port {port} ssh2"),
                severity::WARN,
            ),
            60..75 => (
                format!(
                    "Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:{}",
                    hex(&rng.random::<[u8; 16]>())
                ),
                severity::INFO,
            ),
            75..90 => (
                format!(
                    "Connection closed by authenticating user {user} {ip} port {port} [preauth]"
                ),
                severity::INFO,
            ),
            _ => (
                format!(
                    "error: maximum authentication attempts exceeded for {user} from {ip} port {port} ssh2 [preauth]"
                ),
                severity::ERROR,
            ),
        };
        record.body = format!(
            "{} {host} sshd[{pid}]: {message}",
            syslog_time(record.time_unix_nano)
        );
        record.severity_number = level;
        record.attributes.extend([
            ("client.address".into(), ip),
            ("user.name".into(), user.into()),
            ("host.name".into(), host),
        ]);
    }

    fn json_app(&mut self, record: &mut LogRecord) {
        const MESSAGES: [&str; 8] = [
            "request completed",
            "cache miss",
            "order placed",
            "payment authorized",
            "retrying upstream call",
            "user signed in",
            "inventory reserved",
            "upstream timed out",
        ];
        let level = self.level();
        self.trace_context(record);
        let rng = &mut self.rng;
        let message = MESSAGES[skewed(rng, MESSAGES.len())];
        let path = PATHS[skewed(rng, PATHS.len())];
        let status = if level >= severity::ERROR { 500 } else { 200 };
        let duration = rng.random_range(0.2..400.0f64);
        let user = skewed(rng, 50_000);
        record.body = format!(
            "{{\"level\":\"{}\",\"ts\":\"{}\",\"msg\":\"{message}\",\"method\":\"{}\",\"path\":\"{path}\",\"status\":{status},\"duration_ms\":{duration:.2},\"user_id\":\"u-{user}\",\"request_id\":\"{}\"}}",
            severity::text(level).to_ascii_lowercase(),
            rfc3339(record.time_unix_nano),
            pick(rng, &METHODS),
            hex(&rng.random::<[u8; 8]>()),
        );
        record.severity_number = level;
        record.attributes.extend([
            ("url.path".into(), path.into()),
            ("enduser.id".into(), format!("u-{user}")),
        ]);
    }

    fn java_stack(&mut self, record: &mut LogRecord) {
        const EXCEPTIONS: [(&str, &str); 4] = [
            (
                "java.lang.NullPointerException",
                "Cannot invoke \"com.example.cart.Item.getPrice()\" because \"item\" is null",
            ),
            (
                "java.util.concurrent.TimeoutException",
                "Timed out after 5000 ms waiting for inventory-service",
            ),
            (
                "java.sql.SQLTransientConnectionException",
                "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
            ),
            (
                "java.lang.IllegalStateException",
                "Order 8842 is already shipped",
            ),
        ];
        const FRAMES: [&str; 8] = [
            "com.example.cart.CartService.addItem(CartService.java:118)",
            "com.example.cart.CartController.post(CartController.java:54)",
            "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)",
            "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:658)",
            "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:166)",
            "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
            "java.base/java.util.concurrent.FutureTask.get(FutureTask.java:204)",
            "java.base/java.lang.Thread.run(Thread.java:1583)",
        ];
        self.trace_context(record);
        let rng = &mut self.rng;
        let (class, message) = EXCEPTIONS[skewed(rng, EXCEPTIONS.len())];
        let mut body = format!(
            "Exception in thread \"http-nio-8080-exec-{}\" {class}: {message}",
            rng.random_range(1..200)
        );
        let depth = rng.random_range(3..FRAMES.len());
        let start = rng.random_range(0..FRAMES.len() - depth + 1);
        for frame in &FRAMES[start..start + depth] {
            let _ = write!(body, "\n\tat {frame}");
        }
        if rng.random_bool(0.3) {
            let _ = write!(
                body,
                "\nCaused by: java.net.SocketTimeoutException: Read timed out\n\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:278)\n\t... {} more",
                rng.random_range(5..40)
            );
        }
        record.body = body;
        record.severity_number = severity::ERROR;
        record.attributes.extend([
            ("exception.type".into(), class.into()),
            ("exception.message".into(), message.into()),
        ]);
    }

    fn k8s_event(&mut self, record: &mut LogRecord) {
        const EVENTS: [(&str, &str, &str, i32); 6] = [
            (
                "Pulled",
                "Pod",
                "Successfully pulled image \"registry.example.com/{svc}:1.42.0\" in 1.204s",
                severity::INFO,
            ),
            ("Started", "Pod", "Started container {svc}", severity::INFO),
            (
                "BackOff",
                "Pod",
                "Back-off restarting failed container {svc} in pod {pod}",
                severity::WARN,
            ),
            (
                "Unhealthy",
                "Pod",
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
                severity::WARN,
            ),
            (
                "ScalingReplicaSet",
                "Deployment",
                "Scaled up replica set {pod} to 3",
                severity::INFO,
            ),
            (
                "FailedScheduling",
                "Pod",
                "0/12 nodes are available: 3 Insufficient memory, 9 node(s) didn't match Pod's node affinity/selector.",
                severity::WARN,
            ),
        ];
        let rng = &mut self.rng;
        let (reason, kind, template, level) = EVENTS[skewed(rng, EVENTS.len())];
        let service = &self.services[record.service];
        let pod = format!(
            "{service}-{:x}-{}",
            rng.random_range(0x1000_0000u32..0xffff_ffff),
            hex(&rng.random::<[u8; 3]>())
        );
        let namespace = pick(rng, &["prod", "prod", "prod", "staging", "kube-system"]);
        record.body = template.replace("{svc}", service).replace("{pod}", &pod);
        record.severity_number = level;
        record.attributes.extend([
            ("k8s.namespace.name".into(), namespace.into()),
            ("k8s.pod.name".into(), pod),
            ("k8s.event.reason".into(), reason.into()),
            ("k8s.object.kind".into(), kind.into()),
        ]);
    }
}

fn key_stem(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn same_seed_same_records_other_seed_other_records() {
        let config = DatasetConfig::default();
        for name in LogShape::NAMES {
            let shape = LogShape::parse(name).unwrap();
            assert_eq!(shape.name(), name);
            let a = LogGenerator::new(shape, &config).take(200);
            let b = LogGenerator::new(shape, &config).take(200);
            assert_eq!(a, b, "{name}");
            let other = DatasetConfig {
                seed: 43,
                ..config.clone()
            };
            let c = LogGenerator::new(shape, &other).take(200);
            assert_ne!(a, c, "{name}");
        }
        assert!(LogShape::parse("syslog").is_err());
    }

    #[test]
    fn timestamps_advance_at_about_the_configured_rate() {
        let config = DatasetConfig {
            records_per_second: 100.0,
            ..DatasetConfig::default()
        };
        let records = LogGenerator::new(LogShape::Nginx, &config).take(10_000);
        assert!(
            records
                .windows(2)
                .all(|w| w[0].time_unix_nano <= w[1].time_unix_nano)
        );
        let span_s = (records.last().unwrap().time_unix_nano - config.start_unix_nano) as f64 / 1e9;
        assert!(
            (80.0..120.0).contains(&span_s),
            "10k records at 100/s took {span_s}s"
        );
        assert!(
            records
                .iter()
                .all(|r| r.observed_time_unix_nano > r.time_unix_nano)
        );
    }

    #[test]
    fn shapes_look_like_their_sources() {
        let config = DatasetConfig::default();
        let generator = |shape| LogGenerator::new(shape, &config).next_record().body;
        let nginx = generator(LogShape::Nginx);
        assert!(
            nginx.contains("HTTP/1.1\" ") && nginx.contains(" +0000] \""),
            "{nginx}"
        );
        let sshd = generator(LogShape::Sshd);
        assert!(
            sshd.contains(" sshd[") && sshd.starts_with("Nov "),
            "{sshd}"
        );
        let json = generator(LogShape::JsonApp);
        let parsed: serde_json::Value = serde_json::from_str(&json).expect(&json);
        assert!(
            parsed["msg"].is_string() && parsed["status"].is_number(),
            "{json}"
        );
        let java = generator(LogShape::JavaStack);
        assert!(
            java.contains("Exception") && java.contains("\n\tat "),
            "{java}"
        );
        let apache = generator(LogShape::ApacheError);
        assert!(
            apache.starts_with("[Wed Nov 26 ") && apache.contains("AH0"),
            "{apache}"
        );
    }

    #[test]
    fn knobs_shape_the_records() {
        let config = DatasetConfig {
            services: 3,
            attributes: 5,
            attribute_cardinality: 7,
            record_size: 500,
            ..DatasetConfig::default()
        };
        let mut generator = LogGenerator::new(LogShape::Mixed, &config);
        let records = generator.take(5_000);
        let services: HashSet<_> = records.iter().map(|r| r.service).collect();
        assert_eq!(services.len(), 3);
        assert!(records.iter().all(|r| r.body.len() >= 500));
        let tenants: HashSet<_> = records
            .iter()
            .flat_map(|r| r.attributes.iter().filter(|(k, _)| k == "tenant.id"))
            .collect();
        assert_eq!(tenants.len(), 7);
        let custom = records[0]
            .attributes
            .iter()
            .filter(|(k, _)| k.contains('.'));
        assert!(custom.count() >= 5);
        let levels: HashSet<_> = records.iter().map(|r| r.severity_text).collect();
        assert!(levels.len() >= 4, "{levels:?}");
    }
}
