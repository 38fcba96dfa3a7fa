//! `network validate` and `network reconfigure` in network namespaces the tests create (veth
//! pairs; each test has its own namespace, deleted by a guard even on failure), against a
//! sandbox root (the resolver file and the config live under it: no host file is touched).
//!
//! The yardstick is iproute2: the kernel state a test expects is set up, or read back, with
//! `ip`, and files are compared byte for byte. Needs root (namespaces); skips with a message
//! otherwise. Uses iproute2 `ip` and util-linux `setpriv` (scripts/test installs them).


use crate::common::*;
use nanoserde::DeJson;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The outcome of one run.
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn from(mut command: Command, stdin: &[u8]) -> Outcome {
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut pipe = child.stdin.take().unwrap();
        let input = stdin.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let output = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// A namespace with a management veth `m0` (up), a monitor veth `mon1` (up), and a sandbox root.
struct Lab {
    ns: NetNs,
    root: TempDir,
}

impl Lab {
    fn new(label: &str) -> Option<Lab> {
        if !can_make_netns() {
            skip("network reconfigure/validate tests need root and iproute2 (network namespaces)");
            return None;
        }
        let lab = Lab { ns: NetNs::new(label), root: sandbox(label) };
        lab.veth("m0", "p0", true);
        lab.veth("mon1", "mon1p", true);
        Some(lab)
    }

    /// A veth pair `a`/`b`; both up or both down.
    fn veth(&self, a: &str, b: &str, up: bool) {
        self.ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
        if up {
            self.ip(&["link", "set", a, "up"]);
            self.ip(&["link", "set", b, "up"]);
        }
    }

    /// `ip ARGS` in the namespace, which must succeed; its output.
    fn ip(&self, args: &[&str]) -> String {
        let mut argv = vec!["ip"];
        argv.extend_from_slice(args);
        self.ns.exec(&argv)
    }

    /// Sets the management interface's address and the default route from scratch.
    fn management(&self, address: &str, gateway: Option<&str>) {
        self.ip(&["addr", "flush", "dev", "m0"]);
        self.ip(&["addr", "add", address, "dev", "m0"]);
        if let Some(gateway) = gateway {
            self.ip(&["route", "replace", "default", "via", gateway, "dev", "m0"]);
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// `sensorctl ARGS` as root inside the namespace, with `stdin` piped in.
    fn run(&self, args: &[&str], stdin: &[u8]) -> Outcome {
        Outcome::from(self.ns.sensorctl(self.root.path(), args), stdin)
    }

    /// The kernel state `ip` reports, and the bytes of the files sensorctl may change.
    fn state(&self) -> State {
        State {
            addresses: self.ip(&["-4", "addr", "show"]),
            // IPv4 only: the wizard never touches IPv6, and the kernel adds IPv6 link-local
            // routes on its own schedule (DAD) after an interface comes up, which would make a
            // before/after comparison flaky.
            routes: self.ip(&["-4", "route", "show", "table", "all"]),
            // Exact bytes (the files are ASCII; a lossy conversion would show any other byte).
            resolver: std::fs::read(self.path("etc/resolv.conf"))
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            config: std::fs::read(self.path("etc/sensorctl/config.json"))
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            tree: tree(self.root.path()),
        }
    }
}

/// Everything a failed or refused reconfigure must leave as it was.
#[derive(Debug, PartialEq)]
struct State {
    addresses: String,
    routes: String,
    resolver: Option<String>,
    config: Option<String>,
    tree: Vec<PathBuf>,
}

/// Every path under `dir`, sorted, but the audit log's directory: every attempt is audited,
/// refused ones too (checked on its own where it matters).
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.strip_prefix(dir).is_ok_and(|rel| rel.starts_with("var/log") || rel == Path::new("var")) {
                continue;
            }
            if path.is_dir() {
                pending.push(path.clone());
            }
            paths.push(path);
        }
    }
    paths.sort();
    paths
}

/// A config with these management settings, written by hand (not by our serializer).
fn config_json(interface: &str, ip: &str, subnet: &str, gateway: &str, dns: &str, monitor: &str) -> String {
    format!(
        r#"{{"version": 1, "network": {{"interface": "{interface}", "ip": "{ip}", "subnet": "{subnet}", "gateway": "{gateway}", "dns": [{dns}], "monitor_interfaces": [{{"label": "local_listener", "device": "{monitor}"}}]}}}}"#
    )
}

const VALIDATE_OK: &str = "Success! (Appliance configuration matches the network settings)\n\
                           Current Network Settings:\n\
                           interface: m0\n\
                           ip: 10.20.0.5\n\
                           subnet: 255.255.255.0\n\
                           default gateway: 10.20.0.1\n\
                           dns: 10.20.0.53\n\
                           monitor interfaces mapping: local_listener=mon1\n";

/// The lab of the validate tests: set up by `ip`, configured to match.
fn matching_lab(label: &str) -> Option<Lab> {
    let lab = Lab::new(label)?;
    lab.management("10.20.0.5/24", Some("10.20.0.1"));
    lab.write("etc/resolv.conf", "search plant.example\nnameserver 10.20.0.53\n");
    lab.write(
        "etc/sensorctl/config.json",
        &config_json("m0", "10.20.0.5", "255.255.255.0", "10.20.0.1", r#""10.20.0.53""#, "mon1"),
    );
    Some(lab)
}

#[test]
fn validate_a_matching_system() {
    let Some(lab) = matching_lab("nv-ok") else { return };
    for role in ["support", "cyberx"] {
        let out = lab.run(&["--role", role, "network", "validate"], b"");
        assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{role}");
        assert_eq!(out.stdout, VALIDATE_OK, "{role}");
    }
    let denied = lab.run(&["--role", "cyberx_host", "network", "validate"], b"");
    assert_eq!(denied.code, 77, "{}", denied.stderr);

    #[derive(DeJson)]
    struct Report {
        matches: bool,
        ip: String,
        dns: Vec<String>,
        differences: Vec<Difference>,
    }
    #[derive(DeJson)]
    struct Difference {
        setting: String,
    }
    let out = lab.run(&["network", "validate", "--json"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = Report::deserialize_json(out.stdout.trim()).unwrap();
    assert!(report.matches && report.differences.is_empty());
    assert_eq!((report.ip.as_str(), report.dns.as_slice()), ("10.20.0.5", &["10.20.0.53".to_string()][..]));

    // One difference, in JSON too.
    lab.write("etc/resolv.conf", "nameserver 10.20.0.54\n");
    let out = lab.run(&["network", "validate", "--json"], b"");
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = Report::deserialize_json(out.stdout.trim()).unwrap();
    assert!(!report.matches);
    assert_eq!(report.differences.iter().map(|d| d.setting.as_str()).collect::<Vec<_>>(), ["dns"]);
}

#[test]
fn validate_reports_every_kind_of_difference_one_line_each() {
    let Some(lab) = matching_lab("nv-diff") else { return };
    let expect = |lines: &[&str]| {
        let out = lab.run(&["network", "validate"], b"");
        let expected: String = lines.iter().map(|l| format!("{l}\n")).collect();
        assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (1, expected.as_str(), ""));
    };
    let matching = || {
        lab.management("10.20.0.5/24", Some("10.20.0.1"));
        lab.write("etc/resolv.conf", "nameserver 10.20.0.53\n");
        let out = lab.run(&["network", "validate"], b"");
        assert_eq!((out.code, out.stdout.as_str()), (0, VALIDATE_OK), "{}", out.stderr);
    };

    lab.management("10.20.0.7/24", Some("10.20.0.1"));
    expect(&["ip: configured 10.20.0.5, actual 10.20.0.7"]);
    lab.management("10.20.0.5/16", Some("10.20.0.1"));
    expect(&["subnet: configured 255.255.255.0, actual 255.255.0.0"]);
    lab.management("10.20.0.5/24", Some("10.20.0.254"));
    expect(&["default gateway: configured 10.20.0.1, actual 10.20.0.254"]);
    lab.management("10.20.0.5/24", None);
    expect(&["default gateway: configured 10.20.0.1, actual none"]);
    matching();

    // The same gateway, reached through another interface.
    lab.veth("m1", "p1", true);
    lab.ip(&["addr", "add", "10.20.0.6/24", "dev", "m1"]);
    lab.ip(&["route", "replace", "default", "via", "10.20.0.1", "dev", "m1"]);
    expect(&["default gateway interface: configured m0, actual m1"]);
    lab.ip(&["link", "del", "m1"]);
    matching();

    lab.write("etc/resolv.conf", "nameserver 10.20.0.54\nnameserver 10.20.0.53\n");
    expect(&["dns: configured 10.20.0.53, actual 10.20.0.54, 10.20.0.53"]);
    std::fs::remove_file(lab.path("etc/resolv.conf")).unwrap();
    expect(&["dns: configured 10.20.0.53, actual none"]);
    matching();

    // A down interface loses its routes with it (the kernel flushes them).
    lab.ip(&["link", "set", "m0", "down"]);
    expect(&["interface: configured m0, actual m0 (down)", "default gateway: configured 10.20.0.1, actual none"]);
    lab.ip(&["link", "set", "m0", "up"]);
    matching();

    lab.ip(&["link", "del", "mon1"]);
    expect(&["monitor interface local_listener: configured mon1, actual none (no such interface)"]);
    lab.veth("mon1", "mon1p", true);
    matching();

    lab.write(
        "etc/sensorctl/config.json",
        &config_json("m9", "10.20.0.5", "255.255.255.0", "10.20.0.1", r#""10.20.0.53""#, "mon1"),
    );
    expect(&[
        "interface: configured m9, actual none (no such interface)",
        "default gateway interface: configured m9, actual m0",
    ]);

    // Nothing configured: a problem, said once.
    std::fs::remove_file(lab.path("etc/sensorctl/config.json")).unwrap();
    let out = lab.run(&["network", "validate"], b"");
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "sensorctl: network validate: no management network settings in the config (set them with network reconfigure)\n"
    );
}

/// The IPv4 addresses of `dev` as `ip` prints them (`10.0.0.5/24`), and the default routes.
fn addresses_and_default(lab: &Lab, dev: &str) -> (Vec<String>, String) {
    let text = lab.ip(&["-4", "-o", "addr", "show", "dev", dev]);
    let addresses = text
        .lines()
        .filter_map(|line| line.split_whitespace().skip_while(|w| *w != "inet").nth(1).map(str::to_string))
        .collect();
    let default = lab.ip(&["route", "show", "default"]).lines().map(str::trim).collect::<Vec<_>>().join("\n");
    (addresses, default)
}

#[derive(DeJson)]
struct SavedConfig {
    network: SavedNetwork,
    backup_dir: String,
}

#[derive(DeJson)]
struct SavedNetwork {
    interface: String,
    ip: String,
    subnet: String,
    gateway: String,
    dns: Vec<String>,
    erspan_interfaces: Vec<String>,
}

fn saved(lab: &Lab) -> SavedConfig {
    SavedConfig::deserialize_json(&std::fs::read_to_string(lab.path("etc/sensorctl/config.json")).unwrap()).unwrap()
}

#[test]
fn reconfigure_with_piped_answers_then_validate() {
    let Some(lab) = Lab::new("nr-pipe") else { return };
    lab.management("10.40.0.4/24", Some("10.40.0.1"));
    lab.write("etc/resolv.conf", "search plant.example\nnameserver 10.40.0.99\n");
    let answers = b"m0\n10.40.0.5\n255.255.255.0\n10.40.0.254\n10.40.0.53, 10.40.0.54\nlocal_listener=mon1\nnone\n/var/backups/sensor\ny\n";
    let out = lab.run(&["--role", "support", "network", "reconfigure"], answers);
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    // The current values offered are the kernel's and the resolver file's (there is no config).
    for prompt in [
        "IPv4 address [10.40.0.4]: ",
        "Subnet mask [255.255.255.0]: ",
        "Default gateway [10.40.0.1]: ",
        "[10.40.0.99]: ",
    ] {
        assert!(out.stdout.contains(prompt), "{prompt:?} in\n{}", out.stdout);
    }
    // Answers piped in are shown after their questions, as a terminal would have echoed them.
    assert!(out.stdout.contains("Management interface [eth0]: m0\n"), "{}", out.stdout);
    assert!(out.stdout.contains("Apply these settings? [Y/n] y\n"), "{}", out.stdout);

    // Checked with iproute2: the new address replaced the old one, the default route moved.
    let (addresses, default) = addresses_and_default(&lab, "m0");
    assert_eq!(addresses, ["10.40.0.5/24"]);
    assert_eq!(default, "default via 10.40.0.254 dev m0 proto static");
    assert_eq!(
        std::fs::read_to_string(lab.path("etc/resolv.conf")).unwrap(),
        "# Written by sensorctl network reconfigure; nameserver lines are replaced on every run.\n\
         search plant.example\nnameserver 10.40.0.53\nnameserver 10.40.0.54\n"
    );
    let config = saved(&lab);
    assert_eq!(
        (
            config.network.interface.as_str(),
            config.network.ip.as_str(),
            config.network.subnet.as_str(),
            config.network.gateway.as_str()
        ),
        ("m0", "10.40.0.5", "255.255.255.0", "10.40.0.254")
    );
    assert_eq!(config.network.dns, ["10.40.0.53", "10.40.0.54"]);
    assert!(config.network.erspan_interfaces.is_empty());
    assert_eq!(config.backup_dir, "/var/backups/sensor");
    assert!(lab.path("var/backups/sensor").is_dir());

    let out = lab.run(&["network", "validate"], b"");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout,
        "Success! (Appliance configuration matches the network settings)\nCurrent Network Settings:\ninterface: m0\n\
         ip: 10.40.0.5\nsubnet: 255.255.255.0\ndefault gateway: 10.40.0.254\ndns: 10.40.0.53, 10.40.0.54\n\
         monitor interfaces mapping: local_listener=mon1\n"
    );

    // A second run offers the configured values, and empty answers keep them all.
    let out = lab.run(&["network", "reconfigure"], b"\n\n\n\n\n\n\n\n\n");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Default gateway [10.40.0.254]: "), "{}", out.stdout);
    assert!(out.stdout.contains("address: 10.40.0.5/24 on m0 already set"), "{}", out.stdout);
    assert_eq!(addresses_and_default(&lab, "m0"), (vec!["10.40.0.5/24".to_string()], default));
}

#[test]
fn reconfigure_with_flags_for_each_allowed_role_then_validate() {
    let Some(lab) = Lab::new("nr-flags") else { return };
    lab.management("10.41.0.4/24", Some("10.41.0.1"));
    lab.veth("erspan0", "erspan0p", true);
    for (role, ip, gateway) in [("support", "10.41.0.5", "10.41.0.254"), ("cyberx_host", "10.41.0.6", "10.41.0.253")] {
        let out = lab.run(
            &[
                "--role",
                role,
                "network",
                "reconfigure",
                "--interface",
                "m0",
                "--ip",
                ip,
                "--subnet",
                "/24",
                "--gateway",
                gateway,
                "--dns",
                "10.41.0.53",
                "--monitor",
                "local_listener=mon1",
                "--erspan",
                "erspan0",
                "--backup-dir",
                "/data/backups",
                "--yes",
            ],
            b"",
        );
        assert_eq!(out.code, 0, "{role}: {}{}", out.stdout, out.stderr);
        assert!(!out.stdout.contains("Apply these settings?"), "--yes asks nothing");
        let (addresses, default) = addresses_and_default(&lab, "m0");
        assert_eq!(addresses, [format!("{ip}/24")], "{role}");
        assert_eq!(default, format!("default via {gateway} dev m0 proto static"), "{role}");
        let out = lab.run(&["network", "validate"], b"");
        assert_eq!(out.code, 0, "{role}: {}{}", out.stdout, out.stderr);
        assert!(out.stdout.contains(&format!("ip: {ip}\n")));
        assert_eq!(saved(&lab).network.erspan_interfaces, ["erspan0"]);
    }
    // Backups go where --backup-dir said.
    let out = lab.run(&["system", "backup"], b"");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let written: Vec<_> = std::fs::read_dir(lab.path("data/backups")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(written.iter().any(|n| n.to_string_lossy().ends_with(".tar")), "{written:?}");
    assert!(!lab.path("var/cyberx/backups").exists() || std::fs::read_dir(lab.path("var/cyberx/backups")).unwrap().next().is_none());

    // cyberx may not: refused before any question, nothing changed.
    let before = lab.state();
    let out = lab.run(&["--role", "cyberx", "network", "reconfigure"], b"m0\n");
    assert_eq!(out.code, 77, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "sensorctl: network reconfigure: permission denied for role cyberx\n");
    assert_eq!(lab.state(), before);
    let audit = std::fs::read_to_string(lab.path("var/log/sensorctl/audit.log")).unwrap();
    assert!(audit.ends_with("role=cyberx action=network-reconfigure target=- result=denied\n"), "{audit}");
}

#[test]
fn a_failing_apply_rolls_everything_back() {
    let Some(lab) = Lab::new("nr-fail") else { return };
    lab.management("10.50.0.4/24", Some("10.50.0.1"));
    lab.ip(&["route", "add", "10.99.0.0/16", "via", "10.50.0.2", "dev", "m0"]);
    // m2 is down: its new subnet is not connected, so the kernel refuses a gateway on it.
    lab.veth("m2", "p2", false);
    lab.write("etc/resolv.conf", "search plant.example\nnameserver 10.50.0.53\n");
    lab.write(
        "etc/sensorctl/config.json",
        &config_json("m0", "10.50.0.4", "255.255.255.0", "10.50.0.1", r#""10.50.0.53""#, "mon1"),
    );
    let before = lab.state();
    let out = lab.run(
        &[
            "network",
            "reconfigure",
            "--interface",
            "m2",
            "--ip",
            "10.60.0.5",
            "--subnet",
            "255.255.255.0",
            "--gateway",
            "10.60.0.1",
            "--dns",
            "10.60.0.53",
            "--monitor",
            "local_listener=mon1",
            "--backup-dir",
            "/data/new-backups",
            "--yes",
        ],
        b"",
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    // It got as far as changing the resolver file and both addresses before the route failed.
    for step in ["resolver: wrote", "address: removed 10.50.0.4/24 from m0", "address: added 10.60.0.5/24 on m2"] {
        assert!(out.stdout.contains(step), "{step:?} in\n{}", out.stdout);
    }
    // ENETUNREACH in the C library's words: glibc's "Network is unreachable", musl's
    // "Network unreachable" (the shipped static binary).
    let expected = |words: &str| {
        format!(
            "sensorctl: network reconfigure: add default route via 10.60.0.1 dev m2: {words} (m2 is down); \
             rolled back: addresses, routes and the resolver file are as they were; the config is unchanged\n"
        )
    };
    assert!(
        out.stderr == expected("Network is unreachable") || out.stderr == expected("Network unreachable"),
        "{}",
        out.stderr
    );
    // Addresses, every table's routes (also the static route the old address carried), the
    // resolver file and the config: as they were, by iproute2 and byte for byte.
    assert_eq!(lab.state(), before);
    let audit = std::fs::read_to_string(lab.path("var/log/sensorctl/audit.log")).unwrap();
    assert!(
        audit.lines().last().is_some_and(|l| l.contains("action=network-reconfigure target=m2 result=\"failed: add default route via 10.60.0.1 dev m2: ")),
        "{audit}"
    );
    let out = lab.run(&["network", "validate"], b"");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn bad_input_is_exit_2_and_changes_nothing() {
    let Some(lab) = Lab::new("nr-bad") else { return };
    lab.management("10.70.0.4/24", Some("10.70.0.1"));
    lab.write("etc/resolv.conf", "nameserver 10.70.0.53\n");
    let before = lab.state();
    let base = ["network", "reconfigure", "--interface", "m0", "--ip", "10.70.0.5", "--subnet", "255.255.255.0"];
    for (extra, message) in [
        (&["--gateway", "10.71.0.1"][..], "--gateway: default gateway 10.71.0.1 is outside the subnet 10.70.0.0/24 (ip 10.70.0.5, subnet 255.255.255.0)"),
        (&["--gateway", "10.70.0.256"], "--gateway: invalid IPv4 address '10.70.0.256': expected four numbers 0-255 separated by dots, like 192.0.2.10"),
        (&["--gateway", "10.70.0.5"], "--gateway: default gateway 10.70.0.5 is the appliance's own ip"),
        (&["--gateway", "10.70.0.1", "--monitor", "local_listener=nope0"], "--monitor: monitor interface local_listener: nope0: no such interface"),
        (&["--gateway", "10.70.0.1", "--monitor", "a=mon1,b=mon1"], "--monitor: monitor interface mon1 given twice"),
        (&["--gateway", "10.70.0.1", "--dns", "10.70.0.53;reboot"], "--dns: invalid IPv4 address '10.70.0.53;reboot': expected four numbers 0-255 separated by dots, like 192.0.2.10"),
        (&["--gateway", "10.70.0.1", "--backup-dir", "../etc"], "--backup-dir: invalid directory '../etc': must be an absolute path, like /var/backups"),
        // Only where the board keeps backups: not a root-owned directory made anywhere.
        (
            &["--gateway", "10.70.0.1", "--monitor", "local_listener=mon1", "--backup-dir", "/etc/nologin"],
            "--backup-dir: backup directory /etc/nologin: not under one of the board's backup locations (/var/cyberx/backups, /var/backups, /data)",
        ),
        (&["--gateway", "10.70.0.1", "--monitor", "local_listener=mon1", "--backup-dir", "/var/cyberx/keys/b"], "--backup-dir: backup directory /var/cyberx/keys/b: not under one of the board's backup locations (/var/cyberx/backups, /var/backups, /data)"),
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        args.push("--yes");
        let out = lab.run(&args, b"");
        assert_eq!(out.code, 2, "{extra:?}: {}", out.stderr);
        assert_eq!(out.stderr, format!("sensorctl: network reconfigure: {message}\n"), "{extra:?}");
        assert_eq!(out.stdout, "", "{extra:?}");
        assert_eq!(lab.state(), before, "{extra:?}");
        assert!(!lab.path("etc/nologin").exists(), "{extra:?}");
    }
    for (args, message) in [
        (&["network", "reconfigure", "--interface", "nope0", "--yes"][..], "--interface: management interface nope0: no such interface"),
        (&["network", "reconfigure", "--subnet", "255.0.255.0"], "--subnet: invalid subnet mask '255.0.255.0': the one bits must be contiguous from the left (255.255.255.0, not 255.0.255.0)"),
    ] {
        let out = lab.run(args, b"");
        assert_eq!((out.code, out.stderr.clone()), (2, format!("sensorctl: network reconfigure: {message}\n")));
        assert_eq!(lab.state(), before);
    }
    // Piped answers that end early, and a declined summary.
    let out = lab.run(&["network", "reconfigure"], b"m0\n10.70.0.5\n");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.ends_with("end of input before every setting was answered: nothing changed\n"),
        "{}",
        out.stderr
    );
    assert_eq!(lab.state(), before);
    let out = lab.run(&["network", "reconfigure"], b"m0\n10.70.0.5\n\n\n\nlocal_listener=mon1\n\n\nn\n");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stderr, "sensorctl: network reconfigure: cancelled: nothing changed\n");
    assert_eq!(lab.state(), before);
    // Garbage is explained and asked again, five times at most.
    let out = lab.run(&["network", "reconfigure"], b"m0\n1.2.3\n999.1.1.1\n::1\n1.2.3.4;reboot\n 1.2.3.4x\n");
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout.matches("IPv4 address [10.70.0.4]: ").count(), 5, "{}", out.stdout);
    assert_eq!(out.stderr.lines().count(), 6, "{}", out.stderr);
    assert_eq!(lab.state(), before);
}

/// The support user, who is not root, through the daemon: the questions are asked in the
/// caller's process (the daemon has no terminal), the daemon applies.
#[test]
fn support_user_through_the_daemon_with_piped_answers() {
    let Some(lab) = Lab::new("nr-daemon") else { return };
    lab.management("10.80.0.4/24", Some("10.80.0.1"));
    let _daemon = lab.ns.daemon(lab.root.path());
    let as_user = |uid: u32, stdin: &[u8]| {
        let inner = Invocation::new(bin(), lab.root.path(), &["network", "reconfigure"]).command();
        let mut outer = Command::new("ip");
        outer
            .args(["netns", "exec", &lab.ns.0, "setpriv", "--reuid", &uid.to_string()])
            .args(["--regid", &SENSORCTL_GID.to_string(), "--clear-groups", "--"]);
        Outcome::from(wrapped(outer, &inner), stdin)
    };
    let out = as_user(SUPPORT_UID, b"m0\n10.80.0.5\n\n10.80.0.254\n10.80.0.53\nlocal_listener=mon1\n\n/data/b\n\n");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Apply these settings? [Y/n] \n")
            && out.stdout.contains("IPv4 address [10.80.0.4]: 10.80.0.5\n")
            && out.stdout.contains("default route: added via 10.80.0.254 dev m0")
    );
    assert_eq!(
        addresses_and_default(&lab, "m0"),
        (vec!["10.80.0.5/24".to_string()], "default via 10.80.0.254 dev m0 proto static".to_string())
    );
    let before = lab.state();
    let out = as_user(CYBERX_UID, b"m0\n");
    assert_eq!(out.code, 77, "{}{}", out.stdout, out.stderr);
    assert_eq!(lab.state(), before);
}

/// Inside the restricted shell, the wizard reads its answers from the shell's own input stream,
/// and the shell goes on reading commands after it.
#[test]
fn the_wizard_inside_the_restricted_shell() {
    let Some(lab) = Lab::new("nr-shell") else { return };
    lab.management("10.90.0.4/24", Some("10.90.0.1"));
    // Two runs in one session: the second offers what the first configured.
    let input = b"network reconfigure\nm0\n10.90.0.5\n\n10.90.0.254\nnone\nlocal_listener=mon1\n\n/data/b\ny\n\
                  network validate\nnetwork reconfigure\n\n\n\n\n\n\n\n\nn\nexit\n";
    let out = lab.run(&["--role", "support", "shell"], input);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stderr, "sensorctl: network reconfigure: cancelled: nothing changed\n");
    assert!(out.stdout.contains("Success! (Network settings applied)"), "{}", out.stdout);
    assert!(out.stdout.contains("Default gateway [10.90.0.254]: "), "{}", out.stdout);
    assert!(
        out.stdout.contains("Success! (Appliance configuration matches the network settings)\nCurrent Network Settings:\ninterface: m0\nip: 10.90.0.5\n"),
        "{}",
        out.stdout
    );
    assert_eq!(
        addresses_and_default(&lab, "m0"),
        (vec!["10.90.0.5/24".to_string()], "default via 10.90.0.254 dev m0 proto static".to_string())
    );
    // cyberx does not even see the command there.
    let before = lab.state();
    let out = lab.run(&["--role", "cyberx", "shell"], b"network reconfigure\nm0\nexit\n");
    assert!(out.stderr.contains("network reconfigure: permission denied for role cyberx"), "{}", out.stderr);
    assert_eq!(lab.state(), before);
}
