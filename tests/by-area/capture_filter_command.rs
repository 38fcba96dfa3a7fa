//! `network capture-filter` and `cyberx-xsense-capture-filter` through the real binary: the
//! property files (the filter line changed, every other byte kept), the reference's output,
//! every kind of bad input refused with exit 2 and nothing changed, the roles, the interactive
//! form through the daemon, `--show`, and `--test` counting traffic on a real port.

use crate::common::*;
use std::path::Path;
use std::process::{Command, Stdio};

const HORIZON: &str = "var/cyberx/properties/horizon_parser/horizon.properties";
const DUMPARK: &str = "var/cyberx/properties/dumpark.properties";

/// A sandbox whose horizon and collector property files hold other settings around the filter.
fn filter_root(label: &str) -> TempDir {
    let root = sandbox(label);
    for (rel, text) in [
        (HORIZON, "# horizon\r\nhorizon.threads=4\r\nhorizon.processor.filter=host 10.9.9.9\r\nlast=1"),
        (DUMPARK, "dumpark.network.filter=\ndumpark.out=/var/cyberx/pcaps\n\\\n  continued\n"),
    ] {
        let path = root.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    root
}

fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let dir = root.join("var/cyberx/properties");
    let mut found = Vec::new();
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}

fn write_list(root: &Path, name: &str, text: &str) -> String {
    let path = root.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn the_alias_sets_each_components_line_and_keeps_every_other_byte() {
    let root = filter_root("cf-alias");
    let include = write_list(root.path(), "include.txt", "10.0.0.5\n\n# a comment\n192.168.1\n");
    let run = sensorctl(
        root.path(),
        &["--role", "cyberx", "cyberx-xsense-capture-filter", "-i", &include, "-itp", "502", "-p", "horizon", "-m", "all-connected"],
    )
    .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Written by hand from the rules in the README: devices and subnets in all-connected mode
    // are plain terms, the port is one more alternative, and the tagged half repeats the body.
    let body = "((host 10.0.0.5) or (net 192.168.1) or (tcp port 502))";
    let expected = format!("({body}) or (vlan and {body})");
    assert!(run.stdout.contains("Loaded 2 unique channels\nNo exclude file given\n"), "{}", run.stdout);
    assert!(run.stdout.contains("\n(000) ") && run.stdout.contains(" ret      #262144\n"), "{}", run.stdout);
    assert!(run.stdout.ends_with(&format!("debug: set new filter for horizon '{expected}'\n")), "{}", run.stdout);
    let horizon = std::fs::read(root.path().join(HORIZON)).unwrap();
    assert_eq!(
        horizon,
        format!("# horizon\r\nhorizon.threads=4\r\nhorizon.processor.filter={expected}\r\nlast=1").into_bytes(),
        "only the filter's line changes"
    );
    // `--show` prints each component's filter as it is now, quoted.
    let shown = sensorctl(root.path(), &["--role", "support", "network", "capture-filter", "--show"]).run();
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains(&format!("horizon: '{expected}'\n")), "{}", shown.stdout);
    // The reset form: every component, everything.
    let run = sensorctl(root.path(), &["--role", "cyberx", "cyberx-xsense-capture-filter", "-p", "all", "-m", "all-connected"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.matches("debug: set new filter for ").count(), 7, "{}", run.stdout);
    assert!(run.stdout.contains("(000) ret      #262144\ndebug: set new filter for dumpark ''\n"), "{}", run.stdout);
    assert_eq!(
        std::fs::read_to_string(root.path().join(DUMPARK)).unwrap(),
        "dumpark.network.filter=\ndumpark.out=/var/cyberx/pcaps\n\\\n  continued\n"
    );
    let shown = sensorctl(root.path(), &["--role", "support", "network", "capture-filter", "--show", "--json"]).run();
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains("\"component\":\"horizon\"") && shown.stdout.contains("\"expression\":\"\""), "{}", shown.stdout);
    let shown = sensorctl(root.path(), &["--role", "support", "network", "capture-filter", "--show"]).run();
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains("horizon: (everything)\n") && shown.stdout.contains("collector: (everything)\n"), "{}", shown.stdout);
    assert_eq!(shown.stdout.lines().count(), 7, "one line per component: {}", shown.stdout);
}

#[test]
fn bad_input_is_exit_2_and_changes_nothing() {
    let root = filter_root("cf-bad");
    let before = files(root.path());
    let bad_ip = write_list(root.path(), "bad-ip.txt", "10.0.0.256\n");
    let short = write_list(root.path(), "short.txt", "1.1\n");
    let port_in_include = write_list(root.path(), "port.txt", "10.0.0.1,10.0.0.2,443\n");
    let alias = ["--role", "cyberx", "cyberx-xsense-capture-filter"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-i", &bad_ip, "-p", "all", "-m", "internal"], "an octet is not a number"),
        (vec!["-i", &short, "-p", "all", "-m", "internal"], "neither a device"),
        (vec!["-i", &port_in_include, "-p", "all", "-m", "internal"], "can only be excluded"),
        (vec!["-itp", "70000", "-p", "all", "-m", "internal"], "invalid port '70000'"),
        (vec!["-vlan", "5000", "-p", "all", "-m", "internal"], "invalid VLAN id '5000'"),
        (vec!["-p", "webui", "-m", "internal"], "unknown program 'webui'"),
        (vec!["-p", "all", "-m", "everything"], "unknown mode 'everything'"),
        (vec!["-o", "ether host 00:11:22:33:44:55", "-p", "horizon", "-m", "internal"], "unsupported word in capture filter: 'ether'"),
        (vec!["-o", "host 10.0.0.1; reboot", "-p", "horizon", "-m", "internal"], "unsupported word in capture filter: '10.0.0.1;'"),
        (vec!["-c", "$(reboot)", "-p", "collector", "-m", "internal"], "'$'"),
        (vec!["-i", "/nonexistent/list", "-p", "all", "-m", "internal"], "No such file"),
        (vec!["-p", "all"], "the following arguments are required: -m/--mode"),
    ];
    for (args, expected) in cases {
        let mut full = alias.to_vec();
        full.extend(args.iter().copied());
        let run = sensorctl(root.path(), &full).run();
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{args:?}");
        assert_eq!(files(root.path()), before, "{args:?} changed a file");
    }
    // A filter over the board's limit: refused with its size and the limit.
    let board = root.path().join("small.json");
    std::fs::write(&board, board_json(|t| t.replace("\"name\": \"generic-x86\",", "\"name\": \"small\", \"capture_filter_max_insns\": 20,"))).unwrap();
    let run = sensorctl(
        root.path(),
        &["--board", board.to_str().unwrap(), "--role", "cyberx", "cyberx-xsense-capture-filter", "-itp", "1,2,3,4,5", "-p", "horizon", "-m", "internal"],
    )
    .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("capture filter too long:") && run.stderr.contains("the limit is 20"), "{}", run.stderr);
    assert_eq!(files(root.path()), before);
    // The alias is cyberx's; support has the interactive form.
    let run = sensorctl(root.path(), &["--role", "support", "cyberx-xsense-capture-filter", "-p", "all", "-m", "internal"]).run();
    assert_eq!(run.code, 77, "{}", run.stderr);
    let run = sensorctl(root.path(), &["--role", "cyberx_host", "network", "capture-filter", "--show"]).run();
    assert_eq!(run.code, 77, "{}", run.stderr);
    assert_eq!(files(root.path()), before);
}

#[test]
fn support_answers_the_questions_through_the_daemon() {
    if !is_root() {
        skip("needs root to run the daemon and a support caller");
        return;
    }
    let root = filter_root("cf-ask");
    let _daemon = Daemon::start(root.path());
    // Include one device (typed, then an empty line), no exclude, tcp 502, no udp, no ports to
    // exclude, no VLAN, horizon, no base filter, internal.
    let answers = b"y\n10.0.0.7\n\nn\n502\n\n\n\n\nhorizon\nn\ny\n";
    let run = sensorctl(root.path(), &["network", "capture-filter"]).uid(SUPPORT_UID).stdin(answers).run();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for question in [
        "Would you like to supply devices and subnet masks you wish to include in the capture filter? [y/N]: ",
        "Would you like to supply devices and subnet masks you wish to exclude from the capture filter? [y/N]: ",
        "Enter tcp ports to include (delimited by comma or Enter to skip): ",
        "Enter udp ports to exclude (delimited by comma or Enter to skip): ",
        "Enter VLAN ids to include (delimited by comma or Enter to skip): ",
        "In which component do you wish to apply this capture filter? ",
        "Would you like to supply a custom base capture filter for the horizon component? [y/N]: ",
        "type Y for \"internal\" otherwise N for \"all-connected\" (custom operation mode enabled) [Y/n]: ",
    ] {
        assert!(run.stdout.contains(question), "{question:?} not asked:\n{}", run.stdout);
    }
    let body = "(((src host 10.0.0.7) and (dst host 10.0.0.7)) or (tcp port 502))";
    let horizon = std::fs::read_to_string(root.path().join(HORIZON)).unwrap();
    assert!(horizon.contains(&format!("horizon.processor.filter=({body}) or (vlan and {body})\r\n")), "{horizon}");
    let audit = std::fs::read_to_string(root.path().join("var/log/sensorctl/audit.log")).unwrap();
    assert!(audit.lines().any(|l| l.contains("role=support action=capture-filter target=interactive result=ok")), "{audit}");
}

#[test]
fn test_counts_what_the_filter_matches_on_a_port_and_writes_nothing() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a network namespace");
        return;
    }
    let root = filter_root("cf-test");
    let before = files(root.path());
    let ns = NetNs::new("cf-test");
    ns.exec(&["ip", "link", "add", "cft0", "type", "veth", "peer", "name", "cft1"]);
    ns.exec(&["ip", "addr", "add", "10.77.0.1/24", "dev", "cft0"]);
    ns.exec(&["ip", "addr", "add", "10.77.0.2/24", "dev", "cft1"]);
    ns.exec(&["ip", "link", "set", "cft0", "up"]);
    ns.exec(&["ip", "link", "set", "cft1", "up"]);
    // Traffic on the port while the filter listens: pings from cft1's address to cft0's.
    let mut ping = Command::new("ip")
        .args(["netns", "exec", &ns.0, "ping", "-q", "-i", "0.2", "-c", "20", "-I", "cft1", "10.77.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Everything (no lists, no ports), collector only, all-connected.
    let answers = b"n\nn\n\n\n\n\n\ncollector\nn\nn\n";
    let mut cmd = ns.sensorctl(root.path(), &["network", "capture-filter", "--test", "cft0", "--seconds", "2"]);
    let mut out = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(out.stdin.as_mut().unwrap(), answers).unwrap();
    let out = out.wait_with_output().unwrap();
    let _ = ping.kill();
    let _ = ping.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().find(|l| l.starts_with("collector on cft0: ")).unwrap_or_else(|| panic!("{stdout}"));
    let matched: u64 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert!(matched >= 4, "{line}");
    assert!(line.ends_with("dropped in 2 seconds"), "{line}");
    assert_eq!(files(root.path()), before, "--test writes nothing");
}
