//! The direct protobuf decoder against the prost reference: random OTLP logs requests must
//! give identical record batches, and damaged bytes must never panic or disagree.

use arrow::array::RecordBatch;
use icegate_parser::{OtlpLogsDecoder, reference};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use proptest::prelude::*;
use prost::Message;

const RECEIVED: i64 = 1_764_000_000_123_456_789;

/// Equal batches, or a failure naming the first column that differs (whole batches are too
/// long to read in a failure message).
fn same(actual: &RecordBatch, expected: &RecordBatch) -> Result<(), TestCaseError> {
    prop_assert_eq!(actual.schema(), expected.schema());
    prop_assert_eq!(actual.num_rows(), expected.num_rows());
    for (index, field) in expected.schema().fields().iter().enumerate() {
        prop_assert!(
            actual.column(index) == expected.column(index),
            "column {} differs:\n direct: {:?}\n reference: {:?}",
            field.name(),
            actual.column(index),
            expected.column(index)
        );
    }
    Ok(())
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ._-]{0,16}",
        1 => any::<String>(),
        1 => Just("quote\" backslash\\ newline\n tab\t nul\u{0} bell\u{7} del\u{7f} é 🦀".to_string()),
    ]
}

fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        text().prop_map(Value::StringValue),
        any::<bool>().prop_map(Value::BoolValue),
        any::<i64>().prop_map(Value::IntValue),
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            Just(1e21)
        ]
        .prop_map(Value::DoubleValue),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::BytesValue),
    ]
    .prop_map(|value| AnyValue { value: Some(value) });
    let leaf = prop_oneof![8 => leaf, 1 => Just(AnyValue { value: None })];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(|values| AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values }))
            }),
            proptest::collection::vec((text(), proptest::option::of(inner)), 0..5).prop_map(
                |pairs| AnyValue {
                    value: Some(Value::KvlistValue(KeyValueList {
                        values: pairs
                            .into_iter()
                            .map(|(key, value)| KeyValue {
                                key,
                                value,
                                ..KeyValue::default()
                            })
                            .collect(),
                    })),
                }
            ),
        ]
    })
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::vec(
        (
            prop_oneof![3 => text(), 1 => Just("service.name".to_string())],
            proptest::option::of(any_value()),
        ),
        0..5,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(key, value)| KeyValue {
                key,
                value,
                ..KeyValue::default()
            })
            .collect()
    })
}

fn nanos() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        1u64..=i64::MAX as u64,
        Just(1_764_000_000_000_000_000u64)
    ]
}

fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), len..=len)
    ]
}

fn log_record() -> impl Strategy<Value = LogRecord> {
    (
        (
            nanos(),
            nanos(),
            -2i32..26,
            text(),
            proptest::option::of(any_value()),
        ),
        (
            attributes(),
            any::<u32>(),
            any::<u32>(),
            id(16),
            id(8),
            text(),
        ),
    )
        .prop_map(
            |(
                (time, observed, severity, severity_text, body),
                (attributes, dropped, flags, trace_id, span_id, event_name),
            )| {
                LogRecord {
                    time_unix_nano: time,
                    observed_time_unix_nano: observed,
                    severity_number: severity,
                    severity_text,
                    body,
                    attributes,
                    dropped_attributes_count: dropped,
                    flags,
                    trace_id,
                    span_id,
                    event_name,
                }
            },
        )
}

fn request() -> impl Strategy<Value = ExportLogsServiceRequest> {
    let scope = (text(), text(), attributes(), any::<u32>()).prop_map(
        |(name, version, attributes, dropped)| InstrumentationScope {
            name,
            version,
            attributes,
            dropped_attributes_count: dropped,
        },
    );
    let scope_logs = (
        proptest::option::of(scope),
        proptest::collection::vec(log_record(), 0..5),
        text(),
    )
        .prop_map(|(scope, log_records, schema_url)| ScopeLogs {
            scope,
            log_records,
            schema_url,
        });
    let resource = (attributes(), any::<u32>()).prop_map(|(attributes, dropped)| Resource {
        attributes,
        dropped_attributes_count: dropped,
        ..Resource::default()
    });
    let resource_logs = (
        proptest::option::of(resource),
        proptest::collection::vec(scope_logs, 0..3),
        text(),
    )
        .prop_map(|(resource, scope_logs, schema_url)| ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        });
    proptest::collection::vec(resource_logs, 0..3)
        .prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn direct_decoder_equals_prost_reference(request in request()) {
        let bytes = request.encode_to_vec();
        let expected = reference::decode_logs(&bytes, RECEIVED).unwrap();
        let mut decoder = OtlpLogsDecoder::new();
        let actual = decoder.decode(&bytes, RECEIVED).unwrap();
        same(&actual, &expected)?;
        // A reused decoder (arena reset, builders drained) gives the same again.
        same(&decoder.decode(&bytes, RECEIVED).unwrap(), &expected)?;
    }

    #[test]
    fn damaged_requests_never_panic_and_agree_when_both_accept(
        request in request(),
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = request.encode_to_vec();
        prop_assume!(!bytes.is_empty());
        for (at, byte) in damage {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        let direct = OtlpLogsDecoder::new().decode(&bytes, RECEIVED);
        let reference = reference::decode_logs(&bytes, RECEIVED);
        if let (Ok(direct), Ok(reference)) = (&direct, &reference) {
            same(direct, reference)?;
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = OtlpLogsDecoder::new().decode(&bytes, RECEIVED);
    }
}
