//! Socket facts the kernel keeps that std's sockets do not expose. Needs no privileges.

use std::io;
use std::os::fd::AsFd;

/// `SIOCGSTAMPNS_NEW` (`<linux/sockios.h>`): `_IOR(0x89, 0x07, long long[2])`, the receive
/// time of the last datagram as a 64-bit `struct __kernel_timespec` on every architecture.
const SIOCGSTAMPNS_NEW: rustix::ioctl::Opcode = rustix::ioctl::opcode::read::<[i64; 2]>(0x89, 0x07);

/// `ioctl(fd, SIOCGSTAMPNS_NEW)`: when the kernel received the last datagram read from `fd`,
/// as (seconds, nanoseconds) since the Unix epoch by the realtime clock.
///
/// The stamp is taken as the packet enters the network stack, so it does not include the time
/// the reader took to be scheduled. The first call on a socket switches stamping on and fails
/// with `ENOENT` when nothing has been read yet; call it once before the traffic starts.
/// Linux 5.1 and later (older kernels answer `ENOTTY`).
///
/// # References
/// - [socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html), `SIOCGSTAMP`
#[doc(alias = "SIOCGSTAMPNS")]
pub fn last_receive_time(fd: impl AsFd) -> io::Result<(i64, u32)> {
    // SAFETY: SIOCGSTAMPNS_NEW takes a pointer to a `long long[2]` and writes exactly that;
    // `Getter` provides a buffer of that type and size, and `fd` is a valid open descriptor.
    let [secs, nanos] = unsafe {
        rustix::ioctl::ioctl(fd, rustix::ioctl::Getter::<SIOCGSTAMPNS_NEW, [i64; 2]>::new())
    }?;
    let nanos = u32::try_from(nanos).ok().filter(|n| *n < 1_000_000_000).ok_or(io::ErrorKind::InvalidData)?;
    Ok((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn the_stamp_is_taken_on_arrival_not_when_the_datagram_is_read() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = receiver.local_addr().unwrap();
        // Nothing read yet: ENOENT, and stamping is now on for this socket (the kernel may
        // switch it on for the machine a moment later, so the first datagram is a warm-up).
        assert!(last_receive_time(&receiver).is_err());
        let mut buf = [0u8; 4];
        sender.send_to(b"w", to).unwrap();
        receiver.recv_from(&mut buf).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let nanos = |(s, n): (i64, u32)| i128::from(s) * 1_000_000_000 + i128::from(n);
        let before = nanos(crate::sys::clock::realtime());
        sender.send_to(b"x", to).unwrap();
        let sent = nanos(crate::sys::clock::realtime());
        std::thread::sleep(std::time::Duration::from_millis(50));
        receiver.recv_from(&mut buf).unwrap();
        let read = nanos(crate::sys::clock::realtime());
        let stamp = nanos(last_receive_time(&receiver).unwrap());
        assert!(before <= stamp && stamp <= sent, "{before} <= {stamp} <= {sent} (read at {read})");
    }
}
