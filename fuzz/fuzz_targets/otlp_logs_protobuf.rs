//! The direct logs decoder on arbitrary bytes: never panics, and agrees with the prost
//! reference whenever both accept the input.
#![no_main]

use icegate_parser::{OtlpLogsDecoder, reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let direct = OtlpLogsDecoder::new().decode(data, 0);
    if let (Ok(direct), Ok(reference)) = (direct, reference::decode_logs(data, 0)) {
        assert_eq!(direct, reference);
    }
});
