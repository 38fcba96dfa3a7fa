//! rtnetlink routes and IPv4 address changes: the `RTM_GETROUTE` dump `network validate` reads
//! the default route from, and the `RTM_NEWADDR` / `RTM_DELADDR` / `RTM_NEWROUTE` /
//! `RTM_DELROUTE` requests `network reconfigure` applies (and rolls back) with.
//!
//! Messages go through [`RouteSocket`] (`dump_payloads`, `request_ack`); this file only builds
//! and parses their payloads. `struct rtmsg` is not in libc, so its layout is written out here
//! from uapi `rtnetlink.h`: eight `__u8` (family, dst_len, src_len, tos, table, protocol, scope,
//! type) and a `__u32` flags, 12 bytes on every architecture. Attributes are bounds-checked by
//! [`Attributes`]; an IPv4 attribute that is not 4 bytes long is an `InvalidData` error, never a
//! panic.
//!
//! Dumps need no privileges; changes need CAP_NET_ADMIN in the network namespace.
//!
//! # References
//! - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)

use super::netlink::{push_attr, Address, Attributes, RouteSocket};
use std::io;
use std::mem::{offset_of, size_of};
use std::net::Ipv4Addr;

/// `sizeof(struct rtmsg)`.
pub const RTMSG_LEN: usize = 12;
const RTM_FAMILY: usize = 0;
const RTM_DST_LEN: usize = 1;
const RTM_SRC_LEN: usize = 2;
const RTM_TOS: usize = 3;
const RTM_TABLE: usize = 4;
const RTM_PROTOCOL: usize = 5;
const RTM_SCOPE: usize = 6;
const RTM_TYPE: usize = 7;
const RTM_FLAGS: usize = 8;
const IFADDRMSG_LEN: usize = size_of::<libc::ifaddrmsg>();
/// `IFA_F_SECONDARY` (uapi `if_addr.h`; not in every libc target).
const IFA_F_SECONDARY: u32 = 0x01;
/// `RTNH_F_ONLINK` (uapi `rtnetlink.h`): the gateway is on the link even without a subnet.
const RTNH_F_ONLINK: u32 = 4;
/// `RTPROT_STATIC`: a route an administrator installed (`ip route` shows `proto static`).
pub const RTPROT_STATIC: u8 = libc::RTPROT_STATIC;
/// `RT_TABLE_LOCAL`: the kernel's table of local and broadcast addresses.
pub const RT_TABLE_LOCAL: u32 = libc::RT_TABLE_LOCAL as u32;
/// `RT_TABLE_MAIN`: where default and connected routes live.
pub const RT_TABLE_MAIN: u32 = libc::RT_TABLE_MAIN as u32;

/// One IPv4 route, from an `RTM_NEWROUTE` message of the route dump (or to be sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// `rtm_dst_len`: 0 for a default route.
    pub dst_len: u8,
    /// `rtm_src_len`.
    pub src_len: u8,
    /// `rtm_tos`.
    pub tos: u8,
    /// `RTA_TABLE`, else `rtm_table`.
    pub table: u32,
    /// `rtm_protocol` (`RTPROT_KERNEL`, `RTPROT_BOOT`, `RTPROT_STATIC`, `RTPROT_DHCP` …).
    pub protocol: u8,
    /// `rtm_scope`.
    pub scope: u8,
    /// `rtm_type` (`RTN_UNICAST`, `RTN_LOCAL`, `RTN_BROADCAST` …).
    pub kind: u8,
    /// `rtm_flags` (`RTNH_F_ONLINK` is the one that matters when a route is sent back).
    pub flags: u32,
    /// `RTA_DST` (absent for a default route).
    pub dst: Option<Ipv4Addr>,
    /// `RTA_GATEWAY`.
    pub gateway: Option<Ipv4Addr>,
    /// `RTA_OIF`: the output device's index.
    pub oif: Option<u32>,
    /// `RTA_PRIORITY`: the metric (lower wins).
    pub priority: Option<u32>,
    /// `RTA_PREFSRC`.
    pub prefsrc: Option<Ipv4Addr>,
    /// Whether the route has several next hops (`RTA_MULTIPATH`), which [`route_request`]
    /// cannot rebuild.
    pub multipath: bool,
}

impl Route {
    /// A static unicast default route of the main table via `gateway` on device `oif`.
    pub fn default_via(gateway: Ipv4Addr, oif: u32) -> Route {
        Route {
            dst_len: 0,
            src_len: 0,
            tos: 0,
            table: RT_TABLE_MAIN,
            protocol: RTPROT_STATIC,
            scope: libc::RT_SCOPE_UNIVERSE,
            kind: libc::RTN_UNICAST,
            flags: 0,
            dst: None,
            gateway: Some(gateway),
            oif: Some(oif),
            priority: None,
            prefsrc: None,
            multipath: false,
        }
    }

    /// Whether this is a unicast default route (`0.0.0.0/0`) of the main table.
    pub fn is_main_default(&self) -> bool {
        self.dst_len == 0 && self.table == RT_TABLE_MAIN && self.kind == libc::RTN_UNICAST && self.src_len == 0
    }
}

/// One IPv4 address of a device, as sent in `RTM_NEWADDR` / `RTM_DELADDR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressV4 {
    /// `ifa_index`: the device.
    pub index: u32,
    /// `ifa_prefixlen`.
    pub prefixlen: u8,
    /// `IFA_LOCAL`: the address itself.
    pub local: Ipv4Addr,
    /// `IFA_ADDRESS`: equal to `local`, or the peer of a point-to-point address.
    pub address: Ipv4Addr,
    /// `IFA_BROADCAST`.
    pub broadcast: Option<Ipv4Addr>,
    /// `IFA_LABEL` (`eth0`, or an alias such as `eth0:1`).
    pub label: Option<Vec<u8>>,
    /// `IFA_FLAGS` / `ifa_flags` (`IFA_F_SECONDARY` is recomputed by the kernel when sent back).
    pub flags: u32,
    /// `ifa_scope`.
    pub scope: u8,
}

impl AddressV4 {
    /// A permanent global address `local/prefixlen` on device `index`, with the subnet's
    /// broadcast address when the subnet has one (like `ip addr add … brd +`).
    pub fn new(index: u32, local: Ipv4Addr, prefixlen: u8) -> AddressV4 {
        let host_bits = 32u32.saturating_sub(u32::from(prefixlen));
        let broadcast = (prefixlen <= 30).then(|| Ipv4Addr::from(u32::from(local) | ((1u32 << host_bits) - 1)));
        AddressV4 {
            index,
            prefixlen,
            local,
            address: local,
            broadcast,
            label: None,
            flags: 0,
            scope: libc::RT_SCOPE_UNIVERSE,
        }
    }

    /// The IPv4 address of an address-dump entry (`None` for IPv6 or an entry without one).
    pub fn from_dump(entry: &Address) -> Option<AddressV4> {
        if entry.family != libc::AF_INET as u8 {
            return None;
        }
        let v4 = |bytes: &Option<Vec<u8>>| bytes.as_deref().and_then(ipv4);
        let local = v4(&entry.local).or_else(|| v4(&entry.address))?;
        Some(AddressV4 {
            index: entry.index,
            prefixlen: entry.prefixlen,
            local,
            address: v4(&entry.address).unwrap_or(local),
            broadcast: v4(&entry.broadcast),
            label: entry.label.clone(),
            flags: entry.flags,
            scope: entry.scope,
        })
    }

    /// Whether the kernel marks this address secondary (another address of its subnet on the
    /// device came first).
    pub fn is_secondary(&self) -> bool {
        self.flags & IFA_F_SECONDARY != 0
    }
}

fn ipv4(bytes: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(bytes).ok().map(Ipv4Addr::from)
}

fn attr_ipv4(data: &[u8]) -> io::Result<Ipv4Addr> {
    ipv4(data).ok_or_else(|| invalid("IPv4 route attribute is not 4 bytes"))
}

fn attr_u32(data: &[u8]) -> io::Result<u32> {
    <[u8; 4]>::try_from(data).map(u32::from_ne_bytes).map_err(|_| invalid("u32 route attribute is not 4 bytes"))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("malformed netlink reply: {what}"))
}

/// Parses the payload of an `RTM_NEWROUTE` message of family `AF_INET`.
pub fn parse_route(payload: &[u8]) -> io::Result<Route> {
    if payload.len() < RTMSG_LEN {
        return Err(invalid("truncated rtmsg"));
    }
    if payload[RTM_FAMILY] != libc::AF_INET as u8 {
        return Err(invalid("not an IPv4 route"));
    }
    let mut route = Route {
        dst_len: payload[RTM_DST_LEN],
        src_len: payload[RTM_SRC_LEN],
        tos: payload[RTM_TOS],
        table: u32::from(payload[RTM_TABLE]),
        protocol: payload[RTM_PROTOCOL],
        scope: payload[RTM_SCOPE],
        kind: payload[RTM_TYPE],
        flags: attr_u32(&payload[RTM_FLAGS..RTMSG_LEN])?,
        dst: None,
        gateway: None,
        oif: None,
        priority: None,
        prefsrc: None,
        multipath: false,
    };
    for attr in Attributes::new(&payload[RTMSG_LEN..]) {
        let (kind, data) = attr?;
        match kind {
            libc::RTA_DST => route.dst = Some(attr_ipv4(data)?),
            libc::RTA_GATEWAY => route.gateway = Some(attr_ipv4(data)?),
            libc::RTA_OIF => route.oif = Some(attr_u32(data)?),
            libc::RTA_PRIORITY => route.priority = Some(attr_u32(data)?),
            libc::RTA_PREFSRC => route.prefsrc = Some(attr_ipv4(data)?),
            libc::RTA_TABLE => route.table = attr_u32(data)?,
            libc::RTA_MULTIPATH => route.multipath = true,
            _ => {}
        }
    }
    Ok(route)
}

/// The payload of an `RTM_NEWROUTE` / `RTM_DELROUTE` request for `route`: the `rtmsg` and
/// every attribute the route has, so that a deletion matches exactly the route that was dumped.
pub fn route_request(route: &Route) -> Vec<u8> {
    let mut msg = vec![0u8; RTMSG_LEN];
    msg[RTM_FAMILY] = libc::AF_INET as u8;
    msg[RTM_DST_LEN] = route.dst_len;
    msg[RTM_SRC_LEN] = route.src_len;
    msg[RTM_TOS] = route.tos;
    // Tables above 255 only fit in RTA_TABLE; rtm_table then says RT_TABLE_UNSPEC.
    msg[RTM_TABLE] = u8::try_from(route.table).unwrap_or(libc::RT_TABLE_UNSPEC);
    msg[RTM_PROTOCOL] = route.protocol;
    msg[RTM_SCOPE] = route.scope;
    msg[RTM_TYPE] = route.kind;
    // Only RTNH_F_ONLINK is meaningful in a request; RTM_F_* and the kernel's RTNH_F_LINKDOWN /
    // RTNH_F_DEAD state bits are not the sender's to set.
    msg[RTM_FLAGS..RTMSG_LEN].copy_from_slice(&(route.flags & RTNH_F_ONLINK).to_ne_bytes());
    push_attr(&mut msg, libc::RTA_TABLE, &route.table.to_ne_bytes());
    if let Some(dst) = route.dst {
        push_attr(&mut msg, libc::RTA_DST, &dst.octets());
    }
    if let Some(gateway) = route.gateway {
        push_attr(&mut msg, libc::RTA_GATEWAY, &gateway.octets());
    }
    if let Some(oif) = route.oif {
        push_attr(&mut msg, libc::RTA_OIF, &oif.to_ne_bytes());
    }
    if let Some(priority) = route.priority {
        push_attr(&mut msg, libc::RTA_PRIORITY, &priority.to_ne_bytes());
    }
    if let Some(prefsrc) = route.prefsrc {
        push_attr(&mut msg, libc::RTA_PREFSRC, &prefsrc.octets());
    }
    msg
}

/// The payload of an `RTM_NEWADDR` / `RTM_DELADDR` request for `address`.
pub fn address_request(address: &AddressV4) -> Vec<u8> {
    let mut msg = vec![0u8; IFADDRMSG_LEN];
    msg[offset_of!(libc::ifaddrmsg, ifa_family)] = libc::AF_INET as u8;
    msg[offset_of!(libc::ifaddrmsg, ifa_prefixlen)] = address.prefixlen;
    // The low eight flag bits travel in ifa_flags, all of them in IFA_FLAGS.
    msg[offset_of!(libc::ifaddrmsg, ifa_flags)] = (address.flags & 0xff) as u8;
    msg[offset_of!(libc::ifaddrmsg, ifa_scope)] = address.scope;
    msg[offset_of!(libc::ifaddrmsg, ifa_index)..][..4].copy_from_slice(&address.index.to_ne_bytes());
    push_attr(&mut msg, libc::IFA_LOCAL, &address.local.octets());
    push_attr(&mut msg, libc::IFA_ADDRESS, &address.address.octets());
    if let Some(broadcast) = address.broadcast {
        push_attr(&mut msg, libc::IFA_BROADCAST, &broadcast.octets());
    }
    if let Some(label) = &address.label {
        let mut text = label.clone();
        text.push(0);
        push_attr(&mut msg, libc::IFA_LABEL, &text);
    }
    if address.flags > 0xff {
        push_attr(&mut msg, libc::IFA_FLAGS, &address.flags.to_ne_bytes());
    }
    msg
}

/// `RTM_GETROUTE` with `NLM_F_DUMP` and family `AF_INET`: every IPv4 route of every table.
#[doc(alias = "RTM_GETROUTE")]
pub fn routes_v4(socket: &mut RouteSocket) -> io::Result<Vec<Route>> {
    let mut request = [0u8; RTMSG_LEN];
    request[RTM_FAMILY] = libc::AF_INET as u8;
    socket
        .dump_payloads(libc::RTM_GETROUTE, &request, libc::RTM_NEWROUTE)?
        .iter()
        .map(|payload| parse_route(payload))
        .collect()
}

/// `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_EXCL`: adds `route` (EEXIST if it is there).
/// The kernel refuses a gateway it cannot reach through a connected subnet with ENETUNREACH.
#[doc(alias = "RTM_NEWROUTE")]
pub fn add_route(socket: &mut RouteSocket, route: &Route) -> io::Result<()> {
    let flags = (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
    socket.request_ack(libc::RTM_NEWROUTE, flags, &route_request(route)).map(drop)
}

/// `RTM_DELROUTE`: removes the route matching `route` (ESRCH if there is none).
#[doc(alias = "RTM_DELROUTE")]
pub fn delete_route(socket: &mut RouteSocket, route: &Route) -> io::Result<()> {
    socket.request_ack(libc::RTM_DELROUTE, 0, &route_request(route)).map(drop)
}

/// `RTM_NEWADDR` with `NLM_F_CREATE | NLM_F_EXCL`: adds `address` (EEXIST if it is there).
#[doc(alias = "RTM_NEWADDR")]
pub fn add_address(socket: &mut RouteSocket, address: &AddressV4) -> io::Result<()> {
    let flags = (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
    socket.request_ack(libc::RTM_NEWADDR, flags, &address_request(address)).map(drop)
}

/// `RTM_DELADDR`: removes `address` (its local address and prefix length) from its device
/// (EADDRNOTAVAIL if it is not there).
#[doc(alias = "RTM_DELADDR")]
pub fn delete_address(socket: &mut RouteSocket, address: &AddressV4) -> io::Result<()> {
    socket.request_ack(libc::RTM_DELADDR, 0, &address_request(address)).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_attr(&mut out, kind, data);
        out
    }

    /// A default route as the kernel dumps it for `ip route add default via 10.0.0.1 dev
    /// <index 3> metric 100` (rtmsg fields in uapi order, then attributes).
    fn dumped_default() -> Vec<u8> {
        let mut payload = vec![2, 0, 0, 0, 254, 4, 0, 1, 0, 0, 0, 0];
        payload.extend(attr(libc::RTA_TABLE, &254u32.to_ne_bytes()));
        payload.extend(attr(libc::RTA_PRIORITY, &100u32.to_ne_bytes()));
        payload.extend(attr(libc::RTA_GATEWAY, &[10, 0, 0, 1]));
        payload.extend(attr(libc::RTA_OIF, &3u32.to_ne_bytes()));
        payload.extend(attr(0x8000 | 99, &[1, 2, 3])); // unknown: skipped
        payload
    }

    #[test]
    fn parses_a_dumped_default_route_and_sends_it_back_unchanged() {
        let payload = dumped_default();
        let route = parse_route(&payload).unwrap();
        assert!(route.is_main_default());
        assert_eq!(route.gateway, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!((route.oif, route.priority, route.protocol), (Some(3), Some(100), RTPROT_STATIC));
        let rebuilt = route_request(&route);
        assert_eq!(&rebuilt[..RTMSG_LEN], &payload[..RTMSG_LEN]);
        assert_eq!(parse_route(&rebuilt).unwrap(), route);
    }

    #[test]
    fn default_route_request_layout() {
        let msg = route_request(&Route::default_via(Ipv4Addr::new(192, 0, 2, 1), 7));
        // rtmsg: AF_INET, /0, /0, tos 0, main, static, universe, unicast, flags 0.
        assert_eq!(&msg[..RTMSG_LEN], &[2, 0, 0, 0, 254, 4, 0, 1, 0, 0, 0, 0]);
        let attrs: Vec<(u16, Vec<u8>)> = Attributes::new(&msg[RTMSG_LEN..])
            .map(|a| a.map(|(k, d)| (k, d.to_vec())))
            .collect::<io::Result<_>>()
            .unwrap();
        assert_eq!(
            attrs,
            vec![
                (libc::RTA_TABLE, 254u32.to_ne_bytes().to_vec()),
                (libc::RTA_GATEWAY, vec![192, 0, 2, 1]),
                (libc::RTA_OIF, 7u32.to_ne_bytes().to_vec()),
            ]
        );
    }

    #[test]
    fn address_request_layout_and_round_trip_through_the_dump_parser() {
        let address = AddressV4::new(5, Ipv4Addr::new(10, 0, 0, 5), 24);
        assert_eq!(address.broadcast, Some(Ipv4Addr::new(10, 0, 0, 255)));
        let msg = address_request(&address);
        // ifaddrmsg: AF_INET, /24, flags 0, scope universe, then the index.
        assert_eq!(&msg[..4], &[2, 24, 0, 0]);
        assert_eq!(&msg[4..8], &5u32.to_ne_bytes());
        let parsed = super::super::netlink::parse_address(&msg).unwrap();
        assert_eq!(AddressV4::from_dump(&parsed), Some(address));
        assert_eq!(AddressV4::new(1, Ipv4Addr::new(10, 0, 0, 1), 31).broadcast, None);
        assert_eq!(AddressV4::new(1, Ipv4Addr::new(10, 0, 0, 1), 32).broadcast, None);
        let mut labelled = AddressV4::new(2, Ipv4Addr::new(10, 1, 0, 1), 16);
        labelled.label = Some(b"eth0:1".to_vec());
        labelled.flags = 0x280; // IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE: needs IFA_FLAGS
        let parsed = super::super::netlink::parse_address(&address_request(&labelled)).unwrap();
        assert_eq!(AddressV4::from_dump(&parsed), Some(labelled));
    }

    #[test]
    fn malformed_routes_are_errors_never_panics() {
        let payload = dumped_default();
        for cut in 0..payload.len() {
            let _ = parse_route(&payload[..cut]);
        }
        for at in 0..payload.len() {
            for value in [0u8, 1, 3, 5, 0xff] {
                let mut bad = payload.clone();
                bad[at] = value;
                let _ = parse_route(&bad);
            }
        }
        assert!(parse_route(&payload[..11]).is_err());
        let mut short_gateway = payload[..RTMSG_LEN].to_vec();
        short_gateway.extend(attr(libc::RTA_GATEWAY, &[10, 0, 0]));
        assert!(parse_route(&short_gateway).is_err());
        let mut inet6 = payload.clone();
        inet6[0] = libc::AF_INET6 as u8;
        assert!(parse_route(&inet6).is_err());
    }
}
