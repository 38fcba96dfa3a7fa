//! The upgrade package reader (src/upgrade/package.rs, src/upgrade/mod.rs): the tar stream,
//! the signature check, the manifest decode and checks (`package::open`) and the payload
//! staging in lockstep with the manifest (`extract_all`, as `system upgrade` runs it into the
//! staging directory).
//!
//! A fuzzer cannot forge an Ed25519 signature, so the target generates a key at start-up,
//! trusts only it, and the first byte picks how the package is made:
//! - 0: the input as is. It cannot carry our signature, so `open` must refuse it.
//! - 1: the input with the 64 bytes of its `manifest.sig` member replaced by our signature over
//!   its `manifest.json` member (a package made by `sensorctl package build`, re-signed).
//! - 2: built here: the manifest bytes, then payload entries (path, `\0`, a kind byte, two mode
//!   bytes, data), separated by `\n=====\n`, written as tar members with a signed manifest.
//!
//! Checked beyond "no panic": an accepted manifest obeys its rules; a payload that stages
//! leaves exactly the manifest's entries (kind, mode, size, SHA-256) and nothing else, and
//! nothing is ever written outside the staging directory.
//!
//! Every input is a file and a staging tree in `$TMPDIR` (default /tmp): run it with
//! `TMPDIR=/dev/shm` (tmpfs) to keep the disk out of it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ring::digest;
use ring::signature::{Ed25519KeyPair, KeyPair};
use sensorctl::archive::tar::{self, check_path, Entry, Kind};
use sensorctl::upgrade::package::{self, Manifest, FORMAT, MANIFEST_NAME, PRODUCT, SIG_NAME};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const SEPARATOR: &[u8] = b"\n=====\n";

struct Setup {
    key: Ed25519KeyPair,
    public: [u8; 32],
    /// This fuzzer process's scratch directory: `package`, `outside/`, `outside/stage/`.
    dir: PathBuf,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let public = key.public_key().as_ref().try_into().unwrap();
        // libFuzzer ends the process with exit(), so no destructor removes the dir: remove the
        // dirs of fuzzers that are gone instead (as restore_extract does).
        for entry in fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("sensorctl-fuzz-upgrade-") {
                if !Path::new("/proc").join(pid).exists() {
                    open_up(&entry.path());
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = std::env::temp_dir().join(format!("sensorctl-fuzz-upgrade-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Setup { key, public, dir }
    })
}

/// `FUZZ_DEBUG=1`: say on stderr how far each input got (to check that seeds reach staging).
fn debug(what: std::fmt::Arguments<'_>) {
    static ON: OnceLock<bool> = OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("FUZZ_DEBUG").is_some()) {
        eprintln!("upgrade_package: {what}");
    }
}

fn octal(field: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
    usize::from_str_radix(text, 8).ok()
}

/// Mode 1: replaces the signature member's data with our signature over the manifest member.
fn resign(mut package: Vec<u8>, key: &Ed25519KeyPair) -> Vec<u8> {
    let Some(size) = package.get(124..136).and_then(octal) else { return package };
    let Some(sig_data) = size.checked_add(511).map(|s| 512 + s / 512 * 512 + 512) else { return package };
    if sig_data.saturating_add(64) > package.len() {
        return package;
    }
    let sig = key.sign(&package[512..512 + size]);
    package[sig_data..sig_data + 64].copy_from_slice(sig.as_ref());
    package
}

fn member(out: &mut Vec<u8>, entry: &Entry, data: &[u8]) -> bool {
    let Ok(header) = tar::header(entry) else { return false };
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out.resize(out.len() + tar::padding(data.len() as u64), 0);
    true
}

fn file_entry(path: &str, size: usize) -> Entry {
    Entry { path: path.into(), kind: Kind::File, mode: 0o644, uid: 0, gid: 0, size: size as u64, mtime: 0 }
}

/// Mode 2: a package of the manifest and entries given, signed with our key.
fn build(input: &[u8], key: &Ed25519KeyPair) -> Vec<u8> {
    let mut parts = Vec::new();
    let mut rest = input;
    while let Some(at) = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        parts.push(&rest[..at]);
        rest = &rest[at + SEPARATOR.len()..];
    }
    parts.push(rest);
    let manifest = parts[0];
    let mut out = Vec::new();
    member(&mut out, &file_entry(MANIFEST_NAME, manifest.len()), manifest);
    member(&mut out, &file_entry(SIG_NAME, 64), key.sign(manifest).as_ref());
    for part in &parts[1..] {
        let Some(nul) = part.iter().position(|&b| b == 0) else { continue };
        let Ok(path) = std::str::from_utf8(&part[..nul]) else { continue };
        let Some(&[kind, lo, hi]) = part.get(nul + 1..nul + 4) else { continue };
        let data = &part[nul + 4..];
        let dir = kind & 1 == 1;
        let entry = Entry {
            path: path.to_string(),
            kind: if dir { Kind::Dir } else { Kind::File },
            mode: u32::from(u16::from_le_bytes([lo, hi])) & 0o7777,
            uid: 0,
            gid: 0,
            size: if dir { 0 } else { data.len() as u64 },
            mtime: 0,
        };
        member(&mut out, &entry, if dir { &[] } else { data });
    }
    out.resize(out.len() + 2 * tar::BLOCK, 0);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a staged tree holds: path → (kind, mode, size, sha256). Panics on anything but files
/// and directories. (Reads through modes like 0: the fuzzer runs as root.)
fn walk(dir: &Path, rel: &str, found: &mut BTreeMap<String, (&'static str, u32, u64, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        let meta = fs::symlink_metadata(entry.path()).unwrap();
        if meta.is_dir() {
            found.insert(rel.clone(), ("dir", meta.mode() & 0o7777, 0, String::new()));
            walk(&entry.path(), &rel, found);
        } else {
            assert!(meta.file_type().is_file(), "staging made {rel}, neither file nor directory");
            let data = fs::read(entry.path()).unwrap();
            let sha = hex(digest::digest(&digest::SHA256, &data).as_ref());
            found.insert(rel, ("file", meta.mode() & 0o7777, data.len() as u64, sha));
        }
    }
}

/// Makes every directory under `dir` searchable again (staging sets the listed modes, 0 too),
/// so it can be read and removed.
fn open_up(dir: &Path) {
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                open_up(&entry.path());
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let setup = setup();
    let Some((&mode, rest)) = data.split_first() else { return };
    let package = match mode % 3 {
        0 => rest.to_vec(),
        1 => resign(rest.to_vec(), &setup.key),
        _ => build(rest, &setup.key),
    };
    let path = setup.dir.join("package");
    let mut file = fs::File::create(&path).unwrap();
    file.write_all(&package).unwrap();
    drop(file);
    let file = fs::File::open(&path).unwrap();

    let (manifest, mut tar) = match package::open(&file, &[setup.public]) {
        Ok(opened) => opened,
        Err(refusal) => {
            debug(format_args!("mode {}: open refused: {refusal:?}", mode % 3));
            return;
        }
    };
    assert_ne!(mode % 3, 0, "a package the fuzzer made passed the signature check");
    // What `open` promises about an accepted manifest.
    assert_eq!(manifest.format, FORMAT);
    assert_eq!(manifest.product, PRODUCT);
    assert!(package::Version::parse(&manifest.version).is_some());
    assert!(package::Version::parse(&manifest.min_version).is_some());
    for listed in &manifest.files {
        assert!(check_path(&listed.path).is_ok(), "manifest path {:?}", listed.path);
        assert!(listed.mode <= 0o777);
        assert!(listed.kind == "file" || (listed.kind == "dir" && listed.size == 0), "{listed:?}");
    }

    // Staging, as `system upgrade` does it: into a fresh directory beside which nothing may
    // appear.
    let outside = setup.dir.join("outside");
    let stage = outside.join("stage");
    if outside.exists() {
        open_up(&outside);
        fs::remove_dir_all(&outside).unwrap();
    }
    fs::create_dir_all(&stage).unwrap();
    let result = sensorctl::upgrade::extract_all(&stage, &manifest, &mut tar);
    let beside: Vec<_> = fs::read_dir(&outside).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("stage")], "staging wrote outside its directory");
    let scratch: Vec<_> = fs::read_dir(&setup.dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(scratch.iter().all(|n| n == "package" || n == "outside"), "staging wrote {scratch:?}");
    match result {
        Ok(()) => {
            let mut found = BTreeMap::new();
            walk(&stage, "", &mut found);
            let listed: BTreeMap<String, (&'static str, u32, u64, String)> = manifest
                .files
                .iter()
                .map(|f| {
                    let kind = if Manifest::kind(f) == Kind::Dir { "dir" } else { "file" };
                    (f.path.clone(), (kind, f.mode, f.size, f.sha256.clone()))
                })
                .collect();
            assert_eq!(found, listed, "the staged tree differs from the signed manifest");
            assert_eq!(listed.len(), manifest.files.len(), "a manifest listing a path twice staged");
            debug(format_args!("staged {} entries", listed.len()));
        }
        Err(refusal) => debug(format_args!("staging refused: {refusal:?}")),
    }
});
