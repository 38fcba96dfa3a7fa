//! Waiting for input with a deadline. Needs no privileges.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

/// `poll(fd, POLLIN, timeout)`: whether `fd` became readable (or hung up) within `timeout`.
/// Returns `Ok(false)` when the time ran out with nothing to read.
///
/// # References
/// - [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
#[doc(alias = "poll")]
pub fn wait_readable(fd: impl AsFd, timeout: Duration) -> io::Result<bool> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    loop {
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    }
}

/// What [`wait_readable_or_signal`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// `fd` is readable (or hung up).
    Ready,
    /// The time ran out.
    TimedOut,
    /// A signal interrupted the wait (EINTR): the caller looks at why before it waits again.
    Signal,
}

/// `poll(fd, POLLIN, timeout)` that reports EINTR instead of retrying, so that a Ctrl-C caught
/// by a handler reaches the code waiting for input.
///
/// # References
/// - [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
#[doc(alias = "poll")]
pub fn wait_readable_or_signal(fd: impl AsFd, timeout: Duration) -> io::Result<Readiness> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    match poll(&mut fds, Some(&timeout)) {
        Ok(0) => Ok(Readiness::TimedOut),
        Ok(_) => Ok(Readiness::Ready),
        Err(rustix::io::Errno::INTR) => Ok(Readiness::Signal),
        Err(errno) => Err(errno.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn times_out_when_nothing_comes_and_wakes_when_data_arrives() {
        let (mut writer, reader) = UnixStream::pair().unwrap();
        assert!(!wait_readable(&reader, Duration::from_millis(20)).unwrap());
        writer.write_all(b"x").unwrap();
        assert!(wait_readable(&reader, Duration::from_secs(5)).unwrap());
    }
}
