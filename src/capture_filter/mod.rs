//! Capture filters: which mirrored traffic each analysis component of the sensor sees
//! (`network capture-filter`, `cyberx-xsense-capture-filter`).
//!
//! From the operator's include and exclude entries, TCP/UDP ports, VLAN id, mode and each
//! component's base filter, [`expression`] builds one pcap-filter expression per component, in
//! the reference CLI's shape; [`apply`] stores them in the components' property files (all
//! of them or none), [`current`] reads them back, [`reset`] restores the defaults,
//! [`reload`] asks the running components to read them again, and [`test_on_wire`] counts what
//! a compiled filter lets through on a monitor port. The expressions are compiled and checked
//! by [`crate::bpf`], whose language they are written in.
//!
//! # How the expression is built
//!
//! Each entry is one line of an include or exclude list:
//!
//! | entry | example | term |
//! |---|---|---|
//! | device | `10.0.0.5` | `host 10.0.0.5` |
//! | channel (traffic between two devices) | `10.0.0.5,10.0.0.9` | `host 10.0.0.5 and host 10.0.0.9` |
//! | channel on one port (exclude only) | `10.0.0.5,10.0.0.9,443` | `host 10.0.0.5 and host 10.0.0.9 and port 443` |
//! | subnet (a /24 as three octets) | `192.168.1` | `net 192.168.1` |
//! | subnet pair (traffic between two subnets) | `192.168.1,192.168.2` | `net 192.168.1 and net 192.168.2` |
//!
//! The body is the `and` of, in this order and each only when given:
//! 1. the component's base filter, `(BASE)`;
//! 2. the include group, `((I1) or (I2) …)`: the include entries, then `tcp port P` and
//!    `udp port P` for each included port (an included port lets its traffic in whatever the
//!    addresses, as an included device lets in all its ports). Devices and subnets follow the
//!    mode: `all-connected` includes each one's traffic with anyone (`host 10.0.0.5`), while
//!    `internal` includes only traffic whose two ends are both included devices or subnets:
//!    `(src host A or src net S) and (dst host A or dst net S)`. Channels and subnet pairs
//!    already name both ends and are the same in either mode;
//! 3. the exclude group, `((not (E1)) and (not (E2)) …)`;
//! 4. `(not (tcp port P))` and `(not (udp port P))` for each excluded port.
//!
//! The expression is then `(BODY) or (vlan and BODY)`, as the reference writes it: untagged
//! traffic, and tagged traffic judged by what is inside the tag. With a VLAN id to include it is
//! `vlan ID and BODY` (only that VLAN's traffic; `vlan ID` alone without a body). Nothing given
//! at all: the empty expression, which accepts everything (the defaults, [`reset`]).
//!
//! Example: exclude `192.168.1` and TCP and UDP port 9000:
//! `(((not (net 192.168.1))) and (not (tcp port 9000)) and (not (udp port 9000))) or (vlan and
//! ((not (net 192.168.1))) and (not (tcp port 9000)) and (not (udp port 9000)))`.
//!
//! Only one VLAN id can be included: in libpcap's language (which the components compile the
//! stored expression with) `vlan 10 or vlan 20` looks for VLAN 20 in a second, inner tag, and no
//! expression of the subset tests the outer tag for one of several ids.
#![forbid(unsafe_code)]

mod apply;
pub mod command;
mod wire;

pub use apply::{apply, apply_with, current, recover, reset, FileOps, StoreOps, Stored};
pub use wire::{reload, test_on_wire, Reloaded, WireCount};

use crate::bpf::{self, FilterError};
use std::fmt;
use std::net::Ipv4Addr;

/// A component of the sensor that reads a capture filter, and where it keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// The PCAP collector (`dumpark`).
    Collector,
    /// Communication statistics.
    TrafficMonitor,
    /// Deep packet inspection.
    Horizon,
    /// The protocol dissector (`cybershark`).
    Dissector,
    /// Network statistics.
    StatisticsCollector,
    /// The RPC parser.
    RpcParser,
    /// The SMB parser.
    SmbParser,
}

impl Component {
    /// Every component, in the order `all` applies them (the reference's order first).
    pub const ALL: [Component; 7] = [
        Component::Collector,
        Component::TrafficMonitor,
        Component::Horizon,
        Component::Dissector,
        Component::StatisticsCollector,
        Component::RpcParser,
        Component::SmbParser,
    ];

    /// The name `-p`/`--program` takes.
    pub fn name(self) -> &'static str {
        match self {
            Component::Collector => "collector",
            Component::TrafficMonitor => "traffic-monitor",
            Component::Horizon => "horizon",
            Component::Dissector => "dissector",
            Component::StatisticsCollector => "statistics-collector",
            Component::RpcParser => "rpc-parser",
            Component::SmbParser => "smb-parser",
        }
    }

    /// The name the reference prints in `debug: set new filter for <name> '…'` (the collector
    /// is its process, dumpark).
    pub fn shown_name(self) -> &'static str {
        match self {
            Component::Collector => "dumpark",
            other => other.name(),
        }
    }

    /// The property file, relative to `<root>/var/cyberx/properties/`.
    pub fn file(self) -> &'static str {
        match self {
            Component::Collector => "dumpark.properties",
            Component::TrafficMonitor => "traffic_monitor/traffic-monitor.properties",
            Component::Horizon => "horizon_parser/horizon.properties",
            Component::Dissector => "cybershark.properties",
            Component::StatisticsCollector => "net.stats.collector.properties",
            Component::RpcParser => "rpc-parser.properties",
            Component::SmbParser => "smb-parser.properties",
        }
    }

    /// The property that holds the filter.
    pub fn key(self) -> &'static str {
        match self {
            Component::Collector => "dumpark.network.filter",
            Component::TrafficMonitor | Component::Horizon => "horizon.processor.filter",
            Component::Dissector | Component::RpcParser | Component::SmbParser => "override.capture_filter",
            Component::StatisticsCollector => "bpf_filter",
        }
    }

    /// The component `name` names.
    pub fn parse(name: &str) -> Result<Component, CaptureFilterError> {
        Component::ALL
            .into_iter()
            .find(|c| c.name() == name || c.shown_name() == name)
            .ok_or_else(|| CaptureFilterError::UnknownProgram(crate::validate::printable(name)))
    }
}

/// Where the property files live, relative to the root.
pub const PROPERTIES_DIR: &str = "var/cyberx/properties";

/// Which components a request changes (`-p`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    /// Every component.
    All,
    /// One component.
    One(Component),
}

impl Program {
    /// `all` or a component's name.
    pub fn parse(text: &str) -> Result<Program, CaptureFilterError> {
        if text == "all" {
            Ok(Program::All)
        } else {
            Component::parse(text).map(Program::One)
        }
    }

    /// The components, in order.
    pub fn components(&self) -> Vec<Component> {
        match self {
            Program::All => Component::ALL.to_vec(),
            Program::One(one) => vec![*one],
        }
    }
}

/// Which included devices and subnets may talk to whom (`-m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Only traffic between included devices and subnets.
    Internal,
    /// Also traffic between an included one and anyone else.
    AllConnected,
}

impl Mode {
    /// `internal` or `all-connected`.
    pub fn parse(text: &str) -> Result<Mode, CaptureFilterError> {
        match text {
            "internal" => Ok(Mode::Internal),
            "all-connected" => Ok(Mode::AllConnected),
            other => Err(CaptureFilterError::UnknownMode(crate::validate::printable(other))),
        }
    }

    /// The name `-m` takes.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Internal => "internal",
            Mode::AllConnected => "all-connected",
        }
    }
}

/// One line of an include or exclude list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A device: all its traffic.
    Device(Ipv4Addr),
    /// Traffic between two devices.
    Channel(Ipv4Addr, Ipv4Addr),
    /// Traffic between two devices on one port (exclude lists only).
    ChannelPort(Ipv4Addr, Ipv4Addr, u16),
    /// A /24 written as its three octets.
    Subnet([u8; 3]),
    /// Traffic between two /24s.
    SubnetPair([u8; 3], [u8; 3]),
}

fn subnet(octets: [u8; 3]) -> String {
    format!("{}.{}.{}", octets[0], octets[1], octets[2])
}

impl Entry {
    /// Parses one entry; `exclude` allows the channel-on-a-port form.
    pub fn parse(text: &str, exclude: bool) -> Result<Entry, CaptureFilterError> {
        let bad = |why: &str| CaptureFilterError::BadEntry { entry: crate::validate::printable(text), why: why.to_string() };
        let parts: Vec<&str> = text.trim().split(',').map(str::trim).collect();
        let octets = |part: &str| -> Result<Vec<u8>, CaptureFilterError> {
            part.split('.')
                .map(|octet| {
                    let plain = !octet.is_empty()
                        && octet.len() <= 3
                        && octet.bytes().all(|b| b.is_ascii_digit())
                        && !(octet.len() > 1 && octet.starts_with('0'));
                    octet.parse::<u8>().ok().filter(|_| plain).ok_or_else(|| bad("an octet is not a number 0-255"))
                })
                .collect()
        };
        let address = |o: &[u8]| Ipv4Addr::new(o[0], o[1], o[2], o[3]);
        let net = |o: &[u8]| [o[0], o[1], o[2]];
        let shape = "neither a device (a.b.c.d) nor a subnet (a.b.c)";
        match parts.as_slice() {
            [one] => {
                let o = octets(one)?;
                match o.len() {
                    4 => Ok(Entry::Device(address(&o))),
                    3 => Ok(Entry::Subnet(net(&o))),
                    _ => Err(bad(shape)),
                }
            }
            [a, b] => {
                let (a, b) = (octets(a)?, octets(b)?);
                match (a.len(), b.len()) {
                    (4, 4) => Ok(Entry::Channel(address(&a), address(&b))),
                    (3, 3) => Ok(Entry::SubnetPair(net(&a), net(&b))),
                    _ => Err(bad("a pair is two devices or two subnets")),
                }
            }
            [a, b, port] if exclude => {
                let (a, b) = (octets(a)?, octets(b)?);
                if a.len() != 4 || b.len() != 4 {
                    return Err(bad("a channel on a port is two devices and a port"));
                }
                let port = parse_port(port)?;
                Ok(Entry::ChannelPort(address(&a), address(&b), port))
            }
            [_, _, _] => Err(bad("a channel on one port can only be excluded")),
            _ => Err(bad("too many fields")),
        }
    }

    /// The entry as the pcap-filter term it stands for.
    pub fn term(&self) -> String {
        match self {
            Entry::Device(a) => format!("host {a}"),
            Entry::Channel(a, b) => format!("host {a} and host {b}"),
            Entry::ChannelPort(a, b, port) => format!("host {a} and host {b} and port {port}"),
            Entry::Subnet(s) => format!("net {}", subnet(*s)),
            Entry::SubnetPair(s, t) => format!("net {} and net {}", subnet(*s), subnet(*t)),
        }
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Device(a) => write!(f, "{a}"),
            Entry::Channel(a, b) => write!(f, "{a},{b}"),
            Entry::ChannelPort(a, b, port) => write!(f, "{a},{b},{port}"),
            Entry::Subnet(s) => f.write_str(&subnet(*s)),
            Entry::SubnetPair(s, t) => write!(f, "{},{}", subnet(*s), subnet(*t)),
        }
    }
}

/// The entries of an include or exclude list, one a line; blank lines and `#` comments are
/// skipped. An error names the line.
pub fn parse_entries(text: &str, exclude: bool) -> Result<Vec<Entry>, CaptureFilterError> {
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match Entry::parse(line, exclude) {
            Ok(entry) => entries.push(entry),
            Err(CaptureFilterError::BadEntry { entry, why }) => {
                return Err(CaptureFilterError::BadEntry { entry, why: format!("line {}: {why}", n + 1) })
            }
            Err(other) => return Err(other),
        }
    }
    Ok(entries)
}

fn parse_port(text: &str) -> Result<u16, CaptureFilterError> {
    let text = text.trim();
    let plain = !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit());
    text.parse::<u16>()
        .ok()
        .filter(|_| plain)
        .ok_or_else(|| CaptureFilterError::BadPort(crate::validate::printable(text)))
}

/// A comma-separated port list (`502,443`; empty: none).
pub fn parse_ports(text: &str) -> Result<Vec<u16>, CaptureFilterError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',').map(parse_port).collect()
}

/// A VLAN id list (`10`; empty: none). More than one id is refused (see the module doc).
pub fn parse_vlan_ids(text: &str) -> Result<Option<u16>, CaptureFilterError> {
    let mut ids = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let plain = item.len() <= 4 && item.bytes().all(|b| b.is_ascii_digit());
        match item.parse::<u16>() {
            Ok(id) if plain && id <= 4095 => ids.push(id),
            _ => return Err(CaptureFilterError::BadVlan(crate::validate::printable(item))),
        }
    }
    ids.dedup();
    match ids.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(CaptureFilterError::TooManyVlans(ids.len())),
    }
}

/// Everything one run of the command asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Include list (`-i`).
    pub include: Vec<Entry>,
    /// Exclude list (`-x`).
    pub exclude: Vec<Entry>,
    /// `-itp`.
    pub include_tcp_ports: Vec<u16>,
    /// `-iup`.
    pub include_udp_ports: Vec<u16>,
    /// `-etp`.
    pub exclude_tcp_ports: Vec<u16>,
    /// `-eup`.
    pub exclude_udp_ports: Vec<u16>,
    /// `-vlan`.
    pub vlan: Option<u16>,
    /// `-m` (`None` is all-connected, the reset's mode).
    pub mode: Option<Mode>,
    /// Base filters (`-o`, `-s`, `-c` and the interactive questions), checked by
    /// [`Request::set_base`].
    pub bases: Vec<(Component, String)>,
}

impl Request {
    /// Sets `component`'s base filter after checking it is in the supported language.
    pub fn set_base(&mut self, component: Component, filter: &str) -> Result<(), CaptureFilterError> {
        let filter = filter.trim();
        bpf::check(filter).map_err(|error| CaptureFilterError::BadBaseFilter { component, error })?;
        self.bases.retain(|(c, _)| *c != component);
        if !filter.is_empty() {
            self.bases.push((component, filter.to_string()));
        }
        Ok(())
    }

    fn base(&self, component: Component) -> Option<&str> {
        self.bases.iter().find(|(c, _)| *c == component).map(|(_, f)| f.as_str())
    }
}

/// The expression for `component` (see the module doc for the rules).
pub fn expression(request: &Request, component: Component) -> String {
    let mut body: Vec<String> = Vec::new();
    if let Some(base) = request.base(component) {
        body.push(format!("({base})"));
    }
    let mut included: Vec<String> = Vec::new();
    let (ends, pairs): (Vec<&Entry>, Vec<&Entry>) =
        request.include.iter().partition(|e| matches!(e, Entry::Device(_) | Entry::Subnet(_)));
    match request.mode.unwrap_or(Mode::AllConnected) {
        Mode::AllConnected => included.extend(ends.iter().map(|e| e.term())),
        Mode::Internal if !ends.is_empty() => {
            let side = |dir: &str| ends.iter().map(|e| format!("{dir} {}", e.term())).collect::<Vec<_>>().join(" or ");
            included.push(format!("({}) and ({})", side("src"), side("dst")));
        }
        Mode::Internal => {}
    }
    included.extend(pairs.iter().map(|e| e.term()));
    included.extend(request.include_tcp_ports.iter().map(|p| format!("tcp port {p}")));
    included.extend(request.include_udp_ports.iter().map(|p| format!("udp port {p}")));
    if !included.is_empty() {
        body.push(format!("({})", included.iter().map(|t| format!("({t})")).collect::<Vec<_>>().join(" or ")));
    }
    if !request.exclude.is_empty() {
        let each: Vec<String> = request.exclude.iter().map(|e| format!("(not ({}))", e.term())).collect();
        body.push(format!("({})", each.join(" and ")));
    }
    body.extend(request.exclude_tcp_ports.iter().map(|p| format!("(not (tcp port {p}))")));
    body.extend(request.exclude_udp_ports.iter().map(|p| format!("(not (udp port {p}))")));
    let body = body.join(" and ");
    match (request.vlan, body.is_empty()) {
        (None, true) => String::new(),
        (None, false) => format!("({body}) or (vlan and {body})"),
        (Some(id), true) => format!("vlan {id}"),
        (Some(id), false) => format!("vlan {id} and {body}"),
    }
}

/// One component's new filter, compiled and checked against the limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// The component.
    pub component: Component,
    /// Its expression (empty: everything).
    pub expression: String,
    /// The compiled program, for the listing (`program.listing()`).
    pub program: bpf::Program,
}

/// Builds and compiles the filter of each component the request's `program` names, each held
/// to `max_insns` (the board's `capture_filter_max_insns`); nothing is written.
pub fn plan(request: &Request, program: &Program, max_insns: usize) -> Result<Vec<Planned>, CaptureFilterError> {
    program
        .components()
        .into_iter()
        .map(|component| {
            let expression = expression(request, component);
            let program = bpf::compile(&expression, max_insns).map_err(|error| match error {
                FilterError::TooLong { size, limit } => CaptureFilterError::TooLong { component, size, limit },
                error => CaptureFilterError::BadBaseFilter { component, error },
            })?;
            Ok(Planned { component, expression, program })
        })
        .collect()
}

/// The line the reference prints for each component it changed.
pub fn debug_line(component: Component, expression: &str) -> String {
    format!("debug: set new filter for {} '{expression}'", component.shown_name())
}

/// Why a capture-filter request was refused or failed.
#[derive(Debug)]
pub enum CaptureFilterError {
    /// An include or exclude entry that is not one of the five forms.
    BadEntry {
        /// The entry as given (made printable).
        entry: String,
        /// What is wrong (with the line number when from a list).
        why: String,
    },
    /// A port that is not 0-65535.
    BadPort(String),
    /// A VLAN id that is not 0-4095.
    BadVlan(String),
    /// More than one VLAN id (see the module doc).
    TooManyVlans(usize),
    /// `-p` names no component.
    UnknownProgram(String),
    /// `-m` is not `internal` or `all-connected`.
    UnknownMode(String),
    /// A base filter outside the supported language, or an expression libpcap would refuse.
    BadBaseFilter {
        /// Whose base filter.
        component: Component,
        /// Why.
        error: FilterError,
    },
    /// The compiled filter is over the limit.
    TooLong {
        /// Whose filter.
        component: Component,
        /// Its instructions.
        size: usize,
        /// The limit (board or kernel).
        limit: usize,
    },
    /// Reading or writing the property files, or the socket of `--test`, failed.
    System(crate::error::Error),
}

impl CaptureFilterError {
    /// Whether this is bad input (exit 2: nothing was changed).
    pub fn is_usage(&self) -> bool {
        !matches!(self, CaptureFilterError::System(_))
    }
}

impl fmt::Display for CaptureFilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureFilterError::BadEntry { entry, why } => write!(f, "invalid entry '{entry}': {why}"),
            CaptureFilterError::BadPort(port) => write!(f, "invalid port '{port}' (0-65535)"),
            CaptureFilterError::BadVlan(id) => write!(f, "invalid VLAN id '{id}' (0-4095)"),
            CaptureFilterError::TooManyVlans(n) => write!(
                f,
                "{n} VLAN ids given; one can be included (libpcap's 'vlan A or vlan B' looks for B in an inner tag)"
            ),
            CaptureFilterError::UnknownProgram(name) => write!(
                f,
                "unknown program '{name}' (all, {})",
                Component::ALL.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
            ),
            CaptureFilterError::UnknownMode(mode) => write!(f, "unknown mode '{mode}' (internal, all-connected)"),
            CaptureFilterError::BadBaseFilter { component, error } => write!(f, "{}: {error}", component.name()),
            CaptureFilterError::TooLong { component, size, limit } => write!(
                f,
                "{}: capture filter too long: {size} instructions, the limit is {limit}",
                component.name()
            ),
            CaptureFilterError::System(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for CaptureFilterError {}

impl From<CaptureFilterError> for crate::error::Error {
    fn from(err: CaptureFilterError) -> Self {
        match err {
            CaptureFilterError::System(inner) => inner,
            usage => crate::error::Error::Usage(usage.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
