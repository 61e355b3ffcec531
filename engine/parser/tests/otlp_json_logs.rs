//! The OTLP/JSON decoder: requests encoded by opentelemetry-proto's own serde (an independent
//! OTLP/JSON encoder) must decode to exactly what the protobuf reference gives for the same
//! messages; hand-written spec-style JSON and hostile JSON get precise answers.

mod common;

use arrow::array::{Array, AsArray, MapArray};
use arrow::datatypes::{Int32Type, Int64Type};
use common::{RECEIVED, logs_request, same};
use icegate_parser::{DecodeError, OtlpJsonLogsDecoder, reference};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn json_decoder_equals_protobuf_reference(request in logs_request(true)) {
        let json = serde_json::to_vec(&request).unwrap();
        let expected = reference::convert_logs(&request, RECEIVED).unwrap();
        let actual = OtlpJsonLogsDecoder::new().decode(&json, RECEIVED);
        let actual = actual.unwrap_or_else(|err| panic!("{err}\n{}", String::from_utf8_lossy(&json)));
        same(&actual, &expected)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = OtlpJsonLogsDecoder::new().decode(&bytes, RECEIVED);
    }
}

const SPEC_EXAMPLE: &str = r#"{
  "resourceLogs": [{
    "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "my.service" } }] },
    "scopeLogs": [{
      "scope": { "name": "my.library", "version": "1.0.0",
                 "attributes": [{ "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }] },
      "logRecords": [{
        "timeUnixNano": "1544712660300000000",
        "observedTimeUnixNano": 1544712660300000000,
        "severityNumber": 10,
        "severityText": "Information",
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "body": { "stringValue": "Example log record" },
        "attributes": [
          { "key": "string.attribute", "value": { "stringValue": "some string" } },
          { "key": "boolean.attribute", "value": { "boolValue": true } },
          { "key": "int.attribute", "value": { "intValue": "10" } },
          { "key": "double.attribute", "value": { "doubleValue": 637.704 } },
          { "key": "array.attribute", "value": { "arrayValue": { "values": [{ "stringValue": "many" }, { "stringValue": "values" }] } } },
          { "key": "map.attribute", "value": { "kvlistValue": { "values": [{ "key": "some.map.key", "value": { "stringValue": "some value" } }] } } }
        ]
      }, {
        "observed_time_unix_nano": "1544712660300000001",
        "severityNumber": "SEVERITY_NUMBER_ERROR",
        "body": { "kvlistValue": { "values": [{ "key": "msg", "value": { "stringValue": "structured \"body\"" } }, { "key": "n", "value": { "intValue": 7 } }] } },
        "traceId": "", "spanId": null
      }]
    }]
  }]
}"#;

#[test]
fn spec_example_decodes_to_the_expected_row() {
    let batch = OtlpJsonLogsDecoder::new()
        .decode(SPEC_EXAMPLE.as_bytes(), RECEIVED)
        .unwrap();
    assert_eq!(batch.num_rows(), 2);
    let col = |name: &str| batch.column_by_name(name).unwrap().clone();
    let strings = |name: &str| col(name).as_string::<i32>().clone();
    assert_eq!(strings("service_name").value(0), "my.service");
    assert_eq!(
        strings("trace_id").value(0),
        "5b8efff798038103d269b633813fc60c"
    );
    assert_eq!(strings("span_id").value(0), "eee19b7ec3c1b174");
    assert!(strings("trace_id").is_null(1) && strings("span_id").is_null(1));
    assert_eq!(strings("body").value(0), "Example log record");
    assert_eq!(
        strings("body").value(1),
        r#"{"msg":"structured \"body\"","n":7}"#
    );
    assert_eq!(strings("scope_name").value(0), "my.library");
    assert_eq!(
        col("severity_number").as_primitive::<Int32Type>().value(0),
        10
    );
    assert_eq!(
        col("severity_number").as_primitive::<Int32Type>().value(1),
        17
    );
    assert_eq!(
        col("time_unix_nano").as_primitive::<Int64Type>().value(0),
        1_544_712_660_300_000_000
    );
    assert!(col("time_unix_nano").is_null(1));
    // The second record has no event time: it is filed under its observed time.
    let timestamps = col("timestamp");
    let timestamps = timestamps.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
    assert_eq!(timestamps.value(1), 1_544_712_660_300_000);
    let attributes = col("attributes");
    let attributes = attributes.as_any().downcast_ref::<MapArray>().unwrap();
    let entries = attributes.value(0);
    let keys = entries.column(0).as_string::<i32>();
    let values = entries.column(1).as_string::<i32>();
    let pairs: Vec<_> = (0..keys.len())
        .map(|i| (keys.value(i), values.value(i)))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("string.attribute", "some string"),
            ("boolean.attribute", "true"),
            ("int.attribute", "10"),
            ("double.attribute", "637.704"),
            ("array.attribute", r#"["many","values"]"#),
            ("map.attribute", r#"{"some.map.key":"some value"}"#),
        ]
    );
}

fn error_of(json: &str) -> String {
    match OtlpJsonLogsDecoder::new().decode(json.as_bytes(), RECEIVED) {
        Err(err) => err.to_string(),
        Ok(batch) => panic!("accepted {json}: {} rows", batch.num_rows()),
    }
}

#[test]
fn malformed_json_is_rejected_with_the_path_of_the_problem() {
    let err = error_of(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}"#);
    assert!(
        err.contains("resourceLogs[0].scopeLogs[0].logRecords[0].traceId"),
        "{err}"
    );
    assert!(err.contains("32 hex digits"), "{err}");
    let err =
        error_of(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":-5}]}]}]}"#);
    assert!(err.contains("timeUnixNano"), "{err}");
    let err = error_of(
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"intValue":"12x"}}]}]}]}"#,
    );
    assert!(err.contains("body.intValue"), "{err}");
    let err = error_of(
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"a","intValue":1}}]}]}]}"#,
    );
    assert!(err.contains("more than one value"), "{err}");
    let err = error_of(r#"{"resourceLogs": 5}"#);
    assert!(err.contains("expected an array"), "{err}");
    let err = error_of(r#"{"resourceLogs": [}"#);
    assert!(err.contains("malformed OTLP/JSON"), "{err}");
    let err = error_of(r#"[1,2]"#);
    assert!(err.contains("expected an object"), "{err}");
}

#[test]
fn nesting_bombs_are_rejected_before_parsing() {
    let bomb = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
    let err = OtlpJsonLogsDecoder::new()
        .decode(bomb.as_bytes(), RECEIVED)
        .unwrap_err();
    assert!(matches!(err, DecodeError::Json { .. }), "{err}");
    assert!(err.to_string().contains("nested deeper than"), "{err}");

    // Deep but within the request limit: the AnyValue depth limit answers.
    let mut value = r#"{"stringValue":"x"}"#.to_string();
    for _ in 0..40 {
        value = format!(r#"{{"arrayValue":{{"values":[{value}]}}}}"#);
    }
    let request =
        format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{value}}}]}}]}}]}}"#);
    let err = OtlpJsonLogsDecoder::new()
        .decode(request.as_bytes(), RECEIVED)
        .unwrap_err();
    assert!(err.to_string().contains("nested deeper"), "{err}");
}
