//! Requests generated before the run, so sending costs a copy, not an encode.
//!
//! Every request carries the resource attribute `loadgen.request` (NDJSON: the
//! `X-Icegate-Attribute-loadgen.request` header) whose 16-character value is
//! `<run id: 8 digits><request number: 8 digits>`, each digit a nibble written as a letter
//! `a`–`p` (see [`request_id_text`]). Payloads are generated with a placeholder of the
//! same length, and each send patches the placeholder's offsets with the request's id: the
//! encoding stays valid (the length does not change) and `--verify` can count, per request,
//! what the table holds. gzip HTTP payloads are compressed once, ahead of the run, so their
//! id is fixed per payload and verification is refused for them; gRPC compresses each
//! message in the client (the loadgen's CPU pays for it), so its ids stay per request.

use std::io::Write;

use bytes::{Bytes, BytesMut};
use icegate_datasets::{
    DatasetConfig, LogGenerator, LogRecord, LogShape, MetricGenerator, SampleLogs, TraceGenerator,
    otlp,
};
use prost::Message;

use crate::spec::{LoadSpec, Protocol, Signal};

/// The attribute key that names a request.
pub const REQUEST_ATTRIBUTE: &str = "loadgen.request";
const PLACEHOLDER: &[u8; 16] = b"LOADGEN-REQUEST!";

/// One pre-generated request.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The body as sent (gzip-compressed when the spec says so).
    pub body: Bytes,
    /// Records (log records, spans or metric data points) in the request.
    pub records: u64,
    /// Where the placeholder sits in `body` (empty for gzip and NDJSON).
    marker_offsets: Vec<usize>,
}

impl Payload {
    /// The body with `request_id` in place of the placeholder.
    pub fn body_for(&self, request_id: u64) -> Bytes {
        if self.marker_offsets.is_empty() {
            return self.body.clone();
        }
        let id = request_id_text(request_id);
        let mut body = BytesMut::from(&self.body[..]);
        for &offset in &self.marker_offsets {
            body[offset..offset + 16].copy_from_slice(id.as_bytes());
        }
        body.freeze()
    }
}

/// The 16 characters a request is named by: its id's nibbles, high first, as the letters
/// `a`–`p`. Not hex digits: an id whose hex digits are all decimal passes for a card number
/// (16 digits, one in ten with a valid Luhn sum) and redaction would rightly mask it.
pub fn request_id_text(request_id: u64) -> String {
    (0..16)
        .rev()
        .map(|nibble| char::from(b'a' + ((request_id >> (nibble * 4)) & 0xf) as u8))
        .collect()
}

/// The id [`request_id_text`] wrote, or `None` for any other text.
pub fn parse_request_id(text: &str) -> Option<u64> {
    if text.len() != 16 {
        return None;
    }
    text.bytes().try_fold(0u64, |id, b| match b {
        b'a'..=b'p' => Some(id << 4 | u64::from(b - b'a')),
        _ => None,
    })
}

/// Why payloads could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error(transparent)]
    Dataset(#[from] icegate_datasets::DatasetError),
    #[error("the NDJSON protocol carries logs only")]
    NdjsonSignal,
}

/// Generates `spec.payloads` requests of `spec.records_per_request` records each, with
/// event times starting at `start_unix_nano`.
pub fn generate(spec: &LoadSpec, start_unix_nano: u64) -> Result<Vec<Payload>, PayloadError> {
    let config = DatasetConfig {
        seed: spec.seed,
        services: spec.services,
        record_size: spec.record_size,
        attributes: spec.attributes,
        attribute_cardinality: spec.attribute_cardinality,
        start_unix_nano,
        records_per_second: 10_000.0,
    };
    let marker = [(
        REQUEST_ATTRIBUTE.to_string(),
        String::from_utf8(PLACEHOLDER.to_vec()).expect("ASCII"),
    )];
    let per_request = spec.records_per_request;
    let mut payloads = Vec::with_capacity(spec.payloads);
    match spec.signal {
        Signal::Logs => {
            let mut source = LogSource::new(&spec.dataset, &config)?;
            for _ in 0..spec.payloads {
                let records: Vec<LogRecord> =
                    (0..per_request).map(|_| source.next_record()).collect();
                let services = source.services();
                let body = match spec.protocol {
                    Protocol::Ndjson => otlp::ndjson_lines(&records, services),
                    protocol => {
                        otlp_body(&otlp::logs_request(&records, services, &marker), protocol)
                    }
                };
                payloads.push(finish(body, records.len(), http_gzip(spec)));
            }
        }
        Signal::Traces => {
            if spec.protocol == Protocol::Ndjson {
                return Err(PayloadError::NdjsonSignal);
            }
            let mut generator = TraceGenerator::new(&config);
            for _ in 0..spec.payloads {
                let mut spans = generator.take(per_request);
                spans.truncate(per_request);
                let request = otlp::traces_request(&spans, generator.services(), &marker);
                let body = otlp_body(&request, spec.protocol);
                payloads.push(finish(body, spans.len(), http_gzip(spec)));
            }
        }
        Signal::Metrics => {
            if spec.protocol == Protocol::Ndjson {
                return Err(PayloadError::NdjsonSignal);
            }
            let mut generator = MetricGenerator::new(&config);
            for _ in 0..spec.payloads {
                let points = generator.take(per_request);
                let request = otlp::metrics_request(&points, generator.services(), &marker);
                let body = otlp_body(&request, spec.protocol);
                payloads.push(finish(body, points.len(), http_gzip(spec)));
            }
        }
    }
    Ok(payloads)
}

/// An OTLP request as protobuf, or as OTLP/JSON for `http-json`.
fn otlp_body<M: Message + serde::Serialize>(request: &M, protocol: Protocol) -> Vec<u8> {
    match protocol {
        Protocol::HttpJson => serde_json::to_vec(request).expect("OTLP requests serialize"),
        _ => request.encode_to_vec(),
    }
}

/// Whether bodies are compressed ahead of the run (HTTP) rather than by the gRPC client.
pub fn http_gzip(spec: &LoadSpec) -> bool {
    spec.gzip && spec.protocol != Protocol::Grpc
}

fn finish(body: Vec<u8>, records: usize, gzip: bool) -> Payload {
    let marker_offsets: Vec<usize> = memchr::memmem::find_iter(&body, PLACEHOLDER).collect();
    if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&body).expect("writing to memory");
        return Payload {
            body: encoder.finish().expect("writing to memory").into(),
            records: records as u64,
            marker_offsets: Vec::new(),
        };
    }
    Payload {
        body: body.into(),
        records: records as u64,
        marker_offsets,
    }
}

/// Synthetic shapes or the real fail2ban samples.
enum LogSource {
    Synthetic(LogGenerator),
    Samples(icegate_datasets::samples::SampleGenerator),
}

impl LogSource {
    fn new(dataset: &str, config: &DatasetConfig) -> Result<Self, PayloadError> {
        Ok(if dataset == "fail2ban" {
            Self::Samples(SampleLogs::fail2ban()?.generator(config))
        } else {
            Self::Synthetic(LogGenerator::new(LogShape::parse(dataset)?, config))
        })
    }

    fn next_record(&mut self) -> LogRecord {
        match self {
            Self::Synthetic(generator) => generator.next_record(),
            Self::Samples(generator) => generator.next_record(),
        }
    }

    fn services(&self) -> &[String] {
        match self {
            Self::Synthetic(generator) => generator.services(),
            Self::Samples(generator) => generator.services(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;

    fn spec(protocol: Protocol) -> LoadSpec {
        LoadSpec {
            protocol,
            records_per_request: 50,
            payloads: 3,
            ..LoadSpec::default()
        }
    }

    #[test]
    fn patched_protobuf_still_decodes_and_names_the_request() {
        let payloads = generate(&spec(Protocol::Grpc), 1_764_115_200_000_000_000).unwrap();
        assert_eq!(payloads.len(), 3);
        let body = payloads[1].body_for(0xdead_beef_0000_0007);
        let request = ExportLogsServiceRequest::decode(&body[..]).unwrap();
        let mut records = 0;
        for resource in &request.resource_logs {
            let attributes = &resource.resource.as_ref().unwrap().attributes;
            let marker = attributes
                .iter()
                .find(|kv| kv.key == REQUEST_ATTRIBUTE)
                .unwrap();
            let value = format!("{:?}", marker.value);
            assert!(
                value.contains(&request_id_text(0xdead_beef_0000_0007)),
                "{value}"
            );
            records += resource.scope_logs[0].log_records.len();
        }
        assert_eq!(records as u64, payloads[1].records);
    }

    #[test]
    fn request_ids_are_letters_and_read_back() {
        for id in [0, 42, 0x1234_5678_0000_0009, u64::MAX] {
            let text = request_id_text(id);
            assert!(text.bytes().all(|b| b.is_ascii_lowercase()), "{text}");
            assert_eq!(parse_request_id(&text), Some(id));
        }
        assert_eq!(request_id_text(42), "aaaaaaaaaaaaaack");
        assert_eq!(parse_request_id("000000000000002a"), None);
        assert_eq!(parse_request_id("aaaa"), None);
    }

    #[test]
    fn json_markers_are_patched_and_gzip_payloads_decompress() {
        let payloads = generate(&spec(Protocol::HttpJson), 0).unwrap();
        let body = payloads[0].body_for(42);
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.contains("aaaaaaaaaaaaaack") && !text.contains("LOADGEN-REQUEST!"));
        let gzipped = generate(
            &LoadSpec {
                gzip: true,
                ..spec(Protocol::HttpProtobuf)
            },
            0,
        )
        .unwrap();
        let mut plain = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&gzipped[0].body[..]),
            &mut plain,
        )
        .unwrap();
        assert!(ExportLogsServiceRequest::decode(&plain[..]).is_ok());
    }

    #[test]
    fn every_signal_and_dataset_generates() {
        for signal in [Signal::Traces, Signal::Metrics] {
            let payloads = generate(
                &LoadSpec {
                    signal,
                    ..spec(Protocol::HttpProtobuf)
                },
                0,
            )
            .unwrap();
            assert!(payloads.iter().all(|p| p.records == 50), "{signal:?}");
        }
        let ndjson = generate(&spec(Protocol::Ndjson), 0).unwrap();
        assert_eq!(ndjson[0].body.iter().filter(|&&b| b == b'\n').count(), 50);
        let unknown = LoadSpec {
            dataset: "nope".into(),
            ..spec(Protocol::Grpc)
        };
        assert!(generate(&unknown, 0).is_err());
    }
}
