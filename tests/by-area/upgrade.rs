//! Signed software upgrade through the real binary. Packages are made by independent peers:
//! Python's tarfile writes the tar and the manifest, OpenSSL makes the Ed25519 keys and
//! signatures (so a good package, and every hostile one, is built without our code); our own
//! `package build` output is checked with GNU tar and `openssl pkeyutl -verify`.
//! Covered: apply, commit (explicit and at daemon start), rollback (failed health, manual),
//! every refusal leaving the active slot untouched, untrusted key files, kill -9 during 20
//! applies, not enough space on a small tmpfs, and ab-block on plain files.


use crate::common::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SLOTS: &str = "opt/sensorctl";

/// Builds a package from a JSON spec with tarfile, hashlib and openssl (see `Appliance::pkg`).
const MKPKG: &str = r#"
import hashlib, io, json, subprocess, sys, tarfile
spec = json.load(open(sys.argv[1]))
entries = spec["entries"]
def kind(e): return "dir" if e["type"] == "dir" else "file"
def mode(e): return e.get("mode", 0o755 if e["type"] == "dir" else 0o644)
files = []
for e in entries + spec.get("manifest_only", []):
    data = e.get("data", "").encode()
    files.append({"path": e["path"], "kind": kind(e), "mode": mode(e),
                  "size": 0 if kind(e) == "dir" else len(data),
                  "sha256": "" if kind(e) == "dir" else hashlib.sha256(data).hexdigest()})
manifest = {"format": 1, "product": spec.get("product", "sensorctl"), "version": spec["version"],
            "boards": spec.get("boards", ["up-test"]), "min_version": spec.get("min_version", "0"), "files": files}
mbytes = json.dumps(manifest).encode()
sig = None
if spec.get("key"):
    open(spec["out"] + ".manifest", "wb").write(mbytes)
    subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", spec["key"], "-rawin",
                    "-in", spec["out"] + ".manifest", "-out", spec["out"] + ".sig"], check=True)
    sig = open(spec["out"] + ".sig", "rb").read()
if spec.get("tamper"):
    old, new = spec["tamper"]
    assert old.encode() in mbytes
    mbytes = mbytes.replace(old.encode(), new.encode())
with tarfile.open(spec["out"], "w", format=tarfile.USTAR_FORMAT) as tar:
    def add(name, data, typ=tarfile.REGTYPE, mode=0o644, link=""):
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.linkname, info.mtime = typ, mode, link, 0
        info.size = len(data) if typ == tarfile.REGTYPE else 0
        tar.addfile(info, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
    add("manifest.json", mbytes)
    if sig is not None:
        add("manifest.sig", sig)
    for e in entries + spec.get("extra", []):
        data = e.get("data", "").encode()
        if e["path"] == spec.get("flip"):
            data = bytes([data[0] ^ 1]) + data[1:]
        typ = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
               "hardlink": tarfile.LNKTYPE}[e["type"]]
        add(e["path"], data, typ, mode(e), e.get("link", ""))
"#;

fn sh(argv: &[&str]) -> String {
    let out = Command::new(argv[0]).args(&argv[1..]).output().unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert!(out.status.success(), "{argv:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have_peers() -> bool {
    let ok = |p: &str| Command::new(p).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
        || Command::new(p).arg("version").output().map(|o| o.status.success()).unwrap_or(false);
    if !(ok("python3") && ok("openssl")) {
        skip("python3 and openssl are the independent package builders");
        return false;
    }
    true
}

/// An OpenSSL Ed25519 key: the PEM private key and the public key as 64 hex digits.
fn openssl_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let pem = dir.join(format!("{name}.pem"));
    sh(&["openssl", "genpkey", "-algorithm", "ed25519", "-out", pem.to_str().unwrap()]);
    let der = Command::new("openssl").args(["pkey", "-pubout", "-outform", "DER", "-in"]).arg(&pem).output().unwrap();
    let raw = &der.stdout[der.stdout.len() - 32..];
    (pem, raw.iter().map(|b| format!("{b:02x}")).collect())
}

/// The test board (`up-test`): generic-x86 with its slots, and services that are all up
/// (none) or one that is down.
fn board(healthy: bool) -> String {
    board_json(|text| {
        let start = text.find("\"services\": [").unwrap();
        let end = start + text[start..].find("],\n").unwrap() + 1;
        let services = if healthy { "[]" } else { r#"[{"name": "Core API", "pidfile": "/run/none.pid"}]"# };
        format!("{}\"services\": {services}{}", &text[..start], &text[end..])
            .replacen("\"name\": \"generic-x86\"", "\"name\": \"up-test\"", 1)
    })
}

struct Appliance {
    root: TempDir,
    work: TempDir,
    key: PathBuf,
}

type Tree = BTreeMap<String, (char, u32, Vec<u8>)>;

/// What lstat(2) and read(2) show of a tree: type, mode, content.
fn tree(dir: &Path) -> Tree {
    fn walk(base: &Path, dir: &Path, out: &mut Tree) {
        let mut names: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        for path in names {
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            let mode = meta.mode() & 0o7777;
            if meta.is_dir() {
                out.insert(rel, ('d', mode, vec![]));
                walk(base, &path, out);
            } else if meta.file_type().is_symlink() {
                out.insert(rel, ('l', mode, fs::read_link(&path).unwrap().display().to_string().into_bytes()));
            } else {
                out.insert(rel, ('f', mode, fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Tree::new();
    walk(dir, dir, &mut out);
    out
}

impl Appliance {
    fn new(label: &str) -> Appliance {
        let root = sandbox(label);
        let work = TempDir::new(&format!("{label}-work"));
        let r = root.path();
        fs::create_dir_all(r.join("etc/sensorctl/boards")).unwrap();
        fs::write(r.join("etc/sensorctl/boards/up-test.json"), board(true)).unwrap();
        fs::write(r.join("etc/sensorctl/config.json"), "{\"version\": 1, \"board\": \"up-test\"}\n").unwrap();
        let slot_a = r.join(SLOTS).join("slot-a");
        fs::create_dir_all(slot_a.join("bin")).unwrap();
        fs::write(slot_a.join("bin/app"), "version 0\n").unwrap();
        fs::write(slot_a.join("conf"), "old conf\n").unwrap();
        std::os::unix::fs::symlink("slot-a", r.join(SLOTS).join("current")).unwrap();
        let (key, public) = openssl_key(work.path(), "trusted");
        fs::create_dir_all(r.join("etc/sensorctl/upgrade-keys")).unwrap();
        fs::write(r.join("etc/sensorctl/upgrade-keys/trusted.pub"), format!("{public}\n")).unwrap();
        Appliance { root, work, key }
    }

    fn r(&self) -> &Path {
        self.root.path()
    }

    /// A package from `spec` (JSON members: version, entries, and the variations of MKPKG);
    /// signed with the trusted key unless the spec names another `key` (or `null`).
    fn pkg(&self, name: &str, spec: &str) -> PathBuf {
        let out = self.work.path().join(name);
        let key = self.key.display().to_string();
        let spec = format!("{{\"out\": \"{}\", \"key\": \"{key}\", {spec}}}", out.display());
        let spec_path = self.work.path().join(format!("{name}.spec.json"));
        // A later "key" in `spec` overrides the trusted one (Python's json keeps the last).
        fs::write(&spec_path, spec).unwrap();
        let status = Command::new("python3").arg("-c").arg(MKPKG).arg(&spec_path).status().unwrap();
        assert!(status.success(), "mkpkg {name}");
        out
    }

    fn good(&self, name: &str, version: &str) -> PathBuf {
        self.pkg(
            name,
            &format!(
                r#""version": "{version}", "entries": [
                    {{"path": "bin", "type": "dir"}},
                    {{"path": "bin/app", "type": "file", "data": "version {version}\n", "mode": 493}},
                    {{"path": "conf", "type": "file", "data": "new conf\n", "mode": 384}}]"#
            ),
        )
    }

    fn run(&self, args: &[&str]) -> Run {
        sensorctl(self.r(), args).run()
    }

    fn active(&self) -> String {
        fs::read_link(self.r().join(SLOTS).join("current")).unwrap().display().to_string()
    }

    fn slot(&self, name: &str) -> PathBuf {
        self.r().join(SLOTS).join(name)
    }

    fn status(&self) -> String {
        let run = self.run(&["system", "upgrade", "--status", "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
    }
}

#[test]
fn a_good_package_applies_commits_and_is_the_reported_version() {
    if !have_peers() {
        return;
    }
    let app = Appliance::new("up-good");
    let before = app.run(&["system", "version"]);
    assert!(before.stdout.starts_with("Version: 0.1.0-"), "{}", before.stdout);
    let pkg = app.good("v1.pkg", "1.0.0");
    let run = app.run(&["--role", "cyberx", "system", "upgrade", pkg.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Upgrade to 1.0.0 pending"), "{}", run.stdout);
    assert_eq!(app.active(), "slot-b");
    let b = tree(&app.slot("slot-b"));
    assert_eq!(b["bin/app"], ('f', 0o755, b"version 1.0.0\n".to_vec()));
    assert_eq!(b["conf"], ('f', 0o600, b"new conf\n".to_vec()));
    assert_eq!(b["bin"].0, 'd');
    assert_eq!(b.len(), 3);
    assert_eq!(fs::read(app.slot("slot-a/bin/app")).unwrap(), b"version 0\n", "slot a is kept for rollback");
    let status = app.status();
    assert!(status.contains("\"state\":\"pending\"") && status.contains("\"version\":\"1.0.0\""), "{status}");
    // Not committed yet: the running (committed) version is still the old one.
    assert!(app.run(&["system", "version"]).stdout.starts_with("Version: 0.1.0-"));
    // A second package is refused until this one is committed or rolled back.
    let v2 = app.good("v2.pkg", "2.0.0");
    let again = app.run(&["system", "upgrade", v2.to_str().unwrap()]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("not committed yet"), "{}", again.stderr);

    let commit = app.run(&["system", "upgrade", "--commit"]);
    assert_eq!(commit.code, 0, "{}{}", commit.stdout, commit.stderr);
    assert!(commit.stdout.contains("Committed version 1.0.0 in slot b"), "{}", commit.stdout);
    assert_eq!(app.run(&["system", "version"]).stdout, "Version: 1.0.0\n");
    assert!(app.run(&["system", "version", "--json"]).stdout.contains("\"version\":\"1.0.0\""));
    let log = fs::read_to_string(app.r().join("var/log/sensorctl/upgrade.log")).unwrap();
    for step in ["Verifying the signature", "Extracting version 1.0.0", "Prepared slot b", "Switching", "Committed"] {
        assert!(log.lines().any(|l| l.len() > 21 && l[..4].parse::<u32>().is_ok() && l.contains(step)), "{step}: {log}");
    }

    // The next upgrade goes into slot a, the inactive one now.
    let run = app.run(&["system", "upgrade", v2.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(app.active(), "slot-a");
    assert_eq!(fs::read(app.slot("slot-a/bin/app")).unwrap(), b"version 2.0.0\n");
    assert_eq!(fs::read(app.slot("slot-b/bin/app")).unwrap(), b"version 1.0.0\n");
}

#[test]
fn every_refusal_leaves_the_active_slot_and_its_files_untouched() {
    if !have_peers() {
        return;
    }
    let app = Appliance::new("up-refuse");
    let (other_key, _) = openssl_key(app.work.path(), "other");
    let before = tree(&app.r().join(SLOTS));
    let files = r#"{"path": "bin", "type": "dir"}, {"path": "bin/app", "type": "file", "data": "version 9\n"}"#;
    let good = app.good("good.pkg", "1.0.0");
    let bytes = fs::read(&good).unwrap();
    let truncated = app.work.path().join("truncated.pkg");
    // Cut inside bin/app's data (tarfile pads the archive with zeros to 10 KiB, so the cut must
    // be at the data itself).
    let at = bytes.windows(14).rposition(|w| w == b"version 1.0.0\n").unwrap();
    fs::write(&truncated, &bytes[..at + 5]).unwrap();
    let cases: Vec<(&str, PathBuf, &str)> = vec![
        ("unsigned", app.pkg("unsigned.pkg", &format!(r#""key": null, "version": "1.0.0", "entries": [{files}]"#)), "no manifest.sig where it must be"),
        (
            "another key",
            app.pkg("other.pkg", &format!(r#""key": "{}", "version": "1.0.0", "entries": [{files}]"#, other_key.display())),
            "does not verify with any trusted key",
        ),
        ("manifest changed after signing", app.pkg("tampered.pkg", &format!(r#""version": "1.0.0", "tamper": ["1.0.0", "7.0.0"], "entries": [{files}]"#)), "does not verify"),
        ("payload byte changed", app.pkg("flipped.pkg", &format!(r#""version": "1.0.0", "flip": "bin/app", "entries": [{files}]"#)), "SHA-256 mismatch for 'bin/app'"),
        ("payload file missing", app.pkg("missing.pkg", &format!(r#""version": "1.0.0", "entries": [{files}], "manifest_only": [{{"path": "bin/gone", "type": "file", "data": "x"}}]"#)), "'bin/gone' is in the manifest but not in the package"),
        ("payload file extra", app.pkg("extra.pkg", &format!(r#""version": "1.0.0", "entries": [{files}], "extra": [{{"path": "bin/more", "type": "file", "data": "x"}}]"#)), "'bin/more' is in the package but not in its manifest"),
        ("wrong board", app.pkg("board.pkg", &format!(r#""version": "1.0.0", "boards": ["rugged-arm-4port"], "entries": [{files}]"#)), "this appliance is board up-test"),
        ("downgrade", app.pkg("down.pkg", &format!(r#""version": "0.0.9", "entries": [{files}]"#)), "not newer than the running"),
        ("same version", app.pkg("same.pkg", &format!(r#""version": "0.1.0", "entries": [{files}]"#)), "not newer than the running"),
        ("too old to upgrade from", app.pkg("min.pkg", &format!(r#""version": "3.0.0", "min_version": "2.0", "entries": [{files}]"#)), "upgrades from 2.0 or later"),
        ("other product", app.pkg("product.pkg", &format!(r#""version": "1.0.0", "product": "firmware-x", "entries": [{files}]"#)), "not sensorctl"),
        ("truncated", truncated, "truncated archive"),
        ("path traversal", app.pkg("traversal.pkg", r#""version": "1.0.0", "entries": [{"path": "../../../escaped", "type": "file", "data": "x"}]"#), "'..' component"),
        ("symlink", app.pkg("symlink.pkg", &format!(r#""version": "1.0.0", "entries": [{files}, {{"path": "bin/sh", "type": "symlink", "link": "/etc/passwd"}}]"#)), "is a symbolic link"),
        ("hard link", app.pkg("hardlink.pkg", &format!(r#""version": "1.0.0", "entries": [{files}, {{"path": "bin/ln", "type": "hardlink", "link": "bin/app"}}]"#)), "is a hard link"),
        ("duplicate name", app.pkg("dup.pkg", &format!(r#""version": "1.0.0", "entries": [{files}, {{"path": "bin/app", "type": "file", "data": "again"}}]"#)), "duplicate name 'bin/app'"),
        ("file before its directory", app.pkg("order.pkg", r#""version": "1.0.0", "entries": [{"path": "bin/app", "type": "file", "data": "x"}]"#), "comes before its directory"),
    ];
    for (what, pkg, expected) in cases {
        let run = app.run(&["system", "upgrade", pkg.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{what}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("refused") && run.stderr.contains(expected), "{what}: {}", run.stderr);
        assert_eq!(app.active(), "slot-a", "{what}");
        let after = tree(&app.r().join(SLOTS));
        assert_eq!(after, before, "{what}: the slots' directory changed");
        assert!(!app.r().parent().unwrap().join("escaped").exists() && !app.r().join("escaped").exists(), "{what}");
        let status = app.status();
        assert!(status.contains("\"state\":\"committed\""), "{what}: {status}");
    }
    // After all that, the good package still applies.
    let run = app.run(&["system", "upgrade", good.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn key_files_must_be_root_owned_and_not_writable_by_others() {
    if !have_peers() {
        return;
    }
    if !is_root() {
        skip("needs root to give a key file to another owner");
        return;
    }
    let app = Appliance::new("up-keys");
    let pkg = app.good("v1.pkg", "1.0.0");
    let key_file = app.r().join("etc/sensorctl/upgrade-keys/trusted.pub");
    for (what, mode, owner) in [("group-writable", 0o664, 0), ("world-writable", 0o646, 0), ("owned by support", 0o644, SUPPORT_UID)] {
        fs::set_permissions(&key_file, fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(&key_file, Some(owner), None).unwrap();
        let run = app.run(&["system", "upgrade", pkg.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{what}");
        assert!(run.stdout.contains("Warning: ignoring upgrade key"), "{what}: {}", run.stdout);
        assert!(run.stderr.contains("no trusted upgrade key"), "{what}: {}", run.stderr);
        assert_eq!(app.active(), "slot-a");
    }
    // The same key in the board's list is trusted without any key file.
    fs::remove_file(&key_file).unwrap();
    let public = {
        let der = Command::new("openssl").args(["pkey", "-pubout", "-outform", "DER", "-in"]).arg(&app.key).output().unwrap();
        der.stdout[der.stdout.len() - 32..].iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let text = board(true).replacen("\"keys\": []", &format!("\"keys\": [\"{public}\"]"), 1);
    fs::write(app.r().join("etc/sensorctl/boards/up-test.json"), text).unwrap();
    let run = app.run(&["system", "upgrade", pkg.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(app.active(), "slot-b");
}

#[test]
fn a_downgrade_needs_allow_downgrade() {
    if !have_peers() {
        return;
    }
    let app = Appliance::new("up-down");
    let pkg = app.good("old.pkg", "0.0.5");
    assert_eq!(app.run(&["system", "upgrade", pkg.to_str().unwrap()]).code, 1);
    let run = app.run(&["system", "upgrade", "--allow-downgrade", pkg.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(fs::read(app.slot("slot-b/bin/app")).unwrap(), b"version 0.0.5\n");
}

/// `board` with the upgrade's health grace period set.
fn with_grace(text: String, grace_s: u64) -> String {
    text.replacen("\"method\": \"ab-dir\",", &format!("\"method\": \"ab-dir\", \"health_grace_s\": {grace_s},"), 1)
}

/// Waits until no upgrade is pending (the daemon's commit check decided), at most 30 s.
fn settled(app: &Appliance) -> String {
    let started = Instant::now();
    loop {
        let status = app.status();
        if status.contains("\"state\":\"committed\"") || started.elapsed() > Duration::from_secs(30) {
            return status;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_daemon_commits_a_healthy_upgrade_and_rolls_back_an_unhealthy_one() {
    if !have_peers() {
        return;
    }
    if !is_root() {
        skip("the daemon needs root");
        return;
    }
    let app = Appliance::new("up-daemon");
    let board_file = app.r().join("etc/sensorctl/boards/up-test.json");
    // Unhealthy start: a service is down and stays down for the grace period: rolled back.
    let pkg = app.good("v1.pkg", "1.0.0");
    assert_eq!(app.run(&["system", "upgrade", pkg.to_str().unwrap()]).code, 0);
    assert_eq!(app.active(), "slot-b");
    fs::write(&board_file, with_grace(board(false), 2)).unwrap();
    let started = Instant::now();
    let daemon = Daemon::start(app.r());
    let status = settled(&app);
    assert!(started.elapsed() >= Duration::from_secs(2), "decided before the grace period ended");
    drop(daemon);
    assert!(status.contains("\"state\":\"committed\""), "{status}");
    assert_eq!(app.active(), "slot-a", "rolled back");
    assert!(app.run(&["system", "version"]).stdout.starts_with("Version: 0.1.0-"));
    let log = fs::read_to_string(app.r().join("var/log/sensorctl/upgrade.log")).unwrap();
    assert!(log.contains("Rolled back to version 0.1.0-") && log.contains("system sanity failed"), "{log}");
    assert!(log.contains("[-] Core API | Not running"), "{log}");

    // A service that comes up within the grace period (here: a pidfile naming a live process,
    // written 1 s after the start): committed.
    assert_eq!(app.run(&["system", "upgrade", pkg.to_str().unwrap()]).code, 0);
    fs::write(&board_file, with_grace(board(false), 20)).unwrap();
    let daemon = Daemon::start(app.r());
    std::thread::sleep(Duration::from_secs(1));
    assert!(app.status().contains("\"state\":\"pending\""));
    fs::create_dir_all(app.r().join("run")).unwrap();
    fs::write(app.r().join("run/none.pid"), format!("{}\n", std::process::id())).unwrap();
    let status = settled(&app);
    drop(daemon);
    assert!(status.contains("\"state\":\"committed\""), "{status}");
    assert_eq!(app.active(), "slot-b");
    assert_eq!(app.run(&["system", "version"]).stdout, "Version: 1.0.0\n");

    // Healthy at once: committed before the daemon serves.
    fs::remove_file(app.r().join("run/none.pid")).unwrap();
    fs::write(&board_file, board(true)).unwrap();
    let v2 = app.good("v2.pkg", "2.0.0");
    assert_eq!(app.run(&["system", "upgrade", v2.to_str().unwrap()]).code, 0);
    drop(Daemon::start(app.r()));
    assert!(app.status().contains("\"state\":\"committed\""));
    assert_eq!(app.active(), "slot-a");
    assert_eq!(app.run(&["system", "version"]).stdout, "Version: 2.0.0\n");
}

#[test]
fn manual_rollback_goes_back_to_the_previous_slot() {
    if !have_peers() {
        return;
    }
    let app = Appliance::new("up-manual");
    // Nothing to roll back to on a fresh appliance.
    let none = app.run(&["system", "upgrade", "--rollback"]);
    assert_eq!(none.code, 1, "{}", none.stdout);
    assert!(none.stderr.contains("no complete version to roll back to"), "{}", none.stderr);
    let pkg = app.good("v1.pkg", "1.0.0");
    assert_eq!(app.run(&["system", "upgrade", pkg.to_str().unwrap()]).code, 0);
    // From a pending upgrade ...
    let run = app.run(&["system", "upgrade", "--rollback"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(app.active(), "slot-a");
    // ... and from a committed one.
    assert_eq!(app.run(&["system", "upgrade", pkg.to_str().unwrap()]).code, 0);
    assert_eq!(app.run(&["system", "upgrade", "--commit"]).code, 0);
    assert_eq!(app.run(&["system", "version"]).stdout, "Version: 1.0.0\n");
    // A refused package keeps the previous version in the inactive slot, ready for rollback.
    let bad = app.pkg("bad.pkg", r#""version": "2.0.0", "flip": "bin/app", "entries": [{"path": "bin", "type": "dir"}, {"path": "bin/app", "type": "file", "data": "version 2\n"}]"#);
    let refused = app.run(&["system", "upgrade", bad.to_str().unwrap()]);
    assert!(refused.code == 1 && refused.stderr.contains("SHA-256 mismatch"), "{}", refused.stderr);
    assert_eq!(fs::read(app.slot("slot-a/bin/app")).unwrap(), b"version 0\n");
    let run = app.run(&["system", "upgrade", "--rollback"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("Rolled back to version 0.1.0-"), "{}", run.stdout);
    assert_eq!(app.active(), "slot-a");
    assert_eq!(fs::read(app.slot("slot-a/bin/app")).unwrap(), b"version 0\n");
    assert!(app.run(&["system", "version"]).stdout.starts_with("Version: 0.1.0-"));
    assert!(app.status().contains("\"state\":\"committed\""));
}

#[test]
fn kill_9_during_20_applies_never_breaks_the_active_slot() {
    if !have_peers() {
        return;
    }
    let app = Appliance::new("up-kill");
    // Enough payload that an apply takes a while: 300 small files and one of 3 MB.
    let mut entries = vec![r#"{"path": "bin", "type": "dir"}"#.to_string(), r#"{"path": "bin/app", "type": "file", "data": "version 1.0.0\n"}"#.into()];
    entries.push(r#"{"path": "data", "type": "dir"}"#.into());
    for i in 0..300 {
        entries.push(format!(r#"{{"path": "data/f{i:03}", "type": "file", "data": "{}"}}"#, format!("{i:03}").repeat(600)));
    }
    entries.push(format!(r#"{{"path": "data/big", "type": "file", "data": "{}"}}"#, "0123456789abcdef".repeat(200_000)));
    let pkg = app.pkg("big.pkg", &format!(r#""version": "1.0.0", "entries": [{}]"#, entries.join(", ")));
    let old = tree(&app.slot("slot-a"));
    let template = app.work.path().join("template");
    sh(&["cp", "-a", app.r().to_str().unwrap(), template.to_str().unwrap()]);

    // An undisturbed apply, for the payload it leaves and for when it switches: kills are
    // spread over [0, 1.25 × that], so most land while staging and some after the switch.
    let started = Instant::now();
    let mut child = sensorctl(app.r(), &["system", "upgrade", pkg.to_str().unwrap()])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut switched = None;
    for line in std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap())) {
        if line.unwrap().starts_with("Switching") {
            switched = Some(started.elapsed());
        }
    }
    assert!(child.wait().unwrap().success());
    let full = switched.unwrap() * 5 / 4;
    let new = tree(&app.slot("slot-b"));
    assert_eq!(new.len(), 304);

    let mut seed = u64::from(std::process::id()) ^ (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    eprintln!("kill test: seed {seed}, kills within {full:?}");
    let (mut before_switch, mut after_switch) = (0, 0);
    for round in 0..20 {
        sh(&["rm", "-rf", app.r().to_str().unwrap()]);
        sh(&["cp", "-a", template.to_str().unwrap(), app.r().to_str().unwrap()]);
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((seed >> 33) % (full.as_micros() as u64 + 1));
        let mut child = sensorctl(app.r(), &["system", "upgrade", pkg.to_str().unwrap()])
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let status = app.status();
        eprintln!("kill test: round {round}: killed after {delay:?}, current names {}", app.active());
        match app.active().as_str() {
            "slot-a" => {
                before_switch += 1;
                assert!(status.contains("\"state\":\"committed\""), "round {round} ({delay:?}): {status}");
                assert_eq!(tree(&app.slot("slot-a")), old, "round {round} ({delay:?}): the old slot is not complete");
                // Whatever was left behind, the next apply succeeds.
                let run = app.run(&["system", "upgrade", pkg.to_str().unwrap()]);
                assert_eq!(run.code, 0, "round {round} ({delay:?}): re-apply: {}", run.stderr);
                assert_eq!(tree(&app.slot("slot-b")), new);
            }
            "slot-b" => {
                after_switch += 1;
                assert!(status.contains("\"state\":\"pending\""), "round {round} ({delay:?}): {status}");
                assert_eq!(tree(&app.slot("slot-b")), new, "round {round} ({delay:?}): the new slot is not complete");
                assert_eq!(tree(&app.slot("slot-a")), old);
            }
            other => panic!("round {round}: current names {other}"),
        }
        let leftovers: Vec<_> = fs::read_dir(app.r().join(SLOTS))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "round {round}: {leftovers:?}");
    }
    eprintln!("kill test: {before_switch} kills before the switch, {after_switch} after");
}

#[test]
fn not_enough_space_is_refused_before_anything_is_written() {
    if !have_peers() {
        return;
    }
    if !is_root() || Command::new("unshare").arg("--version").output().is_err() {
        skip("needs root and unshare(1) to mount a small tmpfs in a private mount namespace");
        return;
    }
    let app = Appliance::new("up-space");
    let pkg = app.pkg(
        "huge.pkg",
        &format!(r#""version": "1.0.0", "entries": [{{"path": "blob", "type": "file", "data": "{}"}}]"#, "x".repeat(3 << 20)),
    );
    let slots = app.r().join(SLOTS);
    // In a private mount namespace: a 1 MiB tmpfs holds both slots; report its trees around
    // the refused apply (the tmpfs vanishes with the namespace).
    let script = format!(
        "set -e; mount --make-rprivate /; mount -t tmpfs -o size=1m tmpfs '{slots}'; \
         mkdir -p '{slots}/slot-a/bin'; echo 'version 0' > '{slots}/slot-a/bin/app'; ln -s slot-a '{slots}/current'; \
         (cd '{slots}' && find . -printf '%y %m %p %l\\n' | sort && sha256sum slot-a/bin/app) > '{work}/before'; \
         set +e; SENSORCTL_ROOT='{root}' {runner} '{bin}' system upgrade '{pkg}' > '{work}/out' 2>&1; echo $? > '{work}/rc'; set -e; \
         (cd '{slots}' && find . -printf '%y %m %p %l\\n' | sort && sha256sum slot-a/bin/app) > '{work}/after'; \
         df -B1 --output=avail '{slots}' | tail -1 > '{work}/avail'",
        slots = slots.display(),
        work = app.work.path().display(),
        root = app.r().display(),
        bin = bin().display(),
        // Cross-architecture runs: through qemu-user, as tests/common does (binfmt_misc may
        // not be registered on the machine).
        runner = std::env::var("SENSORCTL_RUNNER").unwrap_or_default(),
        pkg = pkg.display(),
    );
    let out = Command::new("unshare").args(["-m", "sh", "-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read = |name: &str| fs::read_to_string(app.work.path().join(name)).unwrap();
    assert_eq!(read("rc").trim(), "1", "{}", read("out"));
    assert!(read("out").contains("not enough space"), "{}", read("out"));
    let avail: u64 = read("avail").trim().parse().unwrap();
    assert!(read("out").contains(&format!("{avail} are free")), "statvfs as df sees it ({avail}): {}", read("out"));
    assert_eq!(read("before"), read("after"));
    assert!(read("after").contains("l 777 ./current slot-a"), "{}", read("after"));
}

#[test]
fn ab_block_writes_the_inactive_device_and_flips_the_boot_flag() {
    if !have_peers() {
        return;
    }
    let app = Appliance::new("up-block");
    let text = board(true).replacen(
        "\"method\": \"ab-dir\",",
        "\"method\": \"ab-block\", \"devices\": [\"/var/lib/disks/slot-a.img\", \"/var/lib/disks/slot-b.img\"], \"boot_flag\": \"/boot/sensorctl-slot\",",
        1,
    );
    fs::write(app.r().join("etc/sensorctl/boards/up-test.json"), text).unwrap();
    let disks = app.r().join("var/lib/disks");
    fs::create_dir_all(&disks).unwrap();
    fs::write(disks.join("slot-a.img"), vec![b'A'; 1 << 20]).unwrap();
    fs::write(disks.join("slot-b.img"), vec![b'B'; 1 << 20]).unwrap();
    let image: String = (0..300_000u32).map(|i| char::from(b'a' + (i * 7 % 26) as u8)).collect();
    let pkg = app.pkg("img.pkg", &format!(r#""version": "1.0.0", "entries": [{{"path": "rootfs.img", "type": "file", "data": "{image}"}}]"#));
    let too_big = app.pkg("big.pkg", &format!(r#""version": "1.0.0", "entries": [{{"path": "rootfs.img", "type": "file", "data": "{}"}}]"#, "z".repeat(2 << 20)));
    let two_files = app.pkg("two.pkg", r#""version": "1.0.0", "entries": [{"path": "rootfs.img", "type": "file", "data": "x"}, {"path": "more", "type": "file", "data": "y"}]"#);
    for (pkg, expected) in [(&too_big, "not enough space"), (&two_files, "exactly one file")] {
        let run = app.run(&["system", "upgrade", pkg.to_str().unwrap()]);
        assert_eq!(run.code, 1);
        assert!(run.stderr.contains(expected), "{}", run.stderr);
        assert_eq!(fs::read(disks.join("slot-a.img")).unwrap(), vec![b'A'; 1 << 20]);
        assert!(!app.r().join("boot/sensorctl-slot").exists());
    }
    let run = app.run(&["system", "upgrade", pkg.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(fs::read_to_string(app.r().join("boot/sensorctl-slot")).unwrap(), "b\n");
    assert_eq!(fs::read(disks.join("slot-a.img")).unwrap(), vec![b'A'; 1 << 20], "the active device is untouched");
    // cmp(1) as the judge: the image, then the rest of the device as it was.
    let img = app.work.path().join("rootfs.img");
    fs::write(&img, &image).unwrap();
    sh(&["cmp", "-n", "300000", img.to_str().unwrap(), disks.join("slot-b.img").to_str().unwrap()]);
    let b = fs::read(disks.join("slot-b.img")).unwrap();
    assert_eq!(b.len(), 1 << 20);
    assert!(b[300_000..].iter().all(|&c| c == b'B'));
    let status = app.status();
    assert!(status.contains("\"method\":\"ab-block\"") && status.contains("\"state\":\"pending\""), "{status}");
    assert_eq!(app.run(&["system", "upgrade", "--commit"]).code, 0);
    assert_eq!(app.run(&["system", "version"]).stdout, "Version: 1.0.0\n");
    assert_eq!(app.run(&["system", "upgrade", "--rollback"]).code, 0);
    assert_eq!(fs::read_to_string(app.r().join("boot/sensorctl-slot")).unwrap(), "a\n");
}

#[test]
fn our_package_tools_make_what_gnu_tar_and_openssl_accept() {
    if !have_peers() {
        return;
    }
    let app = Appliance::new("up-tools");
    let w = app.work.path();
    let prefix = w.join("vendor");
    let Some(keygen) = host_tools(app.r(), &["package", "keygen", "-o", prefix.to_str().unwrap()]) else { return };
    let keygen = keygen.run();
    assert_eq!(keygen.code, 0, "{}", keygen.stderr);
    assert_eq!(fs::metadata(w.join("vendor.key")).unwrap().mode() & 0o777, 0o600);
    let public = fs::read_to_string(w.join("vendor.pub")).unwrap();
    assert_eq!(public.trim().len(), 64);
    let payload = w.join("payload");
    fs::create_dir_all(payload.join("bin")).unwrap();
    fs::write(payload.join("bin/app"), "version 1.2.0\n").unwrap();
    fs::set_permissions(payload.join("bin/app"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(payload.join("readme"), "hello\n").unwrap();
    let pkg = w.join("out.pkg");
    let tool = |args: &[&str]| host_tools(app.r(), args).unwrap().run();
    let build = tool(&[
        "package", "build", "--key", w.join("vendor.key").to_str().unwrap(), "--version", "1.2.0", "--board", "up-test",
        "-o", pkg.to_str().unwrap(), payload.to_str().unwrap(),
    ]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    let listing = sh(&["tar", "-tf", pkg.to_str().unwrap()]);
    assert_eq!(listing, "manifest.json\nmanifest.sig\nbin/\nbin/app\nreadme\n");
    // The signature verifies with OpenSSL over the manifest's bytes, under the public key.
    let x = w.join("x");
    fs::create_dir_all(&x).unwrap();
    sh(&["tar", "-xf", pkg.to_str().unwrap(), "-C", x.to_str().unwrap(), "manifest.json", "manifest.sig"]);
    let mut der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    der.extend((0..32).map(|i| u8::from_str_radix(&public[2 * i..2 * i + 2], 16).unwrap()));
    fs::write(w.join("pub.der"), der).unwrap();
    sh(&[
        "openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", w.join("pub.der").to_str().unwrap(), "-rawin",
        "-in", x.join("manifest.json").to_str().unwrap(), "-sigfile", x.join("manifest.sig").to_str().unwrap(),
    ]);
    let manifest = fs::read_to_string(x.join("manifest.json")).unwrap();
    let sum = sh(&["sha256sum", payload.join("bin/app").to_str().unwrap()]);
    assert!(manifest.contains(&sum[..64]) && manifest.contains("\"version\":\"1.2.0\""), "{manifest}");
    // Installed as a trusted key file, the package applies; with only its own key, not.
    let run = app.run(&["system", "upgrade", pkg.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    fs::write(app.r().join("etc/sensorctl/upgrade-keys/vendor.pub"), &public).unwrap();
    let run = app.run(&["system", "upgrade", pkg.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(fs::read(app.slot("slot-b/bin/app")).unwrap(), b"version 1.2.0\n");
    // A symbolic link in the payload directory is not packed.
    std::os::unix::fs::symlink("/etc/passwd", payload.join("link")).unwrap();
    let bad = tool(&[
        "package", "build", "--key", w.join("vendor.key").to_str().unwrap(), "--version", "1.3.0", "--board", "up-test",
        "-o", w.join("bad.pkg").to_str().unwrap(), payload.to_str().unwrap(),
    ]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(!w.join("bad.pkg").exists());
}

/// Firmware artifacts verify packages and never sign one: the signing commands are in the
/// host tool only (scripts/build --host-tools), and the firmware binary says so, exit 69.
#[test]
fn the_firmware_binary_has_no_package_signing_tools() {
    if !is_root() {
        skip("runs the binary as root (the in-process path)");
        return;
    }
    let root = sandbox("up-no-tools");
    let w = TempDir::new("up-no-tools-w");
    let prefix = w.path().join("vendor");
    let run = sensorctl(root.path(), &["package", "keygen", "-o", prefix.to_str().unwrap()]).run();
    assert_eq!(run.code, 69, "{}", run.stderr);
    assert!(run.stderr.contains("not in this build (scripts/build --host-tools)"), "{}", run.stderr);
    assert!(!w.path().join("vendor.key").exists());
}

#[test]
fn only_cyberx_and_root_may_upgrade_and_only_root_may_build() {
    if !have_peers() {
        return;
    }
    let app = Appliance::new("up-roles");
    let pkg = app.good("v1.pkg", "1.0.0");
    for role in ["support", "cyberx_host"] {
        let run = app.run(&["--role", role, "system", "upgrade", pkg.to_str().unwrap()]);
        assert_eq!(run.code, 77, "{role}: {}", run.stderr);
        let run = app.run(&["--role", role, "system", "upgrade", "--status"]);
        assert_eq!(run.code, 77, "{role}");
    }
    assert_eq!(app.active(), "slot-a");
    for args in [&["package", "keygen", "-o", "/tmp/never"][..], &["package", "build", "--key", "k", "--version", "1", "--board", "b", "-o", "o", "d"]] {
        let mut full = vec!["--role", "cyberx"];
        full.extend_from_slice(args);
        assert_eq!(app.run(&full).code, 77, "{args:?}");
    }
    assert!(!Path::new("/tmp/never.key").exists());
}

#[test]
fn the_daemon_opens_a_package_only_if_the_caller_could() {
    if !have_peers() {
        return;
    }
    if !is_root() {
        skip("needs root to run the daemon and a cyberx caller");
        return;
    }
    let app = Appliance::new("up-perm");
    let pkg = app.good("v1.pkg", "1.0.0");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(app.work.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&pkg, fs::Permissions::from_mode(0o600)).unwrap(); // root's
    let _daemon = Daemon::start(app.r());
    let package = pkg.to_str().unwrap();
    let denied = sensorctl(app.r(), &["system", "upgrade", package]).uid(CYBERX_UID).run();
    // A file the caller may not read is the caller's bad input (exit 2), not the daemon's failure.
    assert_eq!(denied.code, 2, "{}", denied.stdout);
    assert!(denied.stderr.contains(&format!("{package}: permission denied")), "{}", denied.stderr);
    assert_eq!(app.active(), "slot-a");
    // The daemon's other work keeps root's permissions: it still reads its own state.
    std::os::unix::fs::chown(&pkg, Some(CYBERX_UID), None).unwrap();
    let run = sensorctl(app.r(), &["system", "upgrade", package]).uid(CYBERX_UID).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(app.active(), "slot-b");
}
