//! Appliance users' passwords: `system password <user>` / `cyberx-users-password-reset` (reset
//! another user's password) and `passwd` (the caller's own, after the current one).
//!
//! A password is set in both places a user logs in: the OS login (`<root>/etc/shadow`, a
//! SHA-512-crypt hash, see [`crate::shadow`]) and the local (web) users store (PBKDF2, see
//! [`crate::localusers`]). Which places apply:
//!
//! | user | OS (`/etc/shadow`) | UI (users store) |
//! |---|---|---|
//! | support / admin, cyberx (in passwd and the board's role map) | yes | yes (entry created if missing) |
//! | cyberx_host | yes | only if it has an entry |
//! | a local (web) user (an entry in the store only) | no | yes |
//! | root, system users, unknown names | refused | refused |
//!
//! Who may reset whom: cyberx and root reset any appliance user; support (admin) resets support
//! and admin users and local users, never the more privileged cyberx or cyberx_host (that would
//! hand support their role). The old alias `cyberx-users-password-reset` is cyberx's alone.
//!
//! New passwords must pass [`crate::password::check_policy`]; nothing is written otherwise. Both
//! hashes are computed first, then both files are rewritten while the `/etc/.pwd.lock` lock is
//! held. Every attempt, allowed or not, is recorded in the audit log — never the password.
//!
//! Passwords are asked through the executor's prompter before anything is locked (see
//! `crate::action::exec`): on the terminal in-process, on the caller's terminal over the
//! daemon's socket otherwise. So each command is two halves: `prepare_*` checks and asks,
//! [`reset`] and [`own`] write.
//!
//! Needs root (writes `/etc/shadow` and the users store).
#![forbid(unsafe_code)]

use crate::outcome::Status;
use crate::audit;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use crate::localusers::{self, Store};
use crate::password::{self, Secret};
use crate::prompt::{self, Prompter};
use crate::paths::PASSWD_FILE;
use crate::role::{role_of, Role};
use crate::shacrypt::{self, Verdict};
use crate::shadow;
use crate::validate::{printable, UserName};
use ring::rand::SystemRandom;
use std::io::Write;
use std::time::Duration;

/// The multi-call name of the 2022 reference's reset command.
pub const LEGACY_ALIAS: &str = "cyberx-users-password-reset";
/// How long `passwd` waits after a wrong current password, as pam_unix does, to slow guessing.
const FAIL_DELAY: Duration = Duration::from_secs(1);

/// Where a user's password lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The user's role in the board's role map ([`Role::None`] for a local-only user).
    pub role: Role,
    /// An OS login with a shadow line.
    pub os: bool,
    /// A web (UI) login in the users store (existing, or to be created).
    pub ui: bool,
}

/// Whether `user` is an appliance OS user: in `<root>/etc/passwd`, and mapped by the board's
/// role map to support, cyberx or cyberx_host.
pub fn is_appliance_os_user(ctx: &Context, user: &UserName) -> Result<bool> {
    let role = role_of(&ctx.board()?.roles, user);
    Ok(matches!(role, Role::Support | Role::Cyberx | Role::CyberxHost) && in_passwd(ctx, user)?)
}

fn in_passwd(ctx: &Context, user: &UserName) -> Result<bool> {
    let path = ctx.root.resolve(PASSWD_FILE);
    let text = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
    Ok(passwd_has(&text, user))
}

/// Whether the bytes of a passwd(5) file have a seven-field line for `user`.
pub fn passwd_has(passwd: &[u8], user: &UserName) -> bool {
    passwd.split(|&b| b == b'\n').any(|line| {
        let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
        fields.len() == 7 && fields[0] == user.as_str().as_bytes()
    })
}

/// Which of the two password places apply to `user` (see the module table); refuses root and
/// users who are not appliance users.
pub fn target(ctx: &Context, user: &UserName, store: &Store) -> Result<Target> {
    let role = role_of(&ctx.board()?.roles, user);
    if user.as_str() == "root" || role == Role::Root {
        return Err(Error::Usage(format!(
            "'{user}' is not an appliance user: its password is not managed here (appliance users are support, admin, cyberx, cyberx_host and local users)"
        )));
    }
    let in_store = store.find(user.as_str()).is_some();
    if is_appliance_os_user(ctx, user)? {
        let ui = in_store || matches!(role, Role::Support | Role::Cyberx);
        return Ok(Target { role, os: true, ui });
    }
    if in_store {
        return Ok(Target { role: Role::None, os: false, ui: true });
    }
    Err(Error::Usage(format!(
        "unknown user '{user}': not an appliance user (support, admin, cyberx, cyberx_host or a local user)"
    )))
}

/// The old alias is cyberx's (and root's): the 2022 reference gave it to cyberx only. The
/// policy row `PasswordReset` also admits support, for `system password`.
pub fn authorize_legacy_alias(ctx: &Context, user: &UserName) -> Result<()> {
    if matches!(ctx.caller.role, Role::Cyberx | Role::Root) {
        return Ok(());
    }
    audit::record(ctx, "password-reset", user.as_str(), &format!("denied: {LEGACY_ALIAS} is for cyberx"));
    Err(Error::Denied {
        role: format!("{} ({LEGACY_ALIAS} is for cyberx; use system password <user>)", ctx.caller.role),
    })
}

/// Whether the caller may reset the password of a user with `target` role.
fn may_reset(caller: Role, target: Role) -> bool {
    match caller {
        Role::Root | Role::Cyberx => true,
        Role::Support => matches!(target, Role::Support | Role::None),
        Role::CyberxHost | Role::None => false,
    }
}

/// How the new password arrives.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// From argv (`-p`): works, with a warning.
    Argv(&'a Secret),
    /// One line on standard input (`--password-stdin`).
    Stdin,
    /// Asked twice, without echo.
    Prompt,
}

/// A password change, checked and answered, ready to be written.
#[derive(Debug)]
pub struct ResetPlan {
    user: UserName,
    target: Target,
    password: Secret,
}

/// `system password <user>` / `cyberx-users-password-reset -u <user> -p <password>`, its first
/// half: who may reset whom is checked, then the new password is read (asked twice, or one line)
/// and checked against the policy. Every refusal is audited.
pub fn prepare_reset(ctx: &Context, user: &UserName, source: Source<'_>, prompter: &mut dyn Prompter) -> Result<ResetPlan> {
    let refuse = |err: Error| {
        audit::record(ctx, "password-reset", user.as_str(), &format!("refused: {}", audit_reason(&err)));
        err
    };
    let store = Store::load(&ctx.root).map_err(refuse)?;
    let target = target(ctx, user, &store).map_err(refuse)?;
    if !may_reset(ctx.caller.role, target.role) {
        audit::record(ctx, "password-reset", user.as_str(), "denied: a more privileged user");
        return Err(Error::Denied {
            role: format!("{} (the password of {user}, role {}, is reset by cyberx or root)", ctx.caller.role, target.role),
        });
    }
    let password = match source {
        Source::Argv(password) => {
            let _ = writeln!(
                std::io::stderr(),
                "sensorctl: warning: a password given with -p is visible to other processes on this machine (ps, /proc/<pid>/cmdline); prefer --password-stdin or the prompt of 'system password <user>'"
            );
            password.clone()
        }
        Source::Stdin => prompt::password(prompter, "").map_err(refuse)?,
        Source::Prompt => prompt::new_password_twice(prompter).map_err(refuse)?,
    };
    password::check_policy(&password).map_err(refuse)?;
    Ok(ResetPlan { user: user.clone(), target, password })
}

/// The second half of [`prepare_reset`]: both password places are written.
pub fn reset(ctx: &Context, plan: &ResetPlan, out: &mut dyn Write) -> Result<Status> {
    let user = plan.user.as_str();
    set_password(ctx, &plan.user, plan.target, &plan.password, true, out).inspect_err(|err| {
        audit::record(ctx, "password-reset", user, &format!("failed: {}", audit_reason(err)));
    })?;
    audit::record(ctx, "password-reset", user, &done(plan.target));
    Ok(Status::Ok)
}

/// `passwd`, its first half: the current password is asked and checked (a wrong one waits a
/// second and changes nothing), then the new one twice, against the policy.
pub fn prepare_own(ctx: &Context, prompter: &mut dyn Prompter, out: &mut dyn Write) -> Result<ResetPlan> {
    let Some(name) = ctx.caller.user.clone() else {
        return Err(Error::Usage(format!("uid {} has no user name in the passwd file", ctx.caller.uid)));
    };
    let user = name.as_str().to_string();
    let refuse = |err: Error| {
        audit::record(ctx, "passwd", &user, &format!("refused: {}", audit_reason(&err)));
        err
    };
    let store = Store::load(&ctx.root).map_err(refuse)?;
    let target = target(ctx, &name, &store).map_err(refuse)?;
    emit(out, &format!("Changing password for user {name}."))?;
    out.flush().map_err(|e| Error::io("write", "standard output", e))?;
    let current = prompt::password(prompter, "(current) UNIX password: ").map_err(refuse)?;
    if !current_is_right(ctx, &name, target, &store, &current).map_err(refuse)? {
        std::thread::sleep(FAIL_DELAY);
        audit::record(ctx, "passwd", &user, "failed: wrong current password");
        return Err(Error::Problem(
            "authentication token manipulation error: the current password is wrong; nothing was changed".to_string(),
        ));
    }
    let new = prompt::new_password_twice(prompter).map_err(refuse)?;
    password::check_policy(&new).map_err(refuse)?;
    if new == current {
        return Err(refuse(Error::Usage("the new password is the current one; nothing was changed".to_string())));
    }
    Ok(ResetPlan { user: name, target, password: new })
}

/// The second half of [`prepare_own`].
pub fn own(ctx: &Context, plan: &ResetPlan, out: &mut dyn Write) -> Result<Status> {
    let user = plan.user.as_str();
    set_password(ctx, &plan.user, plan.target, &plan.password, false, out).inspect_err(|err| {
        audit::record(ctx, "passwd", user, &format!("failed: {}", audit_reason(err)));
    })?;
    audit::record(ctx, "passwd", user, &done(plan.target));
    emit(out, "passwd: all authentication tokens updated successfully.")?;
    Ok(Status::Ok)
}

fn done(target: Target) -> String {
    match (target.os, target.ui) {
        (true, true) => "ok: OS and UI passwords set",
        (true, false) => "ok: OS password set",
        _ => "ok: UI password set",
    }
    .to_string()
}

/// An error as the audit log gets it: the message (which never holds a password).
fn audit_reason(err: &Error) -> String {
    err.to_string()
}

/// Checks the current password where the user's password lives: the shadow hash (SHA-512-crypt)
/// first, else the users store.
fn current_is_right(ctx: &Context, user: &UserName, target: Target, store: &Store, current: &Secret) -> Result<bool> {
    let bytes = current.expose().as_bytes();
    if target.os {
        let shadow = shadow::read(&ctx.root)?;
        let hash = shadow::hash_of(&shadow, user.as_str()).unwrap_or_default();
        match shacrypt::verify(bytes, &hash) {
            Verdict::Match => return Ok(true),
            Verdict::Mismatch => return Ok(false),
            // Locked (`!…`) or no password (`*`, empty): nothing to match.
            Verdict::NotSha512Crypt if !hash.starts_with('$') => return Ok(false),
            Verdict::NotSha512Crypt => {
                if store.find(user.as_str()).is_none() {
                    let scheme = hash.split('$').nth(1).unwrap_or_default();
                    return Err(Error::Unsupported(format!(
                        "the current password's hash (${}$) is not SHA-512-crypt; ask cyberx to reset it",
                        printable(scheme)
                    )));
                }
            }
        }
    }
    Ok(match store.find(user.as_str()) {
        Some(entry) => localusers::verify(entry, bytes),
        None => localusers::verify_nobody(bytes),
    })
}

/// Computes both hashes, then writes them under the password-file lock.
fn set_password(ctx: &Context, user: &UserName, target: Target, password: &Secret, say: bool, out: &mut dyn Write) -> Result<()> {
    let rng = SystemRandom::new();
    let (now, _) = crate::sys::clock::realtime();
    let os_hash = match target.os {
        true => Some(shacrypt::new_hash(password.expose().as_bytes(), &rng)?),
        false => None,
    };
    let ui_entry = match target.ui {
        true => Some(localusers::new_entry(user.as_str(), password, &rng, now)?),
        false => None,
    };
    let lock = shadow::lock(&ctx.root, shadow::LOCK_TIMEOUT)?;
    if let Some(hash) = os_hash {
        if say {
            emit(out, &format!("resetting the password of OS user \"{user}\""))?;
        }
        shadow::set_hash(&ctx.root, user.as_str(), &hash, &lock)?;
    }
    if let Some(entry) = ui_entry {
        if say {
            emit(out, &format!("resetting the password of UI user \"{user}\""))?;
        }
        // Re-read under the lock: another writer may have changed other entries meanwhile.
        let mut store = Store::load(&ctx.root)?;
        shadow::remove_stale_temporaries(&Store::path(&ctx.root));
        store.put(entry);
        store.save(&ctx.root)?;
    }
    drop(lock);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_resets_support_and_local_users_only() {
        assert!(may_reset(Role::Support, Role::Support));
        assert!(may_reset(Role::Support, Role::None));
        assert!(!may_reset(Role::Support, Role::Cyberx));
        assert!(!may_reset(Role::Support, Role::CyberxHost));
        for target in [Role::Support, Role::Cyberx, Role::CyberxHost, Role::None] {
            assert!(may_reset(Role::Cyberx, target));
            assert!(may_reset(Role::Root, target));
            assert!(!may_reset(Role::CyberxHost, target));
        }
    }
}
