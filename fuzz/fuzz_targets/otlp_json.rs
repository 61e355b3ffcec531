//! The three OTLP/JSON decoders on arbitrary bytes: errors, never panics.
#![no_main]

use icegate_parser::{OtlpJsonLogsDecoder, OtlpJsonMetricsDecoder, OtlpJsonTracesDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = OtlpJsonLogsDecoder::new().decode(data, 0);
    let _ = OtlpJsonTracesDecoder::new().decode(data, 0);
    let _ = OtlpJsonMetricsDecoder::new().decode(data, 0);
});
