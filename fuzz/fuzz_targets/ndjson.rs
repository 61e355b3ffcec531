//! NDJSON on arbitrary bytes: one row per non-blank line, never a panic.
#![no_main]

use icegate_parser::{NdjsonContext, NdjsonDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let batch = NdjsonDecoder::new().decode(data, &NdjsonContext::default(), 0);
    let lines = data
        .split(|&b| b == b'\n')
        .filter(|line| !line.strip_suffix(b"\r").unwrap_or(line).iter().all(u8::is_ascii_whitespace))
        .count();
    assert_eq!(batch.num_rows(), lines);
});
