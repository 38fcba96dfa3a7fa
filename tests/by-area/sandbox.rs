//! The simulated appliance of `scripts/run-shell`, driven as an operator would (commands on
//! standard input, or one command after `--`), checked from this machine's side: what the
//! sandbox does stays in it. Needs root (the sandbox maps a range of uids).

use crate::common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The first uid outside that the sandbox's uid 0 is (scripts/run-shell's UID_BASE).
const UID_BASE: u32 = 1_879_048_192;

fn run_shell_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/run-shell")
}

/// `scripts/run-shell --dir DIR ARGS` with `stdin`, on the binary under test.
fn run_shell(dir: &Path, args: &[&str], stdin: &str) -> Run {
    let mut command = Command::new(run_shell_script());
    command.arg("--dir").arg(dir).args(args).env("SENSORCTL_BIN", bin()).env("TERM", "dumb");
    if let Some(runner) = std::env::var_os("SENSORCTL_RUNNER") {
        command.env("SENSORCTL_RUNNER", runner);
    }
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let text = stdin.to_string();
    let feeder = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut input, text.as_bytes());
    });
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn can_run() -> bool {
    if !is_root() {
        skip("the simulated appliance needs root to map its users");
        return false;
    }
    true
}

/// Processes of this machine that belong to the sandbox in `dir`: a uid of the sandbox's and
/// the directory on their command line (tests run side by side, each with its own sandbox).
fn sandbox_processes(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else { continue };
        let uid: Option<u32> =
            status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|v| v.split_whitespace().next()?.parse().ok());
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let mentions_dir = String::from_utf8_lossy(&cmdline).contains(dir.to_str().unwrap());
        if mentions_dir && uid.is_some_and(|uid| (UID_BASE..UID_BASE + 65_536).contains(&uid)) {
            found.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    found
}

/// This machine's IPv4 addresses and interface names, as iproute2 sees them.
fn host_addresses_and_links() -> (BTreeSet<String>, BTreeSet<String>) {
    let out = Command::new("ip").args(["-o", "-4", "addr", "show"]).output().unwrap();
    let addresses = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3)?.split('/').next().map(str::to_string))
        .collect();
    let out = Command::new("ip").args(["-o", "link", "show"]).output().unwrap();
    let links = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| Some(l.split(": ").nth(1)?.split('@').next()?.to_string()))
        .collect();
    (addresses, links)
}

#[test]
fn network_list_as_support_shows_the_sandbox_ports_not_this_machines() {
    if !can_run() {
        return;
    }
    let dir = TempDir::new("sandbox-list");
    let root = dir.path().join("root");
    let run = run_shell(&root, &[], "network list\nlogout\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The login: the support user, on the sandbox's own host name.
    assert!(run.stderr.contains("logged in as support on sensor-sim"), "{}", run.stderr);
    assert!(run.stdout.starts_with("support@sensor-sim: "), "{}", run.stdout);
    let listed: BTreeSet<&str> =
        run.stdout.lines().filter_map(|l| l.split_once(": flags=")?.0.rsplit(' ').next()).collect();
    assert_eq!(listed, BTreeSet::from(["eth0", "eth1", "eth2", "lo"]), "{}", run.stdout);
    assert!(run.stdout.contains("inet 10.254.0.2  netmask 255.255.255.0  broadcast 10.254.0.255"), "{}", run.stdout);
    let (addresses, links) = host_addresses_and_links();
    for address in addresses.iter().filter(|a| *a != "127.0.0.1") {
        assert!(!run.stdout.contains(&format!("inet {address} ")), "this machine's {address} in the sandbox:\n{}", run.stdout);
    }
    for link in links.iter().filter(|l| !listed.contains(l.as_str())) {
        assert!(!run.stdout.contains(&format!("{link}: flags=")), "this machine's {link} in the sandbox");
    }
    // Torn down: no process of the sandbox's users is left, and its directory is gone.
    assert_eq!(sandbox_processes(&root), Vec::<String>::new());
    assert!(!root.exists());
}

/// What adjtimex(2) reports of this machine's clock discipline, and CLOCK_REALTIME minus
/// CLOCK_MONOTONIC (a step of the clock moves it), read by Python.
fn host_clock() -> (String, f64) {
    let script = r#"
import ctypes, time
class Timex(ctypes.Structure):
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("pad", ctypes.c_byte * 200)]
t = Timex()
libc = ctypes.CDLL(None, use_errno=True)
assert libc.adjtimex(ctypes.byref(t)) >= 0
print(f"offset={t.offset} freq={t.freq} status={t.status}")
print(time.clock_gettime(time.CLOCK_REALTIME) - time.clock_gettime(time.CLOCK_MONOTONIC))
"#;
    let out = Command::new("python3").arg("-c").arg(script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (discipline, difference) = text.trim().split_once('\n').unwrap();
    (discipline.to_string(), difference.parse().unwrap())
}

#[test]
fn ntp_enable_in_the_sandbox_fails_clearly_and_leaves_this_machines_clock_alone() {
    if !can_run() {
        return;
    }
    let dir = TempDir::new("sandbox-ntp");
    let root = dir.path().join("root");
    let (discipline_before, difference_before) = host_clock();
    // chronyd answers on 127.0.0.1 inside, so the command gets as far as setting the clock.
    let run = run_shell(&root, &["--keep", "--as", "cyberx", "--", "ntp", "enable", "127.0.0.1"], "");
    let (discipline_after, difference_after) = host_clock();
    assert_ne!(run.code, 0, "{}", run.stderr);
    let error = run.stderr.lines().find(|l| l.starts_with("sensorctl: ntp enable: ")).unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(error.contains("adjtimex") || error.contains("clock_settime"), "not a refusal to set the clock: {error}");
    assert!(error.contains("not permitted"), "{error}");
    assert_eq!(discipline_after, discipline_before, "this machine's clock discipline changed");
    assert!((difference_after - difference_before).abs() < 0.05, "this machine's clock was stepped");
    // Nothing changed in the sandbox either: the server was not added.
    let config = std::fs::read_to_string(root.join("etc/sensorctl/config.json")).unwrap();
    assert!(!config.contains("127.0.0.1"), "{config}");
    assert_eq!(sandbox_processes(&root), Vec::<String>::new());
}

#[test]
fn system_reboot_ends_the_sandbox_and_this_machine_stays_up() {
    if !can_run() {
        return;
    }
    let dir = TempDir::new("sandbox-reboot");
    let uptime = || -> f64 {
        std::fs::read_to_string("/proc/uptime").unwrap().split_whitespace().next().unwrap().parse().unwrap()
    };
    let up_before = uptime();
    // The line after the reboot must never run: the sandbox is gone by then.
    let root = dir.path().join("root");
    let run = run_shell(&root, &[], "system reboot\nsystem version\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("Rebooting the appliance ..."), "{}", run.stdout);
    assert!(!run.stdout.contains("Version:"), "a command ran after the reboot: {}", run.stdout);
    assert!(run.stderr.contains("the simulated appliance rebooted (system reboot)"), "{}", run.stderr);
    assert!(uptime() > up_before, "this machine's uptime went back: it rebooted");
    assert_eq!(sandbox_processes(&root), Vec::<String>::new());
    assert!(!root.exists());
}
