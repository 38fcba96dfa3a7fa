//! The append-only audit log, `<root>/var/log/sensorctl/audit.log`: one line per password
//! change, failed or refused login, action the policy denies (any kind, `result=denied`),
//! scheduled backup, and every privileged action: network reconfigure and limit, backup and
//! restore (written by `action::run` with how they ended), certificate changes and upgrades.
//!
//! A line is `time uid=… user=… role=… action=… target=… result=…`, the time in ISO 8601 UTC:
//!
//! ```text
//! 2024-05-01T12:00:00Z uid=0 user=root role=cyberx action=password-reset target=support result=ok
//! ```
//!
//! Values made only of `[A-Za-z0-9._:@/+,-]` are written as they are; others are quoted, with
//! `"`, `\` and any byte outside printable ASCII written as `\xNN`, so one entry is always one
//! line and a user name or host cannot forge another entry. Callers pass what was done and how
//! it ended, never a password. Each line is one `write(2)` on a descriptor opened with
//! `O_APPEND` (so concurrent writers never interleave within a line), then fsync(2). The file is
//! created 0600 in a 0750 directory.
//!
//! Needs write access to the log directory (root on an appliance).
#![forbid(unsafe_code)]

use crate::context::Context;
use crate::error::{Error, Result};
use crate::role::Caller;
use crate::time::Utc;
use std::io::Write;
use std::path::Path;

/// The audit log, relative to the root.
pub const AUDIT_LOG: &str = "var/log/sensorctl/audit.log";

/// Appends an entry for `action` on `target` with `result` (`ok`, `denied`, `failed: …`), as
/// the caller of `ctx`. An audit log that cannot be written does not undo or fail the action it
/// records (that has already happened); it is reported on stderr as a warning instead.
pub fn record(ctx: &Context, action: &str, target: &str, result: &str) {
    let path = ctx.root.resolve(AUDIT_LOG);
    let (now, _) = crate::sys::clock::realtime();
    let line = format_line(now, &ctx.caller, action, target, result);
    if let Err(err) = append(&path, &line) {
        log::debug!("audit entry not written: {line}");
        let _ = writeln!(std::io::stderr(), "sensorctl: warning: audit log: {err}");
    }
}

/// One entry, without its newline.
pub fn format_line(unix_time: i64, caller: &Caller, action: &str, target: &str, result: &str) -> String {
    format!(
        "{} uid={} user={} role={} action={} target={} result={}",
        Utc::from_unix(unix_time).iso8601(),
        caller.uid,
        value(&caller.user_name()),
        value(caller.role.name()),
        value(action),
        value(target),
        value(result)
    )
}

/// Appends `line` and a newline to the log at `path` in one write, then makes it durable. The
/// log is opened with `O_NOFOLLOW` in a directory reached without following a link
/// ([`crate::store::open_append`]): a link planted at the log's path fails the append, and
/// never makes root append to the file it points at.
pub fn append(path: &Path, line: &str) -> Result<()> {
    let (mut file, created) = crate::store::open_append(path, 0o750)?;
    let mut entry = String::with_capacity(line.len() + 1);
    entry.push_str(line);
    entry.push('\n');
    file.write_all(entry.as_bytes()).map_err(|e| Error::io("append to", path, e))?;
    file.sync_data().map_err(|e| Error::io("fsync", path, e))?;
    if let Some(dir) = created {
        dir.sync()?;
    }
    Ok(())
}

/// The longest value an entry keeps, in bytes: a hostile 100 KiB argument must not flood the
/// log (user names are at most 32 bytes, host names 253).
const VALUE_MAX: usize = 256;

/// A field value: bare when it is short and made of safe characters, else quoted and escaped,
/// and cut after [`VALUE_MAX`] bytes with `...(+N bytes)`.
fn value(text: &str) -> String {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"._:@/+,-".contains(&b);
    if !text.is_empty() && text.len() <= VALUE_MAX && text.bytes().all(safe) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len().min(VALUE_MAX) + 2);
    out.push('"');
    let kept = &text.as_bytes()[..text.len().min(VALUE_MAX)];
    for &byte in kept {
        if (0x20..0x7f).contains(&byte) && byte != b'"' && byte != b'\\' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    if kept.len() < text.len() {
        out.push_str(&format!("...(+{} bytes)", text.len() - kept.len()));
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Role;
    use crate::testutil::TempDir;
    use std::os::unix::fs::PermissionsExt;

    fn caller() -> Caller {
        let passwd = "root:x:0:0::/root:/bin/sh\n";
        Caller::identify(0, Some(passwd), &[]).act_as(Role::Cyberx).unwrap()
    }

    #[test]
    fn a_line_has_every_field_and_cannot_be_split_or_forged() {
        let line = format_line(1_664_476_703, &caller(), "password-reset", "support", "ok");
        assert_eq!(
            line,
            "2022-09-29T18:38:23Z uid=0 user=root role=cyberx action=password-reset target=support result=ok"
        );
        let forged = format_line(0, &caller(), "login", "x\n1970-01-01T00:00:00Z uid=0 result=ok", "failed: wrong password");
        assert_eq!(forged.lines().count(), 1);
        assert!(forged.contains("target=\"x\\x0a1970-01-01T00:00:00Z uid=0 result=ok\""), "{forged}");
        assert!(forged.ends_with("result=\"failed: wrong password\""), "{forged}");
        assert_eq!(value(""), "\"\"");
        assert_eq!(value("a\"b\\c"), "\"a\\x22b\\x5cc\"");
        // A flood is cut, and says by how much.
        let long = value(&"a".repeat(100 * 1024));
        assert_eq!(long, format!("\"{}...(+{} bytes)\"", "a".repeat(VALUE_MAX), 100 * 1024 - VALUE_MAX));
        assert_eq!(value(&"a".repeat(VALUE_MAX)), "a".repeat(VALUE_MAX));
    }

    #[test]
    fn entries_are_appended_to_a_0600_file() {
        let dir = TempDir::new("audit");
        let path = dir.path().join("var/log/sensorctl/audit.log");
        append(&path, "one").unwrap();
        append(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let log_dir = path.parent().unwrap();
        assert_eq!(std::fs::metadata(log_dir).unwrap().permissions().mode() & 0o777, 0o750);
    }
}
