//! Advisory whole-file locks. Needs no privileges beyond an open file.

use std::fs::File;
use std::io;

/// `flock(fd, LOCK_EX | LOCK_NB)`: takes an exclusive advisory lock on `file` without waiting.
/// `Ok(false)` when another open file description holds it. The lock goes with the file
/// description: it is released when `file` is closed, also when the process is killed.
///
/// # References
/// - [flock(2)](https://man7.org/linux/man-pages/man2/flock.2.html)
#[doc(alias = "flock")]
pub fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    match rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_description_cannot_take_a_held_lock_until_it_is_closed() {
        let dir = crate::testutil::TempDir::new("flock");
        let path = dir.path().join("lock");
        let first = std::fs::File::create(&path).unwrap();
        let second = std::fs::File::open(&path).unwrap();
        assert!(super::try_lock_exclusive(&first).unwrap());
        assert!(!super::try_lock_exclusive(&second).unwrap());
        drop(first);
        assert!(super::try_lock_exclusive(&second).unwrap());
    }
}
