//! The typed `Action`, the one policy table (role × action) and the executor.
//!
//! argv or a shell line (and, with the daemon, a socket request) becomes an [`Action`] in pure
//! code; [`run`] then reads check → authorize → act: the policy is consulted before anything
//! happens, and a denied action does nothing at all. `Action` derives nanoserde so that it can be
//! the daemon's wire format: the CLI path and the daemon path execute the same value.
//!
//! Privileges: whatever the executed action needs; the policy check itself needs none.
#![forbid(unsafe_code)]

use crate::context::Context;
use crate::error::{Error, Result};
use crate::role::Role;
use nanoserde::{DeJson, SerJson};
use std::io::Write;

/// Every action of DESIGN.md's command table, including those whose commands have not landed
/// yet: the policy covers the whole surface so that a new command cannot forget its row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionKind {
    /// `system sanity`.
    Sanity,
    /// `system reboot`.
    Reboot,
    /// `system shutdown`.
    Shutdown,
    /// `system version`.
    Version,
    /// `date`, `system date`.
    Date,
    /// `ntp enable`.
    NtpEnable,
    /// `ntp disable`.
    NtpDisable,
    /// `ntp status`.
    NtpStatus,
    /// `system password <user>`, `cyberx-users-password-reset`.
    PasswordReset,
    /// `passwd`: the caller's own password.
    OwnPassword,
    /// `system login-protection`.
    LoginProtection,
    /// `network validate`.
    NetworkValidate,
    /// `ping`.
    Ping,
    /// `network blink`.
    NetworkBlink,
    /// `network list`.
    NetworkList,
    /// `network internet-check`.
    InternetCheck,
    /// `network load`.
    NetworkLoad,
    /// `network limit`.
    NetworkLimit,
    /// `network reconfigure`.
    NetworkReconfigure,
    /// `cert import`.
    CertImport,
    /// `cert self-signed`.
    CertSelfSigned,
    /// `cert show`.
    CertShow,
    /// `system upgrade`.
    Upgrade,
    /// `system backup [create]`.
    BackupCreate,
    /// `system backup-list`.
    BackupList,
    /// `system restore`.
    BackupRestore,
    /// `system backup space`.
    BackupSpace,
    /// `shell`: the restricted login shell.
    Shell,
    /// `daemon` / `sensord`.
    Daemon,
    /// `install DIR`: create the alias symlinks.
    Install,
    /// `auth`: the pam_exec login checker.
    Auth,
    /// `package keygen|build`: firmware builders' tools.
    PackageTools,
}

impl ActionKind {
    /// Every kind, for the policy test and `help`.
    pub const ALL: [ActionKind; 32] = [
        ActionKind::Sanity,
        ActionKind::Reboot,
        ActionKind::Shutdown,
        ActionKind::Version,
        ActionKind::Date,
        ActionKind::NtpEnable,
        ActionKind::NtpDisable,
        ActionKind::NtpStatus,
        ActionKind::PasswordReset,
        ActionKind::OwnPassword,
        ActionKind::LoginProtection,
        ActionKind::NetworkValidate,
        ActionKind::Ping,
        ActionKind::NetworkBlink,
        ActionKind::NetworkList,
        ActionKind::InternetCheck,
        ActionKind::NetworkLoad,
        ActionKind::NetworkLimit,
        ActionKind::NetworkReconfigure,
        ActionKind::CertImport,
        ActionKind::CertSelfSigned,
        ActionKind::CertShow,
        ActionKind::Upgrade,
        ActionKind::BackupCreate,
        ActionKind::BackupList,
        ActionKind::BackupRestore,
        ActionKind::BackupSpace,
        ActionKind::Shell,
        ActionKind::Daemon,
        ActionKind::Install,
        ActionKind::Auth,
        ActionKind::PackageTools,
    ];

    /// The action's name in the audit log (`action=…`), for every kind: any denial is audited.
    pub fn audit_name(self) -> &'static str {
        use ActionKind as A;
        match self {
            A::Sanity => "sanity",
            A::Reboot => "reboot",
            A::Shutdown => "shutdown",
            A::Version => "version",
            A::Date => "date",
            A::NtpEnable => "ntp-enable",
            A::NtpDisable => "ntp-disable",
            A::NtpStatus => "ntp-status",
            A::PasswordReset => "password-reset",
            A::OwnPassword => "passwd",
            A::LoginProtection => "login-protection",
            A::NetworkValidate => "network-validate",
            A::Ping => "ping",
            A::NetworkBlink => "network-blink",
            A::NetworkList => "network-list",
            A::InternetCheck => "internet-check",
            A::NetworkLoad => "network-load",
            A::NetworkLimit => "network-limit",
            A::NetworkReconfigure => "network-reconfigure",
            A::CertImport => "cert-import",
            A::CertSelfSigned => "cert-self-signed",
            A::CertShow => "cert-show",
            A::Upgrade => "upgrade",
            A::BackupCreate => "backup",
            A::BackupList => "backup-list",
            A::BackupRestore => "restore",
            A::BackupSpace => "backup-space",
            A::Shell => "shell",
            A::Daemon => "daemon",
            A::Install => "install",
            A::Auth => "login",
            A::PackageTools => "package",
        }
    }
}

/// The policy table: which roles besides root may run each action. Root may run everything.
///
/// A `match` with no `_` arm, so that a new action cannot compile without its row.
pub fn allowed_roles(kind: ActionKind) -> &'static [Role] {
    use ActionKind as A;
    use Role::{Cyberx, CyberxHost, Support};
    match kind {
        A::Sanity => &[Support, Cyberx],
        A::Reboot | A::Shutdown => &[Support, Cyberx, CyberxHost],
        A::Version => &[Support, Cyberx],
        A::Date => &[Support, Cyberx, CyberxHost],
        A::NtpEnable | A::NtpDisable | A::NtpStatus => &[Support, Cyberx],
        A::PasswordReset => &[Support, Cyberx],
        A::OwnPassword => &[Support, Cyberx, CyberxHost],
        A::LoginProtection => &[Cyberx],
        A::NetworkValidate | A::Ping | A::NetworkList => &[Support, Cyberx],
        A::NetworkBlink => &[Support],
        A::InternetCheck | A::NetworkLoad | A::NetworkLimit => &[Cyberx],
        A::NetworkReconfigure => &[Support, CyberxHost],
        A::CertImport | A::CertSelfSigned | A::CertShow => &[Cyberx],
        A::Upgrade => &[Cyberx],
        A::BackupCreate | A::BackupList | A::BackupRestore => &[Support, Cyberx],
        A::BackupSpace => &[Cyberx],
        A::Shell => &[Support, Cyberx, CyberxHost],
        A::Daemon | A::Install | A::Auth | A::PackageTools => &[],
    }
}

/// Whether `role` may run `kind`.
pub fn permits(role: Role, kind: ActionKind) -> bool {
    role == Role::Root || allowed_roles(kind).contains(&role)
}

/// The authorization step: `Err(Denied)` (exit 77) unless the policy allows it.
pub fn authorize(role: Role, kind: ActionKind) -> Result<()> {
    if permits(role, kind) {
        Ok(())
    } else {
        Err(Error::Denied { role: role.name().to_string() })
    }
}

/// A fully parsed, validated request: what to do, with every argument already typed.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub enum Action {
    /// Print the software version; with `json`, also board, build date and target.
    Version {
        /// Structured output.
        json: bool,
    },
    /// Print the current UTC date and time.
    Date {
        /// Structured output.
        json: bool,
    },
    /// Report whether every service of the board is running.
    Sanity {
        /// Structured output.
        json: bool,
    },
    /// Sync the filesystems and restart the machine.
    Reboot {},
    /// Sync the filesystems and power the machine off.
    Shutdown {},
    /// List the network interfaces in the net-tools `ifconfig` format.
    NetworkList {
        /// Also the interfaces that are down (`-a`).
        all: bool,
        /// Structured output.
        json: bool,
    },
    /// Sync the clock with an NTP server and add it to the server list.
    NtpEnable {
        /// The server's IPv4 address (dotted quad; validated again before use).
        server: String,
    },
    /// Remove an NTP server from the server list.
    NtpDisable {
        /// The server's IPv4 address.
        server: String,
    },
    /// Show the NTP servers and the last sync.
    NtpStatus {
        /// Structured output.
        json: bool,
    },
    /// Ask an NTP server for the time without changing anything.
    NtpQuery {
        /// The server's IPv4 address.
        server: String,
        /// Structured output.
        json: bool,
    },
    /// Run the restricted interactive shell.
    Shell {
        /// Idle logout in seconds, if lower than the configured one.
        idle_timeout_s: Option<u64>,
    },
    /// Blink a port's LEDs.
    NetworkBlink {
        /// The interface (validated as an [`crate::validate::IfName`] when parsed, and again here).
        interface: String,
        /// Duration, 1-3600 seconds.
        seconds: u32,
    },
    /// ICMP echo to an IPv4 host.
    Ping {
        /// Dotted-quad IPv4 address (validated again on execution).
        address: String,
        /// Echo requests to send.
        count: u32,
        /// Seconds to wait for replies after the last request.
        timeout_s: u32,
        /// Milliseconds between requests.
        interval_ms: u32,
    },
    /// Fetch the internet check URL.
    InternetCheck {
        /// A URL instead of the configured one.
        url: Option<String>,
        /// Structured output.
        json: bool,
    },
    /// Compare the configured management network settings with the kernel and resolver file.
    NetworkValidate {
        /// Structured output.
        json: bool,
    },
    /// Apply management network settings (the setup wizard's answers). Every field is filled
    /// in client-side by `cli::network::complete_reconfigure` before the action runs or is
    /// sent; the executor refuses one that is still `None`, and validates all of them again.
    NetworkReconfigure {
        /// Management interface.
        interface: Option<String>,
        /// Its IPv4 address.
        ip: Option<String>,
        /// Its subnet mask (dotted quad).
        subnet: Option<String>,
        /// Default gateway.
        gateway: Option<String>,
        /// DNS servers, in order (empty: none).
        dns: Option<Vec<String>>,
        /// Monitor interfaces as `label=device`.
        monitors: Option<Vec<String>>,
        /// ERSPAN interfaces.
        erspan: Option<Vec<String>>,
        /// Backup directory.
        backup_dir: Option<String>,
        /// `--yes`: the wizard asked nothing (kept last: nanoserde writes a stray comma after
        /// a trailing `None`).
        yes: bool,
    },
    /// Set or clear an interface's outbound bandwidth limit.
    NetworkLimit {
        /// The interface (validated as an [`crate::validate::IfName`] when parsed, and again here).
        interface: String,
        /// The limit as typed (`30kbit`; a [`crate::validate::Rate`], validated again here).
        limit: Option<String>,
        /// Remove the limit instead; exactly one of `limit` and `clear` is given.
        clear: bool,
    },
    /// Sample the interfaces' receive and send rates once a second.
    NetworkLoad {
        /// Only this interface (else every interface that is up, except loopback).
        interface: Option<String>,
        /// Number of one-second samples, 1-3600.
        seconds: u32,
        /// Structured output.
        json: bool,
    },
    /// Serve the daemon socket.
    Daemon {},
    /// Back up the board's data paths now.
    BackupCreate {},
    /// List the backups, newest first.
    BackupList {
        /// Structured output, with each backup's verification.
        json: bool,
    },
    /// Show the backup directory's usage, limit and free space and the last backup.
    BackupSpace {
        /// Structured output.
        json: bool,
    },
    /// Restore the data paths from a backup.
    BackupRestore {
        /// The backup's file name (or its path in the backup directory); the newest if absent.
        file: Option<String>,
        /// Answer the confirmation questions with yes.
        yes: bool,
        /// Accept a backup of another board or a newer major version.
        force: bool,
    },
    /// Check and install a TLS certificate and its key, and make them active.
    CertImport {
        /// The certificate file's contents, base64 (read by the caller, with its permissions).
        crt: String,
        /// The private key file's contents, base64.
        key: String,
        /// The chain file's contents, base64.
        chain: Option<String>,
        /// The key's passphrase (validated again on execution).
        pass: Option<String>,
        /// Use the passphrase stored with the previous certificate.
        passphrase_set: bool,
    },
    /// Create a self-signed certificate and make it active.
    CertSelfSigned {},
    /// Show the active certificate.
    CertShow {
        /// Structured output.
        json: bool,
    },
    /// Create the alias symlinks in a directory.
    Install {
        /// The directory (as given; created symlinks point at this executable).
        dir: String,
    },
    /// Reset an appliance user's password (OS and web UI).
    PasswordReset {
        /// The user (validated as a [`crate::validate::UserName`] when run).
        user: String,
        /// The new password from argv (`-p`); `None`: read it from stdin or ask for it.
        password: Option<crate::password::Secret>,
        /// Read the new password from one line of standard input instead of asking twice.
        password_stdin: bool,
        /// Invoked as the 2022 alias `cyberx-users-password-reset`, which only cyberx may use.
        legacy_alias: bool,
    },
    /// Change the caller's own password.
    OwnPassword {},
    /// Show or set the failed-login protection.
    LoginProtection {
        /// New limit of failed logins per remote host, 1-100.
        max_failed: Option<u32>,
        /// New window / lockout time, 1-86400 seconds.
        window_s: Option<u64>,
        /// Structured output.
        json: bool,
    },
    /// Install a signed package into the inactive slot, or commit, roll back, show the slots.
    Upgrade {
        /// The package file (absolute); `None` with `commit`, `rollback` or `status`.
        package: Option<String>,
        /// Accept the same or an older version.
        allow_downgrade: bool,
        /// Reboot once switched.
        reboot: bool,
        /// Commit a pending upgrade if healthy (else roll back).
        commit: bool,
        /// Make the previous slot active again.
        rollback: bool,
        /// Show the slots.
        status: bool,
        /// Structured output (with `status`).
        json: bool,
    },
    /// Create a package signing key pair.
    PackageKeygen {
        /// Output prefix (`PREFIX.key`, `PREFIX.pub`).
        prefix: String,
    },
    /// Build and sign a package.
    PackageBuild {
        /// The private key file.
        key: String,
        /// The version it installs.
        version: String,
        /// The boards it is for.
        boards: Vec<String>,
        /// The oldest version it upgrades from.
        min_version: String,
        /// The payload directory.
        dir: String,
        /// The package file to write.
        output: String,
    },
    /// The pam_exec login check (the password comes on standard input).
    Auth {
        /// `PAM_TYPE` (`auth`, or `account` for the lockout alone).
        pam_type: String,
        /// `PAM_USER`, as given (validated when run).
        user: String,
        /// `PAM_RHOST`, if the login is remote.
        rhost: Option<String>,
    },
}

impl Action {
    /// The policy row this action falls under.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Version { .. } => ActionKind::Version,
            Action::Date { .. } => ActionKind::Date,
            Action::Sanity { .. } => ActionKind::Sanity,
            Action::Reboot {} => ActionKind::Reboot,
            Action::Shutdown {} => ActionKind::Shutdown,
            Action::NetworkList { .. } => ActionKind::NetworkList,
            Action::NtpEnable { .. } => ActionKind::NtpEnable,
            Action::NtpDisable { .. } => ActionKind::NtpDisable,
            // Read-only, so it falls under the status row.
            Action::NtpStatus { .. } | Action::NtpQuery { .. } => ActionKind::NtpStatus,
            Action::Shell { .. } => ActionKind::Shell,
            Action::Install { .. } => ActionKind::Install,
            Action::NetworkBlink { .. } => ActionKind::NetworkBlink,
            Action::Ping { .. } => ActionKind::Ping,
            Action::BackupCreate {} => ActionKind::BackupCreate,
            Action::BackupList { .. } => ActionKind::BackupList,
            Action::BackupSpace { .. } => ActionKind::BackupSpace,
            Action::BackupRestore { .. } => ActionKind::BackupRestore,
            Action::InternetCheck { .. } => ActionKind::InternetCheck,
            Action::NetworkValidate { .. } => ActionKind::NetworkValidate,
            Action::NetworkReconfigure { .. } => ActionKind::NetworkReconfigure,
            Action::NetworkLimit { .. } => ActionKind::NetworkLimit,
            Action::NetworkLoad { .. } => ActionKind::NetworkLoad,
            Action::Daemon {} => ActionKind::Daemon,
            Action::PasswordReset { .. } => ActionKind::PasswordReset,
            Action::OwnPassword {} => ActionKind::OwnPassword,
            Action::LoginProtection { .. } => ActionKind::LoginProtection,
            Action::Auth { .. } => ActionKind::Auth,
            Action::Upgrade { .. } => ActionKind::Upgrade,
            Action::PackageKeygen { .. } | Action::PackageBuild { .. } => ActionKind::PackageTools,
            Action::CertImport { .. } => ActionKind::CertImport,
            Action::CertSelfSigned {} => ActionKind::CertSelfSigned,
            Action::CertShow { .. } => ActionKind::CertShow,
        }
    }

    /// The audit log's action name and target for actions whose every attempt is audited,
    /// denials included (see [`crate::audit`]); `None` for the others.
    pub fn audit_entry(&self) -> Option<(&'static str, String)> {
        match self {
            Action::PasswordReset { user, .. } => Some(("password-reset", user.clone())),
            Action::OwnPassword {} => Some(("passwd", "-".to_string())),
            Action::LoginProtection { .. } => Some(("login-protection", "-".to_string())),
            Action::Auth { user, .. } => Some(("login", user.clone())),
            Action::NetworkReconfigure { interface, .. } => {
                Some(("network-reconfigure", interface.clone().unwrap_or_else(|| "-".to_string())))
            }
            Action::NetworkLimit { interface, .. } => Some(("network-limit", interface.clone())),
            Action::BackupCreate {} => Some(("backup", "-".to_string())),
            Action::BackupRestore { file, .. } => Some(("restore", file.clone().unwrap_or_else(|| "newest".to_string()))),
            Action::Upgrade { package, commit, rollback, .. } => match (package, commit, rollback) {
                (Some(package), _, _) => Some(("upgrade", package.clone())),
                (None, true, _) => Some(("upgrade", "--commit".to_string())),
                (None, _, true) => Some(("upgrade", "--rollback".to_string())),
                _ => None,
            },
            Action::PackageKeygen { .. } | Action::PackageBuild { .. } => None,
            Action::CertImport { .. } => Some(("cert-import", "-".to_string())),
            Action::CertSelfSigned {} => Some(("cert-self-signed", "-".to_string())),
            Action::Version { .. }
            | Action::Date { .. }
            | Action::Sanity { .. }
            | Action::Reboot {}
            | Action::Shutdown {}
            | Action::Shell { .. }
            | Action::NetworkBlink { .. }
            | Action::Ping { .. }
            | Action::InternetCheck { .. }
            | Action::Daemon {}
            | Action::NetworkList { .. }
            | Action::NtpEnable { .. }
            | Action::NtpDisable { .. }
            | Action::NtpStatus { .. }
            | Action::NtpQuery { .. }
            | Action::NetworkValidate { .. }
            | Action::NetworkLoad { .. }
            | Action::BackupList { .. }
            | Action::BackupSpace { .. }
            | Action::CertShow { .. }
            | Action::Install { .. } => None,
        }
    }

    /// Whether [`run`] writes the audit line of how this action ended. The commands that
    /// audit themselves (password changes, logins, certificates, upgrades: their lines say
    /// more, such as the fingerprint installed or the version committed) are not among them.
    pub fn outcome_audited_by_run(&self) -> bool {
        matches!(
            self,
            Action::NetworkReconfigure { .. }
                | Action::NetworkLimit { .. }
                | Action::BackupCreate {}
                | Action::BackupRestore { .. }
        )
    }

    /// The audit entry of a denied attempt: [`Action::audit_entry`]'s, else the kind's name
    /// and, where the action has one, what it was aimed at.
    pub fn denial_entry(&self) -> (&'static str, String) {
        if let Some(entry) = self.audit_entry() {
            return entry;
        }
        let target = match self {
            Action::NetworkBlink { interface, .. } => interface.clone(),
            Action::NetworkLoad { interface: Some(interface), .. } => interface.clone(),
            Action::Ping { address, .. } => address.clone(),
            Action::NtpEnable { server } | Action::NtpDisable { server } => server.clone(),
            Action::NtpQuery { server, .. } => server.clone(),
            Action::Install { dir } => dir.clone(),
            _ => "-".to_string(),
        };
        (self.kind().audit_name(), target)
    }
}

/// The `result=` of an audit entry for how an action ended (the daemon's scheduled work).
pub fn audit_result(result: &Result<Status>) -> String {
    match result {
        Ok(Status::Ok) => "ok".to_string(),
        Ok(Status::Problem) => "problem".to_string(),
        Err(Error::Denied { .. }) => "denied".to_string(),
        Err(err) => format!("failed: {err}"),
    }
}

/// How a command that ran to the end came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Exit 0.
    Ok,
    /// Exit 1: the command ran and found a problem, which it already reported.
    Problem,
}

/// Where an action runs: in this process for root, in the daemon for everyone else (whose
/// role the daemon establishes again from the kernel's peer credentials). The restricted shell
/// itself always runs here: it only reads lines and hands each command back to this function.
pub fn perform(action: &Action, ctx: &Context, out: &mut dyn Write) -> Result<Status> {
    if ctx.caller.uid == 0 || action.kind() == ActionKind::Shell {
        run(action, ctx, out)
    } else {
        crate::daemon::call(&ctx.root, action, out)
    }
}

/// check → authorize → act: the one way any action is executed. Every denial is audited,
/// whatever the kind.
pub fn run(action: &Action, ctx: &Context, out: &mut dyn Write) -> Result<Status> {
    if let Err(denied) = authorize(ctx.caller.role, action.kind()) {
        let (name, target) = action.denial_entry();
        crate::audit::record(ctx, name, &target, "denied");
        return Err(denied);
    }
    // The kind only: an action may carry a password.
    log::info!("{} (uid {}, role {}) runs {:?}", ctx.caller.user_name(), ctx.caller.uid, ctx.caller.role, action.kind());
    let result = act(action, ctx, out);
    if action.outcome_audited_by_run() {
        if let Some((name, target)) = action.audit_entry() {
            crate::audit::record(ctx, name, &target, &audit_result(&result));
        }
    }
    result
}

/// The act of [`run`], once the caller is authorized.
fn act(action: &Action, ctx: &Context, out: &mut dyn Write) -> Result<Status> {
    match action {
        Action::Version { json } => crate::info::version(ctx, *json, out),
        Action::Date { json } => crate::info::date(*json, out),
        Action::Sanity { json } => crate::health::sanity(ctx, *json, out),
        Action::Reboot {} => crate::power::run(ctx, crate::power::Power::Restart, out),
        Action::Shutdown {} => crate::power::run(ctx, crate::power::Power::PowerOff, out),
        Action::NetworkList { all, json } => crate::netlist::run(*all, *json, out),
        Action::NtpEnable { server } => crate::ntp::enable(ctx, server, out),
        Action::NtpDisable { server } => crate::ntp::disable(ctx, server, out),
        Action::NtpStatus { json } => crate::ntp::status(ctx, *json, out),
        Action::NtpQuery { server, json } => crate::ntp::query(server, *json, out),
        Action::Shell { idle_timeout_s } => crate::shell::run(ctx, *idle_timeout_s, out),
        Action::Install { dir } => crate::install::run(std::path::Path::new(dir), out),
        Action::NetworkBlink { interface, seconds } => {
            // Re-validated: an Action may also arrive over the daemon's socket.
            let interface = crate::validate::IfName::parse(interface)?;
            crate::blink::run(ctx, &interface, *seconds, out)
        }
        Action::Ping { address, count, timeout_s, interval_ms } => {
            let plan = crate::ping::PingPlan {
                target: crate::validate::Ipv4::parse(address)?.addr(),
                count: (*count).clamp(1, 100_000),
                interval: std::time::Duration::from_millis(u64::from((*interval_ms).clamp(200, 60_000))),
                timeout: std::time::Duration::from_secs(u64::from((*timeout_s).clamp(1, 60))),
            };
            crate::ping::run(&plan, out)
        }
        Action::InternetCheck { url, json } => crate::internet::run(ctx, url.as_deref(), *json, out),
        Action::NetworkValidate { json } => crate::netconf::validate(ctx, *json, out),
        Action::NetworkReconfigure { interface, ip, subnet, gateway, dns, monitors, erspan, backup_dir, yes: _ } => {
            // Validated again: an Action may also arrive over the daemon's socket.
            let settings = crate::netconf::Settings::from_answers(
                interface.as_deref(),
                ip.as_deref(),
                subnet.as_deref(),
                gateway.as_deref(),
                dns.as_deref(),
                monitors.as_deref(),
                erspan.as_deref(),
                backup_dir.as_deref(),
            )?;
            crate::netconf::reconfigure(ctx, &settings, out)
        }
        Action::NetworkLimit { interface, limit, clear } => {
            // Re-validated: an Action may also arrive over the daemon's socket.
            let interface = crate::validate::IfName::parse(interface)?;
            let change = match (limit, clear) {
                (Some(limit), false) => crate::limit::Change::Set(crate::validate::Rate::parse(limit)?),
                (None, true) => crate::limit::Change::Clear,
                _ => return Err(Error::Usage("give either --limit or --clear".to_string())),
            };
            crate::limit::run(ctx, &interface, &change, out)
        }
        Action::NetworkLoad { interface, seconds, json } => {
            let interface = interface.as_deref().map(crate::validate::IfName::parse).transpose()?;
            crate::netload::run(ctx, interface.as_ref(), *seconds, *json, out)
        }
        Action::Daemon {} => crate::daemon::run(ctx, out),
        Action::PasswordReset { user, password, password_stdin, legacy_alias } => {
            if *legacy_alias {
                crate::users::authorize_legacy_alias(ctx, user)?;
            }
            let source = match (password, password_stdin) {
                (Some(password), _) => crate::users::Source::Argv(password),
                (None, true) => crate::users::Source::Stdin,
                (None, false) => crate::users::Source::Prompt,
            };
            crate::users::reset(ctx, user, source, out)
        }
        Action::OwnPassword {} => crate::users::own(ctx, out),
        Action::LoginProtection { max_failed, window_s, json } => {
            crate::login::protection(ctx, *max_failed, *window_s, *json, out)
        }
        Action::Auth { pam_type, user, rhost } => crate::login::auth(ctx, pam_type, user, rhost.as_deref(), out),
        Action::BackupCreate {} => crate::backup::create::run(ctx, out),
        Action::BackupList { json } => crate::backup::list(ctx, *json, out),
        Action::BackupSpace { json } => crate::backup::space(ctx, *json, out),
        Action::BackupRestore { file, yes, force } => {
            // Re-validated: an Action may also arrive over the daemon's socket.
            if let Some(file) = file {
                crate::validate::BackupName::parse(file.rsplit('/').next().unwrap_or(file))?;
            }
            crate::backup::restore::run(ctx, file.as_deref(), *yes, *force, out)
        }
        Action::Upgrade { package, allow_downgrade, reboot, commit, rollback, status, json } => {
            match (package, commit, rollback, status) {
                (Some(package), false, false, false) => {
                    let options = crate::upgrade::Options { allow_downgrade: *allow_downgrade, reboot: *reboot };
                    crate::upgrade::apply(ctx, std::path::Path::new(package), options, out)
                }
                (None, true, false, false) => crate::upgrade::commit(ctx, out),
                (None, false, true, false) => crate::upgrade::rollback(ctx, out),
                (None, false, false, true) => crate::upgrade::status(ctx, *json, out),
                _ => Err(Error::Usage("give exactly one of: a package, --commit, --rollback, --status".to_string())),
            }
        }
        #[cfg(feature = "host-tools")]
        Action::PackageKeygen { prefix } => crate::upgrade::sign::keygen(prefix, out),
        #[cfg(feature = "host-tools")]
        Action::PackageBuild { key, version, boards, min_version, dir, output } => crate::upgrade::sign::build(
            &crate::upgrade::sign::BuildRequest {
                key: std::path::Path::new(key),
                version,
                boards,
                min_version,
                dir: std::path::Path::new(dir),
                output: std::path::Path::new(output),
            },
            out,
        ),
        // Firmware builds verify packages and never sign one (see crate::upgrade::sign).
        #[cfg(not(feature = "host-tools"))]
        Action::PackageKeygen { .. } | Action::PackageBuild { .. } => Err(Error::Unsupported(
            "package keygen and package build are firmware builders' tools, not in this build (scripts/build --host-tools)"
                .to_string(),
        )),
        Action::CertImport { crt, key, chain, pass, passphrase_set } => {
            // Re-validated: an Action may also arrive over the daemon's socket.
            let request = crate::certs::ImportRequest::from_action(
                crt,
                key,
                chain.as_deref(),
                pass.as_deref(),
                *passphrase_set,
            )?;
            crate::certs::import(ctx, &request, out)
        }
        Action::CertSelfSigned {} => crate::certs::self_signed(ctx, out),
        Action::CertShow { json } => crate::certs::show(ctx, *json, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN.md's command table, transcribed row by row (action, "roles" column) as written
    /// there, independently of `allowed_roles`; the rows the issues added (ntp status, cert show,
    /// install, auth, package tools) follow their issues.
    const DESIGN_TABLE: &[(ActionKind, &str)] = &[
        (ActionKind::Sanity, "support, cyberx"),
        (ActionKind::Reboot, "support, cyberx, cyberx_host"),
        (ActionKind::Shutdown, "support, cyberx, cyberx_host"),
        (ActionKind::Version, "support, cyberx"),
        (ActionKind::Date, "all"),
        (ActionKind::NtpEnable, "support, cyberx"),
        (ActionKind::NtpDisable, "support, cyberx"),
        (ActionKind::NtpStatus, "support, cyberx"),
        (ActionKind::PasswordReset, "support(admin), cyberx"),
        (ActionKind::OwnPassword, "all"),
        (ActionKind::LoginProtection, "cyberx"),
        (ActionKind::NetworkValidate, "support, cyberx"),
        (ActionKind::Ping, "support, cyberx"),
        (ActionKind::NetworkBlink, "support"),
        (ActionKind::NetworkList, "support, cyberx"),
        (ActionKind::InternetCheck, "cyberx"),
        (ActionKind::NetworkLoad, "cyberx"),
        (ActionKind::NetworkLimit, "cyberx"),
        (ActionKind::NetworkReconfigure, "support(admin), cyberx_host"),
        (ActionKind::CertImport, "cyberx"),
        (ActionKind::CertSelfSigned, "cyberx"),
        (ActionKind::CertShow, "cyberx"),
        (ActionKind::Upgrade, "cyberx"),
        (ActionKind::BackupCreate, "support, cyberx"),
        (ActionKind::BackupList, "support, cyberx"),
        (ActionKind::BackupRestore, "support, cyberx"),
        (ActionKind::BackupSpace, "cyberx"),
        (ActionKind::Shell, "login shell"),
        (ActionKind::Daemon, "root only"),
        (ActionKind::Install, "root only"),
        (ActionKind::Auth, "root only"),
        (ActionKind::PackageTools, "root only"),
    ];

    fn design_allows(column: &str, role: Role) -> bool {
        match (column, role) {
            (_, Role::Root) => true,
            (_, Role::None) => false,
            ("all" | "login shell", _) => true,
            ("root only", _) => false,
            (roles, role) => roles
                .split(", ")
                .map(|name| name.trim_end_matches("(admin)"))
                .any(|name| name == role.name()),
        }
    }

    #[test]
    fn policy_matches_the_design_table_for_every_action_and_role() {
        assert_eq!(DESIGN_TABLE.len(), ActionKind::ALL.len());
        for kind in ActionKind::ALL {
            let (_, column) = DESIGN_TABLE.iter().find(|(k, _)| *k == kind).expect("row missing");
            for role in Role::ALL {
                assert_eq!(
                    permits(role, kind),
                    design_allows(column, role),
                    "{kind:?} for {role} (DESIGN says '{column}')"
                );
            }
        }
    }

    #[test]
    fn denial_is_exit_77_with_the_role_in_the_message() {
        let err = authorize(Role::Support, ActionKind::NetworkLimit).unwrap_err();
        assert_eq!(err.exit_code(), 77);
        assert_eq!(err.to_string(), "permission denied for role support");
        assert!(authorize(Role::None, ActionKind::Date).is_err());
    }

    #[test]
    fn actions_round_trip_through_the_wire_format() {
        for action in [
            Action::Version { json: true },
            Action::Date { json: false },
            Action::NetworkList { all: true, json: false },
            Action::Shell { idle_timeout_s: Some(5) },
            Action::NtpEnable { server: "129.6.15.28".into() },
            Action::NtpDisable { server: "10.0.0.1".into() },
            Action::NtpStatus { json: true },
            Action::NtpQuery { server: "127.0.0.1".into(), json: false },
            Action::Install { dir: "/usr/bin".into() },
            Action::Sanity { json: true },
            Action::Reboot {},
            Action::Shutdown {},
            Action::PasswordReset {
                user: "support".into(),
                password: Some(crate::password::Secret::new("Pass \"wörd\"-1".into())),
                password_stdin: false,
                legacy_alias: true,
            },
            Action::PasswordReset { user: "admin".into(), password: None, password_stdin: true, legacy_alias: false },
            Action::OwnPassword {},
            Action::LoginProtection { max_failed: Some(7), window_s: None, json: true },
            Action::Auth { pam_type: "auth".into(), user: "support".into(), rhost: Some("10.0.0.1".into()) },
            Action::NetworkValidate { json: true },
            Action::NetworkReconfigure {
                interface: Some("eth0".into()),
                ip: None,
                subnet: Some("255.255.255.0".into()),
                gateway: None,
                dns: Some(vec![]),
                monitors: Some(vec!["local_listener=eth1".into()]),
                erspan: None,
                backup_dir: None,
                yes: true,
            },
            Action::NetworkLimit { interface: "eth0".into(), limit: Some("30kbit".into()), clear: false },
            Action::NetworkLimit { interface: "eth0".into(), limit: None, clear: true },
            Action::NetworkLoad { interface: None, seconds: 6, json: false },
            Action::NetworkLoad { interface: Some("eth1".into()), seconds: 2, json: true },
            Action::BackupCreate {},
            Action::BackupList { json: true },
            Action::BackupSpace { json: false },
            Action::BackupRestore { file: Some("h-1-backup-version-0.1.0-x-1970-01-01_00:00:00.tar".into()), yes: true, force: false },
            Action::BackupRestore { file: None, yes: false, force: true },
            Action::Upgrade {
                package: Some("/tmp/p.pkg".into()),
                allow_downgrade: true,
                reboot: false,
                commit: false,
                rollback: false,
                status: false,
                json: false,
            },
            Action::PackageKeygen { prefix: "k".into() },
            Action::PackageBuild {
                key: "k.key".into(),
                version: "1.0".into(),
                boards: vec!["generic-x86".into()],
                min_version: "0".into(),
                dir: "d".into(),
                output: "o".into(),
            },
            Action::CertImport {
                crt: "Q1JU".into(),
                key: "S0VZ".into(),
                chain: None,
                pass: None,
                passphrase_set: true,
            },
            Action::CertImport {
                crt: "Q1JU".into(),
                key: "S0VZ".into(),
                chain: Some("Q0hBSU4=".into()),
                pass: Some("p#1".into()),
                passphrase_set: false,
            },
            Action::CertSelfSigned {},
            Action::CertShow { json: true },
        ] {
            let wire = action.serialize_json();
            assert_eq!(Action::deserialize_json(&wire).unwrap(), action, "{wire}");
            // As the daemon decodes it: nanoserde's own output must pass the syntax check.
            let request = crate::daemon::Request { id: 3, action: action.clone() }.serialize_json();
            assert_eq!(crate::json::decode::<crate::daemon::Request>(&request).unwrap().action, action, "{request}");
        }
        assert!(Action::deserialize_json("{\"Bogus\":{}}").is_err());
    }

    #[test]
    fn every_denial_has_an_audit_entry_named_after_its_kind() {
        let mut names: Vec<&str> = ActionKind::ALL.iter().map(|k| k.audit_name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ActionKind::ALL.len(), "audit names are unique");
        for action in [
            Action::PasswordReset { user: "support".into(), password: None, password_stdin: true, legacy_alias: false },
            Action::OwnPassword {},
            Action::LoginProtection { max_failed: None, window_s: None, json: false },
            Action::Auth { pam_type: "auth".into(), user: "support".into(), rhost: None },
            Action::NetworkLimit { interface: "eth0".into(), limit: None, clear: true },
            Action::BackupCreate {},
            Action::BackupRestore { file: None, yes: true, force: false },
        ] {
            let (name, _) = action.audit_entry().unwrap();
            assert_eq!(name, action.kind().audit_name(), "{action:?}");
            assert_eq!(action.denial_entry(), action.audit_entry().unwrap());
        }
        let blink = Action::NetworkBlink { interface: "eth1".into(), seconds: 20 };
        assert_eq!(blink.audit_entry(), None);
        assert_eq!(blink.denial_entry(), ("network-blink", "eth1".to_string()));
        assert_eq!(Action::Shutdown {}.denial_entry(), ("shutdown", "-".to_string()));
    }

    #[test]
    fn audit_results_name_the_outcome() {
        assert_eq!(audit_result(&Ok(Status::Ok)), "ok");
        assert_eq!(audit_result(&Ok(Status::Problem)), "problem");
        assert_eq!(audit_result(&Err(Error::Denied { role: "support".into() })), "denied");
        assert_eq!(audit_result(&Err(Error::Usage("bad".into()))), "failed: bad");
    }

    #[test]
    fn a_password_in_an_action_never_reaches_a_debug_print() {
        let action = Action::PasswordReset {
            user: "support".into(),
            password: Some(crate::password::Secret::new("Never-Shown1".into())),
            password_stdin: false,
            legacy_alias: true,
        };
        let text = format!("{action:?}");
        assert!(!text.contains("Never-Shown1") && text.contains("<redacted>"), "{text}");
    }
}
