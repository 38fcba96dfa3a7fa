//! argh arguments of the `network` category: argv → [`Action`], nothing else. Each value is
//! validated into its type here (a bad one is a one-line error, exit 2); `network
//! reconfigure`'s questions are the wizard's (`crate::netconf::wizard`). Pure; needs no
//! privileges.
#![forbid(unsafe_code)]

use crate::action::Action;
use crate::error::Error;
use crate::netconf;
use crate::validate::{printable, BlinkSeconds, DirPath, Host, IfName, Ipv4, LoadSeconds, Netmask, PingCount, PingIntervalMs, PingWait};
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
    let seconds =
        BlinkSeconds::new(parsed.seconds).map_err(|_| usage_error(format!("--seconds {}: must be 1-3600", parsed.seconds)))?;
    Ok(Action::NetworkBlink { interface, seconds })
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
    let address = Host::parse(&parsed.address).map_err(|e| usage_error(e.to_string()))?;
    let count = PingCount::new(parsed.count).map_err(|_| usage_error(format!("-c {}: must be 1-100000", parsed.count)))?;
    let timeout_s =
        PingWait::new(parsed.timeout).map_err(|_| usage_error(format!("-W {}: must be 1-60 seconds", parsed.timeout)))?;
    if !(0.2..=60.0).contains(&parsed.interval) {
        return Err(usage_error(format!("-i {}: must be 0.2-60 seconds", parsed.interval)));
    }
    let interval_ms = PingIntervalMs::new((parsed.interval * 1000.0).round() as u32)
        .map_err(|_| usage_error(format!("-i {}: must be 0.2-60 seconds", parsed.interval)))?;
    Ok(Action::Ping { address, count, timeout_s, interval_ms })
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

/// Compare the configured management network settings with the system (addresses, default
/// route, resolver file, monitor interfaces).
#[derive(FromArgs, Debug)]
pub struct ValidateArgs {
    /// print JSON with the settings and every difference instead of the text
    #[argh(switch)]
    pub json: bool,
}

/// Parses `network validate`.
pub fn parse_validate(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = ValidateArgs::from_args(name, args)?;
    Ok(Action::NetworkValidate { json: parsed.json })
}

/// The setup wizard: management interface, IP, subnet, default gateway, DNS, monitor and ERSPAN
/// interfaces, backup directory. Asks for every setting not given as a flag (the current value
/// in brackets; an empty answer keeps it), shows a summary and asks to confirm.
#[derive(FromArgs, Debug)]
pub struct ReconfigureArgs {
    /// the management interface, e.g. eth0
    #[argh(option)]
    pub interface: Option<String>,
    /// the management IPv4 address, e.g. 192.0.2.10
    #[argh(option)]
    pub ip: Option<String>,
    /// the subnet mask, e.g. 255.255.255.0 (or /24)
    #[argh(option)]
    pub subnet: Option<String>,
    /// the default gateway; must lie inside the subnet
    #[argh(option)]
    pub gateway: Option<String>,
    /// a DNS server (repeatable or comma-separated, at most 3; "none" for none)
    #[argh(option)]
    pub dns: Vec<String>,
    /// a monitor interface as label=device, e.g. local_listener=eth1 (repeatable; "none")
    #[argh(option)]
    pub monitor: Vec<String>,
    /// an ERSPAN interface (repeatable or comma-separated; "none" for none)
    #[argh(option)]
    pub erspan: Vec<String>,
    /// the backup directory, e.g. /var/cyberx/backups
    #[argh(option)]
    pub backup_dir: Option<String>,
    /// apply without questions or confirmation: settings not given keep their current values
    #[argh(switch, short = 'y')]
    pub yes: bool,
}

/// A repeatable list flag as one answer text (`None` when the flag was not given).
fn list_flag(values: &[String]) -> Option<String> {
    (!values.is_empty()).then(|| values.join(","))
}

/// Parses `network reconfigure`: checks every flag given, each on its own. The wizard asks for
/// the rest (see `crate::netconf::wizard`), before anything is changed.
pub fn parse_reconfigure(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = ReconfigureArgs::from_args(name, args)?;
    let flag = |what: &'static str| move |err: Error| usage_error(format!("--{what}: {err}"));
    let ip = match &parsed.ip {
        Some(text) => {
            let ip = Ipv4::parse(text).map_err(flag("ip"))?;
            netconf::check_host("ip", ip).map_err(flag("ip"))?;
            Some(ip)
        }
        None => None,
    };
    Ok(Action::NetworkReconfigure {
        interface: parsed.interface.as_deref().map(IfName::parse).transpose().map_err(flag("interface"))?,
        ip,
        subnet: parsed.subnet.as_deref().map(Netmask::parse).transpose().map_err(flag("subnet"))?,
        gateway: parsed.gateway.as_deref().map(Ipv4::parse).transpose().map_err(flag("gateway"))?,
        dns: list_flag(&parsed.dns).as_deref().map(netconf::parse_dns).transpose().map_err(flag("dns"))?,
        monitors: list_flag(&parsed.monitor).as_deref().map(netconf::parse_monitors).transpose().map_err(flag("monitor"))?,
        erspan: list_flag(&parsed.erspan).as_deref().map(netconf::parse_interfaces).transpose().map_err(flag("erspan"))?,
        backup_dir: parsed.backup_dir.as_deref().map(DirPath::parse).transpose().map_err(flag("backup-dir"))?,
        yes: parsed.yes,
    })
}

/// Set which mirrored traffic the analysis components see: asks for the devices, subnets,
/// ports and VLAN to include or exclude, the component and the mode.
#[derive(FromArgs, Debug)]
pub struct CaptureFilterArgs {
    /// print the filter each component has now, and change nothing
    #[argh(switch)]
    pub show: bool,
    /// with --show: print JSON
    #[argh(switch)]
    pub json: bool,
    /// try the filter on this monitor port instead of applying it: how much it matches
    #[argh(option)]
    pub test: Option<String>,
    /// with --test: how long to listen, 1-3600 seconds (default 10)
    #[argh(option, default = "10")]
    pub seconds: u32,
}

/// The alias's name, whose argparse interface is the reference's.
pub const CAPTURE_FILTER_ALIAS: &str = "cyberx-xsense-capture-filter";

/// The options of `cyberx-xsense-capture-filter`, in the reference's order.
const CAPTURE_FILTER_OPTIONS: &[super::argparse::Opt] = {
    use super::argparse::Opt;
    &[
        Opt { short: "-i", long: "--include", metavar: Some("INCLUDE"), required: false, help: "file of devices and subnets to include, one a line" },
        Opt { short: "-x", long: "--exclude", metavar: Some("EXCLUDE"), required: false, help: "file of devices, subnets and channels to exclude, one a line" },
        Opt { short: "-etp", long: "--exclude-tcp-port", metavar: Some("EXCLUDE_TCP_PORT"), required: false, help: "TCP ports to exclude, comma-separated" },
        Opt { short: "-eup", long: "--exclude-udp-port", metavar: Some("EXCLUDE_UDP_PORT"), required: false, help: "UDP ports to exclude, comma-separated" },
        Opt { short: "-itp", long: "--include-tcp-port", metavar: Some("INCLUDE_TCP_PORT"), required: false, help: "TCP ports to include, comma-separated" },
        Opt { short: "-iup", long: "--include-udp-port", metavar: Some("INCLUDE_UDP_PORT"), required: false, help: "UDP ports to include, comma-separated" },
        Opt { short: "-vlan", long: "--include-vlan-ids", metavar: Some("INCLUDE_VLAN_IDS"), required: false, help: "the VLAN id to include" },
        Opt { short: "-p", long: "--program", metavar: Some("PROGRAM"), required: true, help: "all, collector, traffic-monitor, horizon, dissector, statistics-collector, rpc-parser or smb-parser" },
        Opt { short: "-o", long: "--base-horizon", metavar: Some("BASE_HORIZON"), required: false, help: "base capture filter for horizon" },
        Opt { short: "-s", long: "--base-traffic-monitor", metavar: Some("BASE_TRAFFIC_MONITOR"), required: false, help: "base capture filter for traffic-monitor" },
        Opt { short: "-c", long: "--base-collector", metavar: Some("BASE_COLLECTOR"), required: false, help: "base capture filter for the collector" },
        Opt { short: "-m", long: "--mode", metavar: Some("MODE"), required: true, help: "internal or all-connected" },
        Opt { short: "-S", long: "--from-shell", metavar: None, required: false, help: "the arguments came through the restricted shell" },
    ]
};

/// The largest include or exclude file read, in bytes.
const MAX_LIST_FILE: u64 = 1 << 20;

/// Parses `network capture-filter` and `cyberx-xsense-capture-filter` (told apart by the name
/// they were invoked as). The alias's lists are read here, with the caller's own permissions.
pub fn parse_capture_filter(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    use crate::capture_filter::command::{BaseFilter, ExcludeList, Given, IncludeList, PortList, VlanId};
    use crate::capture_filter::{Mode, Program};
    if name.first() != Some(&CAPTURE_FILTER_ALIAS) {
        let parsed = CaptureFilterArgs::from_args(name, args)?;
        if parsed.json && !parsed.show {
            return Err(usage_error("--json goes with --show".to_string()));
        }
        if parsed.show {
            if parsed.test.is_some() {
                return Err(usage_error("--show and --test cannot be used together".to_string()));
            }
            return Ok(Action::CaptureFilterShow { json: parsed.json });
        }
        let test = parsed.test.as_deref().map(IfName::parse).transpose().map_err(|e| usage_error(e.to_string()))?;
        let seconds = LoadSeconds::new(parsed.seconds)
            .map_err(|_| usage_error(format!("--seconds {}: must be 1-3600", parsed.seconds)))?;
        return Ok(Action::CaptureFilter { given: None, test, seconds, legacy_alias: false });
    }
    let prog = name.join(" ");
    let parsed = super::argparse::parse(&prog, CAPTURE_FILTER_OPTIONS, args)?;
    let usage = super::argparse::usage(&prog, CAPTURE_FILTER_OPTIONS);
    let error = |option: &str, message: String| argh::EarlyExit {
        output: format!("{usage}\n{prog}: error: argument {option}: {message}\n"),
        status: Err(()),
    };
    let list = |option: &str, path: &str| -> Result<String, argh::EarlyExit> {
        let shown = printable(path);
        let fail = |e: std::io::Error| error(option, format!("{shown}: {}", crate::error::strip_errno(&e)));
        let file = std::fs::File::open(path).map_err(fail)?;
        if !file.metadata().map_err(fail)?.is_file() {
            return Err(error(option, format!("{shown}: not a regular file")));
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_LIST_FILE + 1), &mut text).map_err(fail)?;
        if text.len() as u64 > MAX_LIST_FILE {
            return Err(error(option, format!("{shown}: larger than {MAX_LIST_FILE} bytes")));
        }
        Ok(text)
    };
    let ports = |option: &str, long: &str| -> Result<PortList, argh::EarlyExit> {
        PortList::parse(parsed.value(long).unwrap_or("")).map_err(|e| error(option, e.to_string()))
    };
    let base = |option: &str, long: &str| -> Result<Option<BaseFilter>, argh::EarlyExit> {
        parsed.value(long).map(|text| BaseFilter::parse(text).map_err(|e| error(option, e.to_string()))).transpose()
    };
    let include = match parsed.value("--include") {
        Some(path) => Some(IncludeList::parse(&list("-i/--include", path)?).map_err(|e| error("-i/--include", e.to_string()))?),
        None => None,
    };
    let exclude = match parsed.value("--exclude") {
        Some(path) => Some(ExcludeList::parse(&list("-x/--exclude", path)?).map_err(|e| error("-x/--exclude", e.to_string()))?),
        None => None,
    };
    let vlan = match parsed.value("--include-vlan-ids") {
        Some(text) if !text.trim().is_empty() => Some(VlanId::parse(text).map_err(|e| error("-vlan/--include-vlan-ids", e.to_string()))?),
        _ => None,
    };
    let given = Given {
        include,
        exclude,
        include_tcp_ports: ports("-itp/--include-tcp-port", "--include-tcp-port")?,
        include_udp_ports: ports("-iup/--include-udp-port", "--include-udp-port")?,
        exclude_tcp_ports: ports("-etp/--exclude-tcp-port", "--exclude-tcp-port")?,
        exclude_udp_ports: ports("-eup/--exclude-udp-port", "--exclude-udp-port")?,
        vlan,
        program: Program::parse(parsed.value("--program").unwrap_or("")).map_err(|e| error("-p/--program", e.to_string()))?,
        mode: Mode::parse(parsed.value("--mode").unwrap_or("")).map_err(|e| error("-m/--mode", e.to_string()))?,
        base_horizon: base("-o/--base-horizon", "--base-horizon")?,
        base_traffic_monitor: base("-s/--base-traffic-monitor", "--base-traffic-monitor")?,
        base_collector: base("-c/--base-collector", "--base-collector")?,
    };
    Ok(Action::CaptureFilter { given: Some(given), test: None, seconds: LoadSeconds::new(10).map_err(|e| usage_error(e.to_string()))?, legacy_alias: true })
}

/// Show how much each interface receives and sends, one line per second (six seconds).
#[derive(FromArgs, Debug)]
pub struct LoadArgs {
    /// only this interface (default: every interface that is up, except loopback)
    #[argh(option)]
    pub interface: Option<String>,
    /// number of one-second samples, 1-3600 (default 6)
    #[argh(option, default = "crate::netload::DEFAULT_SECONDS")]
    pub seconds: u32,
    /// print JSON with every sample's rates in bits per second and the time it covers
    #[argh(switch)]
    pub json: bool,
}

/// Parses `network load` / `cyberx-nload`.
pub fn parse_load(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = LoadArgs::from_args(name, args)?;
    let interface = parsed.interface.as_deref().map(IfName::parse).transpose().map_err(|e| usage_error(e.to_string()))?;
    let seconds = LoadSeconds::new(parsed.seconds)
        .map_err(|_| usage_error(format!("--seconds {}: must be 1-{}", parsed.seconds, crate::netload::MAX_SECONDS)))?;
    Ok(Action::NetworkLoad { interface, seconds, json: parsed.json })
}

/// The reference CLI's `cyberx-xsense-limit-interface` is a Python argparse program, and its
/// usage line and `-h` text are part of what operators and their scripts know; they are
/// reproduced exactly (with the name the command was invoked by), and so are argparse's error
/// messages: the usage line, then `PROG: error: …`, exit 2.
const LIMIT_USAGE: &str = " [-h] --interface INTERFACE [--limit LIMIT] [--clear]";
const LIMIT_HELP: &str = "
optional arguments:
  -h, --help            show this help message and exit
  --interface INTERFACE
                        interface (e.g. eth0)
  --limit LIMIT         limit value (e.g. 30kbit). kbps - Kilobytes per second, mbps - Megabytes per second, kbit -
                        Kilobits per second, mbit - Megabits per second, bps or a bare number - Bytes per second
  --clear               flag, will clear settings for the given interface
";

/// The long options of `network limit`, for argparse's unique-prefix matching.
const LIMIT_OPTIONS: [&str; 4] = ["--help", "--interface", "--limit", "--clear"];

/// How argparse classifies one command-line word.
#[derive(Debug, PartialEq)]
enum Word<'a> {
    /// A value (argparse's "A"): may follow an option that takes one, else it is extra.
    Value,
    /// One of our options, with a value given after `=`.
    Option(&'static str, Option<&'a str>),
    /// Looks like an option but is none of ours (argparse's "O"; it lands among the extras).
    Unknown,
    /// A prefix of more than one of our options.
    Ambiguous(&'a str, Vec<&'static str>),
}

/// argparse's `_parse_optional`, for the options of `network limit`.
fn classify(arg: &str) -> Word<'_> {
    if !arg.starts_with('-') || arg == "-" {
        return Word::Value;
    }
    if arg == "-h" {
        return Word::Option("--help", None);
    }
    let (flag, explicit) = match arg.split_once('=') {
        Some((flag, value)) => (flag, Some(value)),
        None => (arg, None),
    };
    if flag.starts_with("--") && flag.len() > 2 {
        let matches: Vec<&'static str> = LIMIT_OPTIONS.iter().copied().filter(|o| o.starts_with(flag)).collect();
        match matches[..] {
            [] => {}
            [one] => return Word::Option(one, explicit),
            _ => return Word::Ambiguous(flag, matches),
        }
    }
    // The parser has no option that looks like a negative number, so `-5` is a value.
    let digits = &arg[1..];
    let negative_number = digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') && digits.parse::<f64>().is_ok();
    if negative_number || arg.contains(' ') {
        return Word::Value;
    }
    Word::Unknown
}

/// Show the outbound bandwidth limits stored in the config (the daemon installs them at start).
#[derive(FromArgs, Debug)]
pub struct LimitListArgs {
    /// print JSON: each interface, its limit as given and in bytes per second
    #[argh(switch)]
    pub json: bool,
}

/// Parses `network limit-list`.
pub fn parse_limit_list(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = LimitListArgs::from_args(name, args)?;
    Ok(Action::NetworkLimitList { json: parsed.json })
}

/// Parses `network limit` / `cyberx-xsense-limit-interface` the way Python's argparse parses
/// `[-h] --interface INTERFACE [--limit LIMIT] [--clear]`: `--opt VALUE` or `--opt=VALUE`,
/// unique prefixes of long options (`--int eth0`), the last of repeated options wins, `--`
/// ends the options, `-h` prints the help at once.
pub fn parse_limit(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let prog = name.join(" ");
    let usage = format!("usage: {prog}{LIMIT_USAGE}\n");
    let error = |message: String| argh::EarlyExit {
        output: format!("{usage}{prog}: error: {message}\n"),
        status: Err(()),
    };
    let mut interface: Option<&str> = None;
    let mut limit: Option<&str> = None;
    let mut clear = false;
    let mut extras: Vec<&str> = Vec::new();
    let mut at = 0;
    while let Some(&arg) = args.get(at) {
        at += 1;
        if arg == "--" {
            extras.extend_from_slice(&args[at..]);
            break;
        }
        match classify(arg) {
            Word::Value | Word::Unknown => extras.push(arg),
            Word::Ambiguous(flag, matches) => {
                return Err(error(format!("ambiguous option: {} could match {}", printable(flag), matches.join(", "))))
            }
            Word::Option("--help", None) => {
                return Err(argh::EarlyExit { output: format!("{usage}{LIMIT_HELP}"), status: Ok(()) });
            }
            Word::Option("--clear", None) => clear = true,
            Word::Option(option @ ("--help" | "--clear"), Some(explicit)) => {
                let shown = if option == "--help" { "-h/--help" } else { "--clear" };
                return Err(error(format!("argument {shown}: ignored explicit argument '{}'", printable(explicit))));
            }
            Word::Option(option, explicit) => {
                let value = match explicit {
                    Some(value) => value,
                    None => match args.get(at) {
                        Some(&next) if next != "--" && classify(next) == Word::Value => {
                            at += 1;
                            next
                        }
                        _ => return Err(error(format!("argument {option}: expected one argument"))),
                    },
                };
                if option == "--interface" {
                    interface = Some(value);
                } else {
                    limit = Some(value);
                }
            }
        }
    }
    let Some(interface) = interface else {
        return Err(error("the following arguments are required: --interface".to_string()));
    };
    if !extras.is_empty() {
        return Err(error(format!("unrecognized arguments: {}", printable(&extras.join(" ")))));
    }
    let interface = IfName::parse(interface).map_err(|e| error(format!("argument --interface: {e}")))?;
    let limit = match limit {
        Some(text) => Some(crate::validate::Rate::parse(text).map_err(|e| error(format!("argument --limit: {e}")))?),
        None => None,
    };
    match (&limit, clear) {
        (Some(_), true) => return Err(error("argument --clear: not allowed with argument --limit".to_string())),
        (None, false) => return Err(error("one of the arguments --limit --clear is required".to_string())),
        _ => {}
    }
    Ok(Action::NetworkLimit { interface, limit, clear })
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

    const RECONFIGURE: [&str; 3] = ["sensorctl", "network", "reconfigure"];

    #[test]
    fn reconfigure_flags_are_checked_for_syntax_and_normalised() {
        let action = parse_reconfigure(
            &RECONFIGURE,
            &[
                "--interface", "eth0", "--ip", "10.0.0.5", "--subnet", "/24", "--gateway", "10.0.0.1", "--dns",
                "10.0.0.53,10.0.0.54", "--monitor", "a=eth1", "--monitor", "b=eth2", "--erspan", "none",
                "--backup-dir", "/data/b", "--yes",
            ],
        )
        .unwrap();
        assert_eq!(
            action,
            Action::NetworkReconfigure {
                interface: Some("eth0".into()),
                ip: Some("10.0.0.5".into()),
                subnet: Some("255.255.255.0".into()),
                gateway: Some("10.0.0.1".into()),
                dns: Some(vec!["10.0.0.53".into(), "10.0.0.54".into()]),
                monitors: Some(vec!["a=eth1".into(), "b=eth2".into()]),
                erspan: Some(vec![]),
                backup_dir: Some("/data/b".into()),
                yes: true,
            }
        );
        let bare = parse_reconfigure(&RECONFIGURE, &[]).unwrap();
        assert!(matches!(bare, Action::NetworkReconfigure { interface: None, dns: None, yes: false, .. }));
        for bad in [
            &["--ip", "10.0.0.256"][..],
            &["--ip", "127.0.0.1"],
            &["--subnet", "255.0.255.0"],
            &["--gateway", "gw"],
            &["--dns", "1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4"],
            &["--monitor", "eth1"],
            &["--erspan", "bad;name"],
            &["--backup-dir", "relative"],
            &["--interface", "eth0;reboot"],
            &["--bogus"],
        ] {
            let err = parse_reconfigure(&RECONFIGURE, bad).unwrap_err();
            assert!(err.status.is_err(), "{bad:?}");
            assert!(!err.output.trim().contains('\n') || bad == ["--bogus"], "{bad:?}: {}", err.output);
        }
        let err = parse_reconfigure(&RECONFIGURE, &["--subnet", "255.0.255.0"]).unwrap_err();
        assert!(err.output.starts_with("--subnet: invalid subnet mask '255.0.255.0'"), "{}", err.output);
    }

    const ALIAS: [&str; 1] = ["cyberx-xsense-limit-interface"];
    const USAGE: &str = "usage: cyberx-xsense-limit-interface [-h] --interface INTERFACE [--limit LIMIT] [--clear]";

    fn limit(args: &[&str]) -> Result<Action, argh::EarlyExit> {
        parse_limit(&ALIAS, args)
    }

    /// The argparse error message for `args`, after checking the two-line shape around it.
    fn limit_error(args: &[&str]) -> String {
        let early = limit(args).unwrap_err();
        assert!(early.status.is_err(), "{args:?}: {}", early.output);
        let lines: Vec<&str> = early.output.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: {}", early.output);
        assert_eq!(lines[0], USAGE);
        lines[1].strip_prefix("cyberx-xsense-limit-interface: error: ").unwrap().to_string()
    }

    #[test]
    fn limit_accepts_what_argparse_accepts() {
        let set = |i: &str, l: &str| Action::NetworkLimit { interface: i.into(), limit: Some(l.into()), clear: false };
        let clear = |i: &str| Action::NetworkLimit { interface: i.into(), limit: None, clear: true };
        assert_eq!(limit(&["--interface", "eth0", "--limit", "1000mbps"]).unwrap(), set("eth0", "1000mbps"));
        assert_eq!(limit(&["--limit", "30kbit", "--interface", "eth0"]).unwrap(), set("eth0", "30kbit"));
        assert_eq!(limit(&["--interface=eth1", "--limit=5000"]).unwrap(), set("eth1", "5000"));
        assert_eq!(limit(&["--int", "eth0", "--lim", "1mbit"]).unwrap(), set("eth0", "1mbit"));
        assert_eq!(limit(&["--interface", "eth0", "--clear"]).unwrap(), clear("eth0"));
        assert_eq!(limit(&["--c", "--i", "eth0"]).unwrap(), clear("eth0"));
        assert_eq!(limit(&["--interface", "x", "--interface", "eth0", "--clear"]).unwrap(), clear("eth0"), "last wins");
    }

    #[test]
    fn limit_help_is_the_reference_text_with_the_invoked_name() {
        let early = limit(&["-h"]).unwrap_err();
        assert!(early.status.is_ok());
        let expected = "usage: cyberx-xsense-limit-interface [-h] --interface INTERFACE [--limit LIMIT] [--clear]\n\
            \n\
            optional arguments:\n\
            \x20 -h, --help            show this help message and exit\n\
            \x20 --interface INTERFACE\n\
            \x20                       interface (e.g. eth0)\n\
            \x20 --limit LIMIT         limit value (e.g. 30kbit). kbps - Kilobytes per second, mbps - Megabytes per second, kbit -\n\
            \x20                       Kilobits per second, mbit - Megabits per second, bps or a bare number - Bytes per second\n\
            \x20 --clear               flag, will clear settings for the given interface\n";
        assert_eq!(early.output, expected);
        // Help wins wherever it stands, also after words argparse would reject at the end.
        assert_eq!(limit(&["--bogus", "--help"]).unwrap_err().output, expected);
        assert_eq!(limit(&["--he"]).unwrap_err().output, expected);
        let newer = parse_limit(&["sensorctl", "network", "limit"], &["--help"]).unwrap_err().output;
        assert!(newer.starts_with("usage: sensorctl network limit [-h] --interface INTERFACE [--limit LIMIT] [--clear]\n\noptional"), "{newer}");
    }

    #[test]
    fn limit_errors_are_argparse_errors() {
        for (args, expected) in [
            (&[][..], "the following arguments are required: --interface"),
            (&["--limit", "1mbit"][..], "the following arguments are required: --interface"),
            (&["--interface"][..], "argument --interface: expected one argument"),
            (&["--interface", "--clear"][..], "argument --interface: expected one argument"),
            (&["--interface", "eth0", "--limit"][..], "argument --limit: expected one argument"),
            (&["--interface", "eth0", "--limit", "-x"][..], "argument --limit: expected one argument"),
            (&["--interface", "eth0", "--clear=yes"][..], "argument --clear: ignored explicit argument 'yes'"),
            (&["--interface", "eth0", "--clear", "extra", "--bogus"][..], "unrecognized arguments: extra --bogus"),
            (&["--interface", "eth0", "--clear", "--", "--limit"][..], "unrecognized arguments: --limit"),
            (&["--interface", "eth0", "--clear", "-5"][..], "unrecognized arguments: -5"),
            (&["--interface", "eth0"][..], "one of the arguments --limit --clear is required"),
            (&["--interface", "eth0", "--limit", "1mbit", "--clear"][..], "argument --clear: not allowed with argument --limit"),
            (&["--interface", "eth0;reboot", "--clear"][..], "argument --interface: invalid interface name 'eth0;reboot'"),
            (&["--interface", "", "--clear"][..], "argument --interface: invalid interface name ''"),
            (&["--interface", "eth0", "--limit", "-5"][..], "argument --limit: invalid limit '-5': negative"),
            (&["--interface", "eth0", "--limit", "0"][..], "argument --limit: invalid limit '0': must be more than 0"),
            (&["--interface", "eth0", "--limit", "5Mbit"][..], "argument --limit: invalid limit '5Mbit': unknown unit 'Mbit'"),
            (&["--interface", "eth0", "--limit", "99999999999999999999mbit"][..], "too large"),
            (&["--interface", "eth0", "--limit="][..], "argument --limit: invalid limit '': empty"),
            (&["--interface", "eth0", "--limit", "1 mbit"][..], "unknown unit ' mbit'"),
            (&["--interface", "eth0", "--limit", "1mbit\x1b[2J"][..], "unknown unit 'mbit\\x1b[2J'"),
            (&["--interface", "eth0", "--clear", "\x1b[2J"][..], "unrecognized arguments: \\x1b[2J"),
        ] {
            let message = limit_error(args);
            assert!(message.contains(expected), "{args:?}: {message}");
        }
    }

    #[test]
    fn load_arguments() {
        let name = ["cyberx-nload"];
        assert_eq!(parse_load(&name, &[]).unwrap(), Action::NetworkLoad { interface: None, seconds: 6.into(), json: false });
        assert_eq!(
            parse_load(&name, &["--interface", "eth0", "--seconds", "2", "--json"]).unwrap(),
            Action::NetworkLoad { interface: Some("eth0".into()), seconds: 2.into(), json: true }
        );
        for bad in [&["--seconds", "0"][..], &["--seconds", "3601"], &["--seconds", "-1"], &["--interface", "a b"], &["eth0"]] {
            assert!(parse_load(&name, bad).is_err(), "{bad:?}");
        }
    }
}
