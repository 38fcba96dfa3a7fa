//! The daemon's wire format and its limits: newline-delimited JSON on a Unix stream socket.
//!
//! A client sends a [`Request`] — the same validated [`Action`] the command line builds, so
//! the two paths cannot drift apart, and a value that does not validate is refused when the
//! request is decoded. While the action runs the daemon sends [`Reply::Line`] for each output
//! line, [`Reply::Prompt`] for a question (the client answers with [`Followup::Answer`]),
//! [`Reply::Notice`] for a complaint about an answer, and [`Reply::KeepAlive`] every
//! [`KEEPALIVE`] so that a client can tell a long action from a daemon that stopped; then
//! [`Reply::Done`]. The client may send [`Followup::Cancel`] at any time (Ctrl-C). Pure; needs
//! no privileges.
#![forbid(unsafe_code)]

use crate::action::Action;
use crate::paths::RootDir;
use nanoserde::{DeJson, SerJson};
use std::path::PathBuf;
use std::time::Duration;

/// The socket, relative to the root.
pub const SOCKET: &str = "run/sensorctl/sensord.sock";
/// The lock and pid file that keeps a second daemon off the same root, relative to the root.
pub const PID_FILE: &str = "run/sensorctl/sensord.pid";
/// The largest line accepted from a client, in bytes.
pub const MAX_REQUEST: usize = 64 * 1024;
/// A connection that sends no request for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; more are told the daemon is busy (exit 75).
pub const MAX_CONNECTIONS: usize = 256;
/// Connections one uid may have open at once (a login shell needs one at a time).
pub const MAX_CONNECTIONS_PER_UID: usize = 8;
/// While an action runs, the daemon says it is alive this often.
pub const KEEPALIVE: Duration = Duration::from_secs(5);
/// A client that hears nothing from the daemon for this long (no line, no keep-alive) gives
/// up with exit 75: the daemon is stopped or wedged.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(20);
/// A caller that takes no part of a reply for this long (its socket buffer full, so it stopped
/// reading: a stopped process, a paused terminal) is treated as gone and its request cancelled,
/// so that it cannot hold the state lock. As long as a caller waits for a silent daemon.
pub const SEND_WAIT: Duration = SILENCE_LIMIT;
/// How long a state-changing action waits for another one to finish before it is told the
/// daemon is busy (exit 75).
pub const BUSY_WAIT: Duration = Duration::from_secs(2);

/// The socket's path under `root`.
pub fn socket_path(root: &RootDir) -> PathBuf {
    root.resolve(SOCKET)
}

crate::wire::wire_struct! {
    /// A request on the socket (`crate::wire`'s form, not nanoserde's).
    #[derive(Clone, Debug, PartialEq)]
    pub struct Request {
        /// Chosen by the client; echoed in every reply to it.
        pub id: u64,
        /// What to do.
        pub action: Action,
    }
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
    /// The action asks the caller a question (a password, a confirmation): the client shows
    /// `text`, reads a line from its terminal (without echo when `secret`) and sends a
    /// [`Followup::Answer`].
    Prompt {
        /// The request's id.
        id: u64,
        /// The question as the action would print it.
        text: String,
        /// Whether the answer must not be echoed.
        secret: bool,
    },
    /// Something the caller should see on standard error (why an answer was not taken).
    Notice {
        /// The request's id.
        id: u64,
        /// The message, without the `sensorctl: ` prefix.
        text: String,
    },
    /// The action is still running.
    KeepAlive {
        /// The request's id.
        id: u64,
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

/// What a client may send while its request runs.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub enum Followup {
    /// The answer to the pending [`Reply::Prompt`]. Lines sent when no question is pending are
    /// dropped, so a client cannot queue work or memory in the daemon.
    Answer {
        /// The request's id.
        id: u64,
        /// The line typed, without its newline (with `invalid`: why it cannot be an answer).
        text: String,
        /// The caller's input ended instead.
        eof: bool,
        /// The line could not be an answer (control characters, not UTF-8, too long).
        invalid: bool,
    },
    /// Stop the request (Ctrl-C in the caller's terminal); work past its point of no return
    /// completes.
    Cancel {
        /// The request's id.
        id: u64,
    },
}

impl Reply {
    /// The line of this reply on the wire.
    pub fn line(&self) -> String {
        let mut text = self.serialize_json();
        text.push('\n');
        text
    }
}

impl Followup {
    /// The line of this message on the wire.
    pub fn line(&self) -> String {
        let mut text = self.serialize_json();
        text.push('\n');
        text
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_replies_and_followups_round_trip() {
        let request = Request { id: 7, action: Action::Version { json: false } };
        assert_eq!(crate::wire::decode::<Request>(&crate::wire::encode(&request)), Ok(request.clone()));
        // The form nanoserde's derive wrote, which other clients may still write.
        assert_eq!(
            crate::wire::encode(&request),
            r#"{"id":7,"action":{"Version":{"json":false}}}"#
        );
        for reply in [
            Reply::Line { id: 7, text: "Version: x \"quoted\"".into() },
            Reply::Done { id: 7, exit: 77, error: "permission denied for role support".into() },
            Reply::Done { id: 7, exit: 0, error: String::new() },
            Reply::Prompt { id: 7, text: "(current) UNIX password: ".into(), secret: true },
            Reply::Notice { id: 7, text: "answer y or n".into() },
            Reply::KeepAlive { id: 7 },
        ] {
            assert_eq!(Reply::deserialize_json(&reply.serialize_json()).unwrap(), reply);
        }
        for followup in [
            Followup::Answer { id: 7, text: "p\"w\\d".into(), eof: false, invalid: false },
            Followup::Cancel { id: 7 },
        ] {
            assert_eq!(crate::json::decode::<Followup>(followup.line().trim_end()).unwrap(), followup);
        }
        assert_eq!(
            Reply::Done { id: 7, exit: 0, error: String::new() }.serialize_json(),
            r#"{"Done":{"id":7,"exit":0,"error":""}}"#,
            "strict JSON for other clients"
        );
    }

    #[test]
    fn a_request_with_an_invalid_value_is_refused_when_decoded() {
        let good = r#"{"id":1,"action":{"NetworkBlink":{"interface":"eth0","seconds":20}}}"#;
        assert!(crate::wire::decode::<Request>(good).is_ok());
        let import = r#"{"id":1,"action":{"CertImport":{"crt":"Q1JU","key":"S0VZ","chain":null,"pass":"a#b","passphrase_set":false}}}"#;
        let Ok(Request { action: Action::CertImport { crt, pass, .. }, .. }) = crate::wire::decode::<Request>(import) else {
            panic!("{import}")
        };
        assert_eq!((crt.bytes(), pass.map(|p| p.expose().to_string())), (&b"CRT"[..], Some("a#b".to_string())));
        for bad in [
            r#"{"id":1,"action":{"NetworkBlink":{"interface":"eth0;reboot","seconds":20}}}"#,
            r#"{"id":1,"action":{"NetworkBlink":{"interface":"eth0","seconds":0}}}"#,
            r#"{"id":1,"action":{"NetworkBlink":{"interface":"eth0","seconds":99999}}}"#,
            r#"{"id":1,"action":{"Ping":{"address":"255.255.255.255","count":1,"timeout_s":1,"interval_ms":1000}}}"#,
            r#"{"id":1,"action":{"NtpEnable":{"server":"010.0.0.1"}}}"#,
            r#"{"id":1,"action":{"NetworkLimit":{"interface":"eth0","limit":"30Mbps","clear":false}}}"#,
            r#"{"id":1,"action":{"BackupRestore":{"file":"../../etc/shadow","yes":true,"force":false}}}"#,
            r#"{"id":1,"action":{"PasswordReset":{"user":"-rf","password":null,"password_stdin":true,"legacy_alias":false}}}"#,
            r#"{"id":1,"action":{"Upgrade":{"package":"relative.pkg","allow_downgrade":false,"reboot":false,"commit":false,"rollback":false,"status":false,"json":false}}}"#,
            r#"{"id":1,"action":{"CertImport":{"crt":"not base64!","key":"S0VZ","chain":null,"pass":null,"passphrase_set":false}}}"#,
            r#"{"id":1,"action":{"CertImport":{"crt":"Q1JU","key":"S0VZ","chain":null,"pass":"a$b","passphrase_set":false}}}"#,
            r#"{"id":1,"action":{"NetworkReconfigure":{"interface":null,"ip":null,"subnet":"255.0.255.0","gateway":null,"dns":null,"monitors":null,"erspan":null,"backup_dir":null,"yes":true}}}"#,
        ] {
            assert!(crate::wire::decode::<Request>(bad).is_err(), "{bad}");
        }
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
