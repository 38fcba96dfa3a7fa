//! Restore's extraction rules (src/backup/restore.rs) over a hostile archive, into a temp dir.
//!
//! A real restore verifies the backup's HMAC first, so only the appliance's key holder can
//! reach this code; the target skips the HMAC (the way a stolen key, or a bug in the check,
//! would) to show that even then the archive cannot write outside the staging paths. The input
//! is the *tar* stream: the target wraps it in a stored gzip member, so the fuzzer works on the
//! tar headers and the manifest rather than on CRCs. After each run the temp dir must hold
//! exactly what it held before: every staged file removed, nothing written beside it.
//!
//! The data paths are those of the generic-x86 board, under a fresh root per process.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sensorctl::archive::gzip::stored_member;
use sensorctl::backup::restore::stage_and_discard;
use sensorctl::backup::{Root, Settings};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

struct Place {
    top: PathBuf,
    settings: Settings,
    archive: File,
    before: Vec<String>,
}

fn listing(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        out.push(path.display().to_string());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            listing(&path, out);
        }
    }
}

fn snapshot(top: &Path) -> Vec<String> {
    let mut out = Vec::new();
    listing(top, &mut out);
    out.sort();
    out
}

fn place() -> &'static Place {
    static PLACE: OnceLock<Place> = OnceLock::new();
    PLACE.get_or_init(|| {
        // libFuzzer ends the process with exit(), so no destructor removes the dir: remove the
        // dirs of fuzzers that are gone instead.
        for entry in fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("sensorctl-fuzz-restore-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let top = std::env::temp_dir().join(format!("sensorctl-fuzz-restore-{}", std::process::id()));
        let _ = fs::remove_dir_all(&top);
        let root = top.join("root");
        // Live data as an appliance has it: two data paths exist, two do not yet.
        fs::create_dir_all(root.join("etc/sensorctl")).expect("mkdir");
        fs::write(root.join("etc/sensorctl/config.json"), "{\"version\":1}\n").expect("write");
        fs::create_dir_all(root.join("var/cyberx/keys")).expect("mkdir");
        fs::write(root.join("var/cyberx/keys/secret.key"), "live key\n").expect("write");
        fs::create_dir_all(top.join("backups")).expect("mkdir");
        let roots = ["/etc/sensorctl", "/var/cyberx/keys", "/var/cyberx/baselines", "/var/cyberx/logs"]
            .iter()
            .map(|p| Root {
                board_path: PathBuf::from(p),
                rel: p.trim_start_matches('/').to_string(),
                live: root.join(p.trim_start_matches('/')),
            })
            .collect();
        let settings = Settings {
            dir_shown: PathBuf::from("/var/cyberx/backups"),
            dir: top.join("backups"),
            limit: 1 << 30,
            roots,
            state_dir: top.join("state"),
        };
        let archive_path = top.join("backups/fuzz.tar");
        let archive = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&archive_path)
            .expect("open archive");
        let before = snapshot(&top);
        Place { top, settings, archive, before }
    })
}

fuzz_target!(|data: &[u8]| {
    let place = place();
    let body = stored_member(data);
    place.archive.set_len(0).expect("truncate");
    place.archive.write_all_at(&body, 0).expect("write");
    (&place.archive).flush().expect("flush");
    let _ = stage_and_discard("generic-x86", &place.settings, &place.archive, body.len() as u64);
    let after = snapshot(&place.top);
    assert_eq!(after, place.before, "the extraction left something behind or wrote outside staging");
});
