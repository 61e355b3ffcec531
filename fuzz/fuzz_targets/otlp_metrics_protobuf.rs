//! The direct metrics decoder on arbitrary bytes: never panics, and agrees with the prost
//! reference whenever both accept the input.
#![no_main]

use icegate_parser::{Limit, OtlpMetricsDecoder, reference};

/// The decoded bytes one input may reach (the runs use -rss_limit_mb well above it).
const LIMIT: u64 = 64 << 20;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = OtlpMetricsDecoder::new();
    // What a server does: within a budget (amplifying inputs stop at it, so the run's RSS
    // limit catches any decode that is not metered), records that do not decode left out.
    if let Ok(decoded) = decoder.decode_within(data, 0, &mut Limit(LIMIT)) {
        assert_eq!(decoded.rejected > 0, decoded.first_error.is_some());
    } else {
        return;
    }
    let direct = decoder.decode(data, 0);
    if let (Ok(direct), Ok(reference)) = (direct, reference::decode_metrics(data, 0)) {
        assert_eq!(direct, reference);
    }
});
