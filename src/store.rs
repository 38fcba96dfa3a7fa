//! Atomic, durable file replacement: the only way sensorctl changes a file.
//!
//! write a temporary file in the same directory → fsync it → rename it over the target →
//! fsync the directory. A crash or a kill at any instant leaves either the old file or the new
//! one under the target name, never a torn one; after `replace` returns, the new file survives a
//! power cut. The new file keeps the old one's mode and owner, or gets 0600 for secrets.
//!
//! Needs write access to the target's directory (and root to keep another user's ownership).
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Who may read the file once written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Keep the existing file's mode and owner; a new file gets 0644.
    Preserve,
    /// 0600, whatever the file had before: keys, hashes, secrets.
    Secret,
}

/// Replaces `path` with `contents` atomically and durably (see the module doc).
pub fn replace(path: &Path, contents: &[u8], mode: Mode) -> Result<()> {
    stage(path, contents, mode)?.commit()
}

/// A new version of a file, written and fsynced beside it under a temporary name but not yet
/// in place: [`Staged::commit`] renames it over the target; dropping it uncommitted removes
/// it. Changes to several files that must happen together stage them all first.
#[derive(Debug)]
pub struct Staged {
    temp: PathBuf,
    target: PathBuf,
    done: bool,
}

impl Staged {
    /// The temporary file.
    pub fn temp(&self) -> &Path {
        &self.temp
    }

    /// The file it will replace.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Leaves the temporary file in place on drop (a journal now names it).
    pub fn keep(mut self) -> PathBuf {
        self.done = true;
        self.temp.clone()
    }

    /// Renames the temporary file over the target and makes the rename durable.
    pub fn commit(mut self) -> Result<()> {
        fs::rename(&self.temp, &self.target).map_err(|e| Error::io("rename into place", &self.target, e))?;
        self.done = true;
        sync_dir(&parent_dir(&self.target))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Everything [`replace`] does but the rename: the new contents, with the old file's mode and
/// owner (or as `mode` says), in a fsynced temporary file beside `path`.
pub fn stage(path: &Path, contents: &[u8], mode: Mode) -> Result<Staged> {
    let dir = parent_dir(path);
    let old = match fs::metadata(path) {
        Ok(meta) => Some(meta),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(Error::io("stat", path, err)),
    };
    remove_stale_temps(&dir, path);
    let (temp_path, mut temp) = create_temp(&dir, path)?;
    let result = (|| {
        let permissions = match (mode, &old) {
            (Mode::Secret, _) => 0o600,
            (Mode::Preserve, Some(meta)) => meta.mode() & 0o7777,
            (Mode::Preserve, None) => 0o644,
        };
        temp.set_permissions(fs::Permissions::from_mode(permissions))
            .map_err(|e| Error::io("chmod", &temp_path, e))?;
        if let Some(meta) = &old {
            // Keep the owner (e.g. root:shadow on /etc/shadow). Only root can give a file away;
            // for anyone else the file is already theirs or the rename below would fail anyway.
            if (meta.uid(), meta.gid()) != current_owner(&temp, &temp_path)? {
                std::os::unix::fs::fchown(&temp, Some(meta.uid()), Some(meta.gid()))
                    .map_err(|e| Error::io("chown", &temp_path, e))?;
            }
        }
        temp.write_all(contents).map_err(|e| Error::io("write", &temp_path, e))?;
        temp.sync_all().map_err(|e| Error::io("fsync", &temp_path, e))
    })();
    // From here the temporary file is removed on every failure (and on drop).
    let staged = Staged { temp: temp_path, target: path.to_path_buf(), done: false };
    result.map(|()| staged)
}

/// Opens (creating it 0600, and its directory with `dir_mode`) the lock file at `path` and
/// takes an exclusive flock(2) on it without waiting; held until the returned file is dropped,
/// released by the kernel also when the process is killed. Held by another: a temporary
/// failure (exit 75) saying `busy`, and nothing was changed.
pub fn lock_exclusive(path: &Path, dir_mode: u32, busy: &str) -> Result<File> {
    if let Some(dir) = path.parent() {
        create_dir_all(dir, dir_mode)?;
    }
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    match crate::sys::fs::try_lock_exclusive(&file) {
        Ok(()) => Ok(file),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => Err(Error::Temporary(format!("{busy}; try again"))),
        Err(err) => Err(Error::io("lock", path, err)),
    }
}

/// Creates the directory `dir` and its parents with `mode` for the ones it makes, then makes the
/// new entries durable.
pub fn create_dir_all(dir: &Path, mode: u32) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_all(parent, mode)?;
    }
    match fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(err) => return Err(Error::io("create directory", dir, err)),
    }
    sync_dir(&parent_dir(dir))
}

/// fsync(2) on a directory, so that a rename or a new entry in it survives a power cut.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|e| Error::io("fsync directory", dir, e))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn current_owner(file: &File, path: &Path) -> Result<(u32, u32)> {
    let meta = file.metadata().map_err(|e| Error::io("stat", path, e))?;
    Ok((meta.uid(), meta.gid()))
}

/// Removes the temporary files of `target` that a killed writer left behind (`.<name>.tmp-<pid>-<n>`
/// whose process is gone): without this every kill at the wrong instant leaves one more copy of
/// the file, a secret's too, beside it. A writer that is still running keeps its file. Best effort:
/// a leftover that cannot be removed stays until the next write.
fn remove_stale_temps(dir: &Path, target: &Path) {
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        let Some(pid) = rest.split_once('-').and_then(|(pid, n)| {
            n.parse::<u32>().ok()?;
            pid.parse::<u32>().ok()
        }) else {
            continue;
        };
        let gone = match crate::sys::procfs::stat(pid) {
            Ok(stat) => stat.is_dead(),
            Err(err) => err.kind() == io::ErrorKind::NotFound,
        };
        if pid != std::process::id() && gone {
            log::info!("removing {}: left by a writer that was killed", entry.path().display());
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Opens a fresh temporary file beside `target`, named `.<name>.tmp-<pid>-<n>` so that a crash
/// leftover is recognisable and can never be mistaken for the real file.
fn create_temp(dir: &Path, target: &Path) -> Result<(PathBuf, File)> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp_path = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp_path) {
            Ok(file) => return Ok((temp_path, file)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(Error::io("create temporary file", &temp_path, err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn a_held_lock_is_a_temporary_failure_that_names_the_holder() {
        let dir = TempDir::new("store-lock");
        let path = dir.path().join("state/x.lock");
        let held = lock_exclusive(&path, 0o700, "another x is running").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777, 0o700);
        let busy = lock_exclusive(&path, 0o700, "another x is running").unwrap_err();
        assert_eq!(busy.exit_code(), 75);
        assert_eq!(busy.to_string(), "another x is running; try again");
        drop(held);
        assert!(lock_exclusive(&path, 0o700, "another x is running").is_ok());
    }

    #[test]
    fn a_write_removes_the_temporary_files_killed_writers_left() {
        let dir = TempDir::new("store-stale");
        let target = dir.path().join("config.json");
        // A pid above pid_max (4194304 at most) is certainly no running process.
        let dead = dir.path().join(".config.json.tmp-4999999-0");
        let live = dir.path().join(format!(".config.json.tmp-{}-999", std::process::id()));
        let other = dir.path().join(".other.json.tmp-4999999-0");
        for leftover in [&dead, &live, &other] {
            fs::write(leftover, b"half").unwrap();
        }
        replace(&target, b"new", Mode::Preserve).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(!dead.exists(), "a dead writer's temporary file stays");
        assert!(live.exists(), "a running writer's temporary file was removed");
        assert!(other.exists(), "another file's temporary file was removed");
    }

    #[test]
    fn replaces_content_and_keeps_mode() {
        let dir = TempDir::new("store");
        let target = dir.path().join("file");
        replace(&target, b"one", Mode::Preserve).unwrap();
        assert_eq!(fs::metadata(&target).unwrap().mode() & 0o777, 0o644);
        fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
        replace(&target, b"two", Mode::Preserve).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        assert_eq!(fs::metadata(&target).unwrap().mode() & 0o777, 0o640);
        replace(&target, b"secret", Mode::Secret).unwrap();
        assert_eq!(fs::metadata(&target).unwrap().mode() & 0o777, 0o600);
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file may be left behind");
    }

    #[test]
    fn failure_leaves_the_old_file_and_no_temporary() {
        let dir = TempDir::new("store-fail");
        let target = dir.path().join("file");
        fs::write(&target, b"old").unwrap();
        // A directory cannot be renamed over by a file: the rename fails after the temp exists.
        let blocker = dir.path().join("sub");
        fs::create_dir(&blocker).unwrap();
        fs::write(blocker.join("x"), b"").unwrap();
        assert!(replace(&blocker, b"new", Mode::Preserve).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"old");
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    }

    #[test]
    fn creates_directories_with_mode() {
        let dir = TempDir::new("store-dirs");
        let deep = dir.path().join("a/b/c");
        create_dir_all(&deep, 0o750).unwrap();
        assert!(deep.is_dir());
        assert_eq!(fs::metadata(&deep).unwrap().mode() & 0o777, 0o750);
    }
}
