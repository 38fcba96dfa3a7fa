//! The backup file's own framing (src/backup/format.rs): the manifest lines, the head line,
//! the fixed-length trailer and the line splitter, plus the HMAC check over a whole file (what
//! `system restore` runs first on any file in the backup directory) with a fixed key.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sensorctl::backup::format::{self, parse_line, parse_trailer, Head, Line, Lines};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

fn scratch() -> &'static std::fs::File {
    static FILE: OnceLock<std::fs::File> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("sensorctl-fuzz-backup-format-{}", std::process::id()));
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).expect("open");
        let _ = std::fs::remove_file(&path);
        file
    })
}

fuzz_target!(|data: &[u8]| {
    // Lines, as the manifest reader splits them.
    let mut lines = Lines::new(data);
    let mut first = true;
    while let Ok(Some(line)) = lines.next_line() {
        let text = String::from_utf8_lossy(line);
        if first {
            let _ = sensorctl::json::decode::<Head>(&text);
            first = false;
        }
        match parse_line(&text) {
            Ok(Line::Entry(entry)) => {
                // A manifest entry that parsed names a path the tar reader would accept.
                assert!(sensorctl::archive::tar::check_path(&entry.entry.path).is_ok(), "{:?}", entry.entry.path);
            }
            Ok(Line::End(..)) | Err(_) => {}
        }
    }
    if let Some((region, mac)) = parse_trailer(data) {
        assert_eq!(format::trailer(region, &mac), data, "only canonical trailers parse");
    }
    let file = scratch();
    file.set_len(0).expect("truncate");
    file.write_all_at(data, 0).expect("write");
    (&*file).flush().expect("flush");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[7u8; 32]);
    let _ = format::verify(file, &key);
});
