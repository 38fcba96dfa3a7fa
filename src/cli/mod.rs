//! The command surface: the table of commands (path words, old `cyberx-*` alias names, policy
//! row, argh parser) and the multi-call dispatch from argv to a typed [`Action`].
//!
//! The basename of argv[0] selects the command when it is an alias (`cyberx-xsense-version`);
//! otherwise argv[1…] is the command path (`system version`), longest match first. Leading
//! global options (`--root`, `--board`, `--role`, `-v`) are accepted in both forms.
//!
//! Pure until [`main`] establishes the context and runs the action; needs no privileges itself.
#![forbid(unsafe_code)]

pub mod argparse;
pub mod backup;
pub mod cert;
pub mod daemon;
pub mod help;
pub mod install;
pub mod network;
pub mod ntp;
pub mod shell;
pub mod system;
pub mod upgrade;
pub mod users;

use crate::action::exec::{NoStateLock, Place};
use crate::action::{self, Action, ActionKind};
use crate::cancel::Cancel;
use crate::context::Context;
use crate::error::{exit, Error};
use crate::outcome::Status;
use crate::paths::RootDir;
use crate::prompt::Terminal;
use crate::role::Role;
use crate::validate::console_line;
use std::ffi::OsString;
use std::io::Write;

/// Parses a command's arguments; `name` is the command as invoked (for usage lines).
pub type Parser = fn(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit>;

/// One command of the surface.
pub struct Command {
    /// The words that name it (`["system", "version"]`).
    pub path: &'static [&'static str],
    /// Multi-call names (symlinks to the binary) that run it.
    pub aliases: &'static [&'static str],
    /// Its policy row.
    pub kind: ActionKind,
    /// One line for `help`.
    pub summary: &'static str,
    /// argh parser into an [`Action`].
    pub parse: Parser,
}

/// Every command that has landed. Aliases of DESIGN.md are added with their commands.
pub static COMMANDS: &[Command] = &[
    Command {
        path: &["system", "version"],
        aliases: &["cyberx-xsense-version"],
        kind: ActionKind::Version,
        summary: "show the installed software version",
        parse: system::parse_version,
    },
    Command {
        path: &["system", "date"],
        aliases: &[],
        kind: ActionKind::Date,
        summary: "show the current date and time (UTC)",
        parse: system::parse_date,
    },
    Command {
        path: &["system", "sanity"],
        aliases: &["cyberx-xsense-sanity"],
        kind: ActionKind::Sanity,
        summary: "check that every appliance service is running",
        parse: system::parse_sanity,
    },
    Command {
        path: &["system", "reboot"],
        aliases: &[],
        kind: ActionKind::Reboot,
        summary: "restart the appliance now",
        parse: system::parse_reboot,
    },
    Command {
        path: &["system", "shutdown"],
        aliases: &[],
        kind: ActionKind::Shutdown,
        summary: "power off the appliance now",
        parse: system::parse_shutdown,
    },
    Command {
        path: &["system", "password"],
        aliases: &["cyberx-users-password-reset"],
        kind: ActionKind::PasswordReset,
        summary: "reset an appliance user's password (OS and web login)",
        parse: users::parse_password,
    },
    Command {
        path: &["system", "login-protection"],
        aliases: &[],
        kind: ActionKind::LoginProtection,
        summary: "show or set the failed-login protection",
        parse: users::parse_login_protection,
    },
    Command {
        path: &["passwd"],
        aliases: &[],
        kind: ActionKind::OwnPassword,
        summary: "change your own password",
        parse: users::parse_passwd,
    },
    Command {
        path: &["auth"],
        aliases: &[],
        kind: ActionKind::Auth,
        summary: "check a login for PAM (pam_exec expose_authtok)",
        parse: users::parse_auth,
    },
    Command {
        path: &["system", "backup"],
        aliases: &["cyberx-xsense-system-backup"],
        kind: ActionKind::BackupCreate,
        summary: "back up configuration, keys, baselines and logs now",
        parse: backup::parse_create,
    },
    Command {
        path: &["system", "backup", "create"],
        aliases: &[],
        kind: ActionKind::BackupCreate,
        summary: "back up configuration, keys, baselines and logs now",
        parse: backup::parse_create,
    },
    Command {
        path: &["system", "backup-list"],
        aliases: &["cyberx-xsense-system-backup-list"],
        kind: ActionKind::BackupList,
        summary: "list the backup files, newest first",
        parse: backup::parse_list,
    },
    Command {
        path: &["system", "backup", "list"],
        aliases: &[],
        kind: ActionKind::BackupList,
        summary: "list the backup files, newest first",
        parse: backup::parse_list,
    },
    Command {
        path: &["system", "backup", "space"],
        aliases: &["cyberx-backup-memory-check"],
        kind: ActionKind::BackupSpace,
        summary: "show backup disk usage, limit, last backup and free space",
        parse: backup::parse_space,
    },
    Command {
        path: &["system", "backup", "export"],
        aliases: &[],
        kind: ActionKind::BackupExport,
        summary: "write a backup file to standard output in base64 (for fleet tools)",
        parse: backup::parse_export,
    },
    Command {
        path: &["system", "restore"],
        aliases: &["cyberx-xsense-system-restore"],
        kind: ActionKind::BackupRestore,
        summary: "restore the data from a backup (the newest unless -f NAME)",
        parse: backup::parse_restore,
    },
    Command {
        path: &["system", "upgrade"],
        aliases: &[],
        kind: ActionKind::Upgrade,
        summary: "install a signed software package (A/B slots); --commit, --rollback, --status",
        parse: upgrade::parse_upgrade,
    },
    Command {
        path: &["package", "keygen"],
        aliases: &[],
        kind: ActionKind::PackageTools,
        summary: "create an Ed25519 key pair for signing upgrade packages",
        parse: upgrade::parse_keygen,
    },
    Command {
        path: &["package", "build"],
        aliases: &[],
        kind: ActionKind::PackageTools,
        summary: "build and sign an upgrade package from a directory",
        parse: upgrade::parse_build,
    },
    Command {
        path: &["date"],
        aliases: &[],
        kind: ActionKind::Date,
        summary: "show the current date and time (UTC)",
        parse: system::parse_date,
    },
    Command {
        path: &["network", "blink"],
        aliases: &[],
        kind: ActionKind::NetworkBlink,
        summary: "blink a port's LEDs to find it (20 s)",
        parse: network::parse_blink,
    },
    Command {
        path: &["network", "internet-check"],
        aliases: &["cyberx-xsense-internet-connectivity"],
        kind: ActionKind::InternetCheck,
        summary: "check that the appliance can reach the internet",
        parse: network::parse_internet_check,
    },
    Command {
        path: &["ping"],
        aliases: &[],
        kind: ActionKind::Ping,
        summary: "send ICMP echo requests to an IPv4 host",
        parse: network::parse_ping,
    },
    Command {
        path: &["network", "list"],
        aliases: &[],
        kind: ActionKind::NetworkList,
        summary: "list network interfaces (ifconfig format; -a all, --json)",
        parse: network::parse_list,
    },
    Command {
        path: &["ntp", "enable"],
        aliases: &["cyberx-xsense-ntp-enable"],
        kind: ActionKind::NtpEnable,
        summary: "sync the clock with an NTP server and keep it",
        parse: ntp::parse_enable,
    },
    Command {
        path: &["system", "ntp", "enable"],
        aliases: &[],
        kind: ActionKind::NtpEnable,
        summary: "sync the clock with an NTP server and keep it",
        parse: ntp::parse_enable,
    },
    Command {
        path: &["ntp", "disable"],
        aliases: &["cyberx-xsense-ntp-disable"],
        kind: ActionKind::NtpDisable,
        summary: "stop using an NTP server",
        parse: ntp::parse_disable,
    },
    Command {
        path: &["system", "ntp", "disable"],
        aliases: &[],
        kind: ActionKind::NtpDisable,
        summary: "stop using an NTP server",
        parse: ntp::parse_disable,
    },
    Command {
        path: &["ntp", "status"],
        aliases: &[],
        kind: ActionKind::NtpStatus,
        summary: "show NTP servers and the last sync",
        parse: ntp::parse_status,
    },
    Command {
        path: &["system", "ntp", "status"],
        aliases: &[],
        kind: ActionKind::NtpStatus,
        summary: "show NTP servers and the last sync",
        parse: ntp::parse_status,
    },
    Command {
        path: &["ntp", "query"],
        aliases: &[],
        kind: ActionKind::NtpStatus,
        summary: "ask an NTP server for the time (changes nothing)",
        parse: ntp::parse_query,
    },
    Command {
        path: &["system", "ntp", "query"],
        aliases: &[],
        kind: ActionKind::NtpStatus,
        summary: "ask an NTP server for the time (changes nothing)",
        parse: ntp::parse_query,
    },
    Command {
        path: &["network", "validate"],
        aliases: &[],
        kind: ActionKind::NetworkValidate,
        summary: "check the management network settings against the system",
        parse: network::parse_validate,
    },
    Command {
        path: &["network", "reconfigure"],
        aliases: &[],
        kind: ActionKind::NetworkReconfigure,
        summary: "setup wizard: management network, monitor/ERSPAN interfaces, backups",
        parse: network::parse_reconfigure,
    },
    Command {
        path: &["network", "load"],
        aliases: &["cyberx-nload"],
        kind: ActionKind::NetworkLoad,
        summary: "show each interface's receive and send rate (6 one-second samples)",
        parse: network::parse_load,
    },
    Command {
        path: &["network", "limit"],
        aliases: &["cyberx-xsense-limit-interface"],
        kind: ActionKind::NetworkLimit,
        summary: "set or clear an interface's outbound bandwidth limit",
        parse: network::parse_limit,
    },
    Command {
        path: &["network", "limit-list"],
        aliases: &[],
        kind: ActionKind::NetworkLimitList,
        summary: "show the stored outbound bandwidth limits",
        parse: network::parse_limit_list,
    },
    Command {
        path: &["cert", "import"],
        aliases: &["cyberx-xsense-certificate-import"],
        kind: ActionKind::CertImport,
        summary: "check and install a TLS certificate and its key, and make them active",
        parse: cert::parse_import,
    },
    Command {
        path: &["cert", "self-signed"],
        aliases: &["cyberx-xsense-create-self-signed-certificate"],
        kind: ActionKind::CertSelfSigned,
        summary: "create a self-signed certificate (ECDSA P-256) and make it active",
        parse: cert::parse_self_signed,
    },
    Command {
        path: &["cert", "show"],
        aliases: &[],
        kind: ActionKind::CertShow,
        summary: "show the active TLS certificate",
        parse: cert::parse_show,
    },
    Command {
        path: &["shell"],
        aliases: &[],
        kind: ActionKind::Shell,
        summary: "the restricted login shell",
        parse: shell::parse,
    },
    Command {
        path: &["daemon"],
        aliases: &["sensord"],
        kind: ActionKind::Daemon,
        summary: "serve non-root callers on the daemon socket (root only)",
        parse: daemon::parse,
    },
    Command {
        path: &["network", "capture-filter"],
        aliases: &[network::CAPTURE_FILTER_ALIAS],
        kind: ActionKind::CaptureFilter,
        summary: "set which mirrored traffic the analysis components see (--show, --test PORT)",
        parse: network::parse_capture_filter,
    },
    Command {
        path: &["install"],
        aliases: &[],
        kind: ActionKind::Install,
        summary: "create the alias symlinks in a directory",
        parse: install::parse,
    },
];

/// The result of looking words up in the command table.
#[derive(Debug, PartialEq)]
pub enum Lookup<'a> {
    /// A command, and how many words its path took.
    Found(&'static Command, usize),
    /// The words name a category (`system`) and no command.
    Category(&'a str),
    /// No command starts like this.
    Unknown,
}

impl PartialEq for Command {
    fn eq(&self, other: &Command) -> bool {
        self.path == other.path
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Command({})", self.path.join(" "))
    }
}

/// The command whose path is the longest prefix of `words`.
pub fn lookup<'a>(words: &[&'a str]) -> Lookup<'a> {
    let best = COMMANDS
        .iter()
        .filter(|cmd| words.len() >= cmd.path.len() && words[..cmd.path.len()] == *cmd.path)
        .max_by_key(|cmd| cmd.path.len());
    match (best, words.first()) {
        (Some(cmd), _) => Lookup::Found(cmd, cmd.path.len()),
        (None, Some(first)) if categories().any(|c| c == *first) => Lookup::Category(first),
        _ => Lookup::Unknown,
    }
}

/// The command an alias name runs.
pub fn by_alias(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|cmd| cmd.aliases.contains(&name))
}

/// Category names (the first word of multi-word paths), in table order, without repeats.
pub fn categories() -> impl Iterator<Item = &'static str> {
    COMMANDS
        .iter()
        .enumerate()
        .filter(|(_, cmd)| cmd.path.len() > 1)
        .filter(|(at, cmd)| {
            !COMMANDS[..*at].iter().any(|before| before.path.len() > 1 && before.path[0] == cmd.path[0])
        })
        .map(|(_, cmd)| cmd.path[0])
}

/// Every name `--list` prints: command paths, then alias names.
pub fn all_names() -> Vec<String> {
    let mut names: Vec<String> = COMMANDS.iter().map(|cmd| cmd.path.join(" ")).collect();
    names.extend(COMMANDS.iter().flat_map(|cmd| cmd.aliases.iter().map(|a| a.to_string())));
    names
}

/// Leading global options.
#[derive(Debug, Default, PartialEq)]
pub struct Globals {
    /// `--root DIR` (else `SENSORCTL_ROOT`, else `/`).
    pub root: Option<String>,
    /// `--board NAME|PATH`.
    pub board: Option<String>,
    /// `--role R`: lower the caller's role (root only).
    pub role: Option<Role>,
    /// `-v` count.
    pub verbosity: u8,
    /// `--list`.
    pub list: bool,
    /// `--help` before any command.
    pub help: bool,
}

/// Takes the global options off the front of `args`; returns them and the rest.
/// With `multi_call_name` false (an alias), `--help` and `--list` belong to the command.
pub fn parse_globals<'a>(args: &'a [&'a str], multi_call_name: bool) -> Result<(Globals, &'a [&'a str]), Error> {
    let mut globals = Globals::default();
    let mut at = 0;
    while let Some(&arg) = args.get(at) {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
            _ => (arg, None),
        };
        let mut value = |name: &str| -> Result<String, Error> {
            if let Some(v) = inline {
                return Ok(v.to_string());
            }
            at += 1;
            args.get(at).map(|v| v.to_string()).ok_or_else(|| Error::Usage(format!("{name} needs a value")))
        };
        // A second `--root`, `--board` or `--role` is refused rather than letting the last one
        // win: a line such as `cyberx-xsense-system-backup --root /srv/x … --root=/` must not
        // quietly act on another tree than the one its author saw first.
        let once = |set: bool, name: &str| -> Result<(), Error> {
            if set {
                return Err(Error::Usage(format!("{name} given twice")));
            }
            Ok(())
        };
        match flag {
            "--root" => {
                once(globals.root.is_some(), "--root")?;
                globals.root = Some(value("--root")?);
            }
            "--board" => {
                once(globals.board.is_some(), "--board")?;
                globals.board = Some(value("--board")?);
            }
            "--role" => {
                once(globals.role.is_some(), "--role")?;
                globals.role = Some(value("--role")?.parse()?);
            }
            "-v" | "--verbose" => globals.verbosity += 1,
            "-vv" => globals.verbosity += 2,
            "-vvv" => globals.verbosity += 3,
            "--list" if multi_call_name => globals.list = true,
            "--help" | "-h" if multi_call_name => globals.help = true,
            _ if multi_call_name && arg.starts_with('-') && arg.len() > 1 => {
                return Err(Error::Usage(format!(
                    "unknown option '{}' (see sensorctl --help)",
                    crate::validate::printable(arg)
                )))
            }
            _ => break,
        }
        at += 1;
    }
    Ok((globals, &args[at..]))
}

/// Why parsing a command line produced no action.
pub enum NoAction {
    /// argh printed help (exit 0) or a usage error (exit 2).
    Early(argh::EarlyExit),
    /// Any other error.
    Error(Error),
}

/// Runs argh for `cmd`, invoked as `name` with `args`, after [`normalized`].
pub fn parse_command(cmd: &Command, name: &[&str], args: &[&str]) -> Result<Action, NoAction> {
    let args = normalized(cmd, name, args);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (cmd.parse)(name, &args).map_err(NoAction::Early)
}

/// One option syntax for every command, normalised once before argh sees it: `--opt=value` is
/// `--opt value` (argh has no `=`), and `-h` is `--help` where it is not the value of an
/// option. `--` ends the options; what follows is left alone. `network limit` keeps the
/// reference's argparse interface, which has both already.
pub fn normalized(cmd: &Command, name: &[&str], args: &[&str]) -> Vec<String> {
    if cmd.kind == ActionKind::NetworkLimit {
        return args.iter().map(|a| a.to_string()).collect();
    }
    let takes_value = value_options(cmd, name);
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut value_next = false;
    let mut options_ended = false;
    for &arg in args {
        if options_ended || value_next {
            out.push(arg.to_string());
            value_next = false;
            continue;
        }
        match arg {
            "--" => {
                options_ended = true;
                out.push(arg.to_string());
            }
            "-h" => out.push("--help".to_string()),
            _ if arg.starts_with("--") && arg.contains('=') => {
                let (flag, value) = arg.split_once('=').unwrap_or((arg, ""));
                out.push(flag.to_string());
                out.push(value.to_string());
            }
            _ => {
                value_next = takes_value.iter().any(|option| option == arg);
                out.push(arg.to_string());
            }
        }
    }
    out
}

/// The options of `cmd` that take a value, read off its usage line (`[--seconds <seconds>]`).
fn value_options(cmd: &Command, name: &[&str]) -> Vec<String> {
    let Err(early) = (cmd.parse)(name, &["--help"]) else {
        return Vec::new();
    };
    let usage = early.output.lines().next().unwrap_or_default().to_string();
    let words: Vec<&str> = usage.split_whitespace().collect();
    words
        .windows(2)
        .filter(|pair| pair[1].starts_with('<'))
        .filter_map(|pair| pair[0].trim_start_matches('[').split('|').find(|w| w.starts_with('-')).map(str::to_string))
        .collect()
}

/// Whether the arguments ask for JSON (`--json` before any `--`): then a failure is also a
/// JSON object on standard output.
fn wants_json(args: &[&str]) -> bool {
    args.iter().take_while(|a| **a != "--").any(|a| *a == "--json")
}

/// Every command (no role filter: the command line lists what exists; the policy says who).
fn everything(_: &Command) -> bool {
    true
}

/// `sensorctl help [WORDS]`: the top level, a category's commands, or a command's own help.
fn help(words: &[&str]) -> u8 {
    let lines = if words.is_empty() {
        usage_text().lines().map(str::to_string).collect()
    } else {
        match help_for(words, &everything) {
            Ok(lines) => lines,
            Err(err) => return report("help", &err),
        }
    };
    let mut out = std::io::stdout().lock();
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    exit::OK
}

/// The help for `words` (not empty) among the commands `visible` lets through, as both the
/// command line (`sensorctl help WORDS`, `WORDS --help`) and the restricted shell print it: a
/// command's own help with the commands below it, a category's listing, or a usage error that
/// names the nearest word.
pub fn help_for(words: &[&str], visible: &dyn Fn(&Command) -> bool) -> Result<Vec<String>, Error> {
    let opens = |depth: usize| COMMANDS.iter().any(|c| visible(c) && c.path.len() > depth && c.path[..depth] == words[..depth]);
    match lookup(words) {
        Lookup::Found(cmd, used) if used == words.len() && visible(cmd) => {
            let mut name = vec!["sensorctl"];
            name.extend_from_slice(cmd.path);
            let text = match (cmd.parse)(&name, &["--help"]) {
                Err(early) => command_help(cmd, &early.output, visible),
                Ok(_) => String::new(),
            };
            Ok(text.lines().map(str::to_string).collect())
        }
        Lookup::Category(_) | Lookup::Found(..) if opens(words.len()) => {
            Ok(help::listing(&format!("{} commands:", words.join(" ")), &help::next_words(words, visible)))
        }
        _ => {
            let known = (1..words.len()).rev().find(|&n| opens(n)).unwrap_or(0);
            let candidates: Vec<&str> = help::next_words(&words[..known], visible).iter().map(|(w, _)| *w).collect();
            Err(Error::Usage(help::unknown(words[known], &candidates)))
        }
    }
}

/// How many of `words` name a category: the longest run that begins longer command paths
/// (`system`, or `system ntp`); at least 1.
pub fn category_depth(words: &[&str]) -> usize {
    (1..=words.len())
        .rev()
        .find(|&n| COMMANDS.iter().any(|c| c.path.len() > n && c.path[..n] == words[..n]))
        .unwrap_or(1)
}

/// A command's argh help, and the commands under it (among those `visible` lets through) when
/// its path is also a category's (`system backup` is a command, and `system backup
/// create|list|space` are more).
pub fn command_help(cmd: &Command, argh_help: &str, visible: &dyn Fn(&Command) -> bool) -> String {
    let mut text = argh_help.trim_end().to_string();
    let below = help::next_words(cmd.path, visible);
    if !below.is_empty() {
        text.push_str("\n\n");
        text.push_str(&help::listing("Commands:", &below).join("\n"));
    }
    text
}

/// Entry point of the binary: dispatch, parse, establish the caller, run; returns the exit code.
/// Process-wide hardening, before any thread exists: the static PIE's RELRO becomes read-only
/// (musl's start code leaves it writable), and the process is not dumpable. Every command, not
/// only the daemon and the ones that read a password: any of them may hold a secret (a
/// password, a key, the backup key) and an appliance never wants a core of this binary. A
/// failure is a warning: a recovery console must keep working.
fn harden_process() {
    if let Err(err) = crate::sys::hardening::protect_relro() {
        log::warn!("could not make the relocation data read-only: {err}");
    }
    if let Err(err) = crate::sys::hardening::set_not_dumpable() {
        log::warn!("could not make the process non-dumpable: {err}");
    }
}

pub fn main(argv: Vec<OsString>) -> u8 {
    // Nothing to do without it but trap silently, as the binary does anyway.
    let _ = crate::sys::signal::report_traps();
    let mut texts = Vec::with_capacity(argv.len());
    for (at, arg) in argv.iter().enumerate() {
        match arg.to_str() {
            Some(text) => texts.push(text),
            None => {
                report("", &Error::Usage(format!("argument {at} is not valid UTF-8")));
                return exit::USAGE;
            }
        }
    }
    let invoked = texts.first().copied().unwrap_or("sensorctl");
    // An alias name runs its command; any other name behaves as `sensorctl` (busybox's rule
    // for its own name): a copy called `sensorctl-2.1` or `s` works.
    let basename = invoked.rsplit('/').next().unwrap_or(invoked);
    let mut alias = by_alias(basename).map(|cmd| (cmd, basename));
    let rest = texts.get(1..).unwrap_or(&[]);
    let (globals, mut rest) = match parse_globals(rest, alias.is_none()) {
        Ok(parsed) => parsed,
        Err(err) => return report("", &err),
    };
    init_logging(globals.verbosity);
    harden_process();
    // `sensorctl ALIAS ARGS` runs the alias, as `ALIAS ARGS` would.
    if alias.is_none() {
        if let Some((cmd, word)) = rest.first().and_then(|word| by_alias(word).map(|cmd| (cmd, *word))) {
            alias = Some((cmd, word));
            rest = &rest[1..];
        }
    }

    let (cmd, name, args): (&Command, Vec<&str>, &[&str]) = match alias {
        Some((cmd, word)) => (cmd, vec![word], rest),
        None => {
            if globals.list {
                let mut out = std::io::stdout().lock();
                for name in all_names() {
                    if writeln!(out, "{name}").is_err() {
                        break;
                    }
                }
                return exit::OK;
            }
            if rest.first() == Some(&"help") {
                return help(&rest[1..]);
            }
            if globals.help || rest.is_empty() {
                let usage = usage_text();
                return if globals.help {
                    let _ = std::io::stdout().write_all(usage.as_bytes());
                    exit::OK
                } else {
                    let _ = std::io::stderr().write_all(usage.as_bytes());
                    exit::USAGE
                };
            }
            match lookup(rest) {
                Lookup::Found(cmd, used) => {
                    let mut name = vec!["sensorctl"];
                    name.extend_from_slice(cmd.path);
                    (cmd, name, &rest[used..])
                }
                Lookup::Category(_) => {
                    // The longest run of words that begins longer command paths names the
                    // category (`system`, or `system ntp`); its next words are the commands.
                    let depth = category_depth(rest);
                    let words = help::next_words(&rest[..depth], &everything);
                    let category = rest[..depth].join(" ");
                    return match rest.get(depth) {
                        Some(&("--help" | "-h" | "help")) => {
                            let mut out = std::io::stdout().lock();
                            for line in help::listing(&format!("{category} commands:"), &words) {
                                let _ = writeln!(out, "{line}");
                            }
                            exit::OK
                        }
                        Some(word) => {
                            let candidates: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
                            report(&category, &Error::Usage(help::unknown(word, &candidates)))
                        }
                        None => {
                            let names: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
                            report(&category, &Error::Usage(format!("missing command; one of: {}", names.join(", "))))
                        }
                    };
                }
                Lookup::Unknown => {
                    let candidates: Vec<&str> = help::next_words(&[], &everything).iter().map(|(w, _)| *w).collect();
                    return report("", &Error::Usage(help::unknown(rest[0], &candidates)));
                }
            }
        }
    };
    let command_name = name.iter().skip(usize::from(alias.is_none())).copied().collect::<Vec<_>>().join(" ");
    let json = wants_json(args);
    let action = match parse_command(cmd, &name, args) {
        Ok(action) => action,
        Err(NoAction::Early(early)) if early.status.is_ok() => {
            let _ = writeln!(std::io::stdout(), "{}", command_help(cmd, &early.output, &everything));
            return exit::OK;
        }
        Err(NoAction::Early(early)) => {
            let code = print_early_exit(&command_name, &early);
            if json {
                json_error(code, &one_line(&early.output));
            }
            return code;
        }
        Err(NoAction::Error(err)) => return report_json(&command_name, &err, json),
    };
    let root = globals.root.clone().or_else(|| std::env::var("SENSORCTL_ROOT").ok()).unwrap_or_else(|| "/".to_string());
    if !std::path::Path::new(&root).is_dir() {
        let why = if std::path::Path::new(&root).exists() { "not a directory" } else { "no such directory" };
        return report_json(&command_name, &Error::Usage(format!("--root {root}: {why}")), json);
    }
    // Every write under the root walks down from it without following a link.
    crate::paths::trust_root(&RootDir::new(&root));
    let is_root = crate::sys::ids::real_uid() == 0;
    let kind = action.kind();
    if !is_root && kind != ActionKind::Shell && (globals.role.is_some() || globals.board.is_some()) {
        return report_json(&command_name, &Error::Usage("--role and --board are for root only".to_string()), json);
    }
    match run(action, RootDir::new(root), globals, is_root) {
        Ok(Status::Ok) => exit::OK,
        Ok(Status::Problem) => exit::PROBLEM,
        Err(err) => report_json(&command_name, &err, json),
    }
}

/// [`report`], and with `json` the same failure as `{"error":{"code":N,"message":"…"}}` on
/// standard output, for scripts and fleet tools that read only that.
fn report_json(command: &str, err: &Error, json: bool) -> u8 {
    let code = report(command, err);
    if json && code != exit::OK {
        json_error(code, &err.to_string());
    }
    code
}

fn json_error(code: u8, message: &str) {
    #[derive(nanoserde::SerJson)]
    struct Failure {
        code: u8,
        message: String,
    }
    #[derive(nanoserde::SerJson)]
    struct Wrapper {
        error: Failure,
    }
    let text = nanoserde::SerJson::serialize_json(&Wrapper { error: Failure { code, message: message.to_string() } });
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// Runs a parsed action where it belongs: the login shell and the daemon are front ends of
/// their own; any other action runs here for root, and in the daemon for everyone else.
fn run(action: Action, root: RootDir, globals: Globals, is_root: bool) -> Result<Status, Error> {
    let kind = action.kind();
    let idle = std::time::Duration::from_secs(crate::config::DEFAULT_SHELL_IDLE_TIMEOUT_S);
    match kind {
        // The daemon handles SIGINT and SIGTERM itself, through its own signal pipe.
        ActionKind::Daemon => {}
        // Ctrl-C in the shell cancels a command or a line, never the session; after Ctrl-Z
        // and `fg` its line editor redraws.
        ActionKind::Shell => {
            catch_interrupts(&[crate::sys::signal::number::INT], false)?;
            crate::sys::signal::catch_continue().map_err(|source| Error::Sys { call: "sigaction(SIGCONT)", source })?;
        }
        // Ctrl-C cancels the command, which cleans up and says so; a second one kills it.
        _ => catch_interrupts(&[crate::sys::signal::number::INT, crate::sys::signal::number::TERM], true)?,
    }
    let cancel = Cancel::following_interrupts();
    let mut stdout = std::io::stdout().lock();
    if !is_root && kind != ActionKind::Shell {
        if !kind.served() {
            // Root's own commands (the daemon, install, the PAM check, the package tools).
            return Err(Error::Denied { role: "of a user who is not root".to_string() });
        }
        // Not root: the daemon establishes who we are and runs the action; the board and the
        // role are its to decide.
        let mut terminal = Terminal::stdin(idle)?;
        return crate::daemon::call(&root, &action, &mut terminal, &cancel, &mut stdout);
    }
    let ctx = Context::establish(root, globals.board, globals.role)?.with_cancel(cancel);
    match &action {
        Action::Shell { idle_timeout_s } => {
            front_end_allowed(&action, &ctx)?;
            crate::shell::run(&ctx, idle_timeout_s.map(|s| s.get()), &mut stdout)
        }
        Action::Daemon {} => {
            front_end_allowed(&action, &ctx)?;
            crate::daemon::run(&ctx, &mut stdout)
        }
        Action::Install { dir } => {
            front_end_allowed(&action, &ctx)?;
            let aliases = COMMANDS.iter().flat_map(|cmd| cmd.aliases.iter().copied());
            crate::install::run(dir.as_path(), aliases, &mut stdout)
        }
        _ => {
            let idle = ctx.config().map_or(idle, crate::config::Config::shell_idle_timeout);
            let mut terminal = Terminal::stdin(idle)?;
            action::exec::run(&action, Place { ctx: &ctx, prompter: &mut terminal, lock: &NoStateLock }, &mut stdout)
        }
    }
}

/// The policy check of a front end (the shell, the daemon), audited as the executor's is.
fn front_end_allowed(action: &Action, ctx: &Context) -> Result<(), Error> {
    action::authorize(ctx.caller.role, action.kind()).inspect_err(|_| {
        crate::audit::record(ctx, action.kind().audit_name(), &action.audit_target(), "denied");
    })
}

fn catch_interrupts(signals: &[i32], second_kills: bool) -> Result<(), Error> {
    crate::sys::signal::catch_interrupts(signals, second_kills)
        .map_err(|source| Error::Sys { call: "sigaction(SIGINT)", source })
}

/// Prints argh's help (stdout, exit 0) or usage error (stderr, exit 2).
pub fn print_early_exit(command: &str, early: &argh::EarlyExit) -> u8 {
    match early.status {
        Ok(()) => {
            let _ = writeln!(std::io::stdout(), "{}", early.output.trim_end());
            exit::OK
        }
        // Commands that keep the reference CLI's Python argparse interface (`network limit`,
        // the capture filter) print argparse's usage (wrapped as argparse wraps it) and
        // `PROG: error: …`, as they are.
        Err(()) if early.output.starts_with("usage: ") => {
            let text = early.output.trim_end();
            let (usage, error) = match text.rfind(": error: ").and_then(|at| text[..at].rfind('\n')) {
                Some(at) => (&text[..at], &text[at + 1..]),
                None => text.split_once('\n').unwrap_or((text, "")),
            };
            let usage: Vec<String> = usage.lines().map(console_line).collect();
            let _ = writeln!(std::io::stderr(), "{}\n{}", usage.join("\n"), console_line(&one_line(error)));
            exit::USAGE
        }
        Err(()) => {
            // argh quotes the offending argument as it was: escape it for the console.
            let _ = writeln!(
                std::io::stderr(),
                "{}",
                console_line(&format!("sensorctl: {command}: {}", one_line(&early.output)))
            );
            exit::USAGE
        }
    }
}

/// argh's usage errors can span lines ("…not provided:\n    dir"); the console gets one line.
pub fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Prints `sensorctl: <command>: <error>` (`sensorctl: <error>` for an empty command) once and
/// returns the error's exit code. A closed
/// stdout (EPIPE: the reader went away, as with `| head`) is not an error.
pub fn report(command: &str, err: &Error) -> u8 {
    if let Error::Io { source, .. } = err {
        if source.kind() == std::io::ErrorKind::BrokenPipe {
            return exit::OK;
        }
    }
    // Errors quote what they were given (paths, values): one line, no terminal escapes.
    let line = match command {
        "" => format!("sensorctl: {err}"),
        _ => format!("sensorctl: {command}: {err}"),
    };
    let _ = writeln!(std::io::stderr(), "{}", console_line(&line));
    err.exit_code()
}

fn init_logging(verbosity: u8) {
    let level = match verbosity {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        2 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    // Failing to install a logger only loses diagnostics; the command itself still runs.
    let _ = simple_logger::SimpleLogger::new().with_level(level).init();
}

fn usage_text() -> String {
    let mut text = String::from(
        "Usage: sensorctl [--root DIR] [--board NAME|PATH] [--role ROLE] [-v] <command> [args]\n\
         \x20      sensorctl --list\n\
         \x20      <alias> [args]   (e.g. cyberx-xsense-version, through a symlink)\n\nCommands:\n",
    );
    for cmd in COMMANDS {
        text.push_str(&format!("  {:<24} {}\n", cmd.path.join(" "), cmd.summary));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_takes_the_longest_path_and_knows_categories() {
        match lookup(&["system", "version", "--json"]) {
            Lookup::Found(cmd, used) => {
                assert_eq!((cmd.path, used), (&["system", "version"][..], 2))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(lookup(&["system"]), Lookup::Category("system"));
        assert_eq!(lookup(&["system", "bogus"]), Lookup::Category("system"));
        assert_eq!(lookup(&["bogus"]), Lookup::Unknown);
        assert_eq!(lookup(&[]), Lookup::Unknown);
    }

    #[test]
    fn every_alias_and_path_is_unique() {
        let names = all_names();
        for (at, name) in names.iter().enumerate() {
            assert!(!names[at + 1..].contains(name), "{name} twice");
        }
        assert_eq!(by_alias("cyberx-xsense-version").map(|c| c.path), Some(&["system", "version"][..]));
    }

    #[test]
    fn globals_are_taken_only_from_the_front() {
        let args = ["--root", "/tmp/r", "--role=support", "-v", "system", "version", "--root", "x"];
        let (globals, rest) = parse_globals(&args, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(globals.root.as_deref(), Some("/tmp/r"));
        assert_eq!(globals.role, Some(Role::Support));
        assert_eq!(globals.verbosity, 1);
        assert_eq!(rest, &["system", "version", "--root", "x"]);
        assert!(parse_globals(&["--root"], true).is_err());
        assert!(parse_globals(&["--bogus"], true).is_err());
        assert!(parse_globals(&["--role", "king"], true).is_err());
        // Twice is refused, in either form, for a command path and for an alias.
        for multi_call_name in [true, false] {
            assert!(parse_globals(&["--root", "/tmp/r", "--root=/", "system", "backup"], multi_call_name).is_err());
            assert!(parse_globals(&["--board=a", "--board", "b"], multi_call_name).is_err());
            assert!(parse_globals(&["--role", "support", "--role", "cyberx"], multi_call_name).is_err());
        }
        let (globals, rest) = parse_globals(&["--help"], false).unwrap_or_else(|e| panic!("{e}"));
        assert!(!globals.help);
        assert_eq!(rest, &["--help"]);
    }
}
