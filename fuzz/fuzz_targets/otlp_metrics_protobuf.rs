//! The direct metrics decoder on arbitrary bytes: never panics, and agrees with the prost
//! reference whenever both accept the input.
#![no_main]

use icegate_parser::{OtlpMetricsDecoder, reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let direct = OtlpMetricsDecoder::new().decode(data, 0);
    if let (Ok(direct), Ok(reference)) = (direct, reference::decode_metrics(data, 0)) {
        assert_eq!(direct, reference);
    }
});
