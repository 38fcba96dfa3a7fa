//! The daemon's threads: actions run on threads of their own, never on the event loop.
//!
//! Not smol's blocking pool: its idle threads wake every 500 ms for as long as the process
//! lives; these end with their work (or wait, blocked, for the next read-only request), so an
//! idle daemon sleeps in epoll. Needs no privileges of its own.
#![forbid(unsafe_code)]

use std::sync::Mutex;

/// Runs `work` on a thread of its own, started now, and gives its result (`None` if no thread
/// could be started). Not smol's blocking pool: its idle threads wake every 500 ms for as long
/// as the process lives; these end with their work, so an idle daemon sleeps in epoll.
pub fn on_thread<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> impl std::future::Future<Output = Option<T>> {
    run_job(name, false, work)
}

/// Request threads waiting, blocked on a channel (no wake-ups), for the next read-only
/// request. A thread started for each request would make every request pay for its start and,
/// on a busy appliance, often wait a whole scheduler tick (4 ms at 250 Hz) before a freshly
/// started thread first runs beside the traffic analysis; a woken thread runs at once. Only
/// read-only requests reuse one: backup and restore lower their thread's priority for good,
/// and a later request must not inherit that.
static IDLE_WORKERS: Mutex<Vec<std::sync::mpsc::Sender<Job>>> = Mutex::new(Vec::new());

/// How many request threads may wait for work; more end with their request.
const IDLE_WORKERS_MAX: usize = 2;

type Job = Box<dyn FnOnce() + Send>;

/// [`on_thread`] for a request; `read_only` requests run on a waiting request thread when
/// there is one, and their thread waits for the next one after.
pub fn on_request_thread<T: Send + 'static>(
    read_only: bool,
    work: impl FnOnce() -> T + Send + 'static,
) -> impl std::future::Future<Output = Option<T>> {
    run_job("sensord-request", read_only, work)
}

fn run_job<T: Send + 'static>(
    name: &str,
    reusable: bool,
    work: impl FnOnce() -> T + Send + 'static,
) -> impl std::future::Future<Output = Option<T>> {
    let (done_tx, done_rx) = smol::channel::bounded(1);
    let job: Job = Box::new(move || {
        let _ = done_tx.send_blocking(work());
    });
    let mut pending = Some(job);
    if reusable {
        while let Some(job) = pending.take() {
            let Some(worker) = IDLE_WORKERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop() else {
                pending = Some(job);
                break;
            };
            // A thread that has ended gives the job back.
            if let Err(std::sync::mpsc::SendError(back)) = worker.send(job) {
                pending = Some(back);
            }
        }
    }
    if let Some(job) = pending {
        let spawned = std::thread::Builder::new().name(name.to_string()).spawn(move || worker_loop(job, reusable));
        if let Err(err) = spawned {
            log::error!("cannot start a thread for {name}: {err}");
        }
    }
    async move { done_rx.recv().await.ok() }
}

/// Runs `job`; a reusable thread then waits for the next one while fewer than
/// [`IDLE_WORKERS_MAX`] wait.
fn worker_loop(mut job: Job, reusable: bool) {
    loop {
        job();
        if !reusable {
            return;
        }
        let (next_tx, next_rx) = std::sync::mpsc::channel();
        {
            let mut idle = IDLE_WORKERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if idle.len() >= IDLE_WORKERS_MAX {
                return;
            }
            idle.push(next_tx);
        }
        match next_rx.recv() {
            Ok(next) => job = next,
            Err(_) => return,
        }
    }
}

