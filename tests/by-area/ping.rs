//! `ping` between two network namespaces the test makes, against iputils' ping as the yardstick
//! for the output's shape.



use crate::common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Two namespaces joined by a veth: `a` has 10.77.0.1/24, `b` has 10.77.0.2/24.
fn pair(label: &str) -> (NetNs, NetNs) {
    let a = NetNs::new(&format!("{label}-a"));
    let b = NetNs::new(&format!("{label}-b"));
    a.host(&["ip", "link", "add", "pinga", "netns", &a.0, "type", "veth", "peer", "name", "pingb", "netns", &b.0]);
    a.exec(&["ip", "addr", "add", "10.77.0.1/24", "dev", "pinga"]);
    b.exec(&["ip", "addr", "add", "10.77.0.2/24", "dev", "pingb"]);
    a.exec(&["ip", "link", "set", "pinga", "up"]);
    b.exec(&["ip", "link", "set", "pingb", "up"]);
    (a, b)
}

/// The output with every run of digits replaced by `#`: the shape, without the timings.
fn shape(text: &str) -> String {
    let mut out = String::new();
    let mut in_digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

fn iputils(ns: &NetNs, args: &[&str]) -> (i32, String) {
    let out = Command::new("ip").args(["netns", "exec", &ns.0, "ping"]).args(args).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn replies_from_a_peer_look_like_iputils_and_exit_0() {
    if !can_make_netns() {
        skip("needs root and iproute2 for network namespaces");
        return;
    }
    let (a, _b) = pair("ping-ok");
    let root = sandbox("ping-ok");
    let args = ["-c", "3", "-i", "0.2", "10.77.0.2"];
    let ours = a.sensorctl(root.path(), &[&["ping"][..], &args].concat()).output().unwrap();
    let ours_text = String::from_utf8_lossy(&ours.stdout).into_owned();
    assert_eq!(ours.status.code(), Some(0), "{}", String::from_utf8_lossy(&ours.stderr));
    assert_eq!(ours_text.matches(" bytes from 10.77.0.2: icmp_seq=").count(), 3, "{ours_text}");
    assert!(ours_text.contains("3 packets transmitted, 3 received, 0% packet loss"), "{ours_text}");
    let (code, theirs) = iputils(&a, &args);
    assert_eq!(code, 0);
    assert_eq!(shape(&ours_text), shape(&theirs), "ours:\n{ours_text}\niputils:\n{theirs}");
    // The summary agrees with the lines: min and max are among the printed times.
    let times: Vec<&str> = ours_text.lines().filter_map(|l| l.split("time=").nth(1)).map(|t| t.trim_end_matches(" ms")).collect();
    let rtt_line = ours_text.lines().find(|l| l.starts_with("rtt ")).unwrap();
    let stats: Vec<&str> = rtt_line.split(" = ").nth(1).unwrap().trim_end_matches(" ms").split('/').collect();
    let as_f = |s: &str| s.parse::<f64>().unwrap();
    assert!(times.iter().any(|t| (as_f(t) - as_f(stats[0])).abs() < 0.0015), "{rtt_line} vs {times:?}");
    assert!(times.iter().any(|t| (as_f(t) - as_f(stats[2])).abs() < 0.0015), "{rtt_line} vs {times:?}");
}

#[test]
fn an_unused_address_is_100_percent_loss_and_exit_1() {
    if !can_make_netns() {
        skip("needs root and iproute2 for network namespaces");
        return;
    }
    let (a, _b) = pair("ping-loss");
    let root = sandbox("ping-loss");
    let args = ["-c", "2", "-i", "0.2", "-W", "1", "10.77.0.9"];
    let ours = a.sensorctl(root.path(), &[&["ping"][..], &args].concat()).output().unwrap();
    let text = String::from_utf8_lossy(&ours.stdout).into_owned();
    assert_eq!(ours.status.code(), Some(1), "{}", String::from_utf8_lossy(&ours.stderr));
    assert!(text.contains("2 packets transmitted, 0 received, 100% packet loss"), "{text}");
    assert!(!text.contains("bytes from"));
    let (code, theirs) = iputils(&a, &args);
    assert_eq!(code, 1);
    assert_eq!(shape(&text), shape(&theirs), "ours:\n{text}\niputils:\n{theirs}");
}

#[test]
fn ctrl_c_ends_the_run_with_the_statistics() {
    if !can_make_netns() {
        skip("needs root and iproute2 for network namespaces");
        return;
    }
    let (a, _b) = pair("ping-int");
    let root = sandbox("ping-int");
    let child = a.sensorctl(root.path(), &["ping", "-c", "100", "-i", "0.2", "10.77.0.2"]).stdout(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let started = Instant::now();
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(started.elapsed() < Duration::from_secs(3), "Ctrl-C did not stop ping");
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("--- 10.77.0.2 ping statistics ---"), "{text}");
    let transmitted: u32 = text.lines().find(|l| l.contains("packets transmitted")).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!((3..100).contains(&transmitted), "{text}");
}

#[test]
fn without_cap_net_raw_ping_uses_an_icmp_datagram_socket() {
    if !can_make_netns() {
        skip("needs root and iproute2 for network namespaces");
        return;
    }
    let (a, _b) = pair("ping-dgram");
    a.exec(&["sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647"]);
    let root = sandbox("ping-dgram");
    // Root (so it runs in-process) without CAP_NET_RAW: no raw socket, the datagram one instead.
    let inner = Invocation::new(bin(), root.path(), &["ping", "-c", "2", "-i", "0.2", "10.77.0.2"]).command();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &a.0, "setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw"])
        .arg(inner.get_program())
        .args(inner.get_args())
        .env_clear()
        .env("SENSORCTL_ROOT", root.path())
        .env("PATH", "/usr/bin:/bin");
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text.matches("bytes from 10.77.0.2: icmp_seq=").count(), 2, "{text}");
    assert!(text.contains(" ttl=64 "), "the TTL comes as ancillary data on a datagram socket: {text}");
}

#[test]
fn the_support_user_pings_through_the_daemon() {
    if !can_make_netns() {
        skip("needs root and iproute2 for network namespaces");
        return;
    }
    let (a, _b) = pair("ping-daemon");
    let root = sandbox("ping-daemon");
    // The daemon runs inside the namespace, as it would on the appliance's own network.
    let _daemon = a.daemon(root.path());
    let run = sensorctl(root.path(), &["ping", "-c", "2", "-i", "0.2", "10.77.0.2"]).uid(SUPPORT_UID).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout.matches("bytes from 10.77.0.2: icmp_seq=").count(), 2, "{}", run.stdout);
}

#[test]
fn bad_addresses_and_options_are_refused_with_exit_2() {
    let root = sandbox("ping-bad");
    for args in [
        &["ping", "1.2.3"][..],
        &["ping", "999.1.1.1"],
        &["ping", "::1"],
        &["ping", "1.2.3.4;reboot"],
        &["ping", " 1.2.3.4"],
        &["ping", "localhost"],
        &["ping", "-c", "0", "127.0.0.1"],
        &["ping", "-c", "-1", "127.0.0.1"],
        &["ping", "-i", "0.01", "127.0.0.1"],
        &["ping", "-W", "0", "127.0.0.1"],
        &["ping"],
    ] {
        let run = sensorctl(root.path(), args).run();
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.starts_with("sensorctl: ping: "), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "");
    }
    let denied = sensorctl(root.path(), &["--role", "cyberx_host", "ping", "127.0.0.1"]).run();
    assert_eq!(denied.code, 77);
}
