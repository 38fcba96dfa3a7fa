//! The typed `Action`, the one policy table (role × action) and the executor.
//!
//! argv or a shell line (and, with the daemon, a socket request) becomes an [`Action`] in pure
//! code; [`run`] then reads check → authorize → act: the policy is consulted before anything
//! happens, and a denied action does nothing at all. `Action` is declared with its wire form
//! (`crate::wire`), the daemon's request: the CLI path and the daemon path execute the same value.
//!
//! Privileges: whatever the executed action needs; the policy check itself needs none.
#![forbid(unsafe_code)]

pub mod exec;
pub mod spec;

pub use exec::run;
pub use spec::{authorize, permits, Audit, Spec};

use crate::validate::{
    AbsPath, BackupName, BackupRef, BlinkSeconds, DirPath, FileBytes, Host, LocalPath, IdleSeconds, IfName, Ipv4, LoadSeconds, LockoutWindow, MaxFailed,
    Netmask, Passphrase, PingCount, PingIntervalMs, PingWait, Rate, UserName,
};

/// Declares [`ActionKind`] and its [`ActionKind::ALL`] from one list, so that the list of every
/// kind cannot miss one.
macro_rules! action_kinds {
    ($($(#[doc = $doc:literal])* $kind:ident,)*) => {
        /// Every action of DESIGN.md's command table that this build has: the key of the one
        /// spec ([`ActionKind::spec`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ActionKind {
            $($(#[doc = $doc])* $kind,)*
        }

        impl ActionKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [ActionKind] = &[$(ActionKind::$kind,)*];
        }
    };
}

action_kinds! {
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
    /// `network limit-list`: the stored limits.
    NetworkLimitList,
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
    /// `system backup export`: a backup file, base64, on standard output.
    BackupExport,
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
    /// `network capture-filter` / `cyberx-xsense-capture-filter`: set the components' filters.
    CaptureFilter,
    /// `network capture-filter --test IFACE`: try a filter on a port, changing nothing.
    CaptureFilterTest,
    /// `network capture-filter --show`.
    CaptureFilterShow,
}

crate::wire::wire_enum! {
    /// A fully parsed, validated request: what to do, with every argument already typed.
    #[derive(Clone, Debug, PartialEq)]
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
            /// The server's address.
            server: Host,
        },
        /// Remove an NTP server from the server list.
        NtpDisable {
            /// The server's address.
            server: Host,
        },
        /// Show the NTP servers and the last sync.
        NtpStatus {
            /// Structured output.
            json: bool,
        },
        /// Ask an NTP server for the time without changing anything.
        NtpQuery {
            /// The server's address.
            server: Host,
            /// Structured output.
            json: bool,
        },
        /// Run the restricted interactive shell.
        Shell {
            /// Idle logout in seconds, if lower than the configured one.
            idle_timeout_s: Option<IdleSeconds>,
        },
        /// Blink a port's LEDs.
        NetworkBlink {
            /// The interface.
            interface: IfName,
            /// How long.
            seconds: BlinkSeconds,
        },
        /// ICMP echo to an IPv4 host.
        Ping {
            /// The host.
            address: Host,
            /// Echo requests to send.
            count: PingCount,
            /// Seconds to wait for replies after the last request.
            timeout_s: PingWait,
            /// Milliseconds between requests.
            interval_ms: PingIntervalMs,
        },
        /// Fetch the internet check URL.
        InternetCheck {
            /// A URL instead of the configured one.
            url: Option<crate::internet::CheckUrl>,
            /// Structured output.
            json: bool,
        },
        /// Compare the configured management network settings with the kernel and resolver file.
        NetworkValidate {
            /// Structured output.
            json: bool,
        },
        /// Apply management network settings: those the flags gave; the setup wizard asks for the
        /// others (see `crate::netconf::wizard`) before anything is locked or changed.
        NetworkReconfigure {
            /// Management interface.
            interface: Option<IfName>,
            /// Its IPv4 address.
            ip: Option<Ipv4>,
            /// Its subnet mask.
            subnet: Option<Netmask>,
            /// Default gateway.
            gateway: Option<Ipv4>,
            /// DNS servers, in order (empty: none).
            dns: Option<Vec<Ipv4>>,
            /// Monitor interfaces (`label=device`).
            monitors: Option<Vec<crate::netconf::Monitor>>,
            /// ERSPAN interfaces.
            erspan: Option<Vec<IfName>>,
            /// Backup directory.
            backup_dir: Option<DirPath>,
            /// `--yes`: the wizard asked nothing (kept last: nanoserde writes a stray comma after
            /// a trailing `None`).
            yes: bool,
        },
        /// Set or clear an interface's outbound bandwidth limit.
        NetworkLimit {
            /// The interface.
            interface: IfName,
            /// The limit (`30kbit`).
            limit: Option<Rate>,
            /// Remove the limit instead; exactly one of `limit` and `clear` is given.
            clear: bool,
        },
        /// Show the stored bandwidth limits.
        NetworkLimitList {
            /// Structured output.
            json: bool,
        },
        /// Sample the interfaces' receive and send rates once a second.
        NetworkLoad {
            /// Only this interface (else every interface that is up, except loopback).
            interface: Option<IfName>,
            /// Number of one-second samples.
            seconds: LoadSeconds,
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
        /// Write a backup file to standard output, base64.
        BackupExport {
            /// The backup's file name in the backup directory.
            name: BackupName,
        },
        /// Restore the data paths from a backup.
        BackupRestore {
            /// The backup's file name (or its path in the backup directory); the newest if absent.
            file: Option<BackupRef>,
            /// Answer the confirmation questions with yes.
            yes: bool,
            /// Accept a backup of another board or a newer major version.
            force: bool,
        },
        /// Check and install a TLS certificate and its key, and make them active.
        CertImport {
            /// The certificate file's contents (read by the caller, with its permissions).
            crt: FileBytes,
            /// The private key file's contents.
            key: FileBytes,
            /// The chain file's contents.
            chain: Option<FileBytes>,
            /// The key's passphrase.
            pass: Option<Passphrase>,
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
            dir: LocalPath,
        },
        /// Reset an appliance user's password (OS and web UI).
        PasswordReset {
            /// The user.
            user: UserName,
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
            /// New limit of failed logins per remote host.
            max_failed: Option<MaxFailed>,
            /// New window / lockout time, seconds.
            window_s: Option<LockoutWindow>,
            /// Structured output.
            json: bool,
        },
        /// Install a signed package into the inactive slot, or commit, roll back, show the slots.
        Upgrade {
            /// The package file; `None` with `commit`, `rollback` or `status`.
            package: Option<AbsPath>,
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
            prefix: LocalPath,
        },
        /// Build and sign a package.
        PackageBuild {
            /// The private key file.
            key: LocalPath,
            /// The version it installs (kept as written, with any `-suffix`; checked with the
            /// manifest it goes into, `crate::upgrade::sign::build`).
            version: String,
            /// The boards it is for (checked with the manifest).
            boards: Vec<String>,
            /// The oldest version it upgrades from (checked with the manifest).
            min_version: String,
            /// The payload directory.
            dir: LocalPath,
            /// The package file to write.
            output: LocalPath,
        },
        /// Set the analysis components' capture filters (or, with `test`, try them on a port).
        CaptureFilter {
            /// What the flags and lists gave; `None`: the interactive questions ask for it.
            given: Option<crate::capture_filter::command::Given>,
            /// Attach the filters to this port for `seconds` and count what they match, instead of
            /// applying them.
            test: Option<IfName>,
            /// How long `test` listens.
            seconds: LoadSeconds,
            /// Invoked as `cyberx-xsense-capture-filter`, which is cyberx's (kept last: nanoserde
            /// writes a stray comma after a trailing `None`).
            legacy_alias: bool,
        },
        /// Show the filter each component has now.
        CaptureFilterShow {
            /// Structured output.
            json: bool,
        },
        /// The pam_exec login check (the password comes on standard input).
        Auth {
            /// `PAM_TYPE` (`auth`, or `account` for the lockout alone).
            pam_type: crate::login::PamType,
            /// `PAM_USER`, as PAM gives it: any text. A name no user has, or a malformed
            /// `PAM_RHOST`, is a login to refuse and audit (`crate::login::auth`), not a usage
            /// error; `auth` is not served over the daemon's socket.
            user: String,
            /// `PAM_RHOST`, if the login is remote (as given; see `user`).
            rhost: Option<String>,
        },
    }
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
            Action::BackupExport { .. } => ActionKind::BackupExport,
            Action::InternetCheck { .. } => ActionKind::InternetCheck,
            Action::NetworkValidate { .. } => ActionKind::NetworkValidate,
            Action::NetworkReconfigure { .. } => ActionKind::NetworkReconfigure,
            Action::NetworkLimit { .. } => ActionKind::NetworkLimit,
            Action::NetworkLimitList { .. } => ActionKind::NetworkLimitList,
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
            Action::CaptureFilter { test: Some(_), .. } => ActionKind::CaptureFilterTest,
            Action::CaptureFilter { test: None, .. } => ActionKind::CaptureFilter,
            Action::CaptureFilterShow { .. } => ActionKind::CaptureFilterShow,
        }
    }

    /// What the action is aimed at, for its audit lines (`target=…`): a user, an interface, a
    /// file; `-` when nothing in particular. A match with no `_` arm, like the spec.
    pub fn audit_target(&self) -> String {
        let none = || "-".to_string();
        match self {
            Action::PasswordReset { user, .. } => user.to_string(),
            Action::Auth { user, .. } => user.to_string(),
            Action::NetworkReconfigure { interface, .. } => interface.as_ref().map_or_else(none, ToString::to_string),
            Action::NetworkLimit { interface, .. } => interface.to_string(),
            Action::NetworkBlink { interface, .. } => interface.to_string(),
            Action::NetworkLoad { interface, .. } => interface.as_ref().map_or_else(none, ToString::to_string),
            Action::BackupRestore { file, .. } => file.as_ref().map_or_else(|| "newest".to_string(), ToString::to_string),
            Action::BackupExport { name } => name.to_string(),
            Action::Upgrade { package, commit, rollback, .. } => match (package, commit, rollback) {
                (Some(package), _, _) => package.to_string(),
                (None, true, _) => "--commit".to_string(),
                (None, _, true) => "--rollback".to_string(),
                _ => "--status".to_string(),
            },
            Action::Ping { address, .. } => address.to_string(),
            Action::NtpEnable { server } | Action::NtpDisable { server } => server.to_string(),
            Action::NtpQuery { server, .. } => server.to_string(),
            Action::Install { dir } => dir.to_string(),
            Action::CaptureFilter { given: Some(given), test: None, .. } => given.program.to_string(),
            Action::CaptureFilter { test: Some(interface), .. } => interface.to_string(),
            Action::CaptureFilter { given: None, test: None, .. } => "interactive".to_string(),
            Action::OwnPassword {}
            | Action::LoginProtection { .. }
            | Action::BackupCreate {}
            | Action::CertImport { .. }
            | Action::CertSelfSigned {}
            | Action::PackageKeygen { .. }
            | Action::PackageBuild { .. }
            | Action::Version { .. }
            | Action::Date { .. }
            | Action::Sanity { .. }
            | Action::Reboot {}
            | Action::Shutdown {}
            | Action::Shell { .. }
            | Action::InternetCheck { .. }
            | Action::Daemon {}
            | Action::NetworkList { .. }
            | Action::NtpStatus { .. }
            | Action::NetworkValidate { .. }
            | Action::BackupList { .. }
            | Action::BackupSpace { .. }
            | Action::NetworkLimitList { .. }
            | Action::CertShow { .. }
            | Action::CaptureFilterShow { .. } => none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed<T>(value: crate::error::Result<T>) -> T {
        value.unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn actions_round_trip_through_the_wire_format() {
        let eth0 = || parsed(IfName::parse("eth0"));
        let host = |text: &str| parsed(Host::parse(text));
        for action in [
            Action::Version { json: true },
            Action::Date { json: false },
            Action::NetworkList { all: true, json: false },
            Action::Shell { idle_timeout_s: Some(parsed(IdleSeconds::new(5))) },
            Action::NtpEnable { server: host("129.6.15.28") },
            Action::NtpDisable { server: host("10.0.0.1") },
            Action::NtpStatus { json: true },
            Action::NtpQuery { server: host("127.0.0.1"), json: false },
            Action::Install { dir: "/usr/bin".into() },
            Action::Sanity { json: true },
            Action::Reboot {},
            Action::Shutdown {},
            Action::NetworkBlink { interface: eth0(), seconds: parsed(BlinkSeconds::new(20)) },
            Action::Ping {
                address: host("10.0.0.2"),
                count: parsed(PingCount::new(4)),
                timeout_s: parsed(PingWait::new(2)),
                interval_ms: parsed(PingIntervalMs::new(1000)),
            },
            Action::InternetCheck { url: Some(parsed(crate::internet::CheckUrl::parse("http://127.0.0.1:8080/x"))), json: true },
            Action::PasswordReset {
                user: parsed(UserName::parse("support")),
                password: Some(crate::password::Secret::new("Pass \"wörd\"-1".into())),
                password_stdin: false,
                legacy_alias: true,
            },
            Action::PasswordReset { user: parsed(UserName::parse("admin")), password: None, password_stdin: true, legacy_alias: false },
            Action::OwnPassword {},
            Action::LoginProtection { max_failed: Some(parsed(MaxFailed::new(7))), window_s: None, json: true },
            Action::Auth { pam_type: "auth".into(), user: "support".into(), rhost: Some("10.0.0.1".into()) },
            Action::NetworkValidate { json: true },
            Action::NetworkReconfigure {
                interface: Some(eth0()),
                ip: None,
                subnet: Some(parsed(Netmask::parse("255.255.255.0"))),
                gateway: None,
                dns: Some(vec![]),
                monitors: Some(vec![parsed(crate::netconf::Monitor::parse("local_listener=eth1"))]),
                erspan: None,
                backup_dir: Some(parsed(DirPath::parse("/data/b"))),
                yes: true,
            },
            Action::NetworkLimit { interface: eth0(), limit: Some(parsed(Rate::parse("30kbit"))), clear: false },
            Action::NetworkLimit { interface: eth0(), limit: None, clear: true },
            Action::NetworkLoad { interface: None, seconds: parsed(LoadSeconds::new(6)), json: false },
            Action::NetworkLoad { interface: Some(parsed(IfName::parse("eth1"))), seconds: parsed(LoadSeconds::new(2)), json: true },
            Action::BackupCreate {},
            Action::BackupList { json: true },
            Action::BackupSpace { json: false },
            Action::BackupExport { name: parsed(BackupName::parse("h-1-backup-version-0.1.0-x-1970-01-01_00:00:00.tar")) },
            Action::NetworkLimitList { json: true },
            Action::BackupRestore {
                file: Some(parsed(BackupRef::parse("h-1-backup-version-0.1.0-x-1970-01-01_00:00:00.tar"))),
                yes: true,
                force: false,
            },
            Action::BackupRestore { file: Some(parsed(BackupRef::parse("/var/cyberx/backups/b.tar"))), yes: false, force: true },
            Action::BackupRestore { file: None, yes: false, force: true },
            Action::Upgrade {
                package: Some(parsed(AbsPath::parse("/tmp/p.pkg"))),
                allow_downgrade: true,
                reboot: false,
                commit: false,
                rollback: false,
                status: false,
                json: false,
            },
            Action::PackageKeygen { prefix: parsed(LocalPath::parse("k")) },
            Action::PackageBuild {
                key: parsed(LocalPath::parse("k.key")),
                version: "1.0".into(),
                boards: vec!["generic-x86".into()],
                min_version: "0".into(),
                dir: parsed(LocalPath::parse("d")),
                output: parsed(LocalPath::parse("o")),
            },
            Action::CertImport {
                crt: FileBytes::new(b"CRT".to_vec()),
                key: FileBytes::new(b"KEY".to_vec()),
                chain: None,
                pass: None,
                passphrase_set: true,
            },
            Action::CertImport {
                crt: FileBytes::new(b"CRT".to_vec()),
                key: FileBytes::new(vec![0, 255, b'\n']),
                chain: Some(FileBytes::new(b"CHAIN".to_vec())),
                pass: Some(parsed(Passphrase::parse("p#1"))),
                passphrase_set: false,
            },
            Action::CertSelfSigned {},
            Action::CertShow { json: true },
        ] {
            let wire = crate::wire::encode(&action);
            assert_eq!(crate::wire::decode::<Action>(&wire), Ok(action.clone()), "{wire}");
            // As the daemon decodes it.
            let request = crate::wire::encode(&crate::daemon::Request { id: 3, action: action.clone() });
            assert!(!request.contains('\n'), "{request}");
            assert_eq!(crate::wire::decode::<crate::daemon::Request>(&request).map(|r| r.action), Ok(action), "{request}");
        }
        assert!(crate::wire::decode::<Action>("{\"Bogus\":{}}").is_err());
    }

    #[test]
    fn every_kind_is_listed_once_and_each_action_falls_under_one() {
        for (at, kind) in ActionKind::ALL.iter().enumerate() {
            assert!(!ActionKind::ALL[at + 1..].contains(kind), "{kind:?} twice");
        }
        let blink = Action::NetworkBlink {
            interface: parsed(IfName::parse("eth1")),
            seconds: parsed(BlinkSeconds::new(20)),
        };
        assert_eq!((blink.kind(), blink.audit_target()), (ActionKind::NetworkBlink, "eth1".to_string()));
        assert_eq!(Action::Shutdown {}.audit_target(), "-");
        assert_eq!(Action::BackupRestore { file: None, yes: true, force: false }.audit_target(), "newest");
    }

    #[test]
    fn a_password_in_an_action_never_reaches_a_debug_print() {
        let action = Action::PasswordReset {
            user: parsed(UserName::parse("support")),
            password: Some(crate::password::Secret::new("Never-Shown1".into())),
            password_stdin: false,
            legacy_alias: true,
        };
        let text = format!("{action:?}");
        assert!(!text.contains("Never-Shown1") && text.contains("<redacted>"), "{text}");
    }
}
