//! `system sanity`: is every service the board declares running, and for how long.
//!
//! Each service is found as its board entry says (see `board`): a pidfile under the root whose
//! pid must be alive and, when the board names the program, be that program (otherwise the
//! pidfile is stale: its pid was reused); a process name; or a Unix socket under the root that
//! must accept a connection. A running service's uptime is its process's age: `/proc/<pid>/stat`
//! start time (clock ticks after boot) against CLOCK_BOOTTIME.
//!
//! Output as the reference CLI: `[+] Web Apps | Running for 17:26:30` (hours may exceed 24),
//! `[-] Core API | Not running (<reason>)`, an empty line, then `System is UP! (medium)` or
//! `System is DOWN! (1 of 3 services not running)` and exit 1.
//!
//! Reads pidfiles and `/proc`, connects to the services' sockets: needs read access to the
//! pidfiles and write access to the sockets (root on the appliance); no other privileges.
#![forbid(unsafe_code)]

use crate::outcome::Status;
use crate::board::{Service, ServiceProbe};
use crate::context::Context;
use crate::error::{strip_errno, Result};
use crate::outcome::emit;
use crate::paths::RootDir;
use crate::sys::procfs::{self, ProcStat, COMM_MAX};
use nanoserde::SerJson;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;

/// What a probe found out about one service.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceState {
    /// The board's display name.
    pub name: String,
    /// Running, with what is known of the process; or why not.
    pub outcome: std::result::Result<Running, String>,
}

/// A running service.
#[derive(Clone, Debug, PartialEq)]
pub struct Running {
    /// Its process, when known (a socket's listener may be outside our PID namespace).
    pub pid: Option<u32>,
    /// How long it has been running, when its process is known.
    pub uptime: Option<Duration>,
}

/// The clocks a probe round measures uptimes against, read once.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// CLOCK_BOOTTIME now.
    pub since_boot: Duration,
    /// The unit of `/proc/<pid>/stat` start times.
    pub ticks_per_second: u64,
}

impl Clock {
    /// Reads the kernel's clocks.
    pub fn now() -> Clock {
        Clock {
            since_boot: crate::sys::clock::boottime(),
            ticks_per_second: procfs::clock_ticks_per_second(),
        }
    }

    fn uptime(&self, stat: &ProcStat) -> Duration {
        self.since_boot.saturating_sub(stat.start_since_boot(self.ticks_per_second))
    }
}

/// Probes one service.
pub fn probe(service: &Service, root: &RootDir, clock: &Clock) -> ServiceState {
    let found = match &service.probe {
        ServiceProbe::Pidfile { path, program } => by_pidfile(root, path, program.as_deref()),
        ServiceProbe::Process(name) => by_name(name),
        ServiceProbe::Socket(path) => by_socket(root, path),
    };
    let outcome = found.map(|process| match process {
        Some((pid, stat)) => Running { pid: Some(pid), uptime: Some(clock.uptime(&stat)) },
        None => Running { pid: None, uptime: None },
    });
    log::debug!("service {}: {:?}", service.name, outcome);
    ServiceState { name: service.name.clone(), outcome }
}

type Found = std::result::Result<Option<(u32, ProcStat)>, String>;

fn by_pidfile(root: &RootDir, path: &Path, program: Option<&str>) -> Found {
    let shown = path.display();
    let text = match read_start(&root.resolve(path)) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(format!("no pidfile {shown}")),
        Err(err) => return Err(format!("cannot read pidfile {shown}: {}", strip_errno(&err))),
    };
    let pid = parse_pid(&text).ok_or_else(|| format!("pidfile {shown} holds no pid"))?;
    let stat = match procfs::stat(pid) {
        Ok(stat) if stat.is_dead() => return Err(format!("pid {pid} not alive (zombie)")),
        Ok(stat) => stat,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(format!("pid {pid} not alive")),
        Err(err) => return Err(format!("pid {pid}: {}", strip_errno(&err))),
    };
    if let Some(program) = program {
        if !comm_matches(&stat.comm, program) {
            return Err(format!("pid {pid} is {} not {program} (stale pidfile)", shown_comm(&stat.comm)));
        }
    }
    Ok(Some((pid, stat)))
}

fn by_name(name: &str) -> Found {
    let pids = procfs::pids().map_err(|err| format!("cannot list /proc: {}", strip_errno(&err)))?;
    // Processes come and go while we look: one that vanished is simply not a candidate. Of
    // several with the name (a daemon and its workers), the oldest is the service.
    let oldest = pids
        .into_iter()
        .filter_map(|pid| procfs::stat(pid).ok().map(|stat| (pid, stat)))
        .filter(|(_, stat)| !stat.is_dead() && comm_matches(&stat.comm, name))
        .min_by_key(|(pid, stat)| (stat.start_ticks, *pid));
    match oldest {
        Some(found) => Ok(Some(found)),
        None => Err(format!("no process named {name}")),
    }
}

fn by_socket(root: &RootDir, path: &Path) -> Found {
    let shown = path.display();
    let fd = crate::sys::unix_socket::connect_nonblocking(&root.resolve(path)).map_err(|err| match err.kind() {
        io::ErrorKind::NotFound => format!("no socket {shown}"),
        io::ErrorKind::ConnectionRefused => format!("socket {shown} refused the connection"),
        io::ErrorKind::WouldBlock => format!("socket {shown} busy: its backlog is full"),
        _ => format!("socket {shown}: {}", strip_errno(&err)),
    })?;
    // It accepts, so it runs; its age is known only if its listener is visible to us.
    let listener = crate::sys::unix_socket::peer_pid(fd.as_fd()).ok().flatten();
    Ok(listener.and_then(|pid| procfs::stat(pid).ok().filter(|stat| !stat.is_dead()).map(|stat| (pid, stat))))
}

/// The first bytes of a pidfile: a pid and a newline fit many times over, and a misconfigured
/// path (a device, a log) cannot make us read without end.
fn read_start(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut text = Vec::new();
    std::fs::File::open(path)?.take(64).read_to_end(&mut text)?;
    Ok(text)
}

/// The pid in a pidfile: the first word, a positive decimal number.
pub fn parse_pid(text: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(text).ok()?;
    text.split_ascii_whitespace().next()?.parse::<u32>().ok().filter(|&pid| pid > 0 && pid <= i32::MAX as u32)
}

/// Whether the kernel's command name `comm` is `program` (which the kernel cut to 15 bytes).
pub fn comm_matches(comm: &[u8], program: &str) -> bool {
    let program = program.as_bytes();
    comm == &program[..program.len().min(COMM_MAX)]
}

/// A command name for a terminal: any program can name itself with escape sequences.
fn shown_comm(comm: &[u8]) -> String {
    crate::validate::printable(&String::from_utf8_lossy(comm))
}

/// `HH:MM:SS`, hours not wrapping at 24 (`123:04:05`).
pub fn format_uptime(uptime: Duration) -> String {
    let secs = uptime.as_secs();
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// One service's line.
pub fn line(state: &ServiceState) -> String {
    match &state.outcome {
        Ok(Running { uptime: Some(uptime), .. }) => format!("[+] {} | Running for {}", state.name, format_uptime(*uptime)),
        Ok(Running { uptime: None, .. }) => format!("[+] {} | Running", state.name),
        Err(reason) => format!("[-] {} | Not running ({reason})", state.name),
    }
}

#[derive(SerJson)]
struct SanityReport {
    up: bool,
    size_profile: String,
    services_total: u32,
    services_not_running: u32,
    services: Vec<ServiceReport>,
}

#[derive(SerJson)]
#[nserde(serialize_none_as_null)]
struct ServiceReport {
    name: String,
    running: bool,
    pid: Option<u32>,
    uptime_s: Option<u64>,
    reason: Option<String>,
}

/// `system sanity`: probes every service of the board and prints the report; exit 1 when any
/// is not running.
pub fn sanity(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Status> {
    let board = ctx.board()?;
    let clock = Clock::now();
    let states: Vec<ServiceState> = board.services.iter().map(|s| probe(s, &ctx.root, &clock)).collect();
    let down = states.iter().filter(|s| s.outcome.is_err()).count();
    let profile = board.size_profile.name();
    if json {
        let report = SanityReport {
            up: down == 0,
            size_profile: profile.to_string(),
            services_total: u32::try_from(states.len()).unwrap_or(u32::MAX),
            services_not_running: u32::try_from(down).unwrap_or(u32::MAX),
            services: states
                .iter()
                .map(|s| ServiceReport {
                    name: s.name.clone(),
                    running: s.outcome.is_ok(),
                    pid: s.outcome.as_ref().ok().and_then(|r| r.pid),
                    uptime_s: s.outcome.as_ref().ok().and_then(|r| r.uptime).map(|u| u.as_secs()),
                    reason: s.outcome.as_ref().err().cloned(),
                })
                .collect(),
        };
        emit(out, &report.serialize_json())?;
    } else {
        for state in &states {
            emit(out, &line(state))?;
        }
        emit(out, "")?;
        if down == 0 {
            emit(out, &format!("System is UP! ({profile})"))?;
        } else {
            emit(out, &format!("System is DOWN! ({down} of {} services not running)", states.len()))?;
        }
    }
    Ok(if down == 0 { Status::Ok } else { Status::Problem })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn uptimes_print_as_hours_minutes_seconds_past_a_day() {
        assert_eq!(format_uptime(Duration::ZERO), "00:00:00");
        assert_eq!(format_uptime(Duration::from_millis(62_790_999)), "17:26:30");
        assert_eq!(format_uptime(Duration::from_secs(123 * 3600 + 4 * 60 + 5)), "123:04:05");
    }

    #[test]
    fn pidfiles_hold_one_positive_pid() {
        assert_eq!(parse_pid(b"1234\n"), Some(1234));
        assert_eq!(parse_pid(b"  77 extra\nmore"), Some(77));
        for bad in [&b""[..], b"\n", b"0", b"-5", b"12a", b"99999999999", b"\xff"] {
            assert_eq!(parse_pid(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn command_names_compare_as_the_kernel_cuts_them() {
        assert!(comm_matches(b"sleep", "sleep"));
        assert!(!comm_matches(b"sleep", "sleepy"));
        assert!(comm_matches(b"traffic-monitor", "traffic-monitor-daemon"));
        assert!(!comm_matches(b"traffic-monito", "traffic-monitor-daemon"));
    }

    #[test]
    fn lines_follow_the_reference_shape() {
        let running = ServiceState {
            name: "Web Apps".into(),
            outcome: Ok(Running { pid: Some(9), uptime: Some(Duration::from_secs(62_790)) }),
        };
        assert_eq!(line(&running), "[+] Web Apps | Running for 17:26:30");
        let down = ServiceState { name: "Core API".into(), outcome: Err("no pidfile /run/x.pid".into()) };
        assert_eq!(line(&down), "[-] Core API | Not running (no pidfile /run/x.pid)");
    }

    #[test]
    fn probes_our_own_process_by_pidfile_and_name_and_see_a_stale_one() {
        let dir = crate::testutil::TempDir::new("health");
        let root = RootDir::new(dir.path());
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        std::fs::write(dir.path().join("run/me.pid"), format!("{}\n", std::process::id())).unwrap();
        let me = procfs::stat(std::process::id()).unwrap();
        let my_name = String::from_utf8(me.comm.clone()).unwrap();
        let clock = Clock::now();
        let service = |probe| Service { name: "Me".into(), probe, argv: vec![], reloads: vec![] };
        let pidfile = |program: Option<&str>| ServiceProbe::Pidfile {
            path: PathBuf::from("/run/me.pid"),
            program: program.map(str::to_string),
        };

        let state = probe(&service(pidfile(Some(&my_name))), &root, &clock);
        let running = state.outcome.unwrap();
        assert_eq!(running.pid, Some(std::process::id()));
        assert!(running.uptime.unwrap() < Duration::from_secs(3600));
        assert!(probe(&service(pidfile(None)), &root, &clock).outcome.is_ok());
        assert!(probe(&service(ServiceProbe::Process(my_name.clone())), &root, &clock).outcome.is_ok());

        let stale = probe(&service(pidfile(Some("core-api"))), &root, &clock).outcome.unwrap_err();
        assert_eq!(stale, format!("pid {} is {my_name} not core-api (stale pidfile)", std::process::id()));
        let missing = ServiceProbe::Pidfile { path: PathBuf::from("/run/none.pid"), program: None };
        assert_eq!(probe(&service(missing), &root, &clock).outcome.unwrap_err(), "no pidfile /run/none.pid");
        let endless = ServiceProbe::Pidfile { path: PathBuf::from("/dev/zero"), program: None };
        assert_eq!(probe(&service(endless), &root, &clock).outcome.unwrap_err(), "pidfile /dev/zero holds no pid");
        let nobody = probe(&service(ServiceProbe::Process("no-such-prog".into())), &root, &clock);
        assert_eq!(nobody.outcome.unwrap_err(), "no process named no-such-prog");
    }
}
