//! `network load` against traffic of a known rate: iperf3 sends UDP at a fixed rate through a
//! veth between two namespaces the test makes, and what we report must agree with what iperf3
//! says it sent.



use crate::common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run(ns: &NetNs, root: &std::path::Path, args: &[&str]) -> Run {
    let out = ns.sensorctl(root, args).stdin(Stdio::null()).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `Received: 10.42 MBit/s` (or `0.0 Bit`) → bits per second.
fn parse_rate(text: &str) -> f64 {
    if text == "0.0 Bit" {
        return 0.0;
    }
    let (number, unit) = text.split_once(' ').unwrap_or_else(|| panic!("{text:?}"));
    let scale = match unit {
        "Bit/s" => 1.0,
        "KBit/s" => 1e3,
        "MBit/s" => 1e6,
        "GBit/s" => 1e9,
        _ => panic!("unit of {text:?}"),
    };
    number.parse::<f64>().unwrap_or_else(|_| panic!("{text:?}")) * scale
}

/// The sample lines of the report: (received, sent) in bits per second, checking their shape.
fn samples(block: &[&str]) -> Vec<(f64, f64)> {
    block
        .iter()
        .map(|line| {
            let rest = line.strip_prefix("        Received: ").unwrap_or_else(|| panic!("{line:?}"));
            let (received, sent) = rest.split_once(" Sent: ").unwrap_or_else(|| panic!("{line:?}"));
            (parse_rate(received), parse_rate(sent))
        })
        .collect()
}

/// A number after `"key":` in iperf3's JSON (the first one after `after`).
fn json_number(json: &str, after: &str, key: &str) -> f64 {
    let from = json.find(after).unwrap_or_else(|| panic!("no {after} in {json}"));
    let at = json[from..].find(&format!("\"{key}\":")).unwrap() + from + key.len() + 3;
    let end = json[at..].find([',', '}', '\n']).unwrap() + at;
    json[at..end].trim().parse().unwrap()
}

#[test]
fn the_sent_rate_matches_what_iperf3_sent() {
    if !can_make_netns() || Command::new("iperf3").arg("--version").output().is_err() {
        skip("needs root, iproute2 and iperf3 (scripts/test installs iperf3)");
        return;
    }
    let a = NetNs::new("load-a");
    let b = NetNs::new("load-b");
    a.host(&["ip", "link", "add", "loada", "netns", &a.0, "type", "veth", "peer", "name", "loadb", "netns", &b.0]);
    a.exec(&["ip", "addr", "add", "10.78.0.1/24", "dev", "loada"]);
    b.exec(&["ip", "addr", "add", "10.78.0.2/24", "dev", "loadb"]);
    a.exec(&["ip", "link", "set", "loada", "up"]);
    b.exec(&["ip", "link", "set", "loadb", "up"]);
    let root = sandbox("load-rate");

    let mut server = Command::new("ip")
        .args(["netns", "exec", &b.0, "iperf3", "-s", "-1", "-B", "10.78.0.2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // 10 Mbit/s of UDP payload in 1000-byte datagrams for 7 seconds; every datagram is a
    // 1042-byte frame on the veth (8 bytes UDP, 20 IPv4, 14 Ethernet header).
    let client = Command::new("ip")
        .args(["netns", "exec", &a.0, "iperf3", "-c", "10.78.0.2", "-u", "-b", "10M", "-l", "1000", "-t", "7", "-J"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Sample three seconds in the middle of the run.
    std::thread::sleep(Duration::from_millis(2000));
    let started = Instant::now();
    let out = run(&a, root.path(), &["network", "load", "--interface", "loada", "--seconds", "3"]);
    let took = started.elapsed();
    let iperf = client.wait_with_output().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(took >= Duration::from_millis(2900) && took < Duration::from_secs(6), "three one-second samples took {took:?}");
    let json = String::from_utf8_lossy(&iperf.stdout);
    assert!(iperf.status.success(), "iperf3: {json} {}", String::from_utf8_lossy(&iperf.stderr));

    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "loada:", "{}", out.stdout);
    let samples = samples(&lines[1..]);
    assert_eq!(samples.len(), 3, "{}", out.stdout);
    let payload_bits = json_number(&json, "\"sum\"", "bits_per_second");
    let expected = payload_bits * 1042.0 / 1000.0;
    let sent: f64 = samples.iter().map(|s| s.1).sum::<f64>() / 3.0;
    eprintln!("network load: {sent:.0} bit/s sent; iperf3: {payload_bits:.0} bit/s payload, {expected:.0} bit/s of frames");
    assert!(
        (sent / expected - 1.0).abs() < 0.02,
        "we saw {sent:.0} bit/s sent, iperf3 sent {payload_bits:.0} bit/s of payload = {expected:.0} bit/s of frames\n{}",
        out.stdout
    );
    for (received, sent) in &samples {
        assert!((sent / expected - 1.0).abs() < 0.05, "a sample far off: {sent} vs {expected}\n{}", out.stdout);
        // What comes back is iperf3's control connection and nothing else: far below the rate.
        assert!(*received < expected / 50.0, "{received}\n{}", out.stdout);
    }
}

#[test]
fn every_interface_that_is_up_is_shown_with_the_board_labels() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a network namespace");
        return;
    }
    let ns = NetNs::new("load-all");
    // adiot0 is the generic board's monitor interface `local_listener`; its peer stays down, so
    // it has no carrier and no traffic. down0/down1 are down and must not be listed.
    ns.exec(&["ip", "link", "add", "adiot0", "type", "veth", "peer", "name", "adiot1"]);
    ns.exec(&["ip", "link", "set", "adiot0", "up"]);
    ns.exec(&["ip", "link", "add", "down0", "type", "veth", "peer", "name", "down1"]);
    let root = sandbox("load-all");
    let started = Instant::now();
    let out = run(&ns, root.path(), &["network", "load", "--seconds", "2"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(started.elapsed() >= Duration::from_millis(1900), "{:?}", started.elapsed());
    assert_eq!(
        out.stdout,
        "local_listener (virtual adiot0):\n        Received: 0.0 Bit Sent: 0.0 Bit\n        Received: 0.0 Bit Sent: 0.0 Bit\n",
        "lo and the interfaces that are down are left out"
    );
    // The alias, with the default six samples.
    let link = alias(root.path(), "cyberx-nload");
    // Through qemu-user when the suite runs an ARM build (`Invocation` honours SENSORCTL_RUNNER).
    let mut outer = Command::new("ip");
    outer.args(["netns", "exec", &ns.0]);
    let out = wrapped(outer, &Invocation::new(link, root.path(), &[]).command()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 7, "{text}");
    // --json carries the same samples with the time each covered.
    let out = run(&ns, root.path(), &["network", "load", "--seconds", "1", "--json", "--interface", "lo"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("{\"interfaces\":[{\"name\":\"lo\",\"samples\":[{\"seconds\":"), "{}", out.stdout);
}

#[test]
fn bad_input_and_roles() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a network namespace");
        return;
    }
    let ns = NetNs::new("load-bad");
    let root = sandbox("load-bad");
    for (args, expected) in [
        (&["network", "load", "--seconds", "0"][..], "must be 1-3600"),
        (&["network", "load", "--seconds", "3601"], "must be 1-3600"),
        (&["network", "load", "--seconds", "x"], "seconds"),
        (&["network", "load", "--interface", "a;b"], "invalid interface name"),
        (&["network", "load", "--interface", "nosuch0", "--seconds", "1"], "interface 'nosuch0' does not exist"),
        (&["network", "load", "extra"], "extra"),
    ] {
        let out = run(&ns, root.path(), args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.starts_with("sensorctl: network load: ") && out.stderr.contains(expected), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
    let out = run(&ns, root.path(), &["--role", "support", "network", "load", "--seconds", "1"]);
    assert_eq!(out.code, 77, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    let out = run(&ns, root.path(), &["--role", "cyberx", "network", "load", "--seconds", "1", "--interface", "lo"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().next(), Some("lo:"));
}
