//! The executor: the one way any action runs, in this process (root) or in the daemon (for
//! everyone else, whose role the daemon establishes again from the kernel).
//!
//! [`run`] reads check → authorize → ask → lock → act:
//! 1. the policy ([`super::spec`]) is consulted before anything happens; a refusal is audited;
//! 2. every question to the operator is asked, the caller's files are opened and the network
//!    is asked ([`prepare`]) — all before any lock, so no lock is ever held across a wait for a
//!    person, the clock or a caller's file;
//! 3. an action that changes state takes the [`StateLock`] of wherever it runs (the daemon's
//!    runs them one at a time, and says who holds it when busy);
//! 4. the domain module acts, and its outcome is audited as the spec says.
//!
//! Privileges: whatever the executed action needs; the policy check itself needs none.
#![forbid(unsafe_code)]

use super::{authorize, Action, ActionKind, Audit};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::{audit_result, Status};
use crate::prompt::Prompter;
use std::io::Write;

/// The state lock of the place an action runs. The daemon's lets one state-changing action run
/// at a time and answers "busy" after a short wait; a root command line has none (the domain
/// modules' own file locks keep it apart from the daemon).
pub trait StateLock: Sync {
    /// Holds the lock for `action` of `ctx`'s caller until the guard is dropped.
    fn hold(&self, action: &Action, ctx: &Context) -> Result<Box<dyn Send + '_>>;
}

/// No lock: a root command line.
pub struct NoStateLock;

impl StateLock for NoStateLock {
    fn hold(&self, _action: &Action, _ctx: &Context) -> Result<Box<dyn Send + '_>> {
        Ok(Box::new(()))
    }
}

/// Where an action runs: the caller's context, the prompter for its questions, and the lock.
pub struct Place<'a> {
    /// The caller, the root, the board, the cancel token.
    pub ctx: &'a Context,
    /// Questions go here.
    pub prompter: &'a mut dyn Prompter,
    /// The state lock.
    pub lock: &'a dyn StateLock,
}

/// check → authorize → ask → lock → act (see the module documentation).
pub fn run(action: &Action, place: Place<'_>, out: &mut dyn Write) -> Result<Status> {
    let Place { ctx, prompter, lock } = place;
    let kind = action.kind();
    let spec = kind.spec();
    if let Err(denied) = authorize(ctx.caller.role, kind) {
        crate::audit::record(ctx, spec.audit_name, &action.audit_target(), "denied");
        return Err(denied);
    }
    // The kind only: an action may carry a password.
    log::info!("{} (uid {}, role {}) runs {kind:?}", ctx.caller.user_name(), ctx.caller.uid, ctx.caller.role);
    let result = prepare(action, ctx, prompter, out).and_then(|prepared| match prepared {
        Prepared::Declined(status) => Ok(status),
        prepared => {
            let _held = if spec.changes_state { Some(lock.hold(action, ctx)?) } else { None };
            act(action, prepared, ctx, out)
        }
    });
    if spec.audit == Audit::Outcome {
        crate::audit::record(ctx, spec.audit_name, &action.audit_target(), &audit_result(&result));
    }
    result
}

/// What an action asked, opened or measured before it acts.
pub enum Prepared {
    /// Nothing was needed.
    Nothing,
    /// The operator said no: nothing happens, and the action ends with this status.
    Declined(Status),
    /// A password reset: who, where, and the new password.
    PasswordReset(crate::users::ResetPlan),
    /// The caller's own password change, the current one checked.
    OwnPassword(crate::users::ResetPlan),
    /// The backup to restore, confirmed.
    Restore(std::path::PathBuf),
    /// The NTP server's answer.
    NtpSample(crate::ntp::Measured),
    /// The caller's upgrade package, open.
    Package(std::fs::File),
    /// The management network settings, answered and checked.
    Network(crate::netconf::Settings),
    /// The capture filters asked for.
    CaptureFilter(crate::capture_filter::command::Asked),
}

/// Step 2 of [`run`]: everything that waits for a person, the network or a caller's file.
pub fn prepare(action: &Action, ctx: &Context, prompter: &mut dyn Prompter, out: &mut dyn Write) -> Result<Prepared> {
    Ok(match action {
        Action::PasswordReset { user, password, password_stdin, legacy_alias } => {
            if *legacy_alias {
                crate::users::authorize_legacy_alias(ctx, user)?;
            }
            let how = match (password, password_stdin) {
                (Some(password), _) => crate::users::Source::Argv(password),
                (None, true) => crate::users::Source::Stdin,
                (None, false) => crate::users::Source::Prompt,
            };
            Prepared::PasswordReset(crate::users::prepare_reset(ctx, user, how, prompter)?)
        }
        Action::OwnPassword {} => Prepared::OwnPassword(crate::users::prepare_own(ctx, prompter, out)?),
        Action::BackupRestore { file, yes, .. } => {
            match crate::backup::restore::choose(ctx, file.as_ref(), *yes, prompter)? {
                Some(path) => Prepared::Restore(path),
                None => {
                    crate::outcome::emit(out, "Restore cancelled; nothing was changed.")?;
                    Prepared::Declined(Status::Problem)
                }
            }
        }
        Action::NtpEnable { server } => Prepared::NtpSample(crate::ntp::measure(ctx, *server)?),
        Action::CaptureFilter { given, legacy_alias, .. } => {
            if *legacy_alias && !matches!(ctx.caller.role, crate::role::Role::Cyberx | crate::role::Role::Root) {
                crate::audit::record(
                    ctx,
                    "capture-filter",
                    &action.audit_target(),
                    "denied: cyberx-xsense-capture-filter is for cyberx",
                );
                return Err(Error::Denied {
                    role: format!(
                        "{} (cyberx-xsense-capture-filter is for cyberx; use network capture-filter)",
                        ctx.caller.role
                    ),
                });
            }
            Prepared::CaptureFilter(match given {
                Some(given) => given.asked(),
                None => crate::capture_filter::command::ask(prompter)?,
            })
        }
        Action::Upgrade { package: Some(package), .. } => {
            Prepared::Package(crate::upgrade::open_package(ctx, package)?)
        }
        Action::NetworkReconfigure { interface, ip, subnet, gateway, dns, monitors, erspan, backup_dir, yes } => {
            let given = crate::netconf::wizard::Given {
                interface: interface.clone(),
                ip: *ip,
                subnet: *subnet,
                gateway: *gateway,
                dns: dns.clone(),
                monitors: monitors.clone(),
                erspan: erspan.clone(),
                backup_dir: backup_dir.clone(),
            };
            match crate::netconf::wizard::converse(ctx, given, *yes, prompter, out)? {
                Some(settings) => Prepared::Network(settings),
                None => return Err(Error::Problem("cancelled: nothing changed".to_string())),
            }
        }
        _ => Prepared::Nothing,
    })
}

/// An action that reached [`act`] without what [`prepare`] gives it: a bug, not bad input.
fn unprepared(kind: ActionKind) -> Error {
    Error::Problem(format!("internal error: {kind:?} was not prepared"))
}

/// Step 4 of [`run`]: the act, once the caller is authorized, asked and holding the lock.
fn act(action: &Action, prepared: Prepared, ctx: &Context, out: &mut dyn Write) -> Result<Status> {
    let cancel = &ctx.cancel;
    match action {
        Action::Version { json } => crate::info::version(ctx, *json, out),
        Action::Date { json } => crate::info::date(*json, out),
        Action::Sanity { json } => crate::health::sanity(ctx, *json, out),
        Action::Reboot {} => crate::power::run(ctx, crate::power::Power::Restart, out),
        Action::Shutdown {} => crate::power::run(ctx, crate::power::Power::PowerOff, out),
        Action::NetworkList { all, json } => crate::netlist::run(*all, *json, out),
        Action::NtpEnable { server } => {
            let Prepared::NtpSample(measured) = prepared else { return Err(unprepared(action.kind())) };
            crate::ntp::enable(ctx, *server, measured, out)
        }
        Action::NtpDisable { server } => crate::ntp::disable(ctx, *server, out),
        Action::NtpStatus { json } => crate::ntp::status(ctx, *json, out),
        Action::NtpQuery { server, json } => crate::ntp::query(*server, cancel, *json, out),
        Action::Shell { .. } | Action::Daemon {} | Action::Install { .. } => {
            // Front ends of the command line, not actions: `cli::main` runs them itself after
            // the policy check (they need its command table or its terminal).
            Err(Error::Usage(format!("{} is run from the command line only", action.kind().audit_name())))
        }
        Action::NetworkBlink { interface, seconds } => crate::blink::run(ctx, interface, seconds.get(), out),
        Action::Ping { address, count, timeout_s, interval_ms } => {
            let plan = crate::ping::PingPlan {
                target: address.addr(),
                count: count.get(),
                interval: std::time::Duration::from_millis(u64::from(interval_ms.get())),
                timeout: std::time::Duration::from_secs(u64::from(timeout_s.get())),
            };
            crate::ping::run(&plan, cancel, out)
        }
        Action::InternetCheck { url, json } => crate::internet::run(ctx, url.as_ref(), *json, out),
        Action::NetworkValidate { json } => crate::netconf::validate::run(ctx, *json, out),
        Action::NetworkReconfigure { .. } => {
            let Prepared::Network(settings) = prepared else { return Err(unprepared(action.kind())) };
            crate::netconf::apply::reconfigure(ctx, &settings, out)
        }
        Action::NetworkLimit { interface, limit, clear } => {
            let change = match (limit, clear) {
                (Some(limit), false) => crate::limit::Change::Set(limit.clone()),
                (None, true) => crate::limit::Change::Clear,
                _ => return Err(Error::Usage("give either --limit or --clear".to_string())),
            };
            crate::limit::run(ctx, interface, &change, out)
        }
        Action::NetworkLoad { interface, seconds, json } => {
            crate::netload::run(ctx, interface.as_ref(), seconds.get(), *json, out)
        }
        Action::NetworkLimitList { json } => crate::limit::list(ctx, *json, out),
        Action::PasswordReset { .. } => {
            let Prepared::PasswordReset(plan) = prepared else { return Err(unprepared(action.kind())) };
            crate::users::reset(ctx, &plan, out)
        }
        Action::OwnPassword {} => {
            let Prepared::OwnPassword(plan) = prepared else { return Err(unprepared(action.kind())) };
            crate::users::own(ctx, &plan, out)
        }
        Action::LoginProtection { max_failed, window_s, json } => {
            crate::login::protection(ctx, max_failed.map(|m| m.get()), window_s.map(|w| w.get()), *json, out)
        }
        Action::Auth { pam_type, user, rhost } => crate::login::auth(ctx, *pam_type, user, rhost.as_deref(), out),
        Action::BackupCreate {} => crate::backup::create::run(ctx, out),
        Action::BackupList { json } => crate::backup::list(ctx, *json, out),
        Action::BackupSpace { json } => crate::backup::space(ctx, *json, out),
        Action::BackupExport { name } => crate::backup::export(ctx, name, out),
        Action::BackupRestore { force, .. } => {
            let Prepared::Restore(path) = prepared else { return Err(unprepared(action.kind())) };
            crate::backup::restore::run(ctx, &path, *force, out)
        }
        Action::Upgrade { package, allow_downgrade, reboot, commit, rollback, status, json } => {
            match (package, commit, rollback, status) {
                (Some(package), false, false, false) => {
                    let Prepared::Package(file) = prepared else { return Err(unprepared(action.kind())) };
                    let options = crate::upgrade::Options { allow_downgrade: *allow_downgrade, reboot: *reboot };
                    crate::upgrade::apply(ctx, package, file, options, out)
                }
                (None, true, false, false) => crate::upgrade::commit(ctx, out),
                (None, false, true, false) => crate::upgrade::rollback(ctx, out),
                (None, false, false, true) => crate::upgrade::status(ctx, *json, out),
                _ => Err(Error::Usage("give exactly one of: a package, --commit, --rollback, --status".to_string())),
            }
        }
        #[cfg(feature = "host-tools")]
        Action::PackageKeygen { prefix } => crate::upgrade::sign::keygen(&prefix.to_string(), out),
        #[cfg(feature = "host-tools")]
        Action::PackageBuild { key, version, boards, min_version, dir, output } => crate::upgrade::sign::build(
            &crate::upgrade::sign::BuildRequest {
                key: key.as_path(),
                version,
                boards,
                min_version,
                dir: dir.as_path(),
                output: output.as_path(),
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
            let request = crate::certs::ImportRequest::from_action(crt, key, chain.as_ref(), pass.as_ref(), *passphrase_set)?;
            crate::certs::import(ctx, &request, out)
        }
        Action::CertSelfSigned {} => crate::certs::self_signed(ctx, out),
        Action::CaptureFilter { test, seconds, .. } => {
            let Prepared::CaptureFilter(asked) = prepared else { return Err(unprepared(action.kind())) };
            match test {
                Some(interface) => crate::capture_filter::command::test(ctx, &asked, interface, seconds.get(), out),
                None => crate::capture_filter::command::run(ctx, &asked, out),
            }
        }
        Action::CaptureFilterShow { json } => crate::capture_filter::command::show(ctx, *json, out),
        Action::CertShow { json } => crate::certs::show(ctx, *json, out),
    }
}
