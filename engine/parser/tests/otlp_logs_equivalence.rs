//! The direct protobuf decoder against the prost reference: random OTLP logs requests must
//! give identical record batches, and damaged bytes must never panic or disagree.

mod common;

use common::{RECEIVED, logs_request, same};
use icegate_parser::{OtlpLogsDecoder, reference};
use proptest::prelude::*;
use prost::Message;

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn direct_decoder_equals_prost_reference(request in logs_request(false)) {
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
        request in logs_request(false),
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
