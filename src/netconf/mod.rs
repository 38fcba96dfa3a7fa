//! The management network: its settings (interface, IPv4 address, subnet mask, default
//! gateway, DNS servers), the interface roles (monitor interfaces with their labels, ERSPAN
//! interfaces) and the backup directory — checked against the kernel (`network validate`),
//! asked for (`network reconfigure`'s wizard) and applied.
//!
//! - [`settings`]: the typed settings and every check that needs no kernel;
//! - [`validate`]: `network validate`, the settings against the kernel and the resolver file;
//! - [`wizard`]: the questions of `network reconfigure`, asked through the executor's
//!   prompter before anything is locked or changed (the operator's terminal, or over the
//!   daemon's socket to the caller's terminal: one conversation either way);
//! - [`apply`]: applying settings as a small transaction that undoes itself on failure.
//!
//! This module holds what they share: the kernel's view ([`Kernel`]) and the resolver file.
//!
//! Privileges: validate and the wizard need none beyond reading the config and the resolver
//! file (netlink dumps are open to all). Applying needs CAP_NET_ADMIN and write access to the
//! resolver file, the config and the backup directory: it runs as root, in-process or in the
//! daemon.
#![forbid(unsafe_code)]

pub mod apply;
pub mod settings;
pub mod validate;
pub mod wizard;

pub use settings::*;
pub use wizard::Current;

use crate::error::{Error, Result};
use crate::paths::RootDir;
use crate::sys::netlink::{Link, RouteSocket};
use crate::sys::route::{self, AddressV4, Route};
use crate::validate::{IfName, Ipv4};
use std::io::{self};

/// The resolver file, relative to the root.
pub const RESOLV_CONF: &str = "etc/resolv.conf";
/// At most this many DNS servers: the resolver reads no more (`MAXNS` in resolv.h).
pub const MAX_DNS: usize = 3;
/// The first line of a resolver file this module writes.
const RESOLVER_HEADER: &str = "# Written by sensorctl network reconfigure; nameserver lines are replaced on every run.";
const IFF_UP: u32 = 0x1;

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

#[cfg(test)]
mod tests {
    use super::validate::{compare, Difference};
    use super::*;
    use crate::board::Board;
    use crate::config::Config;
    use crate::validate::{DirPath, Netmask};
    use std::path::Path;
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

