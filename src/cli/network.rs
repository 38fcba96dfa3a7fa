//! argh arguments of the `network` category: argv → [`Action`].
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use crate::action::Action;
use crate::validate::IfName;
use argh::FromArgs;

fn usage_error(message: String) -> argh::EarlyExit {
    argh::EarlyExit { output: message, status: Err(()) }
}

/// Blink a port's LEDs so it can be found on the appliance (20 seconds; Ctrl-C stops early).
#[derive(FromArgs, Debug)]
pub struct BlinkArgs {
    /// the interface (physical port), e.g. eth0
    #[argh(positional)]
    pub interface: String,
    /// how long to blink, 1-3600 seconds (default 20)
    #[argh(option, default = "crate::blink::DEFAULT_SECONDS")]
    pub seconds: u32,
}

/// Parses `network blink`.
pub fn parse_blink(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = BlinkArgs::from_args(name, args)?;
    let interface = IfName::parse(&parsed.interface).map_err(|e| usage_error(e.to_string()))?;
    if !(1..=3600).contains(&parsed.seconds) {
        return Err(usage_error(format!("--seconds {}: must be 1-3600", parsed.seconds)));
    }
    Ok(Action::NetworkBlink { interface: interface.as_str().to_string(), seconds: parsed.seconds })
}

/// Send ICMP echo requests to an IPv4 host and report the replies (iputils' output shape).
#[derive(FromArgs, Debug)]
pub struct PingArgs {
    /// the host, a dotted-quad IPv4 address
    #[argh(positional)]
    pub address: String,
    /// number of echo requests, 1-100000 (default 4)
    #[argh(option, short = 'c', default = "4")]
    pub count: u32,
    /// seconds to wait for replies after the last request, 1-60 (default 2)
    #[argh(option, short = 'W', default = "2")]
    pub timeout: u32,
    /// seconds between requests, 0.2-60 (default 1)
    #[argh(option, short = 'i', default = "1.0")]
    pub interval: f64,
}

/// Parses `ping`.
pub fn parse_ping(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = PingArgs::from_args(name, args)?;
    let address = crate::validate::Ipv4::parse(&parsed.address).map_err(|e| usage_error(e.to_string()))?;
    if !(1..=100_000).contains(&parsed.count) {
        return Err(usage_error(format!("-c {}: must be 1-100000", parsed.count)));
    }
    if !(1..=60).contains(&parsed.timeout) {
        return Err(usage_error(format!("-W {}: must be 1-60 seconds", parsed.timeout)));
    }
    if !(0.2..=60.0).contains(&parsed.interval) {
        return Err(usage_error(format!("-i {}: must be 0.2-60 seconds", parsed.interval)));
    }
    Ok(Action::Ping {
        address: address.to_string(),
        count: parsed.count,
        timeout_s: parsed.timeout,
        interval_ms: (parsed.interval * 1000.0).round() as u32,
    })
}

/// Check that the appliance can reach the internet (HTTP GET of the configured check URL).
#[derive(FromArgs, Debug)]
pub struct InternetCheckArgs {
    /// check this URL instead of the configured one (http:// or https://)
    #[argh(option)]
    pub url: Option<String>,
    /// print JSON with the outcome, failed stage and time taken
    #[argh(switch)]
    pub json: bool,
}

/// Parses `network internet-check` / `cyberx-xsense-internet-connectivity`.
pub fn parse_internet_check(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = InternetCheckArgs::from_args(name, args)?;
    let url = match parsed.url {
        Some(url) => Some(crate::internet::check_url(&url).map_err(|e| usage_error(e.to_string()))?),
        None => None,
    };
    Ok(Action::InternetCheck { url, json: parsed.json })
}

/// List the network interfaces in the net-tools ifconfig format (those that are up; -a for all).
#[derive(FromArgs, Debug)]
pub struct ListArgs {
    /// show every interface, also those that are down
    #[argh(switch, short = 'a')]
    pub all: bool,
    /// print JSON with the same fields instead of the ifconfig text
    #[argh(switch)]
    pub json: bool,
}

/// Parses `network list`.
pub fn parse_list(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = ListArgs::from_args(name, args)?;
    Ok(Action::NetworkList { all: parsed.all, json: parsed.json })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches() {
        let name = ["sensorctl", "network", "list"];
        assert_eq!(parse_list(&name, &[]).unwrap(), Action::NetworkList { all: false, json: false });
        assert_eq!(parse_list(&name, &["-a", "--json"]).unwrap(), Action::NetworkList { all: true, json: true });
        assert_eq!(parse_list(&name, &["--all"]).unwrap(), Action::NetworkList { all: true, json: false });
        assert!(parse_list(&name, &["eth0"]).is_err());
        assert!(parse_list(&name, &["-x"]).is_err());
    }
}
