//! The daemon's supervisor and watchdog, with real processes: a service that keeps dying is
//! restarted with growing delays, a steady one is recorded for `system sanity`, SIGTERM stops
//! them all, and a daemon killed with SIGKILL leaves no orphans and loses no configuration.



use crate::common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn supervised_board(root: &Path) -> std::path::PathBuf {
    let board = root.join("board.json");
    let log = root.join("flappy.log");
    let services = format!(
        r#""services": [
    {{ "name": "Steady", "pidfile": "/run/steady.pid", "process": "sleep", "argv": ["/bin/sleep", "1000"] }},
    {{ "name": "Flappy", "process": "flappy-none", "argv": ["/bin/sh", "-c", "date +%s.%N >> {}"] }}
  ],
  "watchdog": "/watchdog",
  "watchdog_interval_s": 1,"#,
        log.display()
    );
    std::fs::write(
        &board,
        board_json(|text| {
            let start = text.find("\"services\"").unwrap();
            let end = start + text[start..].find("],").unwrap() + 2;
            format!("{}{services}{}", &text[..start], &text[end..])
        }),
    )
    .unwrap();
    std::fs::write(root.join("watchdog"), b"").unwrap();
    board
}

fn start_daemon(root: &Path, board: &Path) -> Daemon {
    Daemon::start_with(sensorctl(root, &["--board", board.to_str().unwrap(), "daemon"]).command(), root)
}

fn steady_pid(root: &Path) -> u32 {
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(root.join("run/steady.pid")) {
            return text.trim().parse().unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no pidfile for the steady service");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| !s.contains(") Z ")).unwrap_or(false)
}

fn wait_gone(pid: u32, within: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn services_are_supervised_restarted_with_backoff_and_stopped_on_sigterm() {
    if !is_root() {
        skip("needs root to run the daemon and its services");
        return;
    }
    let root = sandbox("supervise");
    let board = supervised_board(root.path());
    let mut daemon = start_daemon(root.path(), &board);
    let steady = steady_pid(root.path());
    assert_eq!(std::fs::read_to_string(format!("/proc/{steady}/comm")).unwrap().trim(), "sleep");

    std::thread::sleep(Duration::from_millis(4500));
    let starts: Vec<f64> = std::fs::read_to_string(root.path().join("flappy.log"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    // Started at 0 s, then after 1 s and 2 s more (3 s), the next not before 7 s.
    assert_eq!(starts.len(), 3, "{starts:?}");
    let gaps: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!((0.9..1.6).contains(&gaps[0]) && (1.9..2.6).contains(&gaps[1]), "backoff gaps {gaps:?}");

    // system sanity sees the supervised service through its pidfile.
    let sanity = sensorctl(root.path(), &["--board", board.to_str().unwrap(), "system", "sanity"]).run();
    assert!(sanity.stdout.contains("[+] Steady | Running for 00:00:0"), "{}", sanity.stdout);

    let keepalives = std::fs::read(root.path().join("watchdog")).unwrap();
    assert!(keepalives.len() >= 3 && keepalives.iter().all(|&b| b == 0), "{keepalives:?}");

    Command::new("kill").args(["-TERM", &daemon.pid().to_string()]).status().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = daemon.ended() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "SIGTERM did not stop the daemon");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert!(wait_gone(steady, Duration::from_secs(2)), "the service outlived the daemon");
    assert!(!root.path().join("run/steady.pid").exists(), "stale pidfile left behind");
    assert!(!root.path().join("run/sensorctl/sensord.sock").exists(), "socket left behind");
    assert_eq!(std::fs::read(root.path().join("watchdog")).unwrap().last(), Some(&b'V'), "no magic close");
}

#[test]
fn a_daemon_killed_with_sigkill_leaves_no_orphans_and_restarts_with_its_config() {
    if !is_root() {
        skip("needs root to run the daemon and its services");
        return;
    }
    let root = sandbox("supervise-kill");
    let board = supervised_board(root.path());
    std::fs::create_dir_all(root.path().join("etc/sensorctl")).unwrap();
    let config = r#"{"version":1,"shell_idle_timeout_s":120}"#;
    std::fs::write(root.path().join("etc/sensorctl/config.json"), config).unwrap();
    let mut daemon = start_daemon(root.path(), &board);
    let first = steady_pid(root.path());
    daemon.kill_9();
    assert!(wait_gone(first, Duration::from_secs(5)), "PR_SET_PDEATHSIG did not stop the service");

    std::fs::remove_file(root.path().join("run/steady.pid")).unwrap();
    let mut again = start_daemon(root.path(), &board);
    let second = steady_pid(root.path());
    assert_ne!(first, second);
    assert_eq!(std::fs::read_to_string(root.path().join("etc/sensorctl/config.json")).unwrap(), config);
    let version = sensorctl(root.path(), &["system", "version"]).uid(SUPPORT_UID).run();
    assert_eq!(version.code, 0, "the restarted daemon serves: {}", version.stderr);
    again.kill_9();
    assert!(wait_gone(second, Duration::from_secs(5)));
}
