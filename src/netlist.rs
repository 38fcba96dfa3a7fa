//! `network list`: the net-tools `ifconfig` report of the network interfaces, byte for byte as
//! Debian's net-tools 2.10 prints it, built from one `RTM_GETLINK` and one `RTM_GETADDR` dump.
//!
//! How net-tools builds its report, and how each part is reproduced here:
//! - **Which entries.** Every device (its `/proc/net/dev` lines = the link dump) plus every IPv4
//!   address label (`SIOCGIFCONF` = `IFA_LABEL` of the address dump), so an alias label such as
//!   `eth0:1` is an entry of its own. An alias takes flags, MTU, hardware address, txqueuelen and
//!   device map from its base device (the kernel cuts the name at the first `:`), has no
//!   statistics and no IPv6 lines.
//! - **Order.** Entries sorted by net-tools' `nstrcmp` (text prefix, then trailing number, then
//!   `:alias` number), reproduced as a sort key ([`SortKey`]).
//! - **Shown.** Entries whose (base device's) flags have `IFF_UP`; all of them with `-a`.
//! - **inet line.** `SIOCGIFADDR` returns the first address in the device's list whose label is
//!   the entry name; the address dump lists each device's IPv4 addresses in that same order.
//!   `netmask` from the prefix length, `broadcast` (0.0.0.0 when none) only with
//!   `IFF_BROADCAST`, `destination` (the peer, `IFA_ADDRESS`) only with `IFF_POINTOPOINT`.
//! - **inet6 lines.** net-tools reads `/proc/net/if_inet6`, whose line order is the kernel's
//!   address hash table with a random per-namespace salt: no netlink message carries it. So the
//!   addresses, prefix lengths and scopes come from the address dump, and that file is read once,
//!   only to order them, and only when some device has more than one (without the file, the
//!   dump's order is used).
//! - **Statistics.** net-tools parses `/proc/net/dev`, which the kernel prints from the same
//!   `rtnl_link_stats64` as `IFLA_STATS64`, summing some counters: dropped = rx_dropped +
//!   rx_missed_errors; frame = length + over + crc + frame errors; carrier = carrier + aborted +
//!   window + heartbeat errors. The same sums are made here.
//! - **Types as net-tools stores them.** Flags are `SIOCGIFFLAGS`'s `short` (bits above 15 are
//!   lost, bit 15 makes it negative), txqueuelen an `int` (-1 means unknown and is not
//!   printed), the device map `struct ifmap` (8-bit irq, 16-bit base address).
//!
//! Known difference: net-tools 2.10-0.1+deb12u2 (the CVE-2025-46836 fix to `get_name()`) fails
//! to parse the `/proc/net/dev` line of a device whose name is 15 characters long and prints
//! all-zero counters for it; this report prints the device's real counters. SLIP's outfill and
//! keepalive (private ioctls netlink does not carry) are not shown.
//!
//! Needs no privileges: the dumps and the file are readable by every user.
#![forbid(unsafe_code)]

use crate::outcome::Status;
use crate::error::{Error, Result};
use crate::sys::netlink::{Address, Link, LinkStats, RouteSocket};
use nanoserde::SerJson;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write;

const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;

// `IFF_*` (uapi linux/if.h), in the order net-tools names them.
const IFF_UP: i32 = 0x1;
const IFF_BROADCAST: i32 = 0x2;
const IFF_POINTOPOINT: i32 = 0x10;
const IFF_PORTSEL: i32 = 0x2000;
const IFF_AUTOMEDIA: i32 = 0x4000;
const FLAG_NAMES: [(i32, &str); 14] = [
    (IFF_UP, "UP"),
    (IFF_BROADCAST, "BROADCAST"),
    (0x4, "DEBUG"),
    (0x8, "LOOPBACK"),
    (IFF_POINTOPOINT, "POINTOPOINT"),
    (0x20, "NOTRAILERS"),
    (0x40, "RUNNING"),
    (0x80, "NOARP"),
    (0x100, "PROMISC"),
    (0x200, "ALLMULTI"),
    (0x800, "SLAVE"),
    (0x400, "MASTER"),
    (0x1000, "MULTICAST"),
    (0x8000, "DYNAMIC"),
];

/// One entry of the report: what net-tools gathers for an interface name.
#[derive(Clone, Debug, PartialEq)]
pub struct Interface {
    /// The device name, or an IPv4 alias label (`eth0:1`). Raw bytes, printed as they are.
    pub name: Vec<u8>,
    /// `ifi_flags` as the `short` of `SIOCGIFFLAGS`.
    pub flags: i16,
    /// MTU (`int`).
    pub mtu: i32,
    /// The entry's IPv4 address, if it has one.
    pub inet: Option<Inet>,
    /// IPv6 addresses, in `/proc/net/if_inet6` order.
    pub inet6: Vec<Inet6>,
    /// `ARPHRD_*` hardware type.
    pub hw_type: u16,
    /// The hardware address as net-tools holds it: the first 8 bytes of the device address,
    /// zero-padded to the 16 bytes its `unspec` printer reads.
    pub hwaddr: [u8; 16],
    /// txqueuelen (`int`; -1 means unknown).
    pub txqueuelen: i32,
    /// The device's I/O resources as `struct ifmap` holds them.
    pub map: IfMap,
    /// Counters, for device entries (aliases have none).
    pub counters: Option<Counters>,
}

/// An IPv4 address as `SIOCGIFADDR` and friends report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inet {
    /// The local address.
    pub address: [u8; 4],
    /// The netmask.
    pub netmask: [u8; 4],
    /// The broadcast address (0.0.0.0 when none).
    pub broadcast: [u8; 4],
    /// The peer of a point-to-point address (else the address itself).
    pub destination: [u8; 4],
}

/// An IPv6 address line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inet6 {
    /// The address.
    pub address: [u8; 16],
    /// Prefix length.
    pub prefixlen: u8,
    /// The kernel's scope bits (`IPV6_ADDR_SCOPE_MASK` of its address type: 0x10 host,
    /// 0x20 link, 0x40 site, 0x80 compat-v4, 0 global).
    pub scope: u32,
}

/// `struct ifmap` as net-tools holds it (so with its narrow integer types).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct IfMap {
    pub mem_start: u64,
    pub mem_end: u64,
    pub base_addr: u16,
    pub irq: u8,
    pub dma: u8,
    pub port: u8,
}

/// The counters net-tools reads from a `/proc/net/dev` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Counters {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub rx_overruns: u64,
    pub rx_frame: u64,
    pub rx_compressed: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
    pub tx_overruns: u64,
    pub tx_carrier: u64,
    pub collisions: u64,
    pub tx_compressed: u64,
}

impl Counters {
    /// The `/proc/net/dev` view of the kernel's 64-bit stats (`dev_seq_printf_stats()`).
    pub fn from_stats(s: &LinkStats) -> Counters {
        Counters {
            rx_packets: s.rx_packets,
            rx_bytes: s.rx_bytes,
            rx_errors: s.rx_errors,
            rx_dropped: s.rx_dropped.wrapping_add(s.rx_missed_errors),
            rx_overruns: s.rx_fifo_errors,
            rx_frame: s
                .rx_length_errors
                .wrapping_add(s.rx_over_errors)
                .wrapping_add(s.rx_crc_errors)
                .wrapping_add(s.rx_frame_errors),
            rx_compressed: s.rx_compressed,
            tx_packets: s.tx_packets,
            tx_bytes: s.tx_bytes,
            tx_errors: s.tx_errors,
            tx_dropped: s.tx_dropped,
            tx_overruns: s.tx_fifo_errors,
            tx_carrier: s
                .tx_carrier_errors
                .wrapping_add(s.tx_aborted_errors)
                .wrapping_add(s.tx_window_errors)
                .wrapping_add(s.tx_heartbeat_errors),
            collisions: s.collisions,
            tx_compressed: s.tx_compressed,
        }
    }
}

/// `network list [-a] [--json]`: dumps links and addresses, prints the report.
pub fn run(all: bool, json: bool, out: &mut dyn Write) -> Result<Status> {
    let mut socket = RouteSocket::open().map_err(|e| Error::io("open", "NETLINK_ROUTE socket", e))?;
    let links = socket.links().map_err(|e| Error::io("dump links over", "NETLINK_ROUTE", e))?;
    let addresses = socket.addresses().map_err(|e| Error::io("dump addresses over", "NETLINK_ROUTE", e))?;
    drop(socket);
    let if_inet6 = if needs_inet6_order(&addresses) {
        match crate::sys::procnet::if_inet6() {
            Ok(text) => Some(text),
            Err(err) => {
                // No /proc (recovery mode): the dump's order has to do.
                log::debug!("/proc/net/if_inet6: {err}; IPv6 addresses in netlink order");
                None
            }
        }
    } else {
        None
    };
    let list = interfaces(&links, &addresses, if_inet6.as_deref(), all);
    let bytes = if json { (to_json(&list) + "\n").into_bytes() } else { render(&list) };
    out.write_all(&bytes).map_err(|e| Error::io("write", "standard output", e))?;
    Ok(Status::Ok)
}

/// Whether some device has two or more IPv6 addresses, so that their order has to be read
/// from `/proc/net/if_inet6`.
pub fn needs_inet6_order(addresses: &[Address]) -> bool {
    let mut seen = HashSet::new();
    addresses.iter().filter(|a| a.family == AF_INET6).any(|a| !seen.insert(a.index))
}

/// The report's entries, in net-tools' order: every device, then every IPv4 alias label,
/// sorted by [`SortKey`]; only those up unless `all`.
pub fn interfaces(links: &[Link], addresses: &[Address], if_inet6: Option<&str>, all: bool) -> Vec<Interface> {
    let by_name: HashMap<&[u8], &Link> = links.iter().map(|l| (l.name.as_slice(), l)).collect();
    let by_index: HashMap<u32, &Link> = links.iter().map(|l| (l.index, l)).collect();

    // IPv4: the first address per (device, label), in the kernel's list order.
    let mut inet: HashMap<(u32, &[u8]), &Address> = HashMap::new();
    // IPv6: per device, in dump order for now.
    let mut inet6: HashMap<u32, Vec<&Address>> = HashMap::new();
    let mut names: Vec<&[u8]> = links.iter().map(|l| l.name.as_slice()).collect();
    let mut seen: HashSet<&[u8]> = names.iter().copied().collect();
    for address in addresses {
        match address.family {
            AF_INET => {
                let Some(device) = by_index.get(&address.index) else { continue };
                let label = address.label.as_deref().unwrap_or(&device.name);
                inet.entry((address.index, label)).or_insert(address);
                if seen.insert(label) {
                    names.push(label);
                }
            }
            AF_INET6 => inet6.entry(address.index).or_default().push(address),
            _ => {}
        }
    }
    if let Some(text) = if_inet6 {
        let rank = inet6_file_order(text);
        for list in inet6.values_mut() {
            // Stable: addresses the file did not list (added after it was read) keep the
            // dump's order, after the others.
            list.sort_by_key(|a| {
                let key = (a.index, ipv6_bytes(a).unwrap_or([0; 16]));
                rank.get(&key).copied().unwrap_or(usize::MAX)
            });
        }
    }

    let mut keyed: Vec<(SortKey, &[u8])> = names.into_iter().map(|n| (SortKey::new(n), n)).collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));

    let mut list = Vec::new();
    for (_, name) in keyed {
        // The kernel's ioctls cut an alias name at its first ':' to find the device.
        let base = name.split(|&b| b == b':').next().unwrap_or(name);
        let Some(link) = by_name.get(base) else { continue };
        let flags = link.flags as u16 as i16;
        if i32::from(flags) & IFF_UP == 0 && !all {
            continue;
        }
        let is_device = name == link.name.as_slice();
        let mut hwaddr = [0u8; 16];
        let copied = link.address.len().min(8);
        hwaddr[..copied].copy_from_slice(&link.address[..copied]);
        let map = link.map.unwrap_or_default();
        list.push(Interface {
            name: name.to_vec(),
            flags,
            mtu: link.mtu.unwrap_or(0) as i32,
            inet: inet.get(&(link.index, name)).map(|a| inet_of(a)),
            inet6: if is_device {
                inet6.get(&link.index).map(|v| v.iter().filter_map(|a| inet6_of(a)).collect()).unwrap_or_default()
            } else {
                Vec::new()
            },
            hw_type: link.hw_type,
            hwaddr,
            txqueuelen: link.txqlen.map_or(-1, |q| q as i32),
            map: IfMap {
                mem_start: map.mem_start,
                mem_end: map.mem_end,
                base_addr: map.base_addr as u16,
                irq: map.irq as u8,
                dma: map.dma,
                port: map.port,
            },
            counters: if is_device { link.stats.as_ref().map(Counters::from_stats) } else { None },
        });
    }
    list
}

fn ipv4(bytes: Option<&[u8]>) -> [u8; 4] {
    bytes.and_then(|b| b.try_into().ok()).unwrap_or([0; 4])
}

fn ipv6_bytes(address: &Address) -> Option<[u8; 16]> {
    // With a peer, IFA_LOCAL is the address and IFA_ADDRESS the peer.
    address.local.as_deref().or(address.address.as_deref()).and_then(|b| b.try_into().ok())
}

/// What `SIOCGIFADDR`, `SIOCGIFNETMASK`, `SIOCGIFBRDADDR` and `SIOCGIFDSTADDR` return for this
/// address (`ifa_local`, `ifa_mask`, `ifa_broadcast`, `ifa_address`; absent attributes are 0).
fn inet_of(address: &Address) -> Inet {
    let prefix = u32::from(address.prefixlen.min(32));
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    Inet {
        address: ipv4(address.local.as_deref()),
        netmask: mask.to_be_bytes(),
        broadcast: ipv4(address.broadcast.as_deref()),
        destination: ipv4(address.address.as_deref()),
    }
}

fn inet6_of(address: &Address) -> Option<Inet6> {
    let bytes = ipv6_bytes(address)?;
    Some(Inet6 { address: bytes, prefixlen: address.prefixlen, scope: ipv6_scope(&bytes) })
}

/// `/proc/net/if_inet6` line numbers by (ifindex, address). Malformed lines are skipped.
pub fn inet6_file_order(text: &str) -> HashMap<(u32, [u8; 16]), usize> {
    let mut rank = HashMap::new();
    for (line_no, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(hex), Some(index)) = (fields.next(), fields.next()) else { continue };
        let (Some(address), Ok(index)) = (parse_hex16(hex), u32::from_str_radix(index, 16)) else { continue };
        rank.entry((index, address)).or_insert(line_no);
    }
    rank
}

fn parse_hex16(hex: &str) -> Option<[u8; 16]> {
    if hex.len() != 32 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The kernel's `__ipv6_addr_type(addr) & IPV6_ADDR_SCOPE_MASK`, which is the scope it files
/// the address under (and prints in `/proc/net/if_inet6`). Netlink's `ifa_scope` is a coarser
/// `RT_SCOPE_*` that loses the compat-v4 bit, so the address itself is classified.
pub fn ipv6_scope(address: &[u8; 16]) -> u32 {
    const LOOPBACK: u32 = 0x10;
    const LINKLOCAL: u32 = 0x20;
    const SITELOCAL: u32 = 0x40;
    const COMPAT_V4: u32 = 0x80;
    let word = |i: usize| u32::from_be_bytes([address[4 * i], address[4 * i + 1], address[4 * i + 2], address[4 * i + 3]]);
    let st = word(0);
    if st & 0xE000_0000 != 0 && st & 0xE000_0000 != 0xE000_0000 {
        return 0; // global unicast
    }
    if st & 0xFF00_0000 == 0xFF00_0000 {
        return match address[1] & 0x0f {
            0x1 => LOOPBACK,
            0x2 => LINKLOCAL,
            0x5 => SITELOCAL,
            _ => 0,
        };
    }
    if st & 0xFFC0_0000 == 0xFE80_0000 {
        return LINKLOCAL;
    }
    if st & 0xFFC0_0000 == 0xFEC0_0000 {
        return SITELOCAL;
    }
    if word(0) | word(1) == 0 && word(2) == 0 {
        return match word(3) {
            0 => 0,
            1 => LOOPBACK,
            _ => COMPAT_V4,
        };
    }
    0 // unique-local, v4-mapped and the rest: global
}

/// net-tools' `nstrcmp()` order as a sort key. nstrcmp cuts a `:digits` alias suffix, splits
/// the rest into a text prefix and trailing digits, and compares prefix (bytewise, shorter
/// first), then the digits' `atoi` value, then the whole base name, then the alias number
/// (-1 for none), then the alias text. The full name breaks remaining ties, which makes the
/// order total (nstrcmp itself calls two names equal only when `atoi` overflows).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SortKey<'a> {
    prefix: &'a [u8],
    number: i32,
    base: &'a [u8],
    alias_number: i32,
    alias: &'a [u8],
    full: &'a [u8],
}

impl<'a> SortKey<'a> {
    /// The key of `name` (borrowing from it: sorting thousands of names allocates nothing).
    pub fn new(name: &'a [u8]) -> SortKey<'a> {
        let (base, alias) = cut_alias(name);
        let digits_at = base.iter().rposition(|b| !b.is_ascii_digit()).map_or(0, |at| at + 1);
        SortKey {
            prefix: &base[..digits_at],
            number: atoi(&base[digits_at..]),
            base,
            alias_number: alias.map_or(-1, atoi),
            alias: alias.unwrap_or_default(),
            full: name,
        }
    }
}

/// net-tools' `cutalias()`: `eth0:12` → (`eth0`, `12`); a trailing `:` without digits, or
/// digits without a `:`, is no alias.
fn cut_alias(name: &[u8]) -> (&[u8], Option<&[u8]>) {
    let mut digit = false;
    for pos in (1..=name.len()).rev() {
        let c = name[pos - 1];
        if c == b':' && digit {
            return (&name[..pos - 1], Some(&name[pos..]));
        }
        if !c.is_ascii_digit() {
            break;
        }
        digit = true;
    }
    (name, None)
}

/// glibc `atoi()` of a string of ASCII digits on LP64: `strtol` saturates at `LONG_MAX`, which
/// the cast to `int` then truncates.
fn atoi(digits: &[u8]) -> i32 {
    let mut value: i64 = 0;
    for &d in digits {
        value = value.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    value as i32
}

/// The whole report, as `ifconfig [-a]` prints it.
pub fn render(list: &[Interface]) -> Vec<u8> {
    let mut out = Vec::with_capacity(list.len() * 560);
    // One scratch buffer for all entries: no allocation per interface or per field.
    let mut text = String::with_capacity(1024);
    for iface in list {
        text.clear();
        render_one(iface, &mut text);
        // A name is the kernel's bytes (IFNAMSIZ, anything but NUL and '/'): one that a terminal
        // would act on (an escape sequence) is escaped; the usual ones go out as they are.
        if iface.name.iter().all(|b| (0x21..0x7f).contains(b)) {
            out.extend_from_slice(&iface.name);
        } else {
            out.extend_from_slice(crate::validate::system_text(&iface.name).as_bytes());
        }
        out.extend_from_slice(text.as_bytes());
    }
    out
}

/// net-tools' `ife_print_long()`, everything after the name.
fn render_one(iface: &Interface, text: &mut String) {
    let flags = i32::from(iface.flags);
    text.push_str(": ");
    put_flags(text, flags);
    let _ = writeln!(text, "  mtu {}", iface.mtu);
    if let Some(inet) = &iface.inet {
        text.push_str("        inet ");
        put_dotted(text, inet.address);
        text.push_str("  netmask ");
        put_dotted(text, inet.netmask);
        if flags & IFF_BROADCAST != 0 {
            text.push_str("  broadcast ");
            put_dotted(text, inet.broadcast);
        }
        if flags & IFF_POINTOPOINT != 0 {
            text.push_str("  destination ");
            put_dotted(text, inet.destination);
        }
        text.push('\n');
    }
    for address in &iface.inet6 {
        text.push_str("        inet6 ");
        put_inet6(text, &address.address);
        let _ = write!(text, "  prefixlen {}  scopeid 0x{:x}", address.prefixlen, address.scope);
        put_scope(text, address.scope);
        text.push('\n');
    }
    let hw = hw_type(iface.hw_type);
    text.push_str("        ");
    text.push_str(hw.name);
    let mark = text.len();
    text.push(' ');
    if !put_hw_address(text, hw, &iface.hwaddr) {
        text.truncate(mark);
    }
    if iface.txqueuelen != -1 {
        let _ = write!(text, "  txqueuelen {}", iface.txqueuelen);
    }
    let _ = writeln!(text, "  ({})", hw.title);
    if flags & IFF_PORTSEL != 0 {
        const PORTS: [&str; 7] = ["unknown", "10base2", "10baseT", "AUI", "100baseT", "100baseTX", "100baseFX"];
        let port = PORTS.get(usize::from(iface.map.port)).copied().unwrap_or("(null)");
        let _ = write!(text, "        media {port}");
        if flags & IFF_AUTOMEDIA != 0 {
            text.push_str("autoselect");
        }
        text.push('\n');
    }
    if let Some(c) = &iface.counters {
        // SLIP with VJ compression (cslip, cslip6) also shows the compressed counters.
        let compressing = matches!(iface.hw_type, 257 | 259);
        let _ = write!(text, "        RX packets {}  bytes {} (", c.rx_packets, c.rx_bytes);
        put_human(text, c.rx_bytes);
        text.push_str(")\n");
        if compressing {
            let _ = writeln!(text, "        RX compressed:{}", c.rx_compressed);
        }
        let _ = writeln!(
            text,
            "        RX errors {}  dropped {}  overruns {}  frame {}",
            c.rx_errors, c.rx_dropped, c.rx_overruns, c.rx_frame
        );
        let _ = write!(text, "        TX packets {}  bytes {} (", c.tx_packets, c.tx_bytes);
        put_human(text, c.tx_bytes);
        text.push_str(")\n");
        if compressing {
            let _ = writeln!(text, "        TX compressed {}", c.tx_compressed);
        }
        let _ = writeln!(
            text,
            "        TX errors {}  dropped {} overruns {}  carrier {}  collisions {}",
            c.tx_errors, c.tx_dropped, c.tx_overruns, c.tx_carrier, c.collisions
        );
    }
    let map = &iface.map;
    if map.irq != 0 || map.mem_start != 0 || map.dma != 0 || map.base_addr >= 0x100 {
        text.push_str("        device ");
        if map.irq != 0 {
            let _ = write!(text, "interrupt {}  ", map.irq);
        }
        if map.base_addr >= 0x100 {
            let _ = write!(text, "base 0x{:x}  ", map.base_addr);
        }
        if map.mem_start != 0 {
            let _ = write!(text, "memory 0x{:x}-{:x}  ", map.mem_start, map.mem_end);
        }
        if map.dma != 0 {
            let _ = write!(text, "  dma 0x{:x}", map.dma);
        }
        text.push('\n');
    }
    text.push('\n');
}

/// What a `put_*` writer appends, as a `String`.
fn string_of(put: impl FnOnce(&mut String)) -> String {
    let mut text = String::new();
    put(&mut text);
    text
}

/// `flags=4163<UP,BROADCAST,RUNNING,MULTICAST>`, with net-tools' quirks for no names at all
/// (`flags=0<`) and for flags that have no name (`flags=8192`).
pub fn flags_text(flags: i32) -> String {
    string_of(|text| put_flags(text, flags))
}

fn put_flags(text: &mut String, flags: i32) {
    let _ = write!(text, "flags={flags}<");
    if flags == 0 {
        text.push('>');
    }
    for (bit, name) in FLAG_NAMES {
        if flags & bit != 0 {
            text.push_str(name);
            text.push(',');
        }
    }
    // net-tools turns a trailing ',' into '>' and otherwise drops the last character.
    let last = text.pop();
    if last == Some(',') {
        text.push('>');
    }
}

/// The names inside `scopeid 0x20<link>`.
fn scope_names(scope: u32) -> Vec<&'static str> {
    let mut names = Vec::new();
    let mut scope = scope;
    if scope & 0x80 != 0 {
        names.push("compat");
        scope -= 0x80;
    }
    if scope == 0 {
        names.push("global");
    }
    for (bit, name) in [(0x20, "link"), (0x40, "site"), (0x10, "host")] {
        if scope & bit != 0 {
            names.push(name);
        }
    }
    names
}

fn put_scope(text: &mut String, scope: u32) {
    let mut first = true;
    for name in scope_names(scope) {
        text.push(if first { '<' } else { ',' });
        text.push_str(name);
        first = false;
    }
    if !first {
        text.push('>');
    }
}

#[cfg(test)]
fn scope_text(scope: u32) -> String {
    string_of(|text| put_scope(text, scope))
}

/// `inet_ntoa()`.
fn put_dotted(text: &mut String, a: [u8; 4]) {
    let _ = write!(text, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
}

fn dotted(a: [u8; 4]) -> String {
    string_of(|text| put_dotted(text, a))
}

/// glibc's `inet_ntop(AF_INET6)` (the longest run of two or more zero groups, the first one on
/// a tie, becomes `::`; `::a.b.c.d` and `::ffff:a.b.c.d` keep the dotted quad), followed by
/// net-tools' `fix_v4_address()`, which prints a v4-mapped address as the bare IPv4 address.
pub fn inet6_text(address: &[u8; 16]) -> String {
    string_of(|text| put_inet6(text, address))
}

fn put_inet6(text: &mut String, address: &[u8; 16]) {
    let tail = [address[12], address[13], address[14], address[15]];
    if address[..10].iter().all(|&b| b == 0) && address[10] == 0xff && address[11] == 0xff {
        put_dotted(text, tail); // fix_v4_address() keeps what follows the last ':'
        return;
    }
    let words: [u16; 8] = std::array::from_fn(|i| u16::from_be_bytes([address[2 * i], address[2 * i + 1]]));
    let mut best: Option<(usize, usize)> = None;
    let mut current: Option<(usize, usize)> = None;
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            current = Some(match current {
                None => (i, 1),
                Some((base, len)) => (base, len + 1),
            });
        } else if let Some(run) = current.take() {
            if best.is_none_or(|b| run.1 > b.1) {
                best = Some(run);
            }
        }
    }
    if let Some(run) = current {
        if best.is_none_or(|b| run.1 > b.1) {
            best = Some(run);
        }
    }
    let best = best.filter(|&(_, len)| len >= 2);
    let embeds_ipv4 = match best {
        Some((0, 6)) => true,
        Some((0, 5)) => words[5] == 0xffff,
        _ => false,
    };
    for (i, &w) in words.iter().enumerate() {
        if let Some((base, len)) = best {
            if i >= base && i < base + len {
                if i == base {
                    text.push(':');
                }
                continue;
            }
        }
        if i != 0 {
            text.push(':');
        }
        if i == 6 && embeds_ipv4 {
            put_dotted(text, tail);
            return;
        }
        let _ = write!(text, "{w:x}");
    }
    if let Some((base, len)) = best {
        if base + len == 8 {
            text.push(':');
        }
    }
}

/// net-tools' byte count with a binary unit: one decimal, truncated (`1.5 KiB`), units only
/// above each threshold (1024 bytes is still `1024.0 B`).
pub fn human(bytes: u64) -> String {
    string_of(|text| put_human(text, bytes))
}

fn put_human(text: &mut String, bytes: u64) {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    const TIB: u64 = 1 << 40;
    const PIB: u64 = 1 << 50;
    let tenths = bytes.wrapping_mul(10);
    let (tenths, unit) = if bytes > PIB {
        // Above LLONG_MAX/10 the tenths would overflow; net-tools divides by PiB/10 instead.
        (if bytes > i64::MAX as u64 / 10 { bytes / (PIB / 10) } else { tenths / PIB }, "PiB")
    } else if bytes > TIB {
        (tenths / TIB, "TiB")
    } else if bytes > GIB {
        (tenths / GIB, "GiB")
    } else if bytes > MIB {
        (tenths / MIB, "MiB")
    } else if bytes > KIB {
        (tenths / KIB, "KiB")
    } else {
        (tenths, "B")
    };
    let _ = write!(text, "{}.{} {unit}", tenths / 10, tenths % 10);
}

/// A net-tools hardware type: its short name, its title and how it prints an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HwType {
    /// `ether`, `loop`, `unspec`, …
    pub name: &'static str,
    /// `Ethernet`, `Local Loopback`, `UNSPEC`, …
    pub title: &'static str,
    print: HwPrint,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HwPrint {
    None,
    Ether,
    Unspec,
    Tunnel,
    Arcnet,
    Ash,
    Callsign,
    Rose,
    Dlci,
    Fddi,
    Hippi,
    Irda,
    X25,
    Eui64,
}

/// The hardware types Debian's net-tools is built with, in its table order (the first match
/// wins); anything else is `unspec`.
const HW_TYPES: [(u16, HwType); 25] = [
    (772, HwType { name: "loop", title: "Local Loopback", print: HwPrint::None }),
    (256, HwType { name: "slip", title: "Serial Line IP", print: HwPrint::None }),
    (257, HwType { name: "cslip", title: "VJ Serial Line IP", print: HwPrint::None }),
    (258, HwType { name: "slip6", title: "6-bit Serial Line IP", print: HwPrint::None }),
    (259, HwType { name: "cslip6", title: "VJ 6-bit Serial Line IP", print: HwPrint::None }),
    (264, HwType { name: "adaptive", title: "Adaptive Serial Line IP", print: HwPrint::None }),
    (781, HwType { name: "ash", title: "Ash", print: HwPrint::Ash }),
    (1, HwType { name: "ether", title: "Ethernet", print: HwPrint::Ether }),
    (3, HwType { name: "ax25", title: "AMPR AX.25", print: HwPrint::Callsign }),
    (0, HwType { name: "netrom", title: "AMPR NET/ROM", print: HwPrint::Callsign }),
    (270, HwType { name: "rose", title: "AMPR ROSE", print: HwPrint::Rose }),
    (768, HwType { name: "tunnel", title: "IPIP Tunnel", print: HwPrint::Tunnel }),
    (512, HwType { name: "ppp", title: "Point-to-Point Protocol", print: HwPrint::None }),
    (513, HwType { name: "hdlc", title: "(Cisco)-HDLC", print: HwPrint::None }),
    (516, HwType { name: "lapb", title: "LAPB", print: HwPrint::None }),
    (7, HwType { name: "arcnet", title: "ARCnet", print: HwPrint::Arcnet }),
    (15, HwType { name: "dlci", title: "Frame Relay DLCI", print: HwPrint::Dlci }),
    (770, HwType { name: "frad", title: "Frame Relay Access Device", print: HwPrint::None }),
    (776, HwType { name: "sit", title: "IPv6-in-IPv4", print: HwPrint::None }),
    (774, HwType { name: "fddi", title: "Fiber Distributed Data Interface", print: HwPrint::Fddi }),
    (780, HwType { name: "hippi", title: "HIPPI", print: HwPrint::Hippi }),
    (783, HwType { name: "irda", title: "IrLAP", print: HwPrint::Irda }),
    (782, HwType { name: "ec", title: "Econet", print: HwPrint::None }),
    (271, HwType { name: "x25", title: "generic X.25", print: HwPrint::X25 }),
    (27, HwType { name: "eui64", title: "Generic EUI-64", print: HwPrint::Eui64 }),
];

const UNSPEC: HwType = HwType { name: "unspec", title: "UNSPEC", print: HwPrint::Unspec };

/// The net-tools hardware type of an `ARPHRD_*` number.
pub fn hw_type(arphrd: u16) -> HwType {
    HW_TYPES.iter().find(|(number, _)| *number == arphrd).map_or(UNSPEC, |(_, hw)| *hw)
}

/// Appends the text after the type name on the hardware line; `false` (nothing appended) for
/// types that print no address.
fn put_hw_address(text: &mut String, hw: HwType, a: &[u8; 16]) -> bool {
    let hex = |text: &mut String, bytes: &[u8], upper: bool, sep: &str| {
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 {
                text.push_str(sep);
            }
            let _ = if upper { write!(text, "{b:02X}") } else { write!(text, "{b:02x}") };
        }
    };
    match hw.print {
        HwPrint::None => return false,
        HwPrint::Ether => hex(text, &a[..6], false, ":"),
        HwPrint::Unspec => hex(text, &a[..16], true, "-"),
        HwPrint::Tunnel => {}
        HwPrint::Arcnet => hex(text, &a[..1], true, ""),
        HwPrint::Ash => {
            // Ash suppresses an all-zero address; otherwise it prints 64 nibbles of which only
            // the first 16 bytes are the device's (net-tools reads past its buffer there).
            if a.iter().all(|&b| b == 0) {
                return false;
            }
            text.push('[');
            for i in 0..64 {
                let _ = write!(text, "{:x}", i32::from(a.get(i).copied().unwrap_or(0) as i8) as u32);
            }
            text.push(']');
        }
        HwPrint::Callsign => {
            for &b in a[..6].iter().take_while(|&&b| b >> 1 != b' ' && b >> 1 != 0) {
                text.push((b >> 1) as char);
            }
            let ssid = (a[6] & 0x1e) >> 1;
            if ssid != 0 {
                let _ = write!(text, "-{ssid}");
            }
        }
        HwPrint::Rose => hex(text, &a[..5], false, ""),
        HwPrint::Dlci => {
            let _ = write!(text, "{}", i16::from_ne_bytes([a[0], a[1]]));
        }
        HwPrint::Fddi => hex(text, &a[..6], true, "-"),
        HwPrint::Hippi => hex(text, &a[..6], true, ":"),
        HwPrint::Irda => {
            // `char` is signed on x86: `%02x` of a byte >= 0x80 prints it sign-extended.
            for (i, b) in [a[3], a[2], a[1], a[0]].into_iter().enumerate() {
                let _ = write!(text, "{}{:02x}", if i > 0 { ":" } else { "" }, i32::from(b as i8) as u32);
            }
        }
        HwPrint::X25 => text.extend(a.iter().take_while(|&&b| b != 0).map(|&b| b as char)),
        HwPrint::Eui64 => hex(text, &a[..8], true, ":"),
    }
    true
}

#[derive(SerJson)]
struct JsonReport {
    interfaces: Vec<JsonInterface>,
}

#[derive(SerJson)]
struct JsonInterface {
    name: String,
    flags: i32,
    flag_names: Vec<String>,
    mtu: i32,
    inet: Option<JsonInet>,
    inet6: Vec<JsonInet6>,
    link_type: String,
    link_title: String,
    hw_address: Option<String>,
    txqueuelen: Option<i32>,
    stats: Option<JsonStats>,
}

#[derive(SerJson)]
struct JsonInet {
    address: String,
    netmask: String,
    broadcast: Option<String>,
    destination: Option<String>,
}

#[derive(SerJson)]
struct JsonInet6 {
    address: String,
    prefixlen: u8,
    scopeid: u32,
    scope: Vec<String>,
}

#[derive(SerJson)]
struct JsonStats {
    rx_packets: u64,
    rx_bytes: u64,
    rx_errors: u64,
    rx_dropped: u64,
    rx_overruns: u64,
    rx_frame: u64,
    tx_packets: u64,
    tx_bytes: u64,
    tx_errors: u64,
    tx_dropped: u64,
    tx_overruns: u64,
    tx_carrier: u64,
    tx_collisions: u64,
}

/// The same report as JSON: `{"interfaces":[…]}`, one object per entry with the fields the
/// text shows (names that are not UTF-8 are converted lossily).
pub fn to_json(list: &[Interface]) -> String {
    let interfaces = list
        .iter()
        .map(|iface| {
            let flags = i32::from(iface.flags);
            let hw = hw_type(iface.hw_type);
            JsonInterface {
                name: crate::validate::system_text(&iface.name),
                flags,
                flag_names: FLAG_NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, n)| n.to_string()).collect(),
                mtu: iface.mtu,
                inet: iface.inet.map(|inet| JsonInet {
                    address: dotted(inet.address),
                    netmask: dotted(inet.netmask),
                    broadcast: (flags & IFF_BROADCAST != 0).then(|| dotted(inet.broadcast)),
                    destination: (flags & IFF_POINTOPOINT != 0).then(|| dotted(inet.destination)),
                }),
                inet6: iface
                    .inet6
                    .iter()
                    .map(|a| JsonInet6 {
                        address: inet6_text(&a.address),
                        prefixlen: a.prefixlen,
                        scopeid: a.scope,
                        scope: scope_names(a.scope).into_iter().map(String::from).collect(),
                    })
                    .collect(),
                link_type: hw.name.to_string(),
                link_title: hw.title.to_string(),
                hw_address: Some(string_of(|text| {
                    put_hw_address(text, hw, &iface.hwaddr);
                }))
                .filter(|a| !a.is_empty()),
                txqueuelen: (iface.txqueuelen != -1).then_some(iface.txqueuelen),
                stats: iface.counters.map(|c| JsonStats {
                    rx_packets: c.rx_packets,
                    rx_bytes: c.rx_bytes,
                    rx_errors: c.rx_errors,
                    rx_dropped: c.rx_dropped,
                    rx_overruns: c.rx_overruns,
                    rx_frame: c.rx_frame,
                    tx_packets: c.tx_packets,
                    tx_bytes: c.tx_bytes,
                    tx_errors: c.tx_errors,
                    tx_dropped: c.tx_dropped,
                    tx_overruns: c.tx_overruns,
                    tx_carrier: c.tx_carrier,
                    tx_collisions: c.collisions,
                }),
            }
        })
        .collect();
    JsonReport { interfaces }.serialize_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::netlink::LinkMap;

    fn v6(text: &str) -> [u8; 16] {
        text.parse::<std::net::Ipv6Addr>().unwrap().octets()
    }

    fn link(index: u32, name: &str, hw_type: u16, flags: u32, address: &[u8]) -> Link {
        Link {
            index,
            hw_type,
            flags,
            name: name.as_bytes().to_vec(),
            mtu: Some(1500),
            txqlen: Some(1000),
            address: address.to_vec(),
            stats: Some(LinkStats::default()),
            map: Some(LinkMap::default()),
        }
    }

    fn v4(index: u32, local: [u8; 4], prefixlen: u8, broadcast: Option<[u8; 4]>, label: &str) -> Address {
        Address {
            family: AF_INET,
            prefixlen,
            index,
            address: Some(local.to_vec()),
            local: Some(local.to_vec()),
            broadcast: broadcast.map(|b| b.to_vec()),
            label: Some(label.as_bytes().to_vec()),
            ..Address::default()
        }
    }

    fn v6addr(index: u32, text: &str, prefixlen: u8) -> Address {
        Address { family: AF_INET6, prefixlen, index, address: Some(v6(text).to_vec()), ..Address::default() }
    }

    fn text(list: &[Interface]) -> String {
        String::from_utf8(render(list)).unwrap()
    }

    /// Blocks printed by Debian's net-tools 2.10 `ifconfig -a` in a namespace made with
    /// `ip link add va type veth peer name vb`, `ip addr add 10.9.0.1/24 dev va`,
    /// `ip addr add fd00:1::1/64 dev va`, `ip addr add 2001:db8::5/48 dev va`,
    /// `ip addr add 10.9.0.2/24 dev va`, `ip addr add 10.9.1.1/24 brd + dev va label va:3`.
    const IFCONFIG_VA: &str = "\
va: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500
        inet 10.9.0.1  netmask 255.255.255.0  broadcast 0.0.0.0
        inet6 fe80::38b1:abff:feca:903f  prefixlen 64  scopeid 0x20<link>
        inet6 2001:db8::5  prefixlen 48  scopeid 0x0<global>
        inet6 fd00:1::1  prefixlen 64  scopeid 0x0<global>
        ether 3a:b1:ab:ca:90:3f  txqueuelen 1000  (Ethernet)
        RX packets 5  bytes 426 (426.0 B)
        RX errors 0  dropped 0  overruns 0  frame 0
        TX packets 8  bytes 808 (808.0 B)
        TX errors 0  dropped 0 overruns 0  carrier 0  collisions 0

va:3: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500
        inet 10.9.1.1  netmask 255.255.255.0  broadcast 10.9.1.255
        ether 3a:b1:ab:ca:90:3f  txqueuelen 1000  (Ethernet)

";
    /// The kernel's /proc/net/if_inet6 of that namespace at the same moment.
    const IF_INET6: &str = "\
fe800000000000001c3e05fffea60597 02 40 20 80       vb
fe8000000000000038b1abfffeca903f 03 40 20 80       va
00000000000000000000000000000001 01 80 10 80       lo
20010db8000000000000000000000005 03 30 00 80       va
fd000001000000000000000000000001 03 40 00 80       va
";

    fn va_namespace() -> (Vec<Link>, Vec<Address>) {
        let mut lo = link(1, "lo", 772, 0x10049, &[0; 6]);
        lo.mtu = Some(65536);
        let mut va = link(3, "va", 1, 0x11043, &[0x3a, 0xb1, 0xab, 0xca, 0x90, 0x3f]);
        va.stats = Some(LinkStats { rx_packets: 5, rx_bytes: 426, tx_packets: 8, tx_bytes: 808, ..LinkStats::default() });
        let vb = link(2, "vb", 1, 0x11043, &[0x1e, 0x3e, 5, 0xa6, 5, 0x97]);
        let down = link(4, "vdown", 1, 0x1002, &[0x8e, 0xc5, 0x2f, 0x13, 0x33, 0x12]);
        let addresses = vec![
            v4(1, [127, 0, 0, 1], 8, None, "lo"),
            v4(3, [10, 9, 0, 1], 24, None, "va"),
            v4(3, [10, 9, 0, 2], 24, None, "va"), // secondary: not shown
            v4(3, [10, 9, 1, 1], 24, Some([10, 9, 1, 255]), "va:3"),
            v6addr(1, "::1", 128),
            // The dump's order (scope, then newest first) differs from the file's.
            v6addr(3, "2001:db8::5", 48),
            v6addr(3, "fd00:1::1", 64),
            v6addr(3, "fe80::38b1:abff:feca:903f", 64),
            v6addr(2, "fe80::1c3e:5ff:fea6:597", 64),
        ];
        (vec![lo, vb, va, down], addresses)
    }

    #[test]
    fn a_veth_and_its_alias_match_ifconfig_byte_for_byte() {
        let (links, addresses) = va_namespace();
        let list = interfaces(&links, &addresses, Some(IF_INET6), false);
        let names: Vec<&[u8]> = list.iter().map(|i| i.name.as_slice()).collect();
        assert_eq!(names, [&b"lo"[..], b"va", b"va:3", b"vb"]);
        assert_eq!(text(&list[1..3]), IFCONFIG_VA);
    }

    #[test]
    fn loopback_matches_ifconfig() {
        let (links, addresses) = va_namespace();
        let list = interfaces(&links, &addresses, Some(IF_INET6), false);
        assert_eq!(
            text(&list[..1]),
            "lo: flags=73<UP,LOOPBACK,RUNNING>  mtu 65536
        inet 127.0.0.1  netmask 255.0.0.0
        inet6 ::1  prefixlen 128  scopeid 0x10<host>
        loop  txqueuelen 1000  (Local Loopback)
        RX packets 0  bytes 0 (0.0 B)
        RX errors 0  dropped 0  overruns 0  frame 0
        TX packets 0  bytes 0 (0.0 B)
        TX errors 0  dropped 0 overruns 0  carrier 0  collisions 0

"
        );
    }

    #[test]
    fn all_adds_down_interfaces_and_without_the_file_the_dump_order_holds() {
        let (links, addresses) = va_namespace();
        let list = interfaces(&links, &addresses, None, true);
        assert_eq!(list.len(), 5);
        assert_eq!(list[4].name, b"vdown");
        assert_eq!(
            text(&list[4..]),
            "vdown: flags=4098<BROADCAST,MULTICAST>  mtu 1500
        ether 8e:c5:2f:13:33:12  txqueuelen 1000  (Ethernet)
        RX packets 0  bytes 0 (0.0 B)
        RX errors 0  dropped 0  overruns 0  frame 0
        TX packets 0  bytes 0 (0.0 B)
        TX errors 0  dropped 0 overruns 0  carrier 0  collisions 0

"
        );
        let va = &list[1];
        let order: Vec<String> = va.inet6.iter().map(|a| inet6_text(&a.address)).collect();
        assert_eq!(order, ["2001:db8::5", "fd00:1::1", "fe80::38b1:abff:feca:903f"]);
        assert!(list[2].counters.is_none() && list[2].inet6.is_empty(), "an alias has no stats or IPv6");
    }

    #[test]
    fn the_file_order_is_needed_only_for_a_second_ipv6_address_on_one_device() {
        let (_, addresses) = va_namespace();
        assert!(needs_inet6_order(&addresses));
        let one_each: Vec<Address> = addresses.iter().filter(|a| a.index != 3).cloned().collect();
        assert!(!needs_inet6_order(&one_each));
    }

    #[test]
    fn counters_are_the_proc_net_dev_sums_with_human_units() {
        let stats = LinkStats {
            rx_packets: 11179,
            rx_bytes: 273_577_474,
            tx_packets: 6828,
            tx_bytes: 547_333,
            rx_dropped: 1,
            rx_missed_errors: 2,
            rx_length_errors: 1,
            rx_over_errors: 2,
            rx_crc_errors: 3,
            rx_frame_errors: 4,
            rx_fifo_errors: 5,
            tx_fifo_errors: 6,
            tx_carrier_errors: 1,
            tx_aborted_errors: 10,
            tx_window_errors: 100,
            tx_heartbeat_errors: 1000,
            collisions: 7,
            ..LinkStats::default()
        };
        let mut eth = link(2, "eth0", 1, 0x1043, &[2, 0xfc, 0, 0, 0, 1]);
        eth.stats = Some(stats);
        eth.mtu = Some(1400);
        let list = interfaces(&[eth], &[], None, false);
        assert_eq!(
            text(&list),
            "eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1400
        ether 02:fc:00:00:00:01  txqueuelen 1000  (Ethernet)
        RX packets 11179  bytes 273577474 (260.9 MiB)
        RX errors 0  dropped 3  overruns 5  frame 10
        TX packets 6828  bytes 547333 (534.5 KiB)
        TX errors 0  dropped 0 overruns 6  carrier 1111  collisions 7

"
        );
    }

    #[test]
    fn human_units_truncate_and_switch_only_above_each_power() {
        let cases: [(u64, &str); 11] = [
            (0, "0.0 B"),
            (1024, "1024.0 B"),
            (1025, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (3193, "3.1 KiB"),
            (1 << 20, "1024.0 KiB"),
            ((1 << 20) + 1, "1.0 MiB"),
            (5_757_035_946, "5.3 GiB"),
            (1 << 40, "1024.0 GiB"),
            ((1 << 50) + 1, "1.0 PiB"),
            (u64::MAX, "16384.0 PiB"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(human(bytes), expected, "{bytes}");
        }
    }

    #[test]
    fn flag_words_and_net_tools_quirks() {
        assert_eq!(flags_text(4163), "flags=4163<UP,BROADCAST,RUNNING,MULTICAST>");
        assert_eq!(flags_text(4419), "flags=4419<UP,BROADCAST,RUNNING,PROMISC,MULTICAST>");
        assert_eq!(flags_text(4305), "flags=4305<UP,POINTOPOINT,RUNNING,NOARP,MULTICAST>");
        assert_eq!(flags_text(0x1c00 | 0x200 | 0x4 | 0x20), "flags=7716<DEBUG,NOTRAILERS,ALLMULTI,SLAVE,MASTER,MULTICAST>");
        assert_eq!(flags_text(0), "flags=0<");
        assert_eq!(flags_text(0x2000), "flags=8192");
        assert_eq!(flags_text(i32::from(0x9043u16 as i16)), "flags=-28605<UP,BROADCAST,RUNNING,MULTICAST,DYNAMIC>");
        // IFF_LOWER_UP (bit 16) does not survive SIOCGIFFLAGS's short.
        let list = interfaces(&[link(1, "x", 1, 0x11043, &[0; 6])], &[], None, false);
        assert_eq!(list[0].flags, 4163);
    }

    #[test]
    fn ipv6_text_is_glibc_inet_ntop() {
        // Expected values from glibc inet_ntop (via Python's socket.inet_ntop).
        let cases = [
            ("::1", "::1"),
            ("::", "::"),
            ("fe80::38b1:abff:feca:903f", "fe80::38b1:abff:feca:903f"),
            ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),
            ("1:0:0:1:1:0:0:1", "1::1:1:0:0:1"),
            ("0:0:1:0:0:0:0:0", "0:0:1::"),
            ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("0:0:0:0:0:1:0:0", "::1:0:0"),
            ("0:0:0:0:1:0:0:0", "::1:0:0:0"),
            ("0:1::", "0:1::"),
            ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
            // v4-mapped: glibc says ::ffff:1.2.3.4, net-tools' fix_v4_address cuts it.
            ("::ffff:1.2.3.4", "1.2.3.4"),
            ("::ffff:0:0", "0.0.0.0"),
        ];
        for (input, expected) in cases {
            assert_eq!(inet6_text(&v6(input)), expected, "{input}");
        }
    }

    #[test]
    fn ipv6_scopes_are_the_kernels() {
        assert_eq!(ipv6_scope(&v6("::1")), 0x10);
        assert_eq!(ipv6_scope(&v6("fe80::1")), 0x20);
        assert_eq!(ipv6_scope(&v6("fec0::1")), 0x40);
        assert_eq!(ipv6_scope(&v6("::10.0.0.1")), 0x80);
        assert_eq!(ipv6_scope(&v6("2001:db8::1")), 0);
        assert_eq!(ipv6_scope(&v6("fd00::1")), 0);
        assert_eq!(ipv6_scope(&v6("::ffff:10.0.0.1")), 0);
        assert_eq!(scope_text(0x80), "<compat,global>");
        assert_eq!(scope_text(0x40), "<site>");
        assert_eq!(scope_text(0x10), "<host>");
    }

    #[test]
    fn order_follows_net_tools_nstrcmp_test_vectors() {
        // The expectations of net-tools' own lib/nstrcmp.c self-test.
        let vectors: [(&str, &str, i32); 37] = [
            ("eth1", "eth1", 0),
            ("eth0:1", "eth0:1", 0),
            ("lan", "lan", 0),
            ("100", "100", 0),
            ("", "", 0),
            (":", ":", 0),
            ("a:b:c", "a:b:c", 0),
            ("a:", "a:", 0),
            (":a", ":a", 0),
            ("a", "aa", -1),
            ("eth0", "eth1", -1),
            ("eth1", "eth20", -1),
            ("eth20", "eth100", -1),
            ("eth1", "eth13", -1),
            ("eth", "eth2", -1),
            ("eth0:1", "eth0:2", -1),
            ("eth1:10", "eth13:10", -1),
            ("eth1:1", "eth1:13", -1),
            ("a", "a:", -1),
            ("aa", "a", 1),
            ("eth2", "eth1", 1),
            ("eth13", "eth1", 1),
            ("eth2", "eth", 1),
            ("eth2:10", "eth2:1", 1),
            ("eth2:5", "eth2:4", 1),
            ("eth3:2", "eth2:3", 1),
            ("eth13:1", "eth1:0", 1),
            ("a:", "a", 1),
            ("a1b12", "a1b2", 1),
            ("eth1", "eth01", 1),
            ("eth01", "eth1", -1),
            ("eth1:1", "eth01:1", 1),
            ("eth01:1", "eth1:1", -1),
            ("eth1:1", "eth01:01", 1),
            ("eth1:01", "eth01:1", 1),
            ("eth01:1", "eth1:01", -1),
            ("eth01:01", "eth1:1", -1),
        ];
        for (a, b, expected) in vectors {
            let ours = SortKey::new(a.as_bytes()).cmp(&SortKey::new(b.as_bytes())) as i32;
            assert_eq!(ours, expected, "nstrcmp({a:?}, {b:?})");
        }
        // And what that means for a listing: lo sorts among the letters, numbers numerically.
        let mut names = ["veth10", "lo", "veth9", "eth0:1", "eth0", "abcdefghijklmno", "veth9b", "veth"];
        names.sort_by_key(|n| SortKey::new(n.as_bytes()));
        assert_eq!(names, ["abcdefghijklmno", "eth0", "eth0:1", "lo", "veth", "veth9", "veth10", "veth9b"]);
    }

    #[test]
    fn point_to_point_shows_the_destination_and_unknown_types_print_unspec() {
        let mut tun = link(7, "tun0", 0xfffe, 0x10d1, &[]);
        tun.txqlen = Some(500);
        let mut address = v4(7, [10, 8, 0, 1], 32, None, "tun0");
        address.address = Some(vec![10, 8, 0, 2]);
        let list = interfaces(&[tun], &[address], None, false);
        assert_eq!(
            text(&list).lines().take(3).collect::<Vec<_>>(),
            [
                "tun0: flags=4305<UP,POINTOPOINT,RUNNING,NOARP,MULTICAST>  mtu 1500",
                "        inet 10.8.0.1  netmask 255.255.255.255  destination 10.8.0.2",
                "        unspec 00-00-00-00-00-00-00-00-00-00-00-00-00-00-00-00  txqueuelen 500  (UNSPEC)",
            ]
        );
        let mut sit = link(8, "sit1", 776, 0xd1, &[192, 0, 2, 1]);
        sit.txqlen = Some(u32::MAX); // txqueuelen -1: net-tools takes it as "unknown"
        assert!(text(&interfaces(&[sit], &[], None, false)).contains("\n        sit  (IPv6-in-IPv4)\n"));
        let ipip = link(9, "tunl0", 768, 0xc1, &[0; 4]);
        assert!(text(&interfaces(&[ipip], &[], None, false)).contains("\n        tunnel   txqueuelen 1000  (IPIP Tunnel)\n"));
    }

    #[test]
    fn names_a_terminal_would_act_on_are_escaped() {
        // Linux allows any bytes but '/', ':', NUL and blanks; net-tools prints them raw, which
        // lets a name carry an escape sequence to the operator's terminal. Ours are escaped.
        let mut odd = link(3, "x", 1, 0x1043, &[0; 6]);
        odd.name = vec![b'e', 0xff, 0x1b, b'[', b'2', b'J', b'1'];
        let list = interfaces(&[odd], &[v4(3, [10, 0, 0, 1], 8, None, "x")], None, false);
        assert!(render(&list).starts_with(b"e\\xff\\x1b[2J1: "), "{}", text(&list));
        assert!(to_json(&list).contains("\"name\":\"e\\\\xff\\\\x1b[2J1\""), "{}", to_json(&list));
    }

    #[test]
    fn device_map_and_media_lines() {
        let mut eth = link(2, "eth1", 1, 0x3043, &[0, 0x1b, 0x21, 1, 2, 3]);
        eth.map = Some(LinkMap { mem_start: 0xf710_0000, mem_end: 0xf712_0000, base_addr: 0xe000, irq: 0x110, dma: 0, port: 2 });
        let rendered = text(&interfaces(&[eth], &[], None, false));
        assert!(rendered.contains("        media 10baseT\n"), "{rendered}");
        // irq is an unsigned char in struct ifmap: 0x110 shows as 16.
        assert!(rendered.ends_with("        device interrupt 16  base 0xe000  memory 0xf7100000-f7120000  \n\n"), "{rendered}");
    }

    #[test]
    fn json_has_the_same_data() {
        #[derive(nanoserde::DeJson)]
        struct Report {
            interfaces: Vec<Iface>,
        }
        #[derive(nanoserde::DeJson)]
        struct Iface {
            name: String,
            flags: i32,
            flag_names: Vec<String>,
            mtu: i32,
            inet: Option<InetJ>,
            inet6: Vec<Inet6J>,
            link_type: String,
            hw_address: Option<String>,
            txqueuelen: Option<i32>,
            stats: Option<StatsJ>,
        }
        #[derive(nanoserde::DeJson)]
        struct InetJ {
            address: String,
            netmask: String,
            broadcast: Option<String>,
        }
        #[derive(nanoserde::DeJson)]
        struct Inet6J {
            address: String,
            prefixlen: u8,
            scope: Vec<String>,
        }
        #[derive(nanoserde::DeJson)]
        struct StatsJ {
            rx_packets: u64,
            tx_bytes: u64,
        }
        let (links, addresses) = va_namespace();
        let json = to_json(&interfaces(&links, &addresses, Some(IF_INET6), false));
        let report: Report = nanoserde::DeJson::deserialize_json(&json).unwrap();
        let va = &report.interfaces[1];
        assert_eq!((va.name.as_str(), va.flags, va.mtu), ("va", 4163, 1500));
        assert_eq!(va.flag_names, ["UP", "BROADCAST", "RUNNING", "MULTICAST"]);
        let inet = va.inet.as_ref().unwrap();
        assert_eq!((inet.address.as_str(), inet.netmask.as_str()), ("10.9.0.1", "255.255.255.0"));
        assert_eq!(inet.broadcast.as_deref(), Some("0.0.0.0"));
        assert_eq!(va.inet6[0].address, "fe80::38b1:abff:feca:903f");
        assert_eq!((va.inet6[1].prefixlen, va.inet6[1].scope.clone()), (48, vec!["global".to_string()]));
        assert_eq!((va.link_type.as_str(), va.hw_address.as_deref()), ("ether", Some("3a:b1:ab:ca:90:3f")));
        assert_eq!(va.txqueuelen, Some(1000));
        let stats = va.stats.as_ref().unwrap();
        assert_eq!((stats.rx_packets, stats.tx_bytes), (5, 808));
        let lo = &report.interfaces[0];
        assert_eq!((lo.link_type.as_str(), lo.hw_address.as_deref()), ("loop", None));
        assert!(report.interfaces[2].stats.is_none());
    }
}
