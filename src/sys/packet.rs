//! AF_PACKET raw sockets with a classic BPF filter: what `network capture-filter --test` uses
//! to count the packets a filter would let through on a monitor port. Needs CAP_NET_RAW.
//!
//! The order of the calls matters: a socket opened with protocol 0 receives nothing, so the
//! filter and the options are in place before [`PacketSocket::bind`] starts the flow, and no
//! packet is ever queued unfiltered.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// One instruction as `struct sock_filter` holds it: (code, jt, jf, k).
pub type FilterInsn = (u16, u8, u8, u32);

/// An AF_PACKET socket (closed on drop).
pub struct PacketSocket {
    fd: OwnedFd,
}

/// What the kernel counted for the socket since the last read of the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketStats {
    /// Packets the filter let through, including the dropped ones.
    pub packets: u32,
    /// Of those, packets dropped because the socket's receive queue was full.
    pub drops: u32,
}

/// `socket(AF_PACKET, SOCK_RAW, 0)`: a raw link-layer socket that receives nothing until
/// [`PacketSocket::bind`].
///
/// # References
/// - [packet(7)](https://man7.org/linux/man-pages/man7/packet.7.html)
#[doc(alias = "socket")]
pub fn open() -> io::Result<PacketSocket> {
    use rustix::net::{socket_with, AddressFamily, SocketFlags, SocketType};
    let fd = socket_with(AddressFamily::PACKET, SocketType::RAW, SocketFlags::CLOEXEC, None)?;
    Ok(PacketSocket { fd })
}

fn setsockopt<T>(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    let len = libc::socklen_t::try_from(std::mem::size_of::<T>()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `fd` is open; the option value points at a live `T` of exactly `len` bytes, which
    // the kernel only reads during the call.
    let result = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (value as *const T).cast(), len) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl PacketSocket {
    /// `setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, {len, insns})`: the kernel checks the
    /// program (EINVAL when its checker refuses it, e.g. more than 4096 instructions or a
    /// jump out of the program) and runs it on every packet from then on.
    ///
    /// # References
    /// - [socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html), the kernel's
    ///   Documentation/networking/filter.rst
    #[doc(alias = "SO_ATTACH_FILTER")]
    pub fn attach_filter(&self, program: &[FilterInsn]) -> io::Result<()> {
        let mut filter: Vec<libc::sock_filter> =
            program.iter().map(|&(code, jt, jf, k)| libc::sock_filter { code, jt, jf, k }).collect();
        let fprog = libc::sock_fprog {
            len: u16::try_from(filter.len()).map_err(|_| io::ErrorKind::InvalidInput)?,
            filter: filter.as_mut_ptr(),
        };
        // The kernel copies the instructions during the call; `filter` outlives it.
        setsockopt(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
    }

    /// `setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)`: only packets the interface
    /// receives, not those it sends (Linux 4.20 and later).
    #[doc(alias = "PACKET_IGNORE_OUTGOING")]
    pub fn ignore_outgoing(&self) -> io::Result<()> {
        let on: libc::c_int = 1;
        setsockopt(self.fd.as_fd(), libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &on)
    }

    /// `setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes)`: a receive queue of `bytes`, above
    /// `net.core.rmem_max` (needs CAP_NET_ADMIN).
    #[doc(alias = "SO_RCVBUFFORCE")]
    pub fn set_receive_buffer(&self, bytes: usize) -> io::Result<()> {
        rustix::net::sockopt::set_socket_recv_buffer_size_force(&self.fd, bytes)?;
        Ok(())
    }

    /// `bind(fd, {AF_PACKET, ETH_P_ALL, ifindex})`: every protocol on interface `ifindex`,
    /// from now on.
    pub fn bind(&self, ifindex: u32) -> io::Result<()> {
        // SAFETY: sockaddr_ll is a plain C struct; all zeroes is a valid value to fill in.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = libc::c_int::try_from(ifindex).map_err(|_| io::ErrorKind::InvalidInput)?;
        let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `addr` is a live, initialised sockaddr_ll of `len` bytes, read during the call.
        let result = unsafe { libc::bind(self.fd.as_raw_fd(), (&addr as *const libc::sockaddr_ll).cast(), len) };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// `poll(fd, POLLIN, timeout)`: whether a packet is waiting.
    pub fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        crate::sys::poll::wait_readable(self.fd.as_fd(), timeout)
    }

    /// `recv(fd, buf, MSG_TRUNC | MSG_DONTWAIT)`: one packet into `buf` (cut to its size);
    /// returns the packet's real length, which may exceed `buf`. `WouldBlock` when none waits.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is a live, writable buffer of `buf.len()` bytes; the kernel writes at
        // most that many (MSG_TRUNC only changes the length it reports).
        let len = unsafe {
            libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_TRUNC | libc::MSG_DONTWAIT)
        };
        usize::try_from(len).map_err(|_| io::Error::last_os_error())
    }

    /// `getsockopt(fd, SOL_PACKET, PACKET_STATISTICS)`: packets and drops since the last call
    /// (reading resets the kernel's counters).
    #[doc(alias = "PACKET_STATISTICS")]
    pub fn statistics(&self) -> io::Result<PacketStats> {
        let mut stats = libc::tpacket_stats { tp_packets: 0, tp_drops: 0 };
        let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: `stats` is a live tpacket_stats and `len` its size; the kernel writes at most
        // `len` bytes into it and updates `len`.
        let result = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut stats as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(PacketStats { packets: stats.tp_packets, drops: stats.tp_drops })
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Runs `f` on a thread in a fresh network namespace with a veth pair `pk0`/`pk1` up;
    /// `None` without the privileges for that.
    pub(crate) fn in_veth_namespace<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        std::thread::spawn(move || {
            crate::sys::tc::unshare_network_namespace_of_this_thread().ok()?;
            let ip = |args: &[&str]| std::process::Command::new("ip").args(args).status().ok().filter(|s| s.success());
            ip(&["link", "add", "pk0", "type", "veth", "peer", "name", "pk1"])?;
            ip(&["link", "set", "pk0", "up"])?;
            ip(&["link", "set", "pk1", "up"])?;
            // Until the kernel's link watcher has activated both ends (up to a second later,
            // more on a loaded machine), their queue is noop_qdisc, which drops what is sent.
            let active = |name: &str| {
                std::process::Command::new("ip")
                    .args(["-o", "link", "show", "dev", name])
                    .output()
                    .ok()
                    .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
                    .is_some_and(|line| line.contains("state UP") && !line.contains("qdisc noop"))
            };
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while !(active("pk0") && active("pk1")) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(f())
        })
        .join()
        .ok()
        .flatten()
    }

    #[test]
    fn a_filtered_socket_counts_what_its_program_lets_through() {
        // Accept frames whose EtherType is 0x88b5 (local experimental), reject the rest.
        let program: Vec<FilterInsn> =
            vec![(0x28, 0, 0, 12), (0x15, 0, 1, 0x88b5), (0x06, 0, 0, 262_144), (0x06, 0, 0, 0)];
        let outcome = in_veth_namespace(move || {
            let receiver = open().unwrap();
            receiver.attach_filter(&program).unwrap();
            receiver.ignore_outgoing().unwrap();
            receiver.bind(crate::sys::netdev::index_of("pk1").unwrap()).unwrap();
            let sender = open().unwrap();
            sender.bind(crate::sys::netdev::index_of("pk0").unwrap()).unwrap();
            for (n, ethertype) in [0x88b5u16, 0x0800, 0x88b5, 0x86dd, 0x88b5].iter().enumerate() {
                let mut frame = vec![0xff; 6];
                frame.extend([2, 0, 0, 0, 0, n as u8]);
                frame.extend(ethertype.to_be_bytes());
                frame.resize(60 + n, 0xaa);
                rustix::net::send(&sender, &frame, rustix::net::SendFlags::empty()).unwrap();
            }
            let mut lengths = Vec::new();
            let mut small = [0u8; 16];
            // The three it lets through, however long a loaded machine takes to deliver them;
            // then anything more that comes within 300 ms (there must be nothing).
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while lengths.len() < 3 && std::time::Instant::now() < deadline {
                if receiver.wait_readable(Duration::from_millis(100)).unwrap() {
                    lengths.push(receiver.recv(&mut small).unwrap());
                }
            }
            while receiver.wait_readable(Duration::from_millis(300)).unwrap() {
                lengths.push(receiver.recv(&mut small).unwrap());
            }
            (lengths, receiver.statistics().unwrap(), receiver.statistics().unwrap())
        });
        let Some((lengths, first, again)) = outcome else {
            eprintln!("skipped: needs CAP_NET_ADMIN for a network namespace, CAP_NET_RAW and iproute2");
            return;
        };
        assert_eq!(lengths, vec![60, 62, 64], "the real lengths, beyond the 16-byte buffer");
        assert_eq!(first, PacketStats { packets: 3, drops: 0 });
        assert_eq!(again, PacketStats::default(), "reading the counters resets them");
    }

    #[test]
    fn the_kernel_refuses_a_program_its_checker_rejects() {
        let outcome = in_veth_namespace(|| {
            let socket = open().unwrap();
            // A jump past the end of the program.
            let err = socket.attach_filter(&[(0x15, 5, 0, 1), (0x06, 0, 0, 0)]).unwrap_err();
            err.raw_os_error()
        });
        let Some(errno) = outcome else {
            eprintln!("skipped: needs CAP_NET_ADMIN for a network namespace and CAP_NET_RAW");
            return;
        };
        assert_eq!(errno, Some(libc::EINVAL));
    }
}
