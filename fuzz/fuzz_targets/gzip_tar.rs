//! The backup archive reader (src/archive/): our gzip reader under our tar reader, as restore
//! and `backup-list` use them. The input is the gzip stream. Every entry handed out must obey
//! the reader's own rules (relative, clean path; file or directory; no setuid/setgid bits).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sensorctl::archive::gzip::GzipReader;
use sensorctl::archive::tar::{check_path, Kind, TarReader};
use std::io::BufReader;

fuzz_target!(|data: &[u8]| {
    read(TarReader::new(GzipReader::new(data)), true);
    // The buffered data path restore uses (fill_data / consume_data).
    read(TarReader::new(BufReader::with_capacity(700, GzipReader::new(data))), false);
});

fn read<R: std::io::BufRead>(mut tar: TarReader<R>, copy: bool) {
    let mut buf = [0u8; 1000];
    // An input of a few KiB cannot hold more entries than this; the cap only bounds a bug.
    for _ in 0..10_000 {
        let entry = match tar.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => return,
            Err(err) => {
                let _ = err.to_string();
                return;
            }
        };
        assert!(check_path(&entry.path).is_ok(), "reader handed out {:?}", entry.path);
        assert_eq!(entry.mode & !0o1777, 0, "mode {:o}", entry.mode);
        if entry.kind == Kind::Dir {
            assert_eq!(entry.size, 0);
        }
        let mut total = 0u64;
        loop {
            let n = if copy {
                match tar.read_data(&mut buf) {
                    Ok(n) => n,
                    Err(_) => return,
                }
            } else {
                match tar.fill_data() {
                    Ok(piece) => piece.len(),
                    Err(_) => return,
                }
            };
            if n == 0 {
                break;
            }
            if !copy {
                tar.consume_data(n);
            }
            total += n as u64;
        }
        assert_eq!(total, entry.size);
    }
}
