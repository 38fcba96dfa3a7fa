//! Atomic, durable file replacement: the only way sensorctl changes a file; and the other ways
//! it writes under the root (lock files, appended logs, directories), all of which never follow
//! a symbolic link.
//!
//! Replacing: write a temporary file in the same directory → fsync it → rename it over the
//! target → fsync the directory. A crash or a kill at any instant leaves either the old file or
//! the new one under the target name, never a torn one; after `replace` returns, the new file
//! survives a power cut.
//!
//! Links: the directory written in is reached from the trusted root prefix one component at a
//! time with `O_NOFOLLOW` ([`crate::sys::fs::open_dir_beneath`], from
//! [`crate::paths::write_base`]), so no directory below the root may be a symbolic link; the
//! file itself is opened, created, examined and renamed relative to that directory descriptor,
//! with `O_NOFOLLOW`, `O_EXCL` or `AT_SYMLINK_NOFOLLOW`: a link planted at the target is
//! replaced (by the rename) or refused (for appends and locks), never followed.
//!
//! Ownership comes from the file's spec ([`Mode`]), never from what is at the path: the new file
//! belongs to the writer (root on an appliance), a secret is 0600, and the group and mode of the
//! file being replaced are kept only when it is a regular file that already belongs to the
//! writer (so root's `/etc/shadow` stays `root:shadow 0640`, and a file someone else placed, or
//! a link to one, can never hand its owner a secret).
//!
//! Needs write access to the target's directory.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Who may read the file once written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Owned by the writer; a new file gets 0644, a replaced one keeps the mode and group it
    /// had if it was a regular file owned by the writer (a link or another user's file: 0644).
    Preserve,
    /// [`Mode::Preserve`] with another mode than 0644 for a new file (or one that replaces a
    /// link or another user's file): `/etc/shadow`'s 0640.
    PreserveOr(u32),
    /// 0600 and owned by the writer, whatever was there before: keys, hashes, secrets.
    Secret,
}

/// A directory under the root, opened for writing in without following links.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Opens `dir` (creating it and its missing parents with `create` mode when given).
    pub fn open(dir: &Path, create: Option<u32>) -> Result<Dir> {
        let (base, rel) = crate::paths::write_base(dir);
        let fd =
            crate::sys::fs::open_dir_beneath(&base, &rel, create).map_err(|e| Error::io("open directory", dir, e))?;
        Ok(Dir { fd, path: dir.to_path_buf() })
    }

    /// The directory's path (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// fsync(2) on the directory, so that a rename or a new entry in it survives a power cut.
    pub fn sync(&self) -> Result<()> {
        fsync_fd(&self.fd).map_err(|e| Error::io("fsync directory", &self.path, e))
    }

    /// Opens the regular file `name` here for writing (appending with `append`), creating it
    /// with `mode`; a link or anything but a regular file is refused.
    pub fn open_file(&self, name: &OsStr, append: bool, mode: u32) -> Result<File> {
        crate::sys::fs::open_file_at(&self.fd, name, append, mode)
            .map_err(|e| Error::io("open", self.path.join(name), e))
    }

    /// A new regular file `name` here (`O_EXCL`: an existing name, a link too, fails).
    pub fn create_new(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        crate::sys::fs::create_new_at(&self.fd, name, mode)
    }

    /// Renames `from` over `to`, both here.
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> Result<()> {
        crate::sys::fs::rename_at(&self.fd, from, to).map_err(|e| Error::io("rename into place", self.path.join(to), e))
    }
}

fn fsync_fd(fd: &OwnedFd) -> io::Result<()> {
    // A directory descriptor: fsync works on any open description.
    File::from(fd.try_clone()?).sync_all()
}

fn file_name(path: &Path) -> Result<OsString> {
    path.file_name()
        .map(OsStr::to_os_string)
        .ok_or_else(|| Error::io("write", path, io::Error::new(io::ErrorKind::InvalidInput, "no file name")))
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
    dir: Dir,
    temp_name: OsString,
    name: OsString,
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

    /// Renames the temporary file over the target (both relative to the directory opened
    /// without following links) and makes the rename durable.
    pub fn commit(mut self) -> Result<()> {
        self.dir.rename(&self.temp_name, &self.name)?;
        self.done = true;
        self.dir.sync()
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = crate::sys::fs::unlink_at(&self.dir.fd, &self.temp_name);
        }
    }
}

/// Everything [`replace`] does but the rename: the new contents, with the old file's mode and
/// owner (or as `mode` says), in a fsynced temporary file beside `path`.
pub fn stage(path: &Path, contents: &[u8], mode: Mode) -> Result<Staged> {
    let dir = Dir::open(&parent_dir(path), None)?;
    let name = file_name(path)?;
    let old = crate::sys::fs::entry_at(&dir.fd, &name).map_err(|e| Error::io("stat", path, e))?;
    remove_stale_temps(&dir, &name);
    let (temp_name, mut temp) = create_temp(&dir, &name)?;
    let temp_path = dir.path.join(&temp_name);
    let result = (|| {
        let writer = crate::sys::ids::effective_ids().0;
        let (permissions, group) = match (mode, old) {
            (Mode::Secret, _) => (0o600, None),
            (Mode::Preserve | Mode::PreserveOr(_), Some((true, uid, gid, bits))) if uid == writer => {
                (bits & 0o0777, Some(gid))
            }
            (Mode::Preserve, _) => (0o644, None),
            (Mode::PreserveOr(bits), _) => (bits & 0o0777, None),
        };
        if let Some(gid) = group {
            if Some(gid) != temp.metadata().ok().map(|m| std::os::unix::fs::MetadataExt::gid(&m)) {
                std::os::unix::fs::fchown(&temp, None, Some(gid)).map_err(|e| Error::io("chown", &temp_path, e))?;
            }
        }
        temp.set_permissions(fs::Permissions::from_mode(permissions)).map_err(|e| Error::io("chmod", &temp_path, e))?;
        temp.write_all(contents).map_err(|e| Error::io("write", &temp_path, e))?;
        temp.sync_all().map_err(|e| Error::io("fsync", &temp_path, e))
    })();
    // From here the temporary file is removed on every failure (and on drop).
    let staged = Staged { dir, temp_name, name, temp: temp_path, target: path.to_path_buf(), done: false };
    result.map(|()| staged)
}

/// Opens (creating it 0600, and its directory with `dir_mode`) the lock file at `path` and
/// takes an exclusive flock(2) on it without waiting; held until the returned file is dropped,
/// released by the kernel also when the process is killed. Held by another: a temporary
/// failure (exit 75) saying `busy`, and nothing was changed.
pub fn lock_exclusive(path: &Path, dir_mode: u32, busy: &str) -> Result<File> {
    let file = open_lock_file(path, Some(dir_mode))?;
    match crate::sys::fs::try_lock_exclusive(&file) {
        Ok(()) => Ok(file),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => Err(Error::Temporary(format!("{busy}; try again"))),
        Err(err) => Err(Error::io("lock", path, err)),
    }
}

/// Opens (creating it 0600) the lock file at `path`, its directory made with `dir_mode` when
/// given and missing; a link there is refused, never followed.
pub fn open_lock_file(path: &Path, dir_mode: Option<u32>) -> Result<File> {
    let dir = Dir::open(&parent_dir(path), dir_mode)?;
    dir.open_file(&file_name(path)?, false, 0o600).map_err(|e| match e {
        Error::Io { source, .. } => Error::io("open lock file", path, source),
        other => other,
    })
}

/// Opens the log at `path` for appending (creating it 0600, and its directory with
/// `dir_mode`); a link there is refused, never followed. Returns the file and whether it was
/// created now (its directory entry then needs an fsync of the directory, returned too).
pub fn open_append(path: &Path, dir_mode: u32) -> Result<(File, Option<Dir>)> {
    let dir = Dir::open(&parent_dir(path), Some(dir_mode))?;
    let name = file_name(path)?;
    let existed = crate::sys::fs::entry_at(&dir.fd, &name).map_err(|e| Error::io("stat", path, e))?.is_some();
    let file = dir.open_file(&name, true, 0o600)?;
    Ok((file, (!existed).then_some(dir)))
}

/// Creates the directory `dir` and its parents with `mode` for the ones it makes, then makes the
/// new entries durable; no directory on the way below the root may be a link.
pub fn create_dir_all(dir: &Path, mode: u32) -> Result<()> {
    Dir::open(dir, Some(mode)).map(|_| ())
}

/// fsync(2) on a directory, so that a rename or a new entry in it survives a power cut.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|handle| handle.sync_all()).map_err(|e| Error::io("fsync directory", dir, e))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Removes the temporary files of `target` that a killed writer left behind (`.<name>.tmp-<pid>-<n>`
/// whose process is gone): without this every kill at the wrong instant leaves one more copy of
/// the file, a secret's too, beside it. A writer that is still running keeps its file. Best effort:
/// a leftover that cannot be removed stays until the next write.
fn remove_stale_temps(dir: &Dir, target: &OsStr) {
    let prefix = format!(".{}.tmp-", target.to_string_lossy());
    let Ok(entries) = fs::read_dir(&dir.path) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Some(pid) = rest.split_once('-').and_then(|(pid, n)| {
            n.parse::<u32>().ok()?;
            pid.parse::<u32>().ok()
        }) else {
            continue;
        };
        if writer_is_gone(pid) {
            log::info!("removing {}: left by a writer that was killed", entry.path().display());
            let _ = crate::sys::fs::unlink_at(&dir.fd, &file_name);
        }
    }
}

/// Whether the process `pid`, which named a leftover file after itself, is gone (ended, or a
/// zombie); never true of this process. A pid reused since stays "not gone": its leftover waits.
pub fn writer_is_gone(pid: u32) -> bool {
    let gone = match crate::sys::procfs::stat(pid) {
        Ok(stat) => stat.is_dead(),
        Err(err) => err.kind() == io::ErrorKind::NotFound,
    };
    pid != std::process::id() && gone
}

/// Opens a fresh temporary file beside `target`, named `.<name>.tmp-<pid>-<n>` so that a crash
/// leftover is recognisable and can never be mistaken for the real file.
fn create_temp(dir: &Dir, target: &OsStr) -> Result<(OsString, File)> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp_name = OsString::from(format!(".{}.tmp-{}-{n}", target.to_string_lossy(), std::process::id()));
        match dir.create_new(&temp_name, 0o600) {
            Ok(file) => return Ok((temp_name, file)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(Error::io("create temporary file", dir.path.join(&temp_name), err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::fs::MetadataExt;

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
        let names: Vec<String> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
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
