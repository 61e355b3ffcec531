//! The direct metrics decoder against the prost reference.

mod common;

use common::{RECEIVED, metrics_request, same};
use icegate_parser::{OtlpMetricsDecoder, reference};
use proptest::prelude::*;
use prost::Message;

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn direct_decoder_equals_prost_reference(request in metrics_request(false)) {
        let bytes = request.encode_to_vec();
        let expected = reference::decode_metrics(&bytes, RECEIVED).unwrap();
        let mut decoder = OtlpMetricsDecoder::new();
        same(&decoder.decode(&bytes, RECEIVED).unwrap(), &expected)?;
        same(&decoder.decode(&bytes, RECEIVED).unwrap(), &expected)?;
    }

    #[test]
    fn damaged_requests_never_panic_and_agree_when_both_accept(
        request in metrics_request(false),
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = request.encode_to_vec();
        prop_assume!(!bytes.is_empty());
        for (at, byte) in damage {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        let direct = OtlpMetricsDecoder::new().decode(&bytes, RECEIVED);
        if let (Ok(direct), Ok(reference)) = (&direct, &reference::decode_metrics(&bytes, RECEIVED)) {
            same(direct, reference)?;
        }
    }
}

/// Protobuf parsers must accept repeated scalars both packed and unpacked.
#[test]
fn unpacked_repeated_fields_decode_like_packed_ones() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics, metric,
    };
    let point = HistogramDataPoint {
        time_unix_nano: 1_700_000_000_000_000_000,
        count: 6,
        bucket_counts: vec![1, 2, 3],
        explicit_bounds: vec![0.5, 2.5],
        ..HistogramDataPoint::default()
    };
    let packed = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "latency".into(),
                    data: Some(metric::Data::Histogram(Histogram {
                        data_points: vec![point],
                        aggregation_temporality: 2,
                    })),
                    ..Metric::default()
                }],
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    };
    // The same point with fields 6 and 7 written one value at a time.
    let mut unpacked_point = Vec::new();
    unpacked_point.push(0x19); // field 3, fixed64
    unpacked_point.extend_from_slice(&1_700_000_000_000_000_000u64.to_le_bytes());
    unpacked_point.push(0x21); // field 4, fixed64
    unpacked_point.extend_from_slice(&6u64.to_le_bytes());
    for count in [1u64, 2, 3] {
        unpacked_point.push(0x31); // field 6, fixed64
        unpacked_point.extend_from_slice(&count.to_le_bytes());
    }
    for bound in [0.5f64, 2.5] {
        unpacked_point.push(0x39); // field 7, fixed64
        unpacked_point.extend_from_slice(&bound.to_bits().to_le_bytes());
    }
    let wrap = |tag: u8, inner: &[u8]| {
        let mut out = vec![tag];
        prost::encoding::encode_varint(inner.len() as u64, &mut out);
        out.extend_from_slice(inner);
        out
    };
    let mut histogram = wrap(0x0a, &unpacked_point); // data_points
    histogram.extend_from_slice(&[0x10, 0x02]); // temporality = cumulative
    let mut metric_bytes = wrap(0x0a, b"latency"); // name
    metric_bytes.extend(wrap(0x4a, &histogram)); // field 9: histogram
    let scope_metrics = wrap(0x12, &metric_bytes);
    let resource_metrics = wrap(0x12, &scope_metrics);
    let request = wrap(0x0a, &resource_metrics);

    let expected = OtlpMetricsDecoder::new()
        .decode(&packed.encode_to_vec(), RECEIVED)
        .unwrap();
    let actual = OtlpMetricsDecoder::new()
        .decode(&request, RECEIVED)
        .unwrap();
    assert_eq!(actual, expected);
    assert_eq!(
        reference::decode_metrics(&request, RECEIVED).unwrap(),
        expected
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn json_decoder_equals_protobuf_reference(request in metrics_request(true)) {
        let json = serde_json::to_vec(&request).unwrap();
        let expected = reference::convert_metrics(&request, RECEIVED).unwrap();
        let actual = icegate_parser::OtlpJsonMetricsDecoder::new().decode(&json, RECEIVED);
        let actual = actual.unwrap_or_else(|err| panic!("{err}\n{}", String::from_utf8_lossy(&json)));
        same(&actual, &expected)?;
    }
}
