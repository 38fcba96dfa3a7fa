//! The error type of the command layer and the stable exit codes it maps to.
//!
//! Every failure is printed once, by `main`, as `sensorctl: <command>: <error>`; the exit code
//! comes from [`Error::exit_code`]. The codes are part of the interface (scripts and fleet tools
//! rely on them) and are documented in the README. Needs no privileges.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Stable process exit codes (see the README's table).
pub mod exit {
    /// The command did its job.
    pub const OK: u8 = 0;
    /// The command ran and found a problem (service down, mismatch, no reply, bad data file).
    pub const PROBLEM: u8 = 1;
    /// Bad input or usage; nothing was changed.
    pub const USAGE: u8 = 2;
    /// Not supported on this hardware or in this build.
    pub const UNSUPPORTED: u8 = 69;
    /// Temporary failure worth retrying (timeout, lock held, daemon busy).
    pub const TEMPFAIL: u8 = 75;
    /// Permission denied for the caller's role.
    pub const DENIED: u8 = 77;
}

/// What went wrong, with the item it concerns.
#[derive(Debug)]
pub enum Error {
    /// Bad input on the command line or in the shell: exit 2.
    Usage(String),
    /// The role may not run this action: exit 77.
    Denied {
        /// The role the caller acts as (`none` for a user without a role).
        role: String,
    },
    /// This build or this hardware cannot do it: exit 69.
    Unsupported(String),
    /// An operating-system call on a file failed.
    Io {
        /// What was being done (`read config`, `rename`).
        op: &'static str,
        /// The file it was done to.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// A system call that is not about a file failed (reboot(2), clock_settime(2), …).
    Sys {
        /// The call as its C name, with the argument that matters (`reboot(LINUX_REBOOT_CMD_RESTART)`).
        call: &'static str,
        /// Why it failed.
        source: io::Error,
    },
    /// A data file (config, board, state) exists but cannot be used: exit 1.
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The command ran and found a problem: exit 1.
    Problem(String),
    /// Temporarily impossible (the daemon is not running, a lock is held): exit 75.
    Temporary(String),
    /// The operator pressed Ctrl-C, or the caller went away, and the work stopped: exit 1.
    /// The text says what became of it (`nothing was changed`).
    Cancelled(String),
    /// The daemon ran the action for us and it failed: its exit code and message, as they were.
    Remote {
        /// The exit code the action ended with in the daemon.
        exit: u8,
        /// Its error message.
        message: String,
    },
}

impl Error {
    /// Shorthand for an [`Error::Io`].
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io { op, path: path.into(), source }
    }

    /// The exit code for this error (every variant named: adding one forces a decision).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::Denied { .. } => exit::DENIED,
            Error::Unsupported(_) => exit::UNSUPPORTED,
            Error::Io { source, .. } | Error::Sys { source, .. } => match source.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted => {
                    exit::TEMPFAIL
                }
                // The kernel's EPERM/EACCES is not a role denial (77 is that, and only that):
                // the operation failed.
                _ => exit::PROBLEM,
            },
            Error::BadFile { .. } => exit::PROBLEM,
            Error::Problem(_) => exit::PROBLEM,
            Error::Temporary(_) => exit::TEMPFAIL,
            Error::Cancelled(_) => exit::PROBLEM,
            Error::Remote { exit, .. } => *exit,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(what) => f.write_str(what),
            Error::Denied { role } => write!(f, "permission denied for role {role}"),
            Error::Unsupported(what) => write!(f, "not supported: {what}"),
            Error::Io { op, path, source } => {
                write!(f, "{op} {}: {}", path.display(), strip_errno(source))
            }
            Error::Sys { call, source } => write!(f, "{call}: {}", strip_errno(source)),
            Error::BadFile { path, why } => write!(f, "{}: {why}", path.display()),
            Error::Problem(what) => f.write_str(what),
            Error::Temporary(what) => f.write_str(what),
            Error::Cancelled(what) => write!(f, "cancelled: {what}"),
            Error::Remote { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

/// `io::Error`'s Display ends in ` (os error N)`; operators need the words, not the number.
pub fn strip_errno(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The result type of the command layer.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_display_names_operation_path_and_reason_without_errno() {
        let err = Error::io(
            "read config",
            "/etc/sensorctl/config.json",
            io::Error::from_raw_os_error(2),
        );
        assert_eq!(
            err.to_string(),
            "read config /etc/sensorctl/config.json: No such file or directory"
        );
        assert_eq!(err.exit_code(), exit::PROBLEM);
    }

    #[test]
    fn exit_codes_follow_the_readme_table() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Error::Denied { role: "support".into() }.exit_code(), 77);
        assert_eq!(Error::Unsupported("x".into()).exit_code(), 69);
        let busy = Error::io("lock", "/x", io::Error::from(io::ErrorKind::WouldBlock));
        assert_eq!(busy.exit_code(), 75);
        let eperm = Error::Sys { call: "reboot(LINUX_REBOOT_CMD_RESTART)", source: io::Error::from_raw_os_error(1) };
        assert_eq!(eperm.exit_code(), 1, "the kernel's EPERM is not a role denial");
        let eacces = Error::io("open", "/x", io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(eacces.exit_code(), 1);
        assert_eq!(eperm.to_string(), "reboot(LINUX_REBOOT_CMD_RESTART): Operation not permitted");
    }
}
