//! Board files (src/board.rs): `board/<name>/board.json`, or a path given with `--board`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(err) = sensorctl::board::Board::parse(text, Path::new("/fuzz/board.json")) {
        let _ = err.to_string();
    }
});
