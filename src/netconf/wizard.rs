//! The questions of `network reconfigure`: every setting no flag gave, with the current value in
//! brackets (an empty answer keeps it), a bad answer explained and asked again, then the
//! summary and `Apply these settings? [Y/n]`. With `--yes` nothing is asked: settings not given
//! keep their current values.
//!
//! Asked through the executor's [`Prompter`] before anything is locked or changed: on the
//! operator's terminal in-process, and over the daemon's socket to the caller's terminal when
//! the daemon runs it. Reads the config and the kernel's tables; needs no privileges.
#![forbid(unsafe_code)]

use crate::board::Board;
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::paths::RootDir;
use crate::sys::netlink::Link;
use crate::validate::{DirPath, IfName, Ipv4, Netmask};
use std::io::Write;
use super::*;
use crate::prompt::{Echo, Prompter, Reply, MAX_ATTEMPTS};

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


/// The settings the flags gave (`None`: ask, or keep the current value with `--yes`).
#[derive(Clone, Debug, Default)]
pub struct Given {
    /// `--interface`.
    pub interface: Option<IfName>,
    /// `--ip`.
    pub ip: Option<Ipv4>,
    /// `--subnet`.
    pub subnet: Option<Netmask>,
    /// `--gateway`.
    pub gateway: Option<Ipv4>,
    /// `--dns` (empty: none).
    pub dns: Option<Vec<Ipv4>>,
    /// `--monitor` (empty: none).
    pub monitors: Option<Vec<Monitor>>,
    /// `--erspan` (empty: none).
    pub erspan: Option<Vec<IfName>>,
    /// `--backup-dir`.
    pub backup_dir: Option<DirPath>,
}

/// The conversation: questions through `prompter`, the summary on `out`. Returns the settings,
/// checked together, or `None` when the operator said no at the confirmation (or the input
/// ended there). A flag that does not fit, and input that ends early, are usage errors (exit 2).
pub fn converse(
    ctx: &Context,
    given: Given,
    yes: bool,
    prompter: &mut dyn Prompter,
    out: &mut dyn Write,
) -> Result<Option<Settings>> {
    // A config that exists but is broken would refuse the settings after all the questions: say
    // so before them.
    let config = match ctx.config() {
        Ok(config) => Some(config),
        Err(err @ Error::BadFile { .. }) => return Err(err),
        Err(_) => None,
    };
    let board = ctx.board().ok();
    let kernel = open_socket().and_then(|mut socket| Kernel::read(&mut socket)).ok();
    let regather = |interface: Option<&IfName>| Current::gather(&ctx.root, config, board, kernel.as_ref(), interface);
    let mut wizard =
        Wizard { prompter, out, quiet: yes, links: kernel.as_ref().map(|k| k.links.clone()), backup: board.map(|b| &b.backup) };
    let settings = wizard.converse(given, &regather)?;
    if !yes && !wizard.confirm(&settings)? {
        return Ok(None);
    }
    Ok(Some(settings))
}

/// The conversation's state.
struct Wizard<'a> {
    prompter: &'a mut dyn Prompter,
    out: &'a mut dyn Write,
    /// `--yes`: no questions; missing settings keep their current values.
    quiet: bool,
    /// The devices of the namespace, to refuse an interface that does not exist right away
    /// (`None` when the link dump failed; applying checks again anyway).
    links: Option<Vec<Link>>,
    /// The board's backup settings, to refuse a backup directory it does not allow right away
    /// (applying checks again anyway).
    backup: Option<&'a crate::board::BackupSettings>,
}

impl Wizard<'_> {
    fn complain(&mut self, message: &str) {
        self.prompter.complain(&format!("network reconfigure: {message}"));
    }

    fn exists(&self, what: &str, name: &IfName) -> Result<()> {
        match &self.links {
            Some(links) => check_exists(what, name, links),
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
        parse: &dyn Fn(&Wizard<'_>, &str) -> Result<T>,
    ) -> Result<T> {
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
        accept: &mut dyn FnMut(&Wizard<'_>, &str) -> Result<()>,
    ) -> Result<()> {
        if let Some(text) = given {
            return accept(self, &text).map_err(|e| Error::Usage(format!("--{flag}: {e}")));
        }
        if self.quiet {
            let Some(text) = current else {
                return Err(Error::Usage(format!("--{flag}: no current value to keep; give --{flag}")));
            };
            return accept(self, &text).map_err(|e| Error::Usage(format!("--{flag}: the current value does not fit: {e}")));
        }
        for _ in 0..MAX_ATTEMPTS {
            let prompt = match &current {
                Some(text) => format!("{question} [{text}]: "),
                None => format!("{question}: "),
            };
            let answer = match self.prompter.ask(&prompt, Echo::Shown)? {
                Reply::End => {
                    return Err(Error::Usage("end of input before every setting was answered: nothing changed".to_string()))
                }
                Reply::Interrupted => return Err(Error::Cancelled("nothing changed".to_string())),
                Reply::Invalid(why) => {
                    self.complain(&why);
                    continue;
                }
                Reply::Line(line) if line.trim().is_empty() => match &current {
                    Some(text) => text.clone(),
                    None => {
                        self.complain(&format!("{question}: an answer is needed (there is no current value)"));
                        continue;
                    }
                },
                Reply::Line(line) => line.trim().to_string(),
            };
            match accept(self, &answer) {
                Ok(()) => return Ok(()),
                Err(err) => self.complain(&err.to_string()),
            }
        }
        Err(Error::Usage(format!("{question}: no valid answer after {MAX_ATTEMPTS} tries: nothing changed")))
    }

    /// Every setting, in the wizard's order; each answer is checked against the ones before it.
    /// `defaults` gives the current values, for the management interface once it is chosen.
    fn converse(&mut self, given: Given, defaults: &dyn Fn(Option<&IfName>) -> Current) -> Result<Settings> {
        let current = defaults(None);
        let interface = self.ask(
            "Management interface",
            "interface",
            given.interface.as_ref().map(IfName::to_string),
            current.interface.as_ref().map(IfName::to_string),
            &|w, answer| {
                let name = IfName::parse(answer)?;
                w.exists("management interface", &name)?;
                Ok(name)
            },
        )?;
        let current = defaults(Some(&interface));
        let ip = self.ask("IPv4 address", "ip", given.ip.map(|v| v.to_string()), current.ip.map(|v| v.to_string()), &|_, answer| {
            let ip = Ipv4::parse(answer)?;
            check_host("ip", ip)?;
            Ok(ip)
        })?;
        let subnet =
            self.ask("Subnet mask", "subnet", given.subnet.map(|v| v.to_string()), current.subnet.map(|v| v.to_string()), &|_, answer| {
                let subnet = Netmask::parse(answer)?;
                check_subnet(ip, subnet)?;
                Ok(subnet)
            })?;
        let gateway = self.ask(
            "Default gateway",
            "gateway",
            given.gateway.map(|v| v.to_string()),
            current.gateway.map(|v| v.to_string()),
            &|_, answer| {
                let gateway = Ipv4::parse(answer)?;
                check_gateway(ip, subnet, gateway)?;
                Ok(gateway)
            },
        )?;
        let dns = self.ask(
            "DNS servers (comma-separated, or none)",
            "dns",
            given.dns.as_deref().map(list_text),
            current.dns.as_deref().map(list_text),
            &|_, answer| parse_dns(answer),
        )?;
        let monitors = self.ask(
            "Monitor interfaces (label=device, comma-separated, or none)",
            "monitor",
            given.monitors.as_deref().map(list_text),
            current.monitors.as_deref().map(list_text),
            &|w, answer| {
                let monitors = parse_monitors(answer)?;
                check_monitors(&interface, &monitors)?;
                for monitor in &monitors {
                    w.exists(&format!("monitor interface {}:", monitor.label), &monitor.device)?;
                }
                Ok(monitors)
            },
        )?;
        let erspan = self.ask(
            "ERSPAN interfaces (comma-separated, or none)",
            "erspan",
            given.erspan.as_deref().map(list_text),
            current.erspan.as_deref().map(list_text),
            &|w, answer| {
                let erspan = parse_interfaces(answer)?;
                check_erspan(&interface, &monitors, &erspan)?;
                for name in &erspan {
                    w.exists("ERSPAN interface", name)?;
                }
                Ok(erspan)
            },
        )?;
        let backup_dir = self.ask(
            "Backup directory",
            "backup-dir",
            given.backup_dir.map(|v| v.to_string()),
            current.backup_dir.as_ref().map(DirPath::to_string),
            &|w, answer| {
                let dir = DirPath::parse(answer)?;
                w.backup.map_or(Ok(()), |backup| backup.check_dir(dir.as_str())).map_err(usage)?;
                Ok(dir)
            },
        )?;
        let settings = Settings { interface, ip, subnet, gateway, dns, monitors, erspan, backup_dir };
        settings.check()?;
        Ok(settings)
    }

    /// The summary and `[Y/n]`; `Ok(false)` when the operator says no (or input ends).
    fn confirm(&mut self, settings: &Settings) -> Result<bool> {
        let mut summary = String::from("New network settings:\n");
        for line in settings.summary_lines() {
            summary.push_str(&line);
            summary.push('\n');
        }
        self.out
            .write_all(summary.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::io("write", "standard output", e))?;
        crate::prompt::confirm(self.prompter, "Apply these settings? [Y/n] ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scripted answers, each line in turn, then end of input; the questions go to `log`, as
    /// a terminal that does not echo shows them, each followed by a newline.
    struct Script {
        answers: std::collections::VecDeque<&'static str>,
        log: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
    }

    impl Prompter for Script {
        fn ask(&mut self, question: &str, _echo: Echo) -> Result<Reply> {
            self.log.borrow_mut().extend_from_slice(format!("{question}\n").as_bytes());
            Ok(match self.answers.pop_front() {
                Some(line) if line.contains('\x1b') => Reply::Invalid("control character".into()),
                Some(line) => Reply::Line(line.to_string()),
                None => Reply::End,
            })
        }
        fn complain(&mut self, _message: &str) {}
    }

    /// The summary's writer: the same log.
    struct Log(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

    impl Write for Log {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
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

    fn request() -> Given {
        Given::default()
    }

    /// Runs the conversation (and the confirmation unless `quiet`); the outcome and what was
    /// written.
    fn converse(request: Given, answers: &[&'static str], quiet: bool) -> (Result<(Settings, bool)>, String) {
        let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut script = Script { answers: answers.iter().copied().collect(), log: log.clone() };
        let mut out = Log(log.clone());
        let mut wizard =
            Wizard { prompter: &mut script, out: &mut out, quiet, links: Some(links(&["lo", "eth0", "eth1", "eth2", "gre1"])), backup: None };
        let result = wizard.converse(request, &current).and_then(|s| {
            let confirmed = quiet || wizard.confirm(&s)?;
            Ok((s, confirmed))
        });
        let text = String::from_utf8(log.borrow().clone()).unwrap();
        (result, text)
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
        let given = Given {
            interface: Some(IfName::parse("eth0").unwrap()),
            ip: Some(Ipv4::parse("10.0.0.9").unwrap()),
            subnet: Some(Netmask::parse("255.255.255.0").unwrap()),
            gateway: Some(Ipv4::parse("10.0.0.254").unwrap()),
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
        let given = Given { ip: Some(Ipv4::parse("10.0.0.9").unwrap()), ..request() };
        let (result, out) = converse(given, &[""; 8], false);
        assert!(result.is_ok());
        assert!(!out.contains("IPv4 address"), "{out}");
        // A gateway flag outside the subnet: exit 2, nothing asked after it.
        let given = Given { gateway: Some(Ipv4::parse("10.1.0.1").unwrap()), ..request() };
        let (result, out) = converse(given, &["", "", ""], false);
        let err = result.unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().starts_with("--gateway: default gateway 10.1.0.1 is outside the subnet"), "{err}");
        assert!(!out.contains("DNS"), "{out}");
        // --yes with an interface that does not exist.
        let given = Given { interface: Some(IfName::parse("eth9").unwrap()), ..request() };
        let err = converse(given, &[], true).0.unwrap_err();
        assert_eq!(err.to_string(), "--interface: management interface eth9: no such interface");
    }

}
