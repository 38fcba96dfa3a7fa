//! Backups through the real binary: round trip, GNU tar and Python as independent readers,
//! hostile archives made by Python's tarfile (with a valid HMAC, so that only the extraction
//! rules can stop them), tampering, rotation, limits, roles, prompts, kill -9 during backup and
//! restore, and the footprint (peak RSS, priorities, one thread) on 200 MB of data.


use crate::common::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// The generic-x86 board's data paths and backup directory, relative to the root.
const ROOTS: [&str; 4] = ["etc/sensorctl", "var/cyberx/keys", "var/cyberx/baselines", "var/cyberx/logs"];
const BACKUP_DIR: &str = "var/cyberx/backups";

/// What a test can observe of one path: type, mode, owner, mtime (s, ns), size, content hash.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    kind: char,
    mode: u32,
    owner: (u32, u32),
    mtime: (i64, i64),
    size: u64,
    sha256: String,
}

type Snapshot = BTreeMap<String, Node>;

/// The tree under `dir` (paths relative to `base`), as lstat(2) and sha256sum(1) see it.
fn snapshot_into(base: &Path, dir: &Path, nodes: &mut Snapshot, files: &mut Vec<PathBuf>) {
    let meta = match fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(_) => return,
    };
    let rel = dir.strip_prefix(base).unwrap().to_string_lossy().into_owned();
    let kind = if meta.is_dir() {
        'd'
    } else if meta.file_type().is_file() {
        'f'
    } else if meta.file_type().is_symlink() {
        'l'
    } else {
        '?'
    };
    nodes.insert(
        rel,
        Node {
            kind,
            mode: meta.mode() & 0o7777,
            owner: (meta.uid(), meta.gid()),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            size: if kind == 'f' { meta.len() } else { 0 },
            sha256: String::new(),
        },
    );
    if kind == 'f' {
        files.push(dir.to_path_buf());
    }
    if kind == 'd' {
        let mut names: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        for name in names {
            snapshot_into(base, &dir.join(name), nodes, files);
        }
    }
}

fn snapshot_paths(base: &Path, tops: &[PathBuf]) -> Snapshot {
    let mut nodes = Snapshot::new();
    let mut files = Vec::new();
    for top in tops {
        snapshot_into(base, top, &mut nodes, &mut files);
    }
    for chunk in files.chunks(500) {
        let out = Command::new("sha256sum").arg("-z").args(chunk).output().unwrap();
        assert!(out.status.success(), "sha256sum: {}", String::from_utf8_lossy(&out.stderr));
        for (record, path) in out.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()).zip(chunk) {
            let rel = path.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            nodes.get_mut(&rel).unwrap().sha256 = String::from_utf8_lossy(&record[..64]).into_owned();
        }
    }
    nodes
}

/// The board's data paths under `root`.
fn data(root: &Path) -> Snapshot {
    snapshot_paths(root, &ROOTS.map(|r| root.join(r)))
}

/// Everything under `root` but the audit log and its directories: every attempt is audited,
/// refused ones too, so a refused command still appends a line there (the round trip checks
/// what is written).
fn whole(root: &Path) -> Snapshot {
    let mut snapshot = snapshot_paths(root, &[root.to_path_buf()]);
    snapshot.retain(|path, _| !["var/log", "var/log/sensorctl", "var/log/sensorctl/audit.log"].contains(&path.as_str()));
    snapshot
}

/// `after` equals `before` but for the mtimes of the directories named in `touched` (directories
/// in which a staging path or a temporary file was created and removed again).
fn assert_same_but_dir_mtimes(before: &Snapshot, after: &Snapshot, touched: &[&str], what: &str) {
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>(), "{what}: paths differ");
    for (path, node) in before {
        let theirs = &after[path];
        if touched.contains(&path.as_str()) {
            assert_eq!(Node { mtime: node.mtime, ..theirs.clone() }, *node, "{what}: {path}");
        } else {
            assert_eq!(theirs, node, "{what}: {path}");
        }
    }
}

fn set_mtime(path: &Path, secs: u64, nanos: u32) {
    let when = UNIX_EPOCH + Duration::new(secs, nanos);
    let file = fs::File::open(path).unwrap();
    file.set_times(fs::FileTimes::new().set_modified(when).set_accessed(when)).unwrap();
}

fn write(path: &Path, bytes: &[u8], mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Deterministic bytes: text-like when `text`, else noise.
fn bytes(len: usize, seed: u32, text: bool) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if text {
                b"modbus read coil 0x10 ok\n"[(state % 25) as usize]
            } else {
                state as u8
            }
        })
        .collect()
}

/// A tree exercising what backups must keep: nested and empty directories, a read-only
/// directory, modes, empty and block-sized files, noise, UTF-8 and long names (pax), and
/// mtimes with nanoseconds, on directories too.
fn populate(root: &Path) {
    let keys = root.join("var/cyberx/keys");
    write(&root.join("etc/sensorctl/config.json"), b"{\"version\": 1}\n", 0o644);
    write(&root.join("etc/sensorctl/secret.key"), &bytes(64, 1, false), 0o600);
    write(&keys.join("server.pem"), &bytes(3000, 2, true), 0o640);
    write(&keys.join("empty"), b"", 0o644);
    write(&keys.join("block"), &bytes(512, 3, false), 0o644);
    write(&keys.join("noise.bin"), &bytes(200_000, 4, false), 0o600);
    write(&keys.join("caf\u{e9} \u{2615} spaced.txt"), b"utf-8\n", 0o644);
    write(&keys.join("sub/deeper/leaf"), &bytes(70_000, 5, true), 0o755);
    fs::create_dir_all(keys.join("sub/empty-dir")).unwrap();
    let long = keys.join("d".repeat(90)).join("e".repeat(90)).join("f".repeat(90));
    write(&long.join("g".repeat(120)), b"a path of more than 300 bytes\n", 0o644);
    write(&keys.join("ro/inside"), b"in a read-only directory\n", 0o444);
    write(&root.join("var/cyberx/logs/traffic.log"), &bytes(1_000_000, 6, true), 0o640);
    if is_root() {
        std::os::unix::fs::chown(keys.join("server.pem"), Some(SUPPORT_UID), Some(CYBERX_UID)).unwrap();
    }
    // mtimes last, files before their directories (creating entries changes a directory's).
    let mut all: Vec<PathBuf> = Vec::new();
    for top in ["etc/sensorctl", "var/cyberx/keys", "var/cyberx/logs"] {
        let mut stack = vec![root.join(top)];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            }
            all.push(path);
        }
    }
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (n, path) in all.iter().enumerate() {
        set_mtime(path, 1_600_000_000 + n as u64 * 61, 123_456_789 + n as u32);
    }
    fs::set_permissions(keys.join("ro"), fs::Permissions::from_mode(0o555)).unwrap();
}

fn backups(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = match fs::read_dir(root.join(BACKUP_DIR)) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    found
}

fn backup_ok(root: &Path) -> (Run, PathBuf) {
    let before = backups(root);
    let run = sensorctl(root, &["system", "backup"]).run();
    assert_eq!(run.code, 0, "backup failed: {}{}", run.stdout, run.stderr);
    let made: Vec<PathBuf> = backups(root).into_iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(made.len(), 1, "{made:?}");
    (run, made[0].clone())
}

fn restore(root: &Path, name: &Path) -> Run {
    let name = name.file_name().unwrap().to_str().unwrap();
    sensorctl(root, &["system", "restore", "-f", name, "--yes"]).run()
}

#[test]
fn backup_then_restore_brings_back_every_byte_mode_owner_and_mtime() {
    let root = sandbox("bk-roundtrip");
    populate(root.path());
    let original = data(root.path());
    assert!(original.len() > 15, "{original:?}");
    let (run, file) = backup_ok(root.path());
    // The seed's lines, and a name of the seed's shape.
    assert!(run.stdout.contains("Skipping /var/cyberx/baselines: not present"), "{}", run.stdout);
    assert!(run.stdout.contains("Backing up /var/cyberx/keys\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("Finished backup. Backup is stored at {}\n", file.display())),
        "{}",
        run.stdout
    );
    let name = file.file_name().unwrap().to_str().unwrap().to_string();
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(name.starts_with(&format!("{}-", host.trim())), "{name}");
    assert!(name.contains("-backup-version-") && name.ends_with(".tar"), "{name}");
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
    let key = root.path().join("var/lib/sensorctl/backup.key");
    assert_eq!(fs::metadata(&key).unwrap().mode() & 0o777, 0o600);
    assert_eq!(fs::metadata(&key).unwrap().len(), 32);

    // Change, delete and add; a data path absent at backup time appears.
    let keys = root.path().join("var/cyberx/keys");
    fs::write(root.path().join("etc/sensorctl/config.json"), b"{\"version\": 1, \"shell_idle_timeout_s\": 42}")
        .unwrap();
    fs::remove_file(keys.join("noise.bin")).unwrap();
    fs::remove_dir_all(keys.join("sub")).unwrap();
    fs::write(keys.join("new-file"), b"not in the backup").unwrap();
    fs::set_permissions(keys.join("server.pem"), fs::Permissions::from_mode(0o666)).unwrap();
    set_mtime(&root.path().join("var/cyberx/logs/traffic.log"), 1, 0);
    write(&root.path().join("var/cyberx/baselines/b.bin"), b"baseline", 0o644);
    assert_ne!(data(root.path()), original);
    // A set-group-id parent: what is created beneath it takes the parent's group, and the
    // restore must still give every entry the group of the backup.
    if is_root() {
        let parent = root.path().join("var/cyberx");
        std::os::unix::fs::chown(&parent, None, Some(CYBERX_UID)).unwrap();
        fs::set_permissions(&parent, fs::Permissions::from_mode(0o2755)).unwrap();
    }

    let run = restore(root.path(), &file);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("HMAC-SHA256 verified."), "{}", run.stdout);
    assert!(run.stdout.contains("removed "), "the absent data path must be removed: {}", run.stdout);
    let restored = data(root.path());
    for (path, node) in &original {
        assert_eq!(restored.get(path), Some(node), "{path}");
    }
    assert_eq!(restored, original);
    // No staging, journal or old data left beside the data paths.
    let leftovers: Vec<String> = whole(root.path()).into_keys().filter(|p| p.contains("sensorctl-restore")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(!root.path().join("var/lib/sensorctl/restore-journal.json").exists());
    // Both are audited with how they ended; a refused restore too.
    let missing = root.path().join("var/cyberx/backups/nosuch-1-backup-version-1-2024-01-01_00:00:00.tar");
    assert_ne!(restore(root.path(), &missing).code, 0);
    let audit = fs::read_to_string(root.path().join("var/log/sensorctl/audit.log")).unwrap();
    let lines: Vec<&str> = audit.lines().collect();
    assert_eq!(lines.len(), 3, "{audit}");
    assert!(lines[0].ends_with("role=root action=backup target=- result=ok"), "{audit}");
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(lines[1].contains(&format!("action=restore target={name} result=ok")), "{audit}");
    assert!(lines[2].contains("action=restore") && lines[2].contains("result=\"failed: "), "{audit}");
}

#[test]
fn gnu_tar_and_python_read_the_backup_and_get_the_originals() {
    let root = sandbox("bk-gnutar");
    populate(root.path());
    let original = data(root.path());
    let (_, file) = backup_ok(root.path());

    // gzip(1) checks every member's CRC-32 and length.
    let gzip = Command::new("gzip").arg("-t").arg("-S").arg(".tar").arg(&file).output().unwrap();
    assert!(gzip.status.success(), "gzip -t: {}", String::from_utf8_lossy(&gzip.stderr));

    // tar -tf (no -z: GNU tar recognizes gzip by its magic number).
    let list = Command::new("tar").arg("-tf").arg(&file).output().unwrap();
    assert!(list.status.success(), "tar -tf: {}", String::from_utf8_lossy(&list.stderr));
    let listed: Vec<String> =
        String::from_utf8(list.stdout).unwrap().lines().map(|l| l.trim_end_matches('/').to_string()).collect();
    let mut expected: Vec<String> = original.keys().cloned().collect();
    expected.insert(0, "SENSORCTL-BACKUP-MANIFEST.jsonl".to_string());
    expected.push("SENSORCTL-BACKUP-HMAC".to_string());
    let mut sorted = listed.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
    assert_eq!(listed[0], "SENSORCTL-BACKUP-MANIFEST.jsonl", "the manifest is the first member");

    // tar -xf: the same contents, modes (tar keeps them as root) and mtimes (seconds: ustar).
    let out = TempDir::new("bk-gnutar-x");
    let extract = Command::new("tar").arg("-xf").arg(&file).arg("-C").arg(out.path()).output().unwrap();
    assert!(extract.status.success(), "tar -xf: {}", String::from_utf8_lossy(&extract.stderr));
    let extracted = data(out.path());
    assert_eq!(extracted.keys().collect::<Vec<_>>(), original.keys().collect::<Vec<_>>());
    for (path, node) in &original {
        let theirs = &extracted[path];
        assert_eq!((theirs.kind, theirs.size, &theirs.sha256), (node.kind, node.size, &node.sha256), "{path}");
        assert_eq!(theirs.mtime.0, node.mtime.0, "{path}");
        if is_root() {
            assert_eq!((theirs.mode, theirs.owner), (node.mode, node.owner), "{path}");
        }
    }
    let _ = Command::new("chmod").arg("-R").arg("u+w").arg(out.path()).status();

    // Python: tarfile reads it too; the manifest's SHA-256 sums and the HMAC, recomputed with
    // hashlib and hmac from the key file, match.
    let key = root.path().join("var/lib/sensorctl/backup.key");
    let script = r#"
import hashlib, hmac, json, struct, sys, tarfile
path, key = sys.argv[1], open(sys.argv[2], "rb").read()
with tarfile.open(path, "r:*") as tf:
    members = tf.getmembers()
    assert members[0].name == "SENSORCTL-BACKUP-MANIFEST.jsonl", members[0].name
    lines = tf.extractfile(members[0]).read().split(b"\n")
    head = json.loads(lines[0])
    entries, at = [], 1
    while True:
        line = json.loads(lines[at]); at += 1
        if line.get("end"):
            break
        entries.append(line)
    assert line["entries"] == len(entries), line
    hashes = [l.decode() for l in lines[at:] if l]
    files = [e for e in entries if e["type"] == "file"]
    assert len(hashes) == len(files) == line["files"], (len(hashes), len(files))
    for entry, digest in zip(files, hashes):
        data = tf.extractfile(entry["path"]).read()
        assert hashlib.sha256(data).hexdigest() == digest, entry["path"]
        assert len(data) == entry["size"]
    data_members = [m.name for m in members[1:-1]]
    assert data_members == [e["path"] for e in entries], "tar order is manifest order"
raw = open(path, "rb").read()
tail = raw[-2071:]
text = tail[15 + 512:15 + 1024].split(b"\0")[0].decode()
region = int(text.split("region=")[1].split(" ")[0])
mac = bytes.fromhex(text.split("hmac-sha256=")[1].strip())
body = raw[:-2071]
msg = b"sensorctl-backup-v1\n" + struct.pack(">QQ", region, len(body) - region) + \
    hashlib.sha256(body[:region]).digest() + hashlib.sha256(body[region:]).digest()
assert hmac.compare_digest(hmac.new(key, msg, hashlib.sha256).digest(), mac), "HMAC"
print("ok", head["board"], len(entries))
"#;
    let py = Command::new("python3").arg("-c").arg(script).arg(&file).arg(&key).output().unwrap();
    assert!(
        py.status.success(),
        "python: {}{}",
        String::from_utf8_lossy(&py.stdout),
        String::from_utf8_lossy(&py.stderr)
    );
    assert!(String::from_utf8_lossy(&py.stdout).starts_with("ok generic-x86 "));
}

/// Makes a backup file with Python's tarfile, hashlib and hmac: a manifest consistent with the
/// members, one gzip member, and the HMAC trailer under the appliance's key, so that a refusal
/// can only come from the extraction rules.
const HOSTILE_PY: &str = r#"
import gzip, hashlib, hmac, json, struct, sys, tarfile, zlib
key = open(sys.argv[1], "rb").read()
out, case, outside, absolute = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
MTIME = 1664469968
KEYS = "var/cyberx/keys"

def info(name, kind=tarfile.REGTYPE, size=0, mode=0o644, link="", dev=(0, 0), mtime=MTIME):
    t = tarfile.TarInfo(name)
    t.type, t.size, t.mode, t.mtime, t.linkname = kind, size, mode, mtime, link
    t.uid = t.gid = 0
    t.uname = t.gname = ""
    t.devmajor, t.devminor = dev
    return t

def member(t, data=b""):
    return t.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + data + b"\0" * (-len(data) % 512)

# (tarinfo, data, bytes actually written after the header or None for all of them)
entries = [(info(KEYS, tarfile.DIRTYPE, mode=0o755), b"", None)]
if case == "dotdot":
    entries.append((info("../x", size=4), b"evil", None))
elif case == "absolute":
    entries.append((info(absolute, size=4), b"evil", None))
elif case == "symlink-then-file":
    entries.append((info(KEYS + "/link", tarfile.SYMTYPE, link=outside), b"", None))
    entries.append((info(KEYS + "/link/evil", size=4), b"evil", None))
elif case == "symlink-then-dir":
    entries.append((info(KEYS + "/l", tarfile.SYMTYPE, link=outside), b"", None))
    entries.append((info(KEYS + "/l", tarfile.DIRTYPE, mode=0o755), b"", None))
    entries.append((info(KEYS + "/l/evil", size=4), b"evil", None))
elif case == "hardlink":
    entries.append((info(KEYS + "/h", tarfile.LNKTYPE, link="/etc/passwd"), b"", None))
elif case == "device":
    entries.append((info(KEYS + "/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3)), b"", None))
elif case == "fifo":
    entries.append((info(KEYS + "/fifo", tarfile.FIFOTYPE), b"", None))
elif case == "setuid":
    entries.append((info(KEYS + "/suid", size=4, mode=0o4755), b"evil", None))
elif case == "setgid-dir":
    entries.append((info(KEYS + "/sgid", tarfile.DIRTYPE, mode=0o2775), b"", None))
elif case == "duplicate":
    entries.append((info(KEYS + "/a", size=5), b"first", None))
    entries.append((info(KEYS + "/a", size=6), b"second", None))
elif case == "oversize":
    entries.append((info(KEYS + "/big", size=1000), b"0123456789", 10))
elif case in ("truncated", "not-gzip", "empty", "valid"):
    entries.append((info(KEYS + "/file", size=100000), bytes(range(256)) * 390 + b"x" * 160, None))
else:
    sys.exit("unknown case " + case)

head = {"format": 1, "product_version": "0.1.0-python", "board": "generic-x86", "hostname": "py",
        "created": "2022-09-29T16:46:08Z", "created_ms": MTIME * 1000,
        "roots": ["etc/sensorctl", KEYS, "var/cyberx/baselines", "var/cyberx/logs"]}
lines = [json.dumps(head)]
hashes = []
for t, data, _ in entries:
    kind = "dir" if t.isdir() else "file"
    lines.append(json.dumps({"path": t.name, "type": kind, "mode": t.mode, "uid": 0, "gid": 0,
                             "size": t.size, "mtime": t.mtime, "mtime_ns": 0}))
    if kind == "file":
        hashes.append(hashlib.sha256(data).hexdigest())
files = len(hashes)
lines.append(json.dumps({"end": True, "entries": len(entries), "files": files}))
manifest = ("\n".join(lines) + "\n" + "".join(h + "\n" for h in hashes)).encode()
tar = member(info("SENSORCTL-BACKUP-MANIFEST.jsonl", size=len(manifest), mode=0o600, mtime=0), manifest)
for t, data, written in entries:
    if written is None:
        tar += member(t, data)
    else:
        part = data[:written]
        tar += t.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + part + b"\0" * (-len(part) % 512)

body = gzip.compress(tar, mtime=0)
if case == "truncated":
    body = body[: len(body) // 2]
elif case == "not-gzip":
    body = tar
elif case == "empty":
    body = b""
region = 0
msg = b"sensorctl-backup-v1\n" + struct.pack(">QQ", region, len(body) - region) + \
    hashlib.sha256(body[:region]).digest() + hashlib.sha256(body[region:]).digest()
mac = hmac.new(key, msg, hashlib.sha256).hexdigest()
line = ("sensorctl-backup-hmac v1 region=%020d hmac-sha256=%s\n" % (region, mac)).encode()
content = info("SENSORCTL-BACKUP-HMAC", size=len(line), mode=0o600, mtime=0).tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")
content += line + b"\0" * (2048 - len(content) - len(line))
trailer = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\x01" + struct.pack("<HH", 2048, 0xFFFF ^ 2048) + \
    content + struct.pack("<II", zlib.crc32(content), len(content))
open(out, "wb").write(body + trailer)
"#;

const HOSTILE_NAME: &str = "hostile-1664469968000-backup-version-0.1.0-python-2022-09-29_16:46:08.tar";

fn hostile(root: &Path, case: &str, outside: &Path, absolute: &str) -> PathBuf {
    let file = root.join(BACKUP_DIR).join(HOSTILE_NAME);
    let key = root.join("var/lib/sensorctl/backup.key");
    let py = Command::new("python3")
        .args(["-c", HOSTILE_PY])
        .arg(&key)
        .arg(&file)
        .arg(case)
        .arg(outside)
        .arg(absolute)
        .output()
        .unwrap();
    assert!(py.status.success(), "python {case}: {}", String::from_utf8_lossy(&py.stderr));
    file
}

#[test]
fn hostile_archives_with_a_valid_hmac_are_refused_by_the_extraction_rules() {
    let root = sandbox("bk-hostile");
    populate(root.path());
    backup_ok(root.path()); // makes the key, the lock and the backup directory
    let outside = TempDir::new("bk-hostile-outside");
    let absolute = format!("{}/etc-x", outside.path().display());
    let absolute_rel = absolute.trim_start_matches('/').to_string();

    // First, the builder itself: a benign archive made the same way restores.
    let file = hostile(root.path(), "valid", outside.path(), &absolute);
    let run = restore(root.path(), &file);
    assert_eq!(run.code, 0, "a valid Python-made archive must restore: {}{}", run.stdout, run.stderr);
    assert_eq!(fs::read(root.path().join("var/cyberx/keys/file")).unwrap().len(), 100_000);
    assert!(!root.path().join("etc/sensorctl").exists(), "in the backup's roots without entries: removed");
    populate(root.path());

    let cases: &[(&str, String)] = &[
        ("dotdot", "'..' component in path '../x'".to_string()),
        ("absolute", format!("absolute path '/{}'", absolute_rel)),
        (
            "symlink-then-file",
            "'var/cyberx/keys/link' is a symbolic link (only files and directories are accepted)".to_string(),
        ),
        (
            "symlink-then-dir",
            "'var/cyberx/keys/l' is a symbolic link (only files and directories are accepted)".to_string(),
        ),
        ("hardlink", "'var/cyberx/keys/h' is a hard link (only files and directories are accepted)".to_string()),
        ("device", "'var/cyberx/keys/null' is a device node (only files and directories are accepted)".to_string()),
        ("fifo", "'var/cyberx/keys/fifo' is a FIFO (only files and directories are accepted)".to_string()),
        ("setuid", "'var/cyberx/keys/suid' has the setuid or setgid bit (mode 4755)".to_string()),
        ("setgid-dir", "'var/cyberx/keys/sgid' has the setuid or setgid bit (mode 2775)".to_string()),
        ("duplicate", "duplicate name 'var/cyberx/keys/a'".to_string()),
        ("oversize", "truncated archive: 'var/cyberx/keys/big' ends before its declared size".to_string()),
        ("truncated", "truncated gzip stream".to_string()),
        ("not-gzip", "not gzip data (bad magic number)".to_string()),
        ("empty", "empty file, not gzip data".to_string()),
    ];
    for (case, why) in cases {
        let file = hostile(root.path(), case, outside.path(), &absolute);
        let before = whole(root.path());
        let run = restore(root.path(), &file);
        let expected =
            format!("sensorctl: system restore: backup {HOSTILE_NAME} refused: {why}; nothing was changed\n");
        assert_eq!((run.code, run.stderr.as_str()), (1, expected.as_str()), "{case}: {}", run.stdout);
        assert!(run.stdout.contains("HMAC-SHA256 verified."), "{case}: only the rules may refuse it: {}", run.stdout);
        // The staging paths are made and removed beside the data paths: only their parents'
        // mtimes may differ.
        assert_same_but_dir_mtimes(&before, &whole(root.path()), &["etc", "var/cyberx"], case);
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0, "{case}: something was written outside");
        assert!(!root.path().join("var/cyberx/x").exists() && !root.path().join("var/x").exists(), "{case}");
        fs::remove_file(&file).unwrap();
    }

    // A file of zero bytes is no backup at all.
    let empty = root.path().join(BACKUP_DIR).join(HOSTILE_NAME);
    fs::write(&empty, b"").unwrap();
    let run = restore(root.path(), &empty);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("refused: empty file, not a sensorctl backup; nothing was changed"), "{}", run.stderr);
}

#[test]
fn a_one_byte_change_anywhere_is_refused_by_the_hmac() {
    let root = sandbox("bk-tamper");
    write(&root.path().join("etc/sensorctl/config.json"), b"{\"version\": 1}\n", 0o644);
    write(&root.path().join("var/cyberx/keys/k"), &bytes(5000, 9, false), 0o600);
    write(&root.path().join("var/cyberx/logs/l"), &bytes(20_000, 10, true), 0o644);
    let (_, file) = backup_ok(root.path());
    let pristine = fs::read(&file).unwrap();
    let before = data(root.path());
    // Every byte of the trailer and of the headers, and bytes spread over the rest.
    let len = pristine.len();
    let mut positions: Vec<usize> = (0..600).chain(len - 2071..len).collect();
    positions.extend((0..len).step_by(len / 97));
    positions.sort_unstable();
    positions.dedup();
    // Through the binary for a sample of the positions (each run costs a process); the unit
    // test of create.rs flips every byte of a backup through the verifier itself.
    for &at in positions.iter().step_by(7) {
        let mut bytes = pristine.clone();
        bytes[at] ^= 0x20;
        fs::write(&file, &bytes).unwrap();
        {
            let run = restore(root.path(), &file);
            assert_eq!(run.code, 1, "byte {at}: {}", run.stdout);
            assert!(
                run.stderr.contains("HMAC mismatch") || run.stderr.contains("no valid HMAC trailer"),
                "byte {at}: {}",
                run.stderr
            );
            assert!(!run.stdout.contains("HMAC-SHA256 verified"), "byte {at}");
        }
    }
    fs::write(&file, &pristine).unwrap();
    assert_eq!(data(root.path()), before);
    let run = restore(root.path(), &file);
    assert_eq!(run.code, 0, "the untouched file restores: {}", run.stderr);
    // Appending or cutting a byte is refused as well.
    let mut longer = pristine.clone();
    longer.push(0);
    fs::write(&file, &longer).unwrap();
    assert_eq!(restore(root.path(), &file).code, 1);
    fs::write(&file, &pristine[1..]).unwrap();
    assert_eq!(restore(root.path(), &file).code, 1);
    // A backup made on another appliance (another key) is refused too.
    fs::write(&file, &pristine).unwrap();
    fs::write(root.path().join("var/lib/sensorctl/backup.key"), [7u8; 32]).unwrap();
    let run = restore(root.path(), &file);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("HMAC mismatch: the backup was changed after it was made, or made on another appliance"),
        "{}",
        run.stderr
    );
}

fn board_with_limit(dir: &Path, limit: u64) -> String {
    let path = dir.join(format!("board-limit-{limit}.json"));
    fs::write(&path, board_json(|t| t.replace("21474836480", &limit.to_string()))).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn rotation_keeps_the_newest_within_the_limit_and_a_backup_that_cannot_fit_fails_cleanly() {
    let root = sandbox("bk-rotate");
    write(&root.path().join("var/cyberx/keys/noise"), &bytes(100_000, 11, false), 0o600);
    let (_, first) = backup_ok(root.path());
    let size = fs::metadata(&first).unwrap().len();
    // Room for two backups and a half: every new one pushes the oldest out.
    let boards = TempDir::new("bk-rotate-boards");
    let board = board_with_limit(boards.path(), size * 5 / 2);
    let mut made = vec![first];
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(5));
        let before = backups(root.path());
        let run = sensorctl(root.path(), &["--board", &board, "system", "backup"]).run();
        assert_eq!(run.code, 0, "{}", run.stderr);
        let new: Vec<PathBuf> = backups(root.path()).into_iter().filter(|p| !before.contains(p)).collect();
        made.push(new[0].clone());
        let now = backups(root.path());
        let total: u64 = now.iter().map(|p| fs::metadata(p).unwrap().len()).sum();
        assert!(total <= size * 5 / 2, "{total}");
        assert_eq!(now.len(), 2, "{now:?}");
        let newest_two = &made[made.len() - 2..];
        assert!(newest_two.iter().all(|p| now.contains(p)), "the oldest go first: {now:?}");
        if made.len() >= 3 {
            let removed = made[made.len() - 3].file_name().unwrap().to_string_lossy().into_owned();
            assert!(run.stdout.contains(&format!("Removed old backup {removed} (backup limit is ")), "{}", run.stdout);
        }
    }

    // A limit smaller than one backup: it fails, says why, and leaves everything as it was.
    let before = whole(root.path());
    let tiny = board_with_limit(boards.path(), size / 2);
    let run = sensorctl(root.path(), &["--board", &tiny, "system", "backup"]).run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("the backup does not fit within the backup limit of"), "{}", run.stderr);
    assert!(!run.stdout.contains("Finished backup"), "{}", run.stdout);
    // Nothing but the recorded state changed: no new file, no temporary file, no backup removed.
    let mut after = whole(root.path());
    let state = "var/lib/sensorctl/backup-state.json";
    assert_ne!(after.get(state), before.get(state));
    after.insert(state.to_string(), before[state].clone());
    assert_same_but_dir_mtimes(&before, &after, &[BACKUP_DIR, "var/lib/sensorctl"], "a backup that does not fit");
    assert_eq!(backups(root.path()).len(), 2);
    let state = fs::read_to_string(root.path().join("var/lib/sensorctl/backup-state.json")).unwrap();
    assert!(state.contains("\"last_status\":\"FAILED\""), "{state}");
    let space = sensorctl(root.path(), &["system", "backup", "space"]).run();
    assert!(space.stdout.contains("(FAILED)"), "{}", space.stdout);
}

#[test]
fn list_and_space_print_the_seed_blocks_and_agree_with_du_and_df() {
    let root = sandbox("bk-list");
    let run = sensorctl(root.path(), &["system", "backup-list"]).run();
    assert_eq!((run.code, run.stdout.as_str()), (0, "backup files:\n"));
    let run = sensorctl(root.path(), &["system", "backup", "space"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("Last backup: never\n"), "{}", run.stdout);

    write(&root.path().join("var/cyberx/logs/l"), &bytes(300_000, 12, true), 0o644);
    let (_, older) = backup_ok(root.path());
    std::thread::sleep(Duration::from_millis(5));
    let (_, newer) = backup_ok(root.path());
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    for args in [&["system", "backup-list"][..], &["system", "backup", "list"][..]] {
        let run = sensorctl(root.path(), args).run();
        assert_eq!(run.stdout, format!("backup files:\n\t{}\n\t{}\n", name(&newer), name(&older)), "{args:?}");
    }
    // A damaged backup shows as such in the JSON listing.
    let mut bytes = fs::read(&older).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    fs::write(&older, bytes).unwrap();
    let run = sensorctl(root.path(), &["system", "backup-list", "--json"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.stdout.trim();
    assert!(json.starts_with(&format!("[{{\"name\":\"{}\"", name(&newer))), "{json}");
    assert!(json.contains("\"verified\":\"ok\""), "{json}");
    assert!(json.contains("\"verified\":\"failed: HMAC mismatch"), "{json}");
    assert!(json.contains(&format!("\"size\":{}", fs::metadata(&newer).unwrap().len())), "{json}");
    assert!(json.contains("\"board\":\"generic-x86\""), "{json}");

    let run = sensorctl(root.path(), &["system", "backup", "space"]).run();
    let dir = root.path().join(BACKUP_DIR);
    let du = Command::new("du").arg("-sh").arg(&dir).output().unwrap();
    let du = String::from_utf8(du.stdout).unwrap();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], du.trim_end(), "du -sh is the peer for the first line");
    assert_eq!(lines[1], "Backup limit is: 20Gb");
    assert!(lines[2].starts_with("Last backup: ") && lines[2].ends_with(" (SUCCESS)"), "{}", lines[2]);
    assert!(lines[3].starts_with("Free space for backups: "), "{}", lines[3]);
    let run = sensorctl(root.path(), &["system", "backup", "space", "--json"]).run();
    let df = Command::new("df").args(["-B1", "--output=avail"]).arg(&dir).output().unwrap();
    let df: f64 = String::from_utf8(df.stdout).unwrap().lines().nth(1).unwrap().trim().parse().unwrap();
    let free: f64 = run.stdout.split("\"free_bytes\":").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    assert!((free - df).abs() <= df * 0.01 + 1e6, "ours {free}, df {df}");
    assert!(run.stdout.contains("\"limit_bytes\":21474836480"), "{}", run.stdout);
}

#[test]
fn roles_and_aliases_follow_the_policy() {
    let root = sandbox("bk-roles");
    write(&root.path().join("etc/sensorctl/config.json"), b"{\"version\": 1}\n", 0o644);
    let as_role = |role: &str, args: &[&str]| {
        let mut all = vec!["--role", role];
        all.extend_from_slice(args);
        sensorctl(root.path(), &all).run()
    };
    assert_eq!(as_role("support", &["system", "backup"]).code, 0);
    assert_eq!(as_role("cyberx", &["system", "backup", "create"]).code, 0);
    assert_eq!(as_role("support", &["system", "backup-list"]).code, 0);
    let denied = as_role("support", &["system", "backup", "space"]);
    assert_eq!(
        (denied.code, denied.stderr.as_str()),
        (77, "sensorctl: system backup space: permission denied for role support\n")
    );
    assert_eq!(as_role("cyberx", &["system", "backup", "space"]).code, 0);
    let before = data(root.path());
    for args in [&["system", "backup"][..], &["system", "backup-list"][..], &["system", "restore", "--yes"][..]] {
        let run = as_role("cyberx_host", args);
        assert_eq!(run.code, 77, "{args:?}: {}", run.stderr);
    }
    assert_eq!(data(root.path()), before);
    assert_eq!(backups(root.path()).len(), 2);

    // The cyberx-* names, through symlinks.
    let dir = TempDir::new("bk-aliases");
    let run = Invocation::new(alias(dir.path(), "cyberx-xsense-system-backup-list"), root.path(), &[]).run();
    assert!(run.stdout.starts_with("backup files:\n\t"), "{}", run.stdout);
    let run = Invocation::new(alias(dir.path(), "cyberx-backup-memory-check"), root.path(), &[]).run();
    assert!(run.stdout.contains("Backup limit is: 20Gb"), "{}", run.stdout);
    let run = Invocation::new(alias(dir.path(), "cyberx-xsense-system-backup"), root.path(), &[]).run();
    assert!(run.stdout.contains("Finished backup."), "{}", run.stdout);
    let run = Invocation::new(alias(dir.path(), "cyberx-xsense-system-restore"), root.path(), &["--yes"]).run();
    assert!(run.stdout.contains("Restore finished"), "{}{}", run.stdout, run.stderr);

    // A user without a role is turned away (by the daemon) before anything happens.
    if is_root() {
        let _daemon = Daemon::start(root.path());
        let run = sensorctl(root.path(), &["system", "backup-list"]).uid(STRANGER_UID).run();
        assert_eq!(run.code, 77, "{}", run.stderr);
        let run = sensorctl(root.path(), &["system", "restore", "--yes"]).uid(STRANGER_UID).run();
        assert_eq!(run.code, 77, "{}", run.stderr);
    } else {
        skip("running as another uid needs root");
    }
    // Bad names change nothing.
    for name in ["../../etc/shadow", "/etc/x.tar", "no-such-backup.tar"] {
        let run = sensorctl(root.path(), &["system", "restore", "-f", name, "--yes"]).run();
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
    }
}

/// `system backup export NAME` (issue 24): the file, base64, through the daemon to cyberx, who
/// cannot read the backup directory; every export is audited; names that are not a backup's
/// (a path, a link, another file) are refused and nothing is written.
#[test]
fn export_gives_cyberx_the_backup_byte_for_byte_through_the_daemon_and_is_audited() {
    if !is_root() {
        skip("running as cyberx's uid needs root");
        return;
    }
    let root = sandbox("bk-export");
    populate(root.path());
    let (_, path) = backup_ok(root.path());
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    let _daemon = Daemon::start(root.path());
    let run = sensorctl(root.path(), &["system", "backup", "export", &name]).uid(CYBERX_UID).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.lines().all(|l| l.len() <= 4096 && !l.is_empty()), "lines of at most 4096 characters");
    // Decoded by an independent decoder.
    let mut python = Command::new("python3")
        .args(["-c", "import base64, sys; sys.stdout.buffer.write(base64.b64decode(sys.stdin.read()))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut python.stdin.take().unwrap(), run.stdout.as_bytes()).unwrap();
    let decoded = python.wait_with_output().unwrap();
    assert!(decoded.status.success());
    assert_eq!(decoded.stdout, fs::read(&path).unwrap(), "the export is not the file");
    let audit = fs::read_to_string(root.path().join("var/log/sensorctl/audit.log")).unwrap();
    assert!(audit.lines().any(|l| l.contains("action=backup-export") && l.contains(&name) && l.ends_with("result=ok")), "{audit}");
    // Support may list backups but not take one away.
    let denied = sensorctl(root.path(), &["system", "backup", "export", &name]).uid(SUPPORT_UID).run();
    assert_eq!((denied.code, denied.stdout.as_str()), (77, ""), "{}", denied.stderr);
    // Not a backup of the directory: a path, a link to a file outside, a name that is not there.
    let outside = root.path().join("etc/sensorctl/secret-1-backup-version-1-2022-09-29_18:30:20.tar");
    write(&outside, b"not for export", 0o600);
    let link = "link-1-backup-version-1-2022-09-29_18:30:20.tar";
    std::os::unix::fs::symlink(&outside, root.path().join(BACKUP_DIR).join(link)).unwrap();
    for bad in ["../../etc/sensorctl/config.json", "/var/cyberx/backups/x.tar", link, "gone-1-backup-version-1-2022-09-29_18:30:20.tar"] {
        let run = sensorctl(root.path(), &["system", "backup", "export", bad]).uid(CYBERX_UID).run();
        assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{bad}: {}", run.stderr);
    }
}

#[test]
fn restore_asks_twice_and_does_nothing_unless_both_answers_are_yes() {
    let root = sandbox("bk-prompts");
    write(&root.path().join("var/cyberx/keys/k"), b"version one", 0o600);
    let (_, file) = backup_ok(root.path());
    write(&root.path().join("var/cyberx/keys/k"), b"version two", 0o600);
    let before = data(root.path());
    for answers in ["n\n", "y\nn\n", "", "y\n", "nope\ny\n"] {
        let run = sensorctl(root.path(), &["system", "restore"]).stdin(answers.as_bytes()).run();
        assert_eq!(run.code, 1, "{answers:?}: {}", run.stdout);
        assert!(run.stdout.contains("Restore cancelled; nothing was changed."), "{answers:?}: {}", run.stdout);
        assert_eq!(data(root.path()), before, "{answers:?}");
    }
    let run = sensorctl(root.path(), &["system", "restore"]).stdin(b"\ny\n").run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let expected = format!(
        "Use backup file as \"{}\" ? [Y/n]: \nWARNING - the following procedure will restore data. do not stop or power off the server machine while this procedure is running. Are you sure you wish to proceed? [Y/n]: y\n",
        file.display()
    );
    assert!(run.stdout.starts_with(&expected), "{}", run.stdout);
    assert_eq!(fs::read(root.path().join("var/cyberx/keys/k")).unwrap(), b"version one");
}

/// Python's hashlib and hmac recompute each file's HMAC with the appliance key.
const VERIFY_PY: &str = r#"
import hashlib, hmac, struct, sys
key = open(sys.argv[1], "rb").read()
for path in sys.argv[2:]:
    raw = open(path, "rb").read()
    assert len(raw) >= 2071, path + ": too short"
    text = raw[-2071 + 15 + 512:-2071 + 15 + 1024].split(b"\0")[0].decode()
    region = int(text.split("region=")[1].split(" ")[0])
    mac = bytes.fromhex(text.split("hmac-sha256=")[1].strip())
    body = raw[:-2071]
    msg = b"sensorctl-backup-v1\n" + struct.pack(">QQ", region, len(body) - region) + \
        hashlib.sha256(body[:region]).digest() + hashlib.sha256(body[region:]).digest()
    assert hmac.compare_digest(hmac.new(key, msg, hashlib.sha256).digest(), mac), path + ": HMAC"
print(len(sys.argv) - 2)
"#;

fn python_verifies(root: &Path, files: &[PathBuf]) -> usize {
    let out = Command::new("python3")
        .args(["-c", VERIFY_PY])
        .arg(root.join("var/lib/sensorctl/backup.key"))
        .args(files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Runs `args`, kills it with SIGKILL after `delay` (if it still runs), and reaps it.
fn run_and_kill(root: &Path, args: &[&str], delay: Duration) -> bool {
    let mut child = sensorctl(root, args)
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    kill_9_after(&mut child, delay)
}

fn crash_data(root: &Path, seed: u32) {
    for n in 0..300u32 {
        write(
            &root.join(format!("var/cyberx/keys/d{}/k{n}", n % 7)),
            &bytes(2000 + n as usize, seed + n, n % 3 == 0),
            0o600,
        );
    }
    write(&root.join("var/cyberx/logs/a.log"), &bytes(2_000_000, seed, true), 0o644);
    write(&root.join("var/cyberx/baselines/b.bin"), &bytes(1_000_000, seed + 1, false), 0o644);
    write(&root.join("etc/sensorctl/config.json"), format!("{{\"version\": 1, \"shell_idle_timeout_s\": {}}}\n", seed + 1).as_bytes(), 0o644);
}

#[test]
fn kill_9_during_backup_never_leaves_a_backup_name_that_fails_verification() {
    let root = sandbox("bk-kill-backup");
    crash_data(root.path(), 1);
    // Kill delays spread over the time a backup takes (the quicker of two).
    let took = (0..2)
        .map(|_| {
            let started = Instant::now();
            backup_ok(root.path());
            started.elapsed()
        })
        .min()
        .unwrap();
    let mut rng = Rng::new();
    let mut killed = 0;
    let mut attempts = 0;
    // The window adapts: a run that finished before its kill (the machine got less busy than
    // when `took` was measured) narrows it, so that the kills keep landing inside backups.
    let mut window = took.mul_f64(0.95);
    while attempts < 20 || (killed < 8 && attempts < 60) {
        attempts += 1;
        if run_and_kill(root.path(), &["system", "backup"], rng.duration_below(window)) {
            killed += 1;
        } else {
            window = window.mul_f64(0.75);
        }
        let finals: Vec<PathBuf> = backups(root.path())
            .into_iter()
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        assert_eq!(python_verifies(root.path(), &finals), finals.len());
    }
    eprintln!("{killed} of {attempts} runs were killed before they finished");
    assert!(killed >= 8, "the kills came too late to test anything ({killed} of {attempts})");
    let run = sensorctl(root.path(), &["system", "backup-list", "--json"]).run();
    assert!(!run.stdout.contains("\"failed"), "{}", run.stdout);
    // The next backup removes what killed ones left behind.
    backup_ok(root.path());
    let temporaries: Vec<PathBuf> = backups(root.path())
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(temporaries.is_empty(), "{temporaries:?}");
}

#[test]
fn kill_9_during_restore_leaves_the_old_or_the_new_data_complete() {
    let root = sandbox("bk-kill-restore");
    // Recovery runs before any backup; these go to a directory of their own so that rotation
    // never touches the two backups under test.
    let boards = TempDir::new("bk-kill-restore-board");
    let board = boards.path().join("board.json");
    fs::write(&board, board_json(|t| t.replace("/var/cyberx/backups", "/var/cyberx/other-backups"))).unwrap();
    let board = board.to_str().unwrap();

    crash_data(root.path(), 100);
    let state_a = data(root.path());
    let (_, file_a) = backup_ok(root.path());
    for top in ["var/cyberx/keys", "var/cyberx/logs", "var/cyberx/baselines", "etc/sensorctl"] {
        fs::remove_dir_all(root.path().join(top)).unwrap();
    }
    crash_data(root.path(), 200);
    write(&root.path().join("var/cyberx/keys/only-in-b"), b"b", 0o644);
    let state_b = data(root.path());
    let (_, file_b) = backup_ok(root.path());
    assert_ne!(state_a, state_b);
    let per_root = |snap: &Snapshot, top: &str| -> Snapshot {
        snap.iter()
            .filter(|(p, _)| p.as_str() == top || p.starts_with(&format!("{top}/")))
            .map(|(p, n)| (p.clone(), n.clone()))
            .collect()
    };

    let timed = |file: &Path| {
        let started = Instant::now();
        assert_eq!(restore(root.path(), file).code, 0);
        started.elapsed()
    };
    let took = timed(&file_b).min(timed(&file_a));
    assert_eq!(data(root.path()), state_a);
    let mut current = 'a';
    let mut rng = Rng::new();
    let mut killed = 0;
    let mut round = 0;
    // The window adapts as the backup test's does: a restore that finished before its kill (the
    // machine got less busy than when `took` was measured) narrows it.
    let mut window = took.mul_f64(0.95);
    while round < 20 || (killed < 8 && round < 60) {
        round += 1;
        let (file, old, new) =
            if current == 'a' { (&file_b, &state_a, &state_b) } else { (&file_a, &state_b, &state_a) };
        let name = file.file_name().unwrap().to_str().unwrap();
        if run_and_kill(root.path(), &["system", "restore", "-f", name, "--yes"], rng.duration_below(window)) {
            killed += 1;
        } else {
            window = window.mul_f64(0.75);
        }
        // Each data path is swapped in one atomic step: right after the kill, each holds its
        // old or its new data, complete.
        let now = data(root.path());
        for top in ROOTS {
            let here = per_root(&now, top);
            assert!(
                here == per_root(old, top) || here == per_root(new, top),
                "round {round}: {top} is neither old nor new"
            );
        }
        // The next backup first finishes an interrupted swap: then all of it is old or new.
        let run = sensorctl(root.path(), &["--board", board, "system", "backup"]).run();
        assert_eq!(run.code, 0, "round {round}: {}", run.stderr);
        let now = data(root.path());
        current = if now == *old {
            if current == 'a' {
                'a'
            } else {
                'b'
            }
        } else if now == *new {
            if current == 'a' {
                'b'
            } else {
                'a'
            }
        } else {
            panic!("round {round}: the data is a mix of the old and the new");
        };
        let leftovers: Vec<String> =
            whole(root.path()).into_keys().filter(|p| p.contains("sensorctl-restore")).collect();
        assert!(leftovers.is_empty(), "round {round}: {leftovers:?}");
        let _ = fs::remove_dir_all(root.path().join("var/cyberx/other-backups"));
    }
    eprintln!("{killed} of {round} restores were killed before they finished");
    assert!(killed >= 8, "the kills came too late to test anything ({killed} of {round})");
}

/// The sensorctl process under `/usr/bin/time` (its only child), once it exists.
fn child_of(pid: u32) -> Option<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

struct Observed {
    max_rss_kb: u64,
    nice: Option<i32>,
    ionice: Option<String>,
    threads: Option<u32>,
}

/// Runs sensorctl under /usr/bin/time, sampling its priorities and threads while it runs.
fn observe(root: &Path, args: &[&str]) -> Observed {
    let report = root.join("time.out");
    let inner = sensorctl(root, args).command();
    let mut outer = Command::new("/usr/bin/time");
    outer.arg("-f").arg("%M").arg("-o").arg(&report);
    let mut timer = wrapped(outer, &inner).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut seen = Observed { max_rss_kb: 0, nice: None, ionice: None, threads: None };
    while timer.try_wait().unwrap().is_none() {
        // Every reading is taken only while the process is alive: between its exit and its reaping
        // by /usr/bin/time it is a zombie, which has no I/O context (`ionice -p` says "none").
        if let Some(pid) = child_of(timer.id()) {
            let nice = sample_live(pid, || {
                let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                let after = &stat[stat.rfind(')')? + 2..];
                after.split(' ').nth(16)?.parse::<i32>().ok()
            });
            seen.nice = nice.or(seen.nice);
            let threads = sample_live(pid, || {
                let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                status.lines().find_map(|l| l.strip_prefix("Threads:"))?.trim().parse::<u32>().ok()
            });
            seen.threads = seen.threads.max(threads);
            // The I/O priority is set before nice 19, so at nice 19 it must already be there.
            if nice == Some(19) {
                let ionice = sample_live(pid, || {
                    let out = Command::new("ionice").arg("-p").arg(pid.to_string()).output().ok()?;
                    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
                });
                seen.ionice = ionice.or(seen.ionice);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = timer.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(timer.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{args:?}: {stderr}");
    seen.max_rss_kb = fs::read_to_string(&report).unwrap().trim().lines().last().unwrap().parse().unwrap();
    seen
}

#[test]
fn two_hundred_megabytes_back_up_and_restore_in_under_8_mib_at_low_priority_in_one_thread() {
    if under_qemu() {
        skip_on_this_target("under qemu-user the peak RSS and priorities are qemu's, not sensorctl's");
        return;
    }
    if std::env::var_os("SENSORCTL_BIN").is_none() {
        // The budget is the shipped binary's: a debug build maps far more code.
        skip("the 8 MiB budget applies to the release artifact (scripts/test sets SENSORCTL_BIN)");
        return;
    }
    // tmpfs when there is one: the test is about memory and priorities, not the disk.
    let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let root = TempDir::under(&base, "bk-footprint");
    fs::create_dir_all(root.path().join("etc")).unwrap();
    fs::copy(sandbox("bk-footprint-passwd").path().join("etc/passwd"), root.path().join("etc/passwd")).unwrap();
    let logs = root.path().join("var/cyberx/logs");
    fs::create_dir_all(&logs).unwrap();
    // One 200 MB file, partly compressible: 100 MB of noise, then 100 MB of log lines.
    let big = logs.join("big.bin");
    let sh = format!(
        "head -c 100000000 /dev/urandom > '{0}' && yes '2022-09-29T18:30:20Z modbus read coil 0x10 from 10.0.0.7 ok' | head -c 100000000 >> '{0}'",
        big.display()
    );
    assert!(Command::new("sh").arg("-c").arg(&sh).status().unwrap().success());
    assert_eq!(fs::metadata(&big).unwrap().len(), 200_000_000);
    let before = data(root.path());

    let backup = observe(root.path(), &["system", "backup"]);
    eprintln!(
        "backup: peak RSS {} KiB, nice {:?}, {:?}, threads {:?}",
        backup.max_rss_kb, backup.nice, backup.ionice, backup.threads
    );
    assert!(backup.max_rss_kb < 8 * 1024, "backup peak RSS {} KiB", backup.max_rss_kb);
    assert_eq!(backup.nice, Some(19));
    assert_eq!(backup.ionice.as_deref(), Some("best-effort: prio 7"));
    assert_eq!(backup.threads, Some(1));

    fs::remove_file(&big).unwrap();
    let restore = observe(root.path(), &["system", "restore", "--yes"]);
    eprintln!(
        "restore: peak RSS {} KiB, nice {:?}, {:?}, threads {:?}",
        restore.max_rss_kb, restore.nice, restore.ionice, restore.threads
    );
    assert!(restore.max_rss_kb < 8 * 1024, "restore peak RSS {} KiB", restore.max_rss_kb);
    assert_eq!(restore.nice, Some(19));
    assert_eq!(restore.threads, Some(1));
    assert_eq!(data(root.path()), before);
}

#[test]
fn a_data_path_that_is_a_symbolic_link_is_skipped_by_backup_and_refused_by_restore() {
    let root = sandbox("bk-symlink-root");
    let elsewhere = TempDir::new("bk-symlink-target");
    write(&elsewhere.path().join("a.log"), b"log", 0o644);
    write(&root.path().join("var/cyberx/keys/k"), b"key", 0o600);
    std::os::unix::fs::symlink(elsewhere.path(), root.path().join("var/cyberx/logs")).unwrap();
    let (run, file) = backup_ok(root.path());
    assert!(
        run.stdout.contains("Skipping /var/cyberx/logs: a symbolic link (backups hold files and directories only)"),
        "{}",
        run.stdout
    );
    let before = whole(root.path());
    let run = restore(root.path(), &file);
    assert_eq!(run.code, 69, "{}", run.stderr);
    assert!(run.stderr.contains("/var/cyberx/logs is a symbolic link; restore swaps data paths by renaming them"), "{}", run.stderr);
    assert_same_but_dir_mtimes(&before, &whole(root.path()), &["etc", "var/cyberx"], "symlinked data path");
    assert_eq!(fs::read(elsewhere.path().join("a.log")).unwrap(), b"log");
}
