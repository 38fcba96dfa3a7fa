//! Logins: `sensorctl auth`, the pam_exec(8) checker that verifies a password and enforces the
//! failed-login protection, and `system login-protection`, which shows or sets its limit.
//!
//! pam_exec runs `sensorctl auth` with `PAM_TYPE`, `PAM_USER` and `PAM_RHOST` in the
//! environment and (with `expose_authtok`) the password on standard input, followed by a NUL
//! byte. Exit 0 lets the login through; anything else refuses it. With `PAM_TYPE=auth` the
//! password is checked against the local users store (PBKDF2) or, for appliance OS users not
//! in it, their `$6$` shadow hash; with `PAM_TYPE=account` (key-based SSH logins skip the auth
//! stack) only the lockout is enforced.
//!
//! After `login_max_failed` failures from one remote host within `login_lockout_window_s`, every
//! login from that host is refused — without looking at the password — until the window has
//! passed since the last counted failure; a successful login clears the host's count. Logins
//! without `PAM_RHOST` (the console) are checked but never counted or locked out. The counters
//! live in `<root>/var/lib/sensorctl/login-failures.json` (0600, replaced atomically under an
//! fcntl lock), so they survive restarts. Every outcome goes to the audit log.
//!
//! Needs root: it reads the shadow file and the users store.
#![forbid(unsafe_code)]

use crate::outcome::Status;
use crate::audit;
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use crate::localusers;
use crate::paths::RootDir;
use crate::shacrypt::{self, Verdict};
use crate::store;
use crate::time::Utc;
use crate::validate::{printable, UserName};
use nanoserde::{DeJson, SerJson};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// The failure counters, relative to the root.
pub const STATE_FILE: &str = "var/lib/sensorctl/login-failures.json";
/// The lock file serializing the counters' writers, relative to the root.
pub const STATE_LOCK: &str = "var/lib/sensorctl/.login-failures.lock";
/// The most hosts remembered; beyond it the oldest unlocked records are forgotten first.
pub const MAX_HOSTS: usize = 10_000;
/// The longest password accepted on standard input (PAM's own limit is 512).
pub const MAX_AUTHTOK: usize = 4096;
const STATE_VERSION: u32 = 1;
const STATE_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// One remote host's failures.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub struct HostRecord {
    /// `PAM_RHOST` as sshd gave it (an address, or a name with `UseDNS`).
    pub host: String,
    /// Failures counted in the current window.
    pub failures: u32,
    /// Unix time of the last counted failure; the window runs from it.
    pub last_failure: i64,
    /// Unix time until which every login from the host is refused (0: not locked).
    pub locked_until: i64,
}

/// The counters file.
#[derive(Clone, Debug, Default, PartialEq, DeJson, SerJson)]
pub struct FailureState {
    /// Format version.
    pub version: u32,
    /// Hosts with failures in their window, or locked.
    pub hosts: Vec<HostRecord>,
}

impl FailureState {
    /// Forgets hosts whose window and lockout have both ended.
    pub fn prune(&mut self, now: i64, window: i64) {
        self.hosts.retain(|r| r.locked_until > now || now - r.last_failure < window);
        if self.hosts.len() > MAX_HOSTS {
            // Locked hosts last, each group oldest first: the oldest unlocked go first.
            self.hosts.sort_by_key(|r| (r.locked_until > now, r.last_failure));
            let excess = self.hosts.len() - MAX_HOSTS;
            self.hosts.drain(..excess);
        }
    }

    /// Until when `host` is locked out, if it is.
    pub fn locked_until(&self, host: &str, now: i64) -> Option<i64> {
        self.hosts.iter().find(|r| r.host == host && r.locked_until > now).map(|r| r.locked_until)
    }

    /// Counts a failure from `host`; returns the end of its lockout when this one locks it.
    pub fn note_failure(&mut self, host: &str, now: i64, max_failed: u32, window: i64) -> Option<i64> {
        self.prune(now, window);
        let at = match self.hosts.iter().position(|r| r.host == host) {
            Some(at) => at,
            None => {
                self.hosts.push(HostRecord { host: host.to_string(), failures: 0, last_failure: now, locked_until: 0 });
                self.hosts.len() - 1
            }
        };
        let record = &mut self.hosts[at];
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
        if record.failures >= max_failed && record.locked_until <= now {
            record.locked_until = now + window;
            return Some(record.locked_until);
        }
        None
    }

    /// Clears `host` after a successful login; whether there was anything to clear.
    pub fn forget(&mut self, host: &str) -> bool {
        let before = self.hosts.len();
        self.hosts.retain(|r| r.host != host);
        self.hosts.len() != before
    }
}

/// Runs `change` on the counters under their lock, saving them if it says so (returns true).
fn with_state<T>(root: &RootDir, change: impl FnOnce(&mut FailureState) -> (T, bool)) -> Result<T> {
    let path = root.resolve(STATE_FILE);
    let lock_path = root.resolve(STATE_LOCK);
    if let Some(dir) = path.parent() {
        store::create_dir_all(dir, 0o700)?;
    }
    let lock = store::open_lock_file(&lock_path, None)?;
    let deadline = crate::sys::clock::monotonic() + STATE_LOCK_TIMEOUT;
    while !crate::sys::filelock::try_write_lock(&lock).map_err(|e| Error::io("lock", &lock_path, e))? {
        if crate::sys::clock::monotonic() >= deadline {
            let busy = io::Error::new(io::ErrorKind::TimedOut, "held by another login check");
            return Err(Error::io("lock", &lock_path, busy));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut state = load_state(&path)?;
    let (result, changed) = change(&mut state);
    if changed {
        crate::shadow::remove_stale_temporaries(&path);
        let mut text = state.serialize_json();
        text.push('\n');
        store::replace(&path, text.as_bytes(), store::Mode::Secret)?;
    }
    drop(lock);
    Ok(result)
}

fn load_state(path: &PathBuf) -> Result<FailureState> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Ok(FailureState { version: STATE_VERSION, hosts: Vec::new() })
        }
        Err(err) => return Err(Error::io("read", path, err)),
    };
    match crate::json::decode::<FailureState>(&text) {
        Ok(state) if state.version == STATE_VERSION => Ok(state),
        // Refusing every login because the counters are damaged would lock out everyone; the
        // worst a reset does is grant an attacker a fresh count.
        _ => {
            log::warn!("{}: unreadable failure counters; starting again from zero", path.display());
            Ok(FailureState { version: STATE_VERSION, hosts: Vec::new() })
        }
    }
}

/// The config for login checks: a damaged config must not lock everyone out, so it falls back
/// to the defaults (with a warning).
fn login_config(ctx: &Context) -> Config {
    match ctx.config() {
        Ok(config) => config.clone(),
        Err(err) => {
            log::warn!("{err}; using the default failed-login protection");
            Config::default()
        }
    }
}

/// `PAM_TYPE`: the PAM stack that runs `sensorctl auth` (`auth` checks the password and the
/// lockout, `account` the lockout alone, for logins that skip the auth stack).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PamType {
    /// `auth`.
    Auth,
    /// `account`.
    Account,
}

impl PamType {
    /// Parses `PAM_TYPE`; any other stack is a usage error.
    pub fn parse(text: &str) -> Result<PamType> {
        match text {
            "auth" => Ok(PamType::Auth),
            "account" => Ok(PamType::Account),
            other => Err(Error::Usage(format!(
                "PAM_TYPE={}: sensorctl auth belongs in the auth (or account) stack",
                printable(other)
            ))),
        }
    }
}

impl std::fmt::Display for PamType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PamType::Auth => "auth",
            PamType::Account => "account",
        })
    }
}

crate::validate::wire_text!(PamType);

/// `sensorctl auth`: see the module doc. `pam_type`, `user` and `rhost` come from the
/// environment pam_exec sets.
pub fn auth(ctx: &Context, pam_type: PamType, user: &str, rhost: Option<&str>, _out: &mut dyn Write) -> Result<Status> {
    let check_password = pam_type == PamType::Auth;
    let host = rhost.filter(|h| !h.is_empty());
    let target = match host {
        Some(host) => format!("{user}@{host}"),
        None => user.to_string(),
    };
    let from = host.map(|h| format!(" from {}", printable(h))).unwrap_or_default();
    if host.is_some_and(|h| h.len() > 255 || h.chars().any(char::is_control)) {
        audit::record(ctx, "login", &target, "refused: malformed PAM_RHOST");
        return Err(Error::Problem("login refused: malformed PAM_RHOST".to_string()));
    }
    // Counted per host in one spelling: `2001:0db8:0::1` and `2001:db8::1` are one host.
    let host_key = host.map(normalize_host);
    let host = host_key.as_deref();
    let config = login_config(ctx);
    let window = i64::try_from(config.login_lockout_window().as_secs()).unwrap_or(i64::MAX / 4);
    let max_failed = config.login_max_failed();
    if let Some(host) = host {
        let (now, _) = crate::sys::clock::realtime();
        if let Some(until) = with_state(&ctx.root, |state| (state.locked_until(host, now), false))? {
            let until = Utc::from_unix(until).iso8601();
            audit::record(ctx, "login", &target, &format!("refused: host locked out until {until}"));
            return Err(Error::Problem(format!(
                "login of {}{from} refused: too many failed logins from this host; locked out until {until}",
                printable(user)
            )));
        }
    }
    if !check_password {
        return Ok(Status::Ok);
    }
    let password = read_authtok()?;
    let right = match UserName::parse(user) {
        Ok(name) => password_is_right(ctx, &name, &password)?,
        Err(_) => localusers::verify_nobody(&password),
    };
    let (now, _) = crate::sys::clock::realtime();
    if right {
        if let Some(host) = host {
            with_state(&ctx.root, |state| ((), state.forget(host)))?;
        }
        audit::record(ctx, "login", &target, "ok");
        return Ok(Status::Ok);
    }
    let locked = match host {
        Some(host) => with_state(&ctx.root, |state| (state.note_failure(host, now, max_failed, window), true))?,
        None => None,
    };
    let result = match locked {
        Some(until) => format!("failed: wrong password or unknown user; host locked out until {}", Utc::from_unix(until).iso8601()),
        None => "failed: wrong password or unknown user".to_string(),
    };
    audit::record(ctx, "login", &target, &result);
    Err(Error::Problem(format!("authentication failed for {}{from}", printable(user))))
}

/// The form a remote host is counted under: an IP address in its canonical text (RFC 5952
/// for IPv6: `2001:0db8:0::1` is `2001:db8::1`; an IPv4-mapped IPv6 address is its IPv4
/// address; brackets dropped), a host name in lower case. Anything else as it came.
pub fn normalize_host(host: &str) -> String {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    match bare.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        Ok(ip) => ip.to_string(),
        Err(_) => host.to_ascii_lowercase(),
    }
}

/// The password pam_exec's `expose_authtok` writes: the token and a NUL (older pam_exec: no
/// NUL). A trailing newline (a person piping it by hand) is dropped too.
fn read_authtok() -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    io::stdin()
        .lock()
        .take(MAX_AUTHTOK as u64 + 2)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", "standard input", e))?;
    if bytes.len() > MAX_AUTHTOK + 1 {
        bytes.fill(0);
        return Err(Error::Usage(format!("the password on standard input is longer than {MAX_AUTHTOK} bytes")));
    }
    Ok(strip_authtok(bytes))
}

/// See [`read_authtok`].
pub fn strip_authtok(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.last() == Some(&0) {
        bytes.pop();
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    bytes
}

/// Whether `password` is `user`'s: the users store first; else the `$6$` shadow hash of an
/// appliance OS user. Others (root, system users, unknown names) never log in through this.
fn password_is_right(ctx: &Context, user: &UserName, password: &[u8]) -> Result<bool> {
    if password.contains(&0) {
        return Ok(localusers::verify_nobody(password));
    }
    let store = localusers::Store::load(&ctx.root)?;
    if let Some(entry) = store.find(user.as_str()) {
        return Ok(localusers::verify(entry, password));
    }
    if crate::users::is_appliance_os_user(ctx, user)? {
        let shadow = crate::shadow::read(&ctx.root)?;
        if let Some(hash) = crate::shadow::hash_of(&shadow, user.as_str()) {
            return Ok(match shacrypt::verify(password, &hash) {
                Verdict::Match => true,
                Verdict::Mismatch => false,
                Verdict::NotSha512Crypt => {
                    log::info!("{user}: the shadow hash is locked or not SHA-512-crypt; refused");
                    localusers::verify_nobody(password)
                }
            });
        }
    }
    Ok(localusers::verify_nobody(password))
}

/// `system login-protection [--max-failed N] [--window S]`: shows the protection (limit,
/// window, locked hosts) and sets the limit and window when given.
pub fn protection(
    ctx: &Context,
    max_failed: Option<u32>,
    window_s: Option<u64>,
    json: bool,
    out: &mut dyn Write,
) -> Result<Status> {
    if max_failed.is_some() || window_s.is_some() {
        let mut config = ctx.config()?.clone();
        if let Some(n) = max_failed {
            if !crate::config::LOGIN_MAX_FAILED_RANGE.contains(&n) {
                return Err(Error::Usage(format!("--max-failed {n}: must be 1-100")));
            }
            config.login_max_failed = Some(n);
        }
        if let Some(s) = window_s {
            if !crate::config::LOGIN_LOCKOUT_WINDOW_RANGE.contains(&s) {
                return Err(Error::Usage(format!("--window {s}: must be 1-86400 seconds")));
            }
            config.login_lockout_window_s = Some(s);
        }
        config.save(&ctx.root)?;
        let what = format!(
            "max-failed={},window={}",
            config.login_max_failed(),
            config.login_lockout_window().as_secs()
        );
        audit::record(ctx, "login-protection", &what, "ok");
        describe(&config, ctx, json, out)
    } else {
        let config = ctx.config()?.clone();
        describe(&config, ctx, json, out)
    }
}

#[derive(SerJson)]
struct ProtectionReport {
    max_failed: u32,
    window_s: u64,
    locked_hosts: Vec<LockedHost>,
}

#[derive(SerJson)]
struct LockedHost {
    host: String,
    until: String,
    failures: u32,
}

fn describe(config: &Config, ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Status> {
    let (now, _) = crate::sys::clock::realtime();
    let state = load_state(&ctx.root.resolve(STATE_FILE))?;
    let locked: Vec<&HostRecord> = state.hosts.iter().filter(|r| r.locked_until > now).collect();
    if json {
        let report = ProtectionReport {
            max_failed: config.login_max_failed(),
            window_s: config.login_lockout_window().as_secs(),
            locked_hosts: locked
                .iter()
                .map(|r| LockedHost {
                    host: r.host.clone(),
                    until: Utc::from_unix(r.locked_until).iso8601(),
                    failures: r.failures,
                })
                .collect(),
        };
        emit(out, &report.serialize_json())?;
        return Ok(Status::Ok);
    }
    emit(
        out,
        &format!(
            "Failed-login protection: after {} failed logins from one remote host, logins from it are refused for {} seconds",
            config.login_max_failed(),
            config.login_lockout_window().as_secs()
        ),
    )?;
    if locked.is_empty() {
        emit(out, "Locked out hosts: none")?;
    } else {
        emit(out, "Locked out hosts:")?;
        for record in locked {
            emit(
                out,
                &format!(
                    "  {} until {} ({} failed logins)",
                    printable(&record.host),
                    Utc::from_unix(record.locked_until).iso8601(),
                    record.failures
                ),
            )?;
        }
    }
    Ok(Status::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_counted_under_one_spelling() {
        assert_eq!(normalize_host("2001:0db8:0::1"), "2001:db8::1");
        assert_eq!(normalize_host("2001:db8::1"), "2001:db8::1");
        assert_eq!(normalize_host("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
        assert_eq!(normalize_host("[2001:db8::1]"), "2001:db8::1");
        assert_eq!(normalize_host("::ffff:10.6.6.6"), "10.6.6.6");
        assert_eq!(normalize_host("10.6.6.6"), "10.6.6.6");
        assert_eq!(normalize_host("Attacker.Example"), "attacker.example");
    }

    #[test]
    fn a_host_is_locked_after_max_failures_and_free_after_the_window() {
        let mut state = FailureState::default();
        assert_eq!(state.note_failure("10.0.0.1", 100, 3, 60), None);
        assert_eq!(state.note_failure("10.0.0.1", 101, 3, 60), None);
        assert_eq!(state.note_failure("10.0.0.2", 101, 3, 60), None);
        assert_eq!(state.note_failure("10.0.0.1", 102, 3, 60), Some(162));
        assert_eq!(state.locked_until("10.0.0.1", 102), Some(162));
        assert_eq!(state.locked_until("10.0.0.2", 102), None);
        assert_eq!(state.locked_until("10.0.0.1", 162), None, "unlocked when the window ends");
        state.prune(162, 60);
        assert!(state.hosts.iter().all(|r| r.host != "10.0.0.1"), "{state:?}");
        assert!(state.hosts.is_empty(), "10.0.0.2's window ended too: {state:?}");
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up_and_success_clears() {
        let mut state = FailureState::default();
        assert_eq!(state.note_failure("h", 0, 2, 10), None);
        assert_eq!(state.note_failure("h", 10, 2, 10), None, "the first failure expired");
        assert!(state.forget("h"));
        assert!(!state.forget("h"));
        assert_eq!(state.note_failure("h", 11, 2, 10), None);
        assert_eq!(state.note_failure("h", 12, 2, 10), Some(22));
    }

    #[test]
    fn the_oldest_unlocked_hosts_are_forgotten_beyond_the_limit() {
        let mut state = FailureState::default();
        state.hosts.push(HostRecord { host: "locked".into(), failures: 9, last_failure: 0, locked_until: 1_000 });
        for n in 0..MAX_HOSTS as i64 {
            state.hosts.push(HostRecord { host: format!("h{n}"), failures: 1, last_failure: 10 + n, locked_until: 0 });
        }
        state.prune(20, 1_000_000);
        assert_eq!(state.hosts.len(), MAX_HOSTS);
        assert!(state.hosts.iter().any(|r| r.host == "locked"));
        assert!(!state.hosts.iter().any(|r| r.host == "h0"));
    }

    #[test]
    fn authtok_loses_one_nul_and_one_newline_only() {
        assert_eq!(strip_authtok(b"pw\0".to_vec()), b"pw");
        assert_eq!(strip_authtok(b"pw".to_vec()), b"pw");
        assert_eq!(strip_authtok(b"pw\n".to_vec()), b"pw");
        assert_eq!(strip_authtok(b"pw\n\0".to_vec()), b"pw");
        assert_eq!(strip_authtok(b"pw\0\0".to_vec()), b"pw\0");
        assert_eq!(strip_authtok(b"p w ".to_vec()), b"p w ");
    }
}
