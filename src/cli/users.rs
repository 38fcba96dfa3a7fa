//! argh arguments of the user and login commands: `system password`, its 2022 alias
//! `cyberx-users-password-reset`, `passwd`, `system login-protection` and `auth`: argv → [`Action`].
//!
//! A password may be on the command line (`-p`), so argh's usage errors, which quote the
//! arguments they did not expect, are replaced by a message that quotes none of them.
//!
//! Pure apart from `auth`, which takes pam_exec's `PAM_*` variables from the environment;
//! needs no privileges.
#![forbid(unsafe_code)]

use crate::action::Action;
use crate::password::Secret;
use crate::users::LEGACY_ALIAS;
use crate::validate::{LockoutWindow, MaxFailed, UserName};
use argh::FromArgs;

/// The user argument as a [`UserName`]. The message does not quote it: a password typed in the
/// wrong place must not be echoed to the console.
fn user_name(text: &str) -> Result<UserName, argh::EarlyExit> {
    UserName::parse(text)
        .map_err(|_| usage_error("invalid user name: expected 1-32 characters of A-Z a-z 0-9 _ . -".to_string()))
}

fn usage_error(message: String) -> argh::EarlyExit {
    argh::EarlyExit { output: message, status: Err(()) }
}

/// argh's error, unless it quotes one of the arguments (which could be a password).
fn without_values(early: argh::EarlyExit, args: &[&str]) -> argh::EarlyExit {
    if early.status.is_ok() {
        return early;
    }
    let quotes_a_value = args.iter().any(|arg| !arg.starts_with('-') && early.output.contains(arg));
    if quotes_a_value {
        usage_error("unexpected or malformed arguments (not shown, as one may be a password); see --help".to_string())
    } else {
        early
    }
}

/// Reset an appliance user's password for both OS (SSH) and web login; asks for it twice.
#[derive(FromArgs, Debug)]
pub struct PasswordArgs {
    /// the user: support, admin, cyberx, cyberx_host or a local (web) user
    #[argh(positional)]
    pub user: String,
    /// read the new password from standard input (one line) instead of asking for it
    #[argh(switch)]
    pub password_stdin: bool,
}

/// Reset an appliance user's password for both OS (SSH) and web login (cyberx).
#[derive(FromArgs, Debug)]
pub struct LegacyResetArgs {
    /// the user whose password to reset
    #[argh(option, short = 'u')]
    pub user: String,
    /// the new password (other processes can see it: prefer --password-stdin)
    #[argh(option, short = 'p')]
    pub password: Option<String>,
    /// read the new password from standard input (one line)
    #[argh(switch)]
    pub password_stdin: bool,
}

/// Parses `system password <user>` and `cyberx-users-password-reset -u <user> -p <password>`
/// (told apart by the name they were invoked as).
pub fn parse_password(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    if name.first() == Some(&LEGACY_ALIAS) {
        let parsed = LegacyResetArgs::from_args(name, args).map_err(|e| without_values(e, args))?;
        if parsed.password.is_some() && parsed.password_stdin {
            return Err(usage_error("-p and --password-stdin cannot be used together".to_string()));
        }
        return Ok(Action::PasswordReset {
            user: user_name(&parsed.user)?,
            password: parsed.password.map(Secret::new),
            password_stdin: parsed.password_stdin,
            legacy_alias: true,
        });
    }
    let parsed = PasswordArgs::from_args(name, args).map_err(|e| without_values(e, args))?;
    Ok(Action::PasswordReset {
        user: user_name(&parsed.user)?,
        password: None,
        password_stdin: parsed.password_stdin,
        legacy_alias: false,
    })
}

/// Change your own password (asks for the current one first).
#[derive(FromArgs, Debug)]
pub struct PasswdArgs {}

/// Parses `passwd`.
pub fn parse_passwd(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    PasswdArgs::from_args(name, args).map_err(|e| without_values(e, args))?;
    Ok(Action::OwnPassword {})
}

/// Show or set the failed-login protection: how many failed logins from one remote host lock
/// it out, and for how long.
#[derive(FromArgs, Debug)]
pub struct LoginProtectionArgs {
    /// failed logins from one host before it is locked out, 1-100 (default 5)
    #[argh(option)]
    pub max_failed: Option<u32>,
    /// the window failures count in, and how long a lockout lasts, 1-86400 seconds (default 900)
    #[argh(option)]
    pub window: Option<u64>,
    /// print JSON with the limit, the window in seconds and the locked-out hosts
    #[argh(switch)]
    pub json: bool,
}

/// Parses `system login-protection`.
pub fn parse_login_protection(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = LoginProtectionArgs::from_args(name, args)?;
    let max_failed = parsed
        .max_failed
        .map(|n| MaxFailed::new(n).map_err(|_| usage_error(format!("--max-failed {n}: must be 1-100"))))
        .transpose()?;
    let window_s = parsed
        .window
        .map(|s| LockoutWindow::new(s).map_err(|_| usage_error(format!("--window {s}: must be 1-86400 seconds"))))
        .transpose()?;
    Ok(Action::LoginProtection { max_failed, window_s, json: parsed.json })
}

/// Check a login for PAM: run by pam_exec with expose_authtok (password on standard input,
/// PAM_TYPE, PAM_USER and PAM_RHOST in the environment); exit 0 allows the login.
#[derive(FromArgs, Debug)]
pub struct AuthArgs {}

/// Parses `auth`, taking pam_exec's variables from the environment.
pub fn parse_auth(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    AuthArgs::from_args(name, args)?;
    let var = |key: &str| std::env::var(key).ok();
    let (Some(pam_type), Some(user)) = (var("PAM_TYPE"), var("PAM_USER")) else {
        return Err(usage_error(
            "PAM_TYPE and PAM_USER must be set (sensorctl auth is run by pam_exec)".to_string(),
        ));
    };
    let pam_type = crate::login::PamType::parse(&pam_type).map_err(|e| usage_error(e.to_string()))?;
    Ok(Action::Auth { pam_type, user, rhost: var("PAM_RHOST") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_grammars_give_one_action() {
        let old = parse_password(&[LEGACY_ALIAS], &["-u", "support", "-p", "Pass-word1"]).unwrap();
        assert_eq!(
            old,
            Action::PasswordReset {
                user: "support".into(),
                password: Some(Secret::new("Pass-word1".into())),
                password_stdin: false,
                legacy_alias: true
            }
        );
        let new = parse_password(&["sensorctl", "system", "password"], &["support"]).unwrap();
        assert_eq!(
            new,
            Action::PasswordReset { user: "support".into(), password: None, password_stdin: false, legacy_alias: false }
        );
        assert!(parse_password(&[LEGACY_ALIAS], &["-u", "x", "-p", "y", "--password-stdin"]).is_err());
        // `system password` has no -p: a password never needs to be on its command line.
        assert!(parse_password(&["sensorctl", "system", "password"], &["support", "-p", "x"]).is_err());
    }

    #[test]
    fn usage_errors_never_quote_an_argument() {
        for args in [
            &["-u", "support", "Stray-Secret1"][..],
            &["-u", "support", "-p", "Pass-word1", "Pass-word1"][..],
            &["-p", "Pass-word1"][..],
        ] {
            let err = parse_password(&[LEGACY_ALIAS], args).unwrap_err();
            assert!(err.status.is_err());
            assert!(!err.output.contains("Secret1") && !err.output.contains("Pass-word1"), "{}", err.output);
        }
    }

    #[test]
    fn login_protection_limits() {
        assert!(parse_login_protection(&["x"], &["--max-failed", "0"]).is_err());
        assert!(parse_login_protection(&["x"], &["--max-failed", "101"]).is_err());
        assert!(parse_login_protection(&["x"], &["--window", "0"]).is_err());
        assert_eq!(
            parse_login_protection(&["x"], &["--max-failed", "100"]).unwrap(),
            Action::LoginProtection { max_failed: Some(100.into()), window_s: None, json: false }
        );
    }
}
