//! `<root>/etc/shadow`: reading a user's hash, and replacing it the way the shadow suite does —
//! under the `/etc/.pwd.lock` lock that lckpwdf(3) takes, atomically (temporary file, fsync,
//! rename, fsync of the directory), with the file's mode and owner kept and every other line
//! byte for byte as it was. Only the hash and the last-change field (days since 1970-01-01) of
//! the one user change.
//!
//! Reading needs read access to the shadow file; changing it needs root (or whatever owns /etc).
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use crate::paths::RootDir;
use crate::store;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The shadow file, relative to the root.
pub const SHADOW_FILE: &str = "etc/shadow";
/// The lock file of lckpwdf(3), relative to the root.
pub const LOCK_FILE: &str = "etc/.pwd.lock";
/// How long lckpwdf(3) waits for the lock (glibc: 15 s, by alarm(2)).
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(15);
const RETRY_EVERY: Duration = Duration::from_millis(50);

/// The held `/etc/.pwd.lock` lock; released when dropped (the descriptor is closed).
pub struct PwdLock {
    _file: File,
}

/// Takes the lock as lckpwdf(3) does: opens (creating, 0600) the lock file and takes a write
/// record lock on it, waiting up to `timeout`. A lock still held then is a temporary failure
/// (exit 75) and nothing is changed.
pub fn lock(root: &RootDir, timeout: Duration) -> Result<PwdLock> {
    let path = root.resolve(LOCK_FILE);
    // Never through a link (a link planted there would make root create or lock its target).
    let file = store::open_lock_file(&path, None)?;
    let deadline = crate::sys::clock::monotonic() + timeout;
    let mut said = false;
    loop {
        if crate::sys::filelock::try_write_lock(&file).map_err(|e| Error::io("lock", &path, e))? {
            return Ok(PwdLock { _file: file });
        }
        if crate::sys::clock::monotonic() >= deadline {
            return Err(Error::io(
                "lock",
                &path,
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "another program holds the password-file lock (waited {} s); nothing was changed, try again",
                        timeout.as_secs()
                    ),
                ),
            ));
        }
        if !said {
            log::info!("waiting for {} (held by another program)", path.display());
            said = true;
        }
        std::thread::sleep(RETRY_EVERY);
    }
}

/// The shadow file's path under `root`.
pub fn path(root: &RootDir) -> PathBuf {
    root.resolve(SHADOW_FILE)
}

/// The whole shadow file.
pub fn read(root: &RootDir) -> Result<Vec<u8>> {
    let path = path(root);
    std::fs::read(&path).map_err(|e| Error::io("read", &path, e))
}

/// The hash field of `user`'s line, if the file has a line for them.
pub fn hash_of(shadow: &[u8], user: &str) -> Option<String> {
    shadow
        .split(|&b| b == b'\n')
        .find(|line| line.split(|&b| b == b':').next() == Some(user.as_bytes()))
        .and_then(|line| line.split(|&b| b == b':').nth(1))
        .map(|field| String::from_utf8_lossy(field).into_owned())
}

/// `shadow` with `user`'s hash set to `hash` and last change to `day`; every other byte is
/// kept. Errors when the user has no line, or it is not a nine-field shadow(5) line.
pub fn with_new_hash(shadow: &[u8], user: &str, hash: &str, day: i64, path: &Path) -> Result<Vec<u8>> {
    let bad = |why: String| Error::BadFile { path: path.to_path_buf(), why };
    if hash.bytes().any(|b| b == b':' || b == b'\n') {
        return Err(bad("refusing a hash with ':' or a newline".to_string()));
    }
    let mut out = Vec::with_capacity(shadow.len() + 128);
    let mut found = false;
    let mut lines = shadow.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let is_last = lines.peek().is_none();
        let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
        if fields[0] == user.as_bytes() && !found {
            if fields.len() != 9 {
                return Err(bad(format!("the line of '{user}' has {} fields, not 9", fields.len())));
            }
            found = true;
            out.extend_from_slice(user.as_bytes());
            out.push(b':');
            out.extend_from_slice(hash.as_bytes());
            out.push(b':');
            out.extend_from_slice(day.to_string().as_bytes());
            for field in &fields[3..] {
                out.push(b':');
                out.extend_from_slice(field);
            }
        } else {
            out.extend_from_slice(line);
        }
        if !is_last {
            out.push(b'\n');
        }
    }
    if !found {
        return Err(bad(format!("no line for user '{user}'")));
    }
    Ok(out)
}

/// Replaces `user`'s hash while `_lock` is held: reads the file, rewrites it atomically and
/// durably with the same mode and owner.
pub fn set_hash(root: &RootDir, user: &str, hash: &str, _lock: &PwdLock) -> Result<()> {
    let path = path(root);
    remove_stale_temporaries(&path);
    let old = read(root)?;
    let (now, _) = crate::sys::clock::realtime();
    let new = with_new_hash(&old, user, hash, now.div_euclid(86_400), &path)?;
    // Debian's 0640 when the old file cannot lend its mode (it was a link, say): never 0644.
    store::replace(&path, &new, store::Mode::PreserveOr(0o640))
}

/// Removes the temporary files (`.<name>.tmp-*`, see [`crate::store`]) that a killed writer
/// left beside `target`. Call it only while holding the lock all writers of `target` take: then
/// no writer can be busy with one, so any that exist are leftovers (they may hold hashes, which
/// must not lie around).
pub fn remove_stale_temporaries(target: &Path) {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else { return };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            log::info!("removing {}, left by an interrupted write", entry.path().display());
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHADOW: &[u8] = b"root:$y$j9T$abc$def:19000:0:99999:7:::\n\
        daemon:*:19000:0:99999:7:::\n\
        support:$6$old$hash:19000:0:99999:7:::\n\
        cyberx:!:19000:0:99999:7:::\n";

    #[test]
    fn only_the_users_hash_and_last_change_change() {
        let new = with_new_hash(SHADOW, "support", "$6$new$h", 20000, Path::new("s")).unwrap();
        assert_eq!(
            new,
            b"root:$y$j9T$abc$def:19000:0:99999:7:::\n\
              daemon:*:19000:0:99999:7:::\n\
              support:$6$new$h:20000:0:99999:7:::\n\
              cyberx:!:19000:0:99999:7:::\n"
                .to_vec()
        );
        assert_eq!(hash_of(&new, "support").as_deref(), Some("$6$new$h"));
        assert_eq!(hash_of(&new, "root").as_deref(), Some("$y$j9T$abc$def"));
        assert_eq!(hash_of(&new, "nobody"), None);
        // No final newline stays no final newline.
        let trimmed = &SHADOW[..SHADOW.len() - 1];
        let new = with_new_hash(trimmed, "cyberx", "$6$x$y", 1, Path::new("s")).unwrap();
        assert!(new.ends_with(b"cyberx:$6$x$y:1:0:99999:7:::"));
    }

    #[test]
    fn a_missing_user_a_bad_line_or_a_bad_hash_is_refused() {
        assert!(with_new_hash(SHADOW, "ghost", "$6$a$b", 1, Path::new("s")).is_err());
        assert!(with_new_hash(b"support:x:1\n", "support", "$6$a$b", 1, Path::new("s")).is_err());
        assert!(with_new_hash(SHADOW, "support", "$6$a:b", 1, Path::new("s")).is_err());
        // A user name that is a prefix of another's does not match it.
        assert!(with_new_hash(SHADOW, "supp", "$6$a$b", 1, Path::new("s")).is_err());
    }
}
