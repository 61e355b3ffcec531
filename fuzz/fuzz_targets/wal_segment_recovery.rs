//! WAL recovery and replay over an arbitrary segment file: a clean error or a clean log,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("icegate-fuzz-wal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("00000000000000000000.wal"), data).unwrap();
    if let Ok((wal, _)) = icegate_wal::Wal::open(&dir, icegate_wal::WalConfig::default()) {
        for record in wal.read_from(0).into_iter().flatten() {
            if record.is_err() {
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
});
