//! `system sanity` against services the test starts: `sleep` processes under a name of their
//! own (a symlink, so the kernel's command name is unique to this test) with pidfiles in a
//! temporary root, a Unix socket listener, a killed one, a zombie, a stale pidfile (the pid of
//! an unrelated live `cat`), a missing pidfile and a socket nobody listens on. Uptimes are
//! compared with procps `ps -o etimes=` for the same pids.


use crate::common::*;
use nanoserde::DeJson;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(DeJson, Debug)]
struct Report {
    up: bool,
    size_profile: String,
    services_total: u32,
    services_not_running: u32,
    services: Vec<ServiceJson>,
}

#[derive(DeJson, Debug)]
struct ServiceJson {
    name: String,
    running: bool,
    pid: Option<u32>,
    uptime_s: Option<u64>,
    reason: Option<String>,
}

/// Processes the test started; killed and reaped when dropped.
#[derive(Default)]
struct Procs(Vec<Child>);

impl Procs {
    fn spawn(&mut self, program: &Path, args: &[&str]) -> u32 {
        let child = Command::new(program).args(args).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
        let pid = child.id();
        self.0.push(child);
        pid
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A root with `run/`, a `sleep` under a command name unique to this test, and the board.
struct Setup {
    root: TempDir,
    sleeper: PathBuf,
    name: String,
}

impl Setup {
    fn new(label: &str) -> Setup {
        let root = sandbox(label);
        std::fs::create_dir_all(root.path().join("run")).unwrap();
        std::fs::create_dir_all(root.path().join("bin")).unwrap();
        // At most 15 bytes, the kernel's command name limit.
        let name = format!("slp{}{}", label.len(), std::process::id() % 1_000_000);
        let sleeper = root.path().join("bin").join(&name);
        let sleep = Command::new("sh").args(["-c", "command -v sleep"]).output().unwrap();
        let sleep = String::from_utf8(sleep.stdout).unwrap();
        std::os::unix::fs::symlink(std::fs::canonicalize(sleep.trim()).unwrap(), &sleeper).unwrap();
        Setup { root, sleeper, name }
    }

    fn path(&self) -> &Path {
        self.root.path()
    }

    fn pidfile(&self, name: &str, pid: u32) {
        std::fs::write(self.path().join("run").join(name), format!("{pid}\n")).unwrap();
    }

    /// Writes a board with these service entries (JSON objects); returns its path.
    fn board(&self, services: &[String]) -> String {
        let text = format!(
            r#"{{
  "format": 1,
  "name": "sanity-test",
  "size_profile": "small",
  "management_interface": "eth0",
  "backup": {{ "dir": "/backups", "limit_bytes": 1000000 }},
  "services": [{}],
  "roles": [
    {{ "user": "support", "role": "support" }},
    {{ "user": "cyberx", "role": "cyberx" }},
    {{ "user": "cyberx_host", "role": "cyberx_host" }}
  ]
}}"#,
            services.join(",\n    ")
        );
        let path = self.path().join("board.json");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn sanity(&self, board: &str, extra: &[&str]) -> Run {
        let mut args = vec!["--board", board];
        args.extend_from_slice(extra);
        sensorctl(self.path(), &args).run()
    }
}

fn pidfile_service(name: &str, pidfile: &str, program: &str) -> String {
    format!(r#"{{ "name": "{name}", "pidfile": "/run/{pidfile}", "process": "{program}" }}"#)
}

/// The process's age in seconds as procps sees it.
fn ps_etimes(pid: u32) -> u64 {
    let out = Command::new("ps").args(["-o", "etimes=", "-p", &pid.to_string()]).output().unwrap();
    assert!(out.status.success(), "ps -p {pid}");
    String::from_utf8(out.stdout).unwrap().trim().parse().unwrap()
}

/// `[+] NAME | Running for H:MM:SS` → seconds.
fn running_for(line: &str, name: &str) -> u64 {
    let prefix = format!("[+] {name} | Running for ");
    let hms = line.strip_prefix(&prefix).unwrap_or_else(|| panic!("{line:?} does not start with {prefix:?}"));
    let parts: Vec<&str> = hms.split(':').collect();
    assert_eq!(parts.len(), 3, "{hms}");
    assert!(parts.iter().all(|p| p.len() >= 2) && parts[1].len() == 2 && parts[2].len() == 2, "{hms}");
    let [h, m, s] = [parts[0], parts[1], parts[2]].map(|p| p.parse::<u64>().unwrap());
    assert!(m < 60 && s < 60, "{hms}");
    h * 3600 + m * 60 + s
}

fn assert_close(ours: u64, pid: u32, what: &str) {
    let theirs = ps_etimes(pid);
    assert!(ours.abs_diff(theirs) <= 1, "{what}: sensorctl says {ours} s, ps says {theirs} s");
}

fn wait_for_state(pid: u32, state: char) {
    for _ in 0..200 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.rsplit(')').next().and_then(|rest| rest.trim_start().chars().next()) == Some(state) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("pid {pid} never reached state {state}");
}

#[test]
fn all_services_up_prints_their_uptimes_and_exit_0() {
    let setup = Setup::new("up");
    let mut procs = Procs::default();
    let one = procs.spawn(&setup.sleeper, &["1000"]);
    let two = procs.spawn(&setup.sleeper, &["1000"]);
    setup.pidfile("one.pid", one);
    let _listener = UnixListener::bind(setup.path().join("run/web.sock")).unwrap();
    // PID 1 is as old as the machine (or container): hours beyond 24 on a long-running host.
    setup.pidfile("init.pid", 1);
    let board = setup.board(&[
        pidfile_service("Sleeper One", "one.pid", &setup.name),
        format!(r#"{{ "name": "Sleeper By Name", "process": "{}" }}"#, setup.name),
        r#"{ "name": "Web Apps", "socket": "/run/web.sock" }"#.to_string(),
        r#"{ "name": "Init", "pidfile": "/run/init.pid" }"#.to_string(),
    ]);
    // Old enough that an uptime of 0 would be wrong.
    std::thread::sleep(Duration::from_millis(2100));

    let run = setup.sanity(&board, &["system", "sanity"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", run.stdout);
    assert!(running_for(lines[0], "Sleeper One") >= 2, "{}", lines[0]);
    assert_close(running_for(lines[0], "Sleeper One"), one, "pidfile service");
    // The oldest of the two processes with the name is the service.
    let (older, _) = if procfs_start(one) <= procfs_start(two) { (one, two) } else { (two, one) };
    assert_close(running_for(lines[1], "Sleeper By Name"), older, "process-name service");
    assert_close(running_for(lines[2], "Web Apps"), std::process::id(), "socket service (our listener)");
    assert_close(running_for(lines[3], "Init"), 1, "PID 1");
    assert_eq!(&lines[4..], ["", "System is UP! (small)"]);

    // The same through the cyberx alias, and as JSON.
    let via_alias = Invocation::new(
        alias(setup.path(), "cyberx-xsense-sanity"),
        setup.path(),
        &["--board", &board],
    )
    .run();
    assert_eq!(via_alias.code, 0, "{}", via_alias.stderr);
    assert_eq!(via_alias.stdout.lines().last(), Some("System is UP! (small)"));

    let json = setup.sanity(&board, &["system", "sanity", "--json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let report = Report::deserialize_json(json.stdout.trim()).unwrap();
    assert!(report.up);
    assert_eq!((report.size_profile.as_str(), report.services_total, report.services_not_running), ("small", 4, 0));
    let names: Vec<&str> = report.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Sleeper One", "Sleeper By Name", "Web Apps", "Init"]);
    let pids: Vec<Option<u32>> = report.services.iter().map(|s| s.pid).collect();
    assert_eq!(pids, [Some(one), Some(older), Some(std::process::id()), Some(1)]);
    for service in &report.services {
        assert!(service.running && service.reason.is_none(), "{service:?}");
        assert_close(service.uptime_s.unwrap(), service.pid.unwrap(), &service.name);
    }
}

/// Start time in ticks after boot (field 22 of /proc/<pid>/stat), to know which of two
/// processes is older independently of sensorctl.
fn procfs_start(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit(')').next().unwrap();
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

#[test]
fn dead_stale_and_missing_services_are_named_with_their_reason_and_exit_1() {
    let setup = Setup::new("down");
    let mut procs = Procs::default();
    let alive = procs.spawn(&setup.sleeper, &["1000"]);
    setup.pidfile("alive.pid", alive);

    let mut killed = Command::new(&setup.sleeper).arg("1000").spawn().unwrap();
    let killed_pid = killed.id();
    killed.kill().unwrap();
    killed.wait().unwrap();
    setup.pidfile("killed.pid", killed_pid);

    // Exited but not reaped yet: still in /proc, as a zombie.
    let zombie = procs.spawn(&setup.sleeper, &["0"]);
    wait_for_state(zombie, 'Z');
    setup.pidfile("zombie.pid", zombie);

    // A live process of another program holds the pid the pidfile names.
    let unrelated = procs.spawn(Path::new("cat"), &[]);
    setup.pidfile("stale.pid", unrelated);

    std::fs::write(setup.path().join("run/garbage.pid"), "not a pid\n").unwrap();
    drop(UnixListener::bind(setup.path().join("run/old.sock")).unwrap());

    let board = setup.board(&[
        pidfile_service("Alive", "alive.pid", &setup.name),
        pidfile_service("Killed", "killed.pid", &setup.name),
        pidfile_service("Zombie", "zombie.pid", &setup.name),
        pidfile_service("Stale", "stale.pid", &setup.name),
        pidfile_service("Missing", "missing.pid", &setup.name),
        pidfile_service("Garbage", "garbage.pid", &setup.name),
        r#"{ "name": "Old Socket", "socket": "/run/old.sock" }"#.to_string(),
        r#"{ "name": "No Socket", "socket": "/run/none.sock" }"#.to_string(),
        r#"{ "name": "Nobody", "process": "no-such-prog-x" }"#.to_string(),
    ]);
    let run = setup.sanity(&board, &["system", "sanity"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stderr, "");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_close(running_for(lines[0], "Alive"), alive, "alive");
    let name = &setup.name;
    assert_eq!(
        &lines[1..],
        [
            format!("[-] Killed | Not running (pid {killed_pid} not alive)").as_str(),
            &format!("[-] Zombie | Not running (pid {zombie} not alive (zombie))"),
            &format!("[-] Stale | Not running (pid {unrelated} is cat not {name} (stale pidfile))"),
            "[-] Missing | Not running (no pidfile /run/missing.pid)",
            "[-] Garbage | Not running (pidfile /run/garbage.pid holds no pid)",
            "[-] Old Socket | Not running (socket /run/old.sock refused the connection)",
            "[-] No Socket | Not running (no socket /run/none.sock)",
            "[-] Nobody | Not running (no process named no-such-prog-x)",
            "",
            "System is DOWN! (8 of 9 services not running)",
        ]
    );

    let json = setup.sanity(&board, &["system", "sanity", "--json"]);
    assert_eq!(json.code, 1, "{}", json.stderr);
    let report = Report::deserialize_json(json.stdout.trim()).unwrap();
    assert!(!report.up);
    assert_eq!((report.services_total, report.services_not_running), (9, 8));
    assert_eq!(report.services[0].pid, Some(alive));
    let stale = &report.services[3];
    assert_eq!(
        (stale.running, stale.pid, stale.uptime_s, stale.reason.as_deref()),
        (false, None, None, Some(format!("pid {unrelated} is cat not {name} (stale pidfile)").as_str()))
    );
}

#[test]
fn a_board_without_services_is_up_and_roles_are_enforced() {
    let setup = Setup::new("roles");
    let board = setup.board(&[]);
    for (role, code) in [("support", 0), ("cyberx", 0), ("root", 0), ("cyberx_host", 77), ("none", 77)] {
        let run = setup.sanity(&board, &["--role", role, "system", "sanity"]);
        assert_eq!(run.code, code, "{role}: {}", run.stderr);
        if code == 0 {
            assert_eq!(run.stdout, "\nSystem is UP! (small)\n");
        } else {
            assert_eq!(run.stderr, format!("sensorctl: system sanity: permission denied for role {role}\n"));
        }
    }
}
