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
