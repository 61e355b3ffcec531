//! Metric points as instrumented services export them every collection interval: gauges,
//! cumulative monotonic sums and explicit-bucket histograms.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::text::skewed;
use crate::{DatasetConfig, service_names};

/// The value of one point.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    Gauge(f64),
    /// Cumulative, monotonic.
    Sum(f64),
    Histogram {
        count: u64,
        sum: f64,
        bounds: Vec<f64>,
        bucket_counts: Vec<u64>,
    },
}

/// One data point of one metric stream.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    pub name: &'static str,
    pub unit: &'static str,
    /// Index into [`MetricGenerator::services`].
    pub service: usize,
    pub start_time_unix_nano: u64,
    pub time_unix_nano: u64,
    pub attributes: Vec<(String, String)>,
    pub value: MetricValue,
}

/// Generates every stream's next point, interval after interval.
pub struct MetricGenerator {
    config: DatasetConfig,
    services: Vec<String>,
    rng: StdRng,
    /// One per (service, stream): cumulative state.
    streams: Vec<Stream>,
    next: usize,
    interval: u64,
    now: u64,
}

struct Stream {
    service: usize,
    name: &'static str,
    unit: &'static str,
    attributes: Vec<(String, String)>,
    kind: u8,
    total: f64,
    count: u64,
    buckets: Vec<u64>,
}

const DURATION_BOUNDS: [f64; 10] = [
    5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 1000.0, 2500.0,
];

impl MetricGenerator {
    pub fn new(config: &DatasetConfig) -> Self {
        let services = service_names(config.services);
        let mut rng = StdRng::seed_from_u64(config.seed ^ 0x6d65_7472_6963);
        let mut streams = Vec::new();
        for service in 0..services.len() {
            for route in ["/api/v1/products", "/api/v1/cart", "/api/v1/checkout"] {
                let mut attributes = vec![("http.route".to_string(), route.to_string())];
                for key in 0..config.attributes {
                    let value = skewed(&mut rng, config.attribute_cardinality as usize);
                    attributes.push((format!("app.attr{key}"), format!("v{value}")));
                }
                for (name, unit, kind) in [
                    ("http.server.request.duration", "ms", 2u8),
                    ("http.server.request.count", "{request}", 1),
                ] {
                    streams.push(Stream::new(service, name, unit, kind, attributes.clone()));
                }
            }
            for (name, unit) in [
                ("process.cpu.utilization", "1"),
                ("process.memory.usage", "By"),
            ] {
                streams.push(Stream::new(service, name, unit, 0, Vec::new()));
            }
        }
        // One collection interval spreads over the configured record rate.
        let interval = (streams.len() as f64 / config.records_per_second.max(1e-9) * 1e9) as u64;
        Self {
            services,
            rng,
            streams,
            next: 0,
            interval: interval.max(1),
            now: config.start_unix_nano,
            config: config.clone(),
        }
    }

    /// The service names points refer to by index.
    pub fn services(&self) -> &[String] {
        &self.services
    }

    /// The next `count` points, cycling over every stream once per collection interval.
    pub fn take(&mut self, count: usize) -> Vec<MetricPoint> {
        (0..count).map(|_| self.next_point()).collect()
    }

    pub fn next_point(&mut self) -> MetricPoint {
        if self.next == self.streams.len() {
            self.next = 0;
            self.now += self.interval;
        }
        let start = self.config.start_unix_nano;
        let now = self.now;
        let rng = &mut self.rng;
        let stream = &mut self.streams[self.next];
        self.next += 1;
        let value = match stream.kind {
            0 => MetricValue::Gauge(if stream.unit == "By" {
                rng.random_range(80e6..600e6f64).round()
            } else {
                rng.random_range(0.01..0.95f64)
            }),
            1 => {
                stream.total += f64::from(rng.random_range(10..500u32));
                MetricValue::Sum(stream.total)
            }
            _ => {
                for _ in 0..rng.random_range(10..200) {
                    // Log-normal-ish latencies: most fast, a long tail.
                    let latency = (rng.random_range(1.0..7.5f64)).exp();
                    stream.count += 1;
                    stream.total += latency;
                    let bucket = DURATION_BOUNDS.partition_point(|&bound| bound < latency);
                    stream.buckets[bucket] += 1;
                }
                MetricValue::Histogram {
                    count: stream.count,
                    sum: stream.total,
                    bounds: DURATION_BOUNDS.to_vec(),
                    bucket_counts: stream.buckets.clone(),
                }
            }
        };
        MetricPoint {
            name: stream.name,
            unit: stream.unit,
            service: stream.service,
            start_time_unix_nano: start,
            time_unix_nano: now,
            attributes: stream.attributes.clone(),
            value,
        }
    }
}

impl Stream {
    fn new(
        service: usize,
        name: &'static str,
        unit: &'static str,
        kind: u8,
        attributes: Vec<(String, String)>,
    ) -> Self {
        Self {
            service,
            name,
            unit,
            attributes,
            kind,
            total: 0.0,
            count: 0,
            buckets: vec![0; DURATION_BOUNDS.len() + 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_histograms_are_cumulative_and_consistent() {
        let config = DatasetConfig::default();
        let mut generator = MetricGenerator::new(&config);
        let points = generator.take(2_000);
        let mut last_sum = std::collections::HashMap::new();
        let mut kinds = [0; 3];
        for point in &points {
            assert!(point.time_unix_nano >= point.start_time_unix_nano);
            match &point.value {
                MetricValue::Gauge(_) => kinds[0] += 1,
                MetricValue::Sum(total) => {
                    kinds[1] += 1;
                    let key = (point.service, point.attributes.clone());
                    let previous = last_sum.insert(key, *total).unwrap_or(0.0);
                    assert!(*total > previous);
                }
                MetricValue::Histogram {
                    count,
                    bounds,
                    bucket_counts,
                    ..
                } => {
                    kinds[2] += 1;
                    assert_eq!(bucket_counts.len(), bounds.len() + 1);
                    assert_eq!(bucket_counts.iter().sum::<u64>(), *count);
                }
            }
        }
        assert!(kinds.iter().all(|&k| k > 100), "{kinds:?}");
        assert_eq!(points, MetricGenerator::new(&config).take(2_000));
    }
}
