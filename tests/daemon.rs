//! The daemon on a temporary root: peer credentials decide the role, the replies equal the
//! in-process output, and hostile or careless clients cannot stop it serving.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::*;
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

#[test]
fn socket_and_directory_are_root_and_group_only() {
    if !is_root() {
        eprintln!("skipped: needs root to run the daemon");
        return;
    }
    let root = sandbox("daemon-perms");
    let _daemon = Daemon::start(root.path());
    let dir = std::fs::metadata(root.path().join("run/sensorctl")).unwrap();
    assert_eq!((dir.mode() & 0o777, dir.uid(), dir.gid()), (0o750, 0, SENSORCTL_GID));
    let socket = std::fs::metadata(root.path().join("run/sensorctl/sensord.sock")).unwrap();
    assert_eq!((socket.mode() & 0o777, socket.uid(), socket.gid()), (0o660, 0, SENSORCTL_GID));
}

#[test]
fn every_role_gets_the_in_process_output_or_a_denial() {
    if !is_root() {
        eprintln!("skipped: needs root to run the daemon and other uids");
        return;
    }
    let root = sandbox("daemon-roles");
    let _daemon = Daemon::start(root.path());
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
    if !is_root() {
        eprintln!("skipped: needs root to run the daemon");
        return;
    }
    let root = sandbox("daemon-load");
    let _daemon = Daemon::start(root.path());
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
    if !is_root() {
        eprintln!("skipped: needs root to run the daemon");
        return;
    }
    let root = sandbox("daemon-hostile");
    let daemon = Daemon::start(root.path());

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
    if !is_root() {
        eprintln!("skipped: needs root to run the daemon");
        return;
    }
    let root = sandbox("daemon-cap");
    let _daemon = Daemon::start(root.path());
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
