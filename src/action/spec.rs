//! The one spec of every action kind: who may run it, its audit name, whether it changes state,
//! whether the daemon serves it over its socket, whether the restricted shell may run it, and
//! who audits how it ended.
//!
//! [`ActionKind::spec`] is a single `match` with no `_` arm: an action kind cannot compile
//! without its row, and every other table (the policy, the daemon's lock and socket rules, the
//! shell's list, the audit) is derived from it. Needs no privileges.
#![forbid(unsafe_code)]

use super::ActionKind;
use crate::error::{Error, Result};
use crate::role::Role;

/// Who writes the audit line of how an action ended. A refusal by the policy is always
/// audited, whatever this says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audit {
    /// Read-only: only a refusal by the policy is recorded.
    Refusals,
    /// The executor records every outcome (`ok`, `problem`, `failed: why`).
    Outcome,
    /// The action records its own outcomes, with more than the executor knows (the certificate
    /// fingerprint installed, the host locked out); the executor records only refusals.
    ByAction,
}

/// Everything about one action kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The roles besides root that may run it (root may run everything).
    pub roles: &'static [Role],
    /// Its name in the audit log (`action=…`).
    pub audit_name: &'static str,
    /// It changes the appliance's state: the daemon runs such actions one at a time.
    pub changes_state: bool,
    /// The daemon runs it for callers over its socket (not: it needs the caller's own terminal
    /// or process, or is the daemon's own business).
    pub served: bool,
    /// The restricted shell offers it (not: it only makes sense from a login or a build host).
    pub in_shell: bool,
    /// Who audits how it ended.
    pub audit: Audit,
}

use Role::{Cyberx, CyberxHost, Support};

const SUPPORT_CYBERX: &[Role] = &[Support, Cyberx];
const ALL_USERS: &[Role] = &[Support, Cyberx, CyberxHost];
const CYBERX: &[Role] = &[Cyberx];
const ROOT_ONLY: &[Role] = &[];

/// A read-only command any caller of `roles` may run from anywhere.
const fn read(roles: &'static [Role], audit_name: &'static str) -> Spec {
    Spec { roles, audit_name, changes_state: false, served: true, in_shell: true, audit: Audit::Refusals }
}

/// A state change any caller of `roles` may ask for from anywhere, audited as `audit`.
const fn change(roles: &'static [Role], audit_name: &'static str, audit: Audit) -> Spec {
    Spec { roles, audit_name, changes_state: true, served: true, in_shell: true, audit }
}

impl ActionKind {
    /// The spec of this kind (see the module documentation).
    pub const fn spec(self) -> Spec {
        use ActionKind as A;
        use Audit::{ByAction, Outcome, Refusals};
        match self {
            A::Sanity => read(SUPPORT_CYBERX, "sanity"),
            A::Reboot => change(ALL_USERS, "reboot", Outcome),
            A::Shutdown => change(ALL_USERS, "shutdown", Outcome),
            A::Version => read(SUPPORT_CYBERX, "version"),
            A::Date => read(ALL_USERS, "date"),
            A::NtpEnable => change(SUPPORT_CYBERX, "ntp-enable", Outcome),
            A::NtpDisable => change(SUPPORT_CYBERX, "ntp-disable", Outcome),
            A::NtpStatus => read(SUPPORT_CYBERX, "ntp-status"),
            A::PasswordReset => change(SUPPORT_CYBERX, "password-reset", ByAction),
            A::OwnPassword => change(ALL_USERS, "passwd", ByAction),
            A::LoginProtection => change(CYBERX, "login-protection", ByAction),
            A::NetworkValidate => read(SUPPORT_CYBERX, "network-validate"),
            A::Ping => read(SUPPORT_CYBERX, "ping"),
            // The port's LED is held by a lock of its own for the blink's whole time, never the
            // daemon's state lock (it waits for the clock, up to an hour).
            A::NetworkBlink => Spec { changes_state: false, ..change(&[Support], "network-blink", Outcome) },
            A::NetworkList => read(SUPPORT_CYBERX, "network-list"),
            A::InternetCheck => read(CYBERX, "internet-check"),
            A::NetworkLoad => read(CYBERX, "network-load"),
            A::NetworkLimit => change(CYBERX, "network-limit", Outcome),
            A::NetworkLimitList => read(CYBERX, "network-limit-list"),
            A::NetworkReconfigure => change(&[Support, CyberxHost], "network-reconfigure", Outcome),
            A::CertImport => change(CYBERX, "cert-import", ByAction),
            A::CertSelfSigned => change(CYBERX, "cert-self-signed", ByAction),
            A::CertShow => read(CYBERX, "cert-show"),
            A::Upgrade => change(CYBERX, "upgrade", Outcome),
            A::BackupCreate => change(SUPPORT_CYBERX, "backup", Outcome),
            A::BackupList => read(SUPPORT_CYBERX, "backup-list"),
            A::BackupRestore => change(SUPPORT_CYBERX, "restore", Outcome),
            A::BackupSpace => read(CYBERX, "backup-space"),
            // Read-only, but it hands the appliance's keys (inside the backup) to the caller:
            // every export is audited, as a backup is.
            A::BackupExport => Spec { audit: Outcome, ..read(CYBERX, "backup-export") },
            // The login shell runs in the caller's own process and sends each command on.
            A::Shell => Spec { served: false, in_shell: false, ..read(ALL_USERS, "shell") },
            A::Daemon => Spec { served: false, in_shell: false, ..read(ROOT_ONLY, "daemon") },
            A::Install => Spec { served: false, in_shell: false, ..change(ROOT_ONLY, "install", Refusals) },
            // pam_exec runs it as root with the password on its stdin.
            A::Auth => Spec { served: false, in_shell: false, ..change(ROOT_ONLY, "login", ByAction) },
            // Firmware builders' tools, on a build host: nothing of the appliance changes.
            A::PackageTools => Spec { served: false, in_shell: false, ..read(ROOT_ONLY, "package") },
            A::CaptureFilter => change(SUPPORT_CYBERX, "capture-filter", Outcome),
            // Listens for the clock (`--seconds`), so it holds no lock; it changes nothing.
            A::CaptureFilterTest => read(SUPPORT_CYBERX, "capture-filter-test"),
            A::CaptureFilterShow => read(SUPPORT_CYBERX, "capture-filter-show"),
        }
    }

    /// The roles besides root that may run this kind.
    pub fn allowed_roles(self) -> &'static [Role] {
        self.spec().roles
    }

    /// The action's name in the audit log (`action=…`).
    pub fn audit_name(self) -> &'static str {
        self.spec().audit_name
    }

    /// Whether the daemon runs actions of this kind one at a time.
    pub fn changes_state(self) -> bool {
        self.spec().changes_state
    }

    /// Whether the daemon serves this kind over its socket.
    pub fn served(self) -> bool {
        self.spec().served
    }

    /// Whether the restricted shell offers this kind.
    pub fn in_shell(self) -> bool {
        self.spec().in_shell
    }
}

/// Whether `role` may run `kind`.
pub fn permits(role: Role, kind: ActionKind) -> bool {
    role == Role::Root || kind.allowed_roles().contains(&role)
}

/// The authorization step: `Err(Denied)` (exit 77) unless the policy allows it.
pub fn authorize(role: Role, kind: ActionKind) -> Result<()> {
    if permits(role, kind) {
        Ok(())
    } else {
        Err(Error::Denied { role: role.name().to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN.md's command table, transcribed row by row (action, "roles" column) as written
    /// there, independently of the spec; the rows the issues added (ntp status, cert show,
    /// install, auth, package tools, and issue 24's limit list and backup export) follow their
    /// issues.
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
        (ActionKind::NetworkLimitList, "cyberx"),
        (ActionKind::NetworkReconfigure, "support(admin), cyberx_host"),
        (ActionKind::CertImport, "cyberx"),
        (ActionKind::CertSelfSigned, "cyberx"),
        (ActionKind::CertShow, "cyberx"),
        (ActionKind::Upgrade, "cyberx"),
        (ActionKind::BackupCreate, "support, cyberx"),
        (ActionKind::BackupList, "support, cyberx"),
        (ActionKind::BackupRestore, "support, cyberx"),
        (ActionKind::BackupSpace, "cyberx"),
        (ActionKind::BackupExport, "cyberx"),
        (ActionKind::Shell, "login shell"),
        (ActionKind::Daemon, "root only"),
        (ActionKind::Install, "root only"),
        (ActionKind::Auth, "root only"),
        (ActionKind::PackageTools, "root only"),
        (ActionKind::CaptureFilter, "support, cyberx"),
        (ActionKind::CaptureFilterTest, "support, cyberx"),
        (ActionKind::CaptureFilterShow, "support, cyberx"),
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
        for &kind in ActionKind::ALL {
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

    /// Every property of every kind, written out independently of the spec's helpers: the
    /// derived accessors must agree with it, so that a spec row changed by accident (a new
    /// kind copied from the wrong neighbour) fails here.
    #[test]
    fn every_property_of_every_kind_comes_from_the_one_spec() {
        use ActionKind as A;
        // (kind, changes state, served, in shell, audit)
        let expected: &[(ActionKind, bool, bool, bool, Audit)] = &[
            (A::Sanity, false, true, true, Audit::Refusals),
            (A::Reboot, true, true, true, Audit::Outcome),
            (A::Shutdown, true, true, true, Audit::Outcome),
            (A::Version, false, true, true, Audit::Refusals),
            (A::Date, false, true, true, Audit::Refusals),
            (A::NtpEnable, true, true, true, Audit::Outcome),
            (A::NtpDisable, true, true, true, Audit::Outcome),
            (A::NtpStatus, false, true, true, Audit::Refusals),
            (A::PasswordReset, true, true, true, Audit::ByAction),
            (A::OwnPassword, true, true, true, Audit::ByAction),
            (A::LoginProtection, true, true, true, Audit::ByAction),
            (A::NetworkValidate, false, true, true, Audit::Refusals),
            (A::Ping, false, true, true, Audit::Refusals),
            (A::NetworkBlink, false, true, true, Audit::Outcome),
            (A::NetworkList, false, true, true, Audit::Refusals),
            (A::InternetCheck, false, true, true, Audit::Refusals),
            (A::NetworkLoad, false, true, true, Audit::Refusals),
            (A::NetworkLimit, true, true, true, Audit::Outcome),
            (A::NetworkLimitList, false, true, true, Audit::Refusals),
            (A::NetworkReconfigure, true, true, true, Audit::Outcome),
            (A::CertImport, true, true, true, Audit::ByAction),
            (A::CertSelfSigned, true, true, true, Audit::ByAction),
            (A::CertShow, false, true, true, Audit::Refusals),
            (A::Upgrade, true, true, true, Audit::Outcome),
            (A::BackupCreate, true, true, true, Audit::Outcome),
            (A::BackupList, false, true, true, Audit::Refusals),
            (A::BackupRestore, true, true, true, Audit::Outcome),
            (A::BackupSpace, false, true, true, Audit::Refusals),
            (A::BackupExport, false, true, true, Audit::Outcome),
            (A::Shell, false, false, false, Audit::Refusals),
            (A::Daemon, false, false, false, Audit::Refusals),
            (A::Install, true, false, false, Audit::Refusals),
            (A::Auth, true, false, false, Audit::ByAction),
            (A::PackageTools, false, false, false, Audit::Refusals),
            (A::CaptureFilter, true, true, true, Audit::Outcome),
            (A::CaptureFilterTest, false, true, true, Audit::Refusals),
            (A::CaptureFilterShow, false, true, true, Audit::Refusals),
        ];
        assert_eq!(expected.len(), ActionKind::ALL.len());
        for &(kind, changes_state, served, in_shell, audit) in expected {
            let spec = kind.spec();
            assert_eq!(
                (spec.changes_state, spec.served, spec.in_shell, spec.audit),
                (changes_state, served, in_shell, audit),
                "{kind:?}"
            );
            assert_eq!(kind.changes_state(), changes_state);
            assert_eq!(kind.served(), served);
            assert_eq!(kind.in_shell(), in_shell);
            assert_eq!(kind.allowed_roles(), spec.roles);
            assert_eq!(kind.audit_name(), spec.audit_name);
        }
        let mut names: Vec<&str> = ActionKind::ALL.iter().map(|k| k.audit_name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ActionKind::ALL.len(), "audit names are unique");
    }

    #[test]
    fn denial_is_exit_77_with_the_role_in_the_message() {
        let err = authorize(Role::Support, ActionKind::NetworkLimit).unwrap_err();
        assert_eq!(err.exit_code(), 77);
        assert_eq!(err.to_string(), "permission denied for role support");
        assert!(authorize(Role::None, ActionKind::Date).is_err());
    }
}
