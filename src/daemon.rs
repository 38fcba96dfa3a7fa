//! `daemon` (also invoked as `sensord`): the privileged side of sensorctl. It serves a Unix
//! stream socket at `<root>/run/sensorctl/sensord.sock` so that callers who are not root — the
//! support user in the restricted shell above all — can have actions run for them, safely.
//!
//! Two layers guard it (sudo-rs and Bottlerocket's lesson): the socket's directory is 0750 and
//! the socket 0660, both owned by root and the board's socket group; and for every connection
//! the kernel's SO_PEERCRED uid is mapped to a role exactly as the CLI maps a caller
//! (uid → `<root>/etc/passwd` → the board's role map) and the policy is checked again here.
//! Nothing the client says about itself is believed.
//!
//! Wire format: newline-delimited JSON. A request is `{"id":N,"action":<Action>}` — the same
//! nanoserde `Action` the CLI builds, so the two paths cannot drift apart. Replies are
//! `{"Line":{"id":N,"text":"…"}}` for each output line, streamed as the action prints them,
//! then `{"Done":{"id":N,"exit":C,"error":"…"}}`. Requests are limited to [`MAX_REQUEST`] bytes,
//! idle connections are closed after [`IDLE_TIMEOUT`], at most [`MAX_CONNECTIONS`] are served at
//! once, and actions that change state run one at a time. Malformed requests get an error
//! reply, never a crash.
//!
//! The executor is smol's: connections are async tasks on an epoll reactor (an idle daemon
//! sleeps in the kernel); each action runs on a thread of its own, as the CLI would run it.
//! Read-only requests run on a request thread that waits, blocked, for the next one (at most
//! two wait): a woken thread runs at once, while a newly started one often waits a scheduler
//! tick on a busy appliance (measured p99 of `system version` over the socket: 1.4–4.3 ms
//! with a thread per request, 0.18–0.29 ms with reuse, one core busy with a fuzzer).
//!
//! Before it binds the socket, [`startup`] puts back what a power cut or reboot undoes: it
//! finishes (or clears) an interrupted restore, then applies the stored management network
//! settings and bandwidth limits, then commits or rolls back a pending upgrade. Scheduled work runs on timers: the NTP sync (config
//! `ntp_poll_interval_s`) and backups (config `backup_interval_s`, off when absent or 0; an
//! interval after the last backup ended; SIGHUP re-reads it), each backup under the same lock as
//! backups and restores through the socket, with its status recorded and an audit line.
//!
//! Needs root: it runs every action a caller's role allows.
#![forbid(unsafe_code)]

use crate::action::{self, Action, ActionKind, Status};
use crate::context::Context;
use crate::error::{exit, Error, Result};
use crate::info::emit;
use crate::paths::RootDir;
use nanoserde::{DeJson, SerJson};
use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use smol::Async;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The socket, relative to the root.
pub const SOCKET: &str = "run/sensorctl/sensord.sock";
/// The largest request line accepted, in bytes.
pub const MAX_REQUEST: usize = 64 * 1024;
/// A connection that sends nothing for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; more are told the daemon is busy (exit 75).
pub const MAX_CONNECTIONS: usize = 256;

/// A request on the socket.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub struct Request {
    /// Chosen by the client; echoed in every reply to it.
    pub id: u64,
    /// What to do.
    pub action: Action,
}

/// A reply on the socket.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub enum Reply {
    /// One line of the action's output.
    Line {
        /// The request's id.
        id: u64,
        /// The line, without its newline.
        text: String,
    },
    /// The action asks the caller a question (a password, a confirmation): the CLI shows
    /// `text`, reads a line from its terminal (without echo when `secret`) and sends an
    /// [`Answer`].
    Prompt {
        /// The request's id.
        id: u64,
        /// The prompt as the action would print it.
        text: String,
        /// Whether the answer must not be echoed.
        secret: bool,
    },
    /// The action ended.
    Done {
        /// The request's id (0 when the request could not be read).
        id: u64,
        /// The exit code the CLI would have returned.
        exit: u8,
        /// The error message when it failed with one, else empty. (A String, not an Option:
        /// nanoserde writes a stray comma for a None in an enum variant.)
        error: String,
    },
}

/// The caller's answer to a [`Reply::Prompt`], sent while its request runs.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub struct Answer {
    /// The request's id.
    pub id: u64,
    /// The line typed, without its newline.
    pub text: String,
    /// The caller's input ended instead.
    pub eof: bool,
}

/// What an action running on its own thread hands to its connection.
enum Event {
    Line(String),
    Prompt { text: String, secret: bool },
}

/// An action's way back to the caller's terminal when the daemon runs it (see
/// [`crate::context::Context::asker`]).
#[derive(Clone)]
pub struct RemoteAsker {
    events: smol::channel::Sender<Event>,
    answers: smol::channel::Receiver<Answer>,
}

impl RemoteAsker {
    /// Shows `prompt` on the caller's terminal and waits for the line typed there; `None` when
    /// the caller's input ended or the caller went away.
    pub fn ask(&self, prompt: &str, secret: bool) -> io::Result<Option<Vec<u8>>> {
        self.events
            .send_blocking(Event::Prompt { text: prompt.to_string(), secret })
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        match self.answers.recv_blocking() {
            Ok(answer) if !answer.eof => Ok(Some(answer.text.into_bytes())),
            _ => Ok(None),
        }
    }
}

/// The socket's path under `root`.
pub fn socket_path(root: &RootDir) -> PathBuf {
    root.resolve(SOCKET)
}

/// Whether actions of this kind change state and so must not run at the same time as another
/// such action (two password resets, a backup and a restore).
pub fn changes_state(kind: ActionKind) -> bool {
    use ActionKind as A;
    match kind {
        A::Reboot | A::Shutdown | A::NtpEnable | A::NtpDisable | A::PasswordReset | A::OwnPassword => true,
        A::LoginProtection | A::NetworkBlink | A::NetworkLimit | A::NetworkReconfigure => true,
        A::CertImport | A::CertSelfSigned | A::Upgrade | A::BackupCreate | A::BackupRestore => true,
        A::Install | A::PackageTools => true,
        A::Sanity | A::Version | A::Date | A::NtpStatus | A::NetworkValidate | A::Ping => false,
        A::NetworkList | A::InternetCheck | A::NetworkLoad | A::CertShow | A::BackupList => false,
        A::BackupSpace | A::Shell | A::Daemon | A::Auth => false,
    }
}

/// Actions that make no sense through the socket: they need the caller's terminal or are the
/// daemon's own business.
fn served(kind: ActionKind) -> bool {
    !matches!(kind, ActionKind::Shell | ActionKind::Daemon | ActionKind::Auth | ActionKind::PackageTools)
}

/// The gid of `group` in `<root>/etc/group`.
pub fn group_id(root: &RootDir, group: &str) -> Option<u32> {
    let text = std::fs::read_to_string(root.resolve("etc/group")).ok()?;
    gid_in(&text, group)
}

/// The gid of `group` in the text of a group(5) file.
pub fn gid_in(text: &str, group: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 3 && fields[0] == group).then(|| fields[2].parse().ok()).flatten()
    })
}

/// Serves the socket until killed.
pub fn run(ctx: &Context, out: &mut dyn Write) -> Result<Status> {
    startup(ctx, out);
    // Finishing a restore may have swapped another config in: read it afresh.
    let ctx = &ctx.refreshed();
    let path = socket_path(&ctx.root);
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let board = ctx.board()?;
    let gid = group_id(&ctx.root, board.socket_group.as_str());
    if gid.is_none() {
        log::warn!("group {} not in {}/etc/group: socket open to root only", board.socket_group, ctx.root.path().display());
    }
    if let Some(parent) = dir.parent() {
        crate::store::create_dir_all(parent, 0o755)?;
    }
    crate::store::create_dir_all(&dir, 0o750)?;
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
    let mut watchdog = match &board.watchdog {
        Some(device) => {
            let device = ctx.root.resolve(device);
            Some(std::fs::OpenOptions::new().write(true).open(&device).map_err(|e| Error::io("open watchdog", &device, e))?)
        }
        None => None,
    };
    let supervisor = crate::supervisor::Supervisor::start(board, &ctx.root);
    let daemon = Arc::new(Daemon {
        root: ctx.root.clone(),
        board_spec: Some(board_spec(ctx)),
        active: AtomicUsize::new(0),
        state_lock: Mutex::new(()),
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
            let mut signals = Async::new(std::fs::File::from(signals)).map_err(|e| Error::io("register", "signal pipe", e))?;
            let mut byte = [0u8; 1];
            loop {
                use smol::io::AsyncReadExt;
                signals.read_exact(&mut byte).await.map_err(|e| Error::io("read", "signal pipe", e))?;
                match i32::from(byte[0]) {
                    crate::sys::signal::number::HUP => {
                        reload(&daemon.root);
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
                let interval = on_thread("sensord-ntp", move || scheduled_ntp_sync(root, spec))
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
                let next = on_thread("sensord-schedule", move || next_scheduled_backup(root, spec, last_attempt_ms));
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
                        daemon.scheduled_backup().await;
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
    let _ = std::fs::remove_file(&path);
    served.map(|()| Status::Ok)
}

/// What must hold after every boot (or after the daemon was killed and started again), done
/// before the socket exists so that a client that can connect sees it in place. Each step's
/// failure is logged, and the daemon serves anyway: a sensor that cannot be reached is worse.
fn startup(ctx: &Context, out: &mut dyn Write) {
    // First: a restore cut off by a power failure may have left its swap half done, and the
    // config itself is among the data it swaps.
    let mut said = Vec::new();
    let recovered = crate::backup::Settings::of(ctx).and_then(|settings| {
        let _lock = crate::backup::lock(&settings)?;
        crate::backup::restore::recover(&settings, &mut said)
    });
    log_lines("restore recovery", &said);
    if let Err(err) = recovered {
        log::error!("finishing an interrupted restore: {err}");
    }
    // The stored state the kernel forgets at a reboot, read from the config as it now is.
    let ctx = &ctx.refreshed();
    let mut said = Vec::new();
    let applied = crate::netconf::apply_stored(ctx, &mut said);
    log_lines("network settings", &said);
    match applied {
        Ok(false) => {}
        Ok(true) => log::info!("applied the stored management network settings"),
        Err(err) => log::error!("applying the stored management network settings: {err}"),
    }
    match crate::limit::apply_stored_limits(ctx) {
        Ok(0) => {}
        Ok(applied) => log::info!("applied {applied} stored bandwidth limit(s)"),
        Err(err) => log::error!("applying the stored bandwidth limits: {err}"),
    }
    // A pending software upgrade is committed if healthy, else rolled back (issue 10).
    if let Err(err) = crate::upgrade::on_start(ctx, out) {
        log::error!("upgrade commit/rollback at start: {err}");
    }
}

/// Logs the output lines of work the daemon did on its own.
fn log_lines(what: &str, output: &[u8]) {
    for line in String::from_utf8_lossy(output).lines() {
        log::info!("{what}: {line}");
    }
}

/// What the backup schedule does next.
enum Schedule {
    /// No interval configured: wait for SIGHUP.
    Off,
    /// The next backup is due in this long (or when the config is reloaded).
    Wait(Duration),
    /// A backup is due now.
    Due,
}

/// When the next scheduled backup is due: one interval after the last backup ended (as
/// recorded, by any backup) or the last scheduled attempt ended, whichever is later.
fn next_scheduled_backup(root: RootDir, board_spec: Option<String>, last_attempt_ms: u64) -> Schedule {
    let ctx = match Context::for_uid(root, board_spec, None, 0) {
        Ok(ctx) => ctx,
        Err(err) => {
            log::error!("backup schedule: {err}");
            return Schedule::Off;
        }
    };
    let interval = match ctx.config() {
        Ok(config) => match config.backup_interval() {
            Some(interval) => interval,
            None => return Schedule::Off,
        },
        Err(err) => {
            log::error!("backup schedule: {err}");
            return Schedule::Off;
        }
    };
    let last_ms = match crate::backup::read_state(&ctx) {
        Ok(state) => state.map_or(0, |s| s.last_epoch_ms),
        Err(err) => {
            log::warn!("backup schedule: {err}");
            0
        }
    };
    let due_ms = last_ms.max(last_attempt_ms).saturating_add(u64::try_from(interval.as_millis()).unwrap_or(u64::MAX));
    let now_ms = crate::backup::now_ms();
    if now_ms >= due_ms {
        Schedule::Due
    } else {
        // At most one interval: a clock set back must not postpone backups by as much.
        Schedule::Wait(Duration::from_millis(due_ms - now_ms).min(interval))
    }
}

/// One round of the daemon's time keeping: syncs with the configured NTP servers, if any, and
/// returns how long to wait for the next round (from the config as it is now).
fn scheduled_ntp_sync(root: RootDir, board_spec: Option<String>) -> Duration {
    let default = Duration::from_secs(1024);
    let ctx = match Context::for_uid(root, board_spec, None, 0) {
        Ok(ctx) => ctx,
        Err(err) => {
            log::error!("scheduled NTP sync: {err}");
            return default;
        }
    };
    let config = match ctx.config() {
        Ok(config) => config,
        Err(err) => {
            log::error!("scheduled NTP sync: {err}");
            return default;
        }
    };
    let interval = config.ntp_poll_interval();
    if config.ntp_servers.is_empty() {
        return interval;
    }
    match crate::ntp::sync_once(&ctx) {
        Ok(report) => log::info!("NTP sync with {}: offset {:?}", report.server, report.sample.offset),
        Err(err) => log::warn!("scheduled NTP sync: {err}"),
    }
    interval
}

/// SIGHUP: read the config again. Each request already loads it afresh; this checks it and
/// says so, keeping the daemon running whatever the file holds.
fn reload(root: &RootDir) {
    match crate::config::Config::load(root) {
        Ok(_) => log::info!("SIGHUP: configuration reloaded"),
        Err(err) => log::error!("SIGHUP: {err}; keeping the previous configuration"),
    }
}

/// The board the daemon runs with, named so each connection's context loads the same one.
fn board_spec(ctx: &Context) -> String {
    ctx.board().map(|b| b.name.clone()).unwrap_or_else(|_| crate::board::DEFAULT_BOARD.to_string())
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
    state_lock: Mutex<()>,
}

/// What reading one request line gave.
enum Incoming {
    Line(String),
    TooLong,
    Closed,
    Idle,
}

impl Daemon {
    /// A scheduled `system backup`, as root: under the state lock that backups and restores
    /// through the socket take, with its status recorded (by the backup) and an audit entry.
    /// It runs on a thread of its own, because a backup lowers its thread's priority for good.
    async fn scheduled_backup(self: &Arc<Self>) {
        let daemon = Arc::clone(self);
        let backup = on_thread("sensord-backup", move || {
            let _one_at_a_time = daemon.state_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let ctx = match Context::for_uid(daemon.root.clone(), daemon.board_spec.clone(), None, 0) {
                Ok(ctx) => ctx,
                Err(err) => {
                    log::error!("scheduled backup: {err}");
                    return;
                }
            };
            log::info!("scheduled backup: starting");
            let mut said = Vec::new();
            let result = crate::backup::create::run(&ctx, &mut said);
            log_lines("scheduled backup", &said);
            let outcome = action::audit_result(&result);
            crate::audit::record(&ctx, ActionKind::BackupCreate.audit_name(), "scheduled", &outcome);
            match result {
                Ok(_) => log::info!("scheduled backup: done"),
                Err(err) => log::error!("scheduled backup: {err}"),
            }
        });
        backup.await;
    }

    async fn serve(self: Arc<Self>, stream: Async<UnixStream>) {
        let active = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        let _slot = Slot(&self.active);
        let mut writer = &stream;
        if active > MAX_CONNECTIONS {
            let busy = Reply::Done { id: 0, exit: exit::TEMPFAIL, error: "daemon busy, try again".into() };
            let _ = send(&mut writer, &busy).await;
            return;
        }
        let peer = match crate::sys::unix_socket::peer_credentials(stream.as_fd()) {
            Ok(peer) => peer,
            Err(err) => {
                log::warn!("SO_PEERCRED: {err}");
                return;
            }
        };
        let mut reader = BufReader::new(&stream);
        let mut pending = Vec::new();
        loop {
            let line = match read_request(&mut reader, &mut pending).await {
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
            let request = match crate::json::decode::<Request>(&line) {
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

    /// Runs one request for the peer `uid`, streaming its output lines as they come.
    async fn execute(
        self: &Arc<Self>,
        request: Request,
        uid: u32,
        reader: &mut BufReader<&Async<UnixStream>>,
        pending: &mut Vec<u8>,
        writer: &mut &Async<UnixStream>,
    ) -> io::Result<()> {
        let id = request.id;
        let (events_tx, events_rx) = smol::channel::unbounded::<Event>();
        let (answers_tx, answers_rx) = smol::channel::unbounded::<Answer>();
        let asker = RemoteAsker { events: events_tx.clone(), answers: answers_rx };
        let daemon = Arc::clone(self);
        let read_only = !changes_state(request.action.kind());
        let task = on_request_thread(read_only, move || daemon.run_for(request.action, uid, events_tx, asker));
        // Forward the action's output and questions; meanwhile the caller may send answers.
        let mut caller_gone = false;
        loop {
            let event = async { Ok::<_, Incoming>(events_rx.recv().await) };
            let incoming = async {
                if caller_gone {
                    smol::future::pending::<()>().await;
                }
                Err(read_request(reader, pending).await)
            };
            match smol::future::or(event, incoming).await {
                Ok(Ok(Event::Line(text))) => send(writer, &Reply::Line { id, text }).await?,
                Ok(Ok(Event::Prompt { text, secret })) => send(writer, &Reply::Prompt { id, text, secret }).await?,
                Ok(Err(_)) => break, // the action ended: every sender is gone
                Err(Incoming::Line(line)) => match crate::json::decode::<Answer>(&line) {
                    Ok(answer) if answer.id == id => {
                        let _ = answers_tx.send(answer).await;
                    }
                    _ => log::warn!("peer uid {uid}: unexpected line while request {id} runs"),
                },
                Err(Incoming::TooLong | Incoming::Closed | Incoming::Idle) => {
                    // No more answers can come: questions get end of input.
                    caller_gone = true;
                    answers_tx.close();
                }
            }
        }
        let (exit, error) =
            task.await.unwrap_or_else(|| (exit::TEMPFAIL, "the daemon could not start a thread for it".to_string()));
        send(writer, &Reply::Done { id, exit, error }).await
    }

    /// On the request's thread: establish the caller, check the policy, act.
    fn run_for(&self, action: Action, uid: u32, events: smol::channel::Sender<Event>, asker: RemoteAsker) -> (u8, String) {
        let mut out = LineSender { events, partial: Vec::new() };
        let result = (|| {
            let kind = action.kind();
            if !served(kind) {
                return Err(Error::Usage(format!("{kind:?} is not served over the daemon socket")));
            }
            let mut ctx = Context::for_uid(self.root.clone(), self.board_spec.clone(), None, uid)?;
            ctx.asker = Some(asker);
            // action::run checks the policy (and audits a denial); the lock is only for
            // actions that will run.
            let _one_at_a_time = if changes_state(kind) && action::permits(ctx.caller.role, kind) {
                Some(self.state_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
            } else {
                None
            };
            log::info!("peer uid {uid} ({}, role {}) runs {kind:?}", ctx.caller.user_name(), ctx.caller.role);
            action::run(&action, &ctx, &mut out)
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

/// Runs `work` on a thread of its own, started now, and gives its result (`None` if no thread
/// could be started). Not smol's blocking pool: its idle threads wake every 500 ms for as long
/// as the process lives; these end with their work, so an idle daemon sleeps in epoll.
fn on_thread<T: Send + 'static>(
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
fn on_request_thread<T: Send + 'static>(
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

/// Frees a connection slot when the connection ends, however it ends.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An action's output, passed line by line to the connection that waits for it.
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
            // The client hung up: tell the action, as a closed stdout would.
            self.events.send_blocking(Event::Line(text)).map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads one line into `line` (kept by the caller, so that a read cancelled half way loses
/// nothing) and returns it once complete.
async fn read_request(reader: &mut BufReader<&Async<UnixStream>>, line: &mut Vec<u8>) -> Incoming {
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
            line.extend_from_slice(&available[..take]);
            reader.consume(take);
            if line.len() > MAX_REQUEST + 1 {
                line.clear();
                return Incoming::TooLong;
            }
            if complete {
                line.pop();
                let text = String::from_utf8_lossy(line).into_owned();
                line.clear();
                return Incoming::Line(text);
            }
        }
    };
    let idle = async {
        smol::Timer::after(IDLE_TIMEOUT).await;
        Incoming::Idle
    };
    smol::future::or(read, idle).await
}

async fn send(writer: &mut &Async<UnixStream>, reply: &Reply) -> io::Result<()> {
    let mut text = reply.serialize_json();
    text.push('\n');
    writer.write_all(text.as_bytes()).await
}

/// The CLI's side: sends `action` to the daemon under `root` and prints the replies as if the
/// action had run here. Used when the caller is not root.
pub fn call(root: &RootDir, action: &Action, out: &mut dyn Write) -> Result<Status> {
    use std::io::{BufRead, BufReader as StdBufReader};
    let path = socket_path(root);
    let stream = UnixStream::connect(&path).map_err(|err| match err.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            Error::Temporary(format!("the sensorctl daemon is not running ({} : {})", path.display(), crate::error::strip_errno(&err)))
        }
        _ => Error::io("connect to the daemon at", &path, err),
    })?;
    let request = Request { id: u64::from(std::process::id()), action: action.clone() };
    let mut text = request.serialize_json();
    text.push('\n');
    (&stream).write_all(text.as_bytes()).map_err(|e| Error::io("send to the daemon at", &path, e))?;
    let mut replies = StdBufReader::new(&stream);
    let mut line = String::new();
    let mut terminal: Option<crate::password::Input> = None;
    loop {
        line.clear();
        let read = replies.read_line(&mut line).map_err(|e| Error::io("read from the daemon at", &path, e))?;
        if read == 0 {
            return Err(Error::Temporary("the daemon closed the connection before the action ended".into()));
        }
        match crate::json::decode::<Reply>(line.trim_end()) {
            Ok(Reply::Line { text, .. }) => emit(out, &text)?,
            Ok(Reply::Prompt { id, text, secret }) => {
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::io("write", "standard output", e))?;
                if terminal.is_none() {
                    terminal = Some(crate::password::Input::stdin()?);
                }
                let answer = match terminal.as_mut() {
                    Some(input) => input.read_answer(secret, !text.is_empty(), out)?,
                    None => None,
                };
                let reply = Answer {
                    id,
                    eof: answer.is_none(),
                    text: answer.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default(),
                };
                let mut text = reply.serialize_json();
                text.push('\n');
                (&stream).write_all(text.as_bytes()).map_err(|e| Error::io("send to the daemon at", &path, e))?;
            }
            Ok(Reply::Done { exit: 0, .. }) => return Ok(Status::Ok),
            Ok(Reply::Done { exit: 1, error, .. }) if error.is_empty() => return Ok(Status::Problem),
            Ok(Reply::Done { exit, error, .. }) => {
                let message = if error.is_empty() { format!("failed with exit {exit}") } else { error };
                return Err(Error::Remote { exit, message });
            }
            Err(err) => return Err(Error::Problem(format!("unreadable reply from the daemon: {err}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip() {
        let request = Request { id: 7, action: Action::Version { json: false } };
        assert_eq!(Request::deserialize_json(&request.serialize_json()).unwrap(), request);
        for reply in [
            Reply::Line { id: 7, text: "Version: x \"quoted\"".into() },
            Reply::Done { id: 7, exit: 77, error: "permission denied for role support".into() },
            Reply::Done { id: 7, exit: 0, error: String::new() },
            Reply::Prompt { id: 7, text: "(current) UNIX password: ".into(), secret: true },
        ] {
            assert_eq!(Reply::deserialize_json(&reply.serialize_json()).unwrap(), reply);
        }
        let answer = Answer { id: 7, text: "p\"w\\d".into(), eof: false };
        assert_eq!(Answer::deserialize_json(&answer.serialize_json()).unwrap(), answer);
        assert_eq!(
            Reply::Done { id: 7, exit: 0, error: String::new() }.serialize_json(),
            r#"{"Done":{"id":7,"exit":0,"error":""}}"#,
            "strict JSON for other clients"
        );
    }

    #[test]
    fn line_sender_splits_output_into_lines_and_keeps_the_tail() {
        let (tx, rx) = smol::channel::unbounded();
        let mut out = LineSender { events: tx, partial: Vec::new() };
        out.write_all(b"one\ntw").unwrap();
        out.write_all(b"o\nthree").unwrap();
        out.finish();
        drop(out);
        let got: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|event| match event {
                Event::Line(text) => text,
                Event::Prompt { text, .. } => format!("prompt {text}"),
            })
            .collect();
        assert_eq!(got, ["one", "two", "three"]);
    }

    #[test]
    fn group_ids_come_from_the_group_file() {
        let dir = crate::testutil::TempDir::new("daemon-group");
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\nsensorctl:x:4300:support\nbad\n").unwrap();
        let root = RootDir::new(dir.path());
        assert_eq!(group_id(&root, "sensorctl"), Some(4300));
        assert_eq!(group_id(&root, "nope"), None);
    }
}
