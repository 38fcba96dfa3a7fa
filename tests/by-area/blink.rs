//! `network blink` against real interfaces: a veth (whose driver cannot identify a port) in a
//! namespace the test makes, and the board's LED fallback on a temporary tree laid out like
//! /sys/class/leds.



use crate::common::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

pub(crate) fn veth_namespace(label: &str) -> NetNs {
    let ns = NetNs::new(label);
    ns.exec(&["ip", "link", "add", "blink0", "type", "veth", "peer", "name", "blink1"]);
    ns.exec(&["ip", "link", "set", "blink0", "up"]);
    ns
}

/// A sandbox whose board names `port0:green:link` under <root>/leds as blink0's LED, with the
/// LED's trigger file holding `[none] timer heartbeat`.
pub(crate) fn led_sandbox(label: &str) -> (TempDir, std::path::PathBuf, std::path::PathBuf) {
    let root = sandbox(label);
    let led = root.path().join("leds/port0:green:link");
    std::fs::create_dir_all(&led).unwrap();
    std::fs::write(led.join("trigger"), "[none] timer heartbeat\n").unwrap();
    let board = root.path().join("board.json");
    std::fs::write(
        &board,
        board_json(|text| {
            text.replace("\"led_dir\": \"/sys/class/leds\"", "\"led_dir\": \"/leds\"")
                .replace("\"leds\": []", "\"leds\": [{ \"interface\": \"blink0\", \"led\": \"port0:green:link\" }]")
        }),
    )
    .unwrap();
    (root, board, led.join("trigger"))
}

#[test]
fn a_port_whose_driver_cannot_blink_and_has_no_led_is_a_clear_error() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a network namespace");
        return;
    }
    let ns = veth_namespace("blink-nosup");
    let root = sandbox("blink-nosup");
    let out = ns.sensorctl(root.path(), &["network", "blink", "blink0", "--seconds", "2"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{stderr}");
    assert!(stderr.contains("blink0: the driver cannot identify the port"), "{stderr}");
    assert!(stderr.contains("names no LED"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn the_board_led_blinks_with_the_timer_trigger_and_is_restored() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a network namespace");
        return;
    }
    let ns = veth_namespace("blink-led");
    let (root, board, trigger) = led_sandbox("blink-led");
    let child = ns
        .sensorctl(root.path(), &["--board", board.to_str().unwrap(), "network", "blink", "blink0", "--seconds", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(std::fs::read_to_string(&trigger).unwrap(), "timer", "the LED must blink while the command runs");
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() >= Duration::from_millis(900), "ended before its 2 seconds");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Blinking interface for 2 seconds ...\n");
    assert_eq!(std::fs::read_to_string(&trigger).unwrap(), "none", "the previous trigger must be restored");
}

#[test]
fn ctrl_c_stops_the_blink_early_and_restores_the_led() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a network namespace");
        return;
    }
    let ns = veth_namespace("blink-int");
    let (root, board, trigger) = led_sandbox("blink-int");
    let child = ns
        .sensorctl(root.path(), &["--board", board.to_str().unwrap(), "network", "blink", "blink0", "--seconds", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(std::fs::read_to_string(&trigger).unwrap(), "timer");
    // `ip netns exec` execs the command, so the child's pid is sensorctl's.
    let started = Instant::now();
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "Ctrl-C did not stop the blink");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("Blinking stopped early.\n"));
    assert_eq!(std::fs::read_to_string(&trigger).unwrap(), "none");
}

#[test]
fn bad_blink_requests_change_nothing() {
    let (root, board, trigger) = led_sandbox("blink-bad");
    let board = board.to_str().unwrap();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["network", "blink", "no-such-if0"], 2, "interface 'no-such-if0' does not exist"),
        (&["network", "blink", "eth0;reboot"], 2, "invalid interface name"),
        (&["network", "blink", "abcdefghijklmnop"], 2, "invalid interface name"),
        (&["network", "blink", "lo", "--seconds", "0"], 2, "--seconds 0: must be 1-3600"),
        (&["network", "blink", "lo", "--seconds", "-5"], 2, ""),
        (&["network", "blink"], 2, "Required positional"),
        (&["--role", "cyberx", "network", "blink", "lo"], 77, "permission denied for role cyberx"),
    ];
    for (args, code, message) in cases {
        let mut full = vec!["--board", board];
        full.extend_from_slice(args);
        let run = sensorctl(root.path(), &full).run();
        assert_eq!(run.code, *code, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{args:?}");
    }
    assert_eq!(std::fs::read_to_string(&trigger).unwrap(), "[none] timer heartbeat\n");
}
