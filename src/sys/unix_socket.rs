//! Probing Unix stream sockets: does a listener accept, and which process listens.
//!
//! Needs write permission on the socket file (as connect(2) does); no other privileges.

use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// `socket(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC)` then `connect(path)`: a connection
/// to the listener at `path`.
///
/// Non-blocking, so that a hung listener whose backlog is full makes this fail at once with
/// `WouldBlock` (EAGAIN) instead of blocking the caller. Other errors as connect(2):
/// `NotFound` (no such file), `ConnectionRefused` (nobody listens), `PermissionDenied`.
///
/// # References
/// - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html),
///   [connect(2)](https://man7.org/linux/man-pages/man2/connect.2.html)
#[doc(alias = "connect")]
pub fn connect_nonblocking(path: &Path) -> io::Result<OwnedFd> {
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    let addr = SocketAddrUnix::new(path)?;
    rustix::net::connect(&fd, &addr)?;
    Ok(fd)
}

/// The credentials the kernel recorded for the peer of a Unix stream socket when it connected
/// (or, for a connection to a listener, when the listener called listen(2)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCredentials {
    /// The peer's pid; `None` when it is outside our PID namespace (the kernel reports 0).
    pub pid: Option<u32>,
    /// The peer's effective uid. The kernel fills this in; the peer cannot choose it.
    pub uid: u32,
    /// The peer's effective gid.
    pub gid: u32,
}

/// `getsockopt(fd, SOL_SOCKET, SO_PEERCRED)`: who is on the other end.
///
/// libc rather than rustix: rustix's `UCred` keeps the pid as a non-zero `Pid`, which the
/// kernel's 0 for an invisible peer would violate.
///
/// # References
/// - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
#[doc(alias = "SO_PEERCRED")]
pub fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<PeerCredentials> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::ucred>()).unwrap_or(0);
    // SAFETY: `cred` is a valid, writable `ucred` of `len` bytes, which is what SO_PEERCRED
    // writes, and `len` points to its size; `fd` is an open descriptor borrowed for the call.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            std::ptr::addr_of_mut!(cred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCredentials {
        pid: u32::try_from(cred.pid).ok().filter(|&pid| pid != 0),
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// The pid of the process that created the peer socket: see [`peer_credentials`].
pub fn peer_pid(fd: BorrowedFd<'_>) -> io::Result<Option<u32>> {
    Ok(peer_credentials(fd)?.pid)
}

/// `ioctl(fd, SIOCOUTQ)`: the bytes written to a Unix stream socket that its peer has not
/// read yet.
///
/// For AF_UNIX the kernel counts the memory of the sent buffers, which it frees as the peer
/// reads them: 0 means the peer has read everything (not merely that it was queued).
///
/// # References
/// - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html) (SIOCOUTQ)
#[doc(alias = "SIOCOUTQ")]
pub fn unread_by_peer(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut queued: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (numerically TIOCOUTQ) writes one `int` through the pointer, which
    // points to `queued`; `fd` is an open descriptor borrowed for the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, std::ptr::addr_of_mut!(queued)) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(queued).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixListener;

    #[test]
    fn connects_to_a_listener_and_names_its_process() {
        let dir = crate::testutil::TempDir::new("unix-socket");
        let path = dir.path().join("s.sock");
        assert_eq!(connect_nonblocking(&path).unwrap_err().kind(), io::ErrorKind::NotFound);
        let listener = UnixListener::bind(&path).unwrap();
        let fd = connect_nonblocking(&path).unwrap();
        assert_eq!(peer_pid(fd.as_fd()).unwrap(), Some(std::process::id()));
        drop(listener);
        // The file stays, nobody listens.
        assert_eq!(connect_nonblocking(&path).unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn counts_what_the_peer_has_not_read_until_it_reads_it() {
        use std::io::{Read, Write};
        let (mut ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(unread_by_peer(ours.as_fd()).unwrap(), 0);
        ours.write_all(b"Rebooting the appliance ...\n").unwrap();
        assert!(unread_by_peer(ours.as_fd()).unwrap() > 0);
        let mut got = [0u8; 64];
        let n = theirs.read(&mut got).unwrap();
        assert_eq!(&got[..n], b"Rebooting the appliance ...\n");
        assert_eq!(unread_by_peer(ours.as_fd()).unwrap(), 0);
    }
}
