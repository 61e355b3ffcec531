//! The direct traces decoder against the prost reference.

mod common;

use common::{RECEIVED, same, traces_request};
use icegate_parser::{OtlpTracesDecoder, reference};
use proptest::prelude::*;
use prost::Message;

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn direct_decoder_equals_prost_reference(request in traces_request(false)) {
        let bytes = request.encode_to_vec();
        let expected = reference::decode_traces(&bytes, RECEIVED).unwrap();
        let mut decoder = OtlpTracesDecoder::new();
        same(&decoder.decode(&bytes, RECEIVED).unwrap(), &expected)?;
        same(&decoder.decode(&bytes, RECEIVED).unwrap(), &expected)?;
    }

    #[test]
    fn damaged_requests_never_panic_and_agree_when_both_accept(
        request in traces_request(false),
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = request.encode_to_vec();
        prop_assume!(!bytes.is_empty());
        for (at, byte) in damage {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        let direct = OtlpTracesDecoder::new().decode(&bytes, RECEIVED);
        if let (Ok(direct), Ok(reference)) = (&direct, &reference::decode_traces(&bytes, RECEIVED)) {
            same(direct, reference)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn json_decoder_equals_protobuf_reference(request in traces_request(true)) {
        let json = serde_json::to_vec(&request).unwrap();
        let expected = reference::convert_traces(&request, RECEIVED).unwrap();
        let actual = icegate_parser::OtlpJsonTracesDecoder::new().decode(&json, RECEIVED);
        let actual = actual.unwrap_or_else(|err| panic!("{err}\n{}", String::from_utf8_lossy(&json)));
        same(&actual, &expected)?;
    }
}

#[test]
fn json_span_kinds_and_status_codes_accept_names() {
    let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"","name":"GET /","kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","status":{"code":"STATUS_CODE_ERROR","message":"boom"},"events":[{"timeUnixNano":"1544712660500000000","name":"exception"}]}]}]}]}"#;
    let batch = icegate_parser::OtlpJsonTracesDecoder::new()
        .decode(json.as_bytes(), RECEIVED)
        .unwrap();
    use arrow::array::AsArray;
    use arrow::datatypes::{Int32Type, Int64Type};
    assert_eq!(
        batch
            .column_by_name("kind")
            .unwrap()
            .as_primitive::<Int32Type>()
            .value(0),
        2
    );
    assert_eq!(
        batch
            .column_by_name("status_code")
            .unwrap()
            .as_primitive::<Int32Type>()
            .value(0),
        2
    );
    assert_eq!(
        batch
            .column_by_name("duration_nanos")
            .unwrap()
            .as_primitive::<Int64Type>()
            .value(0),
        1_000_000_000
    );
    assert_eq!(
        batch
            .column_by_name("events")
            .unwrap()
            .as_list::<i32>()
            .value(0)
            .len(),
        1
    );
    let err = icegate_parser::OtlpJsonTracesDecoder::new()
        .decode(
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_LOUD"}]}]}]}"#,
            RECEIVED,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("resourceSpans[0].scopeSpans[0].spans[0].kind"),
        "{err}"
    );
}
