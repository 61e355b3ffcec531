//! Spans in parent/child trees: a request enters at an edge service and fans out to others
//! and to databases, each child inside its parent's time window.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::text::{pick, skewed};
use crate::{DatasetConfig, service_names};

/// OTLP `Span.SpanKind` numbers.
pub mod kind {
    pub const INTERNAL: i32 = 1;
    pub const SERVER: i32 = 2;
    pub const CLIENT: i32 = 3;
}

/// One generated span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// `None` for the root.
    pub parent_span_id: Option<[u8; 8]>,
    pub name: String,
    pub kind: i32,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    /// Index into [`TraceGenerator::services`].
    pub service: usize,
    pub attributes: Vec<(String, String)>,
    /// OTLP status code: 0 unset, 2 error.
    pub status_code: i32,
    pub status_message: String,
}

/// Generates whole traces, deterministically from the config's seed.
pub struct TraceGenerator {
    config: DatasetConfig,
    services: Vec<String>,
    rng: StdRng,
    now: u64,
}

const ROUTES: [&str; 6] = [
    "GET /api/v1/products",
    "POST /api/v1/cart",
    "POST /api/v1/checkout",
    "GET /api/v1/search",
    "GET /api/v1/users/me",
    "GET /",
];
const QUERIES: [(&str, &str); 4] = [
    ("postgresql", "SELECT products"),
    ("postgresql", "UPDATE inventory"),
    ("redis", "GET"),
    ("redis", "SET"),
];

impl TraceGenerator {
    pub fn new(config: &DatasetConfig) -> Self {
        Self {
            services: service_names(config.services),
            rng: StdRng::seed_from_u64(config.seed ^ 0x7472_6163_6573),
            now: config.start_unix_nano,
            config: config.clone(),
        }
    }

    /// The service names spans refer to by index.
    pub fn services(&self) -> &[String] {
        &self.services
    }

    /// At least `count` spans: whole traces, so usually a few more.
    pub fn take(&mut self, count: usize) -> Vec<SpanRecord> {
        let mut spans = Vec::with_capacity(count + 16);
        while spans.len() < count {
            self.next_trace(&mut spans);
        }
        spans
    }

    /// Appends one trace (1 to ~40 spans) to `out`.
    pub fn next_trace(&mut self, out: &mut Vec<SpanRecord>) {
        let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
        self.now += (-u.ln() / self.config.records_per_second.max(1e-9) * 1e9) as u64;
        let trace_id: [u8; 16] = self.rng.random();
        let duration = self.rng.random_range(2_000_000..400_000_000u64);
        let service = skewed(&mut self.rng, self.services.len().min(2));
        let route = ROUTES[skewed(&mut self.rng, ROUTES.len())];
        let (method, path) = route.split_once(' ').expect("routes have a method");
        let attributes = vec![
            ("http.request.method".to_string(), method.to_string()),
            ("http.route".to_string(), path.to_string()),
            ("url.scheme".to_string(), "https".to_string()),
        ];
        self.span(
            out,
            trace_id,
            None,
            route.to_string(),
            kind::SERVER,
            (self.now, self.now + duration),
            service,
            attributes,
            0,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn span(
        &mut self,
        out: &mut Vec<SpanRecord>,
        trace_id: [u8; 16],
        parent: Option<[u8; 8]>,
        name: String,
        kind: i32,
        (start, end): (u64, u64),
        service: usize,
        mut attributes: Vec<(String, String)>,
        depth: usize,
    ) {
        let span_id: [u8; 8] = self.rng.random();
        let failed = self.rng.random_bool(0.01);
        for key in 0..self.config.attributes {
            let value = skewed(&mut self.rng, self.config.attribute_cardinality as usize);
            attributes.push((format!("app.attr{key}"), format!("v{value}")));
        }
        if kind == kind::SERVER {
            let status = if failed { "500" } else { "200" };
            attributes.push(("http.response.status_code".into(), status.into()));
        }
        out.push(SpanRecord {
            trace_id,
            span_id,
            parent_span_id: parent,
            name,
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            service,
            attributes,
            status_code: if failed { 2 } else { 0 },
            status_message: if failed {
                "upstream returned 503".into()
            } else {
                String::new()
            },
        });
        if depth >= 3 || kind == kind::CLIENT && depth > 0 && self.rng.random_bool(0.5) {
            return;
        }
        let children = if depth == 0 {
            self.rng.random_range(1..=4)
        } else {
            self.rng.random_range(0..=3)
        };
        let window = (end - start).max(children as u64 * 4);
        let slot = window / children.max(1) as u64;
        for child in 0..children {
            let child_start =
                (start + slot * child as u64 + self.rng.random_range(0..=slot / 4)).min(end);
            let child_end =
                (child_start + self.rng.random_range(slot / 4..=slot / 2).max(1)).min(end);
            if self.rng.random_bool(0.4) {
                let (system, operation) = pick_query(&mut self.rng);
                self.span(
                    out,
                    trace_id,
                    Some(span_id),
                    format!("{operation} {system}"),
                    kind::CLIENT,
                    (child_start, child_end),
                    service,
                    vec![
                        ("db.system.name".into(), system.into()),
                        ("db.operation.name".into(), operation.into()),
                    ],
                    depth + 3,
                );
            } else {
                // A call to another service: a client span here, a server span there.
                let callee = skewed(&mut self.rng, self.services.len());
                let operation = pick(&mut self.rng, &["GetProduct", "Reserve", "Charge", "Quote"]);
                let client_id: [u8; 8] = self.rng.random();
                out.push(SpanRecord {
                    trace_id,
                    span_id: client_id,
                    parent_span_id: Some(span_id),
                    name: format!("{}/{operation}", self.services[callee]),
                    kind: kind::CLIENT,
                    start_time_unix_nano: child_start,
                    end_time_unix_nano: child_end,
                    service,
                    attributes: vec![("rpc.system".into(), "grpc".into())],
                    status_code: 0,
                    status_message: String::new(),
                });
                let inner = (child_end - child_start) / 10;
                self.span(
                    out,
                    trace_id,
                    Some(client_id),
                    format!("{}/{operation}", self.services[callee]),
                    kind::SERVER,
                    (child_start + inner, child_end - inner),
                    callee,
                    vec![("rpc.system".into(), "grpc".into())],
                    depth + 1,
                );
            }
        }
    }
}

fn pick_query(rng: &mut StdRng) -> (&'static str, &'static str) {
    QUERIES[rng.random_range(0..QUERIES.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn traces_are_trees_with_children_inside_parents() {
        let mut generator = TraceGenerator::new(&DatasetConfig::default());
        let spans = generator.take(5_000);
        assert!(spans.len() >= 5_000);
        let by_id: HashMap<_, _> = spans.iter().map(|s| ((s.trace_id, s.span_id), s)).collect();
        assert_eq!(by_id.len(), spans.len(), "span ids are unique");
        let mut roots = 0;
        for span in &spans {
            assert!(span.start_time_unix_nano <= span.end_time_unix_nano);
            match span.parent_span_id {
                None => roots += 1,
                Some(parent) => {
                    let parent = by_id[&(span.trace_id, parent)];
                    assert!(parent.start_time_unix_nano <= span.start_time_unix_nano);
                    assert!(span.end_time_unix_nano <= parent.end_time_unix_nano);
                }
            }
        }
        assert!(roots > 100 && roots < spans.len() / 2, "{roots} roots");
        let services: std::collections::HashSet<_> = spans.iter().map(|s| s.service).collect();
        assert!(services.len() > 3);
        assert_eq!(
            spans,
            TraceGenerator::new(&DatasetConfig::default()).take(5_000)
        );
    }
}
