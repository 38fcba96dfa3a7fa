//! The management network settings as typed values, and every check of them that needs no
//! kernel. Pure; needs no privileges.
#![forbid(unsafe_code)]

use crate::board::Board;
use crate::config::{Config, MonitorConfig, NetworkConfig};
use crate::error::{Error, Result};
use crate::sys::netlink::Link;
use crate::validate::{printable, DirPath, IfName, Ipv4, Label, Netmask};
use std::path::Path;
use super::*;

/// A monitor interface and its label (`local_listener=adiot0`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Monitor {
    /// The label operators see.
    pub label: Label,
    /// The kernel interface.
    pub device: IfName,
}

impl Monitor {
    /// Parses `label=device`.
    pub fn parse(text: &str) -> Result<Monitor> {
        let Some((label, device)) = text.split_once('=') else {
            return Err(Error::Usage(format!(
                "invalid monitor interface '{}': expected label=device, like local_listener=eth1",
                printable(text)
            )));
        };
        Ok(Monitor { label: Label::parse(label)?, device: IfName::parse(device)? })
    }
}

crate::validate::wire_text!(Monitor);

impl std::fmt::Display for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.label, self.device)
    }
}

/// The complete, typed settings. Built only through the parsers of `crate::validate` and
/// checked as a whole by [`Settings::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The management interface.
    pub interface: IfName,
    /// Its IPv4 address.
    pub ip: Ipv4,
    /// Its subnet mask.
    pub subnet: Netmask,
    /// The default gateway (inside the subnet).
    pub gateway: Ipv4,
    /// DNS servers in resolver order (0 to [`MAX_DNS`]).
    pub dns: Vec<Ipv4>,
    /// Monitor interfaces.
    pub monitors: Vec<Monitor>,
    /// ERSPAN interfaces.
    pub erspan: Vec<IfName>,
    /// The backup directory (under the root).
    pub backup_dir: DirPath,
}

/// A list answer or flag: items separated by commas and/or blanks; `none` for an empty list.
pub fn split_list(text: &str) -> Vec<&str> {
    let items: Vec<&str> = text.split([',', ' ', '\t']).filter(|s| !s.is_empty()).collect();
    if items == ["none"] {
        Vec::new()
    } else {
        items
    }
}

/// Parses a list of DNS servers (see [`split_list`]) and checks it ([`check_dns`]).
pub fn parse_dns(text: &str) -> Result<Vec<Ipv4>> {
    let dns = split_list(text).into_iter().map(Ipv4::parse).collect::<Result<Vec<_>>>()?;
    check_dns(&dns)?;
    Ok(dns)
}

/// Parses a list of `label=device` monitor interfaces (see [`split_list`]).
pub fn parse_monitors(text: &str) -> Result<Vec<Monitor>> {
    split_list(text).into_iter().map(Monitor::parse).collect()
}

/// Parses a list of interface names (see [`split_list`]).
pub fn parse_interfaces(text: &str) -> Result<Vec<IfName>> {
    split_list(text).into_iter().map(IfName::parse).collect()
}

/// Text of a list for prompts and reports: `a, b`, or `none`.
pub fn list_text<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
    }
}

pub(super) fn usage(text: String) -> Error {
    Error::Usage(text)
}

/// An address a host may have or route via: not 0.0.0.0, loopback, multicast, the limited
/// broadcast or the reserved 240/4.
pub fn check_host(what: &str, ip: Ipv4) -> Result<()> {
    let addr = ip.addr();
    let why = if addr.is_unspecified() {
        "the unspecified address"
    } else if addr.is_loopback() {
        "a loopback address"
    } else if addr.is_multicast() {
        "a multicast address"
    } else if addr.octets()[0] >= 240 {
        "a reserved or broadcast address"
    } else {
        return Ok(());
    };
    Err(usage(format!("{what} {ip}: not usable as a host address ({why})")))
}

/// The address fits its subnet: not the subnet's network or broadcast address (subnets of up
/// to /30 have those), and the subnet leaves room for a gateway (not /32).
pub fn check_subnet(ip: Ipv4, subnet: Netmask) -> Result<()> {
    let addr = ip.addr();
    if subnet.prefix() == 32 {
        return Err(usage(format!("subnet {subnet}: a /32 subnet has no room for a default gateway")));
    }
    if subnet.prefix() <= 30 && (addr == subnet.network(addr) || addr == subnet.broadcast(addr)) {
        let which = if addr == subnet.network(addr) { "network" } else { "broadcast" };
        return Err(usage(format!(
            "ip {ip} is the {which} address of its subnet {}/{}",
            subnet.network(addr),
            subnet.prefix()
        )));
    }
    Ok(())
}

/// The gateway is a host address inside the subnet, and not the appliance's own address.
pub fn check_gateway(ip: Ipv4, subnet: Netmask, gateway: Ipv4) -> Result<()> {
    check_host("default gateway", gateway)?;
    let (addr, gw) = (ip.addr(), gateway.addr());
    if !subnet.same_subnet(addr, gw) {
        return Err(usage(format!(
            "default gateway {gateway} is outside the subnet {}/{} (ip {ip}, subnet {subnet})",
            subnet.network(addr),
            subnet.prefix()
        )));
    }
    if gw == addr {
        return Err(usage(format!("default gateway {gateway} is the appliance's own ip")));
    }
    if subnet.prefix() <= 30 && (gw == subnet.network(addr) || gw == subnet.broadcast(addr)) {
        return Err(usage(format!("default gateway {gateway} is the network or broadcast address of the subnet")));
    }
    Ok(())
}

/// At most [`MAX_DNS`] servers, each a unicast address, none twice.
pub fn check_dns(dns: &[Ipv4]) -> Result<()> {
    if dns.len() > MAX_DNS {
        return Err(usage(format!("at most {MAX_DNS} DNS servers (the resolver reads no more), not {}", dns.len())));
    }
    for (at, server) in dns.iter().enumerate() {
        let addr = server.addr();
        if addr.is_unspecified() || addr.is_multicast() || addr.octets()[0] >= 240 {
            return Err(usage(format!("dns {server}: not a unicast address")));
        }
        if dns[..at].contains(server) {
            return Err(usage(format!("dns {server}: given twice")));
        }
    }
    Ok(())
}

/// Labels and devices unique; the management interface is not a monitor interface.
pub fn check_monitors(interface: &IfName, monitors: &[Monitor]) -> Result<()> {
    for (at, monitor) in monitors.iter().enumerate() {
        if &monitor.device == interface {
            return Err(usage(format!("monitor interface {monitor}: {interface} is the management interface")));
        }
        if monitors[..at].iter().any(|m| m.label == monitor.label) {
            return Err(usage(format!("monitor interface label {} given twice", monitor.label)));
        }
        if monitors[..at].iter().any(|m| m.device == monitor.device) {
            return Err(usage(format!("monitor interface {} given twice", monitor.device)));
        }
    }
    Ok(())
}

/// ERSPAN interfaces unique, and neither the management nor a monitor interface.
pub fn check_erspan(interface: &IfName, monitors: &[Monitor], erspan: &[IfName]) -> Result<()> {
    for (at, name) in erspan.iter().enumerate() {
        if name == interface {
            return Err(usage(format!("ERSPAN interface {name} is the management interface")));
        }
        if monitors.iter().any(|m| &m.device == name) {
            return Err(usage(format!("ERSPAN interface {name} is a monitor interface")));
        }
        if erspan[..at].contains(name) {
            return Err(usage(format!("ERSPAN interface {name} given twice")));
        }
    }
    Ok(())
}

/// `name` is a device of this network namespace (`links` from the link dump).
pub fn check_exists(what: &str, name: &IfName, links: &[Link]) -> Result<()> {
    if links.iter().any(|l| l.name == name.as_str().as_bytes()) {
        Ok(())
    } else {
        Err(usage(format!("{what} {name}: no such interface")))
    }
}

impl Settings {
    /// Every check that needs no kernel: the address against its subnet, the gateway inside
    /// it, the DNS list, and the interface roles against each other.
    pub fn check(&self) -> Result<()> {
        check_host("ip", self.ip)?;
        check_subnet(self.ip, self.subnet)?;
        check_gateway(self.ip, self.subnet, self.gateway)?;
        check_dns(&self.dns)?;
        check_monitors(&self.interface, &self.monitors)?;
        check_erspan(&self.interface, &self.monitors, &self.erspan)
    }

    /// Every interface named exists.
    pub fn check_links(&self, links: &[Link]) -> Result<()> {
        check_exists("management interface", &self.interface, links)?;
        for monitor in &self.monitors {
            check_exists(&format!("monitor interface {}:", monitor.label), &monitor.device, links)?;
        }
        for name in &self.erspan {
            check_exists("ERSPAN interface", name, links)?;
        }
        Ok(())
    }

    /// From the answers an Action carries; any missing or invalid answer is a usage error.
    #[allow(clippy::too_many_arguments)]
    pub fn from_answers(
        interface: Option<&str>,
        ip: Option<&str>,
        subnet: Option<&str>,
        gateway: Option<&str>,
        dns: Option<&[String]>,
        monitors: Option<&[String]>,
        erspan: Option<&[String]>,
        backup_dir: Option<&str>,
    ) -> Result<Settings> {
        fn need<T>(value: Option<T>, what: &str) -> Result<T> {
            value.ok_or_else(|| {
                usage(format!("incomplete request: no {what} (the wizard asks for every setting before it sends one)"))
            })
        }
        let settings = Settings {
            interface: IfName::parse(need(interface, "interface")?)?,
            ip: Ipv4::parse(need(ip, "ip")?)?,
            subnet: Netmask::parse(need(subnet, "subnet")?)?,
            gateway: Ipv4::parse(need(gateway, "gateway")?)?,
            dns: need(dns, "dns")?.iter().map(|s| Ipv4::parse(s)).collect::<Result<_>>()?,
            monitors: need(monitors, "monitor interfaces")?.iter().map(|s| Monitor::parse(s)).collect::<Result<_>>()?,
            erspan: need(erspan, "ERSPAN interfaces")?.iter().map(|s| IfName::parse(s)).collect::<Result<_>>()?,
            backup_dir: DirPath::parse(need(backup_dir, "backup directory")?)?,
        };
        settings.check()?;
        Ok(settings)
    }

    /// The config's settings (`None` when it has no `network` section). A section that does
    /// not validate is an error naming the config file and the field.
    pub fn from_config(config: &Config, board: &Board, path: &Path) -> Result<Option<Settings>> {
        let Some(network) = &config.network else { return Ok(None) };
        let bad = |field: &str, err: Error| Error::BadFile {
            path: path.to_path_buf(),
            why: format!("network.{field}: {err}"),
        };
        let monitors = match &network.monitor_interfaces {
            Some(list) => list
                .iter()
                .map(|m| Ok(Monitor { label: Label::parse(&m.label)?, device: IfName::parse(&m.device)? }))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| bad("monitor_interfaces", e))?,
            None => board_monitors(board),
        };
        let settings = Settings {
            interface: IfName::parse(&network.interface).map_err(|e| bad("interface", e))?,
            ip: Ipv4::parse(&network.ip).map_err(|e| bad("ip", e))?,
            subnet: Netmask::parse(&network.subnet).map_err(|e| bad("subnet", e))?,
            gateway: Ipv4::parse(&network.gateway).map_err(|e| bad("gateway", e))?,
            dns: network.dns.iter().map(|s| Ipv4::parse(s)).collect::<Result<_>>().map_err(|e| bad("dns", e))?,
            monitors,
            erspan: network
                .erspan_interfaces
                .iter()
                .map(|s| IfName::parse(s))
                .collect::<Result<_>>()
                .map_err(|e| bad("erspan_interfaces", e))?,
            backup_dir: backup_dir(config, board).map_err(|e| bad("backup_dir", e))?,
        };
        settings.check().map_err(|e| bad("settings", e))?;
        Ok(Some(settings))
    }

    /// The config section for these settings.
    pub fn to_config(&self) -> NetworkConfig {
        NetworkConfig {
            interface: self.interface.to_string(),
            ip: self.ip.to_string(),
            subnet: self.subnet.to_string(),
            gateway: self.gateway.to_string(),
            dns: self.dns.iter().map(Ipv4::to_string).collect(),
            monitor_interfaces: Some(
                self.monitors
                    .iter()
                    .map(|m| MonitorConfig { label: m.label.to_string(), device: m.device.to_string() })
                    .collect(),
            ),
            erspan_interfaces: self.erspan.iter().map(IfName::to_string).collect(),
        }
    }

    /// The reference CLI's `Current Network Settings:` lines.
    pub fn network_lines(&self) -> Vec<String> {
        vec![
            format!("interface: {}", self.interface),
            format!("ip: {}", self.ip),
            format!("subnet: {}", self.subnet),
            format!("default gateway: {}", self.gateway),
            format!("dns: {}", list_text(&self.dns)),
            format!("monitor interfaces mapping: {}", list_text(&self.monitors)),
        ]
    }

    /// Every setting, for the wizard's summary and the reconfigure report.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines = self.network_lines();
        lines.push(format!("erspan interfaces: {}", list_text(&self.erspan)));
        lines.push(format!("backup directory: {}", self.backup_dir));
        lines
    }
}

/// The board's monitor mapping, as settings (entries that do not validate are left out; the
/// board loader has checked them already).
pub fn board_monitors(board: &Board) -> Vec<Monitor> {
    board
        .monitor_interfaces
        .iter()
        .filter_map(|m| Label::parse(&m.label).ok().map(|label| Monitor { label, device: m.device.clone() }))
        .collect()
}

/// The backup directory: the config's when the board allows it, else the board's (as
/// backups choose it: [`crate::board::BackupSettings::dir_for`]).
pub fn backup_dir(config: &Config, board: &Board) -> Result<DirPath> {
    DirPath::parse(&board.backup.dir_for(config.backup_dir.as_deref()).to_string_lossy())
}

