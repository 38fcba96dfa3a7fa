//! rtnetlink (`NETLINK_ROUTE`): the link and address dumps that `network list` is built from.
//!
//! One socket, one `RTM_GETLINK` dump and one `RTM_GETADDR` dump: the whole interface table in
//! two round trips, however many interfaces there are (net-tools `ifconfig` makes a dozen ioctls
//! per interface and rereads `/proc/net/if_inet6` for each one).
//!
//! Message layouts come from libc's `nlmsghdr`, `ifinfomsg`, `ifaddrmsg` and `rtattr` (sizes and
//! field offsets via `size_of`/`offset_of!`), so nothing here assumes a word size. Replies are
//! parsed from the received bytes with bounds checks on every length: a truncated or malformed
//! message is an `InvalidData` error, never a panic or an out-of-bounds read. Replies must come
//! from the kernel (port 0) and carry our port id and the request's sequence number; anything
//! else is skipped.
//!
//! Needs no privileges: any user may dump the links and addresses of its network namespace.
//!
//! # References
//! - [netlink(7)](https://man7.org/linux/man-pages/man7/netlink.7.html)
//! - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)

use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::OwnedFd;
use std::time::Duration;

/// `NLMSG_ALIGNTO` and `RTA_ALIGNTO`: netlink messages and attributes are padded to 4 bytes.
const ALIGNTO: usize = 4;
const NLMSG_HDRLEN: usize = size_of::<libc::nlmsghdr>();
const IFINFOMSG_LEN: usize = size_of::<libc::ifinfomsg>();
const IFADDRMSG_LEN: usize = size_of::<libc::ifaddrmsg>();
const RTA_HDRLEN: usize = size_of::<libc::rtattr>();

// The kernel ABI fixes these sizes on every architecture; a libc that disagreed would make us
// misparse every reply, so refuse to build rather than run with it.
const _: () = assert!(NLMSG_HDRLEN == 16);
const _: () = assert!(IFINFOMSG_LEN == 16);
const _: () = assert!(IFADDRMSG_LEN == 8);
const _: () = assert!(RTA_HDRLEN == 4);

/// `NLA_TYPE_MASK`: attribute types without the `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER` bits.
const NLA_TYPE_MASK: u16 = 0x3fff;
/// How long a dump may stay silent before we give up (the kernel answers in microseconds).
const RECV_TIMEOUT: Duration = Duration::from_secs(5);
/// Receive buffer. The kernel fills at most 32 KiB per dump datagram unless one message needs
/// more; a datagram longer than this is reported as truncated rather than misread.
const RECV_BUFFER: usize = 64 * 1024;
/// A dump flagged `NLM_F_DUMP_INTR` (the table changed under it) is retried this many times.
const DUMP_ATTEMPTS: usize = 3;

/// One network device, from an `RTM_NEWLINK` message of the link dump.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Link {
    /// `ifi_index`.
    pub index: u32,
    /// `ifi_type`: the `ARPHRD_*` hardware type.
    pub hw_type: u16,
    /// `ifi_flags`: `IFF_*` as `dev_get_flags()` reports them (the same value `SIOCGIFFLAGS`
    /// returns before its cast to `short`).
    pub flags: u32,
    /// `IFLA_IFNAME`, without the NUL (raw bytes: Linux names need not be UTF-8).
    pub name: Vec<u8>,
    /// `IFLA_MTU`.
    pub mtu: Option<u32>,
    /// `IFLA_TXQLEN`.
    pub txqlen: Option<u32>,
    /// `IFLA_ADDRESS`: the hardware address, `addr_len` bytes (absent when the device has none).
    pub address: Vec<u8>,
    /// `IFLA_STATS64` (or the 32-bit `IFLA_STATS` from a kernel without it).
    pub stats: Option<LinkStats>,
    /// `IFLA_MAP`.
    pub map: Option<LinkMap>,
}

/// `struct rtnl_link_stats64`, field for field (fields a kernel does not send are 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct LinkStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub multicast: u64,
    pub collisions: u64,
    pub rx_length_errors: u64,
    pub rx_over_errors: u64,
    pub rx_crc_errors: u64,
    pub rx_frame_errors: u64,
    pub rx_fifo_errors: u64,
    pub rx_missed_errors: u64,
    pub tx_aborted_errors: u64,
    pub tx_carrier_errors: u64,
    pub tx_fifo_errors: u64,
    pub tx_heartbeat_errors: u64,
    pub tx_window_errors: u64,
    pub rx_compressed: u64,
    pub tx_compressed: u64,
    pub rx_nohandler: u64,
}

impl LinkStats {
    /// From the payload of `IFLA_STATS64` (`width` 8) or `IFLA_STATS` (`width` 4): counters in
    /// `struct rtnl_link_stats64` order (uapi `if_link.h`; the 32-bit `struct rtnl_link_stats`
    /// has the same order). Counters a kernel does not send are 0.
    fn from_counters(data: &[u8], width: usize) -> LinkStats {
        let at = |i: usize| match width {
            8 => read_u64(data, i * 8).unwrap_or(0),
            _ => read_u32(data, i * 4).map_or(0, u64::from),
        };
        LinkStats {
            rx_packets: at(0),
            tx_packets: at(1),
            rx_bytes: at(2),
            tx_bytes: at(3),
            rx_errors: at(4),
            tx_errors: at(5),
            rx_dropped: at(6),
            tx_dropped: at(7),
            multicast: at(8),
            collisions: at(9),
            rx_length_errors: at(10),
            rx_over_errors: at(11),
            rx_crc_errors: at(12),
            rx_frame_errors: at(13),
            rx_fifo_errors: at(14),
            rx_missed_errors: at(15),
            tx_aborted_errors: at(16),
            tx_carrier_errors: at(17),
            tx_fifo_errors: at(18),
            tx_heartbeat_errors: at(19),
            tx_window_errors: at(20),
            rx_compressed: at(21),
            tx_compressed: at(22),
            rx_nohandler: at(23),
        }
    }
}

/// `struct rtnl_link_ifmap`: the device's I/O resources (what `SIOCGIFMAP` returns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct LinkMap {
    pub mem_start: u64,
    pub mem_end: u64,
    pub base_addr: u64,
    pub irq: u16,
    pub dma: u8,
    pub port: u8,
}

/// One interface address, from an `RTM_NEWADDR` message of the address dump.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Address {
    /// `ifa_family`: `AF_INET` or `AF_INET6` (others are kept and ignored by callers).
    pub family: u8,
    /// `ifa_prefixlen`.
    pub prefixlen: u8,
    /// `IFA_FLAGS` when present, else `ifa_flags`.
    pub flags: u32,
    /// `ifa_scope` (`RT_SCOPE_*`).
    pub scope: u8,
    /// `ifa_index`: the device.
    pub index: u32,
    /// `IFA_ADDRESS`: the address, or the peer on a point-to-point address.
    pub address: Option<Vec<u8>>,
    /// `IFA_LOCAL`: the local address (IPv4 always, IPv6 only with a peer).
    pub local: Option<Vec<u8>>,
    /// `IFA_BROADCAST`.
    pub broadcast: Option<Vec<u8>>,
    /// `IFA_LABEL` (IPv4): the device name, or an alias such as `eth0:1`.
    pub label: Option<Vec<u8>>,
}

/// A `NETLINK_ROUTE` socket bound to a kernel-assigned port.
pub struct RouteSocket {
    fd: OwnedFd,
    port: u32,
    seq: u32,
    buf: Vec<u8>,
}

impl RouteSocket {
    /// `socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)`, `bind` to port 0 (the kernel
    /// picks one) and `getsockname` to learn it, with a receive timeout.
    ///
    /// # References
    /// - [netlink(7)](https://man7.org/linux/man-pages/man7/netlink.7.html)
    #[doc(alias = "socket")]
    pub fn open() -> io::Result<RouteSocket> {
        // Protocol `None` is 0, which for AF_NETLINK is NETLINK_ROUTE (rustix has no named
        // constant for it because its protocol type is non-zero).
        let fd = rustix::net::socket_with(AddressFamily::NETLINK, SocketType::RAW, SocketFlags::CLOEXEC, None)?;
        rustix::net::bind(&fd, &SocketAddrNetlink::new(0, 0))?;
        let port = SocketAddrNetlink::try_from(rustix::net::getsockname(&fd)?)
            .map_err(|_| invalid("getsockname on a netlink socket returned another family"))?
            .pid();
        rustix::net::sockopt::set_socket_timeout(&fd, rustix::net::sockopt::Timeout::Recv, Some(RECV_TIMEOUT))?;
        // Start somewhere unpredictable so that a reply to an earlier user of the port number
        // cannot pass as ours.
        let seq = (crate::sys::clock::monotonic().subsec_nanos() | 1) & 0x7fff_ffff;
        Ok(RouteSocket { fd, port, seq, buf: vec![0; RECV_BUFFER] })
    }

    /// `RTM_GETLINK` with `NLM_F_DUMP`: every device of the network namespace.
    #[doc(alias = "RTM_GETLINK")]
    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let mut request = [0u8; IFINFOMSG_LEN];
        request[offset_of!(libc::ifinfomsg, ifi_family)] = libc::AF_UNSPEC as u8;
        self.dump(libc::RTM_GETLINK, &request, libc::RTM_NEWLINK, parse_link)
    }

    /// `RTM_GETADDR` with `NLM_F_DUMP` and family `AF_UNSPEC`: every IPv4 and IPv6 address of
    /// every device, in one dump (per device in the kernel's list order).
    #[doc(alias = "RTM_GETADDR")]
    pub fn addresses(&mut self) -> io::Result<Vec<Address>> {
        let mut request = [0u8; IFADDRMSG_LEN];
        request[offset_of!(libc::ifaddrmsg, ifa_family)] = libc::AF_UNSPEC as u8;
        self.dump(libc::RTM_GETADDR, &request, libc::RTM_NEWADDR, parse_address)
    }

    /// Sends one change request (`RTM_NEWQDISC`, `RTM_NEWADDR`, `RTM_DELROUTE`, …) with
    /// `NLM_F_REQUEST | NLM_F_ACK | flags` and waits for the kernel's acknowledgement; a
    /// negative acknowledgement becomes its errno (`EEXIST`, `ENOENT`, `EPERM` …). Returns the
    /// exact bytes sent, for tests that compare them with what iproute2 sends.
    pub fn request_ack(&mut self, msg_type: u16, flags: u16, payload: &[u8]) -> io::Result<Vec<u8>> {
        self.seq = self.seq.wrapping_add(1);
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16 | flags;
        let request = build_request(msg_type, flags, self.seq, payload);
        rustix::net::sendto(&self.fd, &request, SendFlags::empty(), &SocketAddrNetlink::new(0, 0))?;
        // No data messages are expected: an acknowledgement (NLMSG_ERROR with error 0) ends it.
        self.receive_dump(u16::MAX, &mut |_| Ok(()))?;
        Ok(request)
    }

    /// A dump of any `RTM_GET*` request whose replies are parsed by the caller (`RTM_GETROUTE`,
    /// `RTM_GETQDISC`, …): every reply payload of type `reply_type`, as bytes.
    pub fn dump_payloads(&mut self, msg_type: u16, payload: &[u8], reply_type: u16) -> io::Result<Vec<Vec<u8>>> {
        self.dump(msg_type, payload, reply_type, |bytes| Ok(bytes.to_vec()))
    }

    /// Sends one dump request and parses every reply message of type `reply_type` with
    /// `parse`, until `NLMSG_DONE`. A dump the kernel flags as interrupted (the table changed
    /// under it) is started over, up to [`DUMP_ATTEMPTS`] times; the last attempt's result is
    /// used even if it too was interrupted.
    fn dump<T>(
        &mut self,
        msg_type: u16,
        payload: &[u8],
        reply_type: u16,
        parse: fn(&[u8]) -> io::Result<T>,
    ) -> io::Result<Vec<T>> {
        let mut attempt = 1;
        loop {
            self.seq = self.seq.wrapping_add(1);
            let request = build_request(msg_type, (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16, self.seq, payload);
            rustix::net::sendto(&self.fd, &request, SendFlags::empty(), &SocketAddrNetlink::new(0, 0))?;
            let mut items = Vec::new();
            let interrupted = self.receive_dump(reply_type, &mut |payload| {
                items.push(parse(payload)?);
                Ok(())
            })?;
            if !interrupted {
                return Ok(items);
            }
            if attempt == DUMP_ATTEMPTS {
                log::warn!("netlink dump {msg_type} kept being interrupted; the list may be inconsistent");
                return Ok(items);
            }
            log::debug!("netlink dump {msg_type} interrupted by a change; starting over");
            attempt += 1;
        }
    }

    /// Receives the replies to the request with the current sequence number. Returns whether
    /// any of them carried `NLM_F_DUMP_INTR`.
    fn receive_dump(&mut self, reply_type: u16, each: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<bool> {
        let expect = Expect { seq: self.seq, port: self.port, reply_type };
        let mut interrupted = false;
        loop {
            let (len, from) = self.receive()?;
            if from != Some(0) {
                continue; // not from the kernel
            }
            if handle_datagram(&self.buf[..len], expect, &mut interrupted, each)? {
                return Ok(interrupted);
            }
        }
    }

    /// `recvfrom(fd, buf, MSG_TRUNC)`: one datagram; its length and the sender's port id.
    #[doc(alias = "recvfrom")]
    fn receive(&mut self) -> io::Result<(usize, Option<u32>)> {
        loop {
            match rustix::net::recvfrom(&self.fd, &mut self.buf[..], RecvFlags::TRUNC) {
                Ok((_, len, from)) => {
                    if len > self.buf.len() {
                        return Err(invalid("netlink reply larger than the receive buffer"));
                    }
                    let from = from.and_then(|addr| SocketAddrNetlink::try_from(addr).ok()).map(|nl| nl.pid());
                    return Ok((len, from));
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::AGAIN) => {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "no netlink reply within 5 s"))
                }
                Err(errno) => return Err(errno.into()),
            }
        }
    }
}

/// What the replies to one dump request must carry.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    /// The request's sequence number.
    pub seq: u32,
    /// Our socket's port id.
    pub port: u32,
    /// The message type of the data replies (`RTM_NEWLINK`, `RTM_NEWADDR`).
    pub reply_type: u16,
}

/// Handles one datagram of dump replies: hands each data message for our request to `each`,
/// skips messages for other requests or sockets, notes `NLM_F_DUMP_INTR` in `interrupted`, and
/// returns whether the dump is complete (`NLMSG_DONE`, an acknowledgement, or a reply without
/// `NLM_F_MULTI`). `NLMSG_ERROR` and a negative `NLMSG_DONE` status become the errno.
pub fn handle_datagram(
    datagram: &[u8],
    expect: Expect,
    interrupted: &mut bool,
    each: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<bool> {
    for message in Messages::new(datagram) {
        let message = message?;
        if message.seq != expect.seq || message.port != expect.port {
            continue; // a stale reply, or one for another socket
        }
        if message.flags & libc::NLM_F_DUMP_INTR as u16 != 0 {
            *interrupted = true;
        }
        match i32::from(message.msg_type) {
            libc::NLMSG_DONE => {
                // The payload is the dump's final status (0, or a negative errno).
                match read_i32(message.payload, 0) {
                    Some(status) if status < 0 => return Err(io::Error::from_raw_os_error(status.saturating_neg())),
                    _ => return Ok(true),
                }
            }
            libc::NLMSG_ERROR => {
                let error = read_i32(message.payload, offset_of!(libc::nlmsgerr, error))
                    .ok_or_else(|| invalid("truncated NLMSG_ERROR"))?;
                if error != 0 {
                    return Err(io::Error::from_raw_os_error(error.saturating_neg()));
                }
                return Ok(true); // an acknowledgement ends the exchange
            }
            libc::NLMSG_NOOP => {}
            libc::NLMSG_OVERRUN => return Err(invalid("overrun: replies were lost")),
            _ if message.msg_type == expect.reply_type => {
                each(message.payload)?;
                // A reply without NLM_F_MULTI is the whole answer.
                if message.flags & libc::NLM_F_MULTI as u16 == 0 {
                    return Ok(true);
                }
            }
            _ => {} // a type this dump does not produce: skip it
        }
    }
    Ok(false)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("malformed netlink reply: {what}"))
}

/// `NLMSG_ALIGN` / `RTA_ALIGN`.
fn align(len: usize) -> usize {
    len.saturating_add(ALIGNTO - 1) & !(ALIGNTO - 1)
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn read_i32(bytes: &[u8], at: usize) -> Option<i32> {
    read_u32(bytes, at).map(|v| v as i32)
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(bytes.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

/// An `nlmsghdr` followed by `payload`, padded to the message alignment.
pub fn build_request(msg_type: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDRLEN + payload.len();
    let mut msg = vec![0u8; align(len)];
    let put = |msg: &mut [u8], at: usize, bytes: &[u8]| msg[at..at + bytes.len()].copy_from_slice(bytes);
    put(&mut msg, offset_of!(libc::nlmsghdr, nlmsg_len), &(len as u32).to_ne_bytes());
    put(&mut msg, offset_of!(libc::nlmsghdr, nlmsg_type), &msg_type.to_ne_bytes());
    put(&mut msg, offset_of!(libc::nlmsghdr, nlmsg_flags), &flags.to_ne_bytes());
    put(&mut msg, offset_of!(libc::nlmsghdr, nlmsg_seq), &seq.to_ne_bytes());
    // nlmsg_pid 0: the kernel fills in our port.
    msg[NLMSG_HDRLEN..len].copy_from_slice(payload);
    msg
}

/// Appends one `rtattr` (type, then `data`) to `buf`, padded to the attribute alignment.
/// Nested attributes: build the inner ones into their own buffer and pass it as `data`.
pub fn push_attr(buf: &mut Vec<u8>, attr_type: u16, data: &[u8]) {
    let len = RTA_HDRLEN + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&attr_type.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(buf.len() + (align(len) - len), 0);
}

/// One netlink message of a received datagram.
#[derive(Debug, PartialEq)]
pub struct Message<'a> {
    /// `nlmsg_type`.
    pub msg_type: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`: the port the message is addressed to.
    pub port: u32,
    /// The bytes after the header, up to `nlmsg_len`.
    pub payload: &'a [u8],
}

/// The messages of one datagram (`NLMSG_OK` / `NLMSG_NEXT`), each length checked.
pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Messages<'a> {
    /// Iterates over `datagram`.
    pub fn new(datagram: &'a [u8]) -> Messages<'a> {
        Messages { rest: datagram }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = io::Result<Message<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = self.rest;
        let header = |field: usize| read_u32(rest, field);
        let (Some(len), Some(msg_type), Some(flags), Some(seq), Some(port)) = (
            header(offset_of!(libc::nlmsghdr, nlmsg_len)),
            read_u16(rest, offset_of!(libc::nlmsghdr, nlmsg_type)),
            read_u16(rest, offset_of!(libc::nlmsghdr, nlmsg_flags)),
            header(offset_of!(libc::nlmsghdr, nlmsg_seq)),
            header(offset_of!(libc::nlmsghdr, nlmsg_pid)),
        ) else {
            self.rest = &[];
            return Some(Err(invalid("truncated message header")));
        };
        let len = len as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            self.rest = &[];
            return Some(Err(invalid("message length out of bounds")));
        }
        self.rest = rest.get(align(len)..).unwrap_or(&[]);
        Some(Ok(Message { msg_type, flags, seq, port, payload: &rest[NLMSG_HDRLEN..len] }))
    }
}

/// The `rtattr`s of a message after its fixed part (`RTA_OK` / `RTA_NEXT`), each length checked.
pub struct Attributes<'a> {
    rest: &'a [u8],
}

impl<'a> Attributes<'a> {
    /// Iterates over the attributes in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Attributes<'a> {
        Attributes { rest: bytes }
    }
}

impl<'a> Iterator for Attributes<'a> {
    /// The attribute type (without the nested / byte-order bits) and its data.
    type Item = io::Result<(u16, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < RTA_HDRLEN {
            // Fewer bytes than a header are padding at most.
            return None;
        }
        let rest = self.rest;
        let (Some(len), Some(kind)) = (
            read_u16(rest, offset_of!(libc::rtattr, rta_len)),
            read_u16(rest, offset_of!(libc::rtattr, rta_type)),
        ) else {
            self.rest = &[];
            return Some(Err(invalid("truncated attribute")));
        };
        let len = usize::from(len);
        if len < RTA_HDRLEN || len > rest.len() {
            self.rest = &[];
            return Some(Err(invalid("attribute length out of bounds")));
        }
        self.rest = rest.get(align(len)..).unwrap_or(&[]);
        Some(Ok((kind & NLA_TYPE_MASK, &rest[RTA_HDRLEN..len])))
    }
}

/// A NUL-terminated string attribute, without the NUL (and anything after it).
fn attr_string(data: &[u8]) -> Vec<u8> {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    data[..end].to_vec()
}

fn attr_u32(data: &[u8]) -> io::Result<u32> {
    read_u32(data, 0).ok_or_else(|| invalid("short u32 attribute"))
}

/// Parses the payload of an `RTM_NEWLINK` message.
pub fn parse_link(payload: &[u8]) -> io::Result<Link> {
    if payload.len() < IFINFOMSG_LEN {
        return Err(invalid("truncated ifinfomsg"));
    }
    let field32 = |at: usize| read_u32(payload, at).unwrap_or(0);
    let mut link = Link {
        index: field32(offset_of!(libc::ifinfomsg, ifi_index)),
        hw_type: read_u16(payload, offset_of!(libc::ifinfomsg, ifi_type)).unwrap_or(0),
        flags: field32(offset_of!(libc::ifinfomsg, ifi_flags)),
        ..Link::default()
    };
    let mut stats32 = None;
    for attr in Attributes::new(&payload[align(IFINFOMSG_LEN)..]) {
        let (kind, data) = attr?;
        match kind {
            libc::IFLA_IFNAME => link.name = attr_string(data),
            libc::IFLA_MTU => link.mtu = Some(attr_u32(data)?),
            libc::IFLA_TXQLEN => link.txqlen = Some(attr_u32(data)?),
            libc::IFLA_ADDRESS => link.address = data.to_vec(),
            libc::IFLA_STATS64 => link.stats = Some(LinkStats::from_counters(data, 8)),
            libc::IFLA_STATS => stats32 = Some(LinkStats::from_counters(data, 4)),
            // struct rtnl_link_ifmap { __u64 mem_start, mem_end, base_addr; __u16 irq;
            // __u8 dma, port; }: fixed offsets on every architecture (uapi if_link.h).
            libc::IFLA_MAP if data.len() >= 28 => {
                link.map = Some(LinkMap {
                    mem_start: read_u64(data, 0).unwrap_or(0),
                    mem_end: read_u64(data, 8).unwrap_or(0),
                    base_addr: read_u64(data, 16).unwrap_or(0),
                    irq: read_u16(data, 24).unwrap_or(0),
                    dma: data[26],
                    port: data[27],
                });
            }
            _ => {}
        }
    }
    if link.stats.is_none() {
        link.stats = stats32;
    }
    Ok(link)
}

/// Parses the payload of an `RTM_NEWADDR` message.
pub fn parse_address(payload: &[u8]) -> io::Result<Address> {
    if payload.len() < IFADDRMSG_LEN {
        return Err(invalid("truncated ifaddrmsg"));
    }
    let mut address = Address {
        family: payload[offset_of!(libc::ifaddrmsg, ifa_family)],
        prefixlen: payload[offset_of!(libc::ifaddrmsg, ifa_prefixlen)],
        flags: u32::from(payload[offset_of!(libc::ifaddrmsg, ifa_flags)]),
        scope: payload[offset_of!(libc::ifaddrmsg, ifa_scope)],
        index: read_u32(payload, offset_of!(libc::ifaddrmsg, ifa_index)).unwrap_or(0),
        ..Address::default()
    };
    for attr in Attributes::new(&payload[align(IFADDRMSG_LEN)..]) {
        let (kind, data) = attr?;
        match kind {
            libc::IFA_ADDRESS => address.address = Some(data.to_vec()),
            libc::IFA_LOCAL => address.local = Some(data.to_vec()),
            libc::IFA_BROADCAST => address.broadcast = Some(data.to_vec()),
            libc::IFA_LABEL => address.label = Some(attr_string(data)),
            libc::IFA_FLAGS => address.flags = attr_u32(data)?,
            _ => {}
        }
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `body` on a thread of its own in a fresh network namespace (unshare affects only the
    /// calling thread), or says why not.
    fn in_fresh_netns(body: impl FnOnce() + Send + 'static) {
        let outcome = std::thread::spawn(move || {
            // SAFETY: a network namespace change of this test thread only; it shares no file
            // descriptor table or filesystem state that unshare could invalidate.
            if unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }.is_err() {
                return false;
            }
            body();
            true
        })
        .join()
        .unwrap();
        if !outcome {
            eprintln!("skipped: needs CAP_SYS_ADMIN for a network namespace");
        }
    }

    #[test]
    fn change_requests_are_acknowledged_and_refusals_carry_the_errno() {
        in_fresh_netns(|| {
            let mut socket = RouteSocket::open().unwrap();
            let lo = socket.links().unwrap().into_iter().find(|l| l.name == b"lo").unwrap();
            let mut request = vec![0u8; IFADDRMSG_LEN];
            request[offset_of!(libc::ifaddrmsg, ifa_family)] = libc::AF_INET as u8;
            request[offset_of!(libc::ifaddrmsg, ifa_prefixlen)] = 24;
            request[offset_of!(libc::ifaddrmsg, ifa_index)..][..4].copy_from_slice(&lo.index.to_ne_bytes());
            push_attr(&mut request, libc::IFA_LOCAL, &[10, 1, 2, 3]);
            push_attr(&mut request, libc::IFA_ADDRESS, &[10, 1, 2, 3]);
            let create = (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
            socket.request_ack(libc::RTM_NEWADDR, create, &request).unwrap();
            let addresses = socket.addresses().unwrap();
            assert!(addresses.iter().any(|a| a.index == lo.index && a.prefixlen == 24), "{addresses:?}");
            let again = socket.request_ack(libc::RTM_NEWADDR, create, &request).unwrap_err();
            assert_eq!(again.raw_os_error(), Some(libc::EEXIST));
            let mut rtmsg = [0u8; 12]; // struct rtmsg: rtm_family first
            rtmsg[0] = libc::AF_INET as u8;
            let routes = socket.dump_payloads(libc::RTM_GETROUTE, &rtmsg, libc::RTM_NEWROUTE).unwrap();
            assert!(!routes.is_empty(), "the new address brings its prefix and local routes");
        });
    }

    fn attr(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&((RTA_HDRLEN + data.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(data);
        out.resize(align(out.len()), 0);
        out
    }

    fn ifinfomsg(index: i32, hw_type: u16, flags: u32) -> Vec<u8> {
        let mut out = vec![0u8; IFINFOMSG_LEN];
        out[offset_of!(libc::ifinfomsg, ifi_type)..][..2].copy_from_slice(&hw_type.to_ne_bytes());
        out[offset_of!(libc::ifinfomsg, ifi_index)..][..4].copy_from_slice(&index.to_ne_bytes());
        out[offset_of!(libc::ifinfomsg, ifi_flags)..][..4].copy_from_slice(&flags.to_ne_bytes());
        out
    }

    #[test]
    fn request_header_fields_and_padding() {
        let msg = build_request(libc::RTM_GETADDR, 0x301, 7, &[2, 0, 0, 0, 0, 0, 0, 0, 9]);
        assert_eq!(msg.len(), 28); // 16 + 9, padded to 4
        let parsed: Vec<_> = Messages::new(&msg).collect::<io::Result<_>>().unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].msg_type, libc::RTM_GETADDR);
        assert_eq!(parsed[0].flags, 0x301);
        assert_eq!(parsed[0].seq, 7);
        assert_eq!(parsed[0].payload, &[2, 0, 0, 0, 0, 0, 0, 0, 9]);
    }

    #[test]
    fn link_message_with_every_attribute_we_read() {
        let mut payload = ifinfomsg(3, 1, 0x11043);
        payload.extend(attr(libc::IFLA_IFNAME, b"veth-a\0"));
        payload.extend(attr(libc::IFLA_MTU, &9000u32.to_ne_bytes()));
        payload.extend(attr(libc::IFLA_TXQLEN, &1000u32.to_ne_bytes()));
        payload.extend(attr(libc::IFLA_ADDRESS, &[2, 0, 0, 0, 0, 1]));
        let stats: Vec<u8> = (1..=25u64).flat_map(|v| v.to_ne_bytes()).collect();
        payload.extend(attr(libc::IFLA_STATS64, &stats));
        let mut map = vec![0u8; 32];
        map[24..26].copy_from_slice(&300u16.to_ne_bytes());
        map[26] = 5;
        payload.extend(attr(libc::IFLA_MAP, &map));
        payload.extend(attr(0x8000 | 999, &[1, 2, 3])); // unknown nested attribute: skipped
        let link = parse_link(&payload).unwrap();
        assert_eq!((link.index, link.hw_type, link.flags), (3, 1, 0x11043));
        assert_eq!(link.name, b"veth-a");
        assert_eq!((link.mtu, link.txqlen), (Some(9000), Some(1000)));
        assert_eq!(link.address, vec![2, 0, 0, 0, 0, 1]);
        let stats = link.stats.unwrap();
        assert_eq!((stats.rx_packets, stats.tx_bytes, stats.rx_nohandler), (1, 4, 24));
        assert_eq!(link.map.unwrap().irq, 300);
        assert_eq!(link.map.unwrap().dma, 5);
    }

    #[test]
    fn thirty_two_bit_stats_are_used_only_without_stats64() {
        let mut payload = ifinfomsg(1, 772, 0x49);
        let stats: Vec<u8> = (1..=23u32).flat_map(|v| v.to_ne_bytes()).collect();
        payload.extend(attr(libc::IFLA_STATS, &stats));
        assert_eq!(parse_link(&payload).unwrap().stats.unwrap().rx_bytes, 3);
        payload.extend(attr(libc::IFLA_STATS64, &[7u64.to_ne_bytes(), 0u64.to_ne_bytes()].concat()));
        assert_eq!(parse_link(&payload).unwrap().stats.unwrap().rx_packets, 7);
    }

    #[test]
    fn address_message() {
        let mut payload = vec![libc::AF_INET as u8, 24, 0x80, 0, 0, 0, 0, 0];
        payload[4..8].copy_from_slice(&5u32.to_ne_bytes());
        payload.extend(attr(libc::IFA_ADDRESS, &[10, 0, 0, 1]));
        payload.extend(attr(libc::IFA_LOCAL, &[10, 0, 0, 1]));
        payload.extend(attr(libc::IFA_BROADCAST, &[10, 0, 0, 255]));
        payload.extend(attr(libc::IFA_LABEL, b"eth0:1\0"));
        let address = parse_address(&payload).unwrap();
        assert_eq!((address.family, address.prefixlen, address.index, address.flags), (2, 24, 5, 0x80));
        assert_eq!(address.local.as_deref(), Some(&[10, 0, 0, 1][..]));
        assert_eq!(address.label.as_deref(), Some(&b"eth0:1"[..]));
        payload.extend(attr(libc::IFA_FLAGS, &0x300u32.to_ne_bytes()));
        assert_eq!(parse_address(&payload).unwrap().flags, 0x300);
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        // Every prefix of a valid datagram, and every single-byte corruption of it, must parse
        // or fail cleanly.
        let mut payload = ifinfomsg(2, 1, 0x1003);
        payload.extend(attr(libc::IFLA_IFNAME, b"eth0\0"));
        payload.extend(attr(libc::IFLA_STATS64, &[0u8; 200]));
        let datagram = [
            build_request(libc::RTM_NEWLINK, libc::NLM_F_MULTI as u16, 1, &payload),
            build_request(libc::NLMSG_DONE as u16, libc::NLM_F_MULTI as u16, 1, &[0; 4]),
        ]
        .concat();
        let walk = |bytes: &[u8]| {
            for message in Messages::new(bytes) {
                match message {
                    Ok(m) if m.msg_type == libc::RTM_NEWLINK => {
                        let _ = parse_link(m.payload);
                        let _ = parse_address(m.payload);
                    }
                    _ => {}
                }
            }
        };
        for cut in 0..datagram.len() {
            walk(&datagram[..cut]);
        }
        for at in 0..datagram.len() {
            for value in [0u8, 1, 3, 4, 0x7f, 0xff] {
                let mut bad = datagram.clone();
                bad[at] = value;
                walk(&bad);
            }
        }
        assert!(Messages::new(&[20, 0, 0, 0, 0, 0]).next().unwrap().is_err());
        let short_len = build_request(1, 0, 0, &[])[..].iter().copied().chain([0; 4]).collect::<Vec<_>>();
        let mut lying = short_len.clone();
        lying[0] = 200; // nlmsg_len beyond the datagram
        assert!(Messages::new(&lying).next().unwrap().is_err());
        assert!(parse_link(&[0; 8]).is_err());
        let mut bad_attr = ifinfomsg(1, 1, 0);
        bad_attr.extend([2, 0, 3, 0]); // rta_len 2 < header
        assert!(parse_link(&bad_attr).is_err());
        let mut short_mtu = ifinfomsg(1, 1, 0);
        short_mtu.extend(attr(libc::IFLA_MTU, &[1, 2]));
        assert!(parse_link(&short_mtu).is_err());
    }

    /// A reply as the kernel would send it to port 77.
    fn reply(msg_type: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut msg = build_request(msg_type, flags, seq, payload);
        msg[offset_of!(libc::nlmsghdr, nlmsg_pid)..][..4].copy_from_slice(&77u32.to_ne_bytes());
        msg
    }

    fn run(datagram: &[u8]) -> (io::Result<bool>, bool, Vec<Vec<u8>>) {
        let expect = Expect { seq: 5, port: 77, reply_type: libc::RTM_NEWLINK };
        let mut interrupted = false;
        let mut seen = Vec::new();
        let result = handle_datagram(datagram, expect, &mut interrupted, &mut |p| {
            seen.push(p.to_vec());
            Ok(())
        });
        (result, interrupted, seen)
    }

    #[test]
    fn dump_replies_are_filtered_by_sequence_port_and_type() {
        let multi = libc::NLM_F_MULTI as u16;
        let mut wrong_port = reply(libc::RTM_NEWLINK, multi, 5, &[3; 16]);
        wrong_port[offset_of!(libc::nlmsghdr, nlmsg_pid)..][..4].copy_from_slice(&78u32.to_ne_bytes());
        let datagram = [
            reply(libc::RTM_NEWLINK, multi, 4, &[1; 16]), // stale: an earlier request
            reply(libc::RTM_NEWLINK, multi, 5, &[2; 16]),
            wrong_port,
            reply(libc::RTM_NEWADDR, multi, 5, &[4; 8]), // not this dump's type
            reply(libc::NLMSG_NOOP as u16, 0, 5, &[]),
            reply(libc::RTM_NEWLINK, multi, 5, &[5; 16]),
        ]
        .concat();
        let (result, interrupted, seen) = run(&datagram);
        assert!(!result.unwrap(), "no NLMSG_DONE yet: more datagrams to read");
        assert!(!interrupted);
        assert_eq!(seen, vec![vec![2; 16], vec![5; 16]]);

        let done = [reply(libc::RTM_NEWLINK, multi, 5, &[6; 16]), reply(libc::NLMSG_DONE as u16, multi, 5, &[0; 4])].concat();
        let (result, _, seen) = run(&done);
        assert!(result.unwrap());
        assert_eq!(seen.len(), 1);
        // Messages after DONE are not handed on.
        let (_, _, seen) = run(&[done.clone(), reply(libc::RTM_NEWLINK, multi, 5, &[7; 16])].concat());
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn dump_end_error_interrupt_and_single_replies() {
        let multi = libc::NLM_F_MULTI as u16;
        let intr = multi | libc::NLM_F_DUMP_INTR as u16;
        let (result, interrupted, _) =
            run(&[reply(libc::RTM_NEWLINK, intr, 5, &[1; 16]), reply(libc::NLMSG_DONE as u16, intr, 5, &[0; 4])].concat());
        assert!(result.unwrap() && interrupted);
        // NLMSG_DONE carrying -EBUSY, and NLMSG_ERROR carrying -EPERM, are errors.
        let (result, _, _) = run(&reply(libc::NLMSG_DONE as u16, multi, 5, &(-libc::EBUSY).to_ne_bytes()));
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EBUSY));
        let mut error = vec![0u8; size_of::<libc::nlmsgerr>()];
        error[..4].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
        let (result, _, _) = run(&reply(libc::NLMSG_ERROR as u16, 0, 5, &error));
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EPERM));
        let (result, _, _) = run(&reply(libc::NLMSG_ERROR as u16, 0, 5, &[0; 2]));
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::InvalidData);
        // A data reply without NLM_F_MULTI is the whole answer.
        let (result, _, seen) = run(&reply(libc::RTM_NEWLINK, 0, 5, &[1; 16]));
        assert!(result.unwrap());
        assert_eq!(seen.len(), 1);
        let (result, _, _) = run(&reply(libc::NLMSG_OVERRUN as u16, 0, 5, &[]));
        assert!(result.is_err());
    }

    #[test]
    fn dumps_the_real_kernel_tables() {
        // Needs no privileges: every namespace has at least loopback.
        let mut socket = RouteSocket::open().unwrap();
        let links = socket.links().unwrap();
        let lo = links.iter().find(|l| l.hw_type == libc::ARPHRD_LOOPBACK).expect("loopback");
        assert_eq!(lo.name, b"lo");
        assert!(lo.stats.is_some() && lo.mtu.is_some() && lo.txqlen.is_some());
        // The same socket serves a second dump (sequence numbers move on).
        let addresses = socket.addresses().unwrap();
        assert!(addresses.iter().all(|a| a.family == libc::AF_INET as u8 || a.family == libc::AF_INET6 as u8));
        assert!(!socket.links().unwrap().is_empty());
    }
}
