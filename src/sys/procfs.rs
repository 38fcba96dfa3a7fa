//! Processes as the kernel lists them in `/proc`: which pids exist, their command names, states
//! and start times. Reading another user's `/proc/<pid>/stat` needs no privileges.
//!
//! `/proc` is always the running kernel's (never under the root prefix).

use std::io;
use std::path::Path;
use std::time::Duration;

/// The kernel's command name length limit (TASK_COMM_LEN less the NUL).
pub const COMM_MAX: usize = 15;

/// What `/proc/<pid>/stat` says about one process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// The command name (`comm`, at most [`COMM_MAX`] bytes, any bytes but NUL).
    pub comm: Vec<u8>,
    /// The state letter (`R`, `S`, `D`, `Z`, `X`, …).
    pub state: u8,
    /// When the process started, in clock ticks after boot (field 22, `starttime`).
    pub start_ticks: u64,
}

impl ProcStat {
    /// Whether the process has exited and only waits to be reaped (zombie) or is being torn down.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }

    /// The start time as time since boot, given [`clock_ticks_per_second`].
    pub fn start_since_boot(&self, ticks_per_second: u64) -> Duration {
        let hz = ticks_per_second.max(1);
        let nanos = u128::from(self.start_ticks % hz) * 1_000_000_000 / u128::from(hz);
        Duration::new(self.start_ticks / hz, u32::try_from(nanos).unwrap_or(0))
    }
}

/// Parses the text of `/proc/<pid>/stat`: `pid (comm) state ppid … starttime …`.
///
/// The command name may itself hold spaces and `)`, so it runs from the first `(` to the last
/// `)`; the numbered fields follow the last `)`.
pub fn parse_stat(text: &[u8]) -> Option<ProcStat> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    let comm = text.get(open + 1..close)?.to_vec();
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is field 3 (state); starttime is field 22.
    let state = *fields.first()?.as_bytes().first()?;
    let start_ticks = fields.get(22 - 3)?.parse().ok()?;
    Some(ProcStat { comm, state, start_ticks })
}

/// `read("/proc/<pid>/stat")`: the process's name, state and start time. `NotFound` when no
/// such process exists.
///
/// # References
/// - [proc_pid_stat(5)](https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html)
#[doc(alias = "proc_pid_stat")]
pub fn stat(pid: u32) -> io::Result<ProcStat> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read(&path)?;
    parse_stat(&text)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("{path}: unexpected format")))
}

/// The `Umask:` field of `/proc/self/status` text (octal), if present.
pub fn parse_umask(status: &str) -> Option<u32> {
    let value = status.lines().find_map(|line| line.strip_prefix("Umask:"))?;
    u32::from_str_radix(value.trim(), 8).ok().filter(|mask| *mask <= 0o777)
}

/// `read("/proc/self/status")`: the process's file mode creation mask, read without changing
/// it (umask(2) can only set it, and a read-and-restore would race with the daemon's other
/// threads). `None` when `/proc` is not mounted or the kernel predates the field (4.7).
///
/// # References
/// - [proc_pid_status(5)](https://man7.org/linux/man-pages/man5/proc_pid_status.5.html)
#[doc(alias = "proc_pid_status")]
pub fn umask() -> Option<u32> {
    parse_umask(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// `getdents("/proc")`: the pids of every process visible in our PID namespace (no threads).
///
/// # References
/// - [proc(5)](https://man7.org/linux/man-pages/man5/proc.5.html)
#[doc(alias = "proc")]
pub fn pids() -> io::Result<Vec<u32>> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(Path::new("/proc"))? {
        if let Some(pid) = entry?.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// `sysconf(_SC_CLK_TCK)`: the unit of `/proc/<pid>/stat`'s times (from the kernel's
/// AT_CLKTCK auxiliary vector entry).
///
/// # References
/// - [sysconf(3)](https://man7.org/linux/man-pages/man3/sysconf.3.html)
#[doc(alias = "sysconf")]
#[doc(alias = "_SC_CLK_TCK")]
pub fn clock_ticks_per_second() -> u64 {
    rustix::param::clock_ticks_per_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_umask_field_and_nothing_else() {
        assert_eq!(parse_umask("Name:\tsensorctl\nUmask:\t0022\nState:\tR\n"), Some(0o022));
        assert_eq!(parse_umask("Umask:\t0777\n"), Some(0o777));
        assert_eq!(parse_umask("Name:\tx\n"), None);
        assert_eq!(parse_umask("Umask:\t0999\n"), None);
        assert_eq!(parse_umask("Umask:\t01777\n"), None);
        // The running process has one (every kernel this appliance runs is newer than 4.7).
        assert!(umask().is_some());
    }

    #[test]
    fn parses_names_with_spaces_and_parentheses() {
        let line = b"4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.comm, b"we (ird) name");
        assert_eq!(stat.state, b'S');
        assert_eq!(stat.start_ticks, 98765);
        assert!(!stat.is_dead());
        assert_eq!(stat.start_since_boot(100), Duration::from_millis(987_650));
    }

    #[test]
    fn rejects_truncated_or_garbled_text() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"1 (init) S 0 1"), None);
        assert_eq!(parse_stat(b"1 init S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0"), None);
        let bad_start = b"1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 notanumber 0";
        assert_eq!(parse_stat(bad_start), None);
    }

    #[test]
    fn our_own_entry_names_us_and_started_before_now() {
        let me = stat(std::process::id()).unwrap();
        let exe = std::env::current_exe().unwrap();
        let name = exe.file_name().unwrap().to_str().unwrap().as_bytes();
        assert_eq!(me.comm, &name[..name.len().min(COMM_MAX)]);
        let hz = clock_ticks_per_second();
        assert!(hz > 0);
        assert!(me.start_since_boot(hz) <= crate::sys::clock::boottime());
        assert!(pids().unwrap().contains(&std::process::id()));
        assert_eq!(stat(u32::MAX).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
