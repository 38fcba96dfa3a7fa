//! The caller's side of the daemon: sends an action, prints its output as if it had run here,
//! answers its questions on this process's terminal, passes Ctrl-C on as a cancel, and gives up
//! (exit 75) when the daemon falls silent for longer than [`SILENCE_LIMIT`].
//!
//! Needs no privileges: the socket's group is enough.
#![forbid(unsafe_code)]

use super::protocol::*;
use crate::action::Action;
use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::outcome::{emit, Status};
use crate::paths::RootDir;
use crate::prompt::{Echo, Prompter, Reply as Answered};
use crate::sys::poll::{wait_readable_or_signal, Readiness};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// How long the client waits at most before it looks at its cancel token again.
const CANCEL_CHECK: Duration = Duration::from_millis(100);
/// How long a cancelled read-only action has to say how it ended (ping's statistics).
const CANCEL_GRACE: Duration = Duration::from_secs(1);

/// Sends `action` to the daemon under `root` and prints the replies as if the action had run
/// here; questions are asked with `prompter`, Ctrl-C (`cancel`) is passed on.
pub fn call(root: &RootDir, action: &Action, prompter: &mut dyn Prompter, cancel: &Cancel, out: &mut dyn Write) -> Result<Status> {
    let path = socket_path(root);
    let mut stream = UnixStream::connect(&path).map_err(|err| match err.kind() {
        // Outside the socket's group: the caller has no business with the daemon at all.
        io::ErrorKind::PermissionDenied => Error::Denied { role: format!("none (the daemon's socket {}: Permission denied)", path.display()) },
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => Error::Temporary(format!(
            "the sensorctl daemon is not running ({} : {})",
            path.display(),
            crate::error::strip_errno(&err)
        )),
        _ => Error::io("connect to the daemon at", &path, err),
    })?;
    let id = u64::from(std::process::id());
    let mut request = crate::wire::encode(&Request { id, action: action.clone() });
    request.push('\n');
    // A daemon that refuses a connection (too many) answers and closes before it reads the
    // request: then the write fails, and its answer is still there to be read.
    let sent = |stream: &mut UnixStream, text: &str| match stream.write_all(text.as_bytes()) {
        Err(err) if !matches!(err.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset) => {
            Err(Error::Temporary(format!("sending to the daemon at {}: {}", path.display(), crate::error::strip_errno(&err))))
        }
        _ => Ok(()),
    };
    sent(&mut stream, &request)?;
    let mut buffer = Vec::new();
    let mut heard = Instant::now();
    let mut cancel_sent: Option<Instant> = None;
    // A read-only action that does not end soon after a cancel (an HTTP fetch cannot be cut
    // short) is left to end in the daemon; a state change is waited for, to tell its outcome.
    let read_only = !action.kind().changes_state();
    loop {
        if cancel.is_cancelled() && cancel_sent.is_none() {
            // The daemon stops the request (or finishes what is past its point of no return)
            // and still says how it ended.
            sent(&mut stream, &Followup::Cancel { id }.line())?;
            cancel_sent = Some(Instant::now());
        }
        if read_only && cancel_sent.is_some_and(|at| at.elapsed() > CANCEL_GRACE) {
            return Err(Error::Cancelled("stopped".to_string()));
        }
        let Some(at) = buffer.iter().position(|&b| b == b'\n') else {
            if heard.elapsed() > SILENCE_LIMIT {
                return Err(Error::Temporary(format!(
                    "the sensorctl daemon has not answered for {} s; it may be stopped or overloaded",
                    SILENCE_LIMIT.as_secs()
                )));
            }
            let ready = wait_readable_or_signal(&stream, CANCEL_CHECK)
                .map_err(|e| Error::Temporary(format!("waiting for the daemon at {}: {}", path.display(), crate::error::strip_errno(&e))))?;
            match ready {
                Readiness::TimedOut | Readiness::Signal => continue,
                Readiness::Ready => {}
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk) {
                Ok(0) => return Err(Error::Temporary("the daemon closed the connection before the action ended".into())),
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    return Err(Error::Temporary(format!(
                        "reading from the daemon at {}: {}",
                        path.display(),
                        crate::error::strip_errno(&err)
                    )))
                }
            }
            if buffer.len() > MAX_REQUEST * 2 && !buffer.contains(&b'\n') {
                return Err(Error::Problem("unreadable reply from the daemon: a line too long".to_string()));
            }
            continue;
        };
        let line: Vec<u8> = buffer.drain(..=at).collect();
        heard = Instant::now();
        let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
        match crate::json::decode::<Reply>(&text) {
            Ok(Reply::Line { text, .. }) => emit(out, &text)?,
            Ok(Reply::KeepAlive { .. }) => {}
            Ok(Reply::Notice { text, .. }) => {
                let line = crate::validate::console_line(&format!("sensorctl: {text}"));
                let _ = writeln!(io::stderr(), "{line}");
            }
            Ok(Reply::Prompt { id, text, secret }) => {
                out.flush().map_err(|e| Error::io("write", "standard output", e))?;
                let echo = if secret { Echo::Hidden } else { Echo::Shown };
                let answer = match prompter.ask(&text, echo)? {
                    Answered::Line(text) => Followup::Answer { id, text, eof: false, invalid: false },
                    Answered::Invalid(why) => Followup::Answer { id, text: why, eof: false, invalid: true },
                    Answered::End => Followup::Answer { id, text: String::new(), eof: true, invalid: false },
                    Answered::Interrupted => {
                        cancel_sent = Some(Instant::now());
                        Followup::Cancel { id }
                    }
                };
                sent(&mut stream, &answer.line())?;
                // The time a person took to answer is not the daemon's silence.
                heard = Instant::now();
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
