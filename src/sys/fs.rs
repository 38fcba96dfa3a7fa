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
