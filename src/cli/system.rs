//! argh arguments of the `system` category (and the top-level `date`): argv → [`Action`].
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use crate::action::Action;
use argh::FromArgs;

/// Show the installed software version (`Version: <semver>-<git hash>`).
#[derive(FromArgs, Debug)]
pub struct VersionArgs {
    /// print JSON with the version, board, build date and target
    #[argh(switch)]
    pub json: bool,
}

/// Parses `system version` / `cyberx-xsense-version`.
pub fn parse_version(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = VersionArgs::from_args(name, args)?;
    Ok(Action::Version { json: parsed.json })
}

/// Show the current date and time in UTC (`Thu Sep 29 18:38:23 UTC 2022`).
#[derive(FromArgs, Debug)]
pub struct DateArgs {
    /// print JSON with ISO 8601 time and Unix seconds
    #[argh(switch)]
    pub json: bool,
}

/// Parses `date` / `system date`.
pub fn parse_date(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = DateArgs::from_args(name, args)?;
    Ok(Action::Date { json: parsed.json })
}

/// Check that every appliance service is running, and for how long.
#[derive(FromArgs, Debug)]
pub struct SanityArgs {
    /// print JSON with each service's state, pid, uptime in seconds and reason
    #[argh(switch)]
    pub json: bool,
}

/// Parses `system sanity` / `cyberx-xsense-sanity`.
pub fn parse_sanity(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = SanityArgs::from_args(name, args)?;
    Ok(Action::Sanity { json: parsed.json })
}

/// Restart the appliance now (filesystems are synced first).
#[derive(FromArgs, Debug)]
pub struct RebootArgs {}

/// Parses `system reboot`.
pub fn parse_reboot(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    RebootArgs::from_args(name, args)?;
    Ok(Action::Reboot {})
}

/// Power off the appliance now (filesystems are synced first).
#[derive(FromArgs, Debug)]
pub struct ShutdownArgs {}

/// Parses `system shutdown`.
pub fn parse_shutdown(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    ShutdownArgs::from_args(name, args)?;
    Ok(Action::Shutdown {})
}
