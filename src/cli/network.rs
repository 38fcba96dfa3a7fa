//! argh arguments of the `network` category: argv → [`Action`]; and the client-side half of
//! `network reconfigure`, the setup wizard.
//!
//! The wizard asks its questions here, in the caller's own process, before the Action is run
//! or sent to the daemon: the support user reaches `network reconfigure` through the daemon's
//! socket, which has no terminal, so the daemon cannot ask anything. The argh parser only
//! checks the syntax of the flags given; [`complete_reconfigure`] (called by `cli::main` and
//! by the restricted shell) then asks for every setting no flag gave — current values in
//! brackets, an empty answer keeps it, a bad answer is explained and asked again — shows the
//! summary and asks `[Y/n]`. With `--yes` it asks nothing: missing settings keep their current
//! values. With flags, a bad value is a one-line error, exit 2, before anything changes. The
//! Action then carries every answer, and the executor (`crate::netconf::reconfigure`)
//! validates them again and applies; see that module for why the work is split so.
//!
//! Parsing is pure; the wizard reads standard input and the kernel's link, address and route
//! tables (no privileges needed) and, when it may, the config.
#![forbid(unsafe_code)]

use crate::action::{Action, ActionKind};
use crate::board::Board;
use crate::context::Context;
use crate::error::Error;
use crate::netconf::{self, Current, Kernel, Monitor, Settings};
use crate::paths::RootDir;
use crate::shell::{Input, LineReader};
use crate::sys::netlink::Link;
use crate::validate::{printable, DirPath, IfName, Ipv4, Netmask};
use argh::FromArgs;
use crate::error::Result as CmdResult;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::Duration;

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

/// Parses `network reconfigure`: checks the syntax of every flag given. The rest of the answers
/// are gathered by [`complete_reconfigure`] before the action runs.
pub fn parse_reconfigure(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = ReconfigureArgs::from_args(name, args)?;
    let flag = |what: &str, err: Error| usage_error(format!("--{what}: {err}"));
    let interface = match &parsed.interface {
        Some(text) => Some(IfName::parse(text).map_err(|e| flag("interface", e))?.to_string()),
        None => None,
    };
    let ip = match &parsed.ip {
        Some(text) => {
            let ip = Ipv4::parse(text).map_err(|e| flag("ip", e))?;
            netconf::check_host("ip", ip).map_err(|e| flag("ip", e))?;
            Some(ip.to_string())
        }
        None => None,
    };
    let subnet = match &parsed.subnet {
        Some(text) => Some(Netmask::parse(text).map_err(|e| flag("subnet", e))?.to_string()),
        None => None,
    };
    let gateway = match &parsed.gateway {
        Some(text) => Some(Ipv4::parse(text).map_err(|e| flag("gateway", e))?.to_string()),
        None => None,
    };
    let dns = match list_flag(&parsed.dns) {
        Some(text) => Some(netconf::parse_dns(&text).map_err(|e| flag("dns", e))?.iter().map(Ipv4::to_string).collect()),
        None => None,
    };
    let monitors = match list_flag(&parsed.monitor) {
        Some(text) => Some(netconf::parse_monitors(&text).map_err(|e| flag("monitor", e))?.iter().map(Monitor::to_string).collect()),
        None => None,
    };
    let erspan = match list_flag(&parsed.erspan) {
        Some(text) => Some(netconf::parse_interfaces(&text).map_err(|e| flag("erspan", e))?.iter().map(IfName::to_string).collect()),
        None => None,
    };
    let backup_dir = match &parsed.backup_dir {
        Some(text) => Some(DirPath::parse(text).map_err(|e| flag("backup-dir", e))?.to_string()),
        None => None,
    };
    Ok(Action::NetworkReconfigure { interface, ip, subnet, gateway, dns, monitors, erspan, backup_dir, yes: parsed.yes })
}

/// Whether `action` needs [`complete_reconfigure`] before it can run.
pub fn needs_wizard(action: &Action) -> bool {
    matches!(action, Action::NetworkReconfigure { .. })
}

/// One reply to a question.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// A line (without its newline).
    Line(String),
    /// A line that cannot be an answer (control characters, too long), and why.
    Invalid(String),
    /// End of input.
    End,
}

/// Where the wizard's answers come from.
pub trait Answers {
    /// The next reply.
    fn next_reply(&mut self) -> CmdResult<Reply>;
}

/// Answers read from the terminal or a pipe, through the shell's unbuffered line reader (so
/// that inside the restricted shell the wizard and the shell read the same stream), with the
/// shell's idle limit.
pub struct LineAnswers<'a, R> {
    reader: &'a mut LineReader<R>,
    idle: Duration,
}

impl<'a, R> LineAnswers<'a, R> {
    /// Answers from `reader`; waiting longer than `idle` for one cancels the wizard.
    pub fn new(reader: &'a mut LineReader<R>, idle: Duration) -> LineAnswers<'a, R> {
        LineAnswers { reader, idle }
    }
}

impl<R: Read + AsFd> Answers for LineAnswers<'_, R> {
    fn next_reply(&mut self) -> CmdResult<Reply> {
        match self.reader.next_line(self.idle).map_err(|e| Error::io("read", "standard input", e))? {
            Input::Line(bytes) => Ok(match crate::shell::check_line(&bytes) {
                Ok(text) => Reply::Line(text.trim().to_string()),
                Err(why) => Reply::Invalid(why),
            }),
            Input::TooLong => Ok(Reply::Invalid(format!("answer too long (limit {} bytes)", crate::shell::MAX_LINE))),
            Input::End => Ok(Reply::End),
            Input::Idle => Err(Error::Problem(format!(
                "no answer for {} seconds: nothing changed",
                self.idle.as_secs()
            ))),
        }
    }
}

/// How many invalid answers to one question end the wizard (a script piping the wrong answers
/// must not loop forever).
pub const MAX_ATTEMPTS: usize = 5;

/// The conversation: questions on `out`, answers from `input`, complaints on stderr.
struct Wizard<'a> {
    input: &'a mut dyn Answers,
    out: &'a mut dyn Write,
    /// `--yes`: no questions; missing settings keep their current values.
    quiet: bool,
    /// Input is not a terminal, so answers are not echoed: end each prompt line ourselves.
    newline_after_answer: bool,
    /// The devices of the namespace, to refuse an interface that does not exist right away
    /// (`None` when the link dump failed; the executor checks again anyway).
    links: Option<Vec<Link>>,
}

fn complain(message: &str) {
    let _ = writeln!(std::io::stderr(), "sensorctl: network reconfigure: {message}");
}

impl Wizard<'_> {
    fn write(&mut self, text: &str) -> CmdResult<()> {
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::io("write", "standard output", e))
    }

    fn exists(&self, what: &str, name: &IfName) -> CmdResult<()> {
        match &self.links {
            Some(links) => netconf::check_exists(what, name, links),
            None => Ok(()),
        }
    }

    /// One setting: the flag's value if given (an error if it does not fit), else with
    /// `--yes` the current value, else the answer to `question`.
    fn ask<T>(
        &mut self,
        question: &str,
        flag: &str,
        given: Option<String>,
        current: Option<String>,
        parse: &dyn Fn(&Wizard<'_>, &str) -> CmdResult<T>,
    ) -> CmdResult<T> {
        // The conversation itself is not generic, so that it is compiled once, not per setting.
        let mut value = None;
        self.ask_text(question, flag, given, current, &mut |wizard, text| {
            value = Some(parse(wizard, text)?);
            Ok(())
        })?;
        value.ok_or_else(|| Error::Usage(format!("{question}: no answer")))
    }

    /// [`Wizard::ask`] with `accept` keeping the parsed value: `Ok` once it accepted an answer.
    fn ask_text(
        &mut self,
        question: &str,
        flag: &str,
        given: Option<String>,
        current: Option<String>,
        accept: &mut dyn FnMut(&Wizard<'_>, &str) -> CmdResult<()>,
    ) -> CmdResult<()> {
        let parse = accept;
        if let Some(text) = given {
            return parse(self, &text).map_err(|e| Error::Usage(format!("--{flag}: {e}")));
        }
        if self.quiet {
            let Some(text) = current else {
                return Err(Error::Usage(format!("--{flag}: no current value to keep; give --{flag}")));
            };
            return parse(self, &text).map_err(|e| Error::Usage(format!("--{flag}: the current value does not fit: {e}")));
        }
        for _ in 0..MAX_ATTEMPTS {
            let prompt = match &current {
                Some(text) => format!("{question} [{text}]: "),
                None => format!("{question}: "),
            };
            self.write(&prompt)?;
            let reply = self.input.next_reply()?;
            if self.newline_after_answer {
                self.write("\n")?;
            }
            let answer = match reply {
                Reply::End => {
                    return Err(Error::Usage("end of input before every setting was answered: nothing changed".to_string()))
                }
                Reply::Invalid(why) => {
                    complain(&why);
                    continue;
                }
                Reply::Line(line) if line.is_empty() => match &current {
                    Some(text) => text.clone(),
                    None => {
                        complain(&format!("{question}: an answer is needed (there is no current value)"));
                        continue;
                    }
                },
                Reply::Line(line) => line,
            };
            match parse(self, &answer) {
                Ok(()) => return Ok(()),
                Err(err) => complain(&err.to_string()),
            }
        }
        Err(Error::Usage(format!("{question}: no valid answer after {MAX_ATTEMPTS} tries: nothing changed")))
    }

    /// Every setting, in the wizard's order; each answer is checked against the ones before it.
    /// `defaults` gives the current values, for the management interface once it is chosen.
    fn converse(&mut self, request: Request, defaults: &dyn Fn(Option<&IfName>) -> Current) -> CmdResult<Settings> {
        let current = defaults(None);
        let join = |list: Option<Vec<String>>| list.map(|l| if l.is_empty() { "none".to_string() } else { l.join(",") });

        let interface = self.ask(
            "Management interface",
            "interface",
            request.interface,
            current.interface.as_ref().map(IfName::to_string),
            &|w, answer| {
                let name = IfName::parse(answer)?;
                w.exists("management interface", &name)?;
                Ok(name)
            },
        )?;
        let current = defaults(Some(&interface));
        let ip = self.ask("IPv4 address", "ip", request.ip, current.ip.map(|v| v.to_string()), &|_, answer| {
            let ip = Ipv4::parse(answer)?;
            netconf::check_host("ip", ip)?;
            Ok(ip)
        })?;
        let subnet = self.ask("Subnet mask", "subnet", request.subnet, current.subnet.map(|v| v.to_string()), &|_, answer| {
            let subnet = Netmask::parse(answer)?;
            netconf::check_subnet(ip, subnet)?;
            Ok(subnet)
        })?;
        let gateway = self.ask("Default gateway", "gateway", request.gateway, current.gateway.map(|v| v.to_string()), &|_, answer| {
            let gateway = Ipv4::parse(answer)?;
            netconf::check_gateway(ip, subnet, gateway)?;
            Ok(gateway)
        })?;
        let dns = self.ask(
            "DNS servers (comma-separated, or none)",
            "dns",
            join(request.dns),
            current.dns.as_deref().map(netconf::list_text),
            &|_, answer| netconf::parse_dns(answer),
        )?;
        let monitors = self.ask(
            "Monitor interfaces (label=device, comma-separated, or none)",
            "monitor",
            join(request.monitors),
            current.monitors.as_deref().map(netconf::list_text),
            &|w, answer| {
                let monitors = netconf::parse_monitors(answer)?;
                netconf::check_monitors(&interface, &monitors)?;
                for monitor in &monitors {
                    w.exists(&format!("monitor interface {}:", monitor.label), &monitor.device)?;
                }
                Ok(monitors)
            },
        )?;
        let erspan = self.ask(
            "ERSPAN interfaces (comma-separated, or none)",
            "erspan",
            join(request.erspan),
            current.erspan.as_deref().map(netconf::list_text),
            &|w, answer| {
                let erspan = netconf::parse_interfaces(answer)?;
                netconf::check_erspan(&interface, &monitors, &erspan)?;
                for name in &erspan {
                    w.exists("ERSPAN interface", name)?;
                }
                Ok(erspan)
            },
        )?;
        let backup_dir = self.ask(
            "Backup directory",
            "backup-dir",
            request.backup_dir,
            current.backup_dir.as_ref().map(DirPath::to_string),
            &|_, answer| DirPath::parse(answer),
        )?;
        let settings = Settings { interface, ip, subnet, gateway, dns, monitors, erspan, backup_dir };
        settings.check()?;
        Ok(settings)
    }

    /// The summary and `[Y/n]`; `Ok(false)` when the operator says no (or input ends).
    fn confirm(&mut self, settings: &Settings) -> CmdResult<bool> {
        self.write("New network settings:\n")?;
        for line in settings.summary_lines() {
            self.write(&format!("{line}\n"))?;
        }
        for _ in 0..MAX_ATTEMPTS {
            self.write("Apply these settings? [Y/n] ")?;
            let reply = self.input.next_reply()?;
            if self.newline_after_answer {
                self.write("\n")?;
            }
            match reply {
                Reply::End => return Ok(false),
                Reply::Line(line) => match line.to_ascii_lowercase().as_str() {
                    "" | "y" | "yes" => return Ok(true),
                    "n" | "no" => return Ok(false),
                    other => complain(&format!("answer y or n, not '{}'", printable(other))),
                },
                Reply::Invalid(why) => complain(&why),
            }
        }
        Ok(false)
    }
}

/// The settings the flags gave (`None`: ask, or keep the current value with `--yes`).
struct Request {
    interface: Option<String>,
    ip: Option<String>,
    subnet: Option<String>,
    gateway: Option<String>,
    dns: Option<Vec<String>>,
    monitors: Option<Vec<String>>,
    erspan: Option<Vec<String>>,
    backup_dir: Option<String>,
}

/// Where the wizard runs: the root prefix, and the caller's context when it could be
/// established (for the early role check, the config and the board).
pub struct WizardEnv<'a> {
    /// The root prefix.
    pub root: &'a RootDir,
    /// The caller's context, if known.
    pub ctx: Option<&'a Context>,
    /// Answers are typed on a terminal (which echoes them); otherwise they are piped.
    pub terminal: bool,
}

/// Completes a `network reconfigure` action: asks for every setting no flag gave (nothing with
/// `--yes`), checks them together, shows the summary and asks to confirm. Other actions are
/// returned unchanged. Bad flags, and input that ends early, are usage errors (exit 2); "no"
/// at the confirmation is a problem (exit 1). Nothing is changed either way.
pub fn complete_reconfigure(action: Action, env: &WizardEnv<'_>, input: &mut dyn Answers, out: &mut dyn Write) -> CmdResult<Action> {
    let Action::NetworkReconfigure { interface, ip, subnet, gateway, dns, monitors, erspan, backup_dir, yes } = action else {
        return Ok(action);
    };
    // A caller who may not reconfigure is asked nothing: the action goes on unfilled, and the
    // policy check where it runs (in process, or in the daemon) refuses it and audits the
    // refusal, which this process (perhaps not root) could not write itself.
    if let Some(ctx) = env.ctx {
        if crate::action::authorize(ctx.caller.role, ActionKind::NetworkReconfigure).is_err() {
            return Ok(Action::NetworkReconfigure { interface, ip, subnet, gateway, dns, monitors, erspan, backup_dir, yes });
        }
    }
    // Read afresh (a reconfigure earlier in the same shell session may have changed it); a
    // caller who may not read it gets the kernel's and the board's values.
    // A config that exists but is broken would make the executor refuse after all the
    // questions: say so before them.
    let loaded = match crate::config::Config::load(env.root) {
        Ok(config) => Some(config),
        Err(err @ Error::BadFile { .. }) => return Err(err),
        Err(_) => None,
    };
    let config = loaded.as_ref();
    let fallback_board;
    let board = match env.ctx.and_then(|ctx| ctx.board().ok()) {
        Some(board) => Some(board),
        None => {
            fallback_board = Board::load(crate::board::DEFAULT_BOARD, env.root).ok();
            fallback_board.as_ref()
        }
    };
    let kernel = netconf::open_socket().and_then(|mut socket| Kernel::read(&mut socket)).ok();
    let regather = |interface: Option<&IfName>| Current::gather(env.root, config, board, kernel.as_ref(), interface);
    let request = Request { interface, ip, subnet, gateway, dns, monitors, erspan, backup_dir };
    let mut wizard = Wizard {
        input,
        out,
        quiet: yes,
        newline_after_answer: !env.terminal,
        links: kernel.as_ref().map(|k| k.links.clone()),
    };
    let settings = wizard.converse(request, &regather)?;
    if !yes && !wizard.confirm(&settings)? {
        return Err(Error::Problem("cancelled: nothing changed".to_string()));
    }
    Ok(Action::NetworkReconfigure {
        interface: Some(settings.interface.to_string()),
        ip: Some(settings.ip.to_string()),
        subnet: Some(settings.subnet.to_string()),
        gateway: Some(settings.gateway.to_string()),
        dns: Some(settings.dns.iter().map(Ipv4::to_string).collect()),
        monitors: Some(settings.monitors.iter().map(Monitor::to_string).collect()),
        erspan: Some(settings.erspan.iter().map(IfName::to_string).collect()),
        backup_dir: Some(settings.backup_dir.to_string()),
        yes,
    })
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
    let interface = match parsed.interface {
        Some(text) => Some(IfName::parse(&text).map_err(|e| usage_error(e.to_string()))?.as_str().to_string()),
        None => None,
    };
    if !(1..=crate::netload::MAX_SECONDS).contains(&parsed.seconds) {
        return Err(usage_error(format!("--seconds {}: must be 1-{}", parsed.seconds, crate::netload::MAX_SECONDS)));
    }
    Ok(Action::NetworkLoad { interface, seconds: parsed.seconds, json: parsed.json })
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
    Ok(Action::NetworkLimit {
        interface: interface.as_str().to_string(),
        limit: limit.map(|rate| rate.as_str().to_string()),
        clear,
    })
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

    /// Scripted answers: each line in turn, then end of input.
    struct Script(std::collections::VecDeque<&'static str>);

    impl Answers for Script {
        fn next_reply(&mut self) -> CmdResult<Reply> {
            Ok(match self.0.pop_front() {
                Some(line) if line.contains('\x1b') => Reply::Invalid("control character".into()),
                Some(line) => Reply::Line(line.to_string()),
                None => Reply::End,
            })
        }
    }

    fn links(names: &[&str]) -> Vec<Link> {
        names.iter().enumerate().map(|(at, n)| Link { index: at as u32 + 1, name: n.as_bytes().to_vec(), ..Link::default() }).collect()
    }

    fn current(interface: Option<&IfName>) -> Current {
        Current {
            interface: Some(interface.cloned().unwrap_or_else(|| IfName::parse("eth0").unwrap())),
            ip: Some(Ipv4::parse("10.0.0.4").unwrap()),
            subnet: Some(Netmask::parse("/24").unwrap()),
            gateway: Some(Ipv4::parse("10.0.0.1").unwrap()),
            dns: Some(vec![Ipv4::parse("10.0.0.53").unwrap()]),
            monitors: Some(vec![Monitor::parse("local_listener=eth1").unwrap()]),
            erspan: Some(vec![]),
            backup_dir: Some(DirPath::parse("/var/cyberx/backups").unwrap()),
        }
    }

    fn request() -> Request {
        Request { interface: None, ip: None, subnet: None, gateway: None, dns: None, monitors: None, erspan: None, backup_dir: None }
    }

    /// Runs the conversation (and the confirmation unless `quiet`); the outcome and what was
    /// written.
    fn converse(request: Request, answers: &[&'static str], quiet: bool) -> (CmdResult<(Settings, bool)>, String) {
        let mut script = Script(answers.iter().copied().collect());
        let mut out = Vec::new();
        let mut wizard = Wizard {
            input: &mut script,
            out: &mut out,
            quiet,
            newline_after_answer: true,
            links: Some(links(&["lo", "eth0", "eth1", "eth2", "gre1"])),
        };
        let result = wizard.converse(request, &current).and_then(|s| {
            let confirmed = quiet || wizard.confirm(&s)?;
            Ok((s, confirmed))
        });
        (result, String::from_utf8(out).unwrap())
    }

    #[test]
    fn empty_answers_keep_the_current_values() {
        let (result, out) = converse(request(), &["", "", "", "", "", "", "", "", ""], false);
        let (settings, confirmed) = result.unwrap();
        assert!(confirmed);
        assert_eq!(settings.ip.to_string(), "10.0.0.4");
        assert_eq!(settings.monitors[0].to_string(), "local_listener=eth1");
        let expected = "Management interface [eth0]: \nIPv4 address [10.0.0.4]: \nSubnet mask [255.255.255.0]: \n\
                        Default gateway [10.0.0.1]: \nDNS servers (comma-separated, or none) [10.0.0.53]: \n\
                        Monitor interfaces (label=device, comma-separated, or none) [local_listener=eth1]: \n\
                        ERSPAN interfaces (comma-separated, or none) [none]: \n\
                        Backup directory [/var/cyberx/backups]: \nNew network settings:\ninterface: eth0\n\
                        ip: 10.0.0.4\nsubnet: 255.255.255.0\ndefault gateway: 10.0.0.1\ndns: 10.0.0.53\n\
                        monitor interfaces mapping: local_listener=eth1\nerspan interfaces: none\n\
                        backup directory: /var/cyberx/backups\nApply these settings? [Y/n] \n";
        assert_eq!(out, expected);
    }

    #[test]
    fn bad_answers_are_asked_again_and_later_answers_are_checked_against_earlier_ones() {
        let (result, out) = converse(
            request(),
            &[
                "eth9", "eth2", // no such interface, then one that exists
                "192.168.1.10", "255.0.255.0", "/24", // a mask with a hole
                "10.0.0.1", "192.168.1.1", // a gateway outside the subnet, then inside
                "10.0.0.53 10.0.0.54", "a=eth1,b=eth2", "a=eth1", // eth2 is the management interface now
                "gre1", "relative", "/data/backups", "Y",
            ],
            false,
        );
        let (settings, confirmed) = result.unwrap();
        assert!(confirmed);
        assert_eq!(settings.interface.as_str(), "eth2");
        assert_eq!(settings.gateway.to_string(), "192.168.1.1");
        assert_eq!(settings.dns.len(), 2);
        assert_eq!(settings.erspan[0].as_str(), "gre1");
        assert_eq!(settings.backup_dir.as_str(), "/data/backups");
        assert_eq!(out.matches("Management interface [eth0]: ").count(), 2);
        assert_eq!(out.matches("Subnet mask").count(), 2);
        // The kernel's values follow the chosen interface: eth2 has none in this fake.
        assert!(out.contains("IPv4 address [10.0.0.4]: "), "{out}");
    }

    #[test]
    fn ending_early_declining_and_endless_garbage_change_nothing() {
        let (result, _) = converse(request(), &["eth0", "10.0.0.5"], false);
        let err = result.unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("end of input"), "{err}");
        let (result, _) = converse(request(), &[""; 8].iter().copied().chain(["n"]).collect::<Vec<_>>(), false);
        assert!(!result.unwrap().1, "n declines");
        let (result, _) = converse(request(), &[""; 8], false);
        assert!(!result.unwrap().1, "end of input at the confirmation declines");
        let (result, _) = converse(request(), &["x", "y", "z", "\x1b[2J", "eth9", "eth0"], false);
        let err = result.unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("no valid answer after 5 tries"), "{err}");
    }

    #[test]
    fn flags_are_used_without_asking_and_a_bad_one_is_an_error() {
        let given = Request {
            interface: Some("eth0".into()),
            ip: Some("10.0.0.9".into()),
            subnet: Some("255.255.255.0".into()),
            gateway: Some("10.0.0.254".into()),
            dns: Some(vec![]),
            ..request()
        };
        // --yes: nothing asked; the rest keeps the current values.
        let (result, out) = converse(given, &[], true);
        let (settings, _) = result.unwrap();
        assert_eq!(out, "");
        assert!(settings.dns.is_empty());
        assert_eq!(settings.monitors[0].to_string(), "local_listener=eth1");
        // Without --yes only the missing ones are asked.
        let given = Request { ip: Some("10.0.0.9".into()), ..request() };
        let (result, out) = converse(given, &[""; 8], false);
        assert!(result.is_ok());
        assert!(!out.contains("IPv4 address"), "{out}");
        // A gateway flag outside the subnet: exit 2, nothing asked after it.
        let given = Request { gateway: Some("10.1.0.1".into()), ..request() };
        let (result, out) = converse(given, &["", "", ""], false);
        let err = result.unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().starts_with("--gateway: default gateway 10.1.0.1 is outside the subnet"), "{err}");
        assert!(!out.contains("DNS"), "{out}");
        // --yes with an interface that does not exist.
        let given = Request { interface: Some("eth9".into()), ..request() };
        let err = converse(given, &[], true).0.unwrap_err();
        assert_eq!(err.to_string(), "--interface: management interface eth9: no such interface");
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
        assert_eq!(parse_load(&name, &[]).unwrap(), Action::NetworkLoad { interface: None, seconds: 6, json: false });
        assert_eq!(
            parse_load(&name, &["--interface", "eth0", "--seconds", "2", "--json"]).unwrap(),
            Action::NetworkLoad { interface: Some("eth0".into()), seconds: 2, json: true }
        );
        for bad in [&["--seconds", "0"][..], &["--seconds", "3601"], &["--seconds", "-1"], &["--interface", "a b"], &["eth0"]] {
            assert!(parse_load(&name, bad).is_err(), "{bad:?}");
        }
    }
}
