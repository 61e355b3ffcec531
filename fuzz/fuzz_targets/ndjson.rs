//! NDJSON on arbitrary bytes: one row per non-blank line, never a panic.
#![no_main]

use icegate_parser::{Limit, NdjsonContext, NdjsonDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Within a budget, as a server decodes (the run's RSS limit catches unmetered decodes).
    let Ok(batch) =
        NdjsonDecoder::new().decode_within(data, &NdjsonContext::default(), 0, &mut Limit(64 << 20))
    else {
        return;
    };
    let lines = data
        .split(|&b| b == b'\n')
        .filter(|line| !line.strip_suffix(b"\r").unwrap_or(line).iter().all(u8::is_ascii_whitespace))
        .count();
    assert_eq!(batch.num_rows(), lines);
});
