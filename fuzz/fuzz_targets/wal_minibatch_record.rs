//! Mini-batch WAL records (header + Arrow IPC) on arbitrary bytes: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = icegate_pipeline::record::decode(data);
});
