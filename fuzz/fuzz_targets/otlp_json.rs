//! The three OTLP/JSON decoders on arbitrary bytes: errors, never panics.
#![no_main]

use icegate_parser::{Limit, OtlpJsonLogsDecoder, OtlpJsonMetricsDecoder, OtlpJsonTracesDecoder};
use libfuzzer_sys::fuzz_target;

/// The decoded bytes one input may reach (the runs use -rss_limit_mb well above it).
const LIMIT: u64 = 64 << 20;

fuzz_target!(|data: &[u8]| {
    let _ = OtlpJsonLogsDecoder::new().decode_within(data, 0, &mut Limit(LIMIT));
    let _ = OtlpJsonTracesDecoder::new().decode_within(data, 0, &mut Limit(LIMIT));
    let _ = OtlpJsonMetricsDecoder::new().decode_within(data, 0, &mut Limit(LIMIT));
});
