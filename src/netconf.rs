//! `network validate` and `network reconfigure`: the management network settings (interface,
//! IPv4 address, subnet mask, default gateway, DNS servers) and the interface roles (monitor
//! interfaces with their labels, ERSPAN interfaces) plus the backup directory — checked against
//! the kernel, and applied to it.
//!
//! **Validate** compares the config's settings with what the kernel and the resolver file say:
//! the interface exists and is up, it carries the address with the configured prefix (one
//! `RTM_GETADDR` dump), the main table's default route (one `RTM_GETROUTE` dump; the lowest
//! metric wins, as in the kernel) goes via the configured gateway on that interface, the
//! `nameserver` lines of `<root>/etc/resolv.conf` are the configured servers in order, and every
//! monitor interface exists. A match prints the reference CLI's block; anything else prints one
//! `<setting>: configured <A>, actual <B>` line per difference and exits 1.
//!
//! **Reconfigure** is split in two, because the support user reaches it through the daemon,
//! whose socket has no terminal: the *questions* (prompts with the current values as defaults,
//! the summary and the `[Y/n]` confirmation) are asked client-side, in the caller's own process,
//! by `cli::network` — before the [`crate::action::Action`] is built — so the Action carries the
//! complete answers. This module is the executor's half: it validates every answer again (an
//! Action may come from any client of the socket), then applies. That keeps the daemon free of
//! any conversation, lets the in-process (root) and daemon paths share one Action, and makes
//! `--yes` with flags and a piped wizard the same request.
//!
//! Applying is a small transaction. Order: the resolver file, then removal of the old
//! management address, the new address (`RTM_DELADDR`/`RTM_NEWADDR`; old first, so that the new
//! address becomes its subnet's primary and cannot be flushed with an old primary), the default
//! routes (`RTM_DELROUTE` for every main-table default route that is not the wanted one, then
//! `RTM_NEWROUTE`), the backup directory, and last the config (atomically, via
//! [`crate::store`]). The kernel state and the resolver file are recorded before the first
//! change. When a step fails — say the kernel answers ENETUNREACH because the gateway is not on
//! any connected subnet (the interface is down) — everything already done is undone: what was
//! added is removed, the resolver file gets its old bytes back (or is removed if there was
//! none), created directories are removed, and every recorded address and route (all tables
//! but `local`, which the kernel keeps itself) that is now missing is put back; the config is
//! never written. Rollback keeps going past its own errors and reports them all.
//!
//! Privileges: validate needs none beyond reading the config and the resolver file (netlink
//! dumps are open to all). Reconfigure needs CAP_NET_ADMIN and write access to the resolver
//! file, the config and the backup directory: it runs as root, in-process or in the daemon.
#![forbid(unsafe_code)]

use crate::action::Status;
use crate::board::Board;
use crate::config::{Config, MonitorConfig, NetworkConfig};
use crate::context::Context;
use crate::error::{strip_errno, Error, Result};
use crate::info::emit;
use crate::paths::RootDir;
use crate::sys::netlink::{Link, RouteSocket};
use crate::sys::route::{self, AddressV4, Route};
use crate::validate::{printable, DirPath, IfName, Ipv4, Label, Netmask};
use nanoserde::SerJson;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The resolver file, relative to the root.
pub const RESOLV_CONF: &str = "etc/resolv.conf";
/// At most this many DNS servers: the resolver reads no more (`MAXNS` in resolv.h).
pub const MAX_DNS: usize = 3;
/// The first line of a resolver file this module writes.
const RESOLVER_HEADER: &str = "# Written by sensorctl network reconfigure; nameserver lines are replaced on every run.";
const IFF_UP: u32 = 0x1;

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

fn usage(text: String) -> Error {
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
        return Err(usage(format!("dns: at most {MAX_DNS} servers (the resolver reads no more), not {}", dns.len())));
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

/// The backup directory: the config's, else the board's.
pub fn backup_dir(config: &Config, board: &Board) -> Result<DirPath> {
    match &config.backup_dir {
        Some(dir) => DirPath::parse(dir),
        None => DirPath::parse(&board.backup.dir.to_string_lossy()),
    }
}

/// The kernel's view: devices, IPv4 addresses and IPv4 routes, read in three dumps.
#[derive(Clone, Debug, Default)]
pub struct Kernel {
    /// Every device.
    pub links: Vec<Link>,
    /// Every IPv4 address.
    pub addresses: Vec<AddressV4>,
    /// Every IPv4 route of every table.
    pub routes: Vec<Route>,
}

fn netlink_error(call: &'static str) -> impl Fn(io::Error) -> Error {
    move |source| Error::Sys { call, source }
}

/// Opens the rtnetlink socket.
pub fn open_socket() -> Result<RouteSocket> {
    RouteSocket::open().map_err(|e| Error::io("open", "NETLINK_ROUTE socket", e))
}

impl Kernel {
    /// Dumps links, addresses and routes.
    pub fn read(socket: &mut RouteSocket) -> Result<Kernel> {
        Ok(Kernel {
            links: socket.links().map_err(netlink_error("RTM_GETLINK dump"))?,
            addresses: socket
                .addresses()
                .map_err(netlink_error("RTM_GETADDR dump"))?
                .iter()
                .filter_map(AddressV4::from_dump)
                .collect(),
            routes: route::routes_v4(socket).map_err(netlink_error("RTM_GETROUTE dump"))?,
        })
    }

    /// The device called `name`.
    pub fn link(&self, name: &IfName) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name.as_str().as_bytes())
    }

    /// The name of device `index` (`#index` if it has none we can print).
    pub fn name_of(&self, index: u32) -> String {
        self.links
            .iter()
            .find(|l| l.index == index)
            .map_or_else(|| format!("#{index}"), |l| String::from_utf8_lossy(&l.name).into_owned())
    }

    /// The IPv4 addresses of device `index`, primary ones first as the kernel lists them.
    pub fn addresses_of(&self, index: u32) -> Vec<&AddressV4> {
        self.addresses.iter().filter(|a| a.index == index).collect()
    }

    /// The main table's unicast default route with the lowest metric (the one the kernel uses).
    pub fn default_route(&self) -> Option<&Route> {
        self.routes.iter().filter(|r| r.is_main_default()).min_by_key(|r| r.priority.unwrap_or(0))
    }
}

/// The `nameserver` lines of a resolver file, in order (comments and other lines ignored).
pub fn nameservers(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next()).flatten().map(str::to_string)
        })
        .collect()
}

/// The resolver file's bytes, `None` when there is none.
pub fn read_resolver(root: &RootDir) -> Result<Option<Vec<u8>>> {
    let path = root.resolve(RESOLV_CONF);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(Error::io("read", path, err)),
    }
}

/// The resolver file with `dns` as its nameservers: the other lines of `old` (search, options,
/// comments) are kept, our header goes first and the nameserver lines last.
pub fn render_resolver(old: Option<&[u8]>, dns: &[Ipv4]) -> Vec<u8> {
    let old = old.map(String::from_utf8_lossy).unwrap_or_default();
    let mut text = format!("{RESOLVER_HEADER}\n");
    for line in old.lines() {
        let first = line.split_whitespace().next();
        if line != RESOLVER_HEADER && first != Some("nameserver") {
            text.push_str(line);
            text.push('\n');
        }
    }
    for server in dns {
        text.push_str(&format!("nameserver {server}\n"));
    }
    text.into_bytes()
}

/// One way the kernel differs from the configured settings.
#[derive(Clone, Debug, PartialEq, Eq, SerJson)]
pub struct Difference {
    /// The setting (`ip`, `subnet`, `default gateway`, …).
    pub setting: String,
    /// Its configured value.
    pub configured: String,
    /// What the system has.
    pub actual: String,
}

impl Difference {
    fn new(setting: impl Into<String>, configured: impl ToString, actual: impl ToString) -> Difference {
        Difference { setting: setting.into(), configured: configured.to_string(), actual: actual.to_string() }
    }

    /// `ip: configured 10.0.0.5, actual 10.0.0.7`.
    pub fn line(&self) -> String {
        format!("{}: configured {}, actual {}", self.setting, self.configured, self.actual)
    }
}

/// Every difference between `settings` and the kernel and resolver state (empty: they match).
pub fn compare(settings: &Settings, kernel: &Kernel, resolver_dns: &[String]) -> Vec<Difference> {
    let mut found = Vec::new();
    let link = kernel.link(&settings.interface);
    match link {
        None => found.push(Difference::new("interface", &settings.interface, "none (no such interface)")),
        Some(link) if link.flags & IFF_UP == 0 => {
            found.push(Difference::new("interface", &settings.interface, format!("{} (down)", settings.interface)));
        }
        Some(_) => {}
    }
    if let Some(link) = link {
        let addresses = kernel.addresses_of(link.index);
        let same_ip: Vec<&&AddressV4> = addresses.iter().filter(|a| a.local == settings.ip.addr()).collect();
        if same_ip.is_empty() {
            let actual = list_text(&addresses.iter().map(|a| a.local).collect::<Vec<_>>());
            found.push(Difference::new("ip", settings.ip, actual));
        } else if !same_ip.iter().any(|a| a.prefixlen == settings.subnet.prefix()) {
            let masks: Vec<String> = same_ip
                .iter()
                .map(|a| {
                    Netmask::from_prefix(a.prefixlen).map_or_else(|| format!("/{}", a.prefixlen), |m| m.to_string())
                })
                .collect();
            found.push(Difference::new("subnet", settings.subnet, list_text(&masks)));
        }
    }
    match kernel.default_route() {
        None => found.push(Difference::new("default gateway", settings.gateway, "none")),
        Some(route) => {
            let actual = route.gateway.map_or_else(|| "none (direct on the link)".to_string(), |g| g.to_string());
            if route.gateway != Some(settings.gateway.addr()) {
                found.push(Difference::new("default gateway", settings.gateway, actual));
            }
            let device = route.oif.map_or_else(|| "none".to_string(), |oif| kernel.name_of(oif));
            if device != settings.interface.as_str() {
                found.push(Difference::new("default gateway interface", &settings.interface, device));
            }
        }
    }
    let configured_dns: Vec<String> = settings.dns.iter().map(Ipv4::to_string).collect();
    if configured_dns != resolver_dns {
        found.push(Difference::new("dns", list_text(&configured_dns), list_text(resolver_dns)));
    }
    for monitor in &settings.monitors {
        if kernel.link(&monitor.device).is_none() {
            let setting = format!("monitor interface {}", monitor.label);
            found.push(Difference::new(setting, &monitor.device, "none (no such interface)"));
        }
    }
    found
}

#[derive(SerJson)]
struct ValidateReport {
    matches: bool,
    interface: String,
    ip: String,
    subnet: String,
    default_gateway: String,
    dns: Vec<String>,
    monitor_interfaces: Vec<MonitorConfig>,
    differences: Vec<Difference>,
}

/// `network validate`: the configured settings against the kernel and the resolver file.
pub fn validate(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Status> {
    // Read afresh, not the context's cached copy: inside the restricted shell a reconfigure
    // may have rewritten the file since the session loaded it.
    let config = &Config::load(&ctx.root)?;
    let board = ctx.board()?;
    let Some(settings) = Settings::from_config(config, board, &Config::path(&ctx.root))? else {
        return Err(Error::Problem(
            "no management network settings in the config (set them with network reconfigure)".to_string(),
        ));
    };
    let kernel = Kernel::read(&mut open_socket()?)?;
    let resolver = read_resolver(&ctx.root)?;
    let resolver_dns = nameservers(&String::from_utf8_lossy(resolver.as_deref().unwrap_or_default()));
    let differences = compare(&settings, &kernel, &resolver_dns);
    let matches = differences.is_empty();
    if json {
        let network = settings.to_config();
        let report = ValidateReport {
            matches,
            interface: network.interface,
            ip: network.ip,
            subnet: network.subnet,
            default_gateway: network.gateway,
            dns: network.dns,
            monitor_interfaces: network.monitor_interfaces.unwrap_or_default(),
            differences,
        };
        emit(out, &report.serialize_json())?;
    } else if matches {
        emit(out, "Success! (Appliance configuration matches the network settings)")?;
        emit(out, "Current Network Settings:")?;
        for line in settings.network_lines() {
            emit(out, &line)?;
        }
    } else {
        for difference in &differences {
            emit(out, &difference.line())?;
        }
    }
    Ok(if matches { Status::Ok } else { Status::Problem })
}

/// The current values the wizard offers as defaults: the config's settings, else what the
/// kernel and the resolver file have on the board's management interface, else the board's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Current {
    /// Management interface.
    pub interface: Option<IfName>,
    /// Its address.
    pub ip: Option<Ipv4>,
    /// Its subnet mask.
    pub subnet: Option<Netmask>,
    /// Default gateway.
    pub gateway: Option<Ipv4>,
    /// DNS servers.
    pub dns: Option<Vec<Ipv4>>,
    /// Monitor interfaces.
    pub monitors: Option<Vec<Monitor>>,
    /// ERSPAN interfaces.
    pub erspan: Option<Vec<IfName>>,
    /// Backup directory.
    pub backup_dir: Option<DirPath>,
}

impl Current {
    /// Gathers the defaults. `config` is `None` when it could not be read (the caller may
    /// not be allowed to); `kernel` is `None` when the dumps failed. `interface`, once the
    /// operator has chosen one, is where the kernel's address and gateway are looked up.
    pub fn gather(
        root: &RootDir,
        config: Option<&Config>,
        board: Option<&Board>,
        kernel: Option<&Kernel>,
        interface: Option<&IfName>,
    ) -> Current {
        let mut current = Current::default();
        let network = config.and_then(|c| c.network.as_ref());
        if let Some(network) = network {
            current.interface = IfName::parse(&network.interface).ok();
            current.ip = Ipv4::parse(&network.ip).ok();
            current.subnet = Netmask::parse(&network.subnet).ok();
            current.gateway = Ipv4::parse(&network.gateway).ok();
            current.dns = network.dns.iter().map(|s| Ipv4::parse(s)).collect::<Result<Vec<_>>>().ok();
            current.monitors = network.monitor_interfaces.as_ref().and_then(|list| {
                list.iter()
                    .map(|m| Monitor::parse(&format!("{}={}", m.label, m.device)))
                    .collect::<Result<Vec<_>>>()
                    .ok()
            });
            current.erspan =
                network.erspan_interfaces.iter().map(|s| IfName::parse(s)).collect::<Result<Vec<_>>>().ok();
        }
        if current.interface.is_none() {
            current.interface = board.map(|b| b.management_interface.clone());
        }
        if let Some(chosen) = interface {
            current.interface = Some(chosen.clone());
        }
        if let (Some(kernel), Some(interface)) = (kernel, &current.interface) {
            if let Some(link) = kernel.link(interface) {
                let primary = kernel.addresses_of(link.index).into_iter().find(|a| !a.is_secondary() && a.scope == 0);
                if current.ip.is_none() && current.subnet.is_none() {
                    current.ip = primary.map(|a| Ipv4::from(a.local));
                    current.subnet = primary.and_then(|a| Netmask::from_prefix(a.prefixlen));
                }
                if current.gateway.is_none() {
                    current.gateway = kernel
                        .default_route()
                        .filter(|r| r.oif == Some(link.index))
                        .and_then(|r| r.gateway)
                        .map(Ipv4::from);
                }
            }
        }
        if current.dns.is_none() {
            if let Ok(Some(bytes)) = read_resolver(root) {
                let found = nameservers(&String::from_utf8_lossy(&bytes));
                current.dns = Some(found.iter().filter_map(|s| Ipv4::parse(s).ok()).take(MAX_DNS).collect());
            }
        }
        if current.monitors.is_none() {
            current.monitors = board.map(board_monitors);
        }
        if current.erspan.is_none() {
            current.erspan = Some(Vec::new());
        }
        current.backup_dir = match (config, board) {
            (Some(config), Some(board)) => backup_dir(config, board).ok(),
            (None, Some(board)) => DirPath::parse(&board.backup.dir.to_string_lossy()).ok(),
            (Some(config), None) => config.backup_dir.as_deref().and_then(|d| DirPath::parse(d).ok()),
            (None, None) => None,
        };
        current
    }
}

/// What has been changed so far, to be undone in reverse order on failure.
enum Done {
    Resolver { path: PathBuf, old: Option<Vec<u8>> },
    Address(AddressV4),
    Route(Route),
    Directories(Vec<PathBuf>),
}

/// The transaction of one reconfigure run: the state before it, and what it did.
struct Transaction<'a> {
    socket: RouteSocket,
    before: Kernel,
    done: Vec<Done>,
    out: &'a mut dyn Write,
}

/// Whether two routes are the same route, by what the kernel tells routes apart by.
fn same_route(a: &Route, b: &Route) -> bool {
    (a.table, a.dst_len, a.dst, a.tos, a.kind) == (b.table, b.dst_len, b.dst, b.tos, b.kind)
        && (a.priority.unwrap_or(0), a.gateway, a.oif) == (b.priority.unwrap_or(0), b.gateway, b.oif)
}

fn same_address(a: &AddressV4, b: &AddressV4) -> bool {
    a.index == b.index && a.local == b.local && a.prefixlen == b.prefixlen
}

impl Transaction<'_> {
    fn say(&mut self, line: &str) {
        // The report is best effort: a closed terminal must not stop (or half-stop) the change.
        let _ = emit(self.out, line);
    }

    fn describe_route(&self, route: &Route) -> String {
        let via = route.gateway.map_or_else(String::new, |g| format!("via {g} "));
        let dev = route.oif.map_or_else(String::new, |i| format!("dev {}", self.name_of(i)));
        format!("{via}{dev}").trim_end().to_string()
    }

    fn name_of(&self, index: u32) -> String {
        self.before.name_of(index)
    }

    /// Undoes everything, then puts back every recorded address and route that is missing.
    /// Returns the problems it met (empty: fully restored).
    fn rollback(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        while let Some(step) = self.done.pop() {
            match step {
                Done::Route(route) => match route::delete_route(&mut self.socket, &route) {
                    Ok(()) => {}
                    Err(err) if err.raw_os_error() == Some(libc::ESRCH) => {}
                    Err(err) => problems.push(format!(
                        "remove default route {}: {}",
                        self.describe_route(&route),
                        strip_errno(&err)
                    )),
                },
                Done::Address(address) => match route::delete_address(&mut self.socket, &address) {
                    Ok(()) => {}
                    Err(err) if err.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
                    Err(err) => problems.push(format!(
                        "remove address {}/{}: {}",
                        address.local,
                        address.prefixlen,
                        strip_errno(&err)
                    )),
                },
                Done::Resolver { path, old } => {
                    let result = match &old {
                        Some(bytes) => crate::store::replace(&path, bytes, crate::store::Mode::Preserve),
                        None => std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e)),
                    };
                    if let Err(err) = result {
                        problems.push(format!("restore resolver file: {err}"));
                    }
                }
                Done::Directories(created) => {
                    for dir in created.iter().rev() {
                        if let Err(err) = std::fs::remove_dir(dir) {
                            problems.push(format!("remove directory {}: {}", dir.display(), strip_errno(&err)));
                        }
                    }
                }
            }
        }
        let now = match Kernel::read(&mut self.socket) {
            Ok(now) => now,
            Err(err) => {
                problems.push(format!("read the kernel state to restore it: {err}"));
                return problems;
            }
        };
        for address in &self.before.addresses {
            if !now.addresses.iter().any(|a| same_address(a, address)) {
                if let Err(err) = route::add_address(&mut self.socket, address) {
                    if err.raw_os_error() != Some(libc::EEXIST) {
                        problems.push(format!(
                            "restore address {}/{}: {}",
                            address.local,
                            address.prefixlen,
                            strip_errno(&err)
                        ));
                    }
                }
            }
        }
        let now = Kernel::read(&mut self.socket).unwrap_or(now);
        let missing: Vec<Route> = self
            .before
            .routes
            .iter()
            .filter(|r| r.table != route::RT_TABLE_LOCAL && !r.multipath)
            .filter(|r| !now.routes.iter().any(|n| same_route(n, r)))
            .cloned()
            .collect();
        // Routes without a gateway first: a gateway route needs its connected route.
        let (direct, via): (Vec<&Route>, Vec<&Route>) = missing.iter().partition(|r| r.gateway.is_none());
        for lost in direct.into_iter().chain(via) {
            if let Err(err) = route::add_route(&mut self.socket, lost) {
                if err.raw_os_error() != Some(libc::EEXIST) {
                    problems.push(format!("restore route {}: {}", self.describe_route(lost), strip_errno(&err)));
                }
            }
        }
        problems
    }
}

/// The directories `dir` and its missing parents, outermost first.
fn missing_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut missing: Vec<PathBuf> = dir.ancestors().take_while(|d| !d.exists()).map(Path::to_path_buf).collect();
    missing.reverse();
    missing
}

/// `network reconfigure`, the executor's half: validates `settings` again (syntax was checked
/// when they were parsed), then applies them as the module doc describes.
pub fn reconfigure(ctx: &Context, settings: &Settings, out: &mut dyn Write) -> Result<Status> {
    transact(ctx, settings, true, out)
}

/// The daemon's start: applies the settings `network reconfigure` stored in the config again
/// (addresses and routes do not survive a reboot, and a resolver file may have been replaced),
/// with the same transaction and rollback, leaving the config as it is. `Ok(false)` when the
/// config has no network settings.
pub fn apply_stored(ctx: &Context, out: &mut dyn Write) -> Result<bool> {
    let config = Config::load(&ctx.root)?;
    let Some(settings) = Settings::from_config(&config, ctx.board()?, &Config::path(&ctx.root))? else {
        return Ok(false);
    };
    transact(ctx, &settings, false, out)?;
    Ok(true)
}

/// Applies `settings`; with `save`, records them in the config as the last step.
fn transact(ctx: &Context, settings: &Settings, save: bool, out: &mut dyn Write) -> Result<Status> {
    settings.check()?;
    let mut socket = open_socket()?;
    let before = Kernel::read(&mut socket)?;
    settings.check_links(&before.links)?;
    // A config that cannot be read is not overwritten: its other settings would be lost. Read
    // afresh (see `validate`).
    let mut config = Config::load(&ctx.root)?;
    let board = ctx.board()?;
    let config_path = Config::path(&ctx.root);
    let old = match Settings::from_config(&config, board, &config_path) {
        Ok(old) => old,
        Err(err) => {
            log::warn!("{err}; replacing the network section");
            None
        }
    };
    if before.routes.iter().any(|r| r.is_main_default() && r.multipath) {
        return Err(Error::Unsupported(
            "the main table has a multipath default route, which a rollback could not restore; remove it first"
                .to_string(),
        ));
    }
    let Some(link) = before.link(&settings.interface) else {
        return Err(usage(format!("management interface {}: no such interface", settings.interface)));
    };
    let index = link.index;
    let wanted = AddressV4::new(index, settings.ip.addr(), settings.subnet.prefix());
    // The old management address: the configured one; on a device never configured, every
    // global IPv4 address of the new management interface.
    let remove: Vec<AddressV4> = before
        .addresses
        .iter()
        .filter(|a| match &old {
            Some(old) => {
                before.link(&old.interface).map(|l| l.index) == Some(a.index)
                    && a.local == old.ip.addr()
                    && a.prefixlen == old.subnet.prefix()
            }
            None => a.index == index && a.scope == libc::RT_SCOPE_UNIVERSE,
        })
        .filter(|a| !same_address(a, &wanted))
        .cloned()
        .collect();
    let resolver_path = ctx.root.resolve(RESOLV_CONF);
    let resolver_old = read_resolver(&ctx.root)?;
    let backup_path = ctx.root.resolve(settings.backup_dir.as_str());

    let mut tx = Transaction { socket, before, done: Vec::new(), out };
    tx.say("Applying network settings:");
    let applied =
        apply(&mut tx, settings, &wanted, &remove, &resolver_path, resolver_old, &backup_path).and_then(|()| {
            if !save {
                return Ok(());
            }
            config.network = Some(settings.to_config());
            config.backup_dir = Some(settings.backup_dir.to_string());
            config.save(&ctx.root).map_err(|e| format!("config: {e}"))?;
            tx.say(&format!("config: saved {}", config_path.display()));
            Ok(())
        });
    match applied {
        Ok(()) => {
            tx.say("Success! (Network settings applied)");
            tx.say("Current Network Settings:");
            for line in settings.summary_lines() {
                tx.say(&line);
            }
            Ok(Status::Ok)
        }
        Err(failed) => {
            let problems = tx.rollback();
            let outcome = if problems.is_empty() {
                "rolled back: addresses, routes and the resolver file are as they were".to_string()
            } else {
                format!("rollback incomplete: {}", problems.join("; "))
            };
            Err(Error::Problem(format!("{failed}; {outcome}; the config is unchanged")))
        }
    }
}

/// The changes, in order; each one is recorded in `tx` as soon as it is made. The error says
/// which step failed and why.
fn apply(
    tx: &mut Transaction<'_>,
    settings: &Settings,
    wanted: &AddressV4,
    remove: &[AddressV4],
    resolver_path: &Path,
    resolver_old: Option<Vec<u8>>,
    backup_path: &Path,
) -> std::result::Result<(), String> {
    let resolver_new = render_resolver(resolver_old.as_deref(), &settings.dns);
    if resolver_old.as_deref() != Some(&resolver_new[..]) {
        if let Some(dir) = resolver_path.parent() {
            crate::store::create_dir_all(dir, 0o755).map_err(|e| format!("resolver file: {e}"))?;
        }
        crate::store::replace(resolver_path, &resolver_new, crate::store::Mode::Preserve)
            .map_err(|e| format!("resolver file: {e}"))?;
        tx.done.push(Done::Resolver { path: resolver_path.to_path_buf(), old: resolver_old });
        tx.say(&format!("resolver: wrote {} (dns: {})", resolver_path.display(), list_text(&settings.dns)));
    }
    for address in remove {
        let text = format!("{}/{} from {}", address.local, address.prefixlen, tx.name_of(address.index));
        match route::delete_address(&mut tx.socket, address) {
            Ok(()) => tx.say(&format!("address: removed {text}")),
            Err(err) if err.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
            Err(err) => return Err(format!("remove address {text}: {}", strip_errno(&err))),
        }
    }
    let text = format!("{}/{} on {}", wanted.local, wanted.prefixlen, settings.interface);
    let now = Kernel::read(&mut tx.socket).map_err(|e| e.to_string())?;
    if now.addresses.iter().any(|a| same_address(a, wanted)) {
        tx.say(&format!("address: {text} already set"));
    } else {
        route::add_address(&mut tx.socket, wanted).map_err(|e| format!("add address {text}: {}", strip_errno(&e)))?;
        tx.done.push(Done::Address(wanted.clone()));
        tx.say(&format!("address: added {text}"));
    }
    let default = Route::default_via(settings.gateway.addr(), wanted.index);
    let now = Kernel::read(&mut tx.socket).map_err(|e| e.to_string())?;
    let mut keep = false;
    for existing in now.routes.iter().filter(|r| r.is_main_default()) {
        if !keep && existing.gateway == default.gateway && existing.oif == default.oif {
            keep = true;
            continue;
        }
        let text = tx.describe_route(existing);
        route::delete_route(&mut tx.socket, existing)
            .map_err(|e| format!("remove default route {text}: {}", strip_errno(&e)))?;
        tx.say(&format!("default route: removed {text}"));
    }
    let text = tx.describe_route(&default);
    if keep {
        tx.say(&format!("default route: {text} already set"));
    } else {
        route::add_route(&mut tx.socket, &default).map_err(|e| {
            // The usual reason: the interface is down, so its subnet is not connected.
            let down = tx.before.link(&settings.interface).is_some_and(|l| l.flags & IFF_UP == 0);
            let hint = if down { format!(" ({} is down)", settings.interface) } else { String::new() };
            format!("add default route {text}: {}{hint}", strip_errno(&e))
        })?;
        tx.done.push(Done::Route(default));
        tx.say(&format!("default route: added {text}"));
    }
    let created = missing_dirs(backup_path);
    if !backup_path.is_dir() {
        // Parents as a system directory usually is; the backups themselves for root and group.
        if let Some(parent) = backup_path.parent() {
            crate::store::create_dir_all(parent, 0o755).map_err(|e| format!("backup directory: {e}"))?;
        }
        crate::store::create_dir_all(backup_path, 0o750).map_err(|e| format!("backup directory: {e}"))?;
        tx.done.push(Done::Directories(created));
        tx.say(&format!("backup directory: created {}", backup_path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn settings() -> Settings {
        Settings {
            interface: IfName::parse("eth0").unwrap(),
            ip: Ipv4::parse("172.20.248.69").unwrap(),
            subnet: Netmask::parse("255.255.192.0").unwrap(),
            gateway: Ipv4::parse("172.20.192.1").unwrap(),
            dns: vec![Ipv4::parse("168.63.129.16").unwrap()],
            monitors: vec![Monitor::parse("local_listener=adiot0").unwrap()],
            erspan: vec![],
            backup_dir: DirPath::parse("/var/cyberx/backups").unwrap(),
        }
    }

    fn link(index: u32, name: &str, up: bool) -> Link {
        Link { index, name: name.as_bytes().to_vec(), flags: if up { IFF_UP } else { 0 }, ..Link::default() }
    }

    fn matching_kernel() -> Kernel {
        Kernel {
            links: vec![link(1, "lo", true), link(2, "eth0", true), link(3, "adiot0", true), link(4, "eth1", true)],
            addresses: vec![AddressV4::new(2, Ipv4Addr::new(172, 20, 248, 69), 18)],
            routes: vec![Route::default_via(Ipv4Addr::new(172, 20, 192, 1), 2)],
        }
    }

    #[test]
    fn seed_block_lines() {
        assert_eq!(
            settings().network_lines(),
            [
                "interface: eth0",
                "ip: 172.20.248.69",
                "subnet: 255.255.192.0",
                "default gateway: 172.20.192.1",
                "dns: 168.63.129.16",
                "monitor interfaces mapping: local_listener=adiot0",
            ]
        );
    }

    #[test]
    fn a_matching_system_has_no_differences() {
        assert_eq!(compare(&settings(), &matching_kernel(), &["168.63.129.16".to_string()]), vec![]);
    }

    #[test]
    fn each_difference_kind_is_one_line() {
        let dns = ["168.63.129.16".to_string()];
        let line = |kernel: &Kernel, dns: &[String]| -> Vec<String> {
            compare(&settings(), kernel, dns).iter().map(Difference::line).collect()
        };
        let mut kernel = matching_kernel();
        kernel.addresses[0].local = Ipv4Addr::new(172, 20, 248, 70);
        assert_eq!(line(&kernel, &dns), ["ip: configured 172.20.248.69, actual 172.20.248.70"]);
        kernel.addresses.clear();
        assert_eq!(line(&kernel, &dns), ["ip: configured 172.20.248.69, actual none"]);
        let mut kernel = matching_kernel();
        kernel.addresses[0].prefixlen = 24;
        assert_eq!(line(&kernel, &dns), ["subnet: configured 255.255.192.0, actual 255.255.255.0"]);
        let mut kernel = matching_kernel();
        kernel.routes[0].gateway = Some(Ipv4Addr::new(172, 20, 192, 2));
        assert_eq!(line(&kernel, &dns), ["default gateway: configured 172.20.192.1, actual 172.20.192.2"]);
        kernel.routes[0].oif = Some(4);
        kernel.routes[0].gateway = Some(Ipv4Addr::new(172, 20, 192, 1));
        assert_eq!(line(&kernel, &dns), ["default gateway interface: configured eth0, actual eth1"]);
        kernel.routes.clear();
        assert_eq!(line(&kernel, &dns), ["default gateway: configured 172.20.192.1, actual none"]);
        // The lowest metric wins, as in the kernel.
        let mut kernel = matching_kernel();
        let mut better = Route::default_via(Ipv4Addr::new(172, 20, 192, 9), 2);
        kernel.routes[0].priority = Some(100);
        better.priority = Some(10);
        kernel.routes.push(better);
        assert_eq!(line(&kernel, &dns), ["default gateway: configured 172.20.192.1, actual 172.20.192.9"]);
        let kernel = matching_kernel();
        assert_eq!(line(&kernel, &[]), ["dns: configured 168.63.129.16, actual none"]);
        assert_eq!(
            line(&kernel, &["8.8.8.8".to_string(), "1.1.1.1".to_string()]),
            ["dns: configured 168.63.129.16, actual 8.8.8.8, 1.1.1.1"]
        );
        let mut kernel = matching_kernel();
        kernel.links.retain(|l| l.name != b"adiot0");
        assert_eq!(
            line(&kernel, &dns),
            ["monitor interface local_listener: configured adiot0, actual none (no such interface)"]
        );
        let mut kernel = matching_kernel();
        kernel.links[1].flags = 0;
        assert_eq!(line(&kernel, &dns), ["interface: configured eth0, actual eth0 (down)"]);
        kernel.links.remove(1);
        assert_eq!(
            line(&kernel, &dns),
            [
                "interface: configured eth0, actual none (no such interface)",
                "default gateway interface: configured eth0, actual #2",
            ]
        );
    }

    #[test]
    fn settings_checks() {
        assert!(settings().check().is_ok());
        let with = |edit: &dyn Fn(&mut Settings)| {
            let mut s = settings();
            edit(&mut s);
            s.check()
        };
        let outside = with(&|s| s.gateway = Ipv4::parse("10.1.0.1").unwrap()).unwrap_err();
        assert_eq!(outside.exit_code(), 2);
        assert_eq!(
            outside.to_string(),
            "default gateway 10.1.0.1 is outside the subnet 172.20.192.0/18 (ip 172.20.248.69, subnet 255.255.192.0)"
        );
        for (edit, expected) in [
            (&(|s: &mut Settings| s.gateway = s.ip) as &dyn Fn(&mut Settings), "own ip"),
            (&|s| s.gateway = Ipv4::parse("172.20.255.255").unwrap(), "broadcast"),
            (&|s| s.gateway = Ipv4::parse("172.20.192.0").unwrap(), "network"),
            (&|s| s.ip = Ipv4::parse("172.20.192.0").unwrap(), "network address"),
            (&|s| s.ip = Ipv4::parse("127.0.0.1").unwrap(), "loopback"),
            (&|s| s.ip = Ipv4::parse("0.0.0.0").unwrap(), "unspecified"),
            (&|s| s.ip = Ipv4::parse("224.0.0.1").unwrap(), "multicast"),
            (&|s| s.subnet = Netmask::parse("/32").unwrap(), "/32"),
            (&|s| s.dns = vec![Ipv4::parse("1.1.1.1").unwrap(); 2], "twice"),
            (&|s| s.dns = vec![Ipv4::parse("255.255.255.255").unwrap()], "unicast"),
            (
                &|s| {
                    s.dns =
                        ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"].iter().map(|d| Ipv4::parse(d).unwrap()).collect()
                },
                "at most 3",
            ),
            (&|s| s.monitors.push(Monitor::parse("mgmt=eth0").unwrap()), "management interface"),
            (&|s| s.monitors.push(Monitor::parse("local_listener=eth1").unwrap()), "label local_listener given twice"),
            (&|s| s.monitors.push(Monitor::parse("other=adiot0").unwrap()), "adiot0 given twice"),
            (&|s| s.erspan = vec![IfName::parse("eth0").unwrap()], "management"),
            (&|s| s.erspan = vec![IfName::parse("adiot0").unwrap()], "monitor"),
            (&|s| s.erspan = vec![IfName::parse("gre1").unwrap(), IfName::parse("gre1").unwrap()], "twice"),
        ] {
            let err = with(edit).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{err}");
            assert!(err.to_string().contains(expected), "{err} (expected {expected})");
        }
        // /31: both addresses are hosts; the other one may be the gateway.
        assert!(with(&|s| {
            s.subnet = Netmask::parse("/31").unwrap();
            s.ip = Ipv4::parse("10.0.0.0").unwrap();
            s.gateway = Ipv4::parse("10.0.0.1").unwrap();
        })
        .is_ok());
    }

    #[test]
    fn list_answers() {
        assert_eq!(split_list("a, b  c,,d"), ["a", "b", "c", "d"]);
        assert!(split_list("none").is_empty());
        assert!(split_list("  ").is_empty());
        assert_eq!(parse_dns("10.0.0.53 10.0.0.54").unwrap().len(), 2);
        assert!(parse_dns("10.0.0.53;x").is_err());
        assert_eq!(parse_monitors("a=eth1,b=eth2").unwrap()[1].to_string(), "b=eth2");
        for bad in ["eth1", "=eth1", "a=", "a=b=c", "a b=eth1x", "_a=eth1"] {
            assert!(Monitor::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(list_text::<Ipv4>(&[]), "none");
    }

    #[test]
    fn resolver_file_keeps_other_lines_and_replaces_nameservers() {
        let old = b"# from dhcp\nsearch plant.local\nnameserver 10.9.9.9\noptions timeout:1\nnameserver 10.9.9.8\n";
        let dns = [Ipv4::parse("10.0.0.53").unwrap(), Ipv4::parse("10.0.0.54").unwrap()];
        let new = render_resolver(Some(old), &dns);
        let text = String::from_utf8(new.clone()).unwrap();
        assert_eq!(
            text,
            format!("{RESOLVER_HEADER}\n# from dhcp\nsearch plant.local\noptions timeout:1\nnameserver 10.0.0.53\nnameserver 10.0.0.54\n")
        );
        assert_eq!(nameservers(&text), ["10.0.0.53", "10.0.0.54"]);
        assert_eq!(render_resolver(Some(&new), &dns), new, "rewriting is idempotent");
        assert_eq!(render_resolver(None, &[]), format!("{RESOLVER_HEADER}\n").into_bytes());
        assert_eq!(nameservers("#nameserver 1.1.1.1\n nameserver  1.0.0.1 \nnameserver\n"), ["1.0.0.1"]);
    }

    #[test]
    fn answers_must_be_complete_and_valid() {
        let dns = ["10.0.0.53".to_string()];
        let none: [String; 0] = [];
        let ok = Settings::from_answers(
            Some("eth0"),
            Some("10.0.0.5"),
            Some("255.255.255.0"),
            Some("10.0.0.1"),
            Some(&dns),
            Some(&none),
            Some(&none),
            Some("/data/b"),
        )
        .unwrap();
        assert_eq!(ok.subnet.prefix(), 24);
        let err = Settings::from_answers(Some("eth0"), None, None, None, None, None, None, None).unwrap_err();
        assert!(err.to_string().contains("incomplete request: no ip"), "{err}");
        let err = Settings::from_answers(
            Some("eth0"),
            Some("10.0.0.5"),
            Some("255.255.255.0"),
            Some("10.0.1.1"),
            Some(&dns),
            Some(&none),
            Some(&none),
            Some("/data/b"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("outside the subnet"), "{err}");
    }

    #[test]
    fn config_round_trip() {
        let board = Board::load(crate::board::DEFAULT_BOARD, &RootDir::new("/nonexistent")).unwrap();
        let mut config = Config::default();
        assert_eq!(Settings::from_config(&config, &board, Path::new("c")).unwrap(), None);
        config.network = Some(settings().to_config());
        config.backup_dir = Some("/var/cyberx/backups".into());
        assert_eq!(Settings::from_config(&config, &board, Path::new("c")).unwrap(), Some(settings()));
        if let Some(network) = config.network.as_mut() {
            network.monitor_interfaces = None;
            network.subnet = "255.0.255.0".into();
        }
        let err = Settings::from_config(&config, &board, Path::new("c")).unwrap_err();
        assert!(err.to_string().starts_with("c: network.subnet: invalid subnet mask"), "{err}");
        if let Some(network) = config.network.as_mut() {
            network.subnet = "255.255.192.0".into();
        }
        let from_board = Settings::from_config(&config, &board, Path::new("c")).unwrap().unwrap();
        assert_eq!(from_board.monitors, settings().monitors, "no mapping in the config: the board's");
    }

    #[test]
    fn defaults_come_from_the_config_else_the_kernel_else_the_board() {
        let root = RootDir::new("/nonexistent");
        let board = Board::load(crate::board::DEFAULT_BOARD, &root).unwrap();
        let kernel = matching_kernel();
        let current = Current::gather(&root, None, Some(&board), Some(&kernel), None);
        assert_eq!(current.interface.as_ref().map(IfName::as_str), Some("eth0"));
        assert_eq!(current.ip, Some(settings().ip));
        assert_eq!(current.subnet, Some(settings().subnet));
        assert_eq!(current.gateway, Some(settings().gateway));
        assert_eq!(current.dns, None, "no resolver file under the root");
        assert_eq!(current.monitors, Some(settings().monitors));
        assert_eq!(current.backup_dir, Some(settings().backup_dir));
        // Another interface chosen: its address, and no gateway (the default route is not on it).
        let mut kernel = kernel;
        kernel.addresses.push(AddressV4::new(4, Ipv4Addr::new(10, 1, 0, 9), 16));
        let eth1 = IfName::parse("eth1").unwrap();
        let current = Current::gather(&root, None, Some(&board), Some(&kernel), Some(&eth1));
        assert_eq!(current.interface, Some(eth1));
        assert_eq!(current.ip, Some(Ipv4::parse("10.1.0.9").unwrap()));
        assert_eq!(current.subnet.map(Netmask::prefix), Some(16));
        assert_eq!(current.gateway, None);
        let mut config = Config::default();
        let mut mine = settings();
        mine.ip = Ipv4::parse("172.20.248.70").unwrap();
        config.network = Some(mine.to_config());
        let current = Current::gather(&root, Some(&config), Some(&board), Some(&kernel), None);
        assert_eq!(current.ip, Some(mine.ip));
        assert_eq!(current.dns, Some(mine.dns));
    }
}
