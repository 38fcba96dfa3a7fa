//! ICMP echo sockets for `ping`.
//!
//! A raw ICMP socket needs CAP_NET_RAW (root); without it, an ICMP datagram ("ping") socket
//! works for callers whose group is in `net.ipv4.ping_group_range`. With a raw socket the kernel
//! hands us whole IP packets (the TTL is in the header); with a datagram socket only the ICMP
//! message, and the TTL comes as IP_TTL ancillary data (IP_RECVTTL).

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// An open ICMP socket of either kind.
pub struct IcmpSocket {
    fd: OwnedFd,
    raw: bool,
}

/// One received datagram.
#[derive(Debug)]
pub struct Received {
    /// Bytes in the caller's buffer (with a raw socket: IP header first).
    pub len: usize,
    /// Who sent it.
    pub from: Ipv4Addr,
    /// The TTL from IP_TTL ancillary data (datagram sockets only; raw sockets carry it in the
    /// IP header).
    pub ttl: Option<u8>,
}

/// `socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)`, or, when that is not permitted,
/// `socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)` with IP_RECVTTL set.
///
/// # References
/// - [icmp(7)](https://man7.org/linux/man-pages/man7/icmp.7.html), [raw(7)](https://man7.org/linux/man-pages/man7/raw.7.html)
#[doc(alias = "socket")]
pub fn open() -> io::Result<IcmpSocket> {
    use rustix::net::{ipproto, socket_with, AddressFamily, SocketFlags, SocketType};
    match socket_with(AddressFamily::INET, SocketType::RAW, SocketFlags::CLOEXEC, Some(ipproto::ICMP)) {
        Ok(fd) => return Ok(IcmpSocket { fd, raw: true }),
        Err(rustix::io::Errno::PERM | rustix::io::Errno::ACCESS) => {}
        Err(errno) => return Err(errno.into()),
    }
    let fd = socket_with(AddressFamily::INET, SocketType::DGRAM, SocketFlags::CLOEXEC, Some(ipproto::ICMP))?;
    let on: libc::c_int = 1;
    // SAFETY: `fd` is open; the option value points at a live c_int of the size passed.
    let result = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_RECVTTL,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(IcmpSocket { fd, raw: false })
}

impl IcmpSocket {
    /// Whether this is a raw socket (received packets start with the IP header).
    pub fn is_raw(&self) -> bool {
        self.raw
    }

    /// `sendto(fd, packet, 0, {AF_INET, dest})`.
    #[doc(alias = "sendto")]
    pub fn send_to(&self, packet: &[u8], dest: Ipv4Addr) -> io::Result<()> {
        let addr = rustix::net::SocketAddrV4::new(dest, 0);
        rustix::net::sendto(&self.fd, packet, rustix::net::SendFlags::empty(), &addr)?;
        Ok(())
    }

    /// `poll(fd, POLLIN, timeout)`: whether a datagram is waiting.
    pub fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        crate::sys::poll::wait_readable(self.fd.as_fd(), timeout)
    }

    /// `recvmsg(fd, {buf, control}, MSG_DONTWAIT)`: one datagram, its sender and its TTL.
    #[doc(alias = "recvmsg")]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        // SAFETY: all-zero sockaddr_in and msghdr are valid "empty" values of these C structs.
        let mut from: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        // u64 elements keep the control buffer aligned for cmsghdr on every target.
        let mut control = [0u64; 8];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut from as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in `msg` refers to live buffers of the lengths given, which the
        // kernel fills at most to those lengths; they outlive the call.
        let len = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if len < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut ttl = None;
        // SAFETY: the CMSG_* macros walk the control buffer the kernel filled, bounded by
        // msg_controllen; each data pointer is read only for an IP_TTL message, whose payload
        // is one int.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::IPPROTO_IP && (*cmsg).cmsg_type == libc::IP_TTL {
                    let value = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                    ttl = u8::try_from(value).ok();
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Ok(Received {
            len: len as usize,
            from: Ipv4Addr::from(u32::from_be(from.sin_addr.s_addr)),
            ttl,
        })
    }
}

impl AsFd for IcmpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
