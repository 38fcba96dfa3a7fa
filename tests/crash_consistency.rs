//! Crash consistency: every state-changing command, killed with SIGKILL at random instants,
//! leaves every file it touches in its old state or its new one, and the files still parse.
//!
//! For each scenario of [`SCENARIOS`]: a reference run on a fresh sandbox gives the new state and
//! the command's duration; then each run sets up a fresh sandbox (and, for network commands, a
//! fresh network namespace with a veth pair), starts the command, sleeps a random time (every
//! other run in [0, duration], the others in [0.6, 1.1] × duration, where most commands write)
//! and kills it with SIGKILL. Then every file of the sandbox must be byte for byte its old or
//! its new content (absent counts as a state), except the files a scenario
//! names as nondeterministic (salted hashes, timestamped backups and state), which must pass
//! an independent check instead (Python's crypt and json, GNU tar). Temporary files of a killed
//! write (`.NAME.tmp-…`, `.NAME.sensorctl-restore`) may remain; nothing else may appear. Last, the
//! command is run again to completion: it must succeed and leave the new state (a crash must
//! not wedge the next run with a stale lock or journal).
//!
//! For network commands the kernel state they change (`tc qdisc`, `ip addr`, `ip route` in the
//! namespace) must likewise be old or new after a kill, and new after the rerun.
//!
//! Reproduce a failure with the seed the test prints: `CRASH_SEED=<n> cargo test --test
//! crash_consistency`. `CRASH_RUNS` sets the kills per scenario (default 6).
//!
//! Adding a command (cert import, upgrade, when they land) is one entry in [`SCENARIOS`]: its
//! arguments, a setup, and the checks for its nondeterministic files.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Relative path → content of every file (symlinks: their target) under a root.
type Snapshot = BTreeMap<PathBuf, Vec<u8>>;

fn snapshot(root: &Path) -> Snapshot {
    fn walk(root: &Path, dir: &Path, out: &mut Snapshot) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if meta.is_dir() {
                walk(root, &path, out);
            } else if meta.file_type().is_symlink() {
                out.insert(rel, std::fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes());
            } else {
                out.insert(rel, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    let mut out = Snapshot::new();
    walk(root, root, &mut out);
    out
}

/// An independent check of a file whose new content differs from run to run.
type Check = fn(root: &Path, rel: &Path, bytes: &[u8], old: &Snapshot) -> Result<(), String>;

/// One state-changing command.
struct Scenario {
    name: &'static str,
    /// Runs inside a fresh network namespace with the veth pair `cc0`/`cc1`, both up.
    netns: bool,
    /// Prepares a fresh sandbox root.
    setup: fn(&Path),
    args: &'static [&'static str],
    stdin: &'static [u8],
    /// Files (by path prefix) whose new content is not reproducible, and how to check them.
    varying: &'static [(&'static str, Check)],
    /// The kernel state the command changes, read by the real tools (`tc`, `ip`) in its network
    /// namespace: it too must be old or new after a kill, and new after the rerun.
    kernel: &'static [&'static [&'static str]],
}

/// Why `scenario` cannot run in this test run, if it cannot: qemu-user (cross-architecture
/// runs, `SENSORCTL_RUNNER`) has no netlink converter for RTM_NEWQDISC, so the kernel refuses
/// a qdisc change with EOPNOTSUPP before any file is touched (scripts/test-cross skips the
/// other qdisc tests for the same reason).
fn unsupported_here(scenario: &Scenario) -> Option<&'static str> {
    let under_qemu = std::env::var_os("SENSORCTL_RUNNER").is_some_and(|r| !r.is_empty());
    (under_qemu && scenario.args.starts_with(&["network", "limit"]))
        .then_some("qemu-user does not translate RTM_NEWQDISC/RTM_DELQDISC (EOPNOTSUPP)")
}

const PASSWORD: &str = "Crash-Test-Pw1!x";

static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "login-protection (config write)",
        netns: false,
        setup: base,
        args: &["system", "login-protection", "--max-failed", "7", "--window", "60"],
        stdin: b"",
        varying: &[],
        kernel: &[],
    },
    Scenario {
        name: "ntp enable (clock sync, config and sync state)",
        netns: false,
        setup: with_ntp_servers,
        args: &["ntp", "enable", "@ntp"],
        stdin: b"",
        varying: &[("var/lib/sensorctl/ntp.json", json_ok)],
        kernel: &[],
    },
    Scenario {
        name: "ntp disable (config write)",
        netns: false,
        setup: with_ntp_servers,
        args: &["ntp", "disable", "192.0.2.10"],
        stdin: b"",
        varying: &[],
        kernel: &[],
    },
    Scenario {
        name: "network limit (config write + tc)",
        netns: true,
        setup: base,
        args: &["network", "limit", "--interface", "cc0", "--limit", "1mbit"],
        stdin: b"",
        varying: &[],
        kernel: &[&["tc", "qdisc", "show", "dev", "cc0"]],
    },
    Scenario {
        name: "network reconfigure (config, resolver, addresses)",
        netns: true,
        setup: base,
        args: &[
            "--role",
            "support",
            "network",
            "reconfigure",
            "-y",
            "--interface",
            "cc0",
            "--ip",
            "192.0.2.10",
            "--subnet",
            "255.255.255.0",
            "--gateway",
            "192.0.2.1",
            "--dns",
            "192.0.2.53",
            "--monitor",
            "none",
            "--erspan",
            "none",
        ],
        stdin: b"",
        varying: &[],
        kernel: &[&["ip", "-4", "addr", "show", "dev", "cc0"], &["ip", "-4", "route", "show"]],
    },
    Scenario {
        name: "password reset (shadow, web users)",
        netns: false,
        setup: base,
        args: &["system", "password", "--password-stdin", "support"],
        stdin: b"Crash-Test-Pw1!x\n",
        varying: &[("etc/shadow", shadow_ok), ("etc/sensorctl/users.json", json_ok)],
        kernel: &[],
    },
    Scenario {
        name: "backup create",
        netns: false,
        setup: with_data_and_a_backup,
        args: &["system", "backup"],
        stdin: b"",
        varying: &[("var/cyberx/backups/", backup_ok), ("var/lib/sensorctl/backup-state.json", json_ok)],
        kernel: &[],
    },
    Scenario {
        name: "restore",
        netns: false,
        setup: with_changed_data_since_the_backup,
        args: &["system", "restore", "-f", "@", "--yes"],
        stdin: b"",
        varying: &[("var/lib/sensorctl/backup-state.json", json_ok)],
        kernel: &[],
    },
];

fn write(path: &Path, bytes: &[u8], mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The common sandbox, with a shadow file (support's password "Old-supp0rt", from Python's crypt).
fn base(root: &Path) {
    let hash = python("import crypt\nprint(crypt.crypt('Old-supp0rt', crypt.mksalt(crypt.METHOD_SHA512)))", &[]);
    write(
        &root.join("etc/shadow"),
        format!(
            "root:*:19500:0:99999:7:::\nsupport:{}:19501:0:99999:7:::\ncyberx:!:19502:0:99999:7:::\n\
             cyberx_host:!:19503:0:99999:7:::\nstranger:!:19504:0:99999:7:::\n",
            hash.trim()
        )
        .as_bytes(),
        0o640,
    );
}

fn with_ntp_servers(root: &Path) {
    base(root);
    write(
        &root.join("etc/sensorctl/config.json"),
        b"{\"version\": 1, \"ntp_servers\": [\"192.0.2.10\", \"192.0.2.11\"], \"login_max_failed\": 9}\n",
        0o644,
    );
}

fn with_data(root: &Path) {
    base(root);
    write(&root.join("etc/sensorctl/config.json"), b"{\"version\": 1}\n", 0o644);
    for n in 0..20 {
        let body: Vec<u8> =
            (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(n) >> 13) as u8).collect();
        write(&root.join(format!("var/cyberx/keys/k{n}.bin")), &body, 0o600);
        write(&root.join(format!("var/cyberx/logs/l{n}.log")), format!("log {n}\n").repeat(2000).as_bytes(), 0o640);
    }
}

fn with_data_and_a_backup(root: &Path) {
    with_data(root);
    let run = sensorctl(root, &["system", "backup"]).run();
    assert_eq!(run.code, 0, "setup backup: {}", run.stderr);
}

fn with_changed_data_since_the_backup(root: &Path) {
    with_data_and_a_backup(root);
    for n in 0..20 {
        write(&root.join(format!("var/cyberx/keys/k{n}.bin")), format!("changed {n}\n").as_bytes(), 0o600);
    }
    std::fs::remove_file(root.join("var/cyberx/logs/l3.log")).unwrap();
    write(&root.join("var/cyberx/logs/new.log"), b"made after the backup\n", 0o640);
}

/// Runs a Python snippet and returns its stdout.
fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3").args(["-W", "ignore", "-c", script]).args(args).output().unwrap();
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// shadow(5): the same users, nine fields each; every hash is the old one or (support's) a hash
/// of the new password by the system's crypt(3).
fn shadow_ok(_root: &Path, _rel: &Path, bytes: &[u8], old: &Snapshot) -> Result<(), String> {
    let parse = |b: &[u8]| -> Result<Vec<(String, String)>, String> {
        let text = std::str::from_utf8(b).map_err(|_| "not UTF-8".to_string())?;
        if !text.ends_with('\n') {
            return Err("no final newline".into());
        }
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                if f.len() == 9 {
                    Ok((f[0].to_string(), f[1].to_string()))
                } else {
                    Err(format!("bad line {l:?}"))
                }
            })
            .collect()
    };
    let now = parse(bytes)?;
    let before = parse(old.get(Path::new("etc/shadow")).unwrap())?;
    if now.iter().map(|(u, _)| u).ne(before.iter().map(|(u, _)| u)) {
        return Err("the users changed".into());
    }
    for ((user, hash), (_, old_hash)) in now.iter().zip(&before) {
        if hash != old_hash {
            let ok = user == "support"
                && python(
                    "import crypt,sys\nprint(crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2])",
                    &[PASSWORD, hash],
                )
                .trim()
                    == "True";
            if !ok {
                return Err(format!("{user}'s hash is neither the old one nor one of the new password"));
            }
        }
    }
    Ok(())
}

fn json_ok(_root: &Path, rel: &Path, bytes: &[u8], _old: &Snapshot) -> Result<(), String> {
    let mut child = Command::new("python3")
        .args(["-c", "import json,sys\njson.load(sys.stdin)"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    out.status
        .success()
        .then_some(())
        .ok_or_else(|| format!("{} is not JSON: {}", rel.display(), String::from_utf8_lossy(&out.stderr)))
}

/// A backup under its final name is whole: gzip(1) checks every CRC and length, GNU tar reads it.
fn backup_ok(root: &Path, rel: &Path, _bytes: &[u8], _old: &Snapshot) -> Result<(), String> {
    let path = root.join(rel);
    let gzip = Command::new("gzip").args(["-t", "-S", ".tar"]).arg(&path).output().unwrap();
    let tar = Command::new("tar").arg("-tf").arg(&path).output().unwrap();
    if gzip.status.success() && tar.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} is a torn backup: {}{}",
            rel.display(),
            String::from_utf8_lossy(&gzip.stderr),
            String::from_utf8_lossy(&tar.stderr)
        ))
    }
}

/// Files that are never compared: the append-only audit log (checked for whole lines) and locks.
fn ignored(rel: &Path) -> bool {
    rel == Path::new("var/log/sensorctl/audit.log") || rel.to_string_lossy().ends_with(".lock")
}

/// What a killed write may leave behind.
/// (and restore's journal, which the next run uses to finish or undo the restore).
fn is_temp(rel: &Path) -> bool {
    rel == Path::new("var/lib/sensorctl/restore-journal.json")
        || rel.components().any(|c| {
            let name = c.as_os_str().to_string_lossy();
            name.starts_with('.') && (name.contains(".tmp-") || name.ends_with(".sensorctl-restore"))
        })
}

/// A deterministic, seedable generator (xorshift64*), so a failing seed can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A fresh sandbox (and namespace) for one run of `scenario`.
struct Stage {
    root: TempDir,
    ns: Option<NetNs>,
}

impl Stage {
    fn new(scenario: &Scenario, label: &str) -> Stage {
        let root = sandbox(label);
        (scenario.setup)(root.path());
        let ns = scenario.netns.then(|| {
            let ns = NetNs::new("cc");
            ns.exec(&["ip", "link", "add", "cc0", "type", "veth", "peer", "name", "cc1"]);
            ns.exec(&["ip", "link", "set", "cc0", "up"]);
            ns.exec(&["ip", "link", "set", "cc1", "up"]);
            ns
        });
        Stage { root, ns }
    }
    /// The command, with `@` in the arguments standing for the newest backup's file name and
    /// `@ntp` for the test's NTP server.
    fn command(&self, scenario: &Scenario) -> Command {
        let newest = newest_backup(self.root.path());
        let ntp = ntp_server().to_string();
        let args: Vec<&str> = scenario
            .args
            .iter()
            .map(|a| match *a {
                "@" => newest.as_str(),
                "@ntp" => ntp.as_str(),
                other => other,
            })
            .collect();
        let mut cmd = match &self.ns {
            Some(ns) => ns.sensorctl(self.root.path(), &args),
            None => sensorctl(self.root.path(), &args).command(),
        };
        cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
        cmd
    }
    /// The scenario's kernel state, as the real tools print it (empty outside a namespace).
    fn kernel(&self, scenario: &Scenario) -> Vec<String> {
        match &self.ns {
            // A qdisc's handle is the kernel's choice (`qdisc tbf 81b9: root …`): left out.
            Some(ns) => scenario
                .kernel
                .iter()
                .map(|argv| {
                    ns.exec(argv)
                        .lines()
                        .map(|line| match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                            ["qdisc", kind, _handle, rest @ ..] => format!("qdisc {kind} {}", rest.join(" ")),
                            _ => line.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .collect(),
            None => Vec::new(),
        }
    }
    /// Runs to completion; the exit code and stderr.
    fn run(&self, scenario: &Scenario) -> (i32, String) {
        let mut child = self.command(scenario).spawn().unwrap();
        let _ = child.stdin.take().unwrap().write_all(scenario.stdin);
        let out = child.wait_with_output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// An SNTP server in a thread of this test on a loopback address of its own, port 123,
/// answering with this machine's clock (so `ntp enable` finds an offset of about zero and
/// only slews the clock, as tests/ntp.rs does with chronyd). Started on first use.
fn ntp_server() -> std::net::Ipv4Addr {
    static SERVER: std::sync::OnceLock<std::net::Ipv4Addr> = std::sync::OnceLock::new();
    *SERVER.get_or_init(|| {
        let pid = std::process::id();
        let addr = std::net::Ipv4Addr::new(127, 250, (pid >> 8) as u8, pid as u8);
        let socket = std::net::UdpSocket::bind((addr, 123)).unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((len, from)) = socket.recv_from(&mut buf) {
                if len < 48 {
                    continue;
                }
                let mut reply = [0u8; 48];
                reply[0] = (4 << 3) | 4; // version 4, mode 4 (server)
                reply[1] = 2; // stratum 2
                reply[12..16].copy_from_slice(&[192, 0, 2, 1]);
                reply[24..32].copy_from_slice(&buf[40..48]); // origin = the request's transmit time
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
                let ntp =
                    ((now.as_secs() + 2_208_988_800) << 32) | ((u64::from(now.subsec_nanos()) << 32) / 1_000_000_000);
                reply[32..40].copy_from_slice(&ntp.to_be_bytes());
                reply[40..48].copy_from_slice(&ntp.to_be_bytes());
                let _ = socket.send_to(&reply, from);
            }
        });
        addr
    })
}

fn newest_backup(root: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(root.join("var/cyberx/backups"))
        .map(|d| {
            d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.')).collect()
        })
        .unwrap_or_default();
    names.sort();
    names.pop().unwrap_or_default()
}

/// This sandbox's new state: its old state with the changes the reference run made (the setups
/// differ in salts, keys and backup names the command does not touch).
fn expected_new(old_ref: &Snapshot, new_ref: &Snapshot, old: &Snapshot) -> Snapshot {
    let mut new = old.clone();
    for path in old_ref.keys().chain(new_ref.keys()) {
        if old_ref.get(path) != new_ref.get(path) {
            match new_ref.get(path) {
                Some(bytes) => new.insert(path.clone(), bytes.clone()),
                None => new.remove(path),
            };
        }
    }
    new
}

/// Everything wrong with `now`, given the `old` and `new` states.
/// With `settled`, only the new state is right (after a run to completion).
fn judge(
    scenario: &Scenario,
    root: &Path,
    old: &Snapshot,
    new: &Snapshot,
    now: &Snapshot,
    settled: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    let paths: std::collections::BTreeSet<&PathBuf> = old.keys().chain(new.keys()).chain(now.keys()).collect();
    for rel in paths {
        if ignored(rel) {
            continue;
        }
        let (was, will, is) = (old.get(rel), new.get(rel), now.get(rel));
        if let Some((_, check)) = scenario
            .varying
            .iter()
            .find(|(prefix, _)| rel.starts_with(prefix) || rel.to_string_lossy().starts_with(prefix))
        {
            if is_temp(rel) {
                continue;
            }
            if let Some(bytes) = is {
                if was.map(|w| w == bytes) != Some(true) {
                    if let Err(why) = check(root, rel, bytes, old) {
                        problems.push(why);
                    }
                }
            }
            continue;
        }
        if is == will || (is == was && !settled) {
            continue;
        }
        if is.is_some() && was.is_none() && will.is_none() && is_temp(rel) && !settled {
            continue;
        }
        problems.push(format!(
            "{} is neither old nor new ({})",
            rel.display(),
            match (is, was, will) {
                (None, _, _) => "missing".to_string(),
                (Some(b), _, _) => format!("{} bytes: {:?}", b.len(), String::from_utf8_lossy(&b[..b.len().min(120)])),
            }
        ));
    }
    if let Some(log) = now.get(Path::new("var/log/sensorctl/audit.log")) {
        if !log.is_empty() && !log.ends_with(b"\n") {
            problems.push("the audit log ends in a torn entry".to_string());
        }
    }
    problems
}

#[test]
fn a_kill_at_any_instant_leaves_old_or_new_files_that_parse() {
    if !can_make_netns() {
        eprintln!("skipped: needs root and iproute2 for network namespaces and the sandbox's file owners");
        return;
    }
    let seed: u64 = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    let runs: usize = std::env::var("CRASH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    eprintln!("crash_consistency: CRASH_SEED={seed} CRASH_RUNS={runs}");
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    for scenario in SCENARIOS {
        if let Some(why) = unsupported_here(scenario) {
            eprintln!("{}: skipped: {why}", scenario.name);
            continue;
        }
        let reference = Stage::new(scenario, "cc-ref");
        let old_ref = snapshot(reference.root.path());
        let started = Instant::now();
        let (code, stderr) = reference.run(scenario);
        let duration = started.elapsed();
        assert_eq!(code, 0, "{}: the reference run failed: {stderr}", scenario.name);
        let new_ref = snapshot(reference.root.path());
        let kernel_new = reference.kernel(scenario);
        assert_ne!(old_ref, new_ref, "{}: the reference run changed nothing", scenario.name);
        let mut killed = 0;
        // How the killed runs left the files: all old, some changed, all new.
        let mut states = [0usize; 3];
        for run in 0..runs {
            let stage = Stage::new(scenario, "cc-run");
            let old = snapshot(stage.root.path());
            let new = expected_new(&old_ref, &new_ref, &old);
            let kernel_old = stage.kernel(scenario);
            // Half the kills anywhere in the run, half in its last part, where most commands
            // write (after parsing, hashing, reading).
            let span = (duration.as_nanos() as u64).max(1);
            let delay = Duration::from_nanos(if run % 2 == 0 {
                rng.next() % span
            } else {
                span * 6 / 10 + rng.next() % (span / 2).max(1)
            });
            let mut child = stage.command(scenario).spawn().unwrap();
            let _ = child.stdin.take().unwrap().write_all(scenario.stdin);
            std::thread::sleep(delay);
            if child.try_wait().unwrap().is_none() {
                killed += 1;
            }
            let _ = child.kill();
            let _ = child.wait();
            let now = snapshot(stage.root.path());
            let kernel_now = stage.kernel(scenario);
            if kernel_now != kernel_old && kernel_now != kernel_new {
                failures.push(format!(
                    "{} run {run} (killed after {delay:?}): kernel state neither old nor new: {kernel_now:?}",
                    scenario.name
                ));
            }
            let relevant = |snap: &Snapshot| -> Snapshot {
                snap.iter().filter(|(p, _)| !ignored(p) && !is_temp(p)).map(|(p, b)| (p.clone(), b.clone())).collect()
            };
            if relevant(&now) == relevant(&old) {
                states[0] += 1;
            } else if relevant(&now) == relevant(&new) {
                states[2] += 1;
            } else {
                states[1] += 1;
            }
            for problem in judge(scenario, stage.root.path(), &old, &new, &now, false) {
                failures.push(format!("{} run {run} (killed after {delay:?}): {problem}", scenario.name));
            }
            // The next run must not be wedged by what the kill left.
            // (A command that refuses to repeat itself, like disabling a server already gone,
            // may fail, but only when the kill came after the change was complete.)
            let already_new = judge(scenario, stage.root.path(), &old, &new, &now, true).is_empty();
            let (code, stderr) = stage.run(scenario);
            if code != 0 && !(already_new && (code == 1 || code == 2)) {
                failures.push(format!("{} run {run}: the run after the kill failed ({code}): {stderr}", scenario.name));
            }
            if stage.kernel(scenario) != kernel_new {
                failures.push(format!(
                    "{} run {run}, after the rerun: kernel state {:?} is not the new one",
                    scenario.name,
                    stage.kernel(scenario)
                ));
            }
            for problem in judge(scenario, stage.root.path(), &old, &new, &snapshot(stage.root.path()), true) {
                failures.push(format!("{} run {run}, after the rerun: {problem}", scenario.name));
            }
        }
        eprintln!(
            "{}: full run {duration:?}, {killed} of {runs} runs killed before they ended; files left all old {}, in between {}, all new {}",
            scenario.name, states[0], states[1], states[2]
        );
    }
    assert!(failures.is_empty(), "CRASH_SEED={seed}:\n{}", failures.join("\n"));
}
