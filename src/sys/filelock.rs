//! Advisory record locks: the `fcntl(2)` write lock that lckpwdf(3) takes on `/etc/.pwd.lock`,
//! and that sensorctl also takes on its own state files. Needs only access to the open file.
//!
//! These are classic POSIX record locks (not `flock(2)`, not open-file-description locks),
//! because that is what glibc's lckpwdf uses and what `passwd`, `useradd`, `chpasswd` and
//! Python's `fcntl.lockf` honour. Like every POSIX lock, it belongs to the process and is
//! released when the process closes *any* descriptor of the file, or exits — also on `kill -9`.

use std::io;
use std::os::fd::AsFd;

/// `fcntl(fd, F_SETLK, {l_type: F_WRLCK, l_whence: SEEK_SET, l_start: 0, l_len: 0})`: tries
/// once to take a write lock on the whole file, as lckpwdf(3) does (it then waits with
/// F_SETLKW under a 15 s alarm; the caller retries until its own deadline instead).
///
/// `Ok(false)` when another process holds a conflicting lock (EAGAIN or EACCES).
///
/// # References
/// - [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html), "Advisory record locking"
/// - [lckpwdf(3)](https://man7.org/linux/man-pages/man3/lckpwdf.3.html)
#[doc(alias = "F_SETLK")]
#[doc(alias = "lckpwdf")]
pub fn try_write_lock(fd: impl AsFd) -> io::Result<bool> {
    match rustix::fs::fcntl_lock(fd, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(errno) if errno == rustix::io::Errno::AGAIN || errno == rustix::io::Errno::ACCESS => Ok(false),
        Err(errno) => Err(errno.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::process::Command;

    #[test]
    fn a_lock_held_by_another_process_is_refused_and_free_after_it_ends() {
        let dir = TempDir::new("filelock");
        let path = dir.path().join(".pwd.lock");
        std::fs::write(&path, b"").unwrap();
        // An independent peer: Python's fcntl.lockf takes the same POSIX record lock.
        let mut holder = Command::new("python3")
            .args(["-c", "import fcntl,sys,time\nf=open(sys.argv[1],'w')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(30)"])
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.take().unwrap()), &mut line).unwrap();
        assert_eq!(line.trim(), "locked");
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        assert!(!try_write_lock(&file).unwrap(), "the peer holds the lock");
        holder.kill().unwrap();
        holder.wait().unwrap();
        assert!(try_write_lock(&file).unwrap(), "the lock dies with its holder");
    }
}
