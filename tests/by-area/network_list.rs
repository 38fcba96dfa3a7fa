//! `network list` against net-tools `ifconfig`, byte for byte, in network namespaces the tests
//! create (veth pairs; each test has its own namespaces, deleted by a guard even on failure).
//!
//! Needs root (namespaces, `ping -f`); skips with a message otherwise. Uses iproute2 `ip`,
//! net-tools `ifconfig` and iputils `ping` (scripts/test installs them).


use crate::common::*;
use nanoserde::DeJson;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn setup(label: &str) -> Option<NetNs> {
    if !can_make_netns() {
        skip("network list tests need root and iproute2 (network namespaces)");
        return None;
    }
    // Left as made: lo down, as the loopback test expects.
    Some(NetNs::bare(label))
}

/// Our binary inside the namespace, as root on a sandbox root.
fn ours(ns: &NetNs, root: &Path, args: &[&str]) -> Output {
    let bin = bin();
    let mut full = vec![bin.to_str().unwrap(), "--root", root.to_str().unwrap(), "network", "list"];
    full.extend_from_slice(args);
    // Cross-architecture runs go through qemu-user (scripts/test-cross sets the runner).
    match std::env::var("SENSORCTL_RUNNER").ok().filter(|r| !r.is_empty()) {
        Some(runner) => ns.output(&runner, &full),
        None => ns.output(full[0], &full[1..]),
    }
}

fn ifconfig(ns: &NetNs, args: &[&str]) -> Output {
    let out = ns.output("ifconfig", args);
    assert!(
        out.status.success(),
        "net-tools ifconfig is needed (scripts/test installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs both and compares stdout byte for byte. Counters can move between the two reads (IPv6
/// neighbour discovery, MLD), so a mismatch is retried a few times before it fails.
fn assert_same_as_ifconfig(ns: &NetNs, args: &[&str]) -> String {
    let root = sandbox("netlist");
    let mut last = (Vec::new(), Vec::new());
    for attempt in 0..8 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(150));
        }
        let mine = ours(ns, root.path(), args);
        assert_eq!(mine.status.code(), Some(0), "sensorctl: {}", String::from_utf8_lossy(&mine.stderr));
        assert!(mine.stderr.is_empty(), "{}", String::from_utf8_lossy(&mine.stderr));
        let theirs = ifconfig(ns, args);
        if mine.stdout == theirs.stdout {
            return String::from_utf8(mine.stdout).unwrap();
        }
        last = (mine.stdout, theirs.stdout);
    }
    panic!(
        "network list {args:?} differs from ifconfig {args:?}\n--- ours\n{}\n--- ifconfig\n{}",
        String::from_utf8_lossy(&last.0),
        String::from_utf8_lossy(&last.1)
    );
}

/// A veth pair `a`/`b` in `ns`.
fn veth(ns: &NetNs, a: &str, b: &str) {
    ns.ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
}

#[test]
fn loopback_only() {
    let Some(ns) = setup("lo") else { return };
    // A new namespace has only lo, and it is down: nothing without -a.
    assert_eq!(assert_same_as_ifconfig(&ns, &[]), "");
    assert!(assert_same_as_ifconfig(&ns, &["-a"]).starts_with("lo: flags=8<LOOPBACK>  mtu 65536\n"));
    ns.ip(&["link", "set", "lo", "up"]);
    let text = assert_same_as_ifconfig(&ns, &[]);
    assert!(text.contains("        loop  txqueuelen 1000  (Local Loopback)\n"), "{text}");
    assert_same_as_ifconfig(&ns, &["-a"]);
}

#[test]
fn veth_with_ipv4_and_two_ipv6_addresses() {
    let Some(ns) = setup("v46") else { return };
    ns.ip(&["link", "set", "lo", "up"]);
    veth(&ns, "veth0", "veth1");
    ns.ip(&["addr", "add", "10.77.0.1/24", "brd", "+", "dev", "veth0"]);
    ns.ip(&["addr", "add", "fd00:77::1/64", "dev", "veth0"]);
    ns.ip(&["addr", "add", "2001:db8:77::1/48", "dev", "veth0"]);
    ns.ip(&["link", "set", "veth0", "up"]);
    ns.ip(&["link", "set", "veth1", "up"]);
    let text = assert_same_as_ifconfig(&ns, &[]);
    assert!(text.contains("        inet 10.77.0.1  netmask 255.255.255.0  broadcast 10.77.0.255\n"), "{text}");
    assert!(text.contains("        inet6 fd00:77::1  prefixlen 64  scopeid 0x0<global>\n"), "{text}");
    assert!(text.contains("        inet6 2001:db8:77::1  prefixlen 48  scopeid 0x0<global>\n"), "{text}");
    assert_same_as_ifconfig(&ns, &["-a"]);
}

#[test]
fn down_interfaces_only_with_all() {
    let Some(ns) = setup("down") else { return };
    veth(&ns, "down0", "down1");
    ns.ip(&["addr", "add", "10.78.0.1/16", "dev", "down0"]);
    ns.ip(&["addr", "add", "10.78.0.9/16", "dev", "down0", "label", "down0:1"]);
    assert_eq!(assert_same_as_ifconfig(&ns, &[]), "");
    let text = assert_same_as_ifconfig(&ns, &["-a"]);
    assert!(text.contains("down0: flags=4098<BROADCAST,MULTICAST>  mtu 1500\n"), "{text}");
    assert!(text.contains("down0:1: flags=4098<BROADCAST,MULTICAST>  mtu 1500\n"), "{text}");
}

#[test]
fn mtu_9000_promiscuous_and_no_address() {
    let Some(ns) = setup("flags") else { return };
    veth(&ns, "jumbo", "plain");
    ns.ip(&["link", "set", "jumbo", "mtu", "9000", "txqueuelen", "5000", "promisc", "on"]);
    // addrgenmode none: up, but without even an IPv6 link-local address.
    ns.ip(&["link", "set", "plain", "addrgenmode", "none"]);
    ns.ip(&["link", "set", "plain", "up"]);
    ns.ip(&["link", "set", "jumbo", "up"]);
    let text = assert_same_as_ifconfig(&ns, &[]);
    assert!(text.contains("jumbo: flags=4419<UP,BROADCAST,RUNNING,PROMISC,MULTICAST>  mtu 9000\n"), "{text}");
    assert!(text.contains("txqueuelen 5000  (Ethernet)"), "{text}");
    let plain = text.split("\n\n").find(|block| block.starts_with("plain:")).unwrap();
    assert!(!plain.contains("inet"), "{plain}");
    assert_same_as_ifconfig(&ns, &["-a"]);
}

#[test]
fn fifteen_character_name() {
    let Some(ns) = setup("name15") else { return };
    veth(&ns, "abcdefghijklmno", "peer15");
    ns.ip(&["addr", "add", "10.79.0.1/24", "dev", "abcdefghijklmno"]);
    // Up while its peer is down: no carrier, so no traffic, so its counters are 0. That is
    // what Debian's net-tools 2.10-0.1+deb12u2 prints for any 15-character name: its
    // CVE-2025-46836 fix no longer parses such a /proc/net/dev line (see below).
    ns.ip(&["link", "set", "abcdefghijklmno", "up"]);
    let text = assert_same_as_ifconfig(&ns, &[]);
    assert!(text.starts_with("abcdefghijklmno: flags=4099<UP,BROADCAST,MULTICAST>  mtu 1500\n"), "{text}");
    assert_same_as_ifconfig(&ns, &["-a"]);

    // With traffic, ours shows the kernel's counters (checked against /proc/net/dev), where
    // net-tools shows zeros.
    ns.ip(&["link", "set", "peer15", "up"]);
    // An address nobody has on its subnet: the ARP requests leave through it (the ping itself
    // is expected to fail).
    let _ = ns.output("ping", &["-c", "2", "-i", "0.2", "-W", "1", "10.79.0.2"]);
    let root = sandbox("name15");
    for attempt in 0..50 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        let proc_dev = String::from_utf8(ns.output("cat", &["/proc/net/dev"]).stdout).unwrap();
        let line = proc_dev.lines().find(|l| l.trim_start().starts_with("abcdefghijklmno:")).unwrap();
        let fields: Vec<&str> = line.split(':').nth(1).unwrap().split_whitespace().collect();
        let (rx_bytes, rx_packets, tx_bytes, tx_packets) = (fields[0], fields[1], fields[8], fields[9]);
        if tx_packets == "0" {
            continue; // nothing sent yet
        }
        let mine = String::from_utf8(ours(&ns, root.path(), &[]).stdout).unwrap();
        let expected = format!("        RX packets {rx_packets}  bytes {rx_bytes} (");
        let expected_tx = format!("        TX packets {tx_packets}  bytes {tx_bytes} (");
        if mine.contains(&expected) && mine.contains(&expected_tx) {
            let theirs = String::from_utf8(ifconfig(&ns, &[]).stdout).unwrap();
            let block = theirs.split("\n\n").find(|b| b.starts_with("abcdefghijklmno:")).unwrap();
            assert!(block.contains("        TX packets 0  bytes 0 (0.0 B)\n"), "net-tools fixed? {block}");
            return;
        }
        assert!(attempt < 49, "counters of abcdefghijklmno never matched /proc/net/dev:\n{mine}\n{line}");
    }
    panic!("abcdefghijklmno never sent a packet");
}

#[test]
fn aliases_and_point_to_point_addresses() {
    let Some(ns) = setup("alias") else { return };
    veth(&ns, "ali0", "ali1");
    ns.ip(&["addr", "add", "10.80.0.1/24", "brd", "+", "dev", "ali0"]);
    ns.ip(&["addr", "add", "10.80.0.2/24", "dev", "ali0"]); // secondary, not shown
    ns.ip(&["addr", "add", "10.81.0.1/24", "dev", "ali0", "label", "ali0:10"]);
    ns.ip(&["addr", "add", "10.82.0.1/24", "dev", "ali0", "label", "ali0:2"]);
    ns.ip(&["addr", "add", "10.83.0.1", "peer", "10.83.0.2", "dev", "ali1"]);
    ns.ip(&["addr", "add", "2001:db8:83::1", "peer", "2001:db8:83::2", "dev", "ali1"]);
    for i in 1..=6 {
        ns.ip(&["addr", "add", &format!("fd00:80::{i}/64"), "dev", "ali0"]);
    }
    ns.ip(&["link", "set", "ali0", "up"]);
    ns.ip(&["link", "set", "ali1", "up"]);
    let text = assert_same_as_ifconfig(&ns, &[]);
    let order: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ') && !l.is_empty()).collect();
    assert!(order[0].starts_with("ali0: ") && order[1].starts_with("ali0:2: ") && order[2].starts_with("ali0:10: "), "{text}");
    assert_same_as_ifconfig(&ns, &["-a"]);
}

#[test]
fn traffic_reaches_kib_and_mib_units() {
    let Some(ns) = setup("traffic") else { return };
    let peer = NetNs::bare("peer");
    ns.ip(&["link", "set", "lo", "up"]);
    peer.ip(&["link", "set", "lo", "up"]);
    veth(&ns, "tr0", "tr1");
    ns.ip(&["link", "set", "tr1", "netns", &peer.0]);
    ns.ip(&["addr", "add", "10.84.0.1/24", "dev", "tr0"]);
    peer.ip(&["addr", "add", "10.84.0.2/24", "dev", "tr1"]);
    ns.ip(&["link", "set", "tr0", "up"]);
    peer.ip(&["link", "set", "tr1", "up"]);
    // ~3000 × 1.4 KB across the veth (MiB), and some over loopback (KiB).
    for (space, args) in [
        (&peer, &["-q", "-f", "-c", "3000", "-s", "1400", "10.84.0.1"][..]),
        (&ns, &["-q", "-f", "-c", "200", "-s", "100", "127.0.0.1"][..]),
    ] {
        let out = space.output("ping", args);
        assert!(out.status.success(), "ping {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = assert_same_as_ifconfig(&ns, &[]);
    assert!(text.contains(" MiB)\n"), "{text}");
    assert!(text.contains(" KiB)\n"), "{text}");
    assert_same_as_ifconfig(&peer, &["-a"]);
}

#[derive(DeJson)]
struct Report {
    interfaces: Vec<JsonInterface>,
}

#[derive(DeJson)]
struct JsonInterface {
    name: String,
    flags: i32,
    mtu: i32,
    inet: Option<JsonInet>,
    inet6: Vec<JsonInet6>,
    hw_address: Option<String>,
}

#[derive(DeJson)]
struct JsonInet {
    address: String,
    netmask: String,
}

#[derive(DeJson)]
struct JsonInet6 {
    address: String,
    prefixlen: u32,
}

#[test]
fn json_carries_what_ifconfig_prints() {
    let Some(ns) = setup("json") else { return };
    ns.ip(&["link", "set", "lo", "up"]);
    veth(&ns, "js0", "js1");
    ns.ip(&["addr", "add", "10.85.0.1/20", "dev", "js0"]);
    ns.ip(&["addr", "add", "fd00:85::1/64", "dev", "js0"]);
    ns.ip(&["link", "set", "js0", "up"]);
    let root = sandbox("json");
    let out = ours(&ns, root.path(), &["-a", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let report = Report::deserialize_json(std::str::from_utf8(&out.stdout).unwrap().trim()).unwrap();
    let text = String::from_utf8(ifconfig(&ns, &["-a"]).stdout).unwrap();
    let blocks: Vec<&str> = text.split("\n\n").filter(|b| !b.is_empty()).collect();
    assert_eq!(report.interfaces.len(), blocks.len());
    for (iface, block) in report.interfaces.iter().zip(&blocks) {
        let first = block.lines().next().unwrap();
        assert!(first.starts_with(&format!("{}: flags={}<", iface.name, iface.flags)), "{first}");
        assert!(first.ends_with(&format!("  mtu {}", iface.mtu)), "{first}");
        match &iface.inet {
            Some(inet) => assert!(block.contains(&format!("inet {}  netmask {}", inet.address, inet.netmask)), "{block}"),
            None => assert!(!block.contains("inet "), "{block}"),
        }
        assert_eq!(iface.inet6.len(), block.matches("inet6 ").count(), "{block}");
        for a in &iface.inet6 {
            assert!(block.contains(&format!("inet6 {}  prefixlen {}", a.address, a.prefixlen)), "{block}");
        }
        if let Some(hw) = &iface.hw_address {
            assert!(block.contains(&format!("ether {hw}  ")), "{block}");
        }
    }
}

#[test]
fn policy_support_and_cyberx_only() {
    if !is_root() {
        skip("--role needs root");
        return;
    }
    let root = sandbox("netlist-roles");
    for (role, code) in [("support", 0), ("cyberx", 0), ("cyberx_host", 77)] {
        let run = sensorctl(root.path(), &["--role", role, "network", "list"]).run();
        assert_eq!(run.code, code, "{role}: {}", run.stderr);
    }
    let run = sensorctl(root.path(), &["network", "list", "eth0"]).run();
    assert_eq!(run.code, 2, "{}", run.stderr);
}
