//! The daemon's serving side: the socket, the connections, and the requests they carry.
//!
//! Every connection: the kernel's SO_PEERCRED uid is mapped to a role exactly as the CLI maps a
//! caller (a uid with no role is refused at once), then counted against
//! [`MAX_CONNECTIONS_PER_UID`] (and all of them against [`MAX_CONNECTIONS`]). Every request:
//! decoded into a validated [`Action`] (a bad value is refused here, exit 2), then run by the
//! executor on a thread of its own with its own cancel token, its own prompter (questions go
//! back to the caller's terminal over the socket) and the daemon's state lock. Nothing a
//! request does touches the daemon's signal handlers: its token is cancelled when the caller
//! sends a cancel or goes away. Everything a caller can send is bounded: the line length, the
//! answers (one, and only while a question is pending), the output queue.
//!
//! Needs root: it runs every action a caller's role allows.
#![forbid(unsafe_code)]

use super::protocol::*;
use super::schedule::{self, Schedule};
use super::workers::{on_request_thread, on_thread};
use crate::action::exec::{self, Place, StateLock};
use crate::action::Action;
use crate::cancel::Cancel;
use crate::context::Context;
use crate::error::{exit, Error, Result};
use crate::outcome::{emit, Status};
use crate::paths::RootDir;
use crate::prompt::{Echo, Prompter, Reply as Answered};
use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use smol::Async;
use std::collections::HashMap;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Output lines and questions an action may have queued for a caller that reads slowly; the
/// action waits when the queue is full, so a caller can never make the daemon hold more.
const EVENT_QUEUE: usize = 64;

/// Serves the socket until SIGTERM or SIGINT.
pub fn run(ctx: &Context, out: &mut dyn Write) -> Result<Status> {
    let path = socket_path(&ctx.root);
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    if let Some(parent) = dir.parent() {
        crate::store::create_dir_all(parent, 0o755)?;
    }
    crate::store::create_dir_all(&dir, 0o750)?;
    // One daemon per root: the second refuses before it touches anything, the first's socket
    // above all.
    let _only_one = claim_root(&ctx.root)?;
    schedule::startup(ctx, out);
    // Finishing a restore may have swapped another config in: read it afresh.
    let ctx = &ctx.refreshed();
    let board = ctx.board()?;
    let gid = group_id(&ctx.root, board.socket_group.as_str());
    if gid.is_none() {
        log::warn!(
            "group {} not in {}/etc/group: socket open to root only",
            board.socket_group,
            ctx.root.path().display()
        );
    }
    secure(&dir, 0o750, gid)?;
    match std::fs::remove_file(&path) {
        Ok(()) => log::info!("removed a stale socket {}", path.display()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(Error::io("remove stale socket", &path, err)),
    }
    let signals = crate::sys::signal::signal_pipe(&[
        crate::sys::signal::number::TERM,
        crate::sys::signal::number::INT,
        crate::sys::signal::number::HUP,
    ])
    .map_err(|e| Error::io("install signal handlers", "SIGTERM", e))?;
    let listener = UnixListener::bind(&path).map_err(|e| Error::io("bind", &path, e))?;
    secure(&path, 0o660, gid)?;
    let bound = std::fs::symlink_metadata(&path).map(|m| m.ino()).ok();
    let mut watchdog = match &board.watchdog {
        Some(device) => {
            let device = ctx.root.resolve(device);
            Some(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&device)
                    .map_err(|e| Error::io("open watchdog", &device, e))?,
            )
        }
        None => None,
    };
    let supervisor = crate::supervisor::Supervisor::start(board, &ctx.root);
    let daemon = Arc::new(Daemon {
        root: ctx.root.clone(),
        // As the daemon was started: `--board`, else the config's board for each request.
        board_spec: ctx.board_spec().map(str::to_string),
        active: AtomicUsize::new(0),
        per_uid: Mutex::new(HashMap::new()),
        state: DaemonLock::default(),
    });
    emit(out, &format!("sensord: serving {}", path.display()))?;
    out.flush().map_err(|e| Error::io("write", "standard output", e))?;
    let (reloaded_tx, reloaded_rx) = smol::channel::bounded::<()>(1);
    let served = smol::block_on(async {
        let listener = Async::new(listener).map_err(|e| Error::io("register", &path, e))?;
        let accept_loop = async {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        // EMFILE and friends: keep serving the connections we have.
                        log::warn!("accept on {}: {err}", path.display());
                        smol::Timer::after(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let daemon = Arc::clone(&daemon);
                smol::spawn(async move { daemon.serve(stream).await }).detach();
            }
        };
        let signal_loop = async {
            let mut signals =
                Async::new(std::fs::File::from(signals)).map_err(|e| Error::io("register", "signal pipe", e))?;
            let mut byte = [0u8; 1];
            loop {
                use smol::io::AsyncReadExt;
                signals.read_exact(&mut byte).await.map_err(|e| Error::io("read", "signal pipe", e))?;
                match i32::from(byte[0]) {
                    crate::sys::signal::number::HUP => {
                        schedule::reload(&daemon.root);
                        // The backup schedule reads the config again (one wake-up is enough).
                        let _ = reloaded_tx.try_send(());
                    }
                    signal => {
                        log::info!("signal {signal}: stopping");
                        return Ok::<(), Error>(());
                    }
                }
            }
        };
        let keepalive = async {
            let interval = Duration::from_secs(board.watchdog_interval_s);
            loop {
                if let Some(device) = watchdog.as_mut() {
                    // A failed keep-alive lets the hardware reset a daemon that cannot do its job.
                    if let Err(err) = device.write_all(b"\0").and_then(|()| device.flush()) {
                        log::error!("watchdog keep-alive: {err}");
                    }
                } else {
                    smol::future::pending::<()>().await;
                }
                smol::Timer::after(interval).await;
            }
        };
        let ntp_loop = async {
            loop {
                // At start first: an appliance may boot with a clock far off.
                let (root, spec) = (daemon.root.clone(), daemon.board_spec.clone());
                let interval = on_thread("sensord-ntp", move || schedule::scheduled_ntp_sync(root, spec))
                    .await
                    .unwrap_or(Duration::from_secs(60));
                smol::Timer::after(interval).await;
            }
        };
        let backup_loop = async {
            // When the last attempt ended (ms since the epoch): one that failed before
            // recording its status must not be retried at once.
            let mut last_attempt_ms = 0;
            loop {
                let (root, spec) = (daemon.root.clone(), daemon.board_spec.clone());
                let next =
                    on_thread("sensord-schedule", move || schedule::next_scheduled_backup(root, spec, last_attempt_ms));
                match next.await.unwrap_or(Schedule::Wait(Duration::from_secs(60))) {
                    Schedule::Off => {
                        let _ = reloaded_rx.recv().await;
                    }
                    Schedule::Wait(wait) => {
                        let timer = async {
                            smol::Timer::after(wait).await;
                        };
                        let reloaded = async {
                            let _ = reloaded_rx.recv().await;
                        };
                        smol::future::or(timer, reloaded).await;
                    }
                    Schedule::Due => {
                        let daemon = Arc::clone(&daemon);
                        on_thread("sensord-backup", move || {
                            // Waits its turn: the schedule never gives up for a busy lock.
                            let _held = daemon.state.wait_for("backup", "scheduled");
                            schedule::scheduled_backup(daemon.root.clone(), daemon.board_spec.clone());
                        })
                        .await;
                        last_attempt_ms = crate::backup::now_ms();
                    }
                }
            }
        };
        let work = smol::future::or(smol::future::or(keepalive, ntp_loop), backup_loop);
        smol::future::or(smol::future::or(accept_loop, signal_loop), work).await
    });
    supervisor.stop();
    if let Some(mut device) = watchdog {
        // The magic close: a clean stop disarms the watchdog instead of resetting the machine.
        let _ = device.write_all(b"V");
    }
    // Only the socket this daemon bound: never one that took its place.
    if bound.is_some() && std::fs::symlink_metadata(&path).map(|m| m.ino()).ok() == bound {
        let _ = std::fs::remove_file(&path);
    }
    served.map(|()| Status::Ok)
}

/// Takes the root's daemon lock (`run/sensorctl/sensord.pid`, held for the daemon's life, with
/// its pid in it). A second daemon on the same root gets exit 75 naming the first one's pid.
fn claim_root(root: &RootDir) -> Result<std::fs::File> {
    let path = root.resolve(PID_FILE);
    let running =
        || std::fs::read_to_string(&path).ok().map(|text| text.trim().to_string()).filter(|pid| !pid.is_empty());
    let mut file = crate::store::lock_exclusive(&path, 0o750, "").map_err(|err| match err {
        Error::Temporary(_) => Error::Temporary(format!(
            "another sensorctl daemon (pid {}) already serves {}",
            running().unwrap_or_else(|| "unknown".to_string()),
            root.path().display()
        )),
        other => other,
    })?;
    file.set_len(0).map_err(|e| Error::io("truncate", &path, e))?;
    writeln!(file, "{}", std::process::id()).map_err(|e| Error::io("write", &path, e))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io("chmod", &path, e))?;
    Ok(file)
}

fn secure(path: &Path, mode: u32, gid: Option<u32>) -> Result<()> {
    // chown and chmod follow links: refuse one (the directory was made without following any,
    // and bind(2) never follows one, so a link here was planted in between).
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io("stat", path, e))?;
    if meta.file_type().is_symlink() {
        let link = io::Error::new(io::ErrorKind::InvalidInput, "a symbolic link (never followed for writing)");
        return Err(Error::io("secure", path, link));
    }
    std::os::unix::fs::lchown(path, Some(0), gid).map_err(|e| Error::io("chown", path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| Error::io("chmod", path, e))
}

struct Daemon {
    root: RootDir,
    board_spec: Option<String>,
    active: AtomicUsize,
    per_uid: Mutex<HashMap<u32, usize>>,
    state: DaemonLock,
}

/// Who holds the daemon's state lock, for the "busy" message.
struct Holder {
    action: &'static str,
    user: String,
    since: String,
}

/// The daemon's state lock: one state-changing action at a time. A request waits
/// [`BUSY_WAIT`] at most, then is told who holds it (exit 75).
#[derive(Default)]
struct DaemonLock {
    holder: Mutex<Option<Holder>>,
    freed: Condvar,
}

/// Held while alive.
struct Held<'a>(&'a DaemonLock);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        *self.0.holder.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        self.0.freed.notify_one();
    }
}

impl DaemonLock {
    /// Takes the lock for `action` by `user`, waiting at most `wait` (`None`: as long as it takes).
    fn take(
        &self,
        action: &'static str,
        user: &str,
        wait: Option<Duration>,
        cancel: Option<&Cancel>,
    ) -> Result<Held<'_>> {
        let deadline = wait.map(|wait| Instant::now() + wait);
        let mut holder = self.holder.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some(current) = holder.as_ref() {
            let now = Instant::now();
            if deadline.is_some_and(|deadline| now >= deadline) {
                return Err(Error::Temporary(format!(
                    "busy: {} by {} since {}",
                    current.action, current.user, current.since
                )));
            }
            if let Some(cancel) = cancel {
                cancel.check("nothing was changed")?;
            }
            let slice = deadline.map_or(Duration::from_millis(100), |d| (d - now).min(Duration::from_millis(100)));
            holder = self.freed.wait_timeout(holder, slice).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
        }
        let (now, _) = crate::sys::clock::realtime();
        *holder = Some(Holder { action, user: user.to_string(), since: crate::time::Utc::from_unix(now).iso8601() });
        Ok(Held(self))
    }

    /// For the daemon's own schedule, which waits its turn.
    fn wait_for(&self, action: &'static str, user: &str) -> Option<Held<'_>> {
        self.take(action, user, None, None).ok()
    }
}

impl StateLock for DaemonLock {
    fn hold(&self, action: &Action, ctx: &Context) -> Result<Box<dyn Send + '_>> {
        let held =
            self.take(action.kind().audit_name(), &ctx.caller.user_name(), Some(BUSY_WAIT), Some(&ctx.cancel))?;
        Ok(Box::new(held))
    }
}

/// What reading one line gave.
enum Incoming {
    Line(String),
    TooLong,
    Closed,
    Idle,
}

/// What an action running on its own thread hands to its connection.
enum Event {
    Line(String),
    Prompt { text: String, secret: bool },
    Notice(String),
    /// The action flushed its output: answer on the channel once the caller has read all that
    /// went before (or after [`FLUSH_WAIT`]). A reboot announces itself this way, so that its
    /// line reaches the caller before the kernel ends every process.
    Flush(smol::channel::Sender<()>),
}

/// The longest an action's flush waits for its caller to read what it was sent.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// Frees a connection's places when it ends, however it ends.
struct Slot<'a> {
    daemon: &'a Daemon,
    uid: Option<u32>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.daemon.active.fetch_sub(1, Ordering::SeqCst);
        if let Some(uid) = self.uid {
            let mut counts = self.daemon.per_uid.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(count) = counts.get_mut(&uid) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(&uid);
                }
            }
        }
    }
}

impl Daemon {
    async fn serve(self: Arc<Self>, stream: Async<UnixStream>) {
        let active = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        let mut slot = Slot { daemon: &self, uid: None };
        let mut writer = &stream;
        if active > MAX_CONNECTIONS {
            let _ = send(&mut writer, &busy("daemon busy, try again")).await;
            return;
        }
        let peer = match crate::sys::unix_socket::peer_credentials(stream.as_fd()) {
            Ok(peer) => peer,
            Err(err) => {
                log::warn!("SO_PEERCRED: {err}");
                return;
            }
        };
        // Counted per uid once the kernel has said who it is; root (the appliance's own tools)
        // is not limited. A uid without a role still gets its requests refused, and audited,
        // by the executor.
        let counted = peer.uid == 0 || {
            let mut counts = self.per_uid.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let count = counts.entry(peer.uid).or_insert(0);
            let room = *count < MAX_CONNECTIONS_PER_UID;
            if room {
                *count += 1;
            }
            room
        };
        if !counted {
            let _ = send(&mut writer, &busy(&format!("too many connections from uid {}; try again", peer.uid))).await;
            return;
        }
        if peer.uid != 0 {
            slot.uid = Some(peer.uid);
        }
        let mut reader = BufReader::new(&stream);
        let mut pending = Vec::new();
        loop {
            let line = match read_line(&mut reader, &mut pending, Some(IDLE_TIMEOUT)).await {
                Incoming::Line(line) => line,
                Incoming::TooLong => {
                    let reply = Reply::Done {
                        id: 0,
                        exit: exit::USAGE,
                        error: format!("request larger than {MAX_REQUEST} bytes"),
                    };
                    let _ = send(&mut writer, &reply).await;
                    return;
                }
                Incoming::Closed | Incoming::Idle => return,
            };
            let request = match crate::wire::decode::<Request>(&line) {
                Ok(request) => request,
                Err(err) => {
                    let reply = Reply::Done { id: 0, exit: exit::USAGE, error: format!("malformed request: {err}") };
                    if send(&mut writer, &reply).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            if self.execute(request, peer.uid, &mut reader, &mut pending, &mut writer).await.is_err() {
                return; // the client went away
            }
        }
    }

    /// Runs one request for the peer `uid`, streaming its output lines and questions as they
    /// come, and the caller's answers and cancel back; keep-alives while it runs.
    async fn execute(
        self: &Arc<Self>,
        request: Request,
        uid: u32,
        reader: &mut BufReader<&Async<UnixStream>>,
        pending: &mut Vec<u8>,
        writer: &mut &Async<UnixStream>,
    ) -> io::Result<()> {
        let id = request.id;
        let (events_tx, events_rx) = smol::channel::bounded::<Event>(EVENT_QUEUE);
        // One answer at most is ever waiting: more are dropped.
        let (answers_tx, answers_rx) = smol::channel::bounded::<Answered>(1);
        let cancel = Cancel::new();
        let daemon = Arc::clone(self);
        let read_only = !request.action.kind().changes_state();
        let token = cancel.clone();
        let task =
            on_request_thread(read_only, move || daemon.run_for(request.action, uid, events_tx, answers_rx, token));
        let mut task = std::pin::pin!(task);
        let mut question_pending = false;
        let mut caller_gone = false;
        let mut result = None;
        loop {
            // The action's end, its next event, the caller's next line, or a keep-alive tick.
            enum Next {
                Ended(Option<(u8, String)>),
                Event(Event),
                Incoming(Incoming),
                Tick,
            }
            let next = if result.is_some() {
                // The action has ended: what it still queued goes out before its end.
                match events_rx.try_recv() {
                    Ok(event) => Next::Event(event),
                    Err(_) => break,
                }
            } else {
                let gone = caller_gone;
                let ended = async { Next::Ended(task.as_mut().await) };
                let event = async {
                    match events_rx.recv().await {
                        Ok(event) => Next::Event(event),
                        Err(_) => smol::future::pending().await,
                    }
                };
                let incoming = async {
                    if gone {
                        smol::future::pending::<()>().await;
                    }
                    Next::Incoming(read_line(reader, pending, None).await)
                };
                let tick = async {
                    smol::Timer::after(KEEPALIVE).await;
                    Next::Tick
                };
                // Events first: an action's lines are sent before its end is noticed.
                smol::future::or(event, smol::future::or(ended, smol::future::or(incoming, tick))).await
            };
            match next {
                Next::Ended(outcome) => result = Some(outcome),
                Next::Event(Event::Flush(done)) => {
                    if !caller_gone {
                        until_read(writer).await;
                    }
                    let _ = done.try_send(());
                }
                Next::Event(event) => {
                    let reply = match event {
                        Event::Line(text) => Reply::Line { id, text },
                        Event::Prompt { text, secret } => {
                            question_pending = true;
                            Reply::Prompt { id, text, secret }
                        }
                        Event::Notice(text) => Reply::Notice { id, text },
                        Event::Flush(_) => continue,
                    };
                    if !caller_gone && send(writer, &reply).await.is_err() {
                        caller_gone = true;
                        cancel.cancel();
                    }
                }
                Next::Tick => {
                    if !caller_gone && send(writer, &Reply::KeepAlive { id }).await.is_err() {
                        caller_gone = true;
                        cancel.cancel();
                    }
                }
                Next::Incoming(Incoming::Line(line)) => {
                    match crate::json::decode::<Followup>(&line) {
                        Ok(Followup::Cancel { id: cancelled }) if cancelled == id => {
                            log::info!("peer uid {uid}: request {id} cancelled");
                            cancel.cancel();
                        }
                        Ok(Followup::Answer { id: answered, text, eof, invalid })
                            if answered == id && question_pending =>
                        {
                            question_pending = false;
                            let answer = match (eof, invalid) {
                                (true, _) => Answered::End,
                                (false, true) => Answered::Invalid(text),
                                (false, false) => Answered::Line(text),
                            };
                            let _ = answers_tx.try_send(answer);
                        }
                        // An answer to no question, or to another request: dropped.
                        _ => log::debug!("peer uid {uid}: unexpected line while request {id} runs; dropped"),
                    }
                }
                Next::Incoming(Incoming::TooLong) => {
                    log::warn!("peer uid {uid}: over-long line while request {id} runs; dropped")
                }
                Next::Incoming(Incoming::Closed | Incoming::Idle) => {
                    // The caller went away: its request is cancelled, and no answer will come.
                    caller_gone = true;
                    cancel.cancel();
                    answers_tx.close();
                }
            }
        }
        let (exit, error) = result
            .flatten()
            .unwrap_or_else(|| (exit::TEMPFAIL, "the daemon could not start a thread for it".to_string()));
        if caller_gone {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        send(writer, &Reply::Done { id, exit, error }).await
    }

    /// On the request's thread: establish the caller, then the executor.
    fn run_for(
        &self,
        action: Action,
        uid: u32,
        events: smol::channel::Sender<Event>,
        answers: smol::channel::Receiver<Answered>,
        cancel: Cancel,
    ) -> (u8, String) {
        let mut out = LineSender { events: events.clone(), partial: Vec::new() };
        let result = (|| {
            let kind = action.kind();
            if !kind.served() {
                return Err(Error::Usage(format!("{} is not served over the daemon socket", kind.audit_name())));
            }
            let ctx =
                Context::for_uid(self.root.clone(), self.board_spec.clone(), None, uid)?.with_cancel(cancel.clone());
            let idle = ctx.config().map_or(
                Duration::from_secs(crate::config::DEFAULT_SHELL_IDLE_TIMEOUT_S),
                crate::config::Config::shell_idle_timeout,
            );
            let mut asker = RemoteAsker { events, answers, cancel, idle };
            log::info!("peer uid {uid} ({}, role {}) asks for {kind:?}", ctx.caller.user_name(), ctx.caller.role);
            exec::run(&action, Place { ctx: &ctx, prompter: &mut asker, lock: &self.state }, &mut out)
        })();
        out.finish();
        match result {
            Ok(Status::Ok) => (exit::OK, String::new()),
            Ok(Status::Problem) => (exit::PROBLEM, String::new()),
            Err(err) => {
                if matches!(err, Error::Denied { .. }) {
                    log::warn!("peer uid {uid}: {:?} denied: {err}", action.kind());
                }
                (err.exit_code(), err.to_string())
            }
        }
    }
}

fn busy(message: &str) -> Reply {
    Reply::Done { id: 0, exit: exit::TEMPFAIL, error: message.to_string() }
}

/// The caller's terminal, at the other end of the socket: the [`Prompter`] of an action the
/// daemon runs.
struct RemoteAsker {
    events: smol::channel::Sender<Event>,
    answers: smol::channel::Receiver<Answered>,
    cancel: Cancel,
    /// How long a person may take to answer.
    idle: Duration,
}

impl Prompter for RemoteAsker {
    fn ask(&mut self, question: &str, echo: Echo) -> Result<Answered> {
        if self.cancel.is_cancelled() {
            return Ok(Answered::Interrupted);
        }
        let prompt = Event::Prompt { text: question.to_string(), secret: echo == Echo::Hidden };
        if self.events.send_blocking(prompt).is_err() {
            return Ok(Answered::End);
        }
        let deadline = Instant::now() + self.idle;
        loop {
            if self.cancel.is_cancelled() {
                return Ok(Answered::Interrupted);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Answered::End);
            }
            let slice = (deadline - now).min(Duration::from_millis(100));
            let answer = smol::block_on(smol::future::or(async { Some(self.answers.recv().await) }, async {
                smol::Timer::after(slice).await;
                None
            }));
            match answer {
                Some(Ok(answer)) => return Ok(answer),
                Some(Err(_)) => return Ok(Answered::End), // the caller went away
                None => {}
            }
        }
    }

    fn complain(&mut self, message: &str) {
        let _ = self.events.send_blocking(Event::Notice(message.to_string()));
    }
}

/// An action's output, passed line by line to the connection that waits for it. Once the
/// caller has gone, output is dropped: the action is not stopped by a failed write — its
/// cancel token says whether to stop, so work past its point of no return completes.
struct LineSender {
    events: smol::channel::Sender<Event>,
    partial: Vec<u8>,
}

impl LineSender {
    fn finish(&mut self) {
        if !self.partial.is_empty() {
            let text = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            let _ = self.events.send_blocking(Event::Line(text));
        }
    }
}

impl Write for LineSender {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(at) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=at).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            let _ = self.events.send_blocking(Event::Line(text));
        }
        Ok(buf.len())
    }

    /// Returns once the caller has read every line so far, or its connection gave up waiting
    /// for that ([`FLUSH_WAIT`]) or ended.
    fn flush(&mut self) -> io::Result<()> {
        let (done, delivered) = smol::channel::bounded(1);
        if self.events.send_blocking(Event::Flush(done)).is_ok() {
            let _ = delivered.recv_blocking();
        }
        Ok(())
    }
}

/// Waits, at most [`FLUSH_WAIT`], until the caller has read everything written to it: written
/// is not yet read, and a caller killed before reading loses it.
async fn until_read(writer: &Async<UnixStream>) {
    let deadline = Instant::now() + FLUSH_WAIT;
    while Instant::now() < deadline {
        match crate::sys::unix_socket::unread_by_peer(writer.get_ref().as_fd()) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                smol::Timer::after(Duration::from_millis(2)).await;
            }
        }
    }
}

/// Reads one line into `line` (kept by the caller, so that a read cancelled half way loses
/// nothing) and returns it once complete; `idle` bounds the wait.
async fn read_line(reader: &mut BufReader<&Async<UnixStream>>, line: &mut Vec<u8>, idle: Option<Duration>) -> Incoming {
    let read = async {
        loop {
            let available = match reader.fill_buf().await {
                Ok(bytes) => bytes,
                Err(_) => return Incoming::Closed,
            };
            if available.is_empty() {
                return Incoming::Closed;
            }
            let (take, complete) = match available.iter().position(|&b| b == b'\n') {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            // Past the limit, the rest of the line is read and thrown away, never kept.
            if line.len() <= MAX_REQUEST {
                line.extend_from_slice(&available[..take]);
            }
            reader.consume(take);
            if complete {
                if line.len() > MAX_REQUEST + 1 {
                    line.clear();
                    return Incoming::TooLong;
                }
                line.pop();
                let text = String::from_utf8_lossy(line).into_owned();
                line.clear();
                return Incoming::Line(text);
            }
        }
    };
    match idle {
        Some(idle) => {
            let timeout = async {
                smol::Timer::after(idle).await;
                Incoming::Idle
            };
            smol::future::or(read, timeout).await
        }
        None => read.await,
    }
}

/// Sends one reply, giving up with `TimedOut` when the caller has not taken it within
/// [`SEND_WAIT`]; a reply given up on leaves the connection unusable, and the caller gone.
async fn send(writer: &mut &Async<UnixStream>, reply: &Reply) -> io::Result<()> {
    send_within(writer, reply.line().as_bytes(), SEND_WAIT).await
}

async fn send_within(writer: &mut &Async<UnixStream>, bytes: &[u8], wait: Duration) -> io::Result<()> {
    let stalled = async {
        smol::Timer::after(wait).await;
        Err(io::Error::new(io::ErrorKind::TimedOut, "the caller stopped reading"))
    };
    smol::future::or(writer.write_all(bytes), stalled).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_sender_splits_output_into_lines_keeps_the_tail_and_never_fails() {
        let (tx, rx) = smol::channel::bounded(16);
        let mut out = LineSender { events: tx, partial: Vec::new() };
        out.write_all(b"one\ntw").unwrap();
        out.write_all(b"o\nthree").unwrap();
        out.finish();
        let got: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|event| match event {
                Event::Line(text) => text,
                Event::Prompt { text, .. } => format!("prompt {text}"),
                Event::Notice(text) => format!("notice {text}"),
                Event::Flush(done) => {
                    let _ = done.try_send(());
                    "flush".to_string()
                }
            })
            .collect();
        assert_eq!(got, ["one", "two", "three"]);
        drop(rx);
        // The caller went away: writes still succeed, the output is dropped.
        out.write_all(b"after\n").unwrap();
    }

    #[test]
    fn a_flush_returns_once_the_connection_says_the_caller_read_it_or_has_ended() {
        let (tx, rx) = smol::channel::bounded(16);
        let connection = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while let Ok(event) = rx.recv_blocking() {
                match event {
                    Event::Line(text) => seen.push(text),
                    // The first flush is answered late; the second is dropped (the connection ended).
                    Event::Flush(done) if seen.len() == 1 => {
                        std::thread::sleep(Duration::from_millis(300));
                        seen.push("read".to_string());
                        let _ = done.try_send(());
                    }
                    Event::Flush(done) => drop(done),
                    _ => {}
                }
            }
            seen
        });
        let mut out = LineSender { events: tx, partial: Vec::new() };
        let started = Instant::now();
        out.write_all(b"Rebooting the appliance ...\n").unwrap();
        out.flush().unwrap();
        let answered = started.elapsed();
        assert!(answered >= Duration::from_millis(300), "the flush did not wait for the caller: {answered:?}");
        assert!(answered < FLUSH_WAIT, "{answered:?}");
        out.write_all(b"unread\n").unwrap();
        let started = Instant::now();
        out.flush().unwrap();
        assert!(started.elapsed() < FLUSH_WAIT, "{:?}", started.elapsed());
        drop(out);
        assert_eq!(connection.join().unwrap(), ["Rebooting the appliance ...", "read", "unread"]);
    }

    #[test]
    fn a_reply_the_caller_does_not_take_is_given_up_after_the_wait() {
        let (daemon_end, caller_end) = UnixStream::pair().unwrap();
        let daemon_end = Async::new(daemon_end).unwrap();
        let mut writer = &daemon_end;
        let wait = Duration::from_millis(300);
        // A reply that fits the socket's buffer goes out at once, read or not.
        smol::block_on(send_within(&mut writer, b"small\n", wait)).unwrap();
        // One that does not stalls on a caller that never reads, and is given up on.
        let big = vec![b'x'; 8 << 20];
        let started = Instant::now();
        let err = smol::block_on(send_within(&mut writer, &big, wait)).unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(took >= wait && took < wait * 10, "{took:?}");
        drop((daemon_end, caller_end));
        // A caller that reads gets all of it.
        let (daemon_end, caller_end) = UnixStream::pair().unwrap();
        let daemon_end = Async::new(daemon_end).unwrap();
        let reader = std::thread::spawn(move || io::copy(&mut &caller_end, &mut io::sink()).unwrap());
        let mut writer = &daemon_end;
        smol::block_on(send_within(&mut writer, &big, SEND_WAIT)).unwrap();
        drop(daemon_end);
        assert_eq!(reader.join().unwrap(), big.len() as u64);
    }

    #[test]
    fn the_state_lock_says_who_holds_it_after_a_bounded_wait() {
        let lock = DaemonLock::default();
        let held = lock.take("restore", "support", Some(Duration::from_millis(10)), None).unwrap();
        let started = Instant::now();
        let Err(Error::Temporary(message)) = lock.take("backup", "cyberx", Some(Duration::from_millis(200)), None)
        else {
            panic!("a held lock must be busy");
        };
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(message.starts_with("busy: restore by support since "), "{message}");
        drop(held);
        assert!(lock.take("backup", "cyberx", Some(Duration::from_millis(10)), None).is_ok());
    }
}
