//! `ntp enable|disable|status|query` against a real chronyd serving time on a loopback address
//! (started here, `local stratum 10`, `-x` so it never touches the clock), and against a small
//! responder in the test that misbehaves in one way at a time. Port 123 as on the appliance,
//! so these tests need root; each test takes its own 127.x.y.z so they can run side by side.


use crate::common::*;
use nanoserde::DeJson;
use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A loopback address of its own for each server in this test process: 127.<200+n>.<pid>.
fn fresh_loopback() -> Ipv4Addr {
    static NEXT: AtomicU8 = AtomicU8::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    assert!(n < 50);
    let pid = std::process::id();
    Ipv4Addr::new(127, 200 + n, (pid >> 8) as u8, pid as u8)
}

fn can_run(what: &str) -> bool {
    if !is_root() {
        skip(&format!("{what} needs root (NTP port 123, clock adjustment)"));
        return false;
    }
    true
}

/// chronyd as an NTP server on `addr`:123, killed on drop.
struct Chronyd {
    child: Child,
    addr: Ipv4Addr,
    _dir: TempDir,
}

impl Chronyd {
    fn start() -> Chronyd {
        let addr = fresh_loopback();
        let dir = TempDir::new("chronyd");
        let conf = dir.path().join("chrony.conf");
        std::fs::write(
            &conf,
            format!(
                "local stratum 10\nallow 127.0.0.0/8\nbindaddress {addr}\nport 123\ncmdport 0\n\
                 pidfile {dir}/chronyd.pid\n",
                dir = dir.path().display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("chronyd.log")).unwrap();
        let child = Command::new("chronyd")
            .args(["-d", "-x", "-u", "root", "-f"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("chronyd: {e} (apt-get install chrony; scripts/test installs it)"));
        let mut server = Chronyd { child, addr, _dir: dir };
        server.wait_until_serving();
        server
    }

    /// Asks with a minimal request of our own until chronyd answers (it binds within ms).
    fn wait_until_serving(&mut self) {
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let mut request = [0u8; 48];
        request[0] = 0x23;
        request[40..48].copy_from_slice(&0x1234_5678_9abc_def0u64.to_be_bytes());
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self._dir.path().join("chronyd.log")).unwrap_or_default();
                panic!("chronyd exited with {status}: {log}");
            }
            probe.send_to(&request, (self.addr, 123)).unwrap();
            let mut buf = [0u8; 128];
            if let Ok((len, _)) = probe.recv_from(&mut buf) {
                if len >= 48 && buf[1] == 10 {
                    return;
                }
            }
        }
        panic!("chronyd on {} did not answer within 10 s", self.addr);
    }
}

impl Drop for Chronyd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the test responder misbehaves.
#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    KissOfDeath,
    WrongMode,
    WrongOrigin,
    Garbage,
    OtherPort,
}

/// A UDP "server" on `addr`:123 in a thread of the test, answering every request badly.
struct Responder {
    addr: Ipv4Addr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<u32>>,
}

impl Responder {
    fn start(how: Misbehaviour) -> Responder {
        let addr = fresh_loopback();
        let socket = UdpSocket::bind((addr, 123)).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let other = UdpSocket::bind((addr, 124)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = thread::spawn(move || {
            let mut answered = 0;
            let mut buf = [0u8; 512];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((len, from)) = socket.recv_from(&mut buf) else { continue };
                if len < 48 {
                    continue;
                }
                let mut reply = good_reply(&buf[..48]);
                let via = match how {
                    Misbehaviour::KissOfDeath => {
                        reply[0] = (3 << 6) | (4 << 3) | 4;
                        reply[1] = 0;
                        reply[12..16].copy_from_slice(b"RATE");
                        &socket
                    }
                    Misbehaviour::WrongMode => {
                        reply[0] = (4 << 3) | 3;
                        &socket
                    }
                    Misbehaviour::WrongOrigin => {
                        reply[31] ^= 0x01;
                        &socket
                    }
                    Misbehaviour::Garbage => {
                        socket.send_to(b"\x24\x02garbage", from).unwrap();
                        answered += 1;
                        continue;
                    }
                    Misbehaviour::OtherPort => &other,
                };
                via.send_to(&reply, from).unwrap();
                answered += 1;
            }
            answered
        });
        Responder { addr, stop, thread: Some(thread) }
    }

    /// Stops the thread; returns how many requests it answered.
    fn finish(mut self) -> u32 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A reply that would be correct: mode 4, stratum 2, our clock, the request's transmit as origin.
fn good_reply(request: &[u8]) -> [u8; 48] {
    let mut reply = [0u8; 48];
    reply[0] = (4 << 3) | 4;
    reply[1] = 2;
    reply[12..16].copy_from_slice(&[192, 0, 2, 1]);
    reply[24..32].copy_from_slice(&request[40..48]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let ntp = ((now.as_secs() + 2_208_988_800) << 32) | ((u64::from(now.subsec_nanos()) << 32) / 1_000_000_000);
    reply[32..40].copy_from_slice(&ntp.to_be_bytes());
    reply[40..48].copy_from_slice(&ntp.to_be_bytes());
    reply
}

fn config_path(root: &Path) -> PathBuf {
    root.join("etc/sensorctl/config.json")
}

fn state_path(root: &Path) -> PathBuf {
    root.join("var/lib/sensorctl/ntp.json")
}

/// A config with a server already enabled, written by hand (odd spacing on purpose, so that
/// any rewrite shows).
fn seeded_root(label: &str) -> TempDir {
    let root = sandbox(label);
    std::fs::create_dir_all(root.path().join("etc/sensorctl")).unwrap();
    std::fs::write(config_path(root.path()), "{ \"version\": 1,  \"ntp_servers\": [\"192.0.2.10\"] }\n").unwrap();
    root
}

#[derive(DeJson, Debug)]
struct SyncJson {
    server: String,
    unix: i64,
    time: String,
    offset_ns: i64,
    delay_ns: i64,
    stratum: u8,
    correction: String,
}

#[derive(DeJson, Debug)]
struct StateJson {
    version: u32,
    last_sync: Option<SyncJson>,
}

#[derive(DeJson, Debug)]
struct StatusJson {
    servers: Vec<String>,
    last_sync: Option<SyncJson>,
}

#[derive(DeJson, Debug)]
struct QueryJson {
    server: String,
    offset_ns: i64,
    delay_ns: i64,
    stratum: u8,
    leap: u8,
    reference_id: String,
    server_time: String,
}

#[derive(DeJson, Debug)]
struct ConfigJson {
    ntp_servers: Vec<String>,
}

fn servers_in_config(root: &Path) -> Vec<String> {
    ConfigJson::deserialize_json(&std::fs::read_to_string(config_path(root)).unwrap()).unwrap().ntp_servers
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The offset chronyd's own client measures against the same server (`chronyd -Q`): the
/// independent yardstick. Client and server share one clock, so both should be near zero.
fn chronyd_measured_offset(addr: Ipv4Addr) -> Option<f64> {
    let dir = TempDir::new("chronyd-q");
    let pidfile = format!("pidfile {}/pid", dir.path().display());
    let out = Command::new("chronyd")
        .args(["-Q", "-u", "root", &format!("server {addr} iburst maxsamples 1"), "cmdport 0", &pidfile])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    // "System clock wrong by -0.000004 seconds (ignored)"
    let at = text.find("wrong by ")?;
    text[at + 9..].split_whitespace().next()?.parse().ok()
}

#[test]
fn enable_syncs_with_chronyd_stores_the_server_and_status_reports_it() {
    if !can_run("ntp against chronyd") {
        return;
    }
    let chronyd = Chronyd::start();
    let addr = chronyd.addr.to_string();
    let root = seeded_root("ntp-enable");
    let before = unix_now();
    let run = sensorctl(root.path(), &["ntp", "enable", &addr]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    // "NTP server A enabled: offset +0.000012 s slewed, delay 0.000080 s, stratum 10"
    let line = run.stdout.trim_end();
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    let prefix = format!("NTP server {addr} enabled: offset ");
    assert!(line.starts_with(&prefix) && line.ends_with(", stratum 10"), "{line}");
    assert!(line.contains(" s slewed, delay 0."), "a near-zero offset is slewed, not stepped: {line}");
    assert_eq!(servers_in_config(root.path()), ["192.0.2.10", addr.as_str()]);

    let state = StateJson::deserialize_json(&std::fs::read_to_string(state_path(root.path())).unwrap()).unwrap();
    assert_eq!(state.version, 1);
    let state = state.last_sync.unwrap();
    assert_eq!((state.server.as_str(), state.stratum, state.correction.as_str()), (addr.as_str(), 10, "slew"));
    // One clock on both ends: whatever offset we report is our error.
    assert!(state.offset_ns.abs() < 2_000_000, "offset {} ns against a server on the same clock", state.offset_ns);
    assert!((0..50_000_000).contains(&state.delay_ns), "delay {} ns on loopback", state.delay_ns);
    assert!((before..=unix_now()).contains(&state.unix));
    let printed = format!("offset {}{}.{:06} s", if state.offset_ns < 0 { '-' } else { '+' }, state.offset_ns.abs() / 1_000_000_000, (state.offset_ns.abs() % 1_000_000_000 + 500) / 1000);
    assert!(line.contains(&printed), "{line} vs {printed}");

    // status, text and JSON, tell the same story as the state file.
    let status = sensorctl(root.path(), &["ntp", "status"]).run();
    assert_eq!(status.code, 0, "{}", status.stderr);
    let lines: Vec<&str> = status.stdout.lines().collect();
    assert_eq!(lines[0], format!("NTP servers: 192.0.2.10, {addr}"));
    assert_eq!(lines[1], format!("Last sync: {} from {addr}, stratum 10", state.time));
    assert!(lines[2].starts_with("Offset: ") && lines[2].ends_with(" s (slewed)"), "{}", lines[2]);
    assert!(lines[3].starts_with("Delay: 0.0"), "{}", lines[3]);
    assert_eq!(lines.len(), 4);
    let gnu = Command::new("date").args(["-u", "-d", &state.time, "+%s"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&gnu.stdout).trim(), state.unix.to_string(), "time and unix agree");
    let json = sensorctl(root.path(), &["system", "ntp", "status", "--json"]).run();
    assert_eq!(json.code, 0, "{}", json.stderr);
    let report = StatusJson::deserialize_json(json.stdout.trim()).unwrap();
    assert_eq!(report.servers, ["192.0.2.10", addr.as_str()]);
    let last = report.last_sync.unwrap();
    assert_eq!((last.offset_ns, last.delay_ns, last.unix), (state.offset_ns, state.delay_ns, state.unix));

    // Enabling it again syncs again and leaves the config as it was, byte for byte.
    let config_before = std::fs::read(config_path(root.path())).unwrap();
    for invocation in [
        sensorctl(root.path(), &["system", "ntp", "enable", &addr]),
        Invocation::new(alias(root.path(), "cyberx-xsense-ntp-enable"), root.path(), &[&addr]),
    ] {
        let again = invocation.run();
        assert_eq!(again.code, 0, "{}", again.stderr);
        assert!(again.stdout.starts_with(&prefix), "{}", again.stdout);
    }
    assert_eq!(std::fs::read(config_path(root.path())).unwrap(), config_before);
}

#[test]
fn query_measures_without_changing_anything_and_agrees_with_chronyds_own_client() {
    if !can_run("ntp query against chronyd") {
        return;
    }
    let chronyd = Chronyd::start();
    let addr = chronyd.addr.to_string();
    let root = seeded_root("ntp-query");
    let config_before = std::fs::read(config_path(root.path())).unwrap();
    let mut offsets = Vec::new();
    for _ in 0..5 {
        let run = sensorctl(root.path(), &["ntp", "query", &addr, "--json"]).run();
        assert_eq!(run.code, 0, "{}", run.stderr);
        let report = QueryJson::deserialize_json(run.stdout.trim()).unwrap();
        assert_eq!((report.server.as_str(), report.stratum, report.leap), (addr.as_str(), 10, 0));
        // chronyd's local reference is "127.127.1.1".
        assert_eq!(report.reference_id, "7F7F0101");
        let server_time = Command::new("date").args(["-u", "-d", &report.server_time, "+%s"]).output().unwrap();
        let server_time: i64 = String::from_utf8_lossy(&server_time.stdout).trim().parse().unwrap();
        assert!((server_time - unix_now()).abs() <= 2, "{}", report.server_time);
        assert!(report.delay_ns >= 0);
        offsets.push(report.offset_ns);
    }
    offsets.sort();
    let median = offsets[offsets.len() / 2];
    assert!(median.abs() < 500_000, "median offset {median} ns against a server on the same clock: {offsets:?}");
    if let Some(chrony) = chronyd_measured_offset(chronyd.addr) {
        eprintln!("median offset: ours {median} ns, chronyd -Q {:.0} ns", chrony * 1e9);
        assert!((median as f64 - chrony * 1e9).abs() < 1_000_000.0);
    }
    let text = sensorctl(root.path(), &["system", "ntp", "query", &addr]).run();
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.starts_with(&format!("NTP server {addr}: offset ")) && text.stdout.ends_with(", stratum 10\n"), "{}", text.stdout);
    assert_eq!(std::fs::read(config_path(root.path())).unwrap(), config_before, "query changes no config");
    assert!(!state_path(root.path()).exists(), "query records no sync");
}

#[test]
fn disable_removes_the_server_and_refuses_one_that_is_not_enabled() {
    if !can_run("ntp disable after enable") {
        return;
    }
    let first = Chronyd::start();
    let second = Chronyd::start();
    let (a, b) = (first.addr.to_string(), second.addr.to_string());
    let root = sandbox("ntp-disable");
    for addr in [&a, &b] {
        let run = sensorctl(root.path(), &["ntp", "enable", addr]).run();
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert_eq!(servers_in_config(root.path()), [a.as_str(), b.as_str()]);
    let run = Invocation::new(alias(root.path(), "cyberx-xsense-ntp-disable"), root.path(), &[&a]).run();
    assert_eq!((run.code, run.stdout.as_str()), (0, format!("NTP server {a} disabled\n").as_str()), "{}", run.stderr);
    assert_eq!(servers_in_config(root.path()), [b.as_str()]);

    let config_before = std::fs::read(config_path(root.path())).unwrap();
    let again = sensorctl(root.path(), &["ntp", "disable", &a]).run();
    assert_eq!(again.code, 1);
    assert_eq!(again.stderr, format!("sensorctl: ntp disable: NTP server {a} is not enabled (enabled: {b})\n"));
    assert_eq!(std::fs::read(config_path(root.path())).unwrap(), config_before);

    let last = sensorctl(root.path(), &["system", "ntp", "disable", &b]).run();
    assert_eq!(last.code, 0, "{}", last.stderr);
    assert_eq!(last.stdout, format!("NTP server {b} disabled; no NTP server left, time sync is off\n"));
    assert!(servers_in_config(root.path()).is_empty());
    let none = sensorctl(root.path(), &["ntp", "disable", &b]).run();
    assert_eq!(none.stderr, format!("sensorctl: ntp disable: NTP server {b} is not enabled (no NTP server is enabled)\n"));
    assert_eq!(none.code, 1);
    let status = sensorctl(root.path(), &["ntp", "status"]).run();
    assert!(status.stdout.starts_with("NTP servers: none (time sync is off)\nLast sync: "), "{}", status.stdout);
}

/// Runs `ntp enable` against a server that fails in one way; checks exit 1, the one-line
/// message, and that neither the config nor the state changed.
fn refused(label: &str, addr: Ipv4Addr, expected: &str) {
    let root = seeded_root(label);
    let config_before = std::fs::read(config_path(root.path())).unwrap();
    let run = sensorctl(root.path(), &["ntp", "enable", &addr.to_string()]).run();
    assert_eq!(run.code, 1, "{label}: {}", run.stderr);
    assert_eq!(run.stdout, "", "{label}");
    let head = format!("sensorctl: ntp enable: NTP server {addr} not enabled: ");
    assert!(run.stderr.starts_with(&head), "{label}: {}", run.stderr);
    assert!(run.stderr.contains(expected), "{label}: {}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{label}: {}", run.stderr);
    assert_eq!(std::fs::read(config_path(root.path())).unwrap(), config_before, "{label}: config changed");
    assert!(!state_path(root.path()).exists(), "{label}: a sync was recorded");
}

#[test]
fn a_server_that_does_not_answer_is_refused() {
    if !can_run("ntp against a silent address") {
        return;
    }
    let addr = fresh_loopback();
    let started = Instant::now();
    refused("ntp-silent", addr, &format!("no reply from {addr}:123 after 3 tries (3."));
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[test]
fn a_kiss_of_death_is_refused_at_once_with_its_code() {
    if !can_run("ntp against a kissing responder") {
        return;
    }
    let responder = Responder::start(Misbehaviour::KissOfDeath);
    let addr = responder.addr;
    refused("ntp-kod", addr, &format!("{addr}:123 refused service: Kiss-o'-Death RATE: rate exceeded, query less often\n"));
    assert_eq!(responder.finish(), 1, "a kiss means: do not ask again");
}

#[test]
fn a_reply_in_the_wrong_mode_is_refused() {
    if !can_run("ntp against a wrong-mode responder") {
        return;
    }
    let responder = Responder::start(Misbehaviour::WrongMode);
    let addr = responder.addr;
    refused("ntp-mode", addr, &format!("bad reply from {addr}:123: wrong mode 3 in reply (expected 4, server)\n"));
}

#[test]
fn a_reply_with_the_wrong_origin_timestamp_is_ignored_until_the_time_is_up() {
    if !can_run("ntp against a forging responder") {
        return;
    }
    let responder = Responder::start(Misbehaviour::WrongOrigin);
    let addr = responder.addr;
    refused(
        "ntp-origin",
        addr,
        "; ignored 3 datagrams, the last: origin timestamp does not match our request (stray or forged reply)\n",
    );
    assert_eq!(responder.finish(), 3, "one answer per try");
}

#[test]
fn garbage_bytes_are_ignored_until_the_time_is_up() {
    if !can_run("ntp against a garbage responder") {
        return;
    }
    let responder = Responder::start(Misbehaviour::Garbage);
    let addr = responder.addr;
    refused("ntp-garbage", addr, "; ignored 3 datagrams, the last: short packet (9 bytes, an NTP reply has at least 48)\n");
}

#[test]
fn a_reply_from_another_port_is_ignored_until_the_time_is_up() {
    if !can_run("ntp against a responder replying from port 124") {
        return;
    }
    let responder = Responder::start(Misbehaviour::OtherPort);
    let addr = responder.addr;
    refused(
        "ntp-port",
        addr,
        &format!("; ignored 3 datagrams, the last: datagram from {addr}:124, not from the server's address and port\n"),
    );
}

#[test]
fn bad_addresses_are_usage_errors_that_change_nothing() {
    let root = seeded_root("ntp-bad-addr");
    let config_before = std::fs::read(config_path(root.path())).unwrap();
    let cases: &[(&str, &str)] = &[
        ("1.2.3", "invalid IPv4 address '1.2.3': expected four numbers 0-255"),
        ("999.1.1.1", "invalid IPv4 address '999.1.1.1'"),
        ("::1", "invalid IPv4 address '::1'"),
        ("1.2.3.4;reboot", "invalid IPv4 address '1.2.3.4;reboot'"),
        (" 1.2.3.4", "invalid IPv4 address ' 1.2.3.4'"),
        ("01.2.3.4", "leading zeros are not allowed"),
        ("", "invalid IPv4 address ''"),
        ("1.2.3.4\n", "invalid IPv4 address '1.2.3.4\\x0a'"),
        ("224.0.1.1", "224.0.1.1 is not the address of one host"),
        ("0.0.0.0", "0.0.0.0 is not the address of one host"),
        ("255.255.255.255", "is not the address of one host"),
    ];
    for (command, name) in [(&["ntp", "enable"][..], "ntp enable"), (&["system", "ntp", "disable"], "system ntp disable"), (&["ntp", "query"], "ntp query")] {
        for (bad, expected) in cases {
            let mut args = command.to_vec();
            args.push(bad);
            let run = sensorctl(root.path(), &args).run();
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert_eq!(run.stdout, "");
            assert!(run.stderr.starts_with(&format!("sensorctl: {name}: ")), "{args:?}: {}", run.stderr);
            assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
            assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        }
    }
    let alias_run = Invocation::new(alias(root.path(), "cyberx-xsense-ntp-enable"), root.path(), &["10.0.0.256"]).run();
    assert_eq!(alias_run.code, 2);
    assert!(alias_run.stderr.starts_with("sensorctl: cyberx-xsense-ntp-enable: invalid IPv4 address '10.0.0.256'"), "{}", alias_run.stderr);
    let missing = sensorctl(root.path(), &["ntp", "enable"]).run();
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("Required positional arguments not provided"), "{}", missing.stderr);
    let category = sensorctl(root.path(), &["system", "ntp"]).run();
    assert_eq!((category.code, category.stderr.as_str()), (2, "sensorctl: system ntp: missing command; one of: enable, disable, status, query\n"));
    assert_eq!(std::fs::read(config_path(root.path())).unwrap(), config_before);
    assert!(!state_path(root.path()).exists());
}

#[test]
fn status_before_any_sync_and_the_roles_that_may_use_ntp() {
    let root = sandbox("ntp-status-roles");
    let run = sensorctl(root.path(), &["ntp", "status"]).run();
    assert_eq!((run.code, run.stdout.as_str()), (0, "NTP servers: none (time sync is off)\nLast sync: never\n"), "{}", run.stderr);
    let json = sensorctl(root.path(), &["ntp", "status", "--json"]).run();
    assert_eq!(json.stdout, "{\"servers\":[],\"last_sync\":null}\n");
    for (role, allowed) in [("support", true), ("cyberx", true), ("cyberx_host", false), ("none", false)] {
        for args in [&["--role", role, "ntp", "status"][..], &["--role", role, "system", "ntp", "disable", "192.0.2.1"]] {
            let run = sensorctl(root.path(), args).run();
            if allowed {
                assert_ne!(run.code, 77, "{args:?}: {}", run.stderr);
            } else {
                assert_eq!(run.code, 77, "{args:?}: {}", run.stderr);
                assert!(run.stderr.ends_with(&format!("permission denied for role {role}\n")), "{}", run.stderr);
            }
        }
    }
    // A damaged state file is named, not papered over.
    std::fs::create_dir_all(state_path(root.path()).parent().unwrap()).unwrap();
    std::fs::write(state_path(root.path()), "{\"version\": 1, \"last_sync\": {\"server\": 5").unwrap();
    let broken = sensorctl(root.path(), &["ntp", "status"]).run();
    assert_eq!(broken.code, 1);
    assert!(broken.stderr.contains("ntp.json: not a valid NTP state file"), "{}", broken.stderr);
}

#[test]
fn the_daemon_syncs_with_the_configured_server_when_it_starts() {
    if !can_run("the daemon's scheduled sync") {
        return;
    }
    let server = Chronyd::start();
    let root = seeded_root("ntp-daemon");
    std::fs::create_dir_all(config_path(root.path()).parent().unwrap()).unwrap();
    std::fs::write(
        config_path(root.path()),
        format!(r#"{{"version":1,"ntp_servers":["{}"],"ntp_poll_interval_s":16}}"#, server.addr),
    )
    .unwrap();
    let _daemon = Daemon::start(root.path());
    let started = Instant::now();
    while !state_path(root.path()).exists() {
        assert!(started.elapsed() < Duration::from_secs(15), "the daemon did not sync at start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let state = std::fs::read_to_string(state_path(root.path())).unwrap();
    assert!(state.contains(&server.addr.to_string()), "{state}");
}
