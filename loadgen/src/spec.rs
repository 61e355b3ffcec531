//! What a load run does: one serde struct, read from flags or from a bench-harness case file.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Telemetry signal to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Signal {
    Logs,
    Traces,
    Metrics,
}

/// Wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// OTLP/gRPC (`Export` unary calls).
    Grpc,
    /// OTLP/HTTP with `application/x-protobuf` bodies.
    HttpProtobuf,
    /// OTLP/HTTP with `application/json` bodies.
    HttpJson,
    /// Newline-delimited JSON lines to IceGate's `/v1/ndjson` (logs only).
    Ndjson,
}

impl Protocol {
    /// The endpoint to use when none is given.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Protocol::Grpc => "http://127.0.0.1:4317",
            _ => "http://127.0.0.1:4318",
        }
    }
}

/// One load run. In TOML (a bench-harness case's `loadgen.toml`), every key optional:
///
/// ```toml
/// endpoint = "http://127.0.0.1:4317"   # default: per protocol (4317 gRPC, 4318 HTTP)
/// protocol = "grpc"                    # grpc | http-protobuf | http-json | ndjson
/// signal = "logs"                      # logs | traces | metrics
/// dataset = "mixed"                    # nginx | apache-error | sshd | json-app | java-stack
///                                      # | k8s-event | mixed | fail2ban
/// records-per-request = 1000
/// concurrency = 4                      # requests in flight
/// connections = 0                      # 0: one per in-flight request
/// rate = 0                             # records/s over all workers; 0: as fast as possible
/// duration-secs = 10.0                 # stop after this long…
/// records = 0                          # …or after this many records (0: no limit)
/// gzip = false
/// payloads = 32                        # distinct pre-generated requests, cycled
/// max-retries = 3                      # retries of 429/503/RESOURCE_EXHAUSTED/UNAVAILABLE
/// timeout-secs = 30.0
/// seed = 42
/// services = 8
/// record-size = 0                      # approximate body bytes; 0: the shape's own
/// attributes = 2
/// attribute-cardinality = 100
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct LoadSpec {
    /// Base URL of the receiver. Default: `http://127.0.0.1:4317` for gRPC, `:4318` else.
    pub endpoint: Option<String>,
    /// Default: gRPC.
    pub protocol: Protocol,
    /// Default: logs.
    pub signal: Signal,
    /// Log dataset (logs only). Default: `mixed`.
    pub dataset: String,
    /// Records in each request. Default: 1000.
    pub records_per_request: usize,
    /// Requests in flight at once. Default: 4.
    pub concurrency: usize,
    /// Connections the in-flight requests share (gRPC multiplexes streams; HTTP/1.1 needs
    /// one per request). 0 means one per request. Default: 0.
    pub connections: usize,
    /// Target records per second over all workers; 0 sends as fast as acknowledgements
    /// allow. Default: 0.
    pub rate: u64,
    /// Stop sending after this many seconds. Default: 10.
    pub duration_secs: f64,
    /// Stop after this many records (0: no limit), rounded up to whole requests.
    /// Default: 0.
    pub records: u64,
    /// gzip request bodies (compressed once, ahead of the run). Default: false.
    pub gzip: bool,
    /// Distinct pre-generated requests cycled through. Default: 32.
    pub payloads: usize,
    /// Retries of a request the receiver pushed back on. Default: 3.
    pub max_retries: u32,
    /// Per-request timeout. Default: 30 s.
    pub timeout_secs: f64,
    /// Dataset seed. Default: 42.
    pub seed: u64,
    /// Distinct services. Default: 8.
    pub services: u32,
    /// Approximate body bytes per log record; 0 keeps the shape's own. Default: 0.
    pub record_size: usize,
    /// Extra attributes per record. Default: 2.
    pub attributes: u32,
    /// Distinct values per extra attribute. Default: 100.
    pub attribute_cardinality: u32,
}

impl Default for LoadSpec {
    fn default() -> Self {
        Self {
            endpoint: None,
            protocol: Protocol::Grpc,
            signal: Signal::Logs,
            dataset: "mixed".into(),
            records_per_request: 1000,
            concurrency: 4,
            connections: 0,
            rate: 0,
            duration_secs: 10.0,
            records: 0,
            gzip: false,
            payloads: 32,
            max_retries: 3,
            timeout_secs: 30.0,
            seed: 42,
            services: 8,
            record_size: 0,
            attributes: 2,
            attribute_cardinality: 100,
        }
    }
}

impl LoadSpec {
    /// The receiver's base URL.
    pub fn endpoint(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| self.protocol.default_endpoint().to_string())
            .trim_end_matches('/')
            .to_string()
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_secs.max(0.0))
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs.max(0.001))
    }

    /// Rejects combinations that cannot run.
    pub fn validate(&self) -> Result<(), String> {
        if self.records_per_request == 0 || self.concurrency == 0 || self.payloads == 0 {
            return Err("records-per-request, concurrency and payloads must be at least 1".into());
        }
        if self.protocol == Protocol::Ndjson && self.signal != Signal::Logs {
            return Err("NDJSON carries logs only".into());
        }
        if self.duration_secs <= 0.0 && self.records == 0 {
            return Err("give a duration or a record count".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_uses_kebab_case_and_rejects_unknown_keys() {
        let spec: LoadSpec =
            toml::from_str("protocol = \"http-json\"\nrecords-per-request = 10\nrate = 5000\n")
                .unwrap();
        assert_eq!(spec.protocol, Protocol::HttpJson);
        assert_eq!(spec.records_per_request, 10);
        assert_eq!(spec.endpoint(), "http://127.0.0.1:4318");
        assert!(toml::from_str::<LoadSpec>("rate_limit = 1\n").is_err());
        let ndjson_traces = LoadSpec {
            protocol: Protocol::Ndjson,
            signal: Signal::Traces,
            ..LoadSpec::default()
        };
        assert!(ndjson_traces.validate().is_err());
        assert!(LoadSpec::default().validate().is_ok());
    }
}
