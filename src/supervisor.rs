//! The daemon's supervisor: starts the services the board declares with an `argv` (no shell),
//! restarts them with exponential backoff when they die, and stops them on request.
//!
//! Each service has its own thread, which starts the process, records it (the pidfile the board
//! names for it is written atomically, so `system sanity` reports the pid and its start time),
//! waits for it, and sleeps the backoff before the next start: 1 s, doubling to 60 s, back to
//! 1 s after a run that lasted a minute. Services are started with PR_SET_PDEATHSIG from that
//! thread, so a daemon killed with SIGKILL takes them with it instead of leaving orphans that a
//! restarted daemon would duplicate. Program paths are the running system's, not under the root
//! prefix: the daemon runs the appliance it is on.
//!
//! Needs the privileges of the services it starts (root on the appliance).
#![forbid(unsafe_code)]

use crate::board::{Board, ServiceProbe};
use crate::paths::RootDir;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// First restart delay.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Longest restart delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A run at least this long resets the backoff.
pub const STABLE_RUN: Duration = Duration::from_secs(60);
/// How long services get to stop after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// The next restart delay after one of `current`: double, capped.
pub fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_BACKOFF)
}

struct Supervised {
    name: String,
    argv: Vec<String>,
    pidfile: Option<PathBuf>,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    pid: Option<u32>,
    stopping: bool,
}

/// The running supervision of a board's services.
pub struct Supervisor {
    services: Vec<Arc<Supervised>>,
    threads: Vec<JoinHandle<()>>,
}

impl Supervisor {
    /// Starts every service of `board` that has an argv.
    pub fn start(board: &Board, root: &RootDir) -> Supervisor {
        let mut supervisor = Supervisor { services: Vec::new(), threads: Vec::new() };
        for service in board.services.iter().filter(|s| !s.argv.is_empty()) {
            let pidfile = match &service.probe {
                ServiceProbe::Pidfile { path, .. } => Some(root.resolve(path)),
                ServiceProbe::Process(_) | ServiceProbe::Socket(_) => None,
            };
            let supervised = Arc::new(Supervised {
                name: service.name.clone(),
                argv: service.argv.clone(),
                pidfile,
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
            });
            let worker = Arc::clone(&supervised);
            match std::thread::Builder::new()
                .name(format!("supervise {}", service.name))
                .spawn(move || worker.supervise())
            {
                Ok(thread) => {
                    supervisor.services.push(supervised);
                    supervisor.threads.push(thread);
                }
                Err(err) => log::error!("cannot supervise {}: {err}", service.name),
            }
        }
        supervisor
    }

    /// The pids of the services running now, by name.
    pub fn running(&self) -> Vec<(String, u32)> {
        self.services
            .iter()
            .filter_map(|s| s.lock().pid.map(|pid| (s.name.clone(), pid)))
            .collect()
    }

    /// Stops every service: SIGTERM, then SIGKILL after [`STOP_GRACE`]; returns when all
    /// supervising threads have ended.
    pub fn stop(self) {
        for service in &self.services {
            let mut state = service.lock();
            state.stopping = true;
            if let Some(pid) = state.pid {
                log::info!("stopping {} (pid {pid})", service.name);
                let _ = crate::sys::process::terminate(pid);
            }
            service.wake.notify_all();
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline && self.threads.iter().any(|t| !t.is_finished()) {
            std::thread::sleep(Duration::from_millis(20));
        }
        for service in &self.services {
            if let Some(pid) = service.lock().pid {
                log::warn!("{} (pid {pid}) ignored SIGTERM: SIGKILL", service.name);
                let _ = crate::sys::process::kill(pid);
            }
        }
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

impl Supervised {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn supervise(&self) {
        let mut backoff = INITIAL_BACKOFF;
        loop {
            // Start under the lock, so that `stop` either sees the pid or we see `stopping`.
            let child = {
                let mut state = self.lock();
                if state.stopping {
                    return;
                }
                match crate::sys::process::spawn_supervised(&self.argv) {
                    Ok(child) => {
                        state.pid = Some(child.id());
                        Some(child)
                    }
                    Err(err) => {
                        log::error!("{}: cannot start {}: {err}", self.name, self.argv[0]);
                        None
                    }
                }
            };
            if let Some(mut child) = child {
                let pid = child.id();
                log::info!("{}: started pid {pid}", self.name);
                self.record(pid);
                let started = Instant::now();
                let status = child.wait();
                let mut state = self.lock();
                state.pid = None;
                if state.stopping {
                    self.forget();
                    return;
                }
                if started.elapsed() >= STABLE_RUN {
                    backoff = INITIAL_BACKOFF;
                }
                log::warn!("{}: pid {pid} ended ({status:?}); restarting in {}s", self.name, backoff.as_secs());
            }
            let state = self.lock();
            let (state, _) = self
                .wake
                .wait_timeout_while(state, backoff, |state| !state.stopping)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if state.stopping {
                return;
            }
            drop(state);
            backoff = next_backoff(backoff);
        }
    }

    fn record(&self, pid: u32) {
        if let Some(pidfile) = &self.pidfile {
            let written = pidfile
                .parent()
                .map_or(Ok(()), |dir| crate::store::create_dir_all(dir, 0o755))
                .and_then(|()| crate::store::replace(pidfile, format!("{pid}\n").as_bytes(), crate::store::Mode::Preserve));
            if let Err(err) = written {
                log::error!("{}: {err}", self.name);
            }
        }
    }

    fn forget(&self) {
        if let Some(pidfile) = &self.pidfile {
            let _ = std::fs::remove_file(pidfile);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let mut delay = INITIAL_BACKOFF;
        let mut seen = vec![delay.as_secs()];
        for _ in 0..8 {
            delay = next_backoff(delay);
            seen.push(delay.as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
