//! Filesystem calls std has no wrapper for, or makes in more than one system call: atomic
//! exchange and no-replace renames, creation of a new file, advisory locks, filesystem
//! statistics, syncfs and page-cache advice.
//!
//! Each needs only the access its paths need (write access to the directories renamed in, read
//! access to a file to lock it).

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// `renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)`: swaps two existing paths (files or
/// directories) in one atomic step; both must be on the same filesystem.
///
/// # References
/// - [rename(2)](https://man7.org/linux/man-pages/man2/rename.2.html)
#[doc(alias = "renameat2")]
pub fn rename_exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}

/// `renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE)`: renames, failing with EEXIST
/// instead of replacing an existing `to`.
#[doc(alias = "renameat2")]
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(io::Error::from)
}

/// `openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)`:
/// creates a new regular file for writing; an existing name (also a symbolic link) fails with
/// `AlreadyExists`, and the mode is subject to the umask.
///
/// One system call: std's `OpenOptions` on musl follows every open with an
/// `fcntl(F_SETFD, FD_CLOEXEC)` for kernels older than 2.6.23, which is a second call per file
/// for an extraction of thousands.
///
/// # References
/// - [open(2)](https://man7.org/linux/man-pages/man2/open.2.html)
#[doc(alias = "openat")]
pub fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    use rustix::fs::{openat, Mode, OFlags, CWD};
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    openat(CWD, path, flags, Mode::from_raw_mode(mode)).map(File::from).map_err(io::Error::from)
}

/// Opens the directory `base/rel` for writing beneath it: `open(base, O_DIRECTORY)` (the trusted
/// base: the root prefix, which may itself be reached through links), then one
/// `openat(dir, component, O_DIRECTORY | O_NOFOLLOW)` per component of `rel`, so that no
/// component below `base` may be a symbolic link (ELOOP or ENOTDIR): what
/// `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` does on kernels that have it, here on every
/// kernel and under qemu-user. With `create`, a missing component is made with
/// `mkdirat(dir, component, mode)` (subject to the umask) and its parent fsynced. `rel` must be
/// relative and without `..` (paths resolved under the root never have one).
///
/// # References
/// - [openat(2)](https://man7.org/linux/man-pages/man2/openat.2.html), `O_NOFOLLOW`
/// - [openat2(2)](https://man7.org/linux/man-pages/man2/openat2.2.html), `RESOLVE_NO_SYMLINKS`
#[doc(alias = "openat")]
#[doc(alias = "mkdirat")]
pub fn open_dir_beneath(base: &Path, rel: &Path, create: Option<u32>) -> io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{fsync, mkdirat, openat, Mode, OFlags, CWD};
    use std::path::Component;
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut dir = openat(CWD, base, dir_flags, Mode::empty())?;
    for component in rel.components() {
        let name = match component {
            Component::Normal(name) => name,
            Component::CurDir => continue,
            _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a plain relative path")),
        };
        let next = match openat(&dir, name, dir_flags | OFlags::NOFOLLOW, Mode::empty()) {
            Err(rustix::io::Errno::NOENT) if create.is_some() => {
                let mode = Mode::from_raw_mode(create.unwrap_or(0o755));
                match mkdirat(&dir, name, mode) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(err) => return Err(err.into()),
                }
                fsync(&dir)?;
                openat(&dir, name, dir_flags | OFlags::NOFOLLOW, Mode::empty())
            }
            other => other,
        };
        dir = next.map_err(|err| match err {
            rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is a symbolic link or not a directory (never followed for writing)", name.to_string_lossy()),
            ),
            other => other.into(),
        })?;
    }
    Ok(dir)
}

/// `openat(dir, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode)` and `fstat`: opens
/// (creating with `O_CREAT`) the regular file `name` in `dir` for writing; a symbolic link
/// there fails (ELOOP) instead of being followed, and anything but a regular file (a FIFO, a
/// device, a directory) is refused without blocking on it. `append` opens with `O_APPEND`,
/// else `O_WRONLY` alone (no truncation).
///
/// # References
/// - [openat(2)](https://man7.org/linux/man-pages/man2/openat.2.html)
#[doc(alias = "openat")]
pub fn open_file_at(dir: impl AsFd, name: &std::ffi::OsStr, append: bool, mode: u32) -> io::Result<File> {
    use rustix::fs::{fcntl_setfl, openat, Mode, OFlags};
    let mut flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    if append {
        flags |= OFlags::APPEND;
    }
    let fd = openat(dir, name, flags, Mode::from_raw_mode(mode)).map_err(|err| match err {
        rustix::io::Errno::LOOP => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a symbolic link (never followed for writing)", name.to_string_lossy()),
        ),
        other => other.into(),
    })?;
    let file = File::from(fd);
    if !file.metadata()?.file_type().is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a regular file", name.to_string_lossy())));
    }
    // Back to blocking writes: O_NONBLOCK only kept the open from waiting on a FIFO.
    fcntl_setfl(&file, if append { OFlags::APPEND } else { OFlags::empty() })?;
    Ok(file)
}

/// `openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)`: a new
/// regular file in `dir`; an existing name (a symbolic link too) fails with `AlreadyExists`.
#[doc(alias = "openat")]
pub fn create_new_at(dir: impl AsFd, name: &std::ffi::OsStr, mode: u32) -> io::Result<File> {
    use rustix::fs::{openat, Mode, OFlags};
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    openat(dir, name, flags, Mode::from_raw_mode(mode)).map(File::from).map_err(io::Error::from)
}

/// What `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)` finds: `None` when nothing is there, else
/// whether it is a regular file, its owner, group and permission bits (a symbolic link is
/// reported as itself, never as its target).
#[doc(alias = "fstatat")]
pub fn entry_at(dir: impl AsFd, name: &std::ffi::OsStr) -> io::Result<Option<(bool, u32, u32, u32)>> {
    use rustix::fs::{statat, AtFlags, FileType};
    match statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => {
            let regular = FileType::from_raw_mode(st.st_mode) == FileType::RegularFile;
            Ok(Some((regular, st.st_uid, st.st_gid, st.st_mode & 0o7777)))
        }
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// `renameat(dir, from, dir, to)`: replaces `to` with `from` in one atomic step inside `dir`
/// (a symbolic link at `to` is replaced, not followed).
#[doc(alias = "renameat")]
pub fn rename_at(dir: impl AsFd, from: &std::ffi::OsStr, to: &std::ffi::OsStr) -> io::Result<()> {
    rustix::fs::renameat(&dir, from, &dir, to).map_err(io::Error::from)
}

/// `unlinkat(dir, name, 0)`: removes the file (or link) `name` in `dir`.
#[doc(alias = "unlinkat")]
pub fn unlink_at(dir: impl AsFd, name: &std::ffi::OsStr) -> io::Result<()> {
    rustix::fs::unlinkat(dir, name, rustix::fs::AtFlags::empty()).map_err(io::Error::from)
}

/// `flock(fd, LOCK_EX | LOCK_NB)`: takes an exclusive advisory lock on the open file, or fails
/// at once with `WouldBlock` when another open file description holds it. The lock goes when
/// the descriptor is closed, also when the process is killed.
///
/// # References
/// - [flock(2)](https://man7.org/linux/man-pages/man2/flock.2.html)
#[doc(alias = "flock")]
pub fn try_lock_exclusive(fd: impl AsFd) -> io::Result<()> {
    rustix::fs::flock(fd, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(io::Error::from)
}

/// Space of a filesystem, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space {
    /// Size of the filesystem.
    pub total: u64,
    /// Free to unprivileged users (f_bavail).
    pub available: u64,
}

/// `statvfs(path)`: size and free space of the filesystem holding `path`.
///
/// # References
/// - [statvfs(3)](https://man7.org/linux/man-pages/man3/statvfs.3.html)
#[doc(alias = "statvfs")]
pub fn space(path: &Path) -> io::Result<Space> {
    let st = rustix::fs::statvfs(path).map_err(io::Error::from)?;
    Ok(Space { total: st.f_blocks.saturating_mul(st.f_frsize), available: st.f_bavail.saturating_mul(st.f_frsize) })
}

/// `syncfs(fd)`: writes out everything cached for the filesystem holding `fd`; one call instead
/// of an fsync per file when thousands of files were just written there.
///
/// # References
/// - [syncfs(2)](https://man7.org/linux/man-pages/man2/syncfs.2.html)
#[doc(alias = "syncfs")]
pub fn sync_filesystem(fd: impl AsFd) -> io::Result<()> {
    rustix::fs::syncfs(fd).map_err(io::Error::from)
}

/// `posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)`: drops the file's clean cached pages, so that
/// a large file written once (a backup) does not push the appliance's working set out of memory.
///
/// # References
/// - [posix_fadvise(2)](https://man7.org/linux/man-pages/man2/posix_fadvise.2.html)
#[doc(alias = "posix_fadvise")]
pub fn drop_cache(fd: impl AsFd) -> io::Result<()> {
    rustix::fs::fadvise(fd, 0, None, rustix::fs::Advice::DontNeed).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn a_second_description_cannot_take_a_held_lock_until_it_is_closed() {
        let dir = TempDir::new("flock");
        let path = dir.path().join("lock");
        let first = std::fs::File::create(&path).unwrap();
        let second = std::fs::File::open(&path).unwrap();
        assert!(try_lock_exclusive(&first).is_ok());
        assert_eq!(try_lock_exclusive(&second).map_err(|e| e.kind()), Err(io::ErrorKind::WouldBlock));
        drop(first);
        assert!(try_lock_exclusive(&second).is_ok());
    }

    #[test]
    fn exchange_swaps_a_file_and_a_directory_and_noreplace_refuses() {
        let dir = TempDir::new("sys-fs");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"file").unwrap();
        std::fs::create_dir(&b).unwrap();
        rename_exchange(&a, &b).unwrap();
        assert!(a.is_dir());
        assert_eq!(std::fs::read(&b).unwrap(), b"file");
        let err = rename_noreplace(&b, &a).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        rename_noreplace(&b, &dir.path().join("c")).unwrap();
        assert!(rename_exchange(&b, &a).is_err(), "b is gone: nothing to exchange");
    }

    #[test]
    fn a_second_lock_on_the_same_file_is_refused_until_the_first_is_closed() {
        let dir = TempDir::new("sys-lock");
        let path = dir.path().join("lock");
        let first = std::fs::File::create(&path).unwrap();
        try_lock_exclusive(&first).unwrap();
        let second = std::fs::File::open(&path).unwrap();
        assert_eq!(try_lock_exclusive(&second).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        drop(first);
        try_lock_exclusive(&second).unwrap();
    }

    #[test]
    fn space_agrees_with_df() {
        let ours = space(Path::new("/")).unwrap();
        assert!(ours.total > 0 && ours.available <= ours.total);
        let out = std::process::Command::new("df").args(["-B1", "--output=size", "/"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let df_total: u64 = text.lines().nth(1).unwrap().trim().parse().unwrap();
        assert_eq!(ours.total, df_total);
        let file = std::fs::File::open("/").unwrap();
        sync_filesystem(&file).unwrap();
    }
}
