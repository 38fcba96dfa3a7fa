//! `network validate`: compares the config's settings with what the kernel and the resolver
//! file say: the interface exists and is up, it carries the address with the configured prefix
//! (one `RTM_GETADDR` dump), the main table's default route (one `RTM_GETROUTE` dump; the lowest
//! metric wins, as in the kernel) goes via the configured gateway on that interface, the
//! `nameserver` lines of `<root>/etc/resolv.conf` are the configured servers in order, and every
//! monitor interface exists. A match prints the reference CLI's block; anything else prints one
//! `<setting>: configured <A>, actual <B>` line per difference and exits 1.
//!
//! Needs no privileges beyond reading the config and the resolver file.
#![forbid(unsafe_code)]

use crate::outcome::Status;
use crate::config::{Config, MonitorConfig};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use crate::sys::route::AddressV4;
use crate::validate::{Ipv4, Netmask};
use nanoserde::SerJson;
use std::io::Write;
use super::*;

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
pub fn run(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Status> {
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

