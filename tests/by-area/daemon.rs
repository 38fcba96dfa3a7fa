//! The daemon on a temporary root: peer credentials decide the role, the replies equal the
//! in-process output, and hostile or careless clients cannot stop it serving.



use crate::common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

fn connect(root: &Path) -> UnixStream {
    let stream = UnixStream::connect(root.join("run/sensorctl/sensord.sock")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream
}

/// Sends one request line and collects reply lines up to the `Done` one.
fn request(stream: &mut UnixStream, line: &str) -> Vec<String> {
    stream.write_all(line.as_bytes()).unwrap();
    stream.write_all(b"\n").unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut replies = Vec::new();
    loop {
        let mut reply = String::new();
        if reader.read_line(&mut reply).unwrap() == 0 {
            break;
        }
        let done = reply.starts_with("{\"Done\"");
        replies.push(reply.trim_end().to_string());
        if done {
            break;
        }
    }
    replies
}

/// A sandbox named `label` and a daemon serving it; `None`, with a note of what the test
/// needed root for (`why`), when the tests do not run as root. The daemon is the second
/// binding, so it stops before its sandbox is removed.
fn daemon_in_sandbox(label: &str, why: &str) -> Option<(TempDir, Daemon)> {
    if !is_root() {
        skip(&format!("needs root to {why}"));
        return None;
    }
    let root = sandbox(label);
    let daemon = Daemon::start(root.path());
    Some((root, daemon))
}

#[test]
fn socket_and_directory_are_root_and_group_only() {
    let Some((root, _daemon)) = daemon_in_sandbox("daemon-perms", "run the daemon") else { return };
    let dir = std::fs::metadata(root.path().join("run/sensorctl")).unwrap();
    assert_eq!((dir.mode() & 0o777, dir.uid(), dir.gid()), (0o750, 0, SENSORCTL_GID));
    let socket = std::fs::metadata(root.path().join("run/sensorctl/sensord.sock")).unwrap();
    assert_eq!((socket.mode() & 0o777, socket.uid(), socket.gid()), (0o660, 0, SENSORCTL_GID));
}

#[test]
fn every_role_gets_the_in_process_output_or_a_denial() {
    let Some((root, _daemon)) = daemon_in_sandbox("daemon-roles", "run the daemon and other uids") else { return };
    for (uid, role) in [(SUPPORT_UID, "support"), (CYBERX_UID, "cyberx"), (CYBERX_HOST_UID, "cyberx_host"), (STRANGER_UID, "none")] {
        for command in [&["system", "version"][..], &["system", "sanity"], &["date", "--json"]] {
            let mut local_args = vec!["--role", role];
            local_args.extend_from_slice(command);
            let local = sensorctl(root.path(), &local_args).run();
            let remote = sensorctl(root.path(), command).uid(uid).run();
            assert_eq!(remote.code, local.code, "{command:?} as {role}: {}", remote.stderr);
            if command[0] != "date" {
                assert_eq!(remote.stdout, local.stdout, "{command:?} as {role}");
            }
            assert_eq!(remote.stderr, local.stderr, "{command:?} as {role}");
        }
    }
}

#[test]
fn two_hundred_concurrent_clients_are_all_answered() {
    let Some((root, _daemon)) = daemon_in_sandbox("daemon-load", "run the daemon") else { return };
    let root_path = root.path().to_path_buf();
    let clients: Vec<_> = (0..200)
        .map(|n| {
            let root_path = root_path.clone();
            std::thread::spawn(move || {
                let mut stream = connect(&root_path);
                let action = if n % 2 == 0 { r#"{"Version":{"json":false}}"# } else { r#"{"Sanity":{"json":false}}"# };
                let replies = request(&mut stream, &format!(r#"{{"id":{n},"action":{action}}}"#));
                (n, replies)
            })
        })
        .collect();
    for client in clients {
        let (n, replies) = client.join().unwrap();
        let done = replies.last().unwrap();
        if n % 2 == 0 {
            assert!(replies[0].contains("Version: "), "{replies:?}");
            assert_eq!(done, &format!(r#"{{"Done":{{"id":{n},"exit":0,"error":""}}}}"#), "{replies:?}");
        } else {
            // Nothing runs in the sandbox: the services are down, exit 1, every line there.
            assert!(replies.iter().any(|r| r.contains("System is DOWN!")), "{replies:?}");
            assert_eq!(done, &format!(r#"{{"Done":{{"id":{n},"exit":1,"error":""}}}}"#), "{replies:?}");
        }
        assert!(replies.iter().all(|r| r.contains(&format!("\"id\":{n},"))), "replies carry the request id");
    }
}

#[test]
fn malformed_huge_silent_and_vanishing_clients_do_not_stop_it() {
    let Some((root, daemon)) = daemon_in_sandbox("daemon-hostile", "run the daemon") else { return };

    let mut stream = connect(root.path());
    let replies = request(&mut stream, "{not json");
    assert!(replies[0].contains(r#""exit":2"#) && replies[0].contains("malformed request"), "{replies:?}");
    // Found by fuzzing (issue 12): nanoserde aborted the daemon on the first line and hung it on
    // the others.
    for line in [r#"{"id":1,"x":"#, r#"{"id":1,"x":["#, "{\"id\":1,\"action\":{\0\"Version\":{}}}"] {
        let replies = request(&mut stream, line);
        assert!(replies[0].contains(r#""exit":2"#) && replies[0].contains("malformed request"), "{line:?}: {replies:?}");
    }
    let replies = request(&mut stream, r#"{"id":1,"action":{"Reboot":{"now":true}}}"#);
    assert!(replies[0].contains(r#""exit":2"#), "unknown fields or actions are malformed: {replies:?}");
    let replies = request(&mut stream, r#"{"id":2,"action":{"Daemon":{}}}"#);
    assert!(replies[0].contains("not served over the daemon socket"), "{replies:?}");
    let replies = request(&mut stream, r#"{"id":3,"action":{"Version":{"json":false}}}"#);
    assert!(replies[0].contains("Version: "), "the connection still works after bad requests: {replies:?}");

    // A silent client holds a connection; others are still served.
    let _silent = connect(root.path());

    // A 1 MB line is refused and that connection closed.
    let mut huge = connect(root.path());
    let payload = vec![b'x'; 1 << 20];
    let writer = {
        let mut huge = huge.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = huge.write_all(&payload);
            let _ = huge.write_all(b"\n");
        })
    };
    let mut reply = String::new();
    let _ = huge.read_to_string(&mut reply);
    let _ = writer.join();
    assert!(reply.contains("request larger than 65536 bytes"), "{reply}");

    // A client that asks for streaming output and hangs up after the first line.
    let mut vanishing = connect(root.path());
    vanishing
        .write_all(br#"{"id":4,"action":{"Ping":{"address":"127.0.0.1","count":5,"timeout_s":1,"interval_ms":200}}}"#)
        .unwrap();
    vanishing.write_all(b"\n").unwrap();
    let mut first = String::new();
    BufReader::new(vanishing.try_clone().unwrap()).read_line(&mut first).unwrap();
    assert!(first.contains("PING 127.0.0.1"), "{first}");
    drop(vanishing);

    let mut after = connect(root.path());
    let replies = request(&mut after, r#"{"id":5,"action":{"Version":{"json":false}}}"#);
    assert!(replies[0].contains("Version: "), "{replies:?}");
    assert!(std::path::Path::new(&format!("/proc/{}", daemon.pid())).exists(), "the daemon died");
}

#[test]
fn more_connections_than_the_cap_are_told_to_retry() {
    let Some((root, _daemon)) = daemon_in_sandbox("daemon-cap", "run the daemon") else { return };
    let mut held = Vec::new();
    for _ in 0..256 {
        let mut stream = connect(root.path());
        // Make sure each one is being served (not just queued) before opening the next.
        let replies = request(&mut stream, r#"{"id":1,"action":{"Version":{"json":false}}}"#);
        assert!(replies[0].contains("Version: "));
        held.push(stream);
    }
    let mut extra = connect(root.path());
    let mut reply = String::new();
    extra.read_to_string(&mut reply).unwrap();
    assert!(reply.contains(r#""exit":75"#) && reply.contains("daemon busy"), "{reply}");
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    let mut later = connect(root.path());
    let replies = request(&mut later, r#"{"id":2,"action":{"Version":{"json":false}}}"#);
    assert!(replies[0].contains("Version: "), "slots are freed when clients leave: {replies:?}");
}

#[test]
fn only_root_may_start_the_daemon() {
    let root = sandbox("daemon-role");
    let run = sensorctl(root.path(), &["--role", "cyberx", "daemon"]).run();
    assert_eq!(run.code, 77, "{}", run.stderr);
    let via_alias = Invocation::new(alias(root.path(), "sensord"), root.path(), &["--help"]).run();
    assert_eq!(via_alias.code, 0);
    assert!(via_alias.stdout.starts_with("Usage: sensord"), "{}", via_alias.stdout);
}

fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn audit_log(root: &Path) -> String {
    std::fs::read_to_string(root.join("var/log/sensorctl/audit.log")).unwrap_or_default()
}

/// The backups in the board's backup directory, oldest first (names sort by epoch ms).
fn backup_files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = match std::fs::read_dir(root.join("var/cyberx/backups")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_str().unwrap().contains("-backup-version-"))
            .filter(|p| !p.file_name().unwrap().to_str().unwrap().starts_with('.'))
            .collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    found
}

/// The epoch ms in a backup's name (`<host>-<epoch ms>-backup-version-…`).
fn backup_epoch_ms(path: &Path) -> u64 {
    let name = path.file_name().unwrap().to_str().unwrap();
    let head = name.split("-backup-version-").next().unwrap();
    head.rsplit('-').next().unwrap().parse().unwrap()
}

#[test]
fn scheduled_backups_follow_the_configured_interval_and_are_complete() {
    if !is_root() {
        skip("needs root to run the daemon");
        return;
    }
    let root = sandbox("daemon-sched-backup");
    let key_text = b"scheduled backups keep this\n";
    write_file(&root.path().join("var/cyberx/keys/k1"), key_text);
    write_file(&root.path().join("var/cyberx/logs/traffic.log"), &vec![b'l'; 300_000]);
    write_file(&root.path().join("etc/sensorctl/config.json"), b"{\"version\": 1}\n");
    let daemon = Daemon::start(root.path());

    // No interval: no backup, however long the daemon runs.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(backup_files(root.path()).is_empty(), "{:?}", backup_files(root.path()));

    // An interval, read on SIGHUP.
    let interval_ms = 2000;
    write_file(&root.path().join("etc/sensorctl/config.json"), b"{\"version\": 1, \"backup_interval_s\": 2}\n");
    let enabled = std::time::Instant::now();
    let hup = std::process::Command::new("kill").args(["-HUP", &daemon.pid().to_string()]).status().unwrap();
    assert!(hup.success());
    // Each one audited as the daemon's own work, once it is complete.
    let audited = || {
        audit_log(root.path())
            .lines()
            .filter(|l| l.contains(" uid=0 user=root role=root action=backup target=scheduled result=ok"))
            .count()
    };
    while audited() < 3 {
        assert!(enabled.elapsed() < Duration::from_secs(60), "{:?}", backup_files(root.path()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed_ms = enabled.elapsed().as_millis() as u64;
    drop(daemon);
    let files = backup_files(root.path());
    // (The kill may have come between a backup's rename and its audit line.)
    let audited = audited();
    assert!(files.len() == audited || files.len() == audited + 1, "{audited} audited: {files:?}");
    // One interval after the last one ended: never closer, and no burst.
    for pair in files.windows(2) {
        let gap = backup_epoch_ms(&pair[1]) - backup_epoch_ms(&pair[0]);
        assert!(gap >= interval_ms, "backups {gap} ms apart: {files:?}");
    }
    assert!((files.len() as u64) <= elapsed_ms / interval_ms + 2, "{} backups in {elapsed_ms} ms", files.len());

    // GNU tar reads each one and finds the data as it was.
    for file in &files {
        let out = std::process::Command::new("tar").arg("-xOf").arg(file).arg("var/cyberx/keys/k1").output().unwrap();
        assert!(out.status.success(), "tar -xOf {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, key_text, "{}", file.display());
        let out = std::process::Command::new("tar").arg("-tf").arg(file).output().unwrap();
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(listed.lines().any(|l| l == "var/cyberx/logs/traffic.log"), "{listed}");
    }
    // The HMAC of each verifies, and the status of the last one is recorded.
    let list = sensorctl(root.path(), &["system", "backup-list", "--json"]).run();
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.matches("\"verified\":\"ok\"").count() >= files.len(), "{}", list.stdout);
    let state = std::fs::read_to_string(root.path().join("var/lib/sensorctl/backup-state.json")).unwrap();
    assert!(state.contains("\"last_status\":\"SUCCESS\""), "{state}");
}

#[test]
fn denials_of_every_kind_are_audited_in_the_daemon_and_in_process() {
    let Some((root, _daemon)) = daemon_in_sandbox("daemon-deny-audit", "run the daemon and other uids") else { return };
    let today = std::process::Command::new("date").args(["-u", "+%Y-%m-%dT"]).output().unwrap();
    let today = String::from_utf8(today.stdout).unwrap().trim().to_string();
    // Harmless actions only: a broken policy must not blink or power anything off.
    let cases: [(Option<u32>, &[&str], &str); 4] = [
        (
            Some(CYBERX_UID),
            &["network", "blink", "lo"],
            "uid=4243 user=cyberx role=cyberx action=network-blink target=lo",
        ),
        (
            Some(CYBERX_HOST_UID),
            &["system", "version"],
            "uid=4244 user=cyberx_host role=cyberx_host action=version target=-",
        ),
        (Some(STRANGER_UID), &["date"], "uid=4245 user=stranger role=none action=date target=-"),
        // In-process: root lowered to support.
        (
            None,
            &["--role", "support", "network", "load", "--seconds", "1"],
            "uid=0 user=root role=support action=network-load target=-",
        ),
    ];
    for (uid, args, expected) in cases {
        let before = audit_log(root.path()).lines().count();
        let command = sensorctl(root.path(), args);
        let run = match uid {
            Some(uid) => command.uid(uid).run(),
            None => command.run(),
        };
        assert_eq!(run.code, 77, "{args:?}: {}{}", run.stdout, run.stderr);
        let log = audit_log(root.path());
        let added: Vec<&str> = log.lines().skip(before).collect();
        assert_eq!(added.len(), 1, "{args:?}: {added:?}");
        assert!(added[0].starts_with(&today), "{}", added[0]);
        assert!(added[0].ends_with(&format!(" {expected} result=denied")), "{args:?}: {}", added[0]);
    }
}

/// A journal as `system restore` writes it before it swaps (see src/backup/restore.rs).
fn journal_item(live: &Path, staging: &Path, action: &str, inode_at: &Path) -> String {
    let meta = std::fs::symlink_metadata(inode_at).unwrap();
    format!(
        r#"{{"live":"{}","staging":"{}","action":"{action}","dev":{},"ino":{}}}"#,
        live.display(),
        staging.display(),
        meta.dev(),
        meta.ino()
    )
}

#[test]
fn the_daemon_finishes_an_interrupted_restore_before_it_serves() {
    if !is_root() {
        skip("needs root to run the daemon");
        return;
    }
    let root = sandbox("daemon-recover");
    let at = |rel: &str| root.path().join(rel);
    // A restore killed half way through its swap: keys not yet exchanged, logs exchanged (the
    // old data waits in staging for removal), baselines (absent before) not yet installed.
    write_file(&at("var/cyberx/keys/k"), b"old keys");
    write_file(&at("var/cyberx/.keys.sensorctl-restore/k"), b"new keys");
    write_file(&at("var/cyberx/logs/l"), b"new logs");
    write_file(&at("var/cyberx/.logs.sensorctl-restore/l"), b"old logs");
    write_file(&at("var/cyberx/.baselines.sensorctl-restore/b"), b"new baselines");
    let step = |name: &str, action: &str, done: bool| {
        let (live, staging) = (at(&format!("var/cyberx/{name}")), at(&format!("var/cyberx/.{name}.sensorctl-restore")));
        // The journal names the inode that must end up live: where it is tells what was done.
        journal_item(&live, &staging, action, if done { &live } else { &staging })
    };
    let items = [step("keys", "exchange", false), step("logs", "exchange", true), step("baselines", "install", false)];
    let journal = at("var/lib/sensorctl/restore-journal.json");
    write_file(&journal, format!(r#"{{"started":"2026-01-01T00:00:00Z","items":[{}]}}"#, items.join(",")).as_bytes());

    let daemon = Daemon::start(root.path());
    // Once it serves, the swap is complete: all new, nothing left over.
    assert_eq!(std::fs::read(at("var/cyberx/keys/k")).unwrap(), b"new keys");
    assert_eq!(std::fs::read(at("var/cyberx/logs/l")).unwrap(), b"new logs");
    assert_eq!(std::fs::read(at("var/cyberx/baselines/b")).unwrap(), b"new baselines");
    assert!(!journal.exists(), "the journal is removed once the swap is done");
    let left: Vec<_> = std::fs::read_dir(at("var/cyberx")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.iter().all(|n| !n.to_string_lossy().contains("sensorctl-restore")), "{left:?}");
    let run = sensorctl(root.path(), &["system", "version"]).uid(SUPPORT_UID).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    drop(daemon);

    // A restore killed while extracting (no journal yet): the live data stays, the staging goes.
    write_file(&at("var/cyberx/.keys.sensorctl-restore/partial"), b"half");
    let _daemon = Daemon::start(root.path());
    assert_eq!(std::fs::read(at("var/cyberx/keys/k")).unwrap(), b"new keys");
    assert!(!at("var/cyberx/.keys.sensorctl-restore").exists());
}

#[test]
fn the_daemon_applies_the_stored_network_settings_at_start() {
    if !can_make_netns() {
        skip("needs root and iproute2 (network namespaces)");
        return;
    }
    let ns = NetNs::new("dmn-net");
    for (a, b) in [("m0", "p0"), ("mon1", "mon1p")] {
        ns.exec(&["ip", "link", "add", a, "type", "veth", "peer", "name", b]);
        ns.exec(&["ip", "link", "set", a, "up"]);
        ns.exec(&["ip", "link", "set", b, "up"]);
    }
    let root = sandbox("daemon-net");
    let args = [
        "network", "reconfigure", "--interface", "m0", "--ip", "10.77.0.5", "--subnet", "/24", "--gateway", "10.77.0.1",
        "--dns", "10.77.0.53", "--monitor", "local_listener=mon1", "--backup-dir", "/data/backups", "--yes",
    ];
    let stored = ns.sensorctl(root.path(), &args).output().unwrap();
    assert!(stored.status.success(), "{}", String::from_utf8_lossy(&stored.stderr));
    let config = std::fs::read(root.path().join("etc/sensorctl/config.json")).unwrap();

    // What a reboot forgets, and a resolver file replaced by someone else.
    ns.exec(&["ip", "addr", "flush", "dev", "m0"]);
    assert!(!ns.exec(&["ip", "-4", "route", "show", "default"]).contains("10.77.0.1"), "flushing drops the route");
    std::fs::write(root.path().join("etc/resolv.conf"), "nameserver 192.0.2.9\n").unwrap();

    let _daemon = Daemon::start_with(ns.sensorctl(root.path(), &["daemon"]), root.path());
    let addresses = ns.exec(&["ip", "-j", "-4", "addr", "show", "dev", "m0"]);
    assert!(addresses.contains(r#""local":"10.77.0.5","prefixlen":24"#), "{addresses}");
    let routes = ns.exec(&["ip", "-j", "-4", "route", "show", "default"]);
    assert!(routes.contains(r#""gateway":"10.77.0.1","dev":"m0""#), "{routes}");
    let resolver = std::fs::read_to_string(root.path().join("etc/resolv.conf")).unwrap();
    assert_eq!(resolver.lines().filter(|l| l.starts_with("nameserver")).collect::<Vec<_>>(), ["nameserver 10.77.0.53"]);
    let after = std::fs::read(root.path().join("etc/sensorctl/config.json")).unwrap();
    assert_eq!(after, config, "the config is left as it is");
}

/// The daemon's threads: (name, nice value), from /proc.
fn daemon_threads(pid: u32) -> Vec<(String, i64)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (head, rest) = stat.rsplit_once(") ").unwrap();
        let name = head.split_once(" (").unwrap().1.to_string();
        // Field 19 of stat(5), the 17th after the name.
        let nice = rest.split(' ').nth(16).unwrap().parse().unwrap();
        threads.push((name, nice));
    }
    threads
}

#[test]
fn read_only_requests_reuse_a_waiting_thread_and_a_backups_low_priority_is_not_inherited() {
    let Some((root, daemon)) = daemon_in_sandbox("daemon-reuse", "run the daemon") else { return };
    let mut stream = connect(root.path());
    for id in 0..5 {
        let replies = request(&mut stream, &format!(r#"{{"id":{id},"action":{{"Version":{{"json":false}}}}}}"#));
        assert!(replies.last().unwrap().contains(r#""exit":0"#), "{replies:?}");
    }
    // The request threads wait for the next request instead of ending, at most two of them.
    let waiting = daemon_threads(daemon.pid()).iter().filter(|(name, _)| name == "sensord-request").count();
    assert!((1..=2).contains(&waiting), "{:?}", daemon_threads(daemon.pid()));
    // A backup runs at nice 19 on a thread of its own, which ends with it.
    let replies = request(&mut stream, r#"{"id":9,"action":{"BackupCreate":{}}}"#);
    assert!(replies.last().unwrap().contains(r#""exit":0"#), "{replies:?}");
    let started = std::time::Instant::now();
    while daemon_threads(daemon.pid()).iter().any(|(_, nice)| *nice != 0) {
        assert!(started.elapsed() < Duration::from_secs(5), "a low-priority thread stays: {:?}", daemon_threads(daemon.pid()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let replies = request(&mut stream, r#"{"id":10,"action":{"Version":{"json":false}}}"#);
    assert!(replies.last().unwrap().contains(r#""exit":0"#), "{replies:?}");
    assert!(daemon_threads(daemon.pid()).iter().all(|(_, nice)| *nice == 0), "{:?}", daemon_threads(daemon.pid()));
}
