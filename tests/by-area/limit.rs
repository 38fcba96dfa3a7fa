//! `network limit` against the kernel, in network namespaces the tests make, with iproute2's
//! `tc qdisc show` as the independent reader of what was installed.



use crate::common::*;
use std::path::Path;
use std::process::{Command, Stdio};


/// A namespace with a veth pair `lim0`/`lim1`, both up.
fn veth_namespace(label: &str) -> NetNs {
    let ns = NetNs::new(label);
    ns.exec(&["ip", "link", "add", "lim0", "type", "veth", "peer", "name", "lim1"]);
    ns.exec(&["ip", "link", "set", "lim0", "up"]);
    ns.exec(&["ip", "link", "set", "lim1", "up"]);
    ns
}

/// `program ARGS` (the binary or an alias link to it) inside the namespace, through qemu-user
/// when the suite runs an ARM build (`SENSORCTL_RUNNER`, which `Invocation` honours).
fn in_namespace(ns: &NetNs, program: &Path, root: &Path, args: &[&str]) -> Command {
    let mut outer = Command::new("ip");
    outer.args(["netns", "exec", &ns.0]);
    wrapped(outer, &Invocation::new(program.to_path_buf(), root, args).command())
}

fn run(ns: &NetNs, root: &Path, args: &[&str]) -> Run {
    let out = ns.sensorctl(root, args).stdin(Stdio::null()).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `tc qdisc show dev lim0`: iproute2's view of the root qdisc.
fn qdisc(ns: &NetNs) -> String {
    ns.exec(&["tc", "qdisc", "show", "dev", "lim0"])
}

/// [`qdisc`] without the handle the kernel picked (`qdisc tbf 8001: root …`): a qdisc put back
/// after a failure is a new one with the same settings.
fn settings(show: &str) -> String {
    show.split_whitespace().enumerate().filter(|(at, _)| *at != 2).map(|(_, w)| w).collect::<Vec<_>>().join(" ")
}

/// The rate `tc qdisc show` prints (`rate 30Kbit`, `rate 98760bit`), in bits per second.
fn tc_rate_bits(show: &str) -> u64 {
    let word = show.split_whitespace().skip_while(|w| *w != "rate").nth(1).unwrap_or_else(|| panic!("no rate in {show:?}"));
    let number = word.strip_suffix("bit").unwrap_or_else(|| panic!("{word}"));
    let (digits, scale) = match number.as_bytes().last() {
        Some(b'K') => (&number[..number.len() - 1], 1_000),
        Some(b'M') => (&number[..number.len() - 1], 1_000_000),
        Some(b'G') => (&number[..number.len() - 1], 1_000_000_000),
        Some(b'T') => (&number[..number.len() - 1], 1_000_000_000_000),
        _ => (number, 1),
    };
    digits.parse::<u64>().unwrap_or_else(|_| panic!("{word}")) * scale
}

fn config_text(root: &Path) -> Option<String> {
    std::fs::read_to_string(root.join("etc/sensorctl/config.json")).ok()
}

#[test]
fn every_unit_form_installs_a_tbf_with_that_rate() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a network namespace");
        return;
    }
    let ns = veth_namespace("limit-units");
    let root = sandbox("limit-units");
    for (limit, bytes_per_second) in [
        ("30kbit", 3_750u64),
        ("1mbit", 125_000),
        ("100mbit", 12_500_000),
        ("5kbps", 5_000),
        ("1000mbps", 1_000_000_000),
        ("12345bps", 12_345),
        ("2048", 2_048),
        ("40000mbit", 5_000_000_000), // more than 32 bits of bytes per second: TCA_TBF_RATE64
    ] {
        let out = run(&ns, root.path(), &["network", "limit", "--interface", "lim0", "--limit", limit]);
        assert_eq!(out.code, 0, "{limit}: {}", out.stderr);
        assert_eq!(out.stdout, format!("setting the bandwidth limit of interface \"lim0\" to {limit}\n"));
        let show = qdisc(&ns);
        assert!(show.starts_with("qdisc tbf ") && show.contains(" root "), "{limit}: {show}");
        assert_eq!(tc_rate_bits(&show), bytes_per_second * 8, "{limit}: {show}");
        // tc's JSON gives the exact bytes per second.
        let json = ns.exec(&["tc", "-j", "qdisc", "show", "dev", "lim0"]);
        assert!(json.contains(&format!("\"rate\":{bytes_per_second},")), "{limit}: {json}");
        // The peer is not touched.
        assert!(ns.exec(&["tc", "qdisc", "show", "dev", "lim1"]).starts_with("qdisc noqueue 0: root"));
        let config = config_text(root.path()).unwrap();
        assert!(
            config.contains(&format!(
                "\"bandwidth_limits\":[{{\"interface\":\"lim0\",\"limit\":\"{limit}\",\"bytes_per_second\":{bytes_per_second}}}]"
            )),
            "one entry, replaced each time: {config}"
        );
    }
}

#[test]
fn the_alias_works_and_the_queue_follows_the_formula() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a network namespace");
        return;
    }
    let ns = veth_namespace("limit-alias");
    let root = sandbox("limit-alias");
    let link = alias(root.path(), "cyberx-xsense-limit-interface");
    let out = in_namespace(&ns, &link, root.path(), &["--interface", "lim0", "--limit", "100mbit"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "setting the bandwidth limit of interface \"lim0\" to 100mbit\n");
    // burst = 10 ms of 100 mbit = 125000 bytes; limit = burst + 100 ms, which tc shows as
    // "lat 100ms".
    let show = qdisc(&ns);
    assert!(show.contains("rate 100Mbit burst 125000b lat 100ms"), "{show}");
}

#[test]
fn clear_leaves_the_default_qdisc_and_clearing_nothing_is_fine() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a network namespace");
        return;
    }
    let ns = veth_namespace("limit-clear");
    let root = sandbox("limit-clear");
    let default = qdisc(&ns);
    assert!(default.starts_with("qdisc noqueue 0: root"), "a veth's default: {default}");
    let out = run(&ns, root.path(), &["network", "limit", "--interface", "lim0", "--clear"]);
    assert_eq!(out.code, 0, "clearing an interface with no limit: {}", out.stderr);
    assert_eq!(out.stdout, "clearing the bandwidth limit of interface \"lim0\"\n");
    assert_eq!(qdisc(&ns), default);

    assert_eq!(run(&ns, root.path(), &["network", "limit", "--interface", "lim0", "--limit", "1mbit"]).code, 0);
    assert!(qdisc(&ns).starts_with("qdisc tbf "));
    let out = run(&ns, root.path(), &["network", "limit", "--interface", "lim0", "--clear"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(qdisc(&ns), default, "back to the default qdisc");
    assert!(config_text(root.path()).unwrap().contains("\"bandwidth_limits\":[]"));
    let again = run(&ns, root.path(), &["network", "limit", "--interface", "lim0", "--clear"]);
    assert_eq!(again.code, 0, "{}", again.stderr);

    // A qdisc someone else put there is cleared too ("clears all settings").
    ns.exec(&["tc", "qdisc", "add", "dev", "lim0", "root", "handle", "1:", "pfifo", "limit", "10"]);
    assert_eq!(run(&ns, root.path(), &["network", "limit", "--interface", "lim0", "--clear"]).code, 0);
    assert_eq!(qdisc(&ns), default);
}

#[test]
fn bad_input_is_exit_2_and_changes_neither_the_qdisc_nor_the_config() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a network namespace");
        return;
    }
    let ns = veth_namespace("limit-bad");
    let root = sandbox("limit-bad");
    // The state before, made without sensorctl (so that this test also runs where the kernel
    // call cannot be made, as under qemu-user): a tbf from tc and a config that records it.
    ns.exec(&["tc", "qdisc", "add", "dev", "lim0", "root", "tbf", "rate", "1mbit", "burst", "3036", "limit", "15536"]);
    std::fs::create_dir_all(root.path().join("etc/sensorctl")).unwrap();
    std::fs::write(
        root.path().join("etc/sensorctl/config.json"),
        "{\"version\":1,\"bandwidth_limits\":[{\"interface\":\"lim0\",\"limit\":\"1mbit\",\"bytes_per_second\":125000}]}\n",
    )
    .unwrap();
    let qdisc_before = qdisc(&ns);
    let config_before = config_text(root.path()).unwrap();
    let usage = "usage: sensorctl network limit [-h] --interface INTERFACE [--limit LIMIT] [--clear]";
    for (args, expected) in [
        (&["--interface", "lim0", "--limit", "30kbits"][..], "unknown unit 'kbits'"),
        (&["--interface", "lim0", "--limit", "0"], "must be more than 0"),
        (&["--interface", "lim0", "--limit", "-5"], "negative"),
        (&["--interface", "lim0", "--limit", "-5mbit"], "argument --limit: expected one argument"), // as argparse
        (&["--interface", "lim0", "--limit", "18446744073709551615mbps"], "too large"),
        (&["--interface", "lim0", "--limit", "100001mbit"], "too large"),
        (&["--interface", "lim0", "--limit", ""], "empty"),
        (&["--interface", "lim0", "--limit", "1 mbit"], "unknown unit"),
        (&["--interface", "lim0", "--limit", "2mbit", "--clear"], "argument --clear: not allowed with argument --limit"),
        (&["--limit", "2mbit"], "the following arguments are required: --interface"),
        (&["--interface", "lim0"], "one of the arguments --limit --clear is required"),
        (&["--interface", "lim0;reboot", "--clear"], "invalid interface name"),
        (&["--interface", "lim0", "--limit", "2mbit", "surplus"], "unrecognized arguments: surplus"),
    ] {
        let out = run(&ns, root.path(), &[&["network", "limit"][..], args].concat());
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: {}", out.stderr);
        assert_eq!(lines[0], usage);
        assert!(lines[1].starts_with("sensorctl network limit: error: ") && lines[1].contains(expected), "{args:?}: {}", lines[1]);
        assert_eq!(qdisc(&ns), qdisc_before, "{args:?} changed the qdisc");
        assert_eq!(config_text(root.path()).unwrap(), config_before, "{args:?} changed the config");
    }
    // An interface the kernel does not know: found out at execution, still exit 2.
    for args in [&["--interface", "nosuch0", "--limit", "2mbit"][..], &["--interface", "nosuch0", "--clear"]] {
        let out = run(&ns, root.path(), &[&["network", "limit"][..], args].concat());
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr, "sensorctl: network limit: interface 'nosuch0' does not exist\n");
        assert_eq!(qdisc(&ns), qdisc_before);
        assert_eq!(config_text(root.path()).unwrap(), config_before);
    }
    // Support may not set limits (cyberx only): exit 77, nothing changed.
    let out = run(&ns, root.path(), &["--role", "support", "network", "limit", "--interface", "lim0", "--limit", "2mbit"]);
    assert_eq!(out.code, 77, "{}", out.stderr);
    assert_eq!(qdisc(&ns), qdisc_before);
    assert_eq!(config_text(root.path()).unwrap(), config_before);
}

/// `sensorctl ARGS` in the namespace with the config directory bind-mounted read-only (in the
/// private mount namespace `ip netns exec` makes, so the mount ends with the process): the
/// config can be read but not replaced.
fn run_with_read_only_config(ns: &NetNs, root: &Path, args: &[&str]) -> Run {
    let config_dir = root.join("etc/sensorctl");
    let inner = in_namespace(ns, &bin(), root, args);
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.0, "sh", "-c", "mount --bind -o ro \"$0\" \"$0\" && exec \"$@\""]);
    // The inner command is `ip netns exec NS [runner] sensorctl ARGS`: take what follows the
    // namespace name.
    cmd.arg(&config_dir).args(inner.get_args().skip(3));
    cmd.env_clear();
    for (key, value) in inner.get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_config_that_cannot_be_written_undoes_the_kernel_change() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a network namespace");
        return;
    }
    let ns = veth_namespace("limit-undo");
    let root = sandbox("limit-undo");
    assert_eq!(run(&ns, root.path(), &["network", "limit", "--interface", "lim0", "--limit", "1mbit"]).code, 0);
    let lim0_before = qdisc(&ns);
    let lim1_before = ns.exec(&["tc", "qdisc", "show", "dev", "lim1"]);
    let config_before = config_text(root.path()).unwrap();
    for args in [
        &["network", "limit", "--interface", "lim0", "--limit", "5mbit"][..], // back to the stored 1mbit
        &["network", "limit", "--interface", "lim0", "--clear"],              // the stored 1mbit put back
        &["network", "limit", "--interface", "lim1", "--limit", "5mbit"],     // nothing stored: removed again
    ] {
        let out = run_with_read_only_config(&ns, root.path(), args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(out.stderr.contains("Read-only file system"), "{args:?}: {}", out.stderr);
        assert_eq!(settings(&qdisc(&ns)), settings(&lim0_before), "{args:?}");
        assert_eq!(ns.exec(&["tc", "qdisc", "show", "dev", "lim1"]), lim1_before, "{args:?}");
        assert_eq!(config_text(root.path()).unwrap(), config_before, "{args:?}");
    }
}

#[test]
fn cyberx_sets_a_limit_through_the_daemon_and_support_may_not() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a network namespace");
        return;
    }
    let ns = veth_namespace("limit-daemon");
    let root = sandbox("limit-daemon");
    let _daemon = ns.daemon(root.path());
    let args = ["network", "limit", "--interface", "lim0", "--limit", "10mbit"];
    let denied = sensorctl(root.path(), &args).uid(SUPPORT_UID).run();
    assert_eq!(denied.code, 77, "{}", denied.stderr);
    assert!(qdisc(&ns).starts_with("qdisc noqueue"), "support changed the qdisc");
    let out = sensorctl(root.path(), &args).uid(CYBERX_UID).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "setting the bandwidth limit of interface \"lim0\" to 10mbit\n");
    assert_eq!(tc_rate_bits(&qdisc(&ns)), 10_000_000);
    // The stored limit, as fleet tools read it (issue 24); support may not read it either.
    let listed = sensorctl(root.path(), &["network", "limit-list", "--json"]).uid(CYBERX_UID).run();
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(listed.stdout, "[{\"interface\":\"lim0\",\"limit\":\"10mbit\",\"bytes_per_second\":1250000}]\n");
    let text = sensorctl(root.path(), &["network", "limit-list"]).uid(CYBERX_UID).run();
    assert_eq!(text.stdout, "lim0: 10mbit (1250000 bytes per second)\n");
    assert_eq!(sensorctl(root.path(), &["network", "limit-list"]).uid(SUPPORT_UID).run().code, 77);
    let cleared = sensorctl(root.path(), &["network", "limit", "--interface", "lim0", "--clear"]).uid(CYBERX_UID).run();
    assert_eq!(cleared.code, 0, "{}", cleared.stderr);
    assert!(qdisc(&ns).starts_with("qdisc noqueue"));
    let listed = sensorctl(root.path(), &["network", "limit-list", "--json"]).uid(CYBERX_UID).run();
    assert_eq!((listed.code, listed.stdout.as_str()), (0, "[]\n"));
    let text = sensorctl(root.path(), &["network", "limit-list"]).uid(CYBERX_UID).run();
    assert_eq!(text.stdout, "No bandwidth limits are set.\n");
}

#[test]
fn help_is_the_reference_text() {
    let root = sandbox("limit-help");
    let link = alias(root.path(), "cyberx-xsense-limit-interface");
    let out = Invocation::new(link, root.path(), &["-h"]).run();
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout,
        "usage: cyberx-xsense-limit-interface [-h] --interface INTERFACE [--limit LIMIT] [--clear]\n\
         \n\
         optional arguments:\n\
         \x20 -h, --help            show this help message and exit\n\
         \x20 --interface INTERFACE\n\
         \x20                       interface (e.g. eth0)\n\
         \x20 --limit LIMIT         limit value (e.g. 30kbit). kbps - Kilobytes per second, mbps - Megabytes per second, kbit -\n\
         \x20                       Kilobits per second, mbit - Megabits per second, bps or a bare number - Bytes per second\n\
         \x20 --clear               flag, will clear settings for the given interface\n"
    );
    let link = alias(root.path(), "cyberx-xsense-limit-interface");
    let out = Invocation::new(link, root.path(), &[]).run();
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "usage: cyberx-xsense-limit-interface [-h] --interface INTERFACE [--limit LIMIT] [--clear]\n\
         cyberx-xsense-limit-interface: error: the following arguments are required: --interface\n"
    );
}

#[test]
fn the_daemon_applies_the_stored_limits_when_it_starts() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a network namespace");
        return;
    }
    let ns = veth_namespace("limit-boot");
    let root = sandbox("limit-boot");
    // As after a reboot: the config holds a limit, the kernel has none.
    let set = run(&ns, root.path(), &["network", "limit", "--interface", "lim0", "--limit", "10mbit"]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    let stored = config_text(root.path()).unwrap();
    let clear = run(&ns, root.path(), &["network", "limit", "--interface", "lim0", "--clear"]);
    assert_eq!(clear.code, 0, "{}", clear.stderr);
    std::fs::write(root.path().join("etc/sensorctl/config.json"), &stored).unwrap();
    assert!(!qdisc(&ns).contains("tbf"), "{}", qdisc(&ns));
    let _daemon = ns.daemon(root.path());
    let show = qdisc(&ns);
    assert!(show.contains("tbf") && tc_rate_bits(&show) == 10_000_000, "{show}");
}
